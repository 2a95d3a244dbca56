//! What happened in a study, as plain data: trials, their states and results, the history.
//!
//! These records sit below the algorithms (which read them) and the driver (which writes them),
//! and are what observers such as tracking receive.

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use serde::Serialize;

use crate::space::Params;

/// The state of a trial.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrialState {
    /// Handed out, result not in yet (pending).
    Running,
    /// Finished with a finite loss.
    Ok,
    /// Failed: an error, a panic, a NaN or infinite loss, or a `fail` status.
    Failed,
    /// Stopped from outside (e.g. a per-trial timeout).
    Killed,
    /// Stopped early by the study's pruner (finished, not failed): its learning curve looked
    /// unpromising at [`Trial::last_step`].
    Pruned,
}

impl TrialState {
    /// True once the trial has a result (ok, failed, killed or pruned).
    pub fn is_finished(self) -> bool {
        self != TrialState::Running
    }
}

impl fmt::Display for TrialState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrialState::Running => "running",
            TrialState::Ok => "ok",
            TrialState::Failed => "failed",
            TrialState::Killed => "killed",
            TrialState::Pruned => "pruned",
        })
    }
}

/// The status an objective reports with its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The evaluation worked; the loss counts.
    Ok,
    /// The evaluation failed; the trial is recorded as failed.
    Fail,
    /// The evaluation was stopped from outside (e.g. timed out).
    Killed,
    /// The evaluation stopped early because the pruner said so (see [`TrialResult::pruned`]).
    Pruned,
}

/// What an objective returns for one trial: a loss, a status, extra metrics and a message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrialResult {
    /// The loss to minimize (`None` for a failed evaluation).
    pub loss: Option<f64>,
    /// Ok, fail or killed.
    pub status: Status,
    /// Extra metrics to record with the trial (not optimized).
    pub metrics: BTreeMap<String, f64>,
    /// A message, e.g. the reason for a failure.
    pub message: Option<String>,
    /// For a pruned trial, the step it was pruned at (`None`: filled in by the study from the
    /// values the trial reported, see [`TrialResult::pruned`]).
    pub step: Option<i64>,
}

impl TrialResult {
    /// A successful result with this loss.
    pub fn ok(loss: f64) -> Self {
        TrialResult {
            loss: Some(loss),
            status: Status::Ok,
            metrics: BTreeMap::new(),
            message: None,
            step: None,
        }
    }

    /// A failed result with a reason.
    pub fn fail(reason: impl Into<String>) -> Self {
        TrialResult {
            loss: None,
            status: Status::Fail,
            metrics: BTreeMap::new(),
            message: Some(reason.into()),
            step: None,
        }
    }

    /// A killed result with a reason.
    pub fn killed(reason: impl Into<String>) -> Self {
        TrialResult {
            status: Status::Killed,
            ..TrialResult::fail(reason)
        }
    }

    /// A pruned result: the objective stopped because [`TrialContext::report`] (or
    /// [`TrialContext::should_prune`]) said so. Inside [`Fmin`] the step and value are the
    /// last ones the trial reported (the highest step and its value).
    ///
    /// [`TrialContext::report`]: crate::study::TrialContext::report
    /// [`TrialContext::should_prune`]: crate::study::TrialContext::should_prune
    /// [`Fmin`]: crate::study::Fmin
    pub fn pruned() -> Self {
        TrialResult {
            loss: None,
            status: Status::Pruned,
            metrics: BTreeMap::new(),
            message: None,
            step: None,
        }
    }

    /// A pruned result at `step`, where the watched value was `value` (for ask/tell, where
    /// the study does not see the reports).
    pub fn pruned_at(step: i64, value: f64) -> Self {
        TrialResult {
            loss: Some(value),
            step: Some(step),
            ..TrialResult::pruned()
        }
    }

    /// Add an extra metric.
    pub fn with_metric(mut self, name: impl Into<String>, value: f64) -> Self {
        self.metrics.insert(name.into(), value);
        self
    }

    /// Add a message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// The state this result puts a trial in: `ok` only with status ok and a finite loss.
    pub fn state(&self) -> TrialState {
        match (self.status, self.loss) {
            (Status::Ok, Some(l)) if l.is_finite() => TrialState::Ok,
            (Status::Killed, _) => TrialState::Killed,
            (Status::Pruned, _) => TrialState::Pruned,
            _ => TrialState::Failed,
        }
    }

    /// Normalize: an ok status without a finite loss becomes a failure with the reason stated.
    pub(crate) fn normalized(mut self) -> Self {
        if self.status == Status::Ok {
            match self.loss {
                None => {
                    self.status = Status::Fail;
                    self.message
                        .get_or_insert_with(|| "no loss returned".into());
                }
                Some(l) if !l.is_finite() => {
                    self.status = Status::Fail;
                    self.message = Some(format!("loss is {l}, not a finite number"));
                }
                _ => {}
            }
        }
        self
    }
}

/// Anything an objective may return: a loss, a [`TrialResult`], or a `Result` of either (an
/// `Err` makes a failed trial with the error's text as reason).
pub trait IntoTrialResult {
    /// Convert into a trial result.
    fn into_trial_result(self) -> TrialResult;
}

impl IntoTrialResult for TrialResult {
    fn into_trial_result(self) -> TrialResult {
        self
    }
}
impl IntoTrialResult for f64 {
    fn into_trial_result(self) -> TrialResult {
        TrialResult::ok(self)
    }
}
impl IntoTrialResult for f32 {
    fn into_trial_result(self) -> TrialResult {
        TrialResult::ok(self as f64)
    }
}
impl<T: IntoTrialResult, E: fmt::Display> IntoTrialResult for Result<T, E> {
    fn into_trial_result(self) -> TrialResult {
        match self {
            Ok(t) => t.into_trial_result(),
            Err(e) => TrialResult::fail(e.to_string()),
        }
    }
}

