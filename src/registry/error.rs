//! The one error type of the model registry.
//!
//! Every failure of [`Registry`](super::Registry) and of a [`RegistryStore`](super::RegistryStore) is a
//! [`RegistryError`]. Messages name the model, version or alias involved and, where it helps, say what
//! would have been valid (the existing versions, the aliases a model has, the accepted stages ...).

use crate::tracking::{ArtifactError, SearchError, StoreError, TrackingError};

use super::model::Stage;

/// How many known names or versions an error message lists at most.
const HINT_LIMIT: usize = 10;

fn list_hint<T: std::fmt::Display>(items: &[T], what: &str, none: &str) -> String {
    if items.is_empty() {
        return format!(" ({none})");
    }
    let shown: Vec<String> = items
        .iter()
        .take(HINT_LIMIT)
        .map(|i| i.to_string())
        .collect();
    let more = if items.len() > HINT_LIMIT {
        format!(" and {} more", items.len() - HINT_LIMIT)
    } else {
        String::new()
    };
    format!(" ({what}: {}{more})", shown.join(", "))
}

fn models_hint(known: &[String]) -> String {
    list_hint(known, "registered models", "no model is registered yet")
}

fn versions_hint(existing: &[i64]) -> String {
    list_hint(existing, "its versions", "it has no live version")
}

fn aliases_hint(existing: &[String]) -> String {
    list_hint(existing, "its aliases", "it has no alias")
}

fn stage_hint(stage: &Option<Stage>) -> String {
    match stage {
        Some(s) => format!(" in stage {s}"),
        None => String::new(),
    }
}

/// Errors of the model registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// No registered model has this name.
    #[error("registered model '{name}' does not exist{}", models_hint(.known))]
    ModelNotFound {
        /// The name asked for.
        name: String,
        /// Some names that do exist (for the message).
        known: Vec<String>,
    },
    /// The name is already taken by another registered model.
    #[error("a registered model named '{0}' already exists")]
    ModelExists(String),
    /// The model exists but has no version with this number.
    #[error("model '{name}' has no version {version}{}", versions_hint(.existing))]
    VersionNotFound {
        /// The model.
        name: String,
        /// The version asked for.
        version: i64,
        /// The live versions of the model.
        existing: Vec<i64>,
    },
    /// The version existed but was deleted (its number is never reused).
    #[error("version {version} of model '{name}' was deleted; pick a live version")]
    VersionDeleted {
        /// The model.
        name: String,
        /// The deleted version.
        version: i64,
    },
    /// The model has no version at all (or none in the stage asked for).
    #[error("model '{name}' has no live version{}", stage_hint(.stage))]
    NoVersions {
        /// The model.
        name: String,
        /// The stage asked for, if any.
        stage: Option<Stage>,
    },
    /// The model has no alias with this name.
    #[error("model '{name}' has no alias '{alias}'{}", aliases_hint(.existing))]
    AliasNotFound {
        /// The model.
        name: String,
        /// The alias asked for.
        alias: String,
        /// The aliases the model has.
        existing: Vec<String>,
    },
    /// A registered model name is not acceptable.
    #[error("invalid model name '{name}': {reason}")]
    InvalidModelName {
        /// The rejected name.
        name: String,
        /// Why, and what is allowed.
        reason: String,
    },
    /// An alias name is not acceptable.
    #[error("invalid alias '{alias}': {reason}")]
    InvalidAlias {
        /// The rejected alias.
        alias: String,
        /// Why, and what is allowed.
        reason: String,
    },
    /// A stage name is not one of None, Staging, Production, Archived.
    #[error("unknown stage '{0}' (expected None, Staging, Production or Archived)")]
    InvalidStage(String),
    /// A `models:/` or `runs:/` URI is malformed.
    #[error("invalid URI '{uri}': {reason}")]
    InvalidUri {
        /// The URI as given.
        uri: String,
        /// What is wrong and which forms are accepted.
        reason: String,
    },
    /// The run a version should be created from does not exist.
    #[error("run '{0}' does not exist; a model version must come from an existing run")]
    RunNotFound(String),
    /// A version's source names an artifact path the run does not have.
    #[error("run '{run_id}' has no artifact '{path}'{}", list_hint(.available, "its artifact paths", "it has no artifacts"))]
    ArtifactPathNotFound {
        /// The run.
        run_id: String,
        /// The artifact path asked for.
        path: String,
        /// The run's top-level artifact paths (directories end with `/`).
        available: Vec<String>,
    },
    /// No best run could be found (a study without finished trials, an experiment without the metric ...).
    #[error("no best run for {what}: {reason}")]
    NoBestRun {
        /// The study or experiment searched.
        what: String,
        /// Why nothing qualified.
        reason: String,
    },
    /// A tracking server refused a registry call as bad input (an unknown model, version or alias,
    /// a name taken, a bad value): MLflow's error code and the server's message.
    #[error("{message}")]
    Refused {
        /// MLflow's error code (`RESOURCE_DOES_NOT_EXIST`, `INVALID_PARAMETER_VALUE` ...).
        code: String,
        /// The server's message.
        message: String,
    },
    /// The tracking backend has no model registry.
    #[error("the tracking store does not support a model registry")]
    Unsupported,
    /// Any other malformed argument (a tag key, a description that is too long ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The search filter, order_by or page token is invalid.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// The tracking store failed (database errors, busy timeouts ...).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An artifact operation failed.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// Opening the tracking store failed.
    #[error(transparent)]
    Tracking(TrackingError),
}

impl RegistryError {
    /// `alias` is not one of model `name`'s `aliases` (the error names the ones it has).
    pub(crate) fn alias_not_found(
        name: &str,
        alias: &str,
        aliases: Vec<super::ModelAlias>,
    ) -> RegistryError {
        RegistryError::AliasNotFound {
            name: name.to_string(),
            alias: alias.to_string(),
            existing: aliases.into_iter().map(|a| a.alias).collect(),
        }
    }
}

impl From<TrackingError> for RegistryError {
    fn from(e: TrackingError) -> Self {
        match e {
            TrackingError::Store(StoreError::RunNotFound(id)) => RegistryError::RunNotFound(id),
            TrackingError::Store(s) => RegistryError::Store(s),
            TrackingError::Artifact(a) => RegistryError::Artifact(a),
            other => RegistryError::Tracking(other),
        }
    }
}

impl From<rusqlite::Error> for RegistryError {
    fn from(e: rusqlite::Error) -> Self {
        RegistryError::Store(StoreError::from(e))
    }
}
