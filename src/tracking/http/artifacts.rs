//! Run artifacts on a tracking server, through its `mlflow-artifacts` proxy: upload (`PUT`),
//! download (`GET`) and listing (`GET ...?path=`) under the run's location
//! `mlflow-artifacts:/<experiment>/<run>/artifacts`. A run whose artifact URI is a local path
//! (a server started with `--no-serve-artifacts` on this machine) keeps a local store.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use super::client::{CallError, RestClient};
use crate::tracking::artifacts::RemoteArtifacts;
use crate::tracking::{ArtifactError, ArtifactInfo, ArtifactStore};

/// The artifact store of a run whose artifact URI is `uri`.
pub(crate) fn for_run(client: &Arc<RestClient>, uri: &str) -> ArtifactStore {
    if let Some(rest) = uri.strip_prefix("mlflow-artifacts:") {
        // mlflow-artifacts:/1/<run>/artifacts, or mlflow-artifacts://host:port/1/<run>/artifacts
        let path = match rest.strip_prefix("//") {
            Some(with_host) => with_host.split_once('/').map_or("", |(_, p)| p),
            None => rest,
        };
        let location = path.trim_matches('/').to_string();
        return ArtifactStore::remote(
            uri,
            Arc::new(ProxyArtifacts {
                client: client.clone(),
                location,
            }),
        );
    }
    let local = uri
        .strip_prefix("file://")
        .map(|p| p.strip_prefix("localhost").unwrap_or(p))
        .unwrap_or(uri);
    ArtifactStore::new(local)
}

/// A run's artifacts behind a server's proxy.
#[derive(Debug)]
struct ProxyArtifacts {
    client: Arc<RestClient>,
    /// `<experiment>/<run>/artifacts`.
    location: String,
}

impl ProxyArtifacts {
    fn at(&self, path: &str) -> String {
        if path.is_empty() {
            self.location.clone()
        } else {
            format!("{}/{path}", self.location)
        }
    }

    fn error(&self, path: &str, e: CallError) -> ArtifactError {
        match &e {
            CallError::Api { status: 404, .. } => ArtifactError::NotFound(path.to_string()),
            _ => ArtifactError::Io {
                path: PathBuf::from(format!("mlflow-artifacts:/{}", self.at(path))),
                source: std::io::Error::other(e.to_string()),
            },
        }
    }
}

impl RemoteArtifacts for ProxyArtifacts {
    fn upload(&self, artifact_file: &str, bytes: &[u8]) -> Result<(), ArtifactError> {
        self.client
            .put_artifact(&self.at(artifact_file), bytes)
            .map_err(|e| self.error(artifact_file, e))
    }

    fn download(&self, artifact_file: &str) -> Result<Vec<u8>, ArtifactError> {
        self.client
            .get_artifact(&self.at(artifact_file))
            .map_err(|e| self.error(artifact_file, e))
    }

    fn list(&self, dir: &str) -> Result<Vec<ArtifactInfo>, ArtifactError> {
        let v = self
            .client
            .list_artifacts(&self.at(dir))
            .map_err(|e| self.error(dir, e))?;
        let files = v.get("files").and_then(Value::as_array);
        Ok(files
            .into_iter()
            .flatten()
            .filter_map(|f| {
                let name = f.get("path")?.as_str()?.rsplit('/').next()?.to_string();
                let size = match f.get("file_size") {
                    Some(Value::Number(n)) => n.as_u64(),
                    Some(Value::String(s)) => s.parse().ok(),
                    _ => None,
                };
                let is_dir = f.get("is_dir").and_then(Value::as_bool).unwrap_or(false);
                Some(ArtifactInfo {
                    path: if dir.is_empty() {
                        name
                    } else {
                        format!("{dir}/{name}")
                    },
                    is_dir,
                    file_size: if is_dir { None } else { size },
                })
            })
            .collect())
    }
}
