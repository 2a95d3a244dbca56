//! Brings a PostgreSQL tracking database to [`SCHEMA_VERSION`](super::schema::SCHEMA_VERSION): the
//! missing migrations run in one transaction holding a transaction-level advisory lock, so many
//! workers opening a fresh database at once migrate it exactly once.

use postgres::Client;

use super::error::PgError;
use super::schema::{MIGRATIONS, SCHEMA_VERSION};

/// The advisory lock key that serializes migrations ("hpo-schema" in ASCII, truncated to 8 bytes).
const MIGRATION_LOCK: i64 = 0x6870_6f2d_7363_6865;

/// Runs the missing migrations and returns the database's schema version; refuses a newer one.
pub fn migrate(client: &mut Client) -> Result<i64, PgError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version BIGINT PRIMARY KEY, applied_time BIGINT NOT NULL)",
    )?;
    let current: i64 = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])?
        .get(0);
    if current > SCHEMA_VERSION {
        return Err(PgError::NewerSchema {
            found: current,
            known: SCHEMA_VERSION,
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO schema_version (version, applied_time)
             VALUES ($1, (extract(epoch from now()) * 1000)::bigint)",
            &[version],
        )?;
    }
    tx.commit()?;
    Ok(SCHEMA_VERSION)
}
