//! Searches ordered by a metric or a param that some runs lack: MLflow puts those runs last, and
//! the plans read them in a part of their own (after proving it empty when every run of the store
//! has the value). Every page of every search is compared with the order worked out here from the
//! runs' own values, over several experiments and every view type, with deleted runs.

use hpo::tracking::{Metric, NewRun, Param, RunsQuery, Store, ViewType};

/// One run of the fixture and the values it was given.
struct Fixture {
    id: String,
    name: String,
    experiment: i64,
    start: i64,
    /// Latest value of metric `m` (some runs lack it).
    m: Option<f64>,
    /// Param `p`: a number, a text or missing.
    p: Option<String>,
    /// Latest value of metric `all`, which every run has until the end of the test.
    all: Option<f64>,
    /// Param `pall`, which every run has until the end of the test.
    pall: Option<String>,
    /// Param `q` is `yes`.
    q_yes: bool,
    /// Latest value of metric `n`.
    n: f64,
    deleted: bool,
}

/// Where a param value sorts: numbers, then other text, then missing.
fn param_class(v: &Option<String>) -> (u8, f64, String) {
    match v {
        Some(s) => match s.parse::<f64>() {
            Ok(x) => (0, x, s.clone()),
            Err(_) => (1, 0.0, s.clone()),
        },
        None => (2, 0.0, String::new()),
    }
}

/// The names of the runs `q` (one experiment set, view, filter, order) must return, in MLflow's
/// order: missing values last in both directions, ties by start time descending.
fn expected(
    runs: &[Fixture],
    exps: &[i64],
    view: ViewType,
    filter: &str,
    order: &str,
) -> Vec<String> {
    let mut hits: Vec<&Fixture> = runs
        .iter()
        .filter(|r| exps.is_empty() || exps.contains(&r.experiment))
        .filter(|r| match view {
            ViewType::ActiveOnly => !r.deleted,
            ViewType::DeletedOnly => r.deleted,
            ViewType::All => true,
        })
        .filter(|r| match filter {
            "" => true,
            "params.q = 'yes'" => r.q_yes,
            "metrics.n > 5" => r.n > 5.0,
            other => panic!("no expectation for {other}"),
        })
        .collect();
    let (key, asc) = order.split_once(' ').unwrap();
    let asc = asc == "ASC";
    hits.sort_by(|a, b| {
        let dir = |o: std::cmp::Ordering| if asc { o } else { o.reverse() };
        let by_value = match key {
            "metrics.m" | "metrics.all" => {
                let (x, y) = if key == "metrics.m" {
                    (a.m, b.m)
                } else {
                    (a.all, b.all)
                };
                match (x, y) {
                    (Some(x), Some(y)) => dir(x.total_cmp(&y)),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                }
            }
            "params.p" | "params.pall" => {
                let (x, y) = if key == "params.p" {
                    (&a.p, &b.p)
                } else {
                    (&a.pall, &b.pall)
                };
                let (cx, cy) = (param_class(x), param_class(y));
                cx.0.cmp(&cy.0).then_with(|| match cx.0 {
                    0 => dir(cx.1.total_cmp(&cy.1).then_with(|| cx.2.cmp(&cy.2))),
                    1 => dir(cx.2.cmp(&cy.2)),
                    _ => std::cmp::Ordering::Equal,
                })
            }
            other => panic!("no order {other}"),
        };
        by_value
            .then_with(|| b.start.cmp(&a.start))
            .then_with(|| a.id.cmp(&b.id))
    });
    hits.into_iter().map(|r| r.name.clone()).collect()
}

/// Every run `q` returns, read in pages of `size`, checking that no run comes twice.
fn all_pages(s: &dyn Store, q: &RunsQuery, size: usize) -> Vec<String> {
    let mut token = None;
    let mut seen = Vec::new();
    loop {
        let page = s
            .search_runs(&q.clone().max_results(size).page_token(token))
            .unwrap();
        assert!(page.runs.len() <= size);
        seen.extend(page.runs.into_iter().map(|r| r.info.run_name));
        token = page.next_page_token;
        if token.is_none() {
            return seen;
        }
    }
}

