//! The shared-study board on SQLite: several processes of one machine sharing one file.
//!
//! Each call is one `BEGIN IMMEDIATE` transaction (SQLite runs one writer at a time, so a claim's
//! counter, its row and its lease commit together) on the store's own connection: a second
//! connection to the file would drop its page cache whenever the other one commits, and read the
//! pages back each time (about 50 reads per trial of a command study before). Versions are
//! the highest version + 1 at the write, which commit in order because writers are serialized;
//! lease expiry uses this machine's clock, the only one a SQLite file has.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};

use super::{
    closer_is_lost, ClaimedTrial, NewSharedStudy, Retry, SharedStudyRow, StudyBoard, TrialEnd,
    TrialRow, UnwrittenStudy, NOT_STARTED, WORKER_LOST,
};
use crate::tracking::checkpoint::CommitPacer;
use crate::tracking::sqlite::QueueCarrier;
use crate::tracking::store::now_ms;
use crate::tracking::write_queue::QueuedWrite;
use crate::tracking::{ExperimentId, StoreError};

/// Migration 7 of the SQLite schema: the shared-study tables.
pub const MIGRATION_V7: &str = r#"
CREATE TABLE studies (
    study_run_uuid TEXT PRIMARY KEY,
    experiment_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    max_evals INTEGER NOT NULL,
    retries INTEGER NOT NULL DEFAULT 0,
    spec TEXT NOT NULL,
    active INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX studies_active ON studies (experiment_id, name) WHERE active = 1;
CREATE INDEX studies_by_name ON studies (experiment_id, name, created_ms);
CREATE TABLE study_claims (
    study_run_uuid TEXT PRIMARY KEY,
    next_number INTEGER NOT NULL
);
CREATE TABLE study_trials (
    study_run_uuid TEXT NOT NULL,
    number INTEGER NOT NULL,
    run_uuid TEXT,
    state TEXT NOT NULL,
    loss REAL,
    params TEXT,
    last_step INTEGER,
    message TEXT,
    worker TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    ended_ms INTEGER,
    retry_of INTEGER,
    attempt INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL,
    PRIMARY KEY (study_run_uuid, number)
);
CREATE INDEX study_trials_by_version ON study_trials (study_run_uuid, version);
CREATE INDEX study_trials_version ON study_trials (version);
CREATE TABLE trial_leases (
    study_run_uuid TEXT NOT NULL,
    number INTEGER NOT NULL,
    worker TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (study_run_uuid, number)
);
CREATE TABLE study_retries (
    study_run_uuid TEXT NOT NULL,
    retry_of INTEGER NOT NULL,
    params TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    PRIMARY KEY (study_run_uuid, retry_of)
);
"#;

/// Schema version 8: who ended a study, why and when, and whether its result is still to be
/// written (see [`StudyBoard::take_over_result`]).
pub const MIGRATION_V8: &str = r#"
ALTER TABLE studies ADD COLUMN closed_by TEXT;
ALTER TABLE studies ADD COLUMN closed_ms INTEGER;
ALTER TABLE studies ADD COLUMN closed_reason TEXT;
ALTER TABLE studies ADD COLUMN result_pending INTEGER NOT NULL DEFAULT 0;
CREATE INDEX studies_pending ON studies (experiment_id, name) WHERE result_pending = 1;
"#;

/// The next version of a trial row (writers are serialized, so versions commit in order).
const NEXT_VERSION: &str = "(SELECT COALESCE(MAX(version), 0) + 1 FROM study_trials)";

/// The columns [`trial_row`] reads, in order.
const TRIAL_COLUMNS: &str = "number, run_uuid, state, loss, params, last_step, message, worker,
     started_ms, ended_ms, retry_of, attempt, version";

/// The board of a SQLite store file.
pub struct SqliteBoard {
    conn: Arc<Mutex<Connection>>,
    /// The store's queued writes, committed with the board's writes (see [`StudyBoard::carries_store_writes`]).
    carrier: Option<Arc<dyn QueueCarrier>>,
    /// Checkpoints the WAL the board's commits grow, in the background (as the store does).
    pacer: CommitPacer,
}

impl std::fmt::Debug for SqliteBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteBoard").finish()
    }
}

