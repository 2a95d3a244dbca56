//! The Tree-structured Parzen Estimator.
//!
//! After a random start-up, the finished trials are split by loss into a small good set and
//! the rest; a Parzen estimator is fitted to each (`l` to the good, `g` to the bad), candidates
//! are drawn from `l`, and the one with the largest `log l(x) - log g(x)` wins.
//!
//! Two presets share the machinery:
//! - [`Tpe::default()`]: multivariate kernels over the whole tree-shaped space (a conditional
//!   parameter is modelled jointly with the choice above it: a component whose trial lacked the
//!   parameter uses the prior kernel for it), a linear good-set size (12 %, at most 25),
//!   good points weighted by their improvement (EI weighting), bandwidths floored at 3 % of the
//!   range up to 25 finished trials and at `0.03 * (25 / N)^0.25` of it after `N` (about 2.1 %
//!   at 100 trials, so late suggestions can refine), and at half a grid step for quantized
//!   parameters, instead of hyperopt's magic clip, smoothed categorical kernels, pending trials
//!   treated as bad (constant liar), failed trials in the bad set (never good), and no
//!   re-proposal of an evaluated point in a discrete space until every point was tried (then the
//!   best evaluated candidate by `l/g`, not a prior draw), and exploration trials: once 5
//!   finished trials (pruned ones included) came after the last one that improved the best loss by more than 0.1 % of
//!   the spread between the median loss and the best, every fifth suggestion (more often with
//!   fewer than three numeric parameters) widens one numeric parameter's kernels in `l` to its
//!   whole width and narrows them in `g` to 1.5 % of it, with
//!   every bad trial weighing the same, so the search can leave the basin its good set sits in
//!   for the gaps between the bad trials ([`Explore`]).
//! - In both, pruned trials rank after every finished ok trial, by the step they reached
//!   (further first) and then their value there, as Optuna does: when the good set has room
//!   left after the finished trials, the pruned trials that got furthest fill it. A pruned
//!   trial carrying its pruner's trusted forecast of its final value (the
//!   [`crate::trial::FORECAST`] metric, from the extrapolating pruner) ranks among the
//!   finished trials by that forecast instead.
//! - [`Tpe::hyperopt()`]: hyperopt 0.3.0's `tpe.suggest`: univariate, good set
//!   `min(ceil(0.25 sqrt N), 25)` over all trials (pending and failed count as infinitely bad),
//!   20 start-up trials, adaptive Parzen bandwidths with the prior inserted and the magic clip,
//!   linear forgetting after 25, categorical pseudo-counts, exact bin masses for quantized values,
//!   candidates of a bounded parameter drawn from the mixture truncated as a whole (a draw
//!   outside the bounds draws its component again, as hyperopt's `GMM1` does).

mod bandwidth;
mod explore;
mod gaps;
mod kept;
mod kernel;
mod normal;
mod parzen;
mod pool;
mod rows;
mod score;
mod sort;
mod split;
mod trunc;

use std::collections::{BTreeMap, HashSet};

use super::{Algorithm, TrialRng};
use crate::space::{Assignment, Space, Value};
use crate::trial::{HistoryView, Observation};
use parzen::{parallel, Estimator, KernelConfig, Obs};

pub use explore::Explore;

/// How many of the `N` observations form the good set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Gamma {
    /// `min(ceil(factor * sqrt(N)), cap)` (hyperopt: 0.25, 25).
    Sqrt {
        /// Multiplier of `sqrt(N)`.
        factor: f64,
        /// Largest good set.
        cap: usize,
    },
    /// `min(ceil(factor * N), cap)` (Optuna: 0.1, 25).
    Linear {
        /// Fraction of `N`.
        factor: f64,
        /// Largest good set.
        cap: usize,
    },
}

/// How the good observations are weighted in `l(x)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoodWeights {
    /// All the same.
    Uniform,
    /// By improvement over the best bad loss (expected-improvement weighting), so the best
    /// points weigh most.
    Ei,
}

