//! Ask/tell: drive a study from your own loop. `ask()` hands out the next trial and marks it
//! running; `tell(number, result)` finishes it. [`fmin`](super::fmin) is built on the same calls.
//!
//! Trials are kept in increasing order of their numbers. A study's own trials are numbered
//! 0, 1, 2, ...; a resumed study keeps the numbers its prior trials were recorded under, which
//! may have gaps (a deleted trial), and numbers new trials from the highest one + 1. So a trial's
//! number and its position in [`Study::trials`] differ after a gap: look a trial up by number with
//! [`Study::trial`].

use std::collections::{BTreeMap, VecDeque};
use std::time::SystemTime;

use super::prune::Brackets;
use crate::algo::{trial_rng, Algorithm};
use crate::space::{Assignment, Params, Space, SpaceError, Value};
use crate::trial::{best_trial, HistoryView, IntoTrialResult, Trial, TrialResult, TrialState};

/// Why a study call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StudyError {
    /// `tell` for a trial number that was never handed out.
    #[error("trial {0} does not exist in this study")]
    UnknownTrial(usize),
    /// `tell` for a trial that already has its result.
    #[error("trial {0} is already finished ({1})")]
    AlreadyFinished(usize, TrialState),
    /// A prior trial whose number is not above every number already in the study.
    #[error(
        "prior trial {number} comes after trial {last}: prior trials must have increasing numbers"
    )]
    PriorTrialOrder {
        /// The prior trial's number.
        number: usize,
        /// The highest number already in the study.
        last: usize,
    },
    /// An initial point or prior trial that does not fit the space.
    #[error("invalid point for this space: {0}")]
    InvalidPoint(#[from] SpaceError),
    /// Parallelism of zero.
    #[error("parallelism must be at least 1")]
    ZeroParallelism,
    /// More trials at once than [`MAX_PARALLELISM`](super::MAX_PARALLELISM).
    #[error("parallelism {0} is more than {max} trials at once, the most a study runs", max = super::MAX_PARALLELISM)]
    TooMuchParallelism(usize),
    /// No trial finished ok.
    #[error("no trial finished ok ({trials} trials){}", last_error.as_ref().map(|e| format!("; last failure: {e}")).unwrap_or_default())]
    AllTrialsFailed {
        /// How many trials ran.
        trials: usize,
        /// The last failure's reason.
        last_error: Option<String>,
    },
}

/// A trial handed out by [`Study::ask`]: evaluate `params`, then `tell` the study its result.
#[derive(Clone, Debug)]
pub struct AskedTrial {
    /// The trial number to pass back to `tell`.
    pub number: usize,
    /// The parameters to evaluate.
    pub params: Params,
}

/// A search in progress: the space, the algorithm, the seed and every trial so far.
#[derive(Debug)]
pub struct Study {
    space: Space,
    algo: Box<dyn Algorithm>,
    seed: u64,
    /// In increasing order of number (numbers may have gaps after a resume).
    trials: Vec<Trial>,
    /// The number the next new trial gets.
    next_number: usize,
    queue: VecDeque<Assignment>,
    /// When set, the sampler sees only the trials of the asked trial's bracket.
    brackets: Option<Brackets>,
}

impl Study {
    /// A new study over `space` with `algo`, seeded with `seed`.
    pub fn new(space: &Space, algo: impl Algorithm + 'static, seed: u64) -> Study {
        Study::boxed(space, Box::new(algo), seed)
    }

    /// A new study with an algorithm already boxed.
    pub fn boxed(space: &Space, algo: Box<dyn Algorithm>, seed: u64) -> Study {
        Study {
            space: space.clone(),
            algo,
            seed,
            trials: Vec::new(),
            next_number: 0,
            queue: VecDeque::new(),
            brackets: None,
        }
    }

    /// Split the history the algorithm sees by bracket (Hyperband's, from
    /// [`Pruner::sampler_brackets`](crate::Pruner::sampler_brackets)): a trial's parameters are
    /// then suggested from the trials of its own bracket only. `None`: from every trial.
    pub fn set_sampler_brackets(&mut self, brackets: Option<Brackets>) {
        self.brackets = brackets;
    }

    /// The search space.
    pub fn space(&self) -> &Space {
        &self.space
    }

