//! The extrapolating pruner: forecast a trial's final value from the shape of its curve so far
//! and stop it when even an optimistic forecast is worse than a percentile of the completed
//! trials' final values.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::analog::{
    accurate_forecast, lower_bound, sorted_finals, spread, AnalogCache, Reference,
};
use super::percentile::nan_percentile;
use super::{
    due_for_decision, reference_step, CurveState, Curves, Pruner, PrunerError, TrialCurve,
};

/// Stops a trial whose forecast final value is above the `percentile`-th percentile of the
/// completed trials' final values. hpo's recommended pruner (`hpo bench`'s `default`).
///
/// **The forecast.** The trial's finite values so far are fitted by least squares with an
/// exponential approach to a plateau, `y(t) = c + b exp(-t / tau)`, for every plausible
/// `tau` (those whose fit is within `z^2` residual variances of the best one, the profile
/// likelihood's interval); each fit is extended to the *horizon*, the highest last step among
/// the completed trials, and lowered by `z` standard errors of that prediction. The forecast is
/// the lowest of these: optimistic, so a trial is stopped only when every plausible extension
/// of its curve ends worse than the threshold. A long `tau` makes the fit a straight line, so
/// no forecast goes much below the trial's current slope extended to the horizon. Noisy curves
/// give wide intervals and are stopped later; curves that have visibly flattened are stopped
/// early, and a slow starter still falling steeply is kept even when its values so far are the
/// worst.
///
/// **Checked against the completed trials.** The same forecast, made from each completed
/// trial's values up to the same step, is compared with that trial's final value; the trial's
/// forecast is lowered by the largest amount by which those came out too high. On curves the
/// model fits, that is nothing. On curves with a second, slower descent after a fast first one
/// (SGD's loss, say), which look flat after a few steps and then keep falling, it keeps trials
/// the model alone would stop at the end of the warm-up: with only the start-up trials
/// completed, it could otherwise stop every later trial at that step. Past step 127 "the same
/// step" is the step rounded down by at most 1/64 of it (see `reference_step`), so long curves
/// are checked at a few hundred steps, not at every one.
///
/// **The threshold.** A completed trial's final value is read from its fitted curve at its
/// last step (the same fit, at its most likely `tau`), which takes the noise out of a single
/// last value. Where that fit misses the curve's end (a curve that fell and rose again), a
/// straight line through its last points is read instead. A completed trial whose last value is
/// NaN or infinite keeps that value (NaN is ignored in the percentile).
///
/// - No decision before `n_startup_trials` trials completed, before step `n_warmup_steps`, at
///   a step that is not the first of its interval (`interval_steps`), with fewer than 4 finite
///   values (3 parameters and one degree of freedom), or at or past the horizon.
/// - A trial whose every value is NaN or infinite is pruned.
/// - A trial exactly at the threshold (a tie) is kept.
/// - What fits well: losses that fall and level off (epochs, boosting rounds, solver sweeps).
///   A curve that falls and then rises (overfitting) is forecast too low by this model.
///
/// **Forecasts by analogy** (`analogies`, on by default). A trial the plateau model keeps is
/// also compared with the completed trials whose curves, over the second half of its steps so
/// far, had the same shape; their final values, shifted by the offset between the curves and
/// blended by how well their shapes rebuild its own, give its analog forecast, lowered by the
/// largest miss of such forecasts on comparable completed trials (see `analog.rs`). The trial
/// is stopped when that bound is still above the threshold, but only at steps where the
/// analogies forecast the completed trials far better than the plateau model did (less than a
/// quarter of its mean error): curves that fall and then rise, where the completed trials show
/// the rise a running trial has not reached yet. Where the plateau model fits, the analogies
/// stay out. At steps where the analogies proved accurate (their forecasts of the completed
/// trials, each from the others, missed by a median of less than a tenth of the spread of the
/// completed final values, from the best to the median), the margin comes from the 5 most
/// comparable completed trials instead of 10, so a trial is stopped as soon as its analog
/// forecast is clearly above the threshold.
///
/// **What the sampler learns from a stopped trial.** When the forecasts made at the step a
/// trial was stopped at proved accurate on the completed trials (each completed trial's forecast
/// from its own values up to that step came within `forecast_tolerance` times the spread of the
/// completed final values, from the best to the median, of its fitted final value), the stopped
/// trial carries its point forecast (the [`crate::trial::FORECAST`] metric) and TPE ranks it
/// among the finished trials by it instead of after all of them. Where they did not but the
/// analogies proved accurate at that step (as above), it carries its analog forecast. Noisy or
/// misfitting curves fail both checks, and their stopped trials are ranked as Optuna ranks
/// pruned trials.
///
/// **The tangent check** (`tangent`; by default on with a sampler that does not learn from
/// stopped trials, random search and annealing, off with TPE). A trial the checks above would
/// stop is kept while the straight line through its last two values, extended to the horizon,
/// ends at or below the threshold: on a curve that falls ever more slowly (convex) that line
/// stays below the curve, so it bounds where the curve can end. It is waived when a completed
/// trial that fell at every step up to the same step, with a line from there reaching between
/// as far and [`TANGENT_COVER`] times as far, showed the plateau model safe (its lowered
/// forecast from that step was not above its final value): the completed trials then vouch for
/// the model on curves of that steepness. What it is for: SGD's slow learners look flat to the
/// plateau model after a few steps and end best (`hpo bench`'s `sgd_diabetes`); with TPE a
/// completed slow learner shows the model's miss, but random search completes none of them, so
/// nothing else keeps them. It costs steps, and with TPE it measured worse (BENCH.md).
#[derive(Debug)]
pub struct Extrapolate {
    /// The percentile of the completed trials' final values, in 0..=100 (lower keeps fewer).
    pub percentile: f64,
    /// Completed trials needed before any pruning.
    pub n_startup_trials: usize,
    /// Steps before which a trial is never pruned.
    pub n_warmup_steps: i64,
    /// Pruning is checked once per this many steps after the warm-up.
    pub interval_steps: i64,
    /// How many standard errors the forecast is lowered by (and the width of the plausible
    /// `tau` interval): larger keeps more trials.
    pub z: f64,
    /// How close the plateau model's forecasts must have come on every completed trial, as a
    /// fraction of the spread of their final values, for a stopped trial's forecast to reach
    /// the sampler (0: no forecast reaches it, the analogies' neither).
    pub forecast_tolerance: f64,
    /// Whether a trial the plateau model keeps may still be stopped by analogy with the
    /// completed trials whose curves had the same shape (see the type's documentation).
    pub analogies: bool,
    /// Whether the tangent check is on (see the type's documentation); `None`: on when the
    /// study's sampler does not learn from stopped trials ([`Pruner::fit_sampler`]).
    pub tangent: Option<bool>,
    /// Completed trials' fitted final values, by trial number.
    fitted: Arc<Mutex<HashMap<usize, Fitted>>>,
    /// The analog forecasts' calibrations.
    analogs: Arc<Mutex<AnalogCache>>,
}

