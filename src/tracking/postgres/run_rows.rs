//! A run's creation and its end, each as few statements as possible (the PostgreSQL store's hot
//! path: every trial of a study creates a run and ends it). A new run with its tags and params is
//! one statement; a run's end is its status with its final metric points (one point per key: one
//! statement), then its tags if any. Both are prepared once per connection. When a statement
//! finds nothing to write (no such experiment or parent, a deleted run), the usual checks run to
//! name the error.

use std::collections::HashMap;

use postgres::types::Type;

use super::pool::CachedTx;
use super::rows::read_run_row;
use super::writes::{
    fold_into_summary, insert_metric_rounds, metric_rounds, upsert_tags, MetricRound,
};
use crate::tracking::sqlite::NewRunRow;
use crate::tracking::store::{
    numeric_param_value, validate_run_id, ExperimentId, LifecycleStage, Metric, RunInfo, RunStatus,
    RunTag, StoreError,
};

/// The run, its tags and its params in one statement; the run is inserted only into an active
/// experiment, under an existing parent, and if its id is new. Returns how many runs it inserted.
const INSERT_NEW_RUN: &str = "WITH r AS (
         INSERT INTO runs (run_uuid, experiment_id, name, status, start_time, end_time,
             parent_run_id, user_id, artifact_uri, lifecycle_stage)
         SELECT $1, e.experiment_id, $3, 'RUNNING', $4, NULL, $5, $6, $7, 'active'
         FROM experiments e
         WHERE e.experiment_id = $2 AND e.lifecycle_stage = 'active'
           AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM runs p WHERE p.run_uuid = $5))
         ON CONFLICT (run_uuid) DO NOTHING
         RETURNING run_key, run_uuid
     ), t AS (
         INSERT INTO tags (run_uuid, key, value)
         SELECT r.run_uuid, u.k, u.v FROM r, unnest($8::text[], $9::text[]) AS u(k, v)
     ), p AS (
         INSERT INTO params (run_key, key, value, num_value)
         SELECT r.run_key, u.k, u.v, u.n
         FROM r, unnest($10::text[], $11::text[], $12::float8[]) AS u(k, v, n)
     )
     SELECT count(*) FROM r";

/// Where a new run of experiment `id` keeps its artifacts, checked now: the experiment is active
/// and the parent (if any) exists.
pub(crate) fn new_run_location(
    c: &mut impl postgres::GenericClient,
    id: ExperimentId,
    parent: Option<&str>,
) -> Result<String, StoreError> {
    let row = c
        .query_opt(
            "SELECT e.artifact_location, e.lifecycle_stage,
                 ($2::text IS NULL OR EXISTS (SELECT 1 FROM runs WHERE run_uuid = $2))
             FROM experiments e WHERE e.experiment_id = $1",
            &[&id, &parent],
        )?
        .ok_or_else(|| StoreError::ExperimentNotFound(id.to_string()))?;
    if row.get::<_, String>(1).parse::<LifecycleStage>()? == LifecycleStage::Deleted {
        return Err(super::store::experiment_deleted(c, id));
    }
    if !row.get::<_, bool>(2) {
        return Err(StoreError::RunNotFound(
            parent.unwrap_or_default().to_string(),
        ));
    }
    Ok(row.get(0))
}

