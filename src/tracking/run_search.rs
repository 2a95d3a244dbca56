//! Searching runs in the SQLite store: a [`RunsQuery`] becomes SQL (every user value a bound
//! parameter), and one page of run ids is read with a plan that can stop once the page is full.
//!
//! - The general plan visits the runs of the searched experiments and sorts the matches with
//!   SQLite's bounded sorter. When the first order key is a run attribute that is never NULL (such as
//!   `start_time`, the default order), SQLite walks the `runs (experiment_id, start_time)` index in
//!   order instead and stops after the page.
//! - When the first order key is the latest value of a metric, the page is read in two parts: first
//!   the runs that have a non-NaN latest value of that metric, in the order of the
//!   `metric_summary (key, latest_value)` index (stopping after the page), then, only if the page is
//!   not full yet, the other runs (which the general plan puts last, since their value is missing). If
//!   the filter compares that metric with a number, the second part is known to be empty.
//!
//! Both plans return the same rows in the same order as the general plan (the tests compare them page
//! by page). Neither loads every run into memory.

use rusqlite::types::Value;
use rusqlite::Connection;

use super::search::{self, Bindings, Expr, Identifier, MetricStat, OrderKey, SqlValue};
use super::store::{RunsQuery, StoreError, ViewType, MAX_RESULTS_LIMIT};

/// Which plans a search may use ([`Plans::GeneralOnly`] exists so tests can compare the plans).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plans {
    /// Use the fastest plan that applies.
    Fastest,
    /// Always use the general plan.
    #[cfg_attr(not(test), allow(dead_code))]
    GeneralOnly,
}

/// A parsed, validated query and the page it asks for.
pub(crate) struct ParsedQuery<'q> {
    query: &'q RunsQuery,
    filter: Option<Expr>,
    order: Vec<OrderKey>,
    /// Index of the first run of the page.
    pub offset: usize,
    /// Fingerprint of the query, for page tokens.
    pub fingerprint: u64,
}

/// Parses and validates `query` (filter, order, page size and page token).
pub(crate) fn parse(query: &RunsQuery) -> Result<ParsedQuery<'_>, StoreError> {
    if query.max_results == 0 || query.max_results > MAX_RESULTS_LIMIT {
        return Err(search::SearchError::InvalidMaxResults {
            limit: MAX_RESULTS_LIMIT,
            got: query.max_results,
        }
        .into());
    }
    let filter = search::parse_filter(&query.filter)?;
    let order: Vec<OrderKey> = query
        .order_by
        .iter()
        .enumerate()
        .map(|(i, c)| search::parse_order_by(c, i))
        .collect::<Result<_, _>>()?;
    let ids: Vec<String> = query.experiment_ids.iter().map(|i| i.to_string()).collect();
    let view = format!("{:?}", query.view);
    let mut parts: Vec<&str> = vec![&view, &query.filter];
    parts.extend(ids.iter().map(String::as_str));
    parts.push("|order|");
    parts.extend(query.order_by.iter().map(String::as_str));
    let fingerprint = search::query_fingerprint(&parts);
    let offset = match &query.page_token {
        Some(t) => search::decode_page_token(t, fingerprint)?,
        None => 0,
    };
    Ok(ParsedQuery {
        query,
        filter,
        order,
        offset,
        fingerprint,
    })
}

/// The conditions every plan applies to `runs r`: experiments, view and filter.
fn run_conditions(q: &ParsedQuery<'_>, b: &mut Bindings) -> Vec<String> {
    let mut conds: Vec<String> = Vec::new();
    if !q.query.experiment_ids.is_empty() {
        let list: Vec<String> = q
            .query
            .experiment_ids
            .iter()
            .map(|id| b.bind(SqlValue::Integer(*id)))
            .collect();
        conds.push(format!("r.experiment_id IN ({})", list.join(", ")));
    }
    match q.query.view {
        ViewType::ActiveOnly => conds.push("r.lifecycle_stage = 'active'".into()),
        ViewType::DeletedOnly => conds.push("r.lifecycle_stage = 'deleted'".into()),
        ViewType::All => {}
    }
    if let Some(expr) = &q.filter {
        conds.push(search::compile_filter(expr, b));
    }
    conds
}

fn to_sql_value(v: &SqlValue) -> Value {
    match v {
        SqlValue::Text(s) => Value::Text(s.clone()),
        SqlValue::Real(f) => Value::Real(*f),
        SqlValue::Integer(i) => Value::Integer(*i),
    }
}

