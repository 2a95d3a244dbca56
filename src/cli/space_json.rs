//! The parsed search space as JSON, for `hpo validate --json`: the space's tree with each
//! parameter as `{"label", "dist", "args", "int"}` (a choice's options as sub-trees), constants as
//! their values.

use serde_json::{json, Map, Value as Json};

use crate::space::{Dist, Node};

/// The JSON form of a space tree.
pub(crate) fn node_json(node: &Node) -> Json {
    match node {
        Node::Const(v) => v.to_json(),
        Node::List(items) => Json::Array(items.iter().map(node_json).collect()),
        Node::Map(items) => Json::Object(
            items
                .iter()
                .map(|(k, n)| (k.clone(), node_json(n)))
                .collect::<Map<_, _>>(),
        ),
        Node::Param { label, dist, int } => {
            let args = match dist {
                Dist::Choice(o) => json!(o.iter().map(node_json).collect::<Vec<_>>()),
                Dist::PChoice(o) => json!(o
                    .iter()
                    .map(|(p, n)| json!([p, node_json(n)]))
                    .collect::<Vec<_>>()),
                Dist::Uniform { low, high } | Dist::LogUniform { low, high } => json!([low, high]),
                Dist::QUniform { low, high, q } | Dist::QLogUniform { low, high, q } => {
                    json!([low, high, q])
                }
                Dist::Normal { mu, sigma } | Dist::LogNormal { mu, sigma } => json!([mu, sigma]),
                Dist::QNormal { mu, sigma, q } | Dist::QLogNormal { mu, sigma, q } => {
                    json!([mu, sigma, q])
                }
                Dist::RandInt { low, high } | Dist::UniformInt { low, high } => json!([low, high]),
            };
            json!({"label": label, "dist": dist.name(), "args": args, "int": int})
        }
    }
}
