//! A [`Store`] on a remote tracking server spoken to over MLflow's REST API 2.0: `hpo server`
//! or MLflow's own `mlflow server`, named by `--tracking-uri http://host:port`.
//!
//! Every hpo command works through it: experiments and runs are created, logged, searched,
//! deleted and restored with MLflow's calls (`experiments/*`, `runs/*`, `metrics/get-history`),
//! artifacts go through the server's `mlflow-artifacts` proxy ([`artifacts`]), and the model
//! registry is the server's (`registered-models/*`, `model-versions/*`, see `registry.rs`).
//!
//! Writes a study makes per trial are grouped (`queue.rs`): a trial's run is created at once (the
//! server gives it its id), its params, final metrics and tags go in one `log-batch` and its end
//! in one `runs/update`, sent by a thread of the store while the study goes on (every call that
//! is not queued waits for them first), so a remote study costs three calls per trial, one of
//! them on the trial's path.
//!
//! What MLflow's API cannot give, and how this store answers instead:
//! - a run's metric summaries in searches hold only the latest point (`min`/`max` unknown,
//!   `count` 0); [`Store::get_run`] reads each key's history and gives the full summary;
//! - [`Store::compare_and_set_tag`] (the lease of a shared study) is hpo's own call
//!   `POST /api/2.0/hpo/runs/compare-and-set-tag`, done by `hpo server` in one store transaction
//!   and so atomic between all its clients; a server without it (MLflow's answers 404) gets a
//!   read then a write, atomic only against this process: two hpo processes sharing a study
//!   through a real MLflow server can both take the same lease;
//! - [`Store::purge_deleted`] (`hpo gc`) is hpo's own call `POST /api/2.0/hpo/gc`: `hpo server`
//!   removes the runs and their artifacts where it keeps them; MLflow's server has no such call
//!   (`mlflow gc` runs on its machine) and the store says so;
//! - on a real MLflow server, deleting a run does not delete its children (hpo's server does),
//!   and `parent_run_id` filters are sent as MLflow's `tags.mlflow.parentRunId`.

pub mod artifacts;
mod client;
mod filter;
mod json;
mod queue;
mod registry;
mod registry_json;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use self::client::{CallError, RestClient};
use self::json::{MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME};
use self::queue::{Pending, WriteQueue};
use super::search::SearchError;
use super::store::{
    now_ms, validate_batch, validate_experiment_name, validate_experiment_tag, validate_key,
    validate_run_id, validate_tag, MAX_RESULTS_LIMIT,
};
use super::{
    ArtifactStore, Experiment, ExperimentId, ExperimentTag, LifecycleStage, Metric, NewRun, Param,
    Run, RunId, RunInfo, RunPage, RunStatus, RunTag, RunsQuery, Store, StoreError, ViewType,
    WriteFailures,
};

/// What a call was about, to name it in a "does not exist" error.
#[derive(Clone, Copy)]
enum Subject<'a> {
    Run(&'a str),
    Experiment(ExperimentId),
    ExperimentName(&'a str),
    Search,
    Other,
}

/// The store's error for a failed call.
fn store_error(e: CallError, subject: Subject) -> StoreError {
    let CallError::Api {
        status,
        code,
        message,
    } = &e
    else {
        return StoreError::Storage(e.to_string());
    };
    match (code.as_str(), subject) {
        ("RESOURCE_DOES_NOT_EXIST", Subject::Run(id)) => StoreError::RunNotFound(id.to_string()),
        ("RESOURCE_DOES_NOT_EXIST", Subject::Experiment(id)) => {
            StoreError::ExperimentNotFound(id.to_string())
        }
        ("RESOURCE_ALREADY_EXISTS", Subject::ExperimentName(name)) => {
            StoreError::ExperimentNameTaken(name.to_string())
        }
        ("INVALID_PARAMETER_VALUE" | "BAD_REQUEST", Subject::Search) => {
            StoreError::Search(SearchError::Rejected(message.clone()))
        }
        ("TEMPORARILY_UNAVAILABLE" | "REQUEST_LIMIT_EXCEEDED", _) => {
            StoreError::Busy(e.to_string())
        }
        ("PERMISSION_DENIED" | "UNAUTHENTICATED", _) => StoreError::Storage(e.to_string()),
        (
            "INVALID_PARAMETER_VALUE"
            | "BAD_REQUEST"
            | "INVALID_STATE"
            | "RESOURCE_DOES_NOT_EXIST"
            | "RESOURCE_ALREADY_EXISTS",
            _,
        ) => StoreError::InvalidArgument(message.clone()),
        _ if *status == 503 || *status == 429 => StoreError::Busy(e.to_string()),
        _ => StoreError::Database(e.to_string()),
    }
}

/// A tracking store on a remote MLflow-compatible server.
pub struct HttpStore {
    inner: Arc<Inner>,
    /// The server's model registry.
    registry: registry::HttpRegistry,
    /// Sends the queued writes, in order, while the caller goes on.
    sender: Option<std::thread::JoinHandle<()>>,
}

/// What the store and its sending thread share: the server and the queue.
struct Inner {
    client: Arc<RestClient>,
    queue: WriteQueue,
    /// Set once the server answered that it has no `/api/2.0/hpo/runs/compare-and-set-tag`.
    no_cas_call: AtomicBool,
    /// Set once the server answered that it has no `/api/2.0/hpo/model-versions/snapshot`.
    no_snapshot_call: AtomicBool,
}

impl std::fmt::Debug for HttpStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpStore")
            .field("server", &self.inner.client.base())
            .finish()
    }
}

