//! Group commit: asynchronous logging and the Recorder's queued trial runs. Queued writes are read
//! back by the process that queued them, committed in the background or on flush or drop, checked at
//! the call where they can be, and a write that fails when committed is reported and rolled back
//! alone.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hpo::study::Objective;
use hpo::tracking::{
    Metric, Param, Recorder, RunStatus, RunTag, StoreError, Tracker, TrackingError,
};
use hpo::{hp, Fmin, Params, Random, Space, TrialContext, TrialResult, TrialState};

fn uri(db: &Path) -> String {
    format!("sqlite:///{}", db.display())
}

fn open(db: &Path) -> Tracker {
    Tracker::open(&uri(db)).unwrap()
}

fn store_err(e: TrackingError) -> StoreError {
    match e {
        TrackingError::Store(s) => s,
        other => panic!("expected a store error, got {other:?}"),
    }
}

/// A store file with one experiment and one run; returns (db path, run id).
fn store_with_run(dir: &Path) -> (PathBuf, String) {
    let db = dir.join("q.db");
    let t = open(&db);
    let exp = t.get_or_create_experiment("queue").unwrap();
    let run = t.create_run(exp, Some("r"), None).unwrap();
    (db, run)
}

#[test]
fn async_points_are_read_back_at_once_and_committed_on_flush() {
    let dir = tempfile::tempdir().unwrap();
    let (db, run) = store_with_run(dir.path());
    let writer = open(&db).with_async_logging(true);
    for step in 0..5000 {
        writer
            .log_metric(&run, "loss", 1.0 / (step + 1) as f64, step)
            .unwrap();
    }
    writer.set_tag(&run, "phase", "trained").unwrap();
    // the same tracker reads its queued writes
    let history = writer.metric_history(&run, "loss").unwrap();
    assert_eq!(history.len(), 5000);
    assert_eq!(history[4999].step, 4999);
    writer.flush().unwrap();
    // another connection sees everything once flushed
    let reader = open(&db);
    let r = reader.get_run(&run).unwrap();
    let loss = r.data.metric("loss").unwrap();
    assert_eq!(loss.count, 5000);
    assert_eq!(loss.latest, 1.0 / 5000.0);
    assert_eq!(loss.min, Some(1.0 / 5000.0));
    assert_eq!(loss.max, Some(1.0));
    assert_eq!(r.data.tag("phase"), Some("trained"));
}

#[test]
fn async_logging_checks_what_it_can_at_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let (db, run) = store_with_run(dir.path());
    let t = open(&db).with_async_logging(true);
    let missing = "0".repeat(32);
    assert!(matches!(
        store_err(t.log_metric(&missing, "x", 1.0, 0).unwrap_err()),
        StoreError::RunNotFound(_)
    ));
    assert!(matches!(
        store_err(t.set_tag(&run, "", "v").unwrap_err()),
        StoreError::InvalidArgument(_)
    ));
    let long = "k".repeat(300);
    assert!(matches!(
        store_err(t.log_metric(&run, &long, 1.0, 0).unwrap_err()),
        StoreError::LimitExceeded { .. }
    ));
    // params are written at once, so a conflicting value fails at the call
    t.log_param(&run, "lr", "0.1").unwrap();
    assert!(matches!(
        store_err(t.log_param(&run, "lr", "0.2").unwrap_err()),
        StoreError::ParamConflict { .. }
    ));
    t.log_batch(&run, &[Param::new("lr", "0.1")], &[], &[])
        .unwrap();
    // a run deleted through this tracker is refused at once
    t.log_metric(&run, "x", 1.0, 0).unwrap();
    t.delete_run(&run).unwrap();
    assert!(matches!(
        store_err(t.log_metric(&run, "x", 2.0, 1).unwrap_err()),
        StoreError::Deleted { .. }
    ));
    t.flush().unwrap();
    assert_eq!(open(&db).metric_history(&run, "x").unwrap().len(), 1);
}

#[test]
fn a_write_that_fails_when_committed_is_reported_and_the_others_land() {
    let dir = tempfile::tempdir().unwrap();
    let (db, doomed) = store_with_run(dir.path());
    let a = open(&db).with_async_logging(true);
    let exp = a.get_or_create_experiment("queue").unwrap();
    let kept = a.create_run(exp, Some("kept"), None).unwrap();
    a.log_metric(&doomed, "x", 0.0, 0).unwrap();
    a.flush().unwrap();
    // another process deletes the run that `a` already checked
    open(&db).delete_run(&doomed).unwrap();
    a.log_metric(&kept, "x", 1.0, 0).unwrap();
    a.log_batch(
        &doomed,
        &[],
        &[Metric::new("x", 2.0, 1), Metric::new("y", 2.0, 1)],
        &[RunTag::new("t", "v")],
    )
    .unwrap();
    a.log_metric(&kept, "x", 3.0, 1).unwrap();
    match store_err(a.flush().unwrap_err()) {
        StoreError::QueuedWritesFailed { count, first } => {
            assert_eq!(count, 1);
            assert!(first.contains("deleted"), "{first}");
        }
        other => panic!("{other:?}"),
    }
    assert!(a.flush().is_ok(), "a failure is reported once");
    let b = open(&db);
    assert_eq!(b.metric_history(&kept, "x").unwrap().len(), 2);
    let d = b.get_run(&doomed).unwrap();
    assert_eq!(
        d.data.metric("x").unwrap().count,
        1,
        "nothing of the failed batch"
    );
    assert!(d.data.metric("y").is_none() && d.data.tag("t").is_none());
}

