//! The PostgreSQL store's search plans (the page read in parts from the metric and param value
//! indexes, as SQLite does) give the same pages as the SQLite store: the same 96 runs (same run ids,
//! start-time ties, missing, NaN and tied metrics, numeric and text params, deleted runs, two
//! experiments) are written through the `Store` API into a SQLite file and into a database of its own
//! on the PostgreSQL server at 127.0.0.1:5432 (dropped after), and every filter x ordering x view is
//! read page by page from both, with pages of 11 and of 4 runs (deep pages: up to 24 of them, whose
//! keyset tokens fall inside runs of equal metric values, of equal params and of missing metrics),
//! and compared with the whole order read as one page. (SQLite's fast plans are checked against its general
//! plan in `run_search`'s unit tests, and the two dialects' general SQL against each other in
//! `search_postgres.rs`.)
//!
//! Without a server the test prints why and passes, unless `CI` is set: then it fails.

mod common;

use hpo::tracking::postgres::PgStore;
use hpo::tracking::{
    Metric, NewRun, Param, RunTag, RunsQuery, SqliteStore, Store, ViewType, DEFAULT_EXPERIMENT_ID,
};

/// The value of param `p` of fixture run `i`: missing, a number (with ties, and equal numbers
/// written differently), or text (with ties, and text that looks numeric but is not finite).
fn p_value(i: i64) -> Option<String> {
    let v = match i % 10 {
        0 => return None,
        1 => ["adam", "sgd", "Adam", "inf", "NaN"][(i / 10 % 5) as usize].to_string(),
        2 => ["1", "1.0", " 1", "1e0", "10", "9"][(i / 10 % 6) as usize].to_string(),
        3 => format!("-{}.5", i % 4),
        4 => "sgd".to_string(),
        _ => (i * 7 % 13).to_string(),
    };
    Some(v)
}

/// Writes the 96 fixture runs into `store`; returns the second experiment's id.
fn fill(store: &dyn Store) -> i64 {
    let other = store.create_experiment("other", None, &[]).unwrap();
    for i in 0..96i64 {
        let experiment_id = if i % 16 == 15 {
            other
        } else {
            DEFAULT_EXPERIMENT_ID
        };
        let mut params = vec![Param::new("g", (i % 3).to_string())];
        params.extend(p_value(i).map(|v| Param::new("p", v)));
        let (at_start, later) = if i % 2 == 0 {
            (params, Vec::new())
        } else {
            (Vec::new(), params)
        };
        let run = store
            .create_run(&NewRun {
                // ids out of creation order, so the run id tiebreak is exercised
                run_id: Some(format!("{:032x}", (i * 37) % 96 + 1)),
                experiment_id,
                run_name: Some(format!("r{i}")),
                start_time: Some(1_000 + i / 3),
                params: at_start,
                ..NewRun::default()
            })
            .unwrap()
            .run_id;
        let mut metrics = vec![Metric::new("other", (i % 9) as f64, 0)];
        match i % 6 {
            0 => {}
            1 => metrics.push(Metric::new("m", f64::NAN, 0)),
            2 => metrics.push(Metric::new("m", (i % 4) as f64, 0)),
            _ => metrics.push(Metric::new("m", (i * 7 % 13) as f64, 0)),
        }
        let tags = [RunTag::new("t", if i % 5 == 0 { "x" } else { "y" })];
        store.log_batch(&run, &later, &metrics, &tags).unwrap();
        if i % 11 == 0 {
            store.delete_run(&run).unwrap();
        }
    }
    other
}

/// The ids of every page of `query`, and the number of pages.
fn all_pages(store: &dyn Store, query: &RunsQuery) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    let mut query = query.clone();
    let mut pages = 0;
    loop {
        let page = store.search_runs(&query).unwrap();
        pages += 1;
        out.extend(page.runs.into_iter().map(|r| r.info.run_id));
        match page.next_page_token {
            Some(t) => query.page_token = Some(t),
            None => return (out, pages),
        }
    }
}

const FILTERS: &[&str] = &[
    "",
    "metrics.m < 10",
    "metrics.m >= 0 and params.g != '2'",
    "tags.t = 'x' OR params.g = '2'",
    "metrics.m > 100",
    "metrics.m > 5 AND metrics.m <= 11 AND params.g != '0'",
    "params.p > 0.5",
    "params.p IN (1, 9, -1.5)",
    "params.p != 'sgd' and metrics.other < 6",
    "params.p LIKE '1%'",
    "params.p IS NULL",
    "NOT params.p > 0",
    "params.g = '1' AND (params.p IS NULL OR params.p ILIKE 'a%')",
    "params.p >= 1 AND params.p < 10 AND metrics.m > 1",
    "params.p > 'b' AND params.p <= 'sgd'",
];

