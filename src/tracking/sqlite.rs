//! The embedded default store: one SQLite file, safe for many writers.
//!
//! The connection runs in WAL mode (readers never block the writer) with `synchronous=NORMAL` and a busy
//! timeout. In WAL mode `synchronous=NORMAL` does not fsync on each commit, only at checkpoints: a
//! committed transaction survives a crash of the process (the WAL is in the OS page cache), and a power
//! loss can lose the last commits but never corrupts the file or leaves half a transaction. Every logical
//! write is one `BEGIN IMMEDIATE` transaction (the write lock is taken up front, so a reader never has to
//! upgrade and deadlock), and a write that still meets `SQLITE_BUSY`/`SQLITE_LOCKED` is retried with a
//! growing, jittered backoff, so concurrent processes and threads do not see "database is locked". The
//! schema and its forward migrations are in [`super::schema`]; they run on open inside one immediate
//! transaction, so two processes opening an old file at once migrate it exactly once. Metric points are
//! written by [`super::metric_points`].
//!
//! Non-finite metric values: in the history a NaN is stored as `value = 0, is_nan = 1` (SQLite turns a
//! bound NaN into NULL); ±inf are stored as SQLite's own ±Inf REAL values. In the summary, `latest_value`
//! is NULL with `latest_is_nan = 1` when the latest point is NaN, and `min_value`/`max_value` ignore NaN.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{
    params, Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior,
};

use super::checkpoint::CommitPacer;

/// A group commit of at least this many writes asks for a checkpoint at once.
const GROUP_WRITES_PER_CHECKPOINT: usize = 16;

#[path = "sqlite_read_only.rs"]
mod read_only;
use super::known_runs::KnownRuns;
use super::metric_points::{insert_metrics, read_history};
use super::new_run_rows::{insert_new_run_params, insert_new_run_tags};
use super::param_index;
use super::run_reader::{read_run_data, read_run_row, read_runs};
use super::run_search::{self, Plans};
use super::store::*;
use super::store_file::StoreFile;
use super::write_queue::{run_queued, Flusher, GroupCommit, QueuedWrite, WriteQueue, MAX_QUEUED};

pub use super::schema::{MIGRATIONS, SCHEMA_VERSION};

/// How many times a busy write is retried before `StoreError::Busy` reaches the caller.
const MAX_BUSY_RETRIES: u32 = 60;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
                StoreError::Busy(e.to_string())
            }
            Some(
                ErrorCode::DiskFull
                | ErrorCode::SystemIoFailure
                | ErrorCode::ReadOnly
                | ErrorCode::CannotOpen
                | ErrorCode::DatabaseCorrupt
                | ErrorCode::NotADatabase,
            ) => StoreError::Storage(e.to_string()),
            _ => StoreError::Database(e.to_string()),
        }
    }
}

/// An error a transaction body may return: database errors convert into it, and a busy database is
/// recognized so the whole transaction can be retried.
pub(crate) trait TxError: From<rusqlite::Error> {
    /// Whether the error means "the database is busy, try again".
    fn is_busy(&self) -> bool;
}

impl TxError for StoreError {
    fn is_busy(&self) -> bool {
        matches!(self, StoreError::Busy(_))
    }
}

/// Generates a run id: a version-7 UUID (RFC 9562) as 32 lowercase hex characters: 48 bits of
/// Unix time in milliseconds, then 74 random bits. Ids stay unique and opaque like MLflow's, but
/// sort by creation time, so a new run's rows land at the end of the indexes keyed by run id
/// instead of on random pages (measured: recording a trial cost 2x more with random ids once
/// the store outgrew the page cache).
pub fn new_run_id() -> RunId {
    let millis = now_ms().max(0) as u128 & ((1 << 48) - 1);
    let random: u128 = rand::random();
    let mut bits = (millis << 80) | (random & ((1 << 80) - 1));
    bits = (bits & !(0xf << 76)) | (0x7 << 76); // version 7
    bits = (bits & !(0x3 << 62)) | (0x2 << 62); // RFC 9562 variant
    format!("{bits:032x}")
}

/// The SQLite-backed [`Store`].
pub struct SqliteStore {
    shared: Arc<Shared>,
    path: PathBuf,
    artifact_root: PathBuf,
    /// The thread committing queued writes, started by the first queued write.
    flusher: OnceLock<Option<Flusher>>,
    /// Runs and experiments seen active, so queued writes can be checked without a read.
    known: KnownRuns,
    /// Opened read-only ([`SqliteStore::open_read_only`]): no migration, searches never index.
    read_only: bool,
}

/// What the store shares with its group-commit thread: the connection and the write queue.
struct Shared {
    /// The store's connection, shared with its study board.
    conn: Arc<Mutex<Connection>>,
    queue: WriteQueue,
    pacer: CommitPacer,
    /// The database file, watched for deletion after each group commit.
    file: StoreFile,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no open transaction behind (it rolls back on drop).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Commits the queued writes on the locked connection, in one transaction.
    fn commit_queue_locked(&self, conn: &mut Connection) {
        if self.queue.is_empty() {
            return;
        }
        let writes = self.queue.take();
        self.commit_writes(conn, &writes);
    }

    fn commit_writes(&self, conn: &mut Connection, writes: &[QueuedWrite]) {
        self.commit_writes_to_file(conn, writes);
        self.check_file();
    }

    /// Records the loss of the database file, if it was lost (see [`StoreFile`]); true the first
    /// time it is seen.
    fn check_file(&self) -> bool {
        match self.file.check() {
            Some(why) => self.queue.log().file_lost(why),
            None => false,
        }
    }

    fn commit_writes_to_file(&self, conn: &mut Connection, writes: &[QueuedWrite]) {
        // Fast path: every write in one transaction, no savepoints (a savepoint makes SQLite copy
        // each page a write touches first). Nearly always all succeed; if one fails, the whole
        // transaction is rolled back and redone with a savepoint per write.
        let all = run_tx_on(conn, &self.pacer, TransactionBehavior::Immediate, |tx| {
            writes.iter().try_for_each(|write| write.apply(tx))
        });
        match all {
            Ok(()) => {
                // a large group commit writes as much as many small commits: let the checkpoint
                // thread copy it back now rather than the writer's own automatic checkpoint later.
                // A small one (a command trial's run, committed before it starts) waits for the
                // regular request every COMMITS_PER_CHECKPOINT commits: a checkpoint fsyncs twice.
                if writes.len() >= GROUP_WRITES_PER_CHECKPOINT {
                    self.pacer.request_checkpoint();
                }
                return;
            }
            // the whole group fails alike: redoing it write by write would only fail again
            Err(e @ (StoreError::Busy(_) | StoreError::Storage(_))) => {
                self.queue
                    .record_failures(&writes.iter().collect::<Vec<_>>(), Some(e));
                return;
            }
            Err(_) => {}
        }
        match run_tx_on(conn, &self.pacer, TransactionBehavior::Immediate, |tx| {
            run_queued(tx, writes)
        }) {
            Ok(failed) => {
                let which: Vec<&QueuedWrite> = failed.iter().map(|(i, _)| &writes[*i]).collect();
                let first = failed.into_iter().next().map(|(_, e)| e);
                self.queue.record_failures(&which, first);
            }
            Err(e) => self
                .queue
                .record_failures(&writes.iter().collect::<Vec<_>>(), Some(e)),
        }
    }

