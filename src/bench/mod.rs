//! Comparisons of search algorithms (`hpo bench`): the benchmark problems, the runner, the
//! statistics, the report and its plots.

pub mod problems;
pub mod stats;

pub use problems::Problem;
