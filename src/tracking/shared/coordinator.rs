//! [`SharedStudy`]: the [`Coordinator`] of a study shared through a [`StudyBoard`], plus the
//! lease renewal thread and the [`StudyCloser`] the recorder asks at the study's end.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{
    worker_is_dead_here, ClaimedTrial, RunningCurves, StudyBoard, TrialEnd, TrialRow, LEASE_TTL,
    WORKER_LOST,
};
use crate::space::{Params, Space, Value};
use crate::study::prune::{CurveFeed, Curves, TrialCurve};
use crate::study::{Claim, Coordinator, StopReason};
use crate::tracking::curves::run_curve;
use crate::tracking::recorder::{RecorderHandle, TAG_FAILURE_REASON, TAG_TRIAL_NUMBER};
use crate::tracking::retry::retrying;
use crate::tracking::store::now_ms;
use crate::tracking::store::TAG_PARENT_RUN_ID;
use crate::tracking::{RunStatus, RunTag, RunsQuery, StoreError, Tracker};
use crate::trial::{epoch_millis, Trial, TrialState, FORECAST};

/// Settings of a [`SharedStudy`].
#[derive(Clone, Debug)]
pub struct SharedStudyOptions {
    /// How long a trial's lease lasts without renewal.
    pub lease_ttl: Duration,
    /// How long a call to the store is retried while the store is out of reach (a database
    /// restart, a network cut) before the worker gives up.
    pub retry_for: Duration,
    /// How often the worker looks for trials whose worker was lost.
    pub reap_every: Duration,
    /// The metric the study's pruner watches: the curves of other workers' trials are read
    /// from the store for it, once they end and, while they run, at most once per
    /// `running_curves_every` (`None`: no pruner, nothing read).
    pub prune_metric: Option<String>,
    /// How often at most the pruner reads the curves of trials running on other workers.
    pub running_curves_every: Duration,
}

impl Default for SharedStudyOptions {
    fn default() -> Self {
        SharedStudyOptions {
            lease_ttl: LEASE_TTL,
            retry_for: Duration::from_secs(600),
            reap_every: Duration::from_secs(1),
            prune_metric: None,
            running_curves_every: Duration::from_millis(500),
        }
    }
}

/// One worker's view of a shared study: implements [`Coordinator`] for
/// [`Fmin::coordinator`](crate::Fmin::coordinator).
pub struct SharedStudy {
    board: Arc<dyn StudyBoard>,
    study_run_id: String,
    worker: String,
    space: Space,
    tracker: Tracker,
    recorder: Option<RecorderHandle>,
    opts: SharedStudyOptions,
    /// The version to read changes from.
    version: i64,
    /// Trials this worker runs now (their leases are renewed).
    running: Arc<Mutex<BTreeSet<i64>>>,
    /// Every trial this worker claimed.
    own: BTreeSet<i64>,
    /// Other workers' trials running as of the last sync.
    others_running: BTreeSet<i64>,
    last_reap: Option<Instant>,
    heartbeat: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
    /// Curves of other workers' trials read since the pruner last took them.
    curves: Curves,
    /// The last row of each other worker's trial that a sync handled: the board's changes
    /// overlap (a row is read again while an older transaction was still running), and a row
    /// read again unchanged is skipped instead of parsed and merged again.
    handled: HashMap<i64, TrialRow>,
    /// The number claimed with the last trial's start, for the next trial (see
    /// [`CLAIM_AHEAD_BELOW`]).
    ahead: Option<ClaimedTrial>,
    /// Whether this worker's last trial took less than [`CLAIM_AHEAD_BELOW`].
    quick: bool,
}

/// A worker claims the next trial's number with a trial's start, in the same transaction (on
/// a board that can, see [`StudyBoard::claims_with_start`]), while its trials take less than
/// this and no other worker's trial is running: quick trials then cost one commit each instead
/// of two. Longer trials gain nothing from it, and a number held while a long trial runs could
/// keep another worker idle at the end of the budget.
pub const CLAIM_AHEAD_BELOW: Duration = Duration::from_secs(1);

impl std::fmt::Debug for SharedStudy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStudy")
            .field("study_run_id", &self.study_run_id)
            .field("worker", &self.worker)
            .finish()
    }
}

