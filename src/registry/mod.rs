//! A model registry in the style of MLflow's, kept in the tracking store's database (SQLite or PostgreSQL)
//! or by the tracking server the store talks to (`http://`: `hpo server` or `mlflow server`).
//!
//! The classic tuning workflow ends with: pick the best run, register it as a model, promote it, load it
//! back. A [`Registry`] wraps a [`Tracker`] and does exactly that: registered models (unique names with a
//! description and tags), numbered versions created from runs (`runs:/<run_id>[/<artifact path>]`) that keep
//! a snapshot of the run's params and metrics, aliases (`champion`, `challenger` ...), legacy stages with
//! "archive the others" on promotion, `models:/` URIs ([`uri`]) resolved to a version, its run and its
//! artifact directory, one-step registration of a study's best trial, and search with the tracking filter
//! language. Records and validation live in [`model`], errors in [`error`], the backend trait in [`store`],
//! one backend per database in [`sqlite`] and [`postgres`], and the search compiler they share in
//! `search`.
//!
//! ```no_run
//! use hpo::registry::Registry;
//! # fn main() -> Result<(), hpo::registry::RegistryError> {
//! # let study_run_id = String::new();
//! let registry = Registry::open("sqlite:///hpo.db")?;
//! let v = registry.register_best_of_study(&study_run_id, "nyc-taxi", Some("champion"))?;
//! let loaded = registry.resolve("models:/nyc-taxi@champion")?;
//! assert_eq!(loaded.version.version, v.version);
//! println!("model files in {}", loaded.artifact_location.display());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod error;
pub mod model;
pub mod postgres;
pub(crate) mod search;
pub mod sqlite;
pub mod store;
pub mod uri;

use std::path::PathBuf;

use crate::tracking::{
    ArtifactStore, ExperimentId, MetricSummary, Param, Run, RunsQuery, StoreError, Tracker,
};

pub use error::RegistryError;
pub use model::{
    ModelAlias, ModelMetric, ModelSearch, ModelTag, ModelVersion, ModelVersionPage,
    NewModelVersion, RegisteredModel, RegisteredModelPage, Stage,
};
pub use store::RegistryStore;
pub use uri::{parse_model_uri, parse_run_uri, ModelUri, RunUri, VersionRef};

/// Run tag marking the kind of a run (`study` or `trial`), written by the optimizer's recorder.
pub const TAG_RUN_TYPE: &str = "hpo.runType";
/// Study tag naming the loss metric its trials log.
pub const TAG_STUDY_METRIC: &str = "hpo.metric";
/// Study tag holding the best trial's run id once the study has ended.
pub const TAG_BEST_RUN_ID: &str = "hpo.bestRunId";
/// Version tag recording the study a version was registered from.
pub const TAG_SOURCE_STUDY: &str = "hpo.sourceStudyRunId";
/// The artifact path under which a trial saves its fitted model.
pub const MODEL_ARTIFACT_PATH: &str = "model";

/// A model version resolved from a `models:/` URI: the version, its source run and where its files are.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedModel {
    /// The model version.
    pub version: ModelVersion,
    /// The source run as it is now (params, metric summaries, tags).
    pub run: Run,
    /// The local directory holding the model's files (the run's artifacts, or the sub-directory the
    /// version's artifact path names).
    pub artifact_location: PathBuf,
}

impl ResolvedModel {
    /// The source run's params.
    pub fn params(&self) -> &[Param] {
        &self.run.data.params
    }

    /// The source run's metric summaries.
    pub fn metrics(&self) -> &[MetricSummary] {
        &self.run.data.metrics
    }

    /// The value of one param of the source run.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.run.data.param(key)
    }

    /// The model's files, as an artifact store rooted at [`artifact_location`](Self::artifact_location).
    pub fn artifacts(&self) -> ArtifactStore {
        ArtifactStore::new(self.artifact_location.clone())
    }
}

/// The model registry API over a tracking store.
#[derive(Debug, Clone)]
pub struct Registry {
    tracker: Tracker,
}

impl Registry {
    /// A registry over the store of `tracker`; fails with [`RegistryError::Unsupported`] when that backend
    /// keeps no registry.
    pub fn new(tracker: Tracker) -> Result<Self, RegistryError> {
        if tracker.store().registry().is_none() {
            return Err(RegistryError::Unsupported);
        }
        Ok(Registry { tracker })
    }

