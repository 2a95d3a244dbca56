//! Searching runs in a PostgreSQL tracking database: the plans of [`run_search`] (the same as
//! SQLite's, written in PostgreSQL's dialect) run in one read-only transaction, then the page's runs
//! are read in a few statements ([`super::rows::read_runs`]).

use postgres::Transaction;

use super::rows::read_runs;
use crate::tracking::run_search::{self, IdQueries, Plans};
use crate::tracking::search::{self, postgres::to_sql_params, Bindings, Dialect};
use crate::tracking::store::{RunPage, RunsQuery, StoreError};

/// A PostgreSQL transaction running search plans.
struct PgIds<'a, 't>(&'a mut Transaction<'t>);

/// Runs `sql` with the values bound in `b` and returns its rows.
fn query(
    tx: &mut Transaction<'_>,
    sql: &str,
    b: &Bindings,
) -> Result<Vec<postgres::Row>, StoreError> {
    let values = to_sql_params(b);
    let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = values
        .iter()
        .map(|v| v.as_ref() as &(dyn postgres::types::ToSql + Sync))
        .collect();
    Ok(tx.query(sql, &refs)?)
}

impl IdQueries for PgIds<'_, '_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn ids(&mut self, sql: &str, b: &Bindings) -> Result<Vec<String>, StoreError> {
        Ok(query(self.0, sql, b)?.iter().map(|r| r.get(0)).collect())
    }

    fn count(&mut self, sql: &str, b: &Bindings) -> Result<usize, StoreError> {
        let n: i64 = query(self.0, sql, b)?.first().map_or(0, |r| r.get(0));
        Ok(usize::try_from(n).unwrap_or(0))
    }
}

/// One page of the runs `query` asks for, found with `plans`.
pub(crate) fn search_runs(
    client: &mut postgres::Client,
    query: &RunsQuery,
    plans: Plans,
) -> Result<RunPage, StoreError> {
    let parsed = run_search::parse(query)?;
    let mut tx = client.build_transaction().read_only(true).start()?;
    let mut ids = run_search::page_ids(&mut PgIds(&mut tx), &parsed, query.max_results + 1, plans)?;
    let has_more = ids.len() > query.max_results;
    ids.truncate(query.max_results);
    let runs = read_runs(&mut tx, &ids)?;
    tx.commit()?;
    let next_page_token = has_more
        .then(|| search::encode_page_token(parsed.offset + query.max_results, parsed.fingerprint));
    Ok(RunPage {
        runs,
        next_page_token,
    })
}
