//! Pruning: stop unpromising trials early from their learning curves.
//!
//! A trial reports intermediate values of one watched metric at steps (epochs, iterations)
//! through [`TrialContext::report`](super::TrialContext::report); after each report the study's
//! [`Pruner`] looks at the trial's curve and at the other trials' curves ([`Curves`]) and says
//! whether to stop it. A stopped trial returns [`TrialResult::pruned`](crate::TrialResult::pruned)
//! and ends in the state [`Pruned`](crate::TrialState::Pruned): finished, not failed.
//!
//! **Direction.** A study minimizes, so every pruner reads the watched values as losses: lower
//! is better. Watch a loss-like metric (or report the negated value of a score).
//!
//! **Steps.** A trial's *last step* is the highest step it reported (as Optuna's `last_step`),
//! whatever the order of the reports; a second report at a step already reported is ignored.
//! Pruners are pure computations over [`Curves`]: no I/O, no clock.

mod analog;
mod asha;
mod curves;
mod extrapolate;
mod feed;
mod hyperband;
mod median;
mod none;
mod patient;
mod percentile;
mod shared;
mod summary;
mod threshold;

pub use asha::SuccessiveHalving;
pub use curves::{CurveState, Curves, TrialCurve};
pub use extrapolate::Extrapolate;
pub use feed::CurveFeed;
pub use hyperband::{Brackets, Hyperband};
pub use median::Median;
pub use none::NoPruner;
pub use patient::Patient;
pub use percentile::Percentile;
pub use shared::{Decision, PruneShared};
pub use summary::PruneSummary;
pub use threshold::Threshold;

use std::fmt;

/// Decides whether a running trial should stop, from its learning curve and the others'.
pub trait Pruner: Send + Sync + fmt::Debug {
    /// A short name (`extrapolate`, `median`, `percentile`, `asha`, `hyperband`, `threshold`, `patient`, `none`).
    fn name(&self) -> &'static str;

    /// Whether trial `trial` (present in `curves`, just after a report) should stop now.
    /// `curves` is mutable so a pruner can record what it decided on (ASHA's rungs).
    fn prune(&self, curves: &mut Curves, trial: usize) -> bool;

    /// How the study should split its history for the sampler (Hyperband's brackets): when
    /// `Some`, the parameters of a trial are suggested from the trials of its own bracket only.
    /// `None` (the default): from every trial.
    fn sampler_brackets(&self) -> Option<Brackets> {
        None
    }

    /// For trial `trial`, which this pruner just stopped: its forecast final value, when the
    /// pruner trusts the forecast enough for the sampler to rank the trial among the finished
    /// ones by it. `None` (the default): the sampler ranks it after every finished trial, by
    /// the step it reached and its value there.
    fn forecast(&self, _curves: &Curves, _trial: usize) -> Option<f64> {
        None
    }

    /// Called once before a study starts, with whether its sampler learns from the trials this
    /// pruner stops ([`crate::algo::Algorithm::learns_from_stopped_trials`]). The default does
    /// nothing; [`Extrapolate`] turns its tangent check on for a sampler that does not.
    fn fit_sampler(&mut self, _learns_from_stopped: bool) {}
}

impl Pruner for Box<dyn Pruner> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn prune(&self, curves: &mut Curves, trial: usize) -> bool {
        (**self).prune(curves, trial)
    }
    fn sampler_brackets(&self) -> Option<Brackets> {
        (**self).sampler_brackets()
    }
    fn forecast(&self, curves: &Curves, trial: usize) -> Option<f64> {
        (**self).forecast(curves, trial)
    }
    fn fit_sampler(&mut self, learns_from_stopped: bool) {
        (**self).fit_sampler(learns_from_stopped)
    }
}

/// A pruner setting out of its range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("pruner setting '{field}' is {value}; {expected}")]
pub struct PrunerError {
    /// The setting's name (as in a run file's `[pruner]` table).
    pub field: &'static str,
    /// The value given.
    pub value: String,
    /// What would be valid.
    pub expected: &'static str,
}

