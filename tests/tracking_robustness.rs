//! Robustness of the tracking store: SQL fragments in filters and values, several processes
//! writing one file at once, and resuming a study whose process died.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use hpo::tracking::recorder::{TAG_RUN_TYPE, TAG_TRIAL_NUMBER};
use hpo::tracking::{
    load_study, Metric, NewRun, Param, Recorder, RunStatus, RunTag, RunsQuery, Tracker,
};
use hpo::trial::TrialState;
use hpo::{hp, Fmin, Params, Space};

fn uri(db: &Path) -> String {
    format!("sqlite:///{}", db.display())
}

/// Row counts of every table of the database, by table name.
fn table_counts(db: &Path) -> Vec<(String, i64)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    names
        .into_iter()
        .map(|n| {
            let count: i64 = conn
                .query_row(&format!("SELECT COUNT(*) FROM \"{n}\""), [], |r| r.get(0))
                .unwrap();
            (n, count)
        })
        .collect()
}

fn names_of(tracker: &Tracker, exp: i64, filter: &str) -> BTreeSet<String> {
    tracker
        .search_runs(&RunsQuery::new(&[exp], filter).max_results(1000))
        .unwrap_or_else(|e| panic!("{filter}: {e}"))
        .runs
        .into_iter()
        .map(|r| r.info.run_name)
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn sql_fragments_in_filters_match_literally_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inj.db");
    let tracker = Tracker::open(&uri(&db)).unwrap();
    let exp = tracker.get_or_create_experiment("injection").unwrap();
    let odd_key = "we'ird`key\"x";
    let rows: [(&str, &str, &str); 4] = [
        ("r-plain", "a", "safe"),
        ("r-quote", "a' OR 1=1 --", "; DROP TABLE runs; --"),
        ("r-union", "x' UNION SELECT run_uuid FROM runs --", "safe"),
        ("r-paren", "') OR ('1'='1", "\" OR \"\"=\""),
    ];
    for (name, x, t) in rows {
        let run = tracker.create_run(exp, Some(name), None).unwrap();
        tracker
            .log_batch(
                &run,
                &[Param::new("x", x), Param::new(odd_key, name)],
                &[Metric::new("m", 1.0, 0)],
                &[RunTag::new("t", t)],
            )
            .unwrap();
    }
    let before = table_counts(&db);
    assert!(before.iter().any(|(n, c)| n == "runs" && *c == 4));

    let cases: Vec<(String, BTreeSet<String>)> = vec![
        ("params.x = 'a'' OR 1=1 --'".into(), set(&["r-quote"])),
        ("params.x = 'a' OR 1=1 --'".into(), BTreeSet::new()), // a syntax error, see below
        ("tags.t = '; DROP TABLE runs; --'".into(), set(&["r-quote"])),
        (
            "params.x = 'x'' UNION SELECT run_uuid FROM runs --'".into(),
            set(&["r-union"]),
        ),
        ("params.x = ''') OR (''1''=''1'".into(), set(&["r-paren"])),
        ("tags.t = '\" OR \"\"=\"'".into(), set(&["r-paren"])),
        ("params.x LIKE '%OR 1=1%'".into(), set(&["r-quote"])),
        ("params.x = 'a'".into(), set(&["r-plain"])),
        (
            "params.x IN ('a'' OR 1=1 --', 'zzz')".into(),
            set(&["r-quote"]),
        ),
        // a key with a quote, a backtick and a double quote, quoted with backticks
        (
            "params.`we'ird``key\"x` = 'r-union'".into(),
            set(&["r-union"]),
        ),
        (
            "params.`we'ird``key\"x` LIKE 'r-%'".into(),
            set(&["r-plain", "r-quote", "r-union", "r-paren"]),
        ),
        // the same fragments in keys: no such param, nothing matches
        ("params.`x' OR 1=1 --` = 'a'".into(), BTreeSet::new()),
        (
            "tags.`t; DROP TABLE runs; --` IS NULL".into(),
            set(&["r-plain", "r-quote", "r-union", "r-paren"]),
        ),
        ("metrics.`m) OR (1=1` < 5".into(), BTreeSet::new()),
    ];
    for (filter, expected) in &cases {
        if filter == "params.x = 'a' OR 1=1 --'" {
            assert!(
                tracker
                    .search_runs(&RunsQuery::new(&[exp], filter))
                    .is_err(),
                "an unbalanced quote is a syntax error, not SQL"
            );
            continue;
        }
        assert_eq!(
            &names_of(&tracker, exp, filter),
            expected,
            "filter {filter}"
        );
    }
    // fragments in order_by keys are keys too
    let page = tracker
        .search_runs(&RunsQuery::new(&[exp], "").order_by(&[
            "params.`x; DROP TABLE params; --` DESC",
            "metrics.`m' --` ASC",
        ]))
        .unwrap();
    assert_eq!(page.runs.len(), 4);
    // and in a bogus order_by clause they are rejected
    assert!(tracker
        .search_runs(&RunsQuery::new(&[exp], "").order_by(&["params.x; DROP TABLE runs"]))
        .is_err());

    assert_eq!(table_counts(&db), before, "a search changed the database");
    drop(tracker);
    assert_eq!(table_counts(&db), before);
}

