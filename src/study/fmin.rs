//! `fmin` and its builder: run a study, evaluating the objective in parallel.
//!
//! The driver is the only writer of the study: objectives run on worker threads (see
//! [`workers`](super::workers): started lazily, no more than the trials left to run, and off
//! the driver's thread, so reports are recorded while a trial runs) and send their results (and
//! reports) back over a channel. A study with no observer and no other worker that runs one
//! trial at a time has nothing to record while a trial runs: its trials run on the driver's
//! thread, without the two thread hand-overs per trial. With a fixed seed the sequence of suggestions is
//! the same from run to run at a given parallelism: trial `k` is suggested only once trials
//! `0..=k-parallelism` have finished, and sees exactly those as finished (later ones as pending),
//! whatever the thread timing. Without a seed, a random seed is drawn (and recorded in the
//! result) and the driver hands out trials as soon as a slot frees, showing every result in.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime};

use rand::RngExt;

use super::ask_tell::{AskedTrial, Study, StudyError};
use super::interrupt::Interrupt;
use super::observer::{Control, Observer, StopReason, StudyInfo, TrialReport};
use super::prune::{self, CurveState, Curves, NoPruner, PruneShared, Pruner};
use super::shared::{Claim, Coordinator};
use super::stop::{LossThreshold, NoProgress};
use super::workers::Workers;
use crate::algo::{Algorithm, Tpe};
use crate::space::{Params, Space, Value};
use crate::trial::{IntoTrialResult, Status, Trial, TrialResult, TrialState, FORECAST};

/// Handed to an objective with its params: the trial's number and a way to report metrics,
/// tags and artifacts while it runs (observers such as tracking record them).
pub struct TrialContext {
    number: usize,
    tx: mpsc::Sender<Event>,
    attributes: Vec<(String, String)>,
    interrupt: Option<Interrupt>,
    prune: Arc<PruneShared>,
    pruned: AtomicBool,
    rungs: AtomicUsize,
    tagged: AtomicBool,
    /// The trial runs on the driver's thread (a study without observers, one trial at a time):
    /// nobody handles its reports while it runs, so there is nothing to wait for.
    inline: bool,
}

impl TrialContext {
    /// The trial's number.
    pub fn number(&self) -> usize {
        self.number
    }

    /// An attribute an observer attached to this trial (e.g. `run_id` from the tracking
    /// recorder).
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Why the study was interrupted, once it was (Ctrl-C, a signal, [`Interrupt::trigger`]): a
    /// long-running objective should stop and return [`TrialResult::killed`] with it.
    pub fn interrupted(&self) -> Option<String> {
        self.interrupt.as_ref().and_then(Interrupt::reason)
    }

    /// The study's interrupt handle, if it has one (see [`Fmin::interrupt`]).
    pub fn interrupt(&self) -> Option<&Interrupt> {
        self.interrupt.as_ref()
    }

    fn send(&self, report: TrialReport) {
        // the driver outlives every trial; a closed channel only means the study is over
        let _ = self.tx.send(Event::Report(self.number, report));
    }

    /// Blocks until every report this trial sent so far (metrics, tags, artifacts) was handed
    /// to the study's observers, e.g. its artifacts copied into the tracking store: the
    /// objective may then remove the files it logged. Returns at once once the study is over.
    pub fn wait_for_reports(&self) {
        if self.inline {
            // no observer to hand them to, and the driver is this thread: waiting would block it
            return;
        }
        let (ack, done) = mpsc::channel();
        if self.tx.send(Event::Reported(ack)).is_ok() {
            let _ = done.recv();
        }
    }

    /// Report a metric value at a step (e.g. the validation loss after each epoch). When `key`
    /// is the metric the study's pruner watches ([`Fmin::prune_metric`]), this is also a
    /// [`report`](TrialContext::report) to the pruner: check [`should_prune`](Self::should_prune).
    pub fn log_metric(&self, key: &str, value: f64, step: i64) {
        self.send(TrialReport::Metric {
            key: key.to_string(),
            value,
            step,
        });
        if key == self.prune.metric() {
            self.ask_pruner(step, value);
        }
    }

