//! The storage boundary of the tracking module: the [`Store`] trait and the plain record types it moves.
//!
//! Everything above this file (the [`Tracker`](super::Tracker) API, a future web UI, exporters) talks to a
//! `Store`; everything below it (today only [`SqliteStore`](super::sqlite::SqliteStore)) implements it. The
//! record types are plain data with `serde::Serialize`, mirroring MLflow's entities: experiments, runs
//! (`RunInfo` + `RunData`), params, metric points, per-key metric summaries and tags. The limits and
//! validation rules shared by every backend live here too, so each backend rejects the same inputs with the
//! same typed [`StoreError`].
//!
//! Non-finite metric values: a NaN metric is kept in the history (read back as `f64::NAN`) but is ignored by
//! the summary's `min`/`max`; when the latest point is NaN the summary's `latest` is NaN and filters on it
//! never match. `±inf` are stored as they are and compare like the IEEE values they are. When serialized
//! to JSON, serde_json writes NaN and ±inf as `null`.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::search::SearchError;

/// Identifier of an experiment (`0` is the "Default" experiment).
pub type ExperimentId = i64;

/// Identifier of a run: 32 lowercase hex characters (a version-4 UUID without dashes).
pub type RunId = String;

/// Name of the experiment that always exists.
pub const DEFAULT_EXPERIMENT_NAME: &str = "Default";
/// Id of the experiment that always exists.
pub const DEFAULT_EXPERIMENT_ID: ExperimentId = 0;

/// Maximum length, in characters, of a param, metric or tag key.
pub const MAX_KEY_LEN: usize = 250;
/// Maximum length, in characters, of a param value.
pub const MAX_PARAM_VALUE_LEN: usize = 6000;
/// Maximum length, in characters, of a run tag value.
pub const MAX_TAG_VALUE_LEN: usize = 8000;
/// Maximum length, in characters, of an experiment tag value.
pub const MAX_EXPERIMENT_TAG_VALUE_LEN: usize = 20000;
/// Maximum length, in characters, of an experiment name.
pub const MAX_EXPERIMENT_NAME_LEN: usize = 500;
/// Maximum number of metric points in one `log_batch` call.
pub const MAX_METRICS_PER_BATCH: usize = 1000;
/// Maximum number of params in one `log_batch` call.
pub const MAX_PARAMS_PER_BATCH: usize = 100;
/// Maximum number of tags in one `log_batch` call.
pub const MAX_TAGS_PER_BATCH: usize = 100;
/// Default page size of `search_runs`.
pub const DEFAULT_MAX_RESULTS: usize = 1000;
/// Largest page size `search_runs` accepts.
pub const MAX_RESULTS_LIMIT: usize = 50_000;

/// System tag: the OS user that created the run.
pub const TAG_USER: &str = "hpo.user";
/// System tag: the host name of the machine that created the run.
pub const TAG_HOST: &str = "hpo.host";
/// System tag: the program that created the run.
pub const TAG_SOURCE: &str = "hpo.source";
/// System tag: the git commit checked out in the working directory when the run was created.
pub const TAG_GIT_COMMIT: &str = "hpo.git.commit";
/// System tag: the id of the parent run of a nested run.
pub const TAG_PARENT_RUN_ID: &str = "hpo.parentRunId";
/// System tag: the display name of the run (mirrors `RunInfo::run_name`; setting it renames the run).
pub const TAG_RUN_NAME: &str = "hpo.runName";

/// The message of [`StoreError::Deleted`]: a deleted experiment is named, with the ways out.
fn deleted_message(what: &str, id: &str, name: &Option<String>) -> String {
    match name {
        Some(name) => format!(
            "{what} '{name}' (id {id}) is deleted; restore it (hpo experiments restore {id}) or remove it for good (hpo gc) to reuse its name"
        ),
        None => format!("{what} '{id}' is deleted; restore it before writing to it"),
    }
}

