//! Kernel bandwidths of a numeric parameter from its observed values: hyperopt's adaptive
//! rule or the larger gap to a neighbouring observation, each clipped to a range.

use super::parzen::KernelConfig;
use super::{gaps, kept, sort, Bandwidth};
use crate::space::Numeric;

/// Bandwidths for observed values `vals` (internal space) of one numeric parameter, one sigma
/// per value (same order), into `sigma` (its old contents replaced). `keep`, the parameter's
/// index and each value's trial id, lets the neighbour rule keep the values' order for the next
/// call ([`kept`]); the bandwidths are the same with or without it.
pub(crate) fn bandwidths_into(
    vals: &[f64],
    keep: Option<(usize, &[u32])>,
    spec: &Numeric,
    cfg: &KernelConfig,
    sigma: &mut Vec<f64>,
) {
    sigma.clear();
    if vals.is_empty() {
        return;
    }
    match cfg.bandwidth {
        Bandwidth::Hyperopt => sigma.extend(hyperopt_bandwidths(vals, spec, cfg)),
        Bandwidth::Neighbour => neighbour_bandwidths(vals, keep, spec, cfg, sigma),
    }
    if cfg.max_bandwidth < 1.0 {
        // below the floor too: a cap asks for bumps at the observations, not a smooth density
        let cap = cfg.max_bandwidth * spec.width();
        for s in sigma.iter_mut() {
            *s = s.min(cap);
        }
    }
}

/// hyperopt's `adaptive_parzen_normal` bandwidths.
fn hyperopt_bandwidths(vals: &[f64], spec: &Numeric, cfg: &KernelConfig) -> Vec<f64> {
    let n = vals.len();
    let prior_sigma = spec.width();
    let pairs = sort::sorted_pairs(vals);
    // sorted observations with the prior mean inserted (numpy searchsorted, left)
    let sorted: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    let pos = sorted.partition_point(|&v| v < spec.prior_mu);
    let mut all = sorted.clone();
    all.insert(pos, spec.prior_mu);
    let m = all.len();
    let mut s = vec![0.0; m];
    if n == 1 {
        s[if pos == 0 { 1 } else { 0 }] = 0.5 * prior_sigma;
    } else {
        s[0] = all[1] - all[0];
        s[m - 1] = all[m - 1] - all[m - 2];
        for j in 1..m - 1 {
            s[j] = (all[j] - all[j - 1]).max(all[j + 1] - all[j]);
        }
    }
    let min = if cfg.magic_clip {
        prior_sigma / (100.0f64).min(n as f64 + 2.0)
    } else {
        1e-12
    };
    let mut sigma = vec![0.0; n];
    for (rank, p) in pairs.iter().enumerate() {
        let j = if rank < pos { rank } else { rank + 1 };
        sigma[p.1 as usize] = s[j].clamp(min, prior_sigma);
    }
    sigma
}

/// Optuna's rule: the larger gap to a neighbouring observation (the two end points take their
/// inner gap), clipped to `[min, width]`.
fn neighbour_bandwidths(
    vals: &[f64],
    keep: Option<(usize, &[u32])>,
    spec: &Numeric,
    cfg: &KernelConfig,
    sigma: &mut Vec<f64>,
) {
    let n = vals.len();
    let prior_sigma = spec.width();
    let magic = if cfg.magic_clip {
        1.0 / (100.0f64).min(n as f64 + 2.0)
    } else {
        0.0
    };
    let mut min = (prior_sigma * magic.max(cfg.min_bandwidth)).max(prior_sigma * 1e-12);
    if let (Some(q), false) = (spec.q, spec.log) {
        // a kernel narrower than the grid step cannot move to a neighbouring value
        min = min.max(q * cfg.discrete_min_steps);
    }
    // exact gaps from the kept order, or from cells `min` wide (exact from `min` up, which is
    // all the clip needs), or from a sort
    let clip = (min, prior_sigma);
    if keep.is_some_and(|(p, ids)| kept::neighbour_gaps_kept(p, vals, ids, clip, sigma)) {
        return; // clipped already
    }
    if !gaps::neighbour_gaps_into(vals, min, sigma) {
        let (lo, hi) = if spec.uniform_prior {
            (spec.low, spec.high)
        } else {
            let (a, b) = vals
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            (a - prior_sigma, b + prior_sigma)
        };
        sigma.clear();
        sigma.extend(gaps::sorted_gaps(vals, lo, hi));
    }
    for s in sigma.iter_mut() {
        *s = s.clamp(min, prior_sigma);
    }
}