/// Inserts a prepared run (its info made by [`NewRunRow::info`]) with its tags and params.
pub(crate) fn insert_new_run(
    c: &mut CachedTx<'_, '_>,
    run: &NewRunRow,
    info: &RunInfo,
) -> Result<(), StoreError> {
    // a key given twice: the last tag wins; a param must have one value
    let mut tag_value: HashMap<&str, &str> = HashMap::new();
    let mut tag_keys = Vec::new();
    for t in &run.tags {
        if tag_value.insert(&t.key, &t.value).is_none() {
            tag_keys.push(t.key.as_str());
        }
    }
    let tag_values: Vec<&str> = tag_keys.iter().map(|k| tag_value[k]).collect();
    let mut param_value: HashMap<&str, &str> = HashMap::new();
    let (mut keys, mut values, mut numbers) = (Vec::new(), Vec::new(), Vec::new());
    for p in &run.params {
        match param_value.get(p.key.as_str()) {
            Some(old) if *old != p.value => {
                return Err(StoreError::ParamConflict {
                    run_id: run.run_id.clone(),
                    key: p.key.clone(),
                    old: old.to_string(),
                    new: p.value.clone(),
                })
            }
            Some(_) => {}
            None => {
                param_value.insert(&p.key, &p.value);
                keys.push(p.key.as_str());
                values.push(p.value.as_str());
                numbers.push(numeric_param_value(&p.value));
            }
        }
    }
    let inserted: i64 = c
        .query_opt(
            INSERT_NEW_RUN,
            &[
                (&info.run_id, Type::TEXT),
                (&info.experiment_id, Type::INT8),
                (&info.run_name, Type::TEXT),
                (&info.start_time, Type::INT8),
                (&info.parent_run_id, Type::TEXT),
                (&info.user_id, Type::TEXT),
                (&info.artifact_uri, Type::TEXT),
                (&tag_keys, Type::TEXT_ARRAY),
                (&tag_values, Type::TEXT_ARRAY),
                (&keys, Type::TEXT_ARRAY),
                (&values, Type::TEXT_ARRAY),
                (&numbers, Type::FLOAT8_ARRAY),
            ],
        )?
        .map_or(0, |r| r.get(0));
    if inserted == 1 {
        return Ok(());
    }
    // this very run is in already: a commit whose answer was lost (the server went away while
    // committing) and is tried again
    let tx = &mut *c.tx;
    let same = tx.query_typed_opt(
        "SELECT 1 FROM runs WHERE run_uuid = $1 AND experiment_id = $2 AND name = $3
             AND start_time = $4 AND parent_run_id IS NOT DISTINCT FROM $5",
        &[
            (&info.run_id, Type::TEXT),
            (&info.experiment_id, Type::INT8),
            (&info.run_name, Type::TEXT),
            (&info.start_time, Type::INT8),
            (&info.parent_run_id, Type::TEXT),
        ],
    )?;
    if same.is_some() {
        return Ok(());
    }
    // name what is missing
    new_run_location(tx, run.experiment_id, run.parent_run_id.as_deref())?;
    Err(StoreError::Database(format!(
        "a run with id '{}' exists already",
        run.run_id
    )))
}

/// A run's end with the first round of its final metric points: `$1` the run, `$2` its status,
/// `$3`-`$7` the round's columns, `$8` the end time; returns the run's key if it was active.
const FINISH_RUN: &str = concat!(
    "WITH r AS (
         UPDATE runs SET status = $2, end_time = $8
         WHERE run_uuid = $1 AND lifecycle_stage = 'active' RETURNING run_key
     ), ins AS (
         INSERT INTO metric_points (run_key, key, step, timestamp, value, is_nan)
         SELECT r.run_key, k, s, t, v, n
         FROM r, unnest($3::text[], $4::int8[], $5::int8[], $6::float8[], $7::bool[]) AS u(k, s, t, v, n)
         ON CONFLICT DO NOTHING
         RETURNING key, step, timestamp, value, is_nan
     ), m AS (
     ",
    fold_into_summary!(),
    "
     )
     SELECT run_key FROM r"
);

/// Ends active run `run_id`: its status and end time with its final metric points (the first
/// point of each key in the same statement, any further ones after it), then its tags.
pub(crate) fn finish_run_rows(
    c: &mut CachedTx<'_, '_>,
    run_id: &str,
    metrics: &[Metric],
    tags: &[RunTag],
    status: RunStatus,
    end_time: Option<i64>,
) -> Result<(), StoreError> {
    let rounds = metric_rounds(metrics);
    let none = MetricRound::default();
    let first = rounds.first().unwrap_or(&none);
    let row = c.query_opt(
        FINISH_RUN,
        &[
            (&run_id, Type::TEXT),
            (&status.as_str(), Type::TEXT),
            (&first.keys, Type::TEXT_ARRAY),
            (&first.steps, Type::INT8_ARRAY),
            (&first.times, Type::INT8_ARRAY),
            (&first.values, Type::FLOAT8_ARRAY),
            (&first.nans, Type::BOOL_ARRAY),
            (&end_time, Type::INT8),
        ],
    )?;
    let Some(row) = row else {
        return Err(missing_active_run(c.tx, run_id));
    };
    let run_key: i64 = row.get(0);
    insert_metric_rounds(c, run_id, run_key, rounds.get(1..).unwrap_or_default())?;
    upsert_tags(c, run_id, tags)
}

/// Why run `run_id` is not an active run: not found, or deleted.
fn missing_active_run(tx: &mut postgres::Transaction<'_>, run_id: &str) -> StoreError {
    if validate_run_id(run_id).is_err() {
        return StoreError::RunNotFound(run_id.to_string());
    }
    match read_run_row(tx, run_id, false) {
        Ok(Some((info, _))) if info.lifecycle_stage == LifecycleStage::Deleted => {
            StoreError::Deleted {
                what: "run",
                id: run_id.to_string(),
                name: None,
            }
        }
        Ok(Some(_)) => StoreError::Database(format!("run '{run_id}' could not be ended")),
        Ok(None) => StoreError::RunNotFound(run_id.to_string()),
        Err(e) => e,
    }
}
