//! The model registry of a tracking server, over MLflow's REST calls `registered-models/*` and
//! `model-versions/*` (the contract of MLflow's `model_registry.proto`): the same calls work
//! against `hpo server` and a real `mlflow server`.
//!
//! A version is created with the location of its files as `source` (the run's artifact URI and
//! the artifact path, as MLflow's own client sends it) and the run's id; the server records the
//! rest. A single version read (by number, alias or stage) also reads its run, for the storage
//! location; its params and metrics (what `hpo models show` prints) are the snapshot `hpo server`
//! took at registration (hpo's own call `GET /api/2.0/hpo/model-versions/snapshot`), or, from
//! MLflow's server, which keeps none, the run's values at the time of the read. Versions from a
//! search are completed the same way (a call or two per version). The overall latest version is found by a search
//! ordered by `version_number DESC`, the latest in a stage by `get-latest-versions`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::{json, Value};

use super::client::{BodyMethod, CallError};
use super::registry_json;
use super::{store_error, Inner, Subject};
use crate::registry::model::{validate_alias, validate_model_name};
use crate::registry::{
    ModelMetric, ModelSearch, ModelTag, ModelVersion, ModelVersionPage, NewModelVersion,
    RegisteredModel, RegisteredModelPage, RegistryError, RegistryStore, Stage,
};
use crate::tracking::Param;

/// MLflow's server takes at most this many registered models per search page.
const MODELS_PAGE_LIMIT: usize = 1000;

/// The registry half of an [`HttpStore`](super::HttpStore): it shares the store's connection
/// pool and waits for the store's queued writes before each call.
pub(crate) struct HttpRegistry {
    inner: Arc<Inner>,
}

/// What a failed call was about, for the typed errors the registry's callers match on.
#[derive(Clone, Copy)]
enum About<'a> {
    CreateModel(&'a str),
    Other,
}

/// The registry's error for a failed call: the server's refusal of bad input as
/// [`RegistryError::Refused`] (a taken name as [`RegistryError::ModelExists`]), anything else
/// as the store's error.
fn registry_error(e: CallError, about: About) -> RegistryError {
    if let CallError::Api { code, message, .. } = &e {
        match (code.as_str(), about) {
            ("RESOURCE_ALREADY_EXISTS", About::CreateModel(name)) => {
                return RegistryError::ModelExists(name.to_string())
            }
            (
                "RESOURCE_DOES_NOT_EXIST"
                | "RESOURCE_ALREADY_EXISTS"
                | "INVALID_PARAMETER_VALUE"
                | "INVALID_STATE"
                | "BAD_REQUEST",
                _,
            ) => {
                return RegistryError::Refused {
                    code: code.clone(),
                    message: message.clone(),
                }
            }
            _ => {}
        }
    }
    RegistryError::Store(store_error(e, Subject::Other))
}

fn tags_json(tags: &[ModelTag]) -> Value {
    Value::Array(
        tags.iter()
            .map(|t| json!({ "key": t.key, "value": t.value }))
            .collect(),
    )
}

impl HttpRegistry {
    pub(super) fn new(inner: Arc<Inner>) -> Self {
        HttpRegistry { inner }
    }

    fn get(&self, endpoint: &str, query: &[(&str, &str)]) -> Result<Value, RegistryError> {
        self.inner.queue.wait_sent();
        self.inner
            .client
            .get(endpoint, query)
            .map_err(|e| registry_error(e, About::Other))
    }

    fn post(&self, endpoint: &str, body: Value, about: About) -> Result<Value, RegistryError> {
        self.inner.queue.wait_sent();
        self.inner
            .client
            .post(endpoint, &body)
            .map_err(|e| registry_error(e, about))
    }

    fn send(
        &self,
        method: BodyMethod,
        endpoint: &str,
        body: Value,
    ) -> Result<Value, RegistryError> {
        self.inner.queue.wait_sent();
        self.inner
            .client
            .send(method, endpoint, &body)
            .map_err(|e| registry_error(e, About::Other))
    }

    fn model_of(v: &Value) -> Result<RegisteredModel, RegistryError> {
        registry_json::model(v.get("registered_model").unwrap_or(&Value::Null))
    }

    /// The params and metrics `hpo server` kept of version `version` of `name` when it was
    /// registered (hpo's own call); `None` from a server without that call (MLflow's, remembered)
    /// or when it cannot be read.
    fn snapshot(&self, name: &str, version: i64) -> Option<(Vec<Param>, Vec<ModelMetric>)> {
        if self.inner.no_snapshot_call.load(Ordering::Relaxed) {
            return None;
        }
        let number = version.to_string();
        let query = [("name", name), ("version", number.as_str())];
        match self
            .inner
            .client
            .get_from("hpo", "model-versions/snapshot", &query)
        {
            Ok(v) => registry_json::snapshot(&v),
            Err(CallError::Api {
                status: 404, code, ..
            }) if code != "RESOURCE_DOES_NOT_EXIST" => {
                self.inner.no_snapshot_call.store(true, Ordering::Relaxed);
                None
            }
            Err(_) => None,
        }
    }