/// How kernel bandwidths are set from the observations of a numeric parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bandwidth {
    /// hyperopt's `adaptive_parzen_normal`: the prior mean is inserted among the sorted
    /// observations, each gets the larger gap to a neighbour, clipped to
    /// `[width / min(100, n + 2), width]`.
    Hyperopt,
    /// Optuna's rule: the larger gap to a neighbour among the observations alone (the two end
    /// points take their inner gap), clipped to `[width * max(min_bandwidth, magic), width]`.
    Neighbour,
}

/// How a categorical parameter's kernel spreads its mass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CategoricalKernel {
    /// hyperopt: counts of each option plus `prior_weight` pseudo-counts per option.
    Hyperopt,
    /// Optuna: each observation's kernel puts most mass on its option, the rest spread by the
    /// prior, so joint kernels stay smooth across options.
    Smoothed,
}

/// How pending (running) trials enter the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pending {
    /// Constant liar: pending trials join the bad set (pushing new suggestions away from points
    /// being evaluated) but do not count towards the good-set size or the start-up.
    Liar,
    /// hyperopt: pending and failed trials have loss +inf and count everywhere.
    Worst,
    /// Pending trials are ignored.
    Ignore,
}

/// How the bandwidth floor (`Tpe::min_bandwidth`) shrinks as the study grows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FloorDecay {
    /// Finished trials before the floor starts shrinking.
    pub after: usize,
    /// The floor is proportional to `N^-power` past `after` trials.
    pub power: f64,
}

/// The Tree-structured Parzen Estimator and all its settings.
///
/// `Tpe::default()` is the recommended algorithm; `Tpe::hyperopt()` reproduces hyperopt 0.3.0.
/// A constant `Tpe` with the default settings also exists, so `fmin(f, &space, Tpe, 50)` reads
/// like hyperopt's `fmin(f, space, algo=tpe.suggest, max_evals=50)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tpe {
    /// Trials drawn at random before the model is used (counted over finished ok and pruned
    /// trials, or over all trials with `Pending::Worst`).
    pub n_startup: usize,
    /// Candidates drawn from `l(x)` per suggestion.
    pub n_candidates: usize,
    /// Size of the good set.
    pub gamma: Gamma,
    /// Weight of the prior component (before normalisation).
    pub prior_weight: f64,
    /// Joint kernels over all parameters (true) or one parameter at a time (false).
    pub multivariate: bool,
    /// Weights of good observations.
    pub good_weights: GoodWeights,
    /// Linear forgetting window: older observations than the newest `n` are ramped down.
    pub forgetting: Option<usize>,
    /// Bandwidth rule.
    pub bandwidth: Bandwidth,
    /// hyperopt's "magic clip" lower bound on bandwidths, `width / min(100, n + 2)`.
    pub magic_clip: bool,
    /// A floor on bandwidths as a fraction of the parameter's width (`Neighbour` rule only).
    pub min_bandwidth: f64,
    /// A floor on bandwidths of quantized parameters in grid steps (`Neighbour` rule only), so
    /// a kernel can always reach the neighbouring values.
    pub min_bandwidth_steps: f64,
    /// Categorical kernel.
    pub categorical: CategoricalKernel,
    /// Pending trials.
    pub pending: Pending,
    /// Failed trials join the bad set (never the good one), so the search moves away from
    /// regions where the objective fails instead of returning to them.
    pub failed_as_bad: bool,
    /// In a space where every parameter is discrete, never propose a point already evaluated
    /// or pending, unless every point has been: then the best evaluated candidate by `l/g`.
    pub dedup: bool,
    /// Shrinks the `min_bandwidth` floor as the study grows, so late suggestions can refine:
    /// with `N` finished trials the floor is `min_bandwidth * (after / N)^power` once
    /// `N > after` (`None`: a constant floor).
    pub min_bandwidth_decay: Option<FloorDecay>,
    /// Exploration trials (multivariate only): once `stall` finished trials came after the last
    /// progress, every `every`-th suggestion widens one numeric parameter's kernels in `l` to a
    /// floor of `floor` of its width and caps them in `g` at `gap_bandwidth` of it, so the search
    /// can leave the basin of its good set for a gap between the bad trials (`None`: never).
    pub explore: Option<Explore>,
    /// hyperopt's details: exact bin mass for quantized values, one truncation constant per
    /// mixture, forgetting in the good set too, categorical prior weight times the number of
    /// options, and (univariate) candidates drawn from the mixture truncated as a whole.
    pub hyperopt_scoring: bool,
}

