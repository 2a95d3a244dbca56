//! The registry tables in the PostgreSQL tracking database, and [`RegistryStore`] for [`PgStore`].
//!
//! Migration 5 of the PostgreSQL schema ([`MIGRATION_V5`], applied by the tracking store's forward
//! migrations, see [`tracking::postgres::schema`](crate::tracking::postgres::schema)) creates the tables
//! SQLite's migration 3 creates (see [`sqlite`](super::sqlite)), with the same columns and meaning, in
//! PostgreSQL's types. Names, keys and aliases use the "C" collation so they sort byte by byte as in
//! SQLite. Each method is one transaction (read committed): the next version number comes from an
//! `UPDATE ... RETURNING` of the model's `last_version` counter, whose row lock serializes concurrent
//! registrations of one model, and a new model or alias is an `INSERT ... ON CONFLICT`, so many workers
//! registering at once get distinct numbers and one alias each. While the server is out of reach the
//! whole transaction is tried again, as tracking writes are. Searches use the compiler shared with SQLite
//! ([`search`](super::search)) in the PostgreSQL dialect.

use postgres::{GenericClient, Transaction};

use crate::tracking::postgres::store::OUT_OF_REACH_PATIENCE;
use crate::tracking::postgres::PgStore;
use crate::tracking::retry::{retrying, Transient};
use crate::tracking::search::{postgres::to_sql_params, Dialect};
use crate::tracking::store::{now_ms, StoreError};
use crate::tracking::Param;

use super::error::RegistryError;
use super::model::*;
use super::search::{compile_model_search, compile_version_search};
use super::store::RegistryStore;

