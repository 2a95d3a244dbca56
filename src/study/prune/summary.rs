//! How much a study's pruning saved: trials pruned, and steps run against what the trials would
//! have run had each gone to the highest step seen.

use std::fmt;

use serde::Serialize;

use crate::trial::{Trial, TrialState, FORECAST};

/// Pruned trials and steps saved, counted in step numbers over the trials that reported (a
/// trial pruned at step 3 in a study whose trials went up to step 10 saved 7 steps).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PruneSummary {
    /// Trials pruned.
    pub pruned: usize,
    /// Pruned trials that carried their pruner's trusted forecast of their final value, which
    /// TPE ranks them by (see [`crate::study::prune::Extrapolate`]).
    pub forecast: usize,
    /// Trials that reported at least one step.
    pub reporting: usize,
    /// The highest step any trial reached.
    pub max_step: i64,
    /// The sum of the steps the reporting trials reached.
    pub steps_run: i64,
    /// What they would have reached, each at `max_step`.
    pub steps_full: i64,
}

impl PruneSummary {
    /// The summary of `trials`; None when no trial reported a step.
    pub fn of(trials: &[Trial]) -> Option<PruneSummary> {
        let steps: Vec<i64> = trials.iter().filter_map(|t| t.last_step).collect();
        let max_step = *steps.iter().max()?;
        let pruned = || trials.iter().filter(|t| t.state == TrialState::Pruned);
        Some(PruneSummary {
            pruned: pruned().count(),
            forecast: pruned()
                .filter(|t| t.metrics.contains_key(FORECAST))
                .count(),
            reporting: steps.len(),
            max_step,
            steps_run: steps.iter().map(|&s| s.max(0)).sum(),
            steps_full: max_step.max(0).saturating_mul(steps.len() as i64),
        })
    }

    /// Steps saved.
    pub fn saved(&self) -> i64 {
        self.steps_full - self.steps_run
    }
}

impl fmt::Display for PruneSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pct = if self.steps_full > 0 {
            100.0 * self.saved() as f64 / self.steps_full as f64
        } else {
            0.0
        };
        write!(f, "{} pruned", self.pruned)?;
        if self.forecast > 0 {
            write!(f, " ({} ranked by their forecast)", self.forecast)?;
        }
        write!(
            f,
            "; steps run {} of {} at the highest step {} ({} saved, {:.0}%)",
            self.steps_run,
            self.steps_full,
            self.max_step,
            self.saved(),
            pct
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::{hp, Space};
    use crate::study::Study;
    use crate::trial::TrialResult;
    use crate::Random;

    #[test]
    fn counts_pruned_trials_and_steps_saved() {
        let space = Space::from_params([hp::uniform("x", 0.0, 1.0)]).unwrap();
        let mut s = Study::new(&space, Random, 0);
        for r in [
            TrialResult::ok(1.0),
            TrialResult::pruned_at(3, 2.0),
            TrialResult::pruned_at(6, 2.0),
            TrialResult::fail("no steps"),
        ] {
            let a = s.ask();
            s.tell(a.number, r).unwrap();
        }
        assert_eq!(PruneSummary::of(s.trials()).map(|p| p.pruned), Some(2));
        // the ok trial reported nothing here: only the pruned ones count, max step 6
        let p = PruneSummary::of(s.trials()).unwrap();
        assert_eq!(
            (p.reporting, p.max_step, p.steps_run, p.steps_full),
            (2, 6, 9, 12)
        );
        assert_eq!(p.saved(), 3);
        assert_eq!(
            p.to_string(),
            "2 pruned; steps run 9 of 12 at the highest step 6 (3 saved, 25%)"
        );
        assert_eq!(PruneSummary::of(&s.trials()[..1]), None);
        // a pruned trial with a trusted forecast is counted and named
        let a = s.ask();
        s.tell(
            a.number,
            TrialResult::pruned_at(2, 3.0).with_metric(FORECAST, 1.5),
        )
        .unwrap();
        let p = PruneSummary::of(s.trials()).unwrap();
        assert_eq!((p.pruned, p.forecast), (3, 1));
        assert_eq!(
            p.to_string(),
            "3 pruned (1 ranked by their forecast); steps run 11 of 18 at the highest step 6 (7 saved, 39%)"
        );
    }
}
