//! The PostgreSQL backend (issue 19): a connection [`pool`], the [`schema`] with its forward migrations
//! ([`migrate`]), [`PgDatabase`], which opens and migrates a database, the shared-study [`board`]
//! (atomic trial number claims, leases), and [`PgStore`], the [`Store`](super::store::Store) on top of it (reads in `rows`, run
//! writes in `writes`, a run's creation and end in `run_rows`, trial runs' writes that wait for the
//! board in `queue` and committed in groups by the board's `committer`, fresh statistics after many new runs in `analyze`); searches use the search compiler's PostgreSQL dialect ([`super::search::postgres`]).

pub mod analyze;
pub mod board;
mod committer;
pub mod error;
mod gc;
pub mod migrate;
pub mod pool;
mod queue;
mod rows;
mod run_rows;
pub mod schema;
mod search;
pub mod store;
mod writes;

pub use error::PgError;
pub use pool::{CachedTx, Conn, Pool, Prepared};
pub use schema::SCHEMA_VERSION;
pub use store::PgStore;

/// An open, migrated PostgreSQL tracking database.
pub struct PgDatabase {
    pool: Pool,
}

impl PgDatabase {
    /// Connects to `url` (`postgresql://user@host:port/db`, also `postgres://`) and brings its schema
    /// to [`SCHEMA_VERSION`]; a database written by a newer hpo is refused.
    pub fn open(url: &str) -> Result<Self, PgError> {
        let pool = Pool::open(url, 4)?;
        {
            let mut conn = pool.get()?;
            migrate::migrate(&mut conn)?;
        }
        Ok(PgDatabase { pool })
    }

    /// The schema version recorded in the database.
    pub fn schema_version(&self) -> Result<i64, PgError> {
        Ok(self
            .pool
            .get()?
            .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])?
            .get(0))
    }

    /// The URL the database was opened with.
    pub fn url(&self) -> &str {
        self.pool.url()
    }

    /// A connection from the pool.
    pub fn conn(&self) -> Result<Conn<'_>, PgError> {
        self.pool.get()
    }
}
