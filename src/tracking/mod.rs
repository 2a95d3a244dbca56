//! Experiment tracking in the style of MLflow Tracking, embedded in a SQLite file.
//!
//! A [`Tracker`] is opened on a URI (`sqlite:///relative.db`, `sqlite:////absolute.db` or a plain path)
//! and records experiments, runs (nested to any depth), write-once params, metric histories with per-key
//! latest/min/max summaries, mutable tags and file artifacts. It talks to storage only through the
//! [`Store`] trait ([`store`]), whose default implementation is [`SqliteStore`] ([`sqlite`]); runs are
//! found with an extended MLflow filter language ([`search`]); artifact files live beside the database
//! ([`artifacts`]); system tags record user, host, program and git commit ([`system`]).
//!
//! ```no_run
//! use hpo::tracking::{Tracker, Param, Metric, RunStatus};
//! # fn main() -> Result<(), hpo::tracking::TrackingError> {
//! let tracker = Tracker::open("sqlite:///hpo.db")?;
//! let exp = tracker.get_or_create_experiment("tuning")?;
//! let run = tracker.create_run(exp, Some("trial-0"), None)?;
//! tracker.log_batch(&run, &[Param::new("lr", "0.01")], &[Metric::new("loss", 0.3, 0)], &[])?;
//! tracker.set_terminated(&run, RunStatus::Finished, None)?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod artifacts;
mod checkpoint;
pub mod curves;
mod failure_log;
pub mod gc;
pub mod http;
mod known_runs;
pub mod lease;
mod lease_keeper;
mod metric_points;
mod new_run_rows;
mod param_index;
pub mod postgres;
pub mod recorder;
mod recording_failure;
pub mod resume;
pub mod retry;
mod run_reader;
mod run_search;
mod schema;
pub mod search;
pub mod shared;
pub mod sqlite;
pub mod store;
mod store_file;
pub mod system;
mod write_queue;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use artifacts::{ArtifactError, ArtifactInfo, ArtifactStore, LoggedDir, RemoteArtifacts};
pub use lease::{Lease, LeaseError, LeaseHolder};
pub use lease_keeper::LeaseKeeper;
pub use recorder::{Recorder, RecorderHandle};
pub use recording_failure::RecordingFailure;
pub use resume::{find_study, load_study, load_trials, ResumeError, ResumedStudy};
pub use search::SearchError;
pub use sqlite::SqliteStore;
pub use store::{
    Experiment, ExperimentId, ExperimentTag, LifecycleStage, Metric, MetricSummary, NewRun, Param,
    Run, RunData, RunId, RunInfo, RunPage, RunStatus, RunTag, RunsQuery, Store, StoreError,
    ViewType, WriteFailures, DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME,
};
pub use system::SystemInfo;

/// Environment variable naming the tracking URI used by [`Tracker::open_default`].
pub const TRACKING_URI_ENV: &str = "HPO_TRACKING_URI";
/// Database used by [`Tracker::open_default`] when [`TRACKING_URI_ENV`] is unset.
pub const DEFAULT_DB_PATH: &str = "./hpo.db";
/// Name of the artifact directory created beside the database.
pub const ARTIFACT_DIR_NAME: &str = "hpo-artifacts";

/// Errors of the tracking API.
#[derive(Debug, thiserror::Error)]
pub enum TrackingError {
    /// The tracking URI is malformed or names a backend that does not exist.
    #[error("unsupported tracking URI '{uri}': {reason}")]
    InvalidUri {
        /// The URI as given.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The store refused or failed the operation.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An artifact operation failed.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// A command that only reads found no store at the path (it creates none).
    #[error("no store at {}: nothing was recorded there (check --tracking-uri or HPO_TRACKING_URI; only commands that write, such as `hpo run`, create a store)", path.display())]
    NoStore {
        /// The database path looked for.
        path: PathBuf,
    },
    /// The database server named by the URI does not answer (or refuses the connection); the
    /// message has the driver's reason.
    #[error(
        "cannot connect to the tracking store: {reason} (check --tracking-uri or HPO_TRACKING_URI)"
    )]
    Unreachable {
        /// The URI as given.
        uri: String,
        /// Why the connection failed.
        reason: String,
    },
    /// The current directory could not be read to make a path absolute.
    #[error("cannot resolve '{path}': {source}")]
    Io {
        /// The path being resolved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl From<SearchError> for TrackingError {
    fn from(e: SearchError) -> Self {
        TrackingError::Store(StoreError::Search(e))
    }
}

