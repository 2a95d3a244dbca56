//! The [`Recorder`]: an fmin observer that records a study as a parent run with one child run
//! per trial.
//!
//! - The study is a parent run (tag `hpo.runType` = `study`, tag `hpo.metric` = the loss metric's
//!   name, tag `hpo.distributions` = each parameter's distribution, for the UI's axes) with the algorithm, its settings, the seed, the budget and the parallelism as params.
//! - Each trial is a child run (tag `hpo.runType` = `trial`, `hpo.trialNumber`) created RUNNING
//!   when the trial starts, with the trial's params (nested choices flattened to their labels; a
//!   choice over sub-spaces logs its option index). What the objective reports through its
//!   `TrialContext` (metrics with steps, tags, artifacts) lands in that run as it happens.
//! - When the trial ends, its loss is logged under the chosen metric name (`loss` by default),
//!   with the extra metrics and `duration_s`, in one transaction; the run becomes FINISHED (ok),
//!   FAILED (with `hpo.failureReason`) or KILLED.
//! - When the study ends, the parent run gets `best_<metric>`, the tags `hpo.bestRunId` and
//!   `hpo.bestTrial`, and the best params as tags prefixed `best.` (tags, because a resumed
//!   study may find a better trial), ready to register.
//!
//! Trials are written with group commits (see the store's `create_run_queued`): many trials
//! share one transaction, committed at most 20 ms later, and always before the study ends. When
//! the objective runs in another process (a command, which may log into its run through
//! `HPO_RUN_ID`), each trial's run is committed before the trial starts.
//!
//! Observers cannot fail the study, so storage errors are collected: read them from the
//! [`RecorderHandle`] after the run.
//!
//! **When recording fails** (a write fails at the call, a queued write fails when committed, e.g.
//! on a full disk, or the store's file is deleted), the recorder stops the study at the next
//! trial's end ([`StopReason::Stopped`] with "recording failed: ..."): trials in flight finish,
//! no new one is handed out. At the study's end, after the last commit, it works out which
//! trials are not (fully) in the store ([`RecorderHandle::recording_failure`]) and names as the
//! study's best only a trial whose run it read back from the store
//! ([`RecorderHandle::recorded_best`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{
    ExperimentId, Metric, NewRun, Param, RecordingFailure, RunId, RunStatus, RunTag, StoreError,
    Tracker, TrackingError,
};
use crate::space::Value;
use crate::study::{Control, Observer, StopReason, StudyInfo, TrialReport};
use crate::trial::{epoch_millis, Trial, TrialState};

/// Tag naming the kind of an hpo run: `study` or `trial`.
pub const TAG_RUN_TYPE: &str = "hpo.runType";
/// Tag on a study run naming its loss metric.
pub const TAG_METRIC: &str = "hpo.metric";
/// Tag on a study run: the best trial's run id.
pub const TAG_BEST_RUN_ID: &str = "hpo.bestRunId";
/// Tag on a study run: the best trial's number.
pub const TAG_BEST_TRIAL: &str = "hpo.bestTrial";
/// Tag on a trial run: its number in the study.
pub const TAG_TRIAL_NUMBER: &str = "hpo.trialNumber";
/// Tag on a failed trial run: why it failed.
pub const TAG_FAILURE_REASON: &str = "hpo.failureReason";
/// Tag on a trial run: files of its artifact directory that were not kept (not regular files).
pub const TAG_SKIPPED_ARTIFACTS: &str = "hpo.skippedArtifacts";
/// Tag on a study run: why it stopped.
pub const TAG_STOP_REASON: &str = "hpo.stopReason";
/// Tag on a pruned trial run (status KILLED): `PRUNED`.
pub const TAG_STATE: &str = "hpo.state";
/// Tag on a pruned trial run: the step it was pruned at.
pub const TAG_PRUNED_STEP: &str = "hpo.prunedStep";
/// Tag on a pruned trial run: the watched metric's value at that step.
pub const TAG_PRUNED_VALUE: &str = "hpo.prunedValue";
/// Tag of a study run: its space's distribution per parameter label, as a JSON object
/// (`{"lr": "loguniform", "kind": "choice"}`); left out when longer than a tag may be.
pub const TAG_DISTRIBUTIONS: &str = "hpo.distributions";
/// The value of [`TAG_STATE`] on a pruned trial run.
pub const STATE_PRUNED: &str = "PRUNED";

