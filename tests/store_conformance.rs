//! One set of store tests run against the three backends: SQLite (a file of its own), PostgreSQL (a
//! database of its own on the server at 127.0.0.1:5432, dropped after) and the remote store over
//! HTTP (`hpo server` on a loopback port, in this process, over a SQLite file of its own). Each
//! `conformance!` case makes three tests, `<case>::sqlite`, `<case>::postgres` and `<case>::http`,
//! so every store must give the same answers.
//!
//! The `tracker_conformance!` cases get a whole [`Tracker`] on the backend: the model registry,
//! artifacts and garbage collection.
//!
//! Without a PostgreSQL server the `postgres` tests print why and pass, unless `CI` is set: then they fail.
//!
//! The race for a compare-and-set runs on the three: over http it is `hpo server`'s own call
//! (`/api/2.0/hpo/runs/compare-and-set-tag`), one transaction of the server's store.

mod common;
#[path = "store_conformance/lacking.rs"]
mod lacking;

use std::sync::Arc;

use hpo::tracking::http::HttpStore;
use hpo::tracking::postgres::PgStore;
use hpo::tracking::{
    ExperimentTag, LifecycleStage, Metric, NewRun, Param, RunStatus, RunTag, RunsQuery,
    SqliteStore, Store, StoreError, Tracker, ViewType, DEFAULT_EXPERIMENT_ID,
};

/// A store under test and what must outlive it (its directory, its database).
struct Backend {
    store: Arc<dyn Store>,
    _server: Option<hpo::ui::RunningServer>,
    _dir: tempfile::TempDir,
    _db: Option<common::pg::TempDb>,
}

fn sqlite() -> Option<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("hpo.db"), &dir.path().join("art")).unwrap();
    Some(Backend {
        store: Arc::new(store),
        _server: None,
        _dir: dir,
        _db: None,
    })
}

/// `hpo server` over a SQLite file, on a loopback port, and the remote store talking to it.
fn http() -> Option<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let tracker = Tracker::open(dir.path().join("hpo.db").to_str().unwrap()).unwrap();
    let server = hpo::ui::UiServer::bind(("127.0.0.1", 0), tracker, Default::default())
        .unwrap()
        .spawn();
    let store = HttpStore::open(&format!("http://{}", server.addr())).unwrap();
    Some(Backend {
        store: Arc::new(store),
        _server: Some(server),
        _dir: dir,
        _db: None,
    })
}

fn postgres(tag: &str) -> Option<Backend> {
    let db = common::pg::TempDb::create(&format!("conf_{tag}"))?;
    let dir = tempfile::tempdir().unwrap();
    let store = PgStore::open(&db.url(), &dir.path().join("art")).unwrap();
    Some(Backend {
        store: Arc::new(store),
        _server: None,
        _dir: dir,
        _db: Some(db),
    })
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                if let Some(b) = super::sqlite() {
                    super::cases::$name(&*b.store);
                }
            }
            #[test]
            fn postgres() {
                if let Some(b) = super::postgres(stringify!($name)) {
                    super::cases::$name(&*b.store);
                }
            }
            #[test]
            fn http() {
                if let Some(b) = super::http() {
                    super::cases::$name(&*b.store);
                }
            }
        }
    )*};
}

conformance!(
    experiments,
    runs_and_their_data,
    metric_summaries_and_history,
    search_operators_and_ordering,
    paging,
    deletion_and_restore,
    compare_and_set_tag,
    search_lacking_the_ordered_value,
);

macro_rules! tracker_conformance {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                if let Some(b) = super::sqlite() {
                    super::tracker_cases::$name(&b.tracker());
                }
            }
            #[test]
            fn postgres() {
                if let Some(b) = super::postgres(stringify!($name)) {
                    super::tracker_cases::$name(&b.tracker());
                }
            }
        }
    )*};
}

tracker_conformance!(
    registry_versions_aliases_stages,
    registry_search_and_deletion,
    registry_numbers_under_concurrency,
    artifacts_log_list_read,
    gc_removes_deleted_runs_and_experiments,
);

impl Backend {
    /// A tracker on the store, keeping artifacts under the backend's directory, writing synchronously.
    fn tracker(&self) -> Tracker {
        Tracker::with_store(self.store.clone(), self._dir.path().join("art"))
            .with_async_logging(false)
    }
}

fn run(store: &dyn Store, name: &str, params: &[(&str, &str)], parent: Option<&str>) -> String {
    store
        .create_run(&NewRun {
            experiment_id: DEFAULT_EXPERIMENT_ID,
            run_name: Some(name.to_string()),
            parent_run_id: parent.map(str::to_string),
            params: params.iter().map(|(k, v)| Param::new(*k, *v)).collect(),
            ..NewRun::default()
        })
        .unwrap()
        .run_id
}

fn names(store: &dyn Store, q: &RunsQuery) -> Vec<String> {
    store
        .search_runs(q)
        .unwrap()
        .runs
        .into_iter()
        .map(|r| r.info.run_name)
        .collect()
}

mod cases {
    pub use super::lacking::search_lacking_the_ordered_value;
    use super::*;

