//! Running a search: `fmin` and its builder, ask/tell, observers and stopping rules.

pub mod ask_tell;
pub mod fmin;
pub mod interrupt;
pub mod observer;
pub mod prune;
pub mod shared;
pub mod stop;
mod workers;

pub use ask_tell::{AskedTrial, Study, StudyError};
pub use fmin::{fmin, with_context, Fmin, Objective, StudyResult, TrialContext, MAX_PARALLELISM};
pub use interrupt::{Interrupt, Subscription};
pub use observer::{Control, Observer, StopReason, StudyInfo, TrialReport};
pub use prune::{Pruner, PrunerError};
pub use shared::{Claim, Coordinator};
pub use stop::{LossThreshold, NoProgress};