/// Errors of the storage layer, shared by every backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No experiment has this id.
    #[error("experiment {0} does not exist")]
    ExperimentNotFound(String),
    /// The name is already used by another experiment (deleted experiments keep their names
    /// until `hpo gc` removes them).
    #[error("an experiment named '{0}' already exists (a deleted experiment keeps its name until `hpo gc` removes it)")]
    ExperimentNameTaken(String),
    /// No run has this id.
    #[error("run '{0}' does not exist")]
    RunNotFound(String),
    /// The run (or the experiment) is soft-deleted and cannot be written to.
    #[error("{}", deleted_message(.what, .id, .name))]
    Deleted {
        /// "run" or "experiment".
        what: &'static str,
        /// The id of the deleted entity.
        id: String,
        /// The experiment's name (None for runs).
        name: Option<String>,
    },
    /// A param was logged again with a different value (params are write-once).
    #[error(
        "param '{key}' of run '{run_id}' is already '{old}'; changing it to '{new}' is not allowed"
    )]
    ParamConflict {
        /// The run.
        run_id: String,
        /// The param key.
        key: String,
        /// The value already stored.
        old: String,
        /// The rejected new value.
        new: String,
    },
    /// A value exceeds one of the documented limits; nothing was written.
    #[error("{what} is {actual} long but the limit is {limit}")]
    LimitExceeded {
        /// What was too long or too many, e.g. "param value of 'lr'".
        what: String,
        /// The limit.
        limit: usize,
        /// The actual length or count.
        actual: usize,
    },
    /// An argument is malformed (empty key, duplicate key in a batch, bad run id ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The search filter, order_by or page token is invalid.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// The database file was written by a newer hpo with a schema this one does not know.
    #[error("the database schema is version {found}, newer than version {supported} that this hpo supports")]
    SchemaTooNew {
        /// The version found in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The database stayed busy (locked by other writers) for longer than the retry budget.
    #[error("the database stayed busy after retrying: {0}")]
    Busy(String),
    /// Any other database failure.
    #[error("database error: {0}")]
    Database(String),
    /// A shared study's trial claimed by this worker is not its claim on the board any more: the
    /// database server lost the claim's commit (a crash before it reached the disk), and the
    /// number may have been handed out again. Nothing of the trial was recorded.
    #[error("the claim of trial {number} was lost by the database (a server crash); the trial was not recorded")]
    ClaimLost {
        /// The trial's number.
        number: i64,
    },
    /// The database file cannot be written or read (the disk is full, an I/O error, a read-only
    /// or corrupt file): no write can succeed until that is fixed.
    #[error("storage error: {0}")]
    Storage(String),
    /// Writes queued for a group commit (see [`Store::flush`]) failed when they were committed;
    /// each failed write was rolled back alone, the others are stored.
    #[error("{count} queued write(s) failed when committed; the first: {first}")]
    QueuedWritesFailed {
        /// How many queued writes failed.
        count: usize,
        /// The first failure's message.
        first: String,
    },
}

/// What a store failed to write since it was opened (see [`Store::write_failures`]): the queued
/// writes that failed when committed, the runs they were for, and whether the store's file itself
/// was lost.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteFailures {
    /// Queued writes that failed when committed (each was rolled back, nothing of it is stored).
    pub failed_writes: usize,
    /// The runs those writes were for, each once, in the order they first failed.
    pub runs: Vec<RunId>,
    /// The first failure's message.
    pub first: Option<String>,
    /// The latest failure's message.
    pub last: Option<String>,
    /// Set (with the reason) when the store's file was deleted or replaced while the store had it
    /// open: SQLite went on writing to the file that no longer has that name, so nothing written
    /// through this store is kept under the store's path.
    pub file_lost: Option<String>,
}

impl WriteFailures {
    /// Whether every write reached the store.
    pub fn is_empty(&self) -> bool {
        self.failed_writes == 0 && self.file_lost.is_none()
    }

    /// The failure in one sentence (`None` if there was none).
    pub fn summary(&self) -> Option<String> {
        if let Some(lost) = &self.file_lost {
            return Some(lost.clone());
        }
        (self.failed_writes > 0).then(|| {
            format!(
                "{} queued write(s) failed when committed; the first: {}",
                self.failed_writes,
                self.first.as_deref().unwrap_or("unknown error")
            )
        })
    }
}

/// Whether an entity is live or soft-deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleStage {
    /// Visible by default.
    Active,
    /// Soft-deleted: hidden unless a view type asks for deleted entities; can be restored.
    Deleted,
}

impl LifecycleStage {
    /// The lowercase name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleStage::Active => "active",
            LifecycleStage::Deleted => "deleted",
        }
    }
}

impl FromStr for LifecycleStage {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "active" => Ok(LifecycleStage::Active),
            "deleted" => Ok(LifecycleStage::Deleted),
            other => Err(StoreError::Database(format!(
                "unknown lifecycle stage '{other}'"
            ))),
        }
    }
}

