//! Reading a recorded study back so it can be continued (what `hpo run --resume` does).
//!
//! [`load_study`] finds the latest study run of a given name in an experiment ([`find_study`]),
//! reads its trial runs (children ordered by `hpo.trialNumber`), turns each into a [`Trial`] of the
//! given space, keeping its recorded number (a deleted trial leaves a gap), and marks the trials
//! that were still RUNNING (their process died) as FAILED with the `hpo.failureReason` tag
//! `interrupted`, both in the store and in the returned trials ([`load_trials`]). Hand the result
//! to [`Recorder::resume`](super::Recorder::resume) and
//! [`Fmin::prior_trials`](crate::study::Fmin::prior_trials) to continue the numbering from the
//! highest number + 1. A process that may run alongside others should hold the study's
//! [lease](super::lease) between [`find_study`] and [`load_trials`], so that it never marks the
//! running trials of a live process as interrupted.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use super::recorder::{
    STATE_PRUNED, TAG_FAILURE_REASON, TAG_PRUNED_STEP, TAG_PRUNED_VALUE, TAG_RUN_TYPE, TAG_STATE,
    TAG_TRIAL_NUMBER,
};
use super::{ExperimentId, Run, RunId, RunStatus, RunTag, RunsQuery, Tracker, TrackingError};
use crate::space::Space;
use crate::trial::{Trial, TrialState, FORECAST};

/// How many study runs of the experiment are looked at (newest first) to find the named one.
pub const MAX_STUDIES_SCANNED: usize = 1000;

/// A recorded study read back: its parent run, its trials and their run ids.
#[derive(Debug, Clone)]
pub struct ResumedStudy {
    /// The study's (parent) run id.
    pub parent: RunId,
    /// The recorded trials with their recorded numbers, in increasing order (a trial run without
    /// a readable number, or repeating one, gets the number after the previous trial's).
    pub trials: Vec<Trial>,
    /// Trial number -> run id, for [`Recorder::resume`](super::Recorder::resume).
    pub runs: HashMap<usize, RunId>,
    /// The study's seed (its `seed` param), if recorded.
    pub seed: Option<u64>,
}

/// Why a study could not be resumed.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    /// No study run of that name in the experiment.
    #[error("no study named '{0}' to resume in this experiment")]
    NoStudy(String),
    /// A trial run's params do not fit the space.
    #[error("run {run_id} of study '{study}' does not fit this space: {reason}")]
    SpaceMismatch {
        /// The trial run.
        run_id: RunId,
        /// The study name.
        study: String,
        /// What does not fit.
        reason: String,
    },
    /// Reading or updating the store failed.
    #[error(transparent)]
    Tracking(#[from] TrackingError),
}

/// The reason recorded (tag `hpo.failureReason`) on a trial found RUNNING when its study is resumed.
pub const INTERRUPTED: &str = "interrupted";

/// Loads the latest study named `study_name` of `experiment` for resuming ([`find_study`], then
/// [`load_trials`]); trial runs left RUNNING are marked FAILED (reason `interrupted`). `metric` is
/// the study's loss metric.
pub fn load_study(
    tracker: &Tracker,
    experiment: ExperimentId,
    study_name: &str,
    space: &Space,
    metric: &str,
) -> Result<ResumedStudy, ResumeError> {
    let parent = find_study(tracker, experiment, study_name)?
        .ok_or_else(|| ResumeError::NoStudy(study_name.to_string()))?;
    load_trials(tracker, parent, space, metric)
}

/// The latest study run named `study_name` in `experiment` (among the newest
/// [`MAX_STUDIES_SCANNED`] study runs), if any.
pub fn find_study(
    tracker: &Tracker,
    experiment: ExperimentId,
    study_name: &str,
) -> Result<Option<Run>, TrackingError> {
    let studies = tracker.search_runs(
        &RunsQuery::new(&[experiment], &format!("tags.`{TAG_RUN_TYPE}` = 'study'"))
            .order_by(&["attributes.start_time DESC"])
            .max_results(MAX_STUDIES_SCANNED),
    )?;
    Ok(studies
        .runs
        .into_iter()
        .find(|r| r.info.run_name == study_name))
}

