//! The writes a remote store holds back to send together: a trial's params, metrics, tags and
//! end, merged per run while they fit in one `log-batch`. A thread of the store sends them, in
//! order, as soon as they are queued (what is queued while it sends goes in its next round), so
//! the caller goes on meanwhile; every call of the store that is not itself queued first waits
//! until they are sent. Failures are logged as the SQLite store's group commits log theirs.

use std::sync::{Condvar, Mutex, MutexGuard};

use crate::tracking::store::{MAX_METRICS_PER_BATCH, MAX_PARAMS_PER_BATCH, MAX_TAGS_PER_BATCH};
use crate::tracking::{Metric, Param, RunStatus, RunTag, StoreError, WriteFailures};

/// Queued writes (runs) past which a write waits for the queue to be sent (back-pressure).
const MAX_PENDING: usize = 256;

/// Writes for one run, sent as one `log-batch` and, with `finish`, one `runs/update`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pending {
    /// The run.
    pub run_id: String,
    /// Params (of a run just created: they cannot conflict).
    pub params: Vec<Param>,
    /// Metric points.
    pub metrics: Vec<Metric>,
    /// Tags (a later value of a key replaces an earlier one).
    pub tags: Vec<RunTag>,
    /// The status and end time the run ends with, after the batch.
    pub finish: Option<(RunStatus, Option<i64>)>,
}

impl Pending {
    /// A batch for `run_id`.
    pub(crate) fn batch(
        run_id: &str,
        params: Vec<Param>,
        metrics: Vec<Metric>,
        tags: Vec<RunTag>,
    ) -> Self {
        Pending {
            run_id: run_id.to_string(),
            params,
            metrics,
            tags,
            finish: None,
        }
    }

    /// Adds `next` to this batch when it is for the same run, this one has not ended, and the
    /// two fit in one batch; gives `next` back otherwise.
    fn merge(&mut self, next: Pending) -> Option<Pending> {
        let fits = self.run_id == next.run_id
            && self.finish.is_none()
            && self.params.len() + next.params.len() <= MAX_PARAMS_PER_BATCH
            && self.metrics.len() + next.metrics.len() <= MAX_METRICS_PER_BATCH
            && self.tags.len() + next.tags.len() <= MAX_TAGS_PER_BATCH
            && next
                .params
                .iter()
                .all(|p| !self.params.iter().any(|q| q.key == p.key));
        if !fits {
            return Some(next);
        }
        self.params.extend(next.params);
        self.metrics.extend(next.metrics);
        for t in next.tags {
            match self.tags.iter_mut().find(|old| old.key == t.key) {
                Some(old) => old.value = t.value,
                None => self.tags.push(t),
            }
        }
        self.finish = next.finish;
        None
    }
}

#[derive(Default)]
struct Waiting {
    items: Vec<Pending>,
    /// The sender is sending a round taken from `items`.
    sending: bool,
    /// The store is closing: the sender sends what is left and ends.
    closed: bool,
}

#[derive(Default)]
struct Log {
    all: WriteFailures,
    /// Failures since the last flush: how many and the first message.
    unreported: usize,
    unreported_first: Option<String>,
}

