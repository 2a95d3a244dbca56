//! Reading experiments and runs from a PostgreSQL tracking database (the [`super::store::PgStore`]'s reads).

use postgres::GenericClient;

use crate::tracking::store::{
    Experiment, ExperimentId, ExperimentTag, LifecycleStage, MetricSummary, Param, Run, RunData,
    RunInfo, RunTag, StoreError,
};

/// The columns of `runs` that make a [`RunInfo`], then the run's integer key.
const INFO_COLUMNS: &str = "run_uuid, experiment_id, name, status, start_time, end_time, \
     parent_run_id, user_id, artifact_uri, lifecycle_stage, run_key";

/// A metric value stored as (value, is_nan): NaN is kept as a flag, as in SQLite.
fn stored_metric(value: Option<f64>, is_nan: bool) -> f64 {
    if is_nan {
        f64::NAN
    } else {
        value.unwrap_or(f64::NAN)
    }
}

/// Experiment `id` with its tags, if it exists.
pub(crate) fn read_experiment(
    c: &mut impl GenericClient,
    id: ExperimentId,
) -> Result<Option<Experiment>, StoreError> {
    let Some(row) = c.query_opt(
        "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time
         FROM experiments WHERE experiment_id = $1",
        &[&id],
    )?
    else {
        return Ok(None);
    };
    let tags = c
        .query(
            "SELECT key, value FROM experiment_tags WHERE experiment_id = $1 ORDER BY key",
            &[&id],
        )?
        .iter()
        .map(|r| ExperimentTag {
            key: r.get(0),
            value: r.get(1),
        })
        .collect();
    Ok(Some(Experiment {
        experiment_id: row.get(0),
        name: row.get(1),
        artifact_location: row.get(2),
        lifecycle_stage: row.get::<_, String>(3).parse()?,
        creation_time: row.get(4),
        last_update_time: row.get(5),
        tags,
    }))
}

/// Experiment `id`, or [`StoreError::ExperimentNotFound`].
pub(crate) fn require_experiment(
    c: &mut impl GenericClient,
    id: ExperimentId,
) -> Result<Experiment, StoreError> {
    read_experiment(c, id)?.ok_or_else(|| StoreError::ExperimentNotFound(id.to_string()))
}

/// The id of the experiment named `name`, if any.
pub(crate) fn experiment_id_by_name(
    c: &mut impl GenericClient,
    name: &str,
) -> Result<Option<ExperimentId>, StoreError> {
    Ok(c.query_opt(
        "SELECT experiment_id FROM experiments WHERE name = $1",
        &[&name],
    )?
    .map(|r| r.get(0)))
}

/// A row of `SELECT {INFO_COLUMNS}` as the run's info and integer key.
fn info_row(r: &postgres::Row) -> Result<(RunInfo, i64), StoreError> {
    let info = RunInfo {
        run_id: r.get(0),
        experiment_id: r.get(1),
        run_name: r.get(2),
        status: r.get::<_, String>(3).parse()?,
        start_time: r.get(4),
        end_time: r.get(5),
        parent_run_id: r.get(6),
        user_id: r.get(7),
        artifact_uri: r.get(8),
        lifecycle_stage: r.get::<_, String>(9).parse::<LifecycleStage>()?,
    };
    Ok((info, r.get(10)))
}