/// The default TPE settings as a constant, so `fmin(f, &space, Tpe, 50)` works.
#[allow(non_upper_case_globals)]
pub const Tpe: Tpe = Tpe::DEFAULT;

impl Tpe {
    /// The default settings (see the module documentation).
    pub const DEFAULT: Tpe = Tpe {
        n_startup: 10,
        n_candidates: 24,
        gamma: Gamma::Linear {
            factor: 0.12,
            cap: 25,
        },
        prior_weight: 1.0,
        multivariate: true,
        good_weights: GoodWeights::Ei,
        forgetting: Some(25),
        bandwidth: Bandwidth::Neighbour,
        magic_clip: false,
        min_bandwidth: 0.03,
        min_bandwidth_steps: 0.5,
        min_bandwidth_decay: Some(FloorDecay {
            after: 25,
            power: 0.25,
        }),
        categorical: CategoricalKernel::Smoothed,
        pending: Pending::Liar,
        failed_as_bad: true,
        dedup: true,
        explore: Some(Explore {
            stall: 5,
            every: 5,
            floor: 1.0,
            progress: 0.001,
            gap_bandwidth: 0.015,
        }),
        hyperopt_scoring: false,
    };

    /// hyperopt 0.3.0's `tpe.suggest`, for users who want their old results back.
    pub const HYPEROPT: Tpe = Tpe {
        n_startup: 20,
        n_candidates: 24,
        gamma: Gamma::Sqrt {
            factor: 0.25,
            cap: 25,
        },
        prior_weight: 1.0,
        multivariate: false,
        good_weights: GoodWeights::Uniform,
        forgetting: Some(25),
        bandwidth: Bandwidth::Hyperopt,
        magic_clip: true,
        min_bandwidth: 0.0,
        min_bandwidth_steps: 0.0,
        min_bandwidth_decay: None,
        categorical: CategoricalKernel::Hyperopt,
        pending: Pending::Worst,
        failed_as_bad: false,
        dedup: false,
        explore: None,
        hyperopt_scoring: true,
    };

    /// hyperopt 0.3.0's `tpe.suggest`.
    pub fn hyperopt() -> Tpe {
        Tpe::HYPEROPT
    }

    /// The kernel settings with `n` finished trials.
    fn kernel(&self, n: usize) -> KernelConfig {
        KernelConfig {
            bandwidth: self.bandwidth,
            magic_clip: self.magic_clip,
            min_bandwidth: self.min_bandwidth_at(n),
            discrete_min_steps: self.min_bandwidth_steps,
            categorical: self.categorical,
            hyperopt_scoring: self.hyperopt_scoring,
            wide: None,
            narrow: None,
            max_bandwidth: 1.0,
        }
    }
}

impl Tpe {
    /// The bandwidth floor (a fraction of the width) with `n` finished trials.
    fn min_bandwidth_at(&self, n: usize) -> f64 {
        match self.min_bandwidth_decay {
            Some(d) if n > d.after && d.power > 0.0 => {
                self.min_bandwidth * (d.after.max(1) as f64 / n as f64).powf(d.power)
            }
            _ => self.min_bandwidth,
        }
    }
}

impl Default for Tpe {
    fn default() -> Self {
        Tpe::DEFAULT
    }
}

