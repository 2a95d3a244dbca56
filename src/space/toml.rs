//! Search spaces written in TOML, the `[space]` table of a run file.
//!
//! A parameter is a table with exactly one distribution key (hyperopt's twelve names) whose value
//! is the array of positional arguments, plus optional `int = true` (quantized distributions
//! only) and `label = "..."` (default: the key). Any other table is a nested map; any other value
//! is a constant that passes through to the objective.
//!
//! ```toml
//! max_depth = { quniform = [4, 100, 1], int = true }
//! learning_rate = { loguniform = [-3, 0] }
//! penalty = { choice = ["l1", "l2"] }
//! weights = { pchoice = [[0.3, "balanced"], [0.7, "none"]] }
//! model = { choice = [{ type = "svm", C = { loguniform = [-4, 2] } },
//!                     { type = "tree", depth = { uniformint = [2, 20] } }] }
//! ```
//!
//! Every error and warning carries the byte range of the offending value in the source
//! ([`Located`]), so callers can report `file:line:column`.

use std::borrow::Cow;
use std::ops::Range;

use ::toml::de::{DeTable, DeValue};
use ::toml::Spanned;

use super::{Dist, Node, Space, SpaceError, Value};

/// The twelve distribution names a parameter table may use, in the order error messages list them.
pub const DISTRIBUTIONS: [&str; 12] = [
    "choice",
    "pchoice",
    "uniform",
    "quniform",
    "loguniform",
    "qloguniform",
    "normal",
    "qnormal",
    "lognormal",
    "qlognormal",
    "randint",
    "uniformint",
];

/// A message about a byte range of the TOML source (an error or a warning).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    /// Byte range of the offending value in the source text.
    pub span: Range<usize>,
    /// What is wrong and what would be valid.
    pub message: String,
}

impl Located {
    /// A message about `span`.
    pub fn new(span: Range<usize>, message: impl Into<String>) -> Self {
        Located {
            span,
            message: message.into(),
        }
    }
}

/// Where a parameter is defined in the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Definition {
    /// The parameter's label.
    pub label: String,
    /// Byte range of the whole parameter table.
    pub span: Range<usize>,
    /// Byte range of the distribution's argument array.
    pub args_span: Range<usize>,
}

/// A space read from TOML: the validated space, where each parameter is defined, and warnings
/// about likely mistakes.
#[derive(Clone, Debug)]
pub struct TomlSpace {
    /// The validated space.
    pub space: Space,
    /// Every parameter definition in document order (a re-used label appears once per use).
    pub definitions: Vec<Definition>,
    /// Likely mistakes that do not make the space invalid.
    pub warnings: Vec<Located>,
}

impl TomlSpace {
    /// The first definition of `label`.
    pub fn definition(&self, label: &str) -> Option<&Definition> {
        self.definitions.iter().find(|d| d.label == label)
    }
}

/// Read a space from a TOML document whose top-level table is the space itself.
pub fn parse_space(text: &str) -> Result<TomlSpace, Located> {
    let doc = DeTable::parse(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        Located::new(span, format!("TOML syntax error: {}", e.message().trim()))
    })?;
    space_from_table(doc.get_ref(), doc.span(), text)
}

/// The 1-based line and column (in characters) of byte `offset` of `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// Read a space from a parsed TOML table (e.g. a run file's `[space]`) whose source spans
/// `span`; `source` is the whole document text (for cross-references in messages).
pub fn space_from_table(
    table: &DeTable<'_>,
    span: Range<usize>,
    source: &str,
) -> Result<TomlSpace, Located> {
    let mut b = Builder {
        source,
        defs: Vec::new(),
        warnings: Vec::new(),
    };
    let root = b.map(table)?;
    if b.defs.is_empty() {
        return Err(Located::new(
            span,
            "the space defines no parameter; add one such as x = { uniform = [0, 1] }",
        ));
    }
    let space = Space::new(root).map_err(|e| b.locate(e))?;
    Ok(TomlSpace {
        space,
        definitions: b.defs.into_iter().map(|(d, _)| d).collect(),
        warnings: b.warnings,
    })
}

/// The entries of a table in document order (toml sorts them by key).
pub(crate) fn entries<'a, 'i>(
    table: &'a DeTable<'i>,
) -> Vec<(&'a Spanned<Cow<'i, str>>, &'a Spanned<DeValue<'i>>)> {
    let mut v: Vec<_> = table.iter().collect();
    v.sort_by_key(|(k, _)| k.span().start);
    v
}

