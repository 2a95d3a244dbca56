//! MLflow's REST API 2.0 over hpo's store, so the unmodified MLflow client logs into hpo.
//!
//! Served under `/api/2.0/mlflow/` and its alias `/ajax-api/2.0/mlflow/`, with the same paths,
//! methods, JSON field names and types as MLflow's server (ids as strings, times in ms):
//!
//! - experiments: `create`, `get`, `get-by-name`, `search`, `update`, `delete`, `restore`,
//!   `set-experiment-tag` ([`experiments`]);
//! - runs: `create`, `get`, `update`, `delete`, `restore`, `search`, `log-metric`,
//!   `log-parameter`, `set-tag`, `delete-tag`, `log-batch`, `log-inputs`; `metrics/get-history`
//!   ([`runs`]);
//! - artifacts: `artifacts/list` and the `/api/2.0/mlflow-artifacts/artifacts/...` proxy
//!   ([`artifacts`]);
//! - the model registry: `registered-models/*` and `model-versions/*` ([`registry`]);
//! - MLflow 3's logged models, kept with their source run ([`logged_models`]): create, get,
//!   finalize, search, tags, params; `runs/outputs` is accepted.
//!
//! hpo's own calls (a compare-and-set of a run tag) are under `/api/2.0/hpo/` ([`hpo_calls`]).
//!
//! Errors are MLflow's `{"error_code", "message"}` ([`MlflowError`]); anything else answers
//! `ENDPOINT_NOT_FOUND` (404). `POST`s need `Content-Type: application/json` (`PUT`, `PATCH` and
//! `DELETE` cannot be sent cross-site without a preflight) and are refused with
//! `PERMISSION_DENIED` (403) in read-only mode. No token: MLflow's clients do not send one.

pub mod args;
pub mod artifacts;
pub mod convert;
mod error;
pub mod experiments;
pub mod hpo_calls;
pub mod logged_models;
pub mod registry;
pub mod runs;

pub use error::MlflowError;

use serde_json::Value;

use self::args::Args;
use self::convert::ArtifactView;
use super::http::{Request, Response};
use super::State;
use crate::tracking::Tracker;

/// What the MLflow handlers share: the server's state and how artifact locations are shown.
pub struct Mlflow<'a> {
    state: &'a State,
    /// Proxied (`mlflow-artifacts:/`) or local artifact locations.
    pub view: ArtifactView,
}

impl Mlflow<'_> {
    /// The tracker.
    pub fn tracker(&self) -> &Tracker {
        &self.state.tracker
    }

    /// Whether `hpo run` owns `run_id` now (a trial's process logging into it).
    pub fn owned(&self, run_id: &str) -> bool {
        self.state
            .trial_feeds
            .as_ref()
            .is_some_and(|f| f.owns(run_id))
    }

    /// Hands `metrics` to the trial running in `run_id` (checked as the store checks them);
    /// false when no trial owns that run.
    pub fn feed(
        &self,
        run_id: &str,
        metrics: &[crate::tracking::Metric],
    ) -> Result<bool, MlflowError> {
        let Some(feeds) = self.state.trial_feeds.as_ref().filter(|f| f.owns(run_id)) else {
            return Ok(false);
        };
        crate::tracking::store::validate_batch(&[], metrics, &[])?;
        let fed = metrics
            .iter()
            .map(|m| crate::objective::command::FedMetric {
                key: m.key.clone(),
                value: m.value,
                step: m.step,
            })
            .collect();
        Ok(feeds.forward(run_id, fed))
    }

    /// The model registry, if the store has one.
    pub fn registry(&self) -> Option<&crate::registry::Registry> {
        self.state.registry.as_ref()
    }
}

/// Whether the path is MLflow's API: `/api/2.0/...` or `/ajax-api/2.0/...`.
pub fn is_mlflow_path(segments: &[String]) -> bool {
    matches!(
        (
            segments.first().map(String::as_str),
            segments.get(1).map(String::as_str)
        ),
        (Some("api" | "ajax-api"), Some("2.0"))
    )
}

