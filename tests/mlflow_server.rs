//! hpo as a client of MLflow's own tracking server: `mlflow server` (the full `mlflow` package from
//! PyPI, pinned in `tests/mlflow_server/requirements.txt`, in the venv `.ci/run` makes at
//! `target/mlflow-server-venv`) is started on a loopback port over a SQLite file, `hpo run`
//! records a study into it with `--tracking-uri http://127.0.0.1:PORT` (a command objective that
//! also leaves an artifact), and the MLflow client in that venv reads back the study run and its
//! trials; `hpo runs list`, `hpo best`, `hpo runs show` and `hpo artifacts` work against it too.
//!
//! The venv's python is `HPO_MLFLOW_SERVER_PYTHON`, else `target/mlflow-server-venv/bin/python`.
//! Without it the test is skipped with a note, unless `CI` is set: then it fails.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The venv's python, or `None` (with the reason printed) when this machine has none.
fn python() -> Option<PathBuf> {
    let given = std::env::var_os("HPO_MLFLOW_SERVER_PYTHON").filter(|p| !p.is_empty());
    let path = given.map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/mlflow-server-venv/bin/python")
    });
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but {} does not exist: .ci/run must create the MLflow server venv",
        path.display()
    );
    eprintln!(
        "skipped: {} does not exist; make it with `python3 -m venv target/mlflow-server-venv && \
         target/mlflow-server-venv/bin/pip install -r tests/mlflow_server/requirements.txt` (or \
         set HPO_MLFLOW_SERVER_PYTHON) to run hpo against a real MLflow server",
        path.display()
    );
    None
}

/// `mlflow server`, killed when dropped.
struct MlflowServer(Child);

