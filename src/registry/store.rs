//! The storage boundary of the registry: the [`RegistryStore`] trait.
//!
//! A tracking backend that can keep a model registry implements this trait and returns itself from
//! [`Store::registry`](crate::tracking::Store::registry); [`SqliteStore`](crate::tracking::SqliteStore)
//! does (see [`sqlite`](super::sqlite)), and so does
//! [`PgStore`](crate::tracking::postgres::PgStore) (see [`postgres`](super::postgres)), and
//! [`HttpStore`](crate::tracking::http::HttpStore) hands over the registry of the tracking server it talks
//! to (MLflow's `registered-models/*` and `model-versions/*` calls). Methods are atomic, validate their inputs with the rules of
//! [`model`](super::model), and report failures as [`RegistryError`]s. Run lookups (the source of a version,
//! the best trial of a study) are not part of the trait: the [`Registry`](super::Registry) does them through
//! the tracking [`Store`](crate::tracking::Store) and hands the backend a complete [`NewModelVersion`].

use super::error::RegistryError;
use super::model::{
    ModelSearch, ModelTag, ModelVersion, ModelVersionPage, NewModelVersion, RegisteredModel,
    RegisteredModelPage, Stage,
};

/// A model registry backend.
pub trait RegistryStore: Send + Sync {
    /// Creates a registered model; the name must be new.
    fn create_registered_model(
        &self,
        name: &str,
        description: &str,
        tags: &[ModelTag],
    ) -> Result<RegisteredModel, RegistryError>;
    /// Reads a registered model with its tags, aliases and latest version.
    fn get_registered_model(&self, name: &str) -> Result<RegisteredModel, RegistryError>;
    /// Renames a model; its versions, tags and aliases follow.
    fn rename_registered_model(
        &self,
        name: &str,
        new_name: &str,
    ) -> Result<RegisteredModel, RegistryError>;
    /// Replaces a model's description.
    fn update_registered_model(
        &self,
        name: &str,
        description: &str,
    ) -> Result<RegisteredModel, RegistryError>;
    /// Sets (inserts or replaces) a model tag.
    fn set_registered_model_tag(
        &self,
        name: &str,
        key: &str,
        value: &str,
    ) -> Result<(), RegistryError>;
    /// Deletes a model tag (an error if it does not exist).
    fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<(), RegistryError>;
    /// Deletes a model with all its versions, tags and aliases.
    fn delete_registered_model(&self, name: &str) -> Result<(), RegistryError>;
    /// Creates the next version of an existing model (numbers are never reused).
    fn create_model_version(&self, new: &NewModelVersion) -> Result<ModelVersion, RegistryError>;
    /// Reads a live version.
    fn get_model_version(&self, name: &str, version: i64) -> Result<ModelVersion, RegistryError>;
    /// Replaces a version's description.
    fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: &str,
    ) -> Result<ModelVersion, RegistryError>;
    /// Sets (inserts or replaces) a version tag.
    fn set_model_version_tag(
        &self,
        name: &str,
        version: i64,
        key: &str,
        value: &str,
    ) -> Result<(), RegistryError>;
    /// Deletes a version tag (an error if it does not exist).
    fn delete_model_version_tag(
        &self,
        name: &str,
        version: i64,
        key: &str,
    ) -> Result<(), RegistryError>;
    /// Deletes a version (and the aliases pointing to it); its number is not reused.
    fn delete_model_version(&self, name: &str, version: i64) -> Result<(), RegistryError>;
    /// Moves a version to `stage`; with `archive_existing` (only for Staging and Production) every other
    /// version in that stage moves to Archived in the same transaction.
    fn transition_model_version_stage(
        &self,
        name: &str,
        version: i64,
        stage: Stage,
        archive_existing: bool,
    ) -> Result<ModelVersion, RegistryError>;
    /// Points an alias at a live version (moving it if it pointed elsewhere).
    fn set_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
        version: i64,
    ) -> Result<(), RegistryError>;
    /// Removes an alias (an error if the model has no such alias).
    fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<(), RegistryError>;
    /// The version an alias points to.
    fn get_model_version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<ModelVersion, RegistryError>;
    /// The highest live version, overall or in one stage.
    fn get_latest_version(
        &self,
        name: &str,
        stage: Option<Stage>,
    ) -> Result<ModelVersion, RegistryError>;
    /// Searches registered models (fields `name`, `description`, `creation_time`, `last_updated_time`,
    /// `tags.<key>`); default order `name ASC`.
    fn search_registered_models(
        &self,
        query: &ModelSearch,
    ) -> Result<RegisteredModelPage, RegistryError>;
    /// Searches live model versions (fields `name`, `version_number`, `run_id`, `source`,
    /// `current_stage`, `user_id`, `description`, `storage_location`, `creation_time`,
    /// `last_updated_time`, `tags.<key>`); default order `name ASC, version_number DESC`.
    fn search_model_versions(&self, query: &ModelSearch)
        -> Result<ModelVersionPage, RegistryError>;
}
