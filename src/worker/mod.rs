//! A study shared by many processes, joined with one call: on one machine through one SQLite
//! file, on many through PostgreSQL (the protocol is in [`crate::tracking::shared`]).
//!
//! Every process runs the same code: [`Join`] finds the *active* study of that name in the
//! experiment (or registers it), and [`Worker::attach`] plugs this process's part of it into an
//! [`Fmin`]: trial numbers and the budget come from the store, the other workers' trials are in
//! the history the algorithm sees, and every trial is a child run of the one study run. This is
//! what `hpo run` and `hpo worker` do.
//!
//! ```no_run
//! use hpo::tracking::Tracker;
//! use hpo::{hp, Fmin, ParamError, Params, Space, Tpe};
//!
//! let space = Space::from_params([hp::uniform("x", -5.0, 5.0)]).unwrap();
//! let tracker = Tracker::open("postgresql://postgres@127.0.0.1:5432/test").unwrap();
//! // started on every machine: they all share one 200-trial study
//! let worker = hpo::worker::Join::new(&tracker, "tuning", &space)
//!     .max_evals(200)
//!     .join()
//!     .unwrap();
//! let objective = |p: &Params| -> Result<f64, ParamError> { Ok(p.f64("x")?.powi(2)) };
//! let result = worker
//!     .attach(Fmin::new(objective, &space).algo(Tpe::default()).parallelism(4))
//!     .run()
//!     .unwrap();
//! println!("this worker ran {} of the study's trials", result.trials.len());
//! ```

mod orphan;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::space::Space;
use crate::study::{Fmin, Objective};
use crate::tracking::shared::{
    worker_name, NewSharedStudy, SharedStudy, SharedStudyOptions, StudyBoard,
};
use crate::tracking::{
    ExperimentId, Recorder, RecorderHandle, RunId, StoreError, Tracker, TrackingError,
};

pub use orphan::TakenOver;

/// What went wrong joining a shared study.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The store failed.
    #[error(transparent)]
    Tracking(#[from] TrackingError),
    /// The store cannot share a study between processes (e.g. a remote tracking server).
    #[error("this store cannot share a study between processes: {0}")]
    NotShared(StoreError),
    /// The active study of this name runs another search space.
    #[error(
        "study '{study}' (run {run_id}) is running with another search space{from}; give this \
         study another name or join it once that one ends"
    )]
    OtherSpace {
        /// The study's name.
        study: String,
        /// Its run.
        run_id: RunId,
        /// Where its space came from (` (from FILE)`), if known.
        from: String,
    },
    /// `resume`: another study of this name is active in the experiment.
    #[error("another study named '{study}' is running in this experiment")]
    AnotherActive {
        /// The study's name.
        study: String,
    },
    /// The study was registered by another worker, whose run did not appear in time.
    #[error(
        "the study's run {run_id} was registered by another worker but not created within {} s",
        waited.as_secs()
    )]
    RunNotCreated {
        /// The study's run.
        run_id: RunId,
        /// How long this worker waited.
        waited: Duration,
    },
}

impl From<StoreError> for WorkerError {
    fn from(e: StoreError) -> Self {
        WorkerError::Tracking(e.into())
    }
}

/// How long a worker waits for the run of a study another worker registered a moment ago.
const RUN_WAIT: Duration = Duration::from_secs(30);

/// Reads a study's search space and loss metric back from what its first worker stored (see
/// [`Join::spec`]); `None` when it cannot.
pub type SpecReader = fn(&str) -> Option<StoredStudy>;

/// A study's search space and metric as read from its stored settings by a [`SpecReader`].
pub struct StoredStudy {
    /// The search space.
    pub space: Space,
    /// The metric its trials' losses are logged under.
    pub metric: String,
    /// Where it was read from (a run file's path), for messages.
    pub source: Option<String>,
}

/// Joins the active study of a name in an experiment, or registers it (see the
/// [module](self)).
pub struct Join<'a> {
    tracker: &'a Tracker,
    study: String,
    experiment: Option<String>,
    space: &'a Space,
    max_evals: usize,
    retries: usize,
    metric: String,
    prune_metric: Option<String>,
    spec: String,
    spec_reader: Option<SpecReader>,
    resume: bool,
}