#[derive(Default)]
struct Shared {
    parent: Option<RunId>,
    runs: HashMap<usize, RunId>,
    errors: Vec<TrackingError>,
    /// The first recording failure seen (`None` while everything landed).
    failed: Option<String>,
    /// Trials a write failed for at the call (queued writes are in the store's failure log).
    unrecorded: BTreeSet<usize>,
    /// Whether a write of the study's own run failed at the call.
    study_incomplete: bool,
    /// What was not stored, set when the study ended.
    outcome: Option<RecordingFailure>,
    /// The best trial, read back from the store when the study ended.
    best: Option<usize>,
}

/// What a failed write was for.
#[derive(Clone, Copy)]
enum Target {
    /// The study's own run.
    Study,
    /// A trial's run.
    Trial(usize),
    /// Earlier queued writes (a flush reporting them): the store's failure log names their runs.
    Queued,
}

/// Read the recorder's state after (or during) a study: the study's run id, each trial's run
/// id, and any storage errors.
#[derive(Clone, Default)]
pub struct RecorderHandle(Arc<Mutex<Shared>>);

impl RecorderHandle {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        // a panic while holding the lock cannot leave the maps inconsistent: recover the data
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The study's (parent) run id, once the study started.
    pub fn study_run_id(&self) -> Option<RunId> {
        self.lock().parent.clone()
    }

    /// The run id of trial `number`.
    pub fn trial_run_id(&self, number: usize) -> Option<RunId> {
        self.lock().runs.get(&number).cloned()
    }

    /// Note a failure to write the study's shared records (a shared study's board is part of the
    /// store): the study is then reported as not fully recorded, with `why` as the reason, and
    /// `study_incomplete` says the study run's result could not be written.
    pub fn note_failure(&self, why: &str, study_incomplete: bool) {
        let mut shared = self.lock();
        shared.failed.get_or_insert_with(|| why.to_string());
        shared.study_incomplete |= study_incomplete;
    }

    /// Note the run of trial `number`, recorded by another worker of a shared study.
    pub fn add_trial_run(&self, number: usize, run_id: &str) {
        self.lock()
            .runs
            .entry(number)
            .or_insert_with(|| run_id.to_string());
    }

    /// Storage errors met while recording (empty if everything was written).
    pub fn errors(&self) -> Vec<String> {
        self.lock().errors.iter().map(|e| e.to_string()).collect()
    }

    /// What the study's recording failed to store, once the study ended (`None` if every trial
    /// and the study's run are in the store).
    pub fn recording_failure(&self) -> Option<RecordingFailure> {
        self.lock().outcome.clone()
    }

    /// The number of the best trial whose run was read back from the store (finished, with its
    /// loss) when the study ended; `None` before the end, or if no ok trial is in the store. It
    /// differs from the study's best trial only when recording failed.
    pub fn recorded_best(&self) -> Option<usize> {
        self.lock().best
    }
}

/// Records a study into a [`Tracker`]: see the module documentation.
pub struct Recorder {
    tracker: Tracker,
    experiment: ExperimentId,
    study_name: Option<String>,
    metric: String,
    /// Extra tags the study run is created with (e.g. its lease).
    study_tags: Vec<RunTag>,
    shared: RecorderHandle,
    /// Commit each trial's run before the trial starts (the objective is another process that
    /// may log into it through `HPO_RUN_ID`).
    flush_before_trials: bool,
    /// The store's failure count and failed writes when the study started: only later failures
    /// are this study's.
    baseline: (usize, usize),
    /// The id to create the study's run with (a shared study registered before its run).
    study_run_to_create: Option<RunId>,
    /// A shared study: whether this worker ends the study, and then all its trials.
    closer: Option<super::shared::coordinator::StudyCloser>,
}

