//! `hpo artifacts list|get`.

use std::path::PathBuf;

use clap::Subcommand;

use super::open_tracker_to_read;
use super::output::{json, table};

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
    /// Print an artifact file, or copy it to --out.
    Get {
        /// The run id.
        run_id: String,
        /// The artifact file's path.
        path: String,
        /// Write it here instead of standard output.
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
            let bytes = tracker.artifacts(&run_id)?.read(&path)?;
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
