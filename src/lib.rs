//! hpo: hyperparameter optimization with experiment tracking built in.

pub mod space;

pub use space::{hp, Assignment, Dist, Node, ParamError, Params, Space, SpaceError, Value};
pub mod algo;
pub mod trial;

pub use algo::{Algorithm, Anneal, Random, Tpe};
pub use trial::{IntoTrialResult, Status, Trial, TrialResult, TrialState};
pub mod study;

pub use study::{fmin, with_context, Fmin, Observer, Study, StudyError, StudyResult, TrialContext};
pub mod bench;
