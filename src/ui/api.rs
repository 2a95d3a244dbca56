//! The JSON API under `/api/` and the routing of every request (pages included).
//!
//! Read endpoints (`GET`):
//!
//! - `/api/experiments`: `{"experiments": [{experiment_id, name, lifecycle_stage, creation_time,
//!   last_update_time, run_count, main_metric, best_value}]}`. `last_update_time` is the latest of the
//!   experiment's own update time and its runs' start and end times. `main_metric` is the `hpo.metric` tag of the
//!   experiment's studies and `best_value` the lowest `best_<metric>` they logged (both `null` when none).
//! - `/api/experiments/{id}/runs?filter=&order_by=&max_results=&page_token=&view=`: `{"runs": [Run],
//!   "next_page_token"}`. Each run is `{info: {run_id, parent_run_id, status, start_time, end_time, ...},
//!   data: {params, metrics: [{key, latest, min, max, ...}], tags}}`. `order_by` may repeat; `view` is
//!   `active` (default), `deleted` or `all`; `max_results` defaults to 100; `parent=none` keeps top-level
//!   runs only and `parent={run id}` that run's children. Each run also has `child_count` (its active
//!   children). A bad filter is a 400 whose JSON has `error`, `clause` and `column`.
//! - `/api/runs/{id}`: `{"run": Run, "children": [run ids]}`.
//! - `/api/runs/{id}/importance`: `{"metric", "importance": [{param, value}], "note"}` for a study run:
//!   the importance of each param of its finished children for the study's metric (its `hpo.metric`
//!   tag, default `loss`), as computed by [`super::importance::importance`] (normalized to sum 1, most
//!   important first). Below [`super::importance::MIN_TRIALS`] finished trials `importance` is empty
//!   and `note` says why (else `null`). A choice's option index named by its options' constants is
//!   left out ([`super::choice_index`]).
//! - `/api/compare?study={run id}` or `/api/compare?runs={id},{id},...` (1 to [`MAX_COMPARE_RUNS`]),
//!   optionally `&metric=`: the compare page's data for all children of a study or for the runs
//!   picked, as built by [`super::compare::compare`]: `{metric, total, trials: [{run_id, name, number,
//!   value, params}], params: [{key, kind, log, distribution, categories}], importance: [{param, value}],
//!   importance_note, study}`.
//!   The metric defaults to the study's `hpo.metric` tag (for picked runs, that of the first one's
//!   parent), else `loss`; a param's `distribution` comes from that study's `hpo.distributions` tag
//!   (`null` for runs recorded without it) and decides `log` when known; `study` is `{run_id, run_name, experiment_id}` or `null`.
//! - `/api/compare/curves?study=` or `?runs=` (as `/api/compare`), optionally `&metric=`: the
//!   learning curves of the compared runs for the intermediate-values plot, as built by
//!   [`super::intermediate::curves`]: `{metric, total, truncated, curves: [{run_id, name, number,
//!   state, points: [[step, value]], pruned: {step, value} | null, thresholds: [[step, value]]}]}`.
//!   The metric defaults to the `hpo.pruneMetric` tag of the runs (what their pruner watched), else
//!   the study's metric; `state` is `PRUNED` for a pruned trial; `thresholds` is the run's
//!   `hpo.pruneThreshold` history. At most [`super::intermediate::MAX_CURVE_RUNS`] runs.
//! - `/api/runs/{id}/metrics/{key}`: `{"key", "history": [{key, value, step, timestamp}]}`.
//! - `/api/runs/{id}/artifacts?path=`: `{"path", "files": [{path, is_dir, file_size}]}` (one level).
//! - `/api/runs/{id}/artifact?path=`: the file's bytes, typed by extension, sandboxed by a
//!   `Content-Security-Policy`; paths leaving the run's artifact directory are refused (400).
//! - `/api/models`: `{"models": [RegisteredModel], "next_page_token"}`.
//! - `/api/models/{name}`: `{"model": RegisteredModel, "versions": [ModelVersion]}`, versions newest first,
//!   each with `current_stage`, `aliases`, `run_id` and `source`.
//! - `/api/models/{name}/versions/{version}`: `{"model_version": ModelVersion, "run"}`: the version with
//!   its stage, aliases, tags and the source run's params and metrics at registration (`run_params`,
//!   `run_metrics`); `run` is the source run now (`{run_id, run_name, experiment_id, status,
//!   lifecycle_stage}`), `null` when it no longer exists.
//!
//! Actions (`POST`, JSON bodies; refused with 403 in read-only mode or without the server's token in the
//! `X-HPO-Token` header):
//!
//! - `/api/models/{name}/versions` `{"run_id": "...", "artifact_path": "model"}`: registers the run (creating
//!   the model if needed); answers `{"model_version": ModelVersion}`.
//! - `/api/models/{name}/aliases/{alias}` `{"version": 2}`: sets or moves an alias; answers `{"model": ...}`.
//! - `/api/models/{name}/versions/{version}/stage` `{"stage": "Production"}`: changes the stage.
//! - `/api/models/{name}/description`, `/api/models/{name}/versions/{version}/description` and
//!   `/api/runs/{id}/description`, each `{"description": "..."}`: replace a description (a run's is
//!   its `mlflow.note.content` tag, as in MLflow); answer `{"model": ...}`, `{"model_version": ...}` or
//!   `{"run": Run}`. Too long a description is a 400.
//! - `/api/models/{name}/tags` and `/api/models/{name}/versions/{version}/tags`, `{"key": "...",
//!   "value": "..."}` sets a tag, `{"key": "...", "delete": true}` removes it; answer `{"model": ...}` or
//!   `{"model_version": ...}`.
//! - `/api/models/{name}/delete`: deletes the model with its versions, tags and aliases (runs and
//!   artifacts stay); answers `{"deleted": name}`.
//! - `/api/runs/{id}/delete`, `/api/runs/{id}/restore`: soft-deletes or restores a run; answers
//!   `{"run": Run}`.
//!
//! Errors are `{"error": "..."}` with 400 (bad input), 403, 404 (unknown run, experiment, model, route),
//! 405, 413 or 503 (database busy); 500 only for failures of the store itself.

