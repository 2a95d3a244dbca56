//! Search spaces: validation errors name the label, typed values, quantization rule,
//! conditional parameters, hyperopt's space_eval and raw export.

use std::collections::{BTreeMap, BTreeSet};

use hpo::algo::trial_rng;
use hpo::{hp, Node, Space, SpaceError, Value};

fn err(node: Node) -> SpaceError {
    Space::new(hp::map([("p", node)])).expect_err("space should be invalid")
}

#[test]
fn validation_errors_name_the_label() {
    let cases: Vec<(Node, &str)> = vec![
        (
            hp::uniform("a", 1.0, 1.0),
            "low (1) must be less than high (1)",
        ),
        (hp::uniform("a", 2.0, 1.0), "low (2)"),
        (hp::quniform("a", 0.0, 10.0, 0.0), "q must be > 0"),
        (hp::quniform("a", 0.0, 10.0, -1.0), "q must be > 0"),
        (hp::normal("a", 0.0, 0.0), "sigma must be > 0"),
        (hp::lognormal("a", 0.0, -1.0), "sigma must be > 0"),
        (hp::choice::<Node>("a", []), "at least one option"),
        (hp::pchoice("a", [(0.5, "x"), (0.6, "y")]), "sum to 1.1"),
        (
            hp::pchoice("a", [(1.5, "x"), (-0.5, "y")]),
            "must be in [0, 1]",
        ),
        (hp::randint("a", 3, 3), "low (3) must be less than high (3)"),
        (hp::uniformint("a", 5, 1), "low (5)"),
        (hp::uniform("a", f64::NAN, 1.0), "finite"),
        (hp::quniform("a", 1.0, 3.0, 4.0), "no multiple of q = 4"),
        (hp::uniform("a", 0.0, 1.0).int(), "only quantized"),
        (hp::quniform("a", 0.0, 1.0, 0.5).int(), "integer q"),
        (hp::loguniform("a", 0.001, 1000.0), "[-700, 700]"),
    ];
    for (node, needle) in cases {
        let msg = err(node).to_string();
        assert!(msg.contains("'a'"), "error does not name the label: {msg}");
        assert!(msg.contains(needle), "'{msg}' does not contain '{needle}'");
    }
    let dup = Space::new(hp::map([
        ("x", hp::uniform("x", 0.0, 1.0)),
        ("y", hp::uniform("x", 0.0, 2.0)),
    ]))
    .unwrap_err();
    assert_eq!(dup, SpaceError::DuplicateLabel("x".into()));
    assert_eq!(err(hp::uniform("", 0.0, 1.0)), SpaceError::EmptyLabel);
}

#[test]
fn a_shared_parameter_is_one_parameter() {
    let lr = hp::loguniform("lr", -5.0, 0.0);
    let space = Space::new(hp::map([("a", lr.clone()), ("b", hp::list([lr]))])).unwrap();
    assert_eq!(space.len(), 1);
    let p = space.params_of(space.sample_prior(&mut trial_rng(1, 0)));
    let tree = p.tree();
    let m = tree.as_map().unwrap();
    // both places hold the same value
    assert_eq!(Value::List(vec![m["a"].clone()]), m["b"]);
}

fn samples(node: Node, n: usize) -> Vec<Value> {
    let space = Space::new(hp::map([("p", node)])).unwrap();
    let mut rng = trial_rng(42, 0);
    (0..n)
        .map(|_| {
            space
                .params_of(space.sample_prior(&mut rng))
                .get("p")
                .unwrap()
        })
        .collect()
}

#[test]
fn integer_distributions_yield_integers_and_choices_their_values() {
    for v in samples(hp::randint("p", 3, 7), 200) {
        assert!(matches!(v, Value::Int(3..=6)), "{v:?}");
    }
    for v in samples(hp::uniformint("p", -2, 2), 200) {
        assert!(matches!(v, Value::Int(-2..=2)), "{v:?}");
    }
    for v in samples(hp::quniform("p", 1.0, 10.0, 1.0).int(), 200) {
        assert!(matches!(v, Value::Int(1..=10)), "{v:?}");
    }
    for v in samples(
        hp::qloguniform("p", 16f64.ln(), 512f64.ln(), 1.0).int(),
        200,
    ) {
        assert!(matches!(v, Value::Int(16..=512)), "{v:?}");
    }
    let seen: BTreeSet<String> = samples(hp::choice("p", ["l1", "l2"]), 100)
        .into_iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, BTreeSet::from(["l1".to_string(), "l2".to_string()]));
    for v in samples(hp::quniform("p", 0.0, 1.0, 0.1), 100) {
        assert!(matches!(v, Value::Float(_)));
        let x = v.as_f64().unwrap();
        // grid values print cleanly: 0.30000000000000004 becomes 0.3
        assert!(format!("{x}").len() <= 3, "{x}");
    }
}

