//! Keyset pages under concurrent writes, on SQLite and on PostgreSQL (a database of its own on the
//! server at 127.0.0.1:5432, dropped after): runs created, logged to or deleted between two page
//! reads. The rule (see `run_search`): the next page holds the runs that match when it is read and
//! sort after the previous page's last run, so a new run that sorts after that run appears in a
//! later page, one that sorts before it never does, and no run appears twice or is skipped.
//!
//! Without a server the PostgreSQL half prints why and passes, unless `CI` is set: then it fails.

mod common;

use std::collections::HashSet;

use hpo::tracking::postgres::PgStore;
use hpo::tracking::{
    Metric, NewRun, RunsQuery, SearchError, SqliteStore, Store, StoreError, DEFAULT_EXPERIMENT_ID,
};

/// Creates a run started at `start` with metric `m` (none if `None`); returns its id.
fn run(store: &dyn Store, start: i64, m: Option<f64>) -> String {
    let id = store
        .create_run(&NewRun {
            experiment_id: DEFAULT_EXPERIMENT_ID,
            start_time: Some(start),
            ..NewRun::default()
        })
        .unwrap()
        .run_id;
    if let Some(m) = m {
        store
            .log_batch(&id, &[], &[Metric::new("m", m, 0)], &[])
            .unwrap();
    }
    id
}

fn ids(page: &hpo::tracking::RunPage) -> Vec<String> {
    page.runs.iter().map(|r| r.info.run_id.clone()).collect()
}

/// Every matching run in the order of `query`, in one page.
fn all(store: &dyn Store, query: &RunsQuery) -> Vec<String> {
    let mut q = query.clone().max_results(10_000);
    q.page_token = None;
    ids(&store.search_runs(&q).unwrap())
}

/// Reads `query` page by page; before each page after the first, `between` writes to the store
/// (given the page number). Checks each page against the rule: the runs of the order, as it is
/// when the page is read, after the previous page's last run. Returns the ids read.
fn paged_with_writes(
    store: &dyn Store,
    query: &RunsQuery,
    between: &mut dyn FnMut(usize, &str),
) -> Vec<String> {
    let mut read: Vec<String> = Vec::new();
    let mut q = query.clone();
    for page_no in 0.. {
        if let Some(last) = read.last().cloned() {
            between(page_no, &last);
        }
        let now = all(store, query);
        let want: Vec<String> = match read.last() {
            // the order now, after the previous page's last run (still in the order: its key is
            // unchanged)
            Some(last) => {
                let at = now.iter().position(|i| i == last);
                let at = at.expect("the cursor run still matches");
                now[at + 1..].to_vec()
            }
            None => now,
        };
        let page = store.search_runs(&q).unwrap();
        let got = ids(&page);
        assert_eq!(
            got,
            want[..got.len().min(want.len())],
            "page {page_no} is the order after the last run read"
        );
        assert_eq!(
            got.len(),
            want.len().min(query.max_results),
            "page {page_no} is full"
        );
        read.extend(got);
        match page.next_page_token {
            Some(t) => q.page_token = Some(t),
            None => break,
        }
    }
    read
}

