//! Errors of the PostgreSQL backend.

/// What can go wrong opening or migrating a PostgreSQL tracking database.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The server could not be reached or refused the connection.
    #[error("cannot connect to the PostgreSQL tracking database '{url}': {source}")]
    Connect {
        /// The URL as given (it holds no password when trust or a password file is used).
        url: String,
        /// The driver's error.
        #[source]
        source: postgres::Error,
    },
    /// The database was written by a newer hpo.
    #[error("the PostgreSQL tracking database is at schema version {found}, newer than this hpo knows ({known}); upgrade hpo")]
    NewerSchema {
        /// The version in the database.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// A statement failed.
    #[error("PostgreSQL: {0}")]
    Sql(#[from] postgres::Error),
}
