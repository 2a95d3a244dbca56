//! The median pruner: the percentile pruner at the 50th percentile.

use super::{Curves, Percentile, Pruner, PrunerError};

/// Stops a trial whose best value so far is worse than the median of the completed trials'
/// values at the same step (Optuna's `MedianPruner`); see [`Percentile`] for the rules.
#[derive(Clone, Debug, PartialEq)]
pub struct Median(pub Percentile);

impl Median {
    /// Optuna's defaults: 5 start-up trials, no warm-up, every step, one trial at the step.
    pub fn new() -> Self {
        Median(Percentile {
            percentile: 50.0,
            n_startup_trials: 5,
            n_warmup_steps: 0,
            interval_steps: 1,
            n_min_trials: 1,
        })
    }

    /// With these settings (the percentile is set to 50).
    pub fn with(settings: Percentile) -> Result<Self, PrunerError> {
        Ok(Median(
            Percentile {
                percentile: 50.0,
                ..settings
            }
            .validated()?,
        ))
    }
}

impl Default for Median {
    fn default() -> Self {
        Median::new()
    }
}

impl Pruner for Median {
    fn name(&self) -> &'static str {
        "median"
    }

    fn prune(&self, curves: &mut Curves, trial: usize) -> bool {
        self.0.decide(curves, trial)
    }
}

#[cfg(test)]
mod tests {
    use super::super::CurveState;
    use super::*;

    #[test]
    fn median_of_an_even_count_and_ties() {
        let mut c = Curves::new();
        for (n, v) in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (4, 2.0)] {
            c.report(n, 1, v);
            c.finish(n, CurveState::Complete);
        }
        // values 1, 2, 2, 4, 8: median 2
        c.report(5, 1, 2.0);
        assert!(
            !Median::new().prune(&mut c, 5),
            "a tie with the median is kept"
        );
        c.report(6, 1, 2.01);
        assert!(Median::new().prune(&mut c, 6));
        // four start-up trials are not enough for the defaults (five)
        let mut few = Curves::new();
        for n in 0..4 {
            few.report(n, 1, 1.0);
            few.finish(n, CurveState::Complete);
        }
        few.report(4, 1, 100.0);
        assert!(!Median::new().prune(&mut few, 4));
        few.finish(3, CurveState::Pruned);
        few.report(5, 1, 1.0);
        few.finish(5, CurveState::Complete);
        assert!(
            !Median::new().prune(&mut few, 4),
            "pruned trials do not count"
        );
    }
}