    /// Report the watched metric's `value` at `step` (an epoch, an iteration): it is logged as
    /// that metric and the study's pruner decides. Returns true when the trial should stop now:
    /// the objective should then return [`TrialResult::pruned`]. Without a pruner, always false.
    /// A step reported twice keeps its first value.
    pub fn report(&self, step: i64, value: f64) -> bool {
        let key = self.prune.metric().to_string();
        self.log_metric(&key, value, step);
        self.should_prune()
    }

    /// Whether the pruner said, at the latest report, that this trial should stop.
    pub fn should_prune(&self) -> bool {
        self.pruned.load(Ordering::SeqCst)
    }

    fn ask_pruner(&self, step: i64, value: f64) {
        let watching = self.prune.pruner().name() != "none";
        if watching && !self.tagged.swap(true, Ordering::SeqCst) {
            self.set_tag(prune::TAG_PRUNE_METRIC, self.prune.metric());
        }
        let d = self.prune.report(self.number, step, value);
        self.pruned.store(d.prune, Ordering::SeqCst);
        if let Some(t) = d.threshold {
            self.send(TrialReport::Metric {
                key: prune::THRESHOLD_METRIC.to_string(),
                value: t,
                step,
            });
        }
        // the successive-halving rung reached, as a tag, when it changes
        if d.rungs > self.rungs.swap(d.rungs, Ordering::SeqCst) {
            self.set_tag("hpo.rung", &(d.rungs - 1).to_string());
        }
    }

    /// Set a tag on the trial.
    pub fn set_tag(&self, key: &str, value: &str) {
        self.send(TrialReport::Tag {
            key: key.to_string(),
            value: value.to_string(),
        });
    }

    /// Keep a file or directory with the trial, under `artifact_path` ("" for the top).
    pub fn log_artifact(&self, local_path: impl Into<PathBuf>, artifact_path: &str) {
        self.send(TrialReport::Artifact {
            local_path: local_path.into(),
            artifact_path: artifact_path.to_string(),
        });
    }
}

/// What a study evaluates. Implemented for every `Fn(&Params) -> R` where `R` is a loss, a
/// [`TrialResult`] or a `Result` of either; wrap a closure taking `(&Params, &TrialContext)` in
/// [`with_context`] to report metrics while it runs.
pub trait Objective: Sync {
    /// Evaluate one trial.
    fn evaluate(&self, params: &Params, ctx: &TrialContext) -> TrialResult;

    /// Whether trials are evaluated by other processes (a command), which may read and write
    /// what observers record about the trial (its tracking run). Observers that write lazily
    /// must then make a trial's records visible before it starts. `false` by default.
    fn runs_elsewhere(&self) -> bool {
        false
    }
}

impl<F, R> Objective for F
where
    F: Fn(&Params) -> R + Sync,
    R: IntoTrialResult,
{
    fn evaluate(&self, params: &Params, _ctx: &TrialContext) -> TrialResult {
        self(params).into_trial_result()
    }
}

impl Objective for Box<dyn Objective + '_> {
    fn evaluate(&self, params: &Params, ctx: &TrialContext) -> TrialResult {
        (**self).evaluate(params, ctx)
    }

    fn runs_elsewhere(&self) -> bool {
        (**self).runs_elsewhere()
    }
}

/// An objective that also receives the trial's [`TrialContext`]; made by [`with_context`].
pub struct WithContext<F>(F);

/// Wrap a closure `|params, ctx| ...` as an objective.
pub fn with_context<F, R>(f: F) -> WithContext<F>
where
    F: Fn(&Params, &TrialContext) -> R + Sync,
    R: IntoTrialResult,
{
    WithContext(f)
}

impl<F, R> Objective for WithContext<F>
where
    F: Fn(&Params, &TrialContext) -> R + Sync,
    R: IntoTrialResult,
{
    fn evaluate(&self, params: &Params, ctx: &TrialContext) -> TrialResult {
        (self.0)(params, ctx).into_trial_result()
    }
}

