//! [`PgStore`]: the tracking [`Store`] on a PostgreSQL database. Every write is one transaction,
//! committed before the call returns, except a trial run's creation and end
//! ([`Store::create_run_queued`], [`Store::finish_run_queued`]) once the store's study board is in
//! use: they wait in a [`super::queue`] and commit with the board's next write (the trial's start,
//! the trial's end), one durable commit for both. [`Store::log_batch_queued`] writes at once (the
//! trait's default). The model registry is kept in the same database
//! ([`Store::registry`] returns the store itself, see [`crate::registry::postgres`]), and `hpo gc`
//! removes deleted runs and experiments for good ([`Store::purge_deleted`], see [`super::gc`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use postgres::{GenericClient, Transaction};

use super::analyze::{analyze_stale, Growth};
use super::pool::CachedTx;
use super::queue::PgQueue;
use super::rows::{
    experiment_id_by_name, read_experiment, read_run, read_run_row, require_experiment,
};
use super::run_rows::{finish_run_rows, insert_new_run, new_run_location};
use super::writes::{insert_metrics, insert_params, read_history, upsert_tag, upsert_tags};
use super::{PgDatabase, PgError};
use crate::tracking::retry::retrying;
use crate::tracking::run_search;
use crate::tracking::sqlite::{end_time_for, NewRunRow};
use crate::tracking::store::*;

/// Runs `sql` after this, a recursive query naming the descendants of run `$1` (`descendants (id)`).
const DESCENDANTS: &str = "WITH RECURSIVE descendants (id) AS (
    SELECT run_uuid FROM runs WHERE parent_run_id = $1
    UNION SELECT r.run_uuid FROM runs r JOIN descendants d ON r.parent_run_id = d.id)";

/// The tracking store on a PostgreSQL database.
pub struct PgStore {
    db: PgDatabase,
    artifact_root: PathBuf,
    /// Trial runs' creations and ends waiting for the board's next write (see [`super::queue`]).
    queue: Arc<PgQueue>,
    /// Where new runs of an experiment (under a parent) keep their artifacts, for the runs
    /// already created there: a queued run is checked without a round trip.
    locations: Mutex<HashMap<(ExperimentId, Option<RunId>), String>>,
    /// The runs created since the search tables' statistics were last looked at (see
    /// [`super::analyze`]).
    growth: Growth,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("artifact_root", &self.artifact_root)
            .finish()
    }
}

