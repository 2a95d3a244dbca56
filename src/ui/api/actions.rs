//! The actions of the API (`POST`, after [`super::authorize`]): registering a run as a model version,
//! aliases, stages, descriptions and tags of models, versions and runs, deleting models, and deleting
//! and restoring runs. Each
//! takes the request's JSON body and answers the changed object.

use serde_json::{json, Value};

use super::{ok, registry, to_value, ApiError, ApiResult};
use crate::registry::Stage;
use crate::ui::State;

fn str_field<'a>(body: &'a Value, key: &str) -> Result<&'a str, ApiError> {
    body.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad(format!("the body needs a string field '{key}'")))
}

pub(super) fn register(state: &State, name: &str, body: &Value) -> ApiResult {
    let reg = registry(state)?;
    let run_id = str_field(body, "run_id")?;
    if run_id.is_empty() || !run_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::bad(format!("'{run_id}' is not a run id")));
    }
    let artifact_path = match body.get("artifact_path") {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s.trim_matches('/'),
        Some(_) => return Err(ApiError::bad("artifact_path must be a string")),
    };
    let source = if artifact_path.is_empty() {
        format!("runs:/{run_id}")
    } else {
        format!("runs:/{run_id}/{artifact_path}")
    };
    let version = reg.register_model(&source, name, &[])?;
    ok(json!({ "model_version": to_value(&version) }))
}

pub(super) fn set_alias(state: &State, name: &str, alias: &str, body: &Value) -> ApiResult {
    let reg = registry(state)?;
    let version = body
        .get("version")
        .and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .ok_or_else(|| ApiError::bad("the body needs an integer field 'version'"))?;
    reg.set_alias(name, alias, version)?;
    ok(json!({ "model": to_value(&reg.get_registered_model(name)?) }))
}

pub(super) fn set_stage(state: &State, name: &str, version: &str, body: &Value) -> ApiResult {
    let reg = registry(state)?;
    let version = parse_version(version)?;
    let stage: Stage = str_field(body, "stage")?.parse()?;
    let archive = body
        .get("archive_existing")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mv = reg.transition_stage(name, version, stage, archive)?;
    ok(json!({ "model_version": to_value(&mv) }))
}

pub(super) fn run_lifecycle(state: &State, id: &str, delete: bool) -> ApiResult {
    if delete {
        state.tracker.delete_run(id)?;
    } else {
        state.tracker.restore_run(id)?;
    }
    ok(json!({ "run": to_value(&state.tracker.get_run(id)?) }))
}

/// The tag holding a run's description (MLflow's name for it).
pub const TAG_RUN_DESCRIPTION: &str = "mlflow.note.content";

fn parse_version(version: &str) -> Result<i64, ApiError> {
    version
        .parse()
        .map_err(|_| ApiError::bad(format!("version '{version}' is not a number")))
}

pub(super) fn model_description(state: &State, name: &str, body: &Value) -> ApiResult {
    let description = str_field(body, "description")?;
    let model = registry(state)?.update_registered_model_description(name, description)?;
    ok(json!({ "model": to_value(&model) }))
}

pub(super) fn version_description(
    state: &State,
    name: &str,
    version: &str,
    body: &Value,
) -> ApiResult {
    let version = parse_version(version)?;
    let description = str_field(body, "description")?;
    let mv = registry(state)?.update_model_version_description(name, version, description)?;
    ok(json!({ "model_version": to_value(&mv) }))
}

pub(super) fn run_description(state: &State, id: &str, body: &Value) -> ApiResult {
    let description = str_field(body, "description")?;
    // check the run first, so an unknown run is a 404 whatever the description
    state.tracker.get_run(id)?;
    state
        .tracker
        .set_tag(id, TAG_RUN_DESCRIPTION, description)?;
    ok(json!({ "run": to_value(&state.tracker.get_run(id)?) }))
}

/// Sets (`{"key", "value"}`) or deletes (`{"key", "delete": true}`) a tag of model `name`, or of its
/// version `version` when given.
pub(super) fn model_tag(
    state: &State,
    name: &str,
    version: Option<&str>,
    body: &Value,
) -> ApiResult {
    let reg = registry(state)?;
    let key = str_field(body, "key")?;
    let delete = match body.get("delete") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::bad("delete must be true or false")),
    };
    let value = if delete {
        ""
    } else {
        str_field(body, "value")?
    };
    match version {
        None => {
            if delete {
                reg.delete_registered_model_tag(name, key)?;
            } else {
                reg.set_registered_model_tag(name, key, value)?;
            }
            ok(json!({ "model": to_value(&reg.get_registered_model(name)?) }))
        }
        Some(v) => {
            let v = parse_version(v)?;
            if delete {
                reg.delete_model_version_tag(name, v, key)?;
            } else {
                reg.set_model_version_tag(name, v, key, value)?;
            }
            ok(json!({ "model_version": to_value(&reg.get_model_version(name, v)?) }))
        }
    }
}

/// Deletes model `name` with its versions (runs and artifacts stay).
pub(super) fn delete_model(state: &State, name: &str) -> ApiResult {
    registry(state)?.delete_registered_model(name)?;
    ok(json!({ "deleted": name }))
}