    /// The algorithm.
    pub fn algorithm(&self) -> &dyn Algorithm {
        self.algo.as_ref()
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Every trial so far, in increasing order of number.
    pub fn trials(&self) -> &[Trial] {
        &self.trials
    }

    /// The trial numbered `number`, if the study has it.
    pub fn trial(&self, number: usize) -> Option<&Trial> {
        self.position(number).map(|i| &self.trials[i])
    }

    /// The position in `trials` of trial `number`.
    fn position(&self, number: usize) -> Option<usize> {
        // without gaps a trial's number is its position
        if self.trials.get(number).is_some_and(|t| t.number == number) {
            return Some(number);
        }
        self.trials.binary_search_by_key(&number, |t| t.number).ok()
    }

    /// Take the trials out of the study.
    pub fn into_trials(self) -> Vec<Trial> {
        self.trials
    }

    /// The best finished trial (lowest loss; the earliest on ties).
    pub fn best(&self) -> Option<&Trial> {
        best_trial(&self.trials)
    }

    /// Queue a point (typed values by label, a choice as its chosen value) to be handed out by
    /// the next `ask` before the algorithm is consulted.
    pub fn enqueue(&mut self, values: &BTreeMap<String, Value>) -> Result<(), StudyError> {
        let a = self.space.assignment_from_values(values)?;
        self.queue.push_back(a);
        Ok(())
    }

    /// Add a finished trial from elsewhere (warm start, resume): its params as typed values or
    /// raw (choice indices) and its result. It takes the next trial number.
    pub fn add_trial(
        &mut self,
        values: &BTreeMap<String, Value>,
        result: impl IntoTrialResult,
    ) -> Result<usize, StudyError> {
        let a = self
            .space
            .assignment_from_values(values)
            .or_else(|_| self.space.assignment_from_raw(values))?;
        let number = self.push(a, SystemTime::now());
        self.finish(number, result.into_trial_result(), SystemTime::now())?;
        Ok(number)
    }

    /// Add a trial of an earlier study over an equivalent space, keeping its number, state and
    /// times (to resume it). Numbers must increase from one prior trial to the next; gaps are
    /// kept, and new trials are numbered from the highest + 1. To warm-start from trials
    /// of other studies whatever their numbers, use [`Study::add_warm_start_trial`].
    pub fn add_prior_trial(&mut self, trial: &Trial) -> Result<usize, StudyError> {
        if let Some(last) = self.trials.last().filter(|t| t.number >= trial.number) {
            return Err(StudyError::PriorTrialOrder {
                number: trial.number,
                last: last.number,
            });
        }
        self.insert_prior(trial, trial.number)
    }

    /// Add a trial of another study over an equivalent space, keeping its state and times; it
    /// takes the next trial number.
    pub fn add_warm_start_trial(&mut self, trial: &Trial) -> Result<usize, StudyError> {
        self.insert_prior(trial, self.next_number)
    }

    fn insert_prior(&mut self, trial: &Trial, number: usize) -> Result<usize, StudyError> {
        let a = self.space.assignment_from_raw(&trial.params.raw())?;
        self.next_number = number + 1;
        self.trials.push(Trial {
            number,
            params: self.space.params_of(a),
            ..trial.clone()
        });
        Ok(number)
    }

    fn push(&mut self, a: Assignment, now: SystemTime) -> usize {
        let number = self.next_number;
        self.next_number += 1;
        self.trials
            .push(running(number, self.space.params_of(a), now));
        number
    }

    /// Hand out the next trial: a queued point, else the algorithm's suggestion given every
    /// trial so far (pending ones included).
    pub fn ask(&mut self) -> AskedTrial {
        let visible = self.trials.len();
        self.ask_with_visible(visible)
    }

    /// Like `ask`, but the trials at positions `visible` and above in [`Study::trials`] are
    /// shown to the algorithm as pending, whatever their state (for reproducible parallel
    /// studies). The trial's random stream is that of its number.
    pub(crate) fn ask_with_visible(&mut self, visible: usize) -> AskedTrial {
        let number = self.next_number;
        let a = match self.queue.pop_front() {
            Some(a) => a,
            None => {
                let mut rng = trial_rng(self.seed, number);
                match &self.brackets {
                    None => {
                        let view = HistoryView::with_visible(&self.trials, visible);
                        self.algo.suggest(&self.space, &view, &mut rng)
                    }
                    Some(b) => {
                        let (own, visible) = bracket_history(&self.trials, visible, b, number);
                        let view = HistoryView::with_visible(&own, visible);
                        self.algo.suggest(&self.space, &view, &mut rng)
                    }
                }
            }
        };
        let number = self.push(a, SystemTime::now());
        AskedTrial {
            number,
            // the trial just pushed is the last one
            params: self.trials[self.trials.len() - 1].params.clone(),
        }
    }

    /// Merge a trial another worker of a shared study started or finished (see
    /// [`Coordinator`](super::shared::Coordinator)): added at its number's place, or, when the
    /// study has it already, updated unless it is finished here (a finished trial never becomes
    /// running again). Its params must fit the space.
    pub fn merge_trial(&mut self, trial: &Trial) -> Result<(), StudyError> {
        let a = self.space.assignment_from_raw(&trial.params.raw())?;
        let incoming = Trial {
            params: self.space.params_of(a),
            ..trial.clone()
        };
        match self
            .trials
            .binary_search_by_key(&trial.number, |t| t.number)
        {
            Ok(i) => {
                if !self.trials[i].state.is_finished() {
                    self.trials[i] = incoming;
                }
            }
            Err(i) => self.trials.insert(i, incoming),
        }
        self.next_number = self.next_number.max(trial.number + 1);
        Ok(())
    }

    /// Like [`Study::ask_with_visible`] for a trial number handed out by a shared study's
    /// coordinator, with the params to evaluate again when it retries a lost trial.
    pub(crate) fn ask_claimed(
        &mut self,
        number: usize,
        visible: usize,
        params: Option<&Params>,
    ) -> Result<AskedTrial, StudyError> {
        let a = match params {
            Some(p) => self.space.assignment_from_raw(&p.raw())?,
            None => match self.queue.pop_front() {
                Some(a) => a,
                None => {
                    let mut rng = trial_rng(self.seed, number);
                    let view = HistoryView::with_visible(&self.trials, visible);
                    self.algo.suggest(&self.space, &view, &mut rng)
                }
            },
        };
        let trial = running(number, self.space.params_of(a), SystemTime::now());
        let params = trial.params.clone();
        match self.trials.binary_search_by_key(&number, |t| t.number) {
            Ok(i) => self.trials[i] = trial,
            Err(i) => self.trials.insert(i, trial),
        }
        self.next_number = self.next_number.max(number + 1);
        Ok(AskedTrial { number, params })
    }

    /// Finish trial `number` with its result (a loss, a [`TrialResult`] or a `Result`). A NaN or
    /// infinite loss, a fail status or an `Err` make it a failed trial.
    pub fn tell(
        &mut self,
        number: usize,
        result: impl IntoTrialResult,
    ) -> Result<&Trial, StudyError> {
        self.finish(number, result.into_trial_result(), SystemTime::now())?;
        let i = self
            .position(number)
            .ok_or(StudyError::UnknownTrial(number))?;
        Ok(&self.trials[i])
    }

    pub(crate) fn finish(
        &mut self,
        number: usize,
        result: TrialResult,
        ended: SystemTime,
    ) -> Result<(), StudyError> {
        let i = self
            .position(number)
            .ok_or(StudyError::UnknownTrial(number))?;
        let t = &mut self.trials[i];
        if t.state.is_finished() {
            return Err(StudyError::AlreadyFinished(number, t.state));
        }
        let r = result.normalized();
        t.state = r.state();
        t.loss = r.loss;
        t.metrics = r.metrics;
        t.message = r.message;
        if r.step.is_some() {
            t.last_step = r.step;
        }
        t.ended = Some(ended);
        Ok(())
    }
}

/// A trial handed out at `now`, running.
fn running(number: usize, params: Params, now: SystemTime) -> Trial {
    Trial {
        number,
        params,
        state: TrialState::Running,
        loss: None,
        last_step: None,
        metrics: BTreeMap::new(),
        message: None,
        started: now,
        ended: None,
    }
}

/// The trials of trial `number`'s bracket, in order, and how many of them are at positions
/// below `visible` in `trials` (those after are seen as pending).
fn bracket_history(
    trials: &[Trial],
    visible: usize,
    brackets: &Brackets,
    number: usize,
) -> (Vec<Trial>, usize) {
    let own = brackets.of(number);
    let mut seen = 0;
    let mut out = Vec::new();
    for (i, t) in trials.iter().enumerate() {
        if brackets.of(t.number) == own {
            if i < visible {
                seen += 1;
            }
            out.push(t.clone());
        }
    }
    (out, seen)
}
