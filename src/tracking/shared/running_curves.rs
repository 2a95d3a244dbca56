//! [`RunningCurves`]: the [`CurveFeed`] of a shared study over its store: the trials other
//! workers run now (from the board's changes) and what their runs logged so far of the
//! pruner's watched metric.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::StudyBoard;
use crate::study::prune::{CurveFeed, CurveState, Curves};
use crate::tracking::curves::run_curve;
use crate::tracking::Tracker;

/// What the feed knows between reads.
#[derive(Default)]
struct Seen {
    /// The board version to read changes from.
    version: i64,
    /// Other workers' running trials: number -> run.
    running: BTreeMap<i64, String>,
}

/// The curves of the trials other workers of one study run now, read from the store.
pub struct RunningCurves {
    board: Arc<dyn StudyBoard>,
    study_run_id: String,
    worker: String,
    tracker: Tracker,
    metric: String,
    seen: Mutex<Seen>,
}

impl RunningCurves {
    /// The feed of worker `worker` (its own trials are left out) in the study whose run is
    /// `study_run_id` on `board`, reading `metric`'s history of each running trial's run
    /// through `tracker`.
    pub fn new(
        board: Arc<dyn StudyBoard>,
        study_run_id: &str,
        worker: &str,
        tracker: &Tracker,
        metric: &str,
    ) -> Self {
        RunningCurves {
            board,
            study_run_id: study_run_id.to_string(),
            worker: worker.to_string(),
            tracker: tracker.clone(),
            metric: metric.to_string(),
            seen: Mutex::new(Seen::default()),
        }
    }
}

impl CurveFeed for RunningCurves {
    fn running_elsewhere(&self) -> Curves {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        // a board out of reach: decide on the running trials known from the last read
        if let Ok((rows, next)) = self.board.changes(&self.study_run_id, seen.version) {
            seen.version = next;
            for row in rows {
                match row.run_id {
                    Some(run) if row.state == "RUNNING" && row.worker != self.worker => {
                        seen.running.insert(row.number, run);
                    }
                    _ => {
                        seen.running.remove(&row.number);
                    }
                }
            }
        }
        let mut curves = Curves::new();
        for (&number, run) in &seen.running {
            let (Ok(n), Ok(curve)) = (
                usize::try_from(number),
                run_curve(
                    &self.tracker,
                    run,
                    &self.metric,
                    CurveState::RunningElsewhere,
                ),
            ) else {
                continue;
            };
            if !curve.values.is_empty() {
                curves.insert(n, curve);
            }
        }
        curves
    }
}
