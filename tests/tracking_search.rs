//! The run search language against a real store: a table of filters and the runs they match, ordering
//! with nulls last, paging, and bad filters reported with their position.

use hpo::tracking::{
    Metric, NewRun, Param, RunStatus, RunTag, RunsQuery, SearchError, StoreError, SystemInfo,
    Tracker, TrackingError, ViewType,
};

struct Fixture {
    _tmp: tempfile::TempDir,
    t: Tracker,
    exp: i64,
    ids: Vec<String>, // a, b, c, d
}

fn point(key: &str, value: f64, step: i64) -> Metric {
    Metric {
        key: key.into(),
        value,
        timestamp: 1000 + step,
        step,
    }
}

/// Four runs:
/// | run | start | status   | lr     | penalty | model       | rmse   | val_loss history | val loss | acc   |
/// | a   | 1000  | FINISHED | 0.1    | l2      | xgboost     | 9 -> 5 | .3, .05, .2      |          | .95,.6 |
/// | b   | 2000  | FAILED   | 0.01   | l1      | lightgbm    | 8      |                  | 0.0005   |       |
/// | c   | 3000  | RUNNING  | 1e-3   | l2      | (none)      | (none) |                  |          | 0.5   |
/// | d   | 4000  | KILLED   | auto   | L2      | XGBoost-v2  | 6      |                  |          |       |
/// d is a child of a.
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let t = Tracker::open(tmp.path().join("s.db").to_str().unwrap())
        .unwrap()
        .with_system_info(SystemInfo {
            user: "ann".into(),
            host: None,
            source: None,
            git_commit: None,
        });
    let exp = t.create_experiment("search").unwrap();
    // A run in another experiment that no query over `exp` may return.
    let stray = t.create_run(0, Some("stray"), None).unwrap();
    t.log_batch(
        &stray,
        &[Param::new("lr", "0.5")],
        &[point("rmse", 1.0, 0)],
        &[],
    )
    .unwrap();
    let mk = |name: &str, start: i64, parent: Option<&String>| {
        t.create_run_with(NewRun {
            experiment_id: exp,
            run_name: Some(name.into()),
            start_time: Some(start),
            parent_run_id: parent.cloned(),
            ..NewRun::default()
        })
        .unwrap()
        .run_id
    };
    let a = mk("a", 1000, None);
    t.log_batch(
        &a,
        &[Param::new("lr", "0.1"), Param::new("penalty", "l2")],
        &[
            point("rmse", 9.0, 0),
            point("rmse", 5.0, 1),
            point("val_loss", 0.3, 0),
            point("val_loss", 0.05, 1),
            point("val_loss", 0.2, 2),
            point("acc", 0.95, 0),
            point("acc", 0.6, 1),
        ],
        &[RunTag::new("model", "xgboost")],
    )
    .unwrap();
    t.set_terminated(&a, RunStatus::Finished, Some(1500))
        .unwrap();
    let b = mk("b", 2000, None);
    t.log_batch(
        &b,
        &[Param::new("lr", "0.01"), Param::new("penalty", "l1")],
        &[point("rmse", 8.0, 0), point("val loss", 0.0005, 0)],
        &[RunTag::new("model", "lightgbm")],
    )
    .unwrap();
    t.set_terminated(&b, RunStatus::Failed, Some(2500)).unwrap();
    let c = mk("c", 3000, None);
    t.log_batch(
        &c,
        &[Param::new("lr", "1e-3"), Param::new("penalty", "l2")],
        &[point("acc", 0.5, 0)],
        &[],
    )
    .unwrap();
    let d = mk("d", 4000, Some(&a));
    t.log_batch(
        &d,
        &[Param::new("lr", "auto"), Param::new("penalty", "L2")],
        &[point("rmse", 6.0, 0)],
        &[RunTag::new("model", "XGBoost-v2")],
    )
    .unwrap();
    t.set_terminated(&d, RunStatus::Killed, Some(4500)).unwrap();
    Fixture {
        _tmp: tmp,
        t,
        exp,
        ids: vec![a, b, c, d],
    }
}

