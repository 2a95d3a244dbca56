//! Every trial's learning curve (step -> value of the watched metric) and state: what pruners
//! read.

use std::collections::BTreeMap;

/// A trial's state as the pruners see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CurveState {
    /// Still running, in this process: its rungs are recorded as it reports.
    Running,
    /// Still running on another worker: its curve is read from the store (a snapshot that
    /// grows at each read), so its rungs are worked out from its values.
    RunningElsewhere,
    /// Finished ok: its curve counts as a reference for median and percentile pruners.
    Complete,
    /// Pruned.
    Pruned,
    /// Failed or killed.
    Failed,
}

impl From<crate::trial::TrialState> for CurveState {
    /// A trial's state as the pruners see it (a killed trial counts as failed).
    fn from(state: crate::trial::TrialState) -> Self {
        use crate::trial::TrialState;
        match state {
            TrialState::Running => CurveState::Running,
            TrialState::Ok => CurveState::Complete,
            TrialState::Pruned => CurveState::Pruned,
            TrialState::Failed | TrialState::Killed => CurveState::Failed,
        }
    }
}

/// One trial's curve and what pruners recorded about it.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialCurve {
    /// Its state.
    pub state: CurveState,
    /// The watched metric's value at each reported step.
    pub values: BTreeMap<i64, f64>,
    /// The value recorded at each successive-halving rung it completed (rung 0 first).
    pub rungs: Vec<f64>,
    /// The threshold the pruner compared the trial with, by step: above it the trial was (or
    /// would have been) pruned. Median and percentile record one at each step they decide on;
    /// successive halving at each rung with another value to compete with.
    pub thresholds: BTreeMap<i64, f64>,
}

impl TrialCurve {
    /// A running trial with no report yet.
    pub fn new() -> Self {
        TrialCurve {
            state: CurveState::Running,
            values: BTreeMap::new(),
            rungs: Vec::new(),
            thresholds: BTreeMap::new(),
        }
    }

    /// The highest step reported.
    pub fn last_step(&self) -> Option<i64> {
        self.values.keys().next_back().copied()
    }

    /// The highest step reported and its value.
    pub fn last(&self) -> Option<(i64, f64)> {
        self.values.iter().next_back().map(|(s, v)| (*s, *v))
    }

    /// The lowest value reported, ignoring NaN (NaN if all are NaN or there is none).
    pub fn best(&self) -> f64 {
        super::nan_min(self.values.values().copied())
    }
}

impl Default for TrialCurve {
    fn default() -> Self {
        TrialCurve::new()
    }
}

/// The curves of a study's trials, by trial number.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Curves {
    trials: BTreeMap<usize, TrialCurve>,
}

impl Curves {
    /// No trial yet.
    pub fn new() -> Self {
        Curves::default()
    }

    /// Trial `n` started (running, no values).
    pub fn start(&mut self, n: usize) {
        self.trials.entry(n).or_default();
    }

    /// Trial `n` reported `value` at `step`; false (and nothing changes) if that step was
    /// already reported. A trial not started yet is started.
    pub fn report(&mut self, n: usize, step: i64, value: f64) -> bool {
        let c = self.trials.entry(n).or_default();
        if c.values.contains_key(&step) {
            return false;
        }
        c.values.insert(step, value);
        true
    }

    /// Trial `n` finished in `state`.
    pub fn finish(&mut self, n: usize, state: CurveState) {
        self.trials.entry(n).or_default().state = state;
    }

    /// Add a trial with its whole curve (e.g. from an earlier session).
    pub fn insert(&mut self, n: usize, curve: TrialCurve) {
        self.trials.insert(n, curve);
    }

    /// Trial `n`'s curve.
    pub fn get(&self, n: usize) -> Option<&TrialCurve> {
        self.trials.get(&n)
    }

    /// Trial `n`'s curve, mutable.
    pub fn get_mut(&mut self, n: usize) -> Option<&mut TrialCurve> {
        self.trials.get_mut(&n)
    }

    /// Every trial's (number, curve), by number.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &TrialCurve)> {
        self.trials.iter().map(|(n, c)| (*n, c))
    }

    /// Every trial's (number, curve), by number, mutable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (usize, &mut TrialCurve)> {
        self.trials.iter_mut().map(|(n, c)| (*n, c))
    }

    /// The curves of the trials that finished ok.
    pub fn completed(&self) -> impl Iterator<Item = &TrialCurve> {
        self.trials
            .values()
            .filter(|c| c.state == CurveState::Complete)
    }

    /// The highest last step among the trials that finished ok.
    pub fn highest_completed_step(&self) -> Option<i64> {
        self.completed().filter_map(TrialCurve::last_step).max()
    }

    /// Number of trials.
    pub fn len(&self) -> usize {
        self.trials.len()
    }

    /// True with no trial.
    pub fn is_empty(&self) -> bool {
        self.trials.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_step_keeps_its_first_value_and_the_last_step_is_the_highest() {
        let mut c = Curves::new();
        assert!(c.report(0, 3, 1.0));
        assert!(c.report(0, 1, 2.0));
        assert!(!c.report(0, 3, 9.0));
        let t = c.get(0).unwrap();
        assert_eq!(t.values[&3], 1.0);
        assert_eq!(t.last(), Some((3, 1.0)));
        assert_eq!(t.best(), 1.0);
        assert_eq!(t.state, CurveState::Running);
        c.finish(0, CurveState::Complete);
        assert_eq!(c.completed().count(), 1);
        let mut nan = TrialCurve::new();
        nan.values.insert(0, f64::NAN);
        assert!(nan.best().is_nan());
    }
}
