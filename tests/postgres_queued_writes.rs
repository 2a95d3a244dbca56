//! The PostgreSQL store's queued trial writes (issue 19, per-trial cost): once the store's study
//! board is in use, a trial run's creation and end wait and commit in one transaction with the
//! board's next write; a queued write that fails is rolled back alone and reported by `flush`.
//! Also the batched statements (params, tags, metric points of a batch) keep the store's rules.

mod common;

use std::time::Duration;

use common::pg::TempDb;
use hpo::tracking::shared::{NewSharedStudy, TrialEnd};
use hpo::tracking::{Metric, NewRun, Param, RunStatus, RunTag, StoreError, Tracker, TrackingError};

/// A tracker on `db` with an experiment and a study run; returns (tracker, experiment, study run).
fn study_store(db: &TempDb) -> (Tracker, i64, String) {
    let t = Tracker::open(&db.url()).unwrap();
    let exp = t.get_or_create_experiment("queued").unwrap();
    let study = t.create_run(exp, Some("study"), None).unwrap();
    (t, exp, study)
}

fn trial_run(exp: i64, parent: &str, number: usize) -> NewRun {
    NewRun {
        experiment_id: exp,
        run_name: Some(format!("trial-{number}")),
        parent_run_id: Some(parent.to_string()),
        tags: vec![RunTag::new("hpo.trialNumber", number.to_string())],
        params: vec![Param::new("x", "0.25")],
        ..NewRun::default()
    }
}

fn not_found(r: Result<hpo::tracking::Run, TrackingError>) -> bool {
    matches!(r, Err(TrackingError::Store(StoreError::RunNotFound(_))))
}

#[test]
fn a_trial_run_commits_with_the_boards_start_and_its_end_with_the_next_write() {
    let Some(db) = TempDb::create("queued_carry") else {
        return;
    };
    let (t, exp, study) = study_store(&db);
    let other = Tracker::open(&db.url()).unwrap();
    let board = t.store().study_board().unwrap();
    assert!(board.carries_store_writes());
    let new = NewSharedStudy {
        study_run_id: study.clone(),
        max_evals: 5,
        retries: 0,
        spec: "{}".into(),
    };
    board.join(exp, "s", &new).unwrap();
    let claimed = board
        .claim(&study, "w", Duration::from_secs(60))
        .unwrap()
        .unwrap();
    let run = t
        .store()
        .create_run_queued(trial_run(exp, &study, 0))
        .unwrap();
    // waiting: another connection does not see it yet
    assert!(not_found(other.get_run(&run.run_id)));
    board
        .start(
            &study,
            "w",
            claimed.number,
            Some(&run.run_id),
            r#"{"x":0.25}"#,
        )
        .unwrap();
    let seen = other.get_run(&run.run_id).unwrap();
    assert_eq!(seen.info.status, RunStatus::Running);
    assert_eq!(seen.data.param("x"), Some("0.25"));
    assert_eq!(seen.data.tag("hpo.trialNumber"), Some("0"));
    assert_eq!(seen.info.parent_run_id.as_deref(), Some(&*study));
    // the trial ends: its run's end and its end on the board wait together
    t.store()
        .finish_run_queued(
            &run.run_id,
            &[
                Metric::new("loss", 0.5, 0),
                Metric::new("duration_s", 0.1, 0),
            ],
            &[],
            RunStatus::Finished,
            None,
        )
        .unwrap();
    let end = TrialEnd {
        state: "OK".into(),
        loss: Some(0.5),
        last_step: None,
        message: None,
        ended_ms: 1,
    };
    board.finish_later(&study, claimed.number, &end).unwrap();
    assert_eq!(
        other.get_run(&run.run_id).unwrap().info.status,
        RunStatus::Running
    );
    let other_board = other.store().study_board().unwrap();
    let (rows, _) = other_board.changes(&study, 0).unwrap();
    assert_eq!(rows[0].state, "RUNNING");
    // a flush (or any write of the board but a claim) commits both
    t.flush().unwrap();
    let done = other.get_run(&run.run_id).unwrap();
    assert_eq!(done.info.status, RunStatus::Finished);
    assert_eq!(done.data.metric("loss").map(|m| m.latest), Some(0.5));
    let (rows, _) = other_board.changes(&study, 0).unwrap();
    assert_eq!((rows[0].state.as_str(), rows[0].loss), ("OK", Some(0.5)));
    assert_eq!(rows[0].run_id.as_deref(), Some(&*run.run_id));
}

