//! The models: their names, their hyperparameters (read from a trial's params), fitting,
//! prediction, and saving/loading fitted models as JSON.

use std::collections::BTreeMap;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::str::FromStr;

use linfa::prelude::*;
use linfa_elasticnet::ElasticNet;
use linfa_linear::{FittedLinearRegression, LinearRegression, Link, TweedieRegressor};
use linfa_trees::{DecisionTree, SplitQuality};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::data::CsvText;
use super::LinfaError;
use crate::space::Value;

/// The models the objective can tune.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Ordinary least squares (`fit_intercept`).
    Linear,
    /// Elastic net (`alpha`, `l1_ratio`, `max_iterations`, `tolerance`, `fit_intercept`).
    ElasticNet,
    /// Elastic net with `l1_ratio` fixed at 1.
    Lasso,
    /// Elastic net with `l1_ratio` fixed at 0.
    Ridge,
    /// Tweedie GLM (`alpha`, `power`, `link`, `max_iter`, `fit_intercept`).
    Tweedie,
    /// Decision tree classifier (`max_depth`, `min_weight_split`, `min_weight_leaf`,
    /// `min_impurity_decrease`, `split_quality`); the target must hold class labels
    /// (non-negative integers).
    DecisionTree,
}

impl ModelKind {
    /// Every model.
    pub const ALL: [ModelKind; 6] = [
        ModelKind::Linear,
        ModelKind::ElasticNet,
        ModelKind::Lasso,
        ModelKind::Ridge,
        ModelKind::Tweedie,
        ModelKind::DecisionTree,
    ];

    /// The model's name.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Linear => "linear",
            ModelKind::ElasticNet => "elasticnet",
            ModelKind::Lasso => "lasso",
            ModelKind::Ridge => "ridge",
            ModelKind::Tweedie => "tweedie",
            ModelKind::DecisionTree => "decision_tree",
        }
    }

    /// True for the classifier (the decision tree).
    pub fn is_classifier(self) -> bool {
        self == ModelKind::DecisionTree
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelKind {
    type Err = LinfaError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        let s = match s.as_str() {
            "elastic_net" => "elasticnet",
            "decisiontree" | "tree" => "decision_tree",
            "linear_regression" | "ols" => "linear",
            other => other,
        };
        ModelKind::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| LinfaError::UnknownModel(s.to_string()))
    }
}

/// A model with all its hyperparameters resolved (linfa's defaults where none was given).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum ModelSpec {
    /// Ordinary least squares.
    Linear {
        /// Fit an intercept (default true).
        fit_intercept: bool,
    },
    /// Elastic net (also lasso and ridge).
    ElasticNet {
        /// Penalty, ≥ 0 (default 1).
        alpha: f64,
        /// Share of L1 in the penalty, in [0, 1] (default 0.5).
        l1_ratio: f64,
        /// Coordinate descent iterations, ≥ 1 (default 1000).
        max_iterations: u32,
        /// Convergence tolerance, > 0 (default 1e-4).
        tolerance: f64,
        /// Fit an intercept (default true).
        fit_intercept: bool,
    },
    /// Tweedie GLM.
    Tweedie {
        /// Penalty, ≥ 0 (default 1).
        alpha: f64,
        /// Distribution power: 0 (normal) or ≥ 1 (default 1, Poisson).
        power: f64,
        /// Link `identity`, `log` or `logit` (default: identity for power 0, log otherwise).
        link: Option<String>,
        /// L-BFGS iterations, ≥ 1 (default 100).
        max_iter: usize,
        /// Fit an intercept (default true).
        fit_intercept: bool,
    },
    /// Decision tree classifier.
    DecisionTree {
        /// Maximum depth ≥ 1 (default unlimited).
        max_depth: Option<usize>,
        /// Minimum weight to split a node, ≥ 0 (default 2).
        min_weight_split: f32,
        /// Minimum weight in a leaf, ≥ 0 (default 1).
        min_weight_leaf: f32,
        /// Minimum impurity decrease of a split, > 0 (default 1e-5).
        min_impurity_decrease: f64,
        /// `gini` or `entropy` (default gini).
        split_quality: String,
    },
}

