//! Group commit for the SQLite store: writes queued by the fast paths (a trial's run, a metric
//! point logged asynchronously) wait in a [`WriteQueue`] and are committed together, many in one
//! transaction, instead of one commit each.
//!
//! On this kind of machine a small commit costs 50-100 µs (each WAL frame is written and
//! checksummed, the shared-memory index is locked and updated), far more than the inserts it
//! carries; a trial's run written in two commits cost about 0.4 ms, nearly all of it commits.
//!
//! - **Order.** Queued writes are committed in the order they were queued, and before any other
//!   operation of the same store (every read and every direct write flushes the queue first), so
//!   a process always reads what it wrote.
//! - **When.** A background thread commits the queue at most [`MAX_DELAY`] after its oldest write
//!   was queued, or as soon as [`COMMIT_AT`] writes wait, so a fast producer and the commits run
//!   on two cores; a producer that gets [`MAX_QUEUED`] writes ahead commits them itself (this
//!   bounds memory); [`WriteQueue`]'s owner flushes when asked and when dropped.
//! - **Idle work.** When nothing was queued for [`IDLE_AFTER`] after a commit, the thread asks its
//!   owner for idle work ([`GroupCommit::on_idle`]: the store indexes pending params by value), a
//!   small step at a time while some remains.
//! - **Atomicity.** The writes of a group run in one transaction without savepoints (a savepoint
//!   makes SQLite copy every page a write touches). If one fails (its run was deleted by another
//!   process meanwhile, ...), the transaction is rolled back and redone with each write in its own
//!   savepoint: the failing write is rolled back alone, the others commit, and the failure is kept
//!   until the owner asks for it (the store's `flush`). A write is never half applied. Every
//!   failure is also kept for the queue's whole life in a [`FailureLog`] (how many writes, for
//!   which runs), which a study's recorder reads after each trial.
//! - **Durability.** A queued write survives a crash of the process only once committed: a crash
//!   can lose the writes of the last [`MAX_DELAY`], always a suffix of what was queued, never
//!   part of one write.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Transaction;

use super::failure_log::FailureLog;
use super::store::StoreError;

/// The longest a queued write waits before the background thread commits it.
pub(crate) const MAX_DELAY: Duration = Duration::from_millis(20);

/// The background thread commits as soon as this many writes wait.
pub(crate) const COMMIT_AT: usize = 256;

/// A queue this long is committed at once by the writer that filled it (this bounds memory).
pub(crate) const MAX_QUEUED: usize = 8192;

/// The body of a queued write: it may run more than once (a transaction retried because the
/// database was busy is run again from the start), so it borrows the data it owns.
type WriteBody = Box<dyn Fn(&Transaction) -> Result<(), StoreError> + Send>;

/// One queued write and the run it writes to (named when it fails).
pub(crate) struct QueuedWrite {
    run_id: String,
    body: WriteBody,
}

impl QueuedWrite {
    /// A write to run `run_id`.
    pub(crate) fn new(
        run_id: impl Into<String>,
        body: impl Fn(&Transaction) -> Result<(), StoreError> + Send + 'static,
    ) -> Self {
        QueuedWrite {
            run_id: run_id.into(),
            body: Box::new(body),
        }
    }

    /// Runs the write in `tx`.
    pub(crate) fn apply(&self, tx: &Transaction) -> Result<(), StoreError> {
        (self.body)(tx)
    }

    /// The run it writes to.
    pub(crate) fn run_id(&self) -> &str {
        &self.run_id
    }
}

/// Failed queued writes, kept until the store's owner asks for them.
#[derive(Default)]
struct Failures {
    count: usize,
    first: Option<StoreError>,
}

#[derive(Default)]
struct State {
    writes: Vec<QueuedWrite>,
    /// When the oldest write in `writes` was queued.
    oldest: Option<Instant>,
    failures: Failures,
    closed: bool,
    /// Whether and until when the background thread sleeps.
    sleeper: Sleeper,
}