    /// Runs `f` in one transaction, after committing the queued writes, retrying the whole
    /// transaction when busy.
    fn run_tx<T, E: TxError>(
        &self,
        behavior: TransactionBehavior,
        f: impl FnMut(&Transaction) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.lock();
        self.commit_queue_locked(&mut conn);
        run_tx_on(&mut conn, &self.pacer, behavior, f)
    }
}

/// What the store's study board needs of the store: its queued writes, which the board commits
/// in its own transactions (a trial's run and end with the board's next write: one commit
/// instead of three), and a way to queue its deferred writes with them.
pub(crate) trait QueueCarrier: Send + Sync {
    /// Takes the store's waiting writes, oldest first.
    fn take_queued(&self) -> Vec<QueuedWrite>;
    /// Commits `writes` on `conn` the store's own way (a failing write rolled back alone, kept
    /// and reported by the store's next flush).
    fn commit_apart(&self, conn: &mut Connection, writes: &[QueuedWrite]);
    /// Queues `write` after the store's waiting writes.
    fn queue_write(&self, write: QueuedWrite);
    /// Looks at the store's file after a commit that carried its writes, as the store does after
    /// its own group commits (see [`StoreFile`]): a deleted file is then a recording failure.
    fn check_file(&self);
}

impl QueueCarrier for Shared {
    fn take_queued(&self) -> Vec<QueuedWrite> {
        self.queue.take()
    }

    fn commit_apart(&self, conn: &mut Connection, writes: &[QueuedWrite]) {
        self.commit_writes(conn, writes);
    }

    fn queue_write(&self, write: QueuedWrite) {
        let waiting = self.queue.push(write);
        if waiting >= MAX_QUEUED {
            self.commit_queue();
        }
    }

    fn check_file(&self) {
        Shared::check_file(self);
    }
}

impl GroupCommit for Shared {
    fn queue(&self) -> &WriteQueue {
        &self.queue
    }

    fn commit_queue(&self) {
        let mut conn = self.lock();
        self.commit_queue_locked(&mut conn);
    }

    /// Indexes the params of up to [`IDLE_INDEX_RUNS`] runs by value (see `param_index`); a
    /// failure (another process holding the lock too long) leaves them for later.
    fn on_idle(&self) -> bool {
        let mut conn = self.lock();
        self.commit_queue_locked(&mut conn);
        if !param_index::pending(&conn).unwrap_or(false) {
            return false;
        }
        // Idle work gives way at once to another process's write (and is retried after the next
        // commit's idle time) rather than keep this store's connection while it waits.
        let _ = conn.busy_timeout(IDLE_BUSY_TIMEOUT);
        let more = (|| -> rusqlite::Result<bool> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let more = param_index::index_pending_runs(&tx, IDLE_INDEX_RUNS)?;
            tx.commit()?;
            Ok(more)
        })();
        let _ = conn.busy_timeout(BUSY_TIMEOUT);
        match more {
            Ok(more) => {
                self.pacer.count_commit();
                more
            }
            Err(_) => false,
        }
    }
}

/// How long SQLite waits for another connection's lock before a call gives up (and is retried).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The same for the group-commit thread's idle work.
const IDLE_BUSY_TIMEOUT: Duration = Duration::from_millis(20);

/// Runs whose params the group-commit thread indexes per transaction when idle (a few tens of
/// milliseconds at most, so a call waiting for the connection meanwhile is not held up long).
const IDLE_INDEX_RUNS: i64 = 500;

/// Runs `f` in one transaction on `conn`, retrying the whole transaction when busy.
fn run_tx_on<T, E: TxError>(
    conn: &mut Connection,
    pacer: &CommitPacer,
    behavior: TransactionBehavior,
    mut f: impl FnMut(&Transaction) -> Result<T, E>,
) -> Result<T, E> {
    let mut attempt = 0;
    loop {
        let result: Result<T, E> = (|| {
            let tx = conn.transaction_with_behavior(behavior)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })();
        match result {
            Err(e) if e.is_busy() && attempt < MAX_BUSY_RETRIES => {
                backoff(attempt);
                attempt += 1;
            }
            other => {
                if other.is_ok() && matches!(behavior, TransactionBehavior::Immediate) {
                    pacer.count_commit();
                }
                return other;
            }
        }
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("artifact_root", &self.artifact_root)
            .finish()
    }
}

