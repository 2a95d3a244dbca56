//! The shared-study board on PostgreSQL: workers on many machines sharing one study.
//!
//! Claims are one counter upsert checked against the budget (a row of `study_claims`, with
//! the budget read from the study's row), committed without waiting for the WAL flush (so the
//! counter row's lock is never held through a flush) and made durable by the trial's start, the
//! worker's next commit, which waits for the flush and checks that the claim is still there
//! (at most one flush per trial, fewer when quick trials share a group commit: see
//! [`super::committer`]); leases use the server's clock (`now()`), so
//! workers' clocks need not agree, and a row's version is the id of the transaction that last
//! wrote it:
//! a reader asks for rows written by transactions from the oldest one still running at its last
//! read on, so a row committed after a later one is never skipped (rows read twice merge the
//! same way). Errors that mean the server is out of reach (a closed connection, a restart) are
//! [`StoreError::Busy`], which the coordinator retries.

use std::sync::Arc;
use std::time::Duration;

use postgres::types::{ToSql, Type};
use postgres::{Client, Row, Transaction};

use super::committer::{Committer, GROUP_WINDOW};
use super::pool::Pool;
use super::queue::PgQueue;
use crate::tracking::recorder::TAG_FAILURE_REASON;
use crate::tracking::shared::{
    closer_is_lost, ClaimedTrial, NewSharedStudy, Retry, SharedStudyRow, StudyBoard, TrialEnd,
    TrialRow, UnwrittenStudy, WORKER_LOST,
};
use crate::tracking::store::now_ms;
use crate::tracking::{ExperimentId, StoreError};

/// The columns [`trial_row`] reads, in order.
const TRIAL_COLUMNS: &str = "number, run_uuid, state, loss, params, last_step, message, worker,
     started_ms, ended_ms, retry_of, attempt";

const STUDY_COLUMNS: &str = "study_run_uuid, experiment_id, name, max_evals, retries, spec, active";

/// The id of the writing transaction, as a row's version.
const TXID: &str = "pg_current_xact_id()::text::bigint";

/// The board of a PostgreSQL tracking database.
pub struct PgBoard {
    pool: Arc<Pool>,
    /// The queued writes of the store that opened the board: committed with a trial's start
    /// and end (see [`super::queue`]).
    queue: Option<Arc<PgQueue>>,
    /// Commits the starts that wait in the queue (see [`super::committer`]).
    committer: Option<Committer>,
}

impl std::fmt::Debug for PgBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBoard").finish()
    }
}

impl PgBoard {
    /// The board of the database at `url` (already migrated by the store).
    pub fn open(url: &str) -> Result<PgBoard, StoreError> {
        Self::with_queue(url, None)
    }

    /// The board of the store whose queued writes are `queue`.
    pub(crate) fn open_with_queue(url: &str, queue: Arc<PgQueue>) -> Result<PgBoard, StoreError> {
        Self::with_queue(url, Some(queue))
    }

    fn with_queue(url: &str, queue: Option<Arc<PgQueue>>) -> Result<PgBoard, StoreError> {
        // connections: the worker's, its lease renewals' and the committer's
        let pool = Arc::new(Pool::open(url, 3)?);
        let committer = queue
            .as_ref()
            .and_then(|q| Committer::start(pool.clone(), q.clone()));
        Ok(PgBoard {
            pool,
            queue,
            committer,
        })
    }

    /// Runs `f` alone (one statement, committed on its own) when no store write waits, else
    /// after the store's queued writes in one transaction; an error of `f` rolls that back and
    /// leaves the queue as it was.
    fn with_queued<T>(
        &self,
        f: impl Fn(&mut Query<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.pool.get()?;
        match self.queue.as_deref().filter(|q| !q.is_empty()) {
            None => f(&mut |sql, params| conn.query_typed(sql, params)),
            Some(q) => q.commit_with(&mut conn, |tx| {
                f(&mut |sql, params| tx.tx.query_typed(sql, params))
            }),
        }
    }

    /// Runs `f` on a connection, after committing the store's queued writes (a trial's end
    /// that waits: see [`StudyBoard::finish`]).
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut conn = self.pool.get()?;
        if let Some(q) = self.queue.as_deref().filter(|q| !q.is_empty()) {
            q.commit_with(&mut conn, |_| Ok(()))?;
        }
        Ok(f(&mut conn)?)
    }

