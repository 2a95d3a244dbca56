//! What a trial runs: an external program ([`command`]) or a linfa model on data ([`linfa`]),
//! ready-made [`Objective`](crate::study::Objective)s for the `hpo` command and the library.
//! (Benchmark functions live in [`crate::bench::problems`].)
//!
//! [`linfa`] trains a linfa model (linear, elastic net, lasso, ridge, Tweedie, decision tree) on
//! a bundled data set or a CSV file, scores it on a seeded validation split (or k-fold) and saves
//! the fitted model with each trial.

pub mod command;
pub mod linfa;