enum Event {
    Report(usize, TrialReport),
    /// A trial waits until its reports so far were handed to the observers.
    Reported(mpsc::Sender<()>),
    Done(usize, TrialResult, SystemTime),
    Interrupted,
}

/// The outcome of a study: every trial, the best one, and why it stopped.
#[derive(Debug)]
pub struct StudyResult {
    /// The search space.
    pub space: Space,
    /// Every trial, by number (prior trials first).
    pub trials: Vec<Trial>,
    /// The algorithm's name.
    pub algorithm: String,
    /// The seed (drawn at random when none was given).
    pub seed: u64,
    /// Why the study stopped.
    pub stop_reason: StopReason,
}

impl StudyResult {
    /// The best ok trial (lowest loss, earliest on ties).
    pub fn best(&self) -> Option<&Trial> {
        crate::trial::best_trial(&self.trials)
    }

    /// The losses of all trials (None where failed or running), by number.
    pub fn losses(&self) -> Vec<Option<f64>> {
        self.trials.iter().map(|t| t.ok_loss()).collect()
    }

    /// The best loss after each trial (hyperopt's trace), `inf` before the first ok trial.
    pub fn best_so_far(&self) -> Vec<f64> {
        let mut best = f64::INFINITY;
        self.trials
            .iter()
            .map(|t| {
                if let Some(l) = t.ok_loss() {
                    best = best.min(l);
                }
                best
            })
            .collect()
    }
}

/// Minimize `objective` over `space` with `algo` in `max_evals` trials; returns the best trial.
///
/// ```
/// use hpo::{fmin, hp, Params, ParamError, Space, Tpe};
/// let space = Space::from_params([hp::uniform("x", -5.0, 5.0)]).unwrap();
/// let loss = |p: &Params| -> Result<f64, ParamError> { Ok((p.f64("x")? - 1.0).powi(2)) };
/// let best = fmin(loss, &space, Tpe, 50).unwrap();
/// assert!(best.loss.unwrap() < 0.5);
/// ```
pub fn fmin<O, S, A>(objective: O, space: S, algo: A, max_evals: usize) -> Result<Trial, StudyError>
where
    O: Objective,
    S: Borrow<Space>,
    A: Algorithm + 'static,
{
    let result = Fmin::new(objective, space.borrow())
        .algo(algo)
        .max_evals(max_evals)
        .run()?;
    let n = result.trials.len();
    match result.best() {
        Some(t) => Ok(t.clone()),
        None => Err(StudyError::AllTrialsFailed {
            trials: n,
            last_error: result.trials.iter().rev().find_map(|t| t.message.clone()),
        }),
    }
}

/// The builder behind [`fmin`]: seed, parallelism, stopping rules, initial points, prior trials
/// and observers.
pub struct Fmin<'a, O> {
    objective: O,
    space: &'a Space,
    algo: Box<dyn Algorithm>,
    max_evals: usize,
    seed: Option<u64>,
    parallelism: usize,
    timeout: Option<Duration>,
    initial_points: Vec<BTreeMap<String, Value>>,
    prior_trials: Vec<Trial>,
    observers: Vec<Box<dyn Observer + 'a>>,
    interrupt: Option<Interrupt>,
    pruner: Box<dyn Pruner>,
    prune_metric: String,
    prior_curves: Curves,
    coordinator: Option<Box<dyn Coordinator + 'a>>,
}

impl<'a, O: Objective> Fmin<'a, O> {
    /// A study of `objective` over `space`: default TPE, 100 trials, one at a time.
    pub fn new(objective: O, space: &'a Space) -> Self {
        Fmin {
            objective,
            space,
            algo: Box::new(Tpe::default()),
            max_evals: 100,
            seed: None,
            parallelism: 1,
            timeout: None,
            initial_points: Vec::new(),
            prior_trials: Vec::new(),
            observers: Vec::new(),
            interrupt: None,
            pruner: Box::new(NoPruner),
            prune_metric: "loss".into(),
            prior_curves: Curves::new(),
            coordinator: None,
        }
    }