fn value_string(v: &Value) -> String {
    v.to_string()
}

impl Recorder {
    /// Record into experiment `experiment` (created if missing) of `tracker`.
    pub fn new(tracker: &Tracker, experiment: &str) -> Result<Recorder, TrackingError> {
        let experiment = tracker.get_or_create_experiment(experiment)?;
        Ok(Recorder {
            tracker: tracker.clone(),
            experiment,
            study_name: None,
            metric: "loss".into(),
            study_tags: Vec::new(),
            shared: RecorderHandle::default(),
            flush_before_trials: false,
            baseline: (0, 0),
            study_run_to_create: None,
            closer: None,
        })
    }

    /// Continue an earlier study: record into its parent run `study_run_id`, whose trials
    /// `runs` (trial number -> run id) are already recorded; the study must be given those
    /// trials as prior trials, in the same order.
    pub fn resume(self, study_run_id: &str, runs: HashMap<usize, RunId>) -> Self {
        {
            let mut shared = self.shared.lock();
            shared.parent = Some(study_run_id.to_string());
            shared.runs = runs;
        }
        self
    }

    /// Create the study's run with this id (a shared study registered under it).
    pub fn study_run_id(mut self, run_id: &str) -> Self {
        self.study_run_to_create = Some(run_id.to_string());
        self
    }

    /// Record one worker's part of a shared study: at its end, the study's run gets its result
    /// (best trial, status) only from the worker that `closer` says ends the study, computed
    /// over every worker's trials. The study must run with the coordinator `closer` came from:
    /// when its start commits each trial's run
    /// ([`StudyCloser::start_commits_trial_runs`](super::shared::coordinator::StudyCloser::start_commits_trial_runs)),
    /// the recorder leaves that commit to it.
    pub fn shared(mut self, closer: super::shared::coordinator::StudyCloser) -> Self {
        self.closer = Some(closer);
        self
    }

    /// Name the study's parent run (default: `study-<seed>`).
    pub fn study_name(mut self, name: &str) -> Self {
        self.study_name = Some(name.to_string());
        self
    }

    /// Extra tags to create a new study run with, in the same transaction as the run (e.g. its
    /// [lease](super::lease)); not used when resuming.
    pub fn study_tags(mut self, tags: Vec<RunTag>) -> Self {
        self.study_tags = tags;
        self
    }

    /// The metric name under which each trial's loss is logged (default `loss`).
    pub fn metric(mut self, name: &str) -> Self {
        self.metric = name.to_string();
        self
    }

    /// The experiment the study is recorded in.
    pub fn experiment_id(&self) -> ExperimentId {
        self.experiment
    }

    /// A handle to read the run ids and errors after the study.
    pub fn handle(&self) -> RecorderHandle {
        self.shared.clone()
    }

    /// The value of a write, or `None` after keeping its error as a recording failure of
    /// `target`.
    fn keep<T>(&self, target: Target, r: Result<T, TrackingError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                let mut shared = self.shared.lock();
                shared.failed.get_or_insert_with(|| match &e {
                    // the count goes in the report; the reason is what failed
                    TrackingError::Store(StoreError::QueuedWritesFailed { first, .. }) => {
                        first.clone()
                    }
                    other => other.to_string(),
                });
                match target {
                    Target::Study => shared.study_incomplete = true,
                    Target::Trial(n) => {
                        shared.unrecorded.insert(n);
                    }
                    Target::Queued => {}
                }
                shared.errors.push(e);
                None
            }
        }
    }

    /// Why recording failed, if it did: a write failed at the call, or the store logged a
    /// failed queued write or the loss of its file.
    fn failure(&self) -> Option<String> {
        if let Some(why) = self.shared.lock().failed.clone() {
            return Some(why);
        }
        if self.tracker.write_failure_count() == self.baseline.0 {
            return None;
        }
        let failures = self.tracker.write_failures();
        let why = match self.baseline.1 {
            0 => failures.file_lost.or(failures.first),
            _ => failures.file_lost.or(failures.last),
        }?;
        Some(self.shared.lock().failed.get_or_insert(why).clone())
    }

    fn run_of(&self, number: usize) -> Option<RunId> {
        self.shared.trial_run_id(number)
    }
}