/// Which entities a listing or search returns, by lifecycle stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum ViewType {
    /// Only active entities (the default).
    #[default]
    ActiveOnly,
    /// Only soft-deleted entities.
    DeletedOnly,
    /// Both.
    All,
}

impl ViewType {
    /// Whether an entity in `stage` is visible in this view.
    pub fn includes(self, stage: LifecycleStage) -> bool {
        match self {
            ViewType::ActiveOnly => stage == LifecycleStage::Active,
            ViewType::DeletedOnly => stage == LifecycleStage::Deleted,
            ViewType::All => true,
        }
    }
}

/// The state of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// Created and not yet terminated.
    Running,
    /// Terminated normally.
    Finished,
    /// Terminated with an error.
    Failed,
    /// Stopped from outside (or pruned).
    Killed,
}

impl RunStatus {
    /// The uppercase name stored in the database and used in filters (`status = 'FINISHED'`).
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }

    /// Whether the status ends a run.
    pub fn is_terminal(self) -> bool {
        self != RunStatus::Running
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s.to_ascii_uppercase().as_str() {
            "RUNNING" => Ok(RunStatus::Running),
            "FINISHED" => Ok(RunStatus::Finished),
            "FAILED" => Ok(RunStatus::Failed),
            "KILLED" => Ok(RunStatus::Killed),
            _ => Err(StoreError::InvalidArgument(format!(
                "unknown run status '{s}' (expected RUNNING, FINISHED, FAILED or KILLED)"
            ))),
        }
    }
}

/// A key/value tag on an experiment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExperimentTag {
    /// Tag key.
    pub key: String,
    /// Tag value.
    pub value: String,
}

/// An experiment: a named group of runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Experiment {
    /// Unique id (`0` = "Default").
    pub experiment_id: ExperimentId,
    /// Unique name.
    pub name: String,
    /// Directory under which the runs of this experiment keep their artifacts.
    pub artifact_location: String,
    /// Active or deleted.
    pub lifecycle_stage: LifecycleStage,
    /// Creation time, epoch milliseconds.
    pub creation_time: i64,
    /// Last update time, epoch milliseconds.
    pub last_update_time: i64,
    /// Tags, sorted by key.
    pub tags: Vec<ExperimentTag>,
}

/// The metadata of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunInfo {
    /// 32 lowercase hex characters.
    pub run_id: RunId,
    /// The experiment the run belongs to.
    pub experiment_id: ExperimentId,
    /// Display name.
    pub run_name: String,
    /// RUNNING, FINISHED, FAILED or KILLED.
    pub status: RunStatus,
    /// Start time, epoch milliseconds.
    pub start_time: i64,
    /// End time, epoch milliseconds, once terminated.
    pub end_time: Option<i64>,
    /// The parent run when the run is nested.
    pub parent_run_id: Option<RunId>,
    /// The user that created the run.
    pub user_id: String,
    /// Local directory holding the run's artifacts.
    pub artifact_uri: String,
    /// Active or deleted.
    pub lifecycle_stage: LifecycleStage,
}

/// One point of a metric's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metric {
    /// Metric key.
    pub key: String,
    /// The value (NaN and ±inf allowed, see the module doc).
    pub value: f64,
    /// Epoch milliseconds.
    pub timestamp: i64,
    /// Step (epoch, iteration ...), 0 by default.
    pub step: i64,
}

impl Metric {
    /// A point at `step` stamped with the current time.
    pub fn new(key: impl Into<String>, value: f64, step: i64) -> Self {
        Metric {
            key: key.into(),
            value,
            timestamp: now_ms(),
            step,
        }
    }
}

/// The per-run, per-key summary of a metric, maintained with every write.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricSummary {
    /// Metric key.
    pub key: String,
    /// Value of the latest point: the one with the greatest `(step, timestamp)`; later writes win ties.
    pub latest: f64,
    /// Step of the latest point.
    pub latest_step: i64,
    /// Timestamp of the latest point.
    pub latest_timestamp: i64,
    /// Smallest non-NaN value, if any.
    pub min: Option<f64>,
    /// Largest non-NaN value, if any.
    pub max: Option<f64>,
    /// Number of points in the history.
    pub count: u64,
}

/// A write-once key/value hyperparameter of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Param {
    /// Param key.
    pub key: String,
    /// Param value (numbers are also indexed numerically for search).
    pub value: String,
}

impl Param {
    /// Builds a param.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Param {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// A mutable key/value tag of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunTag {
    /// Tag key.
    pub key: String,
    /// Tag value.
    pub value: String,
}

