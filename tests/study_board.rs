//! The shared-study board's conformance suite, run against SQLite and PostgreSQL: joins agree on
//! one study, claims are unique and bounded by the budget under concurrency, changes are read
//! incrementally, lost trials are taken back exactly once (and retried), one closer ends a study,
//! and the result of a study whose closer was lost is taken over by exactly one worker; a number
//! claimed with a trial's start and never started is given back.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::pg::TempDb;
use hpo::tracking::shared::{NewSharedStudy, StudyBoard, TrialEnd, NOT_STARTED};
use hpo::tracking::Tracker;

/// A backend's name, a way to open more boards on it, and what keeps its database alive.
type Backend = (
    &'static str,
    Box<dyn Fn() -> Arc<dyn StudyBoard>>,
    Box<dyn std::any::Any>,
);

/// A board of each backend (with what keeps it alive), named.
fn boards(tag: &str) -> Vec<Backend> {
    let mut out: Vec<Backend> = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("hpo.db").display());
    let tracker = Tracker::open(&uri).unwrap();
    out.push((
        "sqlite",
        Box::new(move || tracker.store().study_board().unwrap()),
        Box::new(dir),
    ));
    if let Some(db) = TempDb::create(&format!("board_{tag}")) {
        let tracker = Tracker::open(&db.url()).unwrap();
        out.push((
            "postgres",
            Box::new(move || tracker.store().study_board().unwrap()),
            Box::new(db),
        ));
    }
    out
}

fn new_study(id: &str, max_evals: i64, retries: i64) -> NewSharedStudy {
    NewSharedStudy {
        study_run_id: id.to_string(),
        max_evals,
        retries,
        spec: "{}".into(),
    }
}

fn run_id(i: u32) -> String {
    format!("{i:032x}")
}

fn ended(state: &str) -> TrialEnd {
    TrialEnd {
        state: state.into(),
        loss: Some(0.5),
        last_step: None,
        message: None,
        ended_ms: 1,
    }
}

#[test]
fn concurrent_joins_agree_on_one_study() {
    for (name, board, _keep) in boards("join") {
        let barrier = Arc::new(Barrier::new(8));
        let handles: Vec<_> = (0..8u32)
            .map(|i| {
                let (b, barrier) = (board(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    b.join(0, "s", &new_study(&run_id(i + 1), 10, 0)).unwrap()
                })
            })
            .collect();
        let joined: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let ids: BTreeSet<_> = joined.iter().map(|(r, _)| r.study_run_id.clone()).collect();
        assert_eq!(ids.len(), 1, "{name}: {ids:?}");
        assert_eq!(joined.iter().filter(|(_, c)| *c).count(), 1, "{name}");
        // once it ended, a join registers a new study of the same name
        let id = ids.into_iter().next().unwrap();
        let b = board();
        assert!(
            b.close(&id, "w", false, "max_evals reached").unwrap(),
            "{name}"
        );
        let (row, created) = b.join(0, "s", &new_study(&run_id(99), 5, 0)).unwrap();
        assert!(created, "{name}");
        assert_eq!(row.study_run_id, run_id(99));
        assert_eq!(b.find(0, "s").unwrap().unwrap().study_run_id, run_id(99));
    }
}

#[test]
fn claims_are_unique_and_never_exceed_the_budget() {
    for (name, board, _keep) in boards("claims") {
        let b = board();
        let (row, _) = b.join(0, "c", &new_study(&run_id(1), 200, 0)).unwrap();
        let id = row.study_run_id;
        let barrier = Arc::new(Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|w| {
                let (b, barrier, id) = (board(), barrier.clone(), id.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let mut mine = Vec::new();
                    while let Some(c) = b
                        .claim(&id, &format!("w{w}"), Duration::from_secs(60))
                        .unwrap()
                    {
                        mine.push(c.number);
                    }
                    mine
                })
            })
            .collect();
        let mut all: Vec<i64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort();
        assert_eq!(all, (0..200).collect::<Vec<_>>(), "{name}");
        assert_eq!(b.outstanding(&id, "nobody").unwrap(), (200, 0), "{name}");
    }
}