impl Observer for Recorder {
    fn on_study_start(&mut self, info: &StudyInfo<'_>) {
        // the shared study's coordinator may commit each trial's run with the trial's start
        // (right after `on_trial_start`): no flush of its own is needed then
        let start_commits_runs = self
            .closer
            .as_ref()
            .is_some_and(|c| c.start_commits_trial_runs());
        self.flush_before_trials = info.objective_runs_elsewhere && !start_commits_runs;
        let before = self.tracker.write_failures();
        self.baseline = (self.tracker.write_failure_count(), before.failed_writes);
        if let Some(lost) = before.file_lost {
            // nothing this study writes would be kept
            self.shared.lock().failed = Some(lost);
        }
        if let Some(parent) = self.shared.study_run_id() {
            // resuming: the parent run exists; mark it running again
            let r = self.tracker.set_status(&parent, RunStatus::Running);
            self.keep(Target::Study, r);
            return;
        }
        let name = self
            .study_name
            .clone()
            .unwrap_or_else(|| format!("study-{}", info.seed));
        let mut tags = vec![
            RunTag::new(TAG_RUN_TYPE, "study"),
            RunTag::new(TAG_METRIC, self.metric.clone()),
        ];
        let distributions: serde_json::Map<String, serde_json::Value> = info
            .space
            .params()
            .iter()
            .map(|p| (p.label.clone(), p.dist_name.into()))
            .collect();
        let distributions = serde_json::Value::Object(distributions).to_string();
        if distributions.len() <= super::store::MAX_TAG_VALUE_LEN {
            tags.push(RunTag::new(TAG_DISTRIBUTIONS, distributions));
        }
        tags.extend(self.study_tags.iter().cloned());
        let run = self.tracker.create_run_with(NewRun {
            run_id: self.study_run_to_create.clone(),
            experiment_id: self.experiment,
            run_name: Some(name),
            tags,
            ..NewRun::default()
        });
        let Some(run) = self.keep(Target::Study, run) else {
            return;
        };
        let mut params = vec![
            Param::new("algo", info.algorithm.clone()),
            Param::new("seed", info.seed.to_string()),
            Param::new("max_evals", info.max_evals.to_string()),
            Param::new("parallelism", info.parallelism.to_string()),
            Param::new("n_params", info.space.len().to_string()),
        ];
        params.extend(
            info.settings
                .iter()
                .map(|(k, v)| Param::new(format!("algo.{k}"), value_string(v))),
        );
        let r = self
            .tracker
            .log_batch_chunked(&run.run_id, &params, &[], &[]);
        self.keep(Target::Study, r);
        self.shared.lock().parent = Some(run.run_id);
    }

