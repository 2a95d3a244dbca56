//! Every distribution against its exact law: a Kolmogorov-Smirnov test against the CDF (statrs)
//! for the continuous ones, expected masses for the discrete ones, and the support of every
//! quantized and log variant. Seeds are fixed, so these tests are deterministic.

use statrs::distribution::{ContinuousCDF, LogNormal, Normal};

use hpo::algo::trial_rng;
use hpo::{hp, Node, Space};

const N: usize = 10_000;

fn draw(node: Node, seed: u64) -> Vec<f64> {
    let space = Space::new(hp::map([("p", node)])).unwrap();
    let mut rng = trial_rng(seed, 0);
    (0..N)
        .map(|_| {
            let p = space.params_of(space.sample_prior(&mut rng));
            p.f64("p").unwrap()
        })
        .collect()
}

/// KS statistic of a sample against a CDF.
fn ks(mut xs: Vec<f64>, cdf: impl Fn(f64) -> f64) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    let n = xs.len() as f64;
    xs.iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = cdf(x);
            (f - i as f64 / n).abs().max((f - (i + 1) as f64 / n).abs())
        })
        .fold(0.0, f64::max)
}

/// Critical value of the KS statistic at alpha = 0.001.
fn critical() -> f64 {
    1.95 / (N as f64).sqrt()
}

fn assert_ks(name: &str, xs: Vec<f64>, cdf: impl Fn(f64) -> f64) {
    let d = ks(xs, cdf);
    assert!(d < critical(), "{name}: KS D = {d:.4} >= {:.4}", critical());
}

#[test]
fn uniform_matches_its_cdf() {
    let xs = draw(hp::uniform("p", -2.0, 5.0), 1);
    assert!(xs.iter().all(|&x| (-2.0..=5.0).contains(&x)));
    assert_ks("uniform", xs, |x| ((x + 2.0) / 7.0).clamp(0.0, 1.0));
}

#[test]
fn loguniform_matches_its_cdf() {
    let (lo, hi) = (-7.0f64, 0.0f64);
    let xs = draw(hp::loguniform("p", lo, hi), 2);
    assert!(xs.iter().all(|&x| x >= lo.exp() && x <= hi.exp()));
    assert_ks("loguniform", xs, |x| {
        ((x.ln() - lo) / (hi - lo)).clamp(0.0, 1.0)
    });
}

#[test]
fn normal_matches_its_cdf() {
    let d = Normal::new(3.0, 2.0).unwrap();
    assert_ks("normal", draw(hp::normal("p", 3.0, 2.0), 3), |x| d.cdf(x));
}

#[test]
fn lognormal_matches_its_cdf() {
    let d = LogNormal::new(0.5, 0.8).unwrap();
    let xs = draw(hp::lognormal("p", 0.5, 0.8), 4);
    assert!(xs.iter().all(|&x| x > 0.0));
    assert_ks("lognormal", xs, |x| d.cdf(x));
}

/// Observed frequencies of each value against expected masses: every value within 5 binomial
/// standard deviations, and no value outside the expected support.
fn assert_masses(name: &str, xs: &[f64], expected: &[(f64, f64)]) {
    let total: f64 = expected.iter().map(|e| e.1).sum();
    assert!(
        (total - 1.0).abs() < 1e-6,
        "{name}: expected masses sum to {total}"
    );
    for x in xs {
        assert!(
            expected.iter().any(|(v, _)| (v - x).abs() < 1e-9),
            "{name}: value {x} outside the support"
        );
    }
    for (v, p) in expected {
        let count = xs.iter().filter(|x| (*x - v).abs() < 1e-9).count() as f64;
        let sd = (N as f64 * p * (1.0 - p)).sqrt().max(1.0);
        assert!(
            (count - N as f64 * p).abs() < 5.0 * sd,
            "{name}: value {v} drawn {count} times, expected {:.1}",
            N as f64 * p
        );
    }
}

#[test]
fn quniform_is_uniform_on_its_grid() {
    let xs = draw(hp::quniform("p", 0.0, 2.0, 0.5), 5);
    let grid: Vec<(f64, f64)> = [0.0, 0.5, 1.0, 1.5, 2.0]
        .iter()
        .map(|&v| (v, 0.2))
        .collect();
    assert_masses("quniform", &xs, &grid);
}

