//! The whole evaluated structure reaches the objective and the store (hyperopt's `space_eval`):
//! constants and nested maps are in `HPO_PARAMS`, `HPO_PARAMS_FILE`, `Params::to_json`, the
//! recorded params (nested keys joined with dots), the best params; and a study with constants
//! resumes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use hpo::space::toml::parse_space;
use hpo::tracking::Tracker;
use hpo::Value;

const SPACE: &str = r#"
objective = "reg:linear"
seed = 42
layers = [64, 32]
x = { uniform = [0, 1] }
nested = { a = 1, b = { choice = ["u", "v"] } }
model = { choice = [ { type = "svm", C = { loguniform = [-2, 2] } },
                     { type = "tree", opts = { depth = 3 } } ] }
"#;

fn hpo(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(args)
        .env("HPO_TRACKING_URI", format!("sqlite:///{}", db.display()))
        .output()
        .expect("the binary runs")
}

fn run_json(db: &Path, args: &[&str]) -> serde_json::Value {
    let o = hpo(db, args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn params_to_json_is_the_evaluated_structure_and_flat_has_the_constants() {
    let space = parse_space(SPACE).unwrap().space;
    let raw = BTreeMap::from([
        ("x".to_string(), Value::Float(0.25)),
        ("b".to_string(), Value::Int(1)),
        ("model".to_string(), Value::Int(1)),
    ]);
    let p = space.params_of(space.assignment_from_raw(&raw).unwrap());
    assert_eq!(
        p.to_json(),
        serde_json::json!({
            "objective": "reg:linear", "seed": 42, "layers": [64, 32], "x": 0.25,
            "nested": {"a": 1, "b": "v"},
            "model": {"type": "tree", "opts": {"depth": 3}},
        })
    );
    let flat: BTreeMap<String, String> = p
        .flat()
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
    let expected: BTreeMap<String, String> = [
        ("objective", "reg:linear"),
        ("seed", "42"),
        ("layers", "[64,32]"),
        ("x", "0.25"),
        ("nested.a", "1"),
        ("b", "v"),
        ("model", "1"),
        ("model.type", "tree"),
        ("model.opts.depth", "3"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(flat, expected);
}

#[test]
fn a_constant_named_like_a_parameter_is_not_recorded_over_it() {
    // `b` is a parameter (inside `nested`) and also a top-level constant's key
    let space = parse_space(
        "b = 7\nnested = { b = { choice = [\"u\", \"v\"] } }\nx = { uniform = [0, 1] }\n",
    )
    .map(|t| t.space);
    // either the space is refused for the clash, or the parameter wins the key
    if let Ok(space) = space {
        let raw = BTreeMap::from([
            ("x".to_string(), Value::Float(0.5)),
            ("b".to_string(), Value::Int(0)),
        ]);
        let p = space.params_of(space.assignment_from_raw(&raw).unwrap());
        assert_eq!(p.flat()["b"], Value::from("u"));
        assert_eq!(p.to_json()["b"], 7);
        assert_eq!(p.to_json()["nested"]["b"], "u");
    }
}

#[test]
fn the_command_gets_the_whole_structure_and_the_store_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hpo.db");
    let file = dir.path().join("consts.toml");
    let script = r#"printf '%s' "$HPO_PARAMS" > "$HPO_ARTIFACT_DIR/env.json"; cp "$HPO_PARAMS_FILE" "$HPO_ARTIFACT_DIR/file.json"; echo 0.5"#;
    std::fs::write(
        &file,
        format!(
            "[study]\nname = \"consts\"\nseed = 3\nmax_evals = 3\n[objective]\ncommand = [\"sh\", \"-c\", {script:?}]\n[space]\n{SPACE}"
        ),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let v = run_json(&db, &["run", f, "--json"]);
    // the best params are the whole structure
    let best = &v["best"]["params"];
    assert_eq!(best["objective"], "reg:linear");
    assert_eq!(best["seed"], 42);
    assert_eq!(best["layers"], serde_json::json!([64, 32]));
    assert_eq!(best["nested"]["a"], 1);
    assert!(best["nested"]["b"].is_string(), "{best}");
    assert!(best["model"]["type"].is_string(), "{best}");

    let tracker = Tracker::open(&format!("sqlite:///{}", db.display())).unwrap();
    let study = v["study_run_id"].as_str().unwrap();
    let trials = tracker.child_runs(study).unwrap();
    assert_eq!(trials.len(), 3);
    for t in &trials {
        let arts = tracker.artifacts(&t.info.run_id).unwrap();
        let env: serde_json::Value =
            serde_json::from_str(&arts.read_text("env.json").unwrap()).unwrap();
        let file: serde_json::Value =
            serde_json::from_str(&arts.read_text("file.json").unwrap()).unwrap();
        assert_eq!(env, file);
        assert_eq!(env["objective"], "reg:linear");
        assert_eq!(env["seed"], 42);
        assert_eq!(env["nested"]["a"], 1);
        assert_eq!(env["nested"]["b"], t.data.param("b").unwrap());
        assert_eq!(
            env["x"].as_f64().unwrap().to_string(),
            t.data.param("x").unwrap()
        );
        // recorded params: constants included, nested keys dotted
        assert_eq!(t.data.param("objective"), Some("reg:linear"));
        assert_eq!(t.data.param("seed"), Some("42"));
        assert_eq!(t.data.param("layers"), Some("[64,32]"));
        assert_eq!(t.data.param("nested.a"), Some("1"));
        assert_eq!(
            t.data.param("model.type"),
            env["model"]["type"].as_str(),
            "{env}"
        );
    }
    // `hpo best` shows the constants too
    let b = run_json(&db, &["best", "-e", "consts", "--json"]);
    let shown = b.to_string();
    assert!(
        shown.contains("reg:linear") && shown.contains("nested.a"),
        "{shown}"
    );

    // the constants in the recorded params do not get in the way of resuming
    let w = run_json(&db, &["run", f, "--max-evals", "5", "--resume", "--json"]);
    assert_eq!(w["study_run_id"].as_str(), Some(study));
    assert_eq!(w["trials"], 5);
    assert_eq!(tracker.child_runs(study).unwrap().len(), 5);
}