/// Reads hyperparameters by label from a map of values, checking their types.
struct Reader<'a>(&'a BTreeMap<String, Value>);

fn invalid(name: &str, message: impl Into<String>) -> LinfaError {
    LinfaError::InvalidHyperparameter {
        name: name.to_string(),
        message: message.into(),
    }
}

impl Reader<'_> {
    fn f64(&self, name: &str, default: f64) -> Result<f64, LinfaError> {
        match self.0.get(name) {
            None => Ok(default),
            Some(v) => match v.as_f64() {
                Some(x) if x.is_finite() => Ok(x),
                Some(x) => Err(invalid(name, format!("must be finite, got {x}"))),
                None => Err(invalid(
                    name,
                    format!("must be a number, got {} {v}", v.type_name()),
                )),
            },
        }
    }

    fn int(&self, name: &str, default: usize, min: usize, max: usize) -> Result<usize, LinfaError> {
        match self.0.get(name) {
            None => Ok(default),
            Some(v) => match v.as_i64() {
                Some(i) if i >= min as i64 && (i as u64) <= max as u64 => Ok(i as usize),
                Some(i) => Err(invalid(name, format!("must be in {min}..={max}, got {i}"))),
                None => Err(invalid(
                    name,
                    format!("must be an integer, got {} {v}", v.type_name()),
                )),
            },
        }
    }

    fn bool(&self, name: &str, default: bool) -> Result<bool, LinfaError> {
        match self.0.get(name) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::Int(0)) => Ok(false),
            Some(Value::Int(1)) => Ok(true),
            Some(Value::Str(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
            Some(Value::Str(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(invalid(
                name,
                format!("must be a bool, got {} {v}", v.type_name()),
            )),
        }
    }

    fn choice(&self, name: &str, options: &[&str]) -> Result<Option<String>, LinfaError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Str(s)) if options.contains(&s.to_ascii_lowercase().as_str()) => {
                Ok(Some(s.to_ascii_lowercase()))
            }
            Some(v) => Err(invalid(
                name,
                format!("must be one of {}, got {v}", options.join(", ")),
            )),
        }
    }

    fn at_least(&self, name: &str, default: f64, min: f64) -> Result<f64, LinfaError> {
        let x = self.f64(name, default)?;
        if x < min {
            return Err(invalid(name, format!("must be >= {min}, got {x}")));
        }
        Ok(x)
    }
}

