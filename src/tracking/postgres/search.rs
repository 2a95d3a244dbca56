//! Searching runs in a PostgreSQL tracking database: the plans of [`run_search`] (the same as
//! SQLite's, written in PostgreSQL's dialect) run in one read-only transaction, then the page's runs
//! are read in a few statements ([`super::rows::read_runs`]).

use postgres::types::Type;
use postgres::{IsolationLevel, Transaction};

use super::rows::read_runs;
use crate::tracking::run_search::{self, IdQueries, Plans};
use crate::tracking::search::{postgres::to_sql_params, Bindings, Dialect, SqlValue};
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

    fn row(
        &mut self,
        sql: &str,
        b: &Bindings,
    ) -> Result<Option<Vec<Option<SqlValue>>>, StoreError> {
        let Some(row) = query(self.0, sql, b)?.into_iter().next() else {
            return Ok(None);
        };
        (0..row.len())
            .map(|i| {
                let ty = row.columns()[i].type_().clone();
                Ok(match ty {
                    Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                        row.try_get::<_, Option<String>>(i)?.map(SqlValue::Text)
                    }
                    Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(SqlValue::Integer),
                    Type::INT4 => row
                        .try_get::<_, Option<i32>>(i)?
                        .map(|v| SqlValue::Integer(v.into())),
                    Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map(SqlValue::Real),
                    other => {
                        return Err(StoreError::Database(format!(
                            "a sort key value of type {other}"
                        )))
                    }
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()
            .map(Some)
    }
}

/// One page of the runs `query` asks for, found with `plans`.
pub(crate) fn search_runs(
    client: &mut postgres::Client,
    query: &RunsQuery,
    plans: Plans,
) -> Result<RunPage, StoreError> {
    let parsed = run_search::parse(query)?;
    // one snapshot for the page and its last run's sort key (the next page's token)
    let mut tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    // No JIT: a plan that must visit every run (a page that reaches the runs without the ordered
    // metric, say) is costed above `jit_above_cost`, and compiling it took 0.46 s of its 1.2 s
    // over 100,000 runs, for a search that returns at most a page.
    tx.batch_execute("SET LOCAL jit = off")?;
    let mut ids = run_search::page_ids(&mut PgIds(&mut tx), &parsed, query.max_results + 1, plans)?;
    let has_more = ids.len() > query.max_results;
    ids.truncate(query.max_results);
    let next_page_token = match ids.last() {
        Some(last) if has_more => Some(run_search::next_page_token(
            &mut PgIds(&mut tx),
            &parsed,
            last,
        )?),
        _ => None,
    };
    let runs = read_runs(&mut tx, &ids)?;
    tx.commit()?;
    Ok(RunPage {
        runs,
        next_page_token,
    })
}