const WRITER_DB: &str = "HPO_TEST_WRITER_DB";
const WRITER_ID: &str = "HPO_TEST_WRITER_ID";
const WRITERS: usize = 4;
const RUNS_PER_WRITER: usize = 200;

/// The body of one writer process; a no-op when run as an ordinary test.
#[test]
fn writer_process() {
    let (Ok(db), Ok(id)) = (std::env::var(WRITER_DB), std::env::var(WRITER_ID)) else {
        return;
    };
    let tracker = Tracker::open(&uri(Path::new(&db))).unwrap();
    let exp = tracker.get_or_create_experiment("concurrent").unwrap();
    for j in 0..RUNS_PER_WRITER {
        let run = tracker
            .create_run(exp, Some(&format!("w{id}-{j}")), None)
            .unwrap();
        tracker
            .log_batch(
                &run,
                &[Param::new("writer", &id), Param::new("j", j.to_string())],
                &[Metric::new("loss", j as f64, 0)],
                &[RunTag::new("kind", "concurrent")],
            )
            .unwrap();
        tracker
            .set_terminated(&run, RunStatus::Finished, None)
            .unwrap();
    }
}

#[test]
fn four_processes_write_800_runs_into_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..WRITERS)
        .map(|i| {
            Command::new(&exe)
                .args(["--exact", "writer_process", "--test-threads", "1"])
                .env(WRITER_DB, &db)
                .env(WRITER_ID, i.to_string())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        let status = c.wait().unwrap();
        assert!(status.success(), "a writer process failed: {status}");
    }
    let tracker = Tracker::open(&uri(&db)).unwrap();
    let exp = tracker
        .get_experiment_by_name("concurrent")
        .unwrap()
        .expect("the experiment was created once")
        .experiment_id;
    let page = tracker
        .search_runs(&RunsQuery::new(&[exp], "").max_results(5000))
        .unwrap();
    assert_eq!(page.runs.len(), WRITERS * RUNS_PER_WRITER);
    let names: BTreeSet<String> = page.runs.iter().map(|r| r.info.run_name.clone()).collect();
    for i in 0..WRITERS {
        for j in 0..RUNS_PER_WRITER {
            assert!(names.contains(&format!("w{i}-{j}")), "w{i}-{j} is missing");
        }
    }
    for r in &page.runs {
        assert_eq!(r.info.status, RunStatus::Finished);
        assert_eq!(r.data.params.len(), 2);
        assert_eq!(r.data.metric("loss").unwrap().count, 1);
        assert_eq!(r.data.tag("kind"), Some("concurrent"));
    }
    let exps = tracker
        .list_experiments(hpo::tracking::ViewType::All)
        .unwrap();
    assert_eq!(
        exps.iter().filter(|e| e.name == "concurrent").count(),
        1,
        "get_or_create_experiment raced"
    );
}

fn study_space() -> Space {
    Space::new(hp::map([
        ("x", hp::uniform("x", -2.0, 2.0)),
        ("c", hp::choice("c", ["a", "b"])),
    ]))
    .unwrap()
}

fn study_loss(p: &Params) -> f64 {
    let x = p.f64("x").unwrap();
    x * x + if p.str("c").unwrap() == "a" { 0.0 } else { 0.5 }
}