/// Creates the runs of two experiments (twenty each): metric `m` on most, param `p` a number, a
/// text or missing, `all` and `pall` on every run, a third of them deleted.
fn fill(s: &dyn Store) -> (Vec<Fixture>, [i64; 2]) {
    let exps = [
        s.create_experiment("lacking-a", None, &[]).unwrap(),
        s.create_experiment("lacking-b", None, &[]).unwrap(),
    ];
    let mut runs = Vec::new();
    for (e, &exp) in exps.iter().enumerate() {
        for i in 0..20i64 {
            let g = e as i64 * 20 + i;
            let p = match g % 5 {
                4 => None,
                3 => Some(format!("x{}", g % 3)),
                _ => Some(((g * 3) % 4).to_string()),
            };
            let mut params = vec![
                Param::new("pall", ((g * 7) % 6).to_string()),
                Param::new("q", if g % 2 == 0 { "yes" } else { "no" }),
            ];
            params.extend(p.clone().map(|v| Param::new("p", v)));
            let run = s
                .create_run(&NewRun {
                    experiment_id: exp,
                    run_name: Some(format!("r{g}")),
                    start_time: Some(1_000 + g),
                    params,
                    ..NewRun::default()
                })
                .unwrap();
            let m = (g % 4 != 3).then_some(((g * 7) % 5) as f64);
            let all = ((g * 5) % 3) as f64;
            let n = (g % 10) as f64;
            let mut metrics = vec![Metric::new("all", all, 0), Metric::new("n", n, 0)];
            metrics.extend(m.map(|v| Metric::new("m", v, 0)));
            s.log_batch(&run.run_id, &[], &metrics, &[]).unwrap();
            let deleted = g % 3 == 2;
            if deleted {
                s.delete_run(&run.run_id).unwrap();
            }
            runs.push(Fixture {
                id: run.run_id,
                name: format!("r{g}"),
                experiment: exp,
                start: 1_000 + g,
                m,
                p,
                all: Some(all),
                pall: Some(((g * 7) % 6).to_string()),
                q_yes: g % 2 == 0,
                n,
                deleted,
            });
        }
    }
    (runs, exps)
}

/// Pages through every combination of experiments, view, filter and order (3 runs a page) and
/// compares the runs with [`expected`].
fn check_all(s: &dyn Store, runs: &[Fixture], exps: [i64; 2], orders: &[&str]) {
    let sets: [&[i64]; 3] = [&exps[..1], &exps, &[]];
    for set in sets {
        for view in [ViewType::ActiveOnly, ViewType::DeletedOnly, ViewType::All] {
            for filter in ["", "params.q = 'yes'", "metrics.n > 5"] {
                for order in orders {
                    let q = RunsQuery::new(set, filter).order_by(&[*order]).view(view);
                    let want = expected(runs, set, view, filter, order);
                    assert_eq!(
                        all_pages(s, &q, 3),
                        want,
                        "{set:?} {view:?} {filter:?} {order}"
                    );
                }
            }
        }
    }
}

/// The case: runs lacking the ordered value come last, in MLflow's order, on every page (a store
/// where many runs lack `m` and `p`, and every run has `all` and `pall`); the same once three runs,
/// two of them deleted, lack the values every other run has.
pub fn search_lacking_the_ordered_value(s: &dyn Store) {
    let (mut runs, exps) = fill(s);
    let orders = [
        "metrics.m ASC",
        "metrics.m DESC",
        "params.p ASC",
        "params.p DESC",
        "metrics.all ASC",
        "metrics.all DESC",
        "params.pall ASC",
        "params.pall DESC",
    ];
    check_all(s, &runs, exps, &orders);
    // runs without `all` or `pall` (two deleted in the second experiment, one active in the first):
    // now 3 runs of 43 lack them, few enough to be found first, and pages start among them
    for (name, exp, start, deleted) in [
        ("bare0", exps[1], 997, true),
        ("bare1", exps[1], 998, true),
        ("bare2", exps[0], 999, false),
    ] {
        let run = s
            .create_run(&NewRun {
                experiment_id: exp,
                run_name: Some(name.into()),
                start_time: Some(start),
                params: vec![Param::new("q", "yes")],
                ..NewRun::default()
            })
            .unwrap();
        s.log_batch(&run.run_id, &[], &[Metric::new("n", 9.0, 0)], &[])
            .unwrap();
        if deleted {
            s.delete_run(&run.run_id).unwrap();
        }
        runs.push(Fixture {
            id: run.run_id,
            name: name.into(),
            experiment: exp,
            start,
            m: None,
            p: None,
            all: None,
            pall: None,
            q_yes: true,
            n: 9.0,
            deleted,
        });
    }
    check_all(s, &runs, exps, &orders[4..]);
}