/// A completed trial's fitted final value, with what identifies the curve it was fitted on.
#[derive(Debug)]
struct Fitted {
    len: usize,
    last: u64,
    value: f64,
    /// By step: the forecasts from the values up to that step, so each step's checks fit a
    /// completed curve's prefix once.
    prefixes: HashMap<i64, Prefix>,
}

/// What the forecasts from a completed curve's values up to a step said of its final value
/// (`None`: no forecast).
#[derive(Clone, Copy, Debug)]
struct Prefix {
    /// How far the point forecast missed the final value.
    error: Option<f64>,
    /// How far the lowered forecast (a pruning decision's) was above the final value.
    overshoot: Option<f64>,
    /// When the curve fell at every step up to that step: how far below its value there the
    /// line through its last two values went by its last step ([`tangent_reach`]).
    reach: Option<f64>,
}

impl Default for Extrapolate {
    /// The settings chosen on held-out seeds (BENCH.md, "Pruning: compute saved"): the 2nd
    /// percentile, 5 start-up trials, a warm-up of 4 steps, every step, `z` = 2, forecasts
    /// passed to the sampler when they came within 1 % of the spread on the completed trials.
    fn default() -> Self {
        Extrapolate {
            percentile: 2.0,
            n_startup_trials: 5,
            n_warmup_steps: 4,
            interval_steps: 1,
            z: 2.0,
            forecast_tolerance: 0.01,
            analogies: true,
            tangent: None,
            fitted: Arc::default(),
            analogs: Arc::default(),
        }
    }
}

impl Clone for Extrapolate {
    /// The same settings with a cache of its own (a clone may serve another study).
    fn clone(&self) -> Self {
        Extrapolate {
            fitted: Arc::default(),
            analogs: Arc::default(),
            ..*self
        }
    }
}

impl PartialEq for Extrapolate {
    /// Equal settings (the cache of fitted values does not count).
    fn eq(&self, other: &Self) -> bool {
        self.percentile == other.percentile
            && self.n_startup_trials == other.n_startup_trials
            && self.n_warmup_steps == other.n_warmup_steps
            && self.interval_steps == other.interval_steps
            && self.z == other.z
            && self.forecast_tolerance == other.forecast_tolerance
            && self.analogies == other.analogies
            && self.tangent == other.tangent
    }
}

/// How far, as a fraction of a completed curve's range, the plateau fit's final value may be
/// from a line through the curve's last points (beyond 3 standard errors) before the line's
/// value is taken instead (see [`final_value`]).
const MISFIT: f64 = 0.05;

/// The analogies stop a trial only at steps where their forecasts of the completed trials'
/// final values (each from the others) missed by less than this fraction of the plateau
/// model's misses from the same step, on average.
const ANALOGY_ADVANTAGE: f64 = 0.25;

/// The analogies proved accurate at a step when their forecasts of the completed trials' final
/// values (each from the others) missed by a median of less than this fraction of the spread of
/// those values (from the best to the median): their margin is then calibrated on the closest
/// comparable trials, and a trial they stopped passes its analog forecast to the sampler.
const ANALOGY_ACCURACY: f64 = 0.1;

/// The tangent check is waived by a completed trial whose line reached from as far as the
/// running trial's to this many times as far (see [`Extrapolate`]).
const TANGENT_COVER: f64 = 2.0;

/// A forecast within this fraction of the spread of the completed final values (from the best
/// to the median) above a final value counts as not above it: the fit's own precision (its
/// `tau` is refined to about 1e-5 in log scale).
const FIT_PRECISION: f64 = 1e-6;

/// At most this many points are fitted: a longer curve is averaged over equal-width step
/// bins first, so a decision costs the same at step 100 and at step 100,000.
const MAX_POINTS: usize = 96;

/// The curve's finite values as (step, value), sorted by step, averaged over at most
/// [`MAX_POINTS`] equal-width step bins when there are more.
fn finite_points(curve: &TrialCurve) -> Vec<(f64, f64)> {
    let points: Vec<(f64, f64)> = curve
        .values
        .iter()
        .filter(|(_, v)| v.is_finite())
        .map(|(s, v)| (*s as f64, *v))
        .collect();
    thinned(points, MAX_POINTS)
}

/// `points` (sorted by step) averaged, step and value, over `bins` equal-width step bins (the
/// empty ones dropped); unchanged when there are at most `bins`.
fn thinned(points: Vec<(f64, f64)>, bins: usize) -> Vec<(f64, f64)> {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return points;
    };
    if points.len() <= bins {
        return points;
    }
    let (t0, width) = (first.0, (last.0 - first.0) / bins as f64);
    let mut sums = vec![(0.0, 0.0, 0usize); bins];
    for &(t, v) in &points {
        let i = (((t - t0) / width) as usize).min(bins - 1);
        sums[i].0 += t;
        sums[i].1 += v;
        sums[i].2 += 1;
    }
    sums.into_iter()
        .filter(|s| s.2 > 0)
        .map(|(t, v, n)| (t / n as f64, v / n as f64))
        .collect()
}

