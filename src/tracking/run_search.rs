//! Searching runs in the SQLite and PostgreSQL stores: a [`RunsQuery`] becomes SQL (every user value
//! a bound parameter, in the backend's [`Dialect`]), and one page of run ids is read with a plan that
//! can stop once the page is full. The plans are the same on both databases; each store runs their
//! SQL through its [`IdQueries`].
//!
//! - The general plan visits the runs of the searched experiments and sorts the matches with a
//!   bounded sort. When the first order key is a run attribute that is never NULL (such as
//!   `start_time`, the default order), the database walks the `runs (experiment_id, start_time)`
//!   index in order instead and stops after the page.
//! - When the first order key is the latest value of a metric, the page is read in two parts: first
//!   the runs that have a non-NaN latest value of that metric, in the order of the
//!   `metric_summary (key, latest_value)` index (stopping after the page), then, only if the page is
//!   not full yet, the other runs (which the general plan puts last, since their value is missing). If
//!   the filter compares that metric with a number, the second part is known to be empty, and the
//!   filter's top-level comparisons bound the range of the walk.
//! - When the first order key is a param, the general plan puts the runs in three groups: values that
//!   parse as numbers (in numeric order, equal numbers by their text), then other values (in text
//!   order), then runs without the param; the remaining order keys and the tiebreak order each
//!   group's ties. The page is read group by group from the indexes of the values,
//!   `params_by_number (key, num_value)` and `params_by_text (key, value)` (the database walks the index
//!   in order and sorts only ties, stopping once the page is full), and the runs without the param are
//!   read last, only if the page is not full yet. A group that the filter rules out (for example
//!   `params.<key> > 0.5` rules out text values and missing params) is not read at all, and the
//!   filter's top-level comparisons of that param with a value are repeated on the walked index row,
//!   where they bound the range of the walk. In SQLite the indexes cover only indexed params: the
//!   caller indexes the pending ones first (see `param_index`, [`walks_param_index`]); PostgreSQL
//!   indexes every param when it is written.
//! - The part of the runs without the ordered metric or param (both plans above) is read only after
//!   counting the store's runs and that value's rows: equal counts prove it empty, and when few
//!   runs lack the value they are found first and the filter tested on them alone (see
//!   [`lacking`]).
//!
//! Pages are keyset pages: a page token carries the sort key of the previous page's last run (every
//! order key's value, then its start time and run id, see [`search::keyset`]), and the next page is
//! the matching runs that sort after that key, first `limit`. The general plan adds the condition
//! "sorts after the key" (and, when the first key is a column such as `start_time`, a bound on it
//! from which the database seeks in the index); a plan read in parts skips the parts before the
//! key's part and starts that part after the key on the walked row, which bounds the index walk. A
//! deep page thus costs about what the first does, instead of walking past every earlier run.
//!
//! What a concurrent write does to a search read page by page: each page is read in its own
//! snapshot and holds the runs that match then and sort after the previous page's last run. A run
//! created (or updated to match) between two page reads appears in a later page if it sorts after
//! the last page read, and in none if it sorts before; no run appears twice or is skipped unless its
//! own sort key changes between the reads (a metric of the order logged again, say), which moves it
//! across the cursor.
//!
//! Every plan returns the same rows in the same order as the general plan (the tests compare them
//! page by page), and none loads every run into memory.

use rusqlite::types::Value;
use rusqlite::Connection;

use super::search::keyset::{self, SlotType, SortTerm};
use super::search::{
    self, Bindings, Dialect, Expr, Identifier, Literal, MetricStat, OrderKey, ParamClass, SqlValue,
};
use super::store::{RunsQuery, StoreError, ViewType, MAX_RESULTS_LIMIT};

mod lacking;

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
    /// The sort key after which the page starts (from the page token; `None`: the first page),
    /// checked to fit the order ([`keyset::key_fits`]).
    after: Option<Vec<Option<SqlValue>>>,
    /// Fingerprint of the query, for page tokens.
    fingerprint: u64,
}

/// The terms of `order` over `runs r` and the tiebreak: the whole order, which a key follows.
fn full_terms(order: &[OrderKey], b: &mut Bindings) -> Vec<SortTerm> {
    let mut terms = keyset::sort_terms(order, b);
    terms.extend(keyset::tiebreak_terms());
    terms
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
    let after = match &query.page_token {
        Some(t) => {
            let key = search::cursor::decode_cursor_token(t, fingerprint)?;
            if !keyset::key_fits(&full_terms(&order, &mut Bindings::default()), &key) {
                return Err(search::SearchError::InvalidPageToken(
                    "its sort key does not fit the query's order".to_string(),
                )
                .into());
            }
            Some(key)
        }
        None => None,
    };
    Ok(ParsedQuery {
        query,
        filter,
        order,
        after,
        fingerprint,
    })
}