impl<'a> Join<'a> {
    /// The study named `study` over `space`, in the experiment of the same name, through
    /// `tracker`'s store; a budget of 100 trials, no retries, loss metric `loss`.
    pub fn new(tracker: &'a Tracker, study: &str, space: &'a Space) -> Self {
        Join {
            tracker,
            study: study.to_string(),
            experiment: None,
            space,
            max_evals: 100,
            retries: 0,
            metric: "loss".into(),
            prune_metric: None,
            spec: "{}".into(),
            spec_reader: None,
            resume: false,
        }
    }

    /// The experiment (default: the study's name).
    pub fn experiment(mut self, name: &str) -> Self {
        self.experiment = Some(name.to_string());
        self
    }

    /// The study's budget across all its workers, when this worker registers it (a worker
    /// joining a registered study uses that study's budget: [`Worker::max_evals`]).
    pub fn max_evals(mut self, n: usize) -> Self {
        self.max_evals = n;
        self
    }

    /// How many times a trial whose worker was lost runs again with the same params.
    pub fn retries(mut self, n: usize) -> Self {
        self.retries = n;
        self
    }

    /// The metric each trial's loss is logged under (default `loss`).
    pub fn metric(mut self, name: &str) -> Self {
        self.metric = name.to_string();
        self
    }

    /// The metric the study's pruner watches: other workers' curves of it are read from the
    /// store when their trials end.
    pub fn prune_metric(mut self, name: &str) -> Self {
        self.prune_metric = Some(name.to_string());
        self
    }

    /// What another worker needs to run the study, stored with it when this worker registers
    /// it (`hpo run` stores the run file; `hpo worker` reads it back), and how to read a
    /// stored study's space and metric back (to refuse joining with another space, and to
    /// write the result of a study whose last worker was lost). Without a reader, a study of
    /// this name is taken to run this worker's space and metric.
    pub fn spec(mut self, spec: &str, reader: SpecReader) -> Self {
        self.spec = spec.to_string();
        self.spec_reader = Some(reader);
        self
    }

    /// Make the latest study of this name active again (with this budget of trials present in
    /// it) instead of registering a new one once it ended.
    pub fn resume(mut self, yes: bool) -> Self {
        self.resume = yes;
        self
    }

    /// Joins: see the [module](self). The result of a study of this name that ended while its
    /// last worker was lost is written first ([`Worker::taken_over`]).
    pub fn join(self) -> Result<Worker, WorkerError> {
        let board = self
            .tracker
            .store()
            .study_board()
            .map_err(WorkerError::NotShared)?;
        let experiment = self
            .experiment
            .clone()
            .unwrap_or_else(|| self.study.clone());
        let recorder = Recorder::new(self.tracker, &experiment)?
            .study_name(&self.study)
            .metric(&self.metric);
        let experiment_id = recorder.experiment_id();
        let taken_over = orphan::take_over(
            self.tracker,
            &board,
            experiment_id,
            &experiment,
            &self.study,
            &|spec| self.stored(spec),
        );
        let new = NewSharedStudy {
            study_run_id: crate::tracking::sqlite::new_run_id(),
            max_evals: self.max_evals as i64,
            retries: self.retries as i64,
            spec: self.spec.clone(),
        };
        if self.resume {
            self.reopen(&*board, experiment_id)?;
        }
        let (row, created) = board.join(experiment_id, &self.study, &new)?;
        if !created {
            if let Some(theirs) = self.spec_reader.and_then(|read| read(&row.spec)) {
                if theirs.space.root() != self.space.root() {
                    return Err(WorkerError::OtherSpace {
                        study: self.study.clone(),
                        run_id: row.study_run_id.clone(),
                        from: theirs
                            .source
                            .map(|s| format!(" (from {s})"))
                            .unwrap_or_default(),
                    });
                }
            }
            wait_for_run(self.tracker, &row.study_run_id)?;
        }
        let id = row.study_run_id.clone();
        let recorder = match created {
            true => recorder.study_run_id(&id),
            false => recorder.resume(&id, Default::default()),
        };
        let coordinator = SharedStudy::new(
            board,
            &id,
            &worker_name(),
            self.space,
            self.tracker,
            Some(recorder.handle()),
            SharedStudyOptions {
                prune_metric: self.prune_metric.clone(),
                ..SharedStudyOptions::default()
            },
        );
        let recorder = recorder.shared(coordinator.closer());
        Ok(Worker {
            study_run_id: id,
            created,
            max_evals: usize::try_from(row.max_evals).unwrap_or(0),
            taken_over,
            recorder,
            coordinator,
        })
    }