/// Where a tracking URI points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackingLocation {
    /// A SQLite database file.
    SqliteFile(PathBuf),
    /// A private in-memory SQLite database (`sqlite:///:memory:`).
    SqliteMemory,
    /// A PostgreSQL database (`postgresql://user@host:port/db` or `postgres://...`), the URL as given.
    Postgres(String),
    /// A tracking server speaking MLflow's REST API (`http://host:port`: `hpo server` or
    /// `mlflow server`), the URL as given.
    Http(String),
}

/// Parses a tracking URI: `sqlite:///relative/path.db`, `sqlite:////absolute/path.db`,
/// `sqlite:///:memory:`, an SQLite file URI (`file:path.db`, `file:///absolute/path.db`), a
/// plain file path or a PostgreSQL URL (`postgresql://user@host:port/db`, also `postgres://`). The `sqlite:` and `file:` forms may end in `?mode=ro` (see
/// [`uri_is_read_only`]).
pub fn parse_tracking_uri(uri: &str) -> Result<TrackingLocation, TrackingError> {
    parse_uri(uri).map(|(location, _)| location)
}

/// True if `uri` asks for a read-only store (`?mode=ro` or `?immutable=1` on a `sqlite:` or
/// `file:` URI); an invalid URI is not read-only.
pub fn uri_is_read_only(uri: &str) -> bool {
    parse_uri(uri).is_ok_and(|(_, ro)| ro)
}

/// The location and whether the URI asks for read-only access.
fn parse_uri(uri: &str) -> Result<(TrackingLocation, bool), TrackingError> {
    let invalid = |reason: &str| TrackingError::InvalidUri {
        uri: uri.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = uri.trim();
    let query_of = |rest: &str| -> Result<(String, bool), TrackingError> {
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut read_only = false;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair {
                "mode=ro" | "immutable=1" => read_only = true,
                "mode=rw" | "mode=rwc" | "immutable=0" => {}
                other => {
                    return Err(invalid(&format!(
                        "unknown query parameter '{other}'; hpo understands mode=ro (read-only), mode=rw and mode=rwc"
                    )))
                }
            }
        }
        Ok((percent_decode(path), read_only))
    };
    if let Some(rest) = trimmed.strip_prefix("file:") {
        let (path, read_only) = query_of(rest)?;
        // file:///abs, file://localhost/abs, file:/abs, file:relative
        let path = match path.strip_prefix("//") {
            Some(p) if p.starts_with('/') => p.to_string(),
            Some(p) => match p.strip_prefix("localhost") {
                Some(abs) if abs.starts_with('/') => abs.to_string(),
                _ => {
                    return Err(invalid(
                        "a file URI names a local file: file:path.db, file:/absolute/path.db or file:///absolute/path.db",
                    ))
                }
            },
            None => path,
        };
        if path.is_empty() {
            return Err(invalid("the database path is empty"));
        }
        if path == ":memory:" {
            return Ok((TrackingLocation::SqliteMemory, read_only));
        }
        return Ok((TrackingLocation::SqliteFile(PathBuf::from(path)), read_only));
    }
    if let Some(rest) = trimmed.strip_prefix("sqlite:") {
        if let Some(path) = rest.strip_prefix("///") {
            if path.contains('?') {
                let (path, read_only) = query_of(path)?;
                if path.is_empty() {
                    return Err(invalid("the database path is empty"));
                }
                return Ok((TrackingLocation::SqliteFile(PathBuf::from(path)), read_only));
            }
        }
    }
    parse_plain(uri).map(|l| (l, false))
}

