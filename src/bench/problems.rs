//! The benchmark problems, identical to `shared/anchors/problems.py`: each a space, a loss and
//! its known minimum, so results are regrets and compare with hyperopt's and Optuna's.

use std::f64::consts::PI;

use crate::space::{hp, Node, Params, Space, Value};

/// A benchmark problem: a search space, a loss to minimize and its known minimum.
#[derive(Clone)]
pub struct Problem {
    /// The problem's name (as in problems.py).
    pub name: &'static str,
    /// The search space.
    pub space: Space,
    /// The loss.
    pub loss: fn(&Params) -> f64,
    /// The known minimum of the loss.
    pub minimum: f64,
}

impl std::fmt::Debug for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Problem({})", self.name)
    }
}

fn x(p: &Params, i: usize) -> f64 {
    p.f64(&format!("x{i}")).unwrap_or(f64::NAN)
}

/// The values of `x0` .. `x{n-1}` (NaN where one is missing).
pub(super) fn xs(p: &Params, n: usize) -> Vec<f64> {
    (0..n).map(|i| x(p, i)).collect()
}

fn named(p: &Params, name: &str) -> f64 {
    p.f64(name).unwrap_or(f64::NAN)
}

/// Branin on [-5, 10] x [0, 15]; minimum 0.397887.
pub fn branin(x1: f64, x2: f64) -> f64 {
    let b = 5.1 / (4.0 * PI * PI);
    let c = 5.0 / PI;
    let t = 1.0 / (8.0 * PI);
    (x2 - b * x1 * x1 + c * x1 - 6.0).powi(2) + 10.0 * (1.0 - t) * x1.cos() + 10.0
}

