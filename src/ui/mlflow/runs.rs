//! `runs/*` and `metrics/get-history`: runs, their params, metrics and tags.

use serde_json::{json, Value};

use super::args::Args;
use super::convert::{self, MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME, MLFLOW_USER};
use super::experiments::parse_id;
use super::{Mlflow, MlflowError};
use crate::tracking::store::{
    now_ms, MAX_RESULTS_LIMIT, TAG_GIT_COMMIT, TAG_RUN_NAME, TAG_SOURCE, TAG_USER,
};
use crate::tracking::{Metric, NewRun, Param, RunStatus, RunTag, RunsQuery};

fn run_json(m: &Mlflow, run_id: &str) -> Result<Value, MlflowError> {
    let run = m.tracker().get_run(run_id)?;
    Ok(convert::run(&run, m.view))
}

/// `POST runs/create` `{experiment_id, user_id?, run_name?, start_time?, tags?}` → `{run}`.
/// `mlflow.parentRunId` nests the run, `mlflow.runName` names it.
pub fn create(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let experiment_id = parse_id(args.opt_str("experiment_id")?.unwrap_or("0"))?;
    let mut run_name = args
        .opt_str("run_name")?
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let mut parent = None;
    let mut tags = Vec::new();
    for t in args.objects("tags")? {
        let (key, value) = (t.str("key")?, t.opt_str("value")?.unwrap_or(""));
        match key {
            MLFLOW_PARENT_RUN_ID => parent = Some(value.to_string()),
            MLFLOW_RUN_NAME | TAG_RUN_NAME => {
                if run_name.is_none() && !value.is_empty() {
                    run_name = Some(value.to_string());
                }
            }
            _ => {
                // The client's own system tags stand for hpo's, so the server's user, script and
                // commit are not stamped on a run a client made.
                let hpo_key = match key {
                    MLFLOW_USER => Some(TAG_USER),
                    "mlflow.source.name" => Some(TAG_SOURCE),
                    "mlflow.source.git.commit" => Some(TAG_GIT_COMMIT),
                    _ => None,
                };
                if let Some(k) = hpo_key {
                    tags.push(RunTag::new(k, value));
                }
                tags.push(RunTag::new(key, value));
            }
        }
    }
    let user_id = args
        .opt_str("user_id")?
        .filter(|u| !u.is_empty())
        .or_else(|| {
            tags.iter()
                .find(|t| t.key == TAG_USER)
                .map(|t| t.value.as_str())
        })
        .map(str::to_string);
    if let Some(p) = &parent {
        m.tracker().get_run(p).map_err(|_| {
            MlflowError::invalid(format!(
                "parent run '{p}' (tag {MLFLOW_PARENT_RUN_ID}) does not exist"
            ))
        })?;
    }
    let info = m.tracker().create_run_with(NewRun {
        experiment_id,
        run_name,
        parent_run_id: parent,
        user_id,
        start_time: args.opt_i64("start_time")?,
        tags,
        params: Vec::new(),
        run_id: None,
    })?;
    Ok(json!({ "run": run_json(m, &info.run_id)? }))
}

/// `GET runs/get?run_id=` → `{run}`.
pub fn get(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    Ok(json!({ "run": run_json(m, args.run_id()?)? }))
}

/// `POST runs/update` `{run_id, status?, end_time?, run_name?}` → `{run_info}`.
pub fn update(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let run_id = args.run_id()?;
    m.tracker().get_run(run_id)?;
    if let Some(name) = args.opt_str("run_name")?.filter(|n| !n.is_empty()) {
        m.tracker().set_tag(run_id, TAG_RUN_NAME, name)?;
    }
    if let Some(status) = args.opt_str("status")? {
        let status: RunStatus = status.parse().map_err(MlflowError::invalid)?;
        if m.owned(run_id) {
            // a trial's process (`start_run`, `end_run`): hpo ends the run with the trial
        } else if status.is_terminal() {
            let end = args.opt_i64("end_time")?.unwrap_or_else(now_ms);
            m.tracker().set_terminated(run_id, status, Some(end))?;
        } else {
            m.tracker().set_status(run_id, status)?;
        }
    }
    let run = m.tracker().get_run(run_id)?;
    Ok(json!({ "run_info": convert::run_info(&run.info, m.view) }))
}

/// `POST runs/delete` `{run_id}`.
pub fn delete(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    m.tracker().delete_run(args.run_id()?)?;
    Ok(json!({}))
}

/// `POST runs/restore` `{run_id}`.
pub fn restore(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    m.tracker().restore_run(args.run_id()?)?;
    Ok(json!({}))
}

fn metric_of(args: &Args) -> Result<Metric, MlflowError> {
    Ok(Metric {
        key: args.str("key")?.to_string(),
        value: args.f64("value")?,
        timestamp: args.opt_i64("timestamp")?.unwrap_or_else(now_ms),
        step: args.opt_i64("step")?.unwrap_or(0),
    })
}

/// A tag as hpo stores it: `mlflow.runName` renames the run (hpo's name tag).
fn tag_of(args: &Args) -> Result<RunTag, MlflowError> {
    let key = args.str("key")?;
    let key = if key == MLFLOW_RUN_NAME {
        TAG_RUN_NAME
    } else {
        key
    };
    Ok(RunTag::new(key, args.opt_str("value")?.unwrap_or("")))
}

