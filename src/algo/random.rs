//! Random search: every trial drawn from the prior, independently.

use super::{Algorithm, TrialRng};
use crate::space::{Assignment, Space};
use crate::trial::HistoryView;

/// Random search (hyperopt's `rand.suggest`): each trial is an independent draw from the prior.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Random;

impl Algorithm for Random {
    fn name(&self) -> String {
        "random".into()
    }

    fn suggest(&self, space: &Space, _history: &HistoryView<'_>, rng: &mut TrialRng) -> Assignment {
        space.sample_prior(rng)
    }
}
