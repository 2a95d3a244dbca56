//! The percentile pruner: stop a trial whose best value so far is worse than a percentile of
//! the finished trials' values at the same step.

use super::{due_for_decision, Curves, Pruner, PrunerError};

/// Stops a trial when its best (lowest) value so far is above the `percentile`-th percentile of
/// the values the completed trials reported at the trial's last step (Optuna's
/// `PercentilePruner`, for a minimized metric).
///
/// - No decision before `n_startup_trials` trials completed, before step `n_warmup_steps`, or
///   at a step that is not the first of its interval (`interval_steps`, counted from the
///   warm-up).
/// - Completed trials that did not report that exact step do not count; with fewer than
///   `n_min_trials` values there, no decision. NaN values among them are ignored in the
///   percentile (all NaN: no decision).
/// - A trial whose every value is NaN is pruned.
/// - The percentile interpolates linearly between the sorted values; a trial exactly at the
///   percentile (a tie) is kept.
#[derive(Clone, Debug, PartialEq)]
pub struct Percentile {
    /// The percentile, in 0..=100 (lower keeps fewer trials).
    pub percentile: f64,
    /// Completed trials needed before any pruning.
    pub n_startup_trials: usize,
    /// Steps before which a trial is never pruned.
    pub n_warmup_steps: i64,
    /// Pruning is checked once per this many steps after the warm-up.
    pub interval_steps: i64,
    /// Completed trials that must have reported the step for a decision there.
    pub n_min_trials: usize,
}

impl Percentile {
    /// A percentile pruner with Optuna's defaults: 5 start-up trials, no warm-up, every step,
    /// one trial at the step. Errors name the setting out of range.
    pub fn new(percentile: f64) -> Result<Self, PrunerError> {
        Percentile {
            percentile,
            n_startup_trials: 5,
            n_warmup_steps: 0,
            interval_steps: 1,
            n_min_trials: 1,
        }
        .validated()
    }

    /// Check every setting's range.
    pub fn validated(self) -> Result<Self, PrunerError> {
        PrunerError::percentile(self.percentile)?;
        PrunerError::at_least("n_warmup_steps", self.n_warmup_steps, 0)?;
        PrunerError::at_least("interval_steps", self.interval_steps, 1)?;
        PrunerError::at_least("n_min_trials", self.n_min_trials as i64, 1)?;
        Ok(self)
    }

    /// The decision, shared with the median pruner; the percentile it compared with is
    /// recorded in the trial's [`thresholds`](super::TrialCurve::thresholds) at its last step.
    pub(crate) fn decide(&self, curves: &mut Curves, trial: usize) -> bool {
        let (prune, threshold) = self.decide_with_threshold(curves, trial);
        if let Some((step, p)) = threshold {
            if let Some(c) = curves.get_mut(trial) {
                c.thresholds.insert(step, p);
            }
        }
        prune
    }

    /// The decision and the (step, percentile) it compared with, if it got that far.
    fn decide_with_threshold(&self, curves: &Curves, trial: usize) -> (bool, Option<(i64, f64)>) {
        let Some((curve, step)) = due_for_decision(
            curves,
            trial,
            self.n_startup_trials,
            self.n_warmup_steps,
            self.interval_steps,
        ) else {
            return (false, None);
        };
        let best = curve.best();
        if best.is_nan() {
            return (true, None);
        }
        let at_step: Vec<f64> = curves
            .completed()
            .filter_map(|c| c.values.get(&step).copied())
            .collect();
        if at_step.len() < self.n_min_trials {
            return (false, None);
        }
        match nan_percentile(&at_step, self.percentile) {
            Some(p) => (best > p, Some((step, p))),
            None => (false, None),
        }
    }
}

impl Pruner for Percentile {
    fn name(&self) -> &'static str {
        "percentile"
    }

    fn prune(&self, curves: &mut Curves, trial: usize) -> bool {
        self.decide(curves, trial)
    }
}

/// The `q`-th percentile (0..=100) of `values` ignoring NaN, interpolated linearly between the
/// sorted values (numpy's default); None if no value is a number.
pub(crate) fn nan_percentile(values: &[f64], q: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let pos = q / 100.0 * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    if lo == hi || v[lo] == v[hi] {
        return Some(v[lo]);
    }
    Some(v[lo] + (v[hi] - v[lo]) * frac)
}

#[cfg(test)]
mod tests {
    use super::super::CurveState;
    use super::*;

    fn done(c: &mut Curves, n: usize, pts: &[(i64, f64)]) {
        c.start(n);
        for &(s, v) in pts {
            c.report(n, s, v);
        }
        c.finish(n, CurveState::Complete);
    }

    fn p(q: f64) -> Percentile {
        Percentile {
            n_startup_trials: 0,
            ..Percentile::new(q).unwrap()
        }
    }

