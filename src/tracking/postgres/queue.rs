//! Queued writes of the PostgreSQL store: a trial's run (created when the trial starts, ended
//! when it ends) and the trial's end on the shared-study board wait here and are committed **in
//! one transaction with the board's next write**, so a trial costs at most one durable commit
//! (its run's end with its end on the board with the next trial's run and start, which also
//! makes the next trial's claim durable) instead of five; quick trials share one (the board's
//! start waits here too, for the [`super::committer`]).
//!
//! - **Order.** Queued writes are committed in the order they were queued, and before any other
//!   operation of the store or write of the board (every read and every direct write commits
//!   the queue first; only a claim, a read of the board's changes and a lease renewal do not),
//!   so a process always reads what it wrote.
//! - **When.** Writes are queued only once the store has handed out its board
//!   ([`super::PgStore`]'s `study_board`), whose `start` and `finish` carry them and whose
//!   `finish_later` adds the trial's end; otherwise (and for everything but a trial run's
//!   creation and end) the store writes at once. The recorder queues a trial's run right before
//!   the coordinator tells the board; a trial's end waits at most until the worker's next
//!   trial starts (or it looks for lost trials, or its study ends: the store's `flush`); a
//!   start that waits is committed by the committer thread within a window.
//! - **Atomicity.** The queued writes and the board's statement run in one transaction. If a
//!   queued write fails (its run was deleted meanwhile, ...), the transaction is rolled back and
//!   redone with each queued write in its own savepoint: the failing one is rolled back alone,
//!   kept in the [`FailureLog`] and reported by the next `flush`, the others and the board's
//!   statement commit. While the server is out of reach nothing is taken off the queue: the call
//!   is tried again with the same writes (a run's creation tried again after a commit whose
//!   answer was lost finds itself in and is not doubled). A trial's start that finds its claim
//!   lost (a server crash) drops the whole queue: nothing waiting is recorded, its trials are
//!   taken back when their leases run out, and the worker is told ([`StoreError::ClaimLost`]).
//! - **Durability.** Every commit the queue takes part in is durable (`synchronous_commit` is left
//!   on; only the board's claims do not wait, see [`super::board`]). A trial's end is
//!   on the board only if its run's end is in the store (same commit); a worker killed before
//!   that commit loses neither half alone: the trial is taken back as lost when its lease runs
//!   out (and its run marked FAILED), as if it had been killed while the trial ran.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use postgres::{Client, Transaction};

use crate::tracking::failure_log::FailureLog;
use crate::tracking::retry::Transient;
use crate::tracking::store::{StoreError, WriteFailures};