impl Extrapolate {
    /// Check every setting's range.
    pub fn validated(self) -> Result<Self, PrunerError> {
        PrunerError::percentile(self.percentile)?;
        if !(self.z.is_finite() && self.z >= 0.0) {
            return Err(PrunerError::new(
                "z",
                self.z,
                "expected a number, 0 or more",
            ));
        }
        if !(self.forecast_tolerance.is_finite() && self.forecast_tolerance >= 0.0) {
            return Err(PrunerError::new(
                "forecast_tolerance",
                self.forecast_tolerance,
                "expected a number, 0 or more",
            ));
        }
        PrunerError::at_least("n_warmup_steps", self.n_warmup_steps, 0)?;
        PrunerError::at_least("interval_steps", self.interval_steps, 1)?;
        Ok(self)
    }

    fn decide(&self, curves: &Curves, trial: usize) -> bool {
        let Some((curve, step)) = due_for_decision(
            curves,
            trial,
            self.n_startup_trials,
            self.n_warmup_steps,
            self.interval_steps,
        ) else {
            return false;
        };
        let points = finite_points(curve);
        if points.is_empty() {
            return true;
        }
        let horizon = curves.highest_completed_step();
        let Some(horizon) = horizon.filter(|&h| h > step) else {
            return false;
        };
        let completed = self.completed_finals(curves);
        let finals: Vec<f64> = completed.iter().map(|r| r.value).collect();
        let Some(threshold) = nan_percentile(&finals, self.percentile) else {
            return false;
        };
        if self.tangent == Some(true)
            && self.kept_by_tangent(&completed, &points, horizon as f64, step, threshold)
        {
            return false;
        }
        let too_high = |f: f64| f > threshold && f - self.overshoot(&completed, step) > threshold;
        if forecast(&points, horizon as f64, self.z).is_some_and(too_high) {
            return true;
        }
        self.analog_bound(&completed, curve, step, threshold)
            .is_some()
    }

    /// The analogies' lower bound of `curve`'s final value at `step` (see [`super::analog`])
    /// when it is above `threshold` and the analogies forecast the completed trials from that
    /// step with less than [`ANALOGY_ADVANTAGE`] times the plateau model's mean error.
    fn analog_bound(
        &self,
        references: &[Reference<'_>],
        curve: &TrialCurve,
        step: i64,
        threshold: f64,
    ) -> Option<f64> {
        if !self.analogies {
            return None;
        }
        let bound = {
            let mut cache = self.analogs.lock().ok()?;
            lower_bound(
                curve,
                step,
                references,
                threshold,
                ANALOGY_ACCURACY,
                &mut cache,
            )
        };
        let bound = bound.filter(|b| b.value > threshold)?;
        let errors: Vec<f64> = self
            .prefixes(references, step)
            .map(|p| p.error.unwrap_or(f64::INFINITY))
            .collect();
        let plateau_error = errors.iter().sum::<f64>() / errors.len().max(1) as f64;
        (bound.mean_error < ANALOGY_ADVANTAGE * plateau_error).then_some(bound.value)
    }

    /// The completed trials, each with its number, curve and fitted final value (fitted once
    /// per trial).
    fn completed_finals<'c>(&self, curves: &'c Curves) -> Vec<Reference<'c>> {
        let Ok(mut cache) = self.fitted.lock() else {
            return Vec::new();
        };
        let mut finals = Vec::new();
        for (n, c) in curves.iter() {
            if c.state != CurveState::Complete {
                continue;
            }
            let Some((last_step, last)) = c.last() else {
                continue;
            };
            let fresh = cache
                .get(&n)
                .is_some_and(|f| f.len == c.values.len() && f.last == last.to_bits());
            if !fresh {
                let value = match last.is_finite() {
                    true => final_value(&finite_points(c), last_step as f64).unwrap_or(last),
                    false => last,
                };
                let f = Fitted {
                    len: c.values.len(),
                    last: last.to_bits(),
                    value,
                    prefixes: HashMap::new(),
                };
                cache.insert(n, f);
            }
            finals.extend(cache.get(&n).map(|f| Reference {
                number: n,
                curve: c,
                value: f.value,
            }));
        }
        finals
    }

    /// Trial `trial`'s point forecast at the horizon, if the forecasts made at its last step
    /// came within `forecast_tolerance` of the spread of the completed final values on every
    /// completed trial (at least `n_startup_trials` of them, each with 4 finite values up to
    /// that step) and the forecast is not below the pruning threshold. Failing that, with
    /// analogies on, its analog forecast if the analogies proved accurate at that step
    /// ([`ANALOGY_ACCURACY`]), even below the threshold: they are then the better forecaster,
    /// and a trial the plateau model stopped as its curve turned up (overfitting) may well come
    /// back down to a good final value, which the sampler should learn.
    fn trusted_forecast(&self, curves: &Curves, trial: usize) -> Option<f64> {
        if self.forecast_tolerance <= 0.0 {
            return None;
        }
        let curve = curves.get(trial)?;
        let step = curve.last_step()?;
        let horizon = curves.highest_completed_step()? as f64;
        // (the trials with a non-finite final value are left out of every check below; they
        // stay in `completed` so the analogies' calibration is the one decisions use)
        let completed = self.completed_finals(curves);
        let finals = sorted_finals(&completed);
        if finals.len() < self.n_startup_trials.max(1) {
            return None;
        }
        let threshold = nan_percentile(&finals, self.percentile)?;
        let tolerance = self.forecast_tolerance * spread(&finals);
        let plateau_accurate = self
            .prefixes(&completed, step)
            .all(|p| p.error.is_some_and(|e| e <= tolerance));
        if plateau_accurate {
            let own = forecast(&finite_points(curve), horizon, 0.0)?;
            return (own >= threshold).then_some(own);
        }
        if !self.analogies {
            return None;
        }
        let mut cache = self.analogs.lock().ok()?;
        accurate_forecast(curve, step, &completed, ANALOGY_ACCURACY, &mut cache)
    }

    /// Whether the tangent check keeps the trial whose finite values are `points` at `step`:
    /// the line through its last two values ends at or below `threshold` at `horizon`, and no
    /// completed trial of about the same steepness vouches for the plateau model there.
    fn kept_by_tangent(
        &self,
        completed: &[Reference<'_>],
        points: &[(f64, f64)],
        horizon: f64,
        step: i64,
        threshold: f64,
    ) -> bool {
        let (Some(reach), Some(&(_, last))) = (tangent_reach(points, horizon), points.last())
        else {
            return false;
        };
        if last - reach > threshold {
            return false;
        }
        // the overshoots of the completed trials about as steep (most decisions have none, and
        // then need no final values sorted for the precision)
        let mut overshoots = self
            .prefixes(completed, step)
            .filter(|p| {
                p.reach
                    .is_some_and(|r| r >= reach && r <= TANGENT_COVER * reach)
            })
            .filter_map(|p| p.overshoot)
            .peekable();
        if overshoots.peek().is_none() {
            return true;
        }
        let precision = FIT_PRECISION * spread(&sorted_finals(completed));
        !overshoots.any(|o| o <= precision)
    }

    /// The largest amount by which the lowered forecast from a completed trial's values up to
    /// `step` came out above its final value (0 when none did).
    fn overshoot(&self, completed: &[Reference<'_>], step: i64) -> f64 {
        self.prefixes(completed, step)
            .filter_map(|p| p.overshoot)
            .fold(0.0, f64::max)
    }

    /// The forecasts from the values up to `step` of each completed trial with a finite final
    /// value, in `completed`'s order.
    fn prefixes<'a>(
        &'a self,
        completed: &'a [Reference<'_>],
        step: i64,
    ) -> impl Iterator<Item = Prefix> + 'a {
        completed
            .iter()
            .filter(|r| r.value.is_finite())
            .map(move |r| self.prefix_at(r.number, r.curve, r.value, step))
    }

    /// Completed trial `n`'s forecasts from its values up to `step` (its [`reference_step`])
    /// against its fitted final value `fitted`, computed once per (trial, reference step).
    fn prefix_at(&self, n: usize, c: &TrialCurve, fitted: f64, step: i64) -> Prefix {
        let step = reference_step(step);
        let known = |cache: &HashMap<usize, Fitted>| {
            cache.get(&n).and_then(|f| f.prefixes.get(&step).copied())
        };
        if let Some(p) = self.fitted.lock().ok().and_then(|cache| known(&cache)) {
            return p;
        }
        let before: Vec<(f64, f64)> = finite_points(c)
            .into_iter()
            .filter(|p| p.0 <= step as f64)
            .collect();
        let at = |z: f64| {
            c.last_step()
                .and_then(|last| forecast(&before, last as f64, z))
        };
        let prefix = Prefix {
            error: at(0.0).map(|f| (fitted - f).abs()),
            overshoot: at(self.z).map(|f| f - fitted),
            reach: c
                .last_step()
                .filter(|_| before.windows(2).all(|w| w[1].1 < w[0].1))
                .and_then(|last| tangent_reach(&before, last as f64)),
        };
        if let Some(f) = self
            .fitted
            .lock()
            .ok()
            .as_mut()
            .and_then(|cache| cache.get_mut(&n))
        {
            f.prefixes.insert(step, prefix);
        }
        prefix
    }
}

