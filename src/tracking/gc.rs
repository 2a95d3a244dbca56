//! Garbage collection: permanently removing deleted runs and experiments (`hpo gc`, like
//! `mlflow gc`).
//!
//! Deleting a run or an experiment only marks it deleted, so it can be restored and a deleted
//! experiment keeps its name. [`Tracker::gc`](super::Tracker::gc) removes, for good, the runs
//! marked deleted (optionally only those deleted before a cutoff) and the deleted experiments
//! with all their runs: their params, metrics, tags and artifact directories. A run that a live
//! model version points to is kept (delete the version first), and so is its experiment. A kept
//! run whose parent is removed loses its parent link. A removed study run takes its shared-study
//! rows (the board's study, trials, claims, leases and retries) with it.

use std::fs;
use std::io;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::sqlite::SqliteStore;
use super::store::{ExperimentId, RunId, StoreError};

/// A run removed by garbage collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgedRun {
    /// The run's id.
    pub run_id: RunId,
    /// Its experiment.
    pub experiment_id: ExperimentId,
    /// Its name.
    pub run_name: String,
    /// Its artifact directory (removed with it).
    pub artifact_uri: String,
}

/// An experiment removed by garbage collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgedExperiment {
    /// The experiment's id.
    pub experiment_id: ExperimentId,
    /// Its name (free for a new experiment from now on).
    pub name: String,
    /// Its artifact location (removed when nothing else is left in it).
    pub artifact_location: String,
}

/// A deleted run kept because a live model version points to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptRun {
    /// The run's id.
    pub run_id: RunId,
    /// The model versions pointing to it, as `name/version`.
    pub model_versions: Vec<String>,
}

/// What garbage collection removed and kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purged {
    /// The runs removed, their data and artifacts.
    pub runs: Vec<PurgedRun>,
    /// The experiments removed (their names are free again).
    pub experiments: Vec<PurgedExperiment>,
    /// Deleted runs kept because a model version points to them.
    pub kept: Vec<KeptRun>,
    /// Artifact directories that could not be removed, with the reason.
    pub artifact_errors: Vec<String>,
}

/// The shared-study tables (see [`crate::tracking::shared`]), keyed by `study_run_uuid`: a purged
/// study's rows go with its run on both backends, so a later `--resume` starts a new study instead
/// of waiting for a run that no longer exists.
pub(crate) const STUDY_TABLES: [&str; 5] = [
    "studies",
    "study_claims",
    "study_trials",
    "trial_leases",
    "study_retries",
];

/// A run selected for removal: its integer key and what the report says about it.
struct Doomed {
    key: i64,
    run: PurgedRun,
}

/// Removes from the database the runs deleted at or before `deleted_before` (ms since the
/// epoch) and the experiments deleted then with all their runs, in one transaction. The
/// artifact directories are left to [`remove_artifacts`].
pub(crate) fn purge(store: &SqliteStore, deleted_before: i64) -> Result<Purged, StoreError> {
    store.write_as(|tx| purge_in(tx, deleted_before))
}