impl RunTag {
    /// Builds a tag.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        RunTag {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// What a run has logged: params, metric summaries and tags, each sorted by key.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RunData {
    /// Params.
    pub params: Vec<Param>,
    /// One summary per metric key.
    pub metrics: Vec<MetricSummary>,
    /// Tags (including system tags).
    pub tags: Vec<RunTag>,
}

impl RunData {
    /// The value of a param.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.value.as_str())
    }
    /// The value of a tag.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_str())
    }
    /// The summary of a metric.
    pub fn metric(&self, key: &str) -> Option<&MetricSummary> {
        self.metrics.iter().find(|m| m.key == key)
    }
}

/// A run: its metadata and what it logged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    /// Metadata.
    pub info: RunInfo,
    /// Params, metrics and tags.
    pub data: RunData,
}

/// Everything needed to create a run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewRun {
    /// The run's id (32 lowercase hex characters); a new one when `None`.
    pub run_id: Option<RunId>,
    /// The experiment of the run.
    pub experiment_id: ExperimentId,
    /// Display name; a name is generated when `None`.
    pub run_name: Option<String>,
    /// The parent run, for nested runs (any depth).
    pub parent_run_id: Option<RunId>,
    /// The user; the `hpo.user` tag or the OS user when `None`.
    pub user_id: Option<String>,
    /// Start time in epoch ms; now when `None`.
    pub start_time: Option<i64>,
    /// Initial tags (system tags included by the caller).
    pub tags: Vec<RunTag>,
    /// Params logged in the same transaction as the run's creation (at most 100).
    pub params: Vec<Param>,
}

/// A `search_runs` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunsQuery {
    /// Experiments to search in; empty means all experiments.
    pub experiment_ids: Vec<ExperimentId>,
    /// Filter in the search language (see [`search`](super::search)); empty matches everything.
    pub filter: String,
    /// Active, deleted or all runs.
    pub view: ViewType,
    /// Page size (1..=50 000).
    pub max_results: usize,
    /// Ordering clauses such as `metrics.rmse ASC`; ties fall back to `start_time DESC, run_id`.
    pub order_by: Vec<String>,
    /// Token from a previous page's `next_page_token` (of the same filter, order, experiments
    /// and view; the page size may change). It holds the sort key of that page's last run, and
    /// the page is the matching runs that sort after it, as they are when the page is read: a
    /// run written between two page reads appears later if it sorts after that run and never if
    /// it sorts before, and no run appears twice or is skipped unless its own sort key changes in
    /// between. Tokens of other queries, forged ones and offset tokens of hpo before keyset
    /// paging are refused with [`SearchError::InvalidPageToken`](super::search::SearchError).
    pub page_token: Option<String>,
}

impl Default for RunsQuery {
    fn default() -> Self {
        RunsQuery {
            experiment_ids: Vec::new(),
            filter: String::new(),
            view: ViewType::ActiveOnly,
            max_results: DEFAULT_MAX_RESULTS,
            order_by: Vec::new(),
            page_token: None,
        }
    }
}

impl RunsQuery {
    /// A query over the given experiments with a filter.
    pub fn new(experiment_ids: &[ExperimentId], filter: &str) -> Self {
        RunsQuery {
            experiment_ids: experiment_ids.to_vec(),
            filter: filter.to_string(),
            ..RunsQuery::default()
        }
    }
    /// Sets the ordering clauses.
    pub fn order_by<S: AsRef<str>>(mut self, clauses: &[S]) -> Self {
        self.order_by = clauses.iter().map(|c| c.as_ref().to_string()).collect();
        self
    }
    /// Sets the page size.
    pub fn max_results(mut self, n: usize) -> Self {
        self.max_results = n;
        self
    }
    /// Sets the view type.
    pub fn view(mut self, view: ViewType) -> Self {
        self.view = view;
        self
    }
    /// Continues from a previous page.
    pub fn page_token(mut self, token: Option<String>) -> Self {
        self.page_token = token;
        self
    }
}

/// One page of search results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunPage {
    /// The runs of this page, in order.
    pub runs: Vec<Run>,
    /// Pass this to get the next page; `None` on the last page.
    pub next_page_token: Option<String>,
}

