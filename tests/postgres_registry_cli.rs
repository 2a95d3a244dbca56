//! The model registry and `hpo gc` from the command line on a PostgreSQL tracking URI: `hpo run` a
//! linfa study, `hpo register --study` (as `hpo run` prints it), `hpo models show`, `hpo predict`
//! through an alias, a version and a run URI, then delete the study and `hpo gc` it (the registered
//! trial is kept until its version is deleted).
//!
//! Without a PostgreSQL server the test prints why and passes, unless `CI` is set: then it fails.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn hpo(dir: &Path, uri: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(args)
        .env("HPO_TRACKING_URI", uri)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

fn ok(o: &Output, what: &str) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{what}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn run_register_show_predict_and_gc_on_postgres() {
    let Some(db) = common::pg::TempDb::create("regcli") else {
        return;
    };
    let uri = db.url();
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let space = root.join("spaces/quickstart.toml");
    let data = root.join("data/diabetes_sample.csv");
    let data = data.to_str().unwrap();

    let out = ok(
        &hpo(
            dir.path(),
            &uri,
            &["run", space.to_str().unwrap(), "--max-evals", "8"],
        ),
        "run",
    );
    let register = out
        .lines()
        .find_map(|l| l.strip_prefix("register it: hpo "))
        .unwrap_or_else(|| panic!("no register line in {out}"));
    let args: Vec<&str> = register.split(' ').collect();
    assert!(args.contains(&"--study"), "{register}");
    let out = ok(&hpo(dir.path(), &uri, &args), "register");
    assert!(out.contains("models:/quickstart-model/1"), "{out}");

    // the version and its alias, as JSON
    let shown = ok(
        &hpo(
            dir.path(),
            &uri,
            &[
                "models",
                "show",
                "models:/quickstart-model@champion",
                "--json",
            ],
        ),
        "models show",
    );
    let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(v["version"], 1, "{shown}");
    assert_eq!(v["aliases"], serde_json::json!(["champion"]), "{shown}");
    let source = v["source"].as_str().unwrap().to_string();
    assert!(
        source.starts_with("runs:/") && source.ends_with("/model"),
        "{source}"
    );
    let storage = v["storage_location"].as_str().unwrap();
    assert!(
        Path::new(storage).starts_with(dir.path().join("hpo-artifacts")),
        "{storage}"
    );
    let listed = ok(
        &hpo(dir.path(), &uri, &["models", "show", "quickstart-model"]),
        "models show NAME",
    );
    assert!(listed.contains("champion"), "{listed}");

    // predictions through the alias, the version number and the source run agree
    let by_alias = ok(
        &hpo(
            dir.path(),
            &uri,
            &[
                "predict",
                "--model",
                "models:/quickstart-model@champion",
                "--data",
                data,
            ],
        ),
        "predict @champion",
    );
    let preds: Vec<f64> = by_alias
        .lines()
        .skip(1)
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(preds.len(), 20);
    assert!(preds.iter().all(|p| (0.0..400.0).contains(p)), "{preds:?}");
    for model in ["models:/quickstart-model/1", source.as_str()] {
        let o = hpo(
            dir.path(),
            &uri,
            &["predict", "--model", model, "--data", data],
        );
        assert_eq!(ok(&o, model), by_alias, "{model}");
    }
    // an unknown alias: exit 2, naming the aliases there are
    let o = hpo(
        dir.path(),
        &uri,
        &[
            "predict",
            "--model",
            "models:/quickstart-model@nope",
            "--data",
            data,
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("champion"));

    // delete the study and collect it: every trial goes but the registered one
    let trial = source
        .trim_start_matches("runs:/")
        .trim_end_matches("/model")
        .to_string();
    let tracker = hpo::tracking::Tracker::open(&uri).unwrap();
    let study = tracker
        .get_run(&trial)
        .unwrap()
        .info
        .parent_run_id
        .expect("a trial has its study as parent");
    ok(
        &hpo(dir.path(), &uri, &["runs", "delete", &study]),
        "runs delete",
    );
    let gc = ok(&hpo(dir.path(), &uri, &["gc", "--json"]), "gc");
    let purged: serde_json::Value = serde_json::from_str(&gc).unwrap();
    assert_eq!(purged["runs"].as_array().unwrap().len(), 8, "{gc}");
    assert_eq!(purged["kept"][0]["run_id"], trial.as_str(), "{gc}");
    assert_eq!(
        purged["kept"][0]["model_versions"],
        serde_json::json!(["quickstart-model/1"])
    );
    assert!(Path::new(storage).is_dir(), "{storage}");
    // the registered model still predicts from its kept run
    let o = hpo(
        dir.path(),
        &uri,
        &[
            "predict",
            "--model",
            "models:/quickstart-model@champion",
            "--data",
            data,
        ],
    );
    assert_eq!(ok(&o, "predict after gc"), by_alias);
}
