//! Garbage collection on PostgreSQL: the database half of `hpo gc` (see [`crate::tracking::gc`] for
//! what is removed and kept; the artifact directories are removed by the caller, as on SQLite).
//!
//! One transaction picks the runs deleted at or before the cutoff and the runs of experiments deleted
//! then, keeps those a live model version points to (and their experiments), and deletes the rest with
//! their params, metric history and summaries and tags, and the shared-study rows of purged studies;
//! kept runs whose parent goes lose the link.

use postgres::Transaction;

use crate::tracking::gc::{KeptRun, Purged, PurgedExperiment, PurgedRun};
use crate::tracking::store::{ExperimentId, StoreError};

/// Removes from the database what [`Store::purge_deleted`](crate::tracking::Store::purge_deleted)
/// removes, inside `tx`, and reports it.
pub(crate) fn purge(tx: &mut Transaction<'_>, deleted_before: i64) -> Result<Purged, StoreError> {
    let mut experiments: Vec<PurgedExperiment> = tx
        .query(
            "SELECT experiment_id, name, artifact_location FROM experiments
             WHERE lifecycle_stage = 'deleted' AND last_update_time <= $1 ORDER BY experiment_id",
            &[&deleted_before],
        )?
        .iter()
        .map(|r| PurgedExperiment {
            experiment_id: r.get(0),
            name: r.get(1),
            artifact_location: r.get(2),
        })
        .collect();
    let exp_ids: Vec<ExperimentId> = experiments.iter().map(|e| e.experiment_id).collect();
    let candidates = tx.query(
        "SELECT run_key, run_uuid, experiment_id, name, artifact_uri FROM runs
         WHERE (lifecycle_stage = 'deleted' AND COALESCE(deleted_time, 0) <= $1)
            OR experiment_id = ANY($2)
         ORDER BY run_key",
        &[&deleted_before, &exp_ids],
    )?;

    // Runs a live model version points to stay, and so do their experiments.
    let mut kept = Vec::new();
    let mut doomed: Vec<(i64, PurgedRun)> = Vec::with_capacity(candidates.len());
    for r in &candidates {
        let run = PurgedRun {
            run_id: r.get(1),
            experiment_id: r.get(2),
            run_name: r.get(3),
            artifact_uri: r.get(4),
        };
        let refs: Vec<String> = tx
            .query(
                "SELECT name || '/' || version FROM model_versions
                 WHERE run_id = $1 AND deleted_time IS NULL ORDER BY name, version",
                &[&run.run_id],
            )?
            .iter()
            .map(|row| row.get(0))
            .collect();
        if refs.is_empty() {
            doomed.push((r.get(0), run));
        } else {
            experiments.retain(|e| e.experiment_id != run.experiment_id);
            kept.push(KeptRun {
                run_id: run.run_id,
                model_versions: refs,
            });
        }
    }

    let keys: Vec<i64> = doomed.iter().map(|(k, _)| *k).collect();
    let ids: Vec<&str> = doomed.iter().map(|(_, r)| r.run_id.as_str()).collect();
    tx.execute(
        "DELETE FROM metric_points WHERE run_key = ANY($1)",
        &[&keys],
    )?;
    tx.execute("DELETE FROM params WHERE run_key = ANY($1)", &[&keys])?;
    tx.execute(
        "DELETE FROM metric_summary WHERE run_uuid = ANY($1)",
        &[&ids],
    )?;
    tx.execute("DELETE FROM tags WHERE run_uuid = ANY($1)", &[&ids])?;
    tx.execute(
        "UPDATE runs SET parent_run_id = NULL WHERE parent_run_id = ANY($1)",
        &[&ids],
    )?;
    tx.execute("DELETE FROM runs WHERE run_key = ANY($1)", &[&keys])?;
    // a purged study leaves no shared-study rows behind (a `--resume` would wait for its run)
    for table in crate::tracking::gc::STUDY_TABLES {
        tx.execute(
            &format!("DELETE FROM {table} WHERE study_run_uuid = ANY($1)"),
            &[&ids],
        )?;
    }

    for e in &experiments {
        let left = tx.query_opt(
            "SELECT 1 FROM runs WHERE experiment_id = $1 LIMIT 1",
            &[&e.experiment_id],
        )?;
        if left.is_some() {
            return Err(StoreError::InvalidArgument(format!(
                "experiment '{}' still has runs after garbage collection",
                e.name
            )));
        }
        tx.execute(
            "DELETE FROM experiment_tags WHERE experiment_id = $1",
            &[&e.experiment_id],
        )?;
        tx.execute(
            "DELETE FROM experiments WHERE experiment_id = $1",
            &[&e.experiment_id],
        )?;
    }
    Ok(Purged {
        runs: doomed.into_iter().map(|(_, r)| r).collect(),
        experiments,
        kept,
        artifact_errors: Vec::new(),
    })
}
