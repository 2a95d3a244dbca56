//! Deleting and restoring runs and experiments, and `hpo gc` removing them for good: a study's
//! trials follow it, a deleted experiment is named in errors, gc frees names and artifacts.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hpo::registry::Registry;
use hpo::tracking::{LifecycleStage, Recorder, Tracker};
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

fn uri(db: &Path) -> String {
    format!("sqlite:///{}", db.display())
}

/// A study of `n` trials in experiment `exp`, each trial saving an artifact; returns the study
/// run id and the trial run ids.
fn study(db: &Path, exp: &str, n: usize) -> (String, Vec<String>) {
    let tracker = Tracker::open(&uri(db)).unwrap();
    let recorder = Recorder::new(&tracker, exp).unwrap().metric("rmse");
    let handle = recorder.handle();
    let space = Space::from_params([hp::uniform("x", -2.0, 2.0)]).unwrap();
    Fmin::new(|p: &Params| p.f64("x").map(|x| x * x), &space)
        .max_evals(n)
        .seed(5)
        .observer(recorder)
        .run()
        .unwrap();
    tracker.flush().unwrap();
    let trials: Vec<String> = (0..n).map(|i| handle.trial_run_id(i).unwrap()).collect();
    for t in &trials {
        tracker
            .artifacts(t)
            .unwrap()
            .log_text("w", "model/w.txt")
            .unwrap();
    }
    (handle.study_run_id().unwrap(), trials)
}

fn stage(tracker: &Tracker, run: &str) -> LifecycleStage {
    tracker.get_run(run).unwrap().info.lifecycle_stage
}

fn artifact_dir(tracker: &Tracker, run: &str) -> PathBuf {
    PathBuf::from(tracker.get_run(run).unwrap().info.artifact_uri)
}

#[test]
fn deleting_a_study_deletes_its_trials_and_restoring_brings_back_those_deleted_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hpo.db");
    let (study_run, trials) = study(&db, "demo", 4);
    let o = hpo(&db, &["best", "-e", "demo", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));

    // one trial deleted on its own first: it stays deleted when the study is restored
    let o = hpo(&db, &["runs", "delete", &trials[0]]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let o = hpo(&db, &["runs", "delete", &study_run]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let tracker = Tracker::open(&uri(&db)).unwrap();
    for t in &trials {
        assert_eq!(stage(&tracker, t), LifecycleStage::Deleted, "{t}");
    }
    let o = hpo(&db, &["runs", "list", "-e", "demo", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["runs"].as_array().unwrap().len(), 0, "{v}");
    let o = hpo(&db, &["best", "-e", "demo"]);
    let (out, err) = text(&o);
    assert_ne!(o.status.code(), Some(0), "best still answers: {out}");
    assert!(!trials.iter().any(|t| out.contains(t.as_str())), "{out}");
    assert!(!err.is_empty());

    let o = hpo(&db, &["runs", "restore", &study_run]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert_eq!(stage(&tracker, &study_run), LifecycleStage::Active);
    assert_eq!(stage(&tracker, &trials[0]), LifecycleStage::Deleted);
    for t in &trials[1..] {
        assert_eq!(stage(&tracker, t), LifecycleStage::Active, "{t}");
    }
    let o = hpo(&db, &["best", "-e", "demo", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
}

#[test]
fn a_deleted_experiment_is_named_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hpo.db");
    let tracker = Tracker::open(&uri(&db)).unwrap();
    let id = tracker.create_experiment("tuning").unwrap();
    tracker.delete_experiment(id).unwrap();
    let e = tracker.get_or_create_experiment("tuning").unwrap_err();
    assert!(
        e.to_string()
            .contains(&format!("experiment 'tuning' (id {id}) is deleted")),
        "{e}"
    );
    assert!(e.to_string().contains("hpo gc"), "{e}");
    let e = tracker.create_run(id, None, None).unwrap_err().to_string();
    assert!(e.contains("experiment 'tuning'"), "{e}");
    let o = hpo(&db, &["experiments", "create", "tuning"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("'tuning'") && err.contains("hpo gc"), "{err}");
}

#[test]
fn gc_removes_deleted_runs_and_experiments_with_their_artifacts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hpo.db");
    let (study_a, trials_a) = study(&db, "a", 3);
    let (_, trials_b) = study(&db, "b", 2);
    let (_, trials_c) = study(&db, "c", 2);
    let tracker = Tracker::open(&uri(&db)).unwrap();
    // a model version points to a deleted trial of c: gc keeps it
    let registry = Registry::new(tracker.clone()).unwrap();
    registry
        .register_model(&format!("runs:/{}/model", trials_c[1]), "m", &[])
        .unwrap();
    let a_dirs: Vec<PathBuf> = trials_a.iter().map(|t| artifact_dir(&tracker, t)).collect();
    assert!(a_dirs.iter().all(|d| d.join("model/w.txt").exists()));

    // nothing deleted yet: nothing removed
    let o = hpo(&db, &["gc", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["runs"], serde_json::json!([]));

    tracker.delete_run(&study_a).unwrap();
    let b = tracker.get_experiment_by_name("b").unwrap().unwrap();
    tracker.delete_experiment(b.experiment_id).unwrap();
    tracker.delete_run(&trials_c[0]).unwrap();
    tracker.delete_run(&trials_c[1]).unwrap();

    // fresh deletions are not older than a day
    let o = hpo(&db, &["gc", "--older-than", "1d", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["runs"], serde_json::json!([]), "{v}");
    assert_eq!(v["experiments"], serde_json::json!([]), "{v}");

    let o = hpo(&db, &["gc"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    // study a and its 3 trials, experiment b's study and 2 trials, trial c0
    assert!(out.contains("removed 8 runs and 1 experiment"), "{out}");
    assert!(out.contains("removed experiment 'b'"), "{out}");
    assert!(
        out.contains(&format!(
            "kept deleted run {}: model version m/1",
            trials_c[1]
        )),
        "{out}"
    );
    for t in trials_a
        .iter()
        .chain(&trials_b)
        .chain([&study_a, &trials_c[0]])
    {
        let o = hpo(&db, &["runs", "show", t]);
        assert_eq!(o.status.code(), Some(2), "{t} survived gc");
    }
    assert!(a_dirs.iter().all(|d| !d.exists()), "artifacts left behind");
    assert!(
        !a_dirs[0].parent().unwrap().exists(),
        "the run directory is left behind"
    );
    assert_eq!(stage(&tracker, &trials_c[1]), LifecycleStage::Deleted);
    assert!(artifact_dir(&tracker, &trials_c[1])
        .join("model/w.txt")
        .exists());
    // the removed experiment's name is free again
    let o = hpo(&db, &["experiments", "create", "b"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    // a bad age is bad input
    let o = hpo(&db, &["gc", "--older-than", "soon"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--older-than") && err.contains("30d"), "{err}");
}
