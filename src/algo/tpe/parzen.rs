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

use super::bandwidth::bandwidths_into;
use super::kept::KEEP_MIN;
use super::kernel::kernel_consts;
use super::normal::norm_mass;
use super::pool;
use super::rows::internal_columns;
use super::score::{self, NumCols, Query};
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
    /// An exploration trial's widened parameter and its bandwidth floor (a fraction of its
    /// width), raising `min_bandwidth` for that parameter only.
    pub wide: Option<(usize, f64)>,
    /// An exploration trial's widened parameter in `g` and a cap on its bandwidths (a fraction
    /// of its width), so `g` dips between the bad trials.
    pub narrow: Option<(usize, f64)>,
    /// A cap on the bandwidths of observed values, a fraction of the parameter's width (1: the
    /// width itself, as without a cap); set from `narrow` for its parameter only.
    pub max_bandwidth: f64,
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

impl NumDim {
    /// The kernels of numeric parameter `p` (`spec`) given each observation's internal value
    /// `col` (`NaN` where inactive; its buffer becomes the means) and the components' weights
    /// (the prior's last). A component whose trial lacked the parameter, and the prior one, get
    /// the prior kernel.
    /// `ids` (each observation's trial, when the set is large) lets the bandwidths keep the
    /// values' order for the next estimator.
    fn build(
        p: usize,
        spec: &Numeric,
        col: Vec<f64>,
        ids: Option<&[u32]>,
        weights: &[f64],
        cfg: &KernelConfig,
    ) -> NumDim {
        let m = col.len() + 1;
        let mut sigma = pool::F64.take(m);
        let mut mu = col;
        if mu.iter().all(|x| !x.is_nan()) {
            // every observation has the parameter: the means are the values themselves
            bandwidths_into(&mu, ids.map(|ids| (p, ids)), spec, cfg, &mut sigma);
        } else {
            let (active, vals): (Vec<usize>, Vec<f64>) = mu
                .iter()
                .enumerate()
                .filter(|(_, x)| !x.is_nan())
                .map(|(k, &x)| (k, x))
                .unzip();
            let sub_ids: Option<Vec<u32>> = ids.map(|ids| active.iter().map(|&k| ids[k]).collect());
            let mut sig = Vec::new();
            bandwidths_into(
                &vals,
                sub_ids.as_deref().map(|ids| (p, ids)),
                spec,
                cfg,
                &mut sig,
            );
            sigma.resize(m - 1, spec.width());
            for (&k, &s) in active.iter().zip(&sig) {
                sigma[k] = s;
            }
            for x in mu.iter_mut().filter(|x| x.is_nan()) {
                *x = spec.prior_mu;
            }
        }
        mu.push(spec.prior_mu);
        sigma.push(spec.width());
        let mut inv_sigma = pool::F64.take(m);
        let mut log_c = pool::F64.take(m);
        let log_accept = kernel_consts(
            spec,
            &mu,
            &sigma,
            weights,
            cfg.hyperopt_scoring,
            &mut inv_sigma,
            &mut log_c,
        );
        NumDim {
            param: p,
            spec: spec.clone(),
            mu,
            sigma,
            inv_sigma,
            log_c,
            log_accept,
            bounded: spec.uniform_prior,
            exact_bins: cfg.hyperopt_scoring,
        }
    }
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

/// Mixtures with at least this many components are built and scored in parallel. (Raising this
/// to 2048, so a 1000-trial study's suggestions stay on one thread, saved the hand-overs but made
/// the like-for-like loop slower whenever other processes shared the two cores: BENCHMARKS.md,
/// eighth session.)
pub(crate) const PARALLEL_COMPONENTS: usize = 256;

/// True if work on a mixture of `m` components is worth handing to the rayon pool: the mixture
/// is large and the pool has more than one thread (with one, handing work over only adds the
/// hand-over). Results are the same either way.
pub(crate) fn parallel(m: usize) -> bool {
    m >= PARALLEL_COMPONENTS && rayon::current_num_threads() > 1
}

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

impl Drop for Estimator {
    /// The columns go back to the pool for the next estimator.
    fn drop(&mut self) {
        pool::F64.give(std::mem::take(&mut self.weights));
        pool::F64.give(std::mem::take(&mut self.log_w));
        for d in &mut self.nums {
            for v in [&mut d.mu, &mut d.sigma, &mut d.inv_sigma, &mut d.log_c] {
                pool::F64.give(std::mem::take(v));
            }
        }
        for d in &mut self.cats {
            pool::U32.give(std::mem::take(&mut d.code));
        }
    }
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
        let mut weights = pool::F64.take(m);
        weights.extend(
            obs.iter()
                .map(|o| o.weight / total)
                .chain(std::iter::once(prior_weight / total)),
        );
        let mut log_w = pool::F64.take(m);
        let par = parallel(m);
        if par {
            log_w.par_extend(weights.par_iter().map(|w| w.ln()));
        } else {
            log_w.extend(weights.iter().map(|w| w.ln()));
        }
        // each observation's internal value of each parameter (NaN where inactive; the prior
        // component has none)
        let cols = internal_columns(space, trials, obs, dims);
        // large sets keep their values' order for the next estimator (trial ids name them)
        let ids: Option<Vec<u32>> = (obs.len() >= KEEP_MIN)
            .then(|| obs.iter().map(|o| u32::try_from(o.trial).ok()).collect())
            .flatten();
        let ids = ids.as_deref();
        // parameters are independent: build them in parallel when the mixture is large
        let build_dim = |(p, col): (usize, Vec<f64>)| -> Dim {
            let kind = &space.params()[p].kind;
            match kind {
                ParamKind::Numeric(spec) => match (cfg.wide, cfg.narrow) {
                    (Some((w, floor)), _) if w == p => {
                        let wide = KernelConfig {
                            min_bandwidth: cfg.min_bandwidth.max(floor),
                            ..*cfg
                        };
                        Dim::Num(NumDim::build(p, spec, col, ids, &weights, &wide))
                    }
                    (_, Some((w, cap))) if w == p => {
                        let narrow = KernelConfig {
                            max_bandwidth: cap,
                            ..*cfg
                        };
                        Dim::Num(NumDim::build(p, spec, col, ids, &weights, &narrow))
                    }
                    _ => Dim::Num(NumDim::build(p, spec, col, ids, &weights, cfg)),
                },
                _ => {
                    let n_cat = kind.categories().unwrap_or(1);
                    let mut code = pool::U32.take(m);
                    code.extend(col.iter().map(|&raw| {
                        if raw.is_nan() {
                            n_cat as u32
                        } else {
                            kind.category_of(raw) as u32
                        }
                    }));
                    code.push(n_cat as u32);
                    pool::F64.give(col);
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
        let jobs: Vec<(usize, Vec<f64>)> = dims.iter().copied().zip(cols).collect();
        let built: Vec<Dim> = if par {
            jobs.into_par_iter().map(build_dim).collect()
        } else {
            jobs.into_iter().map(build_dim).collect()
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

    /// Draw a raw value of parameter `p` from the whole mixture, hyperopt's way: a bounded
    /// numeric parameter draws a component and a normal value until the value falls inside the
    /// bounds, drawing the component again each time, so the draw follows the mixture truncated
    /// as a whole (the wide prior component, which loses most mass outside, is drawn less often
    /// than its weight). [`Estimator::sample_param`] truncates each component on its own.
    pub(crate) fn sample_param_mixture<R: rand::Rng + ?Sized>(
        &self,
        space: &Space,
        p: usize,
        rng: &mut R,
    ) -> f64 {
        if let Some((false, j)) = self.slot[p] {
            let d = &self.nums[j];
            if d.bounded {
                // hyperopt keeps trying; the prior component alone accepts about 38 % of its
                // draws, so a thousand misses in a row only come from a degenerate mixture
                for _ in 0..1000 {
                    let k = self.sample_component(rng);
                    let x = d.mu[k] + d.sigma[k] * std_normal(rng);
                    if x >= d.spec.low && x < d.spec.high {
                        return d.spec.to_raw(x);
                    }
                }
            }
        }
        let k = self.sample_component(rng);
        self.sample_param(space, p, k, rng)
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
        let par = parallel(self.n_components());
        score::log_pdf_many(&self.log_w, &nums, &cats, &queries, par)
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
