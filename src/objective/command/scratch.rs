//! The scratch directory of a command objective: `hpo-trials-<pid>-<random>` in the temporary
//! directory, holding each trial's params file, artifact directory and output files.
//!
//! A trial's directory is removed once the trial ended and its files were copied into its run;
//! the whole directory is removed when the objective is dropped (the end of a study, an interrupted one included).
//! A directory left by an hpo process that no longer exists (killed with `kill -9`) is removed
//! when the next command objective is made.

use std::path::Path;

const PREFIX: &str = "hpo-trials-";

/// Make this process's scratch directory, first removing those of dead hpo processes.
pub fn create() -> std::io::Result<tempfile::TempDir> {
    remove_stale(&std::env::temp_dir());
    tempfile::Builder::new()
        .prefix(&format!("{PREFIX}{}-", std::process::id()))
        .tempdir()
}

/// A key unique to this objective (its scratch directory's name).
pub fn key_of(dir: &Path) -> String {
    dir.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(PREFIX)
        .trim_start_matches(PREFIX)
        .to_string()
}

/// Remove `hpo-trials-<pid>-*` directories in `tmp` whose process is gone.
fn remove_stale(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: kill with signal 0 only checks that the process exists.
        let alive = pid > 0 && unsafe { libc::kill(pid, 0) } == 0;
        let owned_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if !alive && owned_dir && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}
