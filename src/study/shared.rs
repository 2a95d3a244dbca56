//! Studies shared by many processes: the [`Coordinator`] a study's driver consults when other
//! workers (other processes, other machines) run the same study.
//!
//! The core does no I/O: a coordinator is implemented above it (the tracking module's shared
//! studies, on SQLite or PostgreSQL) and plugged in with [`Fmin::coordinator`](super::Fmin::coordinator).
//! With a coordinator the driver
//! - takes trial numbers from it ([`Coordinator::claim`]) instead of counting them itself, so
//!   numbers are unique across workers and the study's budget holds across all of them;
//! - merges the other workers' trials into its history before each suggestion
//!   ([`Coordinator::sync`]): their running trials are pending points (a constant liar across
//!   machines), their finished ones count like its own;
//! - tells it when its own trials start and end, so the others see them.

use crate::space::Params;
use crate::trial::Trial;

/// What [`Coordinator::claim`] hands out.
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    /// Run trial `number`: with the given params (a retried trial's), else the algorithm's
    /// suggestion.
    Trial {
        /// The trial's number, unique in the study.
        number: usize,
        /// Params to evaluate again (a retry of a trial whose worker was lost).
        params: Option<Params>,
        /// The trial this one retries.
        retry_of: Option<usize>,
    },
    /// The budget is used up but other workers' trials still run (and may be retried): ask
    /// again later.
    Wait,
    /// The budget is used up and every trial has finished.
    Done,
}

/// A study's link to the other workers running it. Calls come from the driver's thread.
pub trait Coordinator: Send {
    /// The trials that other workers started or finished since the last call (the first call
    /// returns every trial of the study). Trials this worker runs are left out.
    fn sync(&mut self) -> Result<Vec<Trial>, String>;

    /// The next trial to run, or whether to wait or stop.
    fn claim(&mut self) -> Result<Claim, String>;

    /// This worker started `trial` (its params are set; it is running).
    fn started(&mut self, trial: &Trial) -> Result<(), String>;

    /// This worker's `trial` finished (its state, loss and message are final).
    fn finished(&mut self, trial: &Trial) -> Result<(), String>;

    /// The driver hands out no more trials, and none of this worker's runs (called once, after
    /// the last trial ended, before the observers hear that the study ended): a number claimed
    /// ahead is given back. Nothing by default.
    fn stopped(&mut self) {}

    /// The learning curves (the pruner's watched metric) of other workers' trials that finished
    /// since the last call, so this worker's pruner compares its trials with theirs too.
    fn take_curves(&mut self) -> Option<super::prune::Curves> {
        None
    }

    /// Where the pruner reads the curves of trials running on other workers now, and at most
    /// how often (see [`CurveFeed`](super::prune::CurveFeed)); `None` (the default): the
    /// pruner sees other workers' trials only once they end, through
    /// [`take_curves`](Self::take_curves).
    fn curve_feed(
        &self,
    ) -> Option<(
        std::sync::Arc<dyn super::prune::CurveFeed>,
        std::time::Duration,
    )> {
        None
    }

    /// How long to wait before claiming again after [`Claim::Wait`].
    fn poll_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis(500)
    }
}
