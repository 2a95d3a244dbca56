//! The threads trials run on. A worker is started only when a trial is handed out while every
//! worker is busy, and never more than the study can use (its parallelism, and no more than the
//! trials left to run), so `parallelism(1000)` on a 3-trial study starts 3 threads. A trial runs
//! on a worker, not on the driver's thread, so the driver records what a trial reports while it
//! runs, whatever the parallelism; only a study with nothing to record (no observer, no other
//! worker) that runs one trial at a time runs them on the driver's thread ([`Workers::inline`]),
//! saving the two thread hand-overs per trial.

use std::sync::{mpsc, Arc, Mutex};
use std::thread::Scope;

/// The stack of a worker thread (8 MiB, a main thread's usual size).
const WORKER_STACK: usize = 8 << 20;

/// A trial's evaluation, handed to a worker.
pub(crate) type Job<'a> = Box<dyn FnOnce() + Send + 'a>;

/// Workers inside a thread scope; dropping this lets them end once the queue is empty.
pub(crate) struct Workers<'scope, 'env> {
    scope: &'scope Scope<'scope, 'env>,
    jobs: mpsc::Sender<Job<'scope>>,
    queue: Arc<Mutex<mpsc::Receiver<Job<'scope>>>>,
    started: usize,
    max: usize,
    /// Jobs run on the caller's thread; no worker is ever started.
    inline: bool,
}

impl<'scope, 'env> Workers<'scope, 'env> {
    /// At most `max` workers (at least one) in `scope`, none started yet.
    pub(crate) fn new(scope: &'scope Scope<'scope, 'env>, max: usize) -> Self {
        let (jobs, queue) = mpsc::channel();
        Workers {
            scope,
            jobs,
            queue: Arc::new(Mutex::new(queue)),
            started: 0,
            max: max.max(1),
            inline: false,
        }
    }

    /// Workers that run each job on the caller's thread when it is handed out: for a study
    /// that runs one trial at a time and has no observer to hear from while a trial runs.
    pub(crate) fn inline(scope: &'scope Scope<'scope, 'env>) -> Self {
        Workers {
            inline: true,
            ..Workers::new(scope, 1)
        }
    }

    /// How many workers were started.
    #[cfg(test)]
    pub(crate) fn started(&self) -> usize {
        self.started
    }

    /// Run `job` on a worker; `busy` is how many jobs handed out before it have not finished.
    /// A new worker is started when all are busy and the limit allows; if no thread can be
    /// started at all, the job runs on the caller's thread.
    pub(crate) fn run(&mut self, job: Job<'scope>, busy: usize) {
        if self.inline {
            job();
            return;
        }
        if self.started <= busy && self.started < self.max {
            let queue = Arc::clone(&self.queue);
            let spawned = std::thread::Builder::new()
                .name(format!("hpo-trial-{}", self.started))
                // as much stack as the main thread has: at parallelism 1 the objective used to
                // run there (only reserved address space until used)
                .stack_size(WORKER_STACK)
                .spawn_scoped(self.scope, move || loop {
                    // the lock is held only while waiting for the next job
                    let next = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(_) => return,
                    };
                    match next {
                        Ok(job) => job(),
                        Err(_) => return, // the driver is done
                    }
                });
            if spawned.is_ok() {
                self.started += 1;
            }
        }
        if self.started == 0 {
            job();
            return;
        }
        if let Err(mpsc::SendError(job)) = self.jobs.send(job) {
            job(); // cannot happen while self holds the queue; run it rather than lose it
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn workers_start_only_when_all_are_busy_and_up_to_the_limit() {
        let done = AtomicUsize::new(0);
        std::thread::scope(|s| {
            let mut w = Workers::new(s, 3);
            let (tx, rx) = mpsc::channel::<()>();
            // one job at a time: one worker does them all
            for _ in 0..5 {
                let tx = tx.clone();
                let done = &done;
                w.run(
                    Box::new(move || {
                        done.fetch_add(1, Ordering::SeqCst);
                        let _ = tx.send(());
                    }),
                    0,
                );
                rx.recv().unwrap();
            }
            assert_eq!(w.started(), 1);
            // ten at once: never more than three
            for busy in 0..10 {
                let done = &done;
                w.run(
                    Box::new(move || {
                        done.fetch_add(1, Ordering::SeqCst);
                    }),
                    busy,
                );
            }
            assert_eq!(w.started(), 3);
        });
        assert_eq!(done.load(Ordering::SeqCst), 15);
    }
}
