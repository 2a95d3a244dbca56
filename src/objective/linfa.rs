//! Tune a [linfa](https://github.com/rust-ml/linfa) model without writing code.
//!
//! A [`LinfaObjective`] is built from a model name, a [`DataSource`], a [`Validation`] scheme, a
//! [`Metric`] name and a seed. It loads and checks the data once; each trial then reads the
//! model's hyperparameters from the trial's [`Params`] by label, fits on the training part,
//! scores on the validation part (or averages over k folds) and returns the loss with the
//! metrics that fit the task ([`Metric::for_task`]: `rmse`, `mae`, `r2` for a regression,
//! `accuracy` for the classifier; the study's metric always). The loss is the metric for `rmse`
//! and `mae`, and **minus** the metric for `r2` and `accuracy`.
//!
//! | model | hyperparameters (all optional, linfa's defaults) |
//! |---|---|
//! | `linear` | `fit_intercept` |
//! | `elasticnet` | `alpha` ≥ 0, `l1_ratio` ∈ [0,1], `max_iterations`, `tolerance`, `fit_intercept` |
//! | `lasso`, `ridge` | as `elasticnet`, with `l1_ratio` fixed at 1 and 0 |
//! | `tweedie` | `alpha`, `power` (0 or ≥ 1), `link` (`identity`/`log`/`logit`), `max_iter`, `fit_intercept` |
//! | `decision_tree` | `max_depth`, `min_weight_split`, `min_weight_leaf`, `min_impurity_decrease`, `split_quality` (`gini`/`entropy`) |
//!
//! Unknown labels are ignored; a wrong value fails the trial with a message. The rows are
//! shuffled with the study's seed once, so every trial sees the same split. After scoring, the
//! model fitted on the training part (on all rows for k-fold) is saved in a fresh directory
//! and logged as the trial's `model` artifact; [`load_model`] and [`predict_csv`] use it again.
//!
//! ```no_run
//! use hpo::objective::linfa::{DataSource, LinfaObjective, Validation};
//! use hpo::{hp, Fmin, Space, Tpe};
//! let objective = LinfaObjective::new(
//!     "elasticnet", DataSource::Diabetes, Validation::default(), "rmse", 42,
//! ).unwrap();
//! let space = Space::from_params([
//!     hp::loguniform("alpha", -7.0, 1.0),
//!     hp::uniform("l1_ratio", 0.0, 1.0),
//! ]).unwrap();
//! let result = Fmin::new(objective, &space).algo(Tpe).max_evals(30).seed(1).run().unwrap();
//! println!("best rmse {:?}", result.best().and_then(|t| t.ok_loss()));
//! ```

mod data;
mod metrics;
mod models;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

pub use data::{DataSource, Split, Table, Validation};
pub use metrics::{Metric, Scores};
pub use models::{
    load_model, predict_csv, save_model, Fitted, LoadedModel, ModelKind, ModelMeta, ModelSpec,
    TrainedModel, META_FILE, MODEL_FILE,
};

use crate::space::{Params, Value};
use crate::study::{Objective, TrialContext};
use crate::trial::TrialResult;