    /// A version from an answer, completed: the params and metrics snapshot `hpo server` took
    /// at registration (from another server: the run's params and latest metric values now),
    /// and the storage location from its run (the run's artifact URI and the version's path).
    fn full_version(&self, v: &Value) -> Result<ModelVersion, RegistryError> {
        let version = registry_json::version(v.get("model_version").unwrap_or(&Value::Null))?;
        Ok(self.complete(version))
    }

    /// `version` with its snapshot and storage location (see [`Self::full_version`]).
    fn complete(&self, mut version: ModelVersion) -> ModelVersion {
        if version.run_id.is_empty() {
            return version;
        }
        let snapshot = self.snapshot(&version.name, version.version);
        // a version outlives its run: without the run, the version is shown as the server has it
        if let Ok(run) = self.inner.fetch_run(&version.run_id) {
            let mut location = run.info.artifact_uri.trim_end_matches('/').to_string();
            if !version.artifact_path.is_empty() {
                location.push('/');
                location.push_str(&version.artifact_path);
            }
            version.storage_location = location;
            if snapshot.is_none() {
                version.run_metrics = ModelMetric::latest_of(&run.data);
                version.run_params = run.data.params;
            }
        }
        if let Some((params, metrics)) = snapshot {
            version.run_params = params;
            version.run_metrics = metrics;
        }
        version
    }

    fn search_query(query: &ModelSearch, limit: usize) -> Vec<(&'static str, String)> {
        let mut q = vec![
            ("filter", query.filter.clone()),
            ("max_results", query.max_results.min(limit).to_string()),
        ];
        for o in &query.order_by {
            q.push(("order_by", o.clone()));
        }
        if let Some(t) = &query.page_token {
            q.push(("page_token", t.clone()));
        }
        q
    }

    fn page_token(v: &Value) -> Option<String> {
        v.get("next_page_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
    }
}

impl RegistryStore for HttpRegistry {
    fn create_registered_model(
        &self,
        name: &str,
        description: &str,
        tags: &[ModelTag],
    ) -> Result<RegisteredModel, RegistryError> {
        validate_model_name(name)?;
        let mut body = json!({ "name": name, "tags": tags_json(tags) });
        if !description.is_empty() {
            body["description"] = json!(description);
        }
        let v = self.post("registered-models/create", body, About::CreateModel(name))?;
        // MLflow's server answers with the name only: read the whole model
        match Self::model_of(&v) {
            Ok(m) if m.creation_time != 0 => Ok(m),
            _ => self.get_registered_model(name),
        }
    }

    fn get_registered_model(&self, name: &str) -> Result<RegisteredModel, RegistryError> {
        let v = self.get("registered-models/get", &[("name", name)])?;
        Self::model_of(&v)
    }

    fn rename_registered_model(
        &self,
        name: &str,
        new_name: &str,
    ) -> Result<RegisteredModel, RegistryError> {
        validate_model_name(new_name)?;
        let body = json!({ "name": name, "new_name": new_name });
        self.post("registered-models/rename", body, About::Other)?;
        self.get_registered_model(new_name)
    }

    fn update_registered_model(
        &self,
        name: &str,
        description: &str,
    ) -> Result<RegisteredModel, RegistryError> {
        let body = json!({ "name": name, "description": description });
        self.send(BodyMethod::Patch, "registered-models/update", body)?;
        self.get_registered_model(name)
    }

    fn set_registered_model_tag(
        &self,
        name: &str,
        key: &str,
        value: &str,
    ) -> Result<(), RegistryError> {
        let body = json!({ "name": name, "key": key, "value": value });
        self.post("registered-models/set-tag", body, About::Other)
            .map(|_| ())
    }

    fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<(), RegistryError> {
        let body = json!({ "name": name, "key": key });
        self.send(BodyMethod::Delete, "registered-models/delete-tag", body)
            .map(|_| ())
    }

    fn delete_registered_model(&self, name: &str) -> Result<(), RegistryError> {
        self.send(
            BodyMethod::Delete,
            "registered-models/delete",
            json!({ "name": name }),
        )
        .map(|_| ())
    }

    fn create_model_version(&self, new: &NewModelVersion) -> Result<ModelVersion, RegistryError> {
        let mut body = json!({
            "name": new.name,
            "source": new.storage_location,
            "run_id": new.run_id,
            "tags": tags_json(&new.tags),
        });
        if !new.description.is_empty() {
            body["description"] = json!(new.description);
        }
        let v = self.post("model-versions/create", body, About::Other)?;
        self.full_version(&v)
    }

