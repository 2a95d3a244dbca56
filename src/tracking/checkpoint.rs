//! Background WAL checkpoints for a file store.
//!
//! In WAL mode every commit appends pages to the `-wal` file, and a checkpoint copies them back into the
//! database file (then fsyncs it). Left to SQLite's automatic checkpoint, that copy runs inside whichever
//! commit crosses the threshold, so one write in a thousand pays for all the others; measured on a
//! 2-core machine, it was about 40% of the time of recording a trial. Instead, a [`Checkpointer`] owns a
//! thread with its own connection that runs `PRAGMA wal_checkpoint(PASSIVE)` when the store asks for it
//! (every [`COMMITS_PER_CHECKPOINT`] write transactions). A passive checkpoint never blocks writers or
//! readers; it copies what it can. The writer keeps SQLite's automatic checkpoint (every 10,000 pages):
//! by then the thread has copied nearly everything, so that checkpoint is short, and after it the WAL
//! restarts from its beginning (a passive checkpoint alone seldom catches up with a busy writer, so the
//! WAL would keep growing). When the two checkpoints collide, the writer's is skipped and retried on
//! its next commit, so in a burst of writes the WAL can grow past 40 MB (about 100 MB was seen) before it
//! restarts; its file is then cut back to 64 MB (`journal_size_limit`). Checkpoints are crash-safe by
//! SQLite's design: an interrupted one is redone.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// Write transactions between two checkpoint requests.
pub(crate) const COMMITS_PER_CHECKPOINT: u32 = 64;

/// The checkpoint thread of one store; stopping it (on drop) waits for a running checkpoint to end.
pub(crate) struct Checkpointer {
    requests: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread on the database file `path`; `None` if its connection cannot be opened (the
    /// store then relies on SQLite's automatic checkpoints).
    pub(crate) fn start(path: &Path) -> Option<Self> {
        // never create the file: if the store's file was deleted meanwhile, a new empty one would
        // hide that (the store reports the loss)
        let flags = OpenFlags::default() - OpenFlags::SQLITE_OPEN_CREATE;
        let conn = Connection::open_with_flags(path, flags).ok()?;
        conn.busy_timeout(Duration::from_secs(5)).ok()?;
        let (requests, pending) = sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("hpo-wal-checkpoint".into())
            .spawn(move || {
                while pending.recv().is_ok() {
                    // Busy (another checkpoint is running) or any other failure: the next request,
                    // or the writer's automatic checkpoint, will do it.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            })
            .ok()?;
        Some(Checkpointer {
            requests: Some(requests),
            thread: Some(thread),
        })
    }

    /// Asks for a checkpoint; does nothing if one is already requested.
    pub(crate) fn request(&self) {
        if let Some(r) = &self.requests {
            match r.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
            }
        }
    }
}

/// Counts a store's committed write transactions and asks for a checkpoint every
/// [`COMMITS_PER_CHECKPOINT`] of them, starting the [`Checkpointer`] with the first request, so a
/// store that writes little never starts a thread.
pub(crate) struct CommitPacer {
    /// The database file (`:memory:` for in-memory stores, which need no checkpoints).
    path: PathBuf,
    commits: AtomicU32,
    checkpointer: OnceLock<Option<Checkpointer>>,
}

impl CommitPacer {
    /// A pacer for the database file `path`.
    pub(crate) fn new(path: &Path) -> Self {
        CommitPacer {
            path: path.to_path_buf(),
            commits: AtomicU32::new(0),
            checkpointer: OnceLock::new(),
        }
    }

    /// Counts one committed write transaction.
    pub(crate) fn count_commit(&self) {
        let n = self.commits.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(COMMITS_PER_CHECKPOINT) {
            self.request_checkpoint();
        }
    }

    /// Asks for a checkpoint now (after a group commit, which writes as much as many small
    /// commits).
    pub(crate) fn request_checkpoint(&self) {
        if self.path.as_os_str() == ":memory:" {
            return;
        }
        let started = self
            .checkpointer
            .get_or_init(|| Checkpointer::start(&self.path));
        if let Some(c) = started {
            c.request();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.requests.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows of `t` in the database file alone (a copy without its WAL): what checkpoints copied.
    fn rows_in_main_file(path: &Path) -> i64 {
        let copy = path.with_extension("copy.db");
        std::fs::copy(path, &copy).unwrap();
        let conn = Connection::open(&copy).unwrap();
        conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap_or(-1)
    }

    #[test]
    fn a_requested_checkpoint_runs_before_the_thread_stops() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("c.db");
        let writer = Connection::open(&path).unwrap();
        writer
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
            .unwrap();
        writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        writer
            .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1), (2);")
            .unwrap();
        assert_eq!(
            rows_in_main_file(&path),
            -1,
            "before a checkpoint, t is only in the WAL"
        );
        let checkpointer = Checkpointer::start(&path).expect("a thread");
        checkpointer.request();
        checkpointer.request(); // a second request while one is pending is dropped, not queued
        drop(checkpointer); // waits for the thread, which serves the pending request first
        assert_eq!(
            rows_in_main_file(&path),
            2,
            "the thread copied the WAL into the file"
        );
        drop(writer);
    }
}
