//! Trials as MLflow clients: `hpo run` serves MLflow's REST API on a loopback port for the study
//! and hands each trial's process `MLFLOW_TRACKING_URI`, `MLFLOW_RUN_ID` and
//! `MLFLOW_EXPERIMENT_ID`, so an unmodified MLflow script logs into its own trial run.
//!
//! While a trial runs, its run is *owned* by hpo ([`TrialFeeds`]): the metrics the script logs
//! through the server are fed to the trial as its learning curve (recorded and watched by the
//! pruner exactly like `{"step": ...}` lines on standard output), and status changes the client
//! asks for (`start_run` sets RUNNING, `end_run` FINISHED) are ignored: hpo ends the run.

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// A metric a trial's process logged through the server.
#[derive(Clone, Debug, PartialEq)]
pub struct FedMetric {
    /// The metric's key.
    pub key: String,
    /// Its value.
    pub value: f64,
    /// The step it was logged at.
    pub step: i64,
}

/// The trial runs hpo owns while their processes run, each with the channel its metrics go to.
#[derive(Clone, Default)]
pub struct TrialFeeds {
    runs: Arc<Mutex<HashMap<String, mpsc::Sender<FedMetric>>>>,
}

impl std::fmt::Debug for TrialFeeds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TrialFeeds")
    }
}

impl TrialFeeds {
    /// No run owned yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether hpo owns `run_id` now (a trial's process is running in it).
    pub fn owns(&self, run_id: &str) -> bool {
        self.runs.lock().is_ok_and(|r| r.contains_key(run_id))
    }

    /// Hands `metrics` to the trial running in `run_id`; false (and nothing sent) when hpo does
    /// not own that run, so the caller records them itself.
    pub fn forward(&self, run_id: &str, metrics: Vec<FedMetric>) -> bool {
        let Ok(runs) = self.runs.lock() else {
            return false;
        };
        let Some(tx) = runs.get(run_id) else {
            return false;
        };
        for m in metrics {
            // the trial drains its channel until the claim is dropped, which unregisters it first
            let _ = tx.send(m);
        }
        true
    }

    /// Owns `run_id` until the returned claim is dropped.
    pub(crate) fn claim(&self, run_id: &str) -> Claim {
        let (tx, rx) = mpsc::channel();
        if let Ok(mut runs) = self.runs.lock() {
            runs.insert(run_id.to_string(), tx);
        }
        Claim {
            feeds: self.clone(),
            run_id: run_id.to_string(),
            rx,
        }
    }
}

/// A trial run owned by hpo while its process runs.
pub(crate) struct Claim {
    feeds: TrialFeeds,
    run_id: String,
    rx: mpsc::Receiver<FedMetric>,
}

impl Claim {
    /// The metrics received since the last call.
    pub(crate) fn drain(&self) -> Vec<FedMetric> {
        self.rx.try_iter().collect()
    }

    /// Gives the run back (later requests record into it directly) and returns what was still
    /// queued.
    pub(crate) fn release(self) -> Vec<FedMetric> {
        if let Ok(mut runs) = self.feeds.runs.lock() {
            runs.remove(&self.run_id);
        }
        self.drain()
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Ok(mut runs) = self.feeds.runs.lock() {
            runs.remove(&self.run_id);
        }
    }
}

/// Where a study's trials log as MLflow clients: the server's URL, the study's experiment and
/// the runs hpo owns.
#[derive(Clone, Debug)]
pub struct MlflowLink {
    /// The server's URL (`http://127.0.0.1:PORT`), given as `MLFLOW_TRACKING_URI`.
    pub tracking_uri: String,
    /// The study's experiment, given as `MLFLOW_EXPERIMENT_ID`.
    pub experiment_id: String,
    /// The trial runs hpo owns; the server consults them.
    pub feeds: TrialFeeds,
}
