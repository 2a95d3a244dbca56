//! How `hpo run` and `hpo worker` take part in a shared study (see
//! [`crate::tracking::shared`]): join the active study of the experiment with this name or
//! register a new one; with `--resume`, make the latest one active again (registering a study
//! recorded by an older hpo, with its trials, first).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::BadInput;
use crate::space::Space;
use crate::tracking::shared::coordinator::{params_json, state_name};
use crate::tracking::shared::{NewSharedStudy, StudyBoard, TrialRow};
use crate::tracking::{ExperimentId, Tracker};
use crate::trial::epoch_millis;

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

/// A study this process takes part in.
pub(super) struct Joined {
    /// The board it is shared on.
    pub board: Arc<dyn StudyBoard>,
    /// The study's run.
    pub study_run_id: String,
    /// Whether this process registered it (and creates its run).
    pub created: bool,
    /// The study's budget across all workers.
    pub max_evals: usize,
}

/// How long a worker waits for the run of a study another worker registered a moment ago.
const RUN_WAIT: Duration = Duration::from_secs(30);

/// Joins (or registers) the study `study_name` of `experiment` on the tracker's board; `None`
/// when the store cannot share studies (the caller runs the study alone).
#[allow(clippy::too_many_arguments)]
pub(super) fn join(
    tracker: &Tracker,
    experiment_id: ExperimentId,
    study_name: &str,
    space: &Space,
    metric: &str,
    spec: &StudySpec,
    max_evals: usize,
    retries: usize,
    resume: bool,
) -> anyhow::Result<Option<Joined>> {
    let Ok(board) = tracker.store().study_board() else {
        return Ok(None);
    };
    finish_orphaned(tracker, &board, experiment_id, &spec.experiment, study_name);
    let new = NewSharedStudy {
        study_run_id: crate::tracking::sqlite::new_run_id(),
        max_evals: max_evals as i64,
        retries: retries as i64,
        spec: serde_json::to_string(spec)?,
    };
    if resume {
        reopen(
            tracker,
            &*board,
            experiment_id,
            study_name,
            space,
            metric,
            &new,
            &spec.experiment,
        )?;
    }
    let (row, created) = board.join(experiment_id, study_name, &new)?;
    if !created {
        same_space(&row.spec, space, study_name, &row.study_run_id)?;
        if row.max_evals != max_evals as i64 && !resume {
            eprintln!(
                "note: joining study '{study_name}' (run {}), whose budget is {} trials across all its workers",
                row.study_run_id, row.max_evals
            );
        }
        wait_for_run(tracker, &row.study_run_id)?;
    }
    Ok(Some(Joined {
        board,
        study_run_id: row.study_run_id,
        created,
        max_evals: usize::try_from(row.max_evals).unwrap_or(0),
    }))
}

/// `--resume`: makes the latest study of this name active again with the new budget, unless one
/// is active already; a study recorded before studies were shared is registered with its trials.
#[allow(clippy::too_many_arguments)]
fn reopen(
    tracker: &Tracker,
    board: &dyn StudyBoard,
    experiment_id: ExperimentId,
    study_name: &str,
    space: &Space,
    metric: &str,
    new: &NewSharedStudy,
    experiment: &str,
) -> anyhow::Result<()> {
    if let Some(row) = board.find(experiment_id, study_name)? {
        // trials whose runs were deleted are no longer part of the study
        let live: std::collections::HashSet<String> = tracker
            .child_run_ids(&row.study_run_id)?
            .into_iter()
            .collect();
        let (rows, _) = board.changes(&row.study_run_id, 0)?;
        let gone: Vec<i64> = rows
            .iter()
            .filter(|t| t.state != "RUNNING")
            .filter(|t| t.run_id.as_ref().is_none_or(|r| !live.contains(r)))
            .map(|t| t.number)
            .collect();
        board.forget(&row.study_run_id, &gone)?;
        if !board.reactivate(&row.study_run_id, new.max_evals)? {
            return Err(BadInput(format!(
                "--resume: another study named '{study_name}' is running in this experiment"
            ))
            .into());
        }
        return Ok(());
    }
    // a study recorded before studies were shared: read back under its lease (an older hpo may
    // still run it), then registered with its trials
    let Some(super::resume::Resumed { study, lease }) =
        super::resume::resume_study(tracker, experiment, study_name, space, metric)?
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
        max_evals: new.max_evals,
        retries: new.retries,
        spec: new.spec.clone(),
    };
    board.adopt(experiment_id, study_name, &adopted, &rows, next)?;
    lease.release()?;
    Ok(())
}

