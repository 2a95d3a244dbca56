//! Keyset paging: a run's sort key in a search's order, and the SQL condition "sorts after this
//! key", so that the next page starts where the previous one stopped instead of counting its way
//! there (page tokens carry the key, see [`super::cursor`]).
//!
//! The order is the one [`super::compile_order`] writes: each order key, then `start_time DESC`
//! and the run id ascending. A key is one or two values ([`SortTerm::width`]): a param is its text
//! and its numeric value (numbers first in numeric order, equal numbers by text, then other text,
//! then runs without the param), anything else one value, missing values last in both directions.

use super::ast::{Identifier, OrderKey};
use super::compile::{value_sql, Bindings, SqlValue};

/// The type of one value of a sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotType {
    /// TEXT.
    Text,
    /// REAL / DOUBLE PRECISION.
    Real,
    /// INTEGER / BIGINT.
    Integer,
}

impl SlotType {
    /// Whether `v` is a value of this type (an integer is accepted for a real).
    fn accepts(self, v: &SqlValue) -> bool {
        matches!(
            (self, v),
            (SlotType::Text, SqlValue::Text(_))
                | (SlotType::Real, SqlValue::Real(_) | SqlValue::Integer(_))
                | (SlotType::Integer, SqlValue::Integer(_))
        )
    }
}

/// One term of a search's order as keyset paging compares it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SortTerm {
    /// One value: `sql` of type `ty`; if `nullable`, missing values sort last in both directions.
    Value {
        /// The SQL of the value over `runs r` (or a walked row).
        sql: String,
        /// Its type.
        ty: SlotType,
        /// Whether it may be NULL.
        nullable: bool,
        /// The direction.
        ascending: bool,
    },
    /// A param: numbers (`num` set) in numeric order, ties by `text`, then other text, then
    /// missing params, in both directions.
    Param {
        /// The SQL of its text value.
        text: String,
        /// The SQL of its numeric value (NULL unless the text is a finite number).
        num: String,
        /// The direction.
        ascending: bool,
    },
}

impl SortTerm {
    /// A column that is never NULL.
    pub(crate) fn column(sql: &str, ty: SlotType, ascending: bool) -> Self {
        SortTerm::Value {
            sql: sql.to_string(),
            ty,
            nullable: false,
            ascending,
        }
    }

    /// How many values of the key it takes.
    pub(crate) fn width(&self) -> usize {
        match self {
            SortTerm::Value { .. } => 1,
            SortTerm::Param { .. } => 2,
        }
    }

    /// The SQL of its values, in key order.
    fn select(&self) -> Vec<&str> {
        match self {
            SortTerm::Value { sql, .. } => vec![sql],
            SortTerm::Param { text, num, .. } => vec![text, num],
        }
    }

    /// Whether `values` (of length [`SortTerm::width`]) can be this term's values.
    fn accepts(&self, values: &[Option<SqlValue>]) -> bool {
        match (self, values) {
            (SortTerm::Value { ty, nullable, .. }, [v]) => {
                v.as_ref().map_or(*nullable, |v| ty.accepts(v))
            }
            (SortTerm::Param { .. }, [text, num]) => match (text, num) {
                (Some(t), n) => {
                    SlotType::Text.accepts(t)
                        && n.as_ref().is_none_or(|n| SlotType::Real.accepts(n))
                }
                (None, n) => n.is_none(),
            },
            _ => false,
        }
    }

    /// The conditions that a row sorts after (`later`, `None` when none does) and level with
    /// (`same`) the key `values` on this term.
    fn compare(&self, values: &[Option<SqlValue>], b: &mut Bindings) -> (Option<String>, String) {
        let gt = |ascending: bool| if ascending { ">" } else { "<" };
        match (self, values) {
            (
                SortTerm::Value {
                    sql,
                    nullable,
                    ascending,
                    ..
                },
                [Some(v)],
            ) => {
                let p = b.bind(v.clone());
                let op = gt(*ascending);
                let later = if *nullable {
                    format!("({sql} IS NULL OR {sql} {op} {p})")
                } else {
                    format!("{sql} {op} {p}")
                };
                (Some(later), format!("{sql} = {p}"))
            }
            (
                SortTerm::Param {
                    text,
                    num,
                    ascending,
                },
                [Some(t), n],
            ) => {
                let op = gt(*ascending);
                let pt = b.bind(t.clone());
                match n {
                    Some(n) => {
                        let pn = b.bind(n.clone());
                        (
                            Some(format!(
                                "({num} IS NULL OR {num} {op} {pn} OR ({num} = {pn} AND {text} {op} {pt}))"
                            )),
                            format!("({num} = {pn} AND {text} = {pt})"),
                        )
                    }
                    None => (
                        Some(format!(
                            "({text} IS NULL OR ({num} IS NULL AND {text} {op} {pt}))"
                        )),
                        format!("({num} IS NULL AND {text} = {pt})"),
                    ),
                }
            }
            // The key's value is missing: only missing values are level, none sorts after.
            (SortTerm::Value { sql, .. }, _) => (None, format!("{sql} IS NULL")),
            // (`num` is NULL too; naming it uses its bound key, which PostgreSQL must type)
            (SortTerm::Param { text, num, .. }, _) => {
                (None, format!("({text} IS NULL AND {num} IS NULL)"))
            }
        }
    }
}