/// Where a trial ranks in the good/bad split: lower is better.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Rank {
    /// 0: finished ok; 1: pruned; 2: pending or failed (hyperopt preset).
    tier: u8,
    /// Minus the step a pruned trial reached (0 otherwise).
    neg_step: i64,
    /// The loss, or a pruned trial's value (NaN as +inf).
    value: f64,
}

impl Rank {
    const PRUNED: u8 = 1;
    const WORST: u8 = 2;

    fn ok(loss: f64) -> Rank {
        Rank {
            tier: 0,
            neg_step: 0,
            value: loss,
        }
    }

    fn pruned(step: Option<i64>, value: f64) -> Rank {
        Rank {
            tier: Rank::PRUNED,
            // an unknown step ranks after every known one
            neg_step: step.map_or(i64::MAX, i64::saturating_neg),
            value: if value.is_nan() { f64::INFINITY } else { value },
        }
    }

    fn worst() -> Rank {
        Rank {
            tier: Rank::WORST,
            neg_step: 0,
            value: f64::INFINITY,
        }
    }

    fn cmp(&self, other: &Rank) -> std::cmp::Ordering {
        self.tier
            .cmp(&other.tier)
            .then(self.neg_step.cmp(&other.neg_step))
            .then(self.value.total_cmp(&other.value))
    }
}

/// The split of a history into good and bad observations.
struct Split {
    good: Vec<Obs>,
    bad: Vec<Obs>,
    /// Finished trials counted (those the start-up counts).
    n: usize,
}

impl Tpe {
    /// Returns None while in the start-up phase.
    ///
    /// Trials are ranked as Optuna does: finished ok trials by loss first, then pruned trials
    /// by the step they reached (further first) and their value there (lower first, NaN last),
    /// then (hyperopt preset) pending and failed trials as infinitely bad; ties by trial order.
    /// Pruned trials count towards the start-up and the good-set size like finished ones; they
    /// are never treated as failures.
    fn split(&self, history: &HistoryView<'_>) -> Option<Split> {
        // (rank, trial index), trial order
        let mut scored: Vec<(Rank, usize)> = Vec::with_capacity(history.len());
        let mut pending: Vec<usize> = Vec::new();
        for (i, (_, o)) in history.iter().enumerate() {
            match (o, self.pending) {
                (Observation::Ok(l), _) => scored.push((Rank::ok(l), i)),
                // a trusted forecast of the final value ranks it among the finished trials
                (
                    Observation::Pruned {
                        forecast: Some(f), ..
                    },
                    _,
                ) => scored.push((Rank::ok(f), i)),
                (Observation::Pruned { step, value, .. }, _) => {
                    scored.push((Rank::pruned(step, value), i))
                }
                (Observation::Pending, Pending::Liar) => pending.push(i),
                (Observation::Failed, _) if self.failed_as_bad => pending.push(i),
                (Observation::Pending | Observation::Failed, Pending::Worst) => {
                    scored.push((Rank::worst(), i))
                }
                _ => {}
            }
        }
        let n = scored.len();
        if n < self.n_startup || !scored.iter().any(|s| s.0.tier < Rank::WORST) {
            return None;
        }
        let k = split::n_good(self.gamma, n);
        // only the best k + 1 need ordering: (rank, trial) is a total order, so selecting them
        // first gives the same good set as a full sort
        let ranked = best_ranked(&scored, k + 1);
        let good_idx: Vec<(Rank, usize)> = ranked[..k].to_vec();
        let threshold = ranked
            .get(k)
            .filter(|r| r.0.tier != Rank::PRUNED)
            .map(|r| r.0.value)
            .filter(|l| l.is_finite());
        // pruned trials in the good set weigh 1; the others by their loss
        let losses: Vec<f64> = good_idx
            .iter()
            .filter(|g| g.0.tier != Rank::PRUNED)
            .map(|g| g.0.value)
            .collect();
        let mut gw = split::good_weights(self.good_weights, &losses, threshold).into_iter();
        let mut good: Vec<(usize, f64)> = good_idx
            .iter()
            .map(|(r, i)| {
                let w = if r.tier == Rank::PRUNED {
                    1.0
                } else {
                    gw.next().unwrap_or(1.0)
                };
                (*i, w)
            })
            .collect();
        good.sort_unstable_by_key(|g| g.0);
        let mut in_good = vec![false; history.len()];
        for g in &good {
            in_good[g.0] = true;
        }
        let mut bad_idx: Vec<usize> = scored
            .iter()
            .map(|s| s.1)
            .filter(|&i| !in_good[i])
            .chain(pending)
            .collect();
        bad_idx.sort_unstable();
        let good = if self.hyperopt_scoring {
            // hyperopt forgets on both sides (the good set never exceeds 25, so rarely matters)
            let fw = split::forgetting_weights(good.len(), self.forgetting);
            good.iter()
                .zip(fw)
                .map(|(g, w)| Obs {
                    trial: g.0,
                    weight: g.1 * w,
                })
                .collect()
        } else {
            good.iter()
                .map(|g| Obs {
                    trial: g.0,
                    weight: g.1,
                })
                .collect()
        };
        let bw = split::forgetting_weights(bad_idx.len(), self.forgetting);
        let bad = bad_idx
            .into_iter()
            .zip(bw)
            .map(|(i, w)| Obs {
                trial: i,
                weight: w,
            })
            .collect();
        Some(Split { good, bad, n })
    }

