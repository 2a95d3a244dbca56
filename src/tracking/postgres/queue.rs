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
//!   so a process always reads what it wrote. A commit takes the writes off the list and holds
//!   the list's lock only for that: the worker queues its next trial's writes while the
//!   committer thread commits the previous ones, and until that commit ends the queue counts
//!   as not empty (a caller that must see those writes waits for it).
//! - **Statements.** Every queued write runs its statements through the connection's statement
//!   cache ([`super::pool::CachedTx`]): parsed and planned once per connection.
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

use super::pool::{CachedTx, Conn};
use crate::tracking::failure_log::FailureLog;
use crate::tracking::retry::Transient;
use crate::tracking::store::{StoreError, WriteFailures};

/// The body of a queued write: it may run more than once (a transaction tried again), so it
/// owns its data. It runs its statements through the connection's statement cache.
type Body = Box<dyn Fn(&mut CachedTx<'_, '_>) -> Result<(), StoreError> + Send + Sync>;

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

/// The writes that wait, and whether a commit of earlier ones is under way.
#[derive(Default)]
struct Waiting {
    writes: Vec<Queued>,
    /// A transaction is committing writes taken off the list: until it ends, the queue is not
    /// empty for a caller that must see them committed.
    in_flight: bool,
}

/// How a commit of the queue stopped short.
enum Abort {
    /// A queued write found the claim of this trial lost: the queue is dropped.
    Lost(i64),
    /// Any other error (of `own`, or a server out of reach): the writes wait again.
    Other(StoreError),
}

impl From<postgres::Error> for Abort {
    fn from(e: postgres::Error) -> Self {
        Abort::Other(e.into())
    }
}

/// The queued writes of one store, shared with its board.
#[derive(Default)]
pub(crate) struct PgQueue {
    /// Locked only to push writes or to take them off for a commit, never across a round trip:
    /// a worker queues its next trial's writes while the committer thread commits earlier ones.
    waiting: Mutex<Waiting>,
    /// Held by the commit under way, so commits of the queue follow each other in the order
    /// their writes were queued.
    turn: Mutex<()>,
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
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        // the list is only pushed to, taken and put back whole: a panic cannot leave it torn
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lets writes wait for the board (called when the store hands out its board).
    pub(crate) fn enable(&self) {
        self.enabled.store(true, Ordering::Release);
    }

    /// Whether writes may wait.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// Whether nothing waits and no commit of queued writes is under way.
    pub(crate) fn is_empty(&self) -> bool {
        let w = self.lock();
        w.writes.is_empty() && !w.in_flight
    }

    /// Queues a write to run `run_id`.
    pub(crate) fn push(
        &self,
        run_id: &str,
        body: impl Fn(&mut CachedTx<'_, '_>) -> Result<(), StoreError> + Send + Sync + 'static,
    ) {
        self.lock().writes.push(Queued {
            run_id: run_id.to_string(),
            body: Box::new(body),
            at: Instant::now(),
        });
    }

    /// How long the oldest queued write has waited (`None`: nothing waits).
    pub(crate) fn waited(&self) -> Option<Duration> {
        self.lock().writes.first().map(|q| q.at.elapsed())
    }

    /// Whether the queue was committed less than `window` ago, or a commit is under way.
    pub(crate) fn committed_within(&self, window: Duration) -> bool {
        if self.lock().in_flight {
            return true;
        }
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

    /// Keeps a lost claim that a commit made by no caller of the store found (the board's
    /// committer thread), for the next [`PgQueue::take_lost`].
    pub(crate) fn note_lost(&self, number: i64) {
        *self.lost.lock().unwrap_or_else(|p| p.into_inner()) = Some(number);
    }

    /// Runs the queued writes, then `own`, in one transaction on `conn`, and commits it; the
    /// writes leave the queue for good only when the commit succeeded. A queued write that fails
    /// is rolled back alone (see the module's notes); an error of `own`, or a server out of
    /// reach, puts the writes back in front of those queued meanwhile. A queued write that finds
    /// its trial's claim lost drops every queued write (this worker's last commits were lost:
    /// nothing waiting is recorded; the trials are taken back when their leases run out).
    pub(crate) fn commit_with<T>(
        &self,
        conn: &mut Conn<'_>,
        mut own: impl FnMut(&mut CachedTx<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _turn = self.turn.lock().unwrap_or_else(|p| p.into_inner());
        let mut taken = {
            let mut w = self.lock();
            w.in_flight = true;
            std::mem::take(&mut w.writes)
        };
        let outcome = Self::commit_taken(conn, &taken, &mut own);
        let mut w = self.lock();
        w.in_flight = false;
        match outcome {
            Ok((out, failed)) => {
                drop(w);
                *self.committed.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                if let Some((which, first)) = failed {
                    let first = first.to_string();
                    self.log
                        .add_writes(which.iter().map(|&i| taken[i].run_id.as_str()), &first);
                    let mut u = self.unreported.lock().unwrap_or_else(|p| p.into_inner());
                    u.count += which.len();
                    u.first.get_or_insert(first);
                }
                Ok(out)
            }
            Err(Abort::Lost(number)) => {
                w.writes.clear();
                Err(StoreError::ClaimLost { number })
            }
            Err(Abort::Other(e)) => {
                taken.append(&mut w.writes);
                w.writes = taken;
                Err(e)
            }
        }
    }

    /// The transaction of [`PgQueue::commit_with`] for the writes `taken` off the queue: `own`'s
    /// result and the writes that failed (their indexes and the first error), if any.
    #[allow(clippy::type_complexity)]
    fn commit_taken<T>(
        conn: &mut Conn<'_>,
        taken: &[Queued],
        own: &mut impl FnMut(&mut CachedTx<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<(T, Option<(Vec<usize>, StoreError)>), Abort> {
        let (client, prepared) = conn.parts();
        let mut tx = client.transaction()?;
        let mut failed: Option<(Vec<usize>, StoreError)> = None;
        {
            let mut c = CachedTx::new(&mut tx, prepared);
            for q in taken {
                match (q.body)(&mut c) {
                    Ok(()) => {}
                    Err(StoreError::ClaimLost { number }) => return Err(Abort::Lost(number)),
                    Err(e) if e.is_transient() => return Err(Abort::Other(e)),
                    Err(e) => {
                        failed = Some((Vec::new(), e));
                        break;
                    }
                }
            }
        }
        if let Some((ref mut which, _)) = failed {
            // redo with each write alone in a savepoint, to keep all but the failing ones
            tx.rollback()?;
            tx = client.transaction()?;
            let mut c = CachedTx::new(&mut tx, prepared);
            for (i, q) in taken.iter().enumerate() {
                match c.savepoint("queued_write", |sp| (q.body)(sp)) {
                    Ok(()) => {}
                    Err(StoreError::ClaimLost { number }) => return Err(Abort::Lost(number)),
                    Err(e) if e.is_transient() => return Err(Abort::Other(e)),
                    Err(_) => which.push(i),
                }
            }
        }
        let out = own(&mut CachedTx::new(&mut tx, prepared)).map_err(Abort::Other)?;
        tx.commit()?;
        Ok((out, failed))
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
