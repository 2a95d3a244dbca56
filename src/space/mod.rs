//! What can be searched: a tree of constants, maps, lists and labelled parameters.
//!
//! A [`Node`] tree is built with the [`hp`] functions (hyperopt's vocabulary) and compiled into a
//! [`Space`], which validates every distribution (each error names its label) and numbers the
//! parameters in depth-first order, so a choice always comes before the parameters of its
//! branches. A parameter inside an unchosen branch is inactive: absent from the trial.
//!
//! The same label may appear in several places only with the same definition; it is then one
//! shared parameter (hyperopt's re-used node).

pub mod dist;
pub mod hp;
pub mod size;
pub mod toml;
pub mod value;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

pub use dist::{Dist, Numeric, ParamKind};
pub use value::{Assignment, ParamError, Params, Value};

/// A node of a search-space tree.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// A constant that passes through to the objective unchanged.
    Const(Value),
    /// A map of named sub-nodes (hyperopt's dict).
    Map(Vec<(String, Node)>),
    /// A list of sub-nodes.
    List(Vec<Node>),
    /// A labelled parameter drawn from a distribution.
    Param {
        /// The parameter's unique label.
        label: String,
        /// Its distribution.
        dist: Dist,
        /// True if its values are integers (quantized distributions only).
        int: bool,
    },
}

impl Node {
    /// Mark a quantized parameter as integer-valued (`quniform(1, 10, 1).int()` yields `Int`).
    /// On anything but a quantized distribution this makes the space invalid.
    pub fn int(self) -> Node {
        match self {
            Node::Param { label, dist, .. } => Node::Param {
                label,
                dist,
                int: true,
            },
            other => other,
        }
    }
}

impl<T: Into<Value>> From<T> for Node {
    fn from(v: T) -> Self {
        Node::Const(v.into())
    }
}

/// Why a space is invalid. Every variant names the parameter's label.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpaceError {
    /// A parameter without a label.
    #[error("a parameter has an empty label: every parameter needs a unique, non-empty label")]
    EmptyLabel,
    /// Two different parameters share a label.
    #[error("label '{0}' is used by two different parameters: labels must be unique (the same definition may be re-used)")]
    DuplicateLabel(String),
    /// `low >= high`.
    #[error("parameter '{label}': low ({low}) must be less than high ({high})")]
    Bounds {
        /// The parameter's label.
        label: String,
        /// The lower bound given.
        low: f64,
        /// The upper bound given.
        high: f64,
    },
    /// A non-positive step.
    #[error("parameter '{label}': q must be > 0, got {q}")]
    Step {
        /// The parameter's label.
        label: String,
        /// The step given.
        q: f64,
    },
    /// An integer parameter with a fractional step.
    #[error("parameter '{label}': an integer parameter needs an integer q, got {q}")]
    IntStep {
        /// The parameter's label.
        label: String,
        /// The step given.
        q: f64,
    },
    /// `int` on a distribution that is not quantized.
    #[error("parameter '{label}': only quantized distributions (quniform, qloguniform, qnormal, qlognormal) can be marked int, not {dist}")]
    IntWithoutStep {
        /// The parameter's label.
        label: String,
        /// The distribution's name.
        dist: &'static str,
    },
    /// A non-positive standard deviation.
    #[error("parameter '{label}': sigma must be > 0, got {sigma}")]
    Sigma {
        /// The parameter's label.
        label: String,
        /// The sigma given.
        sigma: f64,
    },
    /// A choice without options.
    #[error("parameter '{label}': a choice needs at least one option")]
    EmptyChoice {
        /// The parameter's label.
        label: String,
    },
    /// A pchoice probability outside [0, 1].
    #[error("parameter '{label}': probability #{index} is {p}, must be in [0, 1]")]
    Probability {
        /// The parameter's label.
        label: String,
        /// Which option.
        index: usize,
        /// The probability given.
        p: f64,
    },
    /// pchoice probabilities that do not sum to 1.
    #[error("parameter '{label}': the probabilities sum to {sum}, they must sum to 1")]
    ProbabilitySum {
        /// The parameter's label.
        label: String,
        /// Their sum.
        sum: f64,
    },
    /// A NaN or infinite argument.
    #[error("parameter '{label}': {field} must be a finite number, got {value}")]
    NotFinite {
        /// The parameter's label.
        label: String,
        /// Which argument.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// Log bounds too large to exponentiate.
    #[error("parameter '{label}': log bounds [{low}, {high}] are natural-log exponents and must lie within [-700, 700] (did you mean [ln(low), ln(high)]?)")]
    LogRange {
        /// The parameter's label.
        label: String,
        /// Lower exponent.
        low: f64,
        /// Upper exponent.
        high: f64,
    },
    /// No multiple of q inside the bounds.
    #[error("parameter '{label}': no multiple of q = {q} lies in [{low}, {high}]")]
    EmptyGrid {
        /// The parameter's label.
        label: String,
        /// Lower bound (raw space).
        low: f64,
        /// Upper bound (raw space).
        high: f64,
        /// The step.
        q: f64,
    },
    /// A distribution whose values or draws would overflow to infinity, or whose grid or
    /// integers a float cannot hold exactly (see [`dist`]'s "Numeric limits").
    #[error("parameter '{label}': {dist} cannot be sampled finitely and exactly: {reason}")]
    Unsampleable {
        /// The parameter's label.
        label: String,
        /// The distribution's name.
        dist: &'static str,
        /// What overflows, and what would be valid.
        reason: String,
    },
    /// A value given for a label that the space does not have.
    #[error("no parameter labelled '{0}' in the search space")]
    UnknownLabel(String),
    /// A value that the parameter cannot take.
    #[error("parameter '{label}': {value} is not a valid value; expected {expected}")]
    InvalidValue {
        /// The parameter's label.
        label: String,
        /// The value given.
        value: String,
        /// What would be valid.
        expected: String,
    },
    /// An active parameter with no value in a given point.
    #[error("parameter '{0}' is active in this point but has no value")]
    MissingValue(String),
}

