//! The PostgreSQL test server: a connection, or a printed reason to skip (never when `CI` is set).

/// The server's base URL without a database: `HPO_TEST_POSTGRES_BASE` or the local server.
pub fn base_url() -> String {
    std::env::var("HPO_TEST_POSTGRES_BASE")
        .unwrap_or_else(|_| "postgresql://postgres@127.0.0.1:5432".to_string())
}

/// A connection to database `db` of the test server, or `None` (with the reason printed) when the
/// server does not answer and `CI` is unset; with `CI` set, a server that does not answer fails.
pub fn connect(db: &str) -> Option<postgres::Client> {
    let url = format!("{}/{db}", base_url());
    match postgres::Client::connect(&url, postgres::NoTls) {
        Ok(c) => Some(c),
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!(
                "skipped: the PostgreSQL server at {url} does not answer ({e}); CI never skips"
            );
            None
        }
        Err(e) => panic!("CI is set and the PostgreSQL server at {url} does not answer: {e}"),
    }
}

/// A database of its own for one test, dropped (with its connections) when this guard drops.
pub struct TempDb {
    admin: postgres::Client,
    /// The database's name.
    pub name: String,
}

impl TempDb {
    /// Creates database `hpo_<tag>_<pid>` (dropping a leftover of the same name), or `None` when the
    /// server does not answer outside CI.
    pub fn create(tag: &str) -> Option<Self> {
        let mut admin = connect("postgres")?;
        let name = format!("hpo_{tag}_{}", std::process::id());
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        Some(TempDb { admin, name })
    }

    /// The URL of the database.
    pub fn url(&self) -> String {
        format!("{}/{}", base_url(), self.name)
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // the admin connection does not survive a server restart (tests/postgres_restart.rs):
        // then a new one drops the database
        if self.admin.batch_execute(&drop).is_err() {
            let url = format!("{}/postgres", base_url());
            if let Ok(mut admin) = postgres::Client::connect(&url, postgres::NoTls) {
                let _ = admin.batch_execute(&drop);
            }
        }
    }
}
