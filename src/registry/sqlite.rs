//! The registry tables in the tracking SQLite file, and [`RegistryStore`] for [`SqliteStore`].
//!
//! Schema v3 (applied by the tracking store's forward migrations, see
//! [`tracking::sqlite`](crate::tracking::sqlite)) adds `registered_models` (with a `last_version` counter, so
//! version numbers are never reused), `registered_model_tags`, `model_versions` (deleted versions stay as
//! tombstones with `deleted_time` set, so "deleted" and "never existed" can be told apart),
//! `model_version_tags`, `model_version_params` / `model_version_metrics` (the run's values at
//! registration) and `registered_model_aliases`. Every child table references its parent with
//! `ON UPDATE CASCADE ON DELETE CASCADE`, so renaming or deleting a model carries through in one statement.
//! Writes use the store's `BEGIN IMMEDIATE` transactions with busy retries; searches compile the tracking
//! filter language into SQL with bound parameters (see [`search`](super::search), shared with PostgreSQL).

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use crate::tracking::search::{Bindings, Dialect, SqlValue};
use crate::tracking::sqlite::{key_values, stored_metric, TxError};
use crate::tracking::store::{now_ms, StoreError};
use crate::tracking::{Param, SqliteStore};

use super::error::RegistryError;
use super::model::*;
use super::search::{compile_model_search, compile_version_search};
use super::store::RegistryStore;

/// Migration 3 of the tracking schema: the model registry tables.
pub const MIGRATION_V3: &str = r#"
CREATE TABLE registered_models (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    creation_time INTEGER NOT NULL,
    last_updated_time INTEGER NOT NULL,
    last_version INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE registered_model_tags (
    name TEXT NOT NULL REFERENCES registered_models (name) ON UPDATE CASCADE ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, key)
) WITHOUT ROWID;
CREATE TABLE model_versions (
    name TEXT NOT NULL REFERENCES registered_models (name) ON UPDATE CASCADE ON DELETE CASCADE,
    version INTEGER NOT NULL,
    creation_time INTEGER NOT NULL,
    last_updated_time INTEGER NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    user_id TEXT NOT NULL,
    current_stage TEXT NOT NULL CHECK (current_stage IN ('None', 'Staging', 'Production', 'Archived')),
    source TEXT NOT NULL,
    run_id TEXT NOT NULL,
    artifact_path TEXT NOT NULL,
    storage_location TEXT NOT NULL,
    deleted_time INTEGER,
    PRIMARY KEY (name, version)
);
CREATE INDEX model_versions_by_run ON model_versions (run_id);
CREATE TABLE model_version_tags (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, version, key),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
        ON UPDATE CASCADE ON DELETE CASCADE
) WITHOUT ROWID;
CREATE TABLE model_version_params (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, version, key),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
        ON UPDATE CASCADE ON DELETE CASCADE
) WITHOUT ROWID;
CREATE TABLE model_version_metrics (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    key TEXT NOT NULL,
    value REAL,
    is_nan INTEGER NOT NULL,
    PRIMARY KEY (name, version, key),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
        ON UPDATE CASCADE ON DELETE CASCADE
) WITHOUT ROWID;
CREATE TABLE registered_model_aliases (
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (name, alias),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
        ON UPDATE CASCADE ON DELETE CASCADE
) WITHOUT ROWID;
"#;

impl TxError for RegistryError {
    fn is_busy(&self) -> bool {
        matches!(self, RegistryError::Store(StoreError::Busy(_)))
    }
}

type Res<T> = Result<T, RegistryError>;

/// Up to 11 model names, for "does not exist" messages (the error shows 10 and counts the rest).
fn known_models(tx: &Connection) -> Res<Vec<String>> {
    let mut stmt =
        tx.prepare_cached("SELECT name FROM registered_models ORDER BY name LIMIT 11")?;
    let names = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(names)
}