/// Reads the trials of the study run `parent` (from [`find_study`]) for resuming, keeping their
/// recorded numbers; trial runs left RUNNING are marked FAILED with the tag `hpo.failureReason`
/// = `interrupted`.
pub fn load_trials(
    tracker: &Tracker,
    parent: Run,
    space: &Space,
    metric: &str,
) -> Result<ResumedStudy, ResumeError> {
    let study_name = parent.info.run_name.clone();
    let study_name = study_name.as_str();
    let recorded = |c: &Run| {
        c.data
            .tag(TAG_TRIAL_NUMBER)
            .and_then(|t| t.parse::<usize>().ok())
    };
    let mut children = tracker.child_runs(&parent.info.run_id)?;
    children.sort_by_key(|c| recorded(c).unwrap_or(usize::MAX));
    let mut trials: Vec<Trial> = Vec::new();
    let mut runs = HashMap::new();
    for c in children {
        let values: BTreeMap<String, String> = c
            .data
            .params
            .iter()
            .map(|p| (p.key.clone(), p.value.clone()))
            .collect();
        let a = space
            .assignment_from_text(&values)
            .map_err(|e| ResumeError::SpaceMismatch {
                run_id: c.info.run_id.clone(),
                study: study_name.to_string(),
                reason: e.to_string(),
            })?;
        let mut loss = c.data.metric(metric).map(|m| m.latest);
        let mut last_step = None;
        let mut metrics = BTreeMap::new();
        let pruned = c.data.tag(TAG_STATE) == Some(STATE_PRUNED);
        let (state, message) = match c.info.status {
            RunStatus::Finished if loss.is_some_and(f64::is_finite) => (TrialState::Ok, None),
            RunStatus::Killed if pruned => {
                last_step = c.data.tag(TAG_PRUNED_STEP).and_then(|s| s.parse().ok());
                loss = c.data.tag(TAG_PRUNED_VALUE).and_then(|v| v.parse().ok());
                // the pruner's trusted forecast, which the sampler ranks the trial by
                if let Some(f) = c.data.metric(FORECAST) {
                    metrics.insert(FORECAST.to_string(), f.latest);
                }
                (TrialState::Pruned, None)
            }
            RunStatus::Killed => (
                TrialState::Killed,
                c.data.tag(TAG_FAILURE_REASON).map(String::from),
            ),
            RunStatus::Running => {
                // a trial that was running when its process died
                let reason = [RunTag::new(TAG_FAILURE_REASON, INTERRUPTED)];
                tracker.finish_run(&c.info.run_id, &[], &reason, RunStatus::Failed, None)?;
                (TrialState::Failed, Some(INTERRUPTED.to_string()))
            }
            _ => (
                TrialState::Failed,
                c.data.tag(TAG_FAILURE_REASON).map(String::from),
            ),
        };
        let ms = |t: i64| SystemTime::UNIX_EPOCH + Duration::from_millis(t.max(0) as u64);
        // the recorded number, unless it is missing or repeats one (then the next free one)
        let next = trials.last().map_or(0, |t| t.number + 1);
        let number = recorded(&c).filter(|&n| n >= next).unwrap_or(next);
        runs.insert(number, c.info.run_id.clone());
        trials.push(Trial {
            number,
            params: space.params_of(a),
            state,
            loss,
            last_step,
            metrics,
            message,
            started: ms(c.info.start_time),
            ended: c.info.end_time.map(ms),
        });
    }
    Ok(ResumedStudy {
        seed: parent.data.param("seed").and_then(|s| s.parse().ok()),
        parent: parent.info.run_id,
        trials,
        runs,
    })
}