/// The background thread's sleep, as [`WriteQueue::push`] needs to know it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Sleeper {
    /// Not waiting: it looks at the queue before it waits again.
    #[default]
    Awake,
    /// Asleep until then, unless notified.
    Until(Instant),
    /// Asleep until notified.
    Forever,
}

impl Sleeper {
    /// Whether a write due at `due` must wake the thread: it would sleep past it.
    fn sleeps_past(self, due: Instant) -> bool {
        match self {
            Sleeper::Awake => false,
            Sleeper::Until(t) => t > due,
            Sleeper::Forever => true,
        }
    }
}

/// Writes waiting for the next group commit, and the failures of those already committed.
#[derive(Default)]
pub(crate) struct WriteQueue {
    state: Mutex<State>,
    queued: Condvar,
    log: FailureLog,
}

impl WriteQueue {
    fn lock(&self) -> MutexGuard<'_, State> {
        // every update of the state is a single assignment or push: a panic cannot leave it torn
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a write; returns how many writes are now waiting. The background thread is woken
    /// only when it would otherwise sleep past the write's due time: one still waiting for an
    /// earlier write, which a study board took and committed meanwhile, wakes soon enough by
    /// itself (a command study queues a write per trial; waking the thread for each cost a
    /// thread hand-over per trial).
    pub(crate) fn push(&self, write: QueuedWrite) -> usize {
        let mut state = self.lock();
        if state.oldest.is_none() {
            let now = Instant::now();
            state.oldest = Some(now);
            if state.sleeper.sleeps_past(now + MAX_DELAY) {
                self.queued.notify_all();
            }
        }
        state.writes.push(write);
        if state.writes.len() == COMMIT_AT {
            self.queued.notify_all();
        }
        state.writes.len()
    }

