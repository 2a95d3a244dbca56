//! Writing params, tags and metric points of a run in a PostgreSQL transaction (the
//! [`super::store::PgStore`]'s writes), with the same rules as SQLite: params are write-once, the run-name
//! tag renames the run, a metric point updates the run's summary of that key.

use std::collections::HashMap;

use postgres::types::Type;

use super::pool::CachedTx;

use crate::tracking::store::{
    numeric_param_value, Metric, Param, RunTag, StoreError, TAG_RUN_NAME,
};

/// Logs params of run `run_id` (integer key `run_key`) in one statement: the same value again is
/// fine, another value (in the database or earlier in `params`) is a [`StoreError::ParamConflict`].
pub(crate) fn insert_params(
    tx: &mut CachedTx<'_, '_>,
    run_id: &str,
    run_key: i64,
    params: &[Param],
) -> Result<(), StoreError> {
    if params.is_empty() {
        return Ok(());
    }
    let conflict = |key: &str, old: &str, new: &str| StoreError::ParamConflict {
        run_id: run_id.to_string(),
        key: key.to_string(),
        old: old.to_string(),
        new: new.to_string(),
    };
    // one row per key: a key given twice with two values conflicts as it would in two calls
    let mut first: HashMap<&str, &str> = HashMap::new();
    let (mut keys, mut values, mut numbers) = (Vec::new(), Vec::new(), Vec::new());
    for p in params {
        match first.get(p.key.as_str()) {
            Some(old) if *old != p.value => return Err(conflict(&p.key, old, &p.value)),
            Some(_) => {}
            None => {
                first.insert(&p.key, &p.value);
                keys.push(p.key.as_str());
                values.push(p.value.as_str());
                numbers.push(numeric_param_value(&p.value));
            }
        }
    }
    let inserted = tx.execute(
        "INSERT INTO params (run_key, key, value, num_value)
         SELECT $1, k, v, n FROM unnest($2::text[], $3::text[], $4::float8[]) AS u(k, v, n)
         ON CONFLICT (run_key, key) DO NOTHING",
        &[
            (&run_key, Type::INT8),
            (&keys, Type::TEXT_ARRAY),
            (&values, Type::TEXT_ARRAY),
            (&numbers, Type::FLOAT8_ARRAY),
        ],
    )?;
    if inserted as usize == keys.len() {
        return Ok(());
    }
    // some were logged before: each must have the same value
    for row in tx.query(
        "SELECT key, value FROM params WHERE run_key = $1 AND key = ANY($2)",
        &[(&run_key, Type::INT8), (&keys, Type::TEXT_ARRAY)],
    )? {
        let (key, old): (String, String) = (row.get(0), row.get(1));
        match first.get(key.as_str()) {
            Some(new) if *new != old => return Err(conflict(&key, &old, new)),
            _ => {}
        }
    }
    Ok(())
}

/// Inserts or replaces run tags in one statement (of a key given twice the last value wins); a
/// run-name tag also renames the run.
pub(crate) fn upsert_tags(
    tx: &mut CachedTx<'_, '_>,
    run_id: &str,
    tags: &[RunTag],
) -> Result<(), StoreError> {
    if tags.is_empty() {
        return Ok(());
    }
    let mut last: HashMap<&str, &str> = HashMap::new();
    let mut keys = Vec::new();
    for t in tags {
        if last.insert(&t.key, &t.value).is_none() {
            keys.push(t.key.as_str());
        }
    }
    let values: Vec<&str> = keys.iter().map(|k| last[k]).collect();
    tx.execute(
        "INSERT INTO tags (run_uuid, key, value)
         SELECT $1, k, v FROM unnest($2::text[], $3::text[]) AS u(k, v)
         ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
        &[
            (&run_id, Type::TEXT),
            (&keys, Type::TEXT_ARRAY),
            (&values, Type::TEXT_ARRAY),
        ],
    )?;
    if let Some(name) = last.get(TAG_RUN_NAME) {
        tx.execute(
            "UPDATE runs SET name = $1 WHERE run_uuid = $2",
            &[(name, Type::TEXT), (&run_id, Type::TEXT)],
        )?;
    }
    Ok(())
}

/// Inserts or replaces one run tag; the run-name tag also renames the run.
pub(crate) fn upsert_tag(
    tx: &mut CachedTx<'_, '_>,
    run_id: &str,
    tag: &RunTag,
) -> Result<(), StoreError> {
    upsert_tags(tx, run_id, std::slice::from_ref(tag))
}

