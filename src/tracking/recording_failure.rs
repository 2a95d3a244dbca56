//! What a study's recorder could not store: the [`RecordingFailure`] read from its handle.

use std::fmt;

/// What a [`Recorder`](super::Recorder) failed to store, known once the study ended (see
/// [`RecorderHandle::recording_failure`](super::RecorderHandle::recording_failure)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordingFailure {
    /// Why: the first failure (e.g. "database error: database or disk is full").
    pub reason: String,
    /// The numbers of the trials whose record is missing or incomplete in the store, ascending.
    pub trials: Vec<usize>,
    /// How many of the study's total trials the store should have held.
    pub total_trials: usize,
    /// Queued writes that failed when committed (each failed write stored nothing).
    pub failed_writes: usize,
    /// Whether the study's own run (its status, best trial, summary) is missing or incomplete.
    pub study_run_incomplete: bool,
}

impl RecordingFailure {
    /// The unrecorded trial numbers as ranges: `3, 5-9, 12` ("none" if there are none).
    pub fn trial_ranges(&self) -> String {
        number_ranges(&self.trials)
    }
}

impl fmt::Display for RecordingFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "recording failed: {}", self.reason)?;
        if self.failed_writes > 0 {
            write!(f, "; {} queued write(s) failed", self.failed_writes)?;
        }
        write!(
            f,
            "; {} of {} trial(s) not (fully) recorded in the store",
            self.trials.len(),
            self.total_trials
        )?;
        if !self.trials.is_empty() {
            write!(f, ": {}", self.trial_ranges())?;
        }
        if self.study_run_incomplete {
            write!(f, "; the study's own run is incomplete")?;
        }
        Ok(())
    }
}

/// Ascending numbers as ranges: `[3, 5, 6, 7, 12]` gives `3, 5-7, 12`.
pub(crate) fn number_ranges(numbers: &[usize]) -> String {
    if numbers.is_empty() {
        return "none".into();
    }
    let mut parts = Vec::new();
    let mut start = numbers[0];
    let mut end = start;
    for &n in &numbers[1..] {
        if n == end + 1 {
            end = n;
            continue;
        }
        parts.push(range_text(start, end));
        start = n;
        end = n;
    }
    parts.push(range_text(start, end));
    parts.join(", ")
}

fn range_text(start: usize, end: usize) -> String {
    if start == end {
        start.to_string()
    } else {
        format!("{start}-{end}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_ranges() {
        assert_eq!(number_ranges(&[]), "none");
        assert_eq!(number_ranges(&[4]), "4");
        assert_eq!(number_ranges(&[3, 5, 6, 7, 12]), "3, 5-7, 12");
        assert_eq!(number_ranges(&[0, 1]), "0-1");
    }

    #[test]
    fn the_message_says_what_was_lost() {
        let f = RecordingFailure {
            reason: "database error: database or disk is full".into(),
            trials: vec![7, 8, 9],
            total_trials: 10,
            failed_writes: 5,
            study_run_incomplete: true,
        };
        assert_eq!(
            f.to_string(),
            "recording failed: database error: database or disk is full; 5 queued write(s) \
             failed; 3 of 10 trial(s) not (fully) recorded in the store: 7-9; the study's own \
             run is incomplete"
        );
    }
}