#[test]
fn quantized_values_never_leave_the_bounds() {
    // hyperopt's quniform(1, 10, 4) returns 0; here the grid is {4, 8}
    let got: BTreeSet<i64> = samples(hp::quniform("p", 1.0, 10.0, 4.0), 500)
        .iter()
        .map(|v| v.as_f64().unwrap() as i64)
        .collect();
    assert_eq!(got, BTreeSet::from([4, 8]));
    // qloguniform(0, ln 100, 10): values are multiples of 10 in [1, 100], so 10..=100
    for v in samples(hp::qloguniform("p", 0.0, 100f64.ln(), 10.0), 500) {
        let x = v.as_f64().unwrap();
        assert!((10.0..=100.0).contains(&x) && x % 10.0 == 0.0, "{x}");
    }
    // qlognormal never returns 0
    for v in samples(hp::qlognormal("p", 0.0, 2.0, 5.0), 500) {
        assert!(v.as_f64().unwrap() >= 5.0);
    }
}

#[test]
fn quniform_gives_every_grid_value_the_same_mass() {
    // hyperopt gives the end values of quniform(0, 10, 1) half the mass; here all 11 are equal
    let n = 22_000;
    let mut counts = BTreeMap::new();
    for v in samples(hp::quniform("p", 0.0, 10.0, 1.0), n) {
        *counts.entry(v.as_f64().unwrap() as i64).or_insert(0usize) += 1;
    }
    assert_eq!(counts.len(), 11);
    for (k, c) in counts {
        // expected 2000 each; 5 sigma is about 215
        assert!(
            (c as f64 - 2000.0).abs() < 250.0,
            "value {k} drawn {c} times"
        );
    }
}

fn conditional_space() -> Space {
    Space::new(hp::map([
        ("lr", hp::loguniform("lr", -7.0, 0.0)),
        ("objective", Node::from("reg:linear")),
        ("seed", Node::from(42)),
        (
            "model",
            hp::choice(
                "model",
                [
                    hp::map([
                        ("type", Node::from("svm")),
                        ("C", hp::loguniform("C", -4.0, 2.0)),
                    ]),
                    hp::map([
                        ("type", Node::from("tree")),
                        ("depth", hp::uniformint("depth", 2, 20)),
                    ]),
                ],
            ),
        ),
    ]))
    .unwrap()
}

#[test]
fn only_active_labels_appear_and_each_branch_is_explored() {
    let space = conditional_space();
    let mut rng = trial_rng(3, 0);
    let mut branches = BTreeSet::new();
    for _ in 0..200 {
        let p = space.params_of(space.sample_prior(&mut rng));
        let model = p.get("model").unwrap();
        let kind = model.as_map().unwrap()["type"]
            .as_str()
            .unwrap()
            .to_string();
        let labels: BTreeSet<String> = p.iter().map(|(k, _)| k.to_string()).collect();
        match kind.as_str() {
            "svm" => {
                assert_eq!(
                    labels,
                    BTreeSet::from(["lr".into(), "model".into(), "C".into()])
                );
                assert!(!p.contains("depth"));
            }
            _ => {
                assert_eq!(
                    labels,
                    BTreeSet::from(["lr".into(), "model".into(), "depth".into()])
                );
                assert!(p.f64("C").is_err());
            }
        }
        // constants pass through
        let tree = p.tree();
        let m = tree.as_map().unwrap();
        assert_eq!(m["objective"], Value::from("reg:linear"));
        assert_eq!(m["seed"], Value::Int(42));
        branches.insert(kind);
    }
    assert_eq!(branches.len(), 2);
}

#[test]
fn space_eval_and_raw_export_round_trip() {
    let space = conditional_space();
    let raw = BTreeMap::from([
        ("lr".to_string(), Value::Float(0.01)),
        ("model".to_string(), Value::Int(1)),
        ("depth".to_string(), Value::Int(7)),
        ("C".to_string(), Value::Float(3.0)), // inactive: ignored
    ]);
    let tree = space.eval(&raw).unwrap();
    let m = tree.as_map().unwrap();
    assert_eq!(m["lr"], Value::Float(0.01));
    assert_eq!(m["model"].as_map().unwrap()["depth"], Value::Int(7));
    let a = space.assignment_from_raw(&raw).unwrap();
    let p = space.params_of(a);
    let back = p.raw();
    assert_eq!(back.get("model"), Some(&Value::Int(1)));
    assert_eq!(back.get("depth"), Some(&Value::Float(7.0)));
    assert!(!back.contains_key("C"));
    assert_eq!(p.flat().get("model"), Some(&Value::Int(1)));
    assert_eq!(p.flat().get("model.type"), Some(&Value::from("tree")));
    assert!(
        !p.flat().contains_key("model.depth"),
        "parameters keep their own labels"
    );
    // typed values: a choice among constants by its value
    let s2 = Space::from_params([
        hp::choice("penalty", ["l1", "l2"]),
        hp::uniform("x", 0.0, 1.0),
    ])
    .unwrap();
    let v = BTreeMap::from([
        ("penalty".to_string(), Value::from("l2")),
        ("x".to_string(), Value::Float(0.5)),
    ]);
    let p2 = s2.params_of(s2.assignment_from_values(&v).unwrap());
    assert_eq!(p2.str("penalty").unwrap(), "l2");
    assert_eq!(p2.raw()["penalty"], Value::Int(1));
}

