//! `experiments/*`: create, get, get-by-name, search, update, delete, restore, set-experiment-tag.

use serde_json::{json, Value};

use super::args::Args;
use super::convert;
use super::{Mlflow, MlflowError};
use crate::tracking::{Experiment, ExperimentId, StoreError, ViewType};

/// Parses an experiment id as MLflow sends it (a string of digits).
pub fn parse_id(id: &str) -> Result<ExperimentId, MlflowError> {
    id.trim().parse().map_err(|_| {
        MlflowError::invalid(format!(
            "experiment id '{id}' is not valid; ids are strings of digits"
        ))
    })
}

fn experiment_id(args: &Args) -> Result<ExperimentId, MlflowError> {
    parse_id(args.str("experiment_id")?)
}

/// `POST experiments/create` `{name, artifact_location?, tags?}` → `{experiment_id}`.
pub fn create(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let name = args.str("name")?;
    if name.trim().is_empty() {
        return Err(MlflowError::invalid("experiment name must not be empty"));
    }
    let mut tags = Vec::new();
    for t in args.objects("tags")? {
        tags.push((
            t.str("key")?.to_string(),
            t.opt_str("value")?.unwrap_or("").to_string(),
        ));
    }
    let id = m.tracker().create_experiment(name)?;
    for (k, v) in &tags {
        m.tracker().set_experiment_tag(id, k, v)?;
    }
    Ok(json!({ "experiment_id": id.to_string() }))
}

fn get_experiment(m: &Mlflow, id: ExperimentId) -> Result<Experiment, MlflowError> {
    m.tracker().get_experiment(id).map_err(|e| match e {
        crate::tracking::TrackingError::Store(StoreError::ExperimentNotFound(_)) => {
            MlflowError::not_found(format!("No Experiment with id={id} exists"))
        }
        other => other.into(),
    })
}

/// `GET experiments/get?experiment_id=` → `{experiment}`.
pub fn get(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let e = get_experiment(m, experiment_id(args)?)?;
    Ok(json!({ "experiment": convert::experiment(&e, m.view) }))
}

/// `GET experiments/get-by-name?experiment_name=` → `{experiment}`.
pub fn get_by_name(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let name = args.str("experiment_name")?;
    match m.tracker().get_experiment_by_name(name)? {
        Some(e) => Ok(json!({ "experiment": convert::experiment(&e, m.view) })),
        None => Err(MlflowError::not_found(format!(
            "Could not find experiment with name '{name}'"
        ))),
    }
}

/// The name conditions `search` understands: `name = '..'`, `name != '..'`, `name LIKE '..'`,
/// `name ILIKE '..'`, joined by AND.
fn name_filter(filter: &str) -> Result<Vec<(String, String)>, MlflowError> {
    let mut out = Vec::new();
    for clause in split_and(filter) {
        let bad = || {
            MlflowError::invalid(format!(
                "unsupported experiment filter clause '{clause}': use name = '...', name != '...', \
                 name LIKE '...' or name ILIKE '...'"
            ))
        };
        let rest = clause
            .trim()
            .strip_prefix("name")
            .or_else(|| clause.trim().strip_prefix("attributes.name"))
            .ok_or_else(bad)?
            .trim_start();
        let (op, value) = ["!=", "=", "ILIKE", "LIKE", "ilike", "like"]
            .iter()
            .find_map(|op| {
                rest.strip_prefix(op)
                    .map(|v| (op.to_ascii_uppercase(), v.trim()))
            })
            .ok_or_else(bad)?;
        let value = value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .or_else(|| value.strip_prefix('"').and_then(|v| v.strip_suffix('"')))
            .ok_or_else(bad)?;
        out.push((op, value.to_string()));
    }
    Ok(out)
}

fn split_and(filter: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let words: Vec<&str> = filter.split_inclusive(char::is_whitespace).collect();
    for w in words {
        for c in w.chars() {
            match quote {
                Some(q) if c == q => quote = None,
                None if c == '\'' || c == '"' => quote = Some(c),
                _ => {}
            }
        }
        if quote.is_none() && w.trim().eq_ignore_ascii_case("and") {
            out.push(std::mem::take(&mut current));
        } else {
            current.push_str(w);
        }
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out.into_iter().filter(|c| !c.trim().is_empty()).collect()
}

/// SQL LIKE: `%` any run, `_` one character.
fn like(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('%', rest)) => (0..=text.len()).any(|i| like(rest, &text[i..])),
        Some((p, rest)) => text
            .split_first()
            .is_some_and(|(t, trest)| (*p == '_' || p == t) && like(rest, trest)),
    }
}