/// The terms of order keys over `runs r`, binding their keys into `b` (without the tiebreak, see
/// [`tiebreak_terms`]).
pub(crate) fn sort_terms(keys: &[OrderKey], b: &mut Bindings) -> Vec<SortTerm> {
    keys.iter()
        .map(|k| {
            let ascending = k.ascending;
            match &k.ident {
                Identifier::Param(_) => SortTerm::Param {
                    text: value_sql(&k.ident, false, b),
                    num: value_sql(&k.ident, true, b),
                    ascending,
                },
                Identifier::Attr(a) => SortTerm::Value {
                    sql: a.column().to_string(),
                    ty: if a.is_numeric() {
                        SlotType::Integer
                    } else {
                        SlotType::Text
                    },
                    nullable: a.is_nullable(),
                    ascending,
                },
                Identifier::Metric { .. } | Identifier::Tag(_) | Identifier::Field(_) => {
                    SortTerm::Value {
                        sql: value_sql(&k.ident, false, b),
                        ty: if matches!(k.ident, Identifier::Metric { .. }) {
                            SlotType::Real
                        } else {
                            SlotType::Text
                        },
                        nullable: true,
                        ascending,
                    }
                }
            }
        })
        .collect()
}

/// The terms every order ends with: `start_time DESC`, then the run id (unique) ascending.
pub(crate) fn tiebreak_terms() -> [SortTerm; 2] {
    [
        SortTerm::column("r.start_time", SlotType::Integer, false),
        SortTerm::column("r.run_uuid", SlotType::Text, true),
    ]
}

/// How many values a key of `terms` has.
pub(crate) fn key_width(terms: &[SortTerm]) -> usize {
    terms.iter().map(SortTerm::width).sum()
}

/// Whether `key` can be a key of `terms`: as many values as they take, each of its term's type,
/// NULL only where a value may be missing.
pub(crate) fn key_fits(terms: &[SortTerm], key: &[Option<SqlValue>]) -> bool {
    if key.len() != key_width(terms) {
        return false;
    }
    let mut at = 0;
    terms.iter().all(|t| {
        let fits = t.accepts(&key[at..at + t.width()]);
        at += t.width();
        fits
    })
}

/// The SQL selecting the key of `terms` (comma-separated expressions, in key order).
pub(crate) fn key_select(terms: &[SortTerm]) -> String {
    terms
        .iter()
        .flat_map(SortTerm::select)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The condition that a row sorts strictly after `key` in the order of `terms`, binding the key's
/// values into `b`. The last term must tell every two rows apart (the run id does), and `key` must
/// fit `terms` ([`key_fits`]).
pub(crate) fn after_sql(terms: &[SortTerm], key: &[Option<SqlValue>], b: &mut Bindings) -> String {
    let Some((first, rest)) = terms.split_first() else {
        return "1 = 0".to_string();
    };
    let (values, rest_key) = key.split_at(first.width().min(key.len()));
    let (later, same) = first.compare(values, b);
    if rest.is_empty() {
        return later.unwrap_or_else(|| "1 = 0".to_string());
    }
    let tail = format!("({same} AND {})", after_sql(rest, rest_key, b));
    match later {
        Some(later) => format!("({later} OR {tail})"),
        None => tail,
    }
}

/// A condition implied by [`after_sql`] that a database can use to seek in an index on the first
/// term: `first >= value` (`<=` descending) when the first term is one value that is never NULL.
pub(crate) fn leading_bound(
    terms: &[SortTerm],
    key: &[Option<SqlValue>],
    b: &mut Bindings,
) -> Option<String> {
    match (terms.first(), key.first()) {
        (
            Some(SortTerm::Value {
                sql,
                nullable: false,
                ascending,
                ..
            }),
            Some(Some(v)),
        ) => {
            let op = if *ascending { ">=" } else { "<=" };
            Some(format!("{sql} {op} {}", b.bind(v.clone())))
        }
        _ => None,
    }
}
