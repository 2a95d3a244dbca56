//! hpo's commands against a remote tracking server: `hpo server` on a loopback port (in this
//! process, over a SQLite file), every command given `--tracking-uri http://127.0.0.1:PORT`.
//! What they record is checked in the server's own store, and what is refused exits 2.

use std::path::Path;
use std::process::{Command, Output};

use hpo::tracking::{LifecycleStage, RunStatus, Tracker};
use hpo::ui::{RunningServer, UiServer};

fn serve(dir: &Path) -> (Tracker, RunningServer, String) {
    let tracker = Tracker::open(dir.join("server.db").to_str().unwrap()).unwrap();
    let server = UiServer::bind(("127.0.0.1", 0), tracker.clone(), Default::default())
        .unwrap()
        .spawn();
    let url = format!("http://{}", server.addr());
    (tracker, server, url)
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

fn ok(out: &Output, what: &str) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `hpo run --json` of a study `name` of `max_evals` command trials (each writes an artifact
/// `x.txt`) into the server at `url`; its JSON summary.
fn run_study(d: &Path, url: &str, name: &str, max_evals: usize) -> serde_json::Value {
    let file = d.join(format!("{name}.toml"));
    std::fs::write(
        &file,
        format!(
            "[study]\nname = \"{name}\"\nseed = 2\nmax_evals = {max_evals}\n[objective]\n\
             command = [\"sh\", \"-c\", \"echo {{x}} > \\\"$HPO_ARTIFACT_DIR/x.txt\\\"; echo {{x}}\"]\n\
             [space]\nx = {{ uniform = [0, 1] }}\n"
        ),
    )
    .unwrap();
    serde_json::from_str(&ok(
        &hpo(d, url, &["run", file.to_str().unwrap(), "--json"]),
        "hpo run",
    ))
    .unwrap()
}

#[test]
fn every_tracking_command_works_against_hpo_server() {
    let dir = tempfile::tempdir().unwrap();
    let (tracker, _server, url) = serve(dir.path());
    let d = dir.path();
    let v = run_study(d, &url, "remote", 8);
    assert_eq!(v["trials"], 8);
    assert!(v["recording_failure"].is_null(), "{v}");
    let study = v["study_run_id"].as_str().unwrap().to_string();
    let best = v["best"]["run_id"].as_str().unwrap().to_string();

    // the server's own store has the study, its 8 finished trials, their params and losses
    let children = tracker.child_runs(&study).unwrap();
    assert_eq!(children.len(), 8);
    for c in &children {
        assert_eq!(c.info.status, RunStatus::Finished);
        let x: f64 = c.data.param("x").unwrap().parse().unwrap();
        assert!((c.data.metric("loss").unwrap().latest - x).abs() < 1e-9);
    }
    let study_run = tracker.get_run(&study).unwrap();
    assert_eq!(study_run.info.status, RunStatus::Finished);
    assert_eq!(study_run.data.tag("hpo.bestRunId"), Some(best.as_str()));

    // reading commands
    let list = ok(
        &hpo(d, &url, &["runs", "list", "-e", "remote"]),
        "runs list",
    );
    assert_eq!(list.lines().count(), 1 + 9, "{list}");
    let b: serde_json::Value = serde_json::from_str(&ok(
        &hpo(d, &url, &["best", "-e", "remote", "--json"]),
        "best",
    ))
    .unwrap();
    assert_eq!(b["info"]["run_id"], best.as_str());
    let show = ok(&hpo(d, &url, &["runs", "show", &best]), "runs show");
    assert!(show.contains("x.txt") && show.contains(&study), "{show}");
    let files = ok(
        &hpo(d, &url, &["artifacts", "list", &best]),
        "artifacts list",
    );
    assert!(files.contains("x.txt"), "{files}");
    let x = ok(
        &hpo(d, &url, &["artifacts", "get", &best, "x.txt"]),
        "artifacts get",
    );
    assert_eq!(
        x.trim(),
        children
            .iter()
            .find(|c| c.info.run_id == best)
            .unwrap()
            .data
            .param("x")
            .unwrap()
    );
    // a directory download goes through the proxy's listing
    let out = d.join("dl");
    ok(
        &hpo(
            d,
            &url,
            &[
                "artifacts",
                "get",
                &best,
                "",
                "--out",
                out.to_str().unwrap(),
            ],
        ),
        "artifacts get (directory)",
    );
    assert!(out.join("x.txt").is_file());

    // writing commands
    ok(
        &hpo(d, &url, &["experiments", "create", "spare"]),
        "experiments create",
    );
    let spare = tracker.get_experiment_by_name("spare").unwrap().unwrap();
    ok(
        &hpo(d, &url, &["experiments", "delete", "spare"]),
        "experiments delete",
    );
    assert_eq!(
        tracker
            .get_experiment(spare.experiment_id)
            .unwrap()
            .lifecycle_stage,
        LifecycleStage::Deleted
    );
    ok(
        &hpo(d, &url, &["experiments", "restore", "spare"]),
        "experiments restore",
    );
    let exps = ok(&hpo(d, &url, &["experiments", "list"]), "experiments list");
    assert!(exps.contains("spare") && exps.contains("remote"), "{exps}");
    ok(&hpo(d, &url, &["runs", "delete", &study]), "runs delete");
    assert_eq!(
        tracker.get_run(&best).unwrap().info.lifecycle_stage,
        LifecycleStage::Deleted
    );
    ok(&hpo(d, &url, &["runs", "restore", &study]), "runs restore");
    assert_eq!(
        tracker.get_run(&best).unwrap().info.lifecycle_stage,
        LifecycleStage::Active
    );

    // the registry is the server's (tests/http_registry.rs goes through it)
    let m = ok(&hpo(d, &url, &["models", "list", "--json"]), "models list");
    assert_eq!(m.trim(), "[]");

    // refused, with exit 2: an unknown run
    let r = hpo(
        d,
        &url,
        &["runs", "show", "0123456789abcdef0123456789abcdef"],
    );
    assert_eq!(
        r.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
}

#[test]
fn a_server_that_does_not_answer_or_https_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = hpo(
        dir.path(),
        &format!("http://127.0.0.1:{port}"),
        &["runs", "list"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot connect to the tracking store"),
        "{err}"
    );
    let out = hpo(dir.path(), "https://127.0.0.1:1", &["runs", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("https is not supported"));
    // a web server that is not a tracking server
    let (_t, server, _url) = serve(dir.path());
    let out = hpo(
        dir.path(),
        &format!("http://{}/not-here", server.addr()),
        &["runs", "list"],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn mlflow_tracking_uri_names_the_server_when_hpo_s_is_unset() {
    let dir = tempfile::tempdir().unwrap();
    let (tracker, _server, url) = serve(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(["experiments", "create", "via-env"])
        .current_dir(dir.path())
        .env_remove("HPO_TRACKING_URI")
        .env("MLFLOW_TRACKING_URI", &url)
        .output()
        .unwrap();
    ok(&out, "experiments create");
    assert!(tracker.get_experiment_by_name("via-env").unwrap().is_some());
    assert!(!dir.path().join("hpo.db").exists());
}

/// Queued writes the server refuses (here: for a run another client deleted) are reported by the
/// next flush, once, and stay in the store's failure log; the writes before them landed.
#[test]
fn refused_queued_writes_are_reported_by_flush() {
    use hpo::tracking::http::HttpStore;
    use hpo::tracking::{Metric, NewRun, RunTag, Store, StoreError};
    let dir = tempfile::tempdir().unwrap();
    let (tracker, _server, url) = serve(dir.path());
    let store = HttpStore::open(&url).unwrap();
    let kept = store.create_run(&NewRun::default()).unwrap().run_id;
    let gone = store.create_run(&NewRun::default()).unwrap().run_id;
    tracker.delete_run(&gone).unwrap();
    store
        .log_batch_queued(&kept, &[], &[Metric::new("m", 1.0, 0)], &[])
        .unwrap();
    store
        .finish_run_queued(
            &gone,
            &[],
            &[RunTag::new("t", "v")],
            RunStatus::Finished,
            None,
        )
        .unwrap();
    store
        .finish_run_queued(
            &kept,
            &[Metric::new("m", 2.0, 1)],
            &[],
            RunStatus::Finished,
            Some(7),
        )
        .unwrap();
    match store.flush() {
        Err(StoreError::QueuedWritesFailed { count: 1, first }) => {
            assert!(first.contains("deleted"), "{first}")
        }
        other => panic!("expected one failed write, got {other:?}"),
    }
    assert!(store.flush().is_ok());
    assert_eq!(store.write_failure_count(), 1);
    assert_eq!(store.write_failures().runs, vec![gone.clone()]);
    let run = tracker.get_run(&kept).unwrap();
    assert_eq!(run.info.status, RunStatus::Finished);
    assert_eq!(run.info.end_time, Some(7));
    assert_eq!(run.data.metric("m").unwrap().count, 2);
}

#[test]
fn hpo_gc_over_http_removes_deleted_runs_and_their_artifacts_on_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let (tracker, _server, url) = serve(dir.path());
    let d = dir.path();
    let v = run_study(d, &url, "doomed", 3);
    let study = v["study_run_id"].as_str().unwrap().to_string();
    let exp = tracker.get_experiment_by_name("doomed").unwrap().unwrap();
    let trials = tracker.child_run_ids(&study).unwrap();
    assert_eq!(trials.len(), 3);
    // the server keeps the trials' artifacts in its own directories
    let dirs: Vec<_> = trials
        .iter()
        .map(|id| {
            let run = tracker.get_run(id).unwrap();
            let p = std::path::PathBuf::from(run.info.artifact_uri);
            assert!(p.join("x.txt").is_file(), "{}", p.display());
            p
        })
        .collect();
    // nothing deleted yet: gc removes nothing
    let none: serde_json::Value =
        serde_json::from_str(&ok(&hpo(d, &url, &["gc", "--json"]), "hpo gc")).unwrap();
    assert_eq!(none["runs"], serde_json::json!([]), "{none}");
    // deleting the study deletes its trials; deleted just now, so not older than a day
    ok(
        &hpo(d, &url, &["runs", "delete", &study]),
        "hpo runs delete",
    );
    let young: serde_json::Value = serde_json::from_str(&ok(
        &hpo(d, &url, &["gc", "--older-than", "1d", "--json"]),
        "hpo gc --older-than 1d",
    ))
    .unwrap();
    assert_eq!(young["runs"], serde_json::json!([]), "{young}");
    let purged: serde_json::Value =
        serde_json::from_str(&ok(&hpo(d, &url, &["gc", "--json"]), "hpo gc")).unwrap();
    let mut removed: Vec<String> = purged["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_string())
        .collect();
    removed.sort();
    let mut expected: Vec<String> = trials.iter().map(|t| t.to_string()).collect();
    expected.push(study.clone());
    expected.sort();
    assert_eq!(removed, expected, "{purged}");
    assert_eq!(purged["artifact_errors"], serde_json::json!([]), "{purged}");
    // gone from the server's store, and their files from the server's disk
    for id in &expected {
        assert!(tracker.get_run(id).is_err(), "run {id} survived gc");
    }
    for p in &dirs {
        assert!(!p.exists(), "{} survived gc", p.display());
    }
    assert_eq!(
        tracker.get_experiment(exp.experiment_id).unwrap().name,
        "doomed"
    );
}
