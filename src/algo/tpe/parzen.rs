//! Parzen estimators: mixtures of product kernels over a set of parameters.
//!
//! One component per observation (a trial), plus one prior component. A numeric parameter's
//! kernel is a normal in internal space (log space for log distributions) truncated to the
//! bounds; its bandwidth comes from the gaps to neighbouring observations, clipped. A
//! categorical parameter's kernel puts most of its mass on the observed option. Where a
//! component's trial did not have a parameter (an unchosen branch), that component uses the
//! prior kernel for it, so every component is a proper density over the whole tree-shaped space
//! and conditional parameters are modelled jointly with the choices above them.

use rand::RngExt;
use rayon::prelude::*;

use super::kernel::kernel_consts;
use super::normal::norm_mass;
use super::rows::internal_rows;
use super::score::{self, NumCols, Query};
use super::{gaps, sort};
use super::{Bandwidth, CategoricalKernel};
use crate::space::dist::std_normal;
use crate::space::{Assignment, Numeric, ParamKind, Space};
use crate::trial::Trial;

/// `log Σ exp(v)`, `-inf` for an empty or all `-inf` slice.
pub(crate) fn logsumexp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + v
        .iter()
        .filter(|&&x| x - m > -40.0)
        .map(|x| (x - m).exp())
        .sum::<f64>()
        .ln()
}

/// How kernels are built, taken from the TPE settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KernelConfig {
    pub bandwidth: Bandwidth,
    pub magic_clip: bool,
    pub min_bandwidth: f64,
    pub discrete_min_steps: f64,
    pub categorical: CategoricalKernel,
    /// hyperopt's scoring: exact bin mass for quantized values and one truncation constant
    /// for the whole mixture (instead of one per component).
    pub hyperopt_scoring: bool,
}

/// One observation: a trial (index in the history) and its weight before normalisation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Obs {
    pub trial: usize,
    pub weight: f64,
}

struct NumDim {
    param: usize,
    spec: Numeric,
    mu: Vec<f64>,
    sigma: Vec<f64>,
    inv_sigma: Vec<f64>,
    /// log normalising constant of each component's kernel
    log_c: Vec<f64>,
    /// hyperopt scoring: log of the mixture's total mass inside the bounds
    log_accept: f64,
    /// true if the parameter has finite bounds (kernels are truncated)
    bounded: bool,
    /// hyperopt scoring: quantized values scored by the exact mass of their bin
    exact_bins: bool,
}

struct CatDim {
    param: usize,
    kind: ParamKind,
    /// number of options
    n_cat: usize,
    /// observed category per component; `n_cat` for the prior component or an inactive one
    code: Vec<u32>,
    /// smoothing mass E: a kernel puts (1 + E p(c)) / (1 + E) on its own option
    e: f64,
}

impl CatDim {
    /// The log mass each component's kernel gives option `raw`, indexed by the component's code
    /// (the last entry is the prior's).
    fn log_masses(&self, raw: f64) -> Vec<f64> {
        let c = self.kind.category_of(raw);
        let prior = self.kind.category_prior(c);
        let l_other = if self.e > 0.0 {
            (self.e * prior / (1.0 + self.e)).ln()
        } else {
            f64::NEG_INFINITY
        };
        let mut lut = vec![l_other; self.n_cat + 1];
        if let Some(m) = lut.get_mut(c) {
            *m = ((1.0 + self.e * prior) / (1.0 + self.e)).ln();
        }
        lut[self.n_cat] = prior.ln();
        lut
    }
}

/// Mixtures with at least this many components are built and scored in parallel.
pub(crate) const PARALLEL_COMPONENTS: usize = 256;

enum Dim {
    Num(NumDim),
    Cat(CatDim),
}

/// A mixture of product kernels over some parameters of a space.
pub(crate) struct Estimator {
    weights: Vec<f64>,
    log_w: Vec<f64>,
    nums: Vec<NumDim>,
    cats: Vec<CatDim>,
    /// for each parameter of the space: Some((is_categorical, index into nums/cats))
    slot: Vec<Option<(bool, usize)>>,
}