fn db(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            StoreError::Busy(e.to_string())
        }
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DiskFull
                    | rusqlite::ErrorCode::SystemIoFailure
                    | rusqlite::ErrorCode::ReadOnly
                    | rusqlite::ErrorCode::CannotOpen
                    | rusqlite::ErrorCode::DatabaseCorrupt
                    | rusqlite::ErrorCode::NotADatabase
            ) =>
        {
            StoreError::Storage(e.to_string())
        }
        other => StoreError::Database(other.to_string()),
    }
}

impl SqliteBoard {
    /// The board on `conn`, the store's connection to the file at `path` (already migrated);
    /// with `carrier`, each of its writes first commits the store's queued writes in the same
    /// transaction, and a trial's end waits with them ([`StudyBoard::finish_later`]).
    pub(crate) fn on(
        conn: Arc<Mutex<Connection>>,
        path: &Path,
        carrier: Option<Arc<dyn QueueCarrier>>,
    ) -> SqliteBoard {
        SqliteBoard {
            conn,
            carrier,
            pacer: CommitPacer::new(path),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in one immediate transaction, after the store's queued writes, and commits
    /// them together. If that transaction fails, the queued writes are committed the store's own
    /// way (a failing one kept for the store's flush to report) and `f` runs again alone.
    fn write<T>(
        &self,
        mut f: impl FnMut(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.lock();
        let carried = self
            .carrier
            .as_ref()
            .map(|c| c.take_queued())
            .unwrap_or_default();
        let mut out = commit_after(&mut conn, &carried, &mut f);
        if let (Err(_), Some(carrier)) = (&out, &self.carrier) {
            if !carried.is_empty() {
                carrier.commit_apart(&mut conn, &carried);
                out = commit_after(&mut conn, &[], &mut f);
            }
        }
        drop(conn);
        if out.is_ok() {
            self.pacer.count_commit();
        }
        if let (false, Some(carrier)) = (carried.is_empty(), &self.carrier) {
            carrier.check_file();
        }
        out
    }
}

/// `writes`, then `f`, in one immediate transaction on `conn`, committed.
fn commit_after<T>(
    conn: &mut Connection,
    writes: &[QueuedWrite],
    f: &mut impl FnMut(&Transaction<'_>) -> rusqlite::Result<T>,
) -> Result<T, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    for w in writes {
        w.apply(&tx)?;
    }
    let out = f(&tx).map_err(db)?;
    tx.commit().map_err(db)?;
    Ok(out)
}

fn study_row(r: &Row<'_>) -> rusqlite::Result<SharedStudyRow> {
    Ok(SharedStudyRow {
        study_run_id: r.get(0)?,
        experiment_id: r.get(1)?,
        name: r.get(2)?,
        max_evals: r.get(3)?,
        retries: r.get(4)?,
        spec: r.get(5)?,
        active: r.get::<_, i64>(6)? != 0,
    })
}

const STUDY_COLUMNS: &str = "study_run_uuid, experiment_id, name, max_evals, retries, spec, active";

fn trial_row(r: &Row<'_>) -> rusqlite::Result<(TrialRow, i64)> {
    Ok((
        TrialRow {
            number: r.get(0)?,
            run_id: r.get(1)?,
            state: r.get(2)?,
            loss: r.get(3)?,
            params: r.get(4)?,
            last_step: r.get(5)?,
            message: r.get(6)?,
            worker: r.get(7)?,
            started_ms: r.get(8)?,
            ended_ms: r.get(9)?,
            retry_of: r.get(10)?,
            attempt: r.get(11)?,
        },
        r.get(12)?,
    ))
}

fn insert_study(
    tx: &Transaction<'_>,
    experiment_id: ExperimentId,
    name: &str,
    new: &NewSharedStudy,
) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT INTO studies (study_run_uuid, experiment_id, name, max_evals, retries, spec, active,
             created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7) ON CONFLICT DO NOTHING",
        params![
            new.study_run_id,
            experiment_id,
            name,
            new.max_evals,
            new.retries,
            new.spec,
            now_ms()
        ],
    )
}

impl StudyBoard for SqliteBoard {
    fn join(
        &self,
        experiment_id: ExperimentId,
        name: &str,
        new: &NewSharedStudy,
    ) -> Result<(SharedStudyRow, bool), StoreError> {
        self.write(|tx| {
            let created = insert_study(tx, experiment_id, name, new)? == 1;
            let row = tx.query_row(
                &format!(
                    "SELECT {STUDY_COLUMNS} FROM studies
                     WHERE experiment_id = ?1 AND name = ?2 AND active = 1"
                ),
                params![experiment_id, name],
                study_row,
            )?;
            Ok((row, created))
        })
    }

