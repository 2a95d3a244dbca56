//! Comparisons of search algorithms: the benchmark problems (and, later, the runner, the
//! statistics and the report of `hpo bench`).

pub mod problems;

pub use problems::Problem;
