//! The MLflow server `hpo run` starts for a command objective: each trial's process gets
//! `MLFLOW_TRACKING_URI` (a loopback server of the study), `MLFLOW_RUN_ID` (its own run) and
//! `MLFLOW_EXPERIMENT_ID`; `--no-trial-server` leaves them out. (The real MLflow client logging
//! through it is in tests/mlflow_client.rs.)

use std::process::Command;

use hpo::tracking::{RunsQuery, Tracker};

const STUDY: &str = r#"[study]
name = "env"
algo = "random"
max_evals = 2
seed = 1
[objective]
command = ["sh", "-c", "printf '%s|%s|%s' \"$MLFLOW_TRACKING_URI\" \"$MLFLOW_RUN_ID\" \"$MLFLOW_EXPERIMENT_ID\" > \"$HPO_ARTIFACT_DIR/env.txt\"; echo 0.5"]
[space]
x = { uniform = [0, 1] }
"#;

/// Runs the study (with `extra` flags) and returns, per trial run, its id, its experiment's id
/// and the `env.txt` its process wrote.
fn run_study(extra: &[&str]) -> Vec<(String, String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("env.toml");
    std::fs::write(&file, STUDY).unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("hpo.db").display());
    let out = Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(["run", "-q", "--tracking-uri", &uri])
        .args(extra)
        .arg(&file)
        .env_remove("HPO_TRACKING_URI")
        .env("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tracker = Tracker::open(&uri).unwrap();
    let exp = tracker.get_experiment_by_name("env").unwrap().unwrap();
    let runs = tracker
        .search_runs(&RunsQuery::new(&[exp.experiment_id], ""))
        .unwrap()
        .runs;
    runs.iter()
        .filter(|r| r.info.run_name.starts_with("trial-"))
        .map(|r| {
            let env = tracker
                .artifacts(&r.info.run_id)
                .unwrap()
                .read_text("env.txt")
                .unwrap();
            (r.info.run_id.clone(), exp.experiment_id.to_string(), env)
        })
        .collect()
}

#[test]
fn each_trial_gets_the_study_server_and_its_own_run() {
    let trials = run_study(&[]);
    assert_eq!(trials.len(), 2);
    let mut servers = Vec::new();
    for (run_id, experiment_id, env) in &trials {
        let parts: Vec<&str> = env.split('|').collect();
        assert_eq!(parts.len(), 3, "{env}");
        assert!(parts[0].starts_with("http://127.0.0.1:"), "{env}");
        assert_ne!(parts[0], "http://127.0.0.1:9", "{env}");
        assert_eq!(parts[1], run_id);
        assert_eq!(parts[2], experiment_id);
        servers.push(parts[0].to_string());
    }
    // one server for the study
    assert_eq!(servers[0], servers[1]);
}

#[test]
fn no_trial_server_leaves_the_mlflow_variables_as_they_were() {
    let trials = run_study(&["--no-trial-server"]);
    assert_eq!(trials.len(), 2);
    for (_, _, env) in &trials {
        assert_eq!(env, "http://127.0.0.1:9||");
    }
}