    /// The learning curves of the prior trials (keyed by the numbers they keep, as when
    /// resuming), so the pruner compares new trials with them too.
    pub fn prior_curves(mut self, curves: Curves) -> Self {
        self.prior_curves = curves;
        self
    }

    /// The pruner that stops unpromising trials from the values they report (see
    /// [`crate::study::prune`]); none by default.
    pub fn pruner(mut self, pruner: impl Pruner + 'static) -> Self {
        self.pruner = Box::new(pruner);
        self
    }

    /// The pruner, already boxed.
    pub fn pruner_boxed(mut self, pruner: Box<dyn Pruner>) -> Self {
        self.pruner = pruner;
        self
    }

    /// The metric the pruner watches: [`TrialContext::report`] logs under this name, and
    /// [`TrialContext::log_metric`] with this key also reports (default `loss`).
    pub fn prune_metric(mut self, key: impl Into<String>) -> Self {
        self.prune_metric = key.into();
        self
    }

    /// The search algorithm.
    pub fn algo(mut self, algo: impl Algorithm + 'static) -> Self {
        self.algo = Box::new(algo);
        self
    }

    /// The search algorithm, already boxed (e.g. from [`crate::algo::by_name`]).
    pub fn algo_boxed(mut self, algo: Box<dyn Algorithm>) -> Self {
        self.algo = algo;
        self
    }

    /// Total number of trials, prior trials included (hyperopt's meaning, so a resumed study
    /// with `max_evals(100)` runs until it has 100 trials).
    pub fn max_evals(mut self, n: usize) -> Self {
        self.max_evals = n;
        self
    }

    /// The seed: with a seed, the same parallelism gives the same trials on every run.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Trials evaluated at once, at most [`MAX_PARALLELISM`]. Worker threads are started as
    /// trials are handed out, never more than the trials left to run; the parallelism itself
    /// (not the number of threads) is what makes a seeded study reproducible.
    pub fn parallelism(mut self, n: usize) -> Self {
        self.parallelism = n;
        self
    }

    /// Hand out no new trial after this long (running trials finish).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// Stop once a trial's loss is below `threshold`.
    pub fn loss_threshold(self, threshold: f64) -> Self {
        self.observer(LossThreshold(threshold))
    }

    /// Stop after `patience` finished trials without improving the best loss.
    pub fn no_progress(self, patience: usize) -> Self {
        self.observer(NoProgress::new(patience))
    }

    /// Points to evaluate first (typed values by label; a choice as its chosen value). They
    /// count towards `max_evals`.
    pub fn initial_points(
        mut self,
        points: impl IntoIterator<Item = BTreeMap<String, Value>>,
    ) -> Self {
        self.initial_points.extend(points);
        self
    }

    /// Trials of an earlier study to warm-start or resume from (they count towards `max_evals`).
    /// A prior trial keeps its number when it is above every number before it (a resumed study
    /// keeps its numbering, gaps included); otherwise it takes the next number. New trials are
    /// numbered from the highest + 1.
    pub fn prior_trials(mut self, trials: impl IntoIterator<Item = Trial>) -> Self {
        self.prior_trials.extend(trials);
        self
    }

    /// Add an observer (tracking, progress, a stopping rule).
    pub fn observer(mut self, o: impl Observer + 'a) -> Self {
        self.observers.push(Box::new(o));
        self
    }

    /// Let `interrupt` stop the study from outside: once triggered, no new trial is handed out,
    /// objectives see it through [`TrialContext::interrupted`], and the study ends with
    /// [`StopReason::Interrupted`] when the trials in flight have returned.
    pub fn interrupt(mut self, interrupt: Interrupt) -> Self {
        self.interrupt = Some(interrupt);
        self
    }

    /// Add a boxed observer.
    pub fn observer_boxed(mut self, o: Box<dyn Observer + 'a>) -> Self {
        self.observers.push(o);
        self
    }