    fn seen(history: &HistoryView<'_>) -> HashSet<Vec<u64>> {
        history
            .trials()
            .iter()
            .map(|t| t.params.assignment().key())
            .collect()
    }

    /// A prior draw, avoiding already seen points in a discrete space when asked.
    fn startup(&self, space: &Space, history: &HistoryView<'_>, rng: &mut TrialRng) -> Assignment {
        let (a, _) = self.prior_draw(space, history, rng);
        a
    }

    /// A prior draw and whether it is new: in a discrete space with `dedup`, up to 1001 draws
    /// look for a point not yet seen; if all were seen (the grid is exhausted, or nearly), the
    /// first draw comes back marked as seen.
    fn prior_draw(
        &self,
        space: &Space,
        history: &HistoryView<'_>,
        rng: &mut TrialRng,
    ) -> (Assignment, bool) {
        let a = space.sample_prior(rng);
        if !(self.dedup && space.is_discrete()) {
            return (a, true);
        }
        let seen = Self::seen(history);
        if !seen.contains(&a.key()) {
            return (a, true);
        }
        for _ in 0..1000 {
            let b = space.sample_prior(rng);
            if !seen.contains(&b.key()) {
                return (b, true);
            }
        }
        (a, false)
    }

    /// When no candidate was new: a new prior draw if one is found, otherwise (an exhausted
    /// discrete space) the best already evaluated candidate by `l/g`, so a noisy objective
    /// keeps re-evaluating the points the model favours instead of drawing from the prior.
    fn fallback(
        &self,
        space: &Space,
        history: &HistoryView<'_>,
        best_seen: Option<Assignment>,
        rng: &mut TrialRng,
    ) -> Assignment {
        match (self.prior_draw(space, history, rng), best_seen) {
            ((a, true), _) | ((a, false), None) => a,
            ((_, false), Some(b)) => b,
        }
    }