    pub fn experiments(s: &dyn Store) {
        let default = s.get_experiment(DEFAULT_EXPERIMENT_ID).unwrap();
        assert_eq!(default.name, "Default");
        let tags = [ExperimentTag {
            key: "team".into(),
            value: "ml".into(),
        }];
        let id = s.create_experiment("exp-a", None, &tags).unwrap();
        assert!(id > 0);
        assert!(matches!(
            s.create_experiment("exp-a", None, &[]),
            Err(StoreError::ExperimentNameTaken(n)) if n == "exp-a"
        ));
        let got = s.get_or_create_experiment("exp-a").unwrap();
        assert_eq!(got.experiment_id, id);
        assert_eq!(got.tags, tags.to_vec());
        assert!(got.artifact_location.ends_with(&format!("/{id}")));
        let b = s.get_or_create_experiment("exp-b").unwrap();
        assert_ne!(b.experiment_id, id);
        s.rename_experiment(b.experiment_id, "exp-c").unwrap();
        assert!(s.get_experiment_by_name("exp-b").unwrap().is_none());
        assert_eq!(
            s.get_experiment_by_name("exp-c")
                .unwrap()
                .unwrap()
                .experiment_id,
            b.experiment_id
        );
        s.set_experiment_tag(id, "team", "infra").unwrap();
        assert_eq!(s.get_experiment(id).unwrap().tags[0].value, "infra");
        let names: Vec<String> = s
            .list_experiments(ViewType::ActiveOnly)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["Default", "exp-a", "exp-c"]);
        assert!(matches!(
            s.get_experiment(9999),
            Err(StoreError::ExperimentNotFound(_))
        ));
    }

    pub fn runs_and_their_data(s: &dyn Store) {
        let parent = run(s, "parent", &[("lr", "0.1")], None);
        let child = run(s, "child", &[], Some(&parent));
        let info = s.get_run(&child).unwrap().info;
        assert_eq!(info.parent_run_id.as_deref(), Some(parent.as_str()));
        assert_eq!(info.status, RunStatus::Running);
        assert!(info.artifact_uri.ends_with(&format!("{child}/artifacts")));
        s.log_batch(
            &child,
            &[Param::new("opt", "adam")],
            &[Metric::new("loss", 0.5, 0)],
            &[RunTag::new("note", "x")],
        )
        .unwrap();
        // params are write-once
        s.log_batch(&child, &[Param::new("opt", "adam")], &[], &[])
            .unwrap();
        assert!(matches!(
            s.log_batch(&child, &[Param::new("opt", "sgd")], &[], &[]),
            Err(StoreError::ParamConflict { old, .. }) if old == "adam"
        ));
        // the run-name tag renames the run
        s.log_batch(&child, &[], &[], &[RunTag::new("hpo.runName", "kid")])
            .unwrap();
        let r = s.get_run(&child).unwrap();
        assert_eq!(r.info.run_name, "kid");
        assert_eq!(r.data.param("opt"), Some("adam"));
        assert_eq!(r.data.tag("note"), Some("x"));
        assert_eq!(r.data.tag("hpo.parentRunId"), Some(parent.as_str()));
        assert_eq!(r.data.metric("loss").unwrap().latest, 0.5);
        s.delete_tag(&child, "note").unwrap();
        assert!(s.delete_tag(&child, "note").is_err());
        let done = s
            .finish_run(
                &child,
                &[Metric::new("loss", 0.25, 1)],
                &[],
                RunStatus::Finished,
                Some(1234),
            )
            .unwrap();
        assert_eq!(done.status, RunStatus::Finished);
        assert_eq!(done.end_time, Some(1234));
        let r = s.get_run(&child).unwrap();
        assert_eq!(r.info.end_time, Some(1234));
        assert_eq!(r.data.metric("loss").unwrap().latest, 0.25);
        assert_eq!(s.child_run_ids(&parent).unwrap(), vec![child.clone()]);
        assert_eq!(
            s.count_runs(DEFAULT_EXPERIMENT_ID, ViewType::ActiveOnly)
                .unwrap(),
            2
        );
        assert!(matches!(
            s.get_run("0123456789abcdef0123456789abcdef"),
            Err(StoreError::RunNotFound(_))
        ));
        assert!(matches!(
            s.get_run("not a run id"),
            Err(StoreError::RunNotFound(_))
        ));
    }

    pub fn metric_summaries_and_history(s: &dyn Store) {
        let id = run(s, "m", &[], None);
        let pts = [
            Metric {
                key: "loss".into(),
                value: 0.9,
                timestamp: 10,
                step: 0,
            },
            Metric {
                key: "loss".into(),
                value: 0.2,
                timestamp: 11,
                step: 2,
            },
            Metric {
                key: "loss".into(),
                value: f64::NAN,
                timestamp: 12,
                step: 1,
            },
            Metric {
                key: "loss".into(),
                value: f64::INFINITY,
                timestamp: 13,
                step: 1,
            },
        ];
        s.log_batch(&id, &[], &pts, &[]).unwrap();
        // the same point again is stored once
        s.log_batch(&id, &[], &pts[..1], &[]).unwrap();
        let m = s.get_run(&id).unwrap().data.metrics[0].clone();
        assert_eq!(m.latest, 0.2);
        assert_eq!(m.latest_step, 2);
        assert_eq!(m.min, Some(0.2));
        assert_eq!(m.max, Some(f64::INFINITY));
        assert_eq!(m.count, 4);
        let h = s.get_metric_history(&id, "loss").unwrap();
        let steps: Vec<(i64, i64)> = h.iter().map(|p| (p.step, p.timestamp)).collect();
        assert_eq!(steps, [(0, 10), (1, 12), (1, 13), (2, 11)]);
        assert!(h[1].value.is_nan());
        // a later NaN point is the latest: the summary says NaN
        s.log_batch(
            &id,
            &[],
            &[Metric {
                key: "loss".into(),
                value: f64::NAN,
                timestamp: 20,
                step: 3,
            }],
            &[],
        )
        .unwrap();
        let m = s.get_run(&id).unwrap().data.metrics[0].clone();
        assert!(m.latest.is_nan());
        assert_eq!(m.min, Some(0.2));
    }

    /// Six runs with params, tags and metrics; the same filters and orderings on both stores.
    fn search_fixture(s: &dyn Store) {
        let rows: [(&str, &str, &str, f64); 6] = [
            ("a", "0.1", "ML-core", 0.3),
            ("b", "0.01", "ml-infra", 0.7),
            ("c", "auto", "data", 0.1),
            ("d", "1e-3", "MLops", 0.5),
            ("e", "0.5", "ml", f64::NAN),
            ("f", "", "", -1.0),
        ];
        for (i, (name, lr, team, loss)) in rows.iter().enumerate() {
            let params: Vec<(&str, &str)> = if lr.is_empty() {
                vec![]
            } else {
                vec![("lr", *lr)]
            };
            let id = s
                .create_run(&NewRun {
                    experiment_id: DEFAULT_EXPERIMENT_ID,
                    run_name: Some(name.to_string()),
                    start_time: Some(1000 + i as i64),
                    params: params.iter().map(|(k, v)| Param::new(*k, *v)).collect(),
                    ..NewRun::default()
                })
                .unwrap()
                .run_id;
            let tags = if team.is_empty() {
                vec![]
            } else {
                vec![RunTag::new("team", *team)]
            };
            let metrics = if *loss < 0.0 {
                vec![]
            } else {
                vec![Metric::new("loss", *loss, 0)]
            };
            s.log_batch(&id, &[], &metrics, &tags).unwrap();
            if i % 2 == 0 {
                s.update_run_status(&id, RunStatus::Finished, None).unwrap();
            }
        }
    }

    pub fn search_operators_and_ordering(s: &dyn Store) {
        search_fixture(s);
        let q = |f: &str, order: &[&str]| names(s, &RunsQuery::new(&[], f).order_by(order));
        let cases: &[(&str, &[&str], &[&str])] = &[
            ("", &[], &["f", "e", "d", "c", "b", "a"]),
            ("metrics.loss < 0.5", &["metrics.loss ASC"], &["c", "a"]),
            ("metrics.loss >= 0.5", &["metrics.loss DESC"], &["b", "d"]),
            ("metrics.loss != 0.3", &["run_name"], &["b", "c", "d"]),
            ("params.lr > 0.05", &["params.lr DESC"], &["e", "a"]),
            ("params.lr = 'auto'", &[], &["c"]),
            ("params.lr IS NULL", &[], &["f"]),
            (
                "params.lr IS NOT NULL",
                &["run_name DESC"],
                &["e", "d", "c", "b", "a"],
            ),
            ("tags.team LIKE 'ML%'", &["run_name"], &["a", "d"]),
            (
                "tags.team ILIKE 'ml%'",
                &["run_name"],
                &["a", "b", "d", "e"],
            ),
            ("tags.team NOT LIKE 'ml%'", &["run_name"], &["a", "c", "d"]),
            ("tags.team IN ('data', 'ml')", &["run_name"], &["c", "e"]),
            (
                "tags.team NOT IN ('data', 'ml')",
                &["run_name"],
                &["a", "b", "d"],
            ),
            ("status = 'FINISHED'", &["start_time ASC"], &["a", "c", "e"]),
            (
                "status != 'FINISHED' AND metrics.loss > 0",
                &["run_name"],
                &["b", "d"],
            ),
            (
                "run_name = 'a' OR run_name = 'f'",
                &["run_name"],
                &["a", "f"],
            ),
            (
                "NOT (params.lr = 'auto')",
                &["run_name"],
                &["a", "b", "d", "e", "f"],
            ),
            ("metrics.min.loss <= 0.1", &[], &["c"]),
            ("metrics.max.loss > 0.6", &[], &["b"]),
            // missing values sort last in both directions
            ("", &["metrics.loss ASC"], &["c", "a", "d", "b", "f", "e"]),
            ("", &["metrics.loss DESC"], &["b", "d", "a", "c", "f", "e"]),
            // numbers before text, then missing
            ("", &["params.lr ASC"], &["d", "b", "a", "e", "c", "f"]),
            (
                "",
                &["tags.team ASC", "run_name DESC"],
                &["a", "d", "c", "e", "b", "f"],
            ),
        ];
        let mut wrong = Vec::new();
        for (filter, order, want) in cases {
            let got = q(filter, order);
            if got != *want {
                wrong.push(format!("{filter:?} {order:?}: got {got:?}, want {want:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        assert!(matches!(
            s.search_runs(&RunsQuery::new(&[], "metrics.loss <")),
            Err(StoreError::Search(_))
        ));
        assert!(names(s, &RunsQuery::new(&[12345], "")).is_empty());
    }

    pub fn paging(s: &dyn Store) {
        for i in 0..7 {
            s.create_run(&NewRun {
                experiment_id: DEFAULT_EXPERIMENT_ID,
                run_name: Some(format!("r{i}")),
                start_time: Some(100 + i),
                ..NewRun::default()
            })
            .unwrap();
        }
        let mut token = None;
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let page = s
                .search_runs(
                    &RunsQuery::new(&[DEFAULT_EXPERIMENT_ID], "")
                        .order_by(&["start_time ASC"])
                        .max_results(3)
                        .page_token(token),
                )
                .unwrap();
            pages += 1;
            seen.extend(page.runs.into_iter().map(|r| r.info.run_name));
            token = page.next_page_token;
            if token.is_none() {
                break;
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, ["r0", "r1", "r2", "r3", "r4", "r5", "r6"]);
        // a token of another query is refused
        let first = s
            .search_runs(&RunsQuery::new(&[], "").max_results(3))
            .unwrap();
        assert!(matches!(
            s.search_runs(
                &RunsQuery::new(&[], "run_name = 'r1'").page_token(first.next_page_token)
            ),
            Err(StoreError::Search(_))
        ));
    }

    pub fn deletion_and_restore(s: &dyn Store) {
        let exp = s.create_experiment("gone", None, &[]).unwrap();
        let mk = |parent: Option<&str>| {
            s.create_run(&NewRun {
                experiment_id: exp,
                parent_run_id: parent.map(str::to_string),
                ..NewRun::default()
            })
            .unwrap()
            .run_id
        };
        let top = mk(None);
        let child = mk(Some(&top));
        let grandchild = mk(Some(&child));
        let other = mk(None);
        s.delete_run(&grandchild).unwrap();
        // deletions are told apart by their time in milliseconds
        std::thread::sleep(std::time::Duration::from_millis(3));
        s.delete_run(&top).unwrap();
        let stage = |id: &str| s.get_run(id).unwrap().info.lifecycle_stage;
        assert_eq!(stage(&child), LifecycleStage::Deleted);
        assert!(matches!(
            s.log_batch(&child, &[], &[], &[RunTag::new("k", "v")]),
            Err(StoreError::Deleted { what: "run", .. })
        ));
        let active = |view| {
            s.search_runs(&RunsQuery::new(&[exp], "").view(view))
                .unwrap()
                .runs
                .len()
        };
        assert_eq!(active(ViewType::ActiveOnly), 1);
        assert_eq!(active(ViewType::DeletedOnly), 3);
        assert_eq!(active(ViewType::All), 4);
        // restoring the top brings back what its deletion took, not the grandchild deleted before
        s.restore_run(&top).unwrap();
        assert_eq!(stage(&child), LifecycleStage::Active);
        assert_eq!(stage(&grandchild), LifecycleStage::Deleted);
        // the experiment's deletion takes its active runs; its restore brings back only those
        s.delete_experiment(exp).unwrap();
        assert_eq!(stage(&other), LifecycleStage::Deleted);
        assert!(matches!(
            s.create_run(&NewRun {
                experiment_id: exp,
                ..NewRun::default()
            }),
            Err(StoreError::Deleted {
                what: "experiment",
                ..
            })
        ));
        assert!(matches!(
            s.get_or_create_experiment("gone"),
            Err(StoreError::Deleted { .. })
        ));
        s.restore_experiment(exp).unwrap();
        assert_eq!(stage(&other), LifecycleStage::Active);
        assert_eq!(stage(&top), LifecycleStage::Active);
        assert_eq!(stage(&grandchild), LifecycleStage::Deleted);
    }

    pub fn compare_and_set_tag(s: &dyn Store) {
        let id = run(s, "lease", &[], None);
        assert!(s
            .compare_and_set_tag(&id, "owner", None, Some("w1"))
            .unwrap());
        assert!(!s
            .compare_and_set_tag(&id, "owner", None, Some("w2"))
            .unwrap());
        assert!(!s
            .compare_and_set_tag(&id, "owner", Some("w2"), Some("w3"))
            .unwrap());
        assert!(s
            .compare_and_set_tag(&id, "owner", Some("w1"), Some("w2"))
            .unwrap());
        assert_eq!(s.get_run(&id).unwrap().data.tag("owner"), Some("w2"));
        assert!(s
            .compare_and_set_tag(&id, "owner", Some("w2"), None)
            .unwrap());
        assert_eq!(s.get_run(&id).unwrap().data.tag("owner"), None);
    }
}

/// Many threads race for one absent tag: exactly one wins, on every store.
fn racing_compare_and_set(store: Arc<dyn Store>) {
    let id = run(&*store, "race", &[], None);
    let wins: usize = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..8)
            .map(|w| {
                let store = store.clone();
                let id = id.clone();
                sc.spawn(move || {
                    store
                        .compare_and_set_tag(&id, "owner", None, Some(&format!("w{w}")))
                        .unwrap() as usize
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(wins, 1);
}

#[test]
fn racing_compare_and_set_sqlite() {
    if let Some(b) = sqlite() {
        racing_compare_and_set(b.store.clone());
    }
}

#[test]
fn racing_compare_and_set_http() {
    let b = http().unwrap();
    racing_compare_and_set(b.store.clone());
}

#[test]
fn racing_compare_and_set_postgres() {
    if let Some(b) = postgres("race") {
        racing_compare_and_set(b.store.clone());
    }
}

/// `Tracker::open` takes a PostgreSQL URL, and a second tracker on the same database sees the first's runs.
#[test]
fn tracker_opens_a_postgres_url() {
    let Some(db) = common::pg::TempDb::create("conf_tracker") else {
        return;
    };
    let a = Tracker::open(&db.url()).unwrap();
    let exp = a.store().get_or_create_experiment("shared").unwrap();
    let b = Tracker::open(&db.url().replace("postgresql://", "postgres://")).unwrap();
    let id = b
        .store()
        .create_run(&NewRun {
            experiment_id: exp.experiment_id,
            ..NewRun::default()
        })
        .unwrap()
        .run_id;
    assert_eq!(
        a.store().get_run(&id).unwrap().info.experiment_id,
        exp.experiment_id
    );
    // the model registry lives in the same database
    assert!(hpo::registry::Registry::new(a).is_ok());
}

/// `hpo run` and then `hpo run --resume` on one tracking URI: one study, trials 0..8 once each.
fn run_and_resume(uri: &str, dir: &std::path::Path) {
    use hpo::tracking::recorder::TAG_TRIAL_NUMBER;
    let file = dir.join("br.toml");
    std::fs::write(
        &file,
        "[study]\nname = \"br\"\nseed = 4\n[objective]\nfunction = \"branin\"\n\
         [space]\nx1 = { uniform = [-5, 10] }\nx2 = { uniform = [0, 15] }\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let hpo = |args: &[&str]| -> serde_json::Value {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_hpo"))
            .args(args)
            .env("HPO_TRACKING_URI", uri)
            .current_dir(dir)
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let v = hpo(&["run", f, "--max-evals", "5", "--json"]);
    let study = v["study_run_id"].as_str().unwrap().to_string();
    let w = hpo(&["run", f, "--max-evals", "8", "--resume", "--json"]);
    assert_eq!(w["study_run_id"].as_str().unwrap(), study);
    assert_eq!(w["trials"], 8);
    let tracker = Tracker::open(uri).unwrap();
    let mut numbers: Vec<usize> = tracker
        .child_runs(&study)
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c.info.status, RunStatus::Finished);
            c.data.tag(TAG_TRIAL_NUMBER).unwrap().parse().unwrap()
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (0..8).collect::<Vec<_>>());
}

#[test]
fn run_and_resume_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("hpo.db").display());
    run_and_resume(&uri, dir.path());
}

