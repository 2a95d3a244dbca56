//! The backend-neutral syntax tree of filters and order_by clauses.

/// Which statistic of a metric an identifier refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricStat {
    /// The value at the greatest (step, timestamp).
    Latest,
    /// The smallest value.
    Min,
    /// The largest value.
    Max,
}

/// A run attribute usable in filters and ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute {
    /// `run_id`
    RunId,
    /// `run_name`
    RunName,
    /// `status`
    Status,
    /// `user_id`
    UserId,
    /// `artifact_uri`
    ArtifactUri,
    /// `parent_run_id`
    ParentRunId,
    /// `start_time` (alias `created`)
    StartTime,
    /// `end_time`
    EndTime,
    /// `experiment_id`
    ExperimentId,
}

impl Attribute {
    /// The attribute names, for error messages.
    pub(super) const NAMES: &'static str = "run_id, run_name, status, user_id, artifact_uri, parent_run_id, start_time, end_time, experiment_id";

    /// The attribute a filter name (or alias) refers to.
    pub(super) fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "run_id" | "run_uuid" => Attribute::RunId,
            "run_name" | "run name" => Attribute::RunName,
            "status" => Attribute::Status,
            "user_id" => Attribute::UserId,
            "artifact_uri" => Attribute::ArtifactUri,
            "parent_run_id" => Attribute::ParentRunId,
            "start_time" | "created" => Attribute::StartTime,
            "end_time" => Attribute::EndTime,
            "experiment_id" => Attribute::ExperimentId,
            _ => return None,
        })
    }

    /// Its column of `runs r` (the same in every backend's schema).
    pub(super) fn column(self) -> &'static str {
        match self {
            Attribute::RunId => "r.run_uuid",
            Attribute::RunName => "r.name",
            Attribute::Status => "r.status",
            Attribute::UserId => "r.user_id",
            Attribute::ArtifactUri => "r.artifact_uri",
            Attribute::ParentRunId => "r.parent_run_id",
            Attribute::StartTime => "r.start_time",
            Attribute::EndTime => "r.end_time",
            Attribute::ExperimentId => "r.experiment_id",
        }
    }

    /// Whether it holds numbers.
    pub(super) fn is_numeric(self) -> bool {
        matches!(
            self,
            Attribute::StartTime | Attribute::EndTime | Attribute::ExperimentId
        )
    }

    /// Whether the column may be NULL (only `end_time` and `parent_run_id` may).
    pub(super) fn is_nullable(self) -> bool {
        matches!(self, Attribute::EndTime | Attribute::ParentRunId)
    }
}

/// What a filter or order_by clause refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identifier {
    /// A metric statistic.
    Metric {
        /// Metric key.
        key: String,
        /// Latest, min or max.
        stat: MetricStat,
    },
    /// A param.
    Param(String),
    /// A tag.
    Tag(String),
    /// A run attribute.
    Attr(Attribute),
    /// A named field of another entity (registered models, model versions), as declared by the
    /// [`FieldSpec`]s given to [`parse_filter_for`]; the run parser never produces it.
    Field(String),
}

/// A field of a non-run entity that filters and order_by clauses may name (see [`parse_filter_for`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// The field name as written in filters (matched case-insensitively), e.g. `name`.
    pub name: &'static str,
    /// Whether the field holds numbers (compared to numbers, no LIKE) rather than text.
    pub numeric: bool,
}

/// A literal value in a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A number.
    Number(f64),
    /// A string.
    Str(String),
}

/// A comparison operator.
#[derive(Debug, Clone, PartialEq)]
pub enum Operator {
    /// `=`, `!=`, `<`, `<=`, `>`, `>=` with one value.
    Compare(&'static str, Literal),
    /// `LIKE` (case-sensitive) or `ILIKE`, possibly negated.
    Like {
        /// Whether case is ignored (ILIKE).
        case_insensitive: bool,
        /// NOT LIKE.
        negated: bool,
        /// The `%`/`_` pattern.
        pattern: String,
    },
    /// `IN (...)` / `NOT IN (...)`.
    In {
        /// NOT IN.
        negated: bool,
        /// The listed values.
        values: Vec<Literal>,
    },
    /// `IS NULL` / `IS NOT NULL`.
    IsNull {
        /// IS NOT NULL.
        negated: bool,
    },
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Both sides hold.
    And(Box<Expr>, Box<Expr>),
    /// Either side holds.
    Or(Box<Expr>, Box<Expr>),
    /// The operand does not hold.
    Not(Box<Expr>),
    /// One comparison.
    Compare(Identifier, Operator),
}

/// One parsed order_by clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderKey {
    /// What to order by.
    pub ident: Identifier,
    /// Ascending (the default) or descending.
    pub ascending: bool,
}