impl PgStore {
    /// Connects to `url`, migrates its schema and makes sure the "Default" experiment (id 0) exists;
    /// new experiments keep their artifacts under `artifact_root/<id>`.
    pub fn open(url: &str, artifact_root: &Path) -> Result<Self, PgError> {
        let db = PgDatabase::open(url)?;
        let store = PgStore {
            db,
            artifact_root: artifact_root.to_path_buf(),
            queue: Arc::default(),
            locations: Mutex::default(),
            growth: Growth::default(),
        };
        let location = store.location_for(DEFAULT_EXPERIMENT_ID);
        let now = now_ms();
        store.db.conn()?.execute(
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage,
                 creation_time, last_update_time)
             VALUES ($1, $2, $3, 'active', $4, $4) ON CONFLICT DO NOTHING",
            &[
                &DEFAULT_EXPERIMENT_ID,
                &DEFAULT_EXPERIMENT_NAME,
                &location,
                &now,
            ],
        )?;
        Ok(store)
    }

    /// Vacuums and analyses the search tables (`runs`, `params`, `metric_summary`, `tags`) that were
    /// never analysed or changed by a fifth of their rows since, so that searches are planned with
    /// fresh statistics and count from indexes alone (see [`super::analyze`]); returns those
    /// tables. A store that created 1,000 runs or more ([`super::analyze::RUNS_BEFORE_CHECK`]) does
    /// this itself when flushed or closed.
    pub fn analyze_if_stale(&self) -> Result<Vec<String>, StoreError> {
        Ok(analyze_stale(&mut *self.conn()?)?)
    }

    /// After many new runs, [`PgStore::analyze_if_stale`]: a failure only costs the statistics.
    fn analyze_if_grown(&self) {
        if self.growth.due() {
            let _ = self.analyze_if_stale();
        }
    }

    /// The database under the store (claims, leases).
    pub fn database(&self) -> &PgDatabase {
        &self.db
    }

    fn location_for(&self, id: ExperimentId) -> String {
        self.artifact_root
            .join(id.to_string())
            .to_string_lossy()
            .into_owned()
    }

    /// Runs `f` in one transaction and commits it, after the queued writes; while the server is
    /// out of reach (a restart, a network cut) the whole transaction is tried again, with
    /// backoff, for up to [`OUT_OF_REACH_PATIENCE`].
    fn write<T>(
        &self,
        mut f: impl FnMut(&mut Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write_cached(|c| f(c.tx))
    }

    /// [`PgStore::write`] with the connection's statement cache (for the writes of runs).
    fn write_cached<T>(
        &self,
        mut f: impl FnMut(&mut CachedTx<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        retrying(OUT_OF_REACH_PATIENCE, || {
            let mut conn = self.db.conn()?;
            self.commit_queue_on(&mut conn)?;
            let (client, prepared) = conn.parts();
            let mut tx = client.transaction()?;
            let out = f(&mut CachedTx::new(&mut tx, prepared))?;
            tx.commit()?;
            Ok(out)
        })
    }

    /// A connection from the pool, the queued writes committed, waiting (as [`PgStore::write`]
    /// does) while the server is out of reach.
    fn conn(&self) -> Result<super::Conn<'_>, StoreError> {
        retrying(OUT_OF_REACH_PATIENCE, || {
            let mut conn = self.db.conn()?;
            self.commit_queue_on(&mut conn)?;
            Ok(conn)
        })
    }

    /// Commits the queued writes, if any, on `conn`.
    fn commit_queue_on(&self, conn: &mut super::Conn<'_>) -> Result<(), StoreError> {
        if self.queue.is_empty() {
            return Ok(());
        }
        self.queue.commit_with(conn, |_| Ok(()))
    }

    /// Where a new run of experiment `id` under `parent` keeps its artifacts (see
    /// [`new_run_location`]); remembered once seen.
    fn new_run_location(
        &self,
        id: ExperimentId,
        parent: Option<&str>,
    ) -> Result<String, StoreError> {
        let key = (id, parent.map(str::to_string));
        let known = self
            .locations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        if let Some(location) = known {
            return Ok(location);
        }
        let location = new_run_location(&mut *self.conn()?, id, parent)?;
        let mut locations = self.locations.lock().unwrap_or_else(|p| p.into_inner());
        if locations.len() >= 1024 {
            locations.clear();
        }
        locations.insert(key, location.clone());
        Ok(location)
    }
}

impl Drop for PgStore {
    /// Commits what is still queued (one try: a store dropped while the server is out of reach
    /// does not wait for it); the recorder flushes at a study's end, so this is a last resort.
    fn drop(&mut self) {
        if let Ok(mut conn) = self.db.conn() {
            let _ = self.commit_queue_on(&mut conn);
            if self.growth.due() {
                let _ = analyze_stale(&mut *conn);
            }
        }
    }
}

/// Run `run_id` (locked until the transaction ends) and its integer key, or `RunNotFound`.
fn require_run_row(c: &mut impl GenericClient, run_id: &str) -> Result<(RunInfo, i64), StoreError> {
    validate_run_id(run_id).map_err(|_| StoreError::RunNotFound(run_id.to_string()))?;
    read_run_row(c, run_id, true)?.ok_or_else(|| StoreError::RunNotFound(run_id.to_string()))
}

/// Like [`require_run_row`], but a deleted run is an error too.
fn require_active_run_row(
    c: &mut impl GenericClient,
    run_id: &str,
) -> Result<(RunInfo, i64), StoreError> {
    let (info, key) = require_run_row(c, run_id)?;
    if info.lifecycle_stage == LifecycleStage::Deleted {
        return Err(StoreError::Deleted {
            what: "run",
            id: run_id.to_string(),
            name: None,
        });
    }
    Ok((info, key))
}

/// The error for writing to deleted experiment `id`, naming it.
pub(crate) fn experiment_deleted(c: &mut impl GenericClient, id: ExperimentId) -> StoreError {
    StoreError::Deleted {
        what: "experiment",
        id: id.to_string(),
        name: read_experiment(c, id).ok().flatten().map(|e| e.name),
    }
}

