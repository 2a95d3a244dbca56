//! Multimodal problems of hpo's own (issue 17, item 3), beside the public suite: Levy in other
//! dimensions than the suite's `levy10` and Rastrigin in 10-D, each with its optimum moved off
//! the centre by a different amount in every coordinate, and Schwefel's function, whose best
//! basin lies near a corner far from the second best. `benches/anchors/run_multimodal.py` defines
//! the same problems for Optuna.

use std::f64::consts::PI;

use super::problems::{levy, uniform_space, xs, Problem};

/// The shift of coordinate `i`: a point of the golden-ratio sequence in `[-1, 1)`, times
/// `scale`, rounded to three decimals (so the Python anchors can state it exactly).
pub fn shift(i: usize, scale: f64) -> f64 {
    let golden = 0.618_033_988_749_894_9;
    let u = ((i as f64 + 1.0) * golden).fract();
    ((2.0 * u - 1.0) * scale * 1000.0).round() / 1000.0
}

/// Levy with its optimum at `1 + shift(i, 6)` in coordinate `i`; minimum 0.
pub fn levy_shifted(x: &[f64]) -> f64 {
    let z: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, v)| v - shift(i, 6.0))
        .collect();
    levy(&z)
}

/// Rastrigin with its optimum at `shift(i, 3)` in coordinate `i`; minimum 0.
pub fn rastrigin_moved(x: &[f64]) -> f64 {
    10.0 * x.len() as f64
        + x.iter()
            .enumerate()
            .map(|(i, v)| {
                let z = v - shift(i, 3.0);
                z * z - 10.0 * (2.0 * PI * z).cos()
            })
            .sum::<f64>()
}

/// Schwefel's function on [-500, 500]^d; minimum (about 0) at 420.9687 in every coordinate.
pub fn schwefel(x: &[f64]) -> f64 {
    418.982_887_272_433_9 * x.len() as f64 - x.iter().map(|v| v * v.abs().sqrt().sin()).sum::<f64>()
}

/// Where Schwefel's function is smallest in each coordinate.
pub const SCHWEFEL_ARGMIN: f64 = 420.968_746;

/// The multimodal problems: `levy5_shifted`, `levy20_shifted` (on [-10, 10]^d),
/// `rastrigin10_shifted` (on [-5.12, 5.12]^10) and `schwefel5` (on [-500, 500]^5).
pub fn all() -> Vec<Problem> {
    vec![
        Problem {
            name: "levy5_shifted",
            space: uniform_space(5, -10.0, 10.0),
            loss: |p| levy_shifted(&xs(p, 5)),
            minimum: 0.0,
        },
        Problem {
            name: "levy20_shifted",
            space: uniform_space(20, -10.0, 10.0),
            loss: |p| levy_shifted(&xs(p, 20)),
            minimum: 0.0,
        },
        Problem {
            name: "rastrigin10_shifted",
            space: uniform_space(10, -5.12, 5.12),
            loss: |p| rastrigin_moved(&xs(p, 10)),
            minimum: 0.0,
        },
        Problem {
            name: "schwefel5",
            space: uniform_space(5, -500.0, 500.0),
            loss: |p| schwefel(&xs(p, 5)),
            minimum: 0.0,
        },
    ]
}

/// The multimodal problem of that name.
pub fn by_name(name: &str) -> Option<Problem> {
    all().into_iter().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_are_distinct_and_inside_the_scale() {
        let s: Vec<f64> = (0..20).map(|i| shift(i, 6.0)).collect();
        assert_eq!(s[0], 1.416);
        assert_eq!(s[1], -3.167);
        assert!(s.iter().all(|v| v.abs() < 6.0));
        let mut sorted = s.clone();
        sorted.sort_by(f64::total_cmp);
        sorted.dedup();
        assert_eq!(sorted.len(), 20);
    }

    #[test]
    fn minima_sit_at_the_moved_optima() {
        for n in [5, 20] {
            let at: Vec<f64> = (0..n).map(|i| 1.0 + shift(i, 6.0)).collect();
            assert!(levy_shifted(&at).abs() < 1e-12);
            let off: Vec<f64> = at.iter().map(|v| v + 0.5).collect();
            assert!(levy_shifted(&off) > 0.1);
            // the unshifted optimum is not the optimum
            assert!(levy_shifted(&vec![1.0; n]) > 1.0);
        }
        let at: Vec<f64> = (0..10).map(|i| shift(i, 3.0)).collect();
        assert!(rastrigin_moved(&at).abs() < 1e-12);
        assert!(rastrigin_moved(&[0.0; 10]) > 10.0);
        let s = schwefel(&[SCHWEFEL_ARGMIN; 5]);
        assert!((0.0..1e-3).contains(&s), "{s}");
        // the second-best basin, at the opposite corner, is far worse
        assert!(schwefel(&[-302.5; 5]) > 500.0);
    }

    #[test]
    fn values_match_the_python_anchors() {
        // benches/anchors/run_multimodal.py gives these
        let x: Vec<f64> = (0..20).map(|i| -9.0 + 0.9 * i as f64).collect();
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-9 * b.abs().max(1.0), "{a} {b}");
        close(levy_shifted(&x[..5]), LEVY5_AT_X);
        close(levy_shifted(&x), LEVY20_AT_X);
        let r: Vec<f64> = x[..10].iter().map(|v| v / 2.0).collect();
        close(rastrigin_moved(&r), RASTRIGIN10_AT_X);
        let s: Vec<f64> = x[..5].iter().map(|v| v * 50.0).collect();
        close(schwefel(&s), SCHWEFEL5_AT_X);
        let names: Vec<&str> = all().iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "levy5_shifted",
                "levy20_shifted",
                "rastrigin10_shifted",
                "schwefel5"
            ]
        );
        assert!(by_name("schwefel5").is_some() && by_name("levy10").is_none());
    }

    const LEVY5_AT_X: f64 = 173.12568808444846;
    const LEVY20_AT_X: f64 = 305.2927286337884;
    const RASTRIGIN10_AT_X: f64 = 216.79065624501487;
    const SCHWEFEL5_AT_X: f64 = 2383.0101002025626;
}