impl HttpStore {
    /// A store on the server at `url` (`http://host:port`, optionally with a path prefix). The
    /// server is asked for the Default experiment once, so an address that does not answer
    /// fails here ([`StoreError::Storage`]) rather than at the first write.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let inner = Arc::new(Inner {
            client: Arc::new(RestClient::new(url)),
            queue: WriteQueue::default(),
            no_cas_call: AtomicBool::new(false),
            no_snapshot_call: AtomicBool::new(false),
        });
        match inner.client.get("experiments/search", &[("max_results", "1")]) {
            Ok(_) => {
                let shared = inner.clone();
                let sender = std::thread::Builder::new()
                    .name("hpo-http-writes".into())
                    .spawn(move || shared.queue.serve(&|p| shared.send_pending(p)))
                    .map_err(|e| StoreError::Storage(format!("cannot start a thread: {e}")))?;
                Ok(HttpStore {
                    registry: registry::HttpRegistry::new(inner.clone()),
                    inner,
                    sender: Some(sender),
                })
            }
            Err(e @ CallError::Transport(_)) => Err(StoreError::Storage(e.to_string())),
            Err(CallError::Api { status, code, message }) if status == 404 && code != "RESOURCE_DOES_NOT_EXIST" => {
                Err(StoreError::Storage(format!(
                    "{url} does not serve MLflow's REST API (it answered {status} {code}: {message}); start `hpo server` or `mlflow server` there"
                )))
            }
            Err(e) => Err(store_error(e, Subject::Other)),
        }
    }

    /// The server's address.
    pub fn url(&self) -> &str {
        self.inner.client.base()
    }

    /// Waits until every queued write is sent (every call but the queued ones does this first).
    fn sync(&self) {
        self.inner.queue.wait_sent();
    }

    /// The ids of every experiment in `view` (MLflow's run search needs them named).
    fn experiment_ids(&self, view: ViewType) -> Result<Vec<ExperimentId>, StoreError> {
        Ok(self
            .list_experiments(view)?
            .into_iter()
            .map(|e| e.experiment_id)
            .collect())
    }

    /// The compare-and-set of a server without hpo's call (a real MLflow server): the run is read,
    /// then the tag written or deleted. Not atomic between clients: a write another client makes
    /// between the read and the write is not seen.
    fn read_then_write_tag(
        &self,
        run_id: &str,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
    ) -> Result<bool, StoreError> {
        let run = self.inner.fetch_run(run_id)?;
        if run.info.lifecycle_stage == LifecycleStage::Deleted {
            return Err(StoreError::Deleted {
                what: "run",
                id: run_id.to_string(),
                name: None,
            });
        }
        if run.data.tag(key) != expected {
            return Ok(false);
        }
        match new {
            Some(value) => self
                .inner
                .send_batch(run_id, &[], &[], &[RunTag::new(key, value)])?,
            None if expected.is_some() => self.delete_tag(run_id, key)?,
            None => {}
        }
        Ok(true)
    }

    fn queue_write(&self, p: Pending) {
        self.inner.queue.push(p);
    }
}

impl Inner {
    fn get(&self, endpoint: &str, query: &[(&str, &str)], s: Subject) -> Result<Value, StoreError> {
        self.client
            .get(endpoint, query)
            .map_err(|e| store_error(e, s))
    }