/// Bandwidths for observed values `vals` (internal space) of one numeric parameter, one sigma
/// per value (same order).
fn bandwidths(vals: &[f64], spec: &Numeric, cfg: &KernelConfig) -> Vec<f64> {
    if vals.is_empty() {
        return Vec::new();
    }
    match cfg.bandwidth {
        Bandwidth::Hyperopt => hyperopt_bandwidths(vals, spec, cfg),
        Bandwidth::Neighbour => neighbour_bandwidths(vals, spec, cfg),
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
fn neighbour_bandwidths(vals: &[f64], spec: &Numeric, cfg: &KernelConfig) -> Vec<f64> {
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
    let mut sigma = match gaps::neighbour_gaps(vals, min) {
        Some(g) => g,
        None => {
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
            gaps::sorted_gaps(vals, lo, hi)
        }
    };
    for s in sigma.iter_mut() {
        *s = s.clamp(min, prior_sigma);
    }
    sigma
}

impl Estimator {
    /// Build the estimator over parameters `dims` from observations `obs` of `trials`.
    /// `prior_weight` is the prior component's weight before normalisation.
    pub(crate) fn build(
        space: &Space,
        trials: &[Trial],
        obs: &[Obs],
        dims: &[usize],
        prior_weight: f64,
        cfg: &KernelConfig,
    ) -> Estimator {
        let m = obs.len() + 1;
        let total: f64 = obs.iter().map(|o| o.weight).sum::<f64>() + prior_weight;
        let weights: Vec<f64> = obs
            .iter()
            .map(|o| o.weight / total)
            .chain(std::iter::once(prior_weight / total))
            .collect();
        let log_w = if m >= PARALLEL_COMPONENTS {
            weights.par_iter().map(|w| w.ln()).collect()
        } else {
            weights.iter().map(|w| w.ln()).collect()
        };
        let mut owned = Vec::new();
        let rows = internal_rows(space, trials, obs, &mut owned);
        // the internal value of parameter p for component k (None where inactive, and for the
        // prior; a categorical parameter's is its raw value)
        let internal_of = |p: usize, k: usize| {
            rows.get(k)
                .and_then(|r| r.get(p).copied())
                .filter(|v| !v.is_nan())
        };
        // parameters are independent: build them in parallel when the mixture is large
        let build_dim = |p: usize| -> Dim {
            let kind = &space.params()[p].kind;
            match kind {
                ParamKind::Numeric(spec) => {
                    let mut active = Vec::new();
                    let mut vals = Vec::new();
                    for k in 0..m {
                        if let Some(x) = internal_of(p, k) {
                            active.push(k);
                            vals.push(x);
                        }
                    }
                    let sig = bandwidths(&vals, spec, cfg);
                    let mut mu = vec![spec.prior_mu; m];
                    let mut sigma = vec![spec.width(); m];
                    for (j, &k) in active.iter().enumerate() {
                        mu[k] = vals[j];
                        sigma[k] = sig[j];
                    }
                    let kc = kernel_consts(spec, &mu, &sigma, &weights, cfg.hyperopt_scoring);
                    Dim::Num(NumDim {
                        param: p,
                        spec: spec.clone(),
                        mu,
                        sigma,
                        inv_sigma: kc.inv_sigma,
                        log_c: kc.log_c,
                        log_accept: kc.log_accept,
                        bounded: spec.uniform_prior,
                        exact_bins: cfg.hyperopt_scoring,
                    })
                }
                _ => {
                    let n_cat = kind.categories().unwrap_or(1);
                    let mut code = vec![n_cat as u32; m];
                    for (k, c) in code.iter_mut().enumerate() {
                        if let Some(raw) = internal_of(p, k) {
                            *c = kind.category_of(raw) as u32;
                        }
                    }
                    let e = match cfg.categorical {
                        CategoricalKernel::Hyperopt => 0.0,
                        CategoricalKernel::Smoothed => {
                            prior_weight.max(1e-12) * n_cat as f64 / m as f64
                        }
                    };
                    Dim::Cat(CatDim {
                        param: p,
                        kind: kind.clone(),
                        n_cat,
                        code,
                        e,
                    })
                }
            }
        };
        let built: Vec<Dim> = if m >= PARALLEL_COMPONENTS {
            dims.par_iter().map(|&p| build_dim(p)).collect()
        } else {
            dims.iter().map(|&p| build_dim(p)).collect()
        };
        let mut est = Estimator {
            weights,
            log_w,
            nums: Vec::new(),
            cats: Vec::new(),
            slot: vec![None; space.len()],
        };
        for (d, &p) in built.into_iter().zip(dims) {
            match d {
                Dim::Num(n) => {
                    est.slot[p] = Some((false, est.nums.len()));
                    est.nums.push(n);
                }
                Dim::Cat(c) => {
                    est.slot[p] = Some((true, est.cats.len()));
                    est.cats.push(c);
                }
            }
        }
        est
    }

    /// Number of components (observations + prior).
    pub(crate) fn n_components(&self) -> usize {
        self.weights.len()
    }

    /// Draw a component index by weight.
    pub(crate) fn sample_component<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> usize {
        crate::space::dist::sample_weighted(rng, &self.weights)
    }

    /// Draw a raw value of parameter `p` from component `k`.
    pub(crate) fn sample_param<R: rand::Rng + ?Sized>(
        &self,
        space: &Space,
        p: usize,
        k: usize,
        rng: &mut R,
    ) -> f64 {
        match self.slot[p] {
            None => space.params()[p].kind.sample_prior(rng),
            Some((false, j)) => {
                let d = &self.nums[j];
                let (mu, sigma) = (d.mu[k], d.sigma[k]);
                let x = if d.bounded {
                    sample_truncated(rng, mu, sigma, d.spec.low, d.spec.high)
                } else {
                    mu + sigma * std_normal(rng)
                };
                d.spec.to_raw(x)
            }
            Some((true, j)) => {
                let d = &self.cats[j];
                let o = d.code[k];
                if (o as usize) < d.n_cat && rng.random::<f64>() * (1.0 + d.e) < 1.0 {
                    d.kind.raw_of_category(o as usize)
                } else {
                    d.kind.sample_prior(rng)
                }
            }
        }
    }

    /// Log density of an assignment (over the estimator's parameters that are active in it).
    /// `buf` is scratch space.
    pub(crate) fn log_pdf(&self, a: &Assignment, buf: &mut Vec<f64>) -> f64 {
        buf.clear();
        buf.extend_from_slice(&self.log_w);
        let mut extra = 0.0;
        for d in &self.nums {
            let Some(raw) = a.raw(d.param) else { continue };
            let x = d.spec.to_internal(raw);
            extra -= d.log_accept;
            if let (Some(q), true) = (d.spec.q, d.exact_bins) {
                // hyperopt scoring: exact mass of the quantization bin
                let (mut lo, mut hi) = (raw - q / 2.0, raw + q / 2.0);
                if d.spec.log {
                    lo = lo.max(1e-300).ln();
                    hi = hi.ln();
                }
                let (lo, hi) = (lo.max(d.spec.low), hi.min(d.spec.high));
                for (k, b) in buf.iter_mut().enumerate() {
                    let (za, zb) = (
                        (lo - d.mu[k]) * d.inv_sigma[k],
                        (hi - d.mu[k]) * d.inv_sigma[k],
                    );
                    let mass = if hi > lo && za < 38.5 && zb > -38.5 {
                        norm_mass(za, zb)
                    } else {
                        0.0
                    };
                    *b += mass.max(1e-300).ln();
                }
                continue;
            }
            score::add_numeric(buf, x, &d.mu, &d.inv_sigma, &d.log_c);
        }
        for d in &self.cats {
            let Some(raw) = a.raw(d.param) else { continue };
            score::add_categorical(buf, &d.log_masses(raw), &d.code);
        }
        logsumexp(buf) + extra
    }

    /// Log density of each assignment, as [`Estimator::log_pdf`], scoring blocks of components
    /// for all assignments at once (in parallel for large mixtures).
    pub(crate) fn log_pdf_many(&self, cands: &[Assignment]) -> Vec<f64> {
        if self.nums.iter().any(|d| d.exact_bins && d.spec.q.is_some()) {
            let mut buf = Vec::new();
            return cands.iter().map(|a| self.log_pdf(a, &mut buf)).collect();
        }
        let queries: Vec<Query> = cands.iter().map(|a| self.query(a)).collect();
        let nums: Vec<NumCols<'_>> = self
            .nums
            .iter()
            .map(|d| NumCols {
                mu: &d.mu,
                inv_sigma: &d.inv_sigma,
                log_c: &d.log_c,
            })
            .collect();
        let cats: Vec<&[u32]> = self.cats.iter().map(|d| d.code.as_slice()).collect();
        let parallel = self.n_components() >= PARALLEL_COMPONENTS;
        score::log_pdf_many(&self.log_w, &nums, &cats, &queries, parallel)
    }

    /// What assignment `a` contributes to each dimension's kernel.
    fn query(&self, a: &Assignment) -> Query {
        let mut extra = 0.0;
        let xs = self
            .nums
            .iter()
            .map(|d| match a.raw(d.param) {
                Some(raw) => {
                    extra -= d.log_accept;
                    d.spec.to_internal(raw)
                }
                None => f64::NAN,
            })
            .collect();
        let luts = self
            .cats
            .iter()
            .map(|d| {
                a.raw(d.param)
                    .map_or_else(Vec::new, |raw| d.log_masses(raw))
            })
            .collect();
        Query { xs, luts, extra }
    }

    /// The components' (weights, mus, sigmas) for numeric parameter `p`, for inspection/tests.
    #[cfg(test)]
    pub(crate) fn numeric_components(&self, p: usize) -> Option<(Vec<f64>, Vec<f64>, Vec<f64>)> {
        let Some((false, j)) = self.slot[p] else {
            return None;
        };
        let d = &self.nums[j];
        Some((self.weights.clone(), d.mu.clone(), d.sigma.clone()))
    }
}

/// A normal draw truncated to `[low, high]`, by rejection (uniform fallback if it keeps missing).
fn sample_truncated<R: rand::Rng + ?Sized>(
    rng: &mut R,
    mu: f64,
    sigma: f64,
    low: f64,
    high: f64,
) -> f64 {
    for _ in 0..64 {
        let x = mu + sigma * std_normal(rng);
        if x >= low && x <= high {
            return x;
        }
    }
    low + (high - low) * rng.random::<f64>()
}
