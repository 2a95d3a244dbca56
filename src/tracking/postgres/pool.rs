//! A small connection pool: idle clients kept in a `Mutex<Vec<Client>>`, a new one connected when none
//! is idle, a broken one dropped instead of returned.

use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

use postgres::{Client, Config, NoTls};

use super::error::PgError;

/// Idle connections to one database, at most `max_idle` kept.
pub struct Pool {
    config: Config,
    url: String,
    idle: Mutex<Vec<Client>>,
    max_idle: usize,
}

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
            idle: Mutex::new(vec![first]),
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
        let client = match idle {
            Some(c) if !c.is_closed() => c,
            _ => self
                .config
                .connect(NoTls)
                .map_err(|source| PgError::Connect {
                    url: self.url.clone(),
                    source,
                })?,
        };
        Ok(Conn {
            pool: self,
            client: Some(client),
        })
    }
}

/// A connection borrowed from a [`Pool`]; returned to it on drop unless it broke.
pub struct Conn<'p> {
    pool: &'p Pool,
    client: Option<Client>,
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
                    idle.push(c);
                }
            }
        }
    }
}