mod actions;

pub use actions::TAG_RUN_DESCRIPTION;

use serde_json::{json, Value};

use super::http::{Request, Response};
use super::State;
use crate::registry::{ModelSearch, RegistryError};
use crate::tracking::{
    ArtifactError, RunStatus, RunsQuery, SearchError, StoreError, TrackingError, ViewType,
};

/// Default page size of the runs endpoint.
pub const DEFAULT_PAGE_SIZE: usize = 100;

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const COMPARE_JS: &str = include_str!("assets/compare.js");
const MODELS_JS: &str = include_str!("assets/models.js");
const CURVES_JS: &str = include_str!("assets/curves.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                        connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// An API failure: a status and a JSON body.
#[derive(Debug)]
pub struct ApiError {
    status: u16,
    body: Value,
}

impl ApiError {
    fn new(status: u16, message: impl std::fmt::Display) -> Self {
        ApiError {
            status,
            body: json!({ "error": message.to_string() }),
        }
    }
    fn bad(message: impl std::fmt::Display) -> Self {
        Self::new(400, message)
    }
    fn not_found(message: impl std::fmt::Display) -> Self {
        Self::new(404, message)
    }
    fn into_response(self) -> Response {
        Response::json(self.status, &self.body)
    }
}

impl From<SearchError> for ApiError {
    fn from(e: SearchError) -> Self {
        let mut err = ApiError::bad(&e);
        if let SearchError::Syntax { clause, column, .. } = &e {
            err.body["clause"] = json!(clause);
            err.body["column"] = json!(column);
        }
        err
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Search(s) => s.into(),
            StoreError::RunNotFound(_) | StoreError::ExperimentNotFound(_) => {
                ApiError::not_found(e)
            }
            StoreError::Busy(_) => ApiError::new(503, e),
            StoreError::Database(_)
            | StoreError::ClaimLost { .. }
            | StoreError::Storage(_)
            | StoreError::SchemaTooNew { .. }
            | StoreError::QueuedWritesFailed { .. } => ApiError::new(500, e),
            _ => ApiError::bad(e),
        }
    }
}

