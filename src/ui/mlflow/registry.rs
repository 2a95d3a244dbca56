//! `registered-models/*` and `model-versions/*`: MLflow's model registry over hpo's
//! [`Registry`](crate::registry::Registry).
//!
//! Versions are numbers in hpo and strings in MLflow's JSON. A version's `source` may be
//! `runs:/<run>/<path>`, `models:/...`, or the `mlflow-artifacts:/<experiment>/<run>/artifacts/<path>`
//! location a client derives from a run's `artifact_uri`; each is stored as `runs:/<run>/<path>`.

use serde_json::{json, Value};

use super::args::Args;
use super::convert::ArtifactView;
use super::{Mlflow, MlflowError};
use crate::registry::{ModelSearch, ModelTag, ModelVersion, RegisteredModel, Registry, Stage};

pub(super) fn registry<'a>(m: &'a Mlflow) -> Result<&'a Registry, MlflowError> {
    m.registry().ok_or_else(|| {
        MlflowError::new(
            501,
            "NOT_IMPLEMENTED",
            "this tracking store has no model registry",
        )
    })
}

fn tags_json(tags: &[ModelTag]) -> Value {
    Value::Array(
        tags.iter()
            .map(|t| json!({ "key": t.key, "value": t.value }))
            .collect(),
    )
}

/// A model version as MLflow's JSON.
pub fn version_json(v: &ModelVersion) -> Value {
    json!({
        "name": v.name,
        "version": v.version.to_string(),
        "creation_timestamp": v.creation_time,
        "last_updated_timestamp": v.last_updated_time,
        "user_id": v.user_id,
        "current_stage": v.current_stage.as_str(),
        "description": v.description,
        "source": v.source,
        "run_id": v.run_id,
        "status": "READY",
        "tags": tags_json(&v.tags),
        "aliases": v.aliases,
    })
}

/// A registered model as MLflow's JSON, with the latest version of each stage.
fn model_json(r: &Registry, model: &RegisteredModel) -> Value {
    let mut latest: Vec<Value> = Vec::new();
    if !model.name.contains('\'') {
        let query = ModelSearch::new(&format!("name = '{}'", model.name))
            .order_by(&["version_number DESC"])
            .max_results(1000);
        if let Ok(page) = r.search_model_versions(&query) {
            for stage in Stage::ALL {
                if let Some(v) = page.versions.iter().find(|v| v.current_stage == stage) {
                    latest.push(version_json(v));
                }
            }
        }
    }
    json!({
        "name": model.name,
        "creation_timestamp": model.creation_time,
        "last_updated_timestamp": model.last_updated_time,
        "description": model.description,
        "latest_versions": latest,
        "tags": tags_json(&model.tags),
        "aliases": model.aliases.iter()
            .map(|a| json!({ "alias": a.alias, "version": a.version.to_string() }))
            .collect::<Vec<_>>(),
    })
}

fn tags_of(args: &Args) -> Result<Vec<ModelTag>, MlflowError> {
    args.objects("tags")?
        .iter()
        .map(|t| {
            Ok(ModelTag {
                key: t.str("key")?.to_string(),
                value: t.opt_str("value")?.unwrap_or("").to_string(),
            })
        })
        .collect()
}

pub(super) fn version_of(args: &Args) -> Result<i64, MlflowError> {
    let v = args
        .opt_i64("version")?
        .ok_or_else(|| MlflowError::invalid("missing value for required parameter 'version'"))?;
    Ok(v)
}

fn search_of(args: &Args) -> Result<ModelSearch, MlflowError> {
    let max = args.opt_i64("max_results")?.unwrap_or(1000);
    if !(1..=50_000).contains(&max) {
        return Err(MlflowError::invalid(format!(
            "max_results must be between 1 and 50000, not {max}"
        )));
    }
    Ok(ModelSearch::new(&without_prompt_clause(
        args.opt_str("filter")?.unwrap_or(""),
    ))
    .order_by(&args.str_list("order_by")?)
    .max_results(max as usize)
    .page_token(
        args.opt_str("page_token")?
            .filter(|t| !t.is_empty())
            .map(str::to_string),
    ))
}

/// Drops the clause the MLflow client adds to leave prompts out (``tag.`mlflow.prompt.is_prompt`
/// != 'true'``): hpo keeps no prompts, and in hpo's filter language `!=` would also leave out every
/// model without that tag.
fn without_prompt_clause(filter: &str) -> String {
    const KEY: &str = "`mlflow.prompt.is_prompt` != 'true'";
    let mut out = filter.to_string();
    for prefix in ["tag.", "tags."] {
        let clause = format!("{prefix}{KEY}");
        for joined in [
            format!(" AND {clause}"),
            format!(" and {clause}"),
            clause.clone(),
        ] {
            out = out.replace(&joined, "");
        }
    }
    out.trim().to_string()
}

