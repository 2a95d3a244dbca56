//! Errors of the search language and paging.

use std::fmt;

/// Errors of the search language and paging.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// The text does not follow the grammar or uses a value of the wrong type.
    #[error("invalid {clause} at column {column}: expected {expected}, found {found}")]
    Syntax {
        /// `filter` or `order_by[i]`.
        clause: String,
        /// 1-based character column of the offending token.
        column: usize,
        /// What the parser expected there.
        expected: String,
        /// What it found (quoted token text, or "end of input").
        found: String,
    },
    /// The filter has more comparisons than SQLite can nest in one query.
    #[error("invalid {clause}: it has more than {limit} comparisons (the one past the limit is at column {column}); at most {limit} are allowed: use IN (...) for many values of one key, or split the search")]
    TooManyComparisons {
        /// `filter`.
        clause: String,
        /// The largest number of comparisons accepted.
        limit: usize,
        /// 1-based character column of the first comparison past the limit.
        column: usize,
    },
    /// The page token is malformed or belongs to another query.
    #[error("invalid page token: {0}")]
    InvalidPageToken(String),
    /// `max_results` is zero or larger than the limit.
    #[error("max_results must be between 1 and {limit}, got {got}")]
    InvalidMaxResults {
        /// The largest accepted value.
        limit: usize,
        /// The value given.
        got: usize,
    },
    /// A remote tracking server refused the filter, ordering or page token (its message).
    #[error("the tracking server refused the search: {0}")]
    Rejected(String),
}

/// A syntax error in `clause` at `column`.
pub(super) fn syntax(
    clause: &str,
    column: usize,
    expected: &str,
    found: impl fmt::Display,
) -> SearchError {
    SearchError::Syntax {
        clause: clause.to_string(),
        column,
        expected: expected.to_string(),
        found: found.to_string(),
    }
}