const H6A: [[f64; 6]; 4] = [
    [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
    [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
    [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
    [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
];
const H6P: [[f64; 6]; 4] = [
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
];
const H6ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];

/// Hartmann 6-D on [0, 1]^6; minimum -3.32237.
pub fn hartmann6(x: &[f64]) -> f64 {
    -(0..4)
        .map(|i| {
            let s: f64 = (0..6).map(|j| H6A[i][j] * (x[j] - H6P[i][j]).powi(2)).sum();
            H6ALPHA[i] * (-s).exp()
        })
        .sum::<f64>()
}

/// log10 of Goldstein-Price on [-2, 2]^2; minimum log10(3).
pub fn log_goldstein_price(x1: f64, x2: f64) -> f64 {
    let a = 1.0
        + (x1 + x2 + 1.0).powi(2)
            * (19.0 - 14.0 * x1 + 3.0 * x1 * x1 - 14.0 * x2 + 6.0 * x1 * x2 + 3.0 * x2 * x2);
    let b = 30.0
        + (2.0 * x1 - 3.0 * x2).powi(2)
            * (18.0 - 32.0 * x1 + 12.0 * x1 * x1 + 48.0 * x2 - 36.0 * x1 * x2 + 27.0 * x2 * x2);
    (a * b).log10()
}

/// Rosenbrock in any dimension; minimum 0 at (1, ..., 1).
pub fn rosenbrock(x: &[f64]) -> f64 {
    x.windows(2)
        .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (w[0] - 1.0).powi(2))
        .sum()
}

/// Ackley with its optimum shifted to 7.3 in every coordinate; minimum 0.
pub fn ackley_shifted(x: &[f64]) -> f64 {
    let d = x.len() as f64;
    let z: Vec<f64> = x.iter().map(|v| v - 7.3).collect();
    let s2 = z.iter().map(|v| v * v).sum::<f64>() / d;
    let sc = z.iter().map(|v| (2.0 * PI * v).cos()).sum::<f64>() / d;
    -20.0 * (-0.2 * s2.sqrt()).exp() - sc.exp() + 20.0 + std::f64::consts::E
}

/// Rastrigin with its optimum shifted to 1.1; minimum 0.
pub fn rastrigin_shifted(x: &[f64]) -> f64 {
    10.0 * x.len() as f64
        + x.iter()
            .map(|v| {
                let z = v - 1.1;
                z * z - 10.0 * (2.0 * PI * z).cos()
            })
            .sum::<f64>()
}

/// Styblinski-Tang; minimum -39.16617 per dimension.
pub fn styblinski_tang(x: &[f64]) -> f64 {
    0.5 * x
        .iter()
        .map(|v| v.powi(4) - 16.0 * v * v + 5.0 * v)
        .sum::<f64>()
}

/// Michalewicz (m = 10) on [0, pi]^d; minimum -4.687658 in 5-D.
pub fn michalewicz(x: &[f64]) -> f64 {
    -x.iter()
        .enumerate()
        .map(|(i, v)| v.sin() * ((i as f64 + 1.0) * v * v / PI).sin().powi(20))
        .sum::<f64>()
}

/// Levy; minimum 0 at (1, ..., 1).
pub fn levy(x: &[f64]) -> f64 {
    let w: Vec<f64> = x.iter().map(|v| 1.0 + (v - 1.0) / 4.0).collect();
    let d = w.len();
    let mut s = (PI * w[0]).sin().powi(2);
    for wi in &w[..d - 1] {
        s += (wi - 1.0).powi(2) * (1.0 + 10.0 * (PI * wi + 1.0).sin().powi(2));
    }
    s + (w[d - 1] - 1.0).powi(2) * (1.0 + (2.0 * PI * w[d - 1]).sin().powi(2))
}

const LOGQ_C: [f64; 4] = [-4.3, -2.1, -0.7, -5.5];

/// Sum of squared distances of log10(x_i) from fixed targets; minimum 0.
pub fn log_quadratic(x: &[f64]) -> f64 {
    x.iter()
        .zip(LOGQ_C)
        .map(|(v, c)| (v.log10() - c).powi(2))
        .sum()
}

/// The mixed hyperparameter-like problem: log, integer, categorical and a conditional parameter.
pub fn mixed_hpo(p: &Params) -> f64 {
    let lr = named(p, "lr");
    let units = named(p, "units");
    let layers = named(p, "layers");
    let dropout = named(p, "dropout");
    let opt = match p.get("opt") {
        Some(Value::Map(m)) => m
            .get("opt")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string(),
        Some(v) => v.as_str().unwrap_or("").to_string(),
        None => String::new(),
    };
    let mut f = (lr.log10() + 2.5).powi(2)
        + (units.log2() - 7.0).powi(2) / 4.0
        + 0.5 * (layers - 3.0).powi(2);
    f += match opt.as_str() {
        "adam" => 0.0,
        "rmsprop" => 0.3,
        _ => 1.0,
    } + 3.0 * (dropout - 0.2).powi(2);
    if opt == "sgd" {
        f += 5.0 * (named(p, "momentum") - 0.9).powi(2);
    }
    f
}

/// `n` uniform parameters `x0` .. `x{n-1}` on `[lo, hi]`.
pub(super) fn uniform_space(n: usize, lo: f64, hi: f64) -> Space {
    Space::from_params((0..n).map(|i| hp::uniform(&format!("x{i}"), lo, hi)))
        .expect("benchmark space is valid")
}

fn mixed_space() -> Space {
    Space::new(hp::map([
        ("lr", hp::loguniform("lr", (1e-5f64).ln(), 0.0)),
        (
            "units",
            hp::qloguniform("units", 16f64.ln(), 512f64.ln(), 1.0).int(),
        ),
        ("layers", hp::quniform("layers", 1.0, 6.0, 1.0).int()),
        ("dropout", hp::uniform("dropout", 0.0, 0.8)),
        (
            "opt",
            hp::choice(
                "opt",
                [
                    hp::map([
                        ("opt", Node::from("sgd")),
                        ("momentum", hp::uniform("momentum", 0.0, 0.99)),
                    ]),
                    hp::map([("opt", Node::from("adam"))]),
                    hp::map([("opt", Node::from("rmsprop"))]),
                ],
            ),
        ),
    ]))
    .expect("benchmark space is valid")
}

/// The flat value of a mixed_hpo choice: the option map's "opt".
fn mixed_loss(p: &Params) -> f64 {
    mixed_hpo(p)
}

/// The choice between model families: one top-level choice selects sub-spaces of different
/// shapes. k-NN (one integer) is easy and reaches 0.4 at best; an SVM (two log-scale params)
/// reaches 0.1; a random forest (an integer on a log scale, an integer and a fraction) reaches
/// 0, but only when tuned: its random draws score worse than k-NN's, so a search that commits
/// to the branch that looks best early never finds it.
pub fn model_families(p: &Params) -> f64 {
    let family = match p.get("model") {
        Some(Value::Map(m)) => m
            .get("family")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string(),
        _ => String::new(),
    };
    match family.as_str() {
        "knn" => 0.4 + 0.5 * ((named(p, "knn_k") - 12.0) / 50.0).powi(2),
        "svm" => {
            let c = named(p, "svm_c").log10() - 1.0;
            let g = named(p, "svm_gamma").log10() + 2.0;
            0.1 + (c * c + g * g) / 8.0
        }
        "forest" => {
            let trees = named(p, "rf_trees").log2() - 8.0;
            let depth = named(p, "rf_depth") - 12.0;
            let feat = named(p, "rf_features") - 0.3;
            trees * trees / 20.0 + depth * depth / 100.0 + 2.0 * feat * feat
        }
        _ => f64::NAN,
    }
}

fn families_space() -> Space {
    let family = |name: &str, params: Vec<(&str, Node)>| {
        let mut items = vec![("family".to_string(), Node::from(name))];
        items.extend(params.into_iter().map(|(k, n)| (k.to_string(), n)));
        hp::map(items)
    };
    Space::new(hp::map([(
        "model",
        hp::choice(
            "model",
            [
                family(
                    "knn",
                    vec![("knn_k", hp::quniform("knn_k", 1.0, 50.0, 1.0).int())],
                ),
                family(
                    "svm",
                    vec![
                        (
                            "svm_c",
                            hp::loguniform("svm_c", (1e-3f64).ln(), (1e3f64).ln()),
                        ),
                        (
                            "svm_gamma",
                            hp::loguniform("svm_gamma", (1e-5f64).ln(), (1e1f64).ln()),
                        ),
                    ],
                ),
                family(
                    "forest",
                    vec![
                        (
                            "rf_trees",
                            hp::qloguniform("rf_trees", 10f64.ln(), 1000f64.ln(), 1.0).int(),
                        ),
                        ("rf_depth", hp::quniform("rf_depth", 2.0, 30.0, 1.0).int()),
                        ("rf_features", hp::uniform("rf_features", 0.05, 1.0)),
                    ],
                ),
            ],
        ),
    )]))
    .expect("benchmark space is valid")
}

/// All built-in problems, in problems.py's order, then hpo's own.
pub fn all() -> Vec<Problem> {
    let log_space =
        Space::from_params((0..4).map(|i| hp::loguniform(&format!("x{i}"), (1e-6f64).ln(), 0.0)))
            .expect("benchmark space is valid");
    let int_h6 = Space::from_params(
        (0..3)
            .map(|i| hp::quniform(&format!("k{i}"), 0.0, 10.0, 1.0).int())
            .chain((3..6).map(|i| hp::uniform(&format!("x{i}"), 0.0, 1.0))),
    )
    .expect("benchmark space is valid");
    vec![
        Problem {
            name: "branin",
            space: Space::from_params([
                hp::uniform("x1", -5.0, 10.0),
                hp::uniform("x2", 0.0, 15.0),
            ])
            .expect("benchmark space is valid"),
            loss: |p| branin(named(p, "x1"), named(p, "x2")),
            minimum: 0.397887357729738,
        },
        Problem {
            name: "hartmann6",
            space: uniform_space(6, 0.0, 1.0),
            loss: |p| hartmann6(&xs(p, 6)),
            minimum: -3.32236801141551,
        },
        Problem {
            name: "log_goldstein_price",
            space: Space::from_params([hp::uniform("x1", -2.0, 2.0), hp::uniform("x2", -2.0, 2.0)])
                .expect("benchmark space is valid"),
            loss: |p| log_goldstein_price(named(p, "x1"), named(p, "x2")),
            minimum: 3f64.log10(),
        },
        Problem {
            name: "rosenbrock5",
            space: uniform_space(5, -5.0, 10.0),
            loss: |p| rosenbrock(&xs(p, 5)),
            minimum: 0.0,
        },
        Problem {
            name: "ackley5_shifted",
            space: uniform_space(5, -32.768, 32.768),
            loss: |p| ackley_shifted(&xs(p, 5)),
            minimum: 0.0,
        },
        Problem {
            name: "rastrigin5_shifted",
            space: uniform_space(5, -5.12, 5.12),
            loss: |p| rastrigin_shifted(&xs(p, 5)),
            minimum: 0.0,
        },
        Problem {
            name: "styblinski_tang10",
            space: uniform_space(10, -5.0, 5.0),
            loss: |p| styblinski_tang(&xs(p, 10)),
            minimum: -39.16616570377142 * 10.0,
        },
        Problem {
            name: "michalewicz5",
            space: uniform_space(5, 0.0, PI),
            loss: |p| michalewicz(&xs(p, 5)),
            minimum: -4.687658,
        },
        Problem {
            name: "levy10",
            space: uniform_space(10, -10.0, 10.0),
            loss: |p| levy(&xs(p, 10)),
            minimum: 0.0,
        },
        Problem {
            name: "log_quadratic4",
            space: log_space,
            loss: |p| log_quadratic(&xs(p, 4)),
            minimum: 0.0,
        },
        Problem {
            name: "int_hartmann6",
            space: int_h6,
            loss: |p| {
                let mut v: Vec<f64> = (0..3).map(|i| named(p, &format!("k{i}")) / 10.0).collect();
                v.extend((3..6).map(|i| x(p, i)));
                hartmann6(&v)
            },
            minimum: -3.290007875589544,
        },
        Problem {
            name: "mixed_hpo",
            space: mixed_space(),
            loss: mixed_loss,
            minimum: 0.0,
        },
        Problem {
            name: "model_families",
            space: families_space(),
            loss: model_families,
            minimum: 0.0,
        },
    ]
}

/// The problem called `name`.
pub fn by_name(name: &str) -> Option<Problem> {
    all().into_iter().find(|p| p.name == name)
}

/// The 10-parameter mixed space of the suggestion benchmark (`shared/anchors/suggest_latency.py`):
/// 4 uniform, 2 loguniform, 2 integer and 2 categorical parameters.
pub fn mixed10_space() -> Space {
    let mut items: Vec<(String, Node)> = (0..4)
        .map(|i| {
            let label = format!("x{i}");
            let node = hp::uniform(&label, -1.0, 1.0);
            (label, node)
        })
        .collect();
    items.push(("lr".into(), hp::loguniform("lr", -7.0, 0.0)));
    items.push(("reg".into(), hp::loguniform("reg", -9.0, 0.0)));
    items.push(("depth".into(), hp::quniform("depth", 1.0, 20.0, 1.0).int()));
    items.push(("n".into(), hp::quniform("n", 10.0, 200.0, 1.0).int()));
    items.push(("c1".into(), hp::choice("c1", ["a", "b", "c"])));
    items.push(("c2".into(), hp::choice("c2", [1_i64, 2, 3, 4])));
    Space::new(hp::map(items)).expect("benchmark space is valid")
}

/// The objective of `shared/anchors/suggest_latency.py` over [`mixed10_space`].
pub fn mixed10_objective(p: &Params) -> f64 {
    let x = |k: &str| named(p, k);
    let mut s: f64 = (0..4).map(|i| (x(&format!("x{i}")) - 0.3).powi(2)).sum();
    s += (x("lr").ln() + 3.0).powi(2) + (x("reg").ln() + 5.0).powi(2);
    s += (x("depth") - 7.0).powi(2) * 0.01 + (x("n") - 50.0).powi(2) * 1e-4;
    s += if p.str("c1").unwrap_or_default() == "b" {
        0.0
    } else {
        0.5
    };
    s += if p.i64("c2").unwrap_or(0) == 2 {
        0.0
    } else {
        0.3
    };
    s
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// The loss of problem `name` at raw values `{label: value}` (choices as option indices).
    fn at(name: &str, values: &[(&str, f64)]) -> f64 {
        let p = by_name(name).expect("known problem");
        let raw: BTreeMap<String, Value> = values
            .iter()
            .map(|(k, v)| (k.to_string(), Value::Float(*v)))
            .collect();
        let a = p.space.assignment_from_raw(&raw).expect("valid point");
        (p.loss)(&p.space.params_of(a))
    }

    fn xv(vals: &[f64]) -> Vec<(String, f64)> {
        vals.iter()
            .enumerate()
            .map(|(i, v)| (format!("x{i}"), *v))
            .collect()
    }

    fn at_x(name: &str, vals: &[f64]) -> f64 {
        let named = xv(vals);
        let refs: Vec<(&str, f64)> = named.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        at(name, &refs)
    }

    fn close(got: f64, want: f64) {
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "got {got}, want {want}"
        );
    }

    // Expected values computed with shared/anchors/problems.py (python3).
    #[test]
    fn values_at_known_points_match_problems_py() {
        close(at("branin", &[("x1", 1.0), ("x2", 2.0)]), 21.62763539206238);
        close(
            at_x("hartmann6", &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]),
            -1.4069105761385297,
        );
        close(
            at("log_goldstein_price", &[("x1", 0.5), ("x2", -0.5)]),
            2.287241711178348,
        );
        close(at_x("rosenbrock5", &[0.5, -1.0, 2.0, 1.5, 0.0]), 1393.0);
        close(
            at_x("ackley5_shifted", &[7.0, 8.0, 7.3, -1.0, 10.0]),
            12.629521366409186,
        );
        close(
            at_x("rastrigin5_shifted", &[0.0, 1.1, 2.5, -3.0, 4.0]),
            52.209660112501034,
        );
        let st: Vec<f64> = (0..10).map(|i| -2.0 + 0.4 * i as f64).collect();
        close(at_x("styblinski_tang10", &st), -96.73760000000001);
        let mi: Vec<f64> = (0..5).map(|i| 0.5 + 0.5 * i as f64).collect();
        close(at_x("michalewicz5", &mi), -0.23490942170244353);
        let le: Vec<f64> = (0..10).map(|i| -3.0 + 0.7 * i as f64).collect();
        close(at_x("levy10", &le), 22.114014395137907);
        close(
            at_x("log_quadratic4", &[1e-3, 1e-2, 0.5, 1e-5]),
            2.1091770643598826,
        );
        close(
            at(
                "int_hartmann6",
                &[
                    ("k0", 2.0),
                    ("k1", 2.0),
                    ("k2", 5.0),
                    ("x3", 0.27434),
                    ("x4", 0.312),
                    ("x5", 0.65783),
                ],
            ),
            -3.290007873775197,
        );
        let mixed = |opt: f64, lr: f64, units: f64, layers: f64, dropout: f64| {
            at(
                "mixed_hpo",
                &[
                    ("lr", lr),
                    ("units", units),
                    ("layers", layers),
                    ("dropout", dropout),
                    ("opt", opt),
                    ("momentum", 0.5),
                ],
            )
        };
        // sgd with momentum 0.5 (the conditional parameter), adam at the optimum, rmsprop
        close(mixed(0.0, 1e-3, 64.0, 2.0, 0.3), 2.8300000000000005);
        close(mixed(1.0, 10f64.powf(-2.5), 128.0, 3.0, 0.2), 0.0);
        close(mixed(2.0, 0.1, 300.0, 6.0, 0.0), 7.547498843528003);
        // model_families: each family's best (k-NN 0.4, SVM 0.1, forest 0) and a k-NN point
        let family = |model: f64| {
            at(
                "model_families",
                &[
                    ("model", model),
                    ("knn_k", 12.0),
                    ("svm_c", 10.0),
                    ("svm_gamma", 0.01),
                    ("rf_trees", 256.0),
                    ("rf_depth", 12.0),
                    ("rf_features", 0.3),
                ],
            )
        };
        close(family(0.0), 0.4);
        close(family(1.0), 0.1);
        close(family(2.0), 0.0);
        close(
            at("model_families", &[("model", 0.0), ("knn_k", 37.0)]),
            0.4 + 0.5 * 0.25,
        );
    }

    #[test]
    fn minima_are_reached_at_the_known_optima() {
        let p = |n: &str| by_name(n).unwrap().minimum;
        close(at("branin", &[("x1", PI), ("x2", 2.275)]), p("branin"));
        let h = at_x(
            "hartmann6",
            &[0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573],
        );
        assert!((h - p("hartmann6")).abs() < 1e-8);
        close(
            at("log_goldstein_price", &[("x1", 0.0), ("x2", -1.0)]),
            p("log_goldstein_price"),
        );
        close(at_x("rosenbrock5", &[1.0; 5]), 0.0);
        assert!(at_x("ackley5_shifted", &[7.3; 5]).abs() < 1e-12);
        assert!(at_x("rastrigin5_shifted", &[1.1; 5]).abs() < 1e-12);
        assert!(
            (at_x("styblinski_tang10", &[-2.903534; 10]) - p("styblinski_tang10")).abs() < 1e-6
        );
        let m = at_x(
            "michalewicz5",
            &[
                2.202906,
                std::f64::consts::FRAC_PI_2,
                1.284992,
                1.923058,
                1.720470,
            ],
        );
        assert!((m - p("michalewicz5")).abs() < 1e-6);
        close(at_x("levy10", &[1.0; 10]), 0.0);
        close(
            at_x(
                "log_quadratic4",
                &[
                    10f64.powf(-4.3),
                    10f64.powf(-2.1),
                    10f64.powf(-0.7),
                    10f64.powf(-5.5),
                ],
            ),
            0.0,
        );
        assert_eq!(all().len(), 13);
    }
}
