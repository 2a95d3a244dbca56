//! The PostgreSQL dialect of the search compiler ([`super::compile`]): `$N` placeholders cast to the
//! bound value's type (so a number compares with a BIGINT or DOUBLE PRECISION column alike), and LIKE /
//! ILIKE with no escape character, so a backslash in a pattern is an ordinary character as in SQLite.

use super::compile::{Bindings, SqlValue};

/// The placeholder of the `n`-th (1-based) bound value `v`, with its type.
pub(super) fn placeholder(n: usize, v: &SqlValue) -> String {
    let ty = match v {
        SqlValue::Text(_) => "text",
        SqlValue::Real(_) => "float8",
        SqlValue::Integer(_) => "int8",
    };
    format!("${n}::{ty}")
}

/// `v [NOT] LIKE pattern`: PostgreSQL's LIKE is case-sensitive and ILIKE is not, as in MLflow.
pub(super) fn like(
    v: &str,
    not: &str,
    case_insensitive: bool,
    pattern: &str,
    q: &mut Bindings,
) -> String {
    let p = q.bind(SqlValue::Text(pattern.to_string()));
    let op = if case_insensitive { "ILIKE" } else { "LIKE" };
    format!("{v} {not}{op} {p} ESCAPE ''")
}

/// The bound values as parameters of the `postgres` crate, in placeholder order.
pub fn to_sql_params(b: &Bindings) -> Vec<Box<dyn postgres::types::ToSql + Sync + Send>> {
    b.params
        .iter()
        .map(|v| -> Box<dyn postgres::types::ToSql + Sync + Send> {
            match v {
                SqlValue::Text(s) => Box::new(s.clone()),
                SqlValue::Real(x) => Box::new(*x),
                SqlValue::Integer(i) => Box::new(*i),
            }
        })
        .collect()
}
