//! Trial directories of a command objective, reused from trial to trial.
//!
//! Each trial gets `trial-<number>/` under the scratch directory, holding its `params.json` and
//! an `artifacts/` directory. Making and removing two directories per trial allocates and frees
//! disk blocks, which costs milliseconds on a busy ext4 disk (more with online discard). So a
//! trial's directory is a directory of a small pool, renamed to `trial-<number>` while the
//! trial runs and back to `free-<k>` after it, emptied of whatever the trial left; the params
//! file is rewritten in place. A process that outlives its trial and still uses the old path
//! finds nothing there, as when the directory was removed.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The params file's name in a trial directory.
const PARAMS: &str = "params.json";
/// The artifact directory's name in a trial directory.
const ARTIFACTS: &str = "artifacts";

/// The pool of trial directories under one scratch directory.
#[derive(Debug)]
pub struct TrialDirs {
    root: PathBuf,
    /// Free directories (`free-<k>`), ready for the next trial.
    free: Mutex<Vec<usize>>,
    /// How many directories the pool has made.
    made: AtomicUsize,
}

/// One trial's directory, taken from the pool until [`TrialDirs::give_back`].
#[derive(Debug)]
pub struct TrialDir {
    slot: usize,
    path: PathBuf,
}

impl TrialDir {
    /// The directory (`trial-<number>`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The trial's params file.
    pub fn params_file(&self) -> PathBuf {
        self.path.join(PARAMS)
    }

    /// The trial's artifact directory (empty when the trial starts).
    pub fn artifacts(&self) -> PathBuf {
        self.path.join(ARTIFACTS)
    }
}

impl TrialDirs {
    /// A pool under `root` (which exists).
    pub fn new(root: &Path) -> Self {
        TrialDirs {
            root: root.to_path_buf(),
            free: Mutex::new(Vec::new()),
            made: AtomicUsize::new(0),
        }
    }

    fn free_path(&self, slot: usize) -> PathBuf {
        self.root.join(format!("free-{slot}"))
    }

    /// The directory of trial `number`, with `params` written to its params file.
    pub fn take(&self, number: usize, params: &str) -> io::Result<TrialDir> {
        let path = self.root.join(format!("trial-{number}"));
        let reused = self.free.lock().ok().and_then(|mut f| f.pop());
        let slot = match reused {
            Some(slot) => {
                std::fs::rename(self.free_path(slot), &path)?;
                slot
            }
            None => {
                let slot = self.made.fetch_add(1, Ordering::Relaxed);
                // two mkdir calls (create_dir_all would try the inner one first)
                std::fs::create_dir(&path)?;
                std::fs::create_dir(path.join(ARTIFACTS))?;
                slot
            }
        };
        let dir = TrialDir { slot, path };
        // rewritten in place: truncating a file to nothing and writing it again makes ext4
        // flush it at close
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.params_file())?;
        f.write_all(params.as_bytes())?;
        f.set_len(params.len() as u64)?;
        Ok(dir)
    }

    /// Empty `dir` of what its trial left (everything but an empty artifact directory and the
    /// params file) and return it to the pool; a directory that cannot be emptied is removed.
    pub fn give_back(&self, dir: TrialDir) {
        if empty(&dir.path).is_ok() && std::fs::rename(&dir.path, self.free_path(dir.slot)).is_ok()
        {
            if let Ok(mut f) = self.free.lock() {
                f.push(dir.slot);
            }
            return;
        }
        let _ = std::fs::remove_dir_all(&dir.path);
    }
}

/// Remove everything in a trial directory but its params file and its (emptied) artifact
/// directory.
fn empty(path: &Path) -> io::Result<()> {
    let mut has_artifacts = false;
    for e in std::fs::read_dir(path)? {
        let e = e?;
        let name = e.file_name();
        let is_dir = e.file_type()?.is_dir();
        if name == PARAMS && !is_dir {
            continue;
        }
        if name == ARTIFACTS && is_dir {
            has_artifacts = true;
            for a in std::fs::read_dir(e.path())? {
                let a = a?;
                if a.file_type()?.is_dir() {
                    std::fs::remove_dir_all(a.path())?;
                } else {
                    std::fs::remove_file(a.path())?;
                }
            }
            continue;
        }
        if is_dir {
            std::fs::remove_dir_all(e.path())?;
        } else {
            std::fs::remove_file(e.path())?;
        }
    }
    if has_artifacts {
        Ok(())
    } else {
        std::fs::create_dir(path.join(ARTIFACTS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_reused_directory_holds_nothing_of_its_last_trial() {
        let root = tempfile::tempdir().unwrap();
        let pool = TrialDirs::new(root.path());
        let d = pool.take(0, r#"{"x":0.123456789}"#).unwrap();
        assert_eq!(d.path(), root.path().join("trial-0"));
        std::fs::write(d.artifacts().join("model.txt"), "m").unwrap();
        std::fs::create_dir(d.artifacts().join("sub")).unwrap();
        std::fs::write(d.artifacts().join("sub/f"), "f").unwrap();
        std::fs::write(d.path().join("stdout.txt"), "out").unwrap();
        pool.give_back(d);
        assert_eq!(names(root.path()), ["free-0"]);
        // the next trial gets the same directory under its own name, emptied, and a params
        // file shorter than the last one's holds exactly its own params
        let d = pool.take(1, r#"{"x":1}"#).unwrap();
        assert_eq!(names(root.path()), ["trial-1"]);
        assert_eq!(names(d.path()), ["artifacts", "params.json"]);
        assert!(names(&d.artifacts()).is_empty());
        assert_eq!(
            std::fs::read_to_string(d.params_file()).unwrap(),
            r#"{"x":1}"#
        );
        pool.give_back(d);
    }

    #[test]
    fn parallel_trials_get_directories_of_their_own() {
        let root = tempfile::tempdir().unwrap();
        let pool = TrialDirs::new(root.path());
        let a = pool.take(0, "{}").unwrap();
        let b = pool.take(1, "{}").unwrap();
        assert_ne!(a.slot, b.slot);
        assert_eq!(names(root.path()), ["trial-0", "trial-1"]);
        pool.give_back(a);
        let c = pool.take(2, "{}").unwrap();
        assert_eq!(names(root.path()), ["trial-1", "trial-2"]);
        pool.give_back(b);
        pool.give_back(c);
        assert_eq!(names(root.path()), ["free-0", "free-1"]);
    }

    #[test]
    fn a_trial_that_removed_its_artifact_directory_gets_it_back() {
        let root = tempfile::tempdir().unwrap();
        let pool = TrialDirs::new(root.path());
        let d = pool.take(0, "{}").unwrap();
        std::fs::remove_dir(d.artifacts()).unwrap();
        pool.give_back(d);
        let d = pool.take(1, "{}").unwrap();
        assert!(d.artifacts().is_dir());
    }
}