/// Runs `sql` (which selects run ids) with the values bound in `b`.
fn query_ids(tx: &Connection, sql: &str, b: &Bindings) -> Result<Vec<String>, StoreError> {
    let values: Vec<Value> = b.params.iter().map(to_sql_value).collect();
    let mut stmt = tx.prepare_cached(sql)?;
    let ids = stmt
        .query_map(rusqlite::params_from_iter(values.iter()), |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(ids)
}

/// Binds LIMIT and OFFSET and returns the clause.
fn limit_offset(b: &mut Bindings, limit: usize, offset: usize) -> String {
    let l = b.bind(SqlValue::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    let o = b.bind(SqlValue::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
    format!("LIMIT {l} OFFSET {o}")
}

/// Joins conditions with AND (`1` when there are none).
fn where_sql(conds: &[String]) -> String {
    if conds.is_empty() {
        "1".to_string()
    } else {
        conds.join(" AND ")
    }
}

/// The ids of up to `limit` matching runs from the page's offset on, in the query's order.
pub(crate) fn page_ids(
    tx: &Connection,
    q: &ParsedQuery<'_>,
    limit: usize,
    plans: Plans,
) -> Result<Vec<String>, StoreError> {
    match (plans, q.order.first()) {
        (
            Plans::Fastest,
            Some(OrderKey {
                ident:
                    Identifier::Metric {
                        key,
                        stat: MetricStat::Latest,
                    },
                ascending,
            }),
        ) => metric_first_ids(tx, q, key, *ascending, limit),
        _ => general_ids(tx, q, limit),
    }
}

/// The SQL of the general plan and its bound values.
fn general_sql(q: &ParsedQuery<'_>, limit: usize) -> (String, Bindings) {
    let mut b = Bindings::default();
    let conds = run_conditions(q, &mut b);
    let order = search::compile_order(&q.order, &mut b);
    let page = limit_offset(&mut b, limit, q.offset);
    let sql = format!(
        "SELECT r.run_uuid FROM runs r WHERE {} ORDER BY {order} {page}",
        where_sql(&conds)
    );
    (sql, b)
}

/// The general plan: all matching runs, sorted (or walked in index order when SQLite can).
fn general_ids(
    tx: &Connection,
    q: &ParsedQuery<'_>,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let (sql, b) = general_sql(q, limit);
    query_ids(tx, &sql, &b)
}

/// FROM and WHERE of the runs that have a non-NaN latest value of metric `key`.
fn with_metric_sql(q: &ParsedQuery<'_>, key: &str, b: &mut Bindings) -> String {
    let mut conds = run_conditions(q, b);
    let k = b.bind(SqlValue::Text(key.to_string()));
    conds.push(format!("o.key = {k} AND o.latest_value IS NOT NULL"));
    format!(
        "FROM metric_summary o CROSS JOIN runs r ON r.run_uuid = o.run_uuid WHERE {}",
        where_sql(&conds)
    )
}

/// The metric-first plan (see the module documentation).
fn metric_first_ids(
    tx: &Connection,
    q: &ParsedQuery<'_>,
    key: &str,
    ascending: bool,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let mut b = Bindings::default();
    let from_where = with_metric_sql(q, key, &mut b);
    let dir = if ascending { "ASC" } else { "DESC" };
    let rest = search::compile_order(&q.order[1..], &mut b);
    let order = format!("ORDER BY o.latest_value {dir}, {rest}");
    let page = limit_offset(&mut b, limit, q.offset);
    let mut ids = query_ids(
        tx,
        &format!("SELECT r.run_uuid {from_where} {order} {page}"),
        &b,
    )?;
    let required = q
        .filter
        .as_ref()
        .is_some_and(|f| search::requires_latest_metric(f, key));
    if ids.len() == limit || required {
        return Ok(ids);
    }
    // The runs with the metric are exhausted; count them only if this page starts after them all.
    let with_metric = if ids.is_empty() && q.offset > 0 {
        let mut b = Bindings::default();
        let from_where = with_metric_sql(q, key, &mut b);
        let n: i64 = {
            let values: Vec<Value> = b.params.iter().map(to_sql_value).collect();
            tx.prepare_cached(&format!("SELECT COUNT(*) {from_where}"))?
                .query_row(rusqlite::params_from_iter(values.iter()), |r| r.get(0))?
        };
        usize::try_from(n).unwrap_or(0)
    } else {
        q.offset + ids.len()
    };
    let mut b = Bindings::default();
    let mut conds = run_conditions(q, &mut b);
    let k = b.bind(SqlValue::Text(key.to_string()));
    conds.push(format!(
        "NOT EXISTS (SELECT 1 FROM metric_summary o WHERE o.run_uuid = r.run_uuid \
         AND o.key = {k} AND o.latest_value IS NOT NULL)"
    ));
    let rest = search::compile_order(&q.order[1..], &mut b);
    let page = limit_offset(
        &mut b,
        limit - ids.len(),
        q.offset.saturating_sub(with_metric),
    );
    let sql = format!(
        "SELECT r.run_uuid FROM runs r WHERE {} ORDER BY {rest} {page}",
        where_sql(&conds)
    );
    ids.extend(query_ids(tx, &sql, &b)?);
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::store::{Metric, NewRun, Param, RunTag, Store};
    use crate::tracking::SqliteStore;

    /// 90 runs in experiment 0 (and a few elsewhere) with start-time ties, and a metric `m` that is
    /// missing, NaN, tied or distinct.
    fn fixture(dir: &std::path::Path) -> SqliteStore {
        let store = SqliteStore::open(&dir.join("plans.db"), dir).unwrap();
        let other = store.create_experiment("other", None, &[]).unwrap();
        for i in 0..96i64 {
            let experiment_id = if i % 16 == 15 { other } else { 0 };
            let run = store
                .create_run(&NewRun {
                    experiment_id,
                    start_time: Some(1_000 + i / 3),
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
            let params = [Param::new("g", (i % 3).to_string())];
            store.log_batch(&run, &params, &metrics, &tags).unwrap();
            if i % 11 == 0 {
                store.delete_run(&run).unwrap();
            }
        }
        store
    }

    fn all_pages(store: &SqliteStore, query: &RunsQuery, plans: Plans) -> Vec<String> {
        let mut out = Vec::new();
        let mut query = query.clone();
        loop {
            let page = store.search_runs_with(&query, plans).unwrap();
            out.extend(page.runs.into_iter().map(|r| r.info.run_id));
            match page.next_page_token {
                Some(t) => query.page_token = Some(t),
                None => return out,
            }
        }
    }

    #[test]
    fn fast_plans_return_the_general_plans_rows_page_by_page() {
        let tmp = tempfile::tempdir().unwrap();
        let store = fixture(tmp.path());
        let filters = [
            "",
            "params.g = '1'",
            "metrics.m < 10",
            "metrics.m >= 0 and params.g != '2'",
            "metrics.other > 4",
            "tags.t = 'x' OR params.g = '2'",
            "metrics.m > 100",
        ];
        let orders: [&[&str]; 9] = [
            &[],
            &["start_time DESC"],
            &["attributes.start_time ASC"],
            &["metrics.m ASC"],
            &["metrics.m DESC"],
            &["metrics.m ASC", "params.g DESC"],
            &["metrics.m DESC", "start_time ASC"],
            &["run_name ASC", "metrics.m ASC"],
            &["end_time DESC"],
        ];
        let mut compared = 0;
        for (experiments, view) in [(vec![0], ViewType::ActiveOnly), (vec![], ViewType::All)] {
            for filter in filters {
                for order in orders {
                    for size in [8, 40] {
                        let mut query = RunsQuery::new(&experiments, filter)
                            .order_by(order)
                            .max_results(size);
                        query.view = view;
                        let fast = all_pages(&store, &query, Plans::Fastest);
                        let general = all_pages(&store, &query, Plans::GeneralOnly);
                        assert_eq!(fast, general, "{filter:?} {order:?} {size} {view:?}");
                        compared += usize::from(!fast.is_empty());
                    }
                }
            }
        }
        assert!(
            compared > 200,
            "most combinations match some runs ({compared})"
        );
    }

    /// The query plan SQLite chooses for the general SQL of `query`.
    fn plan(store: &SqliteStore, query: &RunsQuery) -> String {
        let parsed = parse(query).unwrap();
        let (sql, b) = general_sql(&parsed, query.max_results + 1);
        let values: Vec<Value> = b.params.iter().map(to_sql_value).collect();
        store
            .read(|tx| {
                let mut stmt = tx.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                let rows = stmt
                    .query_map(rusqlite::params_from_iter(values.iter()), |r| {
                        r.get::<_, String>(3)
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows.join("\n"))
            })
            .unwrap()
    }

    #[test]
    fn start_time_order_walks_the_experiment_index() {
        let tmp = tempfile::tempdir().unwrap();
        let store = fixture(tmp.path());
        for order in [
            &[][..],
            &["start_time DESC"],
            &["attributes.start_time ASC"],
        ] {
            let query = RunsQuery::new(&[0], "params.g = '1'")
                .order_by(order)
                .max_results(10);
            let p = plan(&store, &query);
            assert!(p.contains("runs_by_experiment"), "{p}");
            assert!(!p.contains("TEMP B-TREE FOR ORDER BY"), "no full sort: {p}");
        }
    }
}
