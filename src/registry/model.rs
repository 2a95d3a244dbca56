//! The records of the model registry and the validation rules every backend applies.
//!
//! A [`RegisteredModel`] is a unique name with a description, tags, aliases and timestamps; a
//! [`ModelVersion`] is one numbered registration of a run's output (its source run, the artifact path inside
//! that run, a snapshot of the run's params and metrics at registration time, a [`Stage`], tags and aliases).
//! Names, aliases and tags are checked here ([`validate_model_name`], [`validate_alias`],
//! [`validate_model_tag`]) so every backend refuses the same inputs with the same [`RegistryError`].

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::tracking::store::{validate_key, DEFAULT_MAX_RESULTS, MAX_TAG_VALUE_LEN};
use crate::tracking::Param;

use super::error::RegistryError;

/// Maximum length, in characters, of a registered model name.
pub const MAX_MODEL_NAME_LEN: usize = 256;
/// Maximum length, in characters, of an alias.
pub const MAX_ALIAS_LEN: usize = 255;
/// Maximum length, in characters, of a model or version description.
pub const MAX_DESCRIPTION_LEN: usize = 20_000;

/// A key/value tag of a registered model or a model version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelTag {
    /// Tag key.
    pub key: String,
    /// Tag value.
    pub value: String,
}

impl ModelTag {
    /// Builds a tag.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        ModelTag {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// An alias of a registered model and the version it points to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelAlias {
    /// The alias, e.g. `champion`.
    pub alias: String,
    /// The version it points to.
    pub version: i64,
}

/// The legacy deployment stage of a model version (MLflow deprecated stages in favour of aliases; they are
/// kept for users who follow the older workflow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Stage {
    /// Not staged (the stage of a new version).
    None,
    /// Being validated.
    Staging,
    /// Serving.
    Production,
    /// Retired.
    Archived,
}

impl Stage {
    /// All stages, in lifecycle order.
    pub const ALL: [Stage; 4] = [
        Stage::None,
        Stage::Staging,
        Stage::Production,
        Stage::Archived,
    ];

    /// The name stored in the database and shown to users (`None`, `Staging`, `Production`, `Archived`).
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::None => "None",
            Stage::Staging => "Staging",
            Stage::Production => "Production",
            Stage::Archived => "Archived",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = RegistryError;
    /// Parses a stage name case-insensitively.
    fn from_str(s: &str) -> Result<Self, RegistryError> {
        Stage::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| RegistryError::InvalidStage(s.to_string()))
    }
}

/// A registered model: a unique name under which versions are registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisteredModel {
    /// Unique name.
    pub name: String,
    /// Free-text description (empty when unset).
    pub description: String,
    /// Creation time, epoch milliseconds.
    pub creation_time: i64,
    /// Last update time, epoch milliseconds (changes with the model, its tags, aliases and versions).
    pub last_updated_time: i64,
    /// Tags, sorted by key.
    pub tags: Vec<ModelTag>,
    /// Aliases, sorted by alias.
    pub aliases: Vec<ModelAlias>,
    /// The highest live version number, if any version is live.
    pub latest_version: Option<i64>,
}

impl RegisteredModel {
    /// The value of a tag.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_str())
    }

    /// The version an alias points to.
    pub fn alias(&self, alias: &str) -> Option<i64> {
        self.aliases
            .iter()
            .find(|a| a.alias == alias)
            .map(|a| a.version)
    }
}

/// The value of a run's metric when a version was registered (the latest value; NaN kept as NaN).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelMetric {
    /// Metric key.
    pub key: String,
    /// Latest value at registration.
    pub value: f64,
}

impl ModelMetric {
    /// The latest value of each of `data`'s metrics: the snapshot a version keeps of its run.
    pub fn latest_of(data: &crate::tracking::RunData) -> Vec<ModelMetric> {
        data.metrics
            .iter()
            .map(|m| ModelMetric {
                key: m.key.clone(),
                value: m.latest,
            })
            .collect()
    }
}

