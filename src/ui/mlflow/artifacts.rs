//! Artifacts: the `mlflow-artifacts` proxy (`PUT` upload, `GET` download or list, `DELETE`) over
//! `<experiment>/<run>/artifacts/<path>`, and the tracking API's `artifacts/list`.
//!
//! Paths go through [`ArtifactStore`], which refuses absolute paths, `..` and symlinks leaving the
//! run's directory.

use std::fs;

use serde_json::{json, Value};

use super::args::Args;
use super::convert;
use super::{Mlflow, MlflowError};
use crate::tracking::{ArtifactError, ArtifactInfo, ArtifactStore};
use crate::ui::http::Response;

/// The run's artifact store and the path inside it named by `<experiment>/<run>/artifacts/<path>`.
fn locate(m: &Mlflow, parts: &[&str]) -> Result<(ArtifactStore, String), MlflowError> {
    let [experiment, run_id, "artifacts", rest @ ..] = parts else {
        return Err(MlflowError::not_found(format!(
            "no artifact location '{}': expected <experiment id>/<run id>/artifacts/<path>",
            parts.join("/")
        )));
    };
    let run = m.tracker().get_run(run_id)?;
    if run.info.experiment_id.to_string() != *experiment {
        return Err(MlflowError::not_found(format!(
            "run '{run_id}' is not in experiment '{experiment}'"
        )));
    }
    Ok((
        m.tracker().store().artifact_store(&run.info),
        rest.join("/"),
    ))
}

/// The entries directly under `path`; a file or a missing path lists as empty (as MLflow's).
fn list_entries(store: &ArtifactStore, path: &str) -> Result<Vec<ArtifactInfo>, MlflowError> {
    if store.is_remote() {
        // a store on another server (hpo run recording into it): it lists as MLflow's does
        return match store.list(path) {
            Ok(list) => Ok(list),
            Err(ArtifactError::NotFound(_)) => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        };
    }
    match store.resolve(path, false) {
        Ok(local) if local.is_dir() => Ok(store.list(path)?),
        Ok(_) | Err(ArtifactError::NotFound(_)) => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

fn file_json(name: &str, info: &ArtifactInfo) -> Value {
    let mut v = json!({ "path": name, "is_dir": info.is_dir });
    if let Some(size) = info.file_size {
        v["file_size"] = json!(size);
    }
    v
}

/// `GET mlflow-artifacts/artifacts?path=<experiment>/<run>/artifacts/<dir>` → `{files}`, each
/// file's `path` its base name.
pub fn proxy_list(m: &Mlflow, args: &Args) -> Result<Response, MlflowError> {
    let path = args.opt_str("path")?.unwrap_or("");
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let (store, inner) = locate(m, &parts)?;
    let files: Vec<Value> = list_entries(&store, &inner)?
        .iter()
        .map(|f| file_json(f.path.rsplit('/').next().unwrap_or(&f.path), f))
        .collect();
    Ok(Response::json(200, &json!({ "files": files })))
}

/// `GET mlflow-artifacts/artifacts/<experiment>/<run>/artifacts/<file>`: the file's bytes.
pub fn download(m: &Mlflow, parts: &[&str]) -> Result<Response, MlflowError> {
    let (store, inner) = locate(m, parts)?;
    let bytes = store.read(&inner)?;
    Ok(Response::new(200, "application/octet-stream", bytes))
}

/// `PUT mlflow-artifacts/artifacts/<experiment>/<run>/artifacts/<file>`: stores the body.
pub fn upload(m: &Mlflow, parts: &[&str], body: &[u8]) -> Result<Response, MlflowError> {
    let (store, inner) = locate(m, parts)?;
    if inner.is_empty() {
        return Err(MlflowError::invalid("an artifact upload needs a file path"));
    }
    store.log_bytes(body, &inner)?;
    Ok(Response::json(200, &json!({})))
}

/// `DELETE mlflow-artifacts/artifacts/<experiment>/<run>/artifacts/<path>`: removes a file or
/// a directory.
pub fn delete(m: &Mlflow, parts: &[&str]) -> Result<Response, MlflowError> {
    let (store, inner) = locate(m, parts)?;
    if inner.is_empty() {
        return Err(MlflowError::invalid(
            "refusing to delete a run's whole artifact directory",
        ));
    }
    let local = store.resolve(&inner, false)?;
    let removed = match fs::symlink_metadata(&local) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(&local),
        Ok(_) => fs::remove_file(&local),
        Err(_) => return Err(MlflowError::not_found(format!("no artifact at '{inner}'"))),
    };
    removed.map_err(|e| {
        MlflowError::new(
            500,
            "INTERNAL_ERROR",
            format!("cannot delete '{inner}': {e}"),
        )
    })?;
    Ok(Response::json(200, &json!({})))
}

/// `GET artifacts/list?run_id=&path=` → `{root_uri, files}`, paths relative to the run's root.
pub fn list(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let run = m.tracker().get_run(args.run_id()?)?;
    let store = m.tracker().store().artifact_store(&run.info);
    let path = args.opt_str("path")?.unwrap_or("");
    let files: Vec<Value> = list_entries(&store, path)?
        .iter()
        .map(|f| file_json(&f.path, f))
        .collect();
    let root = convert::run_info(&run.info, m.view)["artifact_uri"].clone();
    Ok(json!({ "root_uri": root, "files": files }))
}
