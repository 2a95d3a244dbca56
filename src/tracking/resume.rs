//! Reading a recorded study back so it can be continued (what `hpo run --resume` does).
//!
//! [`load_study`] finds the latest study run of a given name in an experiment, reads its trial runs
//! (children ordered by `hpo.trialNumber`), turns each into a [`Trial`] of the given space and marks
//! the trials that were still RUNNING (their process died) as FAILED, both in the store and in the
//! returned trials. Hand the result to [`Recorder::resume`](super::Recorder::resume) and
//! [`Fmin::prior_trials`](crate::study::Fmin::prior_trials) to continue the numbering.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use super::recorder::{TAG_FAILURE_REASON, TAG_RUN_TYPE, TAG_TRIAL_NUMBER};
use super::{ExperimentId, RunId, RunStatus, RunsQuery, Tracker, TrackingError};
use crate::space::Space;
use crate::trial::{Trial, TrialState};

/// How many study runs of the experiment are looked at (newest first) to find the named one.
pub const MAX_STUDIES_SCANNED: usize = 1000;

/// A recorded study read back: its parent run, its trials and their run ids.
#[derive(Debug, Clone)]
pub struct ResumedStudy {
    /// The study's (parent) run id.
    pub parent: RunId,
    /// The recorded trials, numbered 0.. in trial-number order.
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

/// Loads the latest study named `study_name` of `experiment` for resuming; trial runs left RUNNING
/// are marked FAILED (message `interrupted`). `metric` is the study's loss metric.
pub fn load_study(
    tracker: &Tracker,
    experiment: ExperimentId,
    study_name: &str,
    space: &Space,
    metric: &str,
) -> Result<ResumedStudy, ResumeError> {
    let studies = tracker.search_runs(
        &RunsQuery::new(&[experiment], &format!("tags.`{TAG_RUN_TYPE}` = 'study'"))
            .order_by(&["attributes.start_time DESC"])
            .max_results(MAX_STUDIES_SCANNED),
    )?;
    let parent = studies
        .runs
        .into_iter()
        .find(|r| r.info.run_name == study_name)
        .ok_or_else(|| ResumeError::NoStudy(study_name.to_string()))?;
    let mut children = tracker.child_runs(&parent.info.run_id)?;
    children.sort_by_key(|c| {
        c.data
            .tag(TAG_TRIAL_NUMBER)
            .and_then(|t| t.parse::<usize>().ok())
            .unwrap_or(usize::MAX)
    });
    let mut trials = Vec::new();
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
        let loss = c.data.metric(metric).map(|m| m.latest);
        let (state, message) = match c.info.status {
            RunStatus::Finished if loss.is_some_and(f64::is_finite) => (TrialState::Ok, None),
            RunStatus::Killed => (
                TrialState::Killed,
                c.data.tag(TAG_FAILURE_REASON).map(String::from),
            ),
            RunStatus::Running => {
                // a trial that was running when its process died
                tracker.set_terminated(&c.info.run_id, RunStatus::Failed, None)?;
                (TrialState::Failed, Some("interrupted".to_string()))
            }
            _ => (
                TrialState::Failed,
                c.data.tag(TAG_FAILURE_REASON).map(String::from),
            ),
        };
        let ms = |t: i64| SystemTime::UNIX_EPOCH + Duration::from_millis(t.max(0) as u64);
        let number = trials.len();
        runs.insert(number, c.info.run_id.clone());
        trials.push(Trial {
            number,
            params: space.params_of(a),
            state,
            loss,
            metrics: BTreeMap::new(),
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