#[test]
fn run_and_resume_http() {
    let b = http().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let addr = b._server.as_ref().unwrap().addr();
    run_and_resume(&format!("http://{addr}"), dir.path());
}

#[test]
fn run_and_resume_postgres() {
    let Some(db) = common::pg::TempDb::create("conf_resume") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    run_and_resume(&db.url(), dir.path());
}

/// A finished run in `experiment` with a param, a metric and a `model/` artifact directory.
fn model_run(
    t: &Tracker,
    experiment: hpo::tracking::ExperimentId,
    name: &str,
    loss: f64,
) -> String {
    let id = t
        .store()
        .create_run(&NewRun {
            experiment_id: experiment,
            run_name: Some(name.to_string()),
            params: vec![Param::new("lr", "0.1")],
            ..NewRun::default()
        })
        .unwrap()
        .run_id;
    t.log_metric(&id, "loss", loss, 0).unwrap();
    t.artifacts(&id)
        .unwrap()
        .log_text(&format!("{{\"name\": \"{name}\"}}"), "model/model.json")
        .unwrap();
    t.set_status(&id, RunStatus::Finished).unwrap();
    id
}

mod tracker_cases {
    use super::*;
    use hpo::registry::{ModelSearch, ModelTag, Registry, RegistryError, Stage};