    fn on_trial_start(&mut self, trial: &Trial) {
        let Some(parent) = self.shared.study_run_id() else {
            return;
        };
        let params: Vec<Param> = trial
            .params
            .flat()
            .iter()
            .map(|(k, v)| Param::new(k.clone(), value_string(v)))
            .collect();
        // the run and its params in one transaction when they fit in one batch
        let fits = params.len() <= super::store::MAX_PARAMS_PER_BATCH;
        let (with_run, later) = if fits {
            (params, Vec::new())
        } else {
            (Vec::new(), params)
        };
        let run = self.tracker.create_run_queued(NewRun {
            experiment_id: self.experiment,
            run_name: Some(format!("trial-{}", trial.number)),
            parent_run_id: Some(parent),
            start_time: Some(epoch_millis(trial.started)),
            tags: vec![
                RunTag::new(TAG_RUN_TYPE, "trial"),
                RunTag::new(TAG_TRIAL_NUMBER, trial.number.to_string()),
            ],
            params: with_run,
            ..NewRun::default()
        });
        let n = trial.number;
        let Some(run) = self.keep(Target::Trial(n), run) else {
            return;
        };
        if !fits {
            let r = self
                .tracker
                .log_batch_chunked(&run.run_id, &later, &[], &[]);
            self.keep(Target::Trial(n), r);
        }
        if self.flush_before_trials {
            let r = self.tracker.flush();
            self.keep(Target::Queued, r);
        }
        self.shared.lock().runs.insert(trial.number, run.run_id);
    }

    fn trial_attributes(&self, number: usize) -> Vec<(String, String)> {
        self.run_of(number)
            .map(|run| vec![("run_id".to_string(), run)])
            .unwrap_or_default()
    }

    fn on_trial_report(&mut self, trial: &Trial, report: &TrialReport) {
        let Some(run) = self.run_of(trial.number) else {
            return;
        };
        let mut skipped = Vec::new();
        let r = match report {
            TrialReport::Metric { key, value, step } => {
                let point = [Metric::new(key.clone(), *value, *step)];
                self.tracker.log_batch_queued(&run, &[], &point, &[])
            }
            TrialReport::Tag { key, value } => {
                let tag = [RunTag::new(key.clone(), value.clone())];
                self.tracker.log_batch_queued(&run, &[], &[], &tag)
            }
            TrialReport::Artifact {
                local_path,
                artifact_path,
            } => self.tracker.artifacts(&run).and_then(|store| {
                let dest = (!artifact_path.is_empty()).then_some(artifact_path.as_str());
                if local_path.is_dir() {
                    store.log_dir_report(local_path, dest).map(|logged| {
                        skipped = logged.skipped;
                    })
                } else {
                    store.log_file(local_path, dest).map(|_| ())
                }
                .map_err(TrackingError::from)
            }),
        };
        self.keep(Target::Trial(trial.number), r);
        if !skipped.is_empty() {
            // FIFOs, sockets and devices are never copied: say which were left out
            let list: Vec<String> = skipped.iter().map(|(p, k)| format!("{p} ({k})")).collect();
            let tag = [RunTag::new(
                TAG_SKIPPED_ARTIFACTS,
                truncate(&list.join(", "), 8000),
            )];
            let r = self.tracker.log_batch_queued(&run, &[], &[], &tag);
            self.keep(Target::Trial(trial.number), r);
        }
    }

