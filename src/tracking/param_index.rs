//! Lazily indexed param values (schema v6).
//!
//! Two partial indexes order each param key's values, `params_by_number (key, num_value)` and
//! `params_by_text (key, value)`; a search ordered by a param walks them (see `run_search`). They
//! cover only the rows with `indexed = 1`. A param of a run whose key is at most
//! `param_index_state.upto` is indexed when written; the params of later runs (every new run's) are
//! written with `indexed = 0`, so recording a trial appends rows instead of inserting into two
//! large indexes at random places, and [`index_pending`] indexes them all in one pass over the end
//! of `params` and moves `upto` to the last run. A search ordered by a param first checks for
//! pending params in its own snapshot and, if there are some, indexes them and searches in one
//! write transaction, so it never misses a committed param. A store's group-commit thread also
//! indexes pending params when nothing was queued for a while (a few hundred runs per transaction),
//! so after a study with a real objective there is usually nothing left for the search to do. Run
//! keys are never reused (runs are only ever marked deleted), so the rule holds for every writer of
//! the file.

use rusqlite::{params, Connection};

/// The run key up to which params are indexed when written.
fn indexed_upto(tx: &Connection) -> rusqlite::Result<i64> {
    tx.prepare_cached("SELECT upto FROM param_index_state WHERE id = 0")?
        .query_row([], |r| r.get(0))
}

/// The `indexed` value of a param written now for run `run_key` (1: indexed at once).
pub(crate) fn indexed_flag(tx: &Connection, run_key: i64) -> rusqlite::Result<i64> {
    Ok(i64::from(run_key <= indexed_upto(tx)?))
}

/// Whether some params wait to be indexed.
pub(crate) fn pending(tx: &Connection) -> rusqlite::Result<bool> {
    tx.prepare_cached(
        "SELECT COALESCE((SELECT MAX(run_key) FROM runs), 0) > upto
         FROM param_index_state WHERE id = 0",
    )?
    .query_row([], |r| r.get(0))
}

/// Indexes every pending param (in a write transaction).
pub(crate) fn index_pending(tx: &Connection) -> rusqlite::Result<()> {
    index_pending_runs(tx, i64::MAX).map(|_| ())
}

/// Indexes the pending params of at most `runs` runs, oldest first (in a write transaction);
/// returns whether some remain pending.
pub(crate) fn index_pending_runs(tx: &Connection, runs: i64) -> rusqlite::Result<bool> {
    let upto = indexed_upto(tx)?;
    let last: i64 = tx
        .prepare_cached("SELECT COALESCE(MAX(run_key), 0) FROM runs")?
        .query_row([], |r| r.get(0))?;
    if last <= upto {
        return Ok(false);
    }
    let until = last.min(upto.saturating_add(runs));
    tx.prepare_cached(
        "UPDATE params SET indexed = 1
         WHERE run_key > ?1 AND run_key <= ?2 AND indexed = 0",
    )?
    .execute(params![upto, until])?;
    tx.prepare_cached("UPDATE param_index_state SET upto = ?1 WHERE id = 0")?
        .execute([until])?;
    Ok(until < last)
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use crate::tracking::run_search::Plans;
    use std::time::{Duration, Instant};

    use crate::tracking::store::{Metric, NewRun, Param, RunsQuery, Store};
    use crate::tracking::SqliteStore;

    /// (params with `indexed = 0`, `upto`, the last run key) of the file at `path`.
    fn state(path: &std::path::Path) -> (i64, i64, i64) {
        Connection::open(path)
            .unwrap()
            .query_row(
                "SELECT (SELECT COUNT(*) FROM params WHERE indexed = 0),
                        (SELECT upto FROM param_index_state),
                        (SELECT MAX(run_key) FROM runs)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap()
    }

    fn run_with(store: &SqliteStore, lr: &str) -> String {
        store
            .create_run(&NewRun {
                experiment_id: 0,
                params: vec![Param::new("lr", lr), Param::new("opt", "adam")],
                ..NewRun::default()
            })
            .unwrap()
            .run_id
    }

    fn ids(store: &SqliteStore, order: &str, plans: Plans) -> Vec<String> {
        let query = RunsQuery::new(&[0], "").order_by(&[order]).max_results(100);
        let page = store.search_runs_with(&query, plans).unwrap();
        page.runs.into_iter().map(|r| r.info.run_id).collect()
    }

    #[test]
    fn new_params_are_indexed_by_the_first_search_ordered_by_a_param() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("p.db");
        let store = SqliteStore::open(&path, tmp.path()).unwrap();
        let a = run_with(&store, "0.3");
        let b = run_with(&store, "0.1");
        assert_eq!(state(&path), (4, 0, 2), "a new run's params wait");

        // other searches leave them pending; one ordered by a param indexes them first
        ids(&store, "start_time DESC", Plans::Fastest);
        assert_eq!(state(&path).0, 4);
        assert_eq!(
            ids(&store, "params.lr ASC", Plans::Fastest),
            [b.clone(), a.clone()]
        );
        assert_eq!(state(&path), (0, 2, 2));

        // a param logged later to an indexed run is indexed at once; a new run's waits again
        store
            .log_batch(&a, &[Param::new("momentum", "0.9")], &[], &[])
            .unwrap();
        let c = run_with(&store, "0.2");
        assert_eq!(state(&path), (2, 2, 3));
        let fast = ids(&store, "params.lr DESC", Plans::Fastest);
        assert_eq!(fast, [a.clone(), c.clone(), b.clone()]);
        assert_eq!(fast, ids(&store, "params.lr DESC", Plans::GeneralOnly));
        assert_eq!(ids(&store, "params.momentum ASC", Plans::Fastest)[0], a);
        assert_eq!(state(&path), (0, 3, 3));
    }

    #[test]
    fn the_group_commit_thread_indexes_pending_params_when_idle() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("p.db");
        let store = SqliteStore::open(&path, tmp.path()).unwrap();
        let runs: Vec<String> = (0..1200)
            .map(|i| run_with(&store, &format!("0.{i}")))
            .collect();
        assert_eq!(state(&path), (2400, 0, 1200));
        // a queued write starts the thread; once nothing is queued it indexes, 500 runs at a time
        store
            .log_batch_queued(&runs[0], &[], &[Metric::new("m", 1.0, 0)], &[])
            .unwrap();
        let t = Instant::now();
        while state(&path).0 > 0 {
            assert!(t.elapsed() < Duration::from_secs(30), "{:?}", state(&path));
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(state(&path), (0, 1200, 1200));
    }

    #[test]
    fn a_search_sees_the_params_another_connection_wrote_after_it_last_indexed() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("p.db");
        let searcher = SqliteStore::open(&path, tmp.path()).unwrap();
        let writer = SqliteStore::open(&path, tmp.path()).unwrap();
        let a = run_with(&writer, "0.5");
        assert_eq!(
            ids(&searcher, "params.lr ASC", Plans::Fastest),
            vec![a.clone()]
        );
        let b = run_with(&writer, "0.4");
        assert_eq!(
            ids(&searcher, "params.lr ASC", Plans::Fastest),
            [b.clone(), a.clone()]
        );
        assert_eq!(state(&path), (0, 2, 2));
    }
}
