//! The `hpo` command line: argument parsing, one file per subcommand, exit codes.
//!
//! Exit codes: 0 on success, 2 on bad input (a bad file, an unknown run or model, a bad filter,
//! bad arguments) with the reason on stderr, 1 on other failures.

mod artifacts;
mod bench;
mod exit;
mod experiments;
mod gc;
mod models;
mod output;
mod predict;
mod preflight;
mod progress;
mod quote;
mod recording;
mod resume;
mod run;
mod runs;
mod server;
mod shared_study;
mod signals;
mod space_json;
mod trial_server;
mod ui;
mod worker;

use clap::{Parser, Subcommand};

use crate::tracking::Tracker;

pub use exit::{exit_code, BadInput};

/// hpo: hyperparameter optimization with experiment tracking built in.
#[derive(Parser, Debug)]
#[command(name = "hpo", version, about, long_about = None)]
pub struct Cli {
    /// Tracking store: sqlite:///relative.db, sqlite:////absolute.db, a path,
    /// postgresql://user@host:port/db, or a tracking server (hpo server, mlflow server) at
    /// http://host:port (default ./hpo.db; MLFLOW_TRACKING_URI is used when neither this nor
    /// HPO_TRACKING_URI is set).
    #[arg(long, global = true, env = "HPO_TRACKING_URI")]
    pub tracking_uri: Option<String>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a study from a run file: every trial a nested run, progress, the best params.
    Run(run::RunArgs),
    /// Join a study started earlier with `hpo run` (on this or another machine) as one more
    /// worker, from the run file stored with it.
    Worker(worker::WorkerArgs),
    /// Check a run file and print the parsed space.
    Validate(run::ValidateArgs),
    /// Experiments: list, create, delete, restore.
    #[command(subcommand)]
    Experiments(experiments::ExperimentsCommand),
    /// Runs: list (trials under their study), show, delete, restore.
    #[command(subcommand)]
    Runs(runs::RunsCommand),
    /// The best finished run of an experiment by its metric.
    Best(runs::BestArgs),
    /// A run's artifacts: list, get.
    #[command(subcommand)]
    Artifacts(artifacts::ArtifactsCommand),
    /// Register a run, or the best trial of a study or experiment, as a model version.
    Register(models::RegisterArgs),
    /// Registered models: list, show, alias, stage, describe, delete.
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// Predict with a registered model fitted by a linfa trial, on a CSV file.
    Predict(predict::PredictArgs),
    Bench(bench::BenchArgs),
    /// Serve the web interface to experiments, runs and models.
    Ui(ui::UiArgs),
    /// Permanently remove deleted runs and experiments, their data and artifacts.
    Gc(gc::GcArgs),
    /// Serve MLflow's REST API (and the web interface) so MLflow clients log into hpo.
    #[command(disable_help_flag = true)]
    Server(server::ServerArgs),
}

/// MLflow's tracking URI variable, honoured when `--tracking-uri` and `HPO_TRACKING_URI` are unset.
pub const MLFLOW_TRACKING_URI_ENV: &str = "MLFLOW_TRACKING_URI";

/// The store URI: the flag or `HPO_TRACKING_URI` (already in `given`), else `MLFLOW_TRACKING_URI`.
fn tracking_uri(given: Option<String>) -> Option<String> {
    given.filter(|u| !u.trim().is_empty()).or_else(|| {
        std::env::var(MLFLOW_TRACKING_URI_ENV)
            .ok()
            .filter(|u| !u.trim().is_empty())
    })
}

/// Open the tracking store the user asked for (flag, environment, or ./hpo.db), for a command
/// that writes: the store is created if missing; a read-only URI (`mode=ro`) is refused.
pub(crate) fn open_tracker(uri: &Option<String>) -> anyhow::Result<Tracker> {
    let text = uri.clone().unwrap_or_else(|| {
        crate::tracking::default_tracking_uri(
            std::env::var(crate::tracking::TRACKING_URI_ENV)
                .ok()
                .as_deref(),
        )
    });
    if crate::tracking::uri_is_read_only(&text) {
        return Err(BadInput(format!(
            "the tracking URI '{text}' is read-only (mode=ro), and this command writes to the store; drop ?mode=ro"
        ))
        .into());
    }
    Ok(Tracker::open(&text)?)
}

/// Open the tracking store for a command that only reads: it must exist ("no store at PATH",
/// exit 2, nothing created), and is opened read-only when it cannot be written.
pub(crate) fn open_tracker_to_read(uri: &Option<String>) -> anyhow::Result<Tracker> {
    Ok(match uri {
        Some(u) => Tracker::open_existing(u)?,
        None => Tracker::open_existing_default()?,
    })
}

/// For commands that print and end (`runs list | head`): a closed standard output ends the
/// process quietly, as it does other Unix tools, instead of a panic in `println!`. Rust ignores
/// SIGPIPE by default; this restores the default action. Not for `run`, `bench` and `ui`, which
/// talk to other processes and sockets and must outlive a closed pipe.
fn quiet_on_closed_pipe() {
    // SAFETY: setting a signal's disposition to its default has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Run the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    if !matches!(
        cli.command,
        Command::Run(_) | Command::Worker(_) | Command::Ui(_) | Command::Bench(_)
    ) {
        quiet_on_closed_pipe();
    }
    match dispatch(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            exit_code(&e)
        }
    }
}

fn dispatch(mut cli: Cli) -> anyhow::Result<()> {
    cli.tracking_uri = tracking_uri(cli.tracking_uri.take());
    match cli.command {
        Command::Run(a) => run::run(a, &cli.tracking_uri),
        Command::Worker(a) => worker::worker(a, &cli.tracking_uri),
        Command::Validate(a) => run::validate(a),
        Command::Experiments(c) => experiments::run(c, &cli.tracking_uri),
        Command::Runs(c) => runs::run(c, &cli.tracking_uri),
        Command::Best(a) => runs::best(a, &cli.tracking_uri),
        Command::Artifacts(c) => artifacts::run(c, &cli.tracking_uri),
        Command::Register(a) => models::register(a, &cli.tracking_uri),
        Command::Models(c) => models::run(c, &cli.tracking_uri),
        Command::Predict(a) => predict::predict(a, &cli.tracking_uri),
        Command::Bench(a) => bench::run(a, &cli.tracking_uri),
        Command::Ui(a) => ui::run(a, &cli.tracking_uri),
        Command::Gc(a) => gc::gc(a, &cli.tracking_uri),
        Command::Server(a) => server::run(a, &cli.tracking_uri),
    }
}
