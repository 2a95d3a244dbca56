//! The tracking store end to end: round trips of every entity, write-once params, metric summaries, tags,
//! limits, soft delete/restore, URIs and concurrent writers.

use std::path::Path;

use hpo::tracking::{
    store::{TAG_GIT_COMMIT, TAG_HOST, TAG_PARENT_RUN_ID, TAG_RUN_NAME, TAG_SOURCE, TAG_USER},
    LifecycleStage, Metric, NewRun, Param, RunStatus, RunTag, RunsQuery, StoreError, SystemInfo,
    Tracker, TrackingError, ViewType, DEFAULT_EXPERIMENT_ID,
};

fn system() -> SystemInfo {
    SystemInfo {
        user: "ann".into(),
        host: Some("box1".into()),
        source: Some("train".into()),
        git_commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
    }
}

fn tracker(dir: &Path) -> Tracker {
    let uri = format!("sqlite:///{}", dir.join("t.db").display());
    Tracker::open(&uri).unwrap().with_system_info(system())
}

fn store_err(e: TrackingError) -> StoreError {
    match e {
        TrackingError::Store(s) => s,
        other => panic!("expected a store error, got {other:?}"),
    }
}

#[test]
fn experiments_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tracker(tmp.path());
    let default = t.get_experiment(DEFAULT_EXPERIMENT_ID).unwrap();
    assert_eq!(default.name, "Default");
    assert_eq!(default.lifecycle_stage, LifecycleStage::Active);

    let id = t.create_experiment("tuning").unwrap();
    assert_eq!(t.get_or_create_experiment("tuning").unwrap(), id);
    let other = t.get_or_create_experiment("other").unwrap();
    assert_ne!(other, id);
    assert!(matches!(
        store_err(t.create_experiment("tuning").unwrap_err()),
        StoreError::ExperimentNameTaken(n) if n == "tuning"
    ));
    t.set_experiment_tag(id, "hpo.note", "first").unwrap();
    t.set_experiment_tag(id, "hpo.note", "second").unwrap();
    let exp = t.get_experiment(id).unwrap();
    assert_eq!(exp.name, "tuning");
    assert_eq!(exp.tags.len(), 1);
    assert_eq!(exp.tags[0].value, "second");
    assert!(exp.creation_time > 0 && exp.last_update_time >= exp.creation_time);
    let root = tmp.path().canonicalize().unwrap().join("hpo-artifacts");
    assert_eq!(
        Path::new(&exp.artifact_location).canonicalize().ok(),
        None,
        "not created until used"
    );
    assert_eq!(
        exp.artifact_location,
        root.join(id.to_string()).to_string_lossy()
    );
    assert_eq!(
        t.get_experiment_by_name("tuning")
            .unwrap()
            .unwrap()
            .experiment_id,
        id
    );
    assert!(t.get_experiment_by_name("nope").unwrap().is_none());
    t.rename_experiment(other, "renamed").unwrap();
    assert_eq!(t.get_experiment(other).unwrap().name, "renamed");
    assert!(matches!(
        store_err(t.get_experiment(999).unwrap_err()),
        StoreError::ExperimentNotFound(_)
    ));
    let json = serde_json::to_value(&exp).unwrap();
    assert_eq!(json["lifecycle_stage"], "active");
    assert_eq!(json["name"], "tuning");
}

