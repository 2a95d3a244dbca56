//! hpo's own calls beside MLflow's, under `/api/2.0/hpo/`: what hpo's remote store
//! ([`HttpStore`](crate::tracking::http::HttpStore)) needs from `hpo server` and MLflow's API
//! cannot give.
//!
//! - `POST /api/2.0/hpo/runs/compare-and-set-tag` `{run_id, key, expected?, new?}` →
//!   `{"swapped": bool}`: the store's compare-and-set of one run tag, done by the server's store
//!   in one write transaction, so it is atomic between every client of the server (it backs the
//!   lease of a shared study). `expected` absent or `null`: the tag must be absent; `new` absent
//!   or `null`: the tag is deleted. A deleted run answers `INVALID_STATE`.
//! - `GET /api/2.0/hpo/model-versions/snapshot?name=&version=` → `{"params": [{key, value}],
//!   "metrics": [{key, value}]}`: the run's params and latest metric values the registry kept
//!   when the version was registered (MLflow's `ModelVersion` has no such field).
//! - `POST /api/2.0/hpo/gc` `{deleted_before?}` → the
//!   [`Purged`](crate::tracking::gc::Purged) report: `hpo gc` over `http://`. The server
//!   removes, for good, the runs and experiments deleted before `deleted_before` (Unix ms;
//!   absent: all deleted ones) and their artifacts where it keeps them.

use serde_json::{json, Value};

use super::args::Args;
use super::{Mlflow, MlflowError};
use crate::tracking::StoreError;

/// `POST hpo/runs/compare-and-set-tag`.
pub fn compare_and_set_tag(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let swapped = m
        .tracker()
        .store()
        .compare_and_set_tag(
            args.run_id()?,
            args.str("key")?,
            args.opt_str("expected")?,
            args.opt_str("new")?,
        )
        .map_err(|e| match e {
            e @ StoreError::Deleted { .. } => MlflowError::new(400, "INVALID_STATE", e),
            other => other.into(),
        })?;
    Ok(json!({ "swapped": swapped }))
}

/// `POST hpo/gc`.
pub fn gc(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let cutoff = args.opt_i64("deleted_before")?.unwrap_or(i64::MAX);
    let purged = m.tracker().gc_deleted_before(cutoff)?;
    serde_json::to_value(purged).map_err(|e| MlflowError::new(500, "INTERNAL_ERROR", e))
}

/// `GET hpo/model-versions/snapshot?name=&version=`.
pub fn version_snapshot(m: &Mlflow, args: &Args) -> Result<Value, MlflowError> {
    let v = super::registry::registry(m)?
        .get_model_version(args.str("name")?, super::registry::version_of(args)?)?;
    let params: Vec<Value> = v
        .run_params
        .iter()
        .map(|p| json!({ "key": p.key, "value": p.value }))
        .collect();
    let metrics: Vec<Value> = v
        .run_metrics
        .iter()
        .map(|m| json!({ "key": m.key, "value": super::convert::double(m.value) }))
        .collect();
    Ok(json!({ "params": params, "metrics": metrics }))
}