    fn versions_of(page: &hpo::registry::ModelVersionPage) -> Vec<(String, i64)> {
        page.versions
            .iter()
            .map(|v| (v.name.clone(), v.version))
            .collect()
    }

    pub fn registry_versions_aliases_stages(t: &Tracker) {
        let r = Registry::new(t.clone()).unwrap();
        let a = model_run(t, DEFAULT_EXPERIMENT_ID, "a", 0.5);
        let b = model_run(t, DEFAULT_EXPERIMENT_ID, "b", 0.25);
        let v1 = r
            .register_model(
                &format!("runs:/{a}/model"),
                "taxi",
                &[ModelTag::new("k", "1")],
            )
            .unwrap();
        assert_eq!((v1.name.as_str(), v1.version), ("taxi", 1));
        assert_eq!(v1.source, format!("runs:/{a}/model"));
        assert_eq!(v1.run_id, a);
        assert_eq!(v1.artifact_path, "model");
        assert_eq!(v1.current_stage, Stage::None);
        assert_eq!(v1.param("lr"), Some("0.1"));
        assert_eq!(v1.metric("loss"), Some(0.5));
        assert_eq!(v1.tag("k"), Some("1"));
        assert!(std::path::Path::new(&v1.storage_location)
            .join("model.json")
            .is_file());
        let v2 = r
            .register_model(&format!("runs:/{b}/model"), "taxi", &[])
            .unwrap();
        assert_eq!(v2.version, 2);
        assert!(matches!(
            r.register_model(&format!("runs:/{b}/weights"), "taxi", &[]),
            Err(RegistryError::ArtifactPathNotFound { available, .. }) if available == ["model/"]
        ));
        assert!(matches!(
            r.create_registered_model("taxi", None, &[]),
            Err(RegistryError::ModelExists(n)) if n == "taxi"
        ));

        // aliases: unique per model, moved by setting them again
        r.set_alias("taxi", "champion", 1).unwrap();
        assert_eq!(
            r.get_model_version_by_alias("taxi", "champion")
                .unwrap()
                .version,
            1
        );
        r.set_alias("taxi", "champion", 2).unwrap();
        r.set_alias("taxi", "challenger", 1).unwrap();
        let m = r.get_registered_model("taxi").unwrap();
        assert_eq!(m.alias("champion"), Some(2));
        assert_eq!(m.alias("challenger"), Some(1));
        assert_eq!(m.latest_version, Some(2));
        assert_eq!(
            r.get_model_version("taxi", 2).unwrap().aliases,
            ["champion"]
        );
        let resolved = r.resolve("models:/taxi@champion").unwrap();
        assert_eq!(resolved.run.info.run_id, b);
        assert!(resolved.artifact_location.join("model.json").is_file());
        assert!(matches!(
            r.get_model_version_by_alias("taxi", "nope"),
            Err(RegistryError::AliasNotFound { existing, .. }) if existing == ["challenger", "champion"]
        ));
        r.delete_alias("taxi", "challenger").unwrap();
        assert!(matches!(
            r.delete_alias("taxi", "challenger"),
            Err(RegistryError::AliasNotFound { .. })
        ));

        // stages: promoting with archive_existing archives the version that held the stage
        r.transition_stage("taxi", 1, Stage::Production, false)
            .unwrap();
        let p2 = r
            .transition_stage("taxi", 2, Stage::Production, true)
            .unwrap();
        assert_eq!(p2.current_stage, Stage::Production);
        assert_eq!(
            r.get_model_version("taxi", 1).unwrap().current_stage,
            Stage::Archived
        );
        assert_eq!(
            r.resolve_version("models:/taxi/Production")
                .unwrap()
                .version,
            2
        );
        assert!(matches!(
            r.transition_stage("taxi", 1, Stage::Archived, true),
            Err(RegistryError::InvalidArgument(_))
        ));
        assert!(matches!(
            r.get_model_version("taxi", 9),
            Err(RegistryError::VersionNotFound { existing, .. }) if existing == [1, 2]
        ));

        // tags and descriptions
        r.set_registered_model_tag("taxi", "team", "ml").unwrap();
        r.set_model_version_tag("taxi", 2, "validated", "yes")
            .unwrap();
        r.update_model_version_description("taxi", 2, "the better one")
            .unwrap();
        let v = r.get_model_version("taxi", 2).unwrap();
        assert_eq!(v.tag("validated"), Some("yes"));
        assert_eq!(v.description, "the better one");
        r.delete_model_version_tag("taxi", 2, "validated").unwrap();
        assert!(matches!(
            r.delete_model_version_tag("taxi", 2, "validated"),
            Err(RegistryError::InvalidArgument(_))
        ));
        assert_eq!(
            r.get_registered_model("taxi").unwrap().tag("team"),
            Some("ml")
        );

        // renaming carries versions, tags and aliases along
        r.rename_registered_model("taxi", "cab").unwrap();
        assert!(matches!(
            r.get_registered_model("taxi"),
            Err(RegistryError::ModelNotFound { known, .. }) if known == ["cab"]
        ));
        let cab = r.get_registered_model("cab").unwrap();
        assert_eq!(cab.alias("champion"), Some(2));
        assert_eq!(cab.tag("team"), Some("ml"));
        assert_eq!(r.get_model_version("cab", 1).unwrap().tag("k"), Some("1"));
    }