fn purge_in(tx: &Connection, deleted_before: i64) -> Result<Purged, StoreError> {
    let mut experiments: Vec<PurgedExperiment> = tx
        .prepare(
            "SELECT experiment_id, name, artifact_location FROM experiments
             WHERE lifecycle_stage = 'deleted' AND last_update_time <= ?1 ORDER BY experiment_id",
        )?
        .query_map([deleted_before], |r| {
            Ok(PurgedExperiment {
                experiment_id: r.get(0)?,
                name: r.get(1)?,
                artifact_location: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let exp_ids: Vec<ExperimentId> = experiments.iter().map(|e| e.experiment_id).collect();
    let doomed: Vec<Doomed> = tx
        .prepare(
            "SELECT run_key, run_uuid, experiment_id, name, artifact_uri, lifecycle_stage, deleted_time
             FROM runs WHERE lifecycle_stage = 'deleted' OR experiment_id IN
               (SELECT experiment_id FROM experiments WHERE lifecycle_stage = 'deleted')
             ORDER BY run_key",
        )?
        .query_map([], |r| {
            let stage: String = r.get(5)?;
            let deleted_time: Option<i64> = r.get(6)?;
            Ok((
                Doomed {
                    key: r.get(0)?,
                    run: PurgedRun {
                        run_id: r.get(1)?,
                        experiment_id: r.get(2)?,
                        run_name: r.get(3)?,
                        artifact_uri: r.get(4)?,
                    },
                },
                stage == "deleted" && deleted_time.unwrap_or(0) <= deleted_before,
            ))
        })?
        .filter_map(|row| match row {
            Ok((d, old_enough)) => {
                (old_enough || exp_ids.contains(&d.run.experiment_id)).then_some(Ok(d))
            }
            Err(e) => Some(Err(e)),
        })
        .collect::<Result<_, _>>()?;

    // Runs a live model version points to stay, and so do their experiments.
    let mut kept = Vec::new();
    let mut versions = tx.prepare(
        "SELECT name || '/' || version FROM model_versions
         WHERE run_id = ?1 AND deleted_time IS NULL ORDER BY name, version",
    )?;
    let mut removed = Vec::with_capacity(doomed.len());
    for d in doomed {
        let refs: Vec<String> = versions
            .query_map([&d.run.run_id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if refs.is_empty() {
            removed.push(d);
        } else {
            kept.push(KeptRun {
                run_id: d.run.run_id,
                model_versions: refs,
            });
        }
    }
    drop(versions);
    let doomed = removed;
    let kept_experiments: Vec<ExperimentId> = tx
        .prepare("SELECT experiment_id FROM runs WHERE run_uuid = ?1")
        .and_then(|mut s| {
            kept.iter()
                .map(|k| s.query_row([&k.run_id], |r| r.get(0)))
                .collect()
        })?;
    experiments.retain(|e| !kept_experiments.contains(&e.experiment_id));

    for d in &doomed {
        let (key, id) = (d.key, d.run.run_id.as_str());
        tx.execute("DELETE FROM metric_points WHERE run_key = ?1", [key])?;
        tx.execute("DELETE FROM params WHERE run_key = ?1", [key])?;
        tx.execute("DELETE FROM metric_summary WHERE run_uuid = ?1", [id])?;
        tx.execute("DELETE FROM tags WHERE run_uuid = ?1", [id])?;
        tx.execute(
            "UPDATE runs SET parent_run_id = NULL WHERE parent_run_id = ?1",
            [id],
        )?;
    }
    for d in &doomed {
        tx.execute("DELETE FROM runs WHERE run_key = ?1", [d.key])?;
        for table in STUDY_TABLES {
            tx.execute(
                &format!("DELETE FROM {table} WHERE study_run_uuid = ?1"),
                [d.run.run_id.as_str()],
            )?;
        }
    }
    for e in &experiments {
        let left: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM runs WHERE experiment_id = ?1 LIMIT 1",
                [e.experiment_id],
                |r| r.get(0),
            )
            .optional()?;
        if left.is_some() {
            return Err(StoreError::InvalidArgument(format!(
                "experiment '{}' still has runs after garbage collection",
                e.name
            )));
        }
        tx.execute(
            "DELETE FROM experiment_tags WHERE experiment_id = ?1",
            [e.experiment_id],
        )?;
        tx.execute(
            "DELETE FROM experiments WHERE experiment_id = ?1",
            params![e.experiment_id],
        )?;
    }
    Ok(Purged {
        runs: doomed.into_iter().map(|d| d.run).collect(),
        experiments,
        kept,
        artifact_errors: Vec::new(),
    })
}

/// Removes the artifact directories of what `purged` lists: each run's directory (the
/// `<run id>` directory holding `artifacts/`, or the artifact directory itself when it is laid
/// out otherwise), then each experiment's location if nothing is left in it. Failures are
/// collected in `purged.artifact_errors`.
pub(crate) fn remove_artifacts(purged: &mut Purged) {
    let mut errors = Vec::new();
    for run in &purged.runs {
        let artifacts = Path::new(&run.artifact_uri);
        let run_dir = match artifacts.parent() {
            Some(parent)
                if artifacts.file_name().is_some_and(|n| n == "artifacts")
                    && parent.file_name().is_some_and(|n| *n == *run.run_id) =>
            {
                parent
            }
            _ => artifacts,
        };
        match fs::remove_dir_all(run_dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => errors.push(format!("{}: {e}", run_dir.display())),
        }
    }
    for e in &purged.experiments {
        // only an empty directory: an experiment's location may be shared or chosen by the user
        let _ = fs::remove_dir(&e.artifact_location);
    }
    purged.artifact_errors = errors;
}