    fn study(&self, study_run_id: &str) -> Result<Option<SharedStudyRow>, StoreError> {
        self.lock()
            .query_row(
                &format!("SELECT {STUDY_COLUMNS} FROM studies WHERE study_run_uuid = ?1"),
                [study_run_id],
                study_row,
            )
            .optional()
            .map_err(db)
    }

    fn find(
        &self,
        experiment_id: ExperimentId,
        name: &str,
    ) -> Result<Option<SharedStudyRow>, StoreError> {
        self.lock()
            .query_row(
                &format!(
                    "SELECT {STUDY_COLUMNS} FROM studies WHERE experiment_id = ?1 AND name = ?2
                     ORDER BY active DESC, created_ms DESC, rowid DESC LIMIT 1"
                ),
                params![experiment_id, name],
                study_row,
            )
            .optional()
            .map_err(db)
    }

    fn reactivate(&self, study_run_id: &str, max_evals: i64) -> Result<bool, StoreError> {
        self.write(|tx| {
            let clash: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM studies a JOIN studies s
                     ON a.experiment_id = s.experiment_id AND a.name = s.name
                     WHERE s.study_run_uuid = ?1 AND a.active = 1 AND a.study_run_uuid <> ?1)",
                [study_run_id],
                |r| r.get(0),
            )?;
            if clash {
                return Ok(false);
            }
            Ok(tx.execute(
                "UPDATE studies SET active = 1, result_pending = 0, max_evals = ?2
                     + COALESCE((SELECT next_number FROM study_claims WHERE study_run_uuid = ?1), 0)
                     - (SELECT COUNT(*) FROM study_trials WHERE study_run_uuid = ?1)
                 WHERE study_run_uuid = ?1",
                params![study_run_id, max_evals],
            )? == 1)
        })
    }

    fn forget(&self, study_run_id: &str, numbers: &[i64]) -> Result<(), StoreError> {
        self.write(|tx| {
            for n in numbers {
                tx.execute(
                    "DELETE FROM study_trials WHERE study_run_uuid = ?1 AND number = ?2
                         AND state <> 'RUNNING'",
                    params![study_run_id, n],
                )?;
            }
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
        self.write(|tx| {
            if insert_study(tx, experiment_id, name, new)? == 0 {
                return Err(rusqlite::Error::QueryReturnedNoRows);
            }
            tx.execute(
                "INSERT INTO study_claims (study_run_uuid, next_number) VALUES (?1, ?2)
                 ON CONFLICT (study_run_uuid) DO UPDATE SET next_number = excluded.next_number",
                params![new.study_run_id, next_number],
            )?;
            for t in trials {
                tx.execute(
                    &format!(
                        "INSERT OR REPLACE INTO study_trials (study_run_uuid, number, run_uuid,
                             state, loss, params, last_step, message, worker, started_ms,
                             ended_ms, retry_of, attempt, version)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,
                             {NEXT_VERSION})"
                    ),
                    params![
                        new.study_run_id,
                        t.number,
                        t.run_id,
                        t.state,
                        t.loss.filter(|l| l.is_finite()),
                        t.params,
                        t.last_step,
                        t.message,
                        t.worker,
                        t.started_ms,
                        t.ended_ms,
                        t.retry_of,
                        t.attempt
                    ],
                )?;
            }
            Ok(())
        })
        .map_err(|e| match e {
            StoreError::Database(m) if m.contains("Query returned no rows") => {
                StoreError::InvalidArgument(format!(
                    "another study named '{name}' is active in this experiment"
                ))
            }
            other => other,
        })
    }

    fn claim(
        &self,
        study_run_id: &str,
        worker: &str,
        ttl: Duration,
    ) -> Result<Option<ClaimedTrial>, StoreError> {
        self.write(|tx| claim_in(tx, study_run_id, worker, ttl))
    }

    fn start(
        &self,
        study_run_id: &str,
        _worker: &str,
        number: i64,
        run_id: Option<&str>,
        params: &str,
    ) -> Result<(), StoreError> {
        self.write(|tx| start_in(tx, study_run_id, number, run_id, params))
    }

    fn claims_with_start(&self) -> bool {
        true
    }

    fn start_and_claim(
        &self,
        study_run_id: &str,
        worker: &str,
        number: i64,
        run_id: Option<&str>,
        params: &str,
        ttl: Duration,
    ) -> Result<Option<ClaimedTrial>, StoreError> {
        self.write(|tx| {
            start_in(tx, study_run_id, number, run_id, params)?;
            claim_in(tx, study_run_id, worker, ttl)
        })
    }

    fn release(&self, study_run_id: &str, worker: &str, number: i64) -> Result<(), StoreError> {
        self.write(|tx| release_in(tx, study_run_id, worker, number))
    }

    fn finish(&self, study_run_id: &str, number: i64, end: &TrialEnd) -> Result<bool, StoreError> {
        self.write(|tx| finish_in(tx, study_run_id, number, end))
    }

    fn finish_later(
        &self,
        study_run_id: &str,
        number: i64,
        end: &TrialEnd,
    ) -> Result<(), StoreError> {
        let Some(carrier) = &self.carrier else {
            return self.finish(study_run_id, number, end).map(|_| ());
        };
        let (study, end) = (study_run_id.to_string(), end.clone());
        carrier.queue_write(QueuedWrite::new(study_run_id, move |tx| {
            finish_in(tx, &study, number, &end).map(|_| ()).map_err(db)
        }));
        Ok(())
    }

    fn carries_store_writes(&self) -> bool {
        self.carrier.is_some()
    }

    fn start_commits_store_writes(&self) -> bool {
        // `write` commits the carried writes with the start, or apart when that fails
        self.carrier.is_some()
    }

    fn changes(&self, study_run_id: &str, since: i64) -> Result<(Vec<TrialRow>, i64), StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {TRIAL_COLUMNS} FROM study_trials
                 WHERE study_run_uuid = ?1 AND version > ?2 ORDER BY version"
            ))
            .map_err(db)?;
        let mut next = since;
        let mut rows = Vec::new();
        for r in stmt
            .query_map(params![study_run_id, since], trial_row)
            .map_err(db)?
        {
            let (row, version) = r.map_err(db)?;
            next = next.max(version);
            rows.push(row);
        }
        Ok((rows, next))
    }

    fn renew(
        &self,
        study_run_id: &str,
        worker: &str,
        numbers: &[i64],
        ttl: Duration,
    ) -> Result<u64, StoreError> {
        self.write(|tx| {
            let expires = now_ms() + ttl.as_millis() as i64;
            let mut held = 0;
            for n in numbers {
                held += tx.execute(
                    "UPDATE trial_leases SET expires_ms = ?4
                     WHERE study_run_uuid = ?1 AND worker = ?2 AND number = ?3",
                    params![study_run_id, worker, n, expires],
                )? as u64;
            }
            Ok(held)
        })
    }

    fn reap(
        &self,
        study_run_id: &str,
        is_dead: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<TrialRow>, StoreError> {
        // a look first: most calls find nothing to take back, and need not wait for the write lock
        let lost_leases = {
            let conn = self.lock();
            let mut stmt = conn
                .prepare_cached(
                    "SELECT worker, expires_ms FROM trial_leases WHERE study_run_uuid = ?1",
                )
                .map_err(db)?;
            let leases = stmt
                .query_map([study_run_id], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))
                .map_err(db)?
                .collect::<rusqlite::Result<Vec<(String, i64)>>>()
                .map_err(db)?;
            let now = now_ms();
            leases
                .iter()
                .any(|(w, expires)| *expires < now || is_dead(w))
        };
        if !lost_leases {
            return Ok(Vec::new());
        }
        self.write(|tx| {
            let now = now_ms();
            let leases: Vec<(i64, String, i64)> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT number, worker, expires_ms FROM trial_leases WHERE study_run_uuid = ?1",
                )?;
                let rows = stmt.query_map([study_run_id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let retries: i64 = tx
                .query_row(
                    "SELECT retries FROM studies WHERE study_run_uuid = ?1",
                    [study_run_id],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(0);
            let mut lost = Vec::new();
            for (number, worker, expires) in leases {
                if expires >= now && !is_dead(&worker) {
                    continue;
                }
                tx.execute(
                    "DELETE FROM trial_leases WHERE study_run_uuid = ?1 AND number = ?2",
                    params![study_run_id, number],
                )?;
                let row = tx
                    .query_row(
                        &format!(
                            "UPDATE study_trials SET state = 'FAILED', message = ?3, ended_ms = ?4,
                                 version = {NEXT_VERSION}
                             WHERE study_run_uuid = ?1 AND number = ?2 AND state = 'RUNNING'
                             RETURNING {TRIAL_COLUMNS}"
                        ),
                        params![study_run_id, number, WORKER_LOST, now],
                        trial_row,
                    )
                    .optional()?;
                let Some((row, _)) = row else { continue };
                if let Some(params) = row.params.as_ref().filter(|_| row.attempt < retries) {
                    tx.execute(
                        "INSERT OR IGNORE INTO study_retries (study_run_uuid, retry_of, params, attempt)
                         VALUES (?1, ?2, ?3, ?4)",
                        params![study_run_id, row.number, params, row.attempt + 1],
                    )?;
                }
                lost.push(row);
            }
            Ok(lost)
        })
    }

    fn outstanding(&self, study_run_id: &str, worker: &str) -> Result<(i64, i64), StoreError> {
        self.lock()
            .query_row(
                "SELECT
                     (SELECT COUNT(*) FROM study_trials
                      WHERE study_run_uuid = ?1 AND state = 'RUNNING' AND worker <> ?2),
                     (SELECT s.max_evals - COALESCE(c.next_number, 0) FROM studies s
                      LEFT JOIN study_claims c ON c.study_run_uuid = s.study_run_uuid
                      WHERE s.study_run_uuid = ?1)",
                params![study_run_id, worker],
                |r| Ok((r.get(0)?, r.get::<_, Option<i64>>(1)?.unwrap_or(0).max(0))),
            )
            .map_err(db)
    }

    fn close(
        &self,
        study_run_id: &str,
        worker: &str,
        budget_used: bool,
        reason: &str,
    ) -> Result<bool, StoreError> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE studies SET active = 0, result_pending = 1, closed_by = ?2,
                     closed_ms = ?4, closed_reason = ?5
                 WHERE study_run_uuid = ?1 AND active = 1
                   AND NOT EXISTS (SELECT 1 FROM study_trials t WHERE t.study_run_uuid = ?1
                                   AND t.state = 'RUNNING' AND t.worker <> ?2)
                   AND (?3 = 0 OR COALESCE((SELECT next_number FROM study_claims
                                            WHERE study_run_uuid = ?1), 0) >= max_evals)",
                params![study_run_id, worker, budget_used as i64, now_ms(), reason],
            )? == 1)
        })
    }

    fn result_written(&self, study_run_id: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "UPDATE studies SET result_pending = 0 WHERE study_run_uuid = ?1",
                [study_run_id],
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
        // read first: most joins find nothing pending and take no write lock
        let pending = |conn: &Connection| {
            conn.query_row(
                &format!(
                    "SELECT {STUDY_COLUMNS}, COALESCE(closed_by, ''), COALESCE(closed_ms, 0),
                         COALESCE(closed_reason, '')
                     FROM studies WHERE experiment_id = ?1 AND name = ?2 AND active = 0
                       AND result_pending = 1
                     ORDER BY created_ms DESC, rowid DESC LIMIT 1"
                ),
                params![experiment_id, name],
                |r| {
                    Ok((
                        study_row(r)?,
                        r.get::<_, String>(7)?,
                        r.get::<_, i64>(8)?,
                        r.get(9)?,
                    ))
                },
            )
            .optional()
        };
        if pending(&self.lock()).map_err(db)?.is_none() {
            return Ok(None);
        }
        self.write(|tx| {
            let Some((study, closed_by, closed_ms, reason)) = pending(tx)? else {
                return Ok(None);
            };
            if !closer_is_lost(&closed_by, closed_ms, is_dead, patience) {
                return Ok(None);
            }
            tx.execute(
                "UPDATE studies SET closed_by = ?2, closed_ms = ?3 WHERE study_run_uuid = ?1",
                params![study.study_run_id, worker, now_ms()],
            )?;
            Ok(Some(UnwrittenStudy {
                study,
                closed_by,
                reason,
            }))
        })
    }
}