    /// Run the study with other workers (other processes or machines) through `coordinator`:
    /// trial numbers and the budget come from it, and the other workers' trials join this
    /// worker's history before each suggestion (see [`Coordinator`]). `max_evals` then only
    /// bounds how many trials this worker runs at once.
    pub fn coordinator(mut self, coordinator: impl Coordinator + 'a) -> Self {
        self.coordinator = Some(Box::new(coordinator));
        self
    }

    /// Run the study to its end.
    pub fn run(mut self) -> Result<StudyResult, StudyError> {
        if self.parallelism == 0 {
            return Err(StudyError::ZeroParallelism);
        }
        if self.parallelism > MAX_PARALLELISM {
            return Err(StudyError::TooMuchParallelism(self.parallelism));
        }
        let deterministic = self.seed.is_some();
        let seed = self.seed.unwrap_or_else(|| rand::rng().random());
        let mut study = Study::boxed(self.space, self.algo, seed);
        study.set_sampler_brackets(self.pruner.sampler_brackets());
        self.pruner
            .fit_sampler(study.algorithm().learns_from_stopped_trials());
        for t in &self.prior_trials {
            // a resumed study keeps its numbers; trials of other studies take the next ones
            if study
                .trials()
                .last()
                .is_none_or(|last| last.number < t.number)
            {
                study.add_prior_trial(t)?;
            } else {
                study.add_warm_start_trial(t)?;
            }
        }
        for p in &self.initial_points {
            study.enqueue(p)?;
        }
        let prior = study.trials().len();
        let info = StudyInfo {
            space: self.space,
            algorithm: study.algorithm().name(),
            settings: study.algorithm().settings(),
            seed,
            parallelism: self.parallelism,
            max_evals: self.max_evals,
            prior_trials: prior,
            objective_runs_elsewhere: self.objective.runs_elsewhere(),
        };
        for o in self.observers.iter_mut() {
            o.on_study_start(&info);
        }
        let workers = self
            .parallelism
            .min(self.max_evals.saturating_sub(prior))
            .max(1);
        let cfg = DriveConfig {
            parallelism: self.parallelism,
            workers,
            max_evals: self.max_evals,
            deadline: self.timeout.map(|t| Instant::now() + t),
            deterministic,
            prior,
            interrupt: self.interrupt.clone(),
            prune: Arc::new(PruneShared::new(
                std::mem::replace(&mut self.pruner, Box::new(NoPruner)),
                self.prune_metric.clone(),
            )),
            // one trial at a time and nobody to tell while it runs (no observer, no other
            // worker): trials run on this thread, saving two thread hand-overs per trial
            inline: workers == 1 && self.observers.is_empty() && self.coordinator.is_none(),
        };
        cfg.prune.add_prior(&self.prior_curves);
        if let Some((feed, every)) = self
            .coordinator
            .as_deref()
            .filter(|_| cfg.prune.pruner().name() != "none")
            .and_then(|c| c.curve_feed())
        {
            cfg.prune.set_feed(feed, every);
        }
        let objective = &self.objective;
        let observers = &mut self.observers;
        let coordinator = self.coordinator.as_deref_mut();
        let stop = std::thread::scope(|s| {
            let mut workers = match cfg.inline {
                true => Workers::inline(s),
                false => Workers::new(s, cfg.workers),
            };
            let mut driver = Driver {
                study: &mut study,
                observers,
                cfg: &cfg,
                coordinator,
                others_seen: false,
            };
            let stop = driver.drive(&mut workers, objective);
            if let Some(c) = driver.coordinator.as_deref_mut() {
                c.stopped();
            }
            stop
        });
        let stop_reason = stop.unwrap_or(StopReason::MaxEvals);
        for o in self.observers.iter_mut() {
            o.on_study_end(study.trials(), &stop_reason);
        }
        let algorithm = study.algorithm().name();
        Ok(StudyResult {
            space: self.space.clone(),
            trials: study.into_trials(),
            algorithm,
            seed,
            stop_reason,
        })
    }
}

