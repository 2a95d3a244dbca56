//! Compare search algorithms on the built-in benchmark problems (median final regret over seeds).
//!
//! cargo run --release --example compare -- [budget] [seeds] [problem ...]

use hpo::bench::problems;
use hpo::{algo, Fmin};
use rayon::prelude::*;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// `tpe-x` is the default TPE with settings from the environment (for tuning).
fn make(name: &str) -> Box<dyn algo::Algorithm> {
    if name != "tpe-x" {
        return algo::by_name(name).expect("known algorithm");
    }
    let mut t = hpo::Tpe::default();
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<f64>().ok());
    if let Some(g) = env("TPE_GAMMA") {
        t.gamma = algo::tpe::Gamma::Linear { factor: g, cap: 25 };
    }
    if let Some(g) = env("TPE_SQRT") {
        t.gamma = algo::tpe::Gamma::Sqrt { factor: g, cap: 25 };
    }
    if let Some(v) = env("TPE_MINBW") {
        t.min_bandwidth = v;
    }
    if let Some(v) = env("TPE_EI") {
        t.good_weights = if v > 0.0 {
            algo::tpe::GoodWeights::Ei
        } else {
            algo::tpe::GoodWeights::Uniform
        };
    }
    if let Some(v) = env("TPE_STARTUP") {
        t.n_startup = v as usize;
    }
    if let Some(v) = env("TPE_CAND") {
        t.n_candidates = v as usize;
    }
    if let Some(v) = env("TPE_PW") {
        t.prior_weight = v;
    }
    if let Some(v) = env("TPE_MULTI") {
        t.multivariate = v > 0.0;
    }
    if let Some(v) = env("TPE_QSTEPS") {
        t.min_bandwidth_steps = v;
    }
    if let Some(v) = env("TPE_MAGIC") {
        t.magic_clip = v > 0.0;
    }
    Box::new(t)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let budget: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100);
    let seeds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let names: Vec<String> = args.iter().skip(2).cloned().collect();
    let algos: Vec<String> = std::env::var("ALGOS")
        .unwrap_or_else(|_| "random,tpe-hyperopt,anneal,tpe".into())
        .split(',')
        .map(String::from)
        .collect();
    print!("{:22}", "problem");
    for a in &algos {
        print!("{a:>14}");
    }
    println!();
    for prob in problems::all() {
        if !names.is_empty() && !names.iter().any(|n| n == prob.name) {
            continue;
        }
        print!("{:22}", prob.name);
        for a in &algos {
            let regrets: Vec<f64> = (0..seeds)
                .into_par_iter()
                .map(|seed| {
                    let f = prob.loss;
                    let r = Fmin::new(move |p: &hpo::Params| f(p), &prob.space)
                        .algo_boxed(make(a))
                        .max_evals(budget)
                        .seed(seed)
                        .run()
                        .expect("study runs");
                    r.best().and_then(|t| t.loss).unwrap_or(f64::INFINITY) - prob.minimum
                })
                .collect();
            print!("{:>14.4}", median(regrets));
        }
        println!();
    }
}
