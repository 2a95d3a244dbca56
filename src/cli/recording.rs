//! What `hpo run` tells about its store at the end of a study: the storage errors, what was not
//! recorded, and which best trial may be named (only one whose run was read back from the store).

use serde::Serialize;

use crate::study::StudyResult;
use crate::tracking::{RecorderHandle, RecordingFailure};
use crate::trial::Trial;

/// Storage errors printed one per line before the rest are counted.
const MAX_ERROR_LINES: usize = 10;

/// The recording of a finished study, read from the recorder's handle.
pub(super) struct Recording {
    failure: Option<RecordingFailure>,
    best: Option<usize>,
    /// The store, as the user named it.
    store: String,
}

/// The `recording_failure` object of `hpo run --json`.
#[derive(Serialize)]
pub(super) struct RecordingFailureOut {
    reason: String,
    unrecorded_trials: Vec<usize>,
    failed_writes: usize,
    study_run_incomplete: bool,
}

impl Recording {
    /// Reads the outcome from `handle` (recording into `store`) and prints the storage errors on
    /// stderr.
    pub(super) fn read(handle: &RecorderHandle, store: &str) -> Self {
        let errors = handle.errors();
        for e in errors.iter().take(MAX_ERROR_LINES) {
            eprintln!("tracking error: {e}");
        }
        if errors.len() > MAX_ERROR_LINES {
            eprintln!(
                "tracking error: ... and {} more",
                errors.len() - MAX_ERROR_LINES
            );
        }
        Recording {
            failure: handle.recording_failure(),
            best: handle.recorded_best(),
            store: store.to_string(),
        }
    }

    /// The best trial to name: the best one whose run is in the store. When a better trial was
    /// not recorded, says so on stderr (without naming it).
    pub(super) fn best<'r>(&self, result: &'r StudyResult) -> Option<&'r Trial> {
        let best = self
            .best
            .and_then(|n| result.trials.iter().find(|t| t.number == n));
        if self.failure.is_some() {
            if let Some(seen) = result.best().filter(|s| Some(s.number) != self.best) {
                eprintln!(
                    "warning: the best loss seen, {}, is from a trial that is not in the store",
                    super::output::num(seen.loss.unwrap_or(f64::NAN))
                );
            }
        }
        best
    }

    /// Whether recording failed.
    pub(super) fn failed(&self) -> bool {
        self.failure.is_some()
    }

    /// Whether the study's own run is in the store as the summary describes it.
    pub(super) fn study_run_complete(&self) -> bool {
        self.failure
            .as_ref()
            .is_none_or(|f| !f.study_run_incomplete)
    }

    /// The failure for `--json` (`None` when everything was recorded).
    pub(super) fn json(&self) -> Option<RecordingFailureOut> {
        self.failure.as_ref().map(|f| RecordingFailureOut {
            reason: f.reason.clone(),
            unrecorded_trials: f.trials.clone(),
            failed_writes: f.failed_writes,
            study_run_incomplete: f.study_run_incomplete,
        })
    }

    /// `Ok` when everything is in the store; otherwise the error saying what is not (exit 1).
    pub(super) fn result(&self) -> anyhow::Result<()> {
        match &self.failure {
            None => Ok(()),
            Some(f) => Err(anyhow::anyhow!("store '{}': {f}", self.store)),
        }
    }
}
