//! The real MLflow client (from PyPI) against `hpo server`: runs the Python suite in
//! `tests/mlflow_client/` with the interpreter named by `HPO_MLFLOW_PYTHON` (a venv that `.ci/run`
//! makes), against a server started here on an ephemeral loopback port, then checks the store.
//!
//! Without `HPO_MLFLOW_PYTHON` the test is skipped with a note, except in CI (`CI=true`), where a
//! missing venv fails it.

use std::io::{BufRead, BufReader};
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
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .trim_end_matches('/')
        .to_string();
    (Server(child), url)
}

/// A study of 6 trials recorded by hpo itself in experiment "hpo-study" (metric `loss` = x²);
/// returns the study run's id.
fn hpo_study(uri: &str) -> String {
    let tracker = Tracker::open(uri).unwrap();
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
    let Some(python) = python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("hpo.db").display());
    let study_run = hpo_study(&uri);
    let (server, url) = start_server(&uri, dir.path());
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mlflow_client");
    let out = Command::new(&python)
        .args(["-m", "unittest", "discover", "-v", "-s"])
        .arg(&suite)
        .current_dir(dir.path())
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
    let tracker = Tracker::open(&uri).unwrap();
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
