//! `hpo run --resume` end to end: recorded trial numbers are kept (a deleted trial leaves a gap,
//! never a duplicate), trials left RUNNING are recorded as interrupted, and a study that does not
//! exist yet is started.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hpo::tracking::recorder::{TAG_FAILURE_REASON, TAG_RUN_TYPE, TAG_TRIAL_NUMBER};
use hpo::tracking::{NewRun, Param, Run, RunStatus, RunTag, Tracker};

const STUDY: &str = r#"
[study]
name = "br"
seed = 4
[objective]
function = "branin"
[space]
x1 = { uniform = [-5, 10] }
x2 = { uniform = [0, 15] }
"#;

fn hpo(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(args)
        .env("HPO_TRACKING_URI", format!("sqlite:///{}", db.display()))
        .output()
        .expect("the binary runs")
}

fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hpo.db");
    let file = dir.path().join("br.toml");
    std::fs::write(&file, STUDY).unwrap();
    (dir, db, file)
}

fn run_json(db: &Path, args: &[&str]) -> serde_json::Value {
    let o = hpo(db, args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
    serde_json::from_slice(&o.stdout).unwrap()
}

fn tracker(db: &Path) -> Tracker {
    Tracker::open(&format!("sqlite:///{}", db.display())).unwrap()
}

/// The study's active trial runs by recorded number; panics on a duplicate number.
fn trials_by_number(db: &Path, study: &str) -> BTreeMap<usize, Run> {
    let mut by_number = BTreeMap::new();
    for c in tracker(db).child_runs(study).unwrap() {
        let n: usize = c.data.tag(TAG_TRIAL_NUMBER).unwrap().parse().unwrap();
        let name = c.info.run_name.clone();
        assert!(
            by_number.insert(n, c).is_none(),
            "trial number {n} twice ({name})"
        );
    }
    by_number
}

#[test]
fn resume_keeps_the_recorded_numbers_after_a_deleted_trial() {
    let (_dir, db, file) = setup();
    let f = file.to_str().unwrap();
    let v = run_json(&db, &["run", f, "--max-evals", "6", "--json"]);
    let study = v["study_run_id"].as_str().unwrap().to_string();
    let before = trials_by_number(&db, &study);
    assert_eq!(
        before.keys().copied().collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4, 5]
    );
    let o = hpo(&db, &["runs", "delete", &before[&3].info.run_id]);
    assert_eq!(o.status.code(), Some(0));

    // 5 trials present; max_evals 8 runs 3 more, numbered after the highest (5)
    let w = run_json(&db, &["run", f, "--max-evals", "8", "--resume", "--json"]);
    assert_eq!(w["study_run_id"].as_str().unwrap(), study);
    assert_eq!(w["trials"], 8);
    let after = trials_by_number(&db, &study);
    assert_eq!(
        after.keys().copied().collect::<Vec<_>>(),
        vec![0, 1, 2, 4, 5, 6, 7, 8]
    );
    for (n, run) in &after {
        assert_eq!(run.info.run_name, format!("trial-{n}"));
        assert_eq!(run.info.status, RunStatus::Finished);
    }
    for n in [0, 1, 2, 4, 5] {
        assert_eq!(
            after[&n].info.run_id, before[&n].info.run_id,
            "trial {n} kept"
        );
    }
    // the best trial's number and run id agree with the store
    let best = w["best"]["trial"].as_u64().unwrap() as usize;
    assert_eq!(
        w["best"]["run_id"].as_str().unwrap(),
        after[&best].info.run_id
    );
    // a second resume with a higher budget continues from 9
    run_json(&db, &["run", f, "--max-evals", "9", "--resume", "--json"]);
    let last = trials_by_number(&db, &study);
    assert_eq!(last.keys().next_back(), Some(&9));
    assert_eq!(last.len(), 9);
}

#[test]
fn resume_records_interrupted_on_trials_left_running() {
    let (_dir, db, file) = setup();
    // a study whose process died during trial 1: trial 0 finished, trial 1 still RUNNING
    let t = tracker(&db);
    let exp = t.get_or_create_experiment("br").unwrap();
    let study = t
        .create_run_with(NewRun {
            experiment_id: exp,
            run_name: Some("br".into()),
            tags: vec![RunTag::new(TAG_RUN_TYPE, "study")],
            params: vec![Param::new("seed", "4")],
            ..NewRun::default()
        })
        .unwrap()
        .run_id;
    let trial = |n: usize| {
        t.create_run_with(NewRun {
            experiment_id: exp,
            run_name: Some(format!("trial-{n}")),
            parent_run_id: Some(study.clone()),
            tags: vec![
                RunTag::new(TAG_RUN_TYPE, "trial"),
                RunTag::new(TAG_TRIAL_NUMBER, n.to_string()),
            ],
            params: vec![Param::new("x1", "1.5"), Param::new("x2", "2.5")],
            ..NewRun::default()
        })
        .unwrap()
        .run_id
    };
    let done = trial(0);
    let running = trial(1);
    t.log_metric(&done, "loss", 3.0, 0).unwrap();
    t.set_terminated(&done, RunStatus::Finished, None).unwrap();
    drop(t);

    let v = run_json(
        &db,
        &[
            "run",
            file.to_str().unwrap(),
            "--max-evals",
            "4",
            "--resume",
            "--json",
        ],
    );
    assert_eq!(v["study_run_id"].as_str().unwrap(), study);
    assert_eq!(v["trials"], 4);
    assert_eq!(v["failed"], 1);
    let r = tracker(&db).get_run(&running).unwrap();
    assert_eq!(r.info.status, RunStatus::Failed);
    assert!(r.info.end_time.is_some());
    assert_eq!(r.data.tag(TAG_FAILURE_REASON), Some("interrupted"));
    let trials = trials_by_number(&db, &study);
    assert_eq!(trials.keys().copied().collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    assert!(trials.values().all(|c| c.info.status != RunStatus::Running));
}

#[test]
fn resume_of_a_study_that_does_not_exist_yet_starts_it() {
    let (_dir, db, file) = setup();
    let f = file.to_str().unwrap();
    // no experiment at all
    let o = hpo(&db, &["run", f, "--max-evals", "3", "--resume", "--json"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("note: --resume: no experiment 'br' yet"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["trials"], 3);
    let study = v["study_run_id"].as_str().unwrap().to_string();
    assert_eq!(trials_by_number(&db, &study).len(), 3);
    // then it is resumed like any other study
    let w = run_json(&db, &["run", f, "--max-evals", "5", "--resume", "--json"]);
    assert_eq!(w["study_run_id"].as_str().unwrap(), study);
    assert_eq!(trials_by_number(&db, &study).len(), 5);

    // an experiment without a study of that name
    let other = file.with_file_name("other.toml");
    std::fs::write(&other, STUDY.replace("name = \"br\"", "name = \"fresh\"")).unwrap();
    let o = hpo(&db, &["experiments", "create", "fresh"]);
    assert_eq!(o.status.code(), Some(0));
    let o = hpo(
        &db,
        &[
            "run",
            other.to_str().unwrap(),
            "--max-evals",
            "2",
            "--resume",
            "--json",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("note: --resume: no study 'fresh' in experiment 'fresh' yet"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["trials"], 2);
}
