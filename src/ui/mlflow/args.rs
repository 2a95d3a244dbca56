//! The arguments of an MLflow call: the JSON body of a `POST`, or the query string of a `GET`,
//! read field by field with MLflow's types (ids as strings, int64 as numbers or strings).

use serde_json::{Map, Value};

use super::MlflowError;
use crate::tracking::ViewType;
use crate::ui::http::Request;

/// The fields of one call.
#[derive(Debug, Clone)]
pub struct Args(Map<String, Value>);

impl Args {
    /// The body as a JSON object (`{}` when empty), merged over the query parameters.
    pub fn from_request(req: &Request) -> Result<Args, MlflowError> {
        let mut map = Map::new();
        for (k, v) in &req.query {
            match map.get_mut(k) {
                Some(Value::Array(list)) => list.push(Value::String(v.clone())),
                Some(first) => {
                    let first = first.take();
                    map.insert(
                        k.clone(),
                        Value::Array(vec![first, Value::String(v.clone())]),
                    );
                }
                None => {
                    map.insert(k.clone(), Value::String(v.clone()));
                }
            }
        }
        if !req.body.iter().all(u8::is_ascii_whitespace) {
            let body: Value = serde_json::from_slice(&req.body).map_err(|e| {
                MlflowError::bad_request(format!("the request body is not valid JSON: {e}"))
            })?;
            let Value::Object(body) = body else {
                return Err(MlflowError::bad_request(
                    "the request body must be a JSON object",
                ));
            };
            map.extend(body);
        }
        Ok(Args(map))
    }

    /// Sets a field (a path parameter such as a model id), replacing any sent in the body.
    pub fn insert(&mut self, key: &str, value: &str) {
        self.0
            .insert(key.to_string(), Value::String(value.to_string()));
    }

    /// The raw value of `key` (`null` counts as absent).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// An optional string field.
    pub fn opt_str(&self, key: &str) -> Result<Option<&str>, MlflowError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(MlflowError::invalid(format!(
                "field '{key}' must be a string, not {other}"
            ))),
        }
    }

    /// A required string field.
    pub fn str(&self, key: &str) -> Result<&str, MlflowError> {
        self.opt_str(key)?.ok_or_else(|| missing(key))
    }

    /// The run id: `run_id`, or the legacy `run_uuid`.
    pub fn run_id(&self) -> Result<&str, MlflowError> {
        match self.opt_str("run_id")? {
            Some(id) if !id.is_empty() => Ok(id),
            _ => self.str("run_uuid"),
        }
    }

    /// An optional int64 field (a JSON number or a string of digits, as protobuf's JSON allows).
    pub fn opt_i64(&self, key: &str) -> Result<Option<i64>, MlflowError> {
        let bad = || MlflowError::invalid(format!("field '{key}' must be an integer"));
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(bad),
            Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad()),
            Some(_) => Err(bad()),
        }
    }

    /// A required double field: a number or `"NaN"`, `"Infinity"`, `"-Infinity"`.
    pub fn f64(&self, key: &str) -> Result<f64, MlflowError> {
        let bad = || MlflowError::invalid(format!("field '{key}' must be a number"));
        match self.get(key) {
            None => Err(missing(key)),
            Some(v) => to_f64(v).ok_or_else(bad),
        }
    }

    /// An optional list of strings (a single string counts as a list of one).
    pub fn str_list(&self, key: &str) -> Result<Vec<String>, MlflowError> {
        let bad = || MlflowError::invalid(format!("field '{key}' must be a list of strings"));
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(bad))
                .collect(),
            Some(_) => Err(bad()),
        }
    }

    /// An optional list of objects.
    pub fn objects(&self, key: &str) -> Result<Vec<Args>, MlflowError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::Object(m) => Ok(Args(m.clone())),
                    _ => Err(MlflowError::invalid(format!(
                        "every item of '{key}' must be an object"
                    ))),
                })
                .collect(),
            Some(_) => Err(MlflowError::invalid(format!(
                "field '{key}' must be a list"
            ))),
        }
    }

    /// `view_type` / `run_view_type`: `ACTIVE_ONLY` (default), `DELETED_ONLY`, `ALL` or 1, 2, 3.
    pub fn view_type(&self, key: &str) -> Result<ViewType, MlflowError> {
        let text = match self.get(key) {
            None => return Ok(ViewType::ActiveOnly),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => String::new(),
        };
        match text.to_ascii_uppercase().as_str() {
            "ACTIVE_ONLY" | "1" => Ok(ViewType::ActiveOnly),
            "DELETED_ONLY" | "2" => Ok(ViewType::DeletedOnly),
            "ALL" | "3" => Ok(ViewType::All),
            _ => Err(MlflowError::invalid(format!(
                "field '{key}' must be ACTIVE_ONLY, DELETED_ONLY or ALL"
            ))),
        }
    }
}

/// A JSON number or MLflow's spelling of a non-finite double.
pub fn to_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" | "nan" => Some(f64::NAN),
            "Infinity" | "inf" => Some(f64::INFINITY),
            "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
            other => other.parse().ok(),
        },
        _ => None,
    }
}

fn missing(key: &str) -> MlflowError {
    MlflowError::invalid(format!("missing value for required parameter '{key}'"))
}