/// Answers one request to MLflow's API.
pub fn handle(state: &State, req: &Request) -> Response {
    let m = Mlflow {
        state,
        view: if state.serve_artifacts {
            ArtifactView::Proxied
        } else {
            ArtifactView::Local
        },
    };
    let segs: Vec<&str> = req.segments.iter().skip(2).map(String::as_str).collect();
    let method = if req.method == "HEAD" {
        "GET"
    } else {
        req.method.as_str()
    };
    let path = format!("/{}", req.segments.join("/"));
    match dispatch(&m, req, method, &segs) {
        Ok(Some(resp)) => resp,
        Ok(None) => MlflowError::no_endpoint(&req.method, &path).into_response(),
        Err(e) => e.into_response(),
    }
}

fn check_write(state: &State, req: &Request, json: bool) -> Result<(), MlflowError> {
    if state.read_only {
        return Err(MlflowError::new(
            403,
            "PERMISSION_DENIED",
            "the server is read-only",
        ));
    }
    let content_type = req.header("content-type").unwrap_or("");
    if json
        && !content_type
            .to_ascii_lowercase()
            .starts_with("application/json")
    {
        return Err(MlflowError::bad_request(
            "send the request body as JSON with Content-Type: application/json",
        ));
    }
    Ok(())
}

type Handler = fn(&Mlflow, &Args) -> Result<Value, MlflowError>;

fn json_endpoint(method: &str, path: &[&str]) -> Option<(bool, Handler)> {
    let read = method == "GET";
    let h: (bool, Handler) = match (method, path) {
        ("GET", ["experiments", "get"]) => (read, experiments::get),
        ("GET", ["experiments", "get-by-name"]) => (read, experiments::get_by_name),
        ("GET" | "POST", ["experiments", "search"]) => (read, experiments::search),
        ("POST", ["experiments", "create"]) => (read, experiments::create),
        ("POST", ["experiments", "update"]) => (read, experiments::update),
        ("POST", ["experiments", "delete"]) => (read, experiments::delete),
        ("POST", ["experiments", "restore"]) => (read, experiments::restore),
        ("POST", ["experiments", "set-experiment-tag"]) => (read, experiments::set_tag),
        ("GET", ["runs", "get"]) => (read, runs::get),
        ("GET" | "POST", ["runs", "search"]) => (read, runs::search),
        ("POST", ["runs", "create"]) => (read, runs::create),
        ("POST", ["runs", "update"]) => (read, runs::update),
        ("POST", ["runs", "delete"]) => (read, runs::delete),
        ("POST", ["runs", "restore"]) => (read, runs::restore),
        ("POST", ["runs", "log-metric"]) => (read, runs::log_metric),
        ("POST", ["runs", "log-parameter"]) => (read, runs::log_param),
        ("POST", ["runs", "set-tag"]) => (read, runs::set_tag),
        ("POST", ["runs", "delete-tag"]) => (read, runs::delete_tag),
        ("POST", ["runs", "log-batch"]) => (read, runs::log_batch),
        ("POST", ["runs", "log-inputs"]) => (read, runs::log_inputs),
        ("GET", ["metrics", "get-history"]) => (read, runs::get_history),
        ("GET", ["artifacts", "list"]) => (read, artifacts::list),
        ("POST", ["logged-models", "search"]) => (read, logged_models::search),
        ("POST", ["logged-models"]) => (read, logged_models::create),
        ("POST", ["runs", "outputs"]) => (read, logged_models::log_outputs),
        ("POST", ["registered-models", "create"]) => (read, registry::create_model),
        ("GET", ["registered-models", "get"]) => (read, registry::get_model),
        ("POST", ["registered-models", "rename"]) => (read, registry::rename_model),
        ("PATCH", ["registered-models", "update"]) => (read, registry::update_model),
        ("DELETE", ["registered-models", "delete"]) => (read, registry::delete_model),
        ("GET", ["registered-models", "search"]) => (read, registry::search_models),
        ("POST", ["registered-models", "get-latest-versions"]) => (read, registry::latest_versions),
        ("POST", ["registered-models", "set-tag"]) => (read, registry::set_model_tag),
        ("DELETE", ["registered-models", "delete-tag"]) => (read, registry::delete_model_tag),
        ("POST", ["registered-models", "alias"]) => (read, registry::set_alias),
        ("DELETE", ["registered-models", "alias"]) => (read, registry::delete_alias),
        ("GET", ["registered-models", "alias"]) => (read, registry::get_by_alias),
        ("POST", ["model-versions", "create"]) => (read, registry::create_version),
        ("GET", ["model-versions", "get"]) => (read, registry::get_version),
        ("PATCH", ["model-versions", "update"]) => (read, registry::update_version),
        ("DELETE", ["model-versions", "delete"]) => (read, registry::delete_version),
        ("POST", ["model-versions", "transition-stage"]) => (read, registry::transition_stage),
        ("GET", ["model-versions", "search"]) => (read, registry::search_versions),
        ("POST", ["model-versions", "set-tag"]) => (read, registry::set_version_tag),
        ("DELETE", ["model-versions", "delete-tag"]) => (read, registry::delete_version_tag),
        ("GET", ["model-versions", "get-download-uri"]) => (read, registry::download_uri),
        _ => return None,
    };
    Some(h)
}

