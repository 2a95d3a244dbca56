//! Unit tests of the search language.

use super::parse::OPERATORS;
use super::*;

fn err_column(filter: &str) -> (usize, String) {
    match parse_filter(filter) {
        Err(SearchError::Syntax {
            column, expected, ..
        }) => (column, expected),
        other => panic!("expected a syntax error for {filter:?}, got {other:?}"),
    }
}

const FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "name",
        numeric: false,
    },
    FieldSpec {
        name: "version_number",
        numeric: true,
    },
];

#[test]
fn entity_filters_use_the_declared_fields() {
    let e = parse_filter_for("name LIKE 'nyc%' AND tags.team = 'ml'", FIELDS)
        .unwrap()
        .unwrap();
    assert_eq!(
        e,
        Expr::And(
            Box::new(Expr::Compare(
                Identifier::Field("name".into()),
                Operator::Like {
                    case_insensitive: false,
                    negated: false,
                    pattern: "nyc%".into()
                }
            )),
            Box::new(Expr::Compare(
                Identifier::Tag("team".into()),
                Operator::Compare("=", Literal::Str("ml".into()))
            ))
        )
    );
    let e = parse_filter_for("attributes.VERSION_NUMBER >= 2", FIELDS)
        .unwrap()
        .unwrap();
    assert!(matches!(&e, Expr::Compare(Identifier::Field(f), _) if f == "version_number"));
    for (bad, col) in [
        ("run_name = 'x'", 1),
        ("metrics.loss < 1", 1),
        ("version_number = 'x'", 18),
        ("name = 3", 8),
        ("version_number LIKE 'x'", 16),
    ] {
        match parse_filter_for(bad, FIELDS) {
            Err(SearchError::Syntax { column, .. }) => assert_eq!(column, col, "{bad}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    assert!(
        parse_filter("name = 'x'").is_err(),
        "run filters are unchanged"
    );
    let o = parse_order_by_for("version_number DESC", 0, FIELDS).unwrap();
    assert!(!o.ascending);
    let mut b = Bindings::default();
    let col = |i: &Identifier, q: &mut Bindings| match i {
        Identifier::Field(f) => format!("x.{f}"),
        Identifier::Tag(k) => q.bind(SqlValue::Text(k.clone())),
        _ => "NULL".into(),
    };
    let sql = compile_filter_with(&e, &mut b, &col);
    assert_eq!(sql, "COALESCE(x.version_number >= ?1, 0)");
    assert_eq!(b.params, vec![SqlValue::Real(2.0)]);
    let order = compile_order_with(&[o], &mut b, &col, &["x.name ASC"]);
    assert_eq!(
        order,
        "x.version_number IS NULL, x.version_number DESC, x.name ASC"
    );
}

#[test]
fn parses_mlflow_filters() {
    let e = parse_filter("metrics.rmse < 7 and params.penalty = 'l2'")
        .unwrap()
        .unwrap();
    assert_eq!(
        e,
        Expr::And(
            Box::new(Expr::Compare(
                Identifier::Metric {
                    key: "rmse".into(),
                    stat: MetricStat::Latest
                },
                Operator::Compare("<", Literal::Number(7.0))
            )),
            Box::new(Expr::Compare(
                Identifier::Param("penalty".into()),
                Operator::Compare("=", Literal::Str("l2".into()))
            ))
        )
    );
}

#[test]
fn quoted_and_dotted_keys() {
    let e = parse_filter("metrics.`val loss` <= 1e-3").unwrap().unwrap();
    assert_eq!(
        e,
        Expr::Compare(
            Identifier::Metric {
                key: "val loss".into(),
                stat: MetricStat::Latest
            },
            Operator::Compare("<=", Literal::Number(1e-3))
        )
    );
    let e = parse_filter("tags.hpo.user = 'ann'").unwrap().unwrap();
    assert!(matches!(e, Expr::Compare(Identifier::Tag(k), _) if k == "hpo.user"));
    let e = parse_filter("tags.\"my key\" = 'x'").unwrap().unwrap();
    assert!(matches!(e, Expr::Compare(Identifier::Tag(k), _) if k == "my key"));
    let e = parse_filter("metrics.min.val_loss < 0.1").unwrap().unwrap();
    assert!(matches!(
        e,
        Expr::Compare(Identifier::Metric { stat: MetricStat::Min, ref key }, _) if key == "val_loss"
    ));
    let e = parse_filter("metrics.`min.x` < 0.1").unwrap().unwrap();
    assert!(matches!(
        e,
        Expr::Compare(Identifier::Metric { stat: MetricStat::Latest, ref key }, _) if key == "min.x"
    ));
    let e = parse_filter("metrics.min = 1").unwrap().unwrap();
    assert!(matches!(
        e,
        Expr::Compare(Identifier::Metric { stat: MetricStat::Latest, ref key }, _) if key == "min"
    ));
    let e = parse_filter("metrics.layer2.acc > 1").unwrap().unwrap();
    assert!(matches!(
        e,
        Expr::Compare(Identifier::Metric { ref key, .. }, _) if key == "layer2.acc"
    ));
}

#[test]
fn error_positions() {
    let (col, expected) = err_column("metrics.rmse < 7 foo");
    assert_eq!((col, expected.as_str()), (18, "AND, OR or end of input"));
    let (col, expected) = err_column("params.lr foo 1");
    assert_eq!(col, 11);
    assert_eq!(expected, OPERATORS);
    let msg = parse_filter("params.lr foo 1").unwrap_err().to_string();
    assert_eq!(
        msg,
        "invalid filter at column 11: expected a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, IS), found 'foo'"
    );
    assert_eq!(err_column("metrics.rmse < 'x'").0, 16);
    assert_eq!(err_column("bogus = 1").0, 1);
    assert_eq!(err_column("metrics.a < 1 and (metrics.b > 2").0, 33);
    assert_eq!(err_column("params.a = 'unterminated").0, 12);
    assert_eq!(err_column("metrics.a <").0, 12);
    assert_eq!(err_column("tags.t = 5").0, 10);
    assert_eq!(err_column("status = 1").0, 10);
    assert_eq!(err_column("start_time LIKE 'x'").0, 12);
    assert_eq!(err_column("params.a IN ('x', 1)").0, 19);
    assert_eq!(err_column("params.a IS 5").0, 13);
    assert_eq!(err_column("metrics. = 1").0, 10);
    assert_eq!(err_column("a ~ 1").0, 3);
}

#[test]
fn never_panics_on_junk() {
    let junk = [
        "",
        " ",
        "(",
        ")",
        "((((",
        "not",
        "not not",
        "and",
        "metrics",
        "metrics.",
        "metrics.x",
        "metrics.x <",
        "metrics.x < 1 and",
        "in (",
        "params.a in (",
        "params.a in ()",
        "params.a in ('x',",
        "'",
        "`",
        "\"",
        "1e",
        "-",
        "--1",
        "..",
        "é = 'ü'",
        "params.é = 'ü'",
        "metrics.x < 1e400",
        "\u{0}",
        "params.a is not",
        "params.a not",
        "params.a not foo 'x'",
    ];
    for j in junk {
        let _ = parse_filter(j);
        let _ = parse_order_by(j, 0);
    }
    let deep = "(".repeat(10_000) + "status = 'x'" + &")".repeat(10_000);
    assert!(parse_filter(&deep).is_err());
    let nots = "not ".repeat(10_000) + "status = 'x'";
    assert!(parse_filter(&nots).is_err());
}

#[test]
fn order_by_clauses() {
    assert_eq!(
        parse_order_by("metrics.rmse ASC", 0).unwrap(),
        OrderKey {
            ident: Identifier::Metric {
                key: "rmse".into(),
                stat: MetricStat::Latest
            },
            ascending: true
        }
    );
    assert!(!parse_order_by("params.lr desc", 0).unwrap().ascending);
    assert!(
        parse_order_by("attributes.start_time", 0)
            .unwrap()
            .ascending
    );
    match parse_order_by("metrics.rmse upward", 2) {
        Err(SearchError::Syntax { clause, column, .. }) => {
            assert_eq!((clause.as_str(), column), ("order_by[2]", 14))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn values_are_bound_not_inlined() {
    let e = parse_filter("params.a = 'x''; DROP TABLE runs; --'")
        .unwrap()
        .unwrap();
    let mut q = Bindings::default();
    let sql = compile_filter(&e, &mut q);
    assert!(!sql.contains("DROP"));
    assert_eq!(q.params.len(), 2);
}

#[test]
fn param_classes_a_filter_rules_out() {
    use ParamClass::{Missing, Number, Text};
    let classes = |filter: &str| -> Vec<ParamClass> {
        let e = parse_filter(filter).unwrap().unwrap();
        [Number, Text, Missing]
            .into_iter()
            .filter(|c| may_hold_for_param(&e, "p", *c))
            .collect()
    };
    assert_eq!(classes("params.p > 1"), [Number]);
    assert_eq!(classes("params.p NOT IN (1, 2)"), [Number]);
    assert_eq!(classes("params.p = 'x'"), [Number, Text]);
    assert_eq!(classes("params.p NOT LIKE 'x%'"), [Number, Text]);
    assert_eq!(classes("params.p IS NOT NULL"), [Number, Text]);
    assert_eq!(classes("params.p IS NULL"), [Missing]);
    assert_eq!(classes("params.p > 1 AND metrics.m < 2"), [Number]);
    assert_eq!(classes("params.p > 1 OR params.p = 'x'"), [Number, Text]);
    assert_eq!(
        classes("params.p > 1 OR tags.t = 'x'"),
        [Number, Text, Missing]
    );
    assert_eq!(classes("NOT params.p > 1"), [Number, Text, Missing]);
    assert_eq!(classes("params.q > 1"), [Number, Text, Missing]);
    assert_eq!(classes("params.p > 1 AND params.p IS NULL"), []);
}

#[test]
fn param_bounds_are_the_top_level_comparisons() {
    let bounds = |filter: &str| -> Vec<(&'static str, Literal)> {
        let e = parse_filter(filter).unwrap().unwrap();
        param_bounds(&e, "p")
            .into_iter()
            .map(|(sym, lit)| (sym, lit.clone()))
            .collect()
    };
    assert_eq!(
        bounds("params.p >= 1 AND metrics.m < 2 AND (params.p < 'z' AND params.q = 3)"),
        [
            (">=", Literal::Number(1.0)),
            ("<", Literal::Str("z".into()))
        ]
    );
    assert!(bounds("params.p != 1").is_empty());
    assert!(bounds("params.p > 1 OR params.p < 0").is_empty());
    assert!(bounds("NOT params.p > 1").is_empty());
    assert!(bounds("params.p IN (1, 2)").is_empty());
}

#[test]
fn metric_bounds_are_the_top_level_numeric_comparisons_of_the_latest_value() {
    let bounds = |filter: &str| {
        let e = parse_filter(filter).unwrap().unwrap();
        metric_bounds(&e, "m")
    };
    assert_eq!(
        bounds("metrics.m > 0.5 AND params.p = 'a' AND (metrics.m <= 2 AND metrics.n < 1)"),
        [(">", 0.5), ("<=", 2.0)]
    );
    assert!(bounds("metrics.m != 1").is_empty());
    assert!(bounds("metrics.min.m > 1 AND metrics.max.m < 3").is_empty());
    assert!(bounds("metrics.m > 1 OR metrics.m < 0").is_empty());
    assert!(bounds("NOT metrics.m > 1").is_empty());
}

#[test]
fn like_patterns() {
    assert_eq!(like_to_glob("ab%c_"), "ab*c?");
    assert_eq!(like_to_glob("a*b?[c"), "a[*]b[?][[]c");
}

#[test]
fn page_tokens() {
    let t = encode_page_token(40, 7);
    assert_eq!(decode_page_token(&t, 7), Ok(40));
    assert!(decode_page_token(&t, 8).is_err());
    assert!(decode_page_token("zz", 7).is_err());
    assert!(decode_page_token("abc", 7).is_err());
    assert!(decode_page_token("é1", 7).is_err());
}