impl ModelSpec {
    /// Resolve `kind`'s hyperparameters from `params` (values by label; unknown labels are
    /// ignored, missing ones take linfa's defaults). Wrong types or out-of-range values are an
    /// [`LinfaError::InvalidHyperparameter`].
    pub fn from_params(
        kind: ModelKind,
        params: &BTreeMap<String, Value>,
    ) -> Result<ModelSpec, LinfaError> {
        let r = Reader(params);
        let fit_intercept = r.bool("fit_intercept", true)?;
        Ok(match kind {
            ModelKind::Linear => ModelSpec::Linear { fit_intercept },
            ModelKind::ElasticNet | ModelKind::Lasso | ModelKind::Ridge => {
                let l1_ratio = match kind {
                    ModelKind::Lasso => 1.0,
                    ModelKind::Ridge => 0.0,
                    _ => r.f64("l1_ratio", 0.5)?,
                };
                if !(0.0..=1.0).contains(&l1_ratio) {
                    return Err(invalid(
                        "l1_ratio",
                        format!("must be in [0, 1], got {l1_ratio}"),
                    ));
                }
                let tolerance = r.f64("tolerance", 1e-4)?;
                if tolerance <= 0.0 {
                    return Err(invalid(
                        "tolerance",
                        format!("must be > 0, got {tolerance}"),
                    ));
                }
                ModelSpec::ElasticNet {
                    alpha: r.at_least("alpha", 1.0, 0.0)?,
                    l1_ratio,
                    max_iterations: r.int("max_iterations", 1000, 1, u32::MAX as usize)? as u32,
                    tolerance,
                    fit_intercept,
                }
            }
            ModelKind::Tweedie => {
                let power = r.f64("power", 1.0)?;
                if power != 0.0 && power < 1.0 {
                    return Err(invalid("power", format!("must be 0 or >= 1, got {power}")));
                }
                ModelSpec::Tweedie {
                    alpha: r.at_least("alpha", 1.0, 0.0)?,
                    power,
                    link: r.choice("link", &["identity", "log", "logit"])?,
                    max_iter: r.int("max_iter", 100, 1, 1_000_000)?,
                    fit_intercept,
                }
            }
            ModelKind::DecisionTree => {
                let max_depth = match params.get("max_depth") {
                    None | Some(Value::Null) => None,
                    Some(_) => Some(r.int("max_depth", 0, 1, 10_000)?),
                };
                let mid = r.f64("min_impurity_decrease", 1e-5)?;
                if mid < f64::EPSILON {
                    return Err(invalid(
                        "min_impurity_decrease",
                        format!("must be > 0, got {mid}"),
                    ));
                }
                ModelSpec::DecisionTree {
                    max_depth,
                    min_weight_split: r.at_least("min_weight_split", 2.0, 0.0)? as f32,
                    min_weight_leaf: r.at_least("min_weight_leaf", 1.0, 0.0)? as f32,
                    min_impurity_decrease: mid,
                    split_quality: r
                        .choice("split_quality", &["gini", "entropy"])?
                        .unwrap_or_else(|| "gini".into()),
                }
            }
        })
    }

    /// Fit on `records`/`targets` (class labels as numbers for the tree). Errors and panics
    /// inside linfa become [`LinfaError::Fit`].
    pub fn fit(&self, records: &Array2<f64>, targets: &Array1<f64>) -> Result<Fitted, LinfaError> {
        if records.nrows() == 0 || records.nrows() != targets.len() {
            return Err(LinfaError::Fit(format!(
                "{} rows of features for {} targets",
                records.nrows(),
                targets.len()
            )));
        }
        let fitted = catch_unwind(AssertUnwindSafe(|| self.fit_inner(records, targets)))
            .unwrap_or_else(|panic| {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                Err(LinfaError::Fit(format!("linfa panicked: {msg}")))
            })?;
        Ok(fitted)
    }