    /// Whether no write is waiting.
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().writes.is_empty()
    }

    /// Takes every waiting write, oldest first.
    pub(crate) fn take(&self) -> Vec<QueuedWrite> {
        let mut state = self.lock();
        state.oldest = None;
        std::mem::take(&mut state.writes)
    }

    /// Keeps the failures of a group commit: the writes `failed` failed, the first with `first`.
    pub(crate) fn record_failures(&self, failed: &[&QueuedWrite], first: Option<StoreError>) {
        let count = failed.len();
        if count == 0 {
            return;
        }
        let message = first
            .as_ref()
            .map(|e| e.to_string())
            .unwrap_or_else(|| "unknown error".into());
        self.log
            .add_writes(failed.iter().map(|w| w.run_id()), &message);
        let mut state = self.lock();
        state.failures.count += count;
        if state.failures.first.is_none() {
            state.failures.first = first;
        }
    }

    /// Every failure since the queue was made (not reset by [`WriteQueue::take_failures`]).
    pub(crate) fn log(&self) -> &FailureLog {
        &self.log
    }

    /// The failures recorded since the last call, as one error (`Ok` if there were none).
    pub(crate) fn take_failures(&self) -> Result<(), StoreError> {
        let failures = std::mem::take(&mut self.lock().failures);
        match failures {
            Failures { count: 0, .. } => Ok(()),
            Failures { count, first } => Err(StoreError::QueuedWritesFailed {
                count,
                first: first
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "unknown error".into()),
            }),
        }
    }

    /// Waits until the oldest write is [`MAX_DELAY`] old or [`COMMIT_AT`] writes wait
    /// ([`Wake::Due`]), the queue is closed ([`Wake::Closed`]), or, with `idle_after`, nothing was
    /// queued for that long ([`Wake::Idle`]).
    fn wait(&self, idle_after: Option<Duration>) -> Wake {
        let idle_from = Instant::now();
        let mut state = self.lock();
        let wake = loop {
            state.sleeper = Sleeper::Awake;
            if state.closed {
                break Wake::Closed;
            }
            if state.writes.len() >= COMMIT_AT {
                break Wake::Due;
            }
            let until = match (state.oldest, idle_after) {
                (Some(t), _) => Some((t + MAX_DELAY, Wake::Due)),
                (None, Some(idle)) => Some((idle_from + idle, Wake::Idle)),
                (None, None) => None,
            };
            match until {
                None => {
                    state.sleeper = Sleeper::Forever;
                    state = self.queued.wait(state).unwrap_or_else(|e| e.into_inner());
                }
                Some((at, why)) => {
                    let now = Instant::now();
                    if now >= at {
                        break why;
                    }
                    state.sleeper = Sleeper::Until(at);
                    state = self
                        .queued
                        .wait_timeout(state, at - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        };
        state.sleeper = Sleeper::Awake;
        wake
    }

    fn close(&self) {
        self.lock().closed = true;
        self.queued.notify_all();
    }
}

/// Runs queued writes inside one open transaction, each in its own savepoint. A write that fails
/// is rolled back alone and its position in `writes` returned in the list with its error; a busy
/// database fails the whole transaction (which is then retried from the start), and so does a
/// storage error (a full disk: no other write would succeed).
pub(crate) fn run_queued(
    tx: &Transaction,
    writes: &[QueuedWrite],
) -> Result<Vec<(usize, StoreError)>, StoreError> {
    let mut failed = Vec::new();
    for (i, write) in writes.iter().enumerate() {
        tx.prepare_cached("SAVEPOINT hpo_queued")?.execute([])?;
        match write.apply(tx) {
            Ok(()) => {}
            Err(e @ (StoreError::Busy(_) | StoreError::Storage(_))) => return Err(e),
            Err(e) => {
                tx.prepare_cached("ROLLBACK TO hpo_queued")?.execute([])?;
                failed.push((i, e));
            }
        }
        tx.prepare_cached("RELEASE hpo_queued")?.execute([])?;
    }
    Ok(failed)
}

/// Why [`WriteQueue::wait`] returned.
#[derive(Debug, PartialEq, Eq)]
enum Wake {
    /// The queue is due for a commit.
    Due,
    /// Nothing was queued for the idle time.
    Idle,
    /// The queue is closed.
    Closed,
}

/// How long the queue stays empty before the background thread does its idle work.
pub(crate) const IDLE_AFTER: Duration = Duration::from_millis(200);

/// The pause between two steps of idle work.
const IDLE_STEP: Duration = Duration::from_millis(5);

/// Something that can commit its queue: the store's shared state.
pub(crate) trait GroupCommit: Send + Sync + 'static {
    /// The queue to commit.
    fn queue(&self) -> &WriteQueue;
    /// Commits every waiting write now.
    fn commit_queue(&self);
    /// One small step of work for the background thread when nothing was queued for
    /// [`IDLE_AFTER`]; true if some remains (the next step comes a few milliseconds later, unless
    /// a write is queued meanwhile).
    fn on_idle(&self) -> bool {
        false
    }
}

/// The background thread that commits a queue [`MAX_DELAY`] after its oldest write; stopping it
/// (on drop) lets a running commit finish.
pub(crate) struct Flusher {
    stop: Arc<dyn GroupCommit>,
    thread: Option<JoinHandle<()>>,
}

impl Flusher {
    /// Starts the thread; `None` if the system refused a thread (the queue is then committed only
    /// when full, flushed or dropped).
    pub(crate) fn start(target: Arc<dyn GroupCommit>) -> Option<Self> {
        let worker = Arc::clone(&target);
        let thread = std::thread::Builder::new()
            .name("hpo-group-commit".into())
            .spawn(move || {
                // idle work is looked for after each commit, then only while some remains, a step
                // at a time (a queued write or a call waiting for the connection goes first)
                let mut idle_after = Some(IDLE_AFTER);
                loop {
                    match worker.queue().wait(idle_after) {
                        Wake::Closed => break,
                        Wake::Due => {
                            worker.commit_queue();
                            idle_after = Some(IDLE_AFTER);
                        }
                        Wake::Idle => idle_after = worker.on_idle().then_some(IDLE_STEP),
                    }
                }
            })
            .ok()?;
        Some(Flusher {
            stop: target,
            thread: Some(thread),
        })
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.stop.queue().close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn insert(x: i64) -> QueuedWrite {
        QueuedWrite::new(format!("run{x}"), move |tx: &Transaction| {
            tx.execute("INSERT INTO t (x) VALUES (?1)", [x])?;
            if x < 0 {
                return Err(StoreError::InvalidArgument(format!("negative {x}")));
            }
            Ok(())
        })
    }

    #[test]
    fn a_failing_write_is_rolled_back_alone() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        let writes = vec![insert(1), insert(-2), insert(3)];
        let tx = conn.transaction().unwrap();
        let failed = run_queued(&tx, &writes).unwrap();
        tx.commit().unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].0, 1);
        assert!(failed[0].1.to_string().contains("negative -2"));
        let rows: Vec<i64> = conn
            .prepare("SELECT x FROM t ORDER BY x")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, vec![1, 3], "the failing write left no row");
    }

    #[test]
    fn a_write_wakes_the_thread_only_if_it_would_sleep_past_the_write() {
        let now = Instant::now();
        let due = now + MAX_DELAY;
        assert!(
            !Sleeper::Awake.sleeps_past(due),
            "it looks before it sleeps"
        );
        assert!(!Sleeper::Until(now + MAX_DELAY / 2).sleeps_past(due));
        assert!(!Sleeper::Until(due).sleeps_past(due));
        assert!(Sleeper::Until(now + IDLE_AFTER).sleeps_past(due));
        assert!(Sleeper::Forever.sleeps_past(due));
    }

    #[test]
    fn the_thread_commits_a_write_queued_while_it_waits_for_a_taken_one() {
        struct Target {
            queue: WriteQueue,
            committed: Mutex<usize>,
        }
        impl GroupCommit for Target {
            fn queue(&self) -> &WriteQueue {
                &self.queue
            }
            fn commit_queue(&self) {
                let n = self.queue.take().len();
                *self.committed.lock().unwrap() += n;
            }
        }
        let target = Arc::new(Target {
            queue: WriteQueue::default(),
            committed: Mutex::new(0),
        });
        let flusher = Flusher::start(target.clone()).unwrap();
        target.queue.push(insert(1));
        // a board takes the first write; the second is queued while the thread still waits
        // for the first one's due time, without waking it
        assert_eq!(target.queue.take().len(), 1);
        target.queue.push(insert(2));
        let start = Instant::now();
        while *target.committed.lock().unwrap() == 0 && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(*target.committed.lock().unwrap(), 1, "the second write");
        assert!(target.queue.is_empty());
        drop(flusher);
    }

    #[test]
    fn failures_are_counted_until_taken() {
        let q = WriteQueue::default();
        assert!(q.take_failures().is_ok());
        let (w1, w2, w3) = (insert(1), insert(2), insert(1));
        q.record_failures(&[&w1, &w2], Some(StoreError::RunNotFound("a".into())));
        q.record_failures(&[&w3], Some(StoreError::RunNotFound("b".into())));
        match q.take_failures() {
            Err(StoreError::QueuedWritesFailed { count, first }) => {
                assert_eq!(count, 3);
                assert!(first.contains("'a'"), "{first}");
            }
            other => panic!("{other:?}"),
        }
        assert!(q.take_failures().is_ok(), "taken once");
        let log = q.log().snapshot();
        assert_eq!(log.failed_writes, 3, "the log keeps them");
        assert_eq!(log.runs, vec!["run1", "run2"]);
    }

    #[test]
    fn the_queue_keeps_order_and_reports_its_length() {
        let q = WriteQueue::default();
        assert!(q.is_empty());
        assert_eq!(q.push(insert(1)), 1);
        assert_eq!(q.push(insert(2)), 2);
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        let writes = q.take();
        assert!(q.is_empty());
        let tx = conn.transaction().unwrap();
        assert!(run_queued(&tx, &writes).unwrap().is_empty());
        tx.commit().unwrap();
        let order: Vec<i64> = conn
            .prepare("SELECT x FROM t ORDER BY rowid")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(order, vec![1, 2]);
    }
}