    pub fn registry_search_and_deletion(t: &Tracker) {
        let r = Registry::new(t.clone()).unwrap();
        let runs: Vec<String> = (0..3)
            .map(|i| model_run(t, DEFAULT_EXPERIMENT_ID, &format!("r{i}"), i as f64))
            .collect();
        for (model, run) in [("alpha", 0), ("alpha", 1), ("beta", 2), ("Gamma", 0)] {
            r.register_model(&format!("runs:/{}", runs[run]), model, &[])
                .unwrap();
        }
        r.set_registered_model_tag("beta", "team", "ml").unwrap();
        r.set_model_version_tag("alpha", 2, "ok", "1").unwrap();
        let models = |filter: &str, order: &[&str]| -> Vec<String> {
            r.search_registered_models(&ModelSearch {
                filter: filter.into(),
                order_by: order.iter().map(|s| s.to_string()).collect(),
                ..ModelSearch::default()
            })
            .unwrap()
            .models
            .into_iter()
            .map(|m| m.name)
            .collect()
        };
        assert_eq!(models("", &[]), ["Gamma", "alpha", "beta"]);
        assert_eq!(models("name LIKE 'a%'", &[]), ["alpha"]);
        assert_eq!(models("name ILIKE '%a'", &[]), ["Gamma", "alpha", "beta"]);
        assert_eq!(models("tags.team = 'ml'", &[]), ["beta"]);
        assert_eq!(
            models("tags.team IS NULL", &["name DESC"]),
            ["alpha", "Gamma"]
        );
        let versions = |filter: &str| {
            versions_of(
                &r.search_model_versions(&ModelSearch {
                    filter: filter.into(),
                    ..ModelSearch::default()
                })
                .unwrap(),
            )
        };
        let v = |n: &str, i: i64| (n.to_string(), i);
        assert_eq!(
            versions(""),
            [v("Gamma", 1), v("alpha", 2), v("alpha", 1), v("beta", 1)]
        );
        assert_eq!(
            versions(&format!("run_id = '{}'", runs[0])),
            [v("Gamma", 1), v("alpha", 1)]
        );
        assert_eq!(versions("version_number >= 2"), [v("alpha", 2)]);
        assert_eq!(versions("tags.ok = '1'"), [v("alpha", 2)]);
        assert_eq!(
            versions("name IN ('beta', 'Gamma')"),
            [v("Gamma", 1), v("beta", 1)]
        );
        assert!(matches!(
            r.search_model_versions(&ModelSearch {
                filter: "nope = 1".into(),
                ..ModelSearch::default()
            }),
            Err(RegistryError::Search(_))
        ));
        // paging: one at a time, the same order
        let mut token = None;
        let mut paged = Vec::new();
        loop {
            let page = r
                .search_model_versions(&ModelSearch {
                    max_results: 1,
                    page_token: token.clone(),
                    ..ModelSearch::default()
                })
                .unwrap();
            paged.extend(versions_of(&page));
            token = page.next_page_token;
            if token.is_none() {
                break;
            }
        }
        assert_eq!(paged, versions(""));

        // deleting a version leaves a tombstone: its number is not reused
        r.set_alias("alpha", "best", 2).unwrap();
        r.delete_model_version("alpha", 2).unwrap();
        assert!(matches!(
            r.get_model_version("alpha", 2),
            Err(RegistryError::VersionDeleted { version: 2, .. })
        ));
        assert_eq!(r.get_registered_model("alpha").unwrap().aliases, []);
        assert_eq!(r.get_latest_version("alpha").unwrap().version, 1);
        let v3 = r
            .create_model_version("alpha", &format!("runs:/{}", runs[2]), None, &[])
            .unwrap();
        assert_eq!(v3.version, 3);
        assert_eq!(versions("name = 'alpha'"), [v("alpha", 3), v("alpha", 1)]);
        // deleting a model deletes its versions
        r.delete_registered_model("alpha").unwrap();
        assert!(matches!(
            r.get_registered_model("alpha"),
            Err(RegistryError::ModelNotFound { .. })
        ));
        assert_eq!(versions(""), [v("Gamma", 1), v("beta", 1)]);
        let again = r
            .register_model(&format!("runs:/{}", runs[0]), "alpha", &[])
            .unwrap();
        assert_eq!(again.version, 1);
    }