/// Migration 5 of the PostgreSQL tracking schema: the model registry tables.
pub const MIGRATION_V5: &str = r#"
CREATE TABLE registered_models (
    name TEXT COLLATE "C" PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    creation_time BIGINT NOT NULL,
    last_updated_time BIGINT NOT NULL,
    last_version BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE registered_model_tags (
    name TEXT COLLATE "C" NOT NULL REFERENCES registered_models (name)
        ON UPDATE CASCADE ON DELETE CASCADE,
    key TEXT COLLATE "C" NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, key)
);
CREATE TABLE model_versions (
    name TEXT COLLATE "C" NOT NULL REFERENCES registered_models (name)
        ON UPDATE CASCADE ON DELETE CASCADE,
    version BIGINT NOT NULL,
    creation_time BIGINT NOT NULL,
    last_updated_time BIGINT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    user_id TEXT NOT NULL,
    current_stage TEXT NOT NULL CHECK (current_stage IN ('None', 'Staging', 'Production', 'Archived')),
    source TEXT NOT NULL,
    run_id TEXT NOT NULL,
    artifact_path TEXT NOT NULL,
    storage_location TEXT NOT NULL,
    deleted_time BIGINT,
    PRIMARY KEY (name, version)
);
CREATE INDEX model_versions_by_run ON model_versions (run_id);
CREATE TABLE model_version_tags (
    name TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, version, key),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
        ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE TABLE model_version_params (
    name TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, version, key),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
        ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE TABLE model_version_metrics (
    name TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    value DOUBLE PRECISION,
    is_nan BOOLEAN NOT NULL,
    PRIMARY KEY (name, version, key),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
        ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE TABLE registered_model_aliases (
    name TEXT COLLATE "C" NOT NULL,
    alias TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (name, alias),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
        ON UPDATE CASCADE ON DELETE CASCADE
);
"#;

type Res<T> = Result<T, RegistryError>;

impl From<postgres::Error> for RegistryError {
    fn from(e: postgres::Error) -> Self {
        RegistryError::Store(StoreError::from(e))
    }
}

impl From<crate::tracking::postgres::PgError> for RegistryError {
    fn from(e: crate::tracking::postgres::PgError) -> Self {
        RegistryError::Store(StoreError::from(e))
    }
}

/// Runs `f` in one transaction and commits it; while the server is out of reach the whole transaction
/// is tried again with backoff, for up to [`OUT_OF_REACH_PATIENCE`].
fn in_tx<T>(store: &PgStore, mut f: impl FnMut(&mut Transaction<'_>) -> Res<T>) -> Res<T> {
    retrying(OUT_OF_REACH_PATIENCE, || {
        let mut conn = store.database().conn()?;
        let mut tx = conn.transaction()?;
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    })
}

impl Transient for RegistryError {
    fn is_transient(&self) -> bool {
        matches!(self, RegistryError::Store(e) if e.is_transient())
    }
}

/// Up to 11 model names, for "does not exist" messages.
fn known_models(c: &mut impl GenericClient) -> Res<Vec<String>> {
    Ok(c.query(
        "SELECT name FROM registered_models ORDER BY name LIMIT 11",
        &[],
    )?
    .iter()
    .map(|r| r.get(0))
    .collect())
}

fn model_exists(c: &mut impl GenericClient, name: &str) -> Res<bool> {
    Ok(c.query_one(
        "SELECT EXISTS (SELECT 1 FROM registered_models WHERE name = $1)",
        &[&name],
    )?
    .get(0))
}

fn require_model(c: &mut impl GenericClient, name: &str) -> Res<()> {
    if model_exists(c, name)? {
        Ok(())
    } else {
        Err(RegistryError::ModelNotFound {
            name: name.to_string(),
            known: known_models(c)?,
        })
    }
}

fn live_versions(c: &mut impl GenericClient, name: &str) -> Res<Vec<i64>> {
    Ok(c.query(
        "SELECT version FROM model_versions WHERE name = $1 AND deleted_time IS NULL ORDER BY version",
        &[&name],
    )?
    .iter()
    .map(|r| r.get(0))
    .collect())
}

/// Checks that the model exists and `version` is one of its live versions.
fn require_version(c: &mut impl GenericClient, name: &str, version: i64) -> Res<()> {
    require_model(c, name)?;
    let row = c.query_opt(
        "SELECT deleted_time FROM model_versions WHERE name = $1 AND version = $2",
        &[&name, &version],
    )?;
    match row.map(|r| r.get::<_, Option<i64>>(0)) {
        Some(None) => Ok(()),
        Some(Some(_)) => Err(RegistryError::VersionDeleted {
            name: name.to_string(),
            version,
        }),
        None => Err(RegistryError::VersionNotFound {
            name: name.to_string(),
            version,
            existing: live_versions(c, name)?,
        }),
    }
}

fn model_aliases(c: &mut impl GenericClient, name: &str) -> Res<Vec<ModelAlias>> {
    Ok(c.query(
        "SELECT alias, version FROM registered_model_aliases WHERE name = $1 ORDER BY alias",
        &[&name],
    )?
    .iter()
    .map(|r| ModelAlias {
        alias: r.get(0),
        version: r.get(1),
    })
    .collect())
}

fn tags_of(
    c: &mut impl GenericClient,
    sql: &str,
    args: &[&(dyn postgres::types::ToSql + Sync)],
) -> Res<Vec<ModelTag>> {
    Ok(c.query(sql, args)?
        .iter()
        .map(|r| ModelTag {
            key: r.get(0),
            value: r.get(1),
        })
        .collect())
}

fn read_model(c: &mut impl GenericClient, name: &str) -> Res<RegisteredModel> {
    require_model(c, name)?;
    let row = c.query_one(
        "SELECT description, creation_time, last_updated_time,
                (SELECT MAX(version) FROM model_versions v WHERE v.name = m.name AND v.deleted_time IS NULL)
         FROM registered_models m WHERE name = $1",
        &[&name],
    )?;
    let tags = tags_of(
        c,
        "SELECT key, value FROM registered_model_tags WHERE name = $1 ORDER BY key",
        &[&name],
    )?;
    Ok(RegisteredModel {
        name: name.to_string(),
        description: row.get(0),
        creation_time: row.get(1),
        last_updated_time: row.get(2),
        tags,
        aliases: model_aliases(c, name)?,
        latest_version: row.get(3),
    })
}

fn read_version(c: &mut impl GenericClient, name: &str, version: i64) -> Res<ModelVersion> {
    require_version(c, name, version)?;
    let row = c.query_one(
        "SELECT creation_time, last_updated_time, description, user_id, current_stage, source, run_id,
                artifact_path, storage_location
         FROM model_versions WHERE name = $1 AND version = $2",
        &[&name, &version],
    )?;
    let tags = tags_of(
        c,
        "SELECT key, value FROM model_version_tags WHERE name = $1 AND version = $2 ORDER BY key",
        &[&name, &version],
    )?;
    let aliases = c
        .query(
            "SELECT alias FROM registered_model_aliases WHERE name = $1 AND version = $2 ORDER BY alias",
            &[&name, &version],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let run_params = c
        .query(
            "SELECT key, value FROM model_version_params WHERE name = $1 AND version = $2 ORDER BY key",
            &[&name, &version],
        )?
        .iter()
        .map(|r| Param {
            key: r.get(0),
            value: r.get(1),
        })
        .collect();
    let run_metrics = c
        .query(
            "SELECT key, value, is_nan FROM model_version_metrics
             WHERE name = $1 AND version = $2 ORDER BY key",
            &[&name, &version],
        )?
        .iter()
        .map(|r| ModelMetric {
            key: r.get(0),
            value: if r.get::<_, bool>(2) {
                f64::NAN
            } else {
                r.get::<_, Option<f64>>(1).unwrap_or(f64::NAN)
            },
        })
        .collect();
    let stage: String = row.get(4);
    Ok(ModelVersion {
        name: name.to_string(),
        version,
        creation_time: row.get(0),
        last_updated_time: row.get(1),
        description: row.get(2),
        user_id: row.get(3),
        current_stage: stage.parse()?,
        source: row.get(5),
        run_id: row.get(6),
        artifact_path: row.get(7),
        storage_location: row.get(8),
        tags,
        aliases,
        run_params,
        run_metrics,
    })
}

fn touch_model(c: &mut impl GenericClient, name: &str, now: i64) -> Res<()> {
    c.execute(
        "UPDATE registered_models SET last_updated_time = $1 WHERE name = $2",
        &[&now, &name],
    )?;
    Ok(())
}

fn touch_version(c: &mut impl GenericClient, name: &str, version: i64, now: i64) -> Res<()> {
    c.execute(
        "UPDATE model_versions SET last_updated_time = $1 WHERE name = $2 AND version = $3",
        &[&now, &name, &version],
    )?;
    touch_model(c, name, now)
}

impl RegistryStore for PgStore {
    fn create_registered_model(
        &self,
        name: &str,
        description: &str,
        tags: &[ModelTag],
    ) -> Res<RegisteredModel> {
        validate_model_name(name)?;
        validate_description(description)?;
        validate_tags(tags)?;
        in_tx(self, |tx| {
            let now = now_ms();
            let inserted = tx.execute(
                "INSERT INTO registered_models (name, description, creation_time, last_updated_time)
                 VALUES ($1, $2, $3, $3) ON CONFLICT (name) DO NOTHING",
                &[&name, &description, &now],
            )?;
            if inserted == 0 {
                return Err(RegistryError::ModelExists(name.to_string()));
            }
            for t in tags {
                tx.execute(
                    "INSERT INTO registered_model_tags (name, key, value) VALUES ($1, $2, $3)
                     ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
                    &[&name, &t.key, &t.value],
                )?;
            }
            read_model(tx, name)
        })
    }

    fn get_registered_model(&self, name: &str) -> Res<RegisteredModel> {
        in_tx(self, |tx| read_model(tx, name))
    }

    fn rename_registered_model(&self, name: &str, new_name: &str) -> Res<RegisteredModel> {
        validate_model_name(new_name)?;
        in_tx(self, |tx| {
            require_model(tx, name)?;
            if name == new_name {
                return read_model(tx, name);
            }
            if model_exists(tx, new_name)? {
                return Err(RegistryError::ModelExists(new_name.to_string()));
            }
            tx.execute(
                "UPDATE registered_models SET name = $1, last_updated_time = $2 WHERE name = $3",
                &[&new_name, &now_ms(), &name],
            )?;
            read_model(tx, new_name)
        })
    }

    fn update_registered_model(&self, name: &str, description: &str) -> Res<RegisteredModel> {
        validate_description(description)?;
        in_tx(self, |tx| {
            require_model(tx, name)?;
            tx.execute(
                "UPDATE registered_models SET description = $1, last_updated_time = $2 WHERE name = $3",
                &[&description, &now_ms(), &name],
            )?;
            read_model(tx, name)
        })
    }

    fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Res<()> {
        validate_model_tag(key, value)?;
        in_tx(self, |tx| {
            require_model(tx, name)?;
            tx.execute(
                "INSERT INTO registered_model_tags (name, key, value) VALUES ($1, $2, $3)
                 ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
                &[&name, &key, &value],
            )?;
            touch_model(tx, name, now_ms())
        })
    }

    fn delete_registered_model_tag(&self, name: &str, key: &str) -> Res<()> {
        in_tx(self, |tx| {
            require_model(tx, name)?;
            let n = tx.execute(
                "DELETE FROM registered_model_tags WHERE name = $1 AND key = $2",
                &[&name, &key],
            )?;
            if n == 0 {
                return Err(RegistryError::InvalidArgument(format!(
                    "model '{name}' has no tag '{key}'"
                )));
            }
            touch_model(tx, name, now_ms())
        })
    }

    fn delete_registered_model(&self, name: &str) -> Res<()> {
        in_tx(self, |tx| {
            require_model(tx, name)?;
            // versions, tags, aliases and snapshots go by ON DELETE CASCADE
            tx.execute("DELETE FROM registered_models WHERE name = $1", &[&name])?;
            Ok(())
        })
    }

    fn create_model_version(&self, new: &NewModelVersion) -> Res<ModelVersion> {
        validate_model_name(&new.name)?;
        validate_description(&new.description)?;
        validate_tags(&new.tags)?;
        in_tx(self, |tx| {
            require_model(tx, &new.name)?;
            let now = now_ms();
            // the row lock taken here serializes registrations of one model: numbers never repeat
            let version: i64 = tx
                .query_one(
                    "UPDATE registered_models SET last_version = last_version + 1, last_updated_time = $1
                     WHERE name = $2 RETURNING last_version",
                    &[&now, &new.name],
                )?
                .get(0);
            tx.execute(
                "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description,
                     user_id, current_stage, source, run_id, artifact_path, storage_location)
                 VALUES ($1, $2, $3, $3, $4, $5, 'None', $6, $7, $8, $9)",
                &[
                    &new.name,
                    &version,
                    &now,
                    &new.description,
                    &new.user_id,
                    &new.source,
                    &new.run_id,
                    &new.artifact_path,
                    &new.storage_location,
                ],
            )?;
            for t in &new.tags {
                tx.execute(
                    "INSERT INTO model_version_tags (name, version, key, value) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
                    &[&new.name, &version, &t.key, &t.value],
                )?;
            }
            for p in &new.run_params {
                tx.execute(
                    "INSERT INTO model_version_params (name, version, key, value) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
                    &[&new.name, &version, &p.key, &p.value],
                )?;
            }
            for m in &new.run_metrics {
                let (value, is_nan) = if m.value.is_nan() {
                    (None, true)
                } else {
                    (Some(m.value), false)
                };
                tx.execute(
                    "INSERT INTO model_version_metrics (name, version, key, value, is_nan)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (name, version, key) DO UPDATE
                         SET value = excluded.value, is_nan = excluded.is_nan",
                    &[&new.name, &version, &m.key, &value, &is_nan],
                )?;
            }
            read_version(tx, &new.name, version)
        })
    }

    fn get_model_version(&self, name: &str, version: i64) -> Res<ModelVersion> {
        in_tx(self, |tx| read_version(tx, name, version))
    }

    fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: &str,
    ) -> Res<ModelVersion> {
        validate_description(description)?;
        in_tx(self, |tx| {
            require_version(tx, name, version)?;
            tx.execute(
                "UPDATE model_versions SET description = $1 WHERE name = $2 AND version = $3",
                &[&description, &name, &version],
            )?;
            touch_version(tx, name, version, now_ms())?;
            read_version(tx, name, version)
        })
    }

    fn set_model_version_tag(&self, name: &str, version: i64, key: &str, value: &str) -> Res<()> {
        validate_model_tag(key, value)?;
        in_tx(self, |tx| {
            require_version(tx, name, version)?;
            tx.execute(
                "INSERT INTO model_version_tags (name, version, key, value) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
                &[&name, &version, &key, &value],
            )?;
            touch_version(tx, name, version, now_ms())
        })
    }

    fn delete_model_version_tag(&self, name: &str, version: i64, key: &str) -> Res<()> {
        in_tx(self, |tx| {
            require_version(tx, name, version)?;
            let n = tx.execute(
                "DELETE FROM model_version_tags WHERE name = $1 AND version = $2 AND key = $3",
                &[&name, &version, &key],
            )?;
            if n == 0 {
                return Err(RegistryError::InvalidArgument(format!(
                    "version {version} of model '{name}' has no tag '{key}'"
                )));
            }
            touch_version(tx, name, version, now_ms())
        })
    }

    fn delete_model_version(&self, name: &str, version: i64) -> Res<()> {
        in_tx(self, |tx| {
            require_version(tx, name, version)?;
            for table in [
                "registered_model_aliases",
                "model_version_tags",
                "model_version_params",
                "model_version_metrics",
            ] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE name = $1 AND version = $2"),
                    &[&name, &version],
                )?;
            }
            let now = now_ms();
            // a tombstone: the number stays taken and lookups can say "deleted" rather than "unknown"
            tx.execute(
                "UPDATE model_versions SET deleted_time = $1, last_updated_time = $1, current_stage = 'None'
                 WHERE name = $2 AND version = $3",
                &[&now, &name, &version],
            )?;
            touch_model(tx, name, now)
        })
    }

    fn transition_model_version_stage(
        &self,
        name: &str,
        version: i64,
        stage: Stage,
        archive_existing: bool,
    ) -> Res<ModelVersion> {
        if archive_existing && !matches!(stage, Stage::Staging | Stage::Production) {
            return Err(RegistryError::InvalidArgument(format!(
                "archive_existing only applies to transitions to Staging or Production, not to {stage}"
            )));
        }
        in_tx(self, |tx| {
            require_version(tx, name, version)?;
            let now = now_ms();
            if archive_existing {
                tx.execute(
                    "UPDATE model_versions SET current_stage = 'Archived', last_updated_time = $1
                     WHERE name = $2 AND version != $3 AND current_stage = $4 AND deleted_time IS NULL",
                    &[&now, &name, &version, &stage.as_str()],
                )?;
            }
            tx.execute(
                "UPDATE model_versions SET current_stage = $1 WHERE name = $2 AND version = $3",
                &[&stage.as_str(), &name, &version],
            )?;
            touch_version(tx, name, version, now)?;
            read_version(tx, name, version)
        })
    }

    fn set_registered_model_alias(&self, name: &str, alias: &str, version: i64) -> Res<()> {
        validate_alias(alias)?;
        in_tx(self, |tx| {
            require_version(tx, name, version)?;
            tx.execute(
                "INSERT INTO registered_model_aliases (name, alias, version) VALUES ($1, $2, $3)
                 ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
                &[&name, &alias, &version],
            )?;
            touch_model(tx, name, now_ms())
        })
    }

    fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Res<()> {
        in_tx(self, |tx| {
            require_model(tx, name)?;
            let n = tx.execute(
                "DELETE FROM registered_model_aliases WHERE name = $1 AND alias = $2",
                &[&name, &alias],
            )?;
            if n == 0 {
                return Err(RegistryError::alias_not_found(
                    name,
                    alias,
                    model_aliases(tx, name)?,
                ));
            }
            touch_model(tx, name, now_ms())
        })
    }

    fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Res<ModelVersion> {
        in_tx(self, |tx| {
            require_model(tx, name)?;
            let aliases = model_aliases(tx, name)?;
            match aliases.iter().find(|a| a.alias == alias) {
                Some(a) => read_version(tx, name, a.version),
                None => Err(RegistryError::alias_not_found(name, alias, aliases)),
            }
        })
    }

    fn get_latest_version(&self, name: &str, stage: Option<Stage>) -> Res<ModelVersion> {
        in_tx(self, |tx| {
            require_model(tx, name)?;
            let stage_name = stage.map(Stage::as_str);
            let latest: Option<i64> = tx
                .query_one(
                    "SELECT MAX(version) FROM model_versions
                     WHERE name = $1 AND deleted_time IS NULL
                       AND ($2::text IS NULL OR current_stage = $2::text)",
                    &[&name, &stage_name],
                )?
                .get(0);
            match latest {
                Some(v) => read_version(tx, name, v),
                None => Err(RegistryError::NoVersions {
                    name: name.to_string(),
                    stage,
                }),
            }
        })
    }

    fn search_registered_models(&self, query: &ModelSearch) -> Res<RegisteredModelPage> {
        let c = compile_model_search(query, Dialect::Postgres)?;
        let values = to_sql_params(&c.bindings);
        in_tx(self, |tx| {
            let args: Vec<&(dyn postgres::types::ToSql + Sync)> =
                values.iter().map(|v| &**v as _).collect();
            let mut names: Vec<String> = tx
                .query(c.sql.as_str(), &args)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let has_more = names.len() > query.max_results;
            names.truncate(query.max_results);
            let models = names
                .iter()
                .map(|n| read_model(tx, n))
                .collect::<Res<Vec<_>>>()?;
            Ok(RegisteredModelPage {
                models,
                next_page_token: c.next_page_token(has_more, query.max_results),
            })
        })
    }

    fn search_model_versions(&self, query: &ModelSearch) -> Res<ModelVersionPage> {
        let c = compile_version_search(query, Dialect::Postgres)?;
        let values = to_sql_params(&c.bindings);
        in_tx(self, |tx| {
            let args: Vec<&(dyn postgres::types::ToSql + Sync)> =
                values.iter().map(|v| &**v as _).collect();
            let mut keys: Vec<(String, i64)> = tx
                .query(c.sql.as_str(), &args)?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            let has_more = keys.len() > query.max_results;
            keys.truncate(query.max_results);
            let versions = keys
                .iter()
                .map(|(n, v)| read_version(tx, n, *v))
                .collect::<Res<Vec<_>>>()?;
            Ok(ModelVersionPage {
                versions,
                next_page_token: c.next_page_token(has_more, query.max_results),
            })
        })
    }
}
