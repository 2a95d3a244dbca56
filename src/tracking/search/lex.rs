//! The tokenizer of filter and order_by clauses.

use std::fmt;

use super::error::{syntax, SearchError};

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
