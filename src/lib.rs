//! hpo: hyperparameter optimization with experiment tracking built in.
//!
//! The optimizer core ([`space`], [`algo`], [`trial`], [`study`]) is pure computation: a search
//! space, algorithms that suggest the next trial from the history, and a driver (`fmin`, ask/tell)
//! that evaluates an objective in parallel. Tracking, progress and stopping rules plug in as
//! [`Observer`]s; [`tracking`] is the embedded SQLite store of experiments and runs.
//!
//! ```
//! use hpo::{fmin, hp, Params, ParamError, Space, Tpe};
//! let space = Space::from_params([hp::uniform("x", -5.0, 5.0), hp::choice("sign", [1, -1])]).unwrap();
//! let objective = |p: &Params| -> Result<f64, ParamError> {
//!     Ok((p.f64("x")? * p.i64("sign")? as f64 - 2.0).powi(2))
//! };
//! let best = fmin(objective, &space, Tpe, 60).unwrap();
//! assert!(best.loss.unwrap() < 0.5);
//! ```

pub mod algo;
pub mod bench;
pub mod cli;
pub mod objective;
pub mod registry;
pub mod runfile;
pub mod space;
pub mod study;
pub mod tracking;
pub mod trial;
pub mod ui;
pub mod worker;

pub use algo::{Algorithm, Anneal, Random, Tpe};
pub use space::{hp, Assignment, Dist, Node, ParamError, Params, Space, SpaceError, Value};
pub use study::{
    fmin, with_context, Fmin, Interrupt, Observer, Pruner, StopReason, Study, StudyError,
    StudyResult, TrialContext,
};
pub use trial::{IntoTrialResult, Status, Trial, TrialResult, TrialState};
