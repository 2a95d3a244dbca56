//! The board's committer thread: group commit of one worker's trials. When a worker's trials
//! follow each other within [`GROUP_WINDOW`] of the queue's last commit, a trial's start waits in
//! the store's queue (see [`super::queue`]) instead of committing, and this thread commits
//! everything that waits once the oldest write has waited a window: the trials of one window
//! (their starts, runs and ends) share one commit and one WAL flush. Trials that take longer
//! than the window commit their start at once, as they would alone.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::pool::Pool;
use super::queue::PgQueue;
use crate::tracking::StoreError;

/// How long a worker's queued trial writes wait at most for a commit they can share.
pub(crate) const GROUP_WINDOW: Duration = Duration::from_millis(10);

/// The running thread; stopped and joined on drop.
pub(crate) struct Committer {
    wake: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Committer {
    /// Starts the thread that commits `queue` on connections of `pool` (`None` if no thread can
    /// be started: then every start commits at once).
    pub(crate) fn start(pool: Arc<Pool>, queue: Arc<PgQueue>) -> Option<Committer> {
        let (wake, rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("hpo-pg-commit".into())
            .spawn(move || run(&pool, &queue, &rx))
            .ok()?;
        Some(Committer {
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    /// Tells the thread that a write waits for it.
    pub(crate) fn wake(&self) {
        if let Some(w) = &self.wake {
            let _ = w.send(());
        }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        drop(self.wake.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The thread's loop: after each wake, waits until the oldest queued write has waited a window,
/// then commits the queue (unless a caller of the store did meanwhile); a failed commit (the
/// server out of reach) is tried again a window later while writes wait.
fn run(pool: &Pool, queue: &PgQueue, rx: &mpsc::Receiver<()>) {
    while rx.recv().is_ok() {
        while let Some(waited) = queue.waited() {
            let pause = match waited >= GROUP_WINDOW {
                true => match commit(pool, queue) {
                    Ok(()) => break,
                    Err(_) => GROUP_WINDOW,
                },
                false => GROUP_WINDOW - waited,
            };
            if let Err(RecvTimeoutError::Disconnected) = rx.recv_timeout(pause) {
                return;
            }
        }
    }
}

/// Commits what waits in `queue`; a lost claim is kept for the worker's next call.
fn commit(pool: &Pool, queue: &PgQueue) -> Result<(), StoreError> {
    let mut conn = pool.get()?;
    match queue.commit_with(&mut conn, |_| Ok(())) {
        Err(StoreError::ClaimLost { number }) => {
            queue.note_lost(number);
            Ok(())
        }
        other => other,
    }
}
