//! hpo: hyperparameter optimization with experiment tracking built in.

pub mod tracking;
