//! MLflow 3's logged models, kept with their source run: `logged-models` create, get, finalize,
//! search, tags and params, enough for `mlflow.<flavor>.log_model` inside a run.
//!
//! A logged model's id is `m-<source run id><8 hex>`, its record a JSON tag
//! `hpo.loggedModel.<id>` on the source run (the run's `hpo.loggedModels` tag lists the ids), and
//! its artifacts the run's artifact directory `<name>/`, as MLflow 2 laid models out. So the files
//! `log_model` uploads are run artifacts (`runs:/<run>/<name>` works everywhere, `hpo artifacts`
//! and `register_model` included). A model needs a source run; one logged outside a run is refused.

use serde_json::{json, Map, Value};

use super::args::Args;
use super::convert::ArtifactView;
use super::{Mlflow, MlflowError};
use crate::tracking::store::now_ms;
use crate::tracking::{Run, RunsQuery};

/// The run tag listing a run's logged model ids, comma-separated.
pub const TAG_LOGGED_MODELS: &str = "hpo.loggedModels";
/// The prefix of the run tag holding one logged model's record.
pub const TAG_LOGGED_MODEL_PREFIX: &str = "hpo.loggedModel.";

fn record_key(model_id: &str) -> String {
    format!("{TAG_LOGGED_MODEL_PREFIX}{model_id}")
}

/// The source run id inside a model id.
fn run_of(model_id: &str) -> Result<&str, MlflowError> {
    model_id
        .strip_prefix("m-")
        .and_then(|rest| rest.get(..32))
        .filter(|r| r.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| MlflowError::not_found(format!("no logged model '{model_id}'")))
}

/// The model's run and record.
fn load(m: &Mlflow, model_id: &str) -> Result<(Run, Map<String, Value>), MlflowError> {
    let run = m
        .tracker()
        .get_run(run_of(model_id)?)
        .map_err(|_| MlflowError::not_found(format!("no logged model '{model_id}'")))?;
    let record = run
        .data
        .tag(&record_key(model_id))
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .and_then(|v| v.as_object().cloned())
        .ok_or_else(|| MlflowError::not_found(format!("no logged model '{model_id}'")))?;
    Ok((run, record))
}

fn save(
    m: &Mlflow,
    run_id: &str,
    model_id: &str,
    record: &Map<String, Value>,
) -> Result<(), MlflowError> {
    m.tracker().set_tag(
        run_id,
        &record_key(model_id),
        &Value::Object(record.clone()).to_string(),
    )?;
    Ok(())
}

fn pairs(map: Option<&Value>) -> Value {
    Value::Array(
        map.and_then(Value::as_object)
            .map(|o| {
                o.iter()
                    .map(|(k, v)| json!({ "key": k, "value": v.as_str().unwrap_or("") }))
                    .collect()
            })
            .unwrap_or_default(),
    )
}

/// A logged model as MLflow's JSON.
fn model_json(m: &Mlflow, run: &Run, model_id: &str, record: &Map<String, Value>) -> Value {
    let name = record
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("model");
    let artifact_uri = match m.view {
        ArtifactView::Proxied => format!(
            "mlflow-artifacts:/{}/{}/artifacts/{name}",
            run.info.experiment_id, run.info.run_id
        ),
        ArtifactView::Local => format!("{}/{name}", run.info.artifact_uri),
    };
    let mut params: Map<String, Value> = run
        .data
        .params
        .iter()
        .map(|p| (p.key.clone(), json!(p.value)))
        .collect();
    if let Some(extra) = record.get("params").and_then(Value::as_object) {
        params.extend(extra.clone());
    }
    json!({
        "info": {
            "model_id": model_id,
            "experiment_id": run.info.experiment_id.to_string(),
            "name": name,
            "artifact_uri": artifact_uri,
            "creation_timestamp_ms": record.get("created").cloned().unwrap_or(json!(0)),
            "last_updated_timestamp_ms": record.get("updated").cloned().unwrap_or(json!(0)),
            "status": record.get("status").cloned().unwrap_or(json!("LOGGED_MODEL_PENDING")),
            "model_type": record.get("model_type").cloned().unwrap_or(json!("")),
            "source_run_id": run.info.run_id,
            "tags": pairs(record.get("tags")),
        },
        "data": { "params": pairs(Some(&Value::Object(params))), "metrics": [] },
    })
}