    /// Runs `f` on a connection; the store's queued writes wait (for a claim, a read of
    /// changes and a lease renewal, which need not see them).
    fn plain<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut conn = self.pool.get()?;
        Ok(f(&mut conn)?)
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let out = f(&mut tx)?;
            tx.commit()?;
            Ok(out)
        })
    }
}

fn study_row(r: &Row) -> SharedStudyRow {
    SharedStudyRow {
        study_run_id: r.get(0),
        experiment_id: r.get(1),
        name: r.get(2),
        max_evals: r.get(3),
        retries: r.get(4),
        spec: r.get(5),
        active: r.get(6),
    }
}

fn trial_row(r: &Row, at: usize) -> TrialRow {
    TrialRow {
        number: r.get(at),
        run_id: r.get(at + 1),
        state: r.get(at + 2),
        loss: r.get(at + 3),
        params: r.get(at + 4),
        last_step: r.get(at + 5),
        message: r.get(at + 6),
        worker: r.get(at + 7),
        started_ms: r.get(at + 8),
        ended_ms: r.get(at + 9),
        retry_of: r.get(at + 10),
        attempt: r.get(at + 11),
    }
}

fn insert_study(
    tx: &mut Transaction<'_>,
    experiment_id: ExperimentId,
    name: &str,
    new: &NewSharedStudy,
) -> Result<u64, postgres::Error> {
    tx.execute(
        "INSERT INTO studies (study_run_uuid, experiment_id, name, max_evals, retries, spec, active,
             created_ms)
         VALUES ($1, $2, $3, $4, $5, $6, true, $7) ON CONFLICT DO NOTHING",
        &[
            &new.study_run_id,
            &experiment_id,
            &name,
            &new.max_evals,
            &new.retries,
            &new.spec,
            &now_ms(),
        ],
    )
}

/// The statement that records the end of a running trial and ends its lease: `$1` the study
/// run, `$2` the number, `$3`-`$7` the [`TrialEnd`]; returns 1 if the trial was running.
fn finish_sql() -> String {
    format!(
        "WITH u AS (
             UPDATE study_trials SET state = $3, loss = $4, last_step = $5,
                 message = $6, ended_ms = $7, txid = {TXID}
             WHERE study_run_uuid = $1 AND number = $2 AND state = 'RUNNING'
             RETURNING number
         ), d AS (
             DELETE FROM trial_leases WHERE study_run_uuid = $1 AND number = $2
             RETURNING number
         )
         SELECT COUNT(*) FROM u"
    )
}

/// A trial's start as [`StudyBoard::start`] records it (owned: it may wait in the queue).
struct TrialStart {
    study: String,
    worker: String,
    number: i64,
    run: Option<String>,
    params: String,
}

impl TrialStart {
    /// Records the params and run of the trial the worker claimed, in one statement;
    /// [`StoreError::ClaimLost`] when the claim is not the worker's on the board.
    fn record(&self, query: &mut Query<'_>) -> Result<(), StoreError> {
        let rows = query(
            &format!(
                "UPDATE study_trials SET run_uuid = $3, params = $4, txid = {TXID}
                 WHERE study_run_uuid = $1 AND number = $2 AND worker = $5
                 RETURNING number"
            ),
            &[
                (&self.study, Type::TEXT),
                (&self.number, Type::INT8),
                (&self.run, Type::TEXT),
                (&self.params, Type::TEXT),
                (&self.worker, Type::TEXT),
            ],
        )?;
        match rows.is_empty() {
            true => Err(StoreError::ClaimLost {
                number: self.number,
            }),
            false => Ok(()),
        }
    }
}