/// The row of the metric or param a part walks (`o`), from which the filter reads that value.
#[derive(Clone, Copy)]
enum Walked<'a> {
    /// `o` is the `metric_summary` row of this key, with a latest value (not NaN).
    Metric(&'a str),
    /// `o` is the `params` row of this key.
    Param(&'a str),
}

impl Walked<'_> {
    /// The SQL reading `ident` from the walked row, if it is that row's value.
    fn read(self, ident: &Identifier, numeric: bool) -> Option<String> {
        match (self, ident) {
            (Walked::Metric(k), Identifier::Metric { key, stat }) if key == k => Some(match stat {
                MetricStat::Latest => "o.latest_value",
                MetricStat::Min => "o.min_value",
                MetricStat::Max => "o.max_value",
            }),
            (Walked::Param(k), Identifier::Param(key)) if key == k => {
                Some(if numeric { "o.num_value" } else { "o.value" })
            }
            _ => None,
        }
        .map(str::to_string)
    }
}

/// The conditions every plan applies to `runs r`: experiments, view and filter (which reads the
/// `walked` row's value from it rather than from a subquery).
fn run_conditions(q: &ParsedQuery<'_>, b: &mut Bindings) -> Vec<String> {
    run_conditions_walking(q, b, None)
}

fn run_conditions_walking(
    q: &ParsedQuery<'_>,
    b: &mut Bindings,
    walked: Option<Walked<'_>>,
) -> Vec<String> {
    let mut conds = scope_conditions(q, b, "r");
    if let Some(expr) = &q.filter {
        conds.push(match walked {
            Some(w) => search::compile_filter_reading(expr, b, &|i, n| w.read(i, n)),
            None => search::compile_filter(expr, b),
        });
    }
    conds
}