impl From<ArtifactError> for ApiError {
    fn from(e: ArtifactError) -> Self {
        match e {
            ArtifactError::NotFound(_) => ApiError::not_found(e),
            ArtifactError::Io { .. } => ApiError::new(500, e),
            _ => ApiError::bad(e),
        }
    }
}

impl From<TrackingError> for ApiError {
    fn from(e: TrackingError) -> Self {
        match e {
            TrackingError::Store(s) => s.into(),
            TrackingError::Artifact(a) => a.into(),
            other => ApiError::new(500, other),
        }
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Store(s) => s.into(),
            RegistryError::Artifact(a) => a.into(),
            RegistryError::Tracking(t) => t.into(),
            RegistryError::Search(s) => s.into(),
            RegistryError::Unsupported => ApiError::new(501, e),
            RegistryError::ModelNotFound { .. }
            | RegistryError::VersionNotFound { .. }
            | RegistryError::VersionDeleted { .. }
            | RegistryError::NoVersions { .. }
            | RegistryError::AliasNotFound { .. }
            | RegistryError::RunNotFound(_) => ApiError::not_found(e),
            other => ApiError::bad(other),
        }
    }
}

type ApiResult = Result<Response, ApiError>;

fn ok(value: Value) -> ApiResult {
    Ok(Response::json(200, &value))
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Answers one request.
pub fn handle(state: &State, req: &Request) -> Response {
    let head = req.method == "HEAD";
    let method = if head { "GET" } else { req.method.as_str() };
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let result = match (method, segs.first().copied()) {
        (_, Some("api")) => api(state, req, method, &segs[1..]),
        ("GET", _) => page(state, &segs),
        _ => Err(ApiError::new(405, "only GET is allowed here")),
    };
    result.unwrap_or_else(ApiError::into_response)
}

fn page(state: &State, segs: &[&str]) -> ApiResult {
    let (content_type, body) = match segs {
        [] | ["index.html"] => (
            "text/html; charset=utf-8",
            INDEX_HTML.replace("{{TOKEN}}", &state.token).replace(
                "{{READ_ONLY}}",
                if state.read_only { "true" } else { "false" },
            ),
        ),
        ["app.js"] => ("text/javascript; charset=utf-8", APP_JS.to_string()),
        ["compare.js"] => ("text/javascript; charset=utf-8", COMPARE_JS.to_string()),
        ["models.js"] => ("text/javascript; charset=utf-8", MODELS_JS.to_string()),
        ["curves.js"] => ("text/javascript; charset=utf-8", CURVES_JS.to_string()),
        ["style.css"] => ("text/css; charset=utf-8", STYLE_CSS.to_string()),
        _ => return Err(ApiError::not_found("no such page")),
    };
    Ok(Response::new(200, content_type, body.into_bytes())
        .with_header("Content-Security-Policy", PAGE_CSP)
        .with_header("X-Frame-Options", "DENY"))
}

fn api(state: &State, req: &Request, method: &str, segs: &[&str]) -> ApiResult {
    match (method, segs) {
        ("GET", ["experiments"]) => experiments(state),
        ("GET", ["experiments", id, "runs"]) => runs(state, req, id),
        ("GET", ["runs", id]) => run(state, id),
        ("GET", ["runs", id, "importance"]) => importance(state, id),
        ("GET", ["compare"]) => compare(state, req),
        ("GET", ["compare", "curves"]) => compare_curves(state, req),
        ("GET", ["runs", id, "metrics", key]) => metric_history(state, id, key),
        ("GET", ["runs", id, "artifacts"]) => artifact_list(state, req, id),
        ("GET", ["runs", id, "artifact"]) => artifact_file(state, req, id),
        ("GET", ["models"]) => models(state, req),
        ("GET", ["models", name]) => model(state, name),
        ("GET", ["models", name, "versions", v]) => model_version(state, name, v),
        ("POST", rest) => {
            authorize(state, req)?;
            let body = json_body(req)?;
            match rest {
                ["models", name, "versions"] => actions::register(state, name, &body),
                ["models", name, "aliases", alias] => actions::set_alias(state, name, alias, &body),
                ["models", name, "versions", v, "stage"] => {
                    actions::set_stage(state, name, v, &body)
                }
                ["models", name, "description"] => actions::model_description(state, name, &body),
                ["models", name, "versions", v, "description"] => {
                    actions::version_description(state, name, v, &body)
                }
                ["runs", id, "description"] => actions::run_description(state, id, &body),
                ["models", name, "tags"] => actions::model_tag(state, name, None, &body),
                ["models", name, "versions", v, "tags"] => {
                    actions::model_tag(state, name, Some(v), &body)
                }
                ["models", name, "delete"] => actions::delete_model(state, name),
                ["runs", id, "delete"] => actions::run_lifecycle(state, id, true),
                ["runs", id, "restore"] => actions::run_lifecycle(state, id, false),
                _ => Err(ApiError::not_found("no such API endpoint")),
            }
        }
        ("GET", _) => Err(ApiError::not_found("no such API endpoint")),
        _ => Err(ApiError::new(
            405,
            format!("method {method} is not allowed"),
        )),
    }
}

fn authorize(state: &State, req: &Request) -> Result<(), ApiError> {
    if state.read_only {
        return Err(ApiError::new(403, "the server is read-only"));
    }
    let given = req.header("x-hpo-token").unwrap_or("");
    if !constant_time_eq(given.as_bytes(), state.token.as_bytes()) {
        return Err(ApiError::new(403, "missing or wrong X-HPO-Token header"));
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn json_body(req: &Request) -> Result<Value, ApiError> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    let v: Value = serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::bad(format!("the body is not valid JSON: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::bad("the body must be a JSON object"));
    }
    Ok(v)
}

fn registry(state: &State) -> Result<&crate::registry::Registry, ApiError> {
    state
        .registry
        .as_ref()
        .ok_or_else(|| ApiError::new(501, "this tracking store has no model registry"))
}

fn parse_experiment_id(id: &str) -> Result<i64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::bad(format!("experiment id '{id}' is not a number")))
}

fn experiments(state: &State) -> ApiResult {
    let tracker = &state.tracker;
    let mut out = Vec::new();
    for e in tracker.list_experiments(ViewType::ActiveOnly)? {
        let run_count = tracker.count_runs(e.experiment_id, ViewType::ActiveOnly)?;
        let studies = tracker.search_runs(
            &RunsQuery::new(&[e.experiment_id], "tags.`hpo.runType` = 'study'").max_results(1000),
        )?;
        let mut main_metric: Option<String> = None;
        let mut best: Option<f64> = None;
        for s in &studies.runs {
            let Some(m) = s.data.tag("hpo.metric") else {
                continue;
            };
            if main_metric.as_deref().is_some_and(|mm| mm != m) {
                continue;
            }
            main_metric = Some(m.to_string());
            if let Some(v) = s.data.metric(&format!("best_{m}")).map(|s| s.latest) {
                if v.is_finite() && best.is_none_or(|b| v < b) {
                    best = Some(v);
                }
            }
        }
        let last_update = last_activity(state, e.experiment_id)?.max(e.last_update_time);
        out.push(json!({
            "experiment_id": e.experiment_id,
            "name": e.name,
            "lifecycle_stage": e.lifecycle_stage,
            "creation_time": e.creation_time,
            "last_update_time": last_update,
            "run_count": run_count,
            "main_metric": main_metric,
            "best_value": best,
        }));
    }
    ok(json!({ "experiments": out }))
}

/// The latest start or end time of the experiment's runs (deleted ones included: deleting is an
/// update too), 0 when it has none.
fn last_activity(state: &State, experiment_id: i64) -> Result<i64, ApiError> {
    let mut latest = 0;
    for key in ["attributes.start_time DESC", "attributes.end_time DESC"] {
        let page = state.tracker.search_runs(
            &RunsQuery::new(&[experiment_id], "")
                .order_by(&[key])
                .max_results(1)
                .view(ViewType::All),
        )?;
        for r in &page.runs {
            latest = latest
                .max(r.info.start_time)
                .max(r.info.end_time.unwrap_or(0));
        }
    }
    Ok(latest)
}

fn runs(state: &State, req: &Request, id: &str) -> ApiResult {
    let id = parse_experiment_id(id)?;
    state.tracker.get_experiment(id)?;
    let max_results = match req.query("max_results").filter(|s| !s.is_empty()) {
        None => DEFAULT_PAGE_SIZE,
        Some(s) => s
            .parse()
            .map_err(|_| ApiError::bad(format!("max_results '{s}' is not a number")))?,
    };
    let view = match req.query("view").unwrap_or("active") {
        "" | "active" => ViewType::ActiveOnly,
        "deleted" => ViewType::DeletedOnly,
        "all" => ViewType::All,
        other => {
            return Err(ApiError::bad(format!(
                "view '{other}' is not one of active, deleted, all"
            )))
        }
    };
    let order_by: Vec<&str> = req
        .query_all("order_by")
        .into_iter()
        .filter(|s| !s.trim().is_empty())
        .collect();
    let user_filter = req.query("filter").unwrap_or("");
    // Check the user's filter alone first, so its errors point at its own columns.
    crate::tracking::search::parse_filter(user_filter)?;
    let scope = match req.query("parent").unwrap_or("") {
        "" => None,
        "none" => Some("attributes.parent_run_id IS NULL".to_string()),
        p if p.len() == 32 && p.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(format!("attributes.parent_run_id = '{p}'"))
        }
        p => {
            return Err(ApiError::bad(format!(
                "parent '{p}' is neither 'none' nor a run id"
            )))
        }
    };
    let filter = match (scope, user_filter.trim().is_empty()) {
        (None, _) => user_filter.to_string(),
        (Some(s), true) => s,
        (Some(s), false) => format!("({user_filter}) AND {s}"),
    };
    let query = RunsQuery::new(&[id], &filter)
        .order_by(&order_by)
        .max_results(max_results)
        .view(view)
        .page_token(
            req.query("page_token")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        );
    let page = state.tracker.search_runs(&query)?;
    let mut runs = Vec::with_capacity(page.runs.len());
    for run in &page.runs {
        let mut v = to_value(run);
        v["child_count"] = json!(state.tracker.child_run_ids(&run.info.run_id)?.len());
        runs.push(v);
    }
    ok(json!({ "runs": runs, "next_page_token": page.next_page_token }))
}

