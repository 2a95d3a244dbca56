//! `hpo worker --study NAME`: join a study started earlier with `hpo run`, from the run file and
//! settings stored with it, so a worker needs only the store's URI and the study's name.

use std::path::PathBuf;

use clap::Args;

use super::run::{run_file, RunArgs};
use super::BadInput;
use crate::runfile::RunFile;

/// Arguments of `worker`.
#[derive(Args, Debug)]
pub struct WorkerArgs {
    /// The study to join (its name, as `hpo run` printed it).
    #[arg(long)]
    pub study: String,
    /// The study's experiment (default: the study's name).
    #[arg(long, short)]
    pub experiment: Option<String>,
    /// Trials this worker evaluates at once (default: the run file's).
    #[arg(long)]
    pub parallelism: Option<usize>,
    /// Print the result as JSON on standard output.
    #[arg(long)]
    pub json: bool,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
    /// Do not start the MLflow server a command's trials log through.
    #[arg(long)]
    pub no_trial_server: bool,
}

pub(crate) fn worker(a: WorkerArgs, uri: &Option<String>) -> anyhow::Result<()> {
    let experiment = a.experiment.clone().unwrap_or_else(|| a.study.clone());
    let tracker = super::open_tracker_to_read(uri)?;
    let Some(exp) = tracker.get_experiment_by_name(&experiment)? else {
        return Err(BadInput(format!(
            "no experiment '{experiment}' in this store: start the study with `hpo run FILE` first (--experiment names another experiment)"
        ))
        .into());
    };
    let Some((spec, active)) =
        super::shared_study::stored_spec(&tracker, exp.experiment_id, &a.study)?
    else {
        return Err(BadInput(format!(
            "no study '{}' in experiment '{experiment}': start it with `hpo run FILE` first",
            a.study
        ))
        .into());
    };
    drop(tracker);
    if !active {
        // the study's result may be left to write by a worker that was lost
        let tracker = super::open_tracker(uri)?;
        super::shared_study::finish_orphaned(&tracker, &spec.experiment, &a.study);
        eprintln!(
            "study '{}' has ended; nothing to do (continue it with `hpo run FILE --resume`)",
            a.study
        );
        return Ok(());
    }
    // relative paths in the file are relative to where it was; here when that is not on this machine
    let stored = PathBuf::from(&spec.path);
    let path = match stored.parent().is_some_and(|d| d.is_dir()) {
        true => stored,
        false => PathBuf::from(stored.file_name().unwrap_or_default()),
    };
    let rf = RunFile::parse(&spec.run_file, &path)
        .map_err(|e| BadInput(format!("the run file stored with study '{}': {e}", a.study)))?;
    let args = RunArgs {
        file: path,
        max_evals: None,
        algo: Some(spec.algo.clone()),
        parallelism: a.parallelism,
        seed: spec.seed,
        experiment: Some(spec.experiment.clone()),
        resume: false,
        json: a.json,
        quiet: a.quiet,
        no_trial_server: a.no_trial_server,
    };
    run_file(rf, &spec.run_file, args, uri)
}