    fn fit_inner(
        &self,
        records: &Array2<f64>,
        targets: &Array1<f64>,
    ) -> Result<Fitted, LinfaError> {
        let fit_err = |e: &dyn fmt::Display| LinfaError::Fit(e.to_string());
        Ok(match self {
            ModelSpec::Linear { fit_intercept } => {
                let ds = Dataset::new(records.clone(), targets.clone());
                let m = LinearRegression::new()
                    .with_intercept(*fit_intercept)
                    .fit(&ds)
                    .map_err(|e| fit_err(&e))?;
                Fitted::Linear(m)
            }
            ModelSpec::ElasticNet {
                alpha,
                l1_ratio,
                max_iterations,
                tolerance,
                fit_intercept,
            } => {
                // linfa centres only the target, so an intercept is right only for centred
                // features: centre them here and keep the means for predicting
                let feature_means = match fit_intercept {
                    true => records.mean_axis(Axis(0)),
                    false => None,
                };
                let x = match &feature_means {
                    Some(m) => records - m,
                    None => records.clone(),
                };
                let ds = Dataset::new(x, targets.clone());
                let model = ElasticNet::params()
                    .penalty(*alpha)
                    .l1_ratio(*l1_ratio)
                    .max_iterations(*max_iterations)
                    .tolerance(*tolerance)
                    .with_intercept(*fit_intercept)
                    .fit(&ds)
                    .map_err(|e| fit_err(&e))?;
                Fitted::ElasticNet {
                    model,
                    feature_means,
                }
            }
            ModelSpec::Tweedie {
                alpha,
                power,
                link,
                max_iter,
                fit_intercept,
            } => {
                let ds = Dataset::new(records.clone(), targets.clone());
                let mut p = TweedieRegressor::params()
                    .alpha(*alpha)
                    .power(*power)
                    .max_iter(*max_iter)
                    .fit_intercept(*fit_intercept);
                match link.as_deref() {
                    Some("identity") => p = p.link(Link::Identity),
                    Some("log") => p = p.link(Link::Log),
                    Some("logit") => p = p.link(Link::Logit),
                    _ => {}
                }
                if *power >= 1.0 && targets.iter().any(|&y| y < 0.0) {
                    return Err(LinfaError::Fit(format!(
                        "tweedie with power {power} needs a non-negative target"
                    )));
                }
                // the solver starts from link(mean(y)): outside the link's domain it would
                // iterate on NaN (and may never stop), so refuse such targets up front
                let mean = targets.mean().unwrap_or(f64::NAN);
                let link_name = match link.as_deref() {
                    Some(l) => l,
                    None if *power == 0.0 => "identity",
                    None => "log",
                };
                match link_name {
                    "log" if mean.is_nan() || mean <= 0.0 => {
                        return Err(LinfaError::Fit(format!(
                            "the log link needs a target with a positive mean (it is {mean})"
                        )))
                    }
                    "logit" if !(mean > 0.0 && mean < 1.0) || targets.iter().any(|&y| !(0.0..=1.0).contains(&y)) => {
                        return Err(LinfaError::Fit(
                            "the logit link needs a target in [0, 1] with a mean strictly between 0 and 1".into(),
                        ))
                    }
                    _ => {}
                }
                Fitted::Tweedie(p.fit(&ds).map_err(|e| fit_err(&e))?)
            }
            ModelSpec::DecisionTree {
                max_depth,
                min_weight_split,
                min_weight_leaf,
                min_impurity_decrease,
                split_quality,
            } => {
                let labels = class_labels(targets)?;
                let ds = Dataset::new(records.clone(), labels);
                let quality = if split_quality == "entropy" {
                    SplitQuality::Entropy
                } else {
                    SplitQuality::Gini
                };
                let m = DecisionTree::params()
                    .split_quality(quality)
                    .max_depth(*max_depth)
                    .min_weight_split(*min_weight_split)
                    .min_weight_leaf(*min_weight_leaf)
                    .min_impurity_decrease(*min_impurity_decrease)
                    .fit(&ds)
                    .map_err(|e| fit_err(&e))?;
                Fitted::DecisionTree(m)
            }
        })
    }
}

/// The targets as class labels: every value must be a non-negative integer.
pub(crate) fn class_labels(targets: &Array1<f64>) -> Result<Array1<usize>, LinfaError> {
    for (row, &y) in targets.iter().enumerate() {
        if !(y >= 0.0 && y.fract() == 0.0 && y < 1e9) {
            return Err(LinfaError::NotClassLabels { row, value: y });
        }
    }
    Ok(targets.mapv(|y| y as usize))
}

/// A fitted linfa model (serialized with linfa's own serde support).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", content = "model", rename_all = "snake_case")]
pub enum Fitted {
    /// Ordinary least squares.
    Linear(FittedLinearRegression<f64>),
    /// Elastic net (lasso, ridge), fitted on features centred by `feature_means` (when it
    /// has an intercept).
    ElasticNet {
        /// The linfa model.
        model: ElasticNet<f64>,
        /// The training means of the features, subtracted before predicting.
        feature_means: Option<Array1<f64>>,
    },
    /// Tweedie GLM.
    Tweedie(TweedieRegressor<f64>),
    /// Decision tree classifier.
    DecisionTree(DecisionTree<f64, usize>),
}

