//! The SQL compiler shared by the backends: a syntax tree to a SQL condition and ORDER BY terms over
//! `runs r`, every user value a bound parameter. What differs per database (placeholders, case-sensitive
//! LIKE, the false literal) is asked of the [`Dialect`] the [`Bindings`] were made for ([`super::sqlite`],
//! [`super::postgres`]).

use super::ast::{Expr, Identifier, Literal, MetricStat, Operator, OrderKey};

/// A value bound to a SQL parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// TEXT.
    Text(String),
    /// REAL.
    Real(f64),
    /// INTEGER.
    Integer(i64),
}

/// The SQL dialect a query is compiled for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite: `?N` placeholders, GLOB for case-sensitive LIKE.
    #[default]
    Sqlite,
    /// PostgreSQL: typed `$N` placeholders, LIKE/ILIKE without an escape character.
    Postgres,
}

/// The values bound to the placeholders (`?1`, `?2`, ... or `$1`, `$2`, ...) of a query being compiled.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bindings {
    /// Values for the placeholders, in order.
    pub params: Vec<SqlValue>,
    /// The dialect the placeholders are written in (SQLite by default).
    pub dialect: Dialect,
}

impl Bindings {
    /// Empty bindings for a query in `dialect`.
    pub fn new(dialect: Dialect) -> Self {
        Bindings {
            params: Vec::new(),
            dialect,
        }
    }

    /// Empty bindings for a PostgreSQL query.
    pub fn postgres() -> Self {
        Bindings {
            params: Vec::new(),
            dialect: Dialect::Postgres,
        }
    }

    /// Adds a bound value and returns its placeholder.
    pub fn bind(&mut self, v: SqlValue) -> String {
        let n = self.params.len() + 1;
        let placeholder = match self.dialect {
            Dialect::Sqlite => super::sqlite::placeholder(n),
            Dialect::Postgres => super::postgres::placeholder(n, &v),
        };
        self.params.push(v);
        placeholder
    }

    /// `COALESCE(cond, false)` in the dialect: a comparison with a missing value is false.
    fn or_false(&self, cond: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("COALESCE({cond}, 0)"),
            Dialect::Postgres => format!("COALESCE({cond}, false)"),
        }
    }
}

/// The SQL expression of an identifier's value over `runs r` (its numeric form if `numeric`).
pub(super) fn value_sql(ident: &Identifier, numeric: bool, q: &mut Bindings) -> String {
    match ident {
        Identifier::Metric { key, stat } => {
            let col = match stat {
                MetricStat::Latest => "latest_value",
                MetricStat::Min => "min_value",
                MetricStat::Max => "max_value",
            };
            let k = q.bind(SqlValue::Text(key.clone()));
            format!("(SELECT ms.{col} FROM metric_summary ms WHERE ms.run_uuid = r.run_uuid AND ms.key = {k})")
        }
        Identifier::Param(key) => {
            let col = if numeric { "num_value" } else { "value" };
            let k = q.bind(SqlValue::Text(key.clone()));
            format!("(SELECT p.{col} FROM params p WHERE p.run_key = r.run_key AND p.key = {k})")
        }
        Identifier::Tag(key) => {
            let k = q.bind(SqlValue::Text(key.clone()));
            format!("(SELECT t.value FROM tags t WHERE t.run_uuid = r.run_uuid AND t.key = {k})")
        }
        Identifier::Attr(a) => a.column().to_string(),
        Identifier::Field(_) => "NULL".to_string(),
    }
}

fn presence_sql(ident: &Identifier, q: &mut Bindings) -> String {
    match ident {
        Identifier::Metric { key, .. } => {
            let k = q.bind(SqlValue::Text(key.clone()));
            format!("EXISTS (SELECT 1 FROM metric_summary ms WHERE ms.run_uuid = r.run_uuid AND ms.key = {k})")
        }
        other => format!("({} IS NOT NULL)", value_sql(other, false, q)),
    }
}

fn literal_sql(lit: &Literal) -> SqlValue {
    match lit {
        Literal::Number(v) => SqlValue::Real(*v),
        Literal::Str(s) => SqlValue::Text(s.clone()),
    }
}

/// How an identifier becomes SQL: its value expression (`numeric` asks for the numeric form) and its
/// presence test.
struct Columns<'f> {
    value: &'f dyn Fn(&Identifier, bool, &mut Bindings) -> String,
    presence: &'f dyn Fn(&Identifier, &mut Bindings) -> String,
}

