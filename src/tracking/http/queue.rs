//! The writes a remote store holds back to send together: a trial's params, metrics, tags and
//! end, merged per run while they fit in one `log-batch`, sent before the store's next call
//! that is not itself queued, at [`Store::flush`](crate::tracking::Store::flush), or once the
//! oldest has waited a second. Failures are logged as the SQLite store's group commits log theirs.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::tracking::store::{MAX_METRICS_PER_BATCH, MAX_PARAMS_PER_BATCH, MAX_TAGS_PER_BATCH};
use crate::tracking::{Metric, Param, RunStatus, RunTag, StoreError, WriteFailures};

/// The longest a queued write waits for a call that sends it.
const MAX_WAIT: Duration = Duration::from_secs(1);
/// Queued writes (runs) that make the queue send at once.
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
    since: Option<Instant>,
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
    /// Held while a drain sends, so a call that follows sees every earlier write.
    sending: Mutex<()>,
    log: Mutex<Log>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl WriteQueue {
    /// Queues a write; true when the queue should be sent now (full, or its oldest write waited
    /// long enough).
    pub(crate) fn push(&self, p: Pending) -> bool {
        let mut w = lock(&self.waiting);
        let rest = match w.items.last_mut() {
            Some(last) => last.merge(p),
            None => Some(p),
        };
        if let Some(p) = rest {
            w.items.push(p);
        }
        let since = *w.since.get_or_insert_with(Instant::now);
        w.items.len() >= MAX_PENDING || since.elapsed() >= MAX_WAIT
    }

    /// Sends every queued write with `send`, in order, logging the failures.
    pub(crate) fn drain(&self, send: &dyn Fn(&Pending) -> Result<(), StoreError>) {
        let _sending = lock(&self.sending);
        let items = {
            let mut w = lock(&self.waiting);
            w.since = None;
            std::mem::take(&mut w.items)
        };
        for p in &items {
            if let Err(e) = send(p) {
                self.record(&p.run_id, &e.to_string());
            }
        }
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

    #[test]
    fn writes_for_one_run_merge_until_it_ends() {
        let q = WriteQueue::default();
        q.push(Pending::batch(
            "r",
            vec![],
            vec![Metric::new("m", 1.0, 0)],
            vec![RunTag::new("t", "a")],
        ));
        q.push(Pending::batch(
            "r",
            vec![],
            vec![Metric::new("m", 2.0, 1)],
            vec![RunTag::new("t", "b")],
        ));
        let mut end = Pending::batch("r", vec![], vec![], vec![]);
        end.finish = Some((RunStatus::Finished, Some(5)));
        q.push(end);
        q.push(Pending::batch(
            "r",
            vec![],
            vec![Metric::new("m", 3.0, 2)],
            vec![],
        ));
        let sent = Mutex::new(Vec::new());
        q.drain(&|p| {
            lock(&sent).push(p.clone());
            Ok(())
        });
        let sent = sent.into_inner().unwrap();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].metrics.len(), 2);
        assert_eq!(sent[0].tags, vec![RunTag::new("t", "b")]);
        assert_eq!(sent[0].finish, Some((RunStatus::Finished, Some(5))));
        assert_eq!(sent[1].metrics.len(), 1);
    }

    #[test]
    fn failures_are_reported_once_and_kept() {
        let q = WriteQueue::default();
        q.push(Pending::batch(
            "r",
            vec![],
            vec![],
            vec![RunTag::new("t", "a")],
        ));
        q.drain(&|_| Err(StoreError::RunNotFound("r".into())));
        assert!(matches!(
            q.take_unreported(),
            Err(StoreError::QueuedWritesFailed { count: 1, .. })
        ));
        assert!(q.take_unreported().is_ok());
        assert_eq!(q.failure_count(), 1);
        assert_eq!(q.failures().runs, vec!["r".to_string()]);
    }
}