impl Drop for MlflowServer {
    fn drop(&mut self) {
        // the server's own workers are in its process group
        unsafe {
            libc::kill(-(self.0.id() as i32), libc::SIGTERM);
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `mlflow server` over `dir/mlflow.db` (artifacts in `dir/mlartifacts`) and waits until
/// it answers; returns it and its URL.
fn start_mlflow(python: &Path, dir: &Path) -> (MlflowServer, String) {
    use std::os::unix::process::CommandExt;
    let port = free_port();
    let log = std::fs::File::create(dir.join("mlflow-server.log")).unwrap();
    let child = Command::new(python)
        .args(["-m", "mlflow", "server", "--backend-store-uri"])
        .arg(format!("sqlite:///{}", dir.join("mlflow.db").display()))
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--workers",
            "1",
        ])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .unwrap();
    let server = MlflowServer(child);
    let url = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    // a cold start of MLflow's server (imports, migrations) takes tens of seconds on a busy machine
    while start.elapsed() < Duration::from_secs(300) {
        if hpo::tracking::http::HttpStore::open(&url).is_ok() {
            return (server, url);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let log = std::fs::read_to_string(dir.join("mlflow-server.log")).unwrap_or_default();
    panic!("mlflow server did not answer on {url} within 300 s:\n{log}");
}

fn hpo(dir: &Path, url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(args)
        .args(["--tracking-uri", url])
        .current_dir(dir)
        .env_remove("HPO_TRACKING_URI")
        .env_remove("MLFLOW_TRACKING_URI")
        .output()
        .unwrap()
}

fn ok_json(out: &Output, what: &str) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{what}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// What the MLflow client sees of the study: a JSON object printed by a script in the venv.
fn read_back(python: &Path, url: &str, study: &str) -> Value {
    let script = r#"
import json, sys
from mlflow.tracking import MlflowClient
client = MlflowClient(sys.argv[1])
study = client.get_run(sys.argv[2])
exp = study.info.experiment_id
trials = client.search_runs([exp], filter_string=f"tags.mlflow.parentRunId = '{sys.argv[2]}'",
                            order_by=["metrics.loss ASC"])
print(json.dumps({
    "study_status": study.info.status,
    "study_tags": study.data.tags,
    "study_params": study.data.params,
    "experiment": client.get_experiment(exp).name,
    "trials": [{"run_id": t.info.run_id, "status": t.info.status, "params": t.data.params,
                "metrics": t.data.metrics, "tags": t.data.tags,
                "artifacts": [f.path for f in client.list_artifacts(t.info.run_id)]}
               for t in trials],
}))
"#;
    let out = Command::new(python)
        .args(["-c", script, url, study])
        .output()
        .unwrap();
    ok_json(&out, "the MLflow client reading the study")
}

#[test]
fn hpo_run_records_a_study_into_a_real_mlflow_server() {
    let Some(python) = python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = start_mlflow(&python, dir.path());
    let run_file = dir.path().join("quad.toml");
    std::fs::write(
        &run_file,
        r#"[study]
name = "quad-remote"
seed = 3
max_evals = 6

[objective]
command = ["sh", "-c", "echo x={x} > \"$HPO_ARTIFACT_DIR/note.txt\"; echo '{\"step\": 1, \"val\": 0.5}'; awk 'BEGIN { print ({x} - 1) ^ 2 }'"]

[space]
x = { uniform = [-3, 3] }
"#,
    )
    .unwrap();
    let v = ok_json(
        &hpo(
            dir.path(),
            &url,
            &["run", run_file.to_str().unwrap(), "--json"],
        ),
        "hpo run",
    );
    assert_eq!(v["trials"], 6);
    assert_eq!(v["failed"], 0);
    assert!(v["recording_failure"].is_null(), "{v}");
    let study = v["study_run_id"].as_str().unwrap().to_string();
    let best_loss = v["best"]["loss"].as_f64().unwrap();

    // what MLflow's own client reads from MLflow's own server
    let seen = read_back(&python, &url, &study);
    assert_eq!(seen["experiment"], "quad-remote");
    assert_eq!(seen["study_status"], "FINISHED");
    assert_eq!(seen["study_tags"]["hpo.runType"], "study");
    assert_eq!(seen["study_params"]["max_evals"], "6");
    let trials = seen["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 6, "{seen}");
    let mut numbers = Vec::new();
    for t in trials {
        assert_eq!(t["status"], "FINISHED", "{t}");
        let x: f64 = t["params"]["x"].as_str().unwrap().parse().unwrap();
        assert!((-3.0..=3.0).contains(&x));
        let loss = t["metrics"]["loss"].as_f64().unwrap();
        assert!((loss - (x - 1.0).powi(2)).abs() < 1e-4, "{t}");
        assert_eq!(t["tags"]["hpo.runType"], "trial");
        assert_eq!(t["tags"]["mlflow.parentRunId"], study.as_str());
        assert_eq!(t["artifacts"], serde_json::json!(["note.txt"]), "{t}");
        numbers.push(t["tags"]["hpo.trialNumber"].as_str().unwrap().to_string());
    }
    numbers.sort();
    assert_eq!(numbers, ["0", "1", "2", "3", "4", "5"]);
    // ordered by loss: the first is the best hpo reported
    assert!((trials[0]["metrics"]["loss"].as_f64().unwrap() - best_loss).abs() < 1e-9);
    let best_run = trials[0]["run_id"].as_str().unwrap();

    // hpo's own commands against the same server
    let best = ok_json(
        &hpo(dir.path(), &url, &["best", "-e", "quad-remote", "--json"]),
        "hpo best",
    );
    assert_eq!(best["info"]["run_id"], best_run);
    let list = ok_json(
        &hpo(
            dir.path(),
            &url,
            &["runs", "list", "-e", "quad-remote", "--json"],
        ),
        "hpo runs list",
    );
    assert_eq!(list["runs"].as_array().unwrap().len(), 7, "{list}");
    let shown = hpo(dir.path(), &url, &["runs", "show", best_run]);
    assert_eq!(shown.status.code(), Some(0));
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains(&study) && text.contains("note.txt"), "{text}");
    let got = hpo(
        dir.path(),
        &url,
        &["artifacts", "get", best_run, "note.txt"],
    );
    assert_eq!(got.status.code(), Some(0));
    let x = trials[0]["params"]["x"].as_str().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got.stdout).trim(),
        format!("x={x}")
    );
    // the step line is the trial's learning curve, kept as a metric history
    let history_ok = trials
        .iter()
        .all(|t| t["metrics"]["val"].as_f64() == Some(0.5));
    assert!(history_ok, "{seen}");

    registry_through_mlflow_server(&python, dir.path(), &url, &study, best_run);
    compare_and_set_falls_back_on_mlflow_server(&url, best_run);
    predict_through_mlflow_server(dir.path(), &url);
    // MLflow's server has no gc call: hpo gc says so (bad input, exit 2) and removes nothing
    let gc = hpo(dir.path(), &url, &["gc"]);
    let err = String::from_utf8_lossy(&gc.stderr);
    assert_eq!(gc.status.code(), Some(2), "{err}");
    assert!(err.contains("mlflow gc"), "{err}");
}

/// A linfa study into MLflow's server, its best trial registered with an alias, and `hpo predict`
/// through `models:/NAME@ALIAS`, the version number and the run's `runs:/ID/model`: the model's
/// files come down through the server's artifact proxy, and all three predict the same.
fn predict_through_mlflow_server(dir: &Path, url: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let space = root.join("spaces/quickstart.toml");
    let data = root.join("data/diabetes_sample.csv");
    let data = data.to_str().unwrap();
    let v = ok_json(
        &hpo(
            dir,
            url,
            &["run", space.to_str().unwrap(), "--max-evals", "3", "--json"],
        ),
        "hpo run (linfa)",
    );
    let study = v["study_run_id"].as_str().unwrap().to_string();
    let registered = ok_json(
        &hpo(
            dir,
            url,
            &[
                "register",
                "--study",
                &study,
                "--name",
                "linfa-model",
                "--alias",
                "champion",
                "--json",
            ],
        ),
        "hpo register (linfa)",
    );
    assert_eq!(registered["artifact_path"], "model", "{registered}");
    let run = registered["run_id"].as_str().unwrap().to_string();
    let predict = |model: &str| {
        let out = hpo(dir, url, &["predict", "--model", model, "--data", data]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "predict {model}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let by_alias = predict("models:/linfa-model@champion");
    let values: Vec<f64> = by_alias
        .lines()
        .skip(1)
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(values.len(), 20, "{by_alias}");
    assert!(
        values.iter().all(|p| (0.0..400.0).contains(p)),
        "{values:?}"
    );
    assert_eq!(predict("models:/linfa-model/1"), by_alias);
    assert_eq!(predict(&format!("runs:/{run}/model")), by_alias);

    // a version copied from another (a models:/ source) points to the same run and files
    let registry = hpo::registry::Registry::open(url).unwrap();
    let copy = registry
        .create_model_version("linfa-model", "models:/linfa-model@champion", None, &[])
        .unwrap();
    assert_eq!(copy.version, 2);
    assert_eq!(copy.run_id, run);
    assert_eq!(copy.artifact_path, "model");
    assert_eq!(predict("models:/linfa-model/2"), by_alias);
}

/// hpo's registry commands against MLflow's server: the study's best trial registered with an
/// alias, shown, re-aliased, staged, described; the MLflow client reads the same versions back.
fn registry_through_mlflow_server(python: &Path, dir: &Path, url: &str, study: &str, best: &str) {
    let v = ok_json(
        &hpo(
            dir,
            url,
            &[
                "register",
                "--study",
                study,
                "--name",
                "quad-model",
                "--alias",
                "champion",
                "--json",
            ],
        ),
        "hpo register --study",
    );
    assert_eq!(v["version"], 1, "{v}");
    assert_eq!(v["run_id"], best, "{v}");
    assert_eq!(v["aliases"], serde_json::json!(["champion"]), "{v}");
    let v2 = ok_json(
        &hpo(
            dir,
            url,
            &[
                "register",
                "--run",
                best,
                "--artifact-path",
                "note.txt",
                "--name",
                "quad-model",
                "--json",
            ],
        ),
        "hpo register --run",
    );
    assert_eq!(v2["version"], 2, "{v2}");
    assert_eq!(v2["artifact_path"], "note.txt", "{v2}");

    let shown = ok_json(
        &hpo(
            dir,
            url,
            &["models", "show", "models:/quad-model@champion", "--json"],
        ),
        "hpo models show @champion",
    );
    assert_eq!(shown["version"], 1, "{shown}");
    assert_eq!(shown["run_id"], best, "{shown}");
    let location = shown["storage_location"].as_str().unwrap();
    assert!(location.contains(&format!("{best}/artifacts")), "{shown}");
    assert!(
        shown["run_params"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["key"] == "x"),
        "{shown}"
    );
    let out = hpo(
        dir,
        url,
        &["models", "alias", "quad-model", "challenger", "2"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = hpo(dir, url, &["models", "stage", "quad-model", "2", "Staging"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = hpo(dir, url, &["models", "describe", "quad-model", "quadratic"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let model = ok_json(
        &hpo(dir, url, &["models", "show", "quad-model", "--json"]),
        "hpo models show NAME",
    );
    assert_eq!(model["model"]["description"], "quadratic", "{model}");
    let versions: Vec<i64> = model["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, vec![2, 1], "{model}");
    let list = ok_json(
        &hpo(dir, url, &["models", "list", "--json"]),
        "hpo models list",
    );
    assert_eq!(list[0]["name"], "quad-model", "{list}");
    assert_eq!(list[0]["latest_version"], 2, "{list}");
    let staged = ok_json(
        &hpo(
            dir,
            url,
            &["models", "show", "models:/quad-model/Staging", "--json"],
        ),
        "hpo models show /Staging",
    );
    assert_eq!(staged["version"], 2, "{staged}");
    let latest = ok_json(
        &hpo(
            dir,
            url,
            &["models", "show", "models:/quad-model/latest", "--json"],
        ),
        "hpo models show /latest",
    );
    assert_eq!(latest["version"], 2, "{latest}");
    let unknown = hpo(dir, url, &["models", "show", "models:/quad-model@nope"]);
    assert_eq!(unknown.status.code(), Some(2));

    // what MLflow's own client reads
    let script = r#"
import json, sys
from mlflow.tracking import MlflowClient
client = MlflowClient(sys.argv[1])
champion = client.get_model_version_by_alias("quad-model", "champion")
challenger = client.get_model_version_by_alias("quad-model", "challenger")
print(json.dumps({"champion": champion.version, "champion_run": champion.run_id,
                  "challenger": challenger.version, "challenger_stage": challenger.current_stage,
                  "description": client.get_registered_model("quad-model").description}))
"#;
    let out = Command::new(python)
        .args(["-c", script, url])
        .output()
        .unwrap();
    let seen = ok_json(&out, "the MLflow client reading the registry");
    assert_eq!(seen["champion"], "1", "{seen}");
    assert_eq!(seen["champion_run"], best, "{seen}");
    assert_eq!(seen["challenger"], "2", "{seen}");
    assert_eq!(seen["challenger_stage"], "Staging", "{seen}");
    assert_eq!(seen["description"], "quadratic", "{seen}");

    let out = hpo(dir, url, &["models", "delete", "quad-model"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let gone = hpo(dir, url, &["models", "show", "quad-model"]);
    assert_eq!(gone.status.code(), Some(2));
}

/// MLflow's server has no compare-and-set call: the store falls back to a read and a write,
/// which still answers right for one client.
fn compare_and_set_falls_back_on_mlflow_server(url: &str, run_id: &str) {
    use hpo::tracking::Store;
    let store = hpo::tracking::http::HttpStore::open(url).unwrap();
    assert!(store
        .compare_and_set_tag(run_id, "lease", None, Some("me"))
        .unwrap());
    assert!(!store
        .compare_and_set_tag(run_id, "lease", None, Some("you"))
        .unwrap());
    assert!(store
        .compare_and_set_tag(run_id, "lease", Some("me"), None)
        .unwrap());
    assert_eq!(store.get_run(run_id).unwrap().data.tag("lease"), None);
}