#[test]
fn bad_points_are_errors_not_panics() {
    let space = conditional_space();
    let missing = BTreeMap::from([
        ("lr".to_string(), Value::Float(0.01)),
        ("model".to_string(), Value::Int(0)),
    ]);
    assert_eq!(
        space.assignment_from_raw(&missing).unwrap_err(),
        SpaceError::MissingValue("C".into())
    );
    let unknown = BTreeMap::from([("nope".to_string(), Value::Int(0))]);
    assert_eq!(
        space.assignment_from_raw(&unknown).unwrap_err(),
        SpaceError::UnknownLabel("nope".into())
    );
    let out = BTreeMap::from([
        ("lr".to_string(), Value::Float(5.0)),
        ("model".to_string(), Value::Int(1)),
        ("depth".to_string(), Value::Int(7)),
    ]);
    let e = space.assignment_from_raw(&out).unwrap_err().to_string();
    assert!(e.contains("'lr'") && e.contains("in ["), "{e}");
    let bad_choice = BTreeMap::from([
        ("lr".to_string(), Value::Float(0.01)),
        ("model".to_string(), Value::Int(5)),
    ]);
    let e = space
        .assignment_from_raw(&bad_choice)
        .unwrap_err()
        .to_string();
    assert!(e.contains("'model'") && e.contains("0..2"), "{e}");
}

#[test]
fn params_accessors_report_type_errors() {
    let space =
        Space::from_params([hp::choice("c", ["a", "b"]), hp::uniformint("n", 1, 3)]).unwrap();
    let p = space.params_of(space.sample_prior(&mut trial_rng(0, 0)));
    assert!(p.f64("c").unwrap_err().to_string().contains("not a number"));
    assert!(p.i64("n").is_ok());
    assert!(p.f64("n").is_ok());
    assert!(p
        .str("zzz")
        .unwrap_err()
        .to_string()
        .contains("no parameter labelled 'zzz'"));
    let json = p.to_json();
    assert!(json["n"].is_i64());
    assert!(json["c"].is_string());
}

#[test]
fn ranges_that_cannot_be_sampled_finitely_and_exactly_are_refused() {
    let cases: Vec<(Node, &str)> = vec![
        (hp::quniform("a", 0.0, 1e300, 1e-300), "value / q overflows"),
        (hp::normal("a", 0.0, 1e308), "mu ± 13 sigma"),
        (hp::qnormal("a", 0.0, 1e300, 1e-300), "value / q overflows"),
        (hp::lognormal("a", 700.0, 10.0), "exp(mu + 13 sigma)"),
        (hp::qlognormal("a", 700.0, 10.0, 1.0), "exp(mu + 13 sigma)"),
        (hp::uniform("a", -1.7e308, 1.7e308), "high - low"),
        (hp::quniform("a", -1.7e308, 1.7e308, 1e300), "high - low"),
        (hp::quniform("a", 0.0, 1e300, 1.0).int(), "within ±2^53"),
        (hp::quniform("a", 0.0, 1e300, 1.0), "at most 2^53"),
        (hp::qloguniform("a", 0.0, 700.0, 1.0).int(), "within ±2^53"),
        (hp::qnormal("a", 0.0, 1e15, 1.0).int(), "within ±2^53"),
        (hp::uniformint("a", 0, i64::MAX), "within ±2^53"),
        (hp::randint("a", i64::MIN, 0), "within ±2^53"),
    ];
    for (node, needle) in cases {
        let msg = err(node.clone()).to_string();
        assert!(
            msg.starts_with("parameter 'a': "),
            "error does not name the label: {msg}"
        );
        assert!(
            msg.contains("cannot be sampled finitely and exactly"),
            "{msg}"
        );
        assert!(msg.contains(needle), "'{msg}' does not contain '{needle}'");
    }
    // the edges themselves are fine, and their draws are finite
    for node in [
        hp::uniform("p", -8e307, 8e307),
        hp::normal("p", 0.0, 1e300),
        hp::lognormal("p", 0.0, 50.0),
        hp::quniform("p", 0.0, 9_007_199_254_740_992.0, 1.0).int(),
        hp::uniformint("p", -(1 << 53), 1 << 53),
    ] {
        for v in samples(node, 50) {
            let x = match v {
                Value::Float(x) => x,
                Value::Int(i) => i as f64,
                other => panic!("{other:?}"),
            };
            assert!(x.is_finite(), "{x}");
        }
    }
}