/// A tracking backend. All methods are atomic: each logical write is one transaction.
pub trait Store: Send + Sync {
    /// Creates an experiment; `artifact_location` defaults to `<artifact root>/<id>`.
    fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[ExperimentTag],
    ) -> Result<ExperimentId, StoreError>;
    /// Returns the experiment named `name`, creating it if needed (safe against concurrent creators).
    fn get_or_create_experiment(&self, name: &str) -> Result<Experiment, StoreError>;
    /// Reads an experiment (active or deleted).
    fn get_experiment(&self, id: ExperimentId) -> Result<Experiment, StoreError>;
    /// Finds an experiment by name (active or deleted).
    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>, StoreError>;
    /// Lists experiments by id.
    fn list_experiments(&self, view: ViewType) -> Result<Vec<Experiment>, StoreError>;
    /// Renames an experiment.
    fn rename_experiment(&self, id: ExperimentId, new_name: &str) -> Result<(), StoreError>;
    /// Soft-deletes an experiment and its active runs.
    fn delete_experiment(&self, id: ExperimentId) -> Result<(), StoreError>;
    /// Restores an experiment and the runs its deletion deleted.
    fn restore_experiment(&self, id: ExperimentId) -> Result<(), StoreError>;
    /// Sets (inserts or replaces) an experiment tag.
    fn set_experiment_tag(
        &self,
        id: ExperimentId,
        key: &str,
        value: &str,
    ) -> Result<(), StoreError>;
    /// Creates a run in state RUNNING.
    fn create_run(&self, new_run: &NewRun) -> Result<RunInfo, StoreError>;
    /// Reads a run with its params, metric summaries and tags (active or deleted).
    fn get_run(&self, run_id: &str) -> Result<Run, StoreError>;
    /// Sets the status and (for terminal statuses) the end time of a run.
    fn update_run_status(
        &self,
        run_id: &str,
        status: RunStatus,
        end_time: Option<i64>,
    ) -> Result<RunInfo, StoreError>;
    /// Soft-deletes a run and its active descendants.
    fn delete_run(&self, run_id: &str) -> Result<(), StoreError>;
    /// Restores a soft-deleted run and the descendants its deletion deleted.
    fn restore_run(&self, run_id: &str) -> Result<(), StoreError>;
    /// Permanently removes the runs deleted at or before `deleted_before` (ms since the epoch)
    /// and the experiments deleted then with their runs, except runs a live model version
    /// points to; the artifact directories are the caller's (see [`crate::tracking::gc`]). The
    /// default refuses: the backend cannot purge.
    fn purge_deleted(&self, deleted_before: i64) -> Result<super::gc::Purged, StoreError> {
        let _ = deleted_before;
        Err(StoreError::InvalidArgument(
            "this tracking store cannot remove deleted runs".to_string(),
        ))
    }
    /// Whether [`purge_deleted`](Self::purge_deleted) also removes the purged runs' artifacts
    /// (a remote store's server does it where they are); `false` by default: the tracker removes
    /// the local directories it returns.
    fn purge_removes_artifacts(&self) -> bool {
        false
    }
    /// Logs params, metric points and tags in one transaction: all land or none does.
    fn log_batch(
        &self,
        run_id: &str,
        params: &[Param],
        metrics: &[Metric],
        tags: &[RunTag],
    ) -> Result<(), StoreError>;
    /// Logs final metrics and tags and sets a terminal status, in one transaction when the
    /// backend can (the default does it in two steps).
    fn finish_run(
        &self,
        run_id: &str,
        metrics: &[Metric],
        tags: &[RunTag],
        status: RunStatus,
        end_time: Option<i64>,
    ) -> Result<RunInfo, StoreError> {
        self.log_batch(run_id, &[], metrics, tags)?;
        self.update_run_status(run_id, status, end_time)
    }
    /// Like [`Store::create_run`], but the run may be written later, with other queued writes in
    /// one group commit (see [`Store::flush`]); the returned info is final. What can be checked
    /// without writing (limits, the experiment, the parent) is checked now. The default writes
    /// at once.
    fn create_run_queued(&self, new_run: NewRun) -> Result<RunInfo, StoreError> {
        self.create_run(&new_run)
    }
    /// Like [`Store::log_batch`], but the metrics and tags may be written later in a group
    /// commit (see [`Store::flush`]). Params are always written at once, because logging a param
    /// twice with different values must fail. Limits and the run are checked now. The default
    /// writes at once.
    fn log_batch_queued(
        &self,
        run_id: &str,
        params: &[Param],
        metrics: &[Metric],
        tags: &[RunTag],
    ) -> Result<(), StoreError> {
        self.log_batch(run_id, params, metrics, tags)
    }
    /// Like [`Store::finish_run`], but written later in a group commit (see [`Store::flush`]).
    /// The default writes at once.
    fn finish_run_queued(
        &self,
        run_id: &str,
        metrics: &[Metric],
        tags: &[RunTag],
        status: RunStatus,
        end_time: Option<i64>,
    ) -> Result<(), StoreError> {
        self.finish_run(run_id, metrics, tags, status, end_time)
            .map(|_| ())
    }
    /// Commits every queued write now and reports the queued writes that failed since the last
    /// flush (a run deleted by another process meanwhile, ...) as one
    /// [`StoreError::QueuedWritesFailed`]. Every other operation of the store also commits the
    /// queue first, so reads always see the queued writes, but only `flush` reports failures.
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// How many failures the store logged since it was opened: the queued writes that failed
    /// when committed, plus one once its file is lost. It only grows (unlike [`Store::flush`],
    /// asking does not reset it), and is cheap enough to ask after every write. 0 by default.
    fn write_failure_count(&self) -> usize {
        0
    }
    /// Every write that failed since the store was opened (see [`WriteFailures`]); not reset by
    /// [`Store::flush`]. Empty by default.
    fn write_failures(&self) -> WriteFailures {
        WriteFailures::default()
    }
    /// Deletes a run tag (an error if the tag does not exist).
    fn delete_tag(&self, run_id: &str, key: &str) -> Result<(), StoreError>;
    /// Compare-and-set of one tag of an active run, atomically (one write transaction): when the
    /// tag's value is `expected` (`None`: the tag is absent) it becomes `new` (`None`: the tag is
    /// deleted) and the answer is `true`; otherwise nothing changes and the answer is `false`.
    fn compare_and_set_tag(
        &self,
        run_id: &str,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
    ) -> Result<bool, StoreError>;
    /// The full history of one metric of a run, ordered by (step, timestamp).
    fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>, StoreError>;
    /// Searches runs with the filter language, ordering and paging (keyset pages: see
    /// [`RunsQuery::page_token`]).
    fn search_runs(&self, query: &RunsQuery) -> Result<RunPage, StoreError>;
    /// The artifact store of a run: its local directory by default; a remote backend keeps
    /// artifacts on its server.
    fn artifact_store(&self, info: &RunInfo) -> super::ArtifactStore {
        super::ArtifactStore::new(info.artifact_uri.clone())
    }
    /// The model registry kept by this backend, if it has one (see [`crate::registry`]); `None` by default.
    fn registry(&self) -> Option<&dyn crate::registry::RegistryStore> {
        None
    }

    /// The board this backend keeps shared studies on (see [`crate::tracking::shared`]): its own
    /// connection to the same database. Backends that cannot share a study between processes
    /// say so with [`StoreError::InvalidArgument`] (the default).
    fn study_board(&self) -> Result<std::sync::Arc<dyn super::shared::StudyBoard>, StoreError> {
        Err(StoreError::InvalidArgument(
            "this store cannot share a study between processes".into(),
        ))
    }

    /// How many runs of an experiment are in `view`. The default pages through [`Store::search_runs`];
    /// backends answer it without reading the runs' data.
    fn count_runs(&self, experiment_id: ExperimentId, view: ViewType) -> Result<usize, StoreError> {
        let mut count = 0;
        let mut token = None;
        loop {
            let page = self.search_runs(
                &RunsQuery::new(&[experiment_id], "")
                    .view(view)
                    .max_results(MAX_RESULTS_LIMIT)
                    .page_token(token),
            )?;
            count += page.runs.len();
            token = page.next_page_token;
            if token.is_none() {
                return Ok(count);
            }
        }
    }

    /// The ids of a run's active children, oldest first. The default uses [`Store::search_runs`];
    /// backends answer it without reading the runs' data.
    fn child_run_ids(&self, run_id: &str) -> Result<Vec<RunId>, StoreError> {
        validate_run_id(run_id).map_err(|_| StoreError::RunNotFound(run_id.to_string()))?;
        child_run_ids_by_search(self, Vec::new(), run_id)
    }
}

