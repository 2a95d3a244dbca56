//! Noisy variants of public problems (issue 17, item 4): the loss a study sees is the problem's
//! loss plus Gaussian noise drawn from (study seed, trial number), so every run of a study sees
//! the same noise; the noiseless value is reported as the metric [`TRUE_LOSS`], and `hpo bench`
//! scores a study on it at the trial with the best observed loss.

use super::problems::{self, Problem};

/// The metric holding a noisy problem's noiseless value.
pub const TRUE_LOSS: &str = "true_loss";

/// A public problem with observation noise.
#[derive(Clone, Debug)]
pub struct NoisyProblem {
    /// `noisy_<problem>`.
    pub name: &'static str,
    /// The noiseless problem.
    pub base: Problem,
    /// The noise's standard deviation, about the spread of the good values of the loss.
    pub sd: f64,
}

/// The noisy problems: branin (sd 0.5), hartmann6 (sd 0.2), log_goldstein_price (sd 0.2) and
/// rosenbrock5 (sd 20).
pub fn all() -> Vec<NoisyProblem> {
    [
        ("noisy_branin", "branin", 0.5),
        ("noisy_hartmann6", "hartmann6", 0.2),
        ("noisy_log_goldstein_price", "log_goldstein_price", 0.2),
        ("noisy_rosenbrock5", "rosenbrock5", 20.0),
    ]
    .into_iter()
    .filter_map(|(name, base, sd)| {
        problems::by_name(base).map(|base| NoisyProblem { name, base, sd })
    })
    .collect()
}

/// The noisy problem of that name.
pub fn by_name(name: &str) -> Option<NoisyProblem> {
    all().into_iter().find(|p| p.name == name)
}

/// SplitMix64: a well-mixed 64-bit hash step.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A standard normal draw fixed by (seed, trial) (Box-Muller on two hashed uniforms).
pub fn standard_normal(seed: u64, trial: usize) -> f64 {
    let a = mix(seed ^ mix(trial as u64 ^ 0x5eed));
    let b = mix(a);
    // uniforms in (0, 1], never 0 (ln(0) is -inf)
    let u1 = ((a >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    let u2 = (b >> 11) as f64 / (1u64 << 53) as f64;
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_fixed_by_seed_and_trial_and_standard_normal() {
        assert_eq!(standard_normal(3, 7), standard_normal(3, 7));
        assert_ne!(standard_normal(3, 7), standard_normal(4, 7));
        assert_ne!(standard_normal(3, 7), standard_normal(3, 8));
        let n = 20_000;
        let draws: Vec<f64> = (0..n)
            .map(|i| standard_normal(i as u64 / 100, i % 100))
            .collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        // standard errors: mean 1/sqrt(n) = 0.007, variance sqrt(2/n) = 0.01; 5 of each
        assert!(mean.abs() < 0.035, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "variance {var}");
        let within = draws.iter().filter(|x| x.abs() < 1.959964).count() as f64 / n as f64;
        assert!(
            (within - 0.95).abs() < 0.008,
            "share within 1.96 sd: {within}"
        );
    }

    #[test]
    fn draws_match_the_python_anchors() {
        // benches/anchors/run_noisy.py's standard_normal gives these, bit for bit
        assert_eq!(standard_normal(3, 7), -0.11286941630233158);
        assert_eq!(standard_normal(0, 0), 0.8775761721921193);
        assert_eq!(standard_normal(19, 99), 2.0194456986872344);
    }

    #[test]
    fn four_noisy_problems_over_public_ones() {
        let names: Vec<&str> = all().iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "noisy_branin",
                "noisy_hartmann6",
                "noisy_log_goldstein_price",
                "noisy_rosenbrock5"
            ]
        );
        assert_eq!(by_name("noisy_branin").unwrap().base.name, "branin");
    }
}