/// A trial's params as the board keeps them: hyperopt-style raw values, JSON.
pub fn params_json(params: &Params) -> String {
    serde_json::to_string(&params.raw()).unwrap_or_else(|_| "{}".into())
}

/// Params read back from the board, if they fit `space`.
pub fn params_from_json(space: &Space, json: &str) -> Option<Params> {
    let raw: BTreeMap<String, Value> = serde_json::from_str(json).ok()?;
    let a = space.assignment_from_raw(&raw).ok()?;
    Some(space.params_of(a))
}

/// The board's name of a trial state.
pub fn state_name(state: TrialState) -> &'static str {
    match state {
        TrialState::Running => "RUNNING",
        TrialState::Ok => "OK",
        TrialState::Failed => "FAILED",
        TrialState::Killed => "KILLED",
        TrialState::Pruned => "PRUNED",
    }
}

fn state_of(name: &str) -> TrialState {
    match name {
        "OK" => TrialState::Ok,
        "KILLED" => TrialState::Killed,
        "PRUNED" => TrialState::Pruned,
        "RUNNING" => TrialState::Running,
        _ => TrialState::Failed,
    }
}

fn time_of(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

/// A board row as a trial of `space` (`None` before its params are known, or if they do not
/// fit).
pub fn trial_of(space: &Space, row: &TrialRow) -> Option<Trial> {
    let params = params_from_json(space, row.params.as_deref()?)?;
    let number = usize::try_from(row.number).ok()?;
    Some(Trial {
        number,
        params,
        state: state_of(&row.state),
        loss: row.loss,
        last_step: row.last_step,
        metrics: BTreeMap::new(),
        message: row.message.clone(),
        started: time_of(row.started_ms),
        ended: row.ended_ms.map(time_of),
    })
}

impl SharedStudy {
    /// This worker (`worker`, see [`super::worker_name`]) in the study whose run is
    /// `study_run_id`, over `space`. `tracker` marks the runs of lost trials FAILED;
    /// `recorder`, when given, learns the other workers' trial runs. `board` is the study board
    /// of `tracker`'s store (`tracker.store().study_board()`): a board that carries the store's
    /// queued writes commits the trial's run with the trial's start and end.
    pub fn new(
        board: Arc<dyn StudyBoard>,
        study_run_id: &str,
        worker: &str,
        space: &Space,
        tracker: &Tracker,
        recorder: Option<RecorderHandle>,
        opts: SharedStudyOptions,
    ) -> SharedStudy {
        let running = Arc::new(Mutex::new(BTreeSet::new()));
        let heartbeat = start_heartbeat(
            board.clone(),
            study_run_id.to_string(),
            worker.to_string(),
            running.clone(),
            opts.lease_ttl,
        );
        SharedStudy {
            board,
            study_run_id: study_run_id.to_string(),
            worker: worker.to_string(),
            space: space.clone(),
            tracker: tracker.clone(),
            recorder,
            opts,
            version: 0,
            running,
            own: BTreeSet::new(),
            others_running: BTreeSet::new(),
            last_reap: None,
            heartbeat,
            curves: Curves::new(),
            handled: HashMap::new(),
            ahead: None,
            quick: false,
        }
    }

    /// What the recorder asks at the study's end (see [`StudyCloser`]).
    pub fn closer(&self) -> StudyCloser {
        StudyCloser {
            board: self.board.clone(),
            study_run_id: self.study_run_id.clone(),
            worker: self.worker.clone(),
            space: self.space.clone(),
            recorder: self.recorder.clone(),
            retry_for: self.opts.retry_for,
            taken_over: false,
        }
    }

    /// Calls `f` with the board, this study's run id and this worker's name, again while the
    /// store is out of reach; a failure is the study's recording failure.
    fn retry<T>(
        &self,
        mut f: impl FnMut(&dyn StudyBoard, &str, &str) -> Result<T, StoreError>,
    ) -> Result<T, String> {
        retrying(self.opts.retry_for, || {
            f(&*self.board, &self.study_run_id, &self.worker)
        })
        .map_err(|e| {
            if let Some(h) = &self.recorder {
                h.note_failure(&e.to_string(), false);
            }
            format!("recording failed: {e}")
        })
    }

    /// Trial `number` is this worker's claim: its lease is renewed until it ends.
    fn hold(&mut self, number: i64) {
        self.own.insert(number);
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(number);
    }

    /// Trial `number` no longer runs here: its lease is no longer renewed.
    fn let_go(&self, number: i64) {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&number);
    }

    /// A claimed number as the driver takes it.
    fn claimed(&self, c: ClaimedTrial) -> Result<Claim, String> {
        let number =
            usize::try_from(c.number).map_err(|e| format!("trial number {}: {e}", c.number))?;
        let (params, retry_of) = match &c.retry {
            Some(r) => (
                params_from_json(&self.space, &r.params),
                usize::try_from(r.of).ok(),
            ),
            None => (None, None),
        };
        Ok(Claim::Trial {
            number,
            params,
            retry_of,
        })
    }

    /// Whether the next trial's number is claimed with this trial's start (see
    /// [`CLAIM_AHEAD_BELOW`]).
    fn claims_ahead(&self) -> bool {
        self.ahead.is_none()
            && self.quick
            && self.others_running.is_empty()
            && self.board.claims_with_start()
    }

    /// Reads the watched metric's curve of another worker's finished trial from its run.
    fn read_curve(&mut self, trial: &mut Trial, run: Option<&str>) {
        let (Some(metric), Some(run)) = (&self.opts.prune_metric, run) else {
            return;
        };
        if trial.state == TrialState::Running {
            return;
        }
        if trial.state == TrialState::Pruned {
            // the pruner's trusted forecast, which the sampler ranks the trial by (none yet
            // when the other worker has not written it)
            let last = self.tracker.metric_history(run, FORECAST).ok();
            if let Some(v) = last.and_then(|h| h.last().map(|m| m.value)) {
                trial.metrics.insert(FORECAST.to_string(), v);
            }
        }
        // a history that cannot be read counts as empty, as before it was logged
        let state = trial.state.into();
        let curve = run_curve(&self.tracker, run, metric, state).unwrap_or_else(|_| TrialCurve {
            state,
            ..TrialCurve::new()
        });
        self.curves.insert(trial.number, curve);
    }

    /// The running run of trial `number` of this study, if one exists.
    fn running_run_of(&self, number: i64) -> Option<String> {
        let filter = format!(
            "tags.`{TAG_PARENT_RUN_ID}` = '{}' and tags.`{TAG_TRIAL_NUMBER}` = '{number}' \
             and attributes.status = 'RUNNING'",
            self.study_run_id
        );
        let page = self
            .tracker
            .search_runs(&RunsQuery::new(&[], &filter).max_results(10))
            .ok()?;
        page.runs.into_iter().next().map(|r| r.info.run_id)
    }

    /// Takes back the trials of lost workers, at most once per `reap_every` unless `now`.
    fn reap(&mut self, now: bool) -> Result<(), String> {
        if !now
            && self
                .last_reap
                .is_some_and(|t| t.elapsed() < self.opts.reap_every)
        {
            return Ok(());
        }
        self.last_reap = Some(Instant::now());
        let lost = self.retry(|b, study, _| b.reap(study, &worker_is_dead_here))?;
        for row in lost {
            // the run of a lost trial says why it ended; the trial's row is FAILED already (a
            // worker killed after creating the run but before naming it on the board leaves it
            // to be found by its number)
            let run = row
                .run_id
                .clone()
                .or_else(|| self.running_run_of(row.number));
            if let Some(run) = run {
                // the reason and the status in one transaction: a reaper killed in between
                // would leave the run RUNNING for good
                let reason = [RunTag::new(TAG_FAILURE_REASON, WORKER_LOST)];
                let _ = self
                    .tracker
                    .finish_run(&run, &[], &reason, RunStatus::Failed, None);
            }
        }
        Ok(())
    }
}