/// The current time in epoch milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Checks a param, metric or tag key: non-empty, at most [`MAX_KEY_LEN`] characters, no control characters.
pub fn validate_key(kind: &str, key: &str) -> Result<(), StoreError> {
    if key.is_empty() {
        return Err(StoreError::InvalidArgument(format!(
            "{kind} key must not be empty"
        )));
    }
    let len = if key.len() <= MAX_KEY_LEN {
        key.len() // at most that many characters too
    } else {
        key.chars().count()
    };
    if len > MAX_KEY_LEN {
        return Err(StoreError::LimitExceeded {
            what: format!(
                "{kind} key '{}...'",
                key.chars().take(20).collect::<String>()
            ),
            limit: MAX_KEY_LEN,
            actual: len,
        });
    }
    if key.chars().any(char::is_control) {
        return Err(StoreError::InvalidArgument(format!(
            "{kind} key '{}' contains a control character",
            key.escape_debug()
        )));
    }
    Ok(())
}

/// An error if `value` is longer than `limit` characters; `what` names it (built only then).
fn validate_value_len(
    what: impl FnOnce() -> String,
    value: &str,
    limit: usize,
) -> Result<(), StoreError> {
    // a value of at most `limit` bytes has at most `limit` characters: no need to count
    if value.len() <= limit {
        return Ok(());
    }
    let len = value.chars().count();
    if len > limit {
        return Err(StoreError::LimitExceeded {
            what: what(),
            limit,
            actual: len,
        });
    }
    Ok(())
}

