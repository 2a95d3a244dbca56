//! The intermediate-values plot of the compare page: every compared run's learning curve (the
//! watched metric by step), where pruned runs stopped, and the thresholds their pruner compared
//! them with (the metric [`THRESHOLD_METRIC`] a study logs at each step its pruner decided on).

use serde::Serialize;

use crate::study::prune::{TAG_PRUNE_METRIC, THRESHOLD_METRIC};
use crate::tracking::recorder::{
    STATE_PRUNED, TAG_PRUNED_STEP, TAG_PRUNED_VALUE, TAG_STATE, TAG_TRIAL_NUMBER,
};
use crate::tracking::{Metric, Run, RunStatus};

/// Most runs whose curves one answer carries (the first ones by start time).
pub const MAX_CURVE_RUNS: usize = 500;

/// Where a pruned run stopped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrunedAt {
    /// The step.
    pub step: i64,
    /// The watched value there.
    pub value: f64,
}

/// One run's learning curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunCurve {
    /// The run's id.
    pub run_id: String,
    /// Its name (its id when unnamed).
    pub name: String,
    /// Its trial number (`hpo.trialNumber`), else its place by start time.
    pub number: i64,
    /// `FINISHED`, `PRUNED`, `FAILED`, `KILLED` or `RUNNING`.
    pub state: String,
    /// (step, value) of the metric, by step; non-finite values left out.
    pub points: Vec<(i64, f64)>,
    /// Where it was pruned (`hpo.prunedStep` / `hpo.prunedValue`), for a pruned run.
    pub pruned: Option<PrunedAt>,
    /// (step, threshold) its pruner compared it with, by step.
    pub thresholds: Vec<(i64, f64)>,
}

/// The plot's data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurvesData {
    /// The metric drawn.
    pub metric: String,
    /// Runs asked for.
    pub total: usize,
    /// Whether runs beyond [`MAX_CURVE_RUNS`] were left out.
    pub truncated: bool,
    /// Runs with at least one point, by number.
    pub curves: Vec<RunCurve>,
}

/// The metric the plot draws by default: the `hpo.pruneMetric` tag of the first run that has
/// one, else `fallback` (the study's metric).
pub fn default_metric(runs: &[Run], fallback: &str) -> String {
    runs.iter()
        .find_map(|r| r.data.tag(TAG_PRUNE_METRIC))
        .unwrap_or(fallback)
        .to_string()
}

/// A run's state as the plot shows it: `PRUNED` for a killed run tagged pruned.
pub fn state_of(run: &Run) -> String {
    if run.data.tag(TAG_STATE) == Some(STATE_PRUNED) {
        return STATE_PRUNED.to_string();
    }
    match run.info.status {
        RunStatus::Finished => "FINISHED",
        RunStatus::Failed => "FAILED",
        RunStatus::Killed => "KILLED",
        _ => "RUNNING",
    }
    .to_string()
}

fn by_step(history: Vec<Metric>) -> Vec<(i64, f64)> {
    let mut pts: Vec<(i64, f64)> = history
        .into_iter()
        .filter(|m| m.value.is_finite())
        .map(|m| (m.step, m.value))
        .collect();
    pts.sort_by_key(|p| p.0);
    // a step logged twice keeps its first value, as the pruners do
    pts.dedup_by_key(|p| p.0);
    pts
}

/// Build the plot's data from `runs`, reading each one's history of `metric` and of the
/// thresholds with `history(run_id, key)`.
pub fn curves<E>(
    mut runs: Vec<Run>,
    metric: &str,
    mut history: impl FnMut(&str, &str) -> Result<Vec<Metric>, E>,
) -> Result<CurvesData, E> {
    let total = runs.len();
    runs.sort_by(|a, b| {
        a.info
            .start_time
            .cmp(&b.info.start_time)
            .then_with(|| a.info.run_id.cmp(&b.info.run_id))
    });
    let truncated = runs.len() > MAX_CURVE_RUNS;
    runs.truncate(MAX_CURVE_RUNS);
    let mut out = Vec::new();
    for (place, run) in runs.iter().enumerate() {
        let has = |k: &str| run.data.metric(k).is_some();
        if !has(metric) {
            continue;
        }
        let points = by_step(history(&run.info.run_id, metric)?);
        if points.is_empty() {
            continue;
        }
        let thresholds = if has(THRESHOLD_METRIC) {
            by_step(history(&run.info.run_id, THRESHOLD_METRIC)?)
        } else {
            Vec::new()
        };
        let state = state_of(run);
        let pruned = (state == STATE_PRUNED).then(|| {
            let step = run.data.tag(TAG_PRUNED_STEP).and_then(|s| s.parse().ok());
            let value = run.data.tag(TAG_PRUNED_VALUE).and_then(|s| s.parse().ok());
            match (step, value) {
                (Some(step), Some(value)) => PrunedAt { step, value },
                // the curve's last point, when the tags are missing
                _ => {
                    let (step, value) = points[points.len() - 1];
                    PrunedAt { step, value }
                }
            }
        });
        out.push(RunCurve {
            run_id: run.info.run_id.clone(),
            name: if run.info.run_name.is_empty() {
                run.info.run_id.clone()
            } else {
                run.info.run_name.clone()
            },
            number: run
                .data
                .tag(TAG_TRIAL_NUMBER)
                .and_then(|n| n.parse().ok())
                .unwrap_or(place as i64),
            state,
            points,
            pruned,
            thresholds,
        });
    }
    out.sort_by_key(|c| c.number);
    Ok(CurvesData {
        metric: metric.to_string(),
        total,
        truncated,
        curves: out,
    })
}
