//! Writing params, tags and metric points of a run in a PostgreSQL transaction (the
//! [`super::store::PgStore`]'s writes), with the same rules as SQLite: params are write-once, the run-name
//! tag renames the run, a metric point updates the run's summary of that key.

use postgres::Transaction;

use crate::tracking::store::{
    numeric_param_value, Metric, Param, RunTag, StoreError, TAG_RUN_NAME,
};

/// Logs param `p` of run `run_id` (integer key `run_key`): the same value again is fine, another
/// value is a [`StoreError::ParamConflict`].
pub(crate) fn insert_param(
    tx: &mut Transaction<'_>,
    run_id: &str,
    run_key: i64,
    p: &Param,
) -> Result<(), StoreError> {
    let inserted = tx.execute(
        "INSERT INTO params (run_key, key, value, num_value) VALUES ($1, $2, $3, $4)
         ON CONFLICT (run_key, key) DO NOTHING",
        &[&run_key, &p.key, &p.value, &numeric_param_value(&p.value)],
    )?;
    if inserted == 1 {
        return Ok(());
    }
    let old: String = tx
        .query_one(
            "SELECT value FROM params WHERE run_key = $1 AND key = $2",
            &[&run_key, &p.key],
        )?
        .get(0);
    if old == p.value {
        return Ok(());
    }
    Err(StoreError::ParamConflict {
        run_id: run_id.to_string(),
        key: p.key.clone(),
        old,
        new: p.value.clone(),
    })
}

/// Inserts or replaces a run tag; the run-name tag also renames the run.
pub(crate) fn upsert_tag(
    tx: &mut Transaction<'_>,
    run_id: &str,
    tag: &RunTag,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO tags (run_uuid, key, value) VALUES ($1, $2, $3)
         ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
        &[&run_id, &tag.key, &tag.value],
    )?;
    if tag.key == TAG_RUN_NAME {
        tx.execute(
            "UPDATE runs SET name = $1 WHERE run_uuid = $2",
            &[&tag.value, &run_id],
        )?;
    }
    Ok(())
}

/// Writes metric points of run `run_id` (integer key `run_key`) and updates their summaries: the
/// latest point is the one with the greatest (step, timestamp), a later write winning a tie; min and
/// max skip NaN; a point logged twice (same step, timestamp and value) is stored and counted once.
pub(crate) fn insert_metrics(
    tx: &mut Transaction<'_>,
    run_id: &str,
    run_key: i64,
    metrics: &[Metric],
) -> Result<(), StoreError> {
    for m in metrics {
        let is_nan = m.value.is_nan();
        let value = if is_nan { 0.0 } else { m.value };
        let inserted = tx.execute(
            "INSERT INTO metric_points (run_key, key, step, timestamp, value, is_nan)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            &[&run_key, &m.key, &m.step, &m.timestamp, &value, &is_nan],
        )?;
        if inserted == 0 {
            continue;
        }
        let summary_value = (!is_nan).then_some(m.value);
        tx.execute(
            "INSERT INTO metric_summary AS s (run_uuid, key, latest_value, latest_is_nan, latest_step,
                 latest_timestamp, min_value, max_value, count)
             VALUES ($1, $2, $3, $4, $5, $6, $3, $3, 1)
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
               count = s.count + 1",
            &[
                &run_id,
                &m.key,
                &summary_value,
                &is_nan,
                &m.step,
                &m.timestamp,
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