impl Coordinator for SharedStudy {
    fn sync(&mut self) -> Result<Vec<Trial>, String> {
        self.reap(false)?;
        let since = self.version;
        let (rows, next) = self.retry(|b, study, _| b.changes(study, since))?;
        self.version = next;
        let mut trials = Vec::new();
        for row in rows {
            if self.own.contains(&row.number) || self.handled.get(&row.number) == Some(&row) {
                continue;
            }
            if row.state == "RUNNING" {
                self.others_running.insert(row.number);
            } else {
                self.others_running.remove(&row.number);
            }
            if let (Some(run), Some(h), Ok(n)) =
                (&row.run_id, &self.recorder, usize::try_from(row.number))
            {
                h.add_trial_run(n, run);
            }
            if let Some(mut t) = trial_of(&self.space, &row) {
                self.read_curve(&mut t, row.run_id.as_deref());
                trials.push(t);
            }
            self.handled.insert(row.number, row);
        }
        Ok(trials)
    }

    fn take_curves(&mut self) -> Option<Curves> {
        (!self.curves.is_empty()).then(|| std::mem::take(&mut self.curves))
    }

    fn curve_feed(&self) -> Option<(Arc<dyn CurveFeed>, Duration)> {
        let metric = self.opts.prune_metric.as_deref()?;
        let feed = RunningCurves::new(
            self.board.clone(),
            &self.study_run_id,
            &self.worker,
            &self.tracker,
            metric,
        );
        Some((Arc::new(feed), self.opts.running_curves_every))
    }