/// A study is joined only with the search space it runs: trials of another space would not fit
/// its history.
fn same_space(stored: &str, space: &Space, study_name: &str, run_id: &str) -> anyhow::Result<()> {
    let Ok(spec) = serde_json::from_str::<StudySpec>(stored) else {
        return Ok(());
    };
    let Ok(theirs) = crate::runfile::RunFile::parse(&spec.run_file, &spec.path) else {
        return Ok(());
    };
    let json = |s: &Space| super::space_json::node_json(s.root());
    if json(&theirs.space) != json(space) {
        return Err(BadInput(format!(
            "study '{study_name}' (run {run_id}) is running with another search space (from {}); \
             give this study another name ([study] name, or --experiment) or run it once that one ends",
            spec.path
        ))
        .into());
    }
    Ok(())
}

/// Waits until the run of a study registered by another worker exists (it creates it right
/// after registering).
fn wait_for_run(tracker: &Tracker, run_id: &str) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        match tracker.get_run(run_id) {
            Ok(_) => return Ok(()),
            Err(_) if start.elapsed() < RUN_WAIT => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "the study's run {run_id} was registered by another worker but not created within {} s: {e}",
                    RUN_WAIT.as_secs()
                ))
            }
        }
    }
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

/// Writes the result of the latest study named `study_name` if it ended but the worker that
/// ended it was lost before writing it (see
/// [`StudyBoard::take_over_result`](crate::tracking::shared::StudyBoard::take_over_result)), so
/// its run does not stay RUNNING; says so on standard error. A failure is reported and leaves
/// the result pending for the next worker.
pub(super) fn finish_orphaned(
    tracker: &Tracker,
    board: &Arc<dyn StudyBoard>,
    experiment_id: ExperimentId,
    experiment: &str,
    study_name: &str,
) {
    if let Err(e) = take_over(tracker, board, experiment_id, experiment, study_name) {
        eprintln!(
            "warning: study '{study_name}' ended without its result, and writing it failed \
             (the next worker of this study tries again): {e:#}"
        );
    }
}

fn take_over(
    tracker: &Tracker,
    board: &Arc<dyn StudyBoard>,
    experiment_id: ExperimentId,
    experiment: &str,
    study_name: &str,
) -> anyhow::Result<()> {
    use crate::study::Observer;
    use crate::tracking::shared::coordinator::{stop_reason_of, StudyCloser};
    use crate::tracking::shared::{worker_is_dead_here, worker_name, RESULT_PATIENCE};

    let me = worker_name();
    let Some(orphan) = board.take_over_result(
        experiment_id,
        study_name,
        &me,
        &worker_is_dead_here,
        RESULT_PATIENCE,
    )?
    else {
        return Ok(());
    };
    let id = &orphan.study.study_run_id;
    let spec: StudySpec = serde_json::from_str(&orphan.study.spec)
        .map_err(|e| anyhow::anyhow!("its stored settings are unreadable: {e}"))?;
    let rf = crate::runfile::RunFile::parse(&spec.run_file, &spec.path)
        .map_err(|e| anyhow::anyhow!("its stored run file: {e}"))?;
    let recorder = crate::tracking::Recorder::new(tracker, experiment)?
        .study_name(study_name)
        .metric(&rf.study.metric)
        .resume(id, Default::default());
    let handle = recorder.handle();
    let closer = StudyCloser::taken_over(board.clone(), id, &me, &rf.space, handle.clone());
    let mut recorder = recorder.shared(closer);
    recorder.on_study_end(&[], &stop_reason_of(&orphan.reason));
    let errors = handle.errors();
    if let Some(first) = errors.first() {
        return Err(anyhow::anyhow!("{first}"));
    }
    eprintln!(
        "note: study '{study_name}' (run {id}) had ended without its result (the worker {} that \
         ended it was lost); its result is recorded now",
        orphan.closed_by
    );
    Ok(())
}