/// The most trials a study runs at once.
pub const MAX_PARALLELISM: usize = 1024;

struct DriveConfig {
    /// Trials at once as asked for: what a seeded study's suggestions depend on.
    parallelism: usize,
    /// Trials at once in fact: the parallelism, capped at the trials left to run.
    workers: usize,
    max_evals: usize,
    deadline: Option<Instant>,
    deterministic: bool,
    prior: usize,
    interrupt: Option<Interrupt>,
    prune: Arc<PruneShared>,
    /// Trials run on the driver's thread: one at a time, and no observer or coordinator to
    /// hear from while they run (see [`Workers::inline`]).
    inline: bool,
}

/// The result with the trial's last reported step (and, for a pruned trial that did not say,
/// the value there as its loss, and the pruner's trusted forecast of its final value as the
/// [`FORECAST`] metric); the curve takes the trial's final state.
fn with_last_step(result: TrialResult, n: usize, prune: &PruneShared) -> TrialResult {
    let mut result = result.normalized();
    let state = match result.state() {
        TrialState::Ok => CurveState::Complete,
        TrialState::Pruned => CurveState::Pruned,
        TrialState::Running | TrialState::Failed | TrialState::Killed => CurveState::Failed,
    };
    let last = prune.finish(n, state);
    if let (None, Some((step, value))) = (result.step, last) {
        result.step = Some(step);
        if result.status == Status::Pruned && result.loss.is_none() {
            result.loss = Some(value);
        }
    }
    if state == CurveState::Pruned && !result.metrics.contains_key(FORECAST) {
        if let Some(f) = prune.forecast(n) {
            result.metrics.insert(FORECAST.to_string(), f);
        }
    }
    result
}

/// What the driver works on: the study, the observers, the settings and, for a shared study,
/// its coordinator.
struct Driver<'d, 'o, 'c> {
    study: &'d mut Study,
    observers: &'d mut [Box<dyn Observer + 'o>],
    cfg: &'d DriveConfig,
    coordinator: Option<&'d mut (dyn Coordinator + 'c)>,
    /// Whether another worker's trial joined the history (a shared study is then no longer
    /// reproducible from its seed).
    others_seen: bool,
}

/// What the driver does next when it has room for a trial.
enum Next {
    /// Start this trial.
    Start(AskedTrial),
    /// Nothing to start now: wait for an event (or, `true`, for the coordinator's poll interval).
    Wait(bool),
    /// Stop handing out trials.
    Stop(StopReason),
}