impl Pruner for Extrapolate {
    fn name(&self) -> &'static str {
        "extrapolate"
    }

    fn prune(&self, curves: &mut Curves, trial: usize) -> bool {
        self.decide(curves, trial)
    }

    fn fit_sampler(&mut self, learns_from_stopped: bool) {
        self.tangent.get_or_insert(!learns_from_stopped);
    }

    fn forecast(&self, curves: &Curves, trial: usize) -> Option<f64> {
        self.trusted_forecast(curves, trial)
    }
}

/// One least-squares line `y = c + b x` (in the plateau model `x = exp(-(t - t0) / tau)`): its
/// residual sum of squares and its prediction at the horizon.
struct Fit {
    sse: f64,
    at_horizon: f64,
    /// `1/n + (x_h - mean x)^2 / Sxx`: the prediction's variance over the residual variance.
    leverage: f64,
}

/// The plateau model's line at time constant `tau`, predicting at `horizon`.
fn fit(points: &[(f64, f64)], horizon: f64, tau: f64) -> Option<Fit> {
    let t0 = points[0].0;
    let x = |t: f64| (-(t - t0) / tau).exp();
    let xs: Vec<f64> = points.iter().map(|p| x(p.0)).collect();
    least_squares(&xs, points, x(horizon))
}

/// The least-squares line of the points' values on `xs` (one per point), predicting at `x_at`.
/// None when the `xs` do not vary.
fn least_squares(xs: &[f64], points: &[(f64, f64)], x_at: f64) -> Option<Fit> {
    let n = points.len() as f64;
    let mean_x = xs.iter().sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (&xi, &(_, y)) in xs.iter().zip(points) {
        let (dx, dy) = (xi - mean_x, y - mean_y);
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if sxx.is_nan() || sxx <= 1e-300 {
        return None;
    }
    let b = sxy / sxx;
    Some(Fit {
        sse: (syy - b * sxy).max(0.0),
        at_horizon: mean_y + b * (x_at - mean_x),
        leverage: 1.0 / n + (x_at - mean_x).powi(2) / sxx,
    })
}

/// A completed curve's final value at its last step `last`: the plateau fit's value there
/// (which averages the noise out of the last values), unless the fit misses the curve's end, as
/// it does for a curve that falls and then rises: then a straight line through the last eighth
/// of the points (at least 5), at `last`. The fit misses when it is further from the line's
/// value than 3 of the line's standard errors plus [`MISFIT`] of the curve's range.
fn final_value(points: &[(f64, f64)], last: f64) -> Option<f64> {
    let fitted = forecast(points, last, 0.0)?;
    let w = (points.len() / 8).max(5).min(points.len());
    let Some((line, se)) = line_at(&points[points.len() - w..], last) else {
        return Some(fitted);
    };
    let (lo, hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.1), hi.max(p.1))
        });
    match (fitted - line).abs() <= 3.0 * se + MISFIT * (hi - lo) {
        true => Some(fitted),
        false => Some(line),
    }
}