#[test]
fn runs_round_trip_with_system_tags_and_nesting() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tracker(tmp.path());
    let exp = t.get_or_create_experiment("study").unwrap();
    let parent = t.create_run(exp, Some("study-1"), None).unwrap();
    let child = t.create_run(exp, Some("trial-0"), Some(&parent)).unwrap();
    let grandchild = t.create_run(exp, None, Some(&child)).unwrap();
    assert_eq!(parent.len(), 32);

    let run = t.get_run(&child).unwrap();
    assert_eq!(run.info.run_name, "trial-0");
    assert_eq!(run.info.status, RunStatus::Running);
    assert_eq!(run.info.parent_run_id.as_deref(), Some(parent.as_str()));
    assert_eq!(run.info.user_id, "ann");
    assert_eq!(run.info.end_time, None);
    assert!(run
        .info
        .artifact_uri
        .ends_with(&format!("{exp}/{child}/artifacts")));
    let d = &run.data;
    assert_eq!(d.tag(TAG_USER), Some("ann"));
    assert_eq!(d.tag(TAG_HOST), Some("box1"));
    assert_eq!(d.tag(TAG_SOURCE), Some("train"));
    assert_eq!(
        d.tag(TAG_GIT_COMMIT),
        Some("0123456789abcdef0123456789abcdef01234567")
    );
    assert_eq!(d.tag(TAG_PARENT_RUN_ID), Some(parent.as_str()));
    assert_eq!(d.tag(TAG_RUN_NAME), Some("trial-0"));
    assert_eq!(
        t.get_run(&parent).unwrap().data.tag(TAG_PARENT_RUN_ID),
        None
    );

    let g = t.get_run(&grandchild).unwrap();
    assert_eq!(g.info.parent_run_id.as_deref(), Some(child.as_str()));
    assert!(g.info.run_name.starts_with("run-"), "generated name");
    let children: Vec<_> = t
        .child_runs(&parent)
        .unwrap()
        .into_iter()
        .map(|r| r.info.run_id)
        .collect();
    assert_eq!(children, vec![child.clone()]);

    let info = t
        .set_terminated(&child, RunStatus::Finished, Some(1234))
        .unwrap();
    assert_eq!(info.status, RunStatus::Finished);
    assert_eq!(info.end_time, Some(1234));
    let info = t.set_terminated(&parent, RunStatus::Killed, None).unwrap();
    assert!(info.end_time.is_some_and(|e| e >= info.start_time));

    // Renaming through the run-name tag.
    t.set_tag(&child, TAG_RUN_NAME, "trial-zero").unwrap();
    assert_eq!(t.get_run(&child).unwrap().info.run_name, "trial-zero");

    assert!(matches!(
        store_err(
            t.create_run(exp, None, Some("ffffffffffffffffffffffffffffffff"))
                .unwrap_err()
        ),
        StoreError::RunNotFound(_)
    ));
    assert!(matches!(
        store_err(t.create_run(424242, None, None).unwrap_err()),
        StoreError::ExperimentNotFound(_)
    ));
    assert!(matches!(
        store_err(t.get_run("no such run").unwrap_err()),
        StoreError::RunNotFound(_)
    ));

    let with = t
        .create_run_with(NewRun {
            experiment_id: exp,
            run_name: Some("explicit".into()),
            user_id: Some("bob".into()),
            start_time: Some(42),
            tags: vec![RunTag::new(TAG_USER, "bob"), RunTag::new("k", "v")],
            ..NewRun::default()
        })
        .unwrap();
    assert_eq!((with.start_time, with.user_id.as_str()), (42, "bob"));
    let r = t.get_run(&with.run_id).unwrap();
    assert_eq!(r.data.tag(TAG_USER), Some("bob"));
    assert_eq!(r.data.tag("k"), Some("v"));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["info"]["status"], "RUNNING");
}

#[test]
fn params_are_write_once() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tracker(tmp.path());
    let run = t.create_run(0, None, None).unwrap();
    t.log_param(&run, "lr", "0.01").unwrap();
    t.log_param(&run, "lr", "0.01").unwrap();
    match store_err(t.log_param(&run, "lr", "0.1").unwrap_err()) {
        StoreError::ParamConflict { key, old, new, .. } => {
            assert_eq!(
                (key.as_str(), old.as_str(), new.as_str()),
                ("lr", "0.01", "0.1")
            )
        }
        other => panic!("{other:?}"),
    }
    // A conflicting batch writes nothing at all.
    let err = t
        .log_batch(
            &run,
            &[Param::new("depth", "3"), Param::new("lr", "1")],
            &[Metric::new("loss", 1.0, 0)],
            &[RunTag::new("x", "y")],
        )
        .unwrap_err();
    assert!(matches!(store_err(err), StoreError::ParamConflict { .. }));
    let r = t.get_run(&run).unwrap();
    assert_eq!(r.data.params, vec![Param::new("lr", "0.01")]);
    assert!(r.data.metrics.is_empty());
    assert_eq!(r.data.tag("x"), None);
}

