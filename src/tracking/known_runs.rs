//! What a store already checked: runs known to exist and be active, and the artifact locations of
//! active experiments. Queued writes use it to answer "does this run exist?" without a read (which
//! would commit the queue first), so a bad run id is still an error at the call, not later.
//!
//! The memory is only ever a shortcut: every queued write checks the database again when it is
//! committed, so a run deleted by another process meanwhile makes that write fail (reported by the
//! store's `flush`), never succeed wrongly. Deleting through this store forgets what it deletes.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use super::store::ExperimentId;

/// How many run ids are remembered before the memory starts afresh (about 1 MB).
const MAX_REMEMBERED_RUNS: usize = 10_000;

#[derive(Default)]
struct Memory {
    runs: HashSet<String>,
    /// Runs seen to exist (active or deleted), which is all a new run's parent needs; kept apart
    /// from `runs` so the few parents survive when the many trial runs are forgotten.
    parents: HashSet<String>,
    experiments: HashMap<ExperimentId, String>,
}

/// Adds `run_id` to `set`, starting afresh once it holds [`MAX_REMEMBERED_RUNS`] ids.
fn remember(set: &mut HashSet<String>, run_id: &str) {
    if set.len() >= MAX_REMEMBERED_RUNS {
        set.clear();
    }
    set.insert(run_id.to_string());
}

/// Runs and experiments this store has seen active.
#[derive(Default)]
pub(crate) struct KnownRuns(Mutex<Memory>);

impl KnownRuns {
    fn lock(&self) -> MutexGuard<'_, Memory> {
        // every update is one insert or clear: a panic cannot leave the memory torn
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether run `run_id` was seen active.
    pub(crate) fn has_run(&self, run_id: &str) -> bool {
        self.lock().runs.contains(run_id)
    }

    /// Remembers that run `run_id` is active.
    pub(crate) fn add_run(&self, run_id: &str) {
        remember(&mut self.lock().runs, run_id);
    }

    /// Whether run `run_id` was seen to exist (as a parent).
    pub(crate) fn has_parent(&self, run_id: &str) -> bool {
        self.lock().parents.contains(run_id)
    }

    /// Remembers that run `run_id` exists (active or deleted).
    pub(crate) fn add_parent(&self, run_id: &str) {
        remember(&mut self.lock().parents, run_id);
    }

    /// The artifact location of experiment `id`, if it was seen active.
    pub(crate) fn experiment_location(&self, id: ExperimentId) -> Option<String> {
        self.lock().experiments.get(&id).cloned()
    }

    /// Remembers that experiment `id` is active with artifacts at `location`.
    pub(crate) fn add_experiment(&self, id: ExperimentId, location: &str) {
        self.lock().experiments.insert(id, location.to_string());
    }

    /// Forgets everything (an experiment and its runs were deleted).
    pub(crate) fn forget_all(&self) {
        let mut m = self.lock();
        m.runs.clear();
        m.parents.clear();
        m.experiments.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_forgets() {
        let k = KnownRuns::default();
        assert!(!k.has_run("a"));
        k.add_run("a");
        k.add_run("b");
        assert!(k.has_run("a"));
        k.add_experiment(3, "/x/3");
        assert_eq!(k.experiment_location(3).as_deref(), Some("/x/3"));
        k.forget_all();
        assert!(!k.has_run("b"));
        assert_eq!(k.experiment_location(3), None);
    }

    #[test]
    fn parents_outlive_the_forgotten_runs() {
        let k = KnownRuns::default();
        k.add_parent("study");
        for i in 0..MAX_REMEMBERED_RUNS + 5 {
            k.add_run(&i.to_string());
        }
        assert!(k.has_parent("study"));
        k.forget_all();
        assert!(!k.has_parent("study"));
    }

    #[test]
    fn the_memory_is_bounded() {
        let k = KnownRuns::default();
        for i in 0..MAX_REMEMBERED_RUNS + 5 {
            k.add_run(&i.to_string());
        }
        assert!(k.lock().runs.len() <= MAX_REMEMBERED_RUNS);
        assert!(k.has_run(&(MAX_REMEMBERED_RUNS + 4).to_string()));
    }
}