/// The least-squares line through `points` at `t`, with its standard error there (None with
/// fewer than 3 points or all at one step).
fn line_at(points: &[(f64, f64)], t: f64) -> Option<(f64, f64)> {
    if points.len() < 3 {
        return None;
    }
    let steps: Vec<f64> = points.iter().map(|p| p.0).collect();
    let line = least_squares(&steps, points, t)?;
    let variance = line.sse / (points.len() as f64 - 2.0);
    Some((line.at_horizon, (variance * line.leverage).sqrt()))
}

/// How far below its last value the straight line through the last two of `points` (step,
/// value; sorted by step) is at `horizon`: 0 when the curve did not fall between them. None
/// with fewer than 2 points.
fn tangent_reach(points: &[(f64, f64)], horizon: f64) -> Option<f64> {
    let [(s0, v0), (s1, v1)] = points.get(points.len().checked_sub(2)?..)? else {
        return None;
    };
    let fall_per_step = ((v0 - v1) / (s1 - s0)).max(0.0);
    Some(fall_per_step * (horizon - s1).max(0.0))
}

/// The optimistic forecast at `horizon` of the curve `points` (step, value), sorted by step:
/// the lowest over the plausible `tau` of the fit's prediction minus `z` standard errors.
/// None with fewer than 4 points or when no fit is possible.
pub(crate) fn forecast(points: &[(f64, f64)], horizon: f64, z: f64) -> Option<f64> {
    if points.len() < 4 {
        return None;
    }
    let span = (horizon - points[0].0).max(1.0);
    let (lo, hi) = ((span / 1000.0).ln(), (span * 100.0).ln());
    const GRID: usize = 64;
    let mut fits: Vec<(f64, Fit)> = (0..GRID)
        .map(|i| (lo + (hi - lo) * i as f64 / (GRID - 1) as f64).exp())
        .filter_map(|tau| fit(points, horizon, tau).map(|f| (tau.ln(), f)))
        .collect();
    let best = fits
        .iter()
        .enumerate()
        .min_by(|a, b| a.1 .1.sse.total_cmp(&b.1 .1.sse))?
        .0;
    // Refine the best tau between its grid neighbours (golden section in log tau).
    let step = (hi - lo) / (GRID - 1) as f64;
    let (mut a, mut b) = (fits[best].0 - step, fits[best].0 + step);
    let g = 0.618_033_988_749_895;
    let sse_at = |l: f64| fit(points, horizon, l.exp()).map_or(f64::INFINITY, |f| f.sse);
    // each step keeps one inner point and its fit for the next (c and d, with their SSE)
    let (mut c, mut d) = (b - g * (b - a), a + g * (b - a));
    let (mut fc, mut fd) = (sse_at(c), sse_at(d));
    for _ in 0..24 {
        if fc < fd {
            (b, d, fd) = (d, c, fc);
            c = b - g * (b - a);
            fc = sse_at(c);
        } else {
            (a, c, fc) = (c, d, fd);
            d = a + g * (b - a);
            fd = sse_at(d);
        }
    }
    let refined = (a + b) / 2.0;
    if let Some(f) = fit(points, horizon, refined.exp()) {
        fits.push((refined, f));
    }
    let sse_min = fits.iter().map(|f| f.1.sse).fold(f64::INFINITY, f64::min);
    let variance = sse_min / (points.len() - 3) as f64;
    let limit = sse_min + z * z * variance;
    fits.iter()
        .filter(|(_, f)| f.sse <= limit)
        .map(|(_, f)| f.at_horizon - z * (variance * f.leverage).sqrt())
        .reduce(f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp_curve(a: f64, tau: f64, steps: std::ops::RangeInclusive<i64>) -> Vec<(f64, f64)> {
        steps.map(|t| (t as f64, exp_value(a, tau, t))).collect()
    }

    /// An exponential approach to `a` with time constant `tau`, at `a` on step 81.
    fn exp_value(a: f64, tau: f64, t: i64) -> f64 {
        a + (-(t as f64) / tau).exp() - (-81.0 / tau).exp()
    }

    #[test]
    fn an_exact_exponential_is_forecast_to_its_final_value() {
        for (a, tau) in [(0.0, 32.0), (0.3, 3.5), (0.1, 8.0)] {
            let f = forecast(&exp_curve(a, tau, 1..=12), 81.0, 2.0).unwrap();
            assert!((f - a).abs() < 1e-3, "a {a} tau {tau}: forecast {f}");
        }
    }

    #[test]
    fn noise_makes_the_forecast_optimistic_and_a_line_bounds_it() {
        // A straight line falling 0.01 per step: no forecast below its extension.
        let line: Vec<(f64, f64)> = (1..=10)
            .map(|t| (t as f64, 1.0 - 0.01 * t as f64))
            .collect();
        let f = forecast(&line, 81.0, 2.0).unwrap();
        assert!((1.0 - 0.81 - 1e-6..0.9).contains(&f), "{f}");
        // A flat curve with alternating noise: the forecast is below its mean.
        let flat: Vec<(f64, f64)> = (1..=20)
            .map(|t| (t as f64, 0.5 + if t % 2 == 0 { 0.05 } else { -0.05 }))
            .collect();
        let f = forecast(&flat, 81.0, 2.0).unwrap();
        assert!(f < 0.48, "{f}");
        assert!(forecast(&flat[..3], 81.0, 2.0).is_none());
    }

    fn study(finals: &[f64]) -> Curves {
        completed(finals.len(), |i, t| exp_value(finals[i], 4.0, t))
    }

    /// `n` completed trials of 81 steps, trial `i`'s value at step `t` being `value(i, t)`.
    fn completed(n: usize, value: impl Fn(usize, i64) -> f64) -> Curves {
        let mut c = Curves::new();
        for i in 0..n {
            for t in 1..=81 {
                c.report(i, t, value(i, t));
            }
            c.finish(i, CurveState::Complete);
        }
        c
    }

    /// The default pruner without its forecasts by analogy.
    fn without_analogies() -> Extrapolate {
        Extrapolate {
            analogies: false,
            ..Extrapolate::default()
        }
    }

    #[test]
    fn a_slow_starter_ending_best_is_kept_and_a_plateau_above_the_threshold_stopped() {
        let p = Extrapolate::default();
        let mut c = study(&[0.2, 0.25, 0.3, 0.35, 0.4]);
        // Slow starter: looks worst at step 10 (about 0.76) but ends at 0.05.
        for (t, v) in exp_curve(0.05, 32.0, 1..=10) {
            c.report(5, t as i64, v);
        }
        assert!(c.get(5).unwrap().best() > 0.4);
        assert!(!p.decide(&c, 5));
        // Fast starter flat at 0.5 from step 6.
        for (t, v) in exp_curve(0.5, 2.0, 1..=10) {
            c.report(6, t as i64, v);
        }
        assert!(p.decide(&c, 6));
        // Fewer completed trials than the start-up: no decision.
        let mut few = study(&[0.2, 0.25]);
        for (t, v) in exp_curve(0.5, 2.0, 1..=10) {
            few.report(2, t as i64, v);
        }
        assert!(!p.decide(&few, 2));
        // Every value NaN: pruned.
        for t in 1..=5 {
            c.report(7, t, f64::NAN);
        }
        assert!(p.decide(&c, 7));
    }

    #[test]
    fn a_stopped_trial_carries_its_forecast_only_when_forecasts_proved_accurate() {
        let p = Extrapolate::default();
        // exact exponentials: the completed trials' forecasts from step 10 are exact
        let mut c = study(&[0.2, 0.25, 0.3, 0.35, 0.4]);
        for (t, v) in exp_curve(0.5, 2.0, 1..=10) {
            c.report(5, t as i64, v);
        }
        assert!(p.decide(&c, 5));
        let f = p.forecast(&c, 5).expect("a trusted forecast");
        assert!((f - 0.5).abs() < 1e-3, "{f}");
        // not with the tolerance at 0
        let off = Extrapolate {
            forecast_tolerance: 0.0,
            ..Extrapolate::default()
        };
        assert_eq!(off.forecast(&c, 5), None);
        // nor for a trial forecast below the threshold (the pruner would keep it)
        for (t, v) in exp_curve(0.05, 32.0, 1..=10) {
            c.report(6, t as i64, v);
        }
        assert_eq!(p.forecast(&c, 6), None);
        // nor when one completed trial's curve was noisy: its forecast from step 10 missed
        let mut noisy = study(&[0.2, 0.25, 0.3, 0.35]);
        for (t, v) in exp_curve(0.4, 4.0, 1..=81) {
            noisy.report(4, t as i64, v + 0.05 * (2.3 * t).sin());
        }
        noisy.finish(4, CurveState::Complete);
        for (t, v) in exp_curve(0.5, 2.0, 1..=10) {
            noisy.report(5, t as i64, v);
        }
        assert!(p.decide(&noisy, 5));
        assert_eq!(without_analogies().forecast(&noisy, 5), None);
        // (with analogies, which forecast 4 of the 5 completed trials exactly from each other,
        // the trial gets their forecast instead: see the next test)
        assert!(p.forecast(&noisy, 5).is_some());
    }

    /// A loss that falls with time constant `tau` to `a - dip` and rises back to `a` at step
    /// 81 (the benchmark's `curves_crossing` shape).
    fn fall_then_rise(a: f64, tau: f64, dip: f64, t: i64) -> f64 {
        let s = t as f64 / 81.0;
        a + (-(t as f64) / tau).exp() - (-81.0 / tau).exp() - dip * (1.0 - s * s)
    }

    #[test]
    fn a_curve_that_rose_again_ends_where_it_ended_not_where_the_plateau_fit_puts_it() {
        let points: Vec<(f64, f64)> = (1..=81)
            .map(|t| (t as f64, fall_then_rise(0.1, 7.0, 0.4, t)))
            .collect();
        let plateau = forecast(&points, 81.0, 0.0).unwrap();
        assert!(plateau < -0.1, "the plateau fit misses the end: {plateau}");
        let end = final_value(&points, 81.0).unwrap();
        assert!((end - 0.1).abs() < 0.002, "{end}");
        // a curve the fit matches keeps the fit's value
        let exact = exp_curve(0.3, 8.0, 1..=81);
        assert_eq!(final_value(&exact, 81.0), forecast(&exact, 81.0, 0.0));
    }

    /// A loss with a fast first descent and a slow second one: flat-looking after 4 steps, it
    /// still falls by 0.027 to its last step.
    fn two_speed(a: f64, t: i64) -> f64 {
        a + 0.5 * (-(t as f64) / 1.2).exp() + 0.03 * (-(t as f64) / 40.0).exp()
    }

    #[test]
    fn a_second_slower_descent_on_the_completed_trials_keeps_a_trial_the_model_would_stop() {
        let p = without_analogies();
        // the 5 start-up trials completed, ending at 0.104, 0.124, ... (fitted finals a little
        // higher: the plateau fit of the whole curve)
        let mut c = completed(5, |i, t| two_speed(0.1 + 0.02 * i as f64, t));
        let completed = p.completed_finals(&c);
        let finals: Vec<f64> = completed.iter().map(|r| r.value).collect();
        let threshold = nan_percentile(&finals, p.percentile).unwrap();
        assert!(threshold > 0.104 && threshold < 0.115, "{threshold}");
        // at step 4 the model forecast each completed curve about 0.015 above its final value
        let overshoot = p.overshoot(&completed, 4);
        assert!(overshoot > 0.01 && overshoot < 0.03, "{overshoot}");
        // a trial ending at 0.099, below every completed one: the model alone forecasts it
        // above the threshold (it would be stopped), the overshoot keeps it
        for t in 1..=4 {
            c.report(5, t, two_speed(0.095, t));
        }
        let points = finite_points(c.get(5).unwrap());
        let alone = forecast(&points, 81.0, p.z).unwrap();
        assert!(alone > threshold, "{alone} vs {threshold}");
        assert!(!p.decide(&c, 5), "kept");
        // a trial ending at 0.204, 0.1 above the threshold: still stopped at step 4
        for t in 1..=4 {
            c.report(6, t, two_speed(0.2, t));
        }
        assert!(p.decide(&c, 6), "stopped");
    }

    /// Completed trials with fall-then-rise curves of dips 0.38..0.42 (time constant 7) and
    /// finals `0.10, 0.12, ...`.
    fn crossing_study(n: usize) -> Curves {
        completed(n, |i, t| {
            let (a, dip) = (0.1 + 0.02 * i as f64, 0.38 + 0.04 * (i % 5) as f64 / 4.0);
            fall_then_rise(a, 7.0, dip, t)
        })
    }

    #[test]
    fn analogies_stop_a_curve_whose_rise_the_completed_trials_showed() {
        let with = Extrapolate::default();
        let without = without_analogies();
        let mut c = crossing_study(20);
        // ends at 0.3, well above the threshold (about 0.1), yet still falling at step 12
        for t in 1..=12 {
            c.report(20, t, fall_then_rise(0.3, 7.0, 0.4, t));
        }
        assert!(!without.decide(&c, 20), "the plateau model keeps it");
        assert!(with.decide(&c, 20), "the analogies stop it");
        // ending with the best: kept
        for t in 1..=12 {
            c.report(21, t, fall_then_rise(0.1, 7.0, 0.4, t));
        }
        assert!(!with.decide(&c, 21));
        // a shape no completed trial had (a slow starter ending best): the analogies stay out
        for t in 1..=12 {
            c.report(22, t, fall_then_rise(0.05, 30.0, 0.0, t));
        }
        assert!(!with.decide(&c, 22));
    }

    #[test]
    fn a_trial_stopped_where_the_analogies_proved_accurate_carries_their_forecast() {
        let p = Extrapolate::default();
        let mut c = crossing_study(20);
        for t in 1..=12 {
            c.report(20, t, fall_then_rise(0.3, 7.0, 0.4, t));
        }
        assert!(p.decide(&c, 20));
        // the plateau model's forecasts of the completed trials from step 12 missed their rise
        // back; the analogies' did not: the sampler gets the analog forecast, near the truth
        let f = p.forecast(&c, 20).expect("the analogies' forecast");
        assert!((f - 0.3).abs() < 0.01, "{f}");
        // not without analogies, nor with the tolerance at 0
        assert_eq!(without_analogies().forecast(&c, 20), None);
        let off = Extrapolate {
            forecast_tolerance: 0.0,
            ..Extrapolate::default()
        };
        assert_eq!(off.forecast(&c, 20), None);
        // nor where the completed trials were not forecast from each other within a tenth of
        // the spread of their final values (about 0.02): the same curves shifted by 0.08 up or
        // down from step 41 on, so curves alike up to step 12 end 0.16 apart
        let mut scattered = crossing_study(20);
        for (n, curve) in scattered.iter_mut() {
            for (_, v) in curve.values.range_mut(41..) {
                *v += if n % 2 == 0 { 0.08 } else { -0.08 };
            }
        }
        for t in 1..=12 {
            scattered.report(20, t, fall_then_rise(0.3, 7.0, 0.4, t));
        }
        // (a pruner of its own: a pruner serves one study and caches what it calibrated)
        assert_eq!(Extrapolate::default().forecast(&scattered, 20), None);
    }

    #[test]
    fn analogies_change_no_decision_where_the_plateau_model_fits() {
        let with = Extrapolate::default();
        let without = without_analogies();
        let mut c = study(&[
            0.2, 0.25, 0.3, 0.35, 0.4, 0.22, 0.27, 0.31, 0.33, 0.38, 0.21, 0.5,
        ]);
        for (n, (a, tau)) in [
            (0.5, 4.0),
            (0.3, 4.0),
            (0.21, 4.0),
            (0.6, 12.0),
            (0.1, 30.0),
        ]
        .into_iter()
        .enumerate()
        {
            let trial = 100 + n;
            for (t, v) in exp_curve(a, tau, 1..=40) {
                c.report(trial, t as i64, v);
                assert_eq!(
                    with.decide(&c, trial),
                    without.decide(&c, trial),
                    "{a} {tau} {t}"
                );
            }
        }
    }

    #[test]
    fn long_curves_are_checked_against_the_completed_trials_at_fewer_steps() {
        for (step, at) in [
            (4, 4),
            (127, 127),
            (128, 128),
            (129, 128),
            (191, 190),
            (255, 254),
        ] {
            assert_eq!(reference_step(step), at, "step {step}");
        }
        assert_eq!((reference_step(259), reference_step(10_000)), (256, 9984));
        let mut distinct = std::collections::BTreeSet::new();
        for step in 1..=10_000 {
            let at = reference_step(step);
            assert!(at <= step && (step - at) * 64 <= step, "step {step}: {at}");
            distinct.insert(at);
        }
        assert_eq!(distinct.len(), 526);
    }

    #[test]
    fn the_tangent_reach_is_the_last_fall_per_step_extended_to_the_horizon() {
        let points = [(1.0, 0.9), (2.0, 0.7), (4.0, 0.6)];
        // 0.1 over 2 steps: 0.05 per step, 76 steps to go
        let r = tangent_reach(&points, 80.0).unwrap();
        assert!((r - 3.8).abs() < 1e-12, "{r}");
        // rising or flat: no reach; at or past the horizon: none either
        assert_eq!(tangent_reach(&[(1.0, 0.5), (2.0, 0.6)], 80.0), Some(0.0));
        assert_eq!(tangent_reach(&[(1.0, 0.5), (2.0, 0.5)], 80.0), Some(0.0));
        assert_eq!(tangent_reach(&points, 4.0), Some(0.0));
        assert_eq!(tangent_reach(&points[..1], 80.0), None);
    }

    /// An SGD-like slow learner: a fast first descent that looks like a plateau near 0.39
    /// after 4 steps, and a slow one under it that takes the curve to 0.103 at step 81.
    fn slow_learner(t: i64) -> f64 {
        0.05 + 0.6 * (-(t as f64) / 1.5).exp() + 0.4 * (-(t as f64) / 40.0).exp()
    }

    #[test]
    fn the_tangent_check_keeps_a_slow_learner_only_fast_learners_completed() {
        // the completed trials: fast learners, flat from step 4, ending at 0.3 .. 0.5
        let mut c = completed(5, |i, t| exp_value(0.3 + 0.05 * i as f64, 1.0, t));
        for t in 1..=4 {
            c.report(5, t, slow_learner(t));
        }
        let off = Extrapolate {
            tangent: Some(false),
            ..Extrapolate::default()
        };
        let on = Extrapolate {
            tangent: Some(true),
            ..Extrapolate::default()
        };
        // the plateau model stops it at step 4, though it would end best by far
        assert!(slow_learner(81) < 0.11);
        assert!(off.decide(&c, 5));
        // the line through its last two values (0.049 per step) reaches far below 0.3
        assert!(!on.decide(&c, 5));
        // still kept at step 20 (0.015 per step), stopped once that line ends above the
        // threshold: a fast learner flat at 0.6 is stopped at step 4 with the check on too
        for t in 5..=20 {
            c.report(5, t, slow_learner(t));
        }
        assert!(!on.decide(&c, 5));
        for t in 1..=4 {
            c.report(6, t, exp_value(0.6, 1.0, t));
        }
        assert!(on.decide(&c, 6));
    }

    #[test]
    fn completed_trials_as_steep_as_the_trial_waive_the_tangent_check() {
        // exact exponentials (tau 4) ending at 0.2 .. 0.4: the plateau model's forecasts of
        // them are exact, and at step 6 they still fall 0.063 per step
        let mut c = study(&[0.2, 0.25, 0.3, 0.35, 0.4]);
        for (t, v) in exp_curve(0.5, 4.0, 1..=6) {
            c.report(5, t as i64, v);
        }
        let on = Extrapolate {
            tangent: Some(true),
            ..without_analogies()
        };
        // the same shape, ending at 0.5: the completed trials vouch for the model, stopped
        assert!(on.decide(&c, 5));
        // a trial falling 3 times as steeply has no completed trial as steep: kept
        for t in 1..=6 {
            c.report(6, t, 0.5 + 3.0 * (exp_value(0.0, 4.0, t)));
        }
        assert!(without_analogies().decide(&c, 6));
        assert!(!on.decide(&c, 6));
    }

    #[test]
    fn the_sampler_turns_the_tangent_check_on_unless_it_learns_from_stopped_trials() {
        let mut p = Extrapolate::default();
        assert_eq!(p.tangent, None);
        p.fit_sampler(false);
        assert_eq!(p.tangent, Some(true));
        let mut p = Extrapolate::default();
        p.fit_sampler(true);
        assert_eq!(p.tangent, Some(false));
        // a setting of its own stays
        let mut p = Extrapolate {
            tangent: Some(false),
            ..Extrapolate::default()
        };
        p.fit_sampler(false);
        assert_eq!(p.tangent, Some(false));
        use crate::algo::{Algorithm, Anneal, Random, Tpe};
        assert!(Tpe::default().learns_from_stopped_trials());
        assert!(!Random.learns_from_stopped_trials());
        assert!(!Anneal::default().learns_from_stopped_trials());
        let boxed: Box<dyn Algorithm> = Box::new(Tpe::default());
        assert!(boxed.learns_from_stopped_trials());
    }

    #[test]
    fn long_curves_are_averaged_over_bins_and_still_forecast() {
        let long = exp_curve(0.2, 2000.0, 1..=20_000);
        let thin = thinned(long.clone(), MAX_POINTS);
        assert_eq!(thin.len(), MAX_POINTS);
        assert!(thin.windows(2).all(|w| w[0].0 < w[1].0));
        // each bin's mean step and value; the first bin holds steps 1..=209
        let first: Vec<_> = long
            .iter()
            .filter(|p| p.0 < 1.0 + 19_999.0 / 96.0)
            .collect();
        let mean_t = first.iter().map(|p| p.0).sum::<f64>() / first.len() as f64;
        assert!((thin[0].0 - mean_t).abs() < 1e-9, "{} {mean_t}", thin[0].0);
        let short = exp_curve(0.2, 20.0, 1..=50);
        assert_eq!(thinned(short.clone(), MAX_POINTS), short);
        // a curve reported over 8000 of 20000 steps is forecast near its end value
        let f = forecast(&thinned(long[..8000].to_vec(), MAX_POINTS), 20_000.0, 0.0).unwrap();
        let end = 0.2 + (-(20_000.0f64) / 2000.0).exp() - (-81.0f64 / 2000.0).exp();
        assert!((f - end).abs() < 0.02, "forecast {f}, end {end}");
    }

    #[test]
    fn settings_out_of_range_say_which() {
        let e = Extrapolate {
            z: -1.0,
            ..Extrapolate::default()
        }
        .validated()
        .unwrap_err();
        assert_eq!(e.field, "z");
        let e = Extrapolate {
            percentile: 101.0,
            ..Extrapolate::default()
        }
        .validated()
        .unwrap_err();
        assert_eq!(e.field, "percentile");
    }
}