impl Fitted {
    /// Predict one value per row (class labels as numbers for the tree); the column count must
    /// have been checked. Non-finite predictions are an error.
    pub fn predict(&self, records: ArrayView2<'_, f64>) -> Result<Vec<f64>, LinfaError> {
        let out = catch_unwind(AssertUnwindSafe(|| match self {
            Fitted::Linear(m) => m.predict(&records).to_vec(),
            Fitted::ElasticNet {
                model,
                feature_means: Some(means),
            } => model.predict(&(&records - means)).to_vec(),
            Fitted::ElasticNet { model, .. } => model.predict(&records).to_vec(),
            Fitted::Tweedie(m) => m.predict(&records).to_vec(),
            Fitted::DecisionTree(m) => m.predict(&records).iter().map(|&c| c as f64).collect(),
        }))
        .map_err(|_| LinfaError::Fit("linfa panicked while predicting".into()))?;
        if let Some(row) = out.iter().position(|p| !p.is_finite()) {
            return Err(LinfaError::NonFinitePrediction { row });
        }
        Ok(out)
    }
}

/// What is saved next to a model: enough to use it again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// The file format's version.
    pub format: u32,
    /// The model kind (`elasticnet`, `decision_tree`, ...).
    pub model: ModelKind,
    /// The resolved hyperparameters.
    pub hyperparameters: ModelSpec,
    /// The feature names, in the order `predict` expects the columns.
    pub feature_names: Vec<String>,
    /// The number of features.
    pub n_features: usize,
    /// The target's name.
    pub target_name: String,
    /// The metric the study optimized.
    pub metric: String,
    /// The data the model was trained on.
    pub data: String,
    /// The validation scheme of the study.
    pub validation: String,
    /// The number of rows the saved model was fitted on.
    pub n_train_rows: usize,
}

/// A fitted model with its metadata: made by the objective, saved with [`save_model`],
/// loaded with [`load_model`].
#[derive(Clone, Debug)]
pub struct TrainedModel {
    /// What the model is and how to use it.
    pub meta: ModelMeta,
    /// The fitted linfa model.
    pub model: Fitted,
}

/// A model loaded back from disk (the same type as a freshly trained one).
pub type LoadedModel = TrainedModel;

/// The model file's name inside a model directory.
pub const MODEL_FILE: &str = "model.json";
/// The metadata file's name inside a model directory.
pub const META_FILE: &str = "meta.json";

