//! Writing and reading the metric history (`metric_points`) and keeping `metric_summary` in step.
//!
//! A batch of points is inserted with multi-row `INSERT OR IGNORE` statements (exact repeats of a stored
//! point are ignored), then each key's summary row is updated once with what the batch adds. When every
//! point of the batch is new (the usual case) the summary delta is folded from all of them. When some
//! point was a repeat, the batch's inserts are rolled back to a savepoint and redone one point at a time,
//! so that a repeat never counts and never becomes the latest value: the result is always the same as
//! updating the summary point by point.

use rusqlite::{params, Connection, Statement};

use super::store::{Metric, StoreError};

/// Rows per multi-row insert statement, largest first; a batch is cut into chunks of these sizes.
const CHUNK_ROWS: [usize; 3] = [64, 8, 1];

/// Batches up to this many points are inserted one statement per point, without a savepoint.
const POINT_BY_POINT: usize = 4;

/// What the new points of one key in one batch add to that key's summary.
struct SummaryDelta<'a> {
    key: &'a str,
    latest: &'a Metric,
    min: Option<f64>,
    max: Option<f64>,
    count: i64,
}

/// Adds one newly stored point to the deltas: a later (step, timestamp) or an equal one written later
/// becomes the latest; min and max ignore NaN.
fn fold<'a>(deltas: &mut Vec<SummaryDelta<'a>>, m: &'a Metric) {
    let finite = (!m.value.is_nan()).then_some(m.value);
    let pick = |a: Option<f64>, f: fn(f64, f64) -> f64| match (a, finite) {
        (Some(a), Some(v)) => Some(f(a, v)),
        (a, v) => a.or(v),
    };
    match deltas.iter_mut().find(|d| d.key == m.key) {
        Some(d) => {
            if (m.step, m.timestamp) >= (d.latest.step, d.latest.timestamp) {
                d.latest = m;
            }
            d.min = pick(d.min, f64::min);
            d.max = pick(d.max, f64::max);
            d.count += 1;
        }
        None => deltas.push(SummaryDelta {
            key: &m.key,
            latest: m,
            min: finite,
            max: finite,
            count: 1,
        }),
    }
}

/// The multi-row insert statement for `rows` points.
fn insert_sql(rows: usize) -> String {
    let row = "(?, ?, ?, ?, ?, ?)";
    format!(
        "INSERT OR IGNORE INTO metric_points (run_key, key, step, timestamp, value, is_nan) VALUES {}",
        vec![row; rows].join(", ")
    )
}

/// Binds `points` into `stmt` (made by [`insert_sql`] for that many rows) and runs it; returns how
/// many points were new.
fn insert_chunk(
    stmt: &mut Statement<'_>,
    run_key: i64,
    points: &[Metric],
) -> rusqlite::Result<usize> {
    for (i, m) in points.iter().enumerate() {
        let base = i * 6;
        let is_nan = m.value.is_nan();
        // SQLite has no NaN: a NaN point is stored as value 0 with the is_nan flag.
        let stored = if is_nan { 0.0 } else { m.value };
        stmt.raw_bind_parameter(base + 1, run_key)?;
        stmt.raw_bind_parameter(base + 2, m.key.as_str())?;
        stmt.raw_bind_parameter(base + 3, m.step)?;
        stmt.raw_bind_parameter(base + 4, m.timestamp)?;
        stmt.raw_bind_parameter(base + 5, stored)?;
        stmt.raw_bind_parameter(base + 6, is_nan)?;
    }
    stmt.raw_execute()
}

/// Inserts all `points` in as few statements as possible; returns how many were new.
fn insert_all(tx: &Connection, run_key: i64, points: &[Metric]) -> rusqlite::Result<usize> {
    let mut inserted = 0;
    let mut rest = points;
    for rows in CHUNK_ROWS {
        if rest.len() < rows {
            continue;
        }
        let mut stmt = tx.prepare_cached(&insert_sql(rows))?;
        while rest.len() >= rows {
            let (chunk, tail) = rest.split_at(rows);
            inserted += insert_chunk(&mut stmt, run_key, chunk)?;
            rest = tail;
        }
    }
    Ok(inserted)
}

/// Inserts `points` one statement each, folding into `deltas` only those that were new.
fn insert_one_by_one<'a>(
    tx: &Connection,
    run_key: i64,
    points: &'a [Metric],
    deltas: &mut Vec<SummaryDelta<'a>>,
) -> rusqlite::Result<()> {
    let mut one = tx.prepare_cached(&insert_sql(1))?;
    for m in points {
        if insert_chunk(&mut one, run_key, std::slice::from_ref(m))? == 1 {
            fold(deltas, m);
        }
    }
    Ok(())
}

/// Inserts metric points of run `run_key` (run id `run_id` in the summary) into the history, ignoring
/// exact repeats, and updates each key's summary once with what the new points add.
pub(crate) fn insert_metrics(
    tx: &Connection,
    run_id: &str,
    run_key: i64,
    metrics: &[Metric],
) -> Result<(), StoreError> {
    if metrics.is_empty() {
        return Ok(());
    }
    let mut deltas: Vec<SummaryDelta<'_>> = Vec::new();
    if metrics.len() <= POINT_BY_POINT {
        // A few points: each is either new or a repeat, no savepoint needed (a savepoint makes
        // SQLite copy every page the batch touches).
        insert_one_by_one(tx, run_key, metrics, &mut deltas)?;
        return update_summaries(tx, run_id, &deltas);
    }
    tx.prepare_cached("SAVEPOINT metric_points")?.execute([])?;
    if insert_all(tx, run_key, metrics)? == metrics.len() {
        for m in metrics {
            fold(&mut deltas, m);
        }
    } else {
        // Some point was already stored: redo the batch point by point, folding only the new ones.
        tx.prepare_cached("ROLLBACK TO metric_points")?
            .execute([])?;
        insert_one_by_one(tx, run_key, metrics, &mut deltas)?;
    }
    tx.prepare_cached("RELEASE metric_points")?.execute([])?;
    update_summaries(tx, run_id, &deltas)
}

