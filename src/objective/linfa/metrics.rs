//! Scores of predictions against the truth: RMSE, MAE, R² and accuracy.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::LinfaError;

/// The metric a study optimizes.
///
/// The loss handed to the optimizer (which minimizes) is the metric itself for
/// [`Metric::Rmse`] and [`Metric::Mae`], and **minus** the metric for [`Metric::R2`] and
/// [`Metric::Accuracy`] (higher is better for those).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Root mean squared error (lower is better).
    Rmse,
    /// Mean absolute error (lower is better).
    Mae,
    /// Coefficient of determination R² (higher is better; the loss is `-r2`).
    R2,
    /// Fraction of rows whose prediction, rounded to the nearest integer, equals the target
    /// (the classification accuracy for class labels; higher is better; the loss is
    /// `-accuracy`).
    Accuracy,
}

impl Metric {
    /// Every metric, in the order they are reported.
    pub const ALL: [Metric; 4] = [Metric::Rmse, Metric::Mae, Metric::R2, Metric::Accuracy];

    /// The metrics that fit a task: `rmse`, `mae` and `r2` for a regression, `accuracy` for a
    /// classification (on a regression, rounded predictions rarely equal the target, so an
    /// accuracy there is noise).
    pub fn for_task(classifier: bool) -> &'static [Metric] {
        if classifier {
            &[Metric::Accuracy]
        } else {
            &[Metric::Rmse, Metric::Mae, Metric::R2]
        }
    }

    /// The metric's name (`rmse`, `mae`, `r2`, `accuracy`).
    pub fn name(self) -> &'static str {
        match self {
            Metric::Rmse => "rmse",
            Metric::Mae => "mae",
            Metric::R2 => "r2",
            Metric::Accuracy => "accuracy",
        }
    }

    /// True when higher values are better (R², accuracy).
    pub fn higher_is_better(self) -> bool {
        matches!(self, Metric::R2 | Metric::Accuracy)
    }

    /// The loss to minimize for a value of this metric.
    pub fn loss(self, value: f64) -> f64 {
        if self.higher_is_better() {
            -value
        } else {
            value
        }
    }

    /// The value of this metric in a set of scores.
    pub fn of(self, s: &Scores) -> f64 {
        match self {
            Metric::Rmse => s.rmse,
            Metric::Mae => s.mae,
            Metric::R2 => s.r2,
            Metric::Accuracy => s.accuracy,
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Metric {
    type Err = LinfaError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Metric::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| LinfaError::UnknownMetric(s.to_string()))
    }
}

/// All four scores of one set of predictions (or their means over folds).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Coefficient of determination.
    pub r2: f64,
    /// Fraction of rounded predictions equal to the target.
    pub accuracy: f64,
}

impl Scores {
    /// Score `pred` against `truth` (same length, at least one row; checked by the caller).
    pub fn compute(pred: &[f64], truth: &[f64]) -> Scores {
        let n = truth.len().max(1) as f64;
        let mean = truth.iter().sum::<f64>() / n;
        let (mut sse, mut sae, mut sst, mut hits) = (0.0, 0.0, 0.0, 0usize);
        for (&p, &t) in pred.iter().zip(truth) {
            let e = p - t;
            sse += e * e;
            sae += e.abs();
            sst += (t - mean) * (t - mean);
            if p.round() == t {
                hits += 1;
            }
        }
        // a constant target: R² is 1 for a perfect fit and 0 otherwise (as scikit-learn does)
        let r2 = if sst > 0.0 {
            1.0 - sse / sst
        } else if sse == 0.0 {
            1.0
        } else {
            0.0
        };
        Scores {
            rmse: (sse / n).sqrt(),
            mae: sae / n,
            r2,
            accuracy: hits as f64 / n,
        }
    }

    /// The mean of several scores (k-fold); `None` for an empty list.
    pub fn mean(all: &[Scores]) -> Option<Scores> {
        if all.is_empty() {
            return None;
        }
        let n = all.len() as f64;
        let avg = |f: fn(&Scores) -> f64| all.iter().map(f).sum::<f64>() / n;
        Some(Scores {
            rmse: avg(|s| s.rmse),
            mae: avg(|s| s.mae),
            r2: avg(|s| s.r2),
            accuracy: avg(|s| s.accuracy),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_of_a_small_example() {
        let s = Scores::compute(&[1.0, 2.0, 4.0], &[1.0, 2.0, 3.0]);
        assert!((s.rmse - (1.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((s.mae - 1.0 / 3.0).abs() < 1e-12);
        assert!((s.r2 - 0.5).abs() < 1e-12);
        assert!((s.accuracy - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn constant_target_r2() {
        assert_eq!(Scores::compute(&[2.0, 2.0], &[2.0, 2.0]).r2, 1.0);
        assert_eq!(Scores::compute(&[1.0, 2.0], &[2.0, 2.0]).r2, 0.0);
    }

    #[test]
    fn metric_names_and_losses() {
        assert_eq!("R2".parse::<Metric>().unwrap(), Metric::R2);
        assert!("auc".parse::<Metric>().is_err());
        assert_eq!(Metric::Accuracy.loss(0.9), -0.9);
        assert_eq!(Metric::Rmse.loss(3.0), 3.0);
        let m = Scores::mean(&[
            Scores::compute(&[1.0], &[1.0]),
            Scores::compute(&[3.0], &[1.0]),
        ])
        .unwrap();
        assert_eq!(m.rmse, 1.0);
        assert_eq!(m.accuracy, 0.5);
    }
}