fn model_exists(tx: &Connection, name: &str) -> Res<bool> {
    Ok(tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM registered_models WHERE name = ?1)")?
        .query_row([name], |r| r.get(0))?)
}

fn require_model(tx: &Connection, name: &str) -> Res<()> {
    if model_exists(tx, name)? {
        Ok(())
    } else {
        Err(RegistryError::ModelNotFound {
            name: name.to_string(),
            known: known_models(tx)?,
        })
    }
}

fn live_versions(tx: &Connection, name: &str) -> Res<Vec<i64>> {
    let mut stmt = tx.prepare_cached(
        "SELECT version FROM model_versions WHERE name = ?1 AND deleted_time IS NULL ORDER BY version",
    )?;
    let v = stmt
        .query_map([name], |r| r.get(0))?
        .collect::<Result<Vec<i64>, _>>()?;
    Ok(v)
}

/// Checks that the model exists and `version` is one of its live versions.
fn require_version(tx: &Connection, name: &str, version: i64) -> Res<()> {
    require_model(tx, name)?;
    let deleted: Option<Option<i64>> = tx
        .prepare_cached("SELECT deleted_time FROM model_versions WHERE name = ?1 AND version = ?2")?
        .query_row(params![name, version], |r| r.get(0))
        .optional()?;
    match deleted {
        Some(None) => Ok(()),
        Some(Some(_)) => Err(RegistryError::VersionDeleted {
            name: name.to_string(),
            version,
        }),
        None => Err(RegistryError::VersionNotFound {
            name: name.to_string(),
            version,
            existing: live_versions(tx, name)?,
        }),
    }
}