impl Fixture {
    fn names(&self, filter: &str, order_by: &[&str]) -> Result<Vec<String>, TrackingError> {
        let page = self
            .t
            .search_runs(&RunsQuery::new(&[self.exp], filter).order_by(order_by))?;
        Ok(page.runs.into_iter().map(|r| r.info.run_name).collect())
    }

    fn set(&self, filter: &str) -> String {
        let mut v = self
            .names(filter, &[])
            .unwrap_or_else(|e| panic!("{filter:?} failed: {e}"));
        v.sort();
        v.concat()
    }
}

#[test]
fn filter_table() {
    let f = fixture();
    let table: &[(&str, &str)] = &[
        ("", "abcd"),
        ("   ", "abcd"),
        ("metrics.rmse < 7 and params.penalty = 'l2'", "a"),
        ("metrics.rmse < 7 AND params.penalty = \"l2\"", "a"),
        ("tags.model = 'xgboost'", "a"),
        ("attributes.status = 'FINISHED'", "a"),
        ("status != 'RUNNING'", "abd"),
        ("run_name = 'b'", "b"),
        ("attr.run_name = 'b'", "b"),
        ("user_id = 'ann'", "abcd"),
        ("metrics.`val loss` <= 1e-3", "b"),
        ("metrics.\"val loss\" <= 1e-3", "b"),
        ("`metrics`.`val loss` <= 1e-3", "b"),
        // numeric comparison of params; non-numeric values never match a number
        ("params.lr > 0.01", "a"),
        ("params.lr >= 0.01", "ab"),
        ("params.lr < 0.01", "c"),
        ("params.lr = 0.001", "c"),
        ("params.lr != 0.1", "bc"),
        ("params.lr = '0.1'", "a"),
        ("params.lr = 'auto'", "d"),
        ("params.lr IN (0.1, 0.001)", "ac"),
        ("params.lr LIKE '0.%'", "ab"),
        // latest vs min vs max
        ("metrics.val_loss < 0.1", ""),
        ("metrics.min.val_loss < 0.1", "a"),
        ("metrics.max.val_loss > 0.25", "a"),
        ("metrics.max.acc > 0.9", "a"),
        ("metrics.acc > 0.9", ""),
        ("metrics.min.acc <= 0.5", "c"),
        ("metrics.rmse = 5", "a"),
        ("metrics.max.rmse = 9", "a"),
        ("metrics.rmse != 5", "bd"),
        // LIKE is case-sensitive, ILIKE is not
        ("tags.model LIKE 'xg%'", "a"),
        ("tags.model ILIKE 'xg%'", "ad"),
        ("tags.model LIKE '%tgb%'", "b"),
        ("tags.model LIKE 'xgboos_'", "a"),
        ("tags.model NOT LIKE 'xg%'", "bd"),
        ("tags.model NOT ILIKE 'XG%'", "b"),
        ("run_name LIKE '_'", "abcd"),
        // IN / NOT IN
        ("params.penalty IN ('l1', 'L2')", "bd"),
        ("params.penalty NOT IN ('l2')", "bd"),
        ("status IN ('FAILED', 'KILLED')", "bd"),
        ("tags.model in ('xgboost','lightgbm')", "ab"),
        // IS NULL / IS NOT NULL
        ("tags.model IS NULL", "c"),
        ("tags.model IS NOT NULL", "abd"),
        ("metrics.rmse IS NULL", "c"),
        ("metrics.min.acc is not null", "ac"),
        ("params.nope IS NULL", "abcd"),
        ("end_time IS NULL", "c"),
        ("parent_run_id IS NOT NULL", "d"),
        ("tags.hpo.parentRunId IS NOT NULL", "d"),
        // OR, NOT, parentheses
        ("metrics.rmse < 6 OR tags.model = 'lightgbm'", "ab"),
        ("NOT (params.penalty = 'l2')", "bd"),
        ("not params.penalty = 'l2'", "bd"),
        ("NOT tags.model = 'xgboost'", "bcd"),
        (
            "(metrics.rmse < 6 OR metrics.rmse > 7) AND NOT status = 'FAILED'",
            "a",
        ),
        (
            "metrics.rmse > 7 or metrics.rmse < 6 and status = 'FINISHED'",
            "ab",
        ),
        (
            "(metrics.rmse > 7 or metrics.rmse < 6) and status = 'FINISHED'",
            "a",
        ),
        ("NOT (status = 'RUNNING' OR status = 'KILLED')", "ab"),
        ("((((run_name = 'c'))))", "c"),
        // numeric attributes
        ("start_time >= 2000 and start_time < 4000", "bc"),
        ("created > 3500", "d"),
        ("attributes.end_time <= 2500", "ab"),
        // values are data, never SQL
        ("params.penalty = 'l2'' OR ''1''=''1'", ""),
        ("tags.model = 'x\\' OR 1=1 --'", ""),
    ];
    for (filter, expected) in table {
        assert_eq!(&f.set(filter), expected, "filter {filter:?}");
    }
}

