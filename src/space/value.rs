//! Typed values: what a search space yields and what an objective reads.
//!
//! A [`Value`] is the user-facing form of a parameter (an integer stays an integer, a choice is
//! the chosen option, not its index). [`Assignment`] is the raw form the algorithms work on: one
//! number per parameter of the space, `NaN` where the parameter is inactive, choices as indices
//! (hyperopt's `misc.vals`). [`Params`] joins the two: a trial's assignment read through its space.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{ParamKind, SpaceInner};

/// A typed value: a parameter's value, a constant of the space, or a nested structure of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// No value (JSON `null`).
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer (`randint`, `uniformint`, quantized distributions marked integer).
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string, e.g. a categorical option.
    Str(String),
    /// A list of values.
    List(Vec<Value>),
    /// A map from names to values (a space's dictionaries).
    Map(BTreeMap<String, Value>),
}

impl Value {
    /// The value as a float, for `Float` and `Int`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(x) => Some(*x),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The value as an integer, for `Int` (and `Float` holding an exact integer).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Float(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Some(*x as i64),
            _ => None,
        }
    }

    /// The value as a string slice, for `Str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a boolean, for `Bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The value as a map, for `Map`.
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// True for scalars (null, bool, int, float, string).
    pub fn is_scalar(&self) -> bool {
        !matches!(self, Value::List(_) | Value::Map(_))
    }

    /// The value as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The name of this value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => write!(f, "null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => write!(f, "{s}"),
            other => write!(f, "{}", other.to_json()),
        }
    }
}

macro_rules! value_from {
    ($($t:ty => $variant:ident as $cast:ty),*) => {
        $(impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant(v as $cast)
            }
        })*
    };
}
value_from!(f64 => Float as f64, f32 => Float as f64, i64 => Int as i64, i32 => Int as i64,
            u32 => Int as i64, usize => Int as i64);

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(v)
    }
}
impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::List(v)
    }
}
impl From<BTreeMap<String, Value>> for Value {
    fn from(v: BTreeMap<String, Value>) -> Self {
        Value::Map(v)
    }
}

/// The raw values of one trial: one number per parameter of the space, in the space's
/// parameter order; `NaN` marks an inactive parameter. Choices hold their option index,
/// `randint` its integer, everything else its value (in linear space, as hyperopt stores it).
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment(pub(crate) Vec<f64>);

impl Assignment {
    /// An assignment with every parameter inactive.
    pub(crate) fn inactive(n: usize) -> Self {
        Assignment(vec![f64::NAN; n])
    }

    /// The raw value of parameter `index`, `None` if inactive or out of range.
    pub fn raw(&self, index: usize) -> Option<f64> {
        self.0.get(index).copied().filter(|v| !v.is_nan())
    }

    /// True if parameter `index` is active.
    pub fn is_active(&self, index: usize) -> bool {
        self.raw(index).is_some()
    }

    /// The raw values, `NaN` for inactive parameters.
    pub fn values(&self) -> &[f64] {
        &self.0
    }

    /// A key that is equal for equal assignments (bitwise), for duplicate detection.
    pub(crate) fn key(&self) -> Vec<u64> {
        self.0
            .iter()
            .map(|v| {
                if v.is_nan() {
                    u64::MAX
                } else {
                    (v + 0.0).to_bits()
                }
            })
            .collect()
    }
}

/// Why a parameter could not be read from [`Params`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    /// The space has no parameter with this label.
    #[error("no parameter labelled '{0}' in the search space")]
    Unknown(String),
    /// The parameter exists but is inactive in this trial (an unchosen branch).
    #[error("parameter '{0}' is inactive in this trial (its branch was not chosen)")]
    Inactive(String),
    /// The value has another type than the one asked for.
    #[error("parameter '{label}' is {found} ({value}), not {expected}")]
    WrongType {
        /// The parameter's label.
        label: String,
        /// The type that was asked for.
        expected: &'static str,
        /// The type the value has.
        found: &'static str,
        /// The value itself.
        value: String,
    },
}

/// One trial's parameters as typed values: its [`Assignment`] read through the space.
///
/// Only active parameters are present. `get` returns a choice's chosen option (a nested
/// structure for a choice over sub-spaces), integers as `Value::Int`.
#[derive(Clone)]
pub struct Params {
    pub(crate) space: Arc<SpaceInner>,
    pub(crate) assignment: Assignment,
    /// Each parameter's internal value ([`ParamKind::to_internal`]), `NaN` where inactive:
    /// worked out once here, read by the algorithms at every suggestion.
    internal: Arc<[f64]>,
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl PartialEq for Params {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.space, &other.space) && self.assignment.key() == other.assignment.key()
    }
}

