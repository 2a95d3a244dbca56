//! `hpo artifacts list|get`.

use std::path::PathBuf;

use clap::Subcommand;

use super::open_tracker_to_read;
use super::output::{json, table};
use super::BadInput;
use crate::tracking::ArtifactStore;

/// Artifact commands.
#[derive(Subcommand, Debug)]
pub enum ArtifactsCommand {
    /// List a run's artifacts (under PATH, recursively).
    List {
        /// The run id.
        run_id: String,
        /// A directory inside the run's artifacts (default: the top).
        #[arg(default_value = "")]
        path: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print an artifact file, or copy it to --out; download a directory as a directory (to
    /// --out, or to ./<its name>).
    Get {
        /// The run id.
        run_id: String,
        /// The artifact file's or directory's path.
        path: String,
        /// Write the file here instead of standard output; for a directory, the directory to
        /// create (it must not exist, or be empty).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub(crate) fn run(cmd: ArtifactsCommand, uri: &Option<String>) -> anyhow::Result<()> {
    let tracker = open_tracker_to_read(uri)?;
    match cmd {
        ArtifactsCommand::List {
            run_id,
            path,
            json: as_json,
        } => {
            let store = tracker.artifacts(&run_id)?;
            let mut all = Vec::new();
            let mut dirs = vec![path];
            while let Some(d) = dirs.pop() {
                for a in store.list(&d)? {
                    if a.is_dir {
                        dirs.push(a.path.clone());
                    }
                    all.push(a);
                }
            }
            all.sort_by(|a, b| a.path.cmp(&b.path));
            if as_json {
                return json(&all);
            }
            let rows: Vec<Vec<String>> = all
                .iter()
                .filter(|a| !a.is_dir)
                .map(|a| {
                    vec![
                        a.path.clone(),
                        a.file_size.map(|s| s.to_string()).unwrap_or_default(),
                    ]
                })
                .collect();
            print!("{}", table(&["PATH", "BYTES"], &rows));
        }
        ArtifactsCommand::Get { run_id, path, out } => {
            let store = tracker.artifacts(&run_id)?;
            if store.is_dir(&path) {
                return get_dir(&store, &run_id, &path, out);
            }
            let bytes = store.read(&path)?;
            match out {
                Some(p) => {
                    std::fs::write(&p, &bytes)
                        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display()))?;
                    eprintln!("wrote {} ({} bytes)", p.display(), bytes.len());
                }
                None => {
                    use std::io::Write;
                    std::io::stdout().write_all(&bytes)?;
                }
            }
        }
    }
    Ok(())
}

/// Copies artifact directory `path` of a run, recursively, to `out` (default: `./<its name>`,
/// `./<run id>-artifacts` for the whole run), which must not exist or be empty.
fn get_dir(
    store: &ArtifactStore,
    run_id: &str,
    path: &str,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let prefix = parts.join("/");
    let prefix = prefix.as_str();
    let target = out.unwrap_or_else(|| match prefix.rsplit('/').next() {
        Some(name) if !name.is_empty() && name != "." => PathBuf::from(name),
        _ => PathBuf::from(format!("{run_id}-artifacts")),
    });
    if target.exists() {
        let empty_dir = std::fs::read_dir(&target).is_ok_and(|mut d| d.next().is_none());
        if !empty_dir {
            return Err(BadInput(format!(
                "'{path}' is a directory and {} already exists; pass --out with a new directory to download it to",
                target.display()
            ))
            .into());
        }
    }
    let (files, bytes) = store.download_dir(prefix, &target)?;
    eprintln!(
        "wrote {files} file{} ({bytes} bytes) to {}",
        if files == 1 { "" } else { "s" },
        target.display()
    );
    Ok(())
}