fn model_aliases(tx: &Connection, name: &str) -> Res<Vec<ModelAlias>> {
    let mut stmt = tx.prepare_cached(
        "SELECT alias, version FROM registered_model_aliases WHERE name = ?1 ORDER BY alias",
    )?;
    let a = stmt
        .query_map([name], |r| {
            Ok(ModelAlias {
                alias: r.get(0)?,
                version: r.get(1)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(a)
}

fn read_model(tx: &Connection, name: &str) -> Res<RegisteredModel> {
    require_model(tx, name)?;
    let (description, creation_time, last_updated_time) = tx
        .prepare_cached(
            "SELECT description, creation_time, last_updated_time FROM registered_models WHERE name = ?1",
        )?
        .query_row([name], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
    let tags = key_values(
        tx,
        "SELECT key, value FROM registered_model_tags WHERE name = ?1 ORDER BY key",
        [name],
        |key, value| ModelTag { key, value },
    )?;
    let latest_version: Option<i64> = tx
        .prepare_cached(
            "SELECT MAX(version) FROM model_versions WHERE name = ?1 AND deleted_time IS NULL",
        )?
        .query_row([name], |r| r.get(0))?;
    Ok(RegisteredModel {
        name: name.to_string(),
        description,
        creation_time,
        last_updated_time,
        tags,
        aliases: model_aliases(tx, name)?,
        latest_version,
    })
}

fn read_version(tx: &Connection, name: &str, version: i64) -> Res<ModelVersion> {
    require_version(tx, name, version)?;
    let row = tx
        .prepare_cached(
            "SELECT creation_time, last_updated_time, description, user_id, current_stage, source, run_id,
                    artifact_path, storage_location
             FROM model_versions WHERE name = ?1 AND version = ?2",
        )?
        .query_row(params![name, version], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, String>(8)?,
            ))
        })?;
    let (created, updated, description, user_id, stage, source, run_id, path, location) = row;
    let tags = key_values(
        tx,
        "SELECT key, value FROM model_version_tags WHERE name = ?1 AND version = ?2 ORDER BY key",
        params![name, version],
        |key, value| ModelTag { key, value },
    )?;
    let mut stmt = tx.prepare_cached(
        "SELECT alias FROM registered_model_aliases WHERE name = ?1 AND version = ?2 ORDER BY alias",
    )?;
    let aliases = stmt
        .query_map(params![name, version], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    let run_params = key_values(
        tx,
        "SELECT key, value FROM model_version_params WHERE name = ?1 AND version = ?2 ORDER BY key",
        params![name, version],
        |key, value| Param { key, value },
    )?;
    let mut stmt = tx.prepare_cached(
        "SELECT key, value, is_nan FROM model_version_metrics WHERE name = ?1 AND version = ?2 ORDER BY key",
    )?;
    let run_metrics = stmt
        .query_map(params![name, version], |r| {
            Ok(ModelMetric {
                key: r.get(0)?,
                value: stored_metric(r.get(1)?, r.get(2)?),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ModelVersion {
        name: name.to_string(),
        version,
        creation_time: created,
        last_updated_time: updated,
        description,
        user_id,
        current_stage: stage.parse()?,
        source,
        run_id,
        artifact_path: path,
        storage_location: location,
        tags,
        aliases,
        run_params,
        run_metrics,
    })
}

fn touch_model(tx: &Connection, name: &str, now: i64) -> Res<()> {
    tx.prepare_cached("UPDATE registered_models SET last_updated_time = ?1 WHERE name = ?2")?
        .execute(params![now, name])?;
    Ok(())
}

fn touch_version(tx: &Connection, name: &str, version: i64, now: i64) -> Res<()> {
    tx.prepare_cached(
        "UPDATE model_versions SET last_updated_time = ?1 WHERE name = ?2 AND version = ?3",
    )?
    .execute(params![now, name, version])?;
    touch_model(tx, name, now)
}

impl RegistryStore for SqliteStore {
    fn create_registered_model(
        &self,
        name: &str,
        description: &str,
        tags: &[ModelTag],
    ) -> Res<RegisteredModel> {
        validate_model_name(name)?;
        validate_description(description)?;
        validate_tags(tags)?;
        self.write_as(|tx| {
            if model_exists(tx, name)? {
                return Err(RegistryError::ModelExists(name.to_string()));
            }
            let now = now_ms();
            tx.execute(
                "INSERT INTO registered_models (name, description, creation_time, last_updated_time)
                 VALUES (?1, ?2, ?3, ?3)",
                params![name, description, now],
            )?;
            for t in tags {
                tx.execute(
                    "INSERT OR REPLACE INTO registered_model_tags (name, key, value) VALUES (?1, ?2, ?3)",
                    params![name, t.key, t.value],
                )?;
            }
            read_model(tx, name)
        })
    }

    fn get_registered_model(&self, name: &str) -> Res<RegisteredModel> {
        self.read_as(|tx| read_model(tx, name))
    }

    fn rename_registered_model(&self, name: &str, new_name: &str) -> Res<RegisteredModel> {
        validate_model_name(new_name)?;
        self.write_as(|tx| {
            require_model(tx, name)?;
            if name == new_name {
                return read_model(tx, name);
            }
            if model_exists(tx, new_name)? {
                return Err(RegistryError::ModelExists(new_name.to_string()));
            }
            tx.execute(
                "UPDATE registered_models SET name = ?1, last_updated_time = ?2 WHERE name = ?3",
                params![new_name, now_ms(), name],
            )?;
            read_model(tx, new_name)
        })
    }

    fn update_registered_model(&self, name: &str, description: &str) -> Res<RegisteredModel> {
        validate_description(description)?;
        self.write_as(|tx| {
            require_model(tx, name)?;
            tx.execute(
                "UPDATE registered_models SET description = ?1, last_updated_time = ?2 WHERE name = ?3",
                params![description, now_ms(), name],
            )?;
            read_model(tx, name)
        })
    }

    fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Res<()> {
        validate_model_tag(key, value)?;
        self.write_as(|tx| {
            require_model(tx, name)?;
            tx.execute(
                "INSERT OR REPLACE INTO registered_model_tags (name, key, value) VALUES (?1, ?2, ?3)",
                params![name, key, value],
            )?;
            touch_model(tx, name, now_ms())
        })
    }

    fn delete_registered_model_tag(&self, name: &str, key: &str) -> Res<()> {
        self.write_as(|tx| {
            require_model(tx, name)?;
            let n = tx.execute(
                "DELETE FROM registered_model_tags WHERE name = ?1 AND key = ?2",
                params![name, key],
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
        self.write_as(|tx| {
            require_model(tx, name)?;
            // Children go by ON DELETE CASCADE; deleting them explicitly keeps this correct even on a
            // connection opened without foreign key enforcement.
            for table in [
                "registered_model_aliases",
                "model_version_tags",
                "model_version_params",
                "model_version_metrics",
                "model_versions",
                "registered_model_tags",
                "registered_models",
            ] {
                tx.execute(&format!("DELETE FROM {table} WHERE name = ?1"), [name])?;
            }
            Ok(())
        })
    }

    fn create_model_version(&self, new: &NewModelVersion) -> Res<ModelVersion> {
        validate_model_name(&new.name)?;
        validate_description(&new.description)?;
        validate_tags(&new.tags)?;
        self.write_as(|tx| {
            require_model(tx, &new.name)?;
            let version: i64 = tx.query_row(
                "UPDATE registered_models SET last_version = last_version + 1, last_updated_time = ?1
                 WHERE name = ?2 RETURNING last_version",
                params![now_ms(), new.name],
                |r| r.get(0),
            )?;
            let now = now_ms();
            tx.execute(
                "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description,
                     user_id, current_stage, source, run_id, artifact_path, storage_location)
                 VALUES (?1, ?2, ?3, ?3, ?4, ?5, 'None', ?6, ?7, ?8, ?9)",
                params![
                    new.name,
                    version,
                    now,
                    new.description,
                    new.user_id,
                    new.source,
                    new.run_id,
                    new.artifact_path,
                    new.storage_location
                ],
            )?;
            for t in &new.tags {
                tx.execute(
                    "INSERT OR REPLACE INTO model_version_tags (name, version, key, value)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![new.name, version, t.key, t.value],
                )?;
            }
            for p in &new.run_params {
                tx.execute(
                    "INSERT OR REPLACE INTO model_version_params (name, version, key, value)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![new.name, version, p.key, p.value],
                )?;
            }
            for m in &new.run_metrics {
                let (value, is_nan) = if m.value.is_nan() {
                    (None, true)
                } else {
                    (Some(m.value), false)
                };
                tx.execute(
                    "INSERT OR REPLACE INTO model_version_metrics (name, version, key, value, is_nan)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![new.name, version, m.key, value, is_nan],
                )?;
            }
            read_version(tx, &new.name, version)
        })
    }

    fn get_model_version(&self, name: &str, version: i64) -> Res<ModelVersion> {
        self.read_as(|tx| read_version(tx, name, version))
    }

    fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: &str,
    ) -> Res<ModelVersion> {
        validate_description(description)?;
        self.write_as(|tx| {
            require_version(tx, name, version)?;
            tx.execute(
                "UPDATE model_versions SET description = ?1 WHERE name = ?2 AND version = ?3",
                params![description, name, version],
            )?;
            touch_version(tx, name, version, now_ms())?;
            read_version(tx, name, version)
        })
    }

    fn set_model_version_tag(&self, name: &str, version: i64, key: &str, value: &str) -> Res<()> {
        validate_model_tag(key, value)?;
        self.write_as(|tx| {
            require_version(tx, name, version)?;
            tx.execute(
                "INSERT OR REPLACE INTO model_version_tags (name, version, key, value)
                 VALUES (?1, ?2, ?3, ?4)",
                params![name, version, key, value],
            )?;
            touch_version(tx, name, version, now_ms())
        })
    }

    fn delete_model_version_tag(&self, name: &str, version: i64, key: &str) -> Res<()> {
        self.write_as(|tx| {
            require_version(tx, name, version)?;
            let n = tx.execute(
                "DELETE FROM model_version_tags WHERE name = ?1 AND version = ?2 AND key = ?3",
                params![name, version, key],
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
        self.write_as(|tx| {
            require_version(tx, name, version)?;
            for table in [
                "registered_model_aliases",
                "model_version_tags",
                "model_version_params",
                "model_version_metrics",
            ] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE name = ?1 AND version = ?2"),
                    params![name, version],
                )?;
            }
            let now = now_ms();
            // A tombstone: the number stays taken and lookups can say "deleted" rather than "unknown".
            tx.execute(
                "UPDATE model_versions SET deleted_time = ?1, last_updated_time = ?1, current_stage = 'None'
                 WHERE name = ?2 AND version = ?3",
                params![now, name, version],
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
        self.write_as(|tx| {
            require_version(tx, name, version)?;
            let now = now_ms();
            if archive_existing {
                tx.execute(
                    "UPDATE model_versions SET current_stage = 'Archived', last_updated_time = ?1
                     WHERE name = ?2 AND version != ?3 AND current_stage = ?4 AND deleted_time IS NULL",
                    params![now, name, version, stage.as_str()],
                )?;
            }
            tx.execute(
                "UPDATE model_versions SET current_stage = ?1 WHERE name = ?2 AND version = ?3",
                params![stage.as_str(), name, version],
            )?;
            touch_version(tx, name, version, now)?;
            read_version(tx, name, version)
        })
    }

    fn set_registered_model_alias(&self, name: &str, alias: &str, version: i64) -> Res<()> {
        validate_alias(alias)?;
        self.write_as(|tx| {
            require_version(tx, name, version)?;
            tx.execute(
                "INSERT INTO registered_model_aliases (name, alias, version) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
                params![name, alias, version],
            )?;
            touch_model(tx, name, now_ms())
        })
    }

    fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Res<()> {
        self.write_as(|tx| {
            require_model(tx, name)?;
            let n = tx.execute(
                "DELETE FROM registered_model_aliases WHERE name = ?1 AND alias = ?2",
                params![name, alias],
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
        self.read_as(|tx| {
            require_model(tx, name)?;
            let aliases = model_aliases(tx, name)?;
            match aliases.iter().find(|a| a.alias == alias) {
                Some(a) => read_version(tx, name, a.version),
                None => Err(RegistryError::alias_not_found(name, alias, aliases)),
            }
        })
    }

    fn get_latest_version(&self, name: &str, stage: Option<Stage>) -> Res<ModelVersion> {
        self.read_as(|tx| {
            require_model(tx, name)?;
            let latest: Option<i64> = tx.query_row(
                "SELECT MAX(version) FROM model_versions
                 WHERE name = ?1 AND deleted_time IS NULL AND (?2 IS NULL OR current_stage = ?2)",
                params![name, stage.map(Stage::as_str)],
                |r| r.get(0),
            )?;
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
        let c = compile_model_search(query, Dialect::Sqlite)?;
        self.read_as(|tx| {
            let mut stmt = tx.prepare(&c.sql)?;
            let mut names: Vec<String> = stmt
                .query_map(params_from_iter(sqlite_values(&c.bindings)), |r| r.get(0))?
                .collect::<Result<_, _>>()?;
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
        let c = compile_version_search(query, Dialect::Sqlite)?;
        self.read_as(|tx| {
            let mut stmt = tx.prepare(&c.sql)?;
            let mut keys: Vec<(String, i64)> = stmt
                .query_map(params_from_iter(sqlite_values(&c.bindings)), |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect::<Result<_, _>>()?;
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

/// The bound values of a compiled search as SQLite values.
fn sqlite_values(b: &Bindings) -> Vec<Value> {
    b.params
        .iter()
        .map(|v| match v {
            SqlValue::Text(s) => Value::Text(s.clone()),
            SqlValue::Real(f) => Value::Real(*f),
            SqlValue::Integer(i) => Value::Integer(*i),
        })
        .collect()
}
