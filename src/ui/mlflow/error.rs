//! MLflow's error bodies: `{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": ...}` with the
//! status MLflow's server answers for each code.

use serde_json::json;

use crate::registry::RegistryError;
use crate::tracking::{ArtifactError, SearchError, StoreError, TrackingError};
use crate::ui::http::Response;

/// A failed MLflow API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlflowError {
    /// The HTTP status.
    pub status: u16,
    /// MLflow's error code, e.g. `INVALID_PARAMETER_VALUE`.
    pub code: &'static str,
    /// What went wrong.
    pub message: String,
}

impl MlflowError {
    /// An error with an explicit status and code.
    pub fn new(status: u16, code: &'static str, message: impl std::fmt::Display) -> Self {
        MlflowError {
            status,
            code,
            message: message.to_string(),
        }
    }

    /// `INVALID_PARAMETER_VALUE` (400).
    pub fn invalid(message: impl std::fmt::Display) -> Self {
        Self::new(400, "INVALID_PARAMETER_VALUE", message)
    }

    /// `BAD_REQUEST` (400).
    pub fn bad_request(message: impl std::fmt::Display) -> Self {
        Self::new(400, "BAD_REQUEST", message)
    }

    /// `RESOURCE_DOES_NOT_EXIST` (404).
    pub fn not_found(message: impl std::fmt::Display) -> Self {
        Self::new(404, "RESOURCE_DOES_NOT_EXIST", message)
    }

    /// `ENDPOINT_NOT_FOUND` (404).
    pub fn no_endpoint(method: &str, path: &str) -> Self {
        Self::new(
            404,
            "ENDPOINT_NOT_FOUND",
            format!("no MLflow endpoint {method} {path} on this server"),
        )
    }

    /// The JSON response.
    pub fn into_response(self) -> Response {
        Response::json(
            self.status,
            &json!({ "error_code": self.code, "message": self.message }),
        )
    }
}

impl From<SearchError> for MlflowError {
    fn from(e: SearchError) -> Self {
        Self::invalid(e)
    }
}

impl From<StoreError> for MlflowError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::RunNotFound(_) | StoreError::ExperimentNotFound(_) => Self::not_found(e),
            StoreError::ExperimentNameTaken(_) => Self::new(400, "RESOURCE_ALREADY_EXISTS", e),
            StoreError::Busy(_) => Self::new(503, "TEMPORARILY_UNAVAILABLE", e),
            StoreError::Database(_)
            | StoreError::ClaimLost { .. }
            | StoreError::SchemaTooNew { .. }
            | StoreError::QueuedWritesFailed { .. } => Self::new(500, "INTERNAL_ERROR", e),
            _ => Self::invalid(e),
        }
    }
}

impl From<ArtifactError> for MlflowError {
    fn from(e: ArtifactError) -> Self {
        match e {
            ArtifactError::NotFound(_) => Self::not_found(e),
            ArtifactError::Io { .. } => Self::new(500, "INTERNAL_ERROR", e),
            _ => Self::invalid(e),
        }
    }
}

impl From<TrackingError> for MlflowError {
    fn from(e: TrackingError) -> Self {
        match e {
            TrackingError::Store(s) => s.into(),
            TrackingError::Artifact(a) => a.into(),
            other => Self::new(500, "INTERNAL_ERROR", other),
        }
    }
}

impl From<RegistryError> for MlflowError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Store(s) => s.into(),
            RegistryError::Artifact(a) => a.into(),
            RegistryError::Tracking(t) => t.into(),
            RegistryError::Search(s) => s.into(),
            RegistryError::ModelNotFound { .. }
            | RegistryError::VersionNotFound { .. }
            | RegistryError::VersionDeleted { .. }
            | RegistryError::NoVersions { .. }
            | RegistryError::AliasNotFound { .. }
            | RegistryError::RunNotFound(_) => Self::not_found(e),
            RegistryError::ModelExists(_) => Self::new(400, "RESOURCE_ALREADY_EXISTS", e),
            RegistryError::Unsupported => Self::new(501, "NOT_IMPLEMENTED", e),
            other => Self::invalid(other),
        }
    }
}
