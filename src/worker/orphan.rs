//! The result of a study whose last worker was lost between ending it and writing its result,
//! written by the next worker of that study name (see
//! [`StudyBoard::take_over_result`](crate::tracking::shared::StudyBoard::take_over_result)).

use std::sync::Arc;

use super::StoredStudy;
use crate::study::Observer;
use crate::tracking::shared::coordinator::{stop_reason_of, StudyCloser};
use crate::tracking::shared::{worker_is_dead_here, worker_name, StudyBoard, RESULT_PATIENCE};
use crate::tracking::{ExperimentId, Recorder, RunId, Tracker};

/// An ended study whose result a joining worker took over.
#[derive(Clone, Debug, PartialEq)]
pub struct TakenOver {
    /// The study's run.
    pub study_run_id: RunId,
    /// The lost worker that ended it.
    pub closed_by: String,
    /// Why writing the result failed (it stays pending for the next worker), if it did.
    pub error: Option<String>,
}

/// Writes the result of the latest study named `study` in the experiment if it ended without
/// it and its closer is lost; `read` gives the study's space and metric from its stored spec.
pub(super) fn take_over(
    tracker: &Tracker,
    board: &Arc<dyn StudyBoard>,
    experiment_id: ExperimentId,
    experiment: &str,
    study: &str,
    read: &dyn Fn(&str) -> Option<StoredStudy>,
) -> Option<TakenOver> {
    let me = worker_name();
    // looking may fail (the store out of reach): the join that follows reports the store's state
    let orphan = board
        .take_over_result(
            experiment_id,
            study,
            &me,
            &worker_is_dead_here,
            RESULT_PATIENCE,
        )
        .ok()??;
    let id = orphan.study.study_run_id.clone();
    let error = write(tracker, board, experiment, study, &me, &orphan, read).err();
    Some(TakenOver {
        study_run_id: id,
        closed_by: orphan.closed_by,
        error,
    })
}

fn write(
    tracker: &Tracker,
    board: &Arc<dyn StudyBoard>,
    experiment: &str,
    study: &str,
    me: &str,
    orphan: &crate::tracking::shared::UnwrittenStudy,
    read: &dyn Fn(&str) -> Option<StoredStudy>,
) -> Result<(), String> {
    let id = &orphan.study.study_run_id;
    let stored = read(&orphan.study.spec)
        .ok_or_else(|| "its stored settings (search space, metric) are unreadable".to_string())?;
    let recorder = Recorder::new(tracker, experiment)
        .map_err(|e| e.to_string())?
        .study_name(study)
        .metric(&stored.metric)
        .resume(id, Default::default());
    let handle = recorder.handle();
    let closer = StudyCloser::taken_over(board.clone(), id, me, &stored.space, handle.clone());
    let mut recorder = recorder.shared(closer);
    recorder.on_study_end(&[], &stop_reason_of(&orphan.reason));
    match handle.errors().into_iter().next() {
        Some(first) => Err(first),
        None => Ok(()),
    }
}