/// The queue of a remote store.
#[derive(Default)]
pub(crate) struct WriteQueue {
    waiting: Mutex<Waiting>,
    /// Signalled when writes are queued or the queue closes (the sender waits on it).
    queued: Condvar,
    /// Signalled when a round is sent (callers waiting for the queue wait on it).
    sent: Condvar,
    log: Mutex<Log>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl WriteQueue {
    /// Queues a write for the sender; waits first if too many are waiting.
    pub(crate) fn push(&self, p: Pending) {
        let mut w = lock(&self.waiting);
        while w.items.len() >= MAX_PENDING && !w.closed {
            w = self.sent.wait(w).unwrap_or_else(|e| e.into_inner());
        }
        // what the sender took is no longer in `items`: the last one can still grow
        let rest = match w.items.last_mut() {
            Some(last) => last.merge(p),
            None => Some(p),
        };
        if let Some(p) = rest {
            w.items.push(p);
        }
        self.queued.notify_one();
    }

    /// The sender's loop: sends each round of queued writes with `send`, in order, logging the
    /// failures, until the queue is closed and empty.
    pub(crate) fn serve(&self, send: &dyn Fn(&Pending) -> Result<(), StoreError>) {
        loop {
            let items = {
                let mut w = lock(&self.waiting);
                while w.items.is_empty() && !w.closed {
                    w = self.queued.wait(w).unwrap_or_else(|e| e.into_inner());
                }
                if w.items.is_empty() {
                    return;
                }
                w.sending = true;
                std::mem::take(&mut w.items)
            };
            for p in &items {
                if let Err(e) = send(p) {
                    self.record(&p.run_id, &e.to_string());
                }
            }
            lock(&self.waiting).sending = false;
            self.sent.notify_all();
        }
    }

    /// Waits until every write queued so far is sent.
    pub(crate) fn wait_sent(&self) {
        let mut w = lock(&self.waiting);
        while w.sending || (!w.items.is_empty() && !w.closed) {
            w = self.sent.wait(w).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Closes the queue: the sender sends what is left and ends.
    pub(crate) fn close(&self) {
        lock(&self.waiting).closed = true;
        self.queued.notify_all();
    }

    fn record(&self, run_id: &str, message: &str) {
        let mut log = lock(&self.log);
        log.all.failed_writes += 1;
        if !log.all.runs.iter().any(|r| r == run_id) {
            log.all.runs.push(run_id.to_string());
        }
        if log.all.first.is_none() {
            log.all.first = Some(message.to_string());
        }
        log.all.last = Some(message.to_string());
        log.unreported += 1;
        if log.unreported_first.is_none() {
            log.unreported_first = Some(message.to_string());
        }
    }

    /// The failures since the last call, as one error (and forgets them).
    pub(crate) fn take_unreported(&self) -> Result<(), StoreError> {
        let mut log = lock(&self.log);
        if log.unreported == 0 {
            return Ok(());
        }
        let count = std::mem::take(&mut log.unreported);
        let first = log.unreported_first.take().unwrap_or_default();
        Err(StoreError::QueuedWritesFailed { count, first })
    }

    /// The unreported failures in one sentence, if any.
    pub(crate) fn unreported_summary(&self) -> Option<String> {
        let log = lock(&self.log);
        (log.unreported > 0).then(|| {
            format!(
                "{} queued write(s) failed; the first: {}",
                log.unreported,
                log.unreported_first.as_deref().unwrap_or("")
            )
        })
    }

    /// Failures since the store was opened.
    pub(crate) fn failure_count(&self) -> usize {
        lock(&self.log).all.failed_writes
    }

    /// Every failure since the store was opened.
    pub(crate) fn failures(&self) -> WriteFailures {
        lock(&self.log).all.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Queues `writes`, then sends them on a thread of their own; returns what was sent.
    fn send_all(q: &WriteQueue, writes: Vec<Pending>, fail: bool) -> Vec<Pending> {
        for w in writes {
            q.push(w);
        }
        let sent = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            s.spawn(|| {
                q.serve(&|p| {
                    lock(&sent).push(p.clone());
                    if fail {
                        Err(StoreError::RunNotFound(p.run_id.clone()))
                    } else {
                        Ok(())
                    }
                })
            });
            q.wait_sent();
            q.close();
        });
        sent.into_inner().unwrap()
    }

    #[test]
    fn writes_for_one_run_merge_until_it_ends() {
        let q = WriteQueue::default();
        let mut end = Pending::batch("r", vec![], vec![], vec![]);
        end.finish = Some((RunStatus::Finished, Some(5)));
        let sent = send_all(
            &q,
            vec![
                Pending::batch(
                    "r",
                    vec![],
                    vec![Metric::new("m", 1.0, 0)],
                    vec![RunTag::new("t", "a")],
                ),
                Pending::batch(
                    "r",
                    vec![],
                    vec![Metric::new("m", 2.0, 1)],
                    vec![RunTag::new("t", "b")],
                ),
                end,
                Pending::batch("r", vec![], vec![Metric::new("m", 3.0, 2)], vec![]),
            ],
            false,
        );
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].metrics.len(), 2);
        assert_eq!(sent[0].tags, vec![RunTag::new("t", "b")]);
        assert_eq!(sent[0].finish, Some((RunStatus::Finished, Some(5))));
        assert_eq!(sent[1].metrics.len(), 1);
    }

    #[test]
    fn failures_are_reported_once_and_kept() {
        let q = WriteQueue::default();
        let sent = send_all(
            &q,
            vec![Pending::batch(
                "r",
                vec![],
                vec![],
                vec![RunTag::new("t", "a")],
            )],
            true,
        );
        assert_eq!(sent.len(), 1);
        assert!(matches!(
            q.take_unreported(),
            Err(StoreError::QueuedWritesFailed { count: 1, .. })
        ));
        assert!(q.take_unreported().is_ok());
        assert_eq!(q.failure_count(), 1);
        assert_eq!(q.failures().runs, vec!["r".to_string()]);
    }
}