    fn suggest_multivariate(
        &self,
        space: &Space,
        history: &HistoryView<'_>,
        split: &Split,
        rng: &mut TrialRng,
    ) -> Assignment {
        let trials = history.trials();
        let dims: Vec<usize> = (0..space.len()).collect();
        let mut cfg = self.kernel(split.n);
        let mut cfg_g = cfg;
        let cfg_failed = cfg_g;
        let mut bad = std::borrow::Cow::Borrowed(split.bad.as_slice());
        let mut failed = Vec::new();
        if let Some(e) = self.explore {
            if let Some(p) = e.pick(space, history, split.n, rng) {
                // the exploring parameter is widened in l only; g, with capped kernels there and
                // no forgetting, steers the candidates into the gaps between all bad trials (but
                // the failed ones', see explore::BadDensity)
                cfg.wide = Some((p, e.floor));
                if e.gap_bandwidth > 0.0 {
                    cfg_g.narrow = Some((p, e.gap_bandwidth));
                    let (rest, f) = explore::unforgotten(&split.bad, history);
                    bad = std::borrow::Cow::Owned(rest);
                    failed = f;
                }
            }
        }
        let par = parallel(split.good.len().max(split.bad.len()) + 1);
        // l first (the good set is small): the candidates come from it alone, so they are drawn
        // and scored by l while g is built
        let l = Estimator::build(space, trials, &split.good, &dims, self.prior_weight, &cfg);
        let dedup = self.dedup && space.is_discrete();
        let seen = if dedup {
            Self::seen(history)
        } else {
            HashSet::new()
        };
        // one round: the candidates drawn from l (the RNG stream does not depend on the scores),
        // split into new ones and already evaluated ones, and the new ones' log l
        let n_candidates = self.n_candidates.max(1);
        let draw = |rng: &mut TrialRng| {
            let drawn: Vec<Assignment> = (0..n_candidates)
                .map(|_| {
                    let k = l.sample_component(rng);
                    space.build_assignment(|p, _| l.sample_param(space, p, k, rng))
                })
                .collect();
            let (candidates, old): (Vec<Assignment>, Vec<Assignment>) = drawn
                .into_iter()
                .partition(|a| !(dedup && seen.contains(&a.key())));
            let ls = l.log_pdf_many(&candidates);
            (candidates, old, ls)
        };
        let (g, first) = join(
            par,
            || {
                explore::BadDensity::build(
                    space,
                    trials,
                    &bad,
                    &failed,
                    &dims,
                    self.prior_weight,
                    &cfg_g,
                    &cfg_failed,
                )
            },
            || draw(&mut *rng),
        );
        let mut first = Some(first);
        let mut best: Option<(f64, Assignment)> = None;
        // the best candidate already evaluated, for an exhausted discrete space
        let mut best_seen: Option<(f64, Assignment)> = None;
        let rounds = if dedup { 10 } else { 1 };
        for _ in 0..rounds {
            // all candidates of a round are scored at once; the first best candidate wins
            let (candidates, old, ls) = match first.take() {
                Some(f) => f,
                None => draw(&mut *rng),
            };
            if candidates.is_empty() && best.is_none() {
                let (ls, gs) = (l.log_pdf_many(&old), g.log_pdf_many(&old));
                for (a, s) in old.into_iter().zip(ratios(&ls, &gs)) {
                    if best_seen.as_ref().is_none_or(|b| s > b.0) {
                        best_seen = Some((s, a));
                    }
                }
            }
            let gs = g.log_pdf_many(&candidates);
            for (a, s) in candidates.into_iter().zip(ratios(&ls, &gs)) {
                if best.as_ref().is_none_or(|b| s > b.0) {
                    best = Some((s, a));
                }
            }
            if best.is_some() {
                break;
            }
        }
        match best {
            Some((_, a)) => a,
            None => self.fallback(space, history, best_seen.map(|b| b.1), rng),
        }
    }