/// `POST registered-models/create` `{name, tags?, description?}`.
pub fn create_model(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let r = registry(m)?;
    let model = r.create_registered_model(
        args.str("name")?,
        args.opt_str("description")?,
        &tags_of(args)?,
    )?;
    Ok(json!({ "registered_model": model_json(r, &model) }))
}

/// `GET registered-models/get?name=`.
pub fn get_model(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let r = registry(m)?;
    let model = r.get_registered_model(args.str("name")?)?;
    Ok(json!({ "registered_model": model_json(r, &model) }))
}

/// `POST registered-models/rename` `{name, new_name}`.
pub fn rename_model(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let r = registry(m)?;
    let model = r.rename_registered_model(args.str("name")?, args.str("new_name")?)?;
    Ok(json!({ "registered_model": model_json(r, &model) }))
}

/// `PATCH registered-models/update` `{name, description}`.
pub fn update_model(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let r = registry(m)?;
    let name = args.str("name")?;
    let model = match args.opt_str("description")? {
        Some(d) => r.update_registered_model_description(name, d)?,
        None => r.get_registered_model(name)?,
    };
    Ok(json!({ "registered_model": model_json(r, &model) }))
}

/// `DELETE registered-models/delete` `{name}`.
pub fn delete_model(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    registry(m)?.delete_registered_model(args.str("name")?)?;
    Ok(json!({}))
}

/// `GET registered-models/search?filter=&max_results=&order_by=&page_token=`.
pub fn search_models(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let r = registry(m)?;
    let page = r.search_registered_models(&search_of(args)?)?;
    let models: Vec<Value> = page.models.iter().map(|x| model_json(r, x)).collect();
    let mut out = json!({ "registered_models": models });
    if let Some(t) = page.next_page_token {
        out["next_page_token"] = json!(t);
    }
    Ok(out)
}

/// `POST registered-models/get-latest-versions` `{name, stages?}`: the latest version per stage.
pub fn latest_versions(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let r = registry(m)?;
    let model = r.get_registered_model(args.str("name")?)?;
    let wanted: Vec<Stage> = args
        .str_list("stages")?
        .iter()
        .map(|s| s.parse::<Stage>())
        .collect::<Result<_, _>>()?;
    let all = model_json(r, &model)["latest_versions"].clone();
    let versions: Vec<Value> = all
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|v| {
            wanted.is_empty()
                || wanted
                    .iter()
                    .any(|s| v["current_stage"].as_str() == Some(s.as_str()))
        })
        .collect();
    Ok(json!({ "model_versions": versions }))
}

/// `POST registered-models/set-tag` `{name, key, value}`.
pub fn set_model_tag(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    registry(m)?.set_registered_model_tag(
        args.str("name")?,
        args.str("key")?,
        args.opt_str("value")?.unwrap_or(""),
    )?;
    Ok(json!({}))
}

/// `DELETE registered-models/delete-tag` `{name, key}`.
pub fn delete_model_tag(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    registry(m)?.delete_registered_model_tag(args.str("name")?, args.str("key")?)?;
    Ok(json!({}))
}

/// `POST registered-models/alias` `{name, alias, version}`.
pub fn set_alias(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    registry(m)?.set_alias(args.str("name")?, args.str("alias")?, version_of(args)?)?;
    Ok(json!({}))
}

/// `DELETE registered-models/alias` `{name, alias}`.
pub fn delete_alias(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    registry(m)?.delete_alias(args.str("name")?, args.str("alias")?)?;
    Ok(json!({}))
}

/// `GET registered-models/alias?name=&alias=` → `{model_version}`.
pub fn get_by_alias(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let v = registry(m)?.get_model_version_by_alias(args.str("name")?, args.str("alias")?)?;
    Ok(json!({ "model_version": version_json(&v) }))
}

/// `runs:/<run>/<path>`, or `runs:/<run>` for the run's whole directory.
fn run_uri(run: &str, path: &str) -> String {
    if path.is_empty() {
        format!("runs:/{run}")
    } else {
        format!("runs:/{run}/{path}")
    }
}

/// hpo's `runs:/<run>/<path>` for a source a client sent.
fn run_source(source: &str, run_id: Option<&str>) -> Result<String, MlflowError> {
    if source.starts_with("runs:/") || source.starts_with("models:/") {
        return Ok(source.to_string());
    }
    if let Some(rest) = source.strip_prefix("mlflow-artifacts:/") {
        let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
        if let [_, run, "artifacts", path @ ..] = parts.as_slice() {
            return Ok(run_uri(run, &path.join("/")));
        }
    }
    if let Some(run) = run_id.filter(|r| !r.is_empty() && source.contains(*r)) {
        if let Some((_, path)) = source.split_once(&format!("{run}/artifacts")) {
            return Ok(run_uri(run, path.trim_matches('/')));
        }
    }
    Err(MlflowError::invalid(format!(
        "model version source '{source}' is not a run's artifact location: use runs:/<run id>/<path>, \
         models:/... or mlflow-artifacts:/<experiment>/<run id>/artifacts/<path>"
    )))
}