impl PrunerError {
    pub(crate) fn new(
        field: &'static str,
        value: impl fmt::Display,
        expected: &'static str,
    ) -> Self {
        PrunerError {
            field,
            value: value.to_string(),
            expected,
        }
    }

    /// `Ok` when the setting `percentile` is in 0..=100, else the error saying so.
    pub(crate) fn percentile(value: f64) -> Result<(), Self> {
        match (0.0..=100.0).contains(&value) {
            true => Ok(()),
            false => Err(Self::new(
                "percentile",
                value,
                "expected a number from 0 to 100",
            )),
        }
    }

    /// `Ok` when the integer setting `field` is at least `min` (0 or 1), else the error saying so.
    pub(crate) fn at_least(field: &'static str, value: i64, min: i64) -> Result<(), Self> {
        match (value >= min, min) {
            (true, _) => Ok(()),
            (false, 0) => Err(Self::new(field, value, "expected 0 or more")),
            (false, _) => Err(Self::new(field, value, "expected 1 or more")),
        }
    }
}

/// The step at which the completed trials' own forecasts (and the analogies' calibration) are
/// made for a decision at `step`: `step` itself up to 127, then `step` rounded down to a
/// multiple of the largest power of two at most `step / 64`. A curve of 10,000 steps is then
/// checked at about 600 steps instead of 10,000, each at most 1/64 of its steps before the one it
/// stands for (so its forecasts had a little less to go on: a slightly more cautious check).
pub(crate) fn reference_step(step: i64) -> i64 {
    if step < 128 {
        return step;
    }
    let grain = 1_i64 << (step / 64).ilog2();
    step - step % grain
}

/// The trial's curve and last step when a pruner that compares with completed trials is due to
/// decide on it: at least `n_startup_trials` (and one) trials completed, the last step at or
/// past `warmup` and the first of its interval. None otherwise.
pub(crate) fn due_for_decision(
    curves: &Curves,
    trial: usize,
    n_startup_trials: usize,
    warmup: i64,
    interval: i64,
) -> Option<(&TrialCurve, i64)> {
    let n_complete = curves.completed().count();
    if n_complete == 0 || n_complete < n_startup_trials {
        return None;
    }
    let curve = curves.get(trial)?;
    let step = curve.last_step()?;
    if step < warmup || !first_in_interval(curve, step, warmup, interval) {
        return None;
    }
    Some((curve, step))
}

/// Whether `step` is the first step of its pruning interval (Optuna's rule): counting from
/// `warmup`, steps are checked every `interval`; a step is checked only if no other step of the
/// trial was reported at or after the interval's start.
pub(crate) fn first_in_interval(curve: &TrialCurve, step: i64, warmup: i64, interval: i64) -> bool {
    let interval = interval.max(1);
    let nearest = (step - warmup).div_euclid(interval) * interval + warmup;
    let second_last = curve
        .values
        .keys()
        .copied()
        .filter(|&s| s != step)
        .max()
        .unwrap_or(i64::MIN);
    second_last < nearest
}

/// The smallest of `values` ignoring NaN (NaN if every value is NaN or there is none).
pub(crate) fn nan_min(values: impl IntoIterator<Item = f64>) -> f64 {
    values
        .into_iter()
        .filter(|v| !v.is_nan())
        .fold(f64::NAN, |m, v| if m.is_nan() || v < m { v } else { m })
}

/// The metric under which a trial's pruning thresholds are logged, at the steps the pruner
/// decided on (see [`TrialCurve::thresholds`]).
pub const THRESHOLD_METRIC: &str = "hpo.pruneThreshold";

/// The tag naming the metric a trial's pruner watched (set at its first report).
pub const TAG_PRUNE_METRIC: &str = "hpo.pruneMetric";

/// The pruner names a run file accepts.
pub const PRUNER_NAMES: [&str; 8] = [
    "median",
    "percentile",
    "asha",
    "hyperband",
    "threshold",
    "patient",
    "extrapolate",
    "none",
];