    pub fn registry_numbers_under_concurrency(t: &Tracker) {
        let r = Registry::new(t.clone()).unwrap();
        let run = model_run(t, DEFAULT_EXPERIMENT_ID, "src", 1.0);
        r.create_registered_model("race", None, &[]).unwrap();
        let mut numbers: Vec<i64> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let (r, run) = (&r, &run);
                    s.spawn(move || {
                        (0..5)
                            .map(|_| {
                                r.create_model_version("race", &format!("runs:/{run}"), None, &[])
                                    .unwrap()
                                    .version
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        numbers.sort_unstable();
        assert_eq!(numbers, (1..=20).collect::<Vec<_>>());
    }

    pub fn artifacts_log_list_read(t: &Tracker) {
        let run = t
            .store()
            .create_run(&NewRun {
                experiment_id: DEFAULT_EXPERIMENT_ID,
                ..NewRun::default()
            })
            .unwrap()
            .run_id;
        let store = t.artifacts(&run).unwrap();
        assert!(store.root().starts_with(t.artifact_root()));
        assert!(store.root().to_string_lossy().contains(&run));
        let local = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(local.path().join("d/sub")).unwrap();
        std::fs::write(local.path().join("d/a.txt"), "A").unwrap();
        std::fs::write(local.path().join("d/sub/b.txt"), "BB").unwrap();
        std::fs::write(local.path().join("c.csv"), "x,y\n").unwrap();
        store.log_text("hello", "notes/readme.md").unwrap();
        assert_eq!(
            store
                .log_file(&local.path().join("c.csv"), Some("data"))
                .unwrap(),
            "data/c.csv"
        );
        let mut logged = store
            .log_dir(&local.path().join("d"), Some("tree"))
            .unwrap();
        logged.sort();
        assert_eq!(logged, ["tree/a.txt", "tree/sub/b.txt"]);
        let top: Vec<(String, bool)> = store
            .list("")
            .unwrap()
            .into_iter()
            .map(|a| (a.path, a.is_dir))
            .collect();
        assert_eq!(
            top,
            [
                ("data".to_string(), true),
                ("notes".to_string(), true),
                ("tree".to_string(), true)
            ]
        );
        let tree: Vec<(String, Option<u64>)> = store
            .list("tree")
            .unwrap()
            .into_iter()
            .map(|a| (a.path, a.file_size))
            .collect();
        assert_eq!(
            tree,
            [
                ("tree/a.txt".to_string(), Some(1)),
                ("tree/sub".to_string(), None)
            ]
        );
        assert_eq!(store.read_text("notes/readme.md").unwrap(), "hello");
        assert_eq!(store.read("tree/sub/b.txt").unwrap(), b"BB");
        assert!(store.read("missing.txt").is_err());
        // a second tracker on the same store finds the same files through the run
        assert_eq!(
            t.artifacts(&run).unwrap().read_text("data/c.csv").unwrap(),
            "x,y\n"
        );
    }

    pub fn gc_removes_deleted_runs_and_experiments(t: &Tracker) {
        let r = Registry::new(t.clone()).unwrap();
        let s = t.store();
        let exp = s.create_experiment("doomed", None, &[]).unwrap();
        let parent = model_run(t, DEFAULT_EXPERIMENT_ID, "parent", 1.0);
        let child = s
            .create_run(&NewRun {
                experiment_id: DEFAULT_EXPERIMENT_ID,
                run_name: Some("child".into()),
                parent_run_id: Some(parent.clone()),
                ..NewRun::default()
            })
            .unwrap()
            .run_id;
        let lone = model_run(t, DEFAULT_EXPERIMENT_ID, "lone", 2.0);
        let live = model_run(t, DEFAULT_EXPERIMENT_ID, "live", 3.0);
        let registered = model_run(t, DEFAULT_EXPERIMENT_ID, "registered", 4.0);
        let in_exp = model_run(t, exp, "in-exp", 5.0);
        r.register_model(&format!("runs:/{registered}/model"), "keep", &[])
            .unwrap();
        let dir_of = |id: &str| t.artifacts(id).unwrap().root().to_path_buf();
        let (lone_dir, in_exp_dir, live_dir) = (dir_of(&lone), dir_of(&in_exp), dir_of(&live));
        assert!(lone_dir.join("model/model.json").is_file());

        s.delete_run(&lone).unwrap();
        s.delete_run(&registered).unwrap();
        s.delete_experiment(exp).unwrap();
        // a run deleted just now is not older than an hour: nothing goes
        let none = t.gc(Some(std::time::Duration::from_secs(3600))).unwrap();
        assert!(none.runs.is_empty() && none.experiments.is_empty());
        assert!(s.get_run(&lone).is_ok());

        s.delete_run(&parent).unwrap(); // and its child with it
        s.restore_run(&child).unwrap(); // the child stays: it loses its parent link
        let purged = t.gc(None).unwrap();
        let mut gone: Vec<&str> = purged.runs.iter().map(|p| p.run_name.as_str()).collect();
        gone.sort_unstable();
        assert_eq!(gone, ["in-exp", "lone", "parent"]);
        assert_eq!(purged.experiments.len(), 1);
        assert_eq!(purged.experiments[0].name, "doomed");
        assert_eq!(purged.kept.len(), 1);
        assert_eq!(purged.kept[0].run_id, registered);
        assert_eq!(purged.kept[0].model_versions, ["keep/1"]);
        assert!(
            purged.artifact_errors.is_empty(),
            "{:?}",
            purged.artifact_errors
        );
        for id in [&lone, &in_exp, &parent] {
            assert!(matches!(s.get_run(id), Err(StoreError::RunNotFound(_))));
        }
        assert!(!lone_dir.exists() && !in_exp_dir.exists());
        assert!(live_dir.join("model/model.json").is_file());
        assert_eq!(s.get_run(&child).unwrap().info.parent_run_id, None);
        assert_eq!(
            s.get_run(&registered).unwrap().info.lifecycle_stage,
            LifecycleStage::Deleted
        );
        assert!(matches!(
            s.get_experiment(exp),
            Err(StoreError::ExperimentNotFound(_))
        ));
        // the name is free again (SQLite may hand out the freed id again, PostgreSQL never does)
        let reborn = s.create_experiment("doomed", None, &[]).unwrap();
        assert_eq!(s.get_experiment(reborn).unwrap().name, "doomed");
        // a second pass keeps the registered run and removes nothing else
        let again = t.gc(None).unwrap();
        assert!(again.runs.is_empty());
        assert_eq!(again.kept.len(), 1);
        // once its version is deleted, the run goes too
        r.delete_model_version("keep", 1).unwrap();
        let last = t.gc(None).unwrap();
        assert_eq!(last.runs.len(), 1);
        assert_eq!(last.runs[0].run_id, registered);
    }
}

/// `hpo run`, `hpo runs delete` of the study, `hpo gc`, then `hpo run --resume` of the same file:
/// the purged study is gone for good, so the resume starts a new study numbered from 0.
fn gc_then_resume(uri: &str, dir: &std::path::Path) {
    use hpo::tracking::recorder::TAG_TRIAL_NUMBER;
    let file = dir.join("br.toml");
    std::fs::write(
        &file,
        "[study]\nname = \"br\"\nseed = 4\n[objective]\nfunction = \"branin\"\n\
         [space]\nx1 = { uniform = [-5, 10] }\nx2 = { uniform = [0, 15] }\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let hpo = |args: &[&str]| -> std::process::Output {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_hpo"))
            .args(args)
            .env("HPO_TRACKING_URI", uri)
            .current_dir(dir)
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o
    };
    let json = |o: std::process::Output| -> serde_json::Value {
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let first = json(hpo(&["run", f, "--max-evals", "4", "--json"]));
    let old = first["study_run_id"].as_str().unwrap().to_string();
    hpo(&["runs", "delete", &old]);
    let purged = json(hpo(&["gc", "--json"]));
    assert_eq!(purged["runs"].as_array().unwrap().len(), 5, "{purged}");
    let again = json(hpo(&["run", f, "--max-evals", "3", "--resume", "--json"]));
    let study = again["study_run_id"].as_str().unwrap().to_string();
    assert_ne!(study, old);
    let tracker = Tracker::open(uri).unwrap();
    let mut numbers: Vec<usize> = tracker
        .child_runs(&study)
        .unwrap()
        .iter()
        .map(|c| c.data.tag(TAG_TRIAL_NUMBER).unwrap().parse().unwrap())
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, [0, 1, 2]);
}

#[test]
fn gc_then_resume_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("hpo.db").display());
    gc_then_resume(&uri, dir.path());
}

#[test]
fn gc_then_resume_postgres() {
    let Some(db) = common::pg::TempDb::create("conf_gc_resume") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    gc_then_resume(&db.url(), dir.path());
}
