//! The real MLflow client (from PyPI) against `hpo server`: runs the Python suite in
//! `tests/mlflow_client/` with the interpreter named by `HPO_MLFLOW_PYTHON` (a venv that `.ci/run`
//! makes), against a server started here on an ephemeral loopback port, then checks the store.
//!
//! Without `HPO_MLFLOW_PYTHON` the test is skipped with a note, except in CI (`CI=true`), where a
//! missing venv fails it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use hpo::tracking::{Recorder, RunsQuery, Tracker};
use hpo::{hp, Fmin, Params, Space};

/// The venv's python, or `None` (with the reason printed) when this machine has none.
fn python() -> Option<PathBuf> {
    match std::env::var_os("HPO_MLFLOW_PYTHON").filter(|p| !p.is_empty()) {
        Some(p) => {
            let p = PathBuf::from(p);
            assert!(
                p.exists(),
                "HPO_MLFLOW_PYTHON={} does not exist",
                p.display()
            );
            Some(p)
        }
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but HPO_MLFLOW_PYTHON is unset: .ci/run must create the MLflow venv")
        }
        None => {
            eprintln!(
                "skipped: set HPO_MLFLOW_PYTHON to a python with mlflow-skinny and pandas \
                 (see .ci/run) to run the MLflow client suite"
            );
            None
        }
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `hpo server` on a free loopback port; returns it and its URL.
fn start_server(uri: &str, cwd: &Path) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(["server", "--backend-store-uri", uri, "--port", "0"])
        .current_dir(cwd)
        .env_remove("HPO_TRACKING_URI")
        .env_remove("MLFLOW_TRACKING_URI")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let url = common::proc::server_url(&mut child);
    (Server(child), url)
}

/// A study of 6 trials recorded by hpo itself in experiment "hpo-study" (metric `loss` = x²);
/// returns the study run's id.
fn hpo_study(uri: &str, dir: &Path) -> String {
    let tracker = Tracker::open_with_artifact_root(uri, Some(&dir.join("hpo-artifacts"))).unwrap();
    let recorder = Recorder::new(&tracker, "hpo-study")
        .unwrap()
        .study_name("made-by-hpo")
        .metric("loss");
    let handle = recorder.handle();
    let space = Space::from_params([hp::uniform("x", -2.0, 2.0)]).unwrap();
    Fmin::new(|p: &Params| p.f64("x").map(|x| x * x), &space)
        .max_evals(6)
        .seed(5)
        .observer(recorder)
        .run()
        .unwrap();
    assert!(handle.errors().is_empty(), "{:?}", handle.errors());
    let id = handle.study_run_id().unwrap();
    tracker.flush().unwrap();
    id
}

#[test]
fn the_mlflow_client_suite_passes_against_hpo_server() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("hpo.db").display());
    client_suite(&uri, dir.path());
}

/// The same suite against `hpo server` on a PostgreSQL database of its own (tracking, artifacts and
/// the model registry).
#[test]
fn the_mlflow_client_suite_passes_against_hpo_server_on_postgres() {
    if python().is_none() {
        return;
    }
    let Some(db) = common::pg::TempDb::create("mlflow_client") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    client_suite(&db.url(), dir.path());
}

/// Runs the MLflow client suite against `hpo server` on `uri` (started in `dir`), then checks what
/// the client logged in hpo's own store.
fn client_suite(uri: &str, dir: &Path) {
    let Some(python) = python() else {
        return;
    };
    let uri = uri.to_string();
    let study_run = hpo_study(&uri, dir);
    let (server, url) = start_server(&uri, dir);
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mlflow_client");
    let out = Command::new(&python)
        .args(["-m", "unittest", "discover", "-v", "-s"])
        .arg(&suite)
        .current_dir(dir)
        .env("MLFLOW_TRACKING_URI", &url)
        .env("HPO_BIN", env!("CARGO_BIN_EXE_hpo"))
        .env("HPO_STORE_URI", &uri)
        .env("HPO_STUDY_RUN", &study_run)
        .env_remove("HPO_TRACKING_URI")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    eprintln!("{log}");
    assert!(out.status.success(), "the MLflow client suite failed");
    assert!(log.contains("OK"), "{log}");
    drop(server);

    // what the client logged is in hpo's own store, nested as hpo nests runs
    let tracker = Tracker::open_with_artifact_root(&uri, Some(&dir.join("hpo-artifacts"))).unwrap();
    let exp = tracker.get_experiment_by_name("tutorial").unwrap().unwrap();
    let runs = tracker
        .search_runs(&RunsQuery::new(&[exp.experiment_id], ""))
        .unwrap()
        .runs;
    assert_eq!(runs.len(), 4);
    let parent = runs.iter().find(|r| r.info.run_name == "study").unwrap();
    let children = tracker.child_runs(&parent.info.run_id).unwrap();
    let mut names: Vec<&str> = children.iter().map(|r| r.info.run_name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["alpha=0.1", "alpha=1.0", "alpha=10.0"]);
    let history = tracker
        .metric_history(&parent.info.run_id, "train_loss")
        .unwrap();
    assert_eq!(history.len(), 5);
    let notes = tracker
        .artifacts(&parent.info.run_id)
        .unwrap()
        .read_text("docs/deep/notes.txt")
        .unwrap();
    assert_eq!(notes, "alpha sweep\n");
}

