//! `hpo experiments list|create|delete|restore`.

use clap::Subcommand;

use super::output::{json, table, time};
use super::{open_tracker, open_tracker_to_read, BadInput};
use crate::tracking::{Experiment, Tracker, ViewType};

/// Experiment commands.
#[derive(Subcommand, Debug)]
pub enum ExperimentsCommand {
    /// List experiments (active ones unless asked).
    List {
        /// Show deleted experiments too.
        #[arg(long)]
        all: bool,
        /// Show only deleted experiments.
        #[arg(long, conflicts_with = "all")]
        deleted: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create an experiment.
    Create {
        /// Its unique name.
        name: String,
    },
    /// Delete an experiment (and its runs); it can be restored.
    Delete {
        /// Name or id.
        experiment: String,
    },
    /// Restore a deleted experiment.
    Restore {
        /// Name or id.
        experiment: String,
    },
}

/// An experiment by name, or by id when no name matches.
pub(crate) fn find(tracker: &Tracker, name_or_id: &str) -> anyhow::Result<Experiment> {
    if let Some(e) = tracker.get_experiment_by_name(name_or_id)? {
        return Ok(e);
    }
    if let Ok(id) = name_or_id.parse() {
        if let Ok(e) = tracker.get_experiment(id) {
            return Ok(e);
        }
    }
    let names: Vec<String> = tracker
        .list_experiments(ViewType::All)?
        .into_iter()
        .map(|e| e.name)
        .collect();
    Err(BadInput(format!(
        "no experiment named '{name_or_id}'; experiments: {}",
        if names.is_empty() {
            "(none)".into()
        } else {
            names.join(", ")
        }
    ))
    .into())
}

pub(crate) fn run(cmd: ExperimentsCommand, uri: &Option<String>) -> anyhow::Result<()> {
    // only `create` may create the store
    let tracker = if matches!(cmd, ExperimentsCommand::Create { .. }) {
        open_tracker(uri)?
    } else {
        open_tracker_to_read(uri)?
    };
    match cmd {
        ExperimentsCommand::List {
            all,
            deleted,
            json: as_json,
        } => {
            let view = if all {
                ViewType::All
            } else if deleted {
                ViewType::DeletedOnly
            } else {
                ViewType::ActiveOnly
            };
            let exps = tracker.list_experiments(view)?;
            if as_json {
                return json(&exps);
            }
            let rows: Vec<Vec<String>> = exps
                .iter()
                .map(|e| {
                    vec![
                        e.experiment_id.to_string(),
                        e.name.clone(),
                        e.lifecycle_stage.as_str().to_string(),
                        time(e.creation_time),
                        time(e.last_update_time),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(&["ID", "NAME", "STAGE", "CREATED", "UPDATED"], &rows)
            );
        }
        ExperimentsCommand::Create { name } => {
            let id = tracker.create_experiment(&name)?;
            println!("created experiment '{name}' (id {id})");
        }
        ExperimentsCommand::Delete { experiment } => {
            let e = find(&tracker, &experiment)?;
            tracker.delete_experiment(e.experiment_id)?;
            println!("deleted experiment '{}' (id {})", e.name, e.experiment_id);
        }
        ExperimentsCommand::Restore { experiment } => {
            let e = find(&tracker, &experiment)?;
            tracker.restore_experiment(e.experiment_id)?;
            println!("restored experiment '{}' (id {})", e.name, e.experiment_id);
        }
    }
    Ok(())
}
