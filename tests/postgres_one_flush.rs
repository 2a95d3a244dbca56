//! One durable commit per trial of a shared study on PostgreSQL (issue 19, storage overhead): a
//! claim commits without waiting for the disk, and the trial's start (which carries the previous
//! trial's end and this trial's run) is the commit that waits and makes the claim durable. The
//! start checks that the claim is still the worker's: a claim lost in a server crash records
//! nothing of its trial. A worker killed after that commit leaves its trials to their leases, and
//! the budget holds across workers.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::pg::TempDb;
use hpo::tracking::recorder::{TAG_FAILURE_REASON, TAG_TRIAL_NUMBER};
use hpo::tracking::shared::{NewSharedStudy, StudyBoard, TrialEnd};
use hpo::tracking::{
    Metric, NewRun, Param, RunStatus, RunTag, RunsQuery, StoreError, Tracker, TrackingError,
};

fn trial_run(exp: i64, parent: &str, number: i64) -> NewRun {
    NewRun {
        experiment_id: exp,
        run_name: Some(format!("trial-{number}")),
        parent_run_id: Some(parent.to_string()),
        tags: vec![RunTag::new(TAG_TRIAL_NUMBER, number.to_string())],
        params: vec![Param::new("x", "0.25")],
        ..NewRun::default()
    }
}

fn ok(loss: f64) -> TrialEnd {
    TrialEnd {
        state: "OK".into(),
        loss: Some(loss),
        last_step: None,
        message: None,
        ended_ms: 1,
    }
}

/// A worker's tracker, its board, and its first trial started and ended (the end waiting).
struct FirstTrial {
    t: Tracker,
    board: Arc<dyn StudyBoard>,
    exp: i64,
    study: String,
    number: i64,
    run: String,
}

/// A shared study of `max_evals` trials on `db`, and `worker`'s first trial in it.
fn first_trial(db: &TempDb, max_evals: i64, worker: &str) -> FirstTrial {
    let (t, exp, study) = joined(db, max_evals);
    let board = t.store().study_board().unwrap();
    let (number, run) = start(&t, &*board, exp, &study, worker).unwrap();
    end_later(&t, &*board, &study, number, &run);
    FirstTrial {
        t,
        board,
        exp,
        study,
        number,
        run,
    }
}

/// A tracker on `db` with a shared study of `max_evals` trials joined on its board.
fn joined(db: &TempDb, max_evals: i64) -> (Tracker, i64, String) {
    let t = Tracker::open(&db.url()).unwrap();
    let exp = t.get_or_create_experiment("flush").unwrap();
    let study = t.create_run(exp, Some("study"), None).unwrap();
    let new = NewSharedStudy {
        study_run_id: study.clone(),
        max_evals,
        retries: 0,
        spec: "{}".into(),
    };
    t.store()
        .study_board()
        .unwrap()
        .join(exp, "s", &new)
        .unwrap();
    (t, exp, study)
}