#[test]
fn a_study_resumes_after_a_simulated_crash() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let tracker = Tracker::open(&uri(&db)).unwrap();
    let space = study_space();

    // the first process records 5 trials ...
    let recorder = Recorder::new(&tracker, "crashy")
        .unwrap()
        .study_name("s")
        .metric("loss");
    let handle = recorder.handle();
    Fmin::new(study_loss, &space)
        .max_evals(5)
        .seed(7)
        .observer(recorder)
        .run()
        .unwrap();
    assert!(handle.errors().is_empty(), "{:?}", handle.errors());
    let parent = handle.study_run_id().unwrap();

    // ... then dies while the study is RUNNING with two trials started and not ended
    tracker.set_status(&parent, RunStatus::Running).unwrap();
    let exp = tracker
        .get_experiment_by_name("crashy")
        .unwrap()
        .unwrap()
        .experiment_id;
    let params_of_trial0 = tracker
        .get_run(&handle.trial_run_id(0).unwrap())
        .unwrap()
        .data
        .params;
    let mut orphans = Vec::new();
    for number in [5usize, 6] {
        let run = tracker
            .create_run_with(NewRun {
                experiment_id: exp,
                run_name: Some(format!("trial-{number}")),
                parent_run_id: Some(parent.clone()),
                tags: vec![
                    RunTag::new(TAG_RUN_TYPE, "trial"),
                    RunTag::new(TAG_TRIAL_NUMBER, number.to_string()),
                ],
                ..NewRun::default()
            })
            .unwrap();
        tracker
            .log_batch(&run.run_id, &params_of_trial0, &[], &[])
            .unwrap();
        orphans.push(run.run_id);
    }
    drop(tracker);

    // a new process resumes it
    let tracker = Tracker::open(&uri(&db)).unwrap();
    let resumed = load_study(&tracker, exp, "s", &space, "loss").unwrap();
    assert_eq!(resumed.parent, parent);
    assert_eq!(resumed.seed, Some(7));
    assert_eq!(resumed.trials.len(), 7);
    for (i, t) in resumed.trials.iter().enumerate() {
        assert_eq!(t.number, i);
        assert_eq!(
            resumed.runs[&i],
            handle
                .trial_run_id(i)
                .unwrap_or_else(|| orphans[i - 5].clone())
        );
        if i < 5 {
            assert_eq!(t.state, TrialState::Ok);
            assert!(t.loss.is_some());
        } else {
            assert_eq!(t.state, TrialState::Failed);
            assert_eq!(t.message.as_deref(), Some("interrupted"));
        }
    }
    for o in &orphans {
        let run = tracker.get_run(o).unwrap();
        assert_eq!(
            run.info.status,
            RunStatus::Failed,
            "an interrupted trial stays RUNNING"
        );
        assert!(run.info.end_time.is_some());
    }

    let recorder = Recorder::new(&tracker, "crashy")
        .unwrap()
        .study_name("s")
        .metric("loss")
        .resume(&resumed.parent, resumed.runs.clone());
    let handle2 = recorder.handle();
    let result = Fmin::new(study_loss, &space)
        .max_evals(10)
        .seed(resumed.seed.unwrap())
        .prior_trials(resumed.trials.clone())
        .observer(recorder)
        .run()
        .unwrap();
    assert!(handle2.errors().is_empty(), "{:?}", handle2.errors());
    assert_eq!(result.trials.len(), 10);
    assert_eq!(handle2.study_run_id().as_deref(), Some(parent.as_str()));

    let study = tracker.get_run(&parent).unwrap();
    assert_eq!(study.info.status, RunStatus::Finished);
    let children = tracker.child_runs(&parent).unwrap();
    assert_eq!(children.len(), 10, "no trial re-run, no trial lost");
    let numbers: BTreeSet<usize> = children
        .iter()
        .map(|c| c.data.tag(TAG_TRIAL_NUMBER).unwrap().parse().unwrap())
        .collect();
    assert_eq!(numbers, (0..10).collect());
    let count = |s: RunStatus| children.iter().filter(|c| c.info.status == s).count();
    assert_eq!(count(RunStatus::Failed), 2);
    assert_eq!(count(RunStatus::Finished), 8);
    assert!(children.iter().all(|c| c.info.status != RunStatus::Running));
    // only one study of that name in the experiment
    let studies = tracker
        .search_runs(&RunsQuery::new(
            &[exp],
            &format!("tags.`{TAG_RUN_TYPE}` = 'study'"),
        ))
        .unwrap();
    assert_eq!(studies.runs.len(), 1);
    // an unknown study name is an error
    assert!(load_study(&tracker, exp, "nope", &space, "loss").is_err());
}

#[test]
fn ordering_by_a_required_metric_matches_the_general_plan() {
    let dir = tempfile::tempdir().unwrap();
    let tracker = Tracker::open(&uri(&dir.path().join("order.db"))).unwrap();
    let exp = tracker.get_or_create_experiment("order").unwrap();
    for i in 0..60 {
        let run = tracker
            .create_run(exp, Some(&format!("r{i}")), None)
            .unwrap();
        let mut metrics = vec![Metric::new("other", i as f64, 0)];
        match i % 6 {
            0 => {}                                                 // no m at all
            1 => metrics.push(Metric::new("m", f64::NAN, 0)),       // latest is NaN
            2 => metrics.push(Metric::new("m", (i % 4) as f64, 0)), // ties
            _ => metrics.push(Metric::new("m", (i * 7 % 13) as f64, 0)),
        }
        tracker
            .log_batch(&run, &[Param::new("g", (i % 3).to_string())], &metrics, &[])
            .unwrap();
    }
    let all_pages = |filter: &str, order: &[&str]| -> Vec<String> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = tracker
                .search_runs(
                    &RunsQuery::new(&[exp], filter)
                        .order_by(order)
                        .max_results(7)
                        .page_token(token),
                )
                .unwrap();
            out.extend(page.runs.into_iter().map(|r| r.info.run_id));
            token = page.next_page_token;
            if token.is_none() {
                return out;
            }
        }
    };
    for (fast, general) in [
        ("metrics.m < 10", "NOT (NOT (metrics.m < 10))"),
        (
            "metrics.m >= 0 and params.g = '1'",
            "params.g = '1' and NOT (NOT (metrics.m >= 0))",
        ),
    ] {
        for order in [
            vec!["metrics.m ASC"],
            vec!["metrics.m DESC"],
            vec!["metrics.m ASC", "metrics.other DESC"],
        ] {
            let a = all_pages(fast, &order);
            let b = all_pages(general, &order);
            assert!(!a.is_empty());
            assert_eq!(a, b, "{fast} / {order:?}");
        }
    }
}
