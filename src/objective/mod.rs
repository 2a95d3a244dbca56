//! What a trial runs, for the `hpo` command: an external program ([`command`]), a linfa model on
//! data, or a benchmark function. Each is an [`Objective`](crate::study::Objective).

pub mod command;
