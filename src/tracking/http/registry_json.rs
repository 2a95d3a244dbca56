//! MLflow's registry JSON (`RegisteredModel`, `ModelVersion` of `model_registry.proto`) read into
//! hpo's registry records.
//!
//! What MLflow's records do not carry is derived: a version's artifact path from its `source`
//! (`runs:/<run>/<path>`, or a location `.../<run>/artifacts/<path>`), its storage location from
//! the source (the run's artifact URI when the store reads the run too), a model's latest version
//! from its `latest_versions`. The params and metrics snapshot of a version is not in MLflow's
//! JSON; `hpo server` gives it by its own call, read by [`snapshot`].

use serde_json::Value;

use crate::registry::{
    ModelAlias, ModelMetric, ModelTag, ModelVersion, RegisteredModel, RegistryError, Stage,
};
use crate::tracking::Param;

fn str_field<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// An int64 sent as a number or as a string of digits (protobuf's JSON).
fn int_field(v: &Value, k: &str) -> Option<i64> {
    match v.get(k)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn bad(what: &str, v: &Value) -> RegistryError {
    let text = v.to_string();
    RegistryError::InvalidArgument(format!(
        "the tracking server sent {what} hpo cannot read: {}",
        &text[..text.len().min(200)]
    ))
}

fn tags(v: &Value) -> Vec<ModelTag> {
    v.get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|t| ModelTag::new(str_field(t, "key"), str_field(t, "value")))
        .collect()
}

/// The artifact path a version's source names inside its run: the part after `runs:/<run>/`,
/// or after `<run>/artifacts/` in an artifact location; empty for the run's whole directory.
pub(crate) fn artifact_path(source: &str, run_id: &str) -> String {
    if let Some(rest) = source.strip_prefix("runs:/") {
        return rest
            .split_once('/')
            .map_or("", |(_, p)| p)
            .trim_matches('/')
            .to_string();
    }
    if run_id.is_empty() {
        return String::new();
    }
    match source.split_once(&format!("{run_id}/artifacts")) {
        Some((_, path)) => path.trim_matches('/').to_string(),
        None => String::new(),
    }
}

/// A `ModelVersion` object.
pub(crate) fn version(v: &Value) -> Result<ModelVersion, RegistryError> {
    let number = int_field(v, "version").ok_or_else(|| bad("a model version", v))?;
    let stage = match str_field(v, "current_stage") {
        "" => Stage::None,
        s => s.parse()?,
    };
    let source = str_field(v, "source").to_string();
    let run_id = str_field(v, "run_id").to_string();
    Ok(ModelVersion {
        name: str_field(v, "name").to_string(),
        version: number,
        creation_time: int_field(v, "creation_timestamp").unwrap_or(0),
        last_updated_time: int_field(v, "last_updated_timestamp").unwrap_or(0),
        description: str_field(v, "description").to_string(),
        user_id: str_field(v, "user_id").to_string(),
        current_stage: stage,
        artifact_path: artifact_path(&source, &run_id),
        storage_location: source.clone(),
        source,
        run_id,
        tags: tags(v),
        aliases: v
            .get("aliases")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect(),
        run_params: Vec::new(),
        run_metrics: Vec::new(),
    })
}

/// A `RegisteredModel` object.
pub(crate) fn model(v: &Value) -> Result<RegisteredModel, RegistryError> {
    let name = str_field(v, "name");
    if name.is_empty() {
        return Err(bad("a registered model", v));
    }
    let mut aliases: Vec<ModelAlias> = v
        .get("aliases")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| {
            Some(ModelAlias {
                alias: a.get("alias")?.as_str()?.to_string(),
                version: int_field(a, "version")?,
            })
        })
        .collect();
    aliases.sort_by(|a, b| a.alias.cmp(&b.alias));
    let latest_version = v
        .get("latest_versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|x| int_field(x, "version"))
        .max();
    Ok(RegisteredModel {
        name: name.to_string(),
        description: str_field(v, "description").to_string(),
        creation_time: int_field(v, "creation_timestamp").unwrap_or(0),
        last_updated_time: int_field(v, "last_updated_timestamp").unwrap_or(0),
        tags: tags(v),
        aliases,
        latest_version,
    })
}

/// The answer of `hpo server`'s `GET hpo/model-versions/snapshot`: `{"params": [{key, value}],
/// "metrics": [{key, value}]}`; `None` if it is not that.
pub fn snapshot(v: &Value) -> Option<(Vec<Param>, Vec<ModelMetric>)> {
    let params = v
        .get("params")?
        .as_array()?
        .iter()
        .map(|p| Param::new(str_field(p, "key"), str_field(p, "value")))
        .collect();
    let metrics = v
        .get("metrics")?
        .as_array()?
        .iter()
        .map(|m| ModelMetric {
            key: str_field(m, "key").to_string(),
            value: super::json::double(m.get("value")),
        })
        .collect();
    Some((params, metrics))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn artifact_paths_come_from_either_form_of_source() {
        let run = "0123456789abcdef0123456789abcdef";
        assert_eq!(artifact_path(&format!("runs:/{run}/model"), run), "model");
        assert_eq!(artifact_path(&format!("runs:/{run}"), run), "");
        assert_eq!(
            artifact_path(&format!("mlflow-artifacts:/1/{run}/artifacts/model/x"), run),
            "model/x"
        );
        assert_eq!(
            artifact_path(&format!("mlflow-artifacts:/1/{run}/artifacts"), run),
            ""
        );
        assert_eq!(artifact_path("models:/m-abc", ""), "");
    }

    #[test]
    fn versions_and_models_read_mlflow_json() {
        let v = version(&json!({
            "name": "m", "version": "3", "creation_timestamp": "17", "current_stage": "Production",
            "source": "runs:/abc/model", "run_id": "abc", "aliases": ["champion"],
            "tags": [{"key": "k", "value": "v"}]
        }))
        .unwrap();
        assert_eq!(v.version, 3);
        assert_eq!(v.creation_time, 17);
        assert_eq!(v.current_stage, Stage::Production);
        assert_eq!(v.artifact_path, "model");
        assert_eq!(v.aliases, vec!["champion".to_string()]);
        assert_eq!(v.tag("k"), Some("v"));
        let m = model(&json!({
            "name": "m", "aliases": [{"alias": "b", "version": "2"}, {"alias": "a", "version": "1"}],
            "latest_versions": [{"version": "1"}, {"version": "4"}]
        }))
        .unwrap();
        assert_eq!(m.latest_version, Some(4));
        assert_eq!(m.alias("a"), Some(1));
        assert_eq!(m.aliases[0].alias, "a");
        assert!(version(&json!({"name": "m"})).is_err());
    }
}