    fn suggest_univariate(
        &self,
        space: &Space,
        history: &HistoryView<'_>,
        split: &Split,
        rng: &mut TrialRng,
    ) -> Assignment {
        let trials = history.trials();
        let cfg = self.kernel(split.n);
        let mut buf = Vec::new();
        let a = space.build_assignment(|p, _| {
            let active = |o: &&Obs| trials[o.trial].params.assignment().is_active(p);
            let reweigh = |obs: Vec<Obs>, ramp: bool| -> Vec<Obs> {
                if !ramp {
                    return obs;
                }
                let w = split::forgetting_weights(obs.len(), self.forgetting);
                obs.into_iter()
                    .zip(w)
                    .map(|(o, w)| Obs {
                        trial: o.trial,
                        weight: w,
                    })
                    .collect()
            };
            let hyperopt = self.hyperopt_scoring;
            let good: Vec<Obs> = split.good.iter().filter(active).copied().collect();
            let bad: Vec<Obs> = split.bad.iter().filter(active).copied().collect();
            let good = if hyperopt { reweigh(good, true) } else { good };
            let bad = reweigh(bad, true);
            let kind = &space.params()[p].kind;
            let pw = match (self.categorical, kind.categories()) {
                (CategoricalKernel::Hyperopt, Some(n)) => self.prior_weight * n as f64,
                _ => self.prior_weight,
            };
            let l = Estimator::build(space, trials, &good, &[p], pw, &cfg);
            let g = Estimator::build(space, trials, &bad, &[p], pw, &cfg);
            let mut best = (f64::NEG_INFINITY, f64::NAN);
            let mut probe = Assignment::inactive(space.len());
            for _ in 0..self.n_candidates.max(1) {
                let v = if hyperopt {
                    // hyperopt's GMM1: truncated as a whole mixture
                    l.sample_param_mixture(space, p, rng)
                } else {
                    let k = l.sample_component(rng);
                    l.sample_param(space, p, k, rng)
                };
                probe.0[p] = v;
                let score = l.log_pdf(&probe, &mut buf) - g.log_pdf(&probe, &mut buf);
                if best.1.is_nan() || score > best.0 {
                    best = (score, v);
                }
            }
            best.1
        });
        if self.dedup && space.is_discrete() && Self::seen(history).contains(&a.key()) {
            return self.fallback(space, history, Some(a), rng);
        }
        a
    }
}

/// The `keep` best of `scored` by (rank, trial), a total order, best first.
///
/// Without pruned trials a rank is its tier and value, so each trial becomes one integer that
/// orders the same way (the value's bits as `total_cmp` orders them), and selecting and sorting
/// compare integers; with pruned trials the ranks are compared as they are.
fn best_ranked(scored: &[(Rank, usize)], keep: usize) -> Vec<(Rank, usize)> {
    let plain = scored
        .iter()
        .all(|(r, i)| r.tier != Rank::PRUNED && r.tier <= 3 && r.neg_step == 0 && *i < 1 << 62);
    if plain {
        let mut keys: Vec<u128> = scored
            .iter()
            .map(|(r, i)| {
                (u128::from(r.tier) << 126)
                    | (u128::from(total_order_bits(r.value)) << 62)
                    | *i as u128
            })
            .collect();
        if keep < keys.len() {
            keys.select_nth_unstable(keep);
            keys.truncate(keep);
        }
        keys.sort_unstable();
        return keys
            .into_iter()
            .map(|key| {
                let rank = Rank {
                    tier: (key >> 126) as u8,
                    neg_step: 0,
                    value: from_total_order_bits((key >> 62) as u64),
                };
                (rank, (key & ((1 << 62) - 1)) as usize)
            })
            .collect();
    }
    let by_rank = |a: &(Rank, usize), b: &(Rank, usize)| a.0.cmp(&b.0).then(a.1.cmp(&b.1));
    let mut ranked = scored.to_vec();
    if keep < ranked.len() {
        ranked.select_nth_unstable_by(keep, by_rank);
        ranked.truncate(keep);
    }
    ranked.sort_unstable_by(by_rank);
    ranked
}

/// `v`'s bits as an unsigned integer that orders as `f64::total_cmp` orders the values.
fn total_order_bits(v: f64) -> u64 {
    let b = v.to_bits() as i64;
    // total_cmp's own transform (then compared as signed), moved to unsigned order
    ((b ^ (((b >> 63) as u64) >> 1) as i64) as u64) ^ (1 << 63)
}

/// The value whose [`total_order_bits`] are `k`.
fn from_total_order_bits(k: u64) -> f64 {
    let t = (k ^ (1 << 63)) as i64;
    f64::from_bits((t ^ (((t >> 63) as u64) >> 1) as i64) as u64)
}