/// Everything that can go wrong in the linfa objective.
#[derive(Debug, thiserror::Error)]
pub enum LinfaError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The CSV file has no header row (it is empty).
    #[error("{}: the CSV file is empty (a header row is required)", path.display())]
    EmptyCsv {
        /// The file.
        path: PathBuf,
    },
    /// The CSV file has a header but no data rows.
    #[error("{}: the CSV file has a header but no data rows", path.display())]
    NoDataRows {
        /// The file.
        path: PathBuf,
    },
    /// A row has another number of cells than the header.
    #[error("{}, line {line}: {found} cells, but the header has {expected} columns", path.display())]
    RaggedRow {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// Columns in the header.
        expected: usize,
        /// Cells on this line.
        found: usize,
    },
    /// A cell is not a finite number.
    #[error(
        "{}, line {line}, column {column_number} ('{column}'): '{value}' is not a finite number",
        path.display()
    )]
    BadCell {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// The column's name.
        column: String,
        /// The 1-based column number.
        column_number: usize,
        /// The cell's text.
        value: String,
    },
    /// A column the data needs is not in the CSV header.
    #[error("{}: no column '{column}'; the columns are: {}", path.display(), available.join(", "))]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The missing column.
        column: String,
        /// The header's columns.
        available: Vec<String>,
    },
    /// Not a bundled data set.
    #[error("unknown data set '{0}' (expected diabetes, winequality or iris)")]
    UnknownDataset(String),
    /// Not a model this objective knows.
    #[error(
        "unknown model '{0}' (expected linear, elasticnet, lasso, ridge, tweedie or decision_tree)"
    )]
    UnknownModel(String),
    /// Not a metric this objective knows.
    #[error("unknown metric '{0}' (expected rmse, mae, r2 or accuracy)")]
    UnknownMetric(String),
    /// A bad validation setting (fraction, k).
    #[error("invalid validation: {0}")]
    InvalidValidation(String),
    /// Too few rows for the validation scheme.
    #[error("{rows} rows are too few for this validation (at least {needed} needed)")]
    TooFewRows {
        /// Rows in the data.
        rows: usize,
        /// Rows needed.
        needed: usize,
    },
    /// The data set has no feature column.
    #[error("the data has no feature columns")]
    NoFeatures,
    /// A classifier's target is not a class label.
    #[error("the target of row {row} is {value}, not a class label (a non-negative integer)")]
    NotClassLabels {
        /// The 0-based data row.
        row: usize,
        /// The target value.
        value: f64,
    },
    /// A hyperparameter has a wrong type or value.
    #[error("invalid hyperparameter '{name}': {message}")]
    InvalidHyperparameter {
        /// The hyperparameter's label.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// linfa failed (or panicked) while fitting or predicting.
    #[error("fitting failed: {0}")]
    Fit(String),
    /// The model predicted NaN or infinity.
    #[error("the model predicted a non-finite value (row {row})")]
    NonFinitePrediction {
        /// The 0-based row.
        row: usize,
    },
    /// The records have another number of columns than the model has features.
    #[error("the model expects {expected} features, got {found}")]
    FeatureCount {
        /// The model's feature count.
        expected: usize,
        /// Columns given.
        found: usize,
    },
    /// A model or metadata file could not be written or parsed.
    #[error("{}: {message}", path.display())]
    ModelFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// The scores of one set of hyperparameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// The loss to minimize (the metric, or minus the metric for `r2` and `accuracy`).
    pub loss: f64,
    /// All four metrics (means over folds for k-fold).
    pub scores: Scores,
}

/// A study objective that trains and scores a linfa model; see the [module docs](self).
pub struct LinfaObjective {
    model: ModelKind,
    metric: Metric,
    validation: Validation,
    seed: u64,
    source: DataSource,
    table: Table,
    splits: Vec<Split>,
    model_root: Option<PathBuf>,
    save_models: bool,
}

static MODEL_DIRS: AtomicUsize = AtomicUsize::new(0);

impl LinfaObjective {
    /// Build the objective: parse the model and metric names, load and check the data once, and
    /// draw the (seeded) split.
    pub fn new(
        model: &str,
        data: DataSource,
        validation: Validation,
        metric: &str,
        seed: u64,
    ) -> Result<Self, LinfaError> {
        let model: ModelKind = model.parse()?;
        let metric: Metric = metric.parse()?;
        let table = data.load()?;
        if table.records.ncols() == 0 {
            return Err(LinfaError::NoFeatures);
        }
        if model.is_classifier() {
            models::class_labels(&table.targets)?;
        }
        let splits = validation.splits(table.nrows(), seed)?;
        Ok(LinfaObjective {
            model,
            metric,
            validation,
            seed,
            source: data,
            table,
            splits,
            model_root: None,
            save_models: true,
        })
    }

