//! The learning curves of a resumed study's trials, read back from the store for its pruner.

use super::resume::ResumedStudy;
use super::{Tracker, TrackingError};
use crate::study::prune::{CurveState, Curves, TrialCurve};
use crate::trial::TrialState;

/// Each trial's history of `metric` (the pruner's watched metric) from its run, by trial
/// number, with its state. The first value recorded at a step is kept (as the pruner keeps the
/// first report). Successive-halving rungs are not recorded in the store: resumed trials do not
/// compete at the rungs.
pub fn load_curves(
    tracker: &Tracker,
    study: &ResumedStudy,
    metric: &str,
) -> Result<Curves, TrackingError> {
    let mut curves = Curves::new();
    for t in &study.trials {
        let Some(run) = study.runs.get(&t.number) else {
            continue;
        };
        let mut curve = TrialCurve::new();
        curve.state = match t.state {
            TrialState::Ok => CurveState::Complete,
            TrialState::Pruned => CurveState::Pruned,
            TrialState::Running => CurveState::Running,
            TrialState::Failed | TrialState::Killed => CurveState::Failed,
        };
        // ordered by (step, timestamp): the first of each step is the earliest
        for m in tracker.metric_history(run, metric)? {
            curve.values.entry(m.step).or_insert(m.value);
        }
        curves.insert(t.number, curve);
    }
    Ok(curves)
}