/// An integer value, or an explanation of why the value is not one.
pub(crate) fn integer(v: &Spanned<DeValue<'_>>) -> Option<Result<i64, Located>> {
    match v.get_ref() {
        DeValue::Integer(i) => Some(i64::from_str_radix(i.as_str(), i.radix()).map_err(|_| {
            Located::new(
                v.span(),
                format!(
                    "integer {i} is out of range; expected a value in [{}, {}]",
                    i64::MIN,
                    i64::MAX
                ),
            )
        })),
        _ => None,
    }
}

/// A number (TOML integer or float) as `f64`.
pub(crate) fn number(v: &Spanned<DeValue<'_>>) -> Option<Result<f64, Located>> {
    match v.get_ref() {
        DeValue::Integer(_) => integer(v).map(|r| r.map(|i| i as f64)),
        DeValue::Float(f) => Some(parse_float(f.as_str()).ok_or_else(|| {
            Located::new(v.span(), format!("cannot read the float {}", f.as_str()))
        })),
        _ => None,
    }
}

fn parse_float(s: &str) -> Option<f64> {
    match s.trim_start_matches('+') {
        "nan" | "-nan" => Some(f64::NAN),
        "inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

/// "string", "integer", "array", ... for messages.
pub(crate) fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn usage(dist: &str) -> &'static str {
    match dist {
        "choice" => "choice = [option, ...]",
        "pchoice" => "pchoice = [[probability, option], ...]",
        "uniform" => "uniform = [low, high]",
        "quniform" => "quniform = [low, high, q]",
        "loguniform" => "loguniform = [low, high] (natural-log exponents)",
        "qloguniform" => "qloguniform = [low, high, q] (low and high are natural-log exponents)",
        "normal" => "normal = [mu, sigma]",
        "qnormal" => "qnormal = [mu, sigma, q]",
        "lognormal" => "lognormal = [mu, sigma]",
        "qlognormal" => "qlognormal = [mu, sigma, q]",
        "randint" => "randint = [low, high] (integers, high excluded) or randint = [high]",
        _ => "uniformint = [low, high] (integers, both included)",
    }
}

fn is_quantized(dist: &str) -> bool {
    matches!(dist, "quniform" | "qloguniform" | "qnormal" | "qlognormal")
}

/// Levenshtein distance, for recognising misspelt distribution names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// `key` lower-cased without `_` and `-`, the form misspellings are compared in.
fn normalized(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// True if `key` looks like a misspelt or shortened distribution name (`loguniforn`,
/// `log_uniform`, `Normal`, `logunif`).
fn looks_like_distribution(key: &str) -> bool {
    let norm = normalized(key);
    norm.len() >= 4
        && DISTRIBUTIONS
            .iter()
            .any(|d| edit_distance(&norm, d) <= 2 || d.starts_with(norm.as_str()))
}

/// True if distribution `dist` takes `n` positional numbers.
fn takes(dist: &str, n: usize) -> bool {
    match dist {
        "choice" | "pchoice" => false,
        "randint" => n == 1 || n == 2,
        d if is_quantized(d) => n == 3,
        _ => n == 2,
    }
}

/// The distribution name closest to `key`: a name `key` abbreviates first, then the smallest
/// edit distance, preferring names that take `arity` numbers (None: any).
fn closest_distribution(key: &str, arity: Option<usize>) -> &'static str {
    let norm = normalized(key);
    DISTRIBUTIONS
        .iter()
        .min_by_key(|d| {
            let prefix = norm.len() >= 4 && d.starts_with(norm.as_str());
            let fits = arity.is_none_or(|n| takes(d, n));
            (!prefix, edit_distance(&norm, d), !fits)
        })
        .copied()
        .unwrap_or("uniform")
}

/// The numbers of an array holding only numbers (TOML integers and floats), else None.
fn all_numbers(v: &DeValue<'_>) -> Option<usize> {
    match v {
        DeValue::Array(a)
            if a.iter()
                .all(|e| matches!(e.get_ref(), DeValue::Integer(_) | DeValue::Float(_))) =>
        {
            Some(a.len())
        }
        _ => None,
    }
}

/// `ln` rounded to one decimal, printed without a trailing `.0`.
fn ln_text(x: f64) -> String {
    let r = (x.ln() * 10.0).round() / 10.0;
    if r == 0.0 {
        "0".into()
    } else {
        format!("{r}")
    }
}

struct Builder<'s> {
    source: &'s str,
    defs: Vec<(Definition, Node)>,
    warnings: Vec<Located>,
}

