//! Studies shared by many workers (processes on one machine or many) through one store: the
//! [`StudyBoard`] each backend implements (SQLite in [`sqlite`], PostgreSQL in
//! [`crate::tracking::postgres::board`]) and the [`SharedStudy`] coordinator built on it.
//!
//! A shared study is a row of `studies` (its study run, experiment, name, budget and the run file
//! it was started from) and one row of `study_trials` per trial number:
//! - **Join.** A worker joins the *active* study of its experiment with its name, or registers a
//!   new one; a unique index on active studies makes two workers starting at once agree on one.
//! - **Claim.** A trial number is claimed with a counter upsert that checks the budget in the same
//!   statement, and in the same transaction its row is inserted RUNNING with the worker's lease:
//!   numbers are unique, and never more than `max_evals` are handed out across all workers. On
//!   PostgreSQL the claim's commit does not wait for the disk: the trial's start, which commits
//!   after it and waits, makes both durable, and checks that the claim is still there (see
//!   [`StudyBoard::start`]); quick trials of one worker share that commit (a group commit at
//!   most every 10 ms), so a trial costs less than one WAL flush. On SQLite a worker whose trials
//!   are quick (under [`coordinator::CLAIM_AHEAD_BELOW`]) and sees no other worker's trial running
//!   claims the next number with each trial's start, in the same transaction
//!   ([`StudyBoard::start_and_claim`]): with the previous trial's end and this trial's run, one
//!   commit per trial. A number claimed ahead is RUNNING, without params, until its trial
//!   starts; a worker that stops first gives it back ([`StudyBoard::release`]), and one killed
//!   first leaves it to be taken back as lost like its running trial (a FAILED row without
//!   params, in no trial history; `--resume` drops it).
//! - **Sync.** Every change to a trial row gets a new version; a worker reads only the rows
//!   changed since the last version it saw (on PostgreSQL, transaction ids bounded by the
//!   snapshot's oldest running transaction, so a row committed late is not skipped).
//! - **Leases.** A worker renews its running trials' leases every few seconds. A trial whose lease
//!   ran out, or whose worker is a process of this host that no longer exists, is taken back by the
//!   first worker that looks and marked FAILED with the reason "worker lost", exactly once (the
//!   lease row is deleted by one statement only); it is retried with the same params when the
//!   study allows retries and its budget is not used up.
//! - **End.** The study ends when its budget is used up and no trial runs; the one worker whose
//!   `close` deactivates the row writes the study run's result, then marks it written. Should it
//!   be lost in between (killed, its machine gone), the study's result stays *pending*: the next
//!   `hpo run` or `hpo worker` of that study name takes it over ([`StudyBoard::take_over_result`]:
//!   at once when the closer was a process of its own host that no longer exists, else once
//!   [`RESULT_PATIENCE`] has passed) and writes it, so no study run stays RUNNING for good.

pub mod coordinator;
mod running_curves;
pub mod sqlite;

use std::time::Duration;

use super::{ExperimentId, RunId, StoreError};

pub use coordinator::{SharedStudy, SharedStudyOptions};
pub use running_curves::RunningCurves;

/// The reason a trial whose worker disappeared is failed with.
pub const WORKER_LOST: &str = "worker lost";

/// The reason a trial claimed ahead and given back unstarted ends with (see
/// [`StudyBoard::release`]).
pub const NOT_STARTED: &str = "claimed ahead, never started: its worker stopped first";

/// How long a trial's lease lasts without renewal (renewed every third of this).
pub const LEASE_TTL: Duration = Duration::from_secs(15);

/// How long the result of a study ended by a worker on another host may stay unwritten before
/// another worker takes it over (the closer may still be retrying a store out of reach).
pub const RESULT_PATIENCE: Duration = Duration::from_secs(120);

/// A study whose result was never written: its closer was lost (see
/// [`StudyBoard::take_over_result`]).
#[derive(Clone, Debug, PartialEq)]
pub struct UnwrittenStudy {
    /// The study.
    pub study: SharedStudyRow,
    /// The worker that ended it and was lost.
    pub closed_by: String,
    /// Why the study ended, as its closer said (a [`StopReason`](crate::study::StopReason)'s
    /// text).
    pub reason: String,
}

