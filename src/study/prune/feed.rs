//! [`CurveFeed`]: where a worker's pruner reads the learning curves of trials that run on
//! other workers right now, so successive halving and Hyperband compare a trial with them at
//! each rung as Optuna's pruners do through their shared storage.

use super::Curves;

/// The curves of trials running on other workers (other processes or machines of a shared
/// study), as of now. Implemented over the store by the shared study
/// ([`crate::tracking::shared::SharedStudy::curve_feed`]); the pruner asks it at most once per
/// interval, from a trial's thread, before deciding on a report.
pub trait CurveFeed: Send + Sync {
    /// Every trial running elsewhere with what it reported so far, each in the state
    /// [`CurveState::RunningElsewhere`](super::CurveState::RunningElsewhere). A trial that
    /// cannot be read is left out (the pruner then decides without it, as before it started).
    fn running_elsewhere(&self) -> Curves;
}