fn run(state: &State, id: &str) -> ApiResult {
    let run = state.tracker.get_run(id)?;
    let children = state.tracker.child_run_ids(id)?;
    ok(json!({ "run": to_value(&run), "children": children }))
}

/// Page size used when reading all the children of a study: the store's largest, since one query
/// of 10,000 runs is much faster than ten of 1,000.
const CHILD_PAGE: usize = crate::tracking::store::MAX_RESULTS_LIMIT;

/// Every active child of `study`, read a page at a time.
fn study_children(
    state: &State,
    study: &crate::tracking::Run,
) -> Result<Vec<crate::tracking::Run>, ApiError> {
    let id = &study.info.run_id;
    // get_run found it, so the id is a plain run id; check anyway before putting it in a filter.
    if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::bad(format!("'{id}' is not a run id")));
    }
    let filter = format!("attributes.parent_run_id = '{id}'");
    let mut runs = Vec::new();
    let mut token = None;
    loop {
        let page = state.tracker.search_runs(
            &RunsQuery::new(&[study.info.experiment_id], &filter)
                .max_results(CHILD_PAGE)
                .page_token(token),
        )?;
        runs.extend(page.runs);
        token = page.next_page_token;
        if token.is_none() {
            return Ok(runs);
        }
    }
}

/// The metric a study optimizes (its `hpo.metric` tag), `loss` by default.
fn study_metric(study: &crate::tracking::Run) -> String {
    study
        .data
        .tag(crate::tracking::recorder::TAG_METRIC)
        .unwrap_or("loss")
        .to_string()
}

