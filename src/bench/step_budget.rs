//! A study's budget counted in curve steps (`hpo bench --step-budget`): the study keeps
//! proposing trials until the steps its trials ran add up to the budget.
//!
//! The objective asks [`StepBudget::take`] before each step; once the budget is spent, the trial
//! in progress stops where it is and is recorded pruned (it did not finish, so it gives no final
//! value), and the study, through [`StepBudget`] as an [`Observer`], hands out no more trials.
//! The total steps of a study under a budget are therefore exactly the budget (unless a trial
//! budget ends it first).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::study::{Control, Observer};
use crate::trial::Trial;

/// A shared count of the steps a study ran against its budget (clones share the count).
#[derive(Clone, Debug)]
pub struct StepBudget {
    limit: u64,
    spent: Arc<AtomicU64>,
}

impl StepBudget {
    /// A budget of `limit` steps, none spent.
    pub fn new(limit: u64) -> StepBudget {
        StepBudget {
            limit,
            spent: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The budget.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Take one step: true (and counted) while the budget has one left, false once it is spent.
    pub fn take(&self) -> bool {
        self.spent
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
                (s < self.limit).then_some(s + 1)
            })
            .is_ok()
    }

    /// Steps taken so far.
    pub fn spent(&self) -> u64 {
        self.spent.load(Ordering::SeqCst)
    }

    /// Whether every step of the budget was taken.
    pub fn exhausted(&self) -> bool {
        self.spent() >= self.limit
    }
}

impl Observer for StepBudget {
    fn on_trial_end(&mut self, _trial: &Trial, _trials: &[Trial]) -> Control {
        if self.exhausted() {
            Control::Stop(format!("step budget of {} spent", self.limit))
        } else {
            Control::Continue
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_taken_until_the_budget_is_spent_and_clones_share_them() {
        let b = StepBudget::new(3);
        let c = b.clone();
        assert!(b.take() && c.take());
        assert_eq!((b.spent(), b.exhausted()), (2, false));
        assert!(c.take());
        assert!(!b.take() && !c.take());
        assert_eq!((b.spent(), c.spent(), b.exhausted()), (3, 3, true));
        let zero = StepBudget::new(0);
        assert!(zero.exhausted() && !zero.take());
    }
}