    /// Save each trial's model under `dir/trial-<n>-<k>` instead of the system's temporary
    /// directory. The directories are not removed by the objective (the tracking recorder
    /// copies them after the trial has returned), so point this at a scratch directory you
    /// clean up, or turn saving off with [`LinfaObjective::save_models`].
    pub fn model_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.model_root = Some(dir.into());
        self
    }

    /// Whether trials save and log their fitted model (default true).
    pub fn save_models(mut self, save: bool) -> Self {
        self.save_models = save;
        self
    }

    /// The model kind.
    pub fn model(&self) -> ModelKind {
        self.model
    }

    /// The metric.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// The loaded data.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// The train/validation splits (one for holdout, k for k-fold), fixed by the seed.
    pub fn splits(&self) -> &[Split] {
        &self.splits
    }

    /// Score one set of hyperparameters (values by label).
    pub fn evaluate_values(
        &self,
        params: &BTreeMap<String, Value>,
    ) -> Result<Evaluation, LinfaError> {
        self.run(params).map(|(e, _)| e)
    }

    /// Fit the model to keep for these hyperparameters: on the training part (holdout) or on
    /// all rows (k-fold).
    pub fn fit_model(&self, params: &BTreeMap<String, Value>) -> Result<TrainedModel, LinfaError> {
        let spec = ModelSpec::from_params(self.model, params)?;
        let rows: Vec<usize> = match self.validation {
            Validation::Holdout { .. } => self.splits[0].train.clone(),
            Validation::KFold { .. } => (0..self.table.nrows()).collect(),
        };
        self.train(&spec, &rows)
    }

    fn train(&self, spec: &ModelSpec, rows: &[usize]) -> Result<TrainedModel, LinfaError> {
        let (x, y) = self.table.rows(rows);
        let model = spec.fit(&x, &y)?;
        Ok(TrainedModel {
            meta: ModelMeta {
                format: 1,
                model: self.model,
                hyperparameters: spec.clone(),
                feature_names: self.table.feature_names.clone(),
                n_features: self.table.records.ncols(),
                target_name: self.table.target_name.clone(),
                metric: self.metric.name().to_string(),
                data: self.source.to_string(),
                validation: self.validation.to_string(),
                n_train_rows: rows.len(),
            },
            model,
        })
    }

    /// Score, and return the model to keep when scoring already fitted it (holdout).
    fn run(
        &self,
        params: &BTreeMap<String, Value>,
    ) -> Result<(Evaluation, Option<TrainedModel>), LinfaError> {
        let spec = ModelSpec::from_params(self.model, params)?;
        let mut all = Vec::with_capacity(self.splits.len());
        let mut kept = None;
        for split in &self.splits {
            let model = self.train(&spec, &split.train)?;
            let (x, y) = self.table.rows(&split.valid);
            let pred = model.predict(&x)?;
            all.push(Scores::compute(&pred, y.as_slice().unwrap_or(&y.to_vec())));
            kept = Some(model);
        }
        let scores = Scores::mean(&all).ok_or(LinfaError::TooFewRows {
            rows: self.table.nrows(),
            needed: 3,
        })?;
        let loss = self.metric.loss(self.metric.of(&scores));
        let kept = match self.validation {
            Validation::Holdout { .. } => kept,
            Validation::KFold { .. } => None,
        };
        Ok((Evaluation { loss, scores }, kept))
    }

    fn fresh_dir(&self, trial: usize) -> Result<PathBuf, LinfaError> {
        let k = MODEL_DIRS.fetch_add(1, Ordering::Relaxed);
        let dir = match &self.model_root {
            Some(root) => root.join(format!("trial-{trial}-{k}")),
            None => std::env::temp_dir().join(format!(
                "hpo-linfa-{}-{}-trial-{trial}-{k}",
                std::process::id(),
                self.seed
            )),
        };
        std::fs::create_dir_all(&dir).map_err(|source| LinfaError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(dir)
    }
}

impl Objective for LinfaObjective {
    /// Score the trial's hyperparameters; on success report the task's metrics and log the
    /// fitted model as the `model` artifact (a failure to save it is noted in the message).
    fn evaluate(&self, params: &Params, ctx: &TrialContext) -> TrialResult {
        let values = params.to_map();
        let (eval, kept) = match self.run(&values) {
            Ok(r) => r,
            Err(e) => return TrialResult::fail(e.to_string()),
        };
        let mut result = TrialResult::ok(eval.loss);
        for &m in Metric::for_task(self.model.is_classifier()) {
            result = result.with_metric(m.name(), m.of(&eval.scores));
        }
        if !Metric::for_task(self.model.is_classifier()).contains(&self.metric) {
            result = result.with_metric(self.metric.name(), self.metric.of(&eval.scores));
        }
        if self.save_models {
            let saved = match kept {
                Some(model) => Ok(model),
                None => self.fit_model(&values),
            }
            .and_then(|model| {
                let dir = self.fresh_dir(ctx.number())?;
                model.save(&dir)?;
                Ok(dir)
            });
            match saved {
                Ok(dir) => ctx.log_artifact(dir, "model"),
                Err(e) => result = result.with_message(format!("model not saved: {e}")),
            }
        }
        result
    }
}

impl Objective for &LinfaObjective {
    /// As for [`LinfaObjective`], so a study can borrow the objective.
    fn evaluate(&self, params: &Params, ctx: &TrialContext) -> TrialResult {
        (**self).evaluate(params, ctx)
    }
}
