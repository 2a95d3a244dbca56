//! Forecasts by analogy: a running trial's final value read off the completed trials whose
//! curves, up to the same step, had the same shape, with a margin learned from how far such
//! forecasts missed on the completed trials themselves.
//!
//! This is what catches curves a plateau model cannot extrapolate, such as losses that fall and
//! then rise (overfitting): the completed trials show the rise, so a running trial shaped like
//! them is forecast to rise too.
//!
//! A running trial rarely has the exact shape of a completed one: it usually lies between
//! several (a regularization strength between theirs, say). Its forecast therefore blends the
//! [`BLENDED`] closest completed curves, weighted so that their blended shape is as close as
//! possible to its own, which interpolates between neighbours where the nearest one alone
//! would be off by the whole gap between them.

use std::collections::HashMap;

use linfa_linalg::cholesky::SolveC;
use ndarray::Array2;

use super::{reference_step, TrialCurve};

/// Completed trials whose curve shape is compared.
const NEIGHBOURS: usize = 3;

/// Completed trials whose own forecast errors calibrate a forecast's margin.
const CALIBRATION: usize = 10;

/// Completed trials whose own forecast errors calibrate the margin where the analogies proved
/// accurate (see [`lower_bound`]): fewer, so the margin comes from trials matched about as
/// closely as the running one, and a shape fewer completed trials match as badly is bounded.
const CALIBRATION_ACCURATE: usize = 5;

/// Completed trials whose shapes are blended into a forecast (the closest ones).
const BLENDED: usize = 4;

/// The ridge term of the blend's weights, as a fraction of the blended shapes' mean squared
/// length (the mean of their Gram matrix's diagonal): it keeps the weights steady when two of
/// them have almost the same shape.
const RIDGE: f64 = 1e-2;

/// A blend giving a curve a weight beyond this (either sign) extrapolates too far from the
/// completed curves to be trusted; the nearest ones' lowest forecast is taken instead.
const MAX_WEIGHT: f64 = 3.0;

/// Above this many completed trials, a step's calibration forecasts only this many of them
/// (evenly spread by trial number, each from all the others) and is redone only once the
/// completed trials grew by a tenth: calibrating every completed trial against every other one
/// costs a number of comparisons that grows with the square of their count.
const CALIBRATED: usize = 100;

/// A completed trial as analogies read it: its curve and its final value.
pub(crate) struct Reference<'c> {
    pub number: usize,
    pub curve: &'c TrialCurve,
    pub value: f64,
}

/// An analog forecast (see [`analog`]) and how closely the [`NEIGHBOURS`]-th closest reference
/// matched.
#[derive(Clone, Copy, Debug)]
struct Analog {
    value: f64,
    distance: f64,
}

/// At most this many steps of a window are compared (evenly spaced, the last one kept), so a
/// comparison costs the same at step 100 and at step 100,000.
const MAX_WINDOW: usize = 48;

/// The window of a curve compared at `step`: its finite values from step `step / 2` to `step`,
/// thinned to at most [`MAX_WINDOW`].
fn window(curve: &TrialCurve, step: i64) -> Vec<(i64, f64)> {
    let all: Vec<(i64, f64)> = curve
        .values
        .range((step + 1) / 2..=step)
        .filter(|(_, v)| v.is_finite())
        .map(|(s, v)| (*s, *v))
        .collect();
    if all.len() <= MAX_WINDOW {
        return all;
    }
    let stride = all.len().div_ceil(MAX_WINDOW);
    let skip = (all.len() - 1) % stride;
    all.into_iter().skip(skip).step_by(stride).collect()
}

/// How a running curve's window compares with a completed curve at the same steps.
#[derive(Debug, PartialEq)]
struct Comparison {
    /// The mean difference over the last third of the shared steps.
    offset: f64,
    /// The differences around that offset, one per shared step.
    shape: Vec<f64>,
    /// The shape distance: the root mean square of those differences.
    distance: f64,
    /// Whether every step of the window was shared.
    whole: bool,
}

