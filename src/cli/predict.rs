//! `hpo predict`: predictions from a registered model fitted by a linfa trial.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::{open_tracker, BadInput};
use crate::objective::linfa::predict_csv;
use crate::registry::parse_run_uri;
use crate::registry::uri::RUNS_SCHEME;
use crate::registry::Registry;

/// Arguments of `predict`.
#[derive(Args, Debug)]
pub struct PredictArgs {
    /// The model: models:/NAME@ALIAS, models:/NAME/VERSION, models:/NAME/latest, or a run's
    /// model as hpo prints it: runs:/RUN_ID/model (runs:/RUN_ID looks in its model/ too).
    #[arg(long)]
    pub model: String,
    /// A CSV file with a header row holding the model's feature columns (other columns are ignored).
    #[arg(long)]
    pub data: PathBuf,
    /// Write the predictions here (one per line, header `prediction`) instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub(crate) fn predict(a: PredictArgs, uri: &Option<String>) -> anyhow::Result<()> {
    let registry = Registry::new(open_tracker(uri)?)?;
    let (run, artifact_path) = if a.model.trim_start().starts_with(RUNS_SCHEME) {
        let (run, _) = registry.resolve_run_uri(&a.model)?;
        (run, parse_run_uri(&a.model)?.artifact_path)
    } else {
        let resolved = registry.resolve(&a.model)?;
        (resolved.run, resolved.version.artifact_path)
    };
    let run_id = run.info.run_id.clone();
    let artifacts = registry.tracker().store().artifact_store(&run.info);
    // a model on a tracking server is downloaded (through its artifact proxy) to a temporary
    // directory that lives until the predictions are made
    let downloaded;
    let mut dir = if artifacts.is_remote() {
        downloaded = tempfile::tempdir()
            .map_err(|e| anyhow::anyhow!("cannot make a temporary directory: {e}"))?;
        artifacts.download_dir(&artifact_path, downloaded.path())?;
        downloaded.path().to_path_buf()
    } else {
        artifacts.resolve(&artifact_path, false)?
    };
    if !dir.join("meta.json").exists() && dir.join("model").join("meta.json").exists() {
        dir = dir.join("model");
    }
    if !dir.join("meta.json").exists() {
        return Err(BadInput(format!(
            "{} (run {run_id}) has no fitted model to predict with: only models from linfa trials (artifact 'model/') can predict",
            a.model
        ))
        .into());
    }
    let predictions = predict_csv(&dir, &a.data).map_err(|e| BadInput(e.to_string()))?;
    let mut text = String::from("prediction\n");
    for p in &predictions {
        text.push_str(&format!("{p}\n"));
    }
    match &a.out {
        Some(path) => {
            std::fs::write(path, text)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            eprintln!(
                "wrote {} predictions to {}",
                predictions.len(),
                path.display()
            );
        }
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    Ok(())
}