/// A compiled parameter: its label, how algorithms see it, and its definition.
#[derive(Clone, Debug)]
pub struct ParamSpec {
    /// The label.
    pub label: String,
    /// The distribution's kind as the algorithms see it.
    pub kind: ParamKind,
    /// hyperopt's name of the distribution (`uniform`, `choice`, ...).
    pub dist_name: &'static str,
    /// The choice (parameter index, option index) this parameter sits under, if any (the
    /// innermost one, for its first occurrence).
    pub parent: Option<(usize, usize)>,
}

#[derive(Debug)]
pub(crate) struct SpaceInner {
    pub(crate) root: Node,
    pub(crate) params: Vec<ParamSpec>,
    pub(crate) by_label: HashMap<String, usize>,
    /// For each choice parameter, its option nodes (None for numeric parameters).
    pub(crate) options: Vec<Option<Vec<Node>>>,
    /// For each choice parameter, its compiled options (empty for numeric parameters).
    choices: Vec<Vec<CNode>>,
    /// Compiled tree: the root with parameters replaced by their indices.
    tree: CNode,
}

#[derive(Debug)]
enum CNode {
    Const(Value),
    Map(Vec<(String, CNode)>),
    List(Vec<CNode>),
    /// A numeric or randint parameter: its index and whether its values are integers.
    Param(usize, bool),
    /// A choice parameter; its options are in `SpaceInner::choices[index]`.
    Choice(usize),
}

/// A validated search space. Cheap to clone (shared).
#[derive(Clone)]
pub struct Space {
    pub(crate) inner: Arc<SpaceInner>,
}

impl fmt::Debug for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Space")
            .field("params", &self.inner.params)
            .finish()
    }
}

impl fmt::Display for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.root {
            Node::Map(items) => {
                for (k, n) in items {
                    writeln!(f, "{k} = {}", node_text(n, Some(k)))?;
                }
                Ok(())
            }
            other => writeln!(f, "{}", node_text(other, None)),
        }
    }
}