/// A typed query on the connection or transaction at hand: [`Client::query_typed`] or
/// [`Transaction::query_typed`], planned anew at every call. The statements that find a trial by
/// its number are not prepared once per connection: a prepared statement's generic plan, made
/// while the table is small (and kept as it grows), reads `study_trials` through
/// `study_trials_by_txid` with the study alone as its key and filters the number, every row of
/// the study per trial, instead of the primary key's one.
type Query<'q> =
    dyn FnMut(&str, &[(&(dyn ToSql + Sync), Type)]) -> Result<Vec<Row>, postgres::Error> + 'q;

/// Records the end of running trial `number` and ends its lease, in one statement; `false` if
/// the trial was no longer running.
fn finish_trial(
    query: &mut Query<'_>,
    study_run_id: &str,
    number: i64,
    end: &TrialEnd,
) -> Result<bool, postgres::Error> {
    let rows = query(
        &finish_sql(),
        &[
            (&study_run_id, Type::TEXT),
            (&number, Type::INT8),
            (&end.state, Type::TEXT),
            (&end.loss.filter(|l| l.is_finite()), Type::FLOAT8),
            (&end.last_step, Type::INT8),
            (&end.message, Type::TEXT),
            (&end.ended_ms, Type::INT8),
        ],
    )?;
    Ok(rows.first().is_some_and(|r| r.get::<_, i64>(0) == 1))
}

fn millis(ttl: Duration) -> f64 {
    ttl.as_millis() as f64
}

impl StudyBoard for PgBoard {
    fn join(
        &self,
        experiment_id: ExperimentId,
        name: &str,
        new: &NewSharedStudy,
    ) -> Result<(SharedStudyRow, bool), StoreError> {
        self.write(|tx| {
            let created = insert_study(tx, experiment_id, name, new)? == 1;
            let row = tx.query_one(
                &format!(
                    "SELECT {STUDY_COLUMNS} FROM studies
                     WHERE experiment_id = $1 AND name = $2 AND active"
                ),
                &[&experiment_id, &name],
            )?;
            Ok((study_row(&row), created))
        })
    }

    fn study(&self, study_run_id: &str) -> Result<Option<SharedStudyRow>, StoreError> {
        self.with(|c| {
            Ok(c.query_opt(
                &format!("SELECT {STUDY_COLUMNS} FROM studies WHERE study_run_uuid = $1"),
                &[&study_run_id],
            )?
            .map(|r| study_row(&r)))
        })
    }

    fn find(
        &self,
        experiment_id: ExperimentId,
        name: &str,
    ) -> Result<Option<SharedStudyRow>, StoreError> {
        self.with(|c| {
            Ok(c.query_opt(
                &format!(
                    "SELECT {STUDY_COLUMNS} FROM studies WHERE experiment_id = $1 AND name = $2
                     ORDER BY active DESC, created_ms DESC, study_run_uuid DESC LIMIT 1"
                ),
                &[&experiment_id, &name],
            )?
            .map(|r| study_row(&r)))
        })
    }