/// The body of a queued write: it may run more than once (a transaction tried again), so it
/// owns its data.
type Body = Box<dyn Fn(&mut Transaction<'_>) -> Result<(), StoreError> + Send + Sync>;

/// One queued write and the run it writes to (named when it fails).
struct Queued {
    run_id: String,
    body: Body,
    /// When it was queued.
    at: Instant,
}

/// Failures not reported by `flush` yet.
#[derive(Default)]
struct Unreported {
    count: usize,
    first: Option<String>,
}

/// The queued writes of one store, shared with its board.
#[derive(Default)]
pub(crate) struct PgQueue {
    writes: Mutex<Vec<Queued>>,
    /// Whether writes may wait here (the store's board exists and carries them).
    enabled: AtomicBool,
    log: FailureLog,
    unreported: Mutex<Unreported>,
    /// When the queue was last committed.
    committed: Mutex<Option<Instant>>,
    /// A trial whose claim a commit found lost (the queue was dropped then), not reported yet.
    lost: Mutex<Option<i64>>,
}

impl PgQueue {
    fn lock(&self) -> MutexGuard<'_, Vec<Queued>> {
        // the list is only pushed to and cleared: a panic cannot leave it torn
        self.writes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lets writes wait for the board (called when the store hands out its board).
    pub(crate) fn enable(&self) {
        self.enabled.store(true, Ordering::Release);
    }

    /// Whether writes may wait.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// Whether nothing waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Queues a write to run `run_id`.
    pub(crate) fn push(
        &self,
        run_id: &str,
        body: impl Fn(&mut Transaction<'_>) -> Result<(), StoreError> + Send + Sync + 'static,
    ) {
        self.lock().push(Queued {
            run_id: run_id.to_string(),
            body: Box::new(body),
            at: Instant::now(),
        });
    }

    /// How long the oldest queued write has waited (`None`: nothing waits).
    pub(crate) fn waited(&self) -> Option<Duration> {
        self.lock().first().map(|q| q.at.elapsed())
    }

    /// Whether the queue was committed less than `window` ago.
    pub(crate) fn committed_within(&self, window: Duration) -> bool {
        let at = *self.committed.lock().unwrap_or_else(|p| p.into_inner());
        at.is_some_and(|t| t.elapsed() < window)
    }

    /// [`StoreError::ClaimLost`] for a trial whose claim was found lost by a commit of the queue
    /// that no caller waited for ([`PgQueue::note_lost`]), since the last call.
    pub(crate) fn take_lost(&self) -> Result<(), StoreError> {
        match self.lost.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(number) => Err(StoreError::ClaimLost { number }),
            None => Ok(()),
        }
    }

    /// Drops every queued write because the claim of trial `number` was lost: the server lost
    /// this worker's last commits (a crash), so nothing waiting here is recorded; the trials of
    /// these writes are taken back when their leases run out. Returns the error to report.
    fn drop_all(&self, writes: &mut Vec<Queued>, number: i64) -> StoreError {
        writes.clear();
        StoreError::ClaimLost { number }
    }

    /// Keeps a lost claim that a commit made by no caller of the store found (the board's
    /// committer thread), for the next [`PgQueue::take_lost`].
    pub(crate) fn note_lost(&self, number: i64) {
        *self.lost.lock().unwrap_or_else(|p| p.into_inner()) = Some(number);
    }

    /// Runs the queued writes, then `own`, in one transaction on `client`, and commits it; the
    /// queue is emptied only when the commit succeeded. A queued write that fails is rolled back
    /// alone (see the module's notes); an error of `own`, or a server out of reach, leaves the
    /// queue as it was.
    pub(crate) fn commit_with<T>(
        &self,
        client: &mut Client,
        mut own: impl FnMut(&mut Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut writes = self.lock();
        let mut tx = client.transaction()?;
        let mut failed: Option<(Vec<usize>, StoreError)> = None;
        for q in writes.iter() {
            match (q.body)(&mut tx) {
                Ok(()) => {}
                Err(e) if e.is_transient() => return Err(e),
                Err(StoreError::ClaimLost { number }) => {
                    drop(tx);
                    return Err(self.drop_all(&mut writes, number));
                }
                Err(e) => {
                    failed = Some((Vec::new(), e));
                    break;
                }
            }
        }
        if let Some((ref mut which, _)) = failed {
            // redo with each write alone in a savepoint, to keep all but the failing ones
            tx.rollback()?;
            tx = client.transaction()?;
            for (i, q) in writes.iter().enumerate() {
                let mut sp = tx.savepoint("queued_write")?;
                match (q.body)(&mut sp) {
                    Ok(()) => sp.commit()?,
                    Err(e) if e.is_transient() => return Err(e),
                    Err(StoreError::ClaimLost { number }) => {
                        drop(sp);
                        drop(tx);
                        return Err(self.drop_all(&mut writes, number));
                    }
                    Err(_) => which.push(i),
                }
            }
        }
        let out = own(&mut tx)?;
        tx.commit()?;
        *self.committed.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        if let Some((which, first)) = failed {
            let first = first.to_string();
            self.log
                .add_writes(which.iter().map(|&i| writes[i].run_id.as_str()), &first);
            let mut u = self.unreported.lock().unwrap_or_else(|p| p.into_inner());
            u.count += which.len();
            u.first.get_or_insert(first);
        }
        writes.clear();
        Ok(out)
    }

    /// Reports the queued writes that failed since the last call as one
    /// [`StoreError::QueuedWritesFailed`].
    pub(crate) fn take_failures(&self) -> Result<(), StoreError> {
        let mut u = self.unreported.lock().unwrap_or_else(|p| p.into_inner());
        let taken = std::mem::take(&mut *u);
        match taken.count {
            0 => Ok(()),
            count => Err(StoreError::QueuedWritesFailed {
                count,
                first: taken.first.unwrap_or_default(),
            }),
        }
    }

    /// How many queued writes failed since the store was opened.
    pub(crate) fn failure_count(&self) -> usize {
        self.log.count()
    }

    /// Every queued write that failed since the store was opened.
    pub(crate) fn failures(&self) -> WriteFailures {
        self.log.snapshot()
    }
}
