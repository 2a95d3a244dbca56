//! Questions a search planner asks of a parsed filter (which index it may walk, which rows it may skip).

use super::ast::{Expr, Identifier, Literal, MetricStat, Operator};

/// Whether every run matching `expr` has a non-NaN latest value of metric `key`: some top-level
/// conjunct compares `metrics.<key>` with a number, which is false when the value is missing or NaN.
/// A search ordered by that metric can then walk the metric's index in order instead of sorting runs.
pub fn requires_latest_metric(expr: &Expr, key: &str) -> bool {
    match expr {
        Expr::And(a, b) => requires_latest_metric(a, key) || requires_latest_metric(b, key),
        Expr::Compare(
            Identifier::Metric {
                key: k,
                stat: MetricStat::Latest,
            },
            Operator::Compare(_, Literal::Number(_)),
        ) => k == key,
        _ => false,
    }
}

/// What a run holds for one param key, as the search sees it: the classes that a search ordered by
/// that param puts in order (numbers, then other text, then runs without the param).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamClass {
    /// The value parses as a finite number (`num_value` is set).
    Number,
    /// The value is text that is not a number.
    Text,
    /// The run has no such param.
    Missing,
}

/// Whether `expr` can hold for a run whose param `key` is of class `class`. `false` only when it
/// never can: some comparison that must hold compares `params.<key>` in a way that is false (or
/// NULL, hence false) for that class. A search ordered by that param skips such a class.
pub fn may_hold_for_param(expr: &Expr, key: &str, class: ParamClass) -> bool {
    match expr {
        Expr::And(a, b) => may_hold_for_param(a, key, class) && may_hold_for_param(b, key, class),
        Expr::Or(a, b) => may_hold_for_param(a, key, class) || may_hold_for_param(b, key, class),
        // Negations are not analysed: NOT of a false comparison holds.
        Expr::Not(_) => true,
        Expr::Compare(Identifier::Param(k), op) if k == key => {
            let present = class != ParamClass::Missing;
            match op {
                // (The parser never gives an empty list; `NULL NOT IN ()` would hold.)
                Operator::In { values, .. } if values.is_empty() => true,
                // Compiled against `num_value`, which is NULL unless the value is a number.
                Operator::Compare(_, Literal::Number(_)) => class == ParamClass::Number,
                Operator::In { values, .. }
                    if matches!(values.first(), Some(Literal::Number(_))) =>
                {
                    class == ParamClass::Number
                }
                // Compiled against the text value, which is NULL only when the param is missing.
                Operator::Compare(_, Literal::Str(_))
                | Operator::In { .. }
                | Operator::Like { .. } => present,
                Operator::IsNull { negated } => present == *negated,
            }
        }
        Expr::Compare(..) => true,
    }
}

/// The comparisons of `params.<key>` with a value (`=`, `<`, `<=`, `>`, `>=`) that every run matching
/// `expr` passes: its top-level conjuncts. A search ordered by that param repeats them on the param
/// row it walks, where they bound the walk over the value index.
pub fn param_bounds<'e>(expr: &'e Expr, key: &str) -> Vec<(&'static str, &'e Literal)> {
    match expr {
        Expr::And(a, b) => {
            let mut bounds = param_bounds(a, key);
            bounds.extend(param_bounds(b, key));
            bounds
        }
        Expr::Compare(Identifier::Param(k), Operator::Compare(sym, lit))
            if k == key && *sym != "!=" =>
        {
            vec![(*sym, lit)]
        }
        _ => Vec::new(),
    }
}

/// The comparisons of the latest value of `metrics.<key>` with a number (`=`, `<`, `<=`, `>`, `>=`)
/// that every run matching `expr` passes: its top-level conjuncts. A search ordered by that metric
/// repeats them on the metric row it walks, where they bound the walk over the value index.
pub fn metric_bounds(expr: &Expr, key: &str) -> Vec<(&'static str, f64)> {
    match expr {
        Expr::And(a, b) => {
            let mut bounds = metric_bounds(a, key);
            bounds.extend(metric_bounds(b, key));
            bounds
        }
        Expr::Compare(
            Identifier::Metric {
                key: k,
                stat: MetricStat::Latest,
            },
            Operator::Compare(sym, Literal::Number(v)),
        ) if k == key && *sym != "!=" => vec![(*sym, *v)],
        _ => Vec::new(),
    }
}
