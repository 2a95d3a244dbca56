//! The patient pruner: lets another pruner decide only once a trial stopped improving.

use super::{nan_min, Curves, Pruner, PrunerError};

/// Wraps another pruner (or none) and lets it decide only when the trial has not improved by
/// more than `min_delta` over its last `patience` steps (Optuna's `PatientPruner`): with the
/// reported steps sorted, the best (lowest) value of the steps before the last `patience + 1`
/// plus `min_delta` must be below the best of those last `patience + 1` steps. With no wrapped
/// pruner, that alone prunes. Fewer than `patience + 2` steps: no decision. NaN values are
/// ignored in the minimums (all NaN on one side: no decision).
#[derive(Debug)]
pub struct Patient {
    /// The pruner asked once the trial stalls (`None`: stalling alone prunes).
    pub wrapped: Option<Box<dyn Pruner>>,
    /// Steps without improvement tolerated.
    pub patience: usize,
    /// An improvement smaller than this does not count.
    pub min_delta: f64,
}

impl Patient {
    /// A patient pruner; `min_delta` must be a number >= 0.
    pub fn new(
        wrapped: Option<Box<dyn Pruner>>,
        patience: usize,
        min_delta: f64,
    ) -> Result<Self, PrunerError> {
        if min_delta.is_nan() || min_delta < 0.0 {
            return Err(PrunerError::new(
                "min_delta",
                min_delta,
                "expected a number >= 0",
            ));
        }
        Ok(Patient {
            wrapped,
            patience,
            min_delta,
        })
    }

    fn stalled(&self, curves: &Curves, trial: usize) -> bool {
        let Some(curve) = curves.get(trial) else {
            return false;
        };
        let n = curve.values.len();
        if n <= self.patience + 1 {
            return false;
        }
        // values in step order (the map is sorted by step)
        let values: Vec<f64> = curve.values.values().copied().collect();
        let split = n - self.patience - 1;
        let before = nan_min(values[..split].iter().copied());
        let after = nan_min(values[split..].iter().copied());
        before + self.min_delta < after
    }
}

impl Pruner for Patient {
    fn name(&self) -> &'static str {
        "patient"
    }

    fn prune(&self, curves: &mut Curves, trial: usize) -> bool {
        if !self.stalled(curves, trial) {
            return false;
        }
        match &self.wrapped {
            Some(p) => p.prune(curves, trial),
            None => true,
        }
    }

    fn sampler_brackets(&self) -> Option<super::Brackets> {
        self.wrapped.as_ref().and_then(|p| p.sampler_brackets())
    }

    fn forecast(&self, curves: &Curves, trial: usize) -> Option<f64> {
        self.wrapped
            .as_ref()
            .and_then(|p| p.forecast(curves, trial))
    }

    fn fit_sampler(&mut self, learns_from_stopped: bool) {
        if let Some(p) = &mut self.wrapped {
            p.fit_sampler(learns_from_stopped);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{CurveState, Median};
    use super::*;

    fn curve(pts: &[(i64, f64)]) -> Curves {
        let mut c = Curves::new();
        for &(s, v) in pts {
            c.report(0, s, v);
        }
        c
    }

    #[test]
    fn stalls_after_patience_steps() {
        let p = Patient::new(None, 2, 0.0).unwrap();
        // best before = 1.0 (step 0); best of the last 3 = 1.1: stalled
        assert!(p.prune(&mut curve(&[(0, 1.0), (1, 1.1), (2, 1.2), (3, 1.1)]), 0));
        // a tie (1.0 again) is not an improvement but not worse: kept (1.0 + 0 < 1.0 is false)
        assert!(!p.prune(&mut curve(&[(0, 1.0), (1, 1.1), (2, 1.0), (3, 1.1)]), 0));
        // too few steps
        assert!(!p.prune(&mut curve(&[(0, 1.0), (1, 2.0), (2, 3.0)]), 0));
    }

    #[test]
    fn min_delta_and_order() {
        let p = Patient::new(None, 1, 0.5).unwrap();
        // before: 1.0; after: min(1.2, 1.3) = 1.2; 1.0 + 0.5 < 1.2 is false: kept
        assert!(!p.prune(&mut curve(&[(0, 1.0), (1, 1.2), (2, 1.3)]), 0));
        // reported out of order, same steps: the same decision, by step order
        assert!(!p.prune(&mut curve(&[(2, 1.3), (0, 1.0), (1, 1.2)]), 0));
        let strict = Patient::new(None, 1, 0.0).unwrap();
        assert!(strict.prune(&mut curve(&[(2, 1.3), (0, 1.0), (1, 1.2)]), 0));
    }

    #[test]
    fn nan_values_are_ignored_in_the_minimums() {
        let p = Patient::new(None, 1, 0.0).unwrap();
        assert!(!p.prune(&mut curve(&[(0, f64::NAN), (1, 2.0), (2, 3.0)]), 0));
        assert!(p.prune(&mut curve(&[(0, 1.0), (1, f64::NAN), (2, 3.0)]), 0));
    }

    #[test]
    fn asks_the_wrapped_pruner() {
        let p = Patient::new(Some(Box::new(Median::new())), 1, 0.0).unwrap();
        let mut c = curve(&[(0, 1.0), (1, 2.0), (2, 3.0)]);
        // stalled, but the median pruner has no completed trial: kept
        assert!(!p.prune(&mut c, 0));
        for n in 1..6 {
            c.report(n, 2, 0.5);
            c.finish(n, CurveState::Complete);
        }
        assert!(p.prune(&mut c, 0));
    }

    #[test]
    fn negative_min_delta_is_refused() {
        assert_eq!(Patient::new(None, 1, -1.0).unwrap_err().field, "min_delta");
    }
}