    /// Opens the tracking store named by `uri` (see [`Tracker::open`]) and its registry.
    pub fn open(uri: &str) -> Result<Self, RegistryError> {
        Self::new(Tracker::open(uri)?)
    }

    /// The tracker this registry reads runs from.
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// The registry backend.
    pub fn store(&self) -> Result<&dyn RegistryStore, RegistryError> {
        self.tracker
            .store()
            .registry()
            .ok_or(RegistryError::Unsupported)
    }

    // ---- registered models ----

    /// Creates a registered model with a unique name.
    pub fn create_registered_model(
        &self,
        name: &str,
        description: Option<&str>,
        tags: &[ModelTag],
    ) -> Result<RegisteredModel, RegistryError> {
        self.store()?
            .create_registered_model(name, description.unwrap_or(""), tags)
    }

    /// Reads a registered model.
    pub fn get_registered_model(&self, name: &str) -> Result<RegisteredModel, RegistryError> {
        self.store()?.get_registered_model(name)
    }

    /// Returns the registered model `name`, creating it (without description or tags) if needed.
    pub fn get_or_create_registered_model(
        &self,
        name: &str,
    ) -> Result<RegisteredModel, RegistryError> {
        let store = self.store()?;
        match store.create_registered_model(name, "", &[]) {
            Err(RegistryError::ModelExists(_)) => store.get_registered_model(name),
            other => other,
        }
    }

    /// Renames a registered model; versions, tags and aliases follow.
    pub fn rename_registered_model(
        &self,
        name: &str,
        new_name: &str,
    ) -> Result<RegisteredModel, RegistryError> {
        self.store()?.rename_registered_model(name, new_name)
    }

    /// Replaces a registered model's description.
    pub fn update_registered_model_description(
        &self,
        name: &str,
        description: &str,
    ) -> Result<RegisteredModel, RegistryError> {
        self.store()?.update_registered_model(name, description)
    }

    /// Sets a registered model tag.
    pub fn set_registered_model_tag(
        &self,
        name: &str,
        key: &str,
        value: &str,
    ) -> Result<(), RegistryError> {
        self.store()?.set_registered_model_tag(name, key, value)
    }

    /// Deletes a registered model tag.
    pub fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<(), RegistryError> {
        self.store()?.delete_registered_model_tag(name, key)
    }

    /// Deletes a registered model and all its versions, tags and aliases (runs and artifacts stay). A model
    /// created later under the same name starts again at version 1.
    pub fn delete_registered_model(&self, name: &str) -> Result<(), RegistryError> {
        self.store()?.delete_registered_model(name)
    }

    // ---- versions ----

    /// Creates the next version of the existing model `name` from `source`: `runs:/<run_id>`,
    /// `runs:/<run_id>/<artifact path>` or a `models:/` URI (which copies that version's source). The run
    /// must exist; its params and latest metric values are recorded with the version.
    pub fn create_model_version(
        &self,
        name: &str,
        source: &str,
        description: Option<&str>,
        tags: &[ModelTag],
    ) -> Result<ModelVersion, RegistryError> {
        let store = self.store()?;
        store.get_registered_model(name)?;
        let (run_uri, run, location) = self.checked_source(source)?;
        let new = NewModelVersion {
            name: name.to_string(),
            source: run_uri.to_string(),
            run_id: run_uri.run_id.clone(),
            artifact_path: run_uri.artifact_path.clone(),
            storage_location: location.to_string_lossy().into_owned(),
            description: description.unwrap_or("").to_string(),
            user_id: self.tracker.system_info().user.clone(),
            tags: tags.to_vec(),
            run_params: run.data.params.clone(),
            run_metrics: ModelMetric::latest_of(&run.data),
        };
        store.create_model_version(&new)
    }

