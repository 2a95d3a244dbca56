//! The MLflow server `hpo run` starts for a command objective's trials: on a loopback
//! ephemeral port, in this process, over the study's own store; stopped when the study ends
//! (also after Ctrl-C), in-flight requests finished and queued writes committed.

use std::sync::{Arc, OnceLock};

use crate::objective::command::{MlflowLink, TrialFeeds};
use crate::tracking::Tracker;
use crate::ui::{RunningServer, UiOptions, UiServer};

/// Threads running the store calls of a study's trials (they log a few calls each).
const WORKERS: usize = 4;

/// Starts the server and fills `slot`, so trials started from now on log through it.
pub(crate) fn start(
    tracker: &Tracker,
    experiment: &str,
    slot: &Arc<OnceLock<MlflowLink>>,
) -> anyhow::Result<RunningServer> {
    let experiment_id = tracker
        .get_experiment_by_name(experiment)?
        .map(|e| e.experiment_id.to_string())
        .ok_or_else(|| anyhow::anyhow!("experiment '{experiment}' vanished from the store"))?;
    let feeds = TrialFeeds::new();
    let server = UiServer::bind(
        ("127.0.0.1", 0),
        tracker.clone(),
        UiOptions {
            read_only: false,
            token: None,
        },
    )
    .map_err(|e| anyhow::anyhow!("cannot start the trials' MLflow server on 127.0.0.1: {e}"))?
    .workers(WORKERS)
    .trial_feeds(feeds.clone())
    .spawn();
    let _ = slot.set(MlflowLink {
        tracking_uri: format!("http://{}", server.addr()),
        experiment_id,
        feeds,
    });
    Ok(server)
}
