//! Stopping rules: loss threshold and no-progress, as observers.

use super::observer::{Control, Observer};
use crate::trial::Trial;

/// Stop once the best loss is below a threshold (hyperopt's `loss_threshold`).
#[derive(Clone, Debug)]
pub struct LossThreshold(pub f64);

impl Observer for LossThreshold {
    fn on_trial_end(&mut self, trial: &Trial, _trials: &[Trial]) -> Control {
        match trial.ok_loss() {
            Some(l) if l < self.0 => Control::Stop(format!("loss {l} below threshold {}", self.0)),
            _ => Control::Continue,
        }
    }
}

/// Stop after `patience` finished trials in a row that did not improve the best loss by more
/// than `min_delta` (hyperopt's `no_progress_loss`; failed trials count as no progress rather
/// than crashing).
#[derive(Clone, Debug)]
pub struct NoProgress {
    /// Finished trials without improvement before stopping.
    pub patience: usize,
    /// Smallest decrease of the best loss that counts as progress.
    pub min_delta: f64,
    best: f64,
    since: usize,
}

impl NoProgress {
    /// Stop after `patience` trials without any improvement.
    pub fn new(patience: usize) -> Self {
        NoProgress {
            patience,
            min_delta: 0.0,
            best: f64::INFINITY,
            since: 0,
        }
    }
}

impl Observer for NoProgress {
    fn on_trial_end(&mut self, trial: &Trial, _trials: &[Trial]) -> Control {
        match trial.ok_loss() {
            Some(l) if l < self.best - self.min_delta => {
                self.best = l;
                self.since = 0;
            }
            Some(l) => {
                self.best = self.best.min(l);
                self.since += 1;
            }
            None => self.since += 1,
        }
        if self.since >= self.patience {
            Control::Stop(format!("no progress in {} trials", self.patience))
        } else {
            Control::Continue
        }
    }
}
