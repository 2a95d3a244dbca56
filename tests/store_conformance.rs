//! One set of store tests run against the three backends: SQLite (a file of its own), PostgreSQL (a
//! database of its own on the server at 127.0.0.1:5432, dropped after) and the remote store over
//! HTTP (`hpo server` on a loopback port, in this process, over a SQLite file of its own). Each
//! `conformance!` case makes three tests, `<case>::sqlite`, `<case>::postgres` and `<case>::http`,
//! so every store must give the same answers.
//!
//! Without a PostgreSQL server the `postgres` tests print why and pass, unless `CI` is set: then they fail.
//!
//! What MLflow's API cannot do is left out for `http`: a compare-and-set is a read then a write
//! (so the race test runs on the two databases only).

mod common;

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
);

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

/// Many threads race for one absent tag: exactly one wins, on both stores.
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
    assert!(hpo::registry::Registry::new(a).is_err());
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