    fn reactivate(&self, study_run_id: &str, max_evals: i64) -> Result<bool, StoreError> {
        self.write(|tx| {
            let clash: bool = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM studies a JOIN studies s
                         ON a.experiment_id = s.experiment_id AND a.name = s.name
                         WHERE s.study_run_uuid = $1 AND a.active
                           AND a.study_run_uuid <> $1)",
                    &[&study_run_id],
                )?
                .get(0);
            if clash {
                return Ok(false);
            }
            Ok(tx.execute(
                "UPDATE studies SET active = true, result_pending = false, max_evals = $2
                     + COALESCE((SELECT next_number FROM study_claims WHERE study_run_uuid = $1), 0)
                     - (SELECT COUNT(*) FROM study_trials WHERE study_run_uuid = $1)
                 WHERE study_run_uuid = $1",
                &[&study_run_id, &max_evals],
            )? == 1)
        })
    }

    fn forget(&self, study_run_id: &str, numbers: &[i64]) -> Result<(), StoreError> {
        let numbers = numbers.to_vec();
        self.with(|c| {
            c.execute(
                "DELETE FROM study_trials WHERE study_run_uuid = $1 AND number = ANY($2)
                     AND state <> 'RUNNING'",
                &[&study_run_id, &numbers],
            )?;
            Ok(())
        })
    }

    fn adopt(
        &self,
        experiment_id: ExperimentId,
        name: &str,
        new: &NewSharedStudy,
        trials: &[TrialRow],
        next_number: i64,
    ) -> Result<(), StoreError> {
        let inserted = self.write(|tx| {
            if insert_study(tx, experiment_id, name, new)? == 0 {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO study_claims (study_run_uuid, next_number) VALUES ($1, $2)
                 ON CONFLICT (study_run_uuid) DO UPDATE SET next_number = EXCLUDED.next_number",
                &[&new.study_run_id, &next_number],
            )?;
            for t in trials {
                tx.execute(
                    &format!(
                        "INSERT INTO study_trials (study_run_uuid, number, run_uuid, state, loss,
                             params, last_step, message, worker, started_ms, ended_ms, retry_of,
                             attempt, txid)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, {TXID})
                         ON CONFLICT (study_run_uuid, number) DO NOTHING"
                    ),
                    &[
                        &new.study_run_id,
                        &t.number,
                        &t.run_id,
                        &t.state,
                        &t.loss.filter(|l| l.is_finite()),
                        &t.params,
                        &t.last_step,
                        &t.message,
                        &t.worker,
                        &t.started_ms,
                        &t.ended_ms,
                        &t.retry_of,
                        &t.attempt,
                    ],
                )?;
            }
            Ok(true)
        })?;
        if inserted {
            Ok(())
        } else {
            Err(StoreError::InvalidArgument(format!(
                "another study named '{name}' is active in this experiment"
            )))
        }
    }

    fn claim(
        &self,
        study_run_id: &str,
        worker: &str,
        ttl: Duration,
    ) -> Result<Option<ClaimedTrial>, StoreError> {
        // one statement, one round trip: the counter row's lock is held only while the server
        // runs it, never across a round trip to a worker (whose process may be descheduled), and
        // not while the WAL is flushed either: the claim commits without waiting for the flush
        // (`synchronous_commit` off for this statement's transaction alone, set inside it), so
        // claims of many workers do not queue one flush after the other on the counter row.
        // The number is used in nothing durable before the trial's start, whose commit comes
        // after this one in the WAL and waits for the flush: it makes the claim durable with
        // it, and fails (recording nothing) should the claim have been lost in a crash
        let mut conn = self.pool.get()?;
        // prepared once per connection: parsing and planning this statement was a large share
        // of the server's time per trial
        let row = conn
            .query_cached(
                &format!(
                    "WITH nowait AS (SELECT set_config('synchronous_commit', 'off', true)),
                     n AS (
                         INSERT INTO study_claims AS c (study_run_uuid, next_number)
                         SELECT $1, 1 FROM studies s, nowait
                         WHERE s.study_run_uuid = $1 AND s.max_evals > 0
                         ON CONFLICT (study_run_uuid) DO UPDATE SET next_number = c.next_number + 1
                             WHERE c.next_number < (SELECT max_evals FROM studies
                                                    WHERE study_run_uuid = $1)
                         RETURNING next_number - 1 AS number
                     ), r AS (
                         DELETE FROM study_retries WHERE (study_run_uuid, retry_of) =
                             (SELECT study_run_uuid, retry_of FROM study_retries
                              WHERE study_run_uuid = $1 AND EXISTS (SELECT 1 FROM n)
                              ORDER BY retry_of LIMIT 1 FOR UPDATE SKIP LOCKED)
                         RETURNING retry_of, params, attempt
                     ), t AS (
                         INSERT INTO study_trials (study_run_uuid, number, state, worker,
                             started_ms, retry_of, attempt, params, txid)
                         SELECT $1, n.number, 'RUNNING', $2, $3, r.retry_of,
                             COALESCE(r.attempt, 0), r.params, {TXID}
                         FROM n LEFT JOIN r ON true
                         ON CONFLICT (study_run_uuid, number) DO UPDATE SET state = 'RUNNING',
                             worker = EXCLUDED.worker, started_ms = EXCLUDED.started_ms,
                             retry_of = EXCLUDED.retry_of, attempt = EXCLUDED.attempt,
                             params = EXCLUDED.params, txid = EXCLUDED.txid
                         RETURNING number
                     ), l AS (
                         INSERT INTO trial_leases (study_run_uuid, number, worker, expires_at)
                         SELECT $1, n.number, $2, now() + $4 * interval '1 millisecond' FROM n
                         ON CONFLICT (study_run_uuid, number) DO UPDATE
                             SET worker = EXCLUDED.worker, expires_at = EXCLUDED.expires_at
                         RETURNING number
                     )
                     SELECT n.number, r.retry_of, r.params, r.attempt FROM n LEFT JOIN r ON true"
                ),
                &[
                    (&study_run_id, Type::TEXT),
                    (&worker, Type::TEXT),
                    (&now_ms(), Type::INT8),
                    (&millis(ttl), Type::FLOAT8),
                ],
            )?
            .into_iter()
            .next();
        drop(conn);
        Ok(row.map(|r| ClaimedTrial {
            number: r.get(0),
            retry: r.get::<_, Option<i64>>(1).map(|of| Retry {
                of,
                params: r.get(2),
                attempt: r.get(3),
            }),
        }))
    }

    fn start(
        &self,
        study_run_id: &str,
        worker: &str,
        number: i64,
        run_id: Option<&str>,
        params: &str,
    ) -> Result<(), StoreError> {
        // the worker's claim must be on the board: the commit of this statement (with the
        // previous trial's end and this trial's run) waits for the WAL flush, and so makes the
        // claim durable; a claim lost in a server crash (its commit had not reached the disk)
        // is not there, or is another worker's by now
        let start = TrialStart {
            study: study_run_id.to_string(),
            worker: worker.to_string(),
            number,
            run: run_id.map(str::to_string),
            params: params.to_string(),
        };
        let Some(queue) = &self.queue else {
            let mut conn = self.pool.get()?;
            return start.record(&mut |sql, params| conn.query_typed(sql, params));
        };
        queue.take_lost()?;
        queue.push(run_id.unwrap_or(study_run_id), move |tx| {
            start.record(&mut |sql, params| tx.tx.query_typed(sql, params))
        });
        // a worker whose trials follow each other quickly commits at most once per window (the
        // committer thread commits what waits); else the trial's start commits now, as it
        // would alone
        match (&self.committer, queue.committed_within(GROUP_WINDOW)) {
            (Some(c), true) => c.wake(),
            _ => self.with(|_| Ok(()))?,
        }
        Ok(())
    }

    fn finish(&self, study_run_id: &str, number: i64, end: &TrialEnd) -> Result<bool, StoreError> {
        // one statement: the trial's end and the end of its lease commit together (with the
        // store's queued writes: the end of the trial's run)
        self.with_queued(|query| Ok(finish_trial(query, study_run_id, number, end)?))
    }

    fn finish_later(
        &self,
        study_run_id: &str,
        number: i64,
        end: &TrialEnd,
    ) -> Result<(), StoreError> {
        let Some(queue) = &self.queue else {
            return self.finish(study_run_id, number, end).map(|_| ());
        };
        queue.take_lost()?;
        // the trial's end waits, after its run's end, for this worker's next write to the
        // board (its next trial's start, or any write but a claim) and commits with it
        let (study, end) = (study_run_id.to_string(), end.clone());
        queue.push(study_run_id, move |tx| {
            finish_trial(
                &mut |sql, params| tx.tx.query_typed(sql, params),
                &study,
                number,
                &end,
            )?;
            Ok(())
        });
        Ok(())
    }

    fn changes(&self, study_run_id: &str, since: i64) -> Result<(Vec<TrialRow>, i64), StoreError> {
        // planned at every call (not prepared once): a generic plan of `txid >= $2` reads the
        // whole study
        self.plain(|c| {
            let rows = c.query_typed(
                &format!(
                    "WITH s AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin)
                     SELECT s.xmin, {} FROM s LEFT JOIN study_trials t
                         ON t.study_run_uuid = $1 AND t.txid >= $2
                     ORDER BY t.txid",
                    TRIAL_COLUMNS
                        .split(',')
                        .map(|c| format!("t.{}", c.trim()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                &[(&study_run_id, Type::TEXT), (&since, Type::INT8)],
            )?;
            let next = rows.first().map_or(since, |r| r.get::<_, i64>(0));
            let trials = rows
                .iter()
                .filter(|r| r.get::<_, Option<i64>>(1).is_some())
                .map(|r| trial_row(r, 1))
                .collect();
            Ok((trials, next))
        })
    }

    fn renew(
        &self,
        study_run_id: &str,
        worker: &str,
        numbers: &[i64],
        ttl: Duration,
    ) -> Result<u64, StoreError> {
        let numbers = numbers.to_vec();
        self.plain(|c| {
            c.execute(
                "UPDATE trial_leases SET expires_at = now() + $3 * interval '1 millisecond'
                 WHERE study_run_uuid = $1 AND worker = $2 AND number = ANY($4)",
                &[&study_run_id, &worker, &millis(ttl), &numbers],
            )
        })
    }

    fn reap(
        &self,
        study_run_id: &str,
        is_dead: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<TrialRow>, StoreError> {
        let workers: Vec<String> = self.with(|c| {
            Ok(c.query(
                "SELECT DISTINCT worker FROM trial_leases WHERE study_run_uuid = $1",
                &[&study_run_id],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
        })?;
        let dead: Vec<String> = workers.into_iter().filter(|w| is_dead(w)).collect();
        self.write(|tx| {
            let numbers: Vec<i64> = tx
                .query(
                    "DELETE FROM trial_leases WHERE study_run_uuid = $1
                         AND (expires_at < now() OR worker = ANY($2))
                     RETURNING number",
                    &[&study_run_id, &dead],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            if numbers.is_empty() {
                return Ok(Vec::new());
            }
            let retries: i64 = tx
                .query_opt(
                    "SELECT retries FROM studies WHERE study_run_uuid = $1",
                    &[&study_run_id],
                )?
                .map_or(0, |r| r.get(0));
            let mut lost = Vec::new();
            for number in numbers {
                let row = tx.query_opt(
                    &format!(
                        "UPDATE study_trials SET state = 'FAILED', message = $3, ended_ms = $4,
                             txid = {TXID}
                         WHERE study_run_uuid = $1 AND number = $2 AND state = 'RUNNING'
                         RETURNING {TRIAL_COLUMNS}"
                    ),
                    &[&study_run_id, &number, &WORKER_LOST, &now_ms()],
                )?;
                let Some(row) = row.map(|r| trial_row(&r, 0)) else {
                    continue;
                };
                if let Some(run) = &row.run_id {
                    // its run ends in the same transaction (the caller ends it again, and
                    // looks for the run of a trial that had none on the board yet): a reaper
                    // killed after this commit leaves no run RUNNING for good
                    tx.execute(
                        "WITH r AS (
                             UPDATE runs SET status = 'FAILED', end_time = $2
                             WHERE run_uuid = $1 AND status = 'RUNNING' RETURNING run_uuid)
                         INSERT INTO tags (run_uuid, key, value)
                         SELECT run_uuid, $3, $4 FROM r
                         ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
                        &[run, &now_ms(), &TAG_FAILURE_REASON, &WORKER_LOST],
                    )?;
                }
                if let Some(params) = row.params.as_ref().filter(|_| row.attempt < retries) {
                    tx.execute(
                        "INSERT INTO study_retries (study_run_uuid, retry_of, params, attempt)
                         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                        &[&study_run_id, &row.number, params, &(row.attempt + 1)],
                    )?;
                }
                lost.push(row);
            }
            Ok(lost)
        })
    }

    fn outstanding(&self, study_run_id: &str, worker: &str) -> Result<(i64, i64), StoreError> {
        self.with(|c| {
            let r = c.query_one(
                "SELECT
                     (SELECT COUNT(*) FROM study_trials
                      WHERE study_run_uuid = $1 AND state = 'RUNNING' AND worker <> $2),
                     (SELECT s.max_evals - COALESCE(c.next_number, 0) FROM studies s
                      LEFT JOIN study_claims c ON c.study_run_uuid = s.study_run_uuid
                      WHERE s.study_run_uuid = $1)",
                &[&study_run_id, &worker],
            )?;
            Ok((
                r.get::<_, i64>(0),
                r.get::<_, Option<i64>>(1).unwrap_or(0).max(0),
            ))
        })
    }

    fn carries_store_writes(&self) -> bool {
        self.queue.is_some()
    }

    fn close(
        &self,
        study_run_id: &str,
        worker: &str,
        budget_used: bool,
        reason: &str,
    ) -> Result<bool, StoreError> {
        self.with(|c| {
            Ok(c.execute(
                "UPDATE studies SET active = false, result_pending = true, closed_by = $2,
                     closed_ms = $4, closed_reason = $5
                 WHERE study_run_uuid = $1 AND active
                   AND NOT EXISTS (SELECT 1 FROM study_trials t WHERE t.study_run_uuid = $1
                                   AND t.state = 'RUNNING' AND t.worker <> $2)
                   AND (NOT $3 OR COALESCE((SELECT next_number FROM study_claims
                                            WHERE study_run_uuid = $1), 0) >= max_evals)",
                &[&study_run_id, &worker, &budget_used, &now_ms(), &reason],
            )? == 1)
        })
    }

    fn result_written(&self, study_run_id: &str) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE studies SET result_pending = false WHERE study_run_uuid = $1",
                &[&study_run_id],
            )?;
            Ok(())
        })
    }

    fn take_over_result(
        &self,
        experiment_id: ExperimentId,
        name: &str,
        worker: &str,
        is_dead: &dyn Fn(&str) -> bool,
        patience: Duration,
    ) -> Result<Option<UnwrittenStudy>, StoreError> {
        let query = format!(
            "SELECT {STUDY_COLUMNS}, COALESCE(closed_by, ''), COALESCE(closed_ms, 0),
                 COALESCE(closed_reason, '')
             FROM studies WHERE experiment_id = $1 AND name = $2 AND NOT active
               AND result_pending
             ORDER BY created_ms DESC LIMIT 1"
        );
        // read first: most joins find nothing pending and lock nothing
        if self
            .with(|c| c.query_opt(&query, &[&experiment_id, &name]))?
            .is_none()
        {
            return Ok(None);
        }
        self.write(|tx| {
            let Some(row) =
                tx.query_opt(&format!("{query} FOR UPDATE"), &[&experiment_id, &name])?
            else {
                return Ok(None);
            };
            let (study, closed_by, closed_ms, reason): (_, String, i64, String) =
                (study_row(&row), row.get(7), row.get(8), row.get(9));
            if !closer_is_lost(&closed_by, closed_ms, is_dead, patience) {
                return Ok(None);
            }
            tx.execute(
                "UPDATE studies SET closed_by = $2, closed_ms = $3 WHERE study_run_uuid = $1",
                &[&study.study_run_id, &worker, &now_ms()],
            )?;
            Ok(Some(UnwrittenStudy {
                study,
                closed_by,
                reason,
            }))
        })
    }
}