/// Runs trial `number` of `worker` up to its start (its run queued, then the board's start).
fn start(
    t: &Tracker,
    board: &dyn StudyBoard,
    exp: i64,
    study: &str,
    worker: &str,
) -> Result<(i64, String), StoreError> {
    let number = board
        .claim(study, worker, Duration::from_millis(300))?
        .unwrap()
        .number;
    let run = t
        .store()
        .create_run_queued(trial_run(exp, study, number))?
        .run_id;
    board.start(study, worker, number, Some(&run), r#"{"x":0.25}"#)?;
    Ok((number, run))
}

/// Ends trial `number` the way a worker does: its run's end and its end on the board wait.
fn end_later(t: &Tracker, board: &dyn StudyBoard, study: &str, number: i64, run: &str) {
    t.store()
        .finish_run_queued(
            run,
            &[Metric::new("loss", 0.5, 0)],
            &[],
            RunStatus::Finished,
            None,
        )
        .unwrap();
    board.finish_later(study, number, &ok(0.5)).unwrap();
}

fn board_rows(db: &TempDb) -> BTreeMap<i64, (String, String, Option<String>)> {
    let mut c = postgres::Client::connect(&db.url(), postgres::NoTls).unwrap();
    c.query(
        "SELECT number, state, worker, run_uuid FROM study_trials ORDER BY number",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
    .collect()
}

#[test]
fn a_claim_lost_before_its_trials_start_records_nothing_of_that_trial() {
    let Some(db) = TempDb::create("flush_lost") else {
        return;
    };
    let w = first_trial(&db, 10, "w");
    let second = w
        .board
        .claim(&w.study, "w", Duration::from_secs(60))
        .unwrap()
        .unwrap()
        .number;
    // a server crash loses the claim's commit (it had not reached the disk): the row, its lease
    // and the counter go back, and another worker is handed the same number
    let mut c = postgres::Client::connect(&db.url(), postgres::NoTls).unwrap();
    c.batch_execute(&format!(
        "DELETE FROM study_trials WHERE number = {second};
         DELETE FROM trial_leases WHERE number = {second};
         UPDATE study_claims SET next_number = {second};"
    ))
    .unwrap();
    let other = Tracker::open(&db.url()).unwrap();
    let other_board = other.store().study_board().unwrap();
    let taken = other_board
        .claim(&w.study, "v", Duration::from_secs(60))
        .unwrap()
        .unwrap();
    assert_eq!(taken.number, second);
    let run =
        w.t.store()
            .create_run_queued(trial_run(w.exp, &w.study, second))
            .unwrap()
            .run_id;
    // past the group window: the start commits at once
    std::thread::sleep(Duration::from_millis(30));
    let r = w
        .board
        .start(&w.study, "w", second, Some(&run), r#"{"x":0.75}"#);
    assert!(
        matches!(r, Err(StoreError::ClaimLost { number }) if number == second),
        "{r:?}"
    );
    // nothing of the lost claim's trial is in the store; the previous trial's end is
    let lost = other.get_run(&run);
    assert!(
        matches!(lost, Err(TrackingError::Store(StoreError::RunNotFound(_)))),
        "{lost:?}"
    );
    // nor of what waited with it: the w.number trial's end (its lease takes it back)
    let rows = board_rows(&db);
    assert_eq!(rows[&w.number].0, "RUNNING");
    assert_eq!(
        other.get_run(&w.run).unwrap().info.status,
        RunStatus::Running
    );
    assert_eq!(
        rows[&second],
        ("RUNNING".to_string(), "v".to_string(), None),
        "the number stays the other worker's"
    );
    // and nothing of it waits to be committed later
    w.t.flush().unwrap();
    assert!(other.get_run(&run).is_err());
    assert_eq!(board_rows(&db)[&second].2, None);
    assert_eq!(board_rows(&db)[&w.number].0, "RUNNING");
}

#[test]
fn a_worker_killed_after_its_combined_commit_leaves_its_trials_to_their_leases() {
    let Some(db) = TempDb::create("flush_killed") else {
        return;
    };
    let w = first_trial(&db, 4, "gone");
    // the combined commit (past the group window: at once): the w.number trial's end with the
    // second trial's run and start
    std::thread::sleep(Duration::from_millis(30));
    let (second, second_run) = start(&w.t, &*w.board, w.exp, &w.study, "gone").unwrap();
    end_later(&w.t, &*w.board, &w.study, second, &second_run);
    let third = w
        .board
        .claim(&w.study, "gone", Duration::from_millis(300))
        .unwrap()
        .unwrap()
        .number;
    // killed here: the second trial's end waits in memory and the third was only claimed
    std::mem::forget(w.board);
    std::mem::forget(w.t);
    std::thread::sleep(Duration::from_millis(400));
    let other = Tracker::open(&db.url()).unwrap();
    let other_board = other.store().study_board().unwrap();
    let mut lost: Vec<i64> = other_board
        .reap(&w.study, &|_| false)
        .unwrap()
        .iter()
        .map(|r| r.number)
        .collect();
    lost.sort();
    assert_eq!(
        lost,
        vec![second, third],
        "taken back once, by their leases"
    );
    assert!(other_board.reap(&w.study, &|_| false).unwrap().is_empty());
    let rows = board_rows(&db);
    assert_eq!(rows[&w.number].0, "OK");
    assert_eq!(rows[&second].0, "FAILED");
    assert_eq!(
        (rows[&third].0.as_str(), rows[&third].2.as_deref()),
        ("FAILED", None)
    );
    let run = other.get_run(&second_run).unwrap();
    assert_eq!(run.info.status, RunStatus::Failed);
    assert_eq!(run.data.tag(TAG_FAILURE_REASON), Some("worker lost"));
    assert_eq!(
        other.get_run(&w.run).unwrap().info.status,
        RunStatus::Finished
    );
    // the budget counts the lost trials: one number is left
    let last = other_board
        .claim(&w.study, "w", Duration::from_secs(60))
        .unwrap()
        .unwrap();
    assert_eq!(last.number, 3);
    assert!(other_board
        .claim(&w.study, "w", Duration::from_secs(60))
        .unwrap()
        .is_none());
}

fn write_study(dir: &Path, max_evals: usize) -> String {
    let file = dir.join("zero.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[study]
name = "zero"
max_evals = {max_evals}
algo = "random"

[objective]
function = "branin"

[space]
x1 = {{ uniform = [-5, 10] }}
x2 = {{ uniform = [0, 15] }}
"#
        ),
    )
    .unwrap();
    file.to_str().unwrap().to_string()
}

#[test]
fn four_workers_with_a_zero_cost_objective_finish_exactly_the_budget() {
    let Some(db) = TempDb::create("flush_four") else {
        return;
    };
    let uri = db.url();
    let dir = tempfile::tempdir().unwrap();
    let file = write_study(dir.path(), 300);
    let workers: Vec<_> = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_hpo"))
                .args(["run", &file, "--quiet", "--no-trial-server"])
                .args(["--tracking-uri", &uri])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for w in workers {
        let out = w.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
    }
    let rows = board_rows(&db);
    assert_eq!(
        rows.keys().copied().collect::<Vec<_>>(),
        (0..300).collect::<Vec<_>>()
    );
    assert!(rows.values().all(|r| r.0 == "OK"), "every trial finished");
    let t = Tracker::open(&uri).unwrap();
    let exp = t.get_experiment_by_name("zero").unwrap().unwrap();
    let runs = t
        .search_runs(&RunsQuery::new(&[exp.experiment_id], "").max_results(1000))
        .unwrap()
        .runs;
    let mut by_number: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for r in runs
        .iter()
        .filter(|r| r.data.tag("hpo.runType") == Some("trial"))
    {
        assert_eq!(r.info.status, RunStatus::Finished);
        let n = r.data.tag(TAG_TRIAL_NUMBER).unwrap().parse().unwrap();
        by_number.entry(n).or_default().push(r.info.run_id.clone());
    }
    assert_eq!(by_number.len(), 300);
    for (n, (_, _, run)) in &rows {
        assert_eq!(by_number[n], vec![run.clone().unwrap()], "trial {n} once");
    }
    let study = runs
        .iter()
        .find(|r| r.data.tag("hpo.runType") == Some("study"))
        .unwrap();
    assert_eq!(study.info.status, RunStatus::Finished);
    assert_eq!(study.data.metric("n_trials").map(|m| m.latest), Some(300.0));
}

#[test]
fn a_start_that_waits_for_the_group_commit_is_committed_without_another_call() {
    let Some(db) = TempDb::create("flush_group") else {
        return;
    };
    let FirstTrial {
        t,
        board,
        exp,
        study,
        number: first,
        ..
    } = first_trial(&db, 10, "w");
    // right after the first commit: this start may wait for the committer thread
    let (second, second_run) = start(&t, &*board, exp, &study, "w").unwrap();
    let mut waited = Duration::ZERO;
    while board_rows(&db)[&second].2.is_none() {
        assert!(waited < Duration::from_secs(10), "never committed");
        std::thread::sleep(Duration::from_millis(5));
        waited += Duration::from_millis(5);
    }
    let rows = board_rows(&db);
    assert_eq!(rows[&second].2.as_deref(), Some(&*second_run));
    assert_eq!(rows[&first].0, "OK", "the first trial's end came with it");
    let other = Tracker::open(&db.url()).unwrap();
    assert_eq!(
        other.get_run(&second_run).unwrap().info.status,
        RunStatus::Running
    );
    drop(board);
    t.flush().unwrap();
}