#[test]
fn metrics_history_and_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tracker(tmp.path());
    let run = t.create_run(0, None, None).unwrap();
    let p = |v: f64, step: i64, ts: i64| Metric {
        key: "loss".into(),
        value: v,
        timestamp: ts,
        step,
    };
    t.log_batch(
        &run,
        &[],
        &[
            p(0.9, 0, 100),
            p(0.5, 2, 90),
            p(0.7, 1, 300),
            p(f64::NAN, 1, 400),
        ],
        &[],
    )
    .unwrap();
    // An exact duplicate is dropped.
    t.log_batch(&run, &[], &[p(0.5, 2, 90)], &[]).unwrap();
    let h = t.metric_history(&run, "loss").unwrap();
    let steps: Vec<i64> = h.iter().map(|m| m.step).collect();
    assert_eq!(steps, vec![0, 1, 1, 2]);
    assert_eq!(h[0].value, 0.9);
    assert_eq!(h[1].value, 0.7);
    assert!(h[2].value.is_nan());
    let s = t
        .get_run(&run)
        .unwrap()
        .data
        .metric("loss")
        .unwrap()
        .clone();
    assert_eq!(s.latest, 0.5, "highest step wins, not the last write");
    assert_eq!((s.latest_step, s.latest_timestamp), (2, 90));
    assert_eq!((s.min, s.max, s.count), (Some(0.5), Some(0.9), 4));

    // Same step, later timestamp: becomes latest; lower value: becomes min.
    t.log_batch(&run, &[], &[p(0.1, 2, 95)], &[]).unwrap();
    let s = t
        .get_run(&run)
        .unwrap()
        .data
        .metric("loss")
        .unwrap()
        .clone();
    assert_eq!((s.latest, s.min, s.max), (0.1, Some(0.1), Some(0.9)));

    t.log_metric(&run, "acc", 0.8, 0).unwrap();
    let r = t.get_run(&run).unwrap();
    assert_eq!(r.data.metrics.len(), 2);
    assert_eq!(r.data.metric("acc").unwrap().latest, 0.8);
    assert!(t.metric_history(&run, "nope").unwrap().is_empty());
}

#[test]
fn tags_are_mutable_and_deletable() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tracker(tmp.path());
    let run = t.create_run(0, None, None).unwrap();
    t.set_tag(&run, "model", "xgboost").unwrap();
    t.set_tag(&run, "model", "lightgbm").unwrap();
    assert_eq!(t.get_run(&run).unwrap().data.tag("model"), Some("lightgbm"));
    t.delete_tag(&run, "model").unwrap();
    assert_eq!(t.get_run(&run).unwrap().data.tag("model"), None);
    assert!(matches!(
        store_err(t.delete_tag(&run, "model").unwrap_err()),
        StoreError::InvalidArgument(_)
    ));
}

