//! The SQLite dialect of the search compiler ([`super::compile`]): `?N` placeholders, and LIKE
//! (case-insensitive in SQLite) made case-sensitive through GLOB.

use super::compile::{Bindings, SqlValue};

/// The placeholder of the `n`-th (1-based) bound value.
pub(super) fn placeholder(n: usize) -> String {
    format!("?{n}")
}

/// `v [NOT] LIKE pattern` with MLflow's case rules: LIKE is case-sensitive, ILIKE is not.
pub(super) fn like(
    v: &str,
    not: &str,
    case_insensitive: bool,
    pattern: &str,
    q: &mut Bindings,
) -> String {
    if case_insensitive {
        let p = q.bind(SqlValue::Text(pattern.to_string()));
        format!("lower({v}) {not}LIKE lower({p})")
    } else {
        let p = q.bind(SqlValue::Text(like_to_glob(pattern)));
        format!("{v} {not}GLOB {p}")
    }
}

/// Turns a LIKE pattern (`%`, `_`) into an equivalent case-sensitive GLOB pattern.
pub fn like_to_glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        match c {
            '%' => out.push('*'),
            '_' => out.push('?'),
            '*' => out.push_str("[*]"),
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            other => out.push(other),
        }
    }
    out
}
