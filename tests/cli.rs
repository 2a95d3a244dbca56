//! The `hpo` binary end to end: tracking commands on a store filled by a real study, exit
//! codes and messages for bad input, and the store left unchanged by bad input.

use std::path::Path;
use std::process::{Command, Output};

use hpo::tracking::{Recorder, Tracker};
use hpo::{hp, Fmin, Params, Space};

fn hpo(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(args)
        .env("HPO_TRACKING_URI", format!("sqlite:///{}", db.display()))
        .output()
        .expect("the binary runs")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A store with one study of 12 trials in experiment "demo"; returns (db path, study run id).
fn filled(dir: &Path) -> (std::path::PathBuf, String) {
    let db = dir.join("hpo.db");
    let tracker = Tracker::open(&format!("sqlite:///{}", db.display())).unwrap();
    let recorder = Recorder::new(&tracker, "demo").unwrap().metric("rmse");
    let handle = recorder.handle();
    let space = Space::from_params([
        hp::uniform("x", -2.0, 2.0),
        hp::choice("penalty", ["l1", "l2"]),
    ])
    .unwrap();
    Fmin::new(|p: &Params| p.f64("x").map(|x| x * x), &space)
        .max_evals(12)
        .seed(3)
        .observer(recorder)
        .run()
        .unwrap();
    (db, handle.study_run_id().unwrap())
}

fn db_bytes(db: &Path) -> Vec<u8> {
    // the WAL is checkpointed into the file by the last connection on close
    std::fs::read(db).unwrap()
}

#[test]
fn help_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    for args in [
        vec!["--help"],
        vec!["runs", "--help"],
        vec!["runs", "list", "--help"],
        vec!["experiments", "--help"],
        vec!["best", "--help"],
        vec!["artifacts", "get", "--help"],
    ] {
        let o = hpo(&db, &args);
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        assert!(text(&o).0.contains("Usage"), "{args:?}");
    }
    let o = hpo(&db, &["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn experiments_runs_and_best() {
    let dir = tempfile::tempdir().unwrap();
    let (db, study) = filled(dir.path());
    let o = hpo(&db, &["experiments", "list"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o).0.contains("demo"));

    let o = hpo(&db, &["runs", "list", "--experiment", "demo"]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        out.lines().filter(|l| l.contains("└ trial-")).count(),
        12,
        "{out}"
    );
    assert!(
        out.lines().nth(1).unwrap().starts_with(&study),
        "the study comes first:\n{out}"
    );

    let o = hpo(
        &db,
        &[
            "runs",
            "list",
            "-e",
            "demo",
            "--filter",
            "metrics.rmse < 1 and params.penalty = 'l2'",
            "--order-by",
            "metrics.rmse ASC",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let runs = v["runs"].as_array().unwrap();
    assert!(!runs.is_empty());
    let losses: Vec<f64> = runs
        .iter()
        .map(|r| {
            r["data"]["metrics"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["key"] == "rmse")
                .unwrap()["latest"]
                .as_f64()
                .unwrap()
        })
        .collect();
    assert!(
        losses.windows(2).all(|w| w[0] <= w[1]) && losses.iter().all(|&l| l < 1.0),
        "{losses:?}"
    );

    let o = hpo(&db, &["best", "--experiment", "demo", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let best: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let best_id = best["info"]["run_id"].as_str().unwrap().to_string();
    assert_eq!(best_id, runs_first(&db));

    let o = hpo(&db, &["runs", "show", &best_id]);
    let (out, _) = text(&o);
    assert!(
        out.contains("params") && out.contains("rmse") && out.contains("POINTS"),
        "{out}"
    );

    let o = hpo(&db, &["runs", "delete", &best_id]);
    assert_eq!(o.status.code(), Some(0));
    let o = hpo(&db, &["best", "--experiment", "demo", "--json"]);
    let again: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_ne!(again["info"]["run_id"].as_str().unwrap(), best_id);
    assert_eq!(
        hpo(&db, &["runs", "restore", &best_id]).status.code(),
        Some(0)
    );
}

fn runs_first(db: &Path) -> String {
    let o = hpo(
        db,
        &[
            "runs",
            "list",
            "-e",
            "demo",
            "-f",
            "tags.hpo.runType = 'trial'",
            "-o",
            "metrics.rmse",
            "--max-results",
            "1",
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["runs"][0]["info"]["run_id"].as_str().unwrap().to_string()
}

#[test]
fn bad_input_exits_2_with_a_reason_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = filled(dir.path());
    let before = db_bytes(&db);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["runs", "show", "0123456789abcdef0123456789abcdef"],
            "0123456789abcdef0123456789abcdef",
        ),
        (vec!["runs", "show", "../etc"], "../etc"),
        (vec!["runs", "list", "--filter", "metrics.rmse <"], "column"),
        (
            vec!["runs", "list", "--filter", "metrics.rmse << 3"],
            "column",
        ),
        (
            vec!["runs", "list", "--order-by", "metrics.rmse SIDEWAYS"],
            "SIDEWAYS",
        ),
        (
            vec!["runs", "list", "--experiment", "nope"],
            "no experiment named 'nope'",
        ),
        (
            vec!["runs", "delete", "ffffffffffffffffffffffffffffffff"],
            "ffffffffffffffffffffffffffffffff",
        ),
        (vec!["best", "--experiment", "nope"], "nope"),
        (
            vec!["best", "--experiment", "demo", "--metric", "accuracy"],
            "accuracy",
        ),
        (vec!["experiments", "create", "demo"], "demo"),
        (vec!["experiments", "delete", "nope"], "nope"),
        (
            vec!["artifacts", "get", "0123456789abcdef0123456789abcdef", "x"],
            "0123456789abcdef",
        ),
        (vec!["runs", "list", "--max-results", "lots"], "lots"),
    ];
    for (args, needle) in cases {
        let o = hpo(&db, &args);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: '{err}' does not mention '{needle}'"
        );
    }
    let o = Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(["runs", "list", "--tracking-uri", "postgres://x/y"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    assert_eq!(db_bytes(&db), before, "bad input changed the store");
}

#[test]
fn register_alias_stage_and_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let (db, study) = filled(dir.path());
    let o = hpo(
        &db,
        &[
            "register",
            "--study",
            &study,
            "--name",
            "demo-model",
            "--alias",
            "champion",
        ],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        out.contains("registered models:/demo-model/1")
            && out.contains("models:/demo-model@champion"),
        "{out}"
    );
    let o = hpo(
        &db,
        &["models", "show", "models:/demo-model@champion", "--json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["run_id"].as_str().unwrap(), runs_first(&db));
    assert_eq!(v["version"], 1);

    let o = hpo(
        &db,
        &[
            "register",
            "--best",
            "--experiment",
            "demo",
            "--name",
            "demo-model",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert_eq!(
        hpo(&db, &["models", "alias", "demo-model", "challenger", "2"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        hpo(&db, &["models", "stage", "demo-model", "1", "Production"])
            .status
            .code(),
        Some(0)
    );
    let o = hpo(
        &db,
        &[
            "models",
            "stage",
            "demo-model",
            "2",
            "Production",
            "--archive-others",
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    let o = hpo(&db, &["models", "show", "demo-model", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let stages: Vec<&str> = v["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["current_stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, vec!["Production", "Archived"], "{v}");
    let o = hpo(&db, &["models", "list"]);
    assert!(text(&o).0.contains("demo-model"));
    assert_eq!(
        hpo(&db, &["models", "describe", "demo-model", "tuned on demo"])
            .status
            .code(),
        Some(0)
    );

    let before = db_bytes(&db);
    for (args, needle) in [
        (vec!["models", "show", "nope"], "nope"),
        (vec!["models", "show", "models:/demo-model/9"], "9"),
        (
            vec!["models", "alias", "demo-model", "latest", "1"],
            "latest",
        ),
        (vec!["models", "alias", "demo-model", "x", "7"], "7"),
        (vec!["models", "stage", "demo-model", "1", "Prod"], "Prod"),
        (
            vec![
                "register",
                "--run",
                "0123456789abcdef0123456789abcdef",
                "--name",
                "m2",
            ],
            "0123456789abcdef0123456789abcdef",
        ),
        (vec!["register", "--name", "m3"], "--run"),
        (
            vec!["register", "--study", &study, "--name", "bad/name"],
            "bad/name",
        ),
    ] {
        let o = hpo(&db, &args);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: '{err}' does not mention '{needle}'"
        );
    }
    assert_eq!(db_bytes(&db), before, "bad input changed the store");
}
