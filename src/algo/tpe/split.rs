//! The good/bad split of the observations and their weights.

use super::{Gamma, GoodWeights};

/// Size of the good set for `n` observations.
pub(crate) fn n_good(gamma: Gamma, n: usize) -> usize {
    let k = match gamma {
        Gamma::Sqrt { factor, cap } => ((factor * (n as f64).sqrt()).ceil() as usize).min(cap),
        Gamma::Linear { factor, cap } => ((factor * n as f64).ceil() as usize).min(cap),
    };
    k.min(n)
}

/// Linear forgetting (hyperopt's and Optuna's ramp): with `n` observations in trial order and a
/// window `lf`, the newest `lf` get weight 1 and older ones ramp linearly from `1/n` up to 1.
pub(crate) fn forgetting_weights(n: usize, lf: Option<usize>) -> Vec<f64> {
    let Some(lf) = lf else {
        return vec![1.0; n];
    };
    if n <= lf {
        return vec![1.0; n];
    }
    let ramp = n - lf;
    let mut w: Vec<f64> = if ramp == 1 {
        vec![1.0 / n as f64]
    } else {
        (0..ramp)
            .map(|i| 1.0 / n as f64 + (1.0 - 1.0 / n as f64) * i as f64 / (ramp - 1) as f64)
            .collect()
    };
    w.extend(std::iter::repeat_n(1.0, lf));
    w
}

/// Weights of the good observations (given best first) with losses `losses`; `threshold` is the
/// best loss outside the good set, if any. Normalised to mean 1.
pub(crate) fn good_weights(mode: GoodWeights, losses: &[f64], threshold: Option<f64>) -> Vec<f64> {
    let n = losses.len();
    match mode {
        GoodWeights::Uniform => vec![1.0; n],
        GoodWeights::Ei => {
            let worst = losses.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let best = losses.iter().copied().fold(f64::INFINITY, f64::min);
            let th = threshold.unwrap_or(worst).max(worst);
            let spread = (th - best).max(0.0);
            if n == 0 || spread <= 0.0 || !spread.is_finite() {
                return vec![1.0; n];
            }
            // improvement over the threshold, floored so the worst good point keeps some weight
            let raw: Vec<f64> = losses
                .iter()
                .map(|l| (th - l).max(0.0) + 0.05 * spread)
                .collect();
            let mean = raw.iter().sum::<f64>() / n as f64;
            raw.iter().map(|w| w / mean).collect()
        }
    }
}