    fn post(&self, endpoint: &str, body: Value, s: Subject) -> Result<Value, StoreError> {
        self.client
            .post(endpoint, &body)
            .map_err(|e| store_error(e, s))
    }

    /// Sends one queued write: its batch, then its end.
    fn send_pending(&self, p: &Pending) -> Result<(), StoreError> {
        if !(p.params.is_empty() && p.metrics.is_empty() && p.tags.is_empty()) {
            self.send_batch(&p.run_id, &p.params, &p.metrics, &p.tags)?;
        }
        if let Some((status, end)) = p.finish {
            self.send_status(&p.run_id, status, end)?;
        }
        Ok(())
    }

    fn send_batch(
        &self,
        run_id: &str,
        params: &[Param],
        metrics: &[Metric],
        tags: &[RunTag],
    ) -> Result<(), StoreError> {
        let body = json!({
            "run_id": run_id,
            "params": params.iter().map(json::param_json).collect::<Vec<_>>(),
            "metrics": metrics.iter().map(json::metric_json).collect::<Vec<_>>(),
            "tags": tags.iter().map(json::tag_json).collect::<Vec<_>>(),
        });
        match self.post("runs/log-batch", body, Subject::Run(run_id)) {
            Ok(_) => Ok(()),
            Err(StoreError::InvalidArgument(why)) => Err(self.explain_write(run_id, params, why)),
            Err(e) => Err(e),
        }
    }

    fn send_status(
        &self,
        run_id: &str,
        status: RunStatus,
        end_time: Option<i64>,
    ) -> Result<Value, StoreError> {
        let mut body = json!({ "run_id": run_id, "run_uuid": run_id, "status": status.as_str() });
        if status.is_terminal() {
            body["end_time"] = json!(end_time.unwrap_or_else(now_ms));
        }
        match self.post("runs/update", body, Subject::Run(run_id)) {
            Ok(v) => Ok(v),
            Err(StoreError::InvalidArgument(why)) => Err(self.explain_write(run_id, &[], why)),
            Err(e) => Err(e),
        }
    }

    /// The typed error for a refused write to a run: deleted, a param logged with another
    /// value, or the server's message.
    fn explain_write(&self, run_id: &str, params: &[Param], why: String) -> StoreError {
        let Ok(run) = self.fetch_run(run_id) else {
            return StoreError::InvalidArgument(why);
        };
        if run.info.lifecycle_stage == LifecycleStage::Deleted {
            return StoreError::Deleted {
                what: "run",
                id: run_id.to_string(),
                name: None,
            };
        }
        for p in params {
            if let Some(old) = run.data.param(&p.key).filter(|old| *old != p.value) {
                return StoreError::ParamConflict {
                    run_id: run_id.to_string(),
                    key: p.key.clone(),
                    old: old.to_string(),
                    new: p.value.clone(),
                };
            }
        }
        StoreError::InvalidArgument(why)
    }

    /// The typed error for a run refused in experiment `id`: deleted, missing, or the message.
    fn explain_create(&self, id: ExperimentId, why: StoreError) -> StoreError {
        match self.fetch_experiment(id) {
            Ok(e) if e.lifecycle_stage == LifecycleStage::Deleted => StoreError::Deleted {
                what: "experiment",
                id: id.to_string(),
                name: Some(e.name),
            },
            Err(e @ StoreError::ExperimentNotFound(_)) => e,
            _ => why,
        }
    }

    fn fetch_experiment(&self, id: ExperimentId) -> Result<Experiment, StoreError> {
        let v = self.get(
            "experiments/get",
            &[("experiment_id", &id.to_string())],
            Subject::Experiment(id),
        )?;
        json::experiment(v.get("experiment").unwrap_or(&Value::Null))
    }

    /// A run as `runs/get` gives it (summaries with the latest point only).
    fn fetch_run(&self, run_id: &str) -> Result<Run, StoreError> {
        validate_run_id(run_id).map_err(|_| StoreError::RunNotFound(run_id.to_string()))?;
        let v = self.get("runs/get", &[("run_id", run_id)], Subject::Run(run_id))?;
        json::run(v.get("run").unwrap_or(&Value::Null))
    }