fn compile_expr(e: &Expr, q: &mut Bindings, c: &Columns<'_>) -> String {
    let value_sql = c.value;
    let presence_sql = c.presence;
    match e {
        Expr::And(a, b) => format!("({} AND {})", compile_expr(a, q, c), compile_expr(b, q, c)),
        Expr::Or(a, b) => format!("({} OR {})", compile_expr(a, q, c), compile_expr(b, q, c)),
        Expr::Not(a) => format!("(NOT {})", compile_expr(a, q, c)),
        Expr::Compare(ident, op) => match op {
            Operator::Compare(sym, lit) => {
                let numeric = matches!(lit, Literal::Number(_));
                let v = value_sql(ident, numeric, q);
                let p = q.bind(literal_sql(lit));
                q.or_false(&format!("{v} {sym} {p}"))
            }
            Operator::Like {
                case_insensitive,
                negated,
                pattern,
            } => {
                let v = value_sql(ident, false, q);
                let not = if *negated { "NOT " } else { "" };
                let cond = match q.dialect {
                    Dialect::Sqlite => super::sqlite::like(&v, not, *case_insensitive, pattern, q),
                    Dialect::Postgres => {
                        super::postgres::like(&v, not, *case_insensitive, pattern, q)
                    }
                };
                q.or_false(&cond)
            }
            Operator::In { negated, values } => {
                let numeric = matches!(values.first(), Some(Literal::Number(_)));
                let v = value_sql(ident, numeric, q);
                let list: Vec<String> = values.iter().map(|l| q.bind(literal_sql(l))).collect();
                let not = if *negated { "NOT " } else { "" };
                q.or_false(&format!("{v} {not}IN ({})", list.join(", ")))
            }
            Operator::IsNull { negated } => {
                let present = presence_sql(ident, q);
                if *negated {
                    present
                } else {
                    format!("(NOT {present})")
                }
            }
        },
    }
}

/// Compiles a parsed filter into a SQL condition over `runs r`, binding its values into `q` (after the
/// values already bound there) and returning the condition text.
pub fn compile_filter(expr: &Expr, q: &mut Bindings) -> String {
    compile_expr(
        expr,
        q,
        &Columns {
            value: &value_sql,
            presence: &presence_sql,
        },
    )
}

/// Compiles a parsed filter into a SQL condition over `runs r` joined with another table, as
/// [`compile_filter`] does, except that an identifier for which `own` gives SQL (given the identifier
/// and whether its numeric form is asked for) is read from that expression instead of a subquery:
/// a search plan that walks one metric's or param's rows reads that value from the walked row. A
/// metric's presence test stays the subquery's.
pub fn compile_filter_reading(
    expr: &Expr,
    q: &mut Bindings,
    own: &dyn Fn(&Identifier, bool) -> Option<String>,
) -> String {
    let value = |i: &Identifier, numeric: bool, q: &mut Bindings| {
        own(i, numeric).unwrap_or_else(|| value_sql(i, numeric, q))
    };
    compile_expr(
        expr,
        q,
        &Columns {
            value: &value,
            presence: &|i, q| match i {
                Identifier::Metric { .. } => presence_sql(i, q),
                other => format!("({} IS NOT NULL)", value(other, false, q)),
            },
        },
    )
}

/// Compiles a parsed filter into a SQL condition for another table: `value` gives the SQL expression of
/// each identifier (binding any keys it needs into the [`Bindings`]); an identifier is present when that
/// expression is not NULL. Comparisons with a missing value are false, as for runs.
pub fn compile_filter_with(
    expr: &Expr,
    q: &mut Bindings,
    value: &dyn Fn(&Identifier, &mut Bindings) -> String,
) -> String {
    compile_expr(
        expr,
        q,
        &Columns {
            value: &|i, _, q| value(i, q),
            presence: &|i, q| format!("({} IS NOT NULL)", value(i, q)),
        },
    )
}

/// Compiles order_by keys for another table (see [`compile_filter_with`]): missing values last, then
/// the `tiebreak` terms (SQL written by the caller, e.g. `m.name ASC`).
pub fn compile_order_with(
    keys: &[OrderKey],
    q: &mut Bindings,
    value: &dyn Fn(&Identifier, &mut Bindings) -> String,
    tiebreak: &[&str],
) -> String {
    let mut terms = Vec::new();
    for k in keys {
        let dir = if k.ascending { "ASC" } else { "DESC" };
        let v = value(&k.ident, q);
        terms.push(format!("{v} IS NULL"));
        terms.push(format!("{v} {dir}"));
    }
    terms.extend(tiebreak.iter().map(|t| t.to_string()));
    terms.join(", ")
}

/// Compiles order_by keys into ORDER BY terms (comma-separated, without the keyword), nulls last, binding
/// their keys into `q`.
pub fn compile_order(keys: &[OrderKey], q: &mut Bindings) -> String {
    let mut terms = Vec::new();
    for k in keys {
        let dir = if k.ascending { "ASC" } else { "DESC" };
        match &k.ident {
            Identifier::Param(_) => {
                let text = value_sql(&k.ident, false, q);
                let num = value_sql(&k.ident, true, q);
                terms.push(format!("{text} IS NULL"));
                terms.push(format!("{num} IS NULL"));
                terms.push(format!("{num} {dir}"));
                terms.push(format!("{text} {dir}"));
            }
            // A column that is never NULL needs no "nulls last" term; without it SQLite can walk an
            // index in order (e.g. `runs (experiment_id, start_time)`) and stop after the page.
            Identifier::Attr(a) if !a.is_nullable() => {
                terms.push(format!("{} {dir}", a.column()));
            }
            other => {
                let v = value_sql(other, false, q);
                terms.push(format!("{v} IS NULL"));
                terms.push(format!("{v} {dir}"));
            }
        }
    }
    terms.push("r.start_time DESC".into());
    terms.push("r.run_uuid ASC".into());
    terms.join(", ")
}
