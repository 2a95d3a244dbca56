//! A PostgreSQL store that created many runs vacuums and analyses the search tables when flushed,
//! so searches are planned with statistics and index-only scans need not visit the tables (a
//! database of its own on the server at 127.0.0.1:5432, dropped after). Without a server the test
//! prints why and passes, unless `CI` is set: then it fails.

mod common;

use hpo::tracking::postgres::analyze::RUNS_BEFORE_CHECK;
use hpo::tracking::postgres::PgStore;
use hpo::tracking::{NewRun, Store, DEFAULT_EXPERIMENT_ID};

/// The `runs` table's row estimate and whether it was ever analysed other than by autovacuum.
fn runs_statistics(c: &mut postgres::Client) -> (f32, bool) {
    let row = c
        .query_one(
            "SELECT c.reltuples, s.last_analyze IS NOT NULL FROM pg_class c
             JOIN pg_stat_user_tables s ON s.relid = c.oid
             WHERE c.relname = 'runs' AND s.schemaname = current_schema()",
            &[],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

#[test]
fn many_new_runs_are_analysed_at_flush() {
    let Some(db) = common::pg::TempDb::create("analyze") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = PgStore::open(&db.url(), dir.path()).unwrap();
    let mut c = common::pg::connect(&db.name).unwrap();
    for _ in 0..RUNS_BEFORE_CHECK {
        store
            .create_run(&NewRun {
                experiment_id: DEFAULT_EXPERIMENT_ID,
                ..NewRun::default()
            })
            .unwrap();
    }
    store.flush().unwrap();
    let (rows, analysed) = runs_statistics(&mut c);
    assert!(analysed, "the flush analysed the runs table");
    assert_eq!(rows, RUNS_BEFORE_CHECK as f32, "the planner knows the runs");
    // the flush vacuumed the table too: its pages are marked all-visible, for index-only scans
    let (pages, visible): (i32, i32) = c
        .query_one(
            "SELECT relpages, relallvisible FROM pg_class
             WHERE relname = 'runs' AND relnamespace = current_schema()::regnamespace",
            &[],
        )
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert!(pages > 0);
    assert_eq!(
        visible, pages,
        "every page of the runs table is all-visible"
    );
    assert_eq!(
        store.analyze_if_stale().unwrap(),
        Vec::<String>::new(),
        "nothing is stale right after"
    );
}