/// One numbered version of a registered model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelVersion {
    /// The registered model.
    pub name: String,
    /// 1, 2, 3 ... per model; never reused after a deletion.
    pub version: i64,
    /// Creation time, epoch milliseconds.
    pub creation_time: i64,
    /// Last update time, epoch milliseconds.
    pub last_updated_time: i64,
    /// Free-text description (empty when unset).
    pub description: String,
    /// The user who registered it.
    pub user_id: String,
    /// Legacy stage.
    pub current_stage: Stage,
    /// The source URI as registered, normalized: `runs:/<run_id>` or `runs:/<run_id>/<artifact path>`.
    pub source: String,
    /// The source run.
    pub run_id: String,
    /// The artifact path inside the run (empty for the whole run's artifacts).
    pub artifact_path: String,
    /// The local directory holding the model's files (the run's artifact directory joined with the path).
    pub storage_location: String,
    /// Tags, sorted by key.
    pub tags: Vec<ModelTag>,
    /// The aliases pointing to this version, sorted.
    pub aliases: Vec<String>,
    /// The run's params at registration, sorted by key.
    pub run_params: Vec<Param>,
    /// The run's latest metric values at registration, sorted by key.
    pub run_metrics: Vec<ModelMetric>,
}

impl ModelVersion {
    /// The value of a tag.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_str())
    }

    /// The value of a param of the source run at registration.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.run_params
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.value.as_str())
    }

    /// The latest value of a metric of the source run at registration.
    pub fn metric(&self, key: &str) -> Option<f64> {
        self.run_metrics
            .iter()
            .find(|m| m.key == key)
            .map(|m| m.value)
    }
}

/// Everything a backend needs to create a model version (the [`Registry`](super::Registry) fills it from
/// the source run).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewModelVersion {
    /// The registered model (must exist).
    pub name: String,
    /// The normalized source URI.
    pub source: String,
    /// The source run.
    pub run_id: String,
    /// The artifact path inside the run.
    pub artifact_path: String,
    /// The resolved local directory.
    pub storage_location: String,
    /// Description.
    pub description: String,
    /// The registering user.
    pub user_id: String,
    /// Initial tags.
    pub tags: Vec<ModelTag>,
    /// Params snapshot.
    pub run_params: Vec<Param>,
    /// Metrics snapshot.
    pub run_metrics: Vec<ModelMetric>,
}

/// A search over registered models or model versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSearch {
    /// Filter in the tracking search language, over the entity's fields and `tags.<key>` (see
    /// [`Registry::search_registered_models`](super::Registry::search_registered_models)).
    pub filter: String,
    /// Ordering clauses such as `name ASC` or `version_number DESC`.
    pub order_by: Vec<String>,
    /// Page size (1..=50 000, default 1000).
    pub max_results: usize,
    /// Token from a previous page's `next_page_token`.
    pub page_token: Option<String>,
}

impl Default for ModelSearch {
    fn default() -> Self {
        ModelSearch {
            filter: String::new(),
            order_by: Vec::new(),
            max_results: DEFAULT_MAX_RESULTS,
            page_token: None,
        }
    }
}

impl ModelSearch {
    /// A search with a filter.
    pub fn new(filter: &str) -> Self {
        ModelSearch {
            filter: filter.to_string(),
            ..ModelSearch::default()
        }
    }
    /// Sets the ordering clauses.
    pub fn order_by<S: AsRef<str>>(mut self, clauses: &[S]) -> Self {
        self.order_by = clauses.iter().map(|c| c.as_ref().to_string()).collect();
        self
    }
    /// Sets the page size.
    pub fn max_results(mut self, n: usize) -> Self {
        self.max_results = n;
        self
    }
    /// Continues from a previous page.
    pub fn page_token(mut self, token: Option<String>) -> Self {
        self.page_token = token;
        self
    }
}

/// One page of registered models.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisteredModelPage {
    /// The models of this page, in order.
    pub models: Vec<RegisteredModel>,
    /// Pass this to get the next page; `None` on the last page.
    pub next_page_token: Option<String>,
}

/// One page of model versions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelVersionPage {
    /// The versions of this page, in order.
    pub versions: Vec<ModelVersion>,
    /// Pass this to get the next page; `None` on the last page.
    pub next_page_token: Option<String>,
}

/// Checks a registered model name: not blank, at most [`MAX_MODEL_NAME_LEN`] characters, no `/` or `:`
/// (they would make `models:/` URIs ambiguous), no control characters.
pub fn validate_model_name(name: &str) -> Result<(), RegistryError> {
    let invalid = |reason: &str| RegistryError::InvalidModelName {
        name: name.escape_debug().to_string(),
        reason: reason.to_string(),
    };
    if name.trim().is_empty() {
        return Err(invalid("the name must not be empty"));
    }
    if name.trim() != name {
        return Err(invalid("the name must not start or end with whitespace"));
    }
    if name.chars().count() > MAX_MODEL_NAME_LEN {
        return Err(invalid(&format!(
            "the name is longer than {MAX_MODEL_NAME_LEN} characters"
        )));
    }
    if name.contains('/') || name.contains(':') {
        return Err(invalid("'/' and ':' are not allowed in model names"));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("control characters are not allowed"));
    }
    Ok(())
}