fn importance(state: &State, id: &str) -> ApiResult {
    let study = state.tracker.get_run(id)?;
    let metric = study_metric(&study);
    let mut samples = Vec::new();
    for run in study_children(state, &study)? {
        if run.info.status != RunStatus::Finished {
            continue;
        }
        let Some(value) = run.data.metric(&metric).map(|m| m.latest) else {
            continue;
        };
        if !value.is_finite() {
            continue;
        }
        let params = run
            .data
            .params
            .into_iter()
            .map(|p| (p.key, p.value))
            .collect();
        samples.push(super::importance::Sample { params, value });
    }
    let redundant = super::choice_index::redundant_indices(samples.iter().map(|s| &s.params));
    for s in &mut samples {
        s.params.retain(|k, _| !redundant.contains(k));
    }
    let note = if samples.is_empty() {
        None
    } else {
        super::importance::too_few(samples.len())
    };
    let importance: Vec<Value> = if note.is_some() {
        Vec::new()
    } else {
        super::importance::importance(&samples)
            .into_iter()
            .map(|(param, value)| json!({ "param": param, "value": value }))
            .collect()
    };
    ok(json!({ "metric": metric, "importance": importance, "note": note }))
}

/// Most runs `/api/compare?runs=` takes.
pub const MAX_COMPARE_RUNS: usize = 200;