/// One trial of a study: its number, params, state and result, and when it ran.
#[derive(Clone, Debug, Serialize)]
pub struct Trial {
    /// Trial number, from 0, in the order trials were handed out (a resumed study keeps the
    /// numbers it was recorded under, gaps included).
    pub number: usize,
    /// The parameters, typed.
    pub params: Params,
    /// Running, ok, failed, killed or pruned.
    pub state: TrialState,
    /// The loss (ok trials; failed ones may carry one that is ignored; a pruned trial carries
    /// the watched value at its last step).
    pub loss: Option<f64>,
    /// The highest step the trial reported to the study's pruner (`None` if it reported none);
    /// for a pruned trial, the step it was pruned at.
    pub last_step: Option<i64>,
    /// Extra metrics the objective returned.
    pub metrics: BTreeMap<String, f64>,
    /// A message, e.g. why the trial failed.
    pub message: Option<String>,
    /// When the trial was handed out.
    #[serde(serialize_with = "ser_time")]
    pub started: SystemTime,
    /// When its result came in.
    #[serde(serialize_with = "ser_opt_time")]
    pub ended: Option<SystemTime>,
}

/// The metric under which a pruned trial carries its pruner's forecast of its final value, when
/// the pruner trusted the forecast (TPE then ranks the trial among the finished ones by it).
pub const FORECAST: &str = "hpo.forecast";

/// Milliseconds since the Unix epoch (0 for times before it).
pub fn epoch_millis(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
fn ser_time<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(epoch_millis(*t))
}
fn ser_opt_time<S: serde::Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_i64(epoch_millis(*t)),
        None => s.serialize_none(),
    }
}

impl Trial {
    /// The loss if the trial finished ok.
    pub fn ok_loss(&self) -> Option<f64> {
        (self.state == TrialState::Ok)
            .then_some(self.loss)
            .flatten()
    }

    /// How long the trial ran (None while running).
    pub fn duration(&self) -> Option<std::time::Duration> {
        self.ended?.duration_since(self.started).ok()
    }
}

/// The ok trial with the lowest loss (the earliest on ties), if any.
pub fn best_trial(trials: &[Trial]) -> Option<&Trial> {
    trials
        .iter()
        .filter_map(|t| t.ok_loss().map(|l| (l, t)))
        .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.number.cmp(&b.1.number)))
        .map(|(_, t)| t)
}

/// How an algorithm sees one trial of the history.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Observation {
    /// Finished ok with this loss.
    Ok(f64),
    /// Still running (or not yet visible): its params are known, its loss is not.
    Pending,
    /// Failed or killed.
    Failed,
    /// Pruned at `step` (`None`: unknown) with the watched `value` there (NaN: unknown), and
    /// the pruner's `forecast` of its final value when the pruner trusted one (the [`FORECAST`]
    /// metric).
    Pruned {
        /// The pruner's trusted forecast of the final value (`None`: none).
        forecast: Option<f64>,
        /// The step reached.
        step: Option<i64>,
        /// The value at that step.
        value: f64,
    },
}

/// The trials an algorithm may look at when it suggests the next one.
///
/// Trials numbered `visible` and above are shown as pending whatever their real state, so a
/// seeded study gives the same suggestions whatever the thread timing.
#[derive(Clone, Copy, Debug)]
pub struct HistoryView<'a> {
    trials: &'a [Trial],
    visible: usize,
}

impl<'a> HistoryView<'a> {
    /// A view of all trials, each in its real state.
    pub fn new(trials: &'a [Trial]) -> Self {
        HistoryView {
            trials,
            visible: trials.len(),
        }
    }

    /// A view where trials numbered `visible` and above are seen as pending.
    pub fn with_visible(trials: &'a [Trial], visible: usize) -> Self {
        HistoryView { trials, visible }
    }

    /// The trials, in number order.
    pub fn trials(&self) -> &'a [Trial] {
        self.trials
    }

    /// Number of trials (of all states).
    pub fn len(&self) -> usize {
        self.trials.len()
    }

    /// True if there is no trial.
    pub fn is_empty(&self) -> bool {
        self.trials.is_empty()
    }

    /// How trial `i` is seen.
    pub fn observation(&self, i: usize) -> Observation {
        let t = &self.trials[i];
        if i >= self.visible {
            return Observation::Pending;
        }
        match t.state {
            TrialState::Running => Observation::Pending,
            TrialState::Ok => match t.loss {
                Some(l) if l.is_finite() => Observation::Ok(l),
                _ => Observation::Failed,
            },
            TrialState::Failed | TrialState::Killed => Observation::Failed,
            TrialState::Pruned => Observation::Pruned {
                step: t.last_step,
                value: t.loss.unwrap_or(f64::NAN),
                forecast: t.metrics.get(FORECAST).copied().filter(|f| f.is_finite()),
            },
        }
    }

    /// Iterate (trial, observation).
    pub fn iter(&self) -> impl Iterator<Item = (&'a Trial, Observation)> + '_ {
        self.trials
            .iter()
            .enumerate()
            .map(move |(i, t)| (t, self.observation(i)))
    }

    /// Number of trials seen as finished ok.
    pub fn n_ok(&self) -> usize {
        (0..self.trials.len())
            .filter(|&i| matches!(self.observation(i), Observation::Ok(_)))
            .count()
    }
}