impl Params {
    /// The params of `assignment` read through `space`.
    pub(crate) fn new(space: Arc<SpaceInner>, assignment: Assignment) -> Params {
        let internal = space
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| {
                assignment
                    .raw(i)
                    .map_or(f64::NAN, |raw| p.kind.to_internal(raw))
            })
            .collect();
        Params {
            space,
            assignment,
            internal,
        }
    }

    /// The internal values ([`ParamKind::to_internal`], `NaN` where inactive, one per parameter
    /// of the space), if these params were read through `space` itself (not merely an equal
    /// one).
    pub(crate) fn internal_in(&self, space: &super::Space) -> Option<&[f64]> {
        Arc::ptr_eq(&self.space, &space.inner).then_some(&*self.internal)
    }

    /// The typed value of the parameter `label`, `None` if unknown or inactive.
    pub fn get(&self, label: &str) -> Option<Value> {
        let &i = self.space.by_label.get(label)?;
        self.value_at(i)
    }

    /// The typed value of parameter number `index` in the space's order.
    pub(crate) fn value_at(&self, i: usize) -> Option<Value> {
        let raw = self.assignment.raw(i)?;
        Some(self.space.typed_value(i, raw, &self.assignment))
    }

    fn lookup(&self, label: &str) -> Result<Value, ParamError> {
        let &i = self
            .space
            .by_label
            .get(label)
            .ok_or_else(|| ParamError::Unknown(label.to_string()))?;
        self.value_at(i)
            .ok_or_else(|| ParamError::Inactive(label.to_string()))
    }

    fn wrong(label: &str, expected: &'static str, v: &Value) -> ParamError {
        ParamError::WrongType {
            label: label.to_string(),
            expected,
            found: v.type_name(),
            value: v.to_string(),
        }
    }

    /// The parameter as a float (integers convert).
    pub fn f64(&self, label: &str) -> Result<f64, ParamError> {
        let v = self.lookup(label)?;
        v.as_f64().ok_or_else(|| Self::wrong(label, "a number", &v))
    }

    /// The parameter as an integer.
    pub fn i64(&self, label: &str) -> Result<i64, ParamError> {
        let v = self.lookup(label)?;
        v.as_i64()
            .ok_or_else(|| Self::wrong(label, "an integer", &v))
    }

    /// The parameter as a string (a choice among strings).
    pub fn str(&self, label: &str) -> Result<String, ParamError> {
        let v = self.lookup(label)?;
        match v {
            Value::Str(s) => Ok(s),
            other => Err(Self::wrong(label, "a string", &other)),
        }
    }

    /// The parameter as a boolean (a choice among booleans).
    pub fn bool(&self, label: &str) -> Result<bool, ParamError> {
        let v = self.lookup(label)?;
        v.as_bool().ok_or_else(|| Self::wrong(label, "a bool", &v))
    }

    /// True if the parameter `label` is active in this trial.
    pub fn contains(&self, label: &str) -> bool {
        self.space
            .by_label
            .get(label)
            .is_some_and(|&i| self.assignment.is_active(i))
    }

    /// The active parameters as (label, typed value), in the space's order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Value)> + '_ {
        self.space
            .params
            .iter()
            .enumerate()
            .filter_map(move |(i, p)| self.value_at(i).map(|v| (p.label.as_str(), v)))
    }

    /// The active parameters as a map from label to typed value.
    pub fn to_map(&self) -> BTreeMap<String, Value> {
        self.iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// The trial as scalars, for logging (the recorded params): every active parameter under its
    /// label (a choice over sub-spaces as its option index, e.g. `model = 0`; a choice among
    /// constant lists as the chosen list's JSON text), and every constant
    /// of the evaluated structure under its dotted path (`seed = 42`, `nested.a = 1`; inside a
    /// chosen option, under the choice's label: `model.type = svm`). A constant list is given as
    /// its JSON text. A constant whose path is the label of a parameter is left out, so a
    /// parameter's key always holds the parameter.
    pub fn flat(&self) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        for (i, p) in self.space.params.iter().enumerate() {
            let Some(raw) = self.assignment.raw(i) else {
                continue;
            };
            let v = self.space.typed_value(i, raw, &self.assignment);
            let constant_option = self.space.options[i]
                .as_ref()
                .and_then(|o| o.get(raw.max(0.0) as usize))
                .is_some_and(|o| matches!(o, super::Node::Const(_)));
            let v = if v.is_scalar() {
                v
            } else if constant_option {
                // a choice among constant lists: the chosen list's JSON text
                Value::Str(v.to_json().to_string())
            } else {
                Value::Int(raw as i64)
            };
            out.insert(p.label.clone(), v);
        }
        for (path, v) in self.space.constants(&self.assignment) {
            if !self.space.by_label.contains_key(&path) {
                out.entry(path).or_insert(v);
            }
        }
        out
    }

    /// The whole structure the space describes, with every parameter replaced by its value
    /// (hyperopt's `space_eval`): constants, nested maps and lists, the chosen branches only.
    pub fn tree(&self) -> Value {
        self.space.eval_tree(&self.assignment)
    }

    /// The raw assignment (choice indices, values in linear space).
    pub fn assignment(&self) -> &Assignment {
        &self.assignment
    }

    /// The raw assignment as hyperopt's `argmin` dictionary: active labels only, choices and
    /// `randint` as integers, everything else as floats.
    pub fn raw(&self) -> BTreeMap<String, Value> {
        self.space
            .params
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let raw = self.assignment.raw(i)?;
                let v = match p.kind {
                    ParamKind::Categorical { .. } | ParamKind::RandInt { .. } => {
                        Value::Int(raw as i64)
                    }
                    ParamKind::Numeric(_) => Value::Float(raw),
                };
                Some((p.label.clone(), v))
            })
            .collect()
    }

    /// The params as JSON: the whole evaluated structure ([`Params::tree`], hyperopt's
    /// `space_eval`), constants and nested maps included. This is what a command objective
    /// gets in `HPO_PARAMS`.
    pub fn to_json(&self) -> serde_json::Value {
        self.tree().to_json()
    }
}

impl Serialize for Params {
    /// Serialized as the whole evaluated structure, as [`Params::to_json`].
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.tree().serialize(s)
    }
}