/// The runs a compare request names (`study=` or `runs=`), the default metric, the study's
/// summary (or null) and its recorded distributions.
type Compared = (
    Vec<crate::tracking::Run>,
    String,
    Value,
    Option<super::compare::Distributions>,
);

fn compared_runs(state: &State, req: &Request) -> Result<Compared, ApiError> {
    let given = |k: &str| req.query(k).map(str::trim).filter(|s| !s.is_empty());
    Ok(match (given("study"), given("runs")) {
        (Some(id), None) => {
            let study = state.tracker.get_run(id)?;
            let runs = study_children(state, &study)?;
            let summary = json!({
                "run_id": study.info.run_id,
                "run_name": study.info.run_name,
                "experiment_id": study.info.experiment_id,
            });
            let dists = super::compare::distributions_of(&study);
            (runs, study_metric(&study), summary, dists)
        }
        (None, Some(list)) => {
            let mut ids: Vec<&str> = list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            ids.sort_unstable();
            ids.dedup();
            if ids.is_empty() || ids.len() > MAX_COMPARE_RUNS {
                return Err(ApiError::bad(format!(
                    "runs must list 1 to {MAX_COMPARE_RUNS} run ids, separated by commas"
                )));
            }
            let mut runs = Vec::with_capacity(ids.len());
            for id in ids {
                if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(ApiError::bad(format!("'{id}' is not a run id")));
                }
                runs.push(state.tracker.get_run(id)?);
            }
            // the metric and distributions of the study the first trial belongs to, if any
            let parent = runs
                .iter()
                .find_map(|r| r.info.parent_run_id.as_deref())
                .and_then(|p| state.tracker.get_run(p).ok());
            let metric = parent
                .as_ref()
                .map_or_else(|| "loss".to_string(), study_metric);
            let dists = parent.as_ref().and_then(super::compare::distributions_of);
            (runs, metric, Value::Null, dists)
        }
        _ => {
            return Err(ApiError::bad(
                "give either study={run id} or runs={run id},{run id},...",
            ))
        }
    })
}

fn compare(state: &State, req: &Request) -> ApiResult {
    let given = |k: &str| req.query(k).map(str::trim).filter(|s| !s.is_empty());
    let (runs, default_metric, study, dists) = compared_runs(state, req)?;
    let metric = given("metric").map_or(default_metric, str::to_string);
    let data = super::compare::compare(runs, &metric, dists.as_ref());
    // serialized straight to bytes: no JSON tree of 10,000 trials beside the data
    let body = serde_json::to_vec(&CompareAnswer { data: &data, study })
        .map_err(|e| ApiError::new(500, format!("could not encode the answer: {e}")))?;
    drop(data);
    // hand the request's freed temporaries back to the system, so the worker thread that
    // served it does not keep them in its malloc arena while idle
    super::memory::release_free_memory();
    Ok(Response::new(200, "application/json", body))
}

/// The learning curves of the compared runs (`/api/compare/curves`).
fn compare_curves(state: &State, req: &Request) -> ApiResult {
    let (runs, study_metric, _, _) = compared_runs(state, req)?;
    let metric = match req.query("metric").map(str::trim).filter(|s| !s.is_empty()) {
        Some(m) => m.to_string(),
        None => super::intermediate::default_metric(&runs, &study_metric),
    };
    let data = super::intermediate::curves(runs, &metric, |id, key| {
        state.tracker.metric_history(id, key)
    })?;
    ok(to_value(&data))
}