const ORDERS: &[&[&str]] = &[
    &[],
    &["start_time DESC"],
    &["attributes.start_time ASC"],
    &["metrics.m ASC"],
    &["metrics.m DESC", "start_time ASC"],
    &["metrics.m ASC", "params.g DESC"],
    &["run_name ASC", "metrics.m ASC"],
    &["params.p ASC"],
    &["params.p DESC", "metrics.m DESC"],
    &["params.g DESC", "params.p ASC"],
    &["params.absent DESC", "run_name ASC"],
];

/// The page sizes: pages that start inside a part of a plan and after one, and deep pages.
const PAGES: [usize; 2] = [11, 4];

#[test]
fn postgres_plans_give_sqlites_pages() {
    let Some(db) = common::pg::TempDb::create("search_plans") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pg = PgStore::open(&db.url(), &dir.path().join("pg-art")).unwrap();
    let lite = SqliteStore::open(&dir.path().join("hpo.db"), &dir.path().join("art")).unwrap();
    let other = fill(&pg);
    assert_eq!(fill(&lite), other, "the same experiment ids");
    let (mut compared, mut paged) = (0, 0);
    for (experiments, view) in [
        (vec![DEFAULT_EXPERIMENT_ID], ViewType::ActiveOnly),
        (vec![], ViewType::All),
        (vec![DEFAULT_EXPERIMENT_ID, other], ViewType::DeletedOnly),
    ] {
        for filter in FILTERS {
            for order in ORDERS {
                let mut query = RunsQuery::new(&experiments, filter)
                    .order_by(order)
                    .max_results(100);
                query.view = view;
                // the whole order in one page
                let (want, pages) = all_pages(&lite, &query);
                assert_eq!(pages, 1);
                assert_eq!(
                    all_pages(&pg, &query).0,
                    want,
                    "{filter:?} {order:?} {view:?}"
                );
                for size in PAGES {
                    let query = query.clone().max_results(size);
                    let (lite_pages, _) = all_pages(&lite, &query);
                    assert_eq!(
                        lite_pages, want,
                        "SQLite {filter:?} {order:?} {view:?} {size}"
                    );
                    let (got, pages) = all_pages(&pg, &query);
                    assert_eq!(got, want, "{filter:?} {order:?} {view:?} {size}");
                    paged += usize::from(size == PAGES[0] && pages > 2);
                }
                compared += usize::from(!want.is_empty());
            }
        }
    }
    // 407 and 154 of the 462 when written
    assert!(
        compared > 380,
        "most combinations match some runs ({compared})"
    );
    assert!(paged > 130, "many span three pages or more ({paged})");
}

/// The value of `key` of `run` as the order sees it: the metric's value, or `None`.
fn metric(run: &hpo::tracking::Run, key: &str) -> Option<f64> {
    run.data
        .metrics
        .iter()
        .find(|m| m.key == key)
        .map(|m| m.latest)
        .filter(|v| !v.is_nan())
}

/// The fixture's page boundaries fall inside runs of equal metric values and of missing metrics,
/// where only the tiebreak tells the runs apart, on both backends.
#[test]
fn keyset_tokens_fall_inside_ties() {
    let Some(db) = common::pg::TempDb::create("search_ties") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pg = PgStore::open(&db.url(), &dir.path().join("pg-art")).unwrap();
    let lite = SqliteStore::open(&dir.path().join("hpo.db"), &dir.path().join("art")).unwrap();
    fill(&pg);
    fill(&lite);
    for store in [&pg as &dyn Store, &lite] {
        let mut query = RunsQuery::new(&[DEFAULT_EXPERIMENT_ID], "")
            .order_by(&["metrics.m ASC"])
            .max_results(4);
        let (mut level, mut missing, mut pages) = (0, 0, Vec::new());
        loop {
            let page = store.search_runs(&query).unwrap();
            pages.push(page.runs);
            match page.next_page_token {
                Some(t) => query.page_token = Some(t),
                None => break,
            }
        }
        for w in pages.windows(2) {
            let (a, b) = (metric(w[0].last().unwrap(), "m"), metric(&w[1][0], "m"));
            level += usize::from(a.is_some() && a == b);
            missing += usize::from(a.is_none() && b.is_none());
        }
        // 96 runs: m has 13 distinct values and is missing or NaN in a third of the runs
        assert!(level >= 5, "boundaries inside equal values: {level}");
        assert!(missing >= 3, "boundaries inside missing values: {missing}");
        let flat: Vec<Option<f64>> = pages.iter().flatten().map(|r| metric(r, "m")).collect();
        let first_missing = flat.iter().position(Option::is_none).unwrap();
        assert!(flat[..first_missing].windows(2).all(|w| w[0] <= w[1]));
        assert!(flat[first_missing..].iter().all(Option::is_none));
    }
}