/// Applies the deltas to `metric_summary`, one upsert per key.
fn update_summaries(
    tx: &Connection,
    run_id: &str,
    deltas: &[SummaryDelta<'_>],
) -> Result<(), StoreError> {
    let mut upsert = tx.prepare_cached(
        "INSERT INTO metric_summary
           (run_uuid, key, latest_value, latest_is_nan, latest_step, latest_timestamp, min_value, max_value, count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (run_uuid, key) DO UPDATE SET
           latest_value = CASE WHEN (excluded.latest_step, excluded.latest_timestamp) >= (latest_step, latest_timestamp)
                               THEN excluded.latest_value ELSE latest_value END,
           latest_is_nan = CASE WHEN (excluded.latest_step, excluded.latest_timestamp) >= (latest_step, latest_timestamp)
                                THEN excluded.latest_is_nan ELSE latest_is_nan END,
           latest_timestamp = CASE WHEN (excluded.latest_step, excluded.latest_timestamp) >= (latest_step, latest_timestamp)
                                   THEN excluded.latest_timestamp ELSE latest_timestamp END,
           latest_step = MAX(latest_step, excluded.latest_step),
           min_value = CASE WHEN min_value IS NULL THEN excluded.min_value
                            WHEN excluded.min_value IS NULL THEN min_value
                            ELSE MIN(min_value, excluded.min_value) END,
           max_value = CASE WHEN max_value IS NULL THEN excluded.max_value
                            WHEN excluded.max_value IS NULL THEN max_value
                            ELSE MAX(max_value, excluded.max_value) END,
           count = count + excluded.count",
    )?;
    for d in deltas {
        let is_nan = d.latest.value.is_nan();
        let latest = (!is_nan).then_some(d.latest.value);
        upsert.execute(params![
            run_id,
            d.key,
            latest,
            is_nan,
            d.latest.step,
            d.latest.timestamp,
            d.min,
            d.max,
            d.count
        ])?;
    }
    Ok(())
}

/// The history of metric `key` of run `run_key`, ordered by step, then timestamp (points with the same
/// step and timestamp come in value order).
pub(crate) fn read_history(
    tx: &Connection,
    run_key: i64,
    key: &str,
) -> Result<Vec<Metric>, StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT key, value, is_nan, timestamp, step FROM metric_points
         WHERE run_key = ?1 AND key = ?2 ORDER BY step, timestamp",
    )?;
    let points = stmt
        .query_map(params![run_key, key], |r| {
            let is_nan: bool = r.get(2)?;
            Ok(Metric {
                key: r.get(0)?,
                value: if is_nan { f64::NAN } else { r.get(1)? },
                timestamp: r.get(3)?,
                step: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(points)
}

#[cfg(test)]
mod tests {
    use crate::tracking::store::{Metric, NewRun, Store};
    use crate::tracking::SqliteStore;

    fn point(value: f64, step: i64, timestamp: i64) -> Metric {
        Metric {
            key: "m".into(),
            value,
            timestamp,
            step,
        }
    }

    #[test]
    fn a_batch_with_repeats_counts_and_orders_only_new_points() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_in_memory(tmp.path()).unwrap();
        let run = store
            .create_run(&NewRun {
                experiment_id: 0,
                ..NewRun::default()
            })
            .unwrap()
            .run_id;
        store
            .log_batch(&run, &[], &[point(1.0, 5, 1)], &[])
            .unwrap();
        // 99 new points around one repeat of the stored point, which ties the latest (5, 1): the new
        // point with the same (step, timestamp) written in this batch must win, not the repeat.
        let mut batch: Vec<Metric> = (0..50).map(|i| point(i as f64, -i - 1, 0)).collect();
        batch.push(point(2.0, 5, 1));
        batch.push(point(1.0, 5, 1));
        batch.extend((50..98).map(|i| point(i as f64 + 0.5, -i, 0)));
        store.log_batch(&run, &[], &batch, &[]).unwrap();
        let s = store
            .get_run(&run)
            .unwrap()
            .data
            .metric("m")
            .unwrap()
            .clone();
        assert_eq!(s.count, 100);
        assert_eq!((s.latest, s.latest_step, s.latest_timestamp), (2.0, 5, 1));
        assert_eq!((s.min, s.max), (Some(0.0), Some(97.5)));
        assert_eq!(store.get_metric_history(&run, "m").unwrap().len(), 100);

        // A batch of only new points (several chunk sizes) takes the fast path with the same result.
        let batch: Vec<Metric> = (0..73).map(|i| point(-(i as f64), 100 + i, 0)).collect();
        store.log_batch(&run, &[], &batch, &[]).unwrap();
        let s = store
            .get_run(&run)
            .unwrap()
            .data
            .metric("m")
            .unwrap()
            .clone();
        assert_eq!(s.count, 173);
        assert_eq!((s.latest, s.latest_step), (-72.0, 172));
        assert_eq!(s.min, Some(-72.0));
        let history = store.get_metric_history(&run, "m").unwrap();
        assert_eq!(history.len(), 173);
        assert!(history.windows(2).all(|w| w[0].step <= w[1].step));
    }
}