/// The conditions on the searched experiments and view, for runs named `alias`.
fn scope_conditions(q: &ParsedQuery<'_>, b: &mut Bindings, alias: &str) -> Vec<String> {
    let mut conds: Vec<String> = Vec::new();
    if !q.query.experiment_ids.is_empty() {
        let list: Vec<String> = q
            .query
            .experiment_ids
            .iter()
            .map(|id| b.bind(SqlValue::Integer(*id)))
            .collect();
        conds.push(format!("{alias}.experiment_id IN ({})", list.join(", ")));
    }
    match q.query.view {
        ViewType::ActiveOnly => conds.push(format!("{alias}.lifecycle_stage = 'active'")),
        ViewType::DeletedOnly => conds.push(format!("{alias}.lifecycle_stage = 'deleted'")),
        ViewType::All => {}
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

/// How a store runs the SQL of a search plan: the plans write SQL in [`IdQueries::dialect`] and hand
/// it here with its bound values.
pub(crate) trait IdQueries {
    /// The SQL dialect the store reads.
    fn dialect(&self) -> Dialect;
    /// Runs `sql`, which selects run ids, with the values bound in `b`.
    fn ids(&mut self, sql: &str, b: &Bindings) -> Result<Vec<String>, StoreError>;
    /// Runs `sql`, which selects at most one row, with the values bound in `b`; returns that row's
    /// values (`None` inside for NULL), or `None` without a row.
    fn row(&mut self, sql: &str, b: &Bindings)
        -> Result<Option<Vec<Option<SqlValue>>>, StoreError>;
}

/// A SQLite connection (or transaction) running plans.
pub(crate) struct SqliteIds<'c>(pub &'c Connection);

impl IdQueries for SqliteIds<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn ids(&mut self, sql: &str, b: &Bindings) -> Result<Vec<String>, StoreError> {
        let values: Vec<Value> = b.params.iter().map(to_sql_value).collect();
        let mut stmt = self.0.prepare_cached(sql)?;
        let ids = stmt
            .query_map(rusqlite::params_from_iter(values.iter()), |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    }

    fn row(
        &mut self,
        sql: &str,
        b: &Bindings,
    ) -> Result<Option<Vec<Option<SqlValue>>>, StoreError> {
        let values: Vec<Value> = b.params.iter().map(to_sql_value).collect();
        let mut stmt = self.0.prepare_cached(sql)?;
        let width = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
        let Some(row) = rows.next()? else {
            return Ok(None);
        };
        (0..width)
            .map(|i| {
                Ok(match row.get::<_, Value>(i)? {
                    Value::Null => None,
                    Value::Integer(v) => Some(SqlValue::Integer(v)),
                    Value::Real(v) => Some(SqlValue::Real(v)),
                    Value::Text(v) => Some(SqlValue::Text(v)),
                    Value::Blob(_) => {
                        return Err(StoreError::Database(
                            "a sort key value is a blob".to_string(),
                        ))
                    }
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()
            .map(Some)
    }
}

/// Binds LIMIT and returns the clause.
fn limit_sql(b: &mut Bindings, limit: usize) -> String {
    let l = b.bind(SqlValue::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    format!("LIMIT {l}")
}

/// The page token of the page that follows the one ending with run `last`: that run's sort key in
/// `q`'s order, read in the page's snapshot.
pub(crate) fn next_page_token(
    tx: &mut dyn IdQueries,
    q: &ParsedQuery<'_>,
    last: &str,
) -> Result<String, StoreError> {
    let mut b = Bindings::new(tx.dialect());
    let terms = full_terms(&q.order, &mut b);
    let id = b.bind(SqlValue::Text(last.to_string()));
    let sql = format!(
        "SELECT {} FROM runs r WHERE r.run_uuid = {id}",
        keyset::key_select(&terms)
    );
    let key = tx
        .row(&sql, &b)?
        .ok_or_else(|| StoreError::RunNotFound(last.to_string()))?;
    Ok(search::cursor::encode_cursor_token(q.fingerprint, &key))
}

/// The conditions that a row sorts after `key` in the order of `terms` (with a bound on the first
/// term when it is a column; see [`keyset::leading_bound`]).
fn after_conditions(terms: &[SortTerm], key: &[Option<SqlValue>], b: &mut Bindings) -> Vec<String> {
    let mut conds: Vec<String> = keyset::leading_bound(terms, key, b).into_iter().collect();
    conds.push(keyset::after_sql(terms, key, b));
    conds
}

/// Joins conditions with AND (`1` when there are none).
fn where_sql(conds: &[String]) -> String {
    if conds.is_empty() {
        "1 = 1".to_string()
    } else {
        conds.join(" AND ")
    }
}

/// Whether [`page_ids`] walks the param value indexes for `q` (the first order key is a param),
/// which see only indexed params (see `param_index`).
pub(crate) fn walks_param_index(q: &ParsedQuery<'_>, plans: Plans) -> bool {
    plans == Plans::Fastest
        && matches!(
            q.order.first(),
            Some(OrderKey {
                ident: Identifier::Param(_),
                ..
            })
        )
}

/// The ids of up to `limit` matching runs after the page token's sort key, in the query's order.
pub(crate) fn page_ids(
    tx: &mut dyn IdQueries,
    q: &ParsedQuery<'_>,
    limit: usize,
    plans: Plans,
) -> Result<Vec<String>, StoreError> {
    if plans == Plans::GeneralOnly {
        return general_ids(tx, q, limit);
    }
    match q.order.first() {
        Some(OrderKey {
            ident:
                Identifier::Metric {
                    key,
                    stat: MetricStat::Latest,
                },
            ascending,
        }) => {
            let parts = metric_parts(q, key, *ascending);
            parts_ids(tx, q, &parts, limit)
        }
        Some(OrderKey {
            ident: Identifier::Param(key),
            ascending,
        }) => {
            let parts = param_parts(q, key, *ascending, tx.dialect());
            parts_ids(tx, q, &parts, limit)
        }
        _ => general_ids(tx, q, limit),
    }
}

/// The SQL of the general plan in `dialect` (selecting up to `limit` run ids of the page) and its
/// bound values.
pub(crate) fn general_sql(
    q: &ParsedQuery<'_>,
    limit: usize,
    dialect: Dialect,
) -> (String, Bindings) {
    let mut b = Bindings::new(dialect);
    let mut conds = run_conditions(q, &mut b);
    if let Some(key) = &q.after {
        let terms = full_terms(&q.order, &mut b);
        conds.extend(after_conditions(&terms, key, &mut b));
    }
    let order = search::compile_order(&q.order, &mut b);
    let page = limit_sql(&mut b, limit);
    let sql = format!(
        "SELECT r.run_uuid FROM runs r WHERE {} ORDER BY {order} {page}",
        where_sql(&conds)
    );
    (sql, b)
}

/// The general plan: all matching runs, sorted (or walked in index order when the database can).
fn general_ids(
    tx: &mut dyn IdQueries,
    q: &ParsedQuery<'_>,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let (sql, b) = general_sql(q, limit, tx.dialect());
    tx.ids(&sql, &b)
}

/// Writes the FROM and WHERE clauses of a part's runs (`runs r` and the part's own tables), binding
/// the values they use.
type FromWhere<'a> = Box<dyn Fn(&mut Bindings) -> String + 'a>;

/// One part of a page read in parts: every run of a part sorts before every run of the later parts.
struct Part<'a> {
    /// The part's runs: the query's conditions and the part's own.
    from_where: FromWhere<'a>,
    /// The ORDER BY terms (each followed by a comma) that come before the terms of the query's
    /// remaining order keys and tiebreak. Bind nothing.
    leading: String,
    /// The same terms for keyset paging, over the walked row (bind nothing).
    walked: Vec<SortTerm>,
    /// The key (of `walked`, the remaining order keys and the tiebreak) after which the part is
    /// read, when the page starts inside this part; `None`: from its first run.
    start: Option<Vec<Option<SqlValue>>>,
    /// The value this part's runs lack, when it is the part of the runs without the ordered value:
    /// counts then tell whether and how it is read (see [`lacking`]); `from_where` is then the
    /// reading that tests every searched run.
    lacking: Option<lacking::Value<'a>>,
}

/// Where a page starts among the parts of a plan: the parts before the page token's part are
/// skipped; in that part, the page starts after the key that [`Cut::key`] gives.
struct Cut<'k> {
    /// The index (in the plan's order of classes) of the part holding the token's run.
    class: usize,
    /// The token's key.
    key: &'k [Option<SqlValue>],
}

impl Cut<'_> {
    /// Whether a part of class `class` is read at all.
    fn reads(cut: Option<&Self>, class: usize) -> bool {
        cut.is_none_or(|c| class >= c.class)
    }

    /// The key after which a part of class `class` starts (`None`: from its start), given the
    /// token's key rewritten for that part's walked terms by `walked_key` (from the key's values
    /// of the first order key).
    fn start(
        cut: Option<&Self>,
        class: usize,
        walked_key: impl Fn(&[Option<SqlValue>]) -> Vec<Option<SqlValue>>,
        first_width: usize,
    ) -> Option<Vec<Option<SqlValue>>> {
        let c = cut.filter(|c| c.class == class)?;
        let mut key = walked_key(&c.key[..first_width]);
        key.extend_from_slice(&c.key[first_width..]);
        Some(key)
    }
}

/// The SQL (in `dialect`) selecting up to `limit` ids of `part` (its runs: `from_where`), after
/// its start key if any, and its bound values.
fn part_sql(
    q: &ParsedQuery<'_>,
    part: &Part<'_>,
    from_where: &dyn Fn(&mut Bindings) -> String,
    limit: usize,
    dialect: Dialect,
) -> (String, Bindings) {
    let mut b = Bindings::new(dialect);
    let mut from_where = from_where(&mut b);
    if let Some(key) = &part.start {
        let mut terms = part.walked.clone();
        terms.extend(full_terms(&q.order[1..], &mut b));
        for cond in after_conditions(&terms, key, &mut b) {
            from_where.push_str(" AND ");
            from_where.push_str(&cond);
        }
    }
    let rest = search::compile_order(&q.order[1..], &mut b);
    let page = limit_sql(&mut b, limit);
    let sql = format!(
        "SELECT r.run_uuid {from_where} ORDER BY {}{rest} {page}",
        part.leading
    );
    (sql, b)
}

/// Reads the page from `parts` in turn, stopping once the page is full.
fn parts_ids(
    tx: &mut dyn IdQueries,
    q: &ParsedQuery<'_>,
    parts: &[Part<'_>],
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let dialect = tx.dialect();
    let mut ids: Vec<String> = Vec::with_capacity(limit);
    for part in parts {
        let lacking_from_where;
        let from_where: &dyn Fn(&mut Bindings) -> String = match part.lacking {
            None => &part.from_where,
            Some(value) => match value.reading(tx)? {
                lacking::Reading::Empty => continue,
                reading => {
                    lacking_from_where = move |b: &mut Bindings| value.runs_sql(q, b, reading);
                    &lacking_from_where
                }
            },
        };
        let (sql, b) = part_sql(q, part, from_where, limit - ids.len(), dialect);
        ids.extend(tx.ids(&sql, &b)?);
        if ids.len() == limit {
            break;
        }
    }
    Ok(ids)
}

/// The join of a part's index table (`o`, on the left) with `runs r`: SQLite's `CROSS JOIN` keeps the
/// index table as the outer loop; PostgreSQL has no `CROSS JOIN ... ON` and picks the order itself.
fn index_first_join(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "CROSS JOIN",
        Dialect::Postgres => "JOIN",
    }
}

fn direction(ascending: bool) -> &'static str {
    if ascending {
        "ASC"
    } else {
        "DESC"
    }
}

/// The parts of a search ordered by the latest value of metric `key` (see the module documentation):
/// the runs with a non-NaN latest value, in the order of `metric_summary (key, latest_value)`, then,
/// unless the filter requires that value, the others.
fn metric_parts<'a>(q: &'a ParsedQuery<'a>, key: &'a str, ascending: bool) -> Vec<Part<'a>> {
    let dir = direction(ascending);
    // classes: 0 with a value, 1 without
    let cut = q.after.as_deref().map(|k| Cut {
        class: usize::from(k[0].is_none()),
        key: k,
    });
    let cut = cut.as_ref();
    let mut parts = Vec::with_capacity(2);
    if Cut::reads(cut, 0) {
        parts.push(Part {
            from_where: Box::new(move |b| {
                let mut conds = run_conditions_walking(q, b, Some(Walked::Metric(key)));
                let k = b.bind(SqlValue::Text(key.to_string()));
                conds.push(format!("o.key = {k} AND o.latest_value IS NOT NULL"));
                // The filter's own comparisons of this metric, as bounds of the walk (as for params).
                for (sym, v) in q
                    .filter
                    .as_ref()
                    .map(|f| search::metric_bounds(f, key))
                    .unwrap_or_default()
                {
                    conds.push(format!(
                        "o.latest_value {sym} {}",
                        b.bind(SqlValue::Real(v))
                    ));
                }
                format!(
                    "FROM metric_summary o {} runs r ON r.run_uuid = o.run_uuid WHERE {}",
                    index_first_join(b.dialect),
                    where_sql(&conds)
                )
            }),
            leading: format!("o.latest_value {dir}, "),
            walked: vec![SortTerm::column(
                "o.latest_value",
                SlotType::Real,
                ascending,
            )],
            start: Cut::start(cut, 0, <[_]>::to_vec, 1),
            lacking: None,
        });
    }
    let required = q
        .filter
        .as_ref()
        .is_some_and(|f| search::requires_latest_metric(f, key));
    if !required && Cut::reads(cut, 1) {
        let value = lacking::Value::Metric(key);
        parts.push(Part {
            from_where: Box::new(move |b| value.runs_sql(q, b, lacking::Reading::Many)),
            leading: String::new(),
            walked: Vec::new(),
            start: Cut::start(cut, 1, |_| Vec::new(), 1),
            lacking: Some(value),
        });
    }
    parts
}

