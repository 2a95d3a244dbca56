//! How big a trial of a space can get once written out: the keys and values its recorded params
//! may have, and upper bounds on the text of `HPO_PARAMS` and of each placeholder's value. The
//! command line checks these before a study starts (an environment variable or a param key that
//! cannot be passed or stored is refused up front, not found out trial by trial).

use std::collections::BTreeMap;

use super::{flatten_const, Dist, Node, Space, Value};

/// The longest text of a float's value (`-2.2250738585072014e-308`), JSON or plain.
const FLOAT_TEXT: usize = 24;
/// The longest text of an integer's value (`-9223372036854775808`).
const INT_TEXT: usize = 20;

impl Space {
    /// Every key the recorded params ([`Params::flat`](super::Params::flat)) of some trial may
    /// have, over every branch (parameter labels and the dotted paths of constants), with the
    /// longest text recorded under it.
    pub fn recorded_keys(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        keys_of(&self.inner.root, "", &mut out);
        // a constant whose path is a parameter's label is never recorded (the parameter is)
        for p in &self.inner.params {
            if let Some(len) = self.max_value_len(&p.label) {
                out.insert(p.label.clone(), len.max(INT_TEXT));
            }
        }
        out
    }

    /// An upper bound on the length in bytes of the JSON of any trial's whole structure
    /// ([`Params::to_json`](super::Params::to_json), what a command gets in `HPO_PARAMS`).
    pub fn max_json_len(&self) -> usize {
        json_bound(&self.inner.root)
    }

    /// An upper bound on the length in bytes of the text a `{placeholder}` gets for `label` (a
    /// parameter, or a top-level constant), `None` if the space has neither.
    pub fn max_value_len(&self, label: &str) -> Option<usize> {
        if let Some(def) = find_param(&self.inner.root, label) {
            return Some(value_bound(def));
        }
        match &self.inner.root {
            Node::Map(items) => items.iter().find_map(|(k, n)| match n {
                Node::Const(v) if k == label => Some(text_len(v)),
                _ => None,
            }),
            _ => None,
        }
    }
}

/// The text a constant value is recorded or substituted as.
fn text_len(v: &Value) -> usize {
    match v {
        Value::Str(s) => s.len(),
        other => other.to_string().len(),
    }
}

fn json_str_len(s: &str) -> usize {
    serde_json::to_string(s).map_or(s.len() * 6 + 2, |j| j.len())
}

/// The JSON length bound of whatever `node` evaluates to.
fn json_bound(node: &Node) -> usize {
    match node {
        Node::Const(v) => v.to_json().to_string().len(),
        Node::Map(items) => {
            2 + items.len().saturating_sub(1)
                + items
                    .iter()
                    .map(|(k, n)| json_str_len(k) + 1 + json_bound(n))
                    .sum::<usize>()
        }
        Node::List(items) => {
            2 + items.len().saturating_sub(1) + items.iter().map(json_bound).sum::<usize>()
        }
        Node::Param { dist, int, .. } => match dist {
            Dist::Choice(o) => o.iter().map(json_bound).max().unwrap_or(4),
            Dist::PChoice(o) => o.iter().map(|(_, n)| json_bound(n)).max().unwrap_or(4),
            Dist::RandInt { .. } | Dist::UniformInt { .. } => INT_TEXT,
            _ if *int => INT_TEXT,
            _ => FLOAT_TEXT,
        },
    }
}

/// The bound on a parameter's value as text (a string option without its quotes).
fn value_bound(def: &Node) -> usize {
    let option = |n: &Node| match n {
        Node::Const(v) => text_len(v),
        other => json_bound(other),
    };
    match def {
        Node::Param {
            dist: Dist::Choice(o),
            ..
        } => o.iter().map(option).max().unwrap_or(0),
        Node::Param {
            dist: Dist::PChoice(o),
            ..
        } => o.iter().map(|(_, n)| option(n)).max().unwrap_or(0),
        other => json_bound(other),
    }
}

fn find_param<'a>(node: &'a Node, label: &str) -> Option<&'a Node> {
    match node {
        Node::Const(_) => None,
        Node::Map(items) => items.iter().find_map(|(_, n)| find_param(n, label)),
        Node::List(items) => items.iter().find_map(|n| find_param(n, label)),
        Node::Param { label: l, dist, .. } => {
            if l == label {
                return Some(node);
            }
            match dist {
                Dist::Choice(o) => o.iter().find_map(|n| find_param(n, label)),
                Dist::PChoice(o) => o.iter().find_map(|(_, n)| find_param(n, label)),
                _ => None,
            }
        }
    }
}

/// The constants' recorded keys under `node` (every branch), as [`super::SpaceInner::constants`]
/// names them, with the longest text recorded under each.
fn keys_of(node: &Node, path: &str, out: &mut BTreeMap<String, usize>) {
    let join = |k: &str| super::dotted(path, k);
    match node {
        Node::Const(v) => {
            let mut flat = Vec::new();
            flatten_const(path, v, &mut flat);
            for (k, v) in flat {
                let len = text_len(&v);
                let e = out.entry(k).or_insert(0);
                *e = (*e).max(len);
            }
        }
        Node::Map(items) => items.iter().for_each(|(k, n)| keys_of(n, &join(k), out)),
        Node::List(items) => items
            .iter()
            .enumerate()
            .for_each(|(j, n)| keys_of(n, &join(&j.to_string()), out)),
        Node::Param { label, dist, .. } => {
            let options: Vec<&Node> = match dist {
                Dist::Choice(o) => o.iter().collect(),
                Dist::PChoice(o) => o.iter().map(|(_, n)| n).collect(),
                _ => Vec::new(),
            };
            for o in options {
                // a choice among constants records the parameter itself, not a constant
                if !matches!(o, Node::Const(_)) {
                    keys_of(o, label, out);
                }
            }
        }
    }
}