impl Builder<'_> {
    /// A table without a distribution key: a nested map.
    fn map(&mut self, table: &DeTable<'_>) -> Result<Node, Located> {
        let mut items = Vec::new();
        for (k, v) in entries(table) {
            items.push((k.get_ref().to_string(), self.value(v, Some(k.get_ref()))?));
        }
        Ok(Node::Map(items))
    }

    /// Any value of the space: a constant, an array, a nested map or a parameter. `key` is the
    /// key it is stored under (the default label of a parameter), None inside arrays.
    fn value(&mut self, v: &Spanned<DeValue<'_>>, key: Option<&str>) -> Result<Node, Located> {
        Ok(match v.get_ref() {
            DeValue::String(s) => Node::Const(Value::Str(s.to_string())),
            DeValue::Integer(_) => Node::Const(Value::Int(integer(v).expect("integer")?)),
            DeValue::Float(_) => Node::Const(Value::Float(number(v).expect("float")?)),
            DeValue::Boolean(b) => Node::Const(Value::Bool(*b)),
            DeValue::Datetime(_) => {
                return Err(Located::new(
                    v.span(),
                    "datetimes are not supported in a space; write the value as a string",
                ))
            }
            DeValue::Array(a) => {
                let nodes = a
                    .iter()
                    .map(|e| self.value(e, None))
                    .collect::<Result<Vec<_>, _>>()?;
                if nodes.iter().all(|n| matches!(n, Node::Const(_))) {
                    Node::Const(Value::List(
                        nodes
                            .into_iter()
                            .map(|n| match n {
                                Node::Const(c) => c,
                                _ => unreachable!(),
                            })
                            .collect(),
                    ))
                } else {
                    Node::List(nodes)
                }
            }
            DeValue::Table(t) => self.table(t, v.span(), key)?,
        })
    }

    fn table(
        &mut self,
        t: &DeTable<'_>,
        span: Range<usize>,
        key: Option<&str>,
    ) -> Result<Node, Located> {
        let entries = entries(t);
        let dists: Vec<_> = entries
            .iter()
            .filter(|(k, _)| DISTRIBUTIONS.contains(&k.get_ref().as_ref()))
            .collect();
        match dists.as_slice() {
            [] => {
                let what = match key {
                    Some(key) => format!("'{key}'"),
                    None => "a parameter".to_string(),
                };
                for (k, v) in &entries {
                    if matches!(v.get_ref(), DeValue::Array(_)) && looks_like_distribution(k.get_ref()) {
                        return Err(Located::new(
                            span,
                            format!(
                                "unknown distribution '{}' for {what}: did you mean {}? Expected one of {}",
                                k.get_ref(),
                                closest_distribution(k.get_ref(), all_numbers(v.get_ref())),
                                DISTRIBUTIONS.join(", ")
                            ),
                        ));
                    }
                }
                if let [(k, v)] = entries.as_slice() {
                    if let Some(n @ 2..=4) = all_numbers(v.get_ref()) {
                        return Err(Located::new(
                            span,
                            format!(
                                "{what} is a table whose only key '{}' holds {n} numbers, which reads as a parameter with an unknown distribution: did you mean {}? Expected one of {} (a map of one numeric array is not accepted as a constant, to catch misspelt distributions)",
                                k.get_ref(),
                                closest_distribution(k.get_ref(), Some(n)),
                                DISTRIBUTIONS.join(", ")
                            ),
                        ));
                    }
                }
                self.map(t)
            }
            [(dk, dv)] => self.param(&entries, span, key, dk.get_ref(), dv),
            [(a, _), (b, _), ..] => Err(Located::new(
                b.span(),
                format!(
                    "a parameter has exactly one distribution, but this table has both '{}' and '{}'",
                    a.get_ref(),
                    b.get_ref()
                ),
            )),
        }
    }

    fn param(
        &mut self,
        entries: &[(&Spanned<Cow<'_, str>>, &Spanned<DeValue<'_>>)],
        span: Range<usize>,
        key: Option<&str>,
        dist: &str,
        args: &Spanned<DeValue<'_>>,
    ) -> Result<Node, Located> {
        let mut label = key.map(str::to_string);
        let mut int = None;
        for (k, v) in entries {
            match k.get_ref().as_ref() {
                "label" => {
                    match v.get_ref() {
                        DeValue::String(s) if !s.is_empty() => label = Some(s.to_string()),
                        DeValue::String(_) => return Err(Located::new(
                            v.span(),
                            "label must not be empty; give a unique name such as label = \"lr\"",
                        )),
                        other => {
                            return Err(Located::new(
                                v.span(),
                                format!("label must be a string, got {}", type_name(other)),
                            ))
                        }
                    }
                }
                "int" => match v.get_ref() {
                    DeValue::Boolean(b) => int = Some((*b, v.span())),
                    other => {
                        return Err(Located::new(
                            v.span(),
                            format!("int must be true or false, got {}", type_name(other)),
                        ))
                    }
                },
                k2 if k2 == dist => {}
                other => {
                    let who = label.as_deref().or(key).unwrap_or(dist);
                    return Err(Located::new(
                        k.span(),
                        format!(
                            "unknown key '{other}' in parameter '{who}'; expected only the distribution key ({dist}) plus optional int and label"
                        ),
                    ));
                }
            }
        }
        let Some(label) = label else {
            return Err(Located::new(
                span,
                format!(
                    "a '{dist}' parameter inside an array or choice needs a label: add label = \"...\""
                ),
            ));
        };
        let arr = match args.get_ref() {
            DeValue::Array(a) => a,
            other => {
                return Err(Located::new(
                    args.span(),
                    format!(
                        "the arguments of '{label}' must be an array: {}; got {}",
                        usage(dist),
                        type_name(other)
                    ),
                ))
            }
        };
        let args_span = args.span();
        let (int_flag, int_span) = match int {
            Some((b, s)) => (b, s),
            None => (false, span.clone()),
        };
        if int_flag && !is_quantized(dist) {
            return Err(Located::new(
                int_span,
                format!(
                    "parameter '{label}': int = true applies only to quantized distributions (quniform, qloguniform, qnormal, qlognormal), not {dist}{}",
                    if matches!(dist, "uniform") { "; use quniform = [low, high, 1] with int = true, or uniformint" } else { "" }
                ),
            ));
        }

        let nums = |expected: &[usize]| -> Result<Vec<f64>, Located> {
            if !expected.contains(&arr.len()) {
                return Err(Located::new(
                    args_span.clone(),
                    format!(
                        "'{dist}' for '{label}' takes {} number{}: {}; got {} value{}",
                        expected
                            .iter()
                            .map(|n| n.to_string())
                            .collect::<Vec<_>>()
                            .join(" or "),
                        if expected == [1] { "" } else { "s" },
                        usage(dist),
                        arr.len(),
                        if arr.len() == 1 { "" } else { "s" }
                    ),
                ));
            }
            arr.iter()
                .map(|e| {
                    number(e).unwrap_or_else(|| {
                        Err(Located::new(
                            e.span(),
                            format!(
                                "'{dist}' for '{label}' takes numbers: {}; got {}",
                                usage(dist),
                                type_name(e.get_ref())
                            ),
                        ))
                    })
                })
                .collect()
        };
        let ints = |expected: &[usize]| -> Result<Vec<i64>, Located> {
            nums(expected)?;
            arr.iter()
                .map(|e| {
                    integer(e).unwrap_or_else(|| {
                        Err(Located::new(
                            e.span(),
                            format!(
                                "'{dist}' for '{label}' takes integers: {}; got {}",
                                usage(dist),
                                type_name(e.get_ref())
                            ),
                        ))
                    })
                })
                .collect()
        };

        let d = match dist {
            "choice" => {
                if arr.is_empty() {
                    return Err(Located::new(
                        args_span,
                        format!("parameter '{label}': a choice needs at least one option: choice = [option, ...]"),
                    ));
                }
                let opts = arr
                    .iter()
                    .map(|o| self.value(o, None))
                    .collect::<Result<Vec<_>, _>>()?;
                if opts.len() == 1 {
                    self.warnings.push(Located::new(
                        span.clone(),
                        format!("parameter '{label}': a choice with a single option always yields it; write the option as a constant instead"),
                    ));
                }
                Dist::Choice(opts)
            }
            "pchoice" => {
                if arr.is_empty() {
                    return Err(Located::new(
                        args_span,
                        format!(
                            "parameter '{label}': a pchoice needs at least one option: {}",
                            usage(dist)
                        ),
                    ));
                }
                let mut opts = Vec::new();
                for e in arr.iter() {
                    let pair = match e.get_ref() {
                        DeValue::Array(p) if p.len() == 2 => p,
                        _ => {
                            return Err(Located::new(
                                e.span(),
                                format!(
                                    "each option of pchoice '{label}' must be a pair [probability, option], e.g. [0.3, \"balanced\"]"
                                ),
                            ))
                        }
                    };
                    let p = number(&pair[0]).unwrap_or_else(|| {
                        Err(Located::new(
                            pair[0].span(),
                            format!(
                                "the probability of a pchoice '{label}' option must be a number in [0, 1], got {}",
                                type_name(pair[0].get_ref())
                            ),
                        ))
                    })?;
                    opts.push((p, self.value(&pair[1], None)?));
                }
                Dist::PChoice(opts)
            }
            "uniform" | "loguniform" | "normal" | "lognormal" => {
                let v = nums(&[2])?;
                let (a, b) = (v[0], v[1]);
                match dist {
                    "uniform" => Dist::Uniform { low: a, high: b },
                    "loguniform" => Dist::LogUniform { low: a, high: b },
                    "normal" => Dist::Normal { mu: a, sigma: b },
                    _ => Dist::LogNormal { mu: a, sigma: b },
                }
            }
            "quniform" | "qloguniform" | "qnormal" | "qlognormal" => {
                let v = nums(&[3])?;
                let (a, b, q) = (v[0], v[1], v[2]);
                match dist {
                    "quniform" => Dist::QUniform { low: a, high: b, q },
                    "qloguniform" => Dist::QLogUniform { low: a, high: b, q },
                    "qnormal" => Dist::QNormal { mu: a, sigma: b, q },
                    _ => Dist::QLogNormal { mu: a, sigma: b, q },
                }
            }
            "randint" => {
                let v = ints(&[1, 2])?;
                if v.len() == 1 {
                    Dist::RandInt { low: 0, high: v[0] }
                } else {
                    Dist::RandInt {
                        low: v[0],
                        high: v[1],
                    }
                }
            }
            _ => {
                let v = ints(&[2])?;
                Dist::UniformInt {
                    low: v[0],
                    high: v[1],
                }
            }
        };
        let node = Node::Param {
            label: label.clone(),
            dist: d.clone(),
            int: int_flag,
        };
        self.defs.push((
            Definition {
                label: label.clone(),
                span: span.clone(),
                args_span: args_span.clone(),
            },
            node.clone(),
        ));
        Space::new(node.clone()).map_err(|e| self.locate(e))?;
        self.warn(&label, &d, int_flag, span);
        Ok(node)
    }

    fn warn(&mut self, label: &str, d: &Dist, int: bool, span: Range<usize>) {
        match *d {
            Dist::LogUniform { low, high } | Dist::QLogUniform { low, high, .. }
                if low > 0.0 && low < 1.0 && high > low && high <= 1000.0 =>
            {
                self.warnings.push(Located::new(
                    span,
                    format!(
                        "parameter '{label}': {} bounds [{low}, {high}] look like linear values, but bounds are natural-log exponents (this samples e^{low}..e^{high}): did you mean [{}, {}]?",
                        d.name(),
                        ln_text(low),
                        ln_text(high)
                    ),
                ));
            }
            Dist::QUniform { low, high, q }
                if !int && [low, high, q].iter().all(|x| x.fract() == 0.0) =>
            {
                self.warnings.push(Located::new(
                    span,
                    format!(
                        "parameter '{label}': quniform [{low}, {high}, {q}] yields floats ({low}.0, ...); add int = true for integer values"
                    ),
                ));
            }
            _ => {}
        }
    }

    /// Map a space error back to the definition of the label it names.
    fn locate(&self, e: SpaceError) -> Located {
        let label = match &e {
            SpaceError::EmptyLabel => None,
            SpaceError::DuplicateLabel(l)
            | SpaceError::UnknownLabel(l)
            | SpaceError::MissingValue(l) => Some(l.as_str()),
            SpaceError::Bounds { label, .. }
            | SpaceError::Step { label, .. }
            | SpaceError::IntStep { label, .. }
            | SpaceError::IntWithoutStep { label, .. }
            | SpaceError::Sigma { label, .. }
            | SpaceError::EmptyChoice { label }
            | SpaceError::Probability { label, .. }
            | SpaceError::ProbabilitySum { label, .. }
            | SpaceError::NotFinite { label, .. }
            | SpaceError::LogRange { label, .. }
            | SpaceError::EmptyGrid { label, .. }
            | SpaceError::Unsampleable { label, .. }
            | SpaceError::InvalidValue { label, .. } => Some(label.as_str()),
        };
        let defs: Vec<_> = self
            .defs
            .iter()
            .filter(|(d, _)| Some(d.label.as_str()) == label)
            .collect();
        match (&e, defs.as_slice()) {
            (SpaceError::DuplicateLabel(l), [first, rest @ ..]) => {
                let other = rest.iter().find(|(_, n)| *n != first.1).unwrap_or(first);
                let (line, col) = line_col(self.source, first.0.span.start);
                Located::new(
                    other.0.span.clone(),
                    format!(
                        "label '{l}' is already used by a different parameter (defined at line {line}, column {col}); labels must be unique: rename one or set label = \"...\""
                    ),
                )
            }
            (_, [.., last]) => Located::new(last.0.args_span.clone(), e.to_string()),
            _ => Located::new(0..0, e.to_string()),
        }
    }
}