fn kv_map(args: &Args, key: &str) -> Result<Map<String, Value>, MlflowError> {
    let mut out = Map::new();
    for item in args.objects(key)? {
        out.insert(
            item.str("key")?.to_string(),
            json!(item.opt_str("value")?.unwrap_or("")),
        );
    }
    Ok(out)
}

/// `POST logged-models` `{experiment_id, name, source_run_id, model_type?, params?, tags?}`.
pub fn create(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let Some(run_id) = args.opt_str("source_run_id")?.filter(|r| !r.is_empty()) else {
        return Err(MlflowError::invalid(
            "hpo keeps logged models with their run: log the model inside a run (source_run_id)",
        ));
    };
    let run = m.tracker().get_run(run_id)?;
    let name = args
        .opt_str("name")?
        .filter(|n| !n.is_empty())
        .unwrap_or("model");
    if name.contains('/') || name.contains("..") || name.starts_with('.') {
        return Err(MlflowError::invalid(format!(
            "logged model name '{name}' must be a plain directory name"
        )));
    }
    let model_id = format!("m-{}{:08x}", run.info.run_id, rand::random::<u32>());
    let now = now_ms();
    let run_params: Map<String, Value> = run
        .data
        .params
        .iter()
        .map(|p| (p.key.clone(), json!(p.value)))
        .collect();
    // Params equal to the run's are read from the run, not copied into the record.
    let params: Map<String, Value> = kv_map(args, "params")?
        .into_iter()
        .filter(|(k, v)| run_params.get(k) != Some(v))
        .collect();
    let record: Map<String, Value> = json!({
        "name": name,
        "model_type": args.opt_str("model_type")?.unwrap_or(""),
        "status": "LOGGED_MODEL_PENDING",
        "created": now,
        "updated": now,
        "tags": kv_map(args, "tags")?,
        "params": params,
    })
    .as_object()
    .cloned()
    .unwrap_or_default();
    let mut ids: Vec<String> = run
        .data
        .tag(TAG_LOGGED_MODELS)
        .map(|t| {
            t.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    ids.push(model_id.clone());
    save(m, &run.info.run_id, &model_id, &record)?;
    m.tracker()
        .set_tag(&run.info.run_id, TAG_LOGGED_MODELS, &ids.join(","))?;
    Ok(json!({ "model": model_json(m, &run, &model_id, &record) }))
}

/// `GET logged-models/{id}`.
pub fn get(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let id = args.str("model_id")?;
    let (run, record) = load(m, id)?;
    Ok(json!({ "model": model_json(m, &run, id, &record) }))
}

fn update(
    m: &Mlflow,
    args: &Args,
    change: impl FnOnce(&mut Map<String, Value>) -> Result<(), MlflowError>,
) -> Result<Value, MlflowError> {
    let id = args.str("model_id")?;
    let (run, mut record) = load(m, id)?;
    change(&mut record)?;
    record.insert("updated".into(), json!(now_ms()));
    save(m, &run.info.run_id, id, &record)?;
    Ok(json!({ "model": model_json(m, &run, id, &record) }))
}

/// `PATCH logged-models/{id}` `{status}`: finalizes the model.
pub fn finalize(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let status = match args.get("status") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(2) => "LOGGED_MODEL_READY".into(),
            Some(3) => "LOGGED_MODEL_UPLOAD_FAILED".into(),
            _ => "LOGGED_MODEL_PENDING".into(),
        },
        _ => {
            return Err(MlflowError::invalid(
                "missing value for required parameter 'status'",
            ))
        }
    };
    update(m, args, |r| {
        r.insert("status".into(), json!(status));
        Ok(())
    })
}

/// `PATCH logged-models/{id}/tags` `{tags}`.
pub fn set_tags(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let tags = kv_map(args, "tags")?;
    update(m, args, |r| {
        let entry = r.entry("tags").or_insert_with(|| json!({}));
        if let Some(o) = entry.as_object_mut() {
            o.extend(tags);
        }
        Ok(())
    })
    .map(|_| json!({}))
}

/// `DELETE logged-models/{id}/tags/{key}`.
pub fn delete_tag(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let key = args.str("tag_key")?.to_string();
    update(m, args, |r| {
        let removed = r
            .get_mut("tags")
            .and_then(Value::as_object_mut)
            .and_then(|o| o.remove(&key));
        match removed {
            Some(_) => Ok(()),
            None => Err(MlflowError::not_found(format!(
                "the logged model has no tag '{key}'"
            ))),
        }
    })
    .map(|_| json!({}))
}