    /// The run URI a version `source` (`runs:/...` or `models:/...`) stands for, its run and the
    /// directory of its artifact path, refusing an artifact path the run does not have.
    fn checked_source(&self, source: &str) -> Result<(RunUri, Run, PathBuf), RegistryError> {
        let run_uri = if source.trim_start().starts_with(uri::MODELS_SCHEME) {
            // the version's run and path, not its source: a tracking server may keep the source
            // as the files' location (MLflow's server keeps what its client sent)
            let version = self.resolve_version(source)?;
            RunUri {
                run_id: version.run_id,
                artifact_path: version.artifact_path,
            }
        } else {
            parse_run_uri(source)?
        };
        let run = self.get_run(&run_uri.run_id)?;
        let artifacts = self.tracker.store().artifact_store(&run.info);
        let location = artifact_location(&run, &artifacts, &run_uri.artifact_path);
        if !run_uri.artifact_path.is_empty() && !artifacts.exists(&run_uri.artifact_path) {
            let available = artifacts
                .list("")
                .unwrap_or_default()
                .into_iter()
                .map(|a| {
                    if a.is_dir {
                        format!("{}/", a.path)
                    } else {
                        a.path
                    }
                })
                .collect();
            return Err(RegistryError::ArtifactPathNotFound {
                run_id: run_uri.run_id,
                path: run_uri.artifact_path,
                available,
            });
        }
        Ok((run_uri, run, location))
    }

    /// Like MLflow's `register_model`: creates the model `name` if it does not exist, then a version
    /// from `source`.
    pub fn register_model(
        &self,
        source: &str,
        name: &str,
        tags: &[ModelTag],
    ) -> Result<ModelVersion, RegistryError> {
        // Check the source before creating anything, so a bad URI, run or artifact path leaves no
        // empty model behind.
        self.checked_source(source)?;
        self.get_or_create_registered_model(name)?;
        self.create_model_version(name, source, None, tags)
    }

    /// Reads a live version.
    pub fn get_model_version(
        &self,
        name: &str,
        version: i64,
    ) -> Result<ModelVersion, RegistryError> {
        self.store()?.get_model_version(name, version)
    }

    /// The highest live version of a model.
    pub fn get_latest_version(&self, name: &str) -> Result<ModelVersion, RegistryError> {
        self.store()?.get_latest_version(name, None)
    }

    /// Replaces a version's description.
    pub fn update_model_version_description(
        &self,
        name: &str,
        version: i64,
        description: &str,
    ) -> Result<ModelVersion, RegistryError> {
        self.store()?
            .update_model_version(name, version, description)
    }

    /// Sets a version tag.
    pub fn set_model_version_tag(
        &self,
        name: &str,
        version: i64,
        key: &str,
        value: &str,
    ) -> Result<(), RegistryError> {
        self.store()?
            .set_model_version_tag(name, version, key, value)
    }

    /// Deletes a version tag.
    pub fn delete_model_version_tag(
        &self,
        name: &str,
        version: i64,
        key: &str,
    ) -> Result<(), RegistryError> {
        self.store()?.delete_model_version_tag(name, version, key)
    }

    /// Deletes a version and the aliases pointing to it; its number is never reused.
    pub fn delete_model_version(&self, name: &str, version: i64) -> Result<(), RegistryError> {
        self.store()?.delete_model_version(name, version)
    }

    // ---- aliases and stages ----

    /// Points `alias` at `version` (moving it from another version if needed).
    pub fn set_alias(&self, name: &str, alias: &str, version: i64) -> Result<(), RegistryError> {
        self.store()?
            .set_registered_model_alias(name, alias, version)
    }

    /// Removes an alias.
    pub fn delete_alias(&self, name: &str, alias: &str) -> Result<(), RegistryError> {
        self.store()?.delete_registered_model_alias(name, alias)
    }

    /// The version an alias points to.
    pub fn get_model_version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<ModelVersion, RegistryError> {
        self.store()?.get_model_version_by_alias(name, alias)
    }

    /// Moves a version to a legacy stage; with `archive_existing` (Staging/Production only) the other
    /// versions in that stage become Archived.
    pub fn transition_stage(
        &self,
        name: &str,
        version: i64,
        stage: Stage,
        archive_existing: bool,
    ) -> Result<ModelVersion, RegistryError> {
        self.store()?
            .transition_model_version_stage(name, version, stage, archive_existing)
    }

    // ---- URIs ----

    /// The version a `models:/` URI refers to.
    pub fn resolve_version(&self, model_uri: &str) -> Result<ModelVersion, RegistryError> {
        let parsed = parse_model_uri(model_uri)?;
        let store = self.store()?;
        match &parsed.version {
            VersionRef::Number(n) => store.get_model_version(&parsed.name, *n),
            VersionRef::Latest => store.get_latest_version(&parsed.name, None),
            VersionRef::Stage(s) => store.get_latest_version(&parsed.name, Some(*s)),
            VersionRef::Alias(a) => store.get_model_version_by_alias(&parsed.name, a),
        }
    }