/// A trial's end on the board, in `tx`: true if it was still running there (a trial taken back
/// as lost keeps that).
fn finish_in(
    tx: &Transaction<'_>,
    study_run_id: &str,
    number: i64,
    end: &TrialEnd,
) -> rusqlite::Result<bool> {
    let n = tx
        .prepare_cached(&format!(
            "UPDATE study_trials SET state = ?3, loss = ?4, last_step = ?5, message = ?6,
                 ended_ms = ?7, version = {NEXT_VERSION}
             WHERE study_run_uuid = ?1 AND number = ?2 AND state = 'RUNNING'"
        ))?
        .execute(params![
            study_run_id,
            number,
            end.state,
            end.loss.filter(|l| l.is_finite()),
            end.last_step,
            end.message,
            end.ended_ms
        ])?;
    tx.prepare_cached("DELETE FROM trial_leases WHERE study_run_uuid = ?1 AND number = ?2")?
        .execute(params![study_run_id, number])?;
    Ok(n == 1)
}

/// The next trial number claimed for `worker` in `tx` (see [`StudyBoard::claim`]).
fn claim_in(
    tx: &Transaction<'_>,
    study_run_id: &str,
    worker: &str,
    ttl: Duration,
) -> rusqlite::Result<Option<ClaimedTrial>> {
    let number: Option<i64> = tx
        .prepare_cached(
            "INSERT INTO study_claims AS c (study_run_uuid, next_number)
             SELECT ?1, 1 FROM studies s WHERE s.study_run_uuid = ?1 AND s.max_evals > 0
             ON CONFLICT (study_run_uuid) DO UPDATE SET next_number = c.next_number + 1
                 WHERE c.next_number < (SELECT max_evals FROM studies
                                        WHERE study_run_uuid = ?1)
             RETURNING next_number - 1",
        )?
        .query_row([study_run_id], |r| r.get(0))
        .optional()?;
    let Some(number) = number else {
        return Ok(None);
    };
    let retry = tx
        .prepare_cached(
            "DELETE FROM study_retries WHERE rowid = (SELECT rowid FROM study_retries
                 WHERE study_run_uuid = ?1 ORDER BY retry_of LIMIT 1)
             RETURNING retry_of, params, attempt",
        )?
        .query_row([study_run_id], |r| {
            Ok(Retry {
                of: r.get(0)?,
                params: r.get(1)?,
                attempt: r.get(2)?,
            })
        })
        .optional()?;
    let now = now_ms();
    tx.prepare_cached(&format!(
        "INSERT OR REPLACE INTO study_trials (study_run_uuid, number, state, worker,
                 started_ms, retry_of, attempt, params, version)
             VALUES (?1, ?2, 'RUNNING', ?3, ?4, ?5, ?6, ?7, {NEXT_VERSION})"
    ))?
    .execute(params![
        study_run_id,
        number,
        worker,
        now,
        retry.as_ref().map(|r| r.of),
        retry.as_ref().map_or(0, |r| r.attempt),
        retry.as_ref().map(|r| r.params.clone()),
    ])?;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO trial_leases (study_run_uuid, number, worker, expires_ms)
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        study_run_id,
        number,
        worker,
        now + ttl.as_millis() as i64
    ])?;
    Ok(Some(ClaimedTrial { number, retry }))
}