#[test]
fn run_id_and_parent_filters() {
    let f = fixture();
    let [a, b, _, _] = [&f.ids[0], &f.ids[1], &f.ids[2], &f.ids[3]];
    assert_eq!(f.set(&format!("run_id IN ('{a}', '{b}')")), "ab");
    assert_eq!(f.set(&format!("run_id NOT IN ('{a}', '{b}')")), "cd");
    assert_eq!(f.set(&format!("attributes.run_id = '{b}'")), "b");
    assert_eq!(f.set(&format!("parent_run_id = '{a}'")), "d");
    assert_eq!(f.set(&format!("tags.hpo.parentRunId = '{a}'")), "d");
    let children = f.t.child_runs(a).unwrap();
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].info.run_name, "d");
    // Searching all experiments sees the stray run too.
    let all =
        f.t.search_runs(&RunsQuery::new(&[], "params.lr = 0.5"))
            .unwrap();
    assert_eq!(all.runs.len(), 1);
    assert_eq!(all.runs[0].info.run_name, "stray");
}

#[test]
fn ordering_puts_nulls_last() {
    let f = fixture();
    let order = |keys: &[&str]| f.names("", keys).unwrap().concat();
    assert_eq!(order(&[]), "dcba", "default: start_time DESC");
    assert_eq!(order(&["metrics.rmse ASC"]), "adbc");
    assert_eq!(order(&["metrics.rmse DESC"]), "bdac");
    assert_eq!(order(&["metrics.max.rmse desc"]), "abdc");
    assert_eq!(
        order(&["params.lr DESC"]),
        "abcd",
        "numeric, then text, then missing"
    );
    assert_eq!(order(&["params.lr ASC"]), "cbad");
    assert_eq!(order(&["attributes.start_time"]), "abcd");
    assert_eq!(order(&["tags.model ASC"]), "dbac");
    assert_eq!(order(&["tags.model DESC"]), "abdc");
    assert_eq!(order(&["params.penalty ASC", "metrics.rmse DESC"]), "dbac");
    assert_eq!(order(&["params.penalty DESC", "start_time DESC"]), "cabd");
    assert_eq!(order(&["end_time DESC"]), "dbac");
    assert_eq!(
        f.names("metrics.rmse IS NOT NULL", &["metrics.rmse ASC"])
            .unwrap()
            .concat(),
        "adb"
    );
}

#[test]
fn paging_with_opaque_tokens() {
    let f = fixture();
    let mut query = RunsQuery::new(&[f.exp], "")
        .order_by(&["start_time ASC"])
        .max_results(3);
    let first = f.t.search_runs(&query).unwrap();
    let names: Vec<_> = first
        .runs
        .iter()
        .map(|r| r.info.run_name.as_str())
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
    let token = first.next_page_token.clone().expect("a second page");
    query.page_token = Some(token.clone());
    let second = f.t.search_runs(&query).unwrap();
    let names: Vec<_> = second
        .runs
        .iter()
        .map(|r| r.info.run_name.as_str())
        .collect();
    assert_eq!(names, ["d"]);
    assert_eq!(second.next_page_token, None);

    // Walk one run at a time.
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page =
            f.t.search_runs(
                &RunsQuery::new(&[f.exp], "")
                    .order_by(&["metrics.rmse ASC"])
                    .max_results(1)
                    .page_token(token),
            )
            .unwrap();
        seen.extend(page.runs.into_iter().map(|r| r.info.run_name));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen.concat(), "adbc");

    // A token only works for the query that made it.
    let other = RunsQuery::new(&[f.exp], "status = 'FINISHED'")
        .order_by(&["start_time ASC"])
        .max_results(3)
        .page_token(Some(token_of(&first)));
    assert!(matches!(
        f.t.search_runs(&other),
        Err(TrackingError::Store(StoreError::Search(
            SearchError::InvalidPageToken(_)
        )))
    ));
    let garbage = RunsQuery::new(&[f.exp], "").page_token(Some("not-a-token".into()));
    assert!(matches!(
        f.t.search_runs(&garbage),
        Err(TrackingError::Store(StoreError::Search(
            SearchError::InvalidPageToken(_)
        )))
    ));
    for bad in [0, 50_001] {
        assert!(matches!(
            f.t.search_runs(&RunsQuery::new(&[f.exp], "").max_results(bad)),
            Err(TrackingError::Store(StoreError::Search(
                SearchError::InvalidMaxResults { .. }
            )))
        ));
    }
}

