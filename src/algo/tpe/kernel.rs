//! The per-component constants of a numeric dimension's kernels: `1 / sigma` and the log
//! normalising constant, truncation to the bounds included.
//!
//! Building the bad estimator computes these for every observation, so the loop is kept
//! lean: most components share a few bandwidths (the floor, the ceiling), whose logarithm is
//! remembered, and the truncation mass takes the table path, four kernels at a
//! time where the CPU has AVX2 ([`super::trunc`]).

use super::normal::{ln_phi_pieces, norm_mass};
use super::trunc::truncate;
use crate::space::Numeric;

/// `ln √(2π)`, the normal density's log normalising constant at unit sigma.
pub(crate) const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_7;

/// `ln s` of the last few distinct bandwidths, the prior's width always among them.
struct LnMemo {
    s: [f64; 3],
    ln: [f64; 3],
    next: usize,
}

impl LnMemo {
    fn new(width: f64) -> LnMemo {
        LnMemo {
            s: [width, f64::NAN, f64::NAN],
            ln: [width.ln(), f64::NAN, f64::NAN],
            next: 1,
        }
    }

    /// `ln s`, exactly as computed afresh.
    #[inline(always)]
    fn get(&mut self, s: f64) -> f64 {
        for i in 0..3 {
            if self.s[i] == s {
                return self.ln[i];
            }
        }
        // the two slots after the width take turns
        let i = self.next;
        self.next = 3 - i;
        self.s[i] = s;
        self.ln[i] = s.ln();
        self.ln[i]
    }
}

/// The constants of kernels with means `mu` and bandwidths `sigma` (internal space) for the
/// parameter `spec`: `1 / sigma` into `inv_sigma` and the log normalising constants into
/// `log_c` (their old contents replaced). `weights` are the components' normalised weights:
/// with `hyperopt` set, bounded kernels share one truncation constant for the whole mixture and
/// its log (the mixture's mass inside the bounds) is returned; otherwise each bounded kernel is
/// truncated on its own and 0 is returned.
pub(crate) fn kernel_consts(
    spec: &Numeric,
    mu: &[f64],
    sigma: &[f64],
    weights: &[f64],
    hyperopt: bool,
    inv_sigma: &mut Vec<f64>,
    log_c: &mut Vec<f64>,
) -> f64 {
    let m = mu.len().min(sigma.len());
    let (mu, sigma) = (&mu[..m], &sigma[..m]);
    inv_sigma.clear();
    inv_sigma.extend(sigma.iter().map(|&s| 1.0 / s));
    // ln sigma in `log_c` for now
    let mut memo = LnMemo::new(spec.width());
    log_c.clear();
    log_c.extend(sigma.iter().map(|&s| memo.get(s)));
    let (low, high) = (spec.low, spec.high);
    let mut accept = 0.0;
    if !spec.uniform_prior || hyperopt {
        // no truncation of the kernels themselves
        for lc in log_c.iter_mut() {
            *lc = -*lc - LN_SQRT_2PI;
        }
        if spec.uniform_prior {
            // hyperopt: one truncation constant for the whole mixture
            for ((&mu, &i), &w) in mu.iter().zip(&*inv_sigma).zip(weights) {
                let (za, zb) = ((low - mu) * i, (high - mu) * i);
                accept += w * norm_mass(za, zb).max(1e-300);
            }
        }
    } else {
        truncate(ln_phi_pieces(), low, high, mu, inv_sigma, log_c);
    }
    // hyperopt renormalizes a bounded parameter's mixture by the mass it keeps in [low, high];
    // an unbounded one (normal, lognormal) keeps all of it: ln 1 = 0 (this used to be ln 0,
    // which made every candidate's score NaN and always picked the first candidate)
    if hyperopt && spec.uniform_prior {
        accept.ln()
    } else {
        0.0
    }
}
