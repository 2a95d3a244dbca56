//! Every write a store failed to make since it was opened, kept for its whole life: the queued
//! writes that failed when committed (how many, for which runs, the first error) and the loss of
//! the store's file. The store's `flush` reports failures once, as they come; this log is what a
//! study's recorder asks, after each trial, to stop a study whose records no longer land.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::store::{RunId, WriteFailures};

#[derive(Default)]
struct Log {
    failures: WriteFailures,
    /// The runs already in `failures.runs`.
    seen: HashSet<RunId>,
}

/// The failures of one store, shared with its group-commit thread.
#[derive(Default)]
pub(crate) struct FailureLog {
    log: Mutex<Log>,
    /// Failed writes, plus one once the file is lost: read without the lock after every trial.
    count: AtomicUsize,
    /// Whether the loss of the file was reported (by the store's `flush`).
    loss_reported: AtomicBool,
}

impl FailureLog {
    fn lock(&self) -> MutexGuard<'_, Log> {
        // every update is a push or an assignment: a panic cannot leave the log torn
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records failed queued writes: one per run id in `runs` (a run id may repeat), the first
    /// of them failed with `first`.
    pub(crate) fn add_writes<'a>(&self, runs: impl IntoIterator<Item = &'a str>, first: &str) {
        let mut log = self.lock();
        let mut count = 0;
        for run in runs {
            count += 1;
            if !log.seen.contains(run) {
                log.seen.insert(run.to_string());
                log.failures.runs.push(run.to_string());
            }
        }
        if count == 0 {
            return;
        }
        log.failures.failed_writes += count;
        if log.failures.first.is_none() {
            log.failures.first = Some(first.to_string());
        }
        log.failures.last = Some(first.to_string());
        self.count.fetch_add(count, Ordering::AcqRel);
    }

    /// Records that the store's file was lost (`why`); true the first time.
    pub(crate) fn file_lost(&self, why: String) -> bool {
        let mut log = self.lock();
        if log.failures.file_lost.is_some() {
            return false;
        }
        log.failures.last = Some(why.clone());
        log.failures.file_lost = Some(why);
        self.count.fetch_add(1, Ordering::AcqRel);
        true
    }

    /// The loss of the file, the first time this is asked after it was recorded (the store's
    /// `flush` reports it once, as it reports other failures once).
    pub(crate) fn unreported_file_loss(&self) -> Option<String> {
        let lost = self.lock().failures.file_lost.clone()?;
        (!self.loss_reported.swap(true, Ordering::AcqRel)).then_some(lost)
    }

    /// Failed writes so far, plus one once the file is lost.
    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// A copy of the log.
    pub(crate) fn snapshot(&self) -> WriteFailures {
        if self.count() == 0 {
            return WriteFailures::default();
        }
        self.lock().failures.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_counted_and_runs_kept_once_in_order() {
        let log = FailureLog::default();
        assert_eq!(log.count(), 0);
        assert!(log.snapshot().is_empty());
        log.add_writes(["b", "a", "b"], "disk full");
        log.add_writes(["c", "a"], "later");
        let f = log.snapshot();
        assert_eq!(log.count(), 5);
        assert_eq!(f.failed_writes, 5);
        assert_eq!(f.runs, vec!["b", "a", "c"]);
        assert_eq!(f.first.as_deref(), Some("disk full"));
        assert_eq!(f.last.as_deref(), Some("later"));
        assert_eq!(f.file_lost, None);
    }

    #[test]
    fn the_file_is_lost_once() {
        let log = FailureLog::default();
        assert!(log.file_lost("gone".into()));
        assert!(!log.file_lost("again".into()));
        assert_eq!(log.unreported_file_loss().as_deref(), Some("gone"));
        assert_eq!(log.unreported_file_loss(), None, "reported once");
        let f = log.snapshot();
        assert_eq!(f.file_lost.as_deref(), Some("gone"));
        assert_eq!(f.failed_writes, 0);
        assert_eq!(log.count(), 1);
        assert_eq!(f.summary().as_deref(), Some("gone"));
    }
}