/// The parts of a search ordered by param `key` (see the module documentation): numeric values in
/// the order of `params_by_number`, other values in the order of `params_by_text`, then the runs
/// without the param; a part the filter rules out is left out.
fn param_parts<'a>(
    q: &'a ParsedQuery<'a>,
    key: &'a str,
    ascending: bool,
    dialect: Dialect,
) -> Vec<Part<'a>> {
    let dir = direction(ascending);
    // SQLite: `indexed = 1`, the indexes' own condition, so SQLite may walk them (the caller indexed
    // every pending param first, see `param_index`); PostgreSQL indexes every param.
    let indexed = match dialect {
        Dialect::Sqlite => " AND o.indexed = 1",
        Dialect::Postgres => "",
    };
    let with_param = |value_cond: &'static str| -> FromWhere<'a> {
        Box::new(move |b| {
            let mut conds = run_conditions_walking(q, b, Some(Walked::Param(key)));
            let k = b.bind(SqlValue::Text(key.to_string()));
            conds.push(format!("o.key = {k} AND {value_cond}{indexed}"));
            // The filter's own comparisons of this param, on the walked row: they hold for every
            // match anyway, and here they bound the index range instead of being tested run by run.
            for (sym, lit) in q
                .filter
                .as_ref()
                .map(|f| search::param_bounds(f, key))
                .unwrap_or_default()
            {
                let (column, value) = match lit {
                    Literal::Number(v) => ("o.num_value", SqlValue::Real(*v)),
                    Literal::Str(s) => ("o.value", SqlValue::Text(s.clone())),
                };
                conds.push(format!("{column} {sym} {}", b.bind(value)));
            }
            format!(
                "FROM params o {} runs r ON r.run_key = o.run_key WHERE {}",
                index_first_join(b.dialect),
                where_sql(&conds)
            )
        })
    };
    let mut parts = Vec::with_capacity(3);
    // classes: 0 numbers, 1 other text, 2 missing; the key holds the text, then the number
    let cut = q.after.as_deref().map(|k| Cut {
        class: match (&k[0], &k[1]) {
            (_, Some(_)) => 0,
            (Some(_), None) => 1,
            (None, None) => 2,
        },
        key: k,
    });
    let cut = cut.as_ref();
    let may_hold = |class, index| {
        Cut::reads(cut, index)
            && q.filter
                .as_ref()
                .is_none_or(|f| search::may_hold_for_param(f, key, class))
    };
    if may_hold(ParamClass::Number, 0) {
        parts.push(Part {
            from_where: with_param("o.num_value IS NOT NULL"),
            leading: format!("o.num_value {dir}, o.value {dir}, "),
            walked: vec![
                SortTerm::column("o.num_value", SlotType::Real, ascending),
                SortTerm::column("o.value", SlotType::Text, ascending),
            ],
            start: Cut::start(cut, 0, |k| vec![k[1].clone(), k[0].clone()], 2),
            lacking: None,
        });
    }
    if may_hold(ParamClass::Text, 1) {
        parts.push(Part {
            from_where: with_param("o.num_value IS NULL"),
            leading: format!("o.value {dir}, "),
            walked: vec![SortTerm::column("o.value", SlotType::Text, ascending)],
            start: Cut::start(cut, 1, |k| vec![k[0].clone()], 2),
            lacking: None,
        });
    }
    if may_hold(ParamClass::Missing, 2) {
        let value = lacking::Value::Param { key, indexed };
        parts.push(Part {
            from_where: Box::new(move |b| value.runs_sql(q, b, lacking::Reading::Many)),
            leading: String::new(),
            walked: Vec::new(),
            start: Cut::start(cut, 2, |_| Vec::new(), 2),
            lacking: Some(value),
        });
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::store::{numeric_param_value, Metric, NewRun, Param, RunTag, Store};
    use crate::tracking::SqliteStore;

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

    /// 90 runs in experiment 0 (and a few elsewhere) with start-time ties, a metric `m` that is
    /// missing, NaN, tied or distinct, a param `g` with three numeric values, and a param `p` (see
    /// [`p_value`]), logged with the run for some runs and later for the others.
    fn fixture(dir: &std::path::Path) -> SqliteStore {
        let store = SqliteStore::open(&dir.join("plans.db"), dir).unwrap();
        let other = store.create_experiment("other", None, &[]).unwrap();
        for i in 0..96i64 {
            let experiment_id = if i % 16 == 15 { other } else { 0 };
            let mut params = vec![Param::new("g", (i % 3).to_string())];
            params.extend(p_value(i).map(|v| Param::new("p", v)));
            let (at_start, later) = if i % 2 == 0 {
                (params, Vec::new())
            } else {
                (Vec::new(), params)
            };
            let run = store
                .create_run(&NewRun {
                    experiment_id,
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
            "metrics.m > 5 AND metrics.m <= 11 AND params.g != '0'",
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
        let compared = compare_plans(&store, &filters, &orders, &[1, 8, 40]);
        assert!(
            compared > 200,
            "most combinations match some runs ({compared})"
        );
    }

    /// Compares the fast and the general plan, page by page, for every combination of filter, order,
    /// page size and experiments/view; returns how many combinations matched some runs.
    fn compare_plans(
        store: &SqliteStore,
        filters: &[&str],
        orders: &[&[&str]],
        sizes: &[usize],
    ) -> usize {
        let mut compared = 0;
        for (experiments, view) in [
            (vec![0], ViewType::ActiveOnly),
            (vec![], ViewType::All),
            (vec![0, 1], ViewType::DeletedOnly),
        ] {
            for filter in filters {
                for order in orders {
                    for size in sizes {
                        let mut query = RunsQuery::new(&experiments, filter)
                            .order_by(order)
                            .max_results(*size);
                        query.view = view;
                        let fast = all_pages(store, &query, Plans::Fastest);
                        let general = all_pages(store, &query, Plans::GeneralOnly);
                        assert_eq!(fast, general, "{filter:?} {order:?} {size} {view:?}");
                        // keyset pages, joined, are the order of one page holding every run
                        let one =
                            all_pages(store, &query.clone().max_results(1_000), Plans::GeneralOnly);
                        assert_eq!(fast, one, "{filter:?} {order:?} {size} {view:?}");
                        compared += usize::from(!fast.is_empty());
                    }
                }
            }
        }
        compared
    }

    #[test]
    fn param_orders_return_the_general_plans_rows_page_by_page() {
        let tmp = tempfile::tempdir().unwrap();
        let store = fixture(tmp.path());
        let filters = [
            "",
            "metrics.m >= 0",
            "params.p > 0.5",
            "params.p IN (1, 9, -1.5)",
            "params.p = 'sgd'",
            "params.p != 'sgd' and metrics.other < 6",
            "params.p LIKE '1%'",
            "params.p IS NULL",
            "params.p IS NOT NULL",
            "NOT params.p > 0",
            "params.p < 5 OR tags.t = 'x'",
            "params.g = '1' AND (params.p IS NULL OR params.p ILIKE 'a%')",
            "params.p > 100",
            "params.p >= 1 AND params.p < 10 AND metrics.m > 1",
            "params.p <= -1.5",
            "params.p > 'b' AND params.p <= 'sgd'",
            "params.p = 1",
        ];
        let orders: [&[&str]; 9] = [
            &["params.p ASC"],
            &["params.p DESC"],
            &["params.p"],
            &["params.p ASC", "metrics.m DESC"],
            &["params.p DESC", "start_time ASC"],
            &["params.p DESC", "params.g ASC"],
            &["params.g DESC", "params.p ASC"],
            &["params.g ASC"],
            &["params.absent DESC", "run_name ASC"],
        ];
        let compared = compare_plans(&store, &filters, &orders, &[1, 7, 40]);
        assert!(
            compared > 150,
            "most combinations match some runs ({compared})"
        );

        // The fixture's values in the order that both plans agree on, for a reading check.
        let query = RunsQuery::new(&[0], "")
            .order_by(&["params.p ASC"])
            .max_results(200);
        let runs = store.search_runs(&query).unwrap().runs;
        let values: Vec<Option<&str>> = runs
            .iter()
            .map(|r| {
                r.data
                    .params
                    .iter()
                    .find(|p| p.key == "p")
                    .map(|p| p.value.as_str())
            })
            .collect();
        let first_text = values
            .iter()
            .position(|v| v.is_some_and(|v| numeric_param_value(v).is_none()))
            .unwrap();
        let first_missing = values.iter().position(Option::is_none).unwrap();
        assert!(values[..first_text]
            .windows(2)
            .all(|w| numeric_param_value(w[0].unwrap()) <= numeric_param_value(w[1].unwrap())));
        assert_eq!(values[0], Some("-3.5"));
        assert!(values[first_text..first_missing]
            .windows(2)
            .all(|w| w[0].is_some() && w[0] <= w[1]));
        assert!(values[first_missing..].iter().all(Option::is_none));
        let ones: Vec<&str> = values
            .iter()
            .flatten()
            .copied()
            .filter(|v| numeric_param_value(v) == Some(1.0))
            .collect();
        assert_eq!(ones.first(), Some(&" 1"), "equal numbers in text order");
        assert!(values.contains(&Some("10")) && values.contains(&Some("inf")));
    }

    /// The query plan SQLite chooses for the general SQL of `query`.
    fn plan(store: &SqliteStore, query: &RunsQuery) -> String {
        let parsed = parse(query).unwrap();
        let (sql, b) = general_sql(&parsed, query.max_results + 1, Dialect::Sqlite);
        explain(store, &sql, &b.params)
    }

    /// SQLite's query plan for `sql` with its bound `params`, one line per step.
    fn explain(store: &SqliteStore, sql: &str, params: &[SqlValue]) -> String {
        let values: Vec<Value> = params.iter().map(to_sql_value).collect();
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

    /// The query plans SQLite chooses for `parts`, each read up to `limit` runs.
    fn plans_of(
        store: &SqliteStore,
        parsed: &ParsedQuery<'_>,
        parts: &[Part<'_>],
        limit: usize,
    ) -> Vec<String> {
        parts
            .iter()
            .map(|part| {
                let (sql, b) = part_sql(parsed, part, &part.from_where, limit, Dialect::Sqlite);
                explain(store, &sql, &b.params)
            })
            .collect()
    }

    /// The query plans SQLite chooses for the parts of a search ordered by param `key`.
    fn param_part_plans(store: &SqliteStore, query: &RunsQuery, key: &str) -> Vec<String> {
        let parsed = parse(query).unwrap();
        let parts = param_parts(&parsed, key, parsed.order[0].ascending, Dialect::Sqlite);
        plans_of(store, &parsed, &parts, query.max_results + 1)
    }

    #[test]
    fn param_order_walks_the_value_indexes() {
        let tmp = tempfile::tempdir().unwrap();
        let store = fixture(tmp.path());
        for dir in ["ASC", "DESC"] {
            let query = RunsQuery::new(&[0], "metrics.m > 2")
                .order_by(&[&format!("params.p {dir}"), "metrics.m ASC"])
                .max_results(10);
            let plans = param_part_plans(&store, &query, "p");
            assert_eq!(plans.len(), 3);
            for (plan, index) in plans.iter().zip(["params_by_number", "params_by_text"]) {
                assert!(plan.contains(index), "{plan}");
                // Only ties are sorted ("... FOR LAST n TERMS OF ORDER BY" or "RIGHT PART OF").
                assert!(
                    !plan.contains("B-TREE FOR ORDER BY"),
                    "no full sort: {plan}"
                );
            }
        }
        let query = RunsQuery::new(&[0], "params.p >= 1").order_by(&["params.p DESC"]);
        assert_eq!(
            param_part_plans(&store, &query, "p").len(),
            1,
            "a numeric comparison leaves only the numbers"
        );
        let query = RunsQuery::new(&[0], "params.p IS NULL").order_by(&["params.p DESC"]);
        assert_eq!(param_part_plans(&store, &query, "p").len(), 1);
        let query = RunsQuery::new(&[0], "params.p >= 1 AND metrics.m > 2 AND params.p < 9")
            .order_by(&["params.p ASC"]);
        let plans = param_part_plans(&store, &query, "p");
        assert!(
            plans[0].contains("params_by_number (key=? AND num_value>? AND num_value<?)"),
            "the filter's bounds bound the walk: {}",
            plans[0]
        );
    }

    /// The query plans SQLite chooses for the parts of a search ordered by metric `key`.
    fn metric_part_plans(store: &SqliteStore, query: &RunsQuery, key: &str) -> Vec<String> {
        let parsed = parse(query).unwrap();
        let parts = metric_parts(&parsed, key, parsed.order[0].ascending);
        plans_of(store, &parsed, &parts, query.max_results + 1)
    }

    #[test]
    fn few_runs_without_the_value_are_found_before_the_filter() {
        let tmp = tempfile::tempdir().unwrap();
        let store = fixture(tmp.path());
        let query = RunsQuery::new(&[0], "params.g = '1'").order_by(&["metrics.m DESC"]);
        let parsed = parse(&query).unwrap();
        let parts = metric_parts(&parsed, "m", false);
        let value = parts[1]
            .lacking
            .expect("the second part is the runs without m");
        let few = |b: &mut Bindings| value.runs_sql(&parsed, b, lacking::Reading::Few);
        let (sql, b) = part_sql(&parsed, &parts[1], &few, 101, Dialect::Sqlite);
        let plan = explain(&store, &sql, &b.params);
        assert!(
            plan.contains("SEARCH r USING INTEGER PRIMARY KEY (rowid=?)"),
            "the runs without the value are read by key: {plan}"
        );
        // the same runs as testing every run
        let ids = |sql: &str, b: &Bindings| store.read(|tx| SqliteIds(tx).ids(sql, b)).unwrap();
        let (many, mb) = part_sql(
            &parsed,
            &parts[1],
            &parts[1].from_where,
            101,
            Dialect::Sqlite,
        );
        let want = ids(&many, &mb);
        assert!(!want.is_empty());
        assert_eq!(ids(&sql, &b), want);
    }

    /// `query` from its second page on.
    fn second_page(store: &SqliteStore, query: &RunsQuery) -> RunsQuery {
        let token = store.search_runs(query).unwrap().next_page_token;
        assert!(token.is_some());
        query.clone().page_token(token)
    }

    #[test]
    fn a_later_page_seeks_in_the_walked_index() {
        let tmp = tempfile::tempdir().unwrap();
        let store = fixture(tmp.path());
        for (order, bound) in [
            ("start_time DESC", "start_time<?"),
            ("start_time ASC", "start_time>?"),
        ] {
            let query = RunsQuery::new(&[0], "params.g = '1'")
                .order_by(&[order])
                .max_results(5);
            let p = plan(&store, &second_page(&store, &query));
            assert!(
                p.contains(&format!("runs_by_experiment (experiment_id=? AND {bound})")),
                "{p}"
            );
            assert!(!p.contains("TEMP B-TREE FOR ORDER BY"), "no full sort: {p}");
        }
        let query = RunsQuery::new(&[0], "").max_results(5);
        let p = plan(&store, &second_page(&store, &query));
        assert!(
            p.contains("runs_by_experiment (experiment_id=? AND start_time<?)"),
            "{p}"
        );

        let query = RunsQuery::new(&[0], "")
            .order_by(&["metrics.m DESC"])
            .max_results(5);
        let plans = metric_part_plans(&store, &second_page(&store, &query), "m");
        assert_eq!(
            plans.len(),
            2,
            "a page in the values reads on into the missing ones"
        );
        assert!(plans[0].contains("latest_value<?"), "{}", plans[0]);

        let query = RunsQuery::new(&[0], "")
            .order_by(&["params.p ASC"])
            .max_results(5);
        let plans = param_part_plans(&store, &second_page(&store, &query), "p");
        assert_eq!(plans.len(), 3);
        assert!(plans[0].contains("num_value>?"), "{}", plans[0]);
        // a page among the text values skips the numbers and seeks among the text
        let query = query.max_results(60);
        let plans = param_part_plans(&store, &second_page(&store, &query), "p");
        assert_eq!(plans.len(), 2, "{plans:#?}");
        assert!(
            plans[0].contains("params_by_text (key=? AND value>?)"),
            "{}",
            plans[0]
        );
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