/// The scores `log l - log g` of candidates (NaN as minus infinity, so it never wins).
fn ratios<'a>(ls: &'a [f64], gs: &'a [f64]) -> impl Iterator<Item = f64> + 'a {
    ls.iter().zip(gs).map(|(l, g)| {
        let s = l - g;
        if s.is_nan() {
            f64::NEG_INFINITY
        } else {
            s
        }
    })
}

/// Both closures' results: computed on the rayon pool when `parallel`, one after the other
/// otherwise (small mixtures or a one-thread pool, where handing work over costs more than it
/// saves).
fn join<A, B, RA, RB>(parallel: bool, a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    if parallel {
        rayon::join(a, b)
    } else {
        (a(), b())
    }
}

impl Algorithm for Tpe {
    fn learns_from_stopped_trials(&self) -> bool {
        true
    }

    fn name(&self) -> String {
        if self.hyperopt_scoring {
            "tpe-hyperopt".into()
        } else {
            "tpe".into()
        }
    }

    fn settings(&self) -> BTreeMap<String, Value> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_string(), v);
        };
        put("n_startup", Value::from(self.n_startup));
        put("n_candidates", Value::from(self.n_candidates));
        let (kind, factor, cap) = match self.gamma {
            Gamma::Sqrt { factor, cap } => ("sqrt", factor, cap),
            Gamma::Linear { factor, cap } => ("linear", factor, cap),
        };
        put("gamma", Value::from(format!("{kind}({factor}, cap {cap})")));
        put("prior_weight", Value::from(self.prior_weight));
        put("multivariate", Value::from(self.multivariate));
        put(
            "good_weights",
            Value::from(format!("{:?}", self.good_weights).to_lowercase()),
        );
        put(
            "forgetting",
            self.forgetting.map(Value::from).unwrap_or(Value::Null),
        );
        put(
            "bandwidth",
            Value::from(format!("{:?}", self.bandwidth).to_lowercase()),
        );
        put("magic_clip", Value::from(self.magic_clip));
        put("min_bandwidth", Value::from(self.min_bandwidth));
        put("min_bandwidth_steps", Value::from(self.min_bandwidth_steps));
        if let Some(d) = self.min_bandwidth_decay {
            // only when set, so the settings recorded for hyperopt's preset stay as they were
            put(
                "min_bandwidth_decay",
                Value::from(format!("after {}, power {}", d.after, d.power)),
            );
        }
        put(
            "categorical",
            Value::from(format!("{:?}", self.categorical).to_lowercase()),
        );
        put(
            "pending",
            Value::from(format!("{:?}", self.pending).to_lowercase()),
        );
        put("failed_as_bad", Value::from(self.failed_as_bad));
        put("dedup", Value::from(self.dedup));
        if let Some(e) = self.explore {
            // only when set, so the settings recorded for hyperopt's preset stay as they were
            put(
                "explore",
                Value::from(format!(
                    "stall {}, every {}, floor {} (l only), progress {}, gap bandwidth {} (g)",
                    e.stall, e.every, e.floor, e.progress, e.gap_bandwidth
                )),
            );
        }
        m
    }

    fn suggest(&self, space: &Space, history: &HistoryView<'_>, rng: &mut TrialRng) -> Assignment {
        match self.split(history) {
            None => self.startup(space, history, rng),
            Some(split) if self.multivariate => {
                if parallel(split.good.len().max(split.bad.len()) + 1) {
                    // the whole suggestion on the pool: its parallel steps then start from a
                    // worker thread instead of each handing work over from this one
                    rayon::scope(|_| self.suggest_multivariate(space, history, &split, rng))
                } else {
                    self.suggest_multivariate(space, history, &split, rng)
                }
            }
            Some(split) => self.suggest_univariate(space, history, &split, rng),
        }
    }
}

#[cfg(test)]
mod tests;