    fn history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>, StoreError> {
        let mut points = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![
                ("run_id", run_id),
                ("metric_key", key),
                ("max_results", "25000"),
            ];
            if let Some(t) = token.as_deref() {
                query.push(("page_token", t));
            }
            let v = self.get("metrics/get-history", &query, Subject::Run(run_id))?;
            if let Some(items) = v.get("metrics").and_then(Value::as_array) {
                points.extend(items.iter().map(json::metric));
            }
            token = v
                .get("next_page_token")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        points.sort_by_key(|a| (a.step, a.timestamp));
        Ok(points)
    }
}

impl Drop for HttpStore {
    fn drop(&mut self) {
        // the sending thread sends what is left, then ends
        self.inner.queue.close();
        if let Some(sender) = self.sender.take() {
            let _ = sender.join();
        }
        if let Some(summary) = self.inner.queue.unreported_summary() {
            eprintln!(
                "hpo: writes to the tracking server {} were lost: {summary}",
                self.inner.client.base()
            );
        }
    }
}

impl Store for HttpStore {
    fn purge_deleted(&self, deleted_before: i64) -> Result<super::gc::Purged, StoreError> {
        self.sync();
        let body = json!({ "deleted_before": deleted_before });
        match self.inner.client.post_to("hpo", "gc", &body) {
            Ok(v) => serde_json::from_value(v.clone()).map_err(|e| {
                StoreError::Database(format!(
                    "the tracking server's gc answered what hpo cannot read ({e}): {}",
                    truncated(&v.to_string())
                ))
            }),
            // MLflow's own server: no such call
            Err(CallError::Api { status: 404, .. }) => Err(StoreError::InvalidArgument(format!(
                "the tracking server at {} cannot remove deleted runs over its API (hpo gc works \
                 against `hpo server`; for MLflow's server run `mlflow gc` on its machine)",
                self.inner.client.base()
            ))),
            Err(e) => Err(store_error(e, Subject::Other)),
        }
    }

    fn purge_removes_artifacts(&self) -> bool {
        true
    }

    fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[ExperimentTag],
    ) -> Result<ExperimentId, StoreError> {
        validate_experiment_name(name)?;
        for t in tags {
            validate_experiment_tag(&t.key, &t.value)?;
        }
        self.sync();
        let mut body = json!({
            "name": name,
            "tags": tags.iter().map(|t| json!({"key": t.key, "value": t.value})).collect::<Vec<_>>(),
        });
        if let Some(loc) = artifact_location {
            body["artifact_location"] = json!(loc);
        }
        let v = self
            .inner
            .post("experiments/create", body, Subject::ExperimentName(name))?;
        let id = json::experiment_id(&v)?;
        // hpo's server sets the tags after creating; MLflow's in the same call
        if !tags.is_empty() && self.inner.fetch_experiment(id)?.tags.len() < tags.len() {
            for t in tags {
                self.set_experiment_tag(id, &t.key, &t.value)?;
            }
        }
        Ok(id)
    }

    fn get_or_create_experiment(&self, name: &str) -> Result<Experiment, StoreError> {
        validate_experiment_name(name)?;
        for _ in 0..3 {
            if let Some(e) = self.get_experiment_by_name(name)? {
                if e.lifecycle_stage == LifecycleStage::Deleted {
                    return Err(StoreError::Deleted {
                        what: "experiment",
                        id: e.experiment_id.to_string(),
                        name: Some(e.name),
                    });
                }
                return Ok(e);
            }
            match self.create_experiment(name, None, &[]) {
                Ok(id) => return self.get_experiment(id),
                // another client created it meanwhile: read it
                Err(StoreError::ExperimentNameTaken(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::ExperimentNameTaken(name.to_string()))
    }

    fn get_experiment(&self, id: ExperimentId) -> Result<Experiment, StoreError> {
        self.sync();
        self.inner.fetch_experiment(id)
    }

    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>, StoreError> {
        self.sync();
        match self.inner.get(
            "experiments/get-by-name",
            &[("experiment_name", name)],
            Subject::ExperimentName(name),
        ) {
            Ok(v) => Ok(Some(json::experiment(
                v.get("experiment").unwrap_or(&Value::Null),
            )?)),
            Err(StoreError::InvalidArgument(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn list_experiments(&self, view: ViewType) -> Result<Vec<Experiment>, StoreError> {
        self.sync();
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({ "max_results": 1000, "view_type": json::view_type(view) });
            if let Some(t) = &token {
                body["page_token"] = json!(t);
            }
            let v = self
                .inner
                .post("experiments/search", body, Subject::Other)?;
            for e in v
                .get("experiments")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.push(json::experiment(e)?);
            }
            token = v
                .get("next_page_token")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        out.sort_by_key(|e| e.experiment_id);
        Ok(out)
    }

    fn rename_experiment(&self, id: ExperimentId, new_name: &str) -> Result<(), StoreError> {
        validate_experiment_name(new_name)?;
        self.sync();
        let body = json!({ "experiment_id": id.to_string(), "new_name": new_name });
        match self
            .inner
            .post("experiments/update", body, Subject::Experiment(id))
        {
            Ok(_) => Ok(()),
            Err(StoreError::InvalidArgument(why)) => {
                match self.get_experiment_by_name(new_name)? {
                    Some(e) if e.experiment_id != id => {
                        Err(StoreError::ExperimentNameTaken(new_name.to_string()))
                    }
                    _ => Err(StoreError::InvalidArgument(why)),
                }
            }
            Err(e) => Err(e),
        }
    }

    fn delete_experiment(&self, id: ExperimentId) -> Result<(), StoreError> {
        self.sync();
        self.inner
            .post(
                "experiments/delete",
                json!({ "experiment_id": id.to_string() }),
                Subject::Experiment(id),
            )
            .map(|_| ())
    }

    fn restore_experiment(&self, id: ExperimentId) -> Result<(), StoreError> {
        self.sync();
        self.inner
            .post(
                "experiments/restore",
                json!({ "experiment_id": id.to_string() }),
                Subject::Experiment(id),
            )
            .map(|_| ())
    }

    fn set_experiment_tag(
        &self,
        id: ExperimentId,
        key: &str,
        value: &str,
    ) -> Result<(), StoreError> {
        validate_experiment_tag(key, value)?;
        self.sync();
        self.inner
            .post(
                "experiments/set-experiment-tag",
                json!({ "experiment_id": id.to_string(), "key": key, "value": value }),
                Subject::Experiment(id),
            )
            .map(|_| ())
    }

    fn create_run(&self, new_run: &NewRun) -> Result<RunInfo, StoreError> {
        let info = self.create_run_queued(new_run.clone())?;
        self.sync();
        Ok(info)
    }

    fn create_run_queued(&self, new_run: NewRun) -> Result<RunInfo, StoreError> {
        validate_batch(&new_run.params, &[], &new_run.tags)?;
        if let Some(name) = &new_run.run_name {
            validate_tag(&RunTag::new(MLFLOW_RUN_NAME, name.clone()))?;
        }
        if let Some(parent) = &new_run.parent_run_id {
            validate_run_id(parent)?;
        }
        // no wait for the queued writes: they are for other runs, and go on being sent meanwhile
        let mut tags: Vec<Value> = new_run
            .tags
            .iter()
            .filter(|t| t.key != super::store::TAG_PARENT_RUN_ID)
            .map(json::tag_json)
            .collect();
        let mut add = |key: &str, value: &str| {
            if !tags.iter().any(|t| t["key"] == key) {
                tags.push(json!({ "key": key, "value": value }));
            }
        };
        if let Some(parent) = &new_run.parent_run_id {
            add(MLFLOW_PARENT_RUN_ID, parent);
        }
        let mut body = json!({
            "experiment_id": new_run.experiment_id.to_string(),
            "start_time": new_run.start_time.unwrap_or_else(now_ms),
            "tags": tags,
        });
        if let Some(name) = &new_run.run_name {
            body["run_name"] = json!(name);
        }
        if let Some(user) = &new_run.user_id {
            body["user_id"] = json!(user);
        }
        let v = match self.inner.post(
            "runs/create",
            body,
            Subject::Experiment(new_run.experiment_id),
        ) {
            Ok(v) => v,
            Err(e @ (StoreError::InvalidArgument(_) | StoreError::ExperimentNotFound(_))) => {
                return Err(self.inner.explain_create(new_run.experiment_id, e))
            }
            Err(e) => return Err(e),
        };
        let run = json::run(v.get("run").unwrap_or(&Value::Null))?;
        let mut info = run.info;
        info.parent_run_id = new_run.parent_run_id.clone();
        if !new_run.params.is_empty() {
            self.queue_write(Pending::batch(&info.run_id, new_run.params, vec![], vec![]));
        }
        Ok(info)
    }

    fn get_run(&self, run_id: &str) -> Result<Run, StoreError> {
        self.sync();
        let mut run = self.inner.fetch_run(run_id)?;
        for m in &mut run.data.metrics {
            if let Some(s) = json::summary(&m.key, &self.inner.history(run_id, &m.key)?) {
                *m = s;
            }
        }
        Ok(run)
    }

    fn update_run_status(
        &self,
        run_id: &str,
        status: RunStatus,
        end_time: Option<i64>,
    ) -> Result<RunInfo, StoreError> {
        validate_run_id(run_id).map_err(|_| StoreError::RunNotFound(run_id.to_string()))?;
        self.sync();
        self.inner.send_status(run_id, status, end_time)?;
        Ok(self.inner.fetch_run(run_id)?.info)
    }

    fn delete_run(&self, run_id: &str) -> Result<(), StoreError> {
        validate_run_id(run_id).map_err(|_| StoreError::RunNotFound(run_id.to_string()))?;
        self.sync();
        self.inner
            .post(
                "runs/delete",
                json!({ "run_id": run_id }),
                Subject::Run(run_id),
            )
            .map(|_| ())
    }

    fn restore_run(&self, run_id: &str) -> Result<(), StoreError> {
        validate_run_id(run_id).map_err(|_| StoreError::RunNotFound(run_id.to_string()))?;
        self.sync();
        self.inner
            .post(
                "runs/restore",
                json!({ "run_id": run_id }),
                Subject::Run(run_id),
            )
            .map(|_| ())
    }

    fn log_batch(
        &self,
        run_id: &str,
        params: &[Param],
        metrics: &[Metric],
        tags: &[RunTag],
    ) -> Result<(), StoreError> {
        validate_batch(params, metrics, tags)?;
        validate_run_id(run_id).map_err(|_| StoreError::RunNotFound(run_id.to_string()))?;
        self.sync();
        self.inner.send_batch(run_id, params, metrics, tags)
    }

    fn finish_run(
        &self,
        run_id: &str,
        metrics: &[Metric],
        tags: &[RunTag],
        status: RunStatus,
        end_time: Option<i64>,
    ) -> Result<RunInfo, StoreError> {
        validate_batch(&[], metrics, tags)?;
        self.log_batch(run_id, &[], metrics, tags)?;
        self.update_run_status(run_id, status, end_time)
    }

    fn log_batch_queued(
        &self,
        run_id: &str,
        params: &[Param],
        metrics: &[Metric],
        tags: &[RunTag],
    ) -> Result<(), StoreError> {
        if !params.is_empty() {
            // a param logged twice with another value must fail at the call
            return self.log_batch(run_id, params, metrics, tags);
        }
        validate_batch(params, metrics, tags)?;
        validate_run_id(run_id).map_err(|_| StoreError::RunNotFound(run_id.to_string()))?;
        self.queue_write(Pending::batch(
            run_id,
            vec![],
            metrics.to_vec(),
            tags.to_vec(),
        ));
        Ok(())
    }

    fn finish_run_queued(
        &self,
        run_id: &str,
        metrics: &[Metric],
        tags: &[RunTag],
        status: RunStatus,
        end_time: Option<i64>,
    ) -> Result<(), StoreError> {
        validate_batch(&[], metrics, tags)?;
        validate_run_id(run_id).map_err(|_| StoreError::RunNotFound(run_id.to_string()))?;
        let end = if status.is_terminal() {
            Some(end_time.unwrap_or_else(now_ms))
        } else {
            end_time
        };
        let mut p = Pending::batch(run_id, vec![], metrics.to_vec(), tags.to_vec());
        p.finish = Some((status, end));
        self.queue_write(p);
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.sync();
        self.inner.queue.take_unreported()
    }

    fn write_failure_count(&self) -> usize {
        self.inner.queue.failure_count()
    }

    fn write_failures(&self) -> WriteFailures {
        self.inner.queue.failures()
    }

    fn delete_tag(&self, run_id: &str, key: &str) -> Result<(), StoreError> {
        validate_key("tag", key)?;
        validate_run_id(run_id).map_err(|_| StoreError::RunNotFound(run_id.to_string()))?;
        self.sync();
        self.inner
            .post(
                "runs/delete-tag",
                json!({ "run_id": run_id, "key": key }),
                Subject::Run(run_id),
            )
            .map(|_| ())
    }

    fn compare_and_set_tag(
        &self,
        run_id: &str,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
    ) -> Result<bool, StoreError> {
        validate_key("tag", key)?;
        if let Some(value) = new {
            validate_tag(&RunTag::new(key, value))?;
        }
        validate_run_id(run_id).map_err(|_| StoreError::RunNotFound(run_id.to_string()))?;
        self.sync();
        if !self.inner.no_cas_call.load(Ordering::Relaxed) {
            let body = json!({ "run_id": run_id, "key": key, "expected": expected, "new": new });
            match self
                .inner
                .client
                .post_to("hpo", "runs/compare-and-set-tag", &body)
            {
                Ok(v) => {
                    return v.get("swapped").and_then(Value::as_bool).ok_or_else(|| {
                        StoreError::Database(format!(
                            "the tracking server's compare-and-set answered {v}, not {{\"swapped\": bool}}"
                        ))
                    })
                }
                // a server without hpo's call (MLflow's own): the fallback below, from now on
                Err(CallError::Api { status: 404, code, .. })
                    if code != "RESOURCE_DOES_NOT_EXIST" =>
                {
                    self.inner.no_cas_call.store(true, Ordering::Relaxed);
                }
                Err(CallError::Api { code, .. }) if code == "INVALID_STATE" => {
                    return Err(StoreError::Deleted {
                        what: "run",
                        id: run_id.to_string(),
                        name: None,
                    })
                }
                Err(e) => return Err(store_error(e, Subject::Run(run_id))),
            }
        }
        self.read_then_write_tag(run_id, key, expected, new)
    }

    fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>, StoreError> {
        validate_run_id(run_id).map_err(|_| StoreError::RunNotFound(run_id.to_string()))?;
        self.sync();
        self.inner.history(run_id, key)
    }

    fn search_runs(&self, query: &RunsQuery) -> Result<RunPage, StoreError> {
        if query.max_results == 0 || query.max_results > MAX_RESULTS_LIMIT {
            return Err(StoreError::Search(SearchError::InvalidMaxResults {
                limit: MAX_RESULTS_LIMIT,
                got: query.max_results,
            }));
        }
        self.sync();
        let ids = if query.experiment_ids.is_empty() {
            self.experiment_ids(ViewType::All)?
        } else {
            query.experiment_ids.clone()
        };
        let mut body = json!({
            "experiment_ids": ids.iter().map(|i| i.to_string()).collect::<Vec<_>>(),
            "filter": filter::to_mlflow(&query.filter),
            "run_view_type": json::view_type(query.view),
            "max_results": query.max_results,
            "order_by": query.order_by.iter().map(|c| filter::to_mlflow(c)).collect::<Vec<_>>(),
        });
        if let Some(t) = &query.page_token {
            body["page_token"] = json!(t);
        }
        let v = match self
            .inner
            .post("runs/search", body.clone(), Subject::Search)
        {
            Ok(v) => v,
            // MLflow's server takes IS NOT NULL on params and tags only
            Err(e @ StoreError::Search(SearchError::Rejected(_))) => {
                let Some(filter) = filter::metric_presence_as_comparison(&query.filter) else {
                    return Err(e);
                };
                body["filter"] = json!(filter::to_mlflow(&filter));
                self.inner.post("runs/search", body, Subject::Search)?
            }
            Err(e) => return Err(e),
        };
        let runs = v
            .get("runs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(json::run)
            .collect::<Result<Vec<_>, _>>()?;
        let next_page_token = v
            .get("next_page_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        Ok(RunPage {
            runs,
            next_page_token,
        })
    }

    fn child_run_ids(&self, run_id: &str) -> Result<Vec<RunId>, StoreError> {
        validate_run_id(run_id).map_err(|_| StoreError::RunNotFound(run_id.to_string()))?;
        // MLflow's server searches within experiments only
        let experiment = self.inner.fetch_run(run_id)?.info.experiment_id;
        crate::tracking::store::child_run_ids_by_search(self, vec![experiment], run_id)
    }

    fn artifact_store(&self, info: &RunInfo) -> ArtifactStore {
        artifacts::for_run(&self.inner.client, &info.artifact_uri)
    }

    fn registry(&self) -> Option<&dyn crate::registry::RegistryStore> {
        Some(&self.registry)
    }
}

/// At most 200 characters of `text`, for an error message.
fn truncated(text: &str) -> &str {
    match text.char_indices().nth(200) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}