/// Whether the worker `closed_by` that ended a study at `closed_ms` (Unix ms) without writing its
/// result counts as lost: `is_dead` says so, or more than `patience` has passed.
pub fn closer_is_lost(
    closed_by: &str,
    closed_ms: i64,
    is_dead: &dyn Fn(&str) -> bool,
    patience: Duration,
) -> bool {
    let waited = super::store::now_ms().saturating_sub(closed_ms);
    is_dead(closed_by) || waited > i64::try_from(patience.as_millis()).unwrap_or(i64::MAX)
}

/// A shared study's registration.
#[derive(Clone, Debug, PartialEq)]
pub struct SharedStudyRow {
    /// The study's run.
    pub study_run_id: RunId,
    /// Its experiment.
    pub experiment_id: ExperimentId,
    /// The study's name.
    pub name: String,
    /// Its budget: trial numbers handed out across all workers.
    pub max_evals: i64,
    /// How many times a trial whose worker was lost is run again.
    pub retries: i64,
    /// What a worker needs to run the study (the run file and the settings it was started
    /// with), as the first worker stored it.
    pub spec: String,
    /// Whether the study still takes workers.
    pub active: bool,
}

/// What the first worker registers.
#[derive(Clone, Debug)]
pub struct NewSharedStudy {
    /// The run id the study's run will have.
    pub study_run_id: RunId,
    /// The budget.
    pub max_evals: i64,
    /// Retries of lost trials.
    pub retries: i64,
    /// The run file and settings (see [`SharedStudyRow::spec`]).
    pub spec: String,
}

/// A trial of a shared study as the board keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialRow {
    /// Its number in the study.
    pub number: i64,
    /// Its run (set when it starts).
    pub run_id: Option<RunId>,
    /// `RUNNING`, `OK`, `FAILED`, `KILLED` or `PRUNED`.
    pub state: String,
    /// Its loss (finished trials).
    pub loss: Option<f64>,
    /// Its params as hyperopt-style raw values, JSON (set when it starts).
    pub params: Option<String>,
    /// The last step it reported.
    pub last_step: Option<i64>,
    /// Why it failed, was killed or pruned.
    pub message: Option<String>,
    /// The worker running or that ran it.
    pub worker: String,
    /// When it started (Unix ms).
    pub started_ms: i64,
    /// When it ended (Unix ms).
    pub ended_ms: Option<i64>,
    /// The trial it runs again (a retry of a lost trial).
    pub retry_of: Option<i64>,
    /// 0 for a first run, 1 for its first retry, ...
    pub attempt: i64,
}

/// A trial number handed out by [`StudyBoard::claim`].
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimedTrial {
    /// The number.
    pub number: i64,
    /// Set for a retry of a lost trial: its number, params and attempt.
    pub retry: Option<Retry>,
}

/// A lost trial to run again.
#[derive(Clone, Debug, PartialEq)]
pub struct Retry {
    /// The lost trial's number.
    pub of: i64,
    /// Its params (JSON raw values).
    pub params: String,
    /// Which attempt the retry is (1 for the first retry).
    pub attempt: i64,
}

/// The finished state of a trial as [`StudyBoard::finish`] records it.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialEnd {
    /// `OK`, `FAILED`, `KILLED` or `PRUNED`.
    pub state: String,
    /// Its loss.
    pub loss: Option<f64>,
    /// The last step reported.
    pub last_step: Option<i64>,
    /// Why it failed, was killed or pruned.
    pub message: Option<String>,
    /// When it ended (Unix ms).
    pub ended_ms: i64,
}

/// The storage side of shared studies; each backend implements it on its own tables (see the
/// module's documentation for the protocol). Every call is its own committed transaction.
pub trait StudyBoard: Send + Sync {
    /// The active study named `name` in the experiment, or `new` registered as it; `true` when
    /// `new` was registered (the caller then creates its run).
    fn join(
        &self,
        experiment_id: ExperimentId,
        name: &str,
        new: &NewSharedStudy,
    ) -> Result<(SharedStudyRow, bool), StoreError>;

    /// The study registered for this study run, active or not.
    fn study(&self, study_run_id: &str) -> Result<Option<SharedStudyRow>, StoreError>;

    /// The latest study named `name` in the experiment, active or not.
    fn find(
        &self,
        experiment_id: ExperimentId,
        name: &str,
    ) -> Result<Option<SharedStudyRow>, StoreError>;