    fn claim(&mut self) -> Result<Claim, String> {
        if let Some(c) = self.ahead.take() {
            return self.claimed(c);
        }
        let ttl = self.opts.lease_ttl;
        match self.retry(|b, study, worker| b.claim(study, worker, ttl))? {
            Some(c) => {
                self.hold(c.number);
                self.claimed(c)
            }
            None => {
                self.reap(true)?;
                let (others, _left) =
                    self.retry(|b, study, worker| b.outstanding(study, worker))?;
                if others > 0 || !self.others_running.is_empty() {
                    Ok(Claim::Wait)
                } else {
                    Ok(Claim::Done)
                }
            }
        }
    }

    fn started(&mut self, trial: &Trial) -> Result<(), String> {
        let run = self
            .recorder
            .as_ref()
            .and_then(|h| h.trial_run_id(trial.number));
        let params = params_json(&trial.params);
        let n = trial.number as i64;
        if !self.claims_ahead() {
            return self
                .retry(|b, study, worker| b.start(study, worker, n, run.as_deref(), &params));
        }
        let ttl = self.opts.lease_ttl;
        let next = self.retry(|b, study, worker| {
            b.start_and_claim(study, worker, n, run.as_deref(), &params, ttl)
        })?;
        if let Some(c) = next {
            self.hold(c.number);
            self.ahead = Some(c);
        }
        Ok(())
    }

    fn stopped(&mut self) {
        let Some(c) = self.ahead.take() else {
            return;
        };
        // not retried: a number left claimed is taken back as lost once its lease runs out
        let _ = self
            .board
            .release(&self.study_run_id, &self.worker, c.number);
        self.let_go(c.number);
    }

    fn finished(&mut self, trial: &Trial) -> Result<(), String> {
        // the trial's run is committed before its lease ends (or with it, by a board that
        // carries the store's queued writes): a worker killed in between leaves a trial that is
        // taken back as lost, never one the study counts as done whose run is not in the store
        // (a failed commit is the recorder's to report)
        if !self.board.carries_store_writes() {
            let _ = self.tracker.flush();
        }
        let end = TrialEnd {
            state: state_name(trial.state).to_string(),
            loss: trial.loss,
            last_step: trial.last_step,
            message: trial.message.clone(),
            ended_ms: trial.ended.map_or_else(now_ms, epoch_millis),
        };
        let n = trial.number as i64;
        // a trial taken back as lost meanwhile (this worker stalled for longer than its lease)
        // keeps that on the board; the end may wait for this worker's next trial's start
        self.retry(|b, study, _| b.finish_later(study, n, &end))?;
        self.let_go(n);
        self.quick = trial.duration().is_some_and(|d| d < CLAIM_AHEAD_BELOW);
        Ok(())
    }
}

impl Drop for SharedStudy {
    fn drop(&mut self) {
        // a study that ended without telling (its driver did not get to the end)
        self.stopped();
        if let Some((stop, thread)) = self.heartbeat.take() {
            drop(stop);
            let _ = thread.join();
        }
    }
}

