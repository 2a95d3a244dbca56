//! Observers: how tracking, progress bars and stopping rules plug into a study.
//!
//! The driver calls every observer on its own thread, in order, at each event; the optimizer
//! core itself does no I/O. An observer can end the study by returning [`Control::Stop`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::space::{Space, Value};
use crate::trial::Trial;

/// Whether the study goes on after an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Hand out no more trials (trials in flight still finish); the reason is recorded.
    Stop(String),
}

/// What an observer learns when a study starts.
#[derive(Debug)]
pub struct StudyInfo<'a> {
    /// The search space.
    pub space: &'a Space,
    /// The algorithm's name.
    pub algorithm: String,
    /// The algorithm's settings.
    pub settings: BTreeMap<String, Value>,
    /// The study's seed.
    pub seed: u64,
    /// Trials in flight at most.
    pub parallelism: usize,
    /// Total trial budget (prior trials included).
    pub max_evals: usize,
    /// Trials already in the study before it started (warm start or resume).
    pub prior_trials: usize,
    /// Whether the objective evaluates trials in other processes (see
    /// [`Objective::runs_elsewhere`](super::Objective::runs_elsewhere)).
    pub objective_runs_elsewhere: bool,
}

/// Something the objective reported while a trial ran, through its [`TrialContext`](super::TrialContext).
#[derive(Clone, Debug, PartialEq)]
pub enum TrialReport {
    /// A metric value at a step (a learning curve).
    Metric {
        /// Metric name.
        key: String,
        /// Its value.
        value: f64,
        /// The step (e.g. epoch).
        step: i64,
    },
    /// A tag on the trial.
    Tag {
        /// Tag name.
        key: String,
        /// Its value.
        value: String,
    },
    /// A file or directory to keep with the trial.
    Artifact {
        /// Where it is now.
        local_path: PathBuf,
        /// Directory under the trial's artifacts to put it in ("" for the top).
        artifact_path: String,
    },
}

/// Why a study stopped.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum StopReason {
    /// The trial budget was used up.
    MaxEvals,
    /// The time budget ran out.
    Timeout,
    /// An observer or stopping rule asked to stop.
    Stopped(String),
    /// The study was interrupted from outside (Ctrl-C, a signal, [`Interrupt::trigger`]); running
    /// trials were stopped.
    ///
    /// [`Interrupt::trigger`]: super::Interrupt::trigger
    Interrupted(String),
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::MaxEvals => write!(f, "max_evals reached"),
            StopReason::Timeout => write!(f, "timeout"),
            StopReason::Stopped(why) => write!(f, "{why}"),
            StopReason::Interrupted(why) => write!(f, "interrupted: {why}"),
        }
    }
}

/// Watches a study: called at its start, at each trial's start, report and end, and at its end.
pub trait Observer: Send {
    /// The study starts.
    fn on_study_start(&mut self, _info: &StudyInfo<'_>) {}
    /// A trial was handed out (state running).
    fn on_trial_start(&mut self, _trial: &Trial) {}
    /// Attributes this observer gives the objective for a trial that just started (read with
    /// `TrialContext::attribute`), e.g. the tracking run id of the trial (`run_id`).
    fn trial_attributes(&self, _number: usize) -> Vec<(String, String)> {
        Vec::new()
    }
    /// A running trial reported a metric, tag or artifact.
    fn on_trial_report(&mut self, _trial: &Trial, _report: &TrialReport) {}
    /// A trial finished; `trials` holds all trials so far. Return `Stop` to end the study.
    fn on_trial_end(&mut self, _trial: &Trial, _trials: &[Trial]) -> Control {
        Control::Continue
    }
    /// The study ended.
    fn on_study_end(&mut self, _trials: &[Trial], _reason: &StopReason) {}
}