/// `POST model-versions/create` `{name, source, run_id?, tags?, description?}`.
pub fn create_version(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let r = registry(m)?;
    let source = run_source(args.str("source")?, args.opt_str("run_id")?)?;
    let v = r.create_model_version(
        args.str("name")?,
        &source,
        args.opt_str("description")?,
        &tags_of(args)?,
    )?;
    Ok(json!({ "model_version": version_json(&v) }))
}

/// `GET model-versions/get?name=&version=`.
pub fn get_version(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let v = registry(m)?.get_model_version(args.str("name")?, version_of(args)?)?;
    Ok(json!({ "model_version": version_json(&v) }))
}

/// `PATCH model-versions/update` `{name, version, description}`.
pub fn update_version(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let r = registry(m)?;
    let (name, version) = (args.str("name")?, version_of(args)?);
    let v = match args.opt_str("description")? {
        Some(d) => r.update_model_version_description(name, version, d)?,
        None => r.get_model_version(name, version)?,
    };
    Ok(json!({ "model_version": version_json(&v) }))
}

/// `DELETE model-versions/delete` `{name, version}`.
pub fn delete_version(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    registry(m)?.delete_model_version(args.str("name")?, version_of(args)?)?;
    Ok(json!({}))
}

/// `POST model-versions/transition-stage` `{name, version, stage, archive_existing_versions}`.
pub fn transition_stage(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let stage: Stage = args.str("stage")?.parse()?;
    let archive = match args.get("archive_existing_versions") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        Some(_) => {
            return Err(MlflowError::invalid(
                "archive_existing_versions must be true or false",
            ))
        }
    };
    let v = registry(m)?.transition_stage(args.str("name")?, version_of(args)?, stage, archive)?;
    Ok(json!({ "model_version": version_json(&v) }))
}

/// `GET model-versions/search?filter=&max_results=&order_by=&page_token=`.
pub fn search_versions(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let page = registry(m)?.search_model_versions(&search_of(args)?)?;
    let versions: Vec<Value> = page.versions.iter().map(version_json).collect();
    let mut out = json!({ "model_versions": versions });
    if let Some(t) = page.next_page_token {
        out["next_page_token"] = json!(t);
    }
    Ok(out)
}

/// `POST model-versions/set-tag` `{name, version, key, value}`.
pub fn set_version_tag(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    registry(m)?.set_model_version_tag(
        args.str("name")?,
        version_of(args)?,
        args.str("key")?,
        args.opt_str("value")?.unwrap_or(""),
    )?;
    Ok(json!({}))
}

/// `DELETE model-versions/delete-tag` `{name, version, key}`.
pub fn delete_version_tag(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    registry(m)?.delete_model_version_tag(
        args.str("name")?,
        version_of(args)?,
        args.str("key")?,
    )?;
    Ok(json!({}))
}

/// `GET model-versions/get-download-uri?name=&version=` → `{artifact_uri}`.
pub fn download_uri(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let v = registry(m)?.get_model_version(args.str("name")?, version_of(args)?)?;
    let uri = match m.view {
        ArtifactView::Local => v.storage_location.clone(),
        ArtifactView::Proxied => {
            let run = m.tracker().get_run(&v.run_id)?;
            let mut uri = format!(
                "mlflow-artifacts:/{}/{}/artifacts",
                run.info.experiment_id, run.info.run_id
            );
            if !v.artifact_path.is_empty() {
                uri.push('/');
                uri.push_str(&v.artifact_path);
            }
            uri
        }
    };
    Ok(json!({ "artifact_uri": uri }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clients_prompt_clause_is_dropped() {
        assert_eq!(
            without_prompt_clause("tag.`mlflow.prompt.is_prompt` != 'true'"),
            ""
        );
        assert_eq!(
            without_prompt_clause("name = 'm' AND tag.`mlflow.prompt.is_prompt` != 'true'"),
            "name = 'm'"
        );
        assert_eq!(without_prompt_clause("name = 'm'"), "name = 'm'");
    }

    #[test]
    fn sources_become_run_uris() {
        let run = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            run_source(&format!("mlflow-artifacts:/3/{run}/artifacts/model"), None).unwrap(),
            format!("runs:/{run}/model")
        );
        assert_eq!(
            run_source(
                &format!("/data/hpo-artifacts/3/{run}/artifacts/model"),
                Some(run)
            )
            .unwrap(),
            format!("runs:/{run}/model")
        );
        assert_eq!(
            run_source(&format!("mlflow-artifacts:/3/{run}/artifacts"), None).unwrap(),
            format!("runs:/{run}")
        );
        assert_eq!(run_source("models:/m/1", None).unwrap(), "models:/m/1");
        assert!(run_source("s3://bucket/x", None).is_err());
    }
}