#[test]
fn limits_are_typed_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tracker(tmp.path());
    let run = t.create_run(0, None, None).unwrap();
    let limit = |e: TrackingError| match store_err(e) {
        StoreError::LimitExceeded { limit, actual, .. } => (limit, actual),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        limit(t.log_param(&run, &"k".repeat(251), "v").unwrap_err()),
        (250, 251)
    );
    assert_eq!(
        limit(t.log_param(&run, "k", &"v".repeat(6001)).unwrap_err()),
        (6000, 6001)
    );
    assert_eq!(
        limit(t.set_tag(&run, "k", &"v".repeat(8001)).unwrap_err()),
        (8000, 8001)
    );
    let metrics: Vec<Metric> = (0..1001).map(|i| Metric::new("m", 0.0, i)).collect();
    assert_eq!(
        limit(t.log_batch(&run, &[], &metrics, &[]).unwrap_err()),
        (1000, 1001)
    );
    let params: Vec<Param> = (0..101).map(|i| Param::new(format!("p{i}"), "1")).collect();
    assert_eq!(
        limit(t.log_batch(&run, &params, &[], &[]).unwrap_err()),
        (100, 101)
    );
    let tags: Vec<RunTag> = (0..101)
        .map(|i| RunTag::new(format!("t{i}"), "1"))
        .collect();
    assert_eq!(
        limit(t.log_batch(&run, &[], &[], &tags).unwrap_err()),
        (100, 101)
    );
    // Exactly at the limits is fine and nothing is truncated.
    t.log_param(&run, &"k".repeat(250), &"v".repeat(6000))
        .unwrap();
    t.log_batch(&run, &params[..100], &metrics[..1000], &tags[..100])
        .unwrap();
    let r = t.get_run(&run).unwrap();
    assert_eq!(r.data.param(&"k".repeat(250)).map(str::len), Some(6000));
    assert_eq!(r.data.params.len(), 101);
    assert_eq!(r.data.metric("m").unwrap().count, 1000);
    assert!(matches!(
        store_err(t.create_experiment(&"e".repeat(501)).unwrap_err()),
        StoreError::LimitExceeded { limit: 500, .. }
    ));
    assert!(matches!(
        store_err(t.create_experiment("  ").unwrap_err()),
        StoreError::InvalidArgument(_)
    ));
}

#[test]
fn chunked_batches_log_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tracker(tmp.path());
    let run = t.create_run(0, None, None).unwrap();
    let params: Vec<Param> = (0..250).map(|i| Param::new(format!("p{i}"), "1")).collect();
    let metrics: Vec<Metric> = (0..2500).map(|i| Metric::new("m", i as f64, i)).collect();
    let tags: Vec<RunTag> = (0..120)
        .map(|i| RunTag::new(format!("t{i}"), "1"))
        .collect();
    t.log_batch_chunked(&run, &params, &metrics, &tags).unwrap();
    let r = t.get_run(&run).unwrap();
    assert_eq!(r.data.params.len(), 250);
    assert_eq!(r.data.tags.len(), 120 + 5, "plus 5 system tags");
    let m = r.data.metric("m").unwrap();
    assert_eq!((m.count, m.latest, m.min), (2500, 2499.0, Some(0.0)));
    t.log_batch_chunked(&run, &[], &[], &[]).unwrap();
}