    /// The space and metric of a study stored with `spec`: the reader's, else this worker's.
    fn stored(&self, spec: &str) -> Option<StoredStudy> {
        match self.spec_reader {
            Some(read) => read(spec),
            None => Some(StoredStudy {
                space: self.space.clone(),
                metric: self.metric.clone(),
                source: None,
            }),
        }
    }

    /// `resume`: the latest study of this name is made active again with the new budget,
    /// without the trials whose runs were deleted since.
    fn reopen(
        &self,
        board: &dyn StudyBoard,
        experiment_id: ExperimentId,
    ) -> Result<(), WorkerError> {
        let Some(row) = board.find(experiment_id, &self.study)? else {
            return Ok(());
        };
        let live: std::collections::HashSet<String> = self
            .tracker
            .child_run_ids(&row.study_run_id)?
            .into_iter()
            .collect();
        let (rows, _) = board.changes(&row.study_run_id, 0)?;
        let gone: Vec<i64> = rows
            .iter()
            .filter(|t| t.state != "RUNNING")
            .filter(|t| t.run_id.as_ref().is_none_or(|r| !live.contains(r)))
            .map(|t| t.number)
            .collect();
        board.forget(&row.study_run_id, &gone)?;
        if !board.reactivate(&row.study_run_id, self.max_evals as i64)? {
            return Err(WorkerError::AnotherActive {
                study: self.study.clone(),
            });
        }
        Ok(())
    }
}

/// Waits until the run of a study registered by another worker exists (it creates it right
/// after registering).
fn wait_for_run(tracker: &Tracker, run_id: &str) -> Result<(), WorkerError> {
    let start = Instant::now();
    while tracker.get_run(run_id).is_err() {
        if start.elapsed() >= RUN_WAIT {
            return Err(WorkerError::RunNotCreated {
                run_id: run_id.to_string(),
                waited: start.elapsed(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// This process's part of a shared study (see [`Join`]).
pub struct Worker {
    study_run_id: RunId,
    created: bool,
    max_evals: usize,
    taken_over: Option<TakenOver>,
    recorder: Recorder,
    coordinator: SharedStudy,
}

impl Worker {
    /// The study's run (the parent of every trial's run).
    pub fn study_run_id(&self) -> &str {
        &self.study_run_id
    }

    /// Whether this worker registered the study (and creates its run).
    pub fn created(&self) -> bool {
        self.created
    }

    /// The study's budget across all its workers.
    pub fn max_evals(&self) -> usize {
        self.max_evals
    }

    /// The result of an earlier study of this name whose last worker was lost before writing
    /// it, which this worker wrote (or failed to write) when it joined.
    pub fn taken_over(&self) -> Option<&TakenOver> {
        self.taken_over.as_ref()
    }

    /// A handle to read the run ids and recording errors after the study.
    pub fn recorder_handle(&self) -> RecorderHandle {
        self.recorder.handle()
    }

    /// The recorder (the study's and trials' runs) and the coordinator (numbers, other
    /// workers' trials), to plug into an [`Fmin`] by hand; [`Worker::attach`] does it.
    pub fn into_parts(self) -> (Recorder, SharedStudy) {
        (self.recorder, self.coordinator)
    }

    /// `fmin` running this worker's part of the study: the study's budget, its coordinator
    /// and its recorder.
    pub fn attach<'f, O: Objective>(self, fmin: Fmin<'f, O>) -> Fmin<'f, O> {
        fmin.max_evals(self.max_evals)
            .coordinator(self.coordinator)
            .observer(self.recorder)
    }
}

/// Writes the result of the latest study named `study` in the experiment if it ended while its
/// last worker was lost before writing it (`read` gives its space and metric from its stored
/// settings), without joining anything: what `hpo worker` does for a study that ended.
pub fn finish_orphaned(
    tracker: &Tracker,
    board: &Arc<dyn StudyBoard>,
    experiment_id: ExperimentId,
    experiment: &str,
    study: &str,
    read: SpecReader,
) -> Option<TakenOver> {
    orphan::take_over(tracker, board, experiment_id, experiment, study, &read)
}