    #[test]
    fn percentile_interpolates_like_numpy() {
        assert_eq!(nan_percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), Some(2.5));
        assert_eq!(nan_percentile(&[4.0, 1.0, 3.0, 2.0], 25.0), Some(1.75));
        assert_eq!(nan_percentile(&[1.0, f64::NAN, 3.0], 50.0), Some(2.0));
        assert_eq!(nan_percentile(&[f64::NAN], 50.0), None);
        assert_eq!(nan_percentile(&[5.0], 90.0), Some(5.0));
    }

    #[test]
    fn prunes_above_the_percentile_at_the_step() {
        let mut c = Curves::new();
        done(&mut c, 0, &[(1, 1.0), (2, 0.5)]);
        done(&mut c, 1, &[(1, 2.0), (2, 1.0)]);
        done(&mut c, 2, &[(1, 3.0), (2, 1.5)]);
        done(&mut c, 3, &[(1, 4.0), (2, 2.0)]);
        // 25th percentile at step 1 of [1,2,3,4] = 1.75
        c.report(4, 1, 1.8);
        assert!(p(25.0).prune(&mut c, 4));
        // the percentile it was compared with is recorded at the step
        assert_eq!(c.get(4).unwrap().thresholds.get(&1), Some(&1.75));
        c.report(5, 1, 1.75); // a tie is kept
        assert!(!p(25.0).prune(&mut c, 5));
        c.report(6, 1, 1.7);
        assert!(!p(25.0).prune(&mut c, 6));
    }

    #[test]
    fn uses_the_best_value_so_far_and_the_highest_step_when_out_of_order() {
        let mut c = Curves::new();
        done(&mut c, 0, &[(1, 1.0), (2, 1.0)]);
        done(&mut c, 1, &[(1, 3.0), (2, 3.0)]);
        // median at step 2 = 2.0; reports out of order: step 2 first (2.5), then step 1 (1.5)
        c.report(2, 2, 2.5);
        assert!(p(50.0).prune(&mut c, 2));
        c.report(2, 1, 1.5);
        // last step is still 2; the best so far is now 1.5 < 2.0
        assert!(!p(50.0).prune(&mut c, 2));
    }

    #[test]
    fn missing_steps_and_min_trials() {
        let mut c = Curves::new();
        done(&mut c, 0, &[(1, 1.0)]);
        done(&mut c, 1, &[(1, 1.0), (3, 1.0)]);
        // step 3: only trial 1 reported it
        c.report(2, 3, 9.0);
        assert!(p(50.0).prune(&mut c, 2));
        let two = Percentile {
            n_min_trials: 2,
            ..p(50.0)
        };
        assert!(!two.prune(&mut c, 2));
        // step 2: nobody reported it
        c.report(3, 2, 9.0);
        assert!(!p(50.0).prune(&mut c, 3));
    }

    #[test]
    fn nan_values() {
        let mut c = Curves::new();
        done(&mut c, 0, &[(1, f64::NAN)]);
        c.report(1, 1, 5.0);
        // every reference value is NaN: no decision
        assert!(!p(50.0).prune(&mut c, 1));
        done(&mut c, 2, &[(1, 1.0)]);
        assert!(p(50.0).prune(&mut c, 1));
        // a trial whose values are all NaN is pruned
        c.report(3, 1, f64::NAN);
        assert!(p(50.0).prune(&mut c, 3));
    }

    #[test]
    fn startup_warmup_and_interval() {
        let mut c = Curves::new();
        done(
            &mut c,
            0,
            &[(0, 1.0), (1, 1.0), (2, 1.0), (3, 1.0), (4, 1.0), (5, 1.0)],
        );
        let q = Percentile {
            n_startup_trials: 2,
            ..p(50.0)
        };
        let mut c1 = c.clone();
        c1.report(1, 3, 9.0);
        assert!(
            !q.prune(&mut c1, 1),
            "one completed trial of two start-up ones"
        );
        let w = Percentile {
            n_warmup_steps: 2,
            interval_steps: 2,
            ..p(50.0)
        };
        let mut c2 = c.clone();
        c2.report(1, 1, 9.0);
        assert!(!w.prune(&mut c2, 1), "step 1 is in the warm-up");
        let mut c3 = c.clone();
        c3.report(1, 2, 9.0);
        assert!(w.prune(&mut c3, 1), "step 2 starts an interval");
        c3.report(1, 3, 9.0);
        assert!(
            !w.prune(&mut c3, 1),
            "step 3: step 2 was reported in the same interval"
        );
        c3.report(1, 5, 9.0);
        assert!(
            w.prune(&mut c3, 1),
            "step 5: the interval 4..6 had no report before"
        );
    }

    #[test]
    fn settings_out_of_range_name_the_field() {
        assert_eq!(Percentile::new(101.0).unwrap_err().field, "percentile");
        let e = Percentile {
            interval_steps: 0,
            ..p(50.0)
        }
        .validated()
        .unwrap_err();
        assert_eq!(e.field, "interval_steps");
    }
}