fn check(store: &dyn Store) {
    // 40 runs: metric m in 0..5 (ties across pages), some without it, start-time ties
    let mut before: Vec<String> = (0..40)
        .map(|i| run(store, 1_000 + i / 4, (i % 6 != 5).then_some((i % 5) as f64)))
        .collect();
    let query = RunsQuery::new(&[DEFAULT_EXPERIMENT_ID], "")
        .order_by(&["metrics.m ASC"])
        .max_results(7);
    let (mut early, mut late) = (HashSet::new(), HashSet::new());
    let read = paged_with_writes(store, &query, &mut |page_no, last| {
        let page_no = i64::try_from(page_no).unwrap();
        // sorts before every run read so far: never appears
        early.insert(run(store, 2_000 + page_no, Some(-1.0)));
        // without the metric and started before all (and before the earlier ones of its kind):
        // last, appears later
        late.insert(run(store, 500 - page_no, None));
        let cursor = store.get_run(last).unwrap();
        let m = cursor
            .data
            .metrics
            .iter()
            .find(|x| x.key == "m")
            .map(|x| x.latest);
        // after every run with a value: appears later, unless the cursor is past them already
        if m.is_some() {
            late.insert(run(store, 500 - page_no, Some(100.0)));
        }
        // level with the cursor run on m, with an earlier start: after it (start_time DESC)
        let start = cursor.info.start_time;
        late.insert(run(store, start - 1, m));
        // level on m, later start: before it
        early.insert(run(store, start + 1, m));
    });
    let seen: HashSet<&String> = read.iter().collect();
    assert_eq!(seen.len(), read.len(), "no run twice");
    before.retain(|i| !seen.contains(i));
    assert!(
        before.is_empty(),
        "every run present throughout was read: {before:?}"
    );
    assert!(
        early.iter().all(|i| !seen.contains(i)),
        "runs before the cursor never appear"
    );
    assert!(
        late.iter().all(|i| seen.contains(i)),
        "runs after the cursor appear later"
    );
    assert!(!late.is_empty() && !early.is_empty());

    // the default order (start_time DESC): a run started later than all sorts first and never
    // appears, one started earlier than all sorts last and appears
    let query = RunsQuery::new(&[DEFAULT_EXPERIMENT_ID], "metrics.m >= 0").max_results(9);
    let (mut newest, mut oldest) = (Vec::new(), Vec::new());
    let read = paged_with_writes(store, &query, &mut |_, _| {
        newest.push(run(store, 9_000, Some(1.0)));
        oldest.push(run(store, 1, Some(1.0)));
    });
    let seen: HashSet<&String> = read.iter().collect();
    assert_eq!(seen.len(), read.len(), "no run twice");
    assert!(newest.iter().all(|i| !seen.contains(i)));
    assert!(oldest.iter().all(|i| seen.contains(i)));

    // the cursor run deleted between two reads: the next page starts after its key all the same
    let query = RunsQuery::new(&[DEFAULT_EXPERIMENT_ID], "")
        .order_by(&["metrics.m DESC"])
        .max_results(5);
    let order = all(store, &query);
    let first = store.search_runs(&query).unwrap();
    store.delete_run(&ids(&first)[4]).unwrap();
    let mut q = query.clone();
    q.page_token = first.next_page_token;
    assert_eq!(ids(&store.search_runs(&q).unwrap()), order[5..10]);
}

/// Tokens that are not this query's keys are refused with a typed error, never a panic.
fn refuses_foreign_tokens(store: &dyn Store) {
    let q = RunsQuery::new(&[DEFAULT_EXPERIMENT_ID], "")
        .order_by(&["metrics.m ASC"])
        .max_results(2);
    let token = store.search_runs(&q).unwrap().next_page_token.unwrap();
    let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    let fingerprint = {
        let doc = (0..token.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&token[i..i + 2], 16).unwrap() as char)
            .collect::<String>();
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        v["query"].as_str().unwrap().to_string()
    };
    let forged = |after: &str| {
        hex(&format!(
            "{{\"after\":{after},\"query\":\"{fingerprint}\"}}"
        ))
    };
    for bad in [
        hex(&format!("{{\"offset\":2,\"query\":\"{fingerprint}\"}}")),
        "not-a-token".to_string(),
        forged("[]"),
        forged("[null, {\"i\": 1}, {\"s\": \"x\"}, null]"),
        forged("[{\"s\": \"text for a metric\"}, {\"i\": 1}, {\"s\": \"x\"}]"),
        forged("[null, null, {\"s\": \"x\"}]"),
        forged("[null, {\"f\": \"3ff0000000000000\"}, {\"s\": \"x\"}]"),
    ] {
        let mut q = q.clone();
        q.page_token = Some(bad.clone());
        assert!(
            matches!(
                store.search_runs(&q),
                Err(StoreError::Search(SearchError::InvalidPageToken(_)))
            ),
            "{bad}"
        );
    }
    // a forged key of the right shape is just a place in the order
    let mut q = q.clone();
    q.page_token = Some(forged(
        "[{\"f\": \"4010000000000000\"}, {\"i\": 0}, {\"s\": \"\"}]",
    ));
    let page = store.search_runs(&q).unwrap();
    assert!(page.runs.iter().all(|r| r
        .data
        .metrics
        .iter()
        .find(|m| m.key == "m")
        .is_none_or(|m| m.latest >= 4.0)));
}

#[test]
fn sqlite_pages_follow_the_rule_under_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("hpo.db"), dir.path()).unwrap();
    check(&store);
    refuses_foreign_tokens(&store);
}

#[test]
fn postgres_pages_follow_the_rule_under_writes() {
    let Some(db) = common::pg::TempDb::create("search_keyset") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = PgStore::open(&db.url(), dir.path()).unwrap();
    check(&store);
    refuses_foreign_tokens(&store);
}