fn const_text(v: &Value) -> String {
    match v {
        Value::Str(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// One-line text of a node: `loguniform(-7, 0)`, `choice("l1", "l2")`, `{type = "svm", ...}`.
fn node_text(node: &Node, key: Option<&str>) -> String {
    match node {
        Node::Const(v) => const_text(v),
        Node::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|n| node_text(n, None))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Node::Map(items) => format!(
            "{{{}}}",
            items
                .iter()
                .map(|(k, n)| format!("{k} = {}", node_text(n, Some(k))))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Node::Param { label, dist, int } => {
            let args = match dist {
                Dist::Choice(o) => o.iter().map(|n| node_text(n, None)).collect::<Vec<_>>(),
                Dist::PChoice(o) => o
                    .iter()
                    .map(|(p, n)| format!("{p}: {}", node_text(n, None)))
                    .collect(),
                Dist::Uniform { low, high } | Dist::LogUniform { low, high } => {
                    vec![low.to_string(), high.to_string()]
                }
                Dist::QUniform { low, high, q } | Dist::QLogUniform { low, high, q } => {
                    vec![low.to_string(), high.to_string(), q.to_string()]
                }
                Dist::Normal { mu, sigma } | Dist::LogNormal { mu, sigma } => {
                    vec![mu.to_string(), sigma.to_string()]
                }
                Dist::QNormal { mu, sigma, q } | Dist::QLogNormal { mu, sigma, q } => {
                    vec![mu.to_string(), sigma.to_string(), q.to_string()]
                }
                Dist::RandInt { low, high } | Dist::UniformInt { low, high } => {
                    vec![low.to_string(), high.to_string()]
                }
            };
            let label = if key == Some(label.as_str()) {
                String::new()
            } else {
                format!("{label:?}, ")
            };
            let int = if *int { ", int" } else { "" };
            format!("{}({label}{}{int})", dist.name(), args.join(", "))
        }
    }
}

struct Compiler {
    params: Vec<ParamSpec>,
    defs: Vec<Node>,
    by_label: HashMap<String, usize>,
    pub(crate) options: Vec<Option<Vec<Node>>>,
    choices: Vec<Vec<CNode>>,
}

impl Compiler {
    fn compile(
        &mut self,
        node: &Node,
        parent: Option<(usize, usize)>,
    ) -> Result<CNode, SpaceError> {
        Ok(match node {
            Node::Const(v) => CNode::Const(v.clone()),
            Node::Map(items) => CNode::Map(
                items
                    .iter()
                    .map(|(k, n)| Ok((k.clone(), self.compile(n, parent)?)))
                    .collect::<Result<_, SpaceError>>()?,
            ),
            Node::List(items) => CNode::List(
                items
                    .iter()
                    .map(|n| self.compile(n, parent))
                    .collect::<Result<_, _>>()?,
            ),
            Node::Param { label, dist, int } => {
                if label.is_empty() {
                    return Err(SpaceError::EmptyLabel);
                }
                let (index, first) = match self.by_label.get(label) {
                    Some(&i) => {
                        if &self.defs[i] != node {
                            return Err(SpaceError::DuplicateLabel(label.clone()));
                        }
                        (i, false)
                    }
                    None => {
                        let kind = dist::compile(label, dist, *int)?;
                        let i = self.params.len();
                        self.params.push(ParamSpec {
                            label: label.clone(),
                            kind,
                            dist_name: dist.name(),
                            parent,
                        });
                        self.defs.push(node.clone());
                        self.by_label.insert(label.clone(), i);
                        let opts = match dist {
                            Dist::Choice(o) => Some(o.clone()),
                            Dist::PChoice(o) => Some(o.iter().map(|(_, n)| n.clone()).collect()),
                            _ => None,
                        };
                        self.options.push(opts);
                        self.choices.push(Vec::new());
                        (i, true)
                    }
                };
                let option_nodes: Vec<&Node> = match dist {
                    Dist::Choice(opts) => opts.iter().collect(),
                    Dist::PChoice(opts) => opts.iter().map(|(_, n)| n).collect(),
                    _ => {
                        let int = match &self.params[index].kind {
                            ParamKind::Numeric(n) => n.int,
                            _ => true,
                        };
                        return Ok(CNode::Param(index, int));
                    }
                };
                if first {
                    let compiled = option_nodes
                        .into_iter()
                        .enumerate()
                        .map(|(k, n)| self.compile(n, Some((index, k))))
                        .collect::<Result<Vec<_>, _>>()?;
                    self.choices[index] = compiled;
                }
                CNode::Choice(index)
            }
        })
    }
}

impl Space {
    /// Validate and compile a space from its root node (usually a [`hp::map`]).
    pub fn new(root: impl Into<Node>) -> Result<Space, SpaceError> {
        let root = root.into();
        let mut c = Compiler {
            params: Vec::new(),
            defs: Vec::new(),
            by_label: HashMap::new(),
            options: Vec::new(),
            choices: Vec::new(),
        };
        let tree = c.compile(&root, None)?;
        Ok(Space {
            inner: Arc::new(SpaceInner {
                root,
                params: c.params,
                by_label: c.by_label,
                options: c.options,
                choices: c.choices,
                tree,
            }),
        })
    }

    /// A flat space: a map from each parameter's label to the parameter.
    pub fn from_params(params: impl IntoIterator<Item = Node>) -> Result<Space, SpaceError> {
        let items = params
            .into_iter()
            .map(|n| {
                let key = match &n {
                    Node::Param { label, .. } => label.clone(),
                    _ => String::new(),
                };
                (key, n)
            })
            .collect();
        Space::new(Node::Map(items))
    }

    /// The parameters in depth-first order (a choice before the parameters of its branches).
    pub fn params(&self) -> &[ParamSpec] {
        &self.inner.params
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.inner.params.len()
    }

    /// True if the space has no parameter (only constants).
    pub fn is_empty(&self) -> bool {
        self.inner.params.is_empty()
    }

    /// Index of the parameter `label`.
    pub fn index_of(&self, label: &str) -> Option<usize> {
        self.inner.by_label.get(label).copied()
    }

    /// The root node the space was built from.
    pub fn root(&self) -> &Node {
        &self.inner.root
    }

    /// True if every parameter takes finitely many values.
    pub fn is_discrete(&self) -> bool {
        self.inner.params.iter().all(|p| p.kind.is_discrete())
    }

    /// Build an assignment by walking the tree: `decide(index, partial)` is called once for every
    /// parameter that becomes active, in depth-first order, with the values decided so far.
    pub fn build_assignment(
        &self,
        mut decide: impl FnMut(usize, &Assignment) -> f64,
    ) -> Assignment {
        let mut a = Assignment::inactive(self.len());
        self.inner.walk(&self.inner.tree, &mut a, &mut decide);
        a
    }

    /// Draw an assignment from the prior (random search).
    pub fn sample_prior<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> Assignment {
        self.build_assignment(|i, _| self.inner.params[i].kind.sample_prior(rng))
    }

    /// Read an assignment through this space: typed params.
    pub fn params_of(&self, assignment: Assignment) -> Params {
        Params::new(self.inner.clone(), assignment)
    }

    /// hyperopt's `space_eval`: the structure the space describes, with the values of a raw
    /// assignment given as `{label: raw}` (choices as indices). Extra labels are ignored.
    pub fn eval(&self, raw: &BTreeMap<String, Value>) -> Result<Value, SpaceError> {
        let a = self.assignment_from_raw(raw)?;
        Ok(self.inner.eval_tree(&a))
    }

    /// An assignment from hyperopt-style raw values (`{label: raw}`, choices as option indices).
    /// Labels of inactive parameters are ignored; an active parameter without a value is an error.
    pub fn assignment_from_raw(
        &self,
        raw: &BTreeMap<String, Value>,
    ) -> Result<Assignment, SpaceError> {
        self.assignment_from(raw, true)
    }

    /// An assignment from typed values (`{label: value}`, a choice as its chosen option's value,
    /// or its index for a choice over sub-spaces), e.g. for initial points to evaluate.
    pub fn assignment_from_values(
        &self,
        values: &BTreeMap<String, Value>,
    ) -> Result<Assignment, SpaceError> {
        self.assignment_from(values, false)
    }

    /// An assignment from values as text (as a tracking store keeps params): numbers parsed,
    /// a choice matched by its option's text first, else by its index. For resuming a study.
    pub fn assignment_from_text(
        &self,
        values: &BTreeMap<String, String>,
    ) -> Result<Assignment, SpaceError> {
        let typed = values
            .iter()
            .filter(|(k, _)| self.inner.by_label.contains_key(*k))
            .map(|(k, text)| {
                let i = self.inner.by_label[k];
                let option_text = self.inner.options[i].as_ref().and_then(|opts| {
                    opts.iter().find_map(|o| match o {
                        Node::Const(c) if c.to_string() == *text => Some(c.clone()),
                        _ => None,
                    })
                });
                let v = option_text.unwrap_or_else(|| {
                    if let Ok(n) = text.parse::<i64>() {
                        Value::Int(n)
                    } else if let Ok(x) = text.parse::<f64>() {
                        Value::Float(x)
                    } else {
                        Value::Str(text.clone())
                    }
                });
                (k.clone(), v)
            })
            .collect();
        self.assignment_from(&typed, false)
    }

    fn assignment_from(
        &self,
        values: &BTreeMap<String, Value>,
        raw: bool,
    ) -> Result<Assignment, SpaceError> {
        for k in values.keys() {
            if !self.inner.by_label.contains_key(k) {
                return Err(SpaceError::UnknownLabel(k.clone()));
            }
        }
        let mut err = None;
        let a = self.build_assignment(|i, _| {
            let p = &self.inner.params[i];
            match values.get(&p.label) {
                None => {
                    err.get_or_insert(SpaceError::MissingValue(p.label.clone()));
                    self.inner.params[i].kind.raw_of_category(0).max(0.0)
                }
                Some(v) => match self.inner.raw_from_value(i, v, raw) {
                    Ok(x) => x,
                    Err(e) => {
                        err.get_or_insert(e);
                        0.0
                    }
                },
            }
        });
        match err {
            Some(e) => Err(e),
            None => Ok(a),
        }
    }
}

impl SpaceInner {
    fn walk(
        &self,
        node: &CNode,
        a: &mut Assignment,
        decide: &mut impl FnMut(usize, &Assignment) -> f64,
    ) {
        match node {
            CNode::Const(_) => {}
            CNode::Map(items) => items.iter().for_each(|(_, n)| self.walk(n, a, decide)),
            CNode::List(items) => items.iter().for_each(|n| self.walk(n, a, decide)),
            CNode::Param(i, _) => {
                if a.0[*i].is_nan() {
                    a.0[*i] = decide(*i, a);
                }
            }
            CNode::Choice(i) => {
                if a.0[*i].is_nan() {
                    a.0[*i] = decide(*i, a);
                }
                let options = &self.choices[*i];
                let k = (a.0[*i].max(0.0) as usize).min(options.len() - 1);
                self.walk(&options[k], a, decide);
            }
        }
    }

    /// The typed value of parameter `i` whose raw value is `raw`.
    pub(crate) fn typed_value(&self, i: usize, raw: f64, a: &Assignment) -> Value {
        match &self.params[i].kind {
            ParamKind::Categorical { .. } => {
                let options = &self.choices[i];
                let k = (raw.max(0.0) as usize).min(options.len().saturating_sub(1));
                match options.get(k) {
                    Some(o) => self.eval(o, a),
                    None => Value::Int(k as i64),
                }
            }
            ParamKind::RandInt { .. } => Value::Int(raw as i64),
            ParamKind::Numeric(n) => {
                if n.int {
                    Value::Int(raw.round() as i64)
                } else {
                    Value::Float(raw)
                }
            }
        }
    }

    /// The constants of the structure `a` evaluates to, as (dotted path, scalar) in tree order:
    /// map keys and list positions joined with dots; inside a choice's chosen option the path
    /// starts again at the choice's label. Lists and maps held by one constant are flattened the
    /// same way, except a list of scalars, which is one value (its JSON text).
    pub(crate) fn constants(&self, a: &Assignment) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        self.constants_into(&self.tree, a, "", &mut out);
        out
    }

    fn constants_into(
        &self,
        node: &CNode,
        a: &Assignment,
        path: &str,
        out: &mut Vec<(String, Value)>,
    ) {
        let join = |k: &str| dotted(path, k);
        match node {
            CNode::Const(v) => flatten_const(path, v, out),
            CNode::Map(items) => {
                for (k, n) in items {
                    self.constants_into(n, a, &join(k), out);
                }
            }
            CNode::List(items) => {
                for (j, n) in items.iter().enumerate() {
                    self.constants_into(n, a, &join(&j.to_string()), out);
                }
            }
            CNode::Param(..) => {}
            CNode::Choice(i) => {
                if let Some(raw) = a.raw(*i) {
                    let options = &self.choices[*i];
                    let k = (raw.max(0.0) as usize).min(options.len().saturating_sub(1));
                    if let Some(o) = options.get(k) {
                        // a choice among constants: its value is the parameter itself
                        if !matches!(o, CNode::Const(_)) {
                            self.constants_into(o, a, &self.params[*i].label, out);
                        }
                    }
                }
            }
        }
    }

    pub(crate) fn eval_tree(&self, a: &Assignment) -> Value {
        self.eval(&self.tree, a)
    }

    fn eval(&self, node: &CNode, a: &Assignment) -> Value {
        match node {
            CNode::Const(v) => v.clone(),
            CNode::Map(items) => Value::Map(
                items
                    .iter()
                    .map(|(k, n)| (k.clone(), self.eval(n, a)))
                    .collect(),
            ),
            CNode::List(items) => Value::List(items.iter().map(|n| self.eval(n, a)).collect()),
            CNode::Param(i, int) => match a.raw(*i) {
                None => Value::Null,
                Some(raw) if *int => Value::Int(raw.round() as i64),
                Some(raw) => Value::Float(raw),
            },
            CNode::Choice(i) => match a.raw(*i) {
                None => Value::Null,
                Some(raw) => self.typed_value(*i, raw, a),
            },
        }
    }

    fn raw_from_value(&self, i: usize, v: &Value, raw: bool) -> Result<f64, SpaceError> {
        let p = &self.params[i];
        let bad = |expected: String| SpaceError::InvalidValue {
            label: p.label.clone(),
            value: v.to_string(),
            expected,
        };
        match &p.kind {
            ParamKind::Categorical { n, .. } => {
                let opts = self.options[i].as_deref().unwrap_or(&[]);
                if !raw {
                    if let Some(k) = opts
                        .iter()
                        .position(|o| matches!(o, Node::Const(c) if c == v))
                    {
                        return Ok(k as f64);
                    }
                }
                match v.as_i64() {
                    Some(k) if k >= 0 && (k as usize) < *n => Ok(k as f64),
                    _ => {
                        let consts: Vec<String> = opts
                            .iter()
                            .filter_map(|o| match o {
                                Node::Const(c) => Some(c.to_string()),
                                _ => None,
                            })
                            .collect();
                        Err(bad(if raw || consts.is_empty() {
                            format!("an option index in 0..{n}")
                        } else {
                            format!(
                                "one of [{}] or an option index in 0..{n}",
                                consts.join(", ")
                            )
                        }))
                    }
                }
            }
            ParamKind::RandInt { low, high } => match v.as_i64() {
                Some(k) if k >= *low && k < *high => Ok(k as f64),
                _ => Err(bad(format!("an integer in {low}..{high} (high exclusive)"))),
            },
            ParamKind::Numeric(n) => {
                let x = v.as_f64().ok_or_else(|| bad("a number".into()))?;
                let snapped = n.snap(x);
                let in_support = if n.log { x > 0.0 } else { true }
                    && (!n.uniform_prior || {
                        let (lo, hi) = if n.log {
                            (n.low.exp(), n.high.exp())
                        } else if let Some((f, l)) = n.grid {
                            (f, l)
                        } else {
                            (n.low, n.high)
                        };
                        x >= lo - 1e-9 * lo.abs().max(1.0) && x <= hi + 1e-9 * hi.abs().max(1.0)
                    });
                if !in_support || (n.q.is_some() && (snapped - x).abs() > 1e-9 * x.abs().max(1.0)) {
                    return Err(bad(describe_support(p.dist_name, n)));
                }
                Ok(snapped)
            }
        }
    }
}

fn describe_support(name: &str, n: &Numeric) -> String {
    let range = if n.uniform_prior {
        if let Some((f, l)) = n.grid {
            format!("in [{f}, {l}]")
        } else if n.log {
            format!("in [{}, {}]", n.low.exp(), n.high.exp())
        } else {
            format!("in [{}, {}]", n.low, n.high)
        }
    } else if n.log {
        "positive".to_string()
    } else {
        "finite".to_string()
    };
    match n.q {
        Some(q) => format!("a multiple of {q} {range} ({name})"),
        None => format!("a number {range} ({name})"),
    }
}

/// The key `k` under the dotted `path` (`k` itself at the top).
pub(crate) fn dotted(path: &str, k: &str) -> String {
    if path.is_empty() {
        k.to_string()
    } else {
        format!("{path}.{k}")
    }
}

/// A constant at `path` as scalars: maps and lists of non-scalars by dotted path, a list of
/// scalars as its JSON text. Nothing for the empty path (a space that is one constant).
fn flatten_const(path: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    let key = |k: &str| dotted(path, k);
    match v {
        Value::Map(m) => {
            for (k, x) in m {
                flatten_const(&key(k), x, out);
            }
        }
        Value::List(items) if !items.iter().all(Value::is_scalar) => {
            for (j, x) in items.iter().enumerate() {
                flatten_const(&key(&j.to_string()), x, out);
            }
        }
        Value::List(_) if !path.is_empty() => {
            out.push((path.to_string(), Value::Str(v.to_json().to_string())))
        }
        _ if !path.is_empty() => out.push((path.to_string(), v.clone())),
        _ => {}
    }
}
