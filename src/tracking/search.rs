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
//! Page tokens are opaque (hex-encoded JSON holding an offset and a fingerprint of the query).

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
}

/// Maximum nesting of parentheses and NOT, so hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 64;

/// Maximum number of comparisons in one filter: each AND/OR adds a level to SQLite's expression
/// tree, whose depth is limited to 1000 (999 `and`-ed comparisons fail; 500 leave room for the
/// conditions the store adds and for nesting).
pub const MAX_COMPARISONS: usize = 500;

/// A token kind produced by [`tokenize`].
#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    /// An unquoted word: keyword, prefix, key or attribute.
    Word(String),
    /// A backtick-quoted identifier.
    QuotedIdent(String),
    /// A single-quoted string.
    Str(String),
    /// A double-quoted string (a value, or a key after a dot).
    DoubleQuoted(String),
    /// A number literal with its text.
    Number(f64, String),
    /// `.`
    Dot,
    /// `,`
    Comma,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// A comparison operator symbol: `= != <> < <= > >=`.
    Op(String),
    /// End of input.
    End,
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenKind::Word(w) => write!(f, "'{w}'"),
            TokenKind::QuotedIdent(w) => write!(f, "'`{w}`'"),
            TokenKind::Str(s) => write!(f, "the string '{s}'"),
            TokenKind::DoubleQuoted(s) => write!(f, "the string \"{s}\""),
            TokenKind::Number(_, t) => write!(f, "the number {t}"),
            TokenKind::Dot => f.write_str("'.'"),
            TokenKind::Comma => f.write_str("','"),
            TokenKind::LParen => f.write_str("'('"),
            TokenKind::RParen => f.write_str("')'"),
            TokenKind::Op(o) => write!(f, "'{o}'"),
            TokenKind::End => f.write_str("end of input"),
        }
    }
}

/// A token with its 1-based character column.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// What the token is.
    pub kind: TokenKind,
    /// 1-based character column where it starts.
    pub column: usize,
    /// Whether whitespace precedes it.
    pub spaced: bool,
}