    /// Makes a study active (again) with a budget of `max_evals` trials *present* (to resume
    /// it): numbers are claimed until that many trials are in the study; `false` when another
    /// study of its name is active.
    fn reactivate(&self, study_run_id: &str, max_evals: i64) -> Result<bool, StoreError>;

    /// Drops the finished trials `numbers` from the study (their runs were deleted).
    fn forget(&self, study_run_id: &str, numbers: &[i64]) -> Result<(), StoreError>;

    /// Registers an existing study run (recorded before studies were shared) with its trials,
    /// active; numbers are then claimed from `next_number` on.
    fn adopt(
        &self,
        experiment_id: ExperimentId,
        name: &str,
        new: &NewSharedStudy,
        trials: &[TrialRow],
        next_number: i64,
    ) -> Result<(), StoreError>;

    /// Claims the next trial number for `worker` (a queued retry first), inserting its row
    /// RUNNING with a lease of `ttl`; `None` when the budget is used up.
    fn claim(
        &self,
        study_run_id: &str,
        worker: &str,
        ttl: Duration,
    ) -> Result<Option<ClaimedTrial>, StoreError>;

    /// Records the params and run of a trial `worker` claimed. A board whose claims become
    /// durable only with this commit (PostgreSQL) fails with [`StoreError::ClaimLost`] when the
    /// trial is not `worker`'s claim on the board any more (the server lost the claim's commit in
    /// a crash), and then records nothing of the trial. A board that carries its store's queued
    /// writes may let the start wait a few milliseconds for a commit shared with the worker's
    /// next trials (PostgreSQL's group commit, when trials follow each other quickly); then a
    /// lost claim is reported by the worker's next call to the board or the store's flush.
    fn start(
        &self,
        study_run_id: &str,
        worker: &str,
        number: i64,
        run_id: Option<&str>,
        params: &str,
    ) -> Result<(), StoreError>;

    /// Whether [`StudyBoard::start_and_claim`] records a trial's start and claims the next
    /// number in one transaction (SQLite). `false` by default: a worker then claims each number
    /// when it needs it.
    fn claims_with_start(&self) -> bool {
        false
    }

    /// [`StudyBoard::start`] of trial `number`, then [`StudyBoard::claim`] of the next number for
    /// `worker`, claimed ahead: its row is RUNNING and leased, without run or params until it
    /// starts in turn, or until [`StudyBoard::release`] gives it back. One transaction where
    /// [`StudyBoard::claims_with_start`], else the two calls (the default).
    fn start_and_claim(
        &self,
        study_run_id: &str,
        worker: &str,
        number: i64,
        run_id: Option<&str>,
        params: &str,
        ttl: Duration,
    ) -> Result<Option<ClaimedTrial>, StoreError> {
        self.start(study_run_id, worker, number, run_id, params)?;
        self.claim(study_run_id, worker, ttl)
    }

    /// Gives back trial `number`, which `worker` claimed (ahead) and never started because it
    /// stopped first: the row ends FAILED with [`NOT_STARTED`], its lease ends, the retry it
    /// carried is queued again, and on a board that can, the number is handed out again when it
    /// was the last one. A trial that started, or is no longer `worker`'s, is left as it is. The
    /// default finishes the trial as FAILED, which keeps its number.
    fn release(&self, study_run_id: &str, worker: &str, number: i64) -> Result<(), StoreError> {
        let _ = worker;
        let end = TrialEnd {
            state: "FAILED".into(),
            loss: None,
            last_step: None,
            message: Some(NOT_STARTED.into()),
            ended_ms: super::store::now_ms(),
        };
        self.finish(study_run_id, number, &end).map(|_| ())
    }

    /// Records the end of a running trial and ends its lease; `false` if the trial was no longer
    /// running (taken back as lost meanwhile).
    fn finish(&self, study_run_id: &str, number: i64, end: &TrialEnd) -> Result<bool, StoreError>;