    fn on_trial_end(&mut self, trial: &Trial, _trials: &[Trial]) -> Control {
        let Some(run) = self.run_of(trial.number) else {
            return match self.failure() {
                Some(why) => Control::Stop(format!("recording failed: {why}")),
                None => Control::Continue,
            };
        };
        let mut metrics = Vec::new();
        let pruned = trial.state == TrialState::Pruned;
        // a pruned trial has no final loss: its value is an intermediate one (a tag below)
        if let (false, Some(loss)) = (pruned, trial.loss) {
            metrics.push(Metric::new(self.metric.clone(), loss, 0));
        }
        metrics.extend(
            trial
                .metrics
                .iter()
                .map(|(k, v)| Metric::new(k.clone(), *v, 0)),
        );
        if let Some(d) = trial.duration() {
            metrics.push(Metric::new("duration_s", d.as_secs_f64(), 0));
        }
        let mut tags = Vec::new();
        if let (false, Some(m)) = (trial.state == TrialState::Ok, &trial.message) {
            tags.push(RunTag::new(TAG_FAILURE_REASON, truncate(m, 8000)));
        }
        if pruned {
            tags.push(RunTag::new(TAG_STATE, STATE_PRUNED));
            if let Some(step) = trial.last_step {
                tags.push(RunTag::new(TAG_PRUNED_STEP, step.to_string()));
            }
            if let Some(v) = trial.loss {
                tags.push(RunTag::new(TAG_PRUNED_VALUE, v.to_string()));
            }
        }
        let status = match trial.state {
            TrialState::Ok => RunStatus::Finished,
            TrialState::Killed | TrialState::Pruned => RunStatus::Killed,
            _ => RunStatus::Failed,
        };
        let end = trial.ended.map(epoch_millis);
        // final metrics, tags and status in one queued write when they fit in one batch
        let r = if metrics.len() <= super::store::MAX_METRICS_PER_BATCH {
            self.tracker
                .finish_run_queued(&run, &metrics, &tags, status, end)
        } else {
            self.tracker
                .log_batch_chunked(&run, &[], &metrics, &tags)
                .and_then(|_| self.tracker.set_terminated(&run, status, end))
                .map(|_| ())
        };
        self.keep(Target::Trial(trial.number), r);
        match self.failure() {
            Some(why) => Control::Stop(format!("recording failed: {why}")),
            None => Control::Continue,
        }
    }

    fn on_study_end(&mut self, trials: &[Trial], reason: &StopReason) {
        let Some(parent) = self.shared.study_run_id() else {
            // the study's run was never created: nothing of the study is in the store
            self.settle(trials, None);
            return;
        };
        // commit what is still queued, so the trials' records can be checked
        let r = self.tracker.flush();
        self.keep(Target::Queued, r);
        // a shared study's run is ended by the one worker that ends the study, over every
        // worker's trials
        let all;
        let trials = match &self.closer {
            None => trials,
            Some(closer) => match closer.close(reason) {
                Some(every) => {
                    all = every;
                    &all[..]
                }
                None => {
                    // the study goes on (or another worker ends it): this worker's best is the
                    // best it saw
                    let seen = crate::trial::best_trial(trials).map(|t| t.number);
                    self.settle(trials, seen);
                    return;
                }
            },
        };
        let mut unrecorded = self.unrecorded_trials(trials);
        let best = self.stored_best(trials, &mut unrecorded);
        let mut tags = vec![RunTag::new(TAG_STOP_REASON, reason.to_string())];
        let mut metrics = vec![Metric::new("n_trials", trials.len() as f64, 0)];
        if let Some(best) = best {
            if let Some(l) = best.loss {
                metrics.push(Metric::new(format!("best_{}", self.metric), l, 0));
            }
            tags.push(RunTag::new(TAG_BEST_TRIAL, best.number.to_string()));
            if let Some(run) = self.run_of(best.number) {
                tags.push(RunTag::new(TAG_BEST_RUN_ID, run));
            }
            tags.extend(
                best.params
                    .flat()
                    .iter()
                    .map(|(k, v)| RunTag::new(format!("best.{k}"), value_string(v))),
            );
        }
        let failed = self.failure();
        if let Some(why) = &failed {
            let why = format!("recording failed: {why}");
            tags.push(RunTag::new(TAG_FAILURE_REASON, truncate(&why, 8000)));
        }
        let r = self
            .tracker
            .log_batch_chunked(&parent, &[], &metrics, &tags);
        self.keep(Target::Study, r);
        let status = if matches!(reason, StopReason::Interrupted(_)) {
            RunStatus::Killed
        } else if best.is_some() && failed.is_none() {
            RunStatus::Finished
        } else {
            RunStatus::Failed
        };
        let r = self.tracker.set_terminated(&parent, status, None);
        let terminated = self.keep(Target::Study, r).is_some();
        // report the queued writes that failed when committed (and a lost file)
        let r = self.tracker.flush();
        let flushed = self.keep(Target::Queued, r).is_some();
        if let (Some(closer), true) = (&self.closer, terminated && flushed) {
            // this worker ended the shared study: its result is no longer pending
            closer.written();
        }
        self.settle(trials, best.map(|b| b.number));
    }
}

