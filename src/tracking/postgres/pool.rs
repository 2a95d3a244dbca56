//! A small connection pool: idle clients kept in a `Mutex<Vec<Client>>`, a new one connected when none
//! is idle, a broken one dropped instead of returned.
//!
//! Each connection keeps the statements prepared on it through [`Conn::query_cached`] and
//! [`CachedTx`], so the statements a study runs for every trial are parsed once per connection,
//! not once per trial. After five runs the server may keep a generic plan, made with the table's
//! size at that moment: only statements whose generic plan stays right as tables grow belong
//! here (a row by its unique key, inserts); see the board's `Query` for ones that do not.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

use postgres::types::{ToSql, Type};
use postgres::{Client, Config, GenericClient, NoTls, Row, Statement};

use super::error::PgError;

/// Idle connections to one database, at most `max_idle` kept.
pub struct Pool {
    config: Config,
    url: String,
    idle: Mutex<Vec<(Client, Prepared)>>,
    max_idle: usize,
}

/// The statements prepared on one connection, by their SQL text (valid on that connection
/// alone, inside or outside a transaction: a prepared statement outlives a rollback).
#[derive(Default)]
pub struct Prepared(HashMap<String, Statement>);

impl Prepared {
    /// The statement for `sql`, prepared on `client` at its first use.
    fn statement(
        &mut self,
        client: &mut impl GenericClient,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.0.get(sql) {
            return Ok(s.clone());
        }
        let types: Vec<Type> = params.iter().map(|(_, t)| t.clone()).collect();
        let s = client.prepare_typed(sql, &types)?;
        self.0.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    /// Runs `sql` with typed `params` on `client` (the connection these statements were
    /// prepared on, or a transaction or savepoint of it) as a statement prepared once.
    pub fn query(
        &mut self,
        client: &mut impl GenericClient,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, postgres::Error> {
        let statement = self.statement(client, sql, params)?;
        client.query(&statement, &values(params))
    }

    /// Like [`Prepared::query`], for a statement whose count of changed rows is wanted.
    pub fn execute(
        &mut self,
        client: &mut impl GenericClient,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<u64, postgres::Error> {
        let statement = self.statement(client, sql, params)?;
        client.execute(&statement, &values(params))
    }
}

/// The values of typed parameters.
fn values<'v>(params: &[(&'v (dyn ToSql + Sync), Type)]) -> Vec<&'v (dyn ToSql + Sync)> {
    params.iter().map(|(v, _)| *v).collect()
}

/// A transaction (or savepoint) of a pooled connection with that connection's statement
/// cache: the statements of a trial's writes are parsed once per connection.
pub struct CachedTx<'a, 't> {
    /// The transaction, for statements that are not worth caching (rare paths).
    pub tx: &'a mut postgres::Transaction<'t>,
    prepared: &'a mut Prepared,
}

impl<'a, 't> CachedTx<'a, 't> {
    /// `tx` with the statements prepared on its connection.
    pub fn new(tx: &'a mut postgres::Transaction<'t>, prepared: &'a mut Prepared) -> Self {
        CachedTx { tx, prepared }
    }

    /// Runs `sql` as a statement prepared once on this connection; the rows it returned.
    pub fn query(
        &mut self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, postgres::Error> {
        self.prepared.query(self.tx, sql, params)
    }

    /// Runs `sql` as a statement prepared once on this connection; how many rows it changed.
    pub fn execute(
        &mut self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<u64, postgres::Error> {
        self.prepared.execute(self.tx, sql, params)
    }

    /// The first row `sql` returned, if any (see [`CachedTx::query`]).
    pub fn query_opt(
        &mut self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Option<Row>, postgres::Error> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// A savepoint of this transaction, with the same statement cache, for `f`; committed
    /// when `f` succeeds, rolled back otherwise.
    pub fn savepoint<T, E: From<postgres::Error>>(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut CachedTx<'_, '_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut sp = self.tx.savepoint(name)?;
        let out = f(&mut CachedTx::new(&mut sp, self.prepared))?;
        sp.commit()?;
        Ok(out)
    }
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
            idle: Mutex::new(vec![(first, Prepared::default())]),
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
                Prepared::default(),
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
        let (client, prepared) = self.parts();
        prepared.query(client, sql, params)
    }

    /// The connection and the statements prepared on it, to open a [`CachedTx`].
    pub fn parts(&mut self) -> (&mut Client, &mut Prepared) {
        (
            self.client.as_mut().expect("present until drop"),
            &mut self.prepared,
        )
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