#[test]
fn delete_and_restore_visibility() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tracker(tmp.path());
    let exp = t.create_experiment("e").unwrap();
    let a = t.create_run(exp, Some("a"), None).unwrap();
    let b = t.create_run(exp, Some("b"), None).unwrap();
    let names = |view: ViewType| {
        let mut v: Vec<String> = t
            .search_runs(&RunsQuery::new(&[exp], "").view(view))
            .unwrap()
            .runs
            .into_iter()
            .map(|r| r.info.run_name)
            .collect();
        v.sort();
        v
    };
    t.delete_run(&a).unwrap();
    assert_eq!(names(ViewType::ActiveOnly), vec!["b"]);
    assert_eq!(names(ViewType::DeletedOnly), vec!["a"]);
    assert_eq!(names(ViewType::All), vec!["a", "b"]);
    assert_eq!(
        t.get_run(&a).unwrap().info.lifecycle_stage,
        LifecycleStage::Deleted
    );
    assert!(matches!(
        store_err(t.log_metric(&a, "m", 1.0, 0).unwrap_err()),
        StoreError::Deleted { what: "run", .. }
    ));
    t.restore_run(&a).unwrap();
    assert_eq!(names(ViewType::ActiveOnly), vec!["a", "b"]);
    t.log_metric(&a, "m", 1.0, 0).unwrap();

    // Deleting the experiment hides it and its runs; restoring brings back exactly those runs.
    t.delete_run(&b).unwrap();
    t.delete_experiment(exp).unwrap();
    let visible: Vec<_> = t
        .list_experiments(ViewType::ActiveOnly)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(visible, vec!["Default"]);
    let deleted: Vec<_> = t
        .list_experiments(ViewType::DeletedOnly)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(deleted, vec!["e"]);
    assert_eq!(t.list_experiments(ViewType::All).unwrap().len(), 2);
    assert!(names(ViewType::ActiveOnly).is_empty());
    assert!(matches!(
        store_err(t.create_run(exp, None, None).unwrap_err()),
        StoreError::Deleted {
            what: "experiment",
            ..
        }
    ));
    assert!(matches!(
        store_err(t.get_or_create_experiment("e").unwrap_err()),
        StoreError::Deleted { .. }
    ));
    assert!(matches!(
        store_err(t.create_experiment("e").unwrap_err()),
        StoreError::ExperimentNameTaken(_)
    ));
    t.restore_experiment(exp).unwrap();
    assert_eq!(names(ViewType::ActiveOnly), vec!["a"]);
    assert_eq!(names(ViewType::DeletedOnly), vec!["b"]);
}

#[test]
fn uris_and_default_artifact_root() {
    let tmp = tempfile::tempdir().unwrap();
    let abs = tmp.path().join("sub/dir/a.db");
    let t = Tracker::open(&format!("sqlite:///{}", abs.display())).unwrap();
    assert!(abs.exists());
    assert_eq!(t.artifact_root(), tmp.path().join("sub/dir/hpo-artifacts"));
    let plain = tmp.path().join("plain.db");
    let t = Tracker::open(plain.to_str().unwrap()).unwrap();
    assert!(plain.exists());
    assert_eq!(t.artifact_root(), tmp.path().join("hpo-artifacts"));
    let custom = tmp.path().join("elsewhere");
    let t = Tracker::open_with_artifact_root(plain.to_str().unwrap(), Some(&custom)).unwrap();
    let exp = t.create_experiment("x").unwrap();
    assert_eq!(
        t.get_experiment(exp).unwrap().artifact_location,
        custom.join(exp.to_string()).to_string_lossy()
    );
    let mem = Tracker::open("sqlite:///:memory:").unwrap();
    assert_eq!(mem.get_experiment(0).unwrap().name, "Default");
    assert!(matches!(
        Tracker::open("mysql://localhost/db"),
        Err(TrackingError::InvalidUri { .. })
    ));
    // a PostgreSQL URL is understood; a server that does not answer is named in the error
    let err = Tracker::open("postgresql://postgres@127.0.0.1:1/db").unwrap_err();
    assert!(
        matches!(&err, TrackingError::Unreachable { uri, .. } if uri == "postgresql://postgres@127.0.0.1:1/db"),
        "{err:?}"
    );
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
}