fn backoff(attempt: u32) {
    let base = 2u64.saturating_pow(attempt.min(6)).min(100);
    let jitter = rand::random::<u64>() % (base + 1);
    std::thread::sleep(Duration::from_millis(base + jitter));
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`, migrates it and makes sure the "Default"
    /// experiment exists. New experiments keep their artifacts under `artifact_root/<experiment id>`.
    pub fn open(path: &Path, artifact_root: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Database(format!("cannot create '{}': {e}", parent.display()))
            })?;
        }
        // a file that cannot be written is named (the disk is full, ...)
        let named = |e: StoreError| match e {
            StoreError::Storage(m) => StoreError::Storage(format!("'{}': {m}", path.display())),
            other => other,
        };
        let conn = Connection::open(path).map_err(|e| named(e.into()))?;
        Self::setup(conn, path.to_path_buf(), artifact_root).map_err(named)
    }

    /// Opens the existing database file at `path` read-only (a file or file system hpo may not
    /// write, or a `mode=ro` URI): nothing is created or migrated, and every write fails. The
    /// file must have the current schema. A WAL database whose shared-memory file cannot be
    /// created is read as immutable.
    pub fn open_read_only(path: &Path, artifact_root: &Path) -> Result<Self, StoreError> {
        let conn = read_only::connect(path)?;
        Self::setup_with(conn, path.to_path_buf(), artifact_root, true)
    }

    /// True if the store was opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Opens a private in-memory database (for tests and throwaway studies).
    pub fn open_in_memory(artifact_root: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory()?;
        Self::setup(conn, PathBuf::from(":memory:"), artifact_root)
    }

    fn setup(conn: Connection, path: PathBuf, artifact_root: &Path) -> Result<Self, StoreError> {
        Self::setup_with(conn, path, artifact_root, false)
    }

    /// The store's value around an open connection (nothing is read or written).
    fn with_connection(
        conn: Connection,
        path: PathBuf,
        artifact_root: &Path,
        read_only: bool,
    ) -> Self {
        let on_disk = path != Path::new(":memory:");
        SqliteStore {
            shared: Arc::new(Shared {
                conn: Arc::new(Mutex::new(conn)),
                queue: WriteQueue::default(),
                pacer: CommitPacer::new(&path),
                file: StoreFile::new(on_disk.then_some(path.as_path())),
            }),
            path,
            artifact_root: artifact_root.to_path_buf(),
            flusher: OnceLock::new(),
            known: KnownRuns::default(),
            read_only,
        }
    }

    fn setup_with(
        conn: Connection,
        path: PathBuf,
        artifact_root: &Path,
        read_only: bool,
    ) -> Result<Self, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        if read_only {
            read_only::check_schema(&conn, &path)?;
            return Ok(Self::with_connection(conn, path, artifact_root, true));
        }
        // A new, empty file is made without fsyncs until its schema is written: switching it to
        // WAL goes through a rollback journal (four fsyncs), and the WAL's first header two more,
        // 5-15 ms on this kind of disk for every new store. What a power loss in those first
        // milliseconds can leave is an empty or torn new file, never a half-written study: nothing
        // is recorded before the schema, and the first checkpoint fsyncs as usual.
        let new_file = path != Path::new(":memory:")
            && conn
                .query_row("PRAGMA page_count", [], |r| r.get::<_, i64>(0))
                .is_ok_and(|pages| pages == 0);
        if new_file {
            conn.pragma_update(None, "synchronous", "OFF")?;
        }
        let mut attempt = 0;
        loop {
            let r: Result<String, rusqlite::Error> =
                conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0));
            match r.map_err(StoreError::from) {
                Ok(_) => break,
                Err(StoreError::Busy(_)) if attempt < MAX_BUSY_RETRIES => {
                    backoff(attempt);
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
        // In WAL mode, NORMAL fsyncs only at checkpoints: a commit survives a crash of the process,
        // and a power loss may lose the last commits but never leaves a half-written transaction.
        if !new_file {
            conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        // The writer checkpoints (and fsyncs) every ~40 MB of WAL rather than every 4 MB: small
        // transactions are twice as fast. With the checkpoint thread (see `checkpoint`) most pages
        // are already copied by then, and this checkpoint lets the WAL restart from its beginning.
        conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
        // A burst of writes can grow the WAL past that while the two checkpoints take turns; once
        // it restarts, its file is cut back to 64 MB.
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        conn.set_prepared_statement_cache_capacity(64);
        // Plans that do not depend on bound values: otherwise SQLite marks a parameter compared
        // with `=` in a plan it considered (e.g. `study_run_uuid = ?1` of a study board's reads
        // and claims) and re-prepares the cached statement at every new text bound to it, which
        // was two re-prepares (about 230,000 instructions) per trial of a command study. hpo's
        // plans do not need the values: no statistics tables (no ANALYZE), partial indexes matched
        // by literal conditions, LIMITs written as literals.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        // A group commit of many trials touches more pages than the default 2 MB page cache
        // holds, which made SQLite spill pages to the WAL in the middle of the transaction.
        conn.pragma_update(None, "cache_size", -16 * 1024)?;
        // A multi-row insert inside a larger transaction keeps a statement journal (the pages it
        // changes, to undo just that statement); in a temporary file that cost a `pwrite` per page
        // and was over a quarter of a group commit's time. Temporary data stays small here (a
        // search's sorter is bounded by its page size).
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // Migrations may rebuild referenced tables, so foreign keys are enforced only after them
        // (the bundled SQLite enforces them by default).
        conn.pragma_update(None, "foreign_keys", "OFF")?;
        let store = Self::with_connection(conn, path, artifact_root, false);
        store.migrate()?;
        let conn = store.lock();
        if new_file {
            conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        conn.pragma_update(None, "foreign_keys", "ON")?;
        drop(conn);
        Ok(store)
    }

    /// The database file path (`:memory:` for in-memory stores).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.read(|tx| current_version(tx))
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let root = self.artifact_root.clone();
        self.write(|tx| {
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_version (
                    version INTEGER PRIMARY KEY, applied_time INTEGER NOT NULL)",
            )?;
            let current = current_version(tx)?;
            if current > SCHEMA_VERSION {
                return Err(StoreError::SchemaTooNew {
                    found: current,
                    supported: SCHEMA_VERSION,
                });
            }
            for (version, sql) in MIGRATIONS {
                if *version > current {
                    tx.execute_batch(sql)?;
                    tx.execute(
                        "INSERT INTO schema_version (version, applied_time) VALUES (?1, ?2)",
                        params![version, now_ms()],
                    )?;
                }
            }
            if current < SCHEMA_VERSION {
                let broken: Option<String> = tx
                    .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
                    .optional()?;
                if let Some(table) = broken {
                    return Err(StoreError::Database(format!(
                        "migration left a broken reference in table '{table}'"
                    )));
                }
            }
            let now = now_ms();
            tx.execute(
                "INSERT OR IGNORE INTO experiments
                 (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time)
                 VALUES (?1, ?2, ?3, 'active', ?4, ?4)",
                params![
                    DEFAULT_EXPERIMENT_ID,
                    DEFAULT_EXPERIMENT_NAME,
                    location_for(&root, DEFAULT_EXPERIMENT_ID),
                    now
                ],
            )?;
            Ok(())
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.shared.lock()
    }

    fn run_tx<T, E: TxError>(
        &self,
        behavior: TransactionBehavior,
        f: impl FnMut(&Transaction) -> Result<T, E>,
    ) -> Result<T, E> {
        self.shared.run_tx(behavior, f)
    }

    /// Queues a write for the next group commit (see [`super::write_queue`]), committing at once
    /// when the queue is full.
    fn enqueue(&self, write: QueuedWrite) {
        let waiting = self.shared.queue.push(write);
        self.flusher.get_or_init(|| {
            let shared: Arc<dyn GroupCommit> = self.shared.clone();
            Flusher::start(shared)
        });
        if waiting >= MAX_QUEUED {
            self.shared.commit_queue();
        }
    }

    /// Like `write`, for transaction bodies with their own error type (the model registry's).
    pub(crate) fn write_as<T, E: TxError>(
        &self,
        f: impl FnMut(&Transaction) -> Result<T, E>,
    ) -> Result<T, E> {
        self.run_tx(TransactionBehavior::Immediate, f)
    }

    /// Like `read`, for transaction bodies with their own error type (the model registry's).
    pub(crate) fn read_as<T, E: TxError>(
        &self,
        f: impl FnMut(&Transaction) -> Result<T, E>,
    ) -> Result<T, E> {
        self.run_tx(TransactionBehavior::Deferred, f)
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction, retrying the whole transaction when busy.
    fn write<T>(
        &self,
        f: impl FnMut(&Transaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.run_tx(TransactionBehavior::Immediate, f)
    }

    /// Runs `f` in one read transaction (a consistent snapshot).
    pub(crate) fn read<T>(
        &self,
        f: impl FnMut(&Transaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.run_tx(TransactionBehavior::Deferred, f)
    }
}

/// A `WITH` clause naming the run ids below run `?1` (its children, their children ...) as
/// `descendants(id)`.
const DESCENDANTS: &str = "WITH RECURSIVE descendants(id) AS (
         SELECT run_uuid FROM runs WHERE parent_run_id = ?1
         UNION SELECT r.run_uuid FROM runs r JOIN descendants d ON r.parent_run_id = d.id)";

fn location_for(root: &Path, id: ExperimentId) -> String {
    root.join(id.to_string()).to_string_lossy().into_owned()
}

fn current_version(tx: &Connection) -> Result<i64, StoreError> {
    let exists: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(0);
    }
    Ok(tx.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |r| r.get(0),
    )?)
}

/// The (key, value) rows of `sql` (which selects exactly those two text columns), each made
/// into a `T` (a param, a tag, ...).
pub(crate) fn key_values<T, P: rusqlite::Params>(
    tx: &Connection,
    sql: &str,
    params: P,
    make: fn(String, String) -> T,
) -> rusqlite::Result<Vec<T>> {
    let mut stmt = tx.prepare_cached(sql)?;
    let rows = stmt.query_map(params, |r| Ok(make(r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// A metric value stored as (value, is_nan): NaN is kept as a flag because SQLite has no NaN.
pub(crate) fn stored_metric(value: Option<f64>, is_nan: bool) -> f64 {
    if is_nan {
        f64::NAN
    } else {
        value.unwrap_or(f64::NAN)
    }
}

fn read_experiment(tx: &Connection, id: ExperimentId) -> Result<Option<Experiment>, StoreError> {
    let row = tx
        .prepare_cached(
            "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time
             FROM experiments WHERE experiment_id = ?1",
        )?
        .query_row(
            [id],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            },
        )
        .optional()?;
    let Some((experiment_id, name, artifact_location, stage, creation_time, last_update_time)) =
        row
    else {
        return Ok(None);
    };
    let tags = key_values(
        tx,
        "SELECT key, value FROM experiment_tags WHERE experiment_id = ?1 ORDER BY key",
        [id],
        |key, value| ExperimentTag { key, value },
    )?;
    Ok(Some(Experiment {
        experiment_id,
        name,
        artifact_location,
        lifecycle_stage: stage.parse()?,
        creation_time,
        last_update_time,
        tags,
    }))
}

fn experiment_id_by_name(tx: &Connection, name: &str) -> Result<Option<ExperimentId>, StoreError> {
    Ok(tx
        .query_row(
            "SELECT experiment_id FROM experiments WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()?)
}

fn require_experiment(tx: &Connection, id: ExperimentId) -> Result<Experiment, StoreError> {
    read_experiment(tx, id)?.ok_or_else(|| StoreError::ExperimentNotFound(id.to_string()))
}

/// The error for writing to deleted experiment `id`, naming it.
fn experiment_deleted(tx: &Connection, id: ExperimentId) -> StoreError {
    StoreError::Deleted {
        what: "experiment",
        id: id.to_string(),
        name: read_experiment(tx, id).ok().flatten().map(|e| e.name),
    }
}

fn insert_experiment(
    tx: &Connection,
    root: &Path,
    name: &str,
    artifact_location: Option<&str>,
    tags: &[ExperimentTag],
) -> Result<ExperimentId, StoreError> {
    validate_experiment_name(name)?;
    for t in tags {
        validate_experiment_tag(&t.key, &t.value)?;
    }
    if experiment_id_by_name(tx, name)?.is_some() {
        return Err(StoreError::ExperimentNameTaken(name.to_string()));
    }
    let now = now_ms();
    tx.execute(
        "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time)
         VALUES (?1, '', 'active', ?2, ?2)",
        params![name, now],
    )?;
    let id = tx.last_insert_rowid();
    let location = match artifact_location {
        Some(l) => l.to_string(),
        None => location_for(root, id),
    };
    tx.execute(
        "UPDATE experiments SET artifact_location = ?1 WHERE experiment_id = ?2",
        params![location, id],
    )?;
    for t in tags {
        tx.execute(
            "INSERT OR REPLACE INTO experiment_tags (experiment_id, key, value) VALUES (?1, ?2, ?3)",
            params![id, t.key, t.value],
        )?;
    }
    Ok(id)
}

/// A run's info and integer key, or `RunNotFound`.
fn require_run_row(tx: &Connection, run_id: &str) -> Result<(RunInfo, i64), StoreError> {
    validate_run_id(run_id).map_err(|_| StoreError::RunNotFound(run_id.to_string()))?;
    read_run_row(tx, run_id)?.ok_or_else(|| StoreError::RunNotFound(run_id.to_string()))
}

fn require_run(tx: &Connection, run_id: &str) -> Result<RunInfo, StoreError> {
    Ok(require_run_row(tx, run_id)?.0)
}

/// A run's info and integer key; an error if the run is missing or deleted.
fn require_active_run_row(tx: &Connection, run_id: &str) -> Result<(RunInfo, i64), StoreError> {
    let (info, key) = require_run_row(tx, run_id)?;
    if info.lifecycle_stage == LifecycleStage::Deleted {
        return Err(StoreError::Deleted {
            what: "run",
            id: run_id.to_string(),
            name: None,
        });
    }
    Ok((info, key))
}

fn require_active_run(tx: &Connection, run_id: &str) -> Result<RunInfo, StoreError> {
    Ok(require_active_run_row(tx, run_id)?.0)
}

fn read_run(tx: &Connection, run_id: &str) -> Result<Run, StoreError> {
    let (info, run_key) = require_run_row(tx, run_id)?;
    let data = read_run_data(tx, run_id, run_key)?;
    Ok(Run { info, data })
}

/// Inserts or replaces a run tag (without the rename that the run-name tag implies).
fn put_tag(tx: &Connection, run_id: &str, tag: &RunTag) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO tags (run_uuid, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![run_id, tag.key, tag.value])?;
    Ok(())
}

/// Inserts or replaces a run tag; the run-name tag also renames the run.
fn upsert_tag(tx: &Connection, run_id: &str, tag: &RunTag) -> Result<(), StoreError> {
    put_tag(tx, run_id, tag)?;
    if tag.key == TAG_RUN_NAME {
        tx.prepare_cached("UPDATE runs SET name = ?1 WHERE run_uuid = ?2")?
            .execute(params![tag.value, run_id])?;
    }
    Ok(())
}

/// Logs param `p` of run `run_id` (whose integer key is `run_key`), with the `indexed` flag of that
/// run's params (see `param_index`).
fn insert_param(
    tx: &Connection,
    run_id: &str,
    run_key: i64,
    indexed: i64,
    p: &Param,
) -> Result<(), StoreError> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO params (run_key, key, value, num_value, indexed) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (run_key, key) DO NOTHING",
        )?
        .execute(params![
            run_key,
            p.key,
            p.value,
            numeric_param_value(&p.value),
            indexed
        ])?;
    if inserted == 1 {
        return Ok(());
    }
    // Already logged: the same value again is fine, a different one is an error.
    let old: String = tx
        .prepare_cached("SELECT value FROM params WHERE run_key = ?1 AND key = ?2")?
        .query_row(params![run_key, p.key], |r| r.get(0))?;
    if old == p.value {
        return Ok(());
    }
    Err(StoreError::ParamConflict {
        run_id: run_id.to_string(),
        key: p.key.clone(),
        old,
        new: p.value.clone(),
    })
}

/// The lifecycle stage and artifact location of experiment `id` (what creating a run needs).
fn experiment_for_new_run(
    tx: &Connection,
    id: ExperimentId,
) -> Result<(LifecycleStage, String), StoreError> {
    let row: Option<(String, String)> = tx
        .prepare_cached(
            "SELECT lifecycle_stage, artifact_location FROM experiments WHERE experiment_id = ?1",
        )?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (stage, location) = row.ok_or_else(|| StoreError::ExperimentNotFound(id.to_string()))?;
    Ok((stage.parse()?, location))
}

/// A new run, validated and named, ready to insert (now or from the write queue); shared with the
/// PostgreSQL store.
pub(crate) struct NewRunRow {
    pub(crate) run_id: RunId,
    pub(crate) experiment_id: ExperimentId,
    pub(crate) run_name: String,
    pub(crate) start_time: i64,
    pub(crate) parent_run_id: Option<RunId>,
    pub(crate) user: String,
    pub(crate) tags: Vec<RunTag>,
    pub(crate) params: Vec<Param>,
}

impl NewRunRow {
    /// Checks `new_run` (limits, name) and settles its id, name, tags, user and start time.
    pub(crate) fn prepare(new_run: NewRun) -> Result<Self, StoreError> {
        let NewRun {
            run_id,
            experiment_id,
            run_name,
            start_time,
            parent_run_id,
            user_id,
            mut tags,
            params,
        } = new_run;
        let tag_name = tags
            .iter()
            .find(|t| t.key == TAG_RUN_NAME)
            .map(|t| t.value.clone());
        let run_id = match run_id {
            Some(id) => {
                super::store::validate_run_id(&id)?;
                id
            }
            None => new_run_id(),
        };
        let run_name = match (run_name, tag_name) {
            (Some(a), Some(b)) if a != b => {
                return Err(StoreError::InvalidArgument(format!(
                    "run name '{a}' differs from the {TAG_RUN_NAME} tag '{b}'"
                )))
            }
            (Some(a), _) => a,
            (None, Some(b)) => b,
            (None, None) => format!("run-{}", &run_id[..8]),
        };
        tags.retain(|t| t.key != TAG_RUN_NAME && t.key != TAG_PARENT_RUN_ID);
        tags.push(RunTag::new(TAG_RUN_NAME, run_name.clone()));
        if let Some(parent) = &parent_run_id {
            tags.push(RunTag::new(TAG_PARENT_RUN_ID, parent.clone()));
        }
        if tags.len() > MAX_TAGS_PER_BATCH {
            return Err(StoreError::LimitExceeded {
                what: "number of tags of a new run".into(),
                limit: MAX_TAGS_PER_BATCH,
                actual: tags.len(),
            });
        }
        for t in &tags {
            validate_tag(t)?;
        }
        let user = user_id
            .or_else(|| {
                tags.iter()
                    .find(|t| t.key == TAG_USER)
                    .map(|t| t.value.clone())
            })
            .unwrap_or_else(|| "unknown".to_string());
        validate_batch(&params, &[], &[])?;
        Ok(NewRunRow {
            run_id,
            experiment_id,
            run_name,
            start_time: start_time.unwrap_or_else(now_ms),
            parent_run_id,
            user,
            tags,
            params,
        })
    }

    /// The run's info once inserted into an experiment whose artifacts are at `location`.
    pub(crate) fn info(&self, location: &str) -> RunInfo {
        RunInfo {
            run_id: self.run_id.clone(),
            experiment_id: self.experiment_id,
            run_name: self.run_name.clone(),
            status: RunStatus::Running,
            start_time: self.start_time,
            end_time: None,
            parent_run_id: self.parent_run_id.clone(),
            user_id: self.user.clone(),
            artifact_uri: Path::new(location)
                .join(&self.run_id)
                .join("artifacts")
                .to_string_lossy()
                .into_owned(),
            lifecycle_stage: LifecycleStage::Active,
        }
    }
}

/// Inserts a prepared run with its tags and params; its experiment must be active and its
/// parent (if any) must exist.
fn insert_new_run(tx: &Connection, run: &NewRunRow) -> Result<RunInfo, StoreError> {
    let (stage, location) = experiment_for_new_run(tx, run.experiment_id)?;
    if stage == LifecycleStage::Deleted {
        return Err(experiment_deleted(tx, run.experiment_id));
    }
    if let Some(parent) = &run.parent_run_id {
        require_run(tx, parent)?;
    }
    let info = run.info(&location);
    tx.prepare_cached(
        "INSERT INTO runs (run_uuid, experiment_id, name, status, start_time, end_time,
                           parent_run_id, user_id, artifact_uri, lifecycle_stage)
         VALUES (?1, ?2, ?3, 'RUNNING', ?4, NULL, ?5, ?6, ?7, 'active')",
    )?
    .execute(params![
        info.run_id,
        info.experiment_id,
        info.run_name,
        info.start_time,
        info.parent_run_id,
        info.user_id,
        info.artifact_uri
    ])?;
    let run_key = tx.last_insert_rowid();
    // The name tag is already the run's name: no rename needed.
    insert_new_run_tags(tx, &run.run_id, &run.tags)?;
    insert_new_run_params(tx, &run.run_id, run_key, &run.params)?;
    Ok(info)
}

/// Writes a validated batch of params, tags and metric points into an active run.
fn log_batch_rows(
    tx: &Connection,
    run_id: &str,
    params: &[Param],
    metrics: &[Metric],
    tags: &[RunTag],
) -> Result<(), StoreError> {
    let (_, run_key) = require_active_run_row(tx, run_id)?;
    if !params.is_empty() {
        let indexed = param_index::indexed_flag(tx, run_key)?;
        for p in params {
            insert_param(tx, run_id, run_key, indexed, p)?;
        }
    }
    write_tags_and_metrics(tx, run_id, run_key, metrics, tags)
}

/// Writes tags (a run-name tag renames the run) and metric points into run `run_id`.
fn write_tags_and_metrics(
    tx: &Connection,
    run_id: &str,
    run_key: i64,
    metrics: &[Metric],
    tags: &[RunTag],
) -> Result<(), StoreError> {
    for t in tags {
        upsert_tag(tx, run_id, t)?;
    }
    insert_metrics(tx, run_id, run_key, metrics)
}

/// The end time stored with `status`: a terminal status ends now unless `end_time` is given.
pub(crate) fn end_time_for(status: RunStatus, end_time: Option<i64>) -> Option<i64> {
    if status.is_terminal() {
        Some(end_time.unwrap_or_else(now_ms))
    } else {
        end_time
    }
}

/// Writes a validated batch of final metrics and tags into an active run and sets its status.
fn finish_run_rows(
    tx: &Connection,
    run_id: &str,
    metrics: &[Metric],
    tags: &[RunTag],
    status: RunStatus,
    end_time: Option<i64>,
) -> Result<RunInfo, StoreError> {
    let (mut info, run_key) = require_active_run_row(tx, run_id)?;
    write_tags_and_metrics(tx, run_id, run_key, metrics, tags)?;
    let end = end_time_for(status, end_time);
    tx.prepare_cached("UPDATE runs SET status = ?1, end_time = ?2 WHERE run_uuid = ?3")?
        .execute(params![status.as_str(), end, run_id])?;
    info.status = status;
    info.end_time = end;
    if let Some(t) = tags.iter().rev().find(|t| t.key == TAG_RUN_NAME) {
        info.run_name = t.value.clone();
    }
    Ok(info)
}

impl SqliteStore {
    /// The artifact location of experiment `id`, which must exist and be active (remembered
    /// after the first read).
    fn active_experiment_location(&self, id: ExperimentId) -> Result<String, StoreError> {
        if let Some(location) = self.known.experiment_location(id) {
            return Ok(location);
        }
        let (stage, location) = self.read(|tx| experiment_for_new_run(tx, id))?;
        if stage == LifecycleStage::Deleted {
            return Err(match self.read(|tx| Ok(experiment_deleted(tx, id))) {
                Ok(e) | Err(e) => e,
            });
        }
        self.known.add_experiment(id, &location);
        Ok(location)
    }

    /// An error unless run `run_id` exists, active or deleted, as a new run's parent must
    /// (remembered after the first read).
    fn require_known_run(&self, run_id: &str) -> Result<(), StoreError> {
        if !self.known.has_run(run_id) && !self.known.has_parent(run_id) {
            self.read(|tx| require_run(tx, run_id))?;
            self.known.add_parent(run_id);
        }
        Ok(())
    }

    /// An error unless run `run_id` exists and is active (remembered after the first read).
    fn require_known_active_run(&self, run_id: &str) -> Result<(), StoreError> {
        if !self.known.has_run(run_id) {
            self.read(|tx| require_active_run(tx, run_id))?;
            self.known.add_run(run_id);
        }
        Ok(())
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // stop the group-commit thread, then commit what it left
        drop(self.flusher.take());
        self.shared.commit_queue();
        if let Err(e) = self.shared.queue.take_failures() {
            // nobody is left to return it to
            eprintln!("hpo tracking store {}: {e}", self.path.display());
        }
        self.shared.check_file();
        if let Some(why) = self.shared.queue.log().unreported_file_loss() {
            eprintln!("hpo tracking store: {why}");
        }
    }
}

impl Store for SqliteStore {
    fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[ExperimentTag],
    ) -> Result<ExperimentId, StoreError> {
        self.write(|tx| insert_experiment(tx, &self.artifact_root, name, artifact_location, tags))
    }

    fn get_or_create_experiment(&self, name: &str) -> Result<Experiment, StoreError> {
        self.write(|tx| {
            let id = match experiment_id_by_name(tx, name)? {
                Some(id) => id,
                None => insert_experiment(tx, &self.artifact_root, name, None, &[])?,
            };
            let exp = require_experiment(tx, id)?;
            if exp.lifecycle_stage == LifecycleStage::Deleted {
                return Err(experiment_deleted(tx, id));
            }
            Ok(exp)
        })
    }

    fn get_experiment(&self, id: ExperimentId) -> Result<Experiment, StoreError> {
        self.read(|tx| require_experiment(tx, id))
    }

    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>, StoreError> {
        self.read(|tx| match experiment_id_by_name(tx, name)? {
            Some(id) => read_experiment(tx, id),
            None => Ok(None),
        })
    }

    fn list_experiments(&self, view: ViewType) -> Result<Vec<Experiment>, StoreError> {
        self.read(|tx| {
            let ids: Vec<i64> = tx
                .prepare_cached("SELECT experiment_id FROM experiments ORDER BY experiment_id")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let mut out = Vec::new();
            for id in ids {
                if let Some(e) = read_experiment(tx, id)? {
                    if view.includes(e.lifecycle_stage) {
                        out.push(e);
                    }
                }
            }
            Ok(out)
        })
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
                "UPDATE experiments SET name = ?1, last_update_time = ?2 WHERE experiment_id = ?3",
                params![new_name, now_ms(), id],
            )?;
            Ok(())
        })
    }

    fn delete_experiment(&self, id: ExperimentId) -> Result<(), StoreError> {
        self.known.forget_all();
        self.write(|tx| {
            require_experiment(tx, id)?;
            let now = now_ms();
            tx.execute(
                "UPDATE experiments SET lifecycle_stage = 'deleted', last_update_time = ?1
                 WHERE experiment_id = ?2",
                params![now, id],
            )?;
            tx.execute(
                "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ?1, deleted_with_experiment = 1
                 WHERE experiment_id = ?2 AND lifecycle_stage = 'active'",
                params![now, id],
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
            // Only the runs deleted by the experiment's deletion come back.
            tx.execute(
                "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL, deleted_with_experiment = 0
                 WHERE experiment_id = ?1 AND lifecycle_stage = 'deleted' AND deleted_with_experiment = 1",
                [id],
            )?;
            tx.execute(
                "UPDATE experiments SET lifecycle_stage = 'active', last_update_time = ?1
                 WHERE experiment_id = ?2",
                params![now_ms(), id],
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
                "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
                params![id, key, value],
            )?;
            tx.execute(
                "UPDATE experiments SET last_update_time = ?1 WHERE experiment_id = ?2",
                params![now_ms(), id],
            )?;
            Ok(())
        })
    }

    fn create_run(&self, new_run: &NewRun) -> Result<RunInfo, StoreError> {
        let run = NewRunRow::prepare(new_run.clone())?;
        let info = self.write(|tx| insert_new_run(tx, &run))?;
        self.known.add_run(&info.run_id);
        Ok(info)
    }

    fn create_run_queued(&self, new_run: NewRun) -> Result<RunInfo, StoreError> {
        let run = NewRunRow::prepare(new_run)?;
        let location = self.active_experiment_location(run.experiment_id)?;
        if let Some(parent) = &run.parent_run_id {
            self.require_known_run(parent)?;
        }
        let info = run.info(&location);
        self.known.add_run(&info.run_id);
        let run_id = info.run_id.clone();
        self.enqueue(QueuedWrite::new(run_id, move |tx| {
            insert_new_run(tx, &run).map(|_| ())
        }));
        Ok(info)
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
        self.write(|tx| finish_run_rows(tx, run_id, metrics, tags, status, end_time))
    }

    fn finish_run_queued(
        &self,
        run_id: &str,
        metrics: &[Metric],
        tags: &[RunTag],
        status: RunStatus,
        end_time: Option<i64>,
    ) -> Result<(), StoreError> {
        validate_batch(&[], metrics, tags)?;
        self.require_known_active_run(run_id)?;
        let (run_id, metrics, tags) = (run_id.to_string(), metrics.to_vec(), tags.to_vec());
        // the end time is taken now, not when the queue is committed
        let end_time = end_time_for(status, end_time);
        self.enqueue(QueuedWrite::new(run_id.clone(), move |tx| {
            finish_run_rows(tx, &run_id, &metrics, &tags, status, end_time).map(|_| ())
        }));
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.shared.commit_queue();
        let queued = self.shared.queue.take_failures();
        // direct writes commit without a group commit: look at the file again
        self.shared.check_file();
        match self.shared.queue.log().unreported_file_loss() {
            Some(why) => Err(StoreError::Storage(why)),
            None => queued,
        }
    }

    fn write_failure_count(&self) -> usize {
        self.shared.queue.log().count()
    }

    fn write_failures(&self) -> WriteFailures {
        self.shared.queue.log().snapshot()
    }

    fn get_run(&self, run_id: &str) -> Result<Run, StoreError> {
        self.read(|tx| read_run(tx, run_id))
    }

    fn update_run_status(
        &self,
        run_id: &str,
        status: RunStatus,
        end_time: Option<i64>,
    ) -> Result<RunInfo, StoreError> {
        self.write(|tx| {
            require_active_run(tx, run_id)?;
            let end = end_time_for(status, end_time);
            tx.execute(
                "UPDATE runs SET status = ?1, end_time = ?2 WHERE run_uuid = ?3",
                params![status.as_str(), end, run_id],
            )?;
            require_run(tx, run_id)
        })
    }

    fn delete_run(&self, run_id: &str) -> Result<(), StoreError> {
        self.known.forget_all();
        self.write(|tx| {
            require_run(tx, run_id)?;
            let now = now_ms();
            tx.execute(
                "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ?1, deleted_with_experiment = 0
                 WHERE run_uuid = ?2",
                params![now, run_id],
            )?;
            // Its active descendants go with it, at the same deletion time (how restore finds them).
            tx.execute(
                &format!(
                    "{DESCENDANTS}
                     UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ?2, deleted_with_experiment = 0
                     WHERE run_uuid IN (SELECT id FROM descendants) AND lifecycle_stage = 'active'"
                ),
                params![run_id, now],
            )?;
            Ok(())
        })
    }

    fn purge_deleted(&self, deleted_before: i64) -> Result<super::gc::Purged, StoreError> {
        self.known.forget_all();
        super::gc::purge(self, deleted_before)
    }

    fn restore_run(&self, run_id: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            let info = require_run(tx, run_id)?;
            let exp = require_experiment(tx, info.experiment_id)?;
            if exp.lifecycle_stage == LifecycleStage::Deleted {
                return Err(experiment_deleted(tx, exp.experiment_id));
            }
            // The descendants deleted with it (same deletion time) come back; the ones deleted
            // on their own before stay deleted.
            let deleted_time: Option<i64> = tx.query_row(
                "SELECT deleted_time FROM runs WHERE run_uuid = ?1",
                [run_id],
                |r| r.get(0),
            )?;
            if let Some(deleted_time) = deleted_time {
                tx.execute(
                    &format!(
                        "{DESCENDANTS}
                         UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL, deleted_with_experiment = 0
                         WHERE run_uuid IN (SELECT id FROM descendants) AND lifecycle_stage = 'deleted'
                           AND deleted_time = ?2"
                    ),
                    params![run_id, deleted_time],
                )?;
            }
            tx.execute(
                "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL, deleted_with_experiment = 0
                 WHERE run_uuid = ?1",
                [run_id],
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
        self.write(|tx| log_batch_rows(tx, run_id, params, metrics, tags))
    }

    fn log_batch_queued(
        &self,
        run_id: &str,
        params: &[Param],
        metrics: &[Metric],
        tags: &[RunTag],
    ) -> Result<(), StoreError> {
        if !params.is_empty() {
            return self.log_batch(run_id, params, metrics, tags);
        }
        validate_batch(&[], metrics, tags)?;
        self.require_known_active_run(run_id)?;
        let (run_id, metrics, tags) = (run_id.to_string(), metrics.to_vec(), tags.to_vec());
        self.enqueue(QueuedWrite::new(run_id.clone(), move |tx| {
            log_batch_rows(tx, &run_id, &[], &metrics, &tags)
        }));
        Ok(())
    }

    fn delete_tag(&self, run_id: &str, key: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            require_active_run(tx, run_id)?;
            let n = tx.execute(
                "DELETE FROM tags WHERE run_uuid = ?1 AND key = ?2",
                params![run_id, key],
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
        self.write(|tx| {
            require_active_run(tx, run_id)?;
            let current: Option<String> = tx
                .prepare_cached("SELECT value FROM tags WHERE run_uuid = ?1 AND key = ?2")?
                .query_row(params![run_id, key], |r| r.get(0))
                .optional()?;
            if current.as_deref() != expected {
                return Ok(false);
            }
            match &new_tag {
                Some(t) => upsert_tag(tx, run_id, t)?,
                None => {
                    tx.execute(
                        "DELETE FROM tags WHERE run_uuid = ?1 AND key = ?2",
                        params![run_id, key],
                    )?;
                }
            }
            Ok(true)
        })
    }

    fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>, StoreError> {
        self.read(|tx| {
            let (_, run_key) = require_run_row(tx, run_id)?;
            read_history(tx, run_key, key)
        })
    }

    fn registry(&self) -> Option<&dyn crate::registry::RegistryStore> {
        Some(self)
    }

    fn study_board(&self) -> Result<Arc<dyn super::shared::StudyBoard>, StoreError> {
        if self.read_only {
            return Err(StoreError::InvalidArgument(
                "the store is open read-only; a study cannot run on it".into(),
            ));
        }
        if self.path.as_os_str().is_empty() || self.path == Path::new(":memory:") {
            return Err(StoreError::InvalidArgument(
                "an in-memory store cannot share a study between processes".into(),
            ));
        }
        let carrier: Arc<dyn QueueCarrier> = self.shared.clone();
        Ok(Arc::new(super::shared::sqlite::SqliteBoard::on(
            self.shared.conn.clone(),
            &self.path,
            Some(carrier),
        )))
    }

    fn count_runs(&self, experiment_id: ExperimentId, view: ViewType) -> Result<usize, StoreError> {
        let stage = match view {
            ViewType::ActiveOnly => Some("active"),
            ViewType::DeletedOnly => Some("deleted"),
            ViewType::All => None,
        };
        self.read(|tx| {
            let n: i64 = tx
                .prepare_cached(
                    "SELECT COUNT(*) FROM runs WHERE experiment_id = ?1 \
                     AND (?2 IS NULL OR lifecycle_stage = ?2)",
                )?
                .query_row(rusqlite::params![experiment_id, stage], |r| r.get(0))?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }

    fn child_run_ids(&self, run_id: &str) -> Result<Vec<RunId>, StoreError> {
        self.read(|tx| {
            let ids = tx
                .prepare_cached(
                    "SELECT run_uuid FROM runs WHERE parent_run_id = ?1 \
                     AND lifecycle_stage = 'active' ORDER BY start_time, run_uuid",
                )?
                .query_map([run_id], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(ids)
        })
    }

    fn search_runs(&self, query: &RunsQuery) -> Result<RunPage, StoreError> {
        // the param-index walk may have to index first, which a read-only store cannot do
        let plans = if self.read_only {
            Plans::GeneralOnly
        } else {
            Plans::Fastest
        };
        self.search_runs_with(query, plans)
    }
}

impl SqliteStore {
    /// One page of [`Store::search_runs`], using only the plans `plans` allows.
    pub(crate) fn search_runs_with(
        &self,
        query: &RunsQuery,
        plans: Plans,
    ) -> Result<RunPage, StoreError> {
        let parsed = run_search::parse(query)?;
        let page = |tx: &Transaction| -> Result<RunPage, StoreError> {
            let mut ids = run_search::page_ids(
                &mut run_search::SqliteIds(tx),
                &parsed,
                query.max_results + 1,
                plans,
            )?;
            let has_more = ids.len() > query.max_results;
            ids.truncate(query.max_results);
            let next_page_token = match ids.last() {
                Some(last) if has_more => Some(run_search::next_page_token(
                    &mut run_search::SqliteIds(tx),
                    &parsed,
                    last,
                )?),
                _ => None,
            };
            let runs = read_runs(tx, &ids)?;
            Ok(RunPage {
                runs,
                next_page_token,
            })
        };
        if !run_search::walks_param_index(&parsed, plans) {
            return self.read(page);
        }
        // The walk sees only indexed params: search in a read snapshot without pending ones, or
        // index them and search in one write transaction (see `param_index`).
        let found = self.read(|tx| {
            if param_index::pending(tx)? {
                return Ok(None);
            }
            page(tx).map(Some)
        })?;
        match found {
            Some(found) => Ok(found),
            None => self.write(|tx| {
                param_index::index_pending(tx)?;
                page(tx)
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_across_read_chunks_matches_reading_each_run() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&tmp.path().join("s.db"), tmp.path()).unwrap();
        let exp = store
            .get_or_create_experiment("chunks")
            .unwrap()
            .experiment_id;
        // more runs than one chunk of the bulk reader, with different amounts of data each
        for i in 0..523_i64 {
            let run = store
                .create_run(&NewRun {
                    experiment_id: exp,
                    start_time: Some(1000 + i),
                    params: (0..(i % 3))
                        .map(|j| Param {
                            key: format!("p{j}"),
                            value: format!("{i}"),
                        })
                        .collect(),
                    tags: vec![RunTag {
                        key: "k".into(),
                        value: format!("t{i}"),
                    }],
                    ..NewRun::default()
                })
                .unwrap();
            if i % 2 == 0 {
                let m = Metric {
                    key: "loss".into(),
                    value: i as f64,
                    timestamp: 5,
                    step: 0,
                };
                store.log_batch(&run.run_id, &[], &[m], &[]).unwrap();
            }
        }
        let page = store
            .search_runs(&RunsQuery {
                experiment_ids: vec![exp],
                max_results: 600,
                ..RunsQuery::default()
            })
            .unwrap();
        assert_eq!(page.runs.len(), 523);
        for run in &page.runs {
            assert_eq!(run, &store.get_run(&run.info.run_id).unwrap());
        }
        assert_eq!(page.runs[0].info.start_time, 1522, "newest first");
    }

    #[test]
    fn run_ids_are_uuid7_hex_in_time_order() {
        let before = now_ms();
        let a = new_run_id();
        let b = new_run_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(&a[12..13], "7");
        assert!(matches!(&a[16..17], "8" | "9" | "a" | "b"));
        let millis = i64::from_str_radix(&a[..12], 16).unwrap();
        assert!(
            millis >= before && millis <= now_ms(),
            "{millis} vs {before}"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(new_run_id() > b, "a later run sorts after");
    }

    #[test]
    fn migrations_upgrade_an_existing_v1_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("old.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_time INTEGER NOT NULL);
                 INSERT INTO schema_version VALUES (1, 0);",
            )
            .unwrap();
            conn.execute_batch(super::super::schema::MIGRATION_V1)
                .unwrap();
            conn.execute_batch(
                "INSERT INTO experiments VALUES (0, 'Default', '/a/0', 'active', 1, 1);
                 INSERT INTO runs (run_uuid, experiment_id, name, status, start_time, end_time, user_id,
                                   artifact_uri, lifecycle_stage)
                 VALUES ('0123456789abcdef0123456789abcdef', 0, 'old', 'FINISHED', 5, 6, 'ann',
                         '/a/0/x/artifacts', 'active');
                 INSERT INTO metrics VALUES ('0123456789abcdef0123456789abcdef', 'loss', 0, 10, 3.0, 0);
                 INSERT INTO metrics VALUES ('0123456789abcdef0123456789abcdef', 'loss', 2, 11, 0, 1);
                 INSERT INTO metrics VALUES ('0123456789abcdef0123456789abcdef', 'loss', 1, 12, 1.5, 0);
                 INSERT INTO metrics VALUES ('0123456789abcdef0123456789abcdef', 'acc', 0, 10, 0.5, 0);
                 INSERT INTO metrics VALUES ('0123456789abcdef0123456789abcdef', 'acc', 0, 10, 0.7, 0);",
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path, tmp.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let run = store.get_run("0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(run.info.run_name, "old");
        let loss = run.data.metric("loss").unwrap();
        assert!(loss.latest.is_nan());
        assert_eq!(loss.latest_step, 2);
        assert_eq!((loss.min, loss.max, loss.count), (Some(1.5), Some(3.0), 3));
        let acc = run.data.metric("acc").unwrap();
        assert_eq!(acc.latest, 0.7, "ties resolve to the later write");
        drop(store);
        // Re-opening is a no-op.
        let store = SqliteStore::open(&path, tmp.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let versions: i64 = store
            .lock()
            .query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(versions, SCHEMA_VERSION);
    }

    #[test]
    fn newer_schema_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("new.db");
        drop(SqliteStore::open(&path, tmp.path()).unwrap());
        Connection::open(&path)
            .unwrap()
            .execute("INSERT INTO schema_version VALUES (99, 0)", [])
            .unwrap();
        match SqliteStore::open(&path, tmp.path()) {
            Err(StoreError::SchemaTooNew { found, supported }) => {
                assert_eq!((found, supported), (99, SCHEMA_VERSION))
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn wal_mode_is_on() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&tmp.path().join("w.db"), tmp.path()).unwrap();
        let mode: String = store
            .lock()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let foreign_keys: i64 = store
            .lock()
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(foreign_keys, 1, "enforced once the migrations ran");
        // a new file is made without fsyncs, then runs with NORMAL like an existing one
        let synchronous: i64 = store
            .lock()
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(synchronous, 1, "NORMAL");
        drop(store);
        let again = SqliteStore::open(&tmp.path().join("w.db"), tmp.path()).unwrap();
        let synchronous: i64 = again
            .lock()
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(synchronous, 1, "NORMAL");
        assert_eq!(again.schema_version().unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn infinities_survive_storage() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_in_memory(tmp.path()).unwrap();
        let run = store
            .create_run(&NewRun {
                experiment_id: 0,
                ..NewRun::default()
            })
            .unwrap();
        let points = [
            Metric {
                key: "m".into(),
                value: f64::INFINITY,
                timestamp: 1,
                step: 0,
            },
            Metric {
                key: "m".into(),
                value: f64::NEG_INFINITY,
                timestamp: 1,
                step: 1,
            },
            Metric {
                key: "m".into(),
                value: f64::NAN,
                timestamp: 1,
                step: 2,
            },
        ];
        store.log_batch(&run.run_id, &[], &points, &[]).unwrap();
        let h = store.get_metric_history(&run.run_id, "m").unwrap();
        assert_eq!(h[0].value, f64::INFINITY);
        assert_eq!(h[1].value, f64::NEG_INFINITY);
        assert!(h[2].value.is_nan());
        let s = store.get_run(&run.run_id).unwrap();
        let m = s.data.metric("m").unwrap();
        assert!(m.latest.is_nan());
        assert_eq!(
            (m.min, m.max),
            (Some(f64::NEG_INFINITY), Some(f64::INFINITY))
        );
    }
}