/// Checks a run tag (key and value length).
pub fn validate_tag(tag: &RunTag) -> Result<(), StoreError> {
    validate_key("tag", &tag.key)?;
    validate_value_len(
        || format!("value of tag '{}'", tag.key),
        &tag.value,
        MAX_TAG_VALUE_LEN,
    )
}

/// Checks an experiment tag (key and value length).
pub fn validate_experiment_tag(key: &str, value: &str) -> Result<(), StoreError> {
    validate_key("experiment tag", key)?;
    validate_value_len(
        || format!("value of experiment tag '{key}'"),
        value,
        MAX_EXPERIMENT_TAG_VALUE_LEN,
    )
}

/// Checks an experiment name: non-empty after trimming, at most [`MAX_EXPERIMENT_NAME_LEN`]
/// characters, no control characters (a newline, a tab, NUL).
pub fn validate_experiment_name(name: &str) -> Result<(), StoreError> {
    if name.trim().is_empty() {
        return Err(StoreError::InvalidArgument(
            "experiment name must not be empty".to_string(),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(StoreError::InvalidArgument(format!(
            "experiment name '{}' contains a control character (a newline, a tab, NUL, ...)",
            name.chars().take(40).collect::<String>().escape_debug()
        )));
    }
    validate_value_len(
        || "experiment name".to_string(),
        name,
        MAX_EXPERIMENT_NAME_LEN,
    )
}

/// Checks a run id: 1 to 256 characters from `[A-Za-z0-9_-]`, starting with a letter or digit.
pub fn validate_run_id(run_id: &str) -> Result<(), StoreError> {
    let ok = !run_id.is_empty()
        && run_id.len() <= 256
        && run_id
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && run_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidArgument(format!(
            "'{}' is not a valid run id",
            run_id.escape_debug()
        )))
    }
}

/// Checks a whole `log_batch` call: counts, keys, value lengths and duplicate param keys.
pub fn validate_batch(
    params: &[Param],
    metrics: &[Metric],
    tags: &[RunTag],
) -> Result<(), StoreError> {
    let counts = [
        (
            "number of metrics in one batch",
            metrics.len(),
            MAX_METRICS_PER_BATCH,
        ),
        (
            "number of params in one batch",
            params.len(),
            MAX_PARAMS_PER_BATCH,
        ),
        (
            "number of tags in one batch",
            tags.len(),
            MAX_TAGS_PER_BATCH,
        ),
    ];
    for (what, actual, limit) in counts {
        if actual > limit {
            return Err(StoreError::LimitExceeded {
                what: what.to_string(),
                limit,
                actual,
            });
        }
    }
    for (i, p) in params.iter().enumerate() {
        validate_key("param", &p.key)?;
        validate_value_len(
            || format!("value of param '{}'", p.key),
            &p.value,
            MAX_PARAM_VALUE_LEN,
        )?;
        if let Some(prev) = params[..i].iter().find(|q| q.key == p.key) {
            if prev.value != p.value {
                return Err(StoreError::InvalidArgument(format!(
                    "param '{}' appears twice in one batch with different values",
                    p.key
                )));
            }
        }
    }
    for m in metrics {
        validate_key("metric", &m.key)?;
    }
    for t in tags {
        validate_tag(t)?;
    }
    Ok(())
}