    /// Like [`StudyBoard::finish`], but the end may wait to be committed with the board's next
    /// write other than a claim, a read of changes or a lease renewal (the worker's next trial's
    /// start; at the latest its store's flush): a board that carries its store's queued writes
    /// ([`StudyBoard::carries_store_writes`]) queues it with them, which saves a commit per
    /// trial. Until then other workers do not see the end; a worker killed before that commit
    /// leaves the trial running, taken back as lost when its lease runs out (nothing it
    /// recorded as finished is lost: the trial's run ends in the same commit). The default
    /// finishes at once and returns `()`.
    fn finish_later(
        &self,
        study_run_id: &str,
        number: i64,
        end: &TrialEnd,
    ) -> Result<(), StoreError> {
        self.finish(study_run_id, number, end).map(|_| ())
    }

    /// The trial rows changed since version `since` (0: all), and the version to ask from next.
    fn changes(&self, study_run_id: &str, since: i64) -> Result<(Vec<TrialRow>, i64), StoreError>;

    /// Renews the leases `worker` holds on trials `numbers` for `ttl`; how many it still held.
    fn renew(
        &self,
        study_run_id: &str,
        worker: &str,
        numbers: &[i64],
        ttl: Duration,
    ) -> Result<u64, StoreError>;

    /// Takes back the running trials whose lease ran out or whose worker `is_dead` says is
    /// gone: each is marked FAILED "worker lost" and returned to exactly one caller (with a
    /// retry queued when `retries` allows it).
    fn reap(
        &self,
        study_run_id: &str,
        is_dead: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<TrialRow>, StoreError>;

    /// How many trials run on workers other than `worker`, and how many numbers are left to
    /// claim (retries queued included).
    fn outstanding(&self, study_run_id: &str, worker: &str) -> Result<(i64, i64), StoreError>;

    /// Ends the study if nothing of it runs elsewhere and, with `budget_used`, every number
    /// was claimed: `true` for the one caller that ended it, whose result is then pending under
    /// its name, with `reason`, until [`StudyBoard::result_written`].
    fn close(
        &self,
        study_run_id: &str,
        worker: &str,
        budget_used: bool,
        reason: &str,
    ) -> Result<bool, StoreError>;

    /// The study's result (best trial, status) is in its run: nothing is pending any more.
    fn result_written(&self, study_run_id: &str) -> Result<(), StoreError>;

    /// The latest study named `name` in the experiment that ended with its result pending and
    /// whose closer is lost (`is_dead` says so, or it closed more than `patience` ago), handed
    /// to exactly one caller, which becomes its closer and writes the result.
    fn take_over_result(
        &self,
        experiment_id: ExperimentId,
        name: &str,
        worker: &str,
        is_dead: &dyn Fn(&str) -> bool,
        patience: Duration,
    ) -> Result<Option<UnwrittenStudy>, StoreError>;

    /// Whether [`StudyBoard::start`] and [`StudyBoard::finish`] commit the queued writes of the
    /// store that opened this board ([`Store::study_board`](super::Store::study_board)) in
    /// their own transaction, before their own statement: then a trial's queued run and its end
    /// need no commit of their own (the coordinator does not flush the store before a trial's
    /// end). `false` by default: the coordinator flushes the store first.
    fn carries_store_writes(&self) -> bool {
        false
    }

    /// Whether [`StudyBoard::start`] returns only once the store's queued writes (the trial's
    /// run, queued just before) are committed: in the start's own transaction or, should that
    /// fail, on their own, a failing write kept for the store's flush to report. A worker's
    /// recorder then need not flush the store before each trial for the trial's program to find
    /// its run: the start commits it (one commit per trial less). `false` by default (and on
    /// PostgreSQL, whose start may return before its group commit).
    fn start_commits_store_writes(&self) -> bool {
        false
    }
}

/// A worker's name on the board: `host:pid:token`.
pub fn worker_name() -> String {
    format!(
        "{}:{}:{:08x}",
        super::lease::this_host(),
        std::process::id(),
        rand::random::<u32>()
    )
}

/// Whether `worker` (a [`worker_name`]) is a process of this host that no longer exists.
pub fn worker_is_dead_here(worker: &str) -> bool {
    let mut parts = worker.rsplitn(3, ':');
    let (_token, pid, host) = (parts.next(), parts.next(), parts.next());
    match (host, pid.and_then(|p| p.parse::<u32>().ok())) {
        (Some(host), Some(pid)) => {
            host == super::lease::this_host() && !super::lease::process_exists(pid)
        }
        _ => false,
    }
}