/// A run's info and integer key, if the run exists; `lock` takes a row lock until the transaction ends.
pub(crate) fn read_run_row(
    c: &mut impl GenericClient,
    run_id: &str,
    lock: bool,
) -> Result<Option<(RunInfo, i64)>, StoreError> {
    let suffix = if lock { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT {INFO_COLUMNS} FROM runs WHERE run_uuid = $1{suffix}");
    let Some(r) = c.query_opt(sql.as_str(), &[&run_id])? else {
        return Ok(None);
    };
    info_row(&r).map(Some)
}

/// The params, tags and metric summaries of run `run_id`, whose integer key is `run_key`.
pub(crate) fn read_run_data(
    c: &mut impl GenericClient,
    run_id: &str,
    run_key: i64,
) -> Result<RunData, StoreError> {
    let params = c
        .query(
            "SELECT key, value FROM params WHERE run_key = $1 ORDER BY key",
            &[&run_key],
        )?
        .iter()
        .map(|r| Param::new(r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect();
    let tags = c
        .query(
            "SELECT key, value FROM tags WHERE run_uuid = $1 ORDER BY key",
            &[&run_id],
        )?
        .iter()
        .map(|r| RunTag::new(r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect();
    let metrics = c
        .query(
            "SELECT key, latest_value, latest_is_nan, latest_step, latest_timestamp, min_value,
                    max_value, count
             FROM metric_summary WHERE run_uuid = $1 ORDER BY key",
            &[&run_id],
        )?
        .iter()
        .map(|r| MetricSummary {
            key: r.get(0),
            latest: stored_metric(r.get(1), r.get(2)),
            latest_step: r.get(3),
            latest_timestamp: r.get(4),
            min: r.get(5),
            max: r.get(6),
            count: r.get::<_, i64>(7).max(0) as u64,
        })
        .collect();
    Ok(RunData {
        params,
        metrics,
        tags,
    })
}

/// Run `run_id` with its data, if it exists.
pub(crate) fn read_run(
    c: &mut impl GenericClient,
    run_id: &str,
) -> Result<Option<Run>, StoreError> {
    let Some((info, key)) = read_run_row(c, run_id, false)? else {
        return Ok(None);
    };
    let data = read_run_data(c, run_id, key)?;
    Ok(Some(Run { info, data }))
}

/// The runs `ids` with their data, in the order of `ids` (an id that names no run is
/// [`StoreError::RunNotFound`]), read in four statements whatever the number of runs.
pub(crate) fn read_runs(
    c: &mut impl GenericClient,
    ids: &[String],
) -> Result<Vec<Run>, StoreError> {
    let sql = format!("SELECT {INFO_COLUMNS} FROM runs WHERE run_uuid = ANY($1)");
    let mut by_id: std::collections::HashMap<String, (Run, i64)> =
        std::collections::HashMap::with_capacity(ids.len());
    for r in c.query(sql.as_str(), &[&ids])? {
        let (info, key) = info_row(&r)?;
        let data = RunData {
            params: Vec::new(),
            metrics: Vec::new(),
            tags: Vec::new(),
        };
        by_id.insert(info.run_id.clone(), (Run { info, data }, key));
    }
    let keys: Vec<i64> = by_id.values().map(|(_, k)| *k).collect();
    let mut id_of_key: std::collections::HashMap<i64, String> =
        by_id.iter().map(|(id, (_, k))| (*k, id.clone())).collect();
    for r in c.query(
        "SELECT run_key, key, value FROM params WHERE run_key = ANY($1) ORDER BY run_key, key",
        &[&keys],
    )? {
        if let Some((run, _)) = id_of_key
            .get(&r.get::<_, i64>(0))
            .and_then(|id| by_id.get_mut(id))
        {
            run.data
                .params
                .push(Param::new(r.get::<_, String>(1), r.get::<_, String>(2)));
        }
    }
    id_of_key.clear();
    for r in c.query(
        "SELECT run_uuid, key, value FROM tags WHERE run_uuid = ANY($1) ORDER BY run_uuid, key",
        &[&ids],
    )? {
        if let Some((run, _)) = by_id.get_mut(r.get::<_, &str>(0)) {
            run.data
                .tags
                .push(RunTag::new(r.get::<_, String>(1), r.get::<_, String>(2)));
        }
    }
    for r in c.query(
        "SELECT run_uuid, key, latest_value, latest_is_nan, latest_step, latest_timestamp,
                min_value, max_value, count
         FROM metric_summary WHERE run_uuid = ANY($1) ORDER BY run_uuid, key",
        &[&ids],
    )? {
        if let Some((run, _)) = by_id.get_mut(r.get::<_, &str>(0)) {
            run.data.metrics.push(MetricSummary {
                key: r.get(1),
                latest: stored_metric(r.get(2), r.get(3)),
                latest_step: r.get(4),
                latest_timestamp: r.get(5),
                min: r.get(6),
                max: r.get(7),
                count: r.get::<_, i64>(8).max(0) as u64,
            });
        }
    }
    ids.iter()
        .map(|id| {
            by_id
                .remove(id)
                .map(|(run, _)| run)
                .ok_or_else(|| StoreError::RunNotFound(id.clone()))
        })
        .collect()
}