/// The answer of `/api/compare`: the compare data and the study it came from.
#[derive(serde::Serialize)]
struct CompareAnswer<'a> {
    #[serde(flatten)]
    data: &'a super::compare::CompareData,
    study: Value,
}

fn metric_history(state: &State, id: &str, key: &str) -> ApiResult {
    let run = state.tracker.get_run(id)?;
    if run.data.metric(key).is_none() {
        return Err(ApiError::not_found(format!(
            "run '{id}' has no metric '{key}'"
        )));
    }
    let history = state.tracker.metric_history(id, key)?;
    ok(json!({ "key": key, "history": to_value(&history) }))
}

fn artifact_list(state: &State, req: &Request, id: &str) -> ApiResult {
    let path = req.query("path").unwrap_or("");
    let store = state.tracker.artifacts(id)?;
    let files = match store.list(path) {
        Ok(f) => f,
        // A run that never logged an artifact has no directory yet.
        Err(ArtifactError::NotFound(_)) if path.is_empty() => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    ok(json!({ "path": path, "files": to_value(&files) }))
}

/// The content type served for an artifact, by its extension.
pub fn content_type_for(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" | "log" | "md" | "py" | "rs" | "toml" | "yaml" | "yml" | "html" | "htm" | "xml" => {
            "text/plain; charset=utf-8"
        }
        "json" => "application/json",
        "csv" => "text/csv; charset=utf-8",
        "tsv" => "text/tab-separated-values; charset=utf-8",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

fn artifact_file(state: &State, req: &Request, id: &str) -> ApiResult {
    let path = req
        .query("path")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::bad("the path query parameter is required"))?;
    let store = state.tracker.artifacts(id)?;
    let bytes = store.read(path).map_err(|e| match e {
        // Reading a directory: the user asked for the wrong kind of path.
        ArtifactError::Io { .. } => ApiError::not_found(format!("'{path}' is not a file")),
        other => other.into(),
    })?;
    let name = path.rsplit('/').next().unwrap_or("artifact");
    let safe_name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = if req.query("download").is_some() {
        "attachment"
    } else {
        "inline"
    };
    Ok(Response::new(200, content_type_for(path), bytes)
        .with_header("Content-Security-Policy", "default-src 'none'; sandbox")
        .with_header(
            "Content-Disposition",
            &format!("{disposition}; filename=\"{safe_name}\""),
        ))
}

fn models(state: &State, req: &Request) -> ApiResult {
    let page = registry(state)?.search_registered_models(
        &ModelSearch::default().page_token(
            req.query("page_token")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        ),
    )?;
    ok(json!({ "models": to_value(&page.models), "next_page_token": page.next_page_token }))
}

fn model(state: &State, name: &str) -> ApiResult {
    let reg = registry(state)?;
    let model = reg.get_registered_model(name)?;
    let mut versions = Vec::new();
    let latest = model.latest_version.unwrap_or(0);
    for v in (1..=latest).rev() {
        match reg.get_model_version(name, v) {
            Ok(mv) => versions.push(to_value(&mv)),
            Err(RegistryError::VersionDeleted { .. } | RegistryError::VersionNotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    ok(json!({ "model": to_value(&model), "versions": versions }))
}

fn model_version(state: &State, name: &str, version: &str) -> ApiResult {
    let reg = registry(state)?;
    let version: i64 = version
        .parse()
        .map_err(|_| ApiError::bad(format!("version '{version}' is not a number")))?;
    let mv = reg.get_model_version(name, version)?;
    let run = match state.tracker.get_run(&mv.run_id) {
        Ok(r) => json!({
            "run_id": r.info.run_id,
            "run_name": r.info.run_name,
            "experiment_id": r.info.experiment_id,
            "status": r.info.status,
            "lifecycle_stage": r.info.lifecycle_stage,
        }),
        Err(TrackingError::Store(StoreError::RunNotFound(_))) => Value::Null,
        Err(e) => return Err(e.into()),
    };
    ok(json!({ "model_version": to_value(&mv), "run": run }))
}