/// `POST logged-models/{id}/params` `{params}`.
pub fn log_params(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let params = kv_map(args, "params")?;
    update(m, args, |r| {
        let entry = r.entry("params").or_insert_with(|| json!({}));
        if let Some(o) = entry.as_object_mut() {
            o.extend(params);
        }
        Ok(())
    })
    .map(|_| json!({}))
}

/// The `name`, `source_run_id` and `model_id` equalities `search` understands, joined by AND.
fn conditions(filter: &str) -> Result<Vec<(String, String)>, MlflowError> {
    let mut out = Vec::new();
    for clause in filter.split(" AND ").flat_map(|c| c.split(" and ")) {
        let clause = clause.trim();
        if clause.is_empty() {
            continue;
        }
        let bad = || {
            MlflowError::invalid(format!(
                "unsupported logged model filter '{clause}': use name = '...', source_run_id = '...' \
                 or model_id = '...' joined by AND"
            ))
        };
        let (key, value) = clause.split_once('=').ok_or_else(bad)?;
        let key = key.trim().trim_start_matches("attributes.");
        let value = value.trim();
        let value = value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .ok_or_else(bad)?;
        if !matches!(key, "name" | "source_run_id" | "model_id") {
            return Err(bad());
        }
        out.push((key.to_string(), value.to_string()));
    }
    Ok(out)
}

/// `POST logged-models/search` `{experiment_ids, filter?, max_results?}` → `{models}` (one page).
pub fn search(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let conds = conditions(args.opt_str("filter")?.unwrap_or(""))?;
    let experiment_ids = args
        .str_list("experiment_ids")?
        .iter()
        .map(|id| super::experiments::parse_id(id))
        .collect::<Result<Vec<_>, _>>()?;
    let max = args.opt_i64("max_results")?.unwrap_or(100).clamp(1, 50_000) as usize;
    let mut filter = format!("tags.`{TAG_LOGGED_MODELS}` IS NOT NULL");
    if let Some((_, run)) = conds.iter().find(|(k, _)| k == "source_run_id") {
        if run.contains('\'') {
            return Ok(json!({ "models": [] }));
        }
        filter.push_str(&format!(" AND attributes.run_id = '{run}'"));
    }
    let runs = m
        .tracker()
        .search_runs(&RunsQuery::new(&experiment_ids, &filter).max_results(50_000))?
        .runs;
    let mut models = Vec::new();
    for run in &runs {
        for id in run.data.tag(TAG_LOGGED_MODELS).unwrap_or("").split(',') {
            let Some(record) = run
                .data
                .tag(&record_key(id))
                .and_then(|t| serde_json::from_str::<Value>(t).ok())
                .and_then(|v| v.as_object().cloned())
            else {
                continue;
            };
            let fits = conds.iter().all(|(k, v)| match k.as_str() {
                "name" => record.get("name").and_then(Value::as_str) == Some(v.as_str()),
                "model_id" => id == v,
                _ => true,
            });
            if fits && models.len() < max {
                models.push(model_json(m, run, id, &record));
            }
        }
    }
    Ok(json!({ "models": models }))
}

/// `POST runs/outputs` `{run_id, models}`: accepted (a run's models are found through its tags).
pub fn log_outputs(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    m.tracker().get_run(args.run_id()?)?;
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_name_their_run() {
        let run = "0123456789abcdef0123456789abcdef";
        assert_eq!(run_of(&format!("m-{run}0000beef")).unwrap(), run);
        for bad in ["m-xyz", "model", "m-0123456789abcdef0123456789abcdeZ11"] {
            assert_eq!(
                run_of(bad).unwrap_err().code,
                "RESOURCE_DOES_NOT_EXIST",
                "{bad}"
            );
        }
    }

    #[test]
    fn search_filters() {
        assert_eq!(
            conditions("name = 'model' AND source_run_id = 'abc'").unwrap(),
            vec![
                ("name".to_string(), "model".to_string()),
                ("source_run_id".to_string(), "abc".to_string())
            ]
        );
        assert!(conditions("").unwrap().is_empty());
        assert!(conditions("metrics.x > 1").is_err());
        assert!(conditions("name = model").is_err());
    }
}