/// The part of a metric round's statement that folds the points inserted by its `ins` part
/// into their keys' summaries (`$1` the run's id).
macro_rules! fold_into_summary {
    () => {
        "INSERT INTO metric_summary AS s (run_uuid, key, latest_value, latest_is_nan, latest_step,
         latest_timestamp, min_value, max_value, count)
     SELECT $1, key, CASE WHEN is_nan THEN NULL ELSE value END, is_nan, step, timestamp,
         CASE WHEN is_nan THEN NULL ELSE value END, CASE WHEN is_nan THEN NULL ELSE value END, 1
     FROM ins
     ON CONFLICT (run_uuid, key) DO UPDATE SET
       latest_value = CASE WHEN (excluded.latest_step, excluded.latest_timestamp)
           >= (s.latest_step, s.latest_timestamp) THEN excluded.latest_value ELSE s.latest_value END,
       latest_is_nan = CASE WHEN (excluded.latest_step, excluded.latest_timestamp)
           >= (s.latest_step, s.latest_timestamp) THEN excluded.latest_is_nan ELSE s.latest_is_nan END,
       latest_step = CASE WHEN (excluded.latest_step, excluded.latest_timestamp)
           >= (s.latest_step, s.latest_timestamp) THEN excluded.latest_step ELSE s.latest_step END,
       latest_timestamp = CASE WHEN (excluded.latest_step, excluded.latest_timestamp)
           >= (s.latest_step, s.latest_timestamp) THEN excluded.latest_timestamp ELSE s.latest_timestamp END,
       min_value = LEAST(s.min_value, excluded.min_value),
       max_value = GREATEST(s.max_value, excluded.max_value),
       count = s.count + 1"
    };
}
pub(crate) use fold_into_summary;

/// Writes the metric points of one round (no key twice) and updates their summaries, in one
/// statement: the points not stored yet are inserted, and each inserted point is folded into its
/// key's summary.
const INSERT_METRIC_ROUND: &str = concat!(
    "WITH ins AS (
         INSERT INTO metric_points (run_key, key, step, timestamp, value, is_nan)
         SELECT $2, k, s, t, v, n
         FROM unnest($3::text[], $4::int8[], $5::int8[], $6::float8[], $7::bool[]) AS u(k, s, t, v, n)
         ON CONFLICT DO NOTHING
         RETURNING key, step, timestamp, value, is_nan)
     ",
    fold_into_summary!()
);

/// The columns of one round of metric points: at most one point per key.
#[derive(Default)]
pub(crate) struct MetricRound<'m> {
    /// The points' keys.
    pub(crate) keys: Vec<&'m str>,
    /// Their steps.
    pub(crate) steps: Vec<i64>,
    /// Their timestamps.
    pub(crate) times: Vec<i64>,
    /// Their values, NaN stored as 0 with its flag (so NaN points compare equal as in SQLite).
    pub(crate) values: Vec<f64>,
    /// Whether each value is NaN.
    pub(crate) nans: Vec<bool>,
}

/// `metrics` in rounds: round `i` holds the `i`-th point of each key, so a batch with one point
/// per key (a trial's end) is one round, and the points of a key are applied in order.
pub(crate) fn metric_rounds(metrics: &[Metric]) -> Vec<MetricRound<'_>> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut rounds: Vec<MetricRound<'_>> = Vec::new();
    for m in metrics {
        let i = seen.entry(&m.key).or_insert(0);
        if rounds.len() <= *i {
            rounds.push(MetricRound::default());
        }
        let round = &mut rounds[*i];
        round.keys.push(&m.key);
        round.steps.push(m.step);
        round.times.push(m.timestamp);
        round
            .values
            .push(if m.value.is_nan() { 0.0 } else { m.value });
        round.nans.push(m.value.is_nan());
        *i += 1;
    }
    rounds
}

/// Writes metric points of run `run_id` (integer key `run_key`) and updates their summaries: the
/// latest point is the one with the greatest (step, timestamp), a later write winning a tie; min and
/// max skip NaN; a point logged twice (same step, timestamp and value) is stored and counted once.
///
/// One statement per round (see [`metric_rounds`]).
pub(crate) fn insert_metrics(
    tx: &mut CachedTx<'_, '_>,
    run_id: &str,
    run_key: i64,
    metrics: &[Metric],
) -> Result<(), StoreError> {
    insert_metric_rounds(tx, run_id, run_key, &metric_rounds(metrics))
}

/// Writes `rounds` of metric points of run `run_id` (integer key `run_key`), one statement each.
pub(crate) fn insert_metric_rounds(
    tx: &mut CachedTx<'_, '_>,
    run_id: &str,
    run_key: i64,
    rounds: &[MetricRound<'_>],
) -> Result<(), StoreError> {
    for round in rounds {
        tx.execute(
            INSERT_METRIC_ROUND,
            &[
                (&run_id, Type::TEXT),
                (&run_key, Type::INT8),
                (&round.keys, Type::TEXT_ARRAY),
                (&round.steps, Type::INT8_ARRAY),
                (&round.times, Type::INT8_ARRAY),
                (&round.values, Type::FLOAT8_ARRAY),
                (&round.nans, Type::BOOL_ARRAY),
            ],
        )?;
    }
    Ok(())
}

/// The history of metric `key` of run `run_key`, ordered by (step, timestamp).
pub(crate) fn read_history(
    c: &mut impl postgres::GenericClient,
    run_key: i64,
    key: &str,
) -> Result<Vec<Metric>, StoreError> {
    Ok(c.query(
        "SELECT step, timestamp, value, is_nan FROM metric_points
             WHERE run_key = $1 AND key = $2 ORDER BY step, timestamp",
        &[&run_key, &key],
    )?
    .iter()
    .map(|r| Metric {
        key: key.to_string(),
        step: r.get(0),
        timestamp: r.get(1),
        value: if r.get::<_, bool>(3) {
            f64::NAN
        } else {
            r.get(2)
        },
    })
    .collect())
}
