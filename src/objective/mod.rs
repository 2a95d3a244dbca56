//! Ready-made objectives: tune a real model without writing the objective yourself.
//!
//! [`linfa`] trains a [linfa](https://github.com/rust-ml/linfa) model (linear, elastic net,
//! lasso, ridge, Tweedie, decision tree) on a bundled data set or a CSV file, scores it on a
//! seeded validation split (or k-fold) and saves the fitted model with each trial.

pub mod linfa;
