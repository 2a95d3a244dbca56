//! The run search language: MLflow's filter grammar, extended, parsed into a syntax tree and turned into SQL.
//!
//! A filter is tokenized by hand ([`tokenize`]), parsed by recursive descent into an [`Expr`] tree
//! ([`parse_filter`]), and compiled into a SQL condition over the `runs` table in which **every user value is
//! a bound parameter** ([`compile_filter`], [`compile_order`]). Grammar (keywords are case-insensitive):
//!
//! ```text
//! filter     := ε | or_expr
//! or_expr    := and_expr ( OR and_expr )*
//! and_expr   := not_expr ( AND not_expr )*
//! not_expr   := NOT not_expr | '(' or_expr ')' | comparison
//! comparison := ident ( ('=' | '!=' | '<>' | '<' | '<=' | '>' | '>=') value
//!                     | [NOT] (LIKE | ILIKE) string
//!                     | [NOT] IN '(' value (',' value)* ')'
//!                     | IS [NOT] NULL )
//! ident      := metrics.<key> | metrics.min.<key> | metrics.max.<key> | params.<key> | tags.<key>
//!             | attributes.<attr> | <attr>
//! attr       := run_id | run_name | status | user_id | artifact_uri | parent_run_id
//!             | start_time | end_time | experiment_id          (created = start_time)
//! value      := number | 'single quoted' | "double quoted"
//! ```
//!
//! Prefix aliases follow MLflow (`metric`, `param`/`parameter`/`parameters`, `tag`, `attribute`/`attr`/`run`).
//! Keys with spaces or punctuation are quoted with backticks or double quotes (``metrics.`val loss` ``); a
//! dotted key such as `tags.hpo.user` works unquoted because only the first dot splits. `metrics.<key>` is the
//! *latest* value (greatest step, then timestamp); `metrics.min.<key>`/`metrics.max.<key>` are the smallest
//! and largest values ever logged (a metric literally named `min.x` is written ``metrics.`min.x` ``).
//! `params.<key>` compares numerically against a number (`params.lr > 0.01`, only params whose value parses
//! as a number match) and as text against a string. `LIKE` is case-sensitive, `ILIKE` is not.
//!
//! Missing values: a comparison on a run that lacks the metric/param/tag (or whose latest metric is NaN) is
//! false, so `NOT (params.a = 'x')` matches runs without param `a`; use `IS NULL` to test for absence.
//!
//! `order_by` clauses are `ident [ASC|DESC]`; missing values sort last in both directions, params order
//! numbers numerically before non-numeric strings, and ties fall back to `start_time DESC, run_id ASC`.
//! Run search page tokens are opaque (hex-encoded JSON holding the sort key of the page's last run and a
//! fingerprint of the query, so the next page starts after that key: keyset paging, see `keyset` and
//! `cursor`); the registry's searches page by offset ([`page_token`]).
//!
//! A search flows one way: [`parse`] gives a backend-neutral tree ([`ast`]), [`analysis`] answers the
//! questions a planner asks of it, and [`compile`] turns it into SQL in each backend's dialect ([`sqlite`], [`postgres`]).

pub mod analysis;
pub mod ast;
pub mod compile;
pub(crate) mod cursor;
mod error;
pub(crate) mod keyset;
pub mod lex;
pub mod page_token;
pub mod parse;
pub mod postgres;
pub mod sqlite;
#[cfg(test)]
mod tests;

pub use analysis::{
    may_hold_for_param, metric_bounds, param_bounds, requires_latest_metric, ParamClass,
};
pub use ast::{Attribute, Expr, FieldSpec, Identifier, Literal, MetricStat, Operator, OrderKey};
pub use compile::{
    compile_filter, compile_filter_reading, compile_filter_with, compile_order, compile_order_with,
    Bindings, Dialect, SqlValue,
};
pub use error::SearchError;
pub use lex::{tokenize, Token, TokenKind};
pub use page_token::{decode_page_token, encode_page_token, query_fingerprint};
pub use parse::{
    parse_filter, parse_filter_for, parse_order_by, parse_order_by_for, MAX_COMPARISONS,
};
pub use sqlite::like_to_glob;