fn syntax(clause: &str, column: usize, expected: &str, found: impl fmt::Display) -> SearchError {
    SearchError::Syntax {
        clause: clause.to_string(),
        column,
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

/// Splits a filter or order_by clause into tokens; the last token is always `End`.
pub fn tokenize(input: &str, clause: &str) -> Result<Vec<Token>, SearchError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut spaced = true;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            spaced = true;
            i += 1;
            continue;
        }
        let after_dot = matches!(
            out.last(),
            Some(Token {
                kind: TokenKind::Dot,
                ..
            })
        ) && !spaced;
        let after_ident = !spaced
            && matches!(
                out.last(),
                Some(Token {
                    kind: TokenKind::Word(_)
                        | TokenKind::QuotedIdent(_)
                        | TokenKind::DoubleQuoted(_),
                    ..
                })
            );
        let kind = if c == '.' && after_ident {
            i += 1;
            TokenKind::Dot
        } else if c.is_alphabetic() || c == '_' || (after_dot && c.is_alphanumeric()) {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            TokenKind::Word(chars[start..i].iter().collect())
        } else if c.is_ascii_digit()
            || ((c == '-' || c == '+' || c == '.')
                && chars
                    .get(i + 1)
                    .is_some_and(|n| n.is_ascii_digit() || *n == '.'))
        {
            let start = i;
            if c == '-' || c == '+' {
                i += 1;
            }
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '-' || chars[j] == '+') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    i = j;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let text: String = chars[start..i].iter().collect();
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => TokenKind::Number(v, text),
                _ => return Err(syntax(clause, column, "a number", format!("'{text}'"))),
            }
        } else if c == '\'' || c == '"' || c == '`' {
            let quote = c;
            let mut s = String::new();
            i += 1;
            let mut closed = false;
            while i < chars.len() {
                let d = chars[i];
                if d == '\\' && quote != '`' && i + 1 < chars.len() {
                    s.push(chars[i + 1]);
                    i += 2;
                } else if d == quote {
                    if chars.get(i + 1) == Some(&quote) {
                        s.push(quote);
                        i += 2;
                    } else {
                        i += 1;
                        closed = true;
                        break;
                    }
                } else {
                    s.push(d);
                    i += 1;
                }
            }
            if !closed {
                return Err(syntax(
                    clause,
                    column,
                    &format!("a closing {quote}"),
                    "end of input",
                ));
            }
            match quote {
                '\'' => TokenKind::Str(s),
                '"' => TokenKind::DoubleQuoted(s),
                _ => TokenKind::QuotedIdent(s),
            }
        } else {
            i += 1;
            match c {
                '.' => TokenKind::Dot,
                ',' => TokenKind::Comma,
                '(' => TokenKind::LParen,
                ')' => TokenKind::RParen,
                '=' => {
                    if chars.get(i) == Some(&'=') {
                        i += 1;
                    }
                    TokenKind::Op("=".into())
                }
                '!' if chars.get(i) == Some(&'=') => {
                    i += 1;
                    TokenKind::Op("!=".into())
                }
                '<' | '>' => {
                    let mut op = c.to_string();
                    if chars.get(i) == Some(&'=') || (c == '<' && chars.get(i) == Some(&'>')) {
                        op.push(chars[i]);
                        i += 1;
                    }
                    if op == "<>" {
                        op = "!=".into();
                    }
                    TokenKind::Op(op)
                }
                other => {
                    return Err(syntax(
                        clause,
                        column,
                        "an identifier, a value, an operator or a parenthesis",
                        format!("'{other}'"),
                    ))
                }
            }
        };
        out.push(Token {
            kind,
            column,
            spaced,
        });
        spaced = false;
    }
    out.push(Token {
        kind: TokenKind::End,
        column: chars.len() + 1,
        spaced,
    });
    Ok(out)
}

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
    const NAMES: &'static str = "run_id, run_name, status, user_id, artifact_uri, parent_run_id, start_time, end_time, experiment_id";

    fn from_name(name: &str) -> Option<Self> {
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

    fn column(self) -> &'static str {
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

    fn is_numeric(self) -> bool {
        matches!(
            self,
            Attribute::StartTime | Attribute::EndTime | Attribute::ExperimentId
        )
    }

    /// Whether the column may be NULL (only `end_time` and `parent_run_id` may).
    fn is_nullable(self) -> bool {
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

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    clause: &'a str,
    depth: usize,
    /// Comparisons read so far (at most [`MAX_COMPARISONS`]).
    comparisons: usize,
    /// The fields of a non-run entity; `None` parses run filters.
    fields: Option<&'a [FieldSpec]>,
}

const OPERATORS: &str = "a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, IS)";
const IDENT: &str =
    "an identifier (metrics.<key>, params.<key>, tags.<key> or an attribute such as status)";

impl<'a> Parser<'a> {
    fn new(input: &str, clause: &'a str) -> Result<Self, SearchError> {
        Ok(Parser {
            tokens: tokenize(input, clause)?,
            pos: 0,
            clause,
            depth: 0,
            comparisons: 0,
            fields: None,
        })
    }

    fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields?
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// Resolves an identifier against the declared fields: `<field>`, `attributes.<field>`, `tags.<key>`.
    fn entity_identifier(
        &self,
        fields: &[FieldSpec],
        start: &Token,
        first: &str,
        first_quoted: bool,
        parts: &[(String, bool)],
    ) -> Result<Identifier, SearchError> {
        let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
        let expected = format!("a field ({}) or tags.<key>", names.join(", "));
        let lookup = |name: &str| {
            self.field(name)
                .map(|f| Identifier::Field(f.name.to_string()))
                .ok_or_else(|| {
                    syntax(
                        self.clause,
                        start.column,
                        &expected,
                        format!("'{}'", name.escape_debug()),
                    )
                })
        };
        if parts.is_empty() {
            return lookup(first);
        }
        let key = parts
            .iter()
            .map(|(p, _)| p.as_str())
            .collect::<Vec<_>>()
            .join(".");
        let prefix = if first_quoted {
            first.to_string()
        } else {
            first.to_ascii_lowercase()
        };
        match prefix.as_str() {
            "tags" | "tag" => Ok(Identifier::Tag(key)),
            "attributes" | "attribute" | "attr" => lookup(&key),
            _ => lookup(&format!("{first}.{key}")),
        }
    }

    fn peek(&self) -> &Token {
        // The token list always ends with End and `pos` never passes it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn error(&self, expected: &str) -> SearchError {
        let t = self.peek();
        syntax(self.clause, t.column, expected, &t.kind)
    }

    fn is_keyword(&self, kw: &str) -> bool {
        matches!(&self.peek().kind, TokenKind::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        if self.is_keyword(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_end(&self, expected: &str) -> Result<(), SearchError> {
        if self.peek().kind == TokenKind::End {
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    fn or_expr(&mut self) -> Result<Expr, SearchError> {
        let mut left = self.and_expr()?;
        while self.eat_keyword("or") {
            let right = self.and_expr()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, SearchError> {
        let mut left = self.not_expr()?;
        while self.eat_keyword("and") {
            let right = self.not_expr()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not_expr(&mut self) -> Result<Expr, SearchError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(&format!(
                "at most {MAX_DEPTH} levels of NOT and parentheses"
            )));
        }
        let result = if self.eat_keyword("not") {
            self.not_expr().map(|e| Expr::Not(Box::new(e)))
        } else if self.peek().kind == TokenKind::LParen {
            self.next();
            let inner = self.or_expr()?;
            if self.peek().kind == TokenKind::RParen {
                self.next();
                Ok(inner)
            } else {
                Err(self.error("')' or AND/OR"))
            }
        } else {
            self.comparison()
        };
        self.depth -= 1;
        result
    }

    /// Reads one identifier part (a word, a backticked or a double-quoted name) and whether it was quoted.
    fn ident_part(&mut self) -> Result<(String, bool), SearchError> {
        match self.peek().kind.clone() {
            TokenKind::Word(w) => {
                self.next();
                Ok((w, false))
            }
            TokenKind::QuotedIdent(w) | TokenKind::DoubleQuoted(w) => {
                self.next();
                Ok((w, true))
            }
            _ => Err(self.error("a key after the '.'")),
        }
    }

    fn identifier(&mut self) -> Result<Identifier, SearchError> {
        let start = self.peek().clone();
        let (first, first_quoted) = match &start.kind {
            TokenKind::Word(w) => (w.clone(), false),
            TokenKind::QuotedIdent(w) => (w.clone(), true),
            _ => return Err(self.error(IDENT)),
        };
        self.next();
        let mut parts: Vec<(String, bool)> = Vec::new();
        while self.peek().kind == TokenKind::Dot && !self.peek().spaced {
            self.next();
            parts.push(self.ident_part()?);
        }
        let unknown = || {
            syntax(
                self.clause,
                start.column,
                IDENT,
                format!("'{}'", first.escape_debug()),
            )
        };
        if let Some(fields) = self.fields {
            return self.entity_identifier(fields, &start, &first, first_quoted, &parts);
        }
        if parts.is_empty() {
            return Attribute::from_name(&first)
                .map(Identifier::Attr)
                .ok_or_else(unknown);
        }
        let key_of = |parts: &[(String, bool)]| {
            parts
                .iter()
                .map(|(p, _)| p.as_str())
                .collect::<Vec<_>>()
                .join(".")
        };
        let prefix = if first_quoted {
            first.clone()
        } else {
            first.to_ascii_lowercase()
        };
        match prefix.as_str() {
            "metrics" | "metric" => {
                let (head, head_quoted) = &parts[0];
                let stat = match head.to_ascii_lowercase().as_str() {
                    "min" if !head_quoted && parts.len() > 1 => Some(MetricStat::Min),
                    "max" if !head_quoted && parts.len() > 1 => Some(MetricStat::Max),
                    _ => None,
                };
                match stat {
                    Some(stat) => Ok(Identifier::Metric {
                        key: key_of(&parts[1..]),
                        stat,
                    }),
                    None => Ok(Identifier::Metric {
                        key: key_of(&parts),
                        stat: MetricStat::Latest,
                    }),
                }
            }
            "params" | "param" | "parameter" | "parameters" => {
                Ok(Identifier::Param(key_of(&parts)))
            }
            "tags" | "tag" => Ok(Identifier::Tag(key_of(&parts))),
            "attributes" | "attribute" | "attr" | "run" => {
                let name = key_of(&parts);
                Attribute::from_name(&name)
                    .map(Identifier::Attr)
                    .ok_or_else(|| {
                        syntax(
                            self.clause,
                            start.column,
                            &format!("an attribute ({})", Attribute::NAMES),
                            format!("'{}'", name.escape_debug()),
                        )
                    })
            }
            _ => Err(unknown()),
        }
    }

    fn literal(&mut self) -> Result<(Literal, usize), SearchError> {
        let t = self.peek().clone();
        let lit = match t.kind {
            TokenKind::Number(v, _) => Literal::Number(v),
            TokenKind::Str(s) | TokenKind::DoubleQuoted(s) => Literal::Str(s),
            _ => return Err(self.error("a value (a number or a quoted string)")),
        };
        self.next();
        Ok((lit, t.column))
    }

    fn string_literal(&mut self, what: &str) -> Result<String, SearchError> {
        match self.peek().kind.clone() {
            TokenKind::Str(s) | TokenKind::DoubleQuoted(s) => {
                self.next();
                Ok(s)
            }
            _ => Err(self.error(what)),
        }
    }

    fn comparison(&mut self) -> Result<Expr, SearchError> {
        self.comparisons += 1;
        if self.comparisons > MAX_COMPARISONS {
            return Err(SearchError::TooManyComparisons {
                clause: self.clause.to_string(),
                limit: MAX_COMPARISONS,
                column: self.peek().column,
            });
        }
        let ident = self.identifier()?;
        let op_token = self.peek().clone();
        let op = match &op_token.kind {
            TokenKind::Op(o) => {
                let sym: &'static str = match o.as_str() {
                    "=" => "=",
                    "!=" => "!=",
                    "<" => "<",
                    "<=" => "<=",
                    ">" => ">",
                    _ => ">=",
                };
                self.next();
                let (lit, column) = self.literal()?;
                self.check_type(&ident, &lit, column)?;
                Operator::Compare(sym, lit)
            }
            TokenKind::Word(w) => {
                let w = w.to_ascii_lowercase();
                self.next();
                let negated = w == "not";
                let w = if negated {
                    match &self.peek().kind {
                        TokenKind::Word(w2) => {
                            let w2 = w2.to_ascii_lowercase();
                            self.next();
                            w2
                        }
                        _ => return Err(self.error("LIKE, ILIKE or IN after NOT")),
                    }
                } else {
                    w
                };
                match w.as_str() {
                    "like" | "ilike" => {
                        if self.is_numeric_only(&ident) {
                            return Err(syntax(
                                self.clause,
                                op_token.column,
                                "a numeric comparison operator (=, !=, <, <=, >, >=, IN, IS) for a numeric identifier",
                                format!("'{}'", w.to_ascii_uppercase()),
                            ));
                        }
                        let pattern = self.string_literal("a quoted pattern")?;
                        Operator::Like {
                            case_insensitive: w == "ilike",
                            negated,
                            pattern,
                        }
                    }
                    "in" => {
                        if self.peek().kind != TokenKind::LParen {
                            return Err(self.error("'(' starting the IN list"));
                        }
                        self.next();
                        let mut values = Vec::new();
                        loop {
                            let (lit, column) = self.literal()?;
                            self.check_type(&ident, &lit, column)?;
                            if let Some(first) = values.first() {
                                if std::mem::discriminant(first) != std::mem::discriminant(&lit) {
                                    return Err(syntax(
                                        self.clause,
                                        column,
                                        "values of one type in an IN list",
                                        "a mix of numbers and strings",
                                    ));
                                }
                            }
                            values.push(lit);
                            match self.peek().kind {
                                TokenKind::Comma => {
                                    self.next();
                                }
                                TokenKind::RParen => {
                                    self.next();
                                    break;
                                }
                                _ => return Err(self.error("',' or ')' in the IN list")),
                            }
                        }
                        Operator::In { negated, values }
                    }
                    "is" if !negated => {
                        let negated = self.eat_keyword("not");
                        if !self.eat_keyword("null") {
                            return Err(self.error("NULL"));
                        }
                        Operator::IsNull { negated }
                    }
                    _ => {
                        return Err(syntax(
                            self.clause,
                            op_token.column,
                            OPERATORS,
                            &op_token.kind,
                        ))
                    }
                }
            }
            _ => return Err(self.error(OPERATORS)),
        };
        Ok(Expr::Compare(ident, op))
    }

    fn is_numeric_only(&self, ident: &Identifier) -> bool {
        match ident {
            Identifier::Metric { .. } => true,
            Identifier::Attr(a) => a.is_numeric(),
            Identifier::Field(name) => self.field(name).is_some_and(|f| f.numeric),
            _ => false,
        }
    }

    fn check_type(
        &self,
        ident: &Identifier,
        lit: &Literal,
        column: usize,
    ) -> Result<(), SearchError> {
        let found = match lit {
            Literal::Number(_) => "a number",
            Literal::Str(_) => "a string",
        };
        let expected = match (ident, lit) {
            (Identifier::Metric { .. }, Literal::Str(_)) => "a number (metrics are numeric)",
            (Identifier::Attr(a), Literal::Str(_)) if a.is_numeric() => {
                "a number (this attribute is numeric)"
            }
            (Identifier::Attr(a), Literal::Number(_)) if !a.is_numeric() => {
                "a quoted string (this attribute is a string)"
            }
            (Identifier::Tag(_), Literal::Number(_)) => "a quoted string (tags are strings)",
            (Identifier::Field(_), Literal::Str(_)) if self.is_numeric_only(ident) => {
                "a number (this field is numeric)"
            }
            (Identifier::Field(_), Literal::Number(_)) if !self.is_numeric_only(ident) => {
                "a quoted string (this field is a string)"
            }
            _ => return Ok(()),
        };
        Err(syntax(self.clause, column, expected, found))
    }
}

/// Parses a filter string; an empty (or blank) filter gives `None`, which matches every run.
pub fn parse_filter(filter: &str) -> Result<Option<Expr>, SearchError> {
    let mut p = Parser::new(filter, "filter")?;
    if p.peek().kind == TokenKind::End {
        return Ok(None);
    }
    let e = p.or_expr()?;
    p.expect_end("AND, OR or end of input")?;
    Ok(Some(e))
}

/// Parses one order_by clause `ident [ASC|DESC]`; `index` names the clause in errors.
pub fn parse_order_by(clause: &str, index: usize) -> Result<OrderKey, SearchError> {
    let name = format!("order_by[{index}]");
    let mut p = Parser::new(clause, &name)?;
    let ident = p.identifier()?;
    let ascending = if p.eat_keyword("desc") {
        false
    } else {
        p.eat_keyword("asc");
        true
    };
    p.expect_end("ASC, DESC or end of clause")?;
    Ok(OrderKey { ident, ascending })
}

/// Parses a filter over a non-run entity whose identifiers are the given `fields` (bare or as
/// `attributes.<field>`) and `tags.<key>`; the grammar, operators and error messages are those of
/// [`parse_filter`]. Fields come back as [`Identifier::Field`] (with the declared spelling), tags as
/// [`Identifier::Tag`]. An empty filter gives `None`.
pub fn parse_filter_for(filter: &str, fields: &[FieldSpec]) -> Result<Option<Expr>, SearchError> {
    let mut p = Parser::new(filter, "filter")?;
    p.fields = Some(fields);
    if p.peek().kind == TokenKind::End {
        return Ok(None);
    }
    let e = p.or_expr()?;
    p.expect_end("AND, OR or end of input")?;
    Ok(Some(e))
}

/// Parses one order_by clause `ident [ASC|DESC]` over a non-run entity (see [`parse_filter_for`]).
pub fn parse_order_by_for(
    clause: &str,
    index: usize,
    fields: &[FieldSpec],
) -> Result<OrderKey, SearchError> {
    let name = format!("order_by[{index}]");
    let mut p = Parser::new(clause, &name)?;
    p.fields = Some(fields);
    let ident = p.identifier()?;
    let ascending = if p.eat_keyword("desc") {
        false
    } else {
        p.eat_keyword("asc");
        true
    };
    p.expect_end("ASC, DESC or end of clause")?;
    Ok(OrderKey { ident, ascending })
}

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

/// The values bound to the `?1`, `?2`, ... placeholders of a query being compiled.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bindings {
    /// Values for `?1`, `?2`, ... in order.
    pub params: Vec<SqlValue>,
}

impl Bindings {
    /// Adds a bound value and returns its placeholder.
    pub fn bind(&mut self, v: SqlValue) -> String {
        self.params.push(v);
        format!("?{}", self.params.len())
    }
}

/// The SQL expressions of an identifier: the value to compare and the presence check.
fn value_sql(ident: &Identifier, numeric: bool, q: &mut Bindings) -> String {
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
                format!("COALESCE({v} {sym} {p}, 0)")
            }
            Operator::Like {
                case_insensitive,
                negated,
                pattern,
            } => {
                let v = value_sql(ident, false, q);
                let not = if *negated { "NOT " } else { "" };
                if *case_insensitive {
                    let p = q.bind(SqlValue::Text(pattern.clone()));
                    format!("COALESCE(lower({v}) {not}LIKE lower({p}), 0)")
                } else {
                    let p = q.bind(SqlValue::Text(like_to_glob(pattern)));
                    format!("COALESCE({v} {not}GLOB {p}, 0)")
                }
            }
            Operator::In { negated, values } => {
                let numeric = matches!(values.first(), Some(Literal::Number(_)));
                let v = value_sql(ident, numeric, q);
                let list: Vec<String> = values.iter().map(|l| q.bind(literal_sql(l))).collect();
                let not = if *negated { "NOT " } else { "" };
                format!("COALESCE({v} {not}IN ({}), 0)", list.join(", "))
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

/// A fingerprint of a query, so a page token is only accepted by the query that produced it.
pub fn query_fingerprint(parts: &[&str]) -> u64 {
    // FNV-1a: stable across processes and builds, unlike std's RandomState.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Encodes an offset and a query fingerprint as an opaque page token.
pub fn encode_page_token(offset: usize, fingerprint: u64) -> String {
    let json =
        serde_json::json!({ "offset": offset, "query": format!("{fingerprint:016x}") }).to_string();
    json.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Decodes a page token produced by [`encode_page_token`] for the same query fingerprint.
pub fn decode_page_token(token: &str, fingerprint: u64) -> Result<usize, SearchError> {
    let bad = |why: &str| SearchError::InvalidPageToken(why.to_string());
    if !token.len().is_multiple_of(2) || !token.is_ascii() {
        return Err(bad("not a token produced by search_runs"));
    }
    let bytes: Result<Vec<u8>, _> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&token[i..i + 2], 16))
        .collect();
    let bytes = bytes.map_err(|_| bad("not a token produced by search_runs"))?;
    let v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| bad("not a token produced by search_runs"))?;
    let offset = v
        .get("offset")
        .and_then(|o| o.as_u64())
        .ok_or_else(|| bad("missing offset"))?;
    let query = v.get("query").and_then(|q| q.as_str()).unwrap_or_default();
    if query != format!("{fingerprint:016x}") {
        return Err(bad("the token belongs to a different query"));
    }
    usize::try_from(offset).map_err(|_| bad("offset out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_column(filter: &str) -> (usize, String) {
        match parse_filter(filter) {
            Err(SearchError::Syntax {
                column, expected, ..
            }) => (column, expected),
            other => panic!("expected a syntax error for {filter:?}, got {other:?}"),
        }
    }

    const FIELDS: &[FieldSpec] = &[
        FieldSpec {
            name: "name",
            numeric: false,
        },
        FieldSpec {
            name: "version_number",
            numeric: true,
        },
    ];

    #[test]
    fn entity_filters_use_the_declared_fields() {
        let e = parse_filter_for("name LIKE 'nyc%' AND tags.team = 'ml'", FIELDS)
            .unwrap()
            .unwrap();
        assert_eq!(
            e,
            Expr::And(
                Box::new(Expr::Compare(
                    Identifier::Field("name".into()),
                    Operator::Like {
                        case_insensitive: false,
                        negated: false,
                        pattern: "nyc%".into()
                    }
                )),
                Box::new(Expr::Compare(
                    Identifier::Tag("team".into()),
                    Operator::Compare("=", Literal::Str("ml".into()))
                ))
            )
        );
        let e = parse_filter_for("attributes.VERSION_NUMBER >= 2", FIELDS)
            .unwrap()
            .unwrap();
        assert!(matches!(&e, Expr::Compare(Identifier::Field(f), _) if f == "version_number"));
        for (bad, col) in [
            ("run_name = 'x'", 1),
            ("metrics.loss < 1", 1),
            ("version_number = 'x'", 18),
            ("name = 3", 8),
            ("version_number LIKE 'x'", 16),
        ] {
            match parse_filter_for(bad, FIELDS) {
                Err(SearchError::Syntax { column, .. }) => assert_eq!(column, col, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert!(
            parse_filter("name = 'x'").is_err(),
            "run filters are unchanged"
        );
        let o = parse_order_by_for("version_number DESC", 0, FIELDS).unwrap();
        assert!(!o.ascending);
        let mut b = Bindings::default();
        let col = |i: &Identifier, q: &mut Bindings| match i {
            Identifier::Field(f) => format!("x.{f}"),
            Identifier::Tag(k) => q.bind(SqlValue::Text(k.clone())),
            _ => "NULL".into(),
        };
        let sql = compile_filter_with(&e, &mut b, &col);
        assert_eq!(sql, "COALESCE(x.version_number >= ?1, 0)");
        assert_eq!(b.params, vec![SqlValue::Real(2.0)]);
        let order = compile_order_with(&[o], &mut b, &col, &["x.name ASC"]);
        assert_eq!(
            order,
            "x.version_number IS NULL, x.version_number DESC, x.name ASC"
        );
    }

    #[test]
    fn parses_mlflow_filters() {
        let e = parse_filter("metrics.rmse < 7 and params.penalty = 'l2'")
            .unwrap()
            .unwrap();
        assert_eq!(
            e,
            Expr::And(
                Box::new(Expr::Compare(
                    Identifier::Metric {
                        key: "rmse".into(),
                        stat: MetricStat::Latest
                    },
                    Operator::Compare("<", Literal::Number(7.0))
                )),
                Box::new(Expr::Compare(
                    Identifier::Param("penalty".into()),
                    Operator::Compare("=", Literal::Str("l2".into()))
                ))
            )
        );
    }

    #[test]
    fn quoted_and_dotted_keys() {
        let e = parse_filter("metrics.`val loss` <= 1e-3").unwrap().unwrap();
        assert_eq!(
            e,
            Expr::Compare(
                Identifier::Metric {
                    key: "val loss".into(),
                    stat: MetricStat::Latest
                },
                Operator::Compare("<=", Literal::Number(1e-3))
            )
        );
        let e = parse_filter("tags.hpo.user = 'ann'").unwrap().unwrap();
        assert!(matches!(e, Expr::Compare(Identifier::Tag(k), _) if k == "hpo.user"));
        let e = parse_filter("tags.\"my key\" = 'x'").unwrap().unwrap();
        assert!(matches!(e, Expr::Compare(Identifier::Tag(k), _) if k == "my key"));
        let e = parse_filter("metrics.min.val_loss < 0.1").unwrap().unwrap();
        assert!(matches!(
            e,
            Expr::Compare(Identifier::Metric { stat: MetricStat::Min, ref key }, _) if key == "val_loss"
        ));
        let e = parse_filter("metrics.`min.x` < 0.1").unwrap().unwrap();
        assert!(matches!(
            e,
            Expr::Compare(Identifier::Metric { stat: MetricStat::Latest, ref key }, _) if key == "min.x"
        ));
        let e = parse_filter("metrics.min = 1").unwrap().unwrap();
        assert!(matches!(
            e,
            Expr::Compare(Identifier::Metric { stat: MetricStat::Latest, ref key }, _) if key == "min"
        ));
        let e = parse_filter("metrics.layer2.acc > 1").unwrap().unwrap();
        assert!(matches!(
            e,
            Expr::Compare(Identifier::Metric { ref key, .. }, _) if key == "layer2.acc"
        ));
    }

    #[test]
    fn error_positions() {
        let (col, expected) = err_column("metrics.rmse < 7 foo");
        assert_eq!((col, expected.as_str()), (18, "AND, OR or end of input"));
        let (col, expected) = err_column("params.lr foo 1");
        assert_eq!(col, 11);
        assert_eq!(expected, OPERATORS);
        let msg = parse_filter("params.lr foo 1").unwrap_err().to_string();
        assert_eq!(
            msg,
            "invalid filter at column 11: expected a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, IS), found 'foo'"
        );
        assert_eq!(err_column("metrics.rmse < 'x'").0, 16);
        assert_eq!(err_column("bogus = 1").0, 1);
        assert_eq!(err_column("metrics.a < 1 and (metrics.b > 2").0, 33);
        assert_eq!(err_column("params.a = 'unterminated").0, 12);
        assert_eq!(err_column("metrics.a <").0, 12);
        assert_eq!(err_column("tags.t = 5").0, 10);
        assert_eq!(err_column("status = 1").0, 10);
        assert_eq!(err_column("start_time LIKE 'x'").0, 12);
        assert_eq!(err_column("params.a IN ('x', 1)").0, 19);
        assert_eq!(err_column("params.a IS 5").0, 13);
        assert_eq!(err_column("metrics. = 1").0, 10);
        assert_eq!(err_column("a ~ 1").0, 3);
    }

    #[test]
    fn never_panics_on_junk() {
        let junk = [
            "",
            " ",
            "(",
            ")",
            "((((",
            "not",
            "not not",
            "and",
            "metrics",
            "metrics.",
            "metrics.x",
            "metrics.x <",
            "metrics.x < 1 and",
            "in (",
            "params.a in (",
            "params.a in ()",
            "params.a in ('x',",
            "'",
            "`",
            "\"",
            "1e",
            "-",
            "--1",
            "..",
            "é = 'ü'",
            "params.é = 'ü'",
            "metrics.x < 1e400",
            "\u{0}",
            "params.a is not",
            "params.a not",
            "params.a not foo 'x'",
        ];
        for j in junk {
            let _ = parse_filter(j);
            let _ = parse_order_by(j, 0);
        }
        let deep = "(".repeat(10_000) + "status = 'x'" + &")".repeat(10_000);
        assert!(parse_filter(&deep).is_err());
        let nots = "not ".repeat(10_000) + "status = 'x'";
        assert!(parse_filter(&nots).is_err());
    }

    #[test]
    fn order_by_clauses() {
        assert_eq!(
            parse_order_by("metrics.rmse ASC", 0).unwrap(),
            OrderKey {
                ident: Identifier::Metric {
                    key: "rmse".into(),
                    stat: MetricStat::Latest
                },
                ascending: true
            }
        );
        assert!(!parse_order_by("params.lr desc", 0).unwrap().ascending);
        assert!(
            parse_order_by("attributes.start_time", 0)
                .unwrap()
                .ascending
        );
        match parse_order_by("metrics.rmse upward", 2) {
            Err(SearchError::Syntax { clause, column, .. }) => {
                assert_eq!((clause.as_str(), column), ("order_by[2]", 14))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn values_are_bound_not_inlined() {
        let e = parse_filter("params.a = 'x''; DROP TABLE runs; --'")
            .unwrap()
            .unwrap();
        let mut q = Bindings::default();
        let sql = compile_filter(&e, &mut q);
        assert!(!sql.contains("DROP"));
        assert_eq!(q.params.len(), 2);
    }

    #[test]
    fn param_classes_a_filter_rules_out() {
        use ParamClass::{Missing, Number, Text};
        let classes = |filter: &str| -> Vec<ParamClass> {
            let e = parse_filter(filter).unwrap().unwrap();
            [Number, Text, Missing]
                .into_iter()
                .filter(|c| may_hold_for_param(&e, "p", *c))
                .collect()
        };
        assert_eq!(classes("params.p > 1"), [Number]);
        assert_eq!(classes("params.p NOT IN (1, 2)"), [Number]);
        assert_eq!(classes("params.p = 'x'"), [Number, Text]);
        assert_eq!(classes("params.p NOT LIKE 'x%'"), [Number, Text]);
        assert_eq!(classes("params.p IS NOT NULL"), [Number, Text]);
        assert_eq!(classes("params.p IS NULL"), [Missing]);
        assert_eq!(classes("params.p > 1 AND metrics.m < 2"), [Number]);
        assert_eq!(classes("params.p > 1 OR params.p = 'x'"), [Number, Text]);
        assert_eq!(
            classes("params.p > 1 OR tags.t = 'x'"),
            [Number, Text, Missing]
        );
        assert_eq!(classes("NOT params.p > 1"), [Number, Text, Missing]);
        assert_eq!(classes("params.q > 1"), [Number, Text, Missing]);
        assert_eq!(classes("params.p > 1 AND params.p IS NULL"), []);
    }

    #[test]
    fn param_bounds_are_the_top_level_comparisons() {
        let bounds = |filter: &str| -> Vec<(&'static str, Literal)> {
            let e = parse_filter(filter).unwrap().unwrap();
            param_bounds(&e, "p")
                .into_iter()
                .map(|(sym, lit)| (sym, lit.clone()))
                .collect()
        };
        assert_eq!(
            bounds("params.p >= 1 AND metrics.m < 2 AND (params.p < 'z' AND params.q = 3)"),
            [
                (">=", Literal::Number(1.0)),
                ("<", Literal::Str("z".into()))
            ]
        );
        assert!(bounds("params.p != 1").is_empty());
        assert!(bounds("params.p > 1 OR params.p < 0").is_empty());
        assert!(bounds("NOT params.p > 1").is_empty());
        assert!(bounds("params.p IN (1, 2)").is_empty());
    }

    #[test]
    fn like_patterns() {
        assert_eq!(like_to_glob("ab%c_"), "ab*c?");
        assert_eq!(like_to_glob("a*b?[c"), "a[*]b[?][[]c");
    }

    #[test]
    fn page_tokens() {
        let t = encode_page_token(40, 7);
        assert_eq!(decode_page_token(&t, 7), Ok(40));
        assert!(decode_page_token(&t, 8).is_err());
        assert!(decode_page_token("zz", 7).is_err());
        assert!(decode_page_token("abc", 7).is_err());
        assert!(decode_page_token("é1", 7).is_err());
    }
}