fn param_of(args: &Args) -> Result<Param, MlflowError> {
    let value = match args.get("value") {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
        Some(_) => return Err(MlflowError::invalid("param 'value' must be a string")),
    };
    Ok(Param::new(args.str("key")?, value))
}

/// `POST runs/log-metric` `{run_id, key, value, timestamp, step?}`.
pub fn log_metric(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let metric = metric_of(args)?;
    let run_id = args.run_id()?;
    if !m.feed(run_id, std::slice::from_ref(&metric))? {
        m.tracker().log_batch(run_id, &[], &[metric], &[])?;
    }
    Ok(json!({}))
}

/// `POST runs/log-parameter` `{run_id, key, value}`.
pub fn log_param(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let param = param_of(args)?;
    m.tracker().log_batch(args.run_id()?, &[param], &[], &[])?;
    Ok(json!({}))
}

/// `POST runs/set-tag` `{run_id, key, value}`.
pub fn set_tag(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let tag = tag_of(args)?;
    m.tracker().log_batch(args.run_id()?, &[], &[], &[tag])?;
    Ok(json!({}))
}

/// `POST runs/delete-tag` `{run_id, key}`.
pub fn delete_tag(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let run_id = args.run_id()?;
    let key = args.str("key")?;
    let run = m.tracker().get_run(run_id)?;
    if run.data.tag(key).is_none() {
        return Err(MlflowError::not_found(format!(
            "No tag with name: {key} in run with id {run_id}"
        )));
    }
    m.tracker().delete_tag(run_id, key)?;
    Ok(json!({}))
}

/// `POST runs/log-batch` `{run_id, metrics?, params?, tags?}` (MLflow's limits: 1000 metrics,
/// 100 params, 100 tags).
pub fn log_batch(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let run_id = args.run_id()?;
    let metrics = args
        .objects("metrics")?
        .iter()
        .map(metric_of)
        .collect::<Result<Vec<_>, _>>()?;
    let params = args
        .objects("params")?
        .iter()
        .map(param_of)
        .collect::<Result<Vec<_>, _>>()?;
    let tags = args
        .objects("tags")?
        .iter()
        .map(tag_of)
        .collect::<Result<Vec<_>, _>>()?;
    if m.feed(run_id, &metrics)? {
        // the trial records its curve; params and tags go in as usual
        if !(params.is_empty() && tags.is_empty()) {
            m.tracker().log_batch(run_id, &params, &[], &tags)?;
        }
    } else {
        m.tracker().log_batch(run_id, &params, &metrics, &tags)?;
    }
    Ok(json!({}))
}

/// `POST runs/log-inputs` `{run_id, datasets?}`: accepted; each dataset is recorded as a tag
/// `mlflow.dataset.<name>` holding its digest and source type.
pub fn log_inputs(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let run_id = args.run_id()?;
    m.tracker().get_run(run_id)?;
    let mut tags = Vec::new();
    for input in args.objects("datasets")? {
        let Some(Value::Object(ds)) = input.get("dataset") else {
            continue;
        };
        let field = |k: &str| ds.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let name = field("name");
        if name.is_empty() {
            continue;
        }
        let value = json!({ "digest": field("digest"), "source_type": field("source_type") });
        tags.push(RunTag::new(
            format!("mlflow.dataset.{name}"),
            value.to_string(),
        ));
    }
    if !tags.is_empty() {
        m.tracker().log_batch_chunked(run_id, &[], &[], &tags)?;
    }
    Ok(json!({}))
}

/// `POST runs/search` `{experiment_ids, filter?, run_view_type?, max_results?, order_by?,
/// page_token?}` → `{runs, next_page_token?}`.
pub fn search(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let experiment_ids = args
        .str_list("experiment_ids")?
        .iter()
        .map(|id| parse_id(id))
        .collect::<Result<Vec<_>, _>>()?;
    let max = args.opt_i64("max_results")?.unwrap_or(1000);
    if max < 1 || max as usize > MAX_RESULTS_LIMIT {
        return Err(MlflowError::invalid(format!(
            "Invalid value {max} for parameter 'max_results' supplied: it must be between 1 and \
             {MAX_RESULTS_LIMIT}"
        )));
    }
    let order_by: Vec<String> = args
        .str_list("order_by")?
        .iter()
        .map(|c| convert::hpo_tag_names(c))
        .collect();
    let query = RunsQuery::new(
        &experiment_ids,
        &convert::hpo_tag_names(args.opt_str("filter")?.unwrap_or("")),
    )
    .order_by(&order_by)
    .max_results(max as usize)
    .view(args.view_type("run_view_type")?)
    .page_token(
        args.opt_str("page_token")?
            .filter(|t| !t.is_empty())
            .map(str::to_string),
    );
    let page = m.tracker().search_runs(&query)?;
    let runs: Vec<Value> = page.runs.iter().map(|r| convert::run(r, m.view)).collect();
    let mut out = json!({ "runs": runs });
    if let Some(token) = page.next_page_token {
        out["next_page_token"] = json!(token);
    }
    Ok(out)
}

/// `GET metrics/get-history?run_id=&metric_key=` → `{metrics}` (the whole history, one page).
pub fn get_history(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let run_id = args.run_id()?;
    let key = args.str("metric_key")?;
    m.tracker().get_run(run_id)?;
    let points: Vec<Value> = m
        .tracker()
        .metric_history(run_id, key)?
        .iter()
        .map(convert::metric)
        .collect();
    Ok(json!({ "metrics": points }))
}
