//! The pruner, the metric it watches and every trial's curve, shared by the study's driver and
//! its trial threads.

use std::sync::{Mutex, MutexGuard};

use super::{CurveState, Curves, NoPruner, Pruner};

/// What [`PruneShared::report`] decided.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision {
    /// Stop the trial now.
    pub prune: bool,
    /// Rungs of successive halving the trial has reached so far.
    pub rungs: usize,
    /// The threshold the pruner compared the trial with at this report (see
    /// [`TrialCurve::thresholds`](super::TrialCurve::thresholds)), if it recorded one.
    pub threshold: Option<f64>,
}

/// A study's pruner, its watched metric and the curves (behind a mutex).
#[derive(Debug)]
pub struct PruneShared {
    pruner: Box<dyn Pruner>,
    metric: String,
    curves: Mutex<Curves>,
}

impl PruneShared {
    /// `pruner` watching `metric`.
    pub fn new(pruner: Box<dyn Pruner>, metric: impl Into<String>) -> Self {
        PruneShared {
            pruner,
            metric: metric.into(),
            curves: Mutex::new(Curves::new()),
        }
    }

    /// No pruner, watching `loss`.
    pub fn none() -> Self {
        PruneShared::new(Box::new(NoPruner), "loss")
    }

    /// The metric the pruner watches.
    pub fn metric(&self) -> &str {
        &self.metric
    }

    /// The pruner.
    pub fn pruner(&self) -> &dyn Pruner {
        self.pruner.as_ref()
    }

    fn lock(&self) -> MutexGuard<'_, Curves> {
        // a panic while holding the lock leaves the curves consistent (each change is one
        // insert), so a poisoned lock is still usable
        self.curves.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Add the curves of earlier trials (a resumed study's), keyed by their numbers.
    pub fn add_prior(&self, prior: &Curves) {
        let mut curves = self.lock();
        for (n, c) in prior.iter() {
            curves.insert(n, c.clone());
        }
    }

    /// Trial `n` started.
    pub fn start(&self, n: usize) {
        self.lock().start(n);
    }

    /// Trial `n` reported `value` at `step`: record it (a repeated step is ignored) and ask the
    /// pruner.
    pub fn report(&self, n: usize, step: i64, value: f64) -> Decision {
        let mut curves = self.lock();
        curves.report(n, step, value);
        let before = curves.get(n).map(|c| c.thresholds.clone());
        let prune = self.pruner.prune(&mut curves, n);
        let after = curves.get(n);
        // the threshold recorded (or changed) by this decision
        let threshold = after.and_then(|c| {
            c.thresholds
                .iter()
                .rev()
                .find(|(s, v)| before.as_ref().and_then(|b| b.get(s)) != Some(v))
                .map(|(_, v)| *v)
        });
        Decision {
            prune,
            rungs: after.map_or(0, |c| c.rungs.len()),
            threshold,
        }
    }

    /// Trial `n` finished in `state`; returns its last step and the value there.
    pub fn finish(&self, n: usize, state: CurveState) -> Option<(i64, f64)> {
        let mut curves = self.lock();
        curves.finish(n, state);
        curves.get(n).and_then(|c| c.last())
    }

    /// A copy of the curves.
    pub fn curves(&self) -> Curves {
        self.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::super::Median;
    use super::*;

    #[test]
    fn a_decision_carries_the_threshold_recorded_by_this_report() {
        let shared = PruneShared::new(Box::new(Median::new()), "val");
        for (n, v) in [(0, 1.0), (1, 2.0), (2, 3.0), (3, 4.0), (4, 5.0)] {
            shared.start(n);
            assert_eq!(shared.report(n, 1, v).threshold, None, "start-up trials");
            shared.finish(n, CurveState::Complete);
        }
        shared.start(5);
        let d = shared.report(5, 1, 3.5);
        // median of 1..5 at step 1 is 3; 3.5 is above it
        assert_eq!((d.prune, d.threshold), (true, Some(3.0)));
        // step 2: nobody completed it, so no decision and no threshold
        assert_eq!(shared.report(5, 2, 0.1).threshold, None);
    }
}
