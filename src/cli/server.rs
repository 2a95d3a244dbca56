//! `hpo server`: the `hpo ui` server under MLflow's flag names, for MLflow clients
//! (`MLFLOW_TRACKING_URI=http://127.0.0.1:5000`).

use std::path::PathBuf;

use clap::{ArgAction, Args};

use super::ui::{serve, Serving};
use crate::tracking::Tracker;
use crate::ui::WORKERS;

/// Arguments of `hpo server` (MLflow's `mlflow server` flags; `-h` is the host, `--help` the help).
#[derive(Args, Debug)]
pub struct ServerArgs {
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// The tracking store (same as --tracking-uri, which it overrides).
    #[arg(long, value_name = "URI")]
    pub backend_store_uri: Option<String>,
    /// Address to listen on; anything but loopback exposes the store to the network.
    #[arg(short = 'h', long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(short = 'p', long, default_value_t = 5000)]
    pub port: u16,
    /// Threads running the store calls.
    #[arg(long, default_value_t = WORKERS)]
    pub workers: usize,
    /// Directory for the artifacts of new experiments (default: hpo-artifacts/ beside the database).
    #[arg(long, value_name = "DIR")]
    pub artifacts_destination: Option<String>,
    /// Proxy artifacts through this server: clients get mlflow-artifacts:/ locations (the default).
    #[arg(long, overrides_with = "no_serve_artifacts")]
    pub serve_artifacts: bool,
    /// Give clients the local artifact directories instead (clients on this machine only).
    #[arg(long)]
    pub no_serve_artifacts: bool,
    /// Refuse every change, through the UI and the MLflow API alike.
    #[arg(long)]
    pub read_only: bool,
}

pub(crate) fn run(args: ServerArgs, uri: &Option<String>) -> anyhow::Result<()> {
    if args.workers == 0 {
        return Err(super::BadInput("--workers must be at least 1".to_string()).into());
    }
    let uri = args.backend_store_uri.clone().or_else(|| uri.clone());
    let destination = args
        .artifacts_destination
        .as_deref()
        .map(|d| PathBuf::from(d.strip_prefix("file://").unwrap_or(d)));
    let tracker = match (&uri, &destination) {
        (_, None) => super::open_tracker(&uri)?,
        (Some(u), Some(d)) => Tracker::open_with_artifact_root(u, Some(d))?,
        (None, Some(d)) => {
            Tracker::open_with_artifact_root(&crate::tracking::default_tracking_uri(None), Some(d))?
        }
    };
    serve(
        "hpo server",
        tracker,
        &args.host,
        args.port,
        Serving {
            read_only: args.read_only,
            workers: args.workers,
            serve_artifacts: !args.no_serve_artifacts,
        },
    )
}