fn token_of(page: &hpo::tracking::RunPage) -> String {
    page.next_page_token.clone().unwrap_or_default()
}

#[test]
fn deleted_runs_follow_the_view_type() {
    let f = fixture();
    f.t.delete_run(&f.ids[1]).unwrap();
    let q = RunsQuery::new(&[f.exp], "metrics.rmse > 0");
    let names = |q: RunsQuery| {
        let mut v: Vec<_> =
            f.t.search_runs(&q)
                .unwrap()
                .runs
                .into_iter()
                .map(|r| r.info.run_name)
                .collect();
        v.sort();
        v.concat()
    };
    assert_eq!(names(q.clone()), "ad");
    assert_eq!(names(q.clone().view(ViewType::DeletedOnly)), "b");
    assert_eq!(names(q.view(ViewType::All)), "abd");
}

fn syntax_error(f: &Fixture, filter: &str) -> (String, usize, String) {
    match f.names(filter, &[]) {
        Err(TrackingError::Store(StoreError::Search(SearchError::Syntax {
            clause,
            column,
            expected,
            ..
        }))) => (clause, column, expected),
        other => panic!("{filter:?}: expected a syntax error, got {other:?}"),
    }
}

#[test]
fn bad_filters_report_position_and_expectation() {
    let f = fixture();
    let filter = "metrics.rmse < 7 and params.penalty foo 'l2'";
    let err = f.names(filter, &[]).unwrap_err().to_string();
    assert_eq!(
        err,
        "invalid filter at column 37: expected a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, IS), found 'foo'"
    );
    let cases: &[(&str, usize, &str)] = &[
        (
            "metrics.rmse < 'seven'",
            16,
            "a number (metrics are numeric)",
        ),
        ("metricz.rmse < 7", 1, "an identifier"),
        ("nonsense = 'x'", 1, "an identifier"),
        ("attributes.colour = 'red'", 1, "an attribute"),
        ("metrics.rmse <", 15, "a value"),
        ("(metrics.rmse < 7", 18, "')' or AND/OR"),
        ("metrics.rmse < 7)", 17, "AND, OR or end of input"),
        ("metrics.rmse < 7 AND", 21, "an identifier"),
        ("params.a IN 'x'", 13, "'(' starting the IN list"),
        ("params.a IN ('x' 'y')", 18, "',' or ')' in the IN list"),
        ("params.a IS NOT 'x'", 17, "NULL"),
        ("params.a LIKE 3", 15, "a quoted pattern"),
        ("tags.t = 3", 10, "a quoted string (tags are strings)"),
        (
            "metrics.rmse LIKE '5%'",
            14,
            "a numeric comparison operator",
        ),
        ("params.a = 'open", 12, "a closing '"),
        (
            "params.a # 1",
            10,
            "an identifier, a value, an operator or a parenthesis",
        ),
    ];
    for (filter, column, expected) in cases {
        let (clause, got_col, got_expected) = syntax_error(&f, filter);
        assert_eq!(clause, "filter");
        assert_eq!(got_col, *column, "column for {filter:?}");
        assert!(
            got_expected.starts_with(expected),
            "{filter:?}: expected {expected:?}, got {got_expected:?}"
        );
    }
    match f.names("", &["metrics.rmse ASC", "params.lr sideways"]) {
        Err(TrackingError::Store(StoreError::Search(SearchError::Syntax {
            clause,
            column,
            ..
        }))) => {
            assert_eq!((clause.as_str(), column), ("order_by[1]", 11))
        }
        other => panic!("{other:?}"),
    }
}

