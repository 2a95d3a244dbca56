//! Opening a store read-only: a file (or a file system) hpo may not write, or a tracking URI
//! with `mode=ro`. SQLite reads a WAL database read-only only if it can use the database's
//! shared-memory file; when it cannot (a read-only directory without one), the file is read as
//! immutable, which is right for a store nobody can write to.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::{current_version, SCHEMA_VERSION};
use crate::tracking::store::StoreError;

/// A read-only connection to the existing database at `path`.
pub(super) fn connect(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let plain = Connection::open_with_flags(path, flags)?;
    // reading the schema is what needs the shared-memory file of a WAL database
    if current_version(&plain).is_ok() {
        return Ok(plain);
    }
    let uri = format!("file:{}?immutable=1", encode(&path.to_string_lossy()));
    Ok(Connection::open_with_flags(uri, flags)?)
}

/// The store must have the schema this build writes: a read-only store cannot be migrated.
pub(super) fn check_schema(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let found = current_version(conn)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found < SCHEMA_VERSION {
        return Err(StoreError::InvalidArgument(format!(
            "the store at {} has schema version {found} and needs upgrading to {SCHEMA_VERSION}, which cannot be done read-only: open it once with write access (any hpo command on a writable copy)",
            path.display()
        )));
    }
    Ok(())
}

/// A path as the path part of an SQLite URI: `%`, `?` and `#` percent-encoded.
fn encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}