#[test]
fn concurrent_writers_all_succeed() {
    const THREADS: usize = 4;
    const WRITES: usize = 200;
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("shared.db");
    let uri = format!("sqlite:///{}", db.display());
    // Every thread opens its own connection, even the first open (which creates and migrates the file).
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let uri = uri.clone();
            std::thread::spawn(move || -> Result<String, TrackingError> {
                let t = Tracker::open(&uri)?.with_system_info(system());
                let exp = t.get_or_create_experiment("concurrent")?;
                let run = t.create_run(exp, Some(&format!("w{i}")), None)?;
                for n in 0..WRITES {
                    match n % 4 {
                        0 => t.log_param(&run, &format!("p{n}"), &n.to_string())?,
                        1 => t.set_tag(&run, "progress", &n.to_string())?,
                        _ => t.log_metric(&run, "loss", n as f64, n as i64)?,
                    }
                }
                t.set_terminated(&run, RunStatus::Finished, None)?;
                Ok(run)
            })
        })
        .collect();
    let runs: Vec<String> = handles
        .into_iter()
        .map(|h| h.join().expect("thread panicked").expect("write failed"))
        .collect();
    let t = Tracker::open(&uri).unwrap();
    let exp = t.get_or_create_experiment("concurrent").unwrap();
    assert_eq!(t.list_experiments(ViewType::All).unwrap().len(), 2);
    let page = t
        .search_runs(&RunsQuery::new(&[exp], "status = 'FINISHED'"))
        .unwrap();
    assert_eq!(page.runs.len(), THREADS);
    for id in runs {
        let r = t.get_run(&id).unwrap();
        assert_eq!(r.data.params.len(), WRITES / 4);
        assert_eq!(r.data.tag("progress"), Some("197"));
        let loss = r.data.metric("loss").unwrap();
        assert_eq!(loss.count as usize, WRITES / 2);
        assert_eq!(loss.latest, 199.0);
        assert_eq!(t.metric_history(&id, "loss").unwrap().len(), WRITES / 2);
    }
}

const WORKER_ENV: &str = "HPO_TRACKING_TEST_WORKER_DB";

/// Not a test on its own: when the concurrent-process test re-runs this binary with `WORKER_ENV` set,
/// this writes 150 transactions into the shared database from a separate process.
#[test]
fn process_worker() {
    let Ok(db) = std::env::var(WORKER_ENV) else {
        return;
    };
    let t = Tracker::open(&db).unwrap().with_system_info(system());
    let exp = t.get_or_create_experiment("processes").unwrap();
    let run = t.create_run(exp, None, None).unwrap();
    for n in 0..150 {
        t.log_metric(&run, "x", n as f64, n).unwrap();
    }
    t.set_terminated(&run, RunStatus::Finished, None).unwrap();
}

#[test]
fn concurrent_processes_all_succeed() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("procs.db");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..3)
        .map(|_| {
            std::process::Command::new(&exe)
                .args(["--exact", "process_worker", "--test-threads=1", "--quiet"])
                .env(WORKER_ENV, &db)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a worker process failed");
    }
    let t = Tracker::open(db.to_str().unwrap()).unwrap();
    let exp = t.get_or_create_experiment("processes").unwrap();
    let runs = t
        .search_runs(&RunsQuery::new(
            &[exp],
            "status = 'FINISHED' and metrics.x = 149",
        ))
        .unwrap()
        .runs;
    assert_eq!(runs.len(), 3);
    for r in runs {
        assert_eq!(r.data.metric("x").unwrap().count, 150);
    }
}

#[test]
fn compare_and_set_tag_changes_a_tag_only_from_the_expected_value() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(dir.path());
    let exp = t.get_or_create_experiment("cas").unwrap();
    let run = t.create_run(exp, Some("r"), None).unwrap();
    let tag = |t: &Tracker| t.get_run(&run).unwrap().data.tag("k").map(String::from);
    assert!(!t
        .compare_and_set_tag(&run, "k", Some("a"), Some("b"))
        .unwrap());
    assert_eq!(tag(&t), None);
    assert!(t.compare_and_set_tag(&run, "k", None, Some("a")).unwrap());
    assert!(!t.compare_and_set_tag(&run, "k", None, Some("x")).unwrap());
    assert_eq!(tag(&t).as_deref(), Some("a"));
    assert!(t
        .compare_and_set_tag(&run, "k", Some("a"), Some("b"))
        .unwrap());
    assert_eq!(tag(&t).as_deref(), Some("b"));
    assert!(!t.compare_and_set_tag(&run, "k", Some("a"), None).unwrap());
    assert!(t.compare_and_set_tag(&run, "k", Some("b"), None).unwrap());
    assert_eq!(tag(&t), None);
    // a deleted run's tags are not changed
    t.delete_run(&run).unwrap();
    assert!(t.compare_and_set_tag(&run, "k", None, Some("a")).is_err());
}