    fn get_model_version(&self, name: &str, version: i64) -> Result<ModelVersion, RegistryError> {
        let v = self.get(
            "model-versions/get",
            &[("name", name), ("version", &version.to_string())],
        )?;
        self.full_version(&v)
    }

    fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: &str,
    ) -> Result<ModelVersion, RegistryError> {
        let body =
            json!({ "name": name, "version": version.to_string(), "description": description });
        self.send(BodyMethod::Patch, "model-versions/update", body)?;
        self.get_model_version(name, version)
    }

    fn set_model_version_tag(
        &self,
        name: &str,
        version: i64,
        key: &str,
        value: &str,
    ) -> Result<(), RegistryError> {
        let body =
            json!({ "name": name, "version": version.to_string(), "key": key, "value": value });
        self.post("model-versions/set-tag", body, About::Other)
            .map(|_| ())
    }

    fn delete_model_version_tag(
        &self,
        name: &str,
        version: i64,
        key: &str,
    ) -> Result<(), RegistryError> {
        let body = json!({ "name": name, "version": version.to_string(), "key": key });
        self.send(BodyMethod::Delete, "model-versions/delete-tag", body)
            .map(|_| ())
    }

    fn delete_model_version(&self, name: &str, version: i64) -> Result<(), RegistryError> {
        let body = json!({ "name": name, "version": version.to_string() });
        self.send(BodyMethod::Delete, "model-versions/delete", body)
            .map(|_| ())
    }

    fn transition_model_version_stage(
        &self,
        name: &str,
        version: i64,
        stage: Stage,
        archive_existing: bool,
    ) -> Result<ModelVersion, RegistryError> {
        let body = json!({
            "name": name,
            "version": version.to_string(),
            "stage": stage.as_str(),
            "archive_existing_versions": archive_existing,
        });
        self.post("model-versions/transition-stage", body, About::Other)?;
        self.get_model_version(name, version)
    }

    fn set_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
        version: i64,
    ) -> Result<(), RegistryError> {
        validate_alias(alias)?;
        let body = json!({ "name": name, "alias": alias, "version": version.to_string() });
        self.post("registered-models/alias", body, About::Other)
            .map(|_| ())
    }

    fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<(), RegistryError> {
        let body = json!({ "name": name, "alias": alias });
        self.send(BodyMethod::Delete, "registered-models/alias", body)
            .map(|_| ())
    }

    fn get_model_version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<ModelVersion, RegistryError> {
        let v = self.get(
            "registered-models/alias",
            &[("name", name), ("alias", alias)],
        )?;
        self.full_version(&v)
    }

    fn get_latest_version(
        &self,
        name: &str,
        stage: Option<Stage>,
    ) -> Result<ModelVersion, RegistryError> {
        validate_model_name(name)?;
        let number = match stage {
            Some(s) => {
                let body = json!({ "name": name, "stages": [s.as_str()] });
                let v = self.post("registered-models/get-latest-versions", body, About::Other)?;
                v.get("model_versions")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|x| registry_json::version(x).ok())
                    .filter(|x| x.current_stage == s)
                    .map(|x| x.version)
                    .max()
            }
            None => {
                // an unknown model is an error, not "no version"
                self.get_registered_model(name)?;
                let query = ModelSearch::new(&format!("name = '{}'", name.replace('\'', "''")))
                    .order_by(&["version_number DESC"])
                    .max_results(1);
                self.search_model_versions(&query)?
                    .versions
                    .first()
                    .map(|x| x.version)
            }
        };
        match number {
            Some(n) => self.get_model_version(name, n),
            None => Err(RegistryError::NoVersions {
                name: name.to_string(),
                stage,
            }),
        }
    }

    fn search_registered_models(
        &self,
        query: &ModelSearch,
    ) -> Result<RegisteredModelPage, RegistryError> {
        let q = Self::search_query(query, MODELS_PAGE_LIMIT);
        let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let v = self.get("registered-models/search", &q)?;
        let models = v
            .get("registered_models")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(registry_json::model)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RegisteredModelPage {
            models,
            next_page_token: Self::page_token(&v),
        })
    }

    fn search_model_versions(
        &self,
        query: &ModelSearch,
    ) -> Result<ModelVersionPage, RegistryError> {
        let q = Self::search_query(query, usize::MAX);
        let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let v = self.get("model-versions/search", &q)?;
        let versions = v
            .get("model_versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(registry_json::version)
            .collect::<Result<Vec<_>, _>>()?;
        // each completed as a single read is, so a search shows what `models show` shows
        let versions = versions.into_iter().map(|v| self.complete(v)).collect();
        Ok(ModelVersionPage {
            versions,
            next_page_token: Self::page_token(&v),
        })
    }
}
