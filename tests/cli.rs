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

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const BRANIN: &str = r#"
[study]
name = "br"
max_evals = 100
seed = 4
[objective]
function = "branin"
[space]
x1 = { uniform = [-5, 10] }
x2 = { uniform = [0, 15] }
"#;

#[test]
fn run_records_a_study_and_resume_continues_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hpo.db");
    let file = write(dir.path(), "br.toml", BRANIN);
    let f = file.to_str().unwrap();
    let o = hpo(&db, &["run", f, "--max-evals", "20", "--json"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["trials"], 20);
    let study = v["study_run_id"].as_str().unwrap().to_string();
    assert!(v["register"]
        .as_str()
        .unwrap()
        .contains(&format!("--study {study}")));
    let o = hpo(
        &db,
        &[
            "runs",
            "list",
            "-e",
            "br",
            "--json",
            "--max-results",
            "1000",
        ],
    );
    let runs: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let runs = runs["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 21, "one parent and 20 children");
    assert_eq!(
        runs.iter()
            .filter(|r| r["info"]["parent_run_id"] == study.as_str())
            .count(),
        20
    );
    // the best trial comes first when ordered by the metric
    let o = hpo(
        &db,
        &[
            "runs",
            "list",
            "-e",
            "br",
            "-f",
            "metrics.loss < 100",
            "-o",
            "metrics.loss ASC",
            "--json",
        ],
    );
    let first: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(first["runs"][0]["info"]["run_id"], v["best"]["run_id"]);

    // resume to 30 trials: same study run, 10 new children, no trial re-run
    let o = hpo(&db, &["run", f, "--max-evals", "30", "--resume", "--json"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let w: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(w["study_run_id"].as_str().unwrap(), study);
    assert_eq!(w["trials"], 30);
    assert!(w["best"]["loss"].as_f64().unwrap() <= v["best"]["loss"].as_f64().unwrap());
    let o = hpo(&db, &["runs", "show", &study, "--json"]);
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["children"], 30);
    assert_eq!(s["run"]["info"]["status"], "FINISHED");
}

#[test]
fn bad_run_files_exit_2_naming_the_problem_and_leave_no_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("untouched.db");
    let base = BRANIN.replace("name = \"br\"\n", "");
    let cases: Vec<(String, Vec<&str>, &str)> = vec![
        (
            base.replace("uniform = [-5, 10]", "uniform = [10, -5]"),
            vec![],
            ":8:18:",
        ),
        (
            base.replace("uniform = [-5, 10]", "unifrom = [-5, 10]"),
            vec![],
            "unifrom",
        ),
        (
            base.replace("max_evals = 100", "max_eval = 100"),
            vec![],
            "max_eval",
        ),
        (
            base.replace("function = \"branin\"", "function = \"branin2\""),
            vec![],
            "branin2",
        ),
        (base.replace("[space]", "[spaces]"), vec![], "spaces"),
        (base.replace("seed = 4", "seed = \"four\""), vec![], "seed"),
        (
            base.replace("x2 = { uniform = [0, 15] }", "x2 = { uniform = [0, 15]"),
            vec![],
            ":9:",
        ),
        (base.clone(), vec!["--algo", "bayes"], "bayes"),
        (base.clone(), vec!["--parallelism", "0"], "parallelism"),
        (base.clone(), vec!["--max-evals", "-3"], "-3"),
        (
            base.replace("function = \"branin\"", "command = [\"echo\", \"{x3}\"]"),
            vec![],
            "x3",
        ),
    ];
    for (i, (text_, extra, needle)) in cases.into_iter().enumerate() {
        let file = write(dir.path(), &format!("bad{i}.toml"), &text_);
        let mut args = vec!["run", file.to_str().unwrap()];
        args.extend(extra.iter());
        let o = hpo(&db, &args);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "case {i}: {err}");
        assert!(
            err.contains(needle),
            "case {i}: '{err}' does not mention '{needle}'"
        );
        let o = hpo(&db, &["validate", file.to_str().unwrap()]);
        if extra.is_empty() {
            assert_eq!(o.status.code(), Some(2), "validate case {i}");
        }
    }
    let o = hpo(
        &db,
        &["run", dir.path().join("missing.toml").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("missing.toml"));
    assert!(!db.exists() || db_is_empty(&db));
}

fn db_is_empty(db: &Path) -> bool {
    let t = Tracker::open(&format!("sqlite:///{}", db.display())).unwrap();
    t.search_runs(&hpo::tracking::RunsQuery::new(&[], ""))
        .unwrap()
        .runs
        .is_empty()
}

#[test]
fn quickstart_register_and_predict_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hpo.db");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let space = root.join("spaces/quickstart.toml");
    let o = hpo(&db, &["run", space.to_str().unwrap(), "--max-evals", "20"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        out.contains("best rmse") && out.contains("hpo register --study"),
        "{out}"
    );
    let register_line = out
        .lines()
        .find(|l| l.starts_with("register it: "))
        .unwrap();
    let o = hpo(
        &db,
        &[
            "runs",
            "list",
            "-e",
            "quickstart",
            "--json",
            "--max-results",
            "100",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 21);
    // an elasticnet regression records rmse, mae and r2, and no accuracy
    let listing = String::from_utf8_lossy(&o.stdout);
    assert!(
        listing.contains("\"mae\"") && listing.contains("\"r2\""),
        "{listing}"
    );
    assert!(
        !listing.contains("accuracy"),
        "a regression trial logged accuracy"
    );
    let study: Vec<&serde_json::Value> = runs
        .iter()
        .filter(|r| r["info"]["parent_run_id"].is_null())
        .collect();
    assert_eq!(study.len(), 1);
    // the printed register command works as printed
    let args: Vec<&str> = register_line["register it: hpo ".len()..]
        .split(' ')
        .collect();
    let o = hpo(&db, &args);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let o = hpo(
        &db,
        &[
            "predict",
            "--model",
            "models:/quickstart-model@champion",
            "--data",
            root.join("data/diabetes_sample.csv").to_str().unwrap(),
        ],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let preds: Vec<f64> = out.lines().skip(1).map(|l| l.parse().unwrap()).collect();
    assert_eq!(preds.len(), 20);
    // predictions are in the range of the target (disease progression 25..346)
    assert!(preds.iter().all(|p| (0.0..400.0).contains(p)), "{preds:?}");
    // the same model through its version number gives the same numbers
    let out_file = dir.path().join("pred.csv");
    let o = hpo(
        &db,
        &[
            "predict",
            "--model",
            "models:/quickstart-model/1",
            "--data",
            root.join("data/diabetes_sample.csv").to_str().unwrap(),
            "--out",
            out_file.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), out);
    // the run URI hpo prints for the version's source predicts the same, with or without /model
    let registry = hpo::registry::Registry::open(&format!("sqlite:///{}", db.display())).unwrap();
    let source = registry
        .get_model_version("quickstart-model", 1)
        .unwrap()
        .source;
    assert!(
        source.starts_with("runs:/") && source.ends_with("/model"),
        "{source}"
    );
    let run_root = source.trim_end_matches("/model").to_string();
    let data = root.join("data/diabetes_sample.csv");
    for uri in [source.as_str(), run_root.as_str()] {
        let o = hpo(
            &db,
            &["predict", "--model", uri, "--data", data.to_str().unwrap()],
        );
        assert_eq!(o.status.code(), Some(0), "{uri}: {:?}", text(&o));
        assert_eq!(text(&o).0, out, "{uri}");
    }
    // a run URI to a path without a model, or to an unknown run: exit 2 naming it
    let no_model = format!("{run_root}/nope");
    let unknown = "runs:/0123456789abcdef0123456789abcdef/model";
    for uri in [no_model.as_str(), unknown] {
        let o = hpo(
            &db,
            &["predict", "--model", uri, "--data", data.to_str().unwrap()],
        );
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{uri}: {err}");
        assert!(
            err.contains(uri) || err.contains("0123456789abcdef0123456789abcdef"),
            "{err}"
        );
    }
    // a model without a fitted linfa artifact, a bad data file: exit 2
    let o = hpo(
        &db,
        &[
            "predict",
            "--model",
            "models:/nope@champion",
            "--data",
            "x.csv",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let o = hpo(
        &db,
        &[
            "predict",
            "--model",
            "models:/quickstart-model@champion",
            "--data",
            space.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
}

#[test]
fn max_evals_zero_is_refused_before_the_store_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("never.db");
    let file = write(dir.path(), "br.toml", BRANIN);
    let o = hpo(&db, &["run", file.to_str().unwrap(), "--max-evals", "0"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--max-evals"), "{err}");
    assert!(!db.exists(), "the store file was created");
    // the same in the run file, for run and validate
    let zero = write(
        dir.path(),
        "zero.toml",
        &BRANIN.replace("max_evals = 100", "max_evals = 0"),
    );
    for cmd in ["run", "validate"] {
        let o = hpo(&db, &[cmd, zero.to_str().unwrap()]);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {err}");
        assert!(err.contains("max_evals"), "{cmd}: {err}");
    }
    assert!(!db.exists(), "the store file was created");
}

#[test]
fn a_study_whose_every_trial_failed_exits_1_with_or_without_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hpo.db");
    let file = write(
        dir.path(),
        "fails.toml",
        &BRANIN.replace(
            "function = \"branin\"",
            "command = [\"sh\", \"-c\", \"echo broken >&2; exit 3\"]",
        ),
    );
    let f = file.to_str().unwrap();
    let o = hpo(&db, &["run", f, "--max-evals", "2", "--json"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "--json: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("the JSON is still printed");
    assert_eq!(v["trials"], 2);
    assert_eq!(v["failed"], 2);
    assert!(v["best"].is_null());
    assert!(err.contains("all 2 trials failed"), "{err}");
    let o = hpo(&db, &["run", f, "--max-evals", "2"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "without --json: {err}");
    assert!(err.contains("all 2 trials failed"), "{err}");
}

#[test]
fn register_refuses_an_artifact_path_the_run_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let (db, study) = filled(dir.path());
    let tracker = Tracker::open(&format!("sqlite:///{}", db.display())).unwrap();
    let trial = tracker
        .search_runs(&hpo::tracking::RunsQuery::new(&[], ""))
        .unwrap()
        .runs
        .into_iter()
        .find(|r| r.info.parent_run_id.as_deref() == Some(study.as_str()))
        .unwrap()
        .info
        .run_id;
    tracker
        .artifacts(&trial)
        .unwrap()
        .log_text("w", "model/w.txt")
        .unwrap();
    drop(tracker);
    let before = db_bytes(&db);
    let o = hpo(
        &db,
        &[
            "register",
            "--run",
            &trial,
            "--artifact-path",
            "nope",
            "--name",
            "m",
        ],
    );
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "run '{trial}' has no artifact 'nope' (its artifact paths: model/)"
        )),
        "{err}"
    );
    assert_eq!(db_bytes(&db), before, "the store is untouched");
    let o = hpo(&db, &["models", "list", "--json"]);
    assert!(!text(&o).0.contains("\"m\""), "{:?}", text(&o));
    let o = hpo(
        &db,
        &[
            "register",
            "--run",
            &trial,
            "--artifact-path",
            "model",
            "--name",
            "m",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
}

#[test]
fn artifacts_get_downloads_a_directory_as_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (db, study) = filled(dir.path());
    let tracker = Tracker::open(&format!("sqlite:///{}", db.display())).unwrap();
    let store = tracker.artifacts(&study).unwrap();
    store.log_text("weights", "model/w.txt").unwrap();
    store.log_bytes(&[0, 1, 2, 255], "model/sub/b.bin").unwrap();
    store.log_text("top", "notes.txt").unwrap();
    drop(tracker);

    let out = dir.path().join("dl");
    let o = hpo(
        &db,
        &[
            "artifacts",
            "get",
            &study,
            "model",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert!(
        text(&o).1.contains("wrote 2 files (11 bytes)"),
        "{:?}",
        text(&o)
    );
    assert_eq!(
        std::fs::read_to_string(out.join("w.txt")).unwrap(),
        "weights"
    );
    assert_eq!(
        std::fs::read(out.join("sub/b.bin")).unwrap(),
        [0, 1, 2, 255]
    );
    assert!(!out.join("notes.txt").exists());

    // without --out: ./<name> in the working directory; a second time it exists: exit 2
    let cwd = dir.path().join("cwd");
    std::fs::create_dir(&cwd).unwrap();
    let get = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_hpo"))
            .args(args)
            .current_dir(&cwd)
            .env("HPO_TRACKING_URI", format!("sqlite:///{}", db.display()))
            .output()
            .unwrap()
    };
    let o = get(&["artifacts", "get", &study, "model/"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert_eq!(
        std::fs::read_to_string(cwd.join("model/w.txt")).unwrap(),
        "weights"
    );
    let o = get(&["artifacts", "get", &study, "model"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("already exists") && err.contains("--out"),
        "{err}"
    );
    // the whole run's artifacts, and a file as before
    let o = get(&["artifacts", "get", &study, "."]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let all = cwd.join(format!("{study}-artifacts"));
    assert_eq!(
        std::fs::read_to_string(all.join("notes.txt")).unwrap(),
        "top"
    );
    assert_eq!(
        std::fs::read(all.join("model/sub/b.bin")).unwrap(),
        [0, 1, 2, 255]
    );
    let o = get(&["artifacts", "get", &study, "model/w.txt"]);
    assert_eq!(text(&o).0, "weights");
}

#[test]
fn printed_commands_are_shell_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("q.toml");
    std::fs::write(
        &file,
        "[study]\nname = \"demo $(touch pwned) 'x'\"\nmax_evals = 3\nseed = 1\n[objective]\nfunction = \"branin\"\n[space]\nx1 = { uniform = [-5, 10] }\nx2 = { uniform = [0, 15] }\n",
    )
    .unwrap();
    // a store path a shell would split and expand, given as a flag
    let store = dir.path().join("my store $(touch pwned2)");
    std::fs::create_dir(&store).unwrap();
    let uri = format!("{}/hpo.db", store.display());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(["run", file.to_str().unwrap(), "--tracking-uri", &uri])
        .env_remove("HPO_TRACKING_URI")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("register it: "))
        .unwrap_or_else(|| panic!("no register line in {stdout}"));
    let pasted = line.replacen("hpo ", &format!("'{}' ", env!("CARGO_BIN_EXE_hpo")), 1);
    let ran = std::process::Command::new("sh")
        .args(["-c", &pasted])
        .env_remove("HPO_TRACKING_URI")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        ran.status.code(),
        Some(0),
        "{line}: {}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert!(
        !dir.path().join("pwned").exists(),
        "pasting ran a command: {line}"
    );
    assert!(
        !dir.path().join("pwned2").exists(),
        "pasting ran a command: {line}"
    );
    let registered = String::from_utf8_lossy(&ran.stdout);
    assert!(
        registered.contains("models:/demo $(touch pwned) 'x'-model/1"),
        "{registered}"
    );
}

#[test]
fn best_finds_runs_logged_without_hpo_tags() {
    // runs an MLflow client logs carry no hpo.runType tag; `hpo best` must still rank them
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hpo.db");
    let tracker = Tracker::open(&format!("sqlite:///{}", db.display())).unwrap();
    let exp = tracker.create_experiment("plain").unwrap();
    let mut ids = Vec::new();
    for loss in [0.5, 0.2, 0.9] {
        let run = tracker.create_run(exp, None, None).unwrap();
        tracker.log_metric(&run, "loss", loss, 0).unwrap();
        tracker
            .set_terminated(&run, hpo::tracking::RunStatus::Finished, None)
            .unwrap();
        ids.push(run);
    }
    drop(tracker);
    let out = hpo(&db, &["best", "-e", "plain", "--json"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let best: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(best["info"]["run_id"], ids[1].as_str());
}
