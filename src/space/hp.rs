//! hyperopt's vocabulary for building spaces: `hp::loguniform("lr", -3.0, 0.0)` and friends.
//!
//! Every function returns a [`Node`]; nothing is checked until the nodes become a
//! [`Space`](super::Space), which validates them all and names the label of any error.
//!
//! ```
//! use hpo::{hp, Space};
//! let space = Space::new(hp::map([
//!     ("lr", hp::loguniform("lr", -7.0, 0.0)),
//!     ("depth", hp::uniformint("depth", 2, 12)),
//!     ("objective", "reg:squarederror".into()),
//!     ("model", hp::choice("model", [
//!         hp::map([("type", "svm".into()), ("C", hp::loguniform("C", -4.0, 2.0))]),
//!         hp::map([("type", "tree".into()), ("min_leaf", hp::quniform("min_leaf", 1.0, 20.0, 1.0).int())]),
//!     ])),
//! ])).unwrap();
//! assert_eq!(space.len(), 5);
//! ```

use super::{Dist, Node, Value};

fn param(label: &str, dist: Dist) -> Node {
    Node::Param {
        label: label.to_string(),
        dist,
        int: false,
    }
}

/// One of `options`, uniformly; the objective gets the option itself (a value or a sub-space).
pub fn choice<N: Into<Node>>(label: &str, options: impl IntoIterator<Item = N>) -> Node {
    param(
        label,
        Dist::Choice(options.into_iter().map(Into::into).collect()),
    )
}

/// One of the options with the given probabilities (which must sum to 1).
pub fn pchoice<N: Into<Node>>(label: &str, options: impl IntoIterator<Item = (f64, N)>) -> Node {
    param(
        label,
        Dist::PChoice(options.into_iter().map(|(p, n)| (p, n.into())).collect()),
    )
}

/// Uniform on `[low, high]`.
pub fn uniform(label: &str, low: f64, high: f64) -> Node {
    param(label, Dist::Uniform { low, high })
}

/// Uniform on `[low, high]`, quantized to the multiples of `q` in `[low, high]`; call
/// `.int()` on it for integer values.
pub fn quniform(label: &str, low: f64, high: f64, q: f64) -> Node {
    param(label, Dist::QUniform { low, high, q })
}

/// `exp(uniform(low, high))`: `low` and `high` are natural-log exponents, as in hyperopt.
pub fn loguniform(label: &str, low: f64, high: f64) -> Node {
    param(label, Dist::LogUniform { low, high })
}

/// `exp(uniform(low, high))` quantized to multiples of `q` in `[e^low, e^high]`.
pub fn qloguniform(label: &str, low: f64, high: f64, q: f64) -> Node {
    param(label, Dist::QLogUniform { low, high, q })
}

/// Normal with mean `mu` and standard deviation `sigma`.
pub fn normal(label: &str, mu: f64, sigma: f64) -> Node {
    param(label, Dist::Normal { mu, sigma })
}

/// Normal quantized to multiples of `q`.
pub fn qnormal(label: &str, mu: f64, sigma: f64, q: f64) -> Node {
    param(label, Dist::QNormal { mu, sigma, q })
}

/// `exp(normal(mu, sigma))`.
pub fn lognormal(label: &str, mu: f64, sigma: f64) -> Node {
    param(label, Dist::LogNormal { mu, sigma })
}

/// `exp(normal(mu, sigma))` quantized to multiples of `q` (smallest value `q`).
pub fn qlognormal(label: &str, mu: f64, sigma: f64, q: f64) -> Node {
    param(label, Dist::QLogNormal { mu, sigma, q })
}

/// An integer in `low..high` (`high` excluded), unordered (hyperopt's `randint(low, high)`).
pub fn randint(label: &str, low: i64, high: i64) -> Node {
    param(label, Dist::RandInt { low, high })
}

/// An integer in `low..=high`, every value equally likely.
pub fn uniformint(label: &str, low: i64, high: i64) -> Node {
    param(label, Dist::UniformInt { low, high })
}

/// A map (hyperopt's dict) of named nodes.
pub fn map<K: Into<String>>(items: impl IntoIterator<Item = (K, Node)>) -> Node {
    Node::Map(items.into_iter().map(|(k, n)| (k.into(), n)).collect())
}

/// A list of nodes.
pub fn list(items: impl IntoIterator<Item = Node>) -> Node {
    Node::List(items.into_iter().collect())
}

/// A constant.
pub fn constant(value: impl Into<Value>) -> Node {
    Node::Const(value.into())
}