/// How `window` (a running curve's) compares with `reference`'s curve at the same steps. None
/// with fewer than 3 shared steps, or fewer than half the window's.
fn compare(window: &[(i64, f64)], reference: &TrialCurve) -> Option<Comparison> {
    let diffs: Vec<f64> = window
        .iter()
        .filter_map(|(s, v)| {
            reference
                .values
                .get(s)
                .filter(|r| r.is_finite())
                .map(|r| v - r)
        })
        .collect();
    if diffs.len() < 3 || diffs.len() * 2 < window.len() {
        return None;
    }
    let last = diffs.len().div_ceil(3);
    let offset = diffs[diffs.len() - last..].iter().sum::<f64>() / last as f64;
    let shape: Vec<f64> = diffs.iter().map(|d| d - offset).collect();
    Some(Comparison {
        offset,
        distance: (shape.iter().map(|d| d * d).sum::<f64>() / shape.len() as f64).sqrt(),
        shape,
        whole: diffs.len() == window.len(),
    })
}

/// A completed curve matched to a running one: how it compares, and the running curve's final
/// value it forecasts (its own final value shifted by the offset).
struct Match {
    forecast: f64,
    comparison: Comparison,
}

/// The analog forecast of `window` from `references` (skipping trial `skip`): the blend of the
/// [`BLENDED`] closest references' forecasts, or, when they cannot be blended, the lowest of the
/// [`NEIGHBOURS`] closest ones'. Its distance is the [`NEIGHBOURS`]-th closest match's.
fn analog(window: &[(i64, f64)], references: &[Reference<'_>], skip: usize) -> Option<Analog> {
    let mut matches: Vec<Match> = references
        .iter()
        .filter(|r| r.number != skip && r.value.is_finite())
        .filter_map(|r| {
            let comparison = compare(window, r.curve)?;
            Some(Match {
                forecast: r.value + comparison.offset,
                comparison,
            })
        })
        .collect();
    if matches.len() < NEIGHBOURS {
        return None;
    }
    matches.sort_by(|a, b| a.comparison.distance.total_cmp(&b.comparison.distance));
    let value = blend(&matches[..BLENDED.min(matches.len())]).unwrap_or_else(|| {
        matches[..NEIGHBOURS]
            .iter()
            .map(|m| m.forecast)
            .fold(f64::INFINITY, f64::min)
    });
    Some(Analog {
        value,
        distance: matches[NEIGHBOURS - 1].comparison.distance,
    })
}

/// The forecasts of `matches` weighted by [`blend_weights`] of their shapes. None unless every
/// match shares all the window's steps, or when a weight is beyond [`MAX_WEIGHT`].
fn blend(matches: &[Match]) -> Option<f64> {
    let shapes: Vec<&[f64]> = matches
        .iter()
        .map(|m| m.comparison.whole.then_some(&m.comparison.shape[..]))
        .collect::<Option<_>>()?;
    let weights = blend_weights(&shapes)?;
    if weights.iter().any(|w| w.abs() > MAX_WEIGHT) {
        return None;
    }
    Some(
        weights
            .iter()
            .zip(matches)
            .map(|(w, m)| w * m.forecast)
            .sum(),
    )
}

/// Weights summing to 1 that make the weighted sum of `shapes` (each a completed curve's
/// differences from the running one) as small as possible, so the blended curve's shape is the
/// running one's: `w` solves `(G + ridge I) w = 1` with `G` the shapes' Gram matrix (positive
/// definite with the ridge, so by Cholesky), then is scaled to sum to 1. Equal weights when
/// every shape is zero (all match exactly); None if the system cannot be solved.
fn blend_weights(shapes: &[&[f64]]) -> Option<Vec<f64>> {
    let k = shapes.len();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let mut gram = Array2::from_shape_fn((k, k), |(i, j)| dot(shapes[i], shapes[j]));
    let trace = gram.diag().sum();
    if trace == 0.0 {
        return Some(vec![1.0 / k as f64; k]);
    }
    gram.diag_mut()
        .mapv_inplace(|g| g + RIDGE * trace / k as f64);
    let w = gram.solvec(&Array2::ones((k, 1))).ok()?;
    let sum = w.sum();
    if !sum.is_finite() || sum.abs() < f64::MIN_POSITIVE {
        return None;
    }
    Some(w.iter().map(|x| x / sum).collect())
}

/// The completed trials' own analog forecasts at a step, each from the others.
#[derive(Debug)]
struct Calibration {
    /// (match distance, overshoot = forecast - final value), by increasing distance.
    by_distance: Vec<(f64, f64)>,
    /// The mean absolute overshoot.
    mean_error: f64,
    /// The median absolute overshoot.
    median_error: f64,
}

/// The finite final values of `references`, sorted.
pub(crate) fn sorted_finals(references: &[Reference<'_>]) -> Vec<f64> {
    let mut finals: Vec<f64> = references
        .iter()
        .map(|r| r.value)
        .filter(|v| v.is_finite())
        .collect();
    finals.sort_by(f64::total_cmp);
    finals
}

/// The spread of the completed trials' final values `finals` (sorted, finite): from the best
/// to the median.
pub(crate) fn spread(finals: &[f64]) -> f64 {
    match finals.first() {
        Some(best) => finals[finals.len() / 2] - best,
        None => f64::NAN,
    }
}

impl Calibration {
    /// Whether the analogies proved accurate: their forecasts of the completed trials
    /// `references` (each from the others) missed by a median of less than `accuracy` times the
    /// spread of those trials' final values.
    fn proved_accurate(&self, references: &[Reference<'_>], accuracy: f64) -> bool {
        self.median_error < accuracy * spread(&sorted_finals(references))
    }

    /// The completed trials' (distance, overshoot) whose own analog forecasts matched no
    /// better than `own` did, closest first.
    fn matched_no_better(&self, own: &Analog) -> &[(f64, f64)] {
        // distances equal but for rounding count as equal
        let as_close = own.distance - 1e-9 * (1.0 + own.value.abs());
        let first = self.by_distance.partition_point(|c| c.0 < as_close);
        &self.by_distance[first..]
    }
}

/// Cached calibrations, by step, for one set of completed trials (told apart by their count:
/// a completed trial's curve does not change; above [`CALIBRATED`] of them, kept until their
/// count grew by a tenth).
#[derive(Debug, Default)]
pub(crate) struct AnalogCache {
    /// How many completed trials the calibrations were made with.
    completed: usize,
    by_step: HashMap<i64, Calibration>,
}

impl AnalogCache {
    fn calibration(&mut self, references: &[Reference<'_>], step: i64) -> &Calibration {
        let n = references.len();
        let stale = if n <= CALIBRATED {
            n != self.completed
        } else {
            n.abs_diff(self.completed) * 10 > self.completed
        };
        if stale {
            self.by_step.clear();
            self.completed = n;
        }
        self.by_step.entry(step).or_insert_with(|| {
            let mut by_distance: Vec<(f64, f64)> = references
                .iter()
                .step_by(n.div_ceil(CALIBRATED).max(1))
                .filter(|r| r.value.is_finite())
                .filter_map(|r| {
                    let a = analog(&window(r.curve, step), references, r.number)?;
                    Some((a.distance, a.value - r.value))
                })
                .collect();
            let mut errors: Vec<f64> = by_distance.iter().map(|c| c.1.abs()).collect();
            let mean_error = errors.iter().sum::<f64>() / errors.len() as f64;
            errors.sort_by(f64::total_cmp);
            let median_error = errors.get(errors.len() / 2).copied().unwrap_or(f64::NAN);
            by_distance.sort_by(|a, b| a.0.total_cmp(&b.0));
            Calibration {
                by_distance,
                mean_error,
                median_error,
            }
        })
    }
}

/// The lowest final value the analogies make plausible for `curve` at `step`: its analog
/// forecast lowered by the largest overshoot of the [`CALIBRATION`] completed trials whose own
/// analog forecasts matched no better than it does (the closest such). Where the analogies
/// proved accurate at that step (the median miss of their forecasts of the completed trials is
/// less than `accuracy` times the spread of their final values, from the best to the median),
/// the closest [`CALIBRATION_ACCURATE`] of those trials are enough.
/// None when there are too few completed trials to match or to calibrate (a shape matched worse
/// than all but a few completed trials' is too unusual to be bounded), or when the forecast is
/// not above `threshold` (the margin is then not needed).
pub(crate) fn lower_bound(
    curve: &TrialCurve,
    step: i64,
    references: &[Reference<'_>],
    threshold: f64,
    accuracy: f64,
    cache: &mut AnalogCache,
) -> Option<Bound> {
    let own = analog(&window(curve, step), references, usize::MAX)?;
    if own.value <= threshold {
        return None;
    }
    let calibration = cache.calibration(references, reference_step(step));
    let calibrating = match calibration.proved_accurate(references, accuracy) {
        true => CALIBRATION_ACCURATE,
        false => CALIBRATION,
    };
    let as_far = calibration.matched_no_better(&own).get(..calibrating)?;
    let margin = as_far.iter().map(|c| c.1).fold(0.0, f64::max);
    Some(Bound {
        value: own.value - margin,
        mean_error: calibration.mean_error,
    })
}

/// The analog forecast of `curve`'s final value at `step` when the analogies proved accurate
/// there (see [`lower_bound`]). None otherwise, or with too few completed trials to match.
pub(crate) fn accurate_forecast(
    curve: &TrialCurve,
    step: i64,
    references: &[Reference<'_>],
    accuracy: f64,
    cache: &mut AnalogCache,
) -> Option<f64> {
    let own = analog(&window(curve, step), references, usize::MAX)?;
    let calibration = cache.calibration(references, reference_step(step));
    calibration
        .proved_accurate(references, accuracy)
        .then_some(own.value)
}

/// An analog lower bound and the mean absolute error of the analog forecasts on the completed
/// trials at that step.
pub(crate) struct Bound {
    pub value: f64,
    pub mean_error: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(values: &[(i64, f64)]) -> TrialCurve {
        let mut c = TrialCurve::new();
        c.values.extend(values.iter().copied());
        c
    }

    #[test]
    fn the_window_is_the_second_half_of_the_steps_and_skips_nan() {
        let c = curve(&[
            (1, 9.0),
            (2, 8.0),
            (3, f64::NAN),
            (4, 6.0),
            (5, 5.0),
            (6, 4.0),
        ]);
        assert_eq!(window(&c, 6), vec![(4, 6.0), (5, 5.0), (6, 4.0)]);
        assert_eq!(window(&c, 5), vec![(4, 6.0), (5, 5.0)]);
        // nothing finite in the window: empty
        let nan = curve(&[(1, 1.0), (2, f64::NAN), (3, f64::NAN), (4, f64::NAN)]);
        assert!(window(&nan, 4).is_empty());
        // a long window is thinned evenly and keeps its last step
        let long = curve(&(1..=1000).map(|s| (s, s as f64)).collect::<Vec<_>>());
        let w = window(&long, 1000);
        assert!(
            w.len() <= MAX_WINDOW && w.len() > MAX_WINDOW / 2,
            "{}",
            w.len()
        );
        assert_eq!(w.last(), Some(&(1000, 1000.0)));
        assert!(w[0].0 >= 500 && w[0].0 < 500 + 11, "{:?}", w[0]);
        assert!(w.windows(2).all(|p| p[1].0 - p[0].0 == w[1].0 - w[0].0));
    }

    #[test]
    fn the_offset_comes_from_the_last_third_and_the_distance_from_the_rest() {
        let reference = curve(&[(1, 1.0), (2, 1.0), (3, 1.0), (4, 1.0), (5, 1.0), (6, 1.0)]);
        // the same shape 0.5 higher: offset 0.5, distance 0
        let same = [(4, 1.5), (5, 1.5), (6, 1.5)];
        let c = compare(&same, &reference).unwrap();
        assert_eq!((c.offset, c.distance, c.whole), (0.5, 0.0, true));
        // differences 0, 0, 0.3: the last third (one step) gives the offset 0.3, and the
        // distance is sqrt((0.09 + 0.09 + 0) / 3)
        let bent = [(4, 1.0), (5, 1.0), (6, 1.3)];
        let c = compare(&bent, &reference).unwrap();
        assert!((c.offset - 0.3).abs() < 1e-12);
        assert!((c.distance - (0.06f64).sqrt()).abs() < 1e-12, "{c:?}");
        // fewer than 3 shared steps, or under half the window: no comparison
        assert_eq!(compare(&[(5, 1.0), (6, 1.0)], &reference), None);
        let short = curve(&[(4, 1.0), (5, 1.0), (6, 1.0)]);
        let long: Vec<(i64, f64)> = (1..=8).map(|s| (s, 1.0)).collect();
        assert_eq!(compare(&long, &short), None);
        // 4 of a 5-step window shared: compared, but not whole
        let gappy = curve(&[(3, 1.0), (4, 1.0), (6, 1.0), (7, 1.0)]);
        let window: Vec<(i64, f64)> = (3..=7).map(|s| (s, 1.0)).collect();
        let c = compare(&window, &gappy).unwrap();
        assert_eq!((c.shape.len(), c.whole), (4, false));
    }

    #[test]
    fn a_curve_between_two_shapes_is_forecast_between_their_forecasts() {
        // completed curves (1 + b) / t + b over steps 1-20 for b = 0..=4, each ending at
        // (1 + b) / 20 + b; the running curve 1.5 / t (steps 1-10, window 5-10) has the shape of
        // b = 1/2, which no completed curve has: going on like it, it ends at 1.5 / 20
        let completed: Vec<TrialCurve> = (0..5)
            .map(|b| {
                let b = b as f64;
                curve(
                    &(1..=20)
                        .map(|t| (t, (1.0 + b) / t as f64 + b))
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        let refs = references(&completed);
        let running: Vec<(i64, f64)> = (5..=10).map(|t| (t, 1.5 / t as f64)).collect();
        let truth = 1.5 / 20.0;
        let a = analog(&running, &refs, usize::MAX).unwrap();
        assert!((a.value - truth).abs() < 0.001, "{} vs {truth}", a.value);
        // (the nearest three, b = 0, 1, 2, forecast their final values shifted by the offset
        // over steps 9-10: 0.103, 0.047 and -0.008, the lowest 0.083 below the truth)
    }

    #[test]
    fn blend_weights_rebuild_the_running_shape_and_sum_to_one() {
        // shapes (differences from the running curve) e1 = (1, -1) and e2 = (-1, 1): the
        // running curve is halfway, weights 1/2 each whatever the ridge
        let w = blend_weights(&[&[1.0, -1.0], &[-1.0, 1.0]]).unwrap();
        assert!(w.iter().all(|w| (w - 0.5).abs() < 1e-12), "{w:?}");
        // e1 = (1, 0), e2 = (3, 0): rebuilding zero needs w2 = -1/2, w1 = 3/2 (an
        // extrapolation); the ridge (1 % of the mean squared length, 0.05) pulls it slightly in
        let w = blend_weights(&[&[1.0, 0.0], &[3.0, 0.0]]).unwrap();
        assert!((w[0] + w[1] - 1.0).abs() < 1e-12);
        assert!(
            w[0] > 1.4 && w[0] < 1.5 && w[1] < -0.4 && w[1] > -0.5,
            "{w:?}"
        );
        // every shape zero (all match the running curve exactly): equal weights
        assert_eq!(
            blend_weights(&[&[0.0, 0.0], &[0.0, 0.0]]),
            Some(vec![0.5, 0.5])
        );
    }

    /// The curves as references, each with its last value as its final value.
    fn references(curves: &[TrialCurve]) -> Vec<Reference<'_>> {
        curves
            .iter()
            .enumerate()
            .map(|(i, c)| Reference {
                number: i,
                curve: c,
                value: c.last().map_or(f64::NAN, |l| l.1),
            })
            .collect()
    }

    #[test]
    fn the_bound_is_the_nearest_forecast_lowered_by_the_largest_comparable_miss() {
        // 10 completed curves 0.1 i + 1/t: trials 1-9 end 0.05 above that at step 20; trial 0
        // does not, and has a bump at steps 5-7, so it is never among another curve's nearest
        let completed: Vec<TrialCurve> = (0..10)
            .map(|i| {
                let a = 0.1 * i as f64;
                let bump = |t: i64| {
                    if i == 0 && (5..=7).contains(&t) {
                        0.01
                    } else {
                        0.0
                    }
                };
                let mut v: Vec<(i64, f64)> = (1..=20)
                    .map(|t| (t, a + 1.0 / t as f64 + bump(t)))
                    .collect();
                if i > 0 {
                    v[19].1 += 0.05;
                }
                curve(&v)
            })
            .collect();
        let refs = references(&completed);
        let mut cache = AnalogCache::default();
        // The running curve 2.0 + 1/t is forecast from three of trials 1-9 at 2.0 + 0.05 + 0.05.
        // Calibration at step 10: trials 1-9 forecast each other exactly; trial 0 is forecast
        // from three of them, 0.05 too high. Margin 0.05, mean miss 0.05 / 10.
        let running = curve(
            &(1..=10)
                .map(|t| (t, 2.0 + 1.0 / t as f64))
                .collect::<Vec<_>>(),
        );
        let bound = lower_bound(&running, 10, &refs, 0.0, 0.0, &mut cache).unwrap();
        assert!((bound.value - 2.05).abs() < 1e-9, "{}", bound.value);
        assert!(
            (bound.mean_error - 0.005).abs() < 1e-9,
            "{}",
            bound.mean_error
        );
        // Analogies accurate to within 0.01 of the spread (median miss 0): the margin comes from
        // the 5 trials matched most closely, which forecast each other exactly, so none; and the
        // point forecast is trusted only then.
        let bound = lower_bound(&running, 10, &refs, 0.0, 0.01, &mut cache).unwrap();
        assert!((bound.value - 2.1).abs() < 1e-9, "{}", bound.value);
        let trusted = accurate_forecast(&running, 10, &refs, 0.01, &mut cache).unwrap();
        assert!((trusted - 2.1).abs() < 1e-9, "{trusted}");
        assert_eq!(
            accurate_forecast(&running, 10, &refs, 0.0, &mut cache),
            None
        );
        // a forecast not above the threshold needs no bound
        assert!(lower_bound(&running, 10, &refs, 2.1, 0.0, &mut cache).is_none());
        // a shape no completed trial matches as badly (fewer than 10 to calibrate with): none
        let odd = curve(
            &(1..=10)
                .map(|t| (t, 2.0 + 2.0 / t as f64))
                .collect::<Vec<_>>(),
        );
        assert!(lower_bound(&odd, 10, &refs, 0.0, 0.0, &mut cache).is_none());
    }

    #[test]
    fn many_completed_trials_are_calibrated_on_a_sample_and_recalibrated_as_they_grow() {
        // 250 completed curves a + 1/t ending at a, and 4 more with the same shapes
        let completed: Vec<TrialCurve> = (0..254)
            .map(|i| {
                let a = 0.01 * (i % 250) as f64;
                curve(
                    &(1..=20)
                        .map(|t| (t, a + 1.0 / t as f64))
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        let refs = references(&completed);
        let mut cache = AnalogCache::default();
        // every third trial is calibrated (84 of 250), each from all the others
        assert_eq!(cache.calibration(&refs[..250], 10).by_distance.len(), 84);
        // a few more completed trials (less than a tenth): the calibration is kept
        cache.by_step.get_mut(&10).unwrap().mean_error = 7.0;
        assert_eq!(cache.calibration(&refs[..254], 10).mean_error, 7.0);
        // a tenth fewer or more: made again, and up to 100 trials calibrate every one
        assert_eq!(cache.calibration(&refs[..200], 10).by_distance.len(), 100);
        assert_eq!(cache.calibration(&refs[..100], 10).by_distance.len(), 100);
        assert_eq!(cache.calibration(&refs[..99], 10).by_distance.len(), 99);
    }
}