#[test]
fn queued_writes_are_committed_in_the_background_and_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let (db, run) = store_with_run(dir.path());
    let a = open(&db).with_async_logging(true);
    for step in 0..10 {
        a.log_metric(&run, "bg", step as f64, step).unwrap();
    }
    // no flush: the group-commit thread commits within its delay (polled, generous deadline)
    let b = open(&db);
    let start = Instant::now();
    while b.metric_history(&run, "bg").unwrap().len() < 10 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "not committed in the background"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    for step in 0..100 {
        a.log_metric(&run, "drop", step as f64, step).unwrap();
    }
    drop(a);
    assert_eq!(b.metric_history(&run, "drop").unwrap().len(), 100);
}

/// An objective "in another process": it opens its own connection to the store and checks that
/// its trial's run is already there before it starts.
struct Elsewhere {
    db: PathBuf,
}

impl Objective for Elsewhere {
    fn evaluate(&self, params: &Params, ctx: &TrialContext) -> TrialResult {
        let Some(run_id) = ctx.attribute("run_id") else {
            return TrialResult::fail("no run id");
        };
        let other = open(&self.db);
        match other.get_run(run_id) {
            Ok(run) if run.info.status == RunStatus::Running => {
                let x = params.f64("x").unwrap_or(f64::NAN);
                other.log_metric(run_id, "seen", 1.0, 0).unwrap();
                TrialResult::ok(x)
            }
            Ok(run) => TrialResult::fail(format!("run is {:?}", run.info.status)),
            Err(e) => TrialResult::fail(format!("run not visible: {e}")),
        }
    }

    fn runs_elsewhere(&self) -> bool {
        true
    }
}

#[test]
fn trials_of_an_objective_elsewhere_have_their_run_committed_before_they_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("elsewhere.db");
    let tracker = open(&db);
    let recorder = Recorder::new(&tracker, "elsewhere").unwrap();
    let handle = recorder.handle();
    let space = Space::from_params([hp::uniform("x", 0.0, 1.0)]).unwrap();
    let result = Fmin::new(Elsewhere { db: db.clone() }, &space)
        .algo(Random)
        .max_evals(8)
        .parallelism(2)
        .seed(3)
        .observer(recorder)
        .run()
        .unwrap();
    assert!(handle.errors().is_empty(), "{:?}", handle.errors());
    assert_eq!(result.trials.len(), 8);
    let reader = open(&db);
    for t in &result.trials {
        assert_eq!(
            t.state,
            TrialState::Ok,
            "trial {}: {:?}",
            t.number,
            t.message
        );
        let run = reader
            .get_run(&handle.trial_run_id(t.number).unwrap())
            .unwrap();
        assert_eq!(run.info.status, RunStatus::Finished);
        assert_eq!(run.data.metric("seen").unwrap().count, 1);
        assert_eq!(run.data.metric("loss").unwrap().latest, t.loss.unwrap());
    }
}

#[test]
fn logging_is_asynchronous_by_default_and_synchronous_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let (db, run) = store_with_run(dir.path());
    let reader = open(&db);

    assert!(
        reader.async_logging(),
        "asynchronous logging is the default"
    );
    // off: each call is committed before it returns, so another connection sees it at once
    let sync = open(&db).with_async_logging(false);
    sync.log_metric(&run, "sync", 1.0, 0).unwrap();
    sync.set_tag(&run, "mode", "sync").unwrap();
    let seen = reader.get_run(&run).unwrap();
    assert_eq!(seen.data.metric("sync").map(|m| m.count), Some(1));
    assert_eq!(seen.data.tag("mode"), Some("sync"));

    // the default: queued, and committed by ending the run (a write that commits the queue first)
    let default = open(&db);
    for step in 0..100 {
        default.log_metric(&run, "loss", step as f64, step).unwrap();
    }
    default
        .set_terminated(&run, RunStatus::Finished, None)
        .unwrap();
    let ended = reader.get_run(&run).unwrap();
    assert_eq!(ended.info.status, RunStatus::Finished);
    assert_eq!(ended.data.metric("loss").map(|m| m.count), Some(100));

    // and by dropping the last handle on the store
    default.log_metric(&run, "late", 7.0, 0).unwrap();
    drop(default);
    assert_eq!(reader.metric_history(&run, "late").unwrap().len(), 1);
}
