//! A small connection pool: idle clients kept in a `Mutex<Vec<Client>>`, a new one connected when none
//! is idle, a broken one dropped instead of returned.
//!
//! Each connection keeps the statements prepared on it through [`Conn::query_cached`], so the
//! statements a study runs for every trial are parsed once per connection, not once per trial.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

use postgres::types::{ToSql, Type};
use postgres::{Client, Config, NoTls, Row, Statement};

use super::error::PgError;

/// Idle connections to one database, at most `max_idle` kept.
pub struct Pool {
    config: Config,
    url: String,
    idle: Mutex<Vec<(Client, Prepared)>>,
    max_idle: usize,
}

/// The statements prepared on one connection, by their SQL text.
type Prepared = HashMap<String, Statement>;

impl Pool {
    /// A pool for `url` (`postgresql://user@host:port/db` or `postgres://...`); connects once to check
    /// that the server answers.
    pub fn open(url: &str, max_idle: usize) -> Result<Self, PgError> {
        let connect_err = |source| PgError::Connect {
            url: url.to_string(),
            source,
        };
        let config: Config = url.parse().map_err(connect_err)?;
        let first = config.connect(NoTls).map_err(connect_err)?;
        Ok(Pool {
            config,
            url: url.to_string(),
            idle: Mutex::new(vec![(first, Prepared::new())]),
            max_idle: max_idle.max(1),
        })
    }

    /// The URL the pool connects to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// An idle connection, or a new one.
    pub fn get(&self) -> Result<Conn<'_>, PgError> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let (client, prepared) = match idle {
            Some((c, prepared)) if !c.is_closed() => (c, prepared),
            _ => (
                self.config
                    .connect(NoTls)
                    .map_err(|source| PgError::Connect {
                        url: self.url.clone(),
                        source,
                    })?,
                Prepared::new(),
            ),
        };
        Ok(Conn {
            pool: self,
            client: Some(client),
            prepared,
        })
    }
}

/// A connection borrowed from a [`Pool`]; returned to it on drop unless it broke.
pub struct Conn<'p> {
    pool: &'p Pool,
    client: Option<Client>,
    prepared: Prepared,
}

impl Conn<'_> {
    /// Runs `sql` with typed `params` as a statement prepared once on this connection (a typed
    /// query parses and plans its SQL anew at every call).
    pub fn query_cached(
        &mut self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, postgres::Error> {
        let client = self.client.as_mut().expect("present until drop");
        let statement = match self.prepared.get(sql) {
            Some(s) => s.clone(),
            None => {
                let types: Vec<Type> = params.iter().map(|(_, t)| t.clone()).collect();
                let s = client.prepare_typed(sql, &types)?;
                self.prepared.insert(sql.to_string(), s.clone());
                s
            }
        };
        let values: Vec<&(dyn ToSql + Sync)> = params.iter().map(|(v, _)| *v).collect();
        client.query(&statement, &values)
    }
}

impl Deref for Conn<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client.as_ref().expect("present until drop")
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("present until drop")
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            if !c.is_closed() {
                let mut idle = self.pool.idle.lock().unwrap_or_else(|p| p.into_inner());
                if idle.len() < self.pool.max_idle {
                    idle.push((c, std::mem::take(&mut self.prepared)));
                }
            }
        }
    }
}