impl TrainedModel {
    /// Predict one value per row of `records` (rows × the model's features); class labels as
    /// numbers for the tree.
    pub fn predict<'a>(
        &self,
        records: impl Into<ArrayView2<'a, f64>>,
    ) -> Result<Vec<f64>, LinfaError> {
        let records = records.into();
        if records.ncols() != self.meta.n_features {
            return Err(LinfaError::FeatureCount {
                expected: self.meta.n_features,
                found: records.ncols(),
            });
        }
        self.model.predict(records)
    }

    /// Save to `dir` (created if needed) as `model.json` and `meta.json`.
    pub fn save(&self, dir: &Path) -> Result<(), LinfaError> {
        std::fs::create_dir_all(dir).map_err(|source| LinfaError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        write_json(&dir.join(MODEL_FILE), &self.model)?;
        write_json(&dir.join(META_FILE), &self.meta)
    }

    /// Load a model saved with [`TrainedModel::save`].
    pub fn load(dir: &Path) -> Result<TrainedModel, LinfaError> {
        let meta: ModelMeta = read_json(&dir.join(META_FILE))?;
        let model: Fitted = read_json(&dir.join(MODEL_FILE))?;
        Ok(TrainedModel { meta, model })
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), LinfaError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| LinfaError::ModelFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    std::fs::write(path, text).map_err(|source| LinfaError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, LinfaError> {
    let text = std::fs::read_to_string(path).map_err(|source| LinfaError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| LinfaError::ModelFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Save `model` into `dir` (`model.json` + `meta.json`).
pub fn save_model(model: &TrainedModel, dir: impl AsRef<Path>) -> Result<(), LinfaError> {
    model.save(dir.as_ref())
}

/// Load a model saved by [`save_model`] (or logged by the objective as a trial artifact).
pub fn load_model(dir: impl AsRef<Path>) -> Result<LoadedModel, LinfaError> {
    TrainedModel::load(dir.as_ref())
}

/// Predict with the model in `model_dir` for every row of the CSV file `csv_path`, which must
/// have (at least) the model's feature columns by name, in any order; the target column and
/// any other column are ignored.
pub fn predict_csv(
    model_dir: impl AsRef<Path>,
    csv_path: impl AsRef<Path>,
) -> Result<Vec<f64>, LinfaError> {
    let model = load_model(model_dir)?;
    let csv = CsvText::read(csv_path.as_ref())?;
    let cols = model
        .meta
        .feature_names
        .iter()
        .map(|f| csv.column_index(f))
        .collect::<Result<Vec<_>, _>>()?;
    let records = csv.numeric(&cols)?;
    model.predict(&records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn defaults_are_linfas() {
        let spec = ModelSpec::from_params(ModelKind::ElasticNet, &BTreeMap::new()).unwrap();
        assert_eq!(
            spec,
            ModelSpec::ElasticNet {
                alpha: 1.0,
                l1_ratio: 0.5,
                max_iterations: 1000,
                tolerance: 1e-4,
                fit_intercept: true
            }
        );
        let tree = ModelSpec::from_params(ModelKind::DecisionTree, &BTreeMap::new()).unwrap();
        assert!(matches!(
            tree,
            ModelSpec::DecisionTree {
                max_depth: None,
                ..
            }
        ));
        let tw = ModelSpec::from_params(ModelKind::Tweedie, &BTreeMap::new()).unwrap();
        assert!(
            matches!(tw, ModelSpec::Tweedie { power, link: None, max_iter: 100, .. } if power == 1.0)
        );
    }

    #[test]
    fn lasso_and_ridge_fix_the_l1_ratio() {
        let p = map(&[("l1_ratio", 0.3.into()), ("alpha", 2.into())]);
        let lasso = ModelSpec::from_params(ModelKind::Lasso, &p).unwrap();
        assert!(
            matches!(lasso, ModelSpec::ElasticNet { l1_ratio, alpha, .. } if l1_ratio == 1.0 && alpha == 2.0)
        );
        let ridge = ModelSpec::from_params(ModelKind::Ridge, &p).unwrap();
        assert!(matches!(ridge, ModelSpec::ElasticNet { l1_ratio, .. } if l1_ratio == 0.0));
    }

    #[test]
    fn values_are_checked() {
        let err = |kind, p: &[(&str, Value)]| {
            ModelSpec::from_params(kind, &map(p))
                .unwrap_err()
                .to_string()
        };
        assert!(err(ModelKind::ElasticNet, &[("alpha", (-1.0).into())]).contains("alpha"));
        assert!(err(ModelKind::Tweedie, &[("link", "probit".into())]).contains("identity"));
        assert!(err(ModelKind::DecisionTree, &[("max_depth", 2.5.into())]).contains("integer"));
        assert!(err(ModelKind::Linear, &[("fit_intercept", 2.into())]).contains("bool"));
        let ok = ModelSpec::from_params(
            ModelKind::DecisionTree,
            &map(&[
                ("max_depth", 3.0.into()),
                ("split_quality", "Entropy".into()),
            ]),
        )
        .unwrap();
        assert!(
            matches!(ok, ModelSpec::DecisionTree { max_depth: Some(3), ref split_quality, .. } if split_quality == "entropy")
        );
    }

    #[test]
    fn model_names() {
        assert_eq!(
            "ElasticNet".parse::<ModelKind>().unwrap(),
            ModelKind::ElasticNet
        );
        assert_eq!(
            "decision-tree".parse::<ModelKind>().unwrap(),
            ModelKind::DecisionTree
        );
        assert!("svm".parse::<ModelKind>().is_err());
        for m in ModelKind::ALL {
            assert_eq!(m.name().parse::<ModelKind>().unwrap(), m);
        }
    }

    #[test]
    fn class_labels_must_be_non_negative_integers() {
        assert!(class_labels(&ndarray::array![0.0, 2.0]).is_ok());
        assert!(class_labels(&ndarray::array![0.0, -1.0]).is_err());
        assert!(class_labels(&ndarray::array![0.5]).is_err());
    }
}