/// A claimed trial's run and params, in `tx` (see [`StudyBoard::start`]); it started now (a
/// number claimed ahead waited for the previous trial).
fn start_in(
    tx: &Transaction<'_>,
    study_run_id: &str,
    number: i64,
    run_id: Option<&str>,
    params: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached(&format!(
        "UPDATE study_trials SET run_uuid = ?3, params = ?4, started_ms = ?5,
             version = {NEXT_VERSION}
             WHERE study_run_uuid = ?1 AND number = ?2"
    ))?
    .execute(params![study_run_id, number, run_id, params, now_ms()])?;
    Ok(())
}

/// Gives back trial `number`, claimed by `worker` and never started, in `tx` (see
/// [`StudyBoard::release`]). The row stays, FAILED, so that workers that saw it running see it
/// end; when the number was the last one handed out it is handed out again (the next claim
/// replaces the row).
fn release_in(
    tx: &Transaction<'_>,
    study_run_id: &str,
    worker: &str,
    number: i64,
) -> rusqlite::Result<()> {
    let released = tx
        .query_row(
            &format!(
                "UPDATE study_trials SET state = 'FAILED', message = ?4, ended_ms = ?5,
                     version = {NEXT_VERSION}
                 WHERE study_run_uuid = ?1 AND number = ?2 AND worker = ?3 AND state = 'RUNNING'
                   AND run_uuid IS NULL
                 RETURNING retry_of, params, attempt"
            ),
            params![study_run_id, number, worker, NOT_STARTED, now_ms()],
            |r| {
                Ok((
                    r.get::<_, Option<i64>>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            },
        )
        .optional()?;
    let Some((retry_of, retry_params, attempt)) = released else {
        return Ok(());
    };
    tx.execute(
        "DELETE FROM trial_leases WHERE study_run_uuid = ?1 AND number = ?2 AND worker = ?3",
        params![study_run_id, number, worker],
    )?;
    if let (Some(of), Some(p)) = (retry_of, retry_params) {
        tx.execute(
            "INSERT OR IGNORE INTO study_retries (study_run_uuid, retry_of, params, attempt)
             VALUES (?1, ?2, ?3, ?4)",
            params![study_run_id, of, p, attempt],
        )?;
    }
    tx.execute(
        "UPDATE study_claims SET next_number = next_number - 1
         WHERE study_run_uuid = ?1 AND next_number = ?2 + 1",
        params![study_run_id, number],
    )?;
    Ok(())
}
