//! The per-component constants of a numeric dimension's kernels: `1 / sigma` and the log
//! normalising constant, truncation to the bounds included.
//!
//! Building the bad estimator computes these for every observation, so the loop is kept
//! lean: most components share a few bandwidths (the floor, the ceiling), whose inverse and
//! logarithm are remembered, and the truncation mass takes the table path inline.

use super::normal::{ln_phi_pieces, log_norm_mass_in, norm_mass};
use crate::space::Numeric;

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_7;

/// The kernel constants of one numeric dimension, per component.
pub(crate) struct KernelConsts {
    /// `1 / sigma`
    pub inv_sigma: Vec<f64>,
    /// log normalising constant of each component's kernel
    pub log_c: Vec<f64>,
    /// hyperopt scoring: log of the mixture's total mass inside the bounds (0 otherwise)
    pub log_accept: f64,
}

/// `1 / s` and `ln s` of the last few distinct bandwidths, the prior's width always among them.
struct SigmaMemo {
    s: [f64; 3],
    inv: [f64; 3],
    ln: [f64; 3],
    next: usize,
}

impl SigmaMemo {
    fn new(width: f64) -> SigmaMemo {
        SigmaMemo {
            s: [width, f64::NAN, f64::NAN],
            inv: [1.0 / width, f64::NAN, f64::NAN],
            ln: [width.ln(), f64::NAN, f64::NAN],
            next: 1,
        }
    }

    /// `(1 / s, ln s)`, exactly as computed afresh.
    #[inline(always)]
    fn get(&mut self, s: f64) -> (f64, f64) {
        for i in 0..3 {
            if self.s[i] == s {
                return (self.inv[i], self.ln[i]);
            }
        }
        // the two slots after the width take turns
        let i = self.next;
        self.next = 3 - i;
        self.s[i] = s;
        self.inv[i] = 1.0 / s;
        self.ln[i] = s.ln();
        (self.inv[i], self.ln[i])
    }
}

/// The constants of kernels with means `mu` and bandwidths `sigma` (internal space) for the
/// parameter `spec`; `weights` are the components' normalised weights (for hyperopt's
/// mixture-wide truncation, `hyperopt` set), else each kernel is truncated on its own.
pub(crate) fn kernel_consts(
    spec: &Numeric,
    mu: &[f64],
    sigma: &[f64],
    weights: &[f64],
    hyperopt: bool,
) -> KernelConsts {
    let m = mu.len().min(sigma.len());
    let mut inv_sigma = Vec::with_capacity(m);
    let mut log_c = Vec::with_capacity(m);
    let mut memo = SigmaMemo::new(spec.width());
    let (low, high) = (spec.low, spec.high);
    let mut accept = 0.0;
    if !spec.uniform_prior {
        // unbounded: no truncation
        for &s in &sigma[..m] {
            let (inv, ln_s) = memo.get(s);
            inv_sigma.push(inv);
            log_c.push(-ln_s - LN_SQRT_2PI);
        }
    } else if hyperopt {
        // one truncation constant for the whole mixture
        for ((&mu, &s), &w) in mu[..m].iter().zip(&sigma[..m]).zip(weights) {
            let (inv, ln_s) = memo.get(s);
            inv_sigma.push(inv);
            let (za, zb) = ((low - mu) * inv, (high - mu) * inv);
            accept += w * norm_mass(za, zb).max(1e-300);
            log_c.push(-ln_s - LN_SQRT_2PI);
        }
    } else {
        let table = ln_phi_pieces();
        for (&mu, &s) in mu[..m].iter().zip(&sigma[..m]) {
            let (inv, ln_s) = memo.get(s);
            inv_sigma.push(inv);
            let (za, zb) = ((low - mu) * inv, (high - mu) * inv);
            log_c.push(-ln_s - LN_SQRT_2PI - log_norm_mass_in(table, za, zb));
        }
    }
    KernelConsts {
        inv_sigma,
        log_c,
        log_accept: if hyperopt { accept.ln() } else { 0.0 },
    }
}
