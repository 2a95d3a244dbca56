//! The learning curves of a resumed study's trials, read back from the store for its pruner.

use super::resume::ResumedStudy;
use super::{Tracker, TrackingError};
use crate::study::prune::{CurveState, Curves, TrialCurve};

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
        curves.insert(t.number, run_curve(tracker, run, metric, t.state.into())?);
    }
    Ok(curves)
}

/// The curve of `metric` logged by run `run_id`, in `state`: its history by step, the first
/// value recorded at each step (as the pruner keeps a trial's first report at a step).
pub(crate) fn run_curve(
    tracker: &Tracker,
    run_id: &str,
    metric: &str,
    state: CurveState,
) -> Result<TrialCurve, TrackingError> {
    let mut curve = TrialCurve::new();
    curve.state = state;
    // ordered by (step, timestamp): the first of each step is the earliest
    for m in tracker.metric_history(run_id, metric)? {
        curve.values.entry(m.step).or_insert(m.value);
    }
    Ok(curve)
}