/// Renews the leases of this worker's running trials every third of `ttl`, until the sender is
/// dropped.
fn start_heartbeat(
    board: Arc<dyn StudyBoard>,
    study: String,
    worker: String,
    running: Arc<Mutex<BTreeSet<i64>>>,
    ttl: Duration,
) -> Option<(mpsc::Sender<()>, JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel::<()>();
    let beat = ttl / 3;
    let thread = std::thread::Builder::new()
        .name("hpo-lease".into())
        .spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(beat) {
                let numbers: Vec<i64> = running
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .copied()
                    .collect();
                if !numbers.is_empty() {
                    // a failed renewal is tried again at the next beat
                    let _ = board.renew(&study, &worker, &numbers, ttl);
                }
            }
        })
        .ok()?;
    Some((tx, thread))
}

/// Asked by the recorder when this worker's part of the study ends: whether this worker ends
/// the whole study, and then every trial of it.
pub struct StudyCloser {
    board: Arc<dyn StudyBoard>,
    study_run_id: String,
    worker: String,
    space: Space,
    recorder: Option<RecorderHandle>,
    retry_for: Duration,
    /// The study ended already, and this worker took over writing its result (see
    /// [`StudyBoard::take_over_result`]).
    taken_over: bool,
}

impl StudyCloser {
    /// The closer of a study whose result `worker` took over from its lost closer (see
    /// [`StudyBoard::take_over_result`]): its [`StudyCloser::close`] hands every trial of the
    /// study to `recorder` without ending the study again.
    pub fn taken_over(
        board: Arc<dyn StudyBoard>,
        study_run_id: &str,
        worker: &str,
        space: &Space,
        recorder: RecorderHandle,
    ) -> StudyCloser {
        StudyCloser {
            board,
            study_run_id: study_run_id.to_string(),
            worker: worker.to_string(),
            space: space.clone(),
            recorder: Some(recorder),
            retry_for: SharedStudyOptions::default().retry_for,
            taken_over: true,
        }
    }

    /// Whether the coordinator's start of a trial commits the trial's queued run before the
    /// trial runs (see [`StudyBoard::start_commits_store_writes`]).
    pub fn start_commits_trial_runs(&self) -> bool {
        self.board.start_commits_store_writes()
    }

    /// The result of the study this worker ended is in its run (nothing pending); a failure
    /// leaves it pending for another worker to take over.
    pub fn written(&self) {
        let r = retrying(self.retry_for, || {
            self.board.result_written(&self.study_run_id)
        });
        if let (Err(e), Some(h)) = (r, &self.recorder) {
            h.note_failure(&e.to_string(), true);
        }
    }

    /// Ends the study if nothing of it runs on other workers (and, when it stopped for its
    /// budget, every number was claimed); `Some(every trial of the study)` for the one worker
    /// that ended it, `None` for the others (the study goes on, or another worker ends it).
    pub fn close(&self, reason: &StopReason) -> Option<Vec<Trial>> {
        let budget_used = matches!(reason, StopReason::MaxEvals);
        let noted = |e: StoreError| {
            if let Some(h) = &self.recorder {
                h.note_failure(&e.to_string(), true);
            }
        };
        let reason_text = reason.to_string();
        let closed = self.taken_over
            || retrying(self.retry_for, || {
                self.board
                    .close(&self.study_run_id, &self.worker, budget_used, &reason_text)
            })
            .map_err(noted)
            .ok()?;
        if !closed {
            return None;
        }
        let (rows, _) = retrying(self.retry_for, || self.board.changes(&self.study_run_id, 0))
            .map_err(noted)
            .ok()?;
        let mut trials: Vec<Trial> = rows
            .iter()
            .filter_map(|row| {
                if let (Some(run), Some(h)) = (&row.run_id, &self.recorder) {
                    h.add_trial_run(row.number as usize, run);
                }
                trial_of(&self.space, row)
            })
            .collect();
        trials.sort_by_key(|t| t.number);
        trials.dedup_by_key(|t| t.number);
        Some(trials)
    }
}

/// The [`StopReason`] whose text is `text` (what [`StudyBoard::close`] kept), for a study whose
/// result is written by a worker that took it over.
pub fn stop_reason_of(text: &str) -> StopReason {
    match text {
        "max_evals reached" => StopReason::MaxEvals,
        "timeout" => StopReason::Timeout,
        _ => match text.strip_prefix("interrupted: ") {
            Some(why) => StopReason::Interrupted(why.to_string()),
            None => StopReason::Stopped(text.to_string()),
        },
    }
}