fn matches(name: &str, conditions: &[(String, String)]) -> bool {
    conditions.iter().all(|(op, v)| match op.as_str() {
        "=" => name == v,
        "!=" => name != v,
        "LIKE" => like(
            &v.chars().collect::<Vec<_>>(),
            &name.chars().collect::<Vec<_>>(),
        ),
        _ => like(
            &v.to_lowercase().chars().collect::<Vec<_>>(),
            &name.to_lowercase().chars().collect::<Vec<_>>(),
        ),
    })
}

/// `POST experiments/search` `{max_results?, page_token?, filter?, order_by?, view_type?}`.
pub fn search(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let view: ViewType = args.view_type("view_type")?;
    let max = args.opt_i64("max_results")?.unwrap_or(1000);
    if !(1..=50_000).contains(&max) {
        return Err(MlflowError::invalid(format!(
            "max_results must be between 1 and 50000, not {max}"
        )));
    }
    let offset: usize = match args.opt_str("page_token")? {
        None | Some("") => 0,
        Some(t) => t
            .parse()
            .map_err(|_| MlflowError::invalid(format!("invalid page_token '{t}'")))?,
    };
    let conditions = name_filter(args.opt_str("filter")?.unwrap_or(""))?;
    let mut list: Vec<Experiment> = m
        .tracker()
        .list_experiments(view)?
        .into_iter()
        .filter(|e| matches(&e.name, &conditions))
        .collect();
    let orders = args.str_list("order_by")?;
    if orders.is_empty() {
        list.sort_by(|a, b| {
            b.last_update_time
                .cmp(&a.last_update_time)
                .then(a.experiment_id.cmp(&b.experiment_id))
        });
    }
    for clause in orders.iter().rev() {
        let mut parts = clause.split_whitespace();
        let key = parts.next().unwrap_or("");
        let desc = parts.next().is_some_and(|d| d.eq_ignore_ascii_case("desc"));
        let key = key.strip_prefix("attributes.").unwrap_or(key);
        match key {
            "name" => list.sort_by(|a, b| a.name.cmp(&b.name)),
            "experiment_id" => list.sort_by_key(|e| e.experiment_id),
            "creation_time" => list.sort_by_key(|e| e.creation_time),
            "last_update_time" => list.sort_by_key(|e| e.last_update_time),
            _ => {
                return Err(MlflowError::invalid(format!(
                    "invalid order_by clause '{clause}': order by name, experiment_id, \
                     creation_time or last_update_time"
                )))
            }
        }
        if desc {
            list.reverse();
        }
    }
    let max = max as usize;
    let page: Vec<Value> = list
        .iter()
        .skip(offset)
        .take(max)
        .map(|e| convert::experiment(e, m.view))
        .collect();
    let mut out = json!({ "experiments": page });
    if offset + max < list.len() {
        out["next_page_token"] = json!((offset + max).to_string());
    }
    Ok(out)
}

/// `POST experiments/update` `{experiment_id, new_name}`.
pub fn update(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let id = experiment_id(args)?;
    get_experiment(m, id)?;
    if let Some(name) = args.opt_str("new_name")? {
        m.tracker().rename_experiment(id, name)?;
    }
    Ok(json!({}))
}

/// `POST experiments/delete` `{experiment_id}`.
pub fn delete(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let id = experiment_id(args)?;
    get_experiment(m, id)?;
    m.tracker().delete_experiment(id)?;
    Ok(json!({}))
}

/// `POST experiments/restore` `{experiment_id}`.
pub fn restore(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let id = experiment_id(args)?;
    get_experiment(m, id)?;
    m.tracker().restore_experiment(id)?;
    Ok(json!({}))
}

/// `POST experiments/set-experiment-tag` `{experiment_id, key, value}`.
pub fn set_tag(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let id = experiment_id(args)?;
    get_experiment(m, id)?;
    m.tracker()
        .set_experiment_tag(id, args.str("key")?, args.opt_str("value")?.unwrap_or(""))?;
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_filters() {
        let c = name_filter("name LIKE 'ab%' AND name != 'abc'").unwrap();
        assert!(matches("abd", &c));
        assert!(!matches("abc", &c));
        assert!(!matches("xab", &c));
        assert!(matches("X y", &name_filter("name ILIKE 'x_Y'").unwrap()));
        assert!(matches(
            "a and b",
            &name_filter("name = 'a and b'").unwrap()
        ));
        assert!(name_filter("tags.x = '1'").is_err());
        assert!(name_filter("").unwrap().is_empty());
    }
}
