//! Comparisons of search algorithms (`hpo bench`): the benchmark problems, the runner, the
//! statistics, the report and its plots.

pub mod fidelity;
pub mod multimodal;
pub mod noisy;
pub mod oracle;
pub mod plot;
pub mod problems;
pub mod pruners;
pub mod pruning;
pub mod report;
pub mod results;
pub mod runner;
pub mod stats;
pub mod step_budget;

pub use problems::Problem;