/// `%XX` sequences decoded (as in an SQLite file URI); anything malformed is kept as it is.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_plain(uri: &str) -> Result<TrackingLocation, TrackingError> {
    let invalid = |reason: &str| TrackingError::InvalidUri {
        uri: uri.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = uri.trim();
    if trimmed.is_empty() {
        return Err(invalid("the URI is empty"));
    }
    if let Some(rest) = trimmed.strip_prefix("sqlite:") {
        let Some(path) = rest.strip_prefix("///") else {
            return Err(invalid(
                "expected sqlite:///relative/path.db or sqlite:////absolute/path.db",
            ));
        };
        if path.is_empty() {
            return Err(invalid("the database path is empty"));
        }
        if path == ":memory:" {
            return Ok(TrackingLocation::SqliteMemory);
        }
        return Ok(TrackingLocation::SqliteFile(PathBuf::from(path)));
    }
    if let Some((scheme, _)) = trimmed.split_once("://") {
        if scheme.eq_ignore_ascii_case("postgresql") || scheme.eq_ignore_ascii_case("postgres") {
            return Ok(TrackingLocation::Postgres(trimmed.to_string()));
        }
        if scheme.eq_ignore_ascii_case("http") {
            let rest = &trimmed[scheme.len() + 3..];
            if rest.is_empty() || rest.starts_with('/') {
                return Err(invalid("expected http://host:port"));
            }
            return Ok(TrackingLocation::Http(trimmed.to_string()));
        }
        if scheme.eq_ignore_ascii_case("https") {
            return Err(invalid(
                "https is not supported (this hpo has no TLS); use http:// on a trusted network, or a TLS-terminating proxy on this machine",
            ));
        }
        if !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            return Err(invalid(&format!(
                "the '{scheme}' backend is not supported; use sqlite:///, a file path, postgresql:// or http://"
            )));
        }
    }
    Ok(TrackingLocation::SqliteFile(PathBuf::from(trimmed)))
}

/// The URI [`Tracker::open_default`] uses given the value of `HPO_TRACKING_URI`: that value unless it is
/// unset or blank, else `./hpo.db`.
pub fn default_tracking_uri(env_value: Option<&str>) -> String {
    env_value
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .unwrap_or(DEFAULT_DB_PATH)
        .to_string()
}

