//! MLflow's JSON entities read into hpo's records, and hpo's writes as MLflow's request fields.
//!
//! MLflow names the parent of a nested run and a run's name with the tags `mlflow.parentRunId`
//! and `mlflow.runName`; hpo with `hpo.parentRunId` and `hpo.runName`. Runs read here get both,
//! so hpo's code finds its tags on a run an MLflow client made, and runs hpo makes carry MLflow's.

use serde_json::{json, Value};

use crate::tracking::store::{TAG_PARENT_RUN_ID, TAG_RUN_NAME, TAG_USER};
use crate::tracking::{
    Experiment, ExperimentTag, LifecycleStage, Metric, MetricSummary, Param, Run, RunData, RunInfo,
    RunStatus, RunTag, StoreError, ViewType,
};

/// MLflow's tag naming a run's parent.
pub(crate) const MLFLOW_PARENT_RUN_ID: &str = "mlflow.parentRunId";
/// MLflow's tag holding a run's name.
pub(crate) const MLFLOW_RUN_NAME: &str = "mlflow.runName";
/// MLflow's tag holding a run's user.
pub(crate) const MLFLOW_USER: &str = "mlflow.user";

fn bad(what: &str, v: &Value) -> StoreError {
    let text = v.to_string();
    StoreError::Database(format!(
        "the tracking server sent {what} hpo cannot read: {}",
        &text[..text.len().min(200)]
    ))
}

fn str_field<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// An integer field sent as a number or as a string of digits (protobuf's int64 in JSON).
fn int_field(v: &Value, k: &str) -> Option<i64> {
    match v.get(k)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A double as protobuf's JSON writes it: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
pub(crate) fn double(v: Option<&Value>) -> f64 {
    match v {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        Some(Value::String(s)) => match s.as_str() {
            "Infinity" | "inf" => f64::INFINITY,
            "-Infinity" | "-inf" => f64::NEG_INFINITY,
            other => other.parse().unwrap_or(f64::NAN),
        },
        _ => f64::NAN,
    }
}

/// A double as a JSON value protobuf's parsers read (non-finite as strings).
pub(crate) fn double_json(v: f64) -> Value {
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

fn stage(v: &Value) -> LifecycleStage {
    if str_field(v, "lifecycle_stage") == "deleted" {
        LifecycleStage::Deleted
    } else {
        LifecycleStage::Active
    }
}

fn key_values(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|t| {
                    (
                        str_field(t, "key").to_string(),
                        str_field(t, "value").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Parses an experiment id (a string of digits).
pub(crate) fn experiment_id(v: &Value) -> Result<i64, StoreError> {
    int_field(v, "experiment_id").ok_or_else(|| bad("an experiment id", v))
}

/// An experiment.
pub(crate) fn experiment(v: &Value) -> Result<Experiment, StoreError> {
    let mut tags: Vec<ExperimentTag> = key_values(v.get("tags"))
        .into_iter()
        .map(|(key, value)| ExperimentTag { key, value })
        .collect();
    tags.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(Experiment {
        experiment_id: experiment_id(v)?,
        name: str_field(v, "name").to_string(),
        artifact_location: str_field(v, "artifact_location").to_string(),
        lifecycle_stage: stage(v),
        creation_time: int_field(v, "creation_time").unwrap_or(0),
        last_update_time: int_field(v, "last_update_time").unwrap_or(0),
        tags,
    })
}

/// A run's info; `parent` comes from the run's tags (MLflow's run info has no parent).
pub(crate) fn run_info(v: &Value, parent: Option<String>) -> Result<RunInfo, StoreError> {
    let run_id = match str_field(v, "run_id") {
        "" => str_field(v, "run_uuid"),
        id => id,
    };
    if run_id.is_empty() {
        return Err(bad("a run without an id", v));
    }
    let status = str_field(v, "status")
        .parse::<RunStatus>()
        .unwrap_or(RunStatus::Running);
    Ok(RunInfo {
        run_id: run_id.to_string(),
        experiment_id: experiment_id(v)?,
        run_name: str_field(v, "run_name").to_string(),
        status,
        start_time: int_field(v, "start_time").unwrap_or(0),
        end_time: int_field(v, "end_time"),
        parent_run_id: parent,
        user_id: str_field(v, "user_id").to_string(),
        artifact_uri: str_field(v, "artifact_uri").to_string(),
        lifecycle_stage: stage(v),
    })
}

/// A run. MLflow sends only the latest point of each metric: the summaries' `min`, `max` and
/// `count` are unknown here (`None`, `None`, 0); [`summary`] makes them from a key's history.
pub(crate) fn run(v: &Value) -> Result<Run, StoreError> {
    let info_json = v.get("info").ok_or_else(|| bad("a run without info", v))?;
    let data = v.get("data").cloned().unwrap_or(Value::Null);
    let mut tags: Vec<RunTag> = key_values(data.get("tags"))
        .into_iter()
        .map(|(k, val)| RunTag::new(k, val))
        .collect();
    let tag = |tags: &[RunTag], k: &str| tags.iter().find(|t| t.key == k).map(|t| t.value.clone());
    let parent = tag(&tags, TAG_PARENT_RUN_ID).or_else(|| tag(&tags, MLFLOW_PARENT_RUN_ID));
    let mut info = run_info(info_json, parent.clone())?;
    if info.run_name.is_empty() {
        info.run_name = tag(&tags, MLFLOW_RUN_NAME).unwrap_or_default();
    }
    // hpo's own system tags, as the SQLite store keeps them
    let mirrored = [
        (TAG_PARENT_RUN_ID, parent),
        (TAG_RUN_NAME, Some(info.run_name.clone())),
    ];
    for (key, value) in mirrored {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            if tag(&tags, key).is_none() {
                tags.push(RunTag::new(key, value));
            } else if key == TAG_RUN_NAME {
                // the name is the run's: a rename through MLflow's tag wins
                if let Some(t) = tags.iter_mut().find(|t| t.key == key) {
                    t.value = value;
                }
            }
        }
    }
    if info.user_id.is_empty() {
        info.user_id = tag(&tags, TAG_USER)
            .or_else(|| tag(&tags, MLFLOW_USER))
            .unwrap_or_default();
    }
    tags.sort_by(|a, b| a.key.cmp(&b.key));
    let mut params: Vec<Param> = key_values(data.get("params"))
        .into_iter()
        .map(|(k, val)| Param::new(k, val))
        .collect();
    params.sort_by(|a, b| a.key.cmp(&b.key));
    let mut metrics: Vec<MetricSummary> = data
        .get("metrics")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|m| MetricSummary {
                    key: str_field(m, "key").to_string(),
                    latest: double(m.get("value")),
                    latest_step: int_field(m, "step").unwrap_or(0),
                    latest_timestamp: int_field(m, "timestamp").unwrap_or(0),
                    min: None,
                    max: None,
                    count: 0,
                })
                .collect()
        })
        .unwrap_or_default();
    metrics.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(Run {
        info,
        data: RunData {
            params,
            metrics,
            tags,
        },
    })
}

/// The summary of a metric from its whole history (ordered by step, then timestamp).
pub(crate) fn summary(key: &str, history: &[Metric]) -> Option<MetricSummary> {
    let latest = history.last()?;
    let finite = history.iter().map(|m| m.value).filter(|v| !v.is_nan());
    let min = finite
        .clone()
        .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.min(v))));
    let max = finite.fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))));
    Some(MetricSummary {
        key: key.to_string(),
        latest: latest.value,
        latest_step: latest.step,
        latest_timestamp: latest.timestamp,
        min,
        max,
        count: history.len() as u64,
    })
}