/// The logged-model endpoints with the model id (and a tag key) in the path.
fn logged_model_endpoint<'a>(
    method: &str,
    path: &[&'a str],
) -> Option<(Handler, Vec<(&'static str, &'a str)>)> {
    let h: (Handler, Vec<(&'static str, &'a str)>) = match (method, path) {
        ("GET", ["logged-models", id]) if *id != "search" => {
            (logged_models::get, vec![("model_id", id)])
        }
        ("PATCH", ["logged-models", id]) => (logged_models::finalize, vec![("model_id", id)]),
        ("PATCH", ["logged-models", id, "tags"]) => {
            (logged_models::set_tags, vec![("model_id", id)])
        }
        ("DELETE", ["logged-models", id, "tags", key]) => (
            logged_models::delete_tag,
            vec![("model_id", id), ("tag_key", key)],
        ),
        ("POST", ["logged-models", id, "params"]) => {
            (logged_models::log_params, vec![("model_id", id)])
        }
        _ => return None,
    };
    Some(h)
}

fn dispatch(
    m: &Mlflow,
    req: &Request,
    method: &str,
    segs: &[&str],
) -> Result<Option<Response>, MlflowError> {
    match segs {
        ["mlflow", rest @ ..] => {
            let (read, handler, path_args) = match json_endpoint(method, rest) {
                Some((read, handler)) => (read, handler, Vec::new()),
                None => match logged_model_endpoint(method, rest) {
                    Some((handler, path_args)) => (method == "GET", handler, path_args),
                    None => return Ok(None),
                },
            };
            // Searches and get-latest-versions are reads even when POSTed. A cross-site page can
            // send a POST without a preflight, so a POST must be JSON; PATCH and DELETE cannot.
            let is_read =
                read || matches!(rest.last(), Some(&"search") | Some(&"get-latest-versions"));
            if !is_read {
                check_write(m.state, req, method == "POST")?;
            }
            let mut args = Args::from_request(req)?;
            for (k, v) in path_args {
                args.insert(k, v);
            }
            Ok(Some(Response::json(200, &handler(m, &args)?)))
        }
        ["mlflow-artifacts", "artifacts", parts @ ..] => {
            if !m.state.serve_artifacts {
                return Err(MlflowError::new(
                    503,
                    "ENDPOINT_NOT_FOUND",
                    "artifact proxying is off (the server runs with --no-serve-artifacts)",
                ));
            }
            match (method, parts) {
                ("GET", []) => Ok(Some(artifacts::proxy_list(m, &Args::from_request(req)?)?)),
                ("GET", parts) => Ok(Some(artifacts::download(m, parts)?)),
                ("PUT", parts) => {
                    check_write(m.state, req, false)?;
                    Ok(Some(artifacts::upload(m, parts, &req.body)?))
                }
                ("DELETE", parts) => {
                    check_write(m.state, req, false)?;
                    Ok(Some(artifacts::delete(m, parts)?))
                }
                _ => Ok(None),
            }
        }
        ["hpo", "model-versions", "snapshot"] if method == "GET" => {
            let args = Args::from_request(req)?;
            Ok(Some(Response::json(
                200,
                &hpo_calls::version_snapshot(m, &args)?,
            )))
        }
        ["hpo", "gc"] if method == "POST" => {
            check_write(m.state, req, true)?;
            let args = Args::from_request(req)?;
            Ok(Some(Response::json(200, &hpo_calls::gc(m, &args)?)))
        }
        ["hpo", "runs", "compare-and-set-tag"] if method == "POST" => {
            check_write(m.state, req, true)?;
            let args = Args::from_request(req)?;
            Ok(Some(Response::json(
                200,
                &hpo_calls::compare_and_set_tag(m, &args)?,
            )))
        }
        _ => Ok(None),
    }
}