/// Random filters built from grammar fragments and junk: the store must answer each with results or a
/// typed search error, never a panic and never a database error (the generated SQL is always valid).
#[test]
fn random_filters_never_panic_or_reach_sql_errors() {
    use rand::{RngExt, SeedableRng};
    let f = fixture();
    let pieces = [
        "metrics.rmse",
        "metrics.min.val_loss",
        "metrics.max.acc",
        "metrics.`val loss`",
        "params.lr",
        "params.penalty",
        "tags.model",
        "tags.hpo.parentRunId",
        "status",
        "run_id",
        "start_time",
        "end_time",
        "attributes.run_name",
        "=",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "<>",
        "LIKE",
        "ILIKE",
        "NOT",
        "IN",
        "IS",
        "NULL",
        "AND",
        "OR",
        "(",
        ")",
        ",",
        "'l2'",
        "\"x%\"",
        "0.01",
        "-1e3",
        "7",
        "'",
        "`",
        ".",
        "é",
        "%",
        "\\",
        "1e999",
        "''",
        "metrics.",
        "params.`",
        "--",
        ";",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut ok = 0;
    for _ in 0..1500 {
        let mut words: Vec<&str> = Vec::new();
        for c in 0..rng.random_range(1..4) {
            if c > 0 {
                words.push(if rng.random_bool(0.5) { "AND" } else { "OR" });
            }
            if rng.random_bool(0.3) {
                words.push("NOT");
            }
            words.push(pieces[rng.random_range(0..13)]); // identifier
            let op = rng.random_range(13..22);
            words.push(pieces[op]);
            if rng.random_bool(0.5) {
                words.push(pieces[rng.random_range(31..35)]); // value
            } else {
                words.extend(["(", pieces[rng.random_range(31..35)], ")"]);
            }
        }
        for _ in 0..rng.random_range(0..3) {
            let at = rng.random_range(0..words.len());
            words[at] = pieces[rng.random_range(0..pieces.len())];
        }
        let filter = words.join(if rng.random_bool(0.9) { " " } else { "" });
        let order = pieces[rng.random_range(0..13)];
        let result =
            f.t.search_runs(&RunsQuery::new(&[f.exp], &filter).order_by(&[order]));
        match result {
            Ok(_) => ok += 1,
            Err(TrackingError::Store(StoreError::Search(_))) => {}
            Err(other) => panic!("{filter:?} gave {other:?}"),
        }
    }
    assert!(ok > 40, "only {ok} random filters were valid");
}

#[test]
fn a_filter_may_hold_up_to_the_comparison_limit() {
    use hpo::tracking::search::MAX_COMPARISONS;
    let f = fixture();
    let chain = |n: usize, op: &str| vec!["metrics.rmse > 0"; n].join(&format!(" {op} "));
    let full = chain(MAX_COMPARISONS, "AND");
    assert_eq!(f.set(&full), "abd");
    assert_eq!(f.set(&format!("({})", chain(MAX_COMPARISONS, "OR"))), "abd");
    let over = chain(MAX_COMPARISONS + 1, "AND");
    let column = full.chars().count() + " AND ".len() + 1;
    match f.names(&over, &[]) {
        Err(TrackingError::Store(StoreError::Search(SearchError::TooManyComparisons {
            limit,
            column: c,
            ..
        }))) => assert_eq!((limit, c), (MAX_COMPARISONS, column)),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_thousand_clauses_exit_2_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hpo.db");
    // a store to search (reading commands never create one)
    hpo::tracking::Tracker::open(&format!("sqlite:///{}", db.display())).unwrap();
    let filter = vec!["metrics.loss < 1"; 1000].join(" and ");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(["runs", "list", "-f", &filter])
        .env("HPO_TRACKING_URI", format!("sqlite:///{}", db.display()))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("more than 500 comparisons") && err.contains("at most 500"),
        "{err}"
    );
    assert!(!err.contains("database error"), "{err}");
}