impl Recorder {
    /// The trials whose record is missing or incomplete: a write for them failed at the call or
    /// when committed; all of them if the store's file was lost.
    fn unrecorded_trials(&self, trials: &[Trial]) -> BTreeSet<usize> {
        let failures = self.tracker.write_failures();
        let shared = self.shared.lock();
        if failures.file_lost.is_some() || shared.parent.is_none() {
            return trials.iter().map(|t| t.number).collect();
        }
        let mut unrecorded = shared.unrecorded.clone();
        if !failures.runs.is_empty() {
            let by_run: HashMap<&str, usize> = shared
                .runs
                .iter()
                .map(|(n, run)| (run.as_str(), *n))
                .collect();
            unrecorded.extend(failures.runs.iter().filter_map(|r| by_run.get(r.as_str())));
        }
        unrecorded
    }

    /// The best ok trial outside `unrecorded` whose run reads back from the store finished and
    /// with its loss; a trial whose run does not is added to `unrecorded`. A trial without a run
    /// (a warm start's prior trial) is taken as it is while recording has not failed.
    fn stored_best<'t>(
        &self,
        trials: &'t [Trial],
        unrecorded: &mut BTreeSet<usize>,
    ) -> Option<&'t Trial> {
        // a store that lost a few runs may need a few more reads; past that, name no best
        for _ in 0..MAX_BEST_READS {
            let best = trials
                .iter()
                .filter(|t| !unrecorded.contains(&t.number))
                .filter_map(|t| t.ok_loss().map(|l| (l, t)))
                .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.number.cmp(&b.1.number)))
                .map(|(_, t)| t)?;
            let Some(run) = self.run_of(best.number) else {
                if self.failure().is_none() {
                    return Some(best);
                }
                // with recording failed, only a trial read back counts
                unrecorded.insert(best.number);
                continue;
            };
            let stored = self.tracker.get_run(&run).map(|r| {
                r.info.status == RunStatus::Finished && r.data.metric(&self.metric).is_some()
            });
            match stored {
                Ok(true) => return Some(best),
                Ok(false) => {
                    let why = format!(
                        "trial {}'s run {run} is not stored as finished",
                        best.number
                    );
                    self.shared.lock().failed.get_or_insert(why);
                }
                Err(e) => {
                    self.keep::<()>(Target::Trial(best.number), Err(e));
                }
            }
            self.shared.lock().unrecorded.insert(best.number);
            unrecorded.insert(best.number);
        }
        None
    }

    /// Records the outcome: the best trial in the store and, if recording failed, what is missing.
    fn settle(&self, trials: &[Trial], best: Option<usize>) {
        let failed = self.failure();
        let failures = self.tracker.write_failures();
        let unrecorded = self.unrecorded_trials(trials);
        let lost = failures.file_lost.is_some();
        let mut shared = self.shared.lock();
        shared.best = best.filter(|b| !lost && !unrecorded.contains(b));
        let Some(reason) = failed else {
            return;
        };
        let study_run_incomplete = lost
            || shared.study_incomplete
            || shared
                .parent
                .as_ref()
                .is_none_or(|p| failures.runs.iter().any(|r| r == p));
        shared.outcome = Some(RecordingFailure {
            reason,
            trials: unrecorded.into_iter().collect(),
            total_trials: trials.len(),
            failed_writes: failures.failed_writes - self.baseline.1,
            study_run_incomplete,
        });
    }
}

/// How many runs the recorder reads back at most to find the best trial in the store.
const MAX_BEST_READS: usize = 10;

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}