    /// Resolves `models:/name/3`, `models:/name@alias`, `models:/name/latest` (or `models:/name/<stage>`)
    /// to the version, its source run (with params and metrics) and the directory of its files.
    pub fn resolve(&self, model_uri: &str) -> Result<ResolvedModel, RegistryError> {
        let version = self.resolve_version(model_uri)?;
        let run = self.get_run(&version.run_id)?;
        let artifact_location = PathBuf::from(&version.storage_location);
        Ok(ResolvedModel {
            version,
            run,
            artifact_location,
        })
    }

    /// The run a `runs:/<run_id>[/<artifact path>]` URI names and the local directory of that
    /// artifact path (the run's whole artifact directory when the URI has no path).
    pub fn resolve_run_uri(&self, run_uri: &str) -> Result<(Run, PathBuf), RegistryError> {
        let parsed = parse_run_uri(run_uri)?;
        let run = self.get_run(&parsed.run_id)?;
        let mut location = PathBuf::from(&run.info.artifact_uri);
        if !parsed.artifact_path.is_empty() {
            location.push(&parsed.artifact_path);
        }
        Ok((run, location))
    }

    // ---- from studies and experiments ----

    /// Registers the best trial of a study under `name` (creating the model if needed) and optionally
    /// points `alias` at the new version. The best trial is the study's `hpo.bestRunId` tag when present,
    /// else its FINISHED child run with the lowest `<hpo.metric>` (`loss` when the tag is missing). When
    /// that trial saved a model under `model/`, the version points to it.
    pub fn register_best_of_study(
        &self,
        study_run_id: &str,
        name: &str,
        alias: Option<&str>,
    ) -> Result<ModelVersion, RegistryError> {
        let study = self.get_run(study_run_id)?;
        let what = || format!("study '{study_run_id}'");
        let run_type = study.data.tag(TAG_RUN_TYPE);
        let best_tag = study.data.tag(TAG_BEST_RUN_ID);
        if run_type != Some("study") && best_tag.is_none() {
            return Err(RegistryError::NoBestRun {
                what: what(),
                reason: format!(
                    "run '{study_run_id}' is not a study (its {TAG_RUN_TYPE} tag is {}, expected 'study')",
                    run_type.map_or("missing".to_string(), |t| format!("'{t}'"))
                ),
            });
        }
        let metric = study
            .data
            .tag(TAG_STUDY_METRIC)
            .unwrap_or("loss")
            .to_string();
        let best = match best_tag {
            Some(id) => self.get_run(id)?,
            None => {
                let filter = format!(
                    "parent_run_id = '{study_run_id}' AND status = 'FINISHED' AND {} IS NOT NULL",
                    metric_ident(&metric)?
                );
                self.best_run(study.info.experiment_id, &filter, &metric, true)?
                    .ok_or_else(|| RegistryError::NoBestRun {
                        what: what(),
                        reason: format!(
                            "no FINISHED trial logged the metric '{metric}' (named by the {TAG_STUDY_METRIC} tag)"
                        ),
                    })?
            }
        };
        let tags = [ModelTag::new(TAG_SOURCE_STUDY, study_run_id)];
        let description = match best.data.metric(&metric) {
            Some(m) => format!(
                "Best trial of study '{}' ({metric} = {})",
                study.info.run_name, m.latest
            ),
            None => format!("Best trial of study '{}'", study.info.run_name),
        };
        self.register_run(&best, name, &description, &tags, alias)
    }

    /// Registers the best FINISHED run of an experiment by `metric` (lowest when `ascending`, highest
    /// otherwise; study parent runs are skipped) under `name`, optionally with an alias.
    pub fn register_best_of_experiment(
        &self,
        experiment_id: ExperimentId,
        metric: &str,
        ascending: bool,
        name: &str,
        alias: Option<&str>,
    ) -> Result<ModelVersion, RegistryError> {
        let experiment = self.tracker.get_experiment(experiment_id)?;
        let filter = format!(
            "status = 'FINISHED' AND {} IS NOT NULL AND NOT (tags.{TAG_RUN_TYPE} = 'study')",
            metric_ident(metric)?
        );
        let best = self
            .best_run(experiment_id, &filter, metric, ascending)?
            .ok_or_else(|| RegistryError::NoBestRun {
                what: format!("experiment '{}'", experiment.name),
                reason: format!("no FINISHED run logged the metric '{metric}'"),
            })?;
        let value = best.data.metric(metric).map_or(f64::NAN, |m| m.latest);
        let description = format!(
            "Best run of experiment '{}' ({metric} = {value})",
            experiment.name
        );
        self.register_run(&best, name, &description, &[], alias)
    }

