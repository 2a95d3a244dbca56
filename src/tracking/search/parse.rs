//! The recursive-descent parser: tokens to an [`Expr`] tree or [`OrderKey`]s.

use super::ast::{Attribute, Expr, FieldSpec, Identifier, Literal, MetricStat, Operator, OrderKey};
use super::error::{syntax, SearchError};
use super::lex::{tokenize, Token, TokenKind};

/// Maximum nesting of parentheses and NOT, so hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 64;

/// Maximum number of comparisons in one filter: each AND/OR adds a level to SQLite's expression
/// tree, whose depth is limited to 1000 (999 `and`-ed comparisons fail; 500 leave room for the
/// conditions the store adds and for nesting).
pub const MAX_COMPARISONS: usize = 500;

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

pub(super) const OPERATORS: &str =
    "a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, IS)";
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
