//! hpo's entities as MLflow's JSON: ids as strings, times in ms, tags as `[{key, value}]`.

use serde_json::{json, Value};

use crate::tracking::store::{TAG_PARENT_RUN_ID, TAG_RUN_NAME};
use crate::tracking::{Experiment, Metric, Run, RunInfo, RunTag};

/// MLflow's tag naming a run's parent.
pub const MLFLOW_PARENT_RUN_ID: &str = "mlflow.parentRunId";
/// MLflow's tag holding a run's name.
pub const MLFLOW_RUN_NAME: &str = "mlflow.runName";
/// MLflow's tag holding a run's user.
pub const MLFLOW_USER: &str = "mlflow.user";

/// How artifact locations are shown to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactView {
    /// `mlflow-artifacts:/...`, so clients go through the server's proxy endpoints.
    Proxied,
    /// The local directory, for clients on this machine.
    Local,
}

/// A double as protobuf's JSON writes it (`"NaN"`, `"Infinity"`, `"-Infinity"` for non-finite).
pub fn double(v: f64) -> Value {
    if v.is_nan() {
        json!("NaN")
    } else if v == f64::INFINITY {
        json!("Infinity")
    } else if v == f64::NEG_INFINITY {
        json!("-Infinity")
    } else {
        json!(v)
    }
}

fn tags<'a>(items: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    Value::Array(
        items
            .map(|(k, v)| json!({ "key": k, "value": v }))
            .collect(),
    )
}

/// An experiment.
pub fn experiment(e: &Experiment, view: ArtifactView) -> Value {
    let location = match view {
        ArtifactView::Proxied => format!("mlflow-artifacts:/{}", e.experiment_id),
        ArtifactView::Local => e.artifact_location.clone(),
    };
    json!({
        "experiment_id": e.experiment_id.to_string(),
        "name": e.name,
        "artifact_location": location,
        "lifecycle_stage": e.lifecycle_stage.as_str(),
        "creation_time": e.creation_time,
        "last_update_time": e.last_update_time,
        "tags": tags(e.tags.iter().map(|t| (t.key.as_str(), t.value.as_str()))),
    })
}

/// A run's info.
pub fn run_info(info: &RunInfo, view: ArtifactView) -> Value {
    let artifact_uri = match view {
        ArtifactView::Proxied => format!(
            "mlflow-artifacts:/{}/{}/artifacts",
            info.experiment_id, info.run_id
        ),
        ArtifactView::Local => info.artifact_uri.clone(),
    };
    let mut v = json!({
        "run_id": info.run_id,
        "run_uuid": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id.to_string(),
        "user_id": info.user_id,
        "status": info.status.as_str(),
        "start_time": info.start_time,
        "artifact_uri": artifact_uri,
        "lifecycle_stage": info.lifecycle_stage.as_str(),
    });
    if let Some(end) = info.end_time {
        v["end_time"] = json!(end);
    }
    v
}

/// A metric point.
pub fn metric(m: &Metric) -> Value {
    json!({ "key": m.key, "value": double(m.value), "timestamp": m.timestamp, "step": m.step })
}

/// MLflow's system tags derived from hpo's: the parent, the name and the user, unless set.
fn mlflow_tags(run: &Run) -> Vec<RunTag> {
    let mut out: Vec<RunTag> = run.data.tags.clone();
    let has = |out: &[RunTag], k: &str| out.iter().any(|t| t.key == k);
    if let Some(parent) = &run.info.parent_run_id {
        if !has(&out, MLFLOW_PARENT_RUN_ID) {
            out.push(RunTag::new(MLFLOW_PARENT_RUN_ID, parent.clone()));
        }
    }
    if !has(&out, MLFLOW_RUN_NAME) {
        out.push(RunTag::new(MLFLOW_RUN_NAME, run.info.run_name.clone()));
    }
    if !has(&out, MLFLOW_USER) && !run.info.user_id.is_empty() {
        out.push(RunTag::new(MLFLOW_USER, run.info.user_id.clone()));
    }
    out
}

/// A run with its latest metrics, params and tags.
pub fn run(r: &Run, view: ArtifactView) -> Value {
    let metrics: Vec<Value> = r
        .data
        .metrics
        .iter()
        .map(|m| {
            json!({
                "key": m.key,
                "value": double(m.latest),
                "timestamp": m.latest_timestamp,
                "step": m.latest_step,
            })
        })
        .collect();
    let params: Vec<Value> = r
        .data
        .params
        .iter()
        .map(|p| json!({ "key": p.key, "value": p.value }))
        .collect();
    let all_tags = mlflow_tags(r);
    json!({
        "info": run_info(&r.info, view),
        "data": {
            "metrics": metrics,
            "params": params,
            "tags": tags(all_tags.iter().map(|t| (t.key.as_str(), t.value.as_str()))),
        },
        "inputs": { "dataset_inputs": [] },
    })
}

/// Rewrites MLflow's system tag names in a filter or order_by clause into hpo's.
pub fn hpo_tag_names(clause: &str) -> String {
    let mut out = clause.to_string();
    for (mlflow, hpo) in [
        (MLFLOW_PARENT_RUN_ID, TAG_PARENT_RUN_ID),
        (MLFLOW_RUN_NAME, TAG_RUN_NAME),
    ] {
        for (from, to) in [
            (format!("tags.`{mlflow}`"), format!("tags.`{hpo}`")),
            (format!("tags.\"{mlflow}\""), format!("tags.`{hpo}`")),
            (format!("tags.{mlflow}"), format!("tags.`{hpo}`")),
        ] {
            out = out.replace(&from, &to);
        }
    }
    out
}