/// Checks an alias like MLflow: 1 to [`MAX_ALIAS_LEN`] characters from `[\w-]` (letters, digits, `_`,
/// `-`); `latest` and `v<digits>` are reserved (they would read as version references).
pub fn validate_alias(alias: &str) -> Result<(), RegistryError> {
    let invalid = |reason: &str| RegistryError::InvalidAlias {
        alias: alias.escape_debug().to_string(),
        reason: reason.to_string(),
    };
    if alias.is_empty() {
        return Err(invalid("the alias must not be empty"));
    }
    if alias.chars().count() > MAX_ALIAS_LEN {
        return Err(invalid(&format!(
            "the alias is longer than {MAX_ALIAS_LEN} characters"
        )));
    }
    if !alias
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return Err(invalid(
            "only letters, digits, '_' and '-' are allowed (e.g. champion, challenger_2)",
        ));
    }
    if alias.eq_ignore_ascii_case("latest") {
        return Err(invalid(
            "'latest' is reserved (models:/name/latest is the highest version)",
        ));
    }
    let mut chars = alias.chars();
    if matches!(chars.next(), Some('v' | 'V'))
        && alias.len() > 1
        && chars.all(|c| c.is_ascii_digit())
    {
        return Err(invalid(
            "'v' followed by digits is reserved for version references",
        ));
    }
    Ok(())
}

/// Checks every tag of a list with [`validate_model_tag`].
pub fn validate_tags(tags: &[ModelTag]) -> Result<(), RegistryError> {
    for t in tags {
        validate_model_tag(&t.key, &t.value)?;
    }
    Ok(())
}

/// Checks a model or version tag: a valid key and a value of at most 8000 characters.
pub fn validate_model_tag(key: &str, value: &str) -> Result<(), RegistryError> {
    validate_key("model tag", key).map_err(|e| RegistryError::InvalidArgument(e.to_string()))?;
    let len = value.chars().count();
    if len > MAX_TAG_VALUE_LEN {
        return Err(RegistryError::InvalidArgument(format!(
            "value of model tag '{key}' is {len} characters long but the limit is {MAX_TAG_VALUE_LEN}"
        )));
    }
    Ok(())
}

/// Checks a description length.
pub fn validate_description(description: &str) -> Result<(), RegistryError> {
    let len = description.chars().count();
    if len > MAX_DESCRIPTION_LEN {
        return Err(RegistryError::InvalidArgument(format!(
            "the description is {len} characters long but the limit is {MAX_DESCRIPTION_LEN}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_parse_case_insensitively() {
        for s in Stage::ALL {
            assert_eq!(s.as_str().parse::<Stage>().ok(), Some(s));
            assert_eq!(s.as_str().to_uppercase().parse::<Stage>().ok(), Some(s));
        }
        assert!(matches!(
            "Prod".parse::<Stage>(),
            Err(RegistryError::InvalidStage(s)) if s == "Prod"
        ));
    }

    #[test]
    fn model_names() {
        assert!(validate_model_name("nyc-taxi rmse@2").is_ok());
        for bad in ["", "  ", "a/b", "a:b", " x", "x\n", &"n".repeat(257)] {
            assert!(
                matches!(
                    validate_model_name(bad),
                    Err(RegistryError::InvalidModelName { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn aliases() {
        for ok in [
            "champion",
            "challenger-2",
            "a_b",
            "v",
            "version1",
            "v1a",
            "é",
        ] {
            assert!(validate_alias(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "latest",
            "Latest",
            "v1",
            "V22",
            "a b",
            "a.b",
            "a@b",
            &"a".repeat(256),
        ] {
            assert!(
                matches!(validate_alias(bad), Err(RegistryError::InvalidAlias { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn tags_and_descriptions() {
        assert!(validate_model_tag("team", "ml").is_ok());
        assert!(validate_model_tag("", "ml").is_err());
        assert!(validate_model_tag("k", &"x".repeat(8001)).is_err());
        assert!(validate_description(&"x".repeat(20_001)).is_err());
    }
}
