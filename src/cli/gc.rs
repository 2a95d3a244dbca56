//! `hpo gc`: permanently remove deleted runs and experiments and their artifacts.

use std::time::Duration;

use clap::Args;

use super::output::json;
use super::{open_tracker, BadInput};
use crate::runfile::parse_duration;

/// Arguments of `gc`.
#[derive(Args, Debug)]
pub struct GcArgs {
    /// Only what was deleted longer ago than this: "30d", "12h", "1h30m", "90s".
    #[arg(long)]
    pub older_than: Option<String>,
    /// Print what was removed as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A duration with days (`30d`, `1.5d`) besides the run file's units (h, m, s, ms).
fn parse_age(text: &str) -> Result<Duration, String> {
    if let Some(days) = text.trim().strip_suffix('d') {
        if let Ok(days) = days.trim().parse::<f64>() {
            return match Duration::try_from_secs_f64(days * 86_400.0) {
                Ok(d) if days > 0.0 => Ok(d),
                _ => Err(format!(
                    "invalid duration '{text}': the number of days must be positive and finite"
                )),
            };
        }
    }
    parse_duration(text).map_err(|e| format!("{e}, or a number of days such as \"30d\""))
}

pub(crate) fn gc(a: GcArgs, uri: &Option<String>) -> anyhow::Result<()> {
    let older_than = match &a.older_than {
        Some(t) => Some(parse_age(t).map_err(|e| BadInput(format!("--older-than: {e}")))?),
        None => None,
    };
    let tracker = open_tracker(uri)?;
    let purged = tracker.gc(older_than)?;
    if a.json {
        return json(&purged);
    }
    for r in &purged.runs {
        println!(
            "removed run {} '{}' (experiment {})",
            r.run_id, r.run_name, r.experiment_id
        );
    }
    for e in &purged.experiments {
        println!(
            "removed experiment '{}' (id {}); its name is free again",
            e.name, e.experiment_id
        );
    }
    for k in &purged.kept {
        println!(
            "kept deleted run {}: model version {} points to it (delete the version to remove it)",
            k.run_id,
            k.model_versions.join(", ")
        );
    }
    for e in &purged.artifact_errors {
        eprintln!("warning: could not remove artifacts {e}");
    }
    println!(
        "removed {} run{} and {} experiment{}",
        purged.runs.len(),
        if purged.runs.len() == 1 { "" } else { "s" },
        purged.experiments.len(),
        if purged.experiments.len() == 1 {
            ""
        } else {
            "s"
        }
    );
    Ok(())
}