#[test]
fn a_queued_write_that_fails_is_rolled_back_alone_and_reported_once() {
    let Some(db) = TempDb::create("queued_fail") else {
        return;
    };
    let (t, exp, study) = study_store(&db);
    let other = Tracker::open(&db.url()).unwrap();
    let _board = t.store().study_board().unwrap();
    let doomed = t.create_run(exp, Some("doomed"), Some(&study)).unwrap();
    let kept = t
        .store()
        .create_run_queued(trial_run(exp, &study, 1))
        .unwrap();
    t.store()
        .finish_run_queued(&doomed, &[], &[], RunStatus::Finished, None)
        .unwrap();
    t.store()
        .finish_run_queued(
            &kept.run_id,
            &[Metric::new("loss", 1.5, 0)],
            &[],
            RunStatus::Finished,
            None,
        )
        .unwrap();
    // deleted by another process before the queue commits
    other.delete_run(&doomed).unwrap();
    assert_eq!(t.store().write_failure_count(), 0);
    match t.flush() {
        Err(TrackingError::Store(StoreError::QueuedWritesFailed { count, .. })) => {
            assert_eq!(count, 1)
        }
        other => panic!("expected one failed queued write, got {other:?}"),
    }
    assert!(t.flush().is_ok(), "reported once");
    assert_eq!(t.store().write_failure_count(), 1);
    assert_eq!(t.store().write_failures().runs, vec![doomed.clone()]);
    let kept = other.get_run(&kept.run_id).unwrap();
    assert_eq!(kept.info.status, RunStatus::Finished);
    assert_eq!(kept.data.metric("loss").map(|m| m.latest), Some(1.5));
    let doomed = other.get_run(&doomed).unwrap();
    assert_eq!(doomed.info.status, RunStatus::Running);
}

#[test]
fn batched_params_tags_and_points_keep_the_stores_rules() {
    let Some(db) = TempDb::create("queued_batch") else {
        return;
    };
    let (t, exp, _) = study_store(&db);
    let run = t.create_run(exp, Some("batch"), None).unwrap();
    let point = |value: f64, step: i64, timestamp: i64| Metric {
        key: "m".into(),
        value,
        step,
        timestamp,
    };
    // several points of one key in one batch, a NaN, a point logged twice, a tie on
    // (step, timestamp) that the later write wins
    let points = [
        point(3.0, 0, 10),
        point(1.0, 1, 10),
        point(f64::NAN, 2, 10),
        point(1.0, 1, 10),
        point(7.0, 3, 10),
        point(5.0, 3, 10),
        Metric {
            key: "other".into(),
            value: 2.0,
            step: 0,
            timestamp: 10,
        },
    ];
    let params = [
        Param::new("a", "1"),
        Param::new("a", "1"),
        Param::new("b", "x"),
    ];
    let tags = [RunTag::new("k", "first"), RunTag::new("k", "last")];
    t.log_batch(&run, &params, &points, &tags).unwrap();
    let r = t.get_run(&run).unwrap();
    let m = r.data.metric("m").unwrap();
    assert_eq!((m.count, m.min, m.max), (5, Some(1.0), Some(7.0)));
    assert_eq!((m.latest, m.latest_step), (5.0, 3));
    assert_eq!(t.metric_history(&run, "m").unwrap().len(), 5);
    assert_eq!(r.data.metric("other").map(|m| m.latest), Some(2.0));
    assert_eq!(r.data.tag("k"), Some("last"));
    assert_eq!(
        (r.data.param("a"), r.data.param("b")),
        (Some("1"), Some("x"))
    );
    // a param logged again: the same value is fine, another one conflicts; two values in one
    // batch are refused
    t.log_batch(&run, &[Param::new("a", "1")], &[], &[])
        .unwrap();
    let conflict = |r: &Result<(), TrackingError>| {
        matches!(
            r,
            Err(TrackingError::Store(StoreError::ParamConflict { old, .. })) if old == "1"
        )
    };
    assert!(conflict(&t.log_batch(
        &run,
        &[Param::new("a", "2")],
        &[],
        &[]
    )));
    let twice = t.log_batch(
        &run,
        &[Param::new("c", "1"), Param::new("c", "2")],
        &[],
        &[],
    );
    assert!(
        matches!(
            twice,
            Err(TrackingError::Store(StoreError::InvalidArgument(_)))
        ),
        "{twice:?}"
    );
    // a failed batch writes nothing
    assert_eq!(t.get_run(&run).unwrap().data.param("c"), None);
}