#[test]
fn qloguniform_keeps_the_log_shape_inside_the_bounds() {
    // exp(U(ln 1, ln 100)) snapped to multiples of 10 within [1, 100]: the grid is 10..=100;
    // P(v) = P(exp(U) in [v - 5, v + 5]) with the ends absorbing what lies beyond the grid
    let (lo, hi, q) = (0.0f64, 100f64.ln(), 10.0);
    let xs = draw(hp::qloguniform("p", lo, hi, q), 6);
    let cdf = |x: f64| ((x.max(1e-300).ln() - lo) / (hi - lo)).clamp(0.0, 1.0);
    let expected: Vec<(f64, f64)> = (1..=10)
        .map(|k| {
            let v = k as f64 * q;
            let a = if k == 1 { 0.0 } else { cdf(v - q / 2.0) };
            let b = if k == 10 { 1.0 } else { cdf(v + q / 2.0) };
            (v, b - a)
        })
        .collect();
    assert_masses("qloguniform", &xs, &expected);
}

#[test]
fn qnormal_masses_are_normal_bins() {
    let d = Normal::new(0.0, 1.5).unwrap();
    let xs = draw(hp::qnormal("p", 0.0, 1.5, 1.0), 7);
    let mut expected: Vec<(f64, f64)> = (-8..=8)
        .map(|k| (k as f64, d.cdf(k as f64 + 0.5) - d.cdf(k as f64 - 0.5)))
        .collect();
    let rest = 1.0 - expected.iter().map(|e| e.1).sum::<f64>();
    expected[0].1 += rest / 2.0;
    expected[16].1 += rest / 2.0;
    assert_masses("qnormal", &xs, &expected);
}

#[test]
fn qlognormal_masses_are_lognormal_bins_floored_at_q() {
    let d = LogNormal::new(1.0, 0.5).unwrap();
    let q = 1.0;
    let xs = draw(hp::qlognormal("p", 1.0, 0.5, q), 8);
    let max = xs.iter().copied().fold(0.0, f64::max) as i64;
    let expected: Vec<(f64, f64)> = (1..=max.max(30))
        .map(|k| {
            let v = k as f64;
            let a = if k == 1 { 0.0 } else { d.cdf(v - 0.5) };
            (v, d.cdf(v + 0.5) - a)
        })
        .collect();
    let total: f64 = expected.iter().map(|e| e.1).sum();
    let mut expected = expected;
    let last = expected.len() - 1;
    expected[last].1 += 1.0 - total;
    assert_masses("qlognormal", &xs, &expected);
}

#[test]
fn randint_and_uniformint_are_uniform_integers() {
    let xs = draw(hp::randint("p", -3, 2), 9);
    let e: Vec<(f64, f64)> = (-3..2).map(|k| (k as f64, 0.2)).collect();
    assert_masses("randint", &xs, &e);
    let xs = draw(hp::uniformint("p", 1, 4), 10);
    let e: Vec<(f64, f64)> = (1..=4).map(|k| (k as f64, 0.25)).collect();
    assert_masses("uniformint", &xs, &e);
}

#[test]
fn choice_and_pchoice_follow_their_probabilities() {
    let xs = draw(hp::choice("p", [10, 20, 30]), 11);
    let e: Vec<(f64, f64)> = [10.0, 20.0, 30.0].iter().map(|&v| (v, 1.0 / 3.0)).collect();
    assert_masses("choice", &xs, &e);
    let xs = draw(hp::pchoice("p", [(0.1, 1), (0.6, 2), (0.3, 3)]), 12);
    assert_masses("pchoice", &xs, &[(1.0, 0.1), (2.0, 0.6), (3.0, 0.3)]);
}

#[test]
fn the_ks_check_can_fail() {
    // a loguniform sample is not uniform on [e^-7, 1]
    let xs = draw(hp::loguniform("p", -7.0, 0.0), 13);
    let lo = (-7.0f64).exp();
    assert!(ks(xs, |x| ((x - lo) / (1.0 - lo)).clamp(0.0, 1.0)) > critical());
}