/// Parses a param value as a finite number, for numeric search (`params.lr > 0.01`).
pub fn numeric_param_value(value: &str) -> Option<f64> {
    let v: f64 = value.trim().parse().ok()?;
    v.is_finite().then_some(v)
}

/// The ids of a run's active children, oldest first, by paging through [`Store::search_runs`]
/// over `experiment_ids` (empty: all; a server that needs them is given the run's own).
pub(crate) fn child_run_ids_by_search(
    store: &(impl Store + ?Sized),
    experiment_ids: Vec<ExperimentId>,
    run_id: &str,
) -> Result<Vec<RunId>, StoreError> {
    let mut ids = Vec::new();
    let mut token = None;
    loop {
        let page = store.search_runs(&RunsQuery {
            experiment_ids: experiment_ids.clone(),
            filter: format!("parent_run_id = '{run_id}'"),
            order_by: vec!["start_time ASC".into()],
            max_results: MAX_RESULTS_LIMIT,
            page_token: token,
            ..RunsQuery::default()
        })?;
        ids.extend(page.runs.into_iter().map(|r| r.info.run_id));
        token = page.next_page_token;
        if token.is_none() {
            return Ok(ids);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_through_strings() {
        for s in [
            RunStatus::Running,
            RunStatus::Finished,
            RunStatus::Failed,
            RunStatus::Killed,
        ] {
            assert_eq!(s.as_str().parse::<RunStatus>().ok(), Some(s));
        }
        assert!("DONE".parse::<RunStatus>().is_err());
    }

    #[test]
    fn key_limits_are_typed_errors() {
        assert!(validate_key("param", &"k".repeat(250)).is_ok());
        match validate_key("param", &"k".repeat(251)) {
            Err(StoreError::LimitExceeded { limit, actual, .. }) => {
                assert_eq!((limit, actual), (250, 251))
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            validate_key("param", ""),
            Err(StoreError::InvalidArgument(_))
        ));
    }

    #[test]
    fn batch_limits() {
        let metrics: Vec<Metric> = (0..1001).map(|i| Metric::new("m", 1.0, i)).collect();
        assert!(matches!(
            validate_batch(&[], &metrics, &[]),
            Err(StoreError::LimitExceeded {
                limit: 1000,
                actual: 1001,
                ..
            })
        ));
        assert!(validate_batch(&[], &metrics[..1000], &[]).is_ok());
        let params: Vec<Param> = (0..101).map(|i| Param::new(format!("p{i}"), "1")).collect();
        assert!(matches!(
            validate_batch(&params, &[], &[]),
            Err(StoreError::LimitExceeded {
                limit: 100,
                actual: 101,
                ..
            })
        ));
        let tags: Vec<RunTag> = (0..101)
            .map(|i| RunTag::new(format!("t{i}"), "1"))
            .collect();
        assert!(matches!(
            validate_batch(&[], &[], &tags),
            Err(StoreError::LimitExceeded {
                limit: 100,
                actual: 101,
                ..
            })
        ));
        let long = Param::new("p", "x".repeat(6001));
        assert!(matches!(
            validate_batch(&[long], &[], &[]),
            Err(StoreError::LimitExceeded {
                limit: 6000,
                actual: 6001,
                ..
            })
        ));
        let long = RunTag::new("t", "x".repeat(8001));
        assert!(matches!(
            validate_batch(&[], &[], &[long]),
            Err(StoreError::LimitExceeded {
                limit: 8000,
                actual: 8001,
                ..
            })
        ));
        let dup = [Param::new("a", "1"), Param::new("a", "2")];
        assert!(matches!(
            validate_batch(&dup, &[], &[]),
            Err(StoreError::InvalidArgument(_))
        ));
    }

    #[test]
    fn numeric_params() {
        assert_eq!(numeric_param_value("0.01"), Some(0.01));
        assert_eq!(numeric_param_value(" 1e-3 "), Some(0.001));
        assert_eq!(numeric_param_value("l2"), None);
        assert_eq!(numeric_param_value("NaN"), None);
        assert_eq!(numeric_param_value("inf"), None);
    }

    #[test]
    fn run_ids() {
        assert!(validate_run_id("0123456789abcdef0123456789abcdef").is_ok());
        assert!(validate_run_id("").is_err());
        assert!(validate_run_id("../x").is_err());
        assert!(validate_run_id("-x").is_err());
    }
}