fn absolute(path: &Path) -> Result<PathBuf, TrackingError> {
    std::path::absolute(path).map_err(|source| TrackingError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The tracking API: experiments, runs, params, metrics, tags, artifacts and search over one store.
///
/// A `Tracker` is `Send + Sync` and cheap to clone (the store is shared); each process or thread may also
/// open its own tracker on the same file.
#[derive(Clone)]
pub struct Tracker {
    store: Arc<dyn Store>,
    artifact_root: PathBuf,
    system: SystemInfo,
    async_logging: bool,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("artifact_root", &self.artifact_root)
            .field("system", &self.system)
            .field("async_logging", &self.async_logging)
            .finish()
    }
}

impl Tracker {
    /// Opens the store named by `uri`, with artifacts in `hpo-artifacts/` beside the database.
    pub fn open(uri: &str) -> Result<Self, TrackingError> {
        Self::open_with_artifact_root(uri, None)
    }

    /// Opens the store named by `uri` for reading only if it exists: never creates a file or a
    /// directory ([`TrackingError::NoStore`] instead). It is opened read-only when the URI says
    /// `mode=ro` or when the file (or its directory) cannot be written, else as [`Tracker::open`]
    /// does (so an older schema is migrated).
    pub fn open_existing(uri: &str) -> Result<Self, TrackingError> {
        let (location, read_only) = parse_uri(uri)?;
        let TrackingLocation::SqliteFile(path) = &location else {
            return Self::open(uri);
        };
        let path = absolute(path)?;
        if !path.is_file() {
            return Err(TrackingError::NoStore { path });
        }
        let root = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
            .join(ARTIFACT_DIR_NAME);
        let writable = std::fs::OpenOptions::new().write(true).open(&path).is_ok();
        let store = if read_only || !writable {
            SqliteStore::open_read_only(&path, &root)?
        } else {
            match SqliteStore::open(&path, &root) {
                Ok(s) => s,
                // e.g. a directory where the WAL files cannot be created
                Err(_) => SqliteStore::open_read_only(&path, &root)?,
            }
        };
        Ok(Self::with_store(Arc::new(store), root))
    }

    /// Opens the store named by `HPO_TRACKING_URI` (or `./hpo.db`) with [`Tracker::open_existing`].
    pub fn open_existing_default() -> Result<Self, TrackingError> {
        Self::open_existing(&default_tracking_uri(
            std::env::var(TRACKING_URI_ENV).ok().as_deref(),
        ))
    }

    /// Opens the store named by `HPO_TRACKING_URI`, or `./hpo.db` when it is unset or empty.
    pub fn open_default() -> Result<Self, TrackingError> {
        Self::open(&default_tracking_uri(
            std::env::var(TRACKING_URI_ENV).ok().as_deref(),
        ))
    }

    /// Opens the store named by `uri` with artifacts under `artifact_root` (or beside the database when
    /// `None`; for an in-memory database, `./hpo-artifacts`). Existing experiments keep the artifact
    /// location they were created with.
    pub fn open_with_artifact_root(
        uri: &str,
        artifact_root: Option<&Path>,
    ) -> Result<Self, TrackingError> {
        let (location, read_only) = parse_uri(uri)?;
        let (store, default_root) = match &location {
            TrackingLocation::SqliteFile(path) => {
                let path = absolute(path)?;
                let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                let root = match artifact_root {
                    Some(r) => absolute(r)?,
                    None => dir.join(ARTIFACT_DIR_NAME),
                };
                if read_only {
                    if !path.is_file() {
                        return Err(TrackingError::NoStore { path });
                    }
                    (SqliteStore::open_read_only(&path, &root)?, root)
                } else {
                    (SqliteStore::open(&path, &root)?, root)
                }
            }
            TrackingLocation::SqliteMemory => {
                let root = absolute(artifact_root.unwrap_or(Path::new(ARTIFACT_DIR_NAME)))?;
                (SqliteStore::open_in_memory(&root)?, root)
            }
            TrackingLocation::Postgres(url) => {
                let root = absolute(artifact_root.unwrap_or(Path::new(ARTIFACT_DIR_NAME)))?;
                // a server that does not answer is a URI naming no store (exit 2 in the CLI)
                let store = self::postgres::PgStore::open(url, &root).map_err(|e| match e {
                    self::postgres::PgError::Connect { .. } => TrackingError::Unreachable {
                        uri: uri.to_string(),
                        reason: e.to_string(),
                    },
                    other => TrackingError::Store(other.into()),
                })?;
                return Ok(Self::with_store(Arc::new(store), root));
            }
            TrackingLocation::Http(url) => {
                let root = absolute(artifact_root.unwrap_or(Path::new(ARTIFACT_DIR_NAME)))?;
                // a server that does not answer is a URI naming no store (exit 2 in the CLI)
                let store = self::http::HttpStore::open(url).map_err(|e| match e {
                    StoreError::Storage(reason) => TrackingError::Unreachable {
                        uri: uri.to_string(),
                        reason,
                    },
                    other => TrackingError::Store(other),
                })?;
                return Ok(Self::with_store(Arc::new(store), root));
            }
        };
        Ok(Self::with_store(Arc::new(store), default_root))
    }

    /// Wraps any [`Store`] implementation.
    pub fn with_store(store: Arc<dyn Store>, artifact_root: PathBuf) -> Self {
        Tracker {
            store,
            artifact_root,
            system: SystemInfo::detect(),
            async_logging: true,
        }
    }

    /// Turns asynchronous logging on (the default) or off.
    ///
    /// On: [`Tracker::log_metric`], [`Tracker::set_tag`] and the metrics and tags of
    /// [`Tracker::log_batch`] return as soon as they are checked (limits, the run exists and is
    /// active) and are written with others in one group commit, at most 20 ms later, so a
    /// training loop can log a point per step at a few microseconds a call. Everything else
    /// (params, creating and ending runs, searches, reads) commits the queued writes first, so
    /// this process always reads its own writes and a run's points are stored when the run ends.
    /// Params are always written at once (a conflicting value must fail at the call). A write
    /// can still fail when committed (a run deleted by another process meanwhile): call
    /// [`Tracker::flush`] to commit at once and learn of such failures; dropping the last
    /// handle on the store commits the queue and prints them. A crash of the process can lose
    /// the last 20 ms of queued writes, never part of one; so can `std::process::exit`, which
    /// skips destructors: flush first.
    ///
    /// Off: every call is its own transaction, committed before it returns (MLflow's default,
    /// `synchronous=True`).
    pub fn with_async_logging(mut self, on: bool) -> Self {
        self.async_logging = on;
        self
    }

    /// Whether logging is asynchronous (see [`Tracker::with_async_logging`]).
    pub fn async_logging(&self) -> bool {
        self.async_logging
    }

    /// Commits every queued write now (see [`Tracker::with_async_logging`]) and reports those that
    /// failed since the last flush.
    pub fn flush(&self) -> Result<(), TrackingError> {
        Ok(self.store.flush()?)
    }

    /// How many failures the store logged since it was opened (see
    /// [`Store::write_failure_count`]).
    pub fn write_failure_count(&self) -> usize {
        self.store.write_failure_count()
    }

    /// Every write that failed since the store was opened (see [`Store::write_failures`]).
    pub fn write_failures(&self) -> WriteFailures {
        self.store.write_failures()
    }

    /// Replaces the detected system information (used for the system tags of new runs).
    pub fn with_system_info(mut self, system: SystemInfo) -> Self {
        self.system = system;
        self
    }

    /// The underlying store.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The artifact root for new experiments.
    pub fn artifact_root(&self) -> &Path {
        &self.artifact_root
    }

    /// The system information stamped on new runs.
    pub fn system_info(&self) -> &SystemInfo {
        &self.system
    }

    // ---- experiments ----

    /// Creates an experiment with a unique name.
    pub fn create_experiment(&self, name: &str) -> Result<ExperimentId, TrackingError> {
        Ok(self.store.create_experiment(name, None, &[])?)
    }

    /// Returns the id of the experiment named `name`, creating it if needed.
    pub fn get_or_create_experiment(&self, name: &str) -> Result<ExperimentId, TrackingError> {
        Ok(self.store.get_or_create_experiment(name)?.experiment_id)
    }

    /// Reads an experiment.
    pub fn get_experiment(&self, id: ExperimentId) -> Result<Experiment, TrackingError> {
        Ok(self.store.get_experiment(id)?)
    }

    /// Finds an experiment by name.
    pub fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>, TrackingError> {
        Ok(self.store.get_experiment_by_name(name)?)
    }

    /// Lists experiments.
    pub fn list_experiments(&self, view: ViewType) -> Result<Vec<Experiment>, TrackingError> {
        Ok(self.store.list_experiments(view)?)
    }

    /// Renames an experiment.
    pub fn rename_experiment(&self, id: ExperimentId, name: &str) -> Result<(), TrackingError> {
        Ok(self.store.rename_experiment(id, name)?)
    }

    /// Soft-deletes an experiment and its runs.
    pub fn delete_experiment(&self, id: ExperimentId) -> Result<(), TrackingError> {
        Ok(self.store.delete_experiment(id)?)
    }

    /// Restores a soft-deleted experiment and the runs deleted with it.
    pub fn restore_experiment(&self, id: ExperimentId) -> Result<(), TrackingError> {
        Ok(self.store.restore_experiment(id)?)
    }

    /// Sets an experiment tag.
    pub fn set_experiment_tag(
        &self,
        id: ExperimentId,
        key: &str,
        value: &str,
    ) -> Result<(), TrackingError> {
        Ok(self.store.set_experiment_tag(id, key, value)?)
    }

    // ---- runs ----

    /// Creates a RUNNING run (nested under `parent` if given) with the system tags, returning its id.
    pub fn create_run(
        &self,
        experiment_id: ExperimentId,
        name: Option<&str>,
        parent: Option<&str>,
    ) -> Result<RunId, TrackingError> {
        let info = self.create_run_with(NewRun {
            experiment_id,
            run_name: name.map(str::to_string),
            parent_run_id: parent.map(str::to_string),
            ..NewRun::default()
        })?;
        Ok(info.run_id)
    }

    /// Creates a run from a full [`NewRun`]; the system tags are added unless `new_run.tags` sets them.
    pub fn create_run_with(&self, new_run: NewRun) -> Result<RunInfo, TrackingError> {
        Ok(self.store.create_run(&self.with_system_tags(new_run))?)
    }

    /// Like [`Tracker::create_run_with`], but the run is written with the next group commit
    /// (reads through this tracker see it; other processes once committed or flushed).
    pub(crate) fn create_run_queued(&self, new_run: NewRun) -> Result<RunInfo, TrackingError> {
        Ok(self
            .store
            .create_run_queued(self.with_system_tags(new_run))?)
    }

    fn with_system_tags(&self, mut new_run: NewRun) -> NewRun {
        for tag in self.system.tags() {
            if !new_run.tags.iter().any(|t| t.key == tag.key) {
                new_run.tags.push(tag);
            }
        }
        if new_run.user_id.is_none() {
            new_run.user_id = Some(self.system.user.clone());
        }
        new_run
    }

    /// Reads a run with its data.
    pub fn get_run(&self, run_id: &str) -> Result<Run, TrackingError> {
        Ok(self.store.get_run(run_id)?)
    }

    /// Ends a run with a terminal status; `end_time` defaults to now.
    pub fn set_terminated(
        &self,
        run_id: &str,
        status: RunStatus,
        end_time: Option<i64>,
    ) -> Result<RunInfo, TrackingError> {
        Ok(self.store.update_run_status(run_id, status, end_time)?)
    }

    /// Logs final metrics and tags and ends the run with `status`, in one transaction
    /// (limits: 1000 metrics, 100 tags); `end_time` defaults to now.
    pub fn finish_run(
        &self,
        run_id: &str,
        metrics: &[Metric],
        tags: &[RunTag],
        status: RunStatus,
        end_time: Option<i64>,
    ) -> Result<RunInfo, TrackingError> {
        Ok(self
            .store
            .finish_run(run_id, metrics, tags, status, end_time)?)
    }

    /// Like [`Tracker::finish_run`], written with the next group commit.
    pub(crate) fn finish_run_queued(
        &self,
        run_id: &str,
        metrics: &[Metric],
        tags: &[RunTag],
        status: RunStatus,
        end_time: Option<i64>,
    ) -> Result<(), TrackingError> {
        Ok(self
            .store
            .finish_run_queued(run_id, metrics, tags, status, end_time)?)
    }

    /// Sets a run's status (RUNNING clears its end time), e.g. to resume a study.
    pub fn set_status(&self, run_id: &str, status: RunStatus) -> Result<RunInfo, TrackingError> {
        Ok(self.store.update_run_status(run_id, status, None)?)
    }

    /// Soft-deletes a run and its active descendants (a study's trials, their nested runs).
    pub fn delete_run(&self, run_id: &str) -> Result<(), TrackingError> {
        Ok(self.store.delete_run(run_id)?)
    }

    /// Permanently removes the runs deleted more than `older_than` ago (all deleted runs when
    /// `None`) and the experiments deleted that long ago with all their runs: params, metrics,
    /// tags and artifact directories (see [`gc`]). A removed experiment's name is free again.
    pub fn gc(&self, older_than: Option<std::time::Duration>) -> Result<gc::Purged, TrackingError> {
        let cutoff = match older_than {
            Some(d) => {
                store::now_ms().saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            }
            None => i64::MAX,
        };
        self.gc_deleted_before(cutoff)
    }

    /// [`gc`](Self::gc) of what was deleted before `cutoff_ms` (Unix ms; `i64::MAX`: all). Over
    /// `http://`, the server removes the rows and the artifacts where they are (`hpo server`
    /// only: MLflow's server has no such call, its `mlflow gc` runs on the server's machine).
    pub fn gc_deleted_before(&self, cutoff_ms: i64) -> Result<gc::Purged, TrackingError> {
        self.store.flush()?;
        let mut purged = self.store.purge_deleted(cutoff_ms)?;
        if !self.store.purge_removes_artifacts() {
            gc::remove_artifacts(&mut purged);
        }
        Ok(purged)
    }

    /// Restores a soft-deleted run and the descendants deleted with it.
    pub fn restore_run(&self, run_id: &str) -> Result<(), TrackingError> {
        Ok(self.store.restore_run(run_id)?)
    }

    /// How many runs of an experiment are in `view`.
    pub fn count_runs(
        &self,
        experiment_id: ExperimentId,
        view: ViewType,
    ) -> Result<usize, TrackingError> {
        Ok(self.store.count_runs(experiment_id, view)?)
    }

    /// The ids of a run's direct children (active ones), oldest first.
    pub fn child_run_ids(&self, run_id: &str) -> Result<Vec<RunId>, TrackingError> {
        Ok(self.store.child_run_ids(run_id)?)
    }

    /// Direct children of a run (active ones), oldest first.
    pub fn child_runs(&self, run_id: &str) -> Result<Vec<Run>, TrackingError> {
        store::validate_run_id(run_id).map_err(|_| StoreError::RunNotFound(run_id.to_string()))?;
        let query = RunsQuery {
            filter: format!("parent_run_id = '{run_id}'"),
            order_by: vec!["start_time ASC".into()],
            max_results: store::MAX_RESULTS_LIMIT,
            ..RunsQuery::default()
        };
        Ok(self.store.search_runs(&query)?.runs)
    }

    // ---- params, metrics, tags ----

    /// Logs params, metric points and tags in one transaction (limits: 100 params, 1000 metrics, 100 tags).
    /// With [asynchronous logging](Tracker::with_async_logging) (the default), a batch without
    /// params is queued.
    pub fn log_batch(
        &self,
        run_id: &str,
        params: &[Param],
        metrics: &[Metric],
        tags: &[RunTag],
    ) -> Result<(), TrackingError> {
        if self.async_logging {
            return self.log_batch_queued(run_id, params, metrics, tags);
        }
        Ok(self.store.log_batch(run_id, params, metrics, tags)?)
    }

    /// Like [`Tracker::log_batch`] with asynchronous logging on, whatever this tracker's setting.
    pub(crate) fn log_batch_queued(
        &self,
        run_id: &str,
        params: &[Param],
        metrics: &[Metric],
        tags: &[RunTag],
    ) -> Result<(), TrackingError> {
        Ok(self.store.log_batch_queued(run_id, params, metrics, tags)?)
    }

    /// Logs any number of params, metrics and tags by splitting them into batches within the limits.
    /// Each batch is atomic, the whole call is not: on error, earlier batches stay written.
    pub fn log_batch_chunked(
        &self,
        run_id: &str,
        params: &[Param],
        metrics: &[Metric],
        tags: &[RunTag],
    ) -> Result<(), TrackingError> {
        let (mut p, mut m, mut t) = (params, metrics, tags);
        loop {
            let (pn, mn, tn) = (
                p.len().min(store::MAX_PARAMS_PER_BATCH),
                m.len().min(store::MAX_METRICS_PER_BATCH),
                t.len().min(store::MAX_TAGS_PER_BATCH),
            );
            self.log_batch(run_id, &p[..pn], &m[..mn], &t[..tn])?;
            (p, m, t) = (&p[pn..], &m[mn..], &t[tn..]);
            if p.is_empty() && m.is_empty() && t.is_empty() {
                return Ok(());
            }
        }
    }

    /// Logs one param (write-once: the same value again is fine, a different one is an error).
    pub fn log_param(&self, run_id: &str, key: &str, value: &str) -> Result<(), TrackingError> {
        self.log_batch(run_id, &[Param::new(key, value)], &[], &[])
    }

    /// Logs one metric point at `step`, stamped now.
    pub fn log_metric(
        &self,
        run_id: &str,
        key: &str,
        value: f64,
        step: i64,
    ) -> Result<(), TrackingError> {
        self.log_batch(run_id, &[], &[Metric::new(key, value, step)], &[])
    }

    /// Sets (inserts or replaces) a run tag; setting `hpo.runName` renames the run.
    pub fn set_tag(&self, run_id: &str, key: &str, value: &str) -> Result<(), TrackingError> {
        self.log_batch(run_id, &[], &[], &[RunTag::new(key, value)])
    }

    /// Deletes a run tag.
    pub fn delete_tag(&self, run_id: &str, key: &str) -> Result<(), TrackingError> {
        Ok(self.store.delete_tag(run_id, key)?)
    }

    /// Compare-and-set of a run tag in one transaction (see [`Store::compare_and_set_tag`]):
    /// `true` if the tag held `expected` (`None`: absent) and now holds `new` (`None`: deleted).
    pub fn compare_and_set_tag(
        &self,
        run_id: &str,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
    ) -> Result<bool, TrackingError> {
        Ok(self.store.compare_and_set_tag(run_id, key, expected, new)?)
    }

    /// The full history of a metric, ordered by (step, timestamp).
    pub fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>, TrackingError> {
        Ok(self.store.get_metric_history(run_id, key)?)
    }

    // ---- search and artifacts ----

    /// Searches runs (see [`search`] for the filter language).
    pub fn search_runs(&self, query: &RunsQuery) -> Result<RunPage, TrackingError> {
        Ok(self.store.search_runs(query)?)
    }

    /// The artifact store of a run.
    pub fn artifacts(&self, run_id: &str) -> Result<ArtifactStore, TrackingError> {
        let run = self.store.get_run(run_id)?;
        Ok(self.store.artifact_store(&run.info))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_uris_name_a_postgres_location() {
        for uri in ["postgresql://u@h:5432/db", "postgres://u@h/db"] {
            assert_eq!(
                parse_tracking_uri(uri).unwrap(),
                TrackingLocation::Postgres(uri.to_string())
            );
        }
    }

    #[test]
    fn uri_forms() {
        assert_eq!(
            parse_tracking_uri("sqlite:///rel/path.db").unwrap(),
            TrackingLocation::SqliteFile("rel/path.db".into())
        );
        assert_eq!(
            parse_tracking_uri("sqlite:////abs/path.db").unwrap(),
            TrackingLocation::SqliteFile("/abs/path.db".into())
        );
        assert_eq!(
            parse_tracking_uri("sqlite:///:memory:").unwrap(),
            TrackingLocation::SqliteMemory
        );
        assert_eq!(
            parse_tracking_uri("runs/hpo.db").unwrap(),
            TrackingLocation::SqliteFile("runs/hpo.db".into())
        );
        assert_eq!(
            parse_tracking_uri("http://127.0.0.1:5000").unwrap(),
            TrackingLocation::Http("http://127.0.0.1:5000".into())
        );
        for bad in [
            "",
            "sqlite://host/x.db",
            "sqlite:///",
            "https://x",
            "http://",
            "s3://b/x",
        ] {
            assert!(
                matches!(
                    parse_tracking_uri(bad),
                    Err(TrackingError::InvalidUri { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn default_uri_comes_from_the_environment_value() {
        assert_eq!(default_tracking_uri(None), "./hpo.db");
        assert_eq!(default_tracking_uri(Some("  ")), "./hpo.db");
        assert_eq!(
            default_tracking_uri(Some("sqlite:////tmp/x.db")),
            "sqlite:////tmp/x.db"
        );
    }

    #[test]
    fn tracker_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Tracker>();
    }
}
