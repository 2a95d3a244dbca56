//! Reading whole runs (info, params, tags and metric summaries) from the SQLite store.
//!
//! One run is four point queries. A page of many runs (a study's 10,000 trials for the UI's
//! compare page) is read in chunks instead: each chunk of run ids is one query per table, with
//! the ids as bound parameters, and the rows are grouped by run in Rust.

use std::collections::HashMap;

use rusqlite::{params_from_iter, Connection, OptionalExtension, Row};

use super::sqlite::{key_values, stored_metric};
use super::store::{MetricSummary, Param, Run, RunData, RunInfo, RunTag, StoreError};

/// Run ids per chunk: well under SQLite's limit on bound parameters.
const CHUNK: usize = 500;

const INFO_COLUMNS: &str = "run_uuid, experiment_id, name, status, start_time, end_time, \
     parent_run_id, user_id, artifact_uri, lifecycle_stage, run_key";

/// A row of [`INFO_COLUMNS`], its status and lifecycle stage still text: they are parsed
/// outside rusqlite's row callback, where a bad value can be a store error.
struct RunRow {
    info: (
        String,
        i64,
        String,
        i64,
        Option<i64>,
        Option<String>,
        String,
        String,
    ),
    status: String,
    stage: String,
    run_key: i64,
}

fn info_of(r: &Row<'_>) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        info: (
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
        ),
        status: r.get(3)?,
        stage: r.get(9)?,
        run_key: r.get(10)?,
    })
}

/// The run's info and integer key.
fn parsed(row: RunRow) -> Result<(RunInfo, i64), StoreError> {
    let (
        run_id,
        experiment_id,
        run_name,
        start_time,
        end_time,
        parent_run_id,
        user_id,
        artifact_uri,
    ) = row.info;
    let info = RunInfo {
        run_id,
        experiment_id,
        run_name,
        status: row.status.parse()?,
        start_time,
        end_time,
        parent_run_id,
        user_id,
        artifact_uri,
        lifecycle_stage: row.stage.parse()?,
    };
    Ok((info, row.run_key))
}

/// A run's info and its integer key (the key of its metric points), if the run exists.
pub(crate) fn read_run_row(
    tx: &Connection,
    run_id: &str,
) -> Result<Option<(RunInfo, i64)>, StoreError> {
    let sql = format!("SELECT {INFO_COLUMNS} FROM runs WHERE run_uuid = ?1");
    let row = tx
        .prepare_cached(&sql)?
        .query_row([run_id], info_of)
        .optional()?;
    row.map(parsed).transpose()
}

fn summary_of(r: &Row<'_>, first: usize) -> rusqlite::Result<MetricSummary> {
    Ok(MetricSummary {
        key: r.get(first)?,
        latest: stored_metric(r.get(first + 1)?, r.get(first + 2)?),
        latest_step: r.get(first + 3)?,
        latest_timestamp: r.get(first + 4)?,
        min: r.get(first + 5)?,
        max: r.get(first + 6)?,
        count: r.get::<_, i64>(first + 7)?.max(0) as u64,
    })
}

const SUMMARY_COLUMNS: &str =
    "key, latest_value, latest_is_nan, latest_step, latest_timestamp, min_value, max_value, count";

/// The params, tags and metric summaries of run `run_id`, whose integer key is `run_key`.
pub(crate) fn read_run_data(
    tx: &Connection,
    run_id: &str,
    run_key: i64,
) -> Result<RunData, StoreError> {
    let params = key_values(
        tx,
        "SELECT key, value FROM params WHERE run_key = ?1 ORDER BY key",
        [run_key],
        |key, value| Param { key, value },
    )?;
    let tags = key_values(
        tx,
        "SELECT key, value FROM tags WHERE run_uuid = ?1 ORDER BY key",
        [run_id],
        |key, value| RunTag { key, value },
    )?;
    let sql =
        format!("SELECT {SUMMARY_COLUMNS} FROM metric_summary WHERE run_uuid = ?1 ORDER BY key");
    let metrics = tx
        .prepare_cached(&sql)?
        .query_map([run_id], |r| summary_of(r, 0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RunData {
        params,
        metrics,
        tags,
    })
}

/// The runs `ids`, in that order; `RunNotFound` for the first one missing.
pub(crate) fn read_runs(tx: &Connection, ids: &[String]) -> Result<Vec<Run>, StoreError> {
    let mut runs = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let mut by_id: HashMap<String, Run> = HashMap::with_capacity(chunk.len());
        let sql = format!("SELECT {INFO_COLUMNS} FROM runs WHERE run_uuid IN ({marks})");
        let rows = tx
            .prepare(&sql)?
            .query_map(params_from_iter(chunk), info_of)?
            .collect::<Result<Vec<_>, _>>()?;
        for row in rows {
            let (info, _) = parsed(row)?;
            let data = RunData {
                params: Vec::new(),
                metrics: Vec::new(),
                tags: Vec::new(),
            };
            by_id.insert(info.run_id.clone(), Run { info, data });
        }
        let sql = format!(
            "SELECT r.run_uuid, p.key, p.value FROM runs r JOIN params p ON p.run_key = r.run_key \
             WHERE r.run_uuid IN ({marks}) ORDER BY r.run_uuid, p.key"
        );
        add_rows(tx, &sql, chunk, &mut by_id, |run, r| {
            run.data.params.push(Param {
                key: r.get(1)?,
                value: r.get(2)?,
            });
            Ok(())
        })?;
        let sql = format!(
            "SELECT run_uuid, key, value FROM tags WHERE run_uuid IN ({marks}) ORDER BY run_uuid, key"
        );
        add_rows(tx, &sql, chunk, &mut by_id, |run, r| {
            run.data.tags.push(RunTag {
                key: r.get(1)?,
                value: r.get(2)?,
            });
            Ok(())
        })?;
        let sql = format!(
            "SELECT run_uuid, {SUMMARY_COLUMNS} FROM metric_summary WHERE run_uuid IN ({marks}) \
             ORDER BY run_uuid, key"
        );
        add_rows(tx, &sql, chunk, &mut by_id, |run, r| {
            run.data.metrics.push(summary_of(r, 1)?);
            Ok(())
        })?;
        for id in chunk {
            let run = by_id
                .remove(id)
                .ok_or_else(|| StoreError::RunNotFound(id.clone()))?;
            runs.push(run);
        }
    }
    Ok(runs)
}

/// Runs `sql` with the ids of `chunk` bound and hands each row to `add` with the run named in
/// its first column.
fn add_rows(
    tx: &Connection,
    sql: &str,
    chunk: &[String],
    by_id: &mut HashMap<String, Run>,
    add: impl Fn(&mut Run, &Row<'_>) -> rusqlite::Result<()>,
) -> Result<(), StoreError> {
    let mut stmt = tx.prepare(sql)?;
    let mut rows = stmt.query(params_from_iter(chunk))?;
    while let Some(r) = rows.next()? {
        if let Some(run) = by_id.get_mut(&r.get::<_, String>(0)?) {
            add(run, r)?;
        }
    }
    Ok(())
}