/// Inserts experiment `name`; `Ok(None)` when the name is taken (by a concurrent creator too).
fn insert_experiment(
    tx: &mut Transaction<'_>,
    store: &PgStore,
    name: &str,
    artifact_location: Option<&str>,
    tags: &[ExperimentTag],
) -> Result<Option<ExperimentId>, StoreError> {
    let now = now_ms();
    let Some(row) = tx.query_opt(
        "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time)
         VALUES ($1, '', 'active', $2, $2) ON CONFLICT (name) DO NOTHING RETURNING experiment_id",
        &[&name, &now],
    )?
    else {
        return Ok(None);
    };
    let id: ExperimentId = row.get(0);
    let location = artifact_location
        .map(str::to_string)
        .unwrap_or_else(|| store.location_for(id));
    tx.execute(
        "UPDATE experiments SET artifact_location = $1 WHERE experiment_id = $2",
        &[&location, &id],
    )?;
    for t in tags {
        tx.execute(
            "INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3)
             ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
            &[&id, &t.key, &t.value],
        )?;
    }
    Ok(Some(id))
}

/// Writes a validated batch into active run `run_id`; returns its info.
fn log_rows(
    tx: &mut CachedTx<'_, '_>,
    run_id: &str,
    params: &[Param],
    metrics: &[Metric],
    tags: &[RunTag],
) -> Result<RunInfo, StoreError> {
    let (mut info, run_key) = require_active_run_row(tx.tx, run_id)?;
    insert_params(tx, run_id, run_key, params)?;
    upsert_tags(tx, run_id, tags)?;
    insert_metrics(tx, run_id, run_key, metrics)?;
    if let Some(t) = tags.iter().rev().find(|t| t.key == TAG_RUN_NAME) {
        info.run_name = t.value.clone();
    }
    Ok(info)
}

impl Store for PgStore {
    fn registry(&self) -> Option<&dyn crate::registry::RegistryStore> {
        Some(self)
    }

    fn purge_deleted(
        &self,
        deleted_before: i64,
    ) -> Result<crate::tracking::gc::Purged, StoreError> {
        self.write(|tx| super::gc::purge(tx, deleted_before))
    }

    fn study_board(
        &self,
    ) -> Result<std::sync::Arc<dyn crate::tracking::shared::StudyBoard>, StoreError> {
        let board = super::board::PgBoard::open_with_queue(self.db.url(), self.queue.clone())?;
        self.queue.enable();
        Ok(Arc::new(board))
    }

    fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[ExperimentTag],
    ) -> Result<ExperimentId, StoreError> {
        validate_experiment_name(name)?;
        for t in tags {
            validate_experiment_tag(&t.key, &t.value)?;
        }
        self.write(|tx| insert_experiment(tx, self, name, artifact_location, tags))?
            .ok_or_else(|| StoreError::ExperimentNameTaken(name.to_string()))
    }

    fn get_or_create_experiment(&self, name: &str) -> Result<Experiment, StoreError> {
        validate_experiment_name(name)?;
        self.write(|tx| {
            let id = match insert_experiment(tx, self, name, None, &[])? {
                Some(id) => id,
                None => experiment_id_by_name(tx, name)?
                    .ok_or_else(|| StoreError::ExperimentNotFound(name.to_string()))?,
            };
            let exp = require_experiment(tx, id)?;
            if exp.lifecycle_stage == LifecycleStage::Deleted {
                return Err(experiment_deleted(tx, id));
            }
            Ok(exp)
        })
    }

    fn get_experiment(&self, id: ExperimentId) -> Result<Experiment, StoreError> {
        require_experiment(&mut *self.conn()?, id)
    }

    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>, StoreError> {
        let mut conn = self.conn()?;
        match experiment_id_by_name(&mut *conn, name)? {
            Some(id) => read_experiment(&mut *conn, id),
            None => Ok(None),
        }
    }

    fn list_experiments(&self, view: ViewType) -> Result<Vec<Experiment>, StoreError> {
        let mut conn = self.conn()?;
        let ids: Vec<ExperimentId> = conn
            .query(
                "SELECT experiment_id FROM experiments ORDER BY experiment_id",
                &[],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(e) = read_experiment(&mut *conn, id)? {
                if view.includes(e.lifecycle_stage) {
                    out.push(e);
                }
            }
        }
        Ok(out)
    }

    fn rename_experiment(&self, id: ExperimentId, new_name: &str) -> Result<(), StoreError> {
        validate_experiment_name(new_name)?;
        self.write(|tx| {
            let exp = require_experiment(tx, id)?;
            if exp.name == new_name {
                return Ok(());
            }
            if experiment_id_by_name(tx, new_name)?.is_some() {
                return Err(StoreError::ExperimentNameTaken(new_name.to_string()));
            }
            tx.execute(
                "UPDATE experiments SET name = $1, last_update_time = $2 WHERE experiment_id = $3",
                &[&new_name, &now_ms(), &id],
            )?;
            Ok(())
        })
    }

    fn delete_experiment(&self, id: ExperimentId) -> Result<(), StoreError> {
        self.write(|tx| {
            require_experiment(tx, id)?;
            let now = now_ms();
            tx.execute(
                "UPDATE experiments SET lifecycle_stage = 'deleted', last_update_time = $1
                 WHERE experiment_id = $2",
                &[&now, &id],
            )?;
            tx.execute(
                "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = $1,
                     deleted_with_experiment = true
                 WHERE experiment_id = $2 AND lifecycle_stage = 'active'",
                &[&now, &id],
            )?;
            Ok(())
        })
    }

    fn restore_experiment(&self, id: ExperimentId) -> Result<(), StoreError> {
        self.write(|tx| {
            let exp = require_experiment(tx, id)?;
            if exp.lifecycle_stage == LifecycleStage::Active {
                return Ok(());
            }
            // only the runs deleted by the experiment's deletion come back
            tx.execute(
                "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL,
                     deleted_with_experiment = false
                 WHERE experiment_id = $1 AND lifecycle_stage = 'deleted' AND deleted_with_experiment",
                &[&id],
            )?;
            tx.execute(
                "UPDATE experiments SET lifecycle_stage = 'active', last_update_time = $1
                 WHERE experiment_id = $2",
                &[&now_ms(), &id],
            )?;
            Ok(())
        })
    }

    fn set_experiment_tag(
        &self,
        id: ExperimentId,
        key: &str,
        value: &str,
    ) -> Result<(), StoreError> {
        validate_experiment_tag(key, value)?;
        self.write(|tx| {
            require_experiment(tx, id)?;
            tx.execute(
                "INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3)
                 ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
                &[&id, &key, &value],
            )?;
            tx.execute(
                "UPDATE experiments SET last_update_time = $1 WHERE experiment_id = $2",
                &[&now_ms(), &id],
            )?;
            Ok(())
        })
    }

    fn create_run(&self, new_run: &NewRun) -> Result<RunInfo, StoreError> {
        let row = NewRunRow::prepare(new_run.clone())?;
        let location = self.new_run_location(row.experiment_id, row.parent_run_id.as_deref())?;
        let info = row.info(&location);
        self.write_cached(|c| insert_new_run(c, &row, &info))?;
        self.growth.created();
        Ok(info)
    }

    fn create_run_queued(&self, new_run: NewRun) -> Result<RunInfo, StoreError> {
        if !self.queue.enabled() {
            return self.create_run(&new_run);
        }
        let row = NewRunRow::prepare(new_run)?;
        let location = self.new_run_location(row.experiment_id, row.parent_run_id.as_deref())?;
        let info = row.info(&location);
        let queued = info.clone();
        self.queue
            .push(&info.run_id, move |tx| insert_new_run(tx, &row, &queued));
        self.growth.created();
        Ok(info)
    }

    fn finish_run_queued(
        &self,
        run_id: &str,
        metrics: &[Metric],
        tags: &[RunTag],
        status: RunStatus,
        end_time: Option<i64>,
    ) -> Result<(), StoreError> {
        if !self.queue.enabled() {
            return self
                .finish_run(run_id, metrics, tags, status, end_time)
                .map(|_| ());
        }
        validate_batch(&[], metrics, tags)?;
        validate_run_id(run_id).map_err(|_| StoreError::RunNotFound(run_id.to_string()))?;
        let (run_id, metrics, tags) = (run_id.to_string(), metrics.to_vec(), tags.to_vec());
        // the end time is taken now, not when the queue is committed
        let end = end_time_for(status, end_time);
        self.queue.push(&run_id.clone(), move |tx| {
            finish_run_rows(tx, &run_id, &metrics, &tags, status, end)
        });
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        drop(self.conn()?);
        self.analyze_if_grown();
        self.queue.take_lost()?;
        self.queue.take_failures()
    }

    fn write_failure_count(&self) -> usize {
        self.queue.failure_count()
    }

    fn write_failures(&self) -> WriteFailures {
        self.queue.failures()
    }

    fn get_run(&self, run_id: &str) -> Result<Run, StoreError> {
        validate_run_id(run_id).map_err(|_| StoreError::RunNotFound(run_id.to_string()))?;
        read_run(&mut *self.conn()?, run_id)?
            .ok_or_else(|| StoreError::RunNotFound(run_id.to_string()))
    }

    fn update_run_status(
        &self,
        run_id: &str,
        status: RunStatus,
        end_time: Option<i64>,
    ) -> Result<RunInfo, StoreError> {
        self.write(|tx| {
            let (mut info, _) = require_active_run_row(tx, run_id)?;
            let end = end_time_for(status, end_time);
            tx.execute(
                "UPDATE runs SET status = $1, end_time = $2 WHERE run_uuid = $3",
                &[&status.as_str(), &end, &run_id],
            )?;
            info.status = status;
            info.end_time = end;
            Ok(info)
        })
    }

    fn delete_run(&self, run_id: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            require_run_row(tx, run_id)?;
            let now = now_ms();
            tx.execute(
                "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = $1,
                     deleted_with_experiment = false
                 WHERE run_uuid = $2",
                &[&now, &run_id],
            )?;
            tx.execute(
                &format!(
                    "{DESCENDANTS}
                     UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = $2,
                         deleted_with_experiment = false
                     WHERE run_uuid IN (SELECT id FROM descendants) AND lifecycle_stage = 'active'"
                ),
                &[&run_id, &now],
            )?;
            Ok(())
        })
    }

    fn restore_run(&self, run_id: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            let (info, _) = require_run_row(tx, run_id)?;
            let exp = require_experiment(tx, info.experiment_id)?;
            if exp.lifecycle_stage == LifecycleStage::Deleted {
                return Err(experiment_deleted(tx, exp.experiment_id));
            }
            let deleted_time: Option<i64> = tx
                .query_one(
                    "SELECT deleted_time FROM runs WHERE run_uuid = $1",
                    &[&run_id],
                )?
                .get(0);
            if let Some(deleted_time) = deleted_time {
                tx.execute(
                    &format!(
                        "{DESCENDANTS}
                         UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL,
                             deleted_with_experiment = false
                         WHERE run_uuid IN (SELECT id FROM descendants)
                           AND lifecycle_stage = 'deleted' AND deleted_time = $2"
                    ),
                    &[&run_id, &deleted_time],
                )?;
            }
            tx.execute(
                "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL,
                     deleted_with_experiment = false
                 WHERE run_uuid = $1",
                &[&run_id],
            )?;
            Ok(())
        })
    }

    fn log_batch(
        &self,
        run_id: &str,
        params: &[Param],
        metrics: &[Metric],
        tags: &[RunTag],
    ) -> Result<(), StoreError> {
        validate_batch(params, metrics, tags)?;
        self.write_cached(|c| log_rows(c, run_id, params, metrics, tags).map(|_| ()))
    }

    fn finish_run(
        &self,
        run_id: &str,
        metrics: &[Metric],
        tags: &[RunTag],
        status: RunStatus,
        end_time: Option<i64>,
    ) -> Result<RunInfo, StoreError> {
        validate_batch(&[], metrics, tags)?;
        self.write_cached(|c| {
            let mut info = log_rows(c, run_id, &[], metrics, tags)?;
            let end = end_time_for(status, end_time);
            c.tx.execute(
                "UPDATE runs SET status = $1, end_time = $2 WHERE run_uuid = $3",
                &[&status.as_str(), &end, &run_id],
            )?;
            info.status = status;
            info.end_time = end;
            Ok(info)
        })
    }

    fn delete_tag(&self, run_id: &str, key: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            require_active_run_row(tx, run_id)?;
            let n = tx.execute(
                "DELETE FROM tags WHERE run_uuid = $1 AND key = $2",
                &[&run_id, &key],
            )?;
            if n == 0 {
                return Err(StoreError::InvalidArgument(format!(
                    "run '{run_id}' has no tag '{key}'"
                )));
            }
            Ok(())
        })
    }

    fn compare_and_set_tag(
        &self,
        run_id: &str,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
    ) -> Result<bool, StoreError> {
        let new_tag = new.map(|v| RunTag::new(key, v));
        if let Some(t) = &new_tag {
            validate_tag(t)?;
        }
        self.write_cached(|c| {
            // the run's row lock serializes every compare-and-set on it, also when the tag is absent
            require_active_run_row(c.tx, run_id)?;
            let current: Option<String> =
                c.tx.query_opt(
                    "SELECT value FROM tags WHERE run_uuid = $1 AND key = $2",
                    &[&run_id, &key],
                )?
                .map(|r| r.get(0));
            if current.as_deref() != expected {
                return Ok(false);
            }
            match &new_tag {
                Some(t) => upsert_tag(c, run_id, t)?,
                None => {
                    c.tx.execute(
                        "DELETE FROM tags WHERE run_uuid = $1 AND key = $2",
                        &[&run_id, &key],
                    )?;
                }
            }
            Ok(true)
        })
    }

    fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>, StoreError> {
        let mut conn = self.conn()?;
        validate_run_id(run_id).map_err(|_| StoreError::RunNotFound(run_id.to_string()))?;
        let (_, run_key) = read_run_row(&mut *conn, run_id, false)?
            .ok_or_else(|| StoreError::RunNotFound(run_id.to_string()))?;
        read_history(&mut *conn, run_key, key)
    }

    fn search_runs(&self, query: &RunsQuery) -> Result<RunPage, StoreError> {
        super::search::search_runs(&mut *self.conn()?, query, run_search::Plans::Fastest)
    }

    fn count_runs(&self, experiment_id: ExperimentId, view: ViewType) -> Result<usize, StoreError> {
        let stage: Option<&str> = match view {
            ViewType::ActiveOnly => Some("active"),
            ViewType::DeletedOnly => Some("deleted"),
            ViewType::All => None,
        };
        let n: i64 = self
            .conn()?
            .query_one(
                "SELECT COUNT(*) FROM runs WHERE experiment_id = $1
                 AND ($2::text IS NULL OR lifecycle_stage = $2::text)",
                &[&experiment_id, &stage],
            )?
            .get(0);
        Ok(usize::try_from(n).unwrap_or(0))
    }

    fn child_run_ids(&self, run_id: &str) -> Result<Vec<RunId>, StoreError> {
        Ok(self
            .conn()?
            .query(
                "SELECT run_uuid FROM runs WHERE parent_run_id = $1
                 AND lifecycle_stage = 'active' ORDER BY start_time, run_uuid",
                &[&run_id],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }
}

/// How long a call waits for a PostgreSQL server that is out of reach before it fails.
pub const OUT_OF_REACH_PATIENCE: std::time::Duration = std::time::Duration::from_secs(300);

/// Whether a driver error means the server is out of reach (a closed connection, a restart, a
/// server that does not accept connections yet) rather than a failed statement.
pub fn out_of_reach(e: &postgres::Error) -> bool {
    match e.code() {
        None => true,
        Some(code) => {
            let c = code.code();
            c.starts_with("08") || c == "57P01" || c == "57P02" || c == "57P03"
        }
    }
}

impl From<PgError> for StoreError {
    fn from(e: PgError) -> Self {
        match e {
            PgError::NewerSchema { found, known } => StoreError::SchemaTooNew {
                found,
                supported: known,
            },
            PgError::Connect { .. } => StoreError::Busy(e.to_string()),
            PgError::Sql(e) => StoreError::from(e),
        }
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        match out_of_reach(&e) {
            true => StoreError::Busy(format!("PostgreSQL out of reach: {e}")),
            false => StoreError::Database(PgError::Sql(e).to_string()),
        }
    }
}
