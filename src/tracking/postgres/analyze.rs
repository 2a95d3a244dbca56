//! Fresh planner statistics after many new runs. The search plans (`run_search`) walk an index only
//! when PostgreSQL knows how many rows the run tables hold: a table never analysed (autovacuum off,
//! as on the project's server, or not come round yet) is planned as if nearly empty, and a search
//! then reads every run (0.6 to 1.1 s instead of 5 to 31 ms over 100,000 runs, BENCHMARKS.md,
//! "Eighth session"). So a store that created [`RUNS_BEFORE_CHECK`] runs or more looks, when it is
//! flushed (a study's end) or closed, for search tables that were never analysed or changed by a
//! fifth of their rows since, and analyses those (`SKIP_LOCKED`: a table another session is
//! analysing is left to it).
//!
//! It vacuums them too (`VACUUM (ANALYZE)`): the vacuum marks the pages whose rows every
//! transaction sees in the visibility map, so that an index-only scan answers from the index alone
//! instead of visiting the table for each row. The proof that no run lacks a search's ordered
//! value counts two indexes (`run_search`); over 100,000 runs those counts took 26-53 ms reading the
//! tables (autovacuum off: no page was ever marked) and a few ms from the indexes alone.

use std::sync::atomic::{AtomicUsize, Ordering};

use postgres::GenericClient;

/// The tables a search reads.
const SEARCH_TABLES: [&str; 4] = ["runs", "params", "metric_summary", "tags"];

/// How many runs a store creates before it looks at the statistics.
pub const RUNS_BEFORE_CHECK: usize = 1_000;

/// Counts the runs a store created since it last looked at the statistics.
#[derive(Debug, Default)]
pub(crate) struct Growth {
    created: AtomicUsize,
}

impl Growth {
    /// Counts a created run.
    pub(crate) fn created(&self) {
        self.created.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether enough runs were created since the last look to look again (the count restarts).
    pub(crate) fn due(&self) -> bool {
        self.created.load(Ordering::Relaxed) >= RUNS_BEFORE_CHECK
            && self.created.swap(0, Ordering::Relaxed) >= RUNS_BEFORE_CHECK
    }
}

/// The search tables (of the current schema) whose statistics are stale: never analysed, or
/// changed by at least a fifth of their rows (and 1,000 rows) since the last analysis.
fn stale_tables(c: &mut impl GenericClient) -> Result<Vec<String>, postgres::Error> {
    let tables: Vec<&str> = SEARCH_TABLES.to_vec();
    let rows = c.query(
        "SELECT c.relname::text FROM pg_class c
         JOIN pg_stat_user_tables s ON s.relid = c.oid
         WHERE s.schemaname = current_schema() AND c.relname = ANY($1)
           AND (c.reltuples < 0 OR s.n_mod_since_analyze >= GREATEST(1000, s.n_live_tup / 5))
         ORDER BY 1",
        &[&tables],
    )?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Vacuums and analyses the search tables whose statistics are stale; returns their names. `c` must
/// not be in a transaction (a vacuum runs outside one).
pub(crate) fn analyze_stale(c: &mut impl GenericClient) -> Result<Vec<String>, postgres::Error> {
    let stale = stale_tables(c)?;
    if !stale.is_empty() {
        // the names are among SEARCH_TABLES; one statement, so no implicit transaction block
        c.batch_execute(&format!(
            "VACUUM (ANALYZE, SKIP_LOCKED) {}",
            stale.join(", ")
        ))?;
    }
    Ok(stale)
}