/// One metric point.
pub(crate) fn metric(v: &Value) -> Metric {
    Metric {
        key: str_field(v, "key").to_string(),
        value: double(v.get("value")),
        timestamp: int_field(v, "timestamp").unwrap_or(0),
        step: int_field(v, "step").unwrap_or(0),
    }
}

/// A metric point as MLflow's `log-batch` takes it.
pub(crate) fn metric_json(m: &Metric) -> Value {
    json!({ "key": m.key, "value": double_json(m.value), "timestamp": m.timestamp, "step": m.step })
}

/// A tag as an MLflow server keeps it: hpo's name tag becomes MLflow's, which renames the run on
/// both hpo's and MLflow's servers.
pub(crate) fn tag_json(t: &RunTag) -> Value {
    let key = if t.key == TAG_RUN_NAME {
        MLFLOW_RUN_NAME
    } else {
        t.key.as_str()
    };
    json!({ "key": key, "value": t.value })
}

/// A param as MLflow's `log-batch` takes it.
pub(crate) fn param_json(p: &Param) -> Value {
    json!({ "key": p.key, "value": p.value })
}

/// MLflow's name of a view type.
pub(crate) fn view_type(view: ViewType) -> &'static str {
    match view {
        ViewType::ActiveOnly => "ACTIVE_ONLY",
        ViewType::DeletedOnly => "DELETED_ONLY",
        ViewType::All => "ALL",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_get_hpo_tags_from_mlflow_ones() {
        let v = json!({
            "info": {"run_id": "abc", "experiment_id": "3", "run_name": "r", "status": "FINISHED",
                     "start_time": 5, "end_time": "9", "artifact_uri": "mlflow-artifacts:/3/abc/artifacts",
                     "lifecycle_stage": "active", "user_id": ""},
            "data": {"metrics": [{"key": "loss", "value": "NaN", "timestamp": 1, "step": 2}],
                     "params": [{"key": "lr", "value": "0.1"}],
                     "tags": [{"key": "mlflow.parentRunId", "value": "p"},
                              {"key": "mlflow.user", "value": "ann"}]}
        });
        let r = run(&v).unwrap();
        assert_eq!(r.info.parent_run_id.as_deref(), Some("p"));
        assert_eq!(r.info.end_time, Some(9));
        assert_eq!(r.info.experiment_id, 3);
        assert_eq!(r.info.user_id, "ann");
        assert_eq!(r.data.tag(TAG_PARENT_RUN_ID), Some("p"));
        assert_eq!(r.data.tag(TAG_RUN_NAME), Some("r"));
        assert!(r.data.metric("loss").unwrap().latest.is_nan());
        assert_eq!(r.data.param("lr"), Some("0.1"));
    }

    #[test]
    fn summaries_skip_nan_in_min_and_max() {
        let pts = [
            Metric {
                key: "m".into(),
                value: 2.0,
                timestamp: 1,
                step: 0,
            },
            Metric {
                key: "m".into(),
                value: f64::NAN,
                timestamp: 2,
                step: 1,
            },
            Metric {
                key: "m".into(),
                value: 1.0,
                timestamp: 3,
                step: 2,
            },
        ];
        let s = summary("m", &pts).unwrap();
        assert_eq!(
            (s.min, s.max, s.count, s.latest),
            (Some(1.0), Some(2.0), 3, 1.0)
        );
    }
}