    /// The first run of `experiment_id` matching `filter` ordered by `metric`, skipping NaN values.
    fn best_run(
        &self,
        experiment_id: ExperimentId,
        filter: &str,
        metric: &str,
        ascending: bool,
    ) -> Result<Option<Run>, RegistryError> {
        let dir = if ascending { "ASC" } else { "DESC" };
        let order = format!("{} {dir}", metric_ident(metric)?);
        let query = RunsQuery::new(&[experiment_id], filter)
            .order_by(&[order])
            .max_results(1);
        let page = self.tracker.search_runs(&query)?;
        Ok(page
            .runs
            .into_iter()
            .find(|r| r.data.metric(metric).is_some_and(|m| !m.latest.is_nan())))
    }

    /// Creates a version from a run (pointing at its `model/` artifact when present) and sets the alias.
    fn register_run(
        &self,
        run: &Run,
        name: &str,
        description: &str,
        tags: &[ModelTag],
        alias: Option<&str>,
    ) -> Result<ModelVersion, RegistryError> {
        if let Some(a) = alias {
            model::validate_alias(a)?;
        }
        model::validate_model_name(name)?;
        let has_model = self
            .tracker
            .store()
            .artifact_store(&run.info)
            .is_dir(MODEL_ARTIFACT_PATH);
        let source = if has_model {
            format!("runs:/{}/{MODEL_ARTIFACT_PATH}", run.info.run_id)
        } else {
            format!("runs:/{}", run.info.run_id)
        };
        self.get_or_create_registered_model(name)?;
        let mut version = self.create_model_version(name, &source, Some(description), tags)?;
        if let Some(a) = alias {
            self.set_alias(name, a, version.version)?;
            version = self.get_model_version(name, version.version)?;
        }
        Ok(version)
    }

    // ---- search ----

    /// Searches registered models. Filters use the tracking search language over `name`, `description`,
    /// `creation_time`, `last_updated_time` and `tags.<key>` (e.g. `name LIKE 'nyc%' AND tags.team = 'ml'`);
    /// the default order is `name ASC`.
    pub fn search_registered_models(
        &self,
        query: &ModelSearch,
    ) -> Result<RegisteredModelPage, RegistryError> {
        self.store()?.search_registered_models(query)
    }

    /// Searches live model versions. Filters use the tracking search language over `name`,
    /// `version_number`, `run_id`, `source`, `current_stage`, `user_id`, `description`,
    /// `storage_location`, `creation_time`, `last_updated_time` and `tags.<key>`; the default order is
    /// `name ASC, version_number DESC`.
    pub fn search_model_versions(
        &self,
        query: &ModelSearch,
    ) -> Result<ModelVersionPage, RegistryError> {
        self.store()?.search_model_versions(query)
    }

    fn get_run(&self, run_id: &str) -> Result<Run, RegistryError> {
        match self.tracker.get_run(run_id) {
            Ok(run) => Ok(run),
            Err(crate::tracking::TrackingError::Store(StoreError::RunNotFound(_))) => {
                Err(RegistryError::RunNotFound(run_id.to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Where artifact path `path` of `run` is: a directory under the run's local artifact directory,
/// or, for a run whose artifacts are on a tracking server, the run's artifact URI and the path.
fn artifact_location(run: &Run, artifacts: &ArtifactStore, path: &str) -> PathBuf {
    if !artifacts.is_remote() {
        let mut location = PathBuf::from(&run.info.artifact_uri);
        if !path.is_empty() {
            location.push(path);
        }
        return location;
    }
    let root = run.info.artifact_uri.trim_end_matches('/');
    let path = path.trim_matches('/');
    PathBuf::from(if path.is_empty() {
        root.to_string()
    } else {
        format!("{root}/{path}")
    })
}

/// A metric identifier for the run search language, quoting the key.
fn metric_ident(metric: &str) -> Result<String, RegistryError> {
    crate::tracking::store::validate_key("metric", metric)
        .map_err(|e| RegistryError::InvalidArgument(e.to_string()))?;
    if metric.contains('`') {
        return Err(RegistryError::InvalidArgument(format!(
            "metric name '{metric}' contains a backtick, which the search language cannot quote"
        )));
    }
    Ok(format!("metrics.`{metric}`"))
}