#[test]
fn changes_are_read_incrementally() {
    for (name, board, _keep) in boards("changes") {
        let b = board();
        let (row, _) = b.join(0, "v", &new_study(&run_id(1), 10, 0)).unwrap();
        let id = row.study_run_id;
        let ttl = Duration::from_secs(60);
        for _ in 0..3 {
            b.claim(&id, "w", ttl).unwrap().unwrap();
        }
        let (rows, v1) = b.changes(&id, 0).unwrap();
        assert_eq!(rows.len(), 3, "{name}");
        assert!(rows
            .iter()
            .all(|r| r.state == "RUNNING" && r.params.is_none()));
        b.start(&id, "w", 1, Some(&run_id(7)), r#"{"x":0.25}"#)
            .unwrap();
        assert!(b.finish(&id, 1, &ended("OK")).unwrap(), "{name}");
        assert!(
            !b.finish(&id, 1, &ended("OK")).unwrap(),
            "{name}: ends once"
        );
        let (rows, v2) = b.changes(&id, v1).unwrap();
        // PostgreSQL may hand back rows of transactions that were running at the last read too;
        // the changed row is among them, the unchanged ones at most re-read
        let changed: Vec<_> = rows.iter().filter(|r| r.number == 1).collect();
        assert_eq!(changed.len(), 1, "{name}: {rows:?}");
        assert_eq!(changed[0].state, "OK");
        assert_eq!(changed[0].loss, Some(0.5));
        assert_eq!(changed[0].run_id.as_deref(), Some(&*run_id(7)));
        assert_eq!(changed[0].params.as_deref(), Some(r#"{"x":0.25}"#));
        assert!(v2 >= v1, "{name}");
        let (rows, _) = b.changes(&id, v2).unwrap();
        assert!(
            rows.iter().all(|r| r.number != 1 || r.state == "OK"),
            "{name}"
        );
    }
}

#[test]
fn lost_trials_are_taken_back_once_and_retried_with_their_params() {
    for (name, board, _keep) in boards("lost") {
        let b = board();
        let (row, _) = b.join(0, "r", &new_study(&run_id(1), 20, 1)).unwrap();
        let id = row.study_run_id;
        // 6 trials of a worker whose leases run out at once
        for n in 0..6 {
            let c = b
                .claim(&id, "gone", Duration::from_millis(1))
                .unwrap()
                .unwrap();
            assert_eq!(c.number, n);
            b.start(&id, "gone", n, None, &format!(r#"{{"x":{n}}}"#))
                .unwrap();
        }
        // one live trial of another worker is not taken
        b.claim(&id, "alive", Duration::from_secs(60))
            .unwrap()
            .unwrap();
        b.claim(&id, "dead", Duration::from_secs(60))
            .unwrap()
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let barrier = Arc::new(Barrier::new(4));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (b, barrier, id) = (board(), barrier.clone(), id.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    b.reap(&id, &|_| false).unwrap()
                })
            })
            .collect();
        let mut lost: Vec<i64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .map(|r| {
                assert_eq!(r.state, "FAILED");
                assert_eq!(r.message.as_deref(), Some("worker lost"));
                r.number
            })
            .collect();
        lost.sort();
        assert_eq!(
            lost,
            (0..6).collect::<Vec<_>>(),
            "{name}: each lost trial once"
        );
        // a dead worker is taken back before its lease runs out
        let dead = b.reap(&id, &|w| w == "dead").unwrap();
        assert_eq!(dead.len(), 1, "{name}");
        // the next claims run the lost trials again, with the same params, under new numbers
        let mut retries = Vec::new();
        for _ in 0..6 {
            let c = b.claim(&id, "w", Duration::from_secs(60)).unwrap().unwrap();
            let r = c.retry.unwrap_or_else(|| panic!("{name}: a retry first"));
            assert_eq!(r.params, format!(r#"{{"x":{}}}"#, r.of), "{name}");
            assert_eq!(r.attempt, 1);
            assert!(c.number >= 8, "{name}: a new number");
            retries.push(r.of);
        }
        retries.sort();
        assert_eq!(retries, (0..6).collect::<Vec<_>>(), "{name}");
        // the dead worker's trial had no params: nothing to retry
        let next = b.claim(&id, "w", Duration::from_secs(60)).unwrap().unwrap();
        assert!(next.retry.is_none(), "{name}");
    }
}

#[test]
fn one_closer_ends_a_study_and_only_when_nothing_runs_elsewhere() {
    for (name, board, _keep) in boards("close") {
        let b = board();
        let (row, _) = b.join(0, "e", &new_study(&run_id(1), 2, 0)).unwrap();
        let id = row.study_run_id;
        let ttl = Duration::from_secs(60);
        b.claim(&id, "a", ttl).unwrap().unwrap();
        assert!(
            !b.close(&id, "b", true, "max_evals reached").unwrap(),
            "{name}: budget not used"
        );
        b.claim(&id, "b", ttl).unwrap().unwrap();
        assert!(b.claim(&id, "b", ttl).unwrap().is_none(), "{name}");
        assert!(
            !b.close(&id, "b", true, "max_evals reached").unwrap(),
            "{name}: a's trial runs"
        );
        assert_eq!(b.outstanding(&id, "b").unwrap(), (1, 0), "{name}");
        b.finish(&id, 0, &ended("OK")).unwrap();
        b.finish(&id, 1, &ended("OK")).unwrap();
        let barrier = Arc::new(Barrier::new(4));
        let handles: Vec<_> = (0..4)
            .map(|w| {
                let (b, barrier, id) = (board(), barrier.clone(), id.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    b.close(&id, &format!("w{w}"), true, "max_evals reached")
                        .unwrap()
                })
            })
            .collect();
        let closed = handles
            .into_iter()
            .filter(|_| true)
            .map(|h| h.join().unwrap())
            .filter(|c| *c)
            .count();
        assert_eq!(closed, 1, "{name}");
        assert!(!b.study(&id).unwrap().unwrap().active, "{name}");
        // --resume: active again with room for 3 trials present
        assert!(b.reactivate(&id, 3).unwrap(), "{name}");
        assert!(b.claim(&id, "c", ttl).unwrap().is_some(), "{name}");
        assert!(b.claim(&id, "c", ttl).unwrap().is_none(), "{name}");
    }
}

#[test]
fn a_claim_past_the_budget_leaves_queued_retries_for_later() {
    for (name, board, _keep) in boards("retry_kept") {
        let b = board();
        let (row, _) = b.join(0, "k", &new_study(&run_id(1), 2, 1)).unwrap();
        let id = row.study_run_id;
        let first = b.claim(&id, "gone", Duration::from_millis(1)).unwrap();
        assert_eq!(
            first.map(|c| (c.number, c.retry)),
            Some((0, None)),
            "{name}"
        );
        b.start(&id, "gone", 0, None, r#"{"x":0.5}"#).unwrap();
        b.claim(&id, "w", Duration::from_secs(60)).unwrap().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(b.reap(&id, &|_| false).unwrap().len(), 1, "{name}");
        // the budget is used up: no number, and the queued retry stays queued
        assert!(b
            .claim(&id, "w", Duration::from_secs(60))
            .unwrap()
            .is_none());
        assert!(b
            .claim(&id, "w", Duration::from_secs(60))
            .unwrap()
            .is_none());
        // with one more trial allowed, the next claim runs it
        assert!(b.reactivate(&id, 3).unwrap(), "{name}");
        let c = b.claim(&id, "w", Duration::from_secs(60)).unwrap().unwrap();
        assert_eq!(c.number, 2, "{name}");
        let r = c.retry.unwrap_or_else(|| panic!("{name}: the retry kept"));
        assert_eq!((r.of, r.attempt, r.params.as_str()), (0, 1, r#"{"x":0.5}"#));
        // its row is RUNNING with the retry's params
        let (rows, _) = b.changes(&id, 0).unwrap();
        let row = rows.iter().rev().find(|t| t.number == 2).unwrap();
        assert_eq!(row.state, "RUNNING", "{name}");
        assert_eq!((row.retry_of, row.attempt), (Some(0), 1), "{name}");
        assert_eq!(row.params.as_deref(), Some(r#"{"x":0.5}"#), "{name}");
        assert!(b
            .claim(&id, "w", Duration::from_secs(60))
            .unwrap()
            .is_none());
    }
}

#[test]
fn the_result_of_a_study_whose_closer_was_lost_is_taken_over_once() {
    let patience = Duration::from_secs(600);
    for (name, board, _keep) in boards("takeover") {
        let b = board();
        let (row, _) = b.join(0, "t", &new_study(&run_id(1), 1, 0)).unwrap();
        let id = row.study_run_id;
        let c = b.claim(&id, "a", Duration::from_secs(60)).unwrap().unwrap();
        b.finish(&id, c.number, &ended("OK")).unwrap();
        // nothing ended yet: nothing to take over
        let alive = |_: &str| false;
        assert!(
            b.take_over_result(0, "t", "x", &alive, patience)
                .unwrap()
                .is_none(),
            "{name}"
        );
        assert!(
            b.close(&id, "closer", true, "max_evals reached").unwrap(),
            "{name}"
        );
        // its closer is alive and closed a moment ago: left to it
        assert!(
            b.take_over_result(0, "t", "x", &alive, patience)
                .unwrap()
                .is_none(),
            "{name}"
        );
        // its closer is lost: exactly one of 6 racing workers takes the result over
        let barrier = Arc::new(Barrier::new(6));
        let handles: Vec<_> = (0..6)
            .map(|w| {
                let (b, barrier) = (board(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let dead = |w: &str| w == "closer";
                    b.take_over_result(0, "t", &format!("w{w}"), &dead, patience)
                        .unwrap()
                })
            })
            .collect();
        let taken: Vec<_> = handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect();
        assert_eq!(taken.len(), 1, "{name}: {taken:?}");
        assert_eq!(taken[0].study.study_run_id, id, "{name}");
        assert_eq!(taken[0].closed_by, "closer", "{name}");
        assert_eq!(taken[0].reason, "max_evals reached", "{name}");
        // the one who took it over is alive; once it waited too long, another may take it over
        let dead = |w: &str| w == "closer";
        assert!(
            b.take_over_result(0, "t", "y", &dead, patience)
                .unwrap()
                .is_none(),
            "{name}"
        );
        // (past a patience of zero: at least a millisecond after the take-over's time)
        std::thread::sleep(Duration::from_millis(2));
        let stale = b.take_over_result(0, "t", "y", &alive, Duration::ZERO);
        assert!(
            stale.unwrap().is_some(),
            "{name}: a closer silent past the patience"
        );
        // written: nothing pending, for anyone
        b.result_written(&id).unwrap();
        let any = |_: &str| true;
        assert!(
            b.take_over_result(0, "t", "z", &any, Duration::ZERO)
                .unwrap()
                .is_none(),
            "{name}"
        );
        // a study resumed after its closer was lost is active again, with nothing pending
        assert!(b.reactivate(&id, 2).unwrap(), "{name}");
        assert!(b.close(&id, "gone", false, "timeout").unwrap(), "{name}");
        assert!(b.reactivate(&id, 2).unwrap(), "{name}");
        assert!(
            b.take_over_result(0, "t", "z", &any, Duration::ZERO)
                .unwrap()
                .is_none(),
            "{name}"
        );
    }
}

#[test]
fn a_number_claimed_with_a_start_and_never_started_is_given_back() {
    for (name, board, _keep) in boards("ahead") {
        let b = board();
        let (row, _) = b.join(0, "a", &new_study(&run_id(7), 10, 0)).unwrap();
        let id = row.study_run_id;
        let ttl = Duration::from_secs(60);
        assert_eq!(b.claim(&id, "w", ttl).unwrap().unwrap().number, 0);
        let next = b
            .start_and_claim(&id, "w", 0, Some(&run_id(100)), r#"{"x":0}"#, ttl)
            .unwrap()
            .unwrap();
        assert_eq!(next.number, 1, "{name}");
        let row_of = |n: i64| {
            let (rows, _) = b.changes(&id, 0).unwrap();
            rows.into_iter().find(|r| r.number == n).unwrap()
        };
        // trial 0 started; number 1 is held, running without run or params
        assert_eq!(row_of(0).run_id, Some(run_id(100)), "{name}");
        assert_eq!(row_of(0).params.as_deref(), Some(r#"{"x":0}"#), "{name}");
        assert_eq!(row_of(1).state, "RUNNING", "{name}");
        assert_eq!((row_of(1).run_id, row_of(1).params), (None, None), "{name}");
        assert_eq!(b.outstanding(&id, "other").unwrap(), (2, 8), "{name}");
        // the worker stops before trial 1 starts: other workers see it end
        b.release(&id, "w", 1).unwrap();
        let one = row_of(1);
        assert_eq!(one.state, "FAILED", "{name}");
        assert_eq!(one.message.as_deref(), Some(NOT_STARTED), "{name}");
        assert_eq!(b.outstanding(&id, "other").unwrap().0, 1, "{name}");
        if b.claims_with_start() {
            // a started trial is not given back, and the last number is handed out again
            b.release(&id, "w", 0).unwrap();
            assert_eq!(row_of(0).state, "RUNNING", "{name}");
            let again = b.claim(&id, "w2", ttl).unwrap().unwrap();
            assert_eq!(again.number, 1, "{name}");
            assert_eq!(row_of(1).state, "RUNNING", "{name}");
            assert_eq!(row_of(1).worker, "w2", "{name}");
        }
    }
}
