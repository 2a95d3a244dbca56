//! How `hpo run` and `hpo worker` take part in a shared study, over the library's one-call join
//! ([`crate::worker`]): the run file stored with the study (and read back to check the space and
//! to write a lost closer's result), and `--resume` of a study recorded before studies were
//! shared (registered with its trials first).

use serde::{Deserialize, Serialize};

use super::BadInput;
use crate::space::Space;
use crate::tracking::shared::coordinator::{params_json, state_name};
use crate::tracking::shared::{NewSharedStudy, StudyBoard, TrialRow};
use crate::tracking::{ExperimentId, Tracker};
use crate::trial::epoch_millis;
use crate::worker::{Join, StoredStudy, TakenOver, Worker, WorkerError};

/// What a worker needs to run a study, stored with it by its first worker.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(super) struct StudySpec {
    /// The run file's text.
    pub run_file: String,
    /// Where it was read from (the base of relative paths in it).
    pub path: String,
    /// The algorithm (`--algo` or the file's).
    pub algo: String,
    /// The seed, if fixed.
    pub seed: Option<u64>,
    /// The experiment.
    pub experiment: String,
}

/// How `hpo run` and `hpo worker` read a stored study's space and metric back: from its run file.
fn read_spec(stored: &str) -> Option<StoredStudy> {
    let spec: StudySpec = serde_json::from_str(stored).ok()?;
    let rf = crate::runfile::RunFile::parse(&spec.run_file, &spec.path).ok()?;
    Some(StoredStudy {
        space: rf.space,
        metric: rf.study.metric,
        source: Some(spec.path),
    })
}

/// What `hpo run` joins a study with.
pub(super) struct JoinArgs<'a> {
    /// The study's name.
    pub study_name: &'a str,
    /// The search space.
    pub space: &'a Space,
    /// The loss metric.
    pub metric: &'a str,
    /// The metric the pruner watches, if there is a pruner.
    pub prune_metric: Option<String>,
    /// The run file and settings, stored with the study.
    pub spec: &'a StudySpec,
    /// The budget.
    pub max_evals: usize,
    /// Retries of lost trials.
    pub retries: usize,
    /// `--resume`.
    pub resume: bool,
}

/// Joins (or registers) the study on the tracker's board (see [`crate::worker`]); `None` when
/// the store cannot share a study (the caller runs the study alone).
pub(super) fn join(tracker: &Tracker, a: &JoinArgs<'_>) -> anyhow::Result<Option<Worker>> {
    let Ok(board) = tracker.store().study_board() else {
        return Ok(None);
    };
    let experiment = &a.spec.experiment;
    let spec = serde_json::to_string(a.spec)?;
    if a.resume {
        let experiment_id = tracker.get_or_create_experiment(experiment)?;
        if board.find(experiment_id, a.study_name)?.is_none() {
            adopt_legacy(tracker, &*board, experiment_id, a, &spec)?;
        }
    }
    let mut join = Join::new(tracker, a.study_name, a.space)
        .experiment(experiment)
        .max_evals(a.max_evals)
        .retries(a.retries)
        .metric(a.metric)
        .spec(&spec, read_spec)
        .resume(a.resume);
    if let Some(m) = &a.prune_metric {
        join = join.prune_metric(m);
    }
    let worker = join.join().map_err(|e| -> anyhow::Error {
        match e {
            WorkerError::OtherSpace { .. } => BadInput(e.to_string()).into(),
            WorkerError::AnotherActive { .. } => BadInput(format!("--resume: {e}")).into(),
            other => other.into(),
        }
    })?;
    if let Some(t) = worker.taken_over() {
        say_taken_over(a.study_name, t);
    }
    if !worker.created() && worker.max_evals() != a.max_evals && !a.resume {
        eprintln!(
            "note: joining study '{}' (run {}), whose budget is {} trials across all its workers",
            a.study_name,
            worker.study_run_id(),
            worker.max_evals()
        );
    }
    Ok(Some(worker))
}

/// `--resume` of a study recorded before studies were shared: read back under its lease (an
/// older hpo may still run it), then registered with its trials, active.
fn adopt_legacy(
    tracker: &Tracker,
    board: &dyn StudyBoard,
    experiment_id: ExperimentId,
    a: &JoinArgs<'_>,
    spec: &str,
) -> anyhow::Result<()> {
    let Some(super::resume::Resumed { study, lease }) =
        super::resume::resume_study(tracker, &a.spec.experiment, a.study_name, a.space, a.metric)?
    else {
        return Ok(());
    };
    let rows: Vec<TrialRow> = study
        .trials
        .iter()
        .map(|t| TrialRow {
            number: t.number as i64,
            run_id: study.runs.get(&t.number).cloned(),
            state: state_name(t.state).to_string(),
            loss: t.loss,
            params: Some(params_json(&t.params)),
            last_step: t.last_step,
            message: t.message.clone(),
            worker: String::new(),
            started_ms: epoch_millis(t.started),
            ended_ms: t.ended.map(epoch_millis),
            retry_of: None,
            attempt: 0,
        })
        .collect();
    let next = study.trials.last().map_or(0, |t| t.number as i64 + 1);
    let adopted = NewSharedStudy {
        study_run_id: study.parent.clone(),
        max_evals: a.max_evals as i64,
        retries: a.retries as i64,
        spec: spec.to_string(),
    };
    board.adopt(experiment_id, a.study_name, &adopted, &rows, next)?;
    lease.release()?;
    Ok(())
}

/// The spec of the active (else latest) study named `study_name` in the experiment, for `hpo
/// worker`.
pub(super) fn stored_spec(
    tracker: &Tracker,
    experiment_id: ExperimentId,
    study_name: &str,
) -> anyhow::Result<Option<(StudySpec, bool)>> {
    let board = tracker.store().study_board()?;
    let Some(row) = board.find(experiment_id, study_name)? else {
        return Ok(None);
    };
    let spec: StudySpec = serde_json::from_str(&row.spec).map_err(|e| {
        anyhow::anyhow!("the stored settings of study '{study_name}' are unreadable: {e}")
    })?;
    Ok(Some((spec, row.active)))
}

/// `hpo worker` of a study that ended: writes its result if its last worker was lost before
/// writing it, by joining nothing new (see [`crate::worker`]).
pub(super) fn finish_orphaned(tracker: &Tracker, experiment: &str, study_name: &str) {
    let Ok(board) = tracker.store().study_board() else {
        return;
    };
    let Ok(experiment_id) = tracker.get_or_create_experiment(experiment) else {
        return;
    };
    let taken = crate::worker::finish_orphaned(
        tracker,
        &board,
        experiment_id,
        experiment,
        study_name,
        read_spec,
    );
    if let Some(t) = taken {
        say_taken_over(study_name, &t);
    }
}

/// Says on standard error that this process wrote (or failed to write) the result of a study
/// whose last worker was lost.
fn say_taken_over(study_name: &str, t: &TakenOver) {
    match &t.error {
        None => eprintln!(
            "note: study '{study_name}' (run {}) had ended without its result (the worker {} \
             that ended it was lost); its result is recorded now",
            t.study_run_id, t.closed_by
        ),
        Some(e) => eprintln!(
            "warning: study '{study_name}' (run {}) ended without its result, and writing it \
             failed (the next worker of this study tries again): {e}",
            t.study_run_id
        ),
    }
}