/// `hpo run` of a command objective whose trial is an unmodified MLflow script
/// (`tests/mlflow_client/trial_script.py`): each trial logs into its own run through the server
/// `hpo run` starts, the run stays RUNNING until hpo ends it, and the logged `val_loss` steps are
/// the trial's learning curve, watched by the pruner.
#[test]
fn trials_log_into_their_runs_as_mlflow_clients() {
    let Some(python) = python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mlflow_client/trial_script.py");
    let run_file = dir.path().join("study.toml");
    std::fs::write(
        &run_file,
        format!(
            "[study]\nname = \"mlflow-trials\"\nalgo = \"random\"\nmax_evals = 6\nseed = 3\n\
             [objective]\ncommand = [{:?}, {:?}, \"{{x}}\"]\ngrace_period = \"1s\"\n\
             [pruner]\nkind = \"threshold\"\nmetric = \"val_loss\"\nupper = 12.0\n\
             [space]\nx = {{ uniform = [-2, 2] }}\n",
            python.display().to_string(),
            script.display().to_string()
        ),
    )
    .unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("hpo.db").display());
    let out = Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(["run", "--json", "--tracking-uri", &uri])
        .arg(&run_file)
        .current_dir(dir.path())
        .env_remove("HPO_TRACKING_URI")
        .env("MLFLOW_TRACKING_URI", "http://127.0.0.1:9/not-this-one")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");

    let tracker = Tracker::open(&uri).unwrap();
    let exp = tracker
        .get_experiment_by_name("mlflow-trials")
        .unwrap()
        .unwrap();
    let runs = tracker
        .search_runs(&RunsQuery::new(&[exp.experiment_id], ""))
        .unwrap()
        .runs;
    let trials: Vec<_> = runs
        .iter()
        .filter(|r| r.info.run_name.starts_with("trial-"))
        .collect();
    assert_eq!(trials.len(), 6);
    let (mut finished, mut pruned) = (0, 0);
    for run in trials {
        let id = &run.info.run_id;
        let x: f64 = run.data.param("x").unwrap().parse().unwrap();
        let curve = tracker.metric_history(id, "val_loss").unwrap();
        assert!(!curve.is_empty(), "no curve in {id}");
        assert!(curve
            .iter()
            .all(|m| (m.value - (x * x + 10.0)).abs() < 1e-9));
        assert_eq!(run.data.param("script_param"), Some("from-mlflow"));
        assert_eq!(run.data.tag("logged_by"), Some("mlflow-client"));
        if x * x > 2.0 {
            // the pruner stopped it at its first step
            assert_eq!(run.data.tag("hpo.state"), Some("PRUNED"), "{id} x={x}");
            pruned += 1;
        } else {
            assert_eq!(run.info.status.to_string(), "FINISHED", "{id}");
            let steps: Vec<i64> = curve.iter().map(|m| m.step).collect();
            assert_eq!(steps, [0, 1, 2, 3, 4]);
            let note = tracker
                .artifacts(id)
                .unwrap()
                .read_text("note.txt")
                .unwrap();
            assert_eq!(note, format!("x={x}\n"));
            finished += 1;
        }
    }
    assert!(
        finished > 0 && pruned > 0,
        "{finished} finished, {pruned} pruned"
    );
}