impl Driver<'_, '_, '_> {
    /// The next trial to start, in a study of this process alone.
    fn next_own(&mut self, first_unfinished: &mut usize) -> Next {
        let cfg = self.cfg;
        let k = self.study.trials().len();
        if k >= cfg.max_evals {
            return Next::Stop(StopReason::MaxEvals);
        }
        if cfg.deadline.is_some_and(|d| Instant::now() >= d) {
            return Next::Stop(StopReason::Timeout);
        }
        let visible = self.visible(k, first_unfinished);
        if cfg.deterministic && *first_unfinished < visible {
            return Next::Wait(false); // wait for the trial that makes the next suggestion reproducible
        }
        Next::Start(self.study.ask_with_visible(visible))
    }

    /// The trials shown to the algorithm as they are (those at positions from the result on are
    /// pending): all of them, or with a seed, those that keep the suggestions reproducible.
    fn visible(&self, k: usize, first_unfinished: &mut usize) -> usize {
        // trials finish in any order, but a trial never becomes unfinished again: the first
        // unfinished one only moves forward (a scan from the start would make the driver
        // quadratic in the number of trials)
        while self
            .study
            .trials()
            .get(*first_unfinished)
            .is_some_and(|t| t.state.is_finished())
        {
            *first_unfinished += 1;
        }
        if self.cfg.deterministic {
            (k + 1).saturating_sub(self.cfg.parallelism)
        } else {
            k
        }
    }

    /// Merges the trials other workers started or finished since the last look into the
    /// history (a trial whose params do not fit this space is left out), and hands their
    /// learning curves to the pruner.
    fn sync_others(&mut self) -> Result<(), String> {
        let Some(c) = self.coordinator.as_deref_mut() else {
            return Ok(());
        };
        let trials = c.sync()?;
        self.others_seen |= !trials.is_empty();
        for t in &trials {
            let _ = self.study.merge_trial(t);
        }
        if let Some(curves) = c.take_curves() {
            self.cfg.prune.add_prior(&curves);
        }
        Ok(())
    }

    /// The next trial to start in a shared study: the other workers' trials merged in first,
    /// then a number claimed from the coordinator. While no other worker's trial has been seen,
    /// a seeded study's suggestions stay reproducible as in a study of this process alone; after
    /// that, every trial is shown to the algorithm as it is.
    fn next_shared(&mut self, first_unfinished: &mut usize) -> Next {
        if self.cfg.deadline.is_some_and(|d| Instant::now() >= d) {
            return Next::Stop(StopReason::Timeout);
        }
        let lost = |e: String| Next::Stop(StopReason::Stopped(e));
        if let Err(e) = self.sync_others() {
            return lost(e);
        }
        let k = self.study.trials().len();
        let reproducible = self.cfg.deterministic && !self.others_seen;
        let visible = match reproducible {
            true => self.visible(k, first_unfinished),
            false => k,
        };
        if reproducible && *first_unfinished < visible {
            return Next::Wait(false); // wait for the trial that makes the next suggestion reproducible
        }
        let Some(c) = self.coordinator.as_deref_mut() else {
            return Next::Stop(StopReason::MaxEvals);
        };
        let (number, params) = match c.claim() {
            Ok(Claim::Trial { number, params, .. }) => (number, params),
            Ok(Claim::Wait) => return Next::Wait(true),
            Ok(Claim::Done) => {
                // nothing runs elsewhere and no trial can start any more: one last look takes
                // in every trial that finished since the last one
                let _ = self.sync_others();
                return Next::Stop(StopReason::MaxEvals);
            }
            Err(e) => return lost(e),
        };
        match self.study.ask_claimed(number, visible, params.as_ref()) {
            Ok(asked) => Next::Start(asked),
            Err(e) => lost(format!("trial {number}: {e}")),
        }
    }

    /// The driver loop: hand out trials while there is room, collect results and reports, ask
    /// the observers whether to go on. Returns why it stopped (None: nothing left in flight).
    fn drive<'s, O: Objective>(
        &mut self,
        workers: &mut Workers<'s, '_>,
        objective: &'s O,
    ) -> Option<StopReason> {
        let cfg = self.cfg;
        let (tx, rx) = mpsc::channel::<Event>();
        let mut stop: Option<StopReason> = None;
        let mut in_flight = 0usize;
        // the first trial at or after the prior ones that is not finished yet
        let mut first_unfinished = cfg.prior;
        // an interrupt wakes the driver through its own channel
        let _subscription = cfg.interrupt.as_ref().map(|i| {
            let tx = tx.clone();
            i.subscribe(move || {
                let _ = tx.send(Event::Interrupted);
            })
        });
        loop {
            if stop.is_none() {
                if let Some(why) = cfg.interrupt.as_ref().and_then(Interrupt::reason) {
                    stop = Some(StopReason::Interrupted(why));
                }
            }
            let mut polling = false;
            while stop.is_none() && in_flight < cfg.workers {
                let next = match self.coordinator {
                    None => self.next_own(&mut first_unfinished),
                    Some(_) => self.next_shared(&mut first_unfinished),
                };
                let asked = match next {
                    Next::Start(asked) => asked,
                    Next::Wait(poll) => {
                        polling = poll;
                        break;
                    }
                    Next::Stop(why) => {
                        stop = Some(why);
                        break;
                    }
                };
                let mut attributes = Vec::new();
                let Some(started) = self.study.trial(asked.number) else {
                    continue;
                };
                for o in self.observers.iter_mut() {
                    o.on_trial_start(started);
                    attributes.extend(o.trial_attributes(asked.number));
                }
                // after the observers: the other workers learn the trial's run too
                if let Some(c) = self.coordinator.as_deref_mut() {
                    if let Err(e) = c.started(started) {
                        stop = Some(StopReason::Stopped(e));
                    }
                }
                let busy = in_flight;
                in_flight += 1;
                cfg.prune.start(asked.number);
                let tx = tx.clone();
                let interrupt = cfg.interrupt.clone();
                let prune = cfg.prune.clone();
                let inline = cfg.inline;
                let job = move || {
                    let ctx = TrialContext {
                        number: asked.number,
                        tx: tx.clone(),
                        attributes,
                        interrupt,
                        prune,
                        pruned: AtomicBool::new(false),
                        rungs: AtomicUsize::new(0),
                        tagged: AtomicBool::new(false),
                        inline,
                    };
                    let result =
                        catch_unwind(AssertUnwindSafe(|| objective.evaluate(&asked.params, &ctx)))
                            .unwrap_or_else(|panic| {
                                let msg = panic
                                    .downcast_ref::<&str>()
                                    .map(|s| s.to_string())
                                    .or_else(|| panic.downcast_ref::<String>().cloned())
                                    .unwrap_or_else(|| "unknown panic".into());
                                TrialResult::fail(format!("objective panicked: {msg}"))
                            });
                    let _ = tx.send(Event::Done(asked.number, result, SystemTime::now()));
                };
                workers.run(Box::new(job), busy);
            }
            if in_flight == 0 && !(polling && stop.is_none()) {
                break;
            }
            // a shared study waiting for other workers' trials claims again after a while
            let poll = self
                .coordinator
                .as_deref()
                .filter(|_| polling)
                .map(|c| Instant::now() + c.poll_interval());
            let wake = match (cfg.deadline.filter(|_| stop.is_none()), poll) {
                (Some(d), Some(p)) => Some(d.min(p)),
                (d, p) => d.or(p),
            };
            let event = match wake {
                Some(w) => match rx.recv_timeout(w.saturating_duration_since(Instant::now())) {
                    Ok(e) => e,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        if cfg.deadline.is_some_and(|d| Instant::now() >= d) {
                            stop.get_or_insert(StopReason::Timeout);
                        }
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                },
                None => match rx.recv() {
                    Ok(e) => e,
                    Err(_) => break,
                },
            };
            match event {
                Event::Interrupted => {
                    if let Some(why) = cfg.interrupt.as_ref().and_then(Interrupt::reason) {
                        stop = Some(StopReason::Interrupted(why));
                    }
                }
                Event::Reported(ack) => {
                    // the trial's earlier reports came before this on its channel: all handled
                    let _ = ack.send(());
                }
                Event::Report(n, report) => {
                    let Some(trial) = self.study.trial(n) else {
                        continue;
                    };
                    for o in self.observers.iter_mut() {
                        o.on_trial_report(trial, &report);
                    }
                }
                Event::Done(n, result, ended) => {
                    in_flight -= 1;
                    let result = with_last_step(result, n, &cfg.prune);
                    // the number came from this study and finishes once, so this cannot fail
                    if self.study.finish(n, result, ended).is_err() {
                        continue;
                    }
                    let Some(trial) = self.study.trial(n) else {
                        continue;
                    };
                    for o in self.observers.iter_mut() {
                        if let Control::Stop(why) = o.on_trial_end(trial, self.study.trials()) {
                            stop.get_or_insert(StopReason::Stopped(why));
                        }
                    }
                    // after the observers (the trial's record), the other workers see it end
                    if let Some(c) = self.coordinator.as_deref_mut() {
                        if let Err(e) = c.finished(trial) {
                            stop.get_or_insert(StopReason::Stopped(e));
                        }
                    }
                }
            }
        }
        stop
    }
}
