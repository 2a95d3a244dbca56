//! The data of the compare page, built from the runs to compare (all trials of a study, or runs
//! picked by hand): for each finished run with a finite metric its number, name, metric and params,
//! and for each param how to draw it: on a numeric axis (linear, or logarithmic when its values are
//! all positive and span at least [`LOG_SPAN`]) or on a categorical axis (any value that is not a
//! finite number). The parameter importance of the same runs comes along, so the page needs one
//! request. A choice's option index that the option's own constants name is left out (see
//! [`super::choice_index`]), so each choice is one param.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::choice_index::redundant_indices;
use super::importance::{importance, too_few, Sample};
use crate::tracking::recorder::{TAG_DISTRIBUTIONS, TAG_TRIAL_NUMBER};
use crate::tracking::{Run, RunStatus};

/// A numeric param whose largest value is at least this many times its smallest (all positive) is
/// drawn on a log axis by default.
pub const LOG_SPAN: f64 = 100.0;

/// One run on the compare page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareTrial {
    /// The run's id.
    pub run_id: String,
    /// The run's name (its id when unnamed).
    pub name: String,
    /// Its trial number (`hpo.trialNumber`) when every compared run has a distinct one, else its
    /// place among them by start time.
    pub number: i64,
    /// The compared metric.
    pub value: f64,
    /// Params as logged.
    pub params: BTreeMap<String, String>,
}

/// How a param is drawn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamAxis {
    /// The param's key.
    pub key: String,
    /// `numeric` or `categorical`.
    pub kind: &'static str,
    /// Whether a log axis fits it: its distribution is log-scaled (`loguniform`, `qloguniform`,
    /// `lognormal`, `qlognormal`) when the study recorded it, else its values are positive and
    /// span at least [`LOG_SPAN`].
    pub log: bool,
    /// The param's distribution as the study recorded it (`uniform`, `choice`, ...), if known.
    pub distribution: Option<String>,
    /// The distinct values of a categorical param, sorted; empty for a numeric one.
    pub categories: Vec<String>,
}

/// Everything the compare page draws.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareData {
    /// The compared metric (lower is better).
    pub metric: String,
    /// How many runs were asked for, finished or not.
    pub total: usize,
    /// The finished runs with a finite metric, by number.
    pub trials: Vec<CompareTrial>,
    /// One axis per param of those runs, by key.
    pub params: Vec<ParamAxis>,
    /// Each param's importance for the metric, most important first, summing to 1 (or all 0);
    /// empty when there are too few trials (see [`super::importance::MIN_TRIALS`]).
    pub importance: Vec<Importance>,
    /// Why `importance` is empty although params were compared, else `None`.
    pub importance_note: Option<String>,
}

/// One param's importance (see [`super::importance`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Importance {
    /// The param's key.
    pub param: String,
    /// Its share of the importance, in `[0, 1]`.
    pub value: f64,
}

/// The distribution of each param label, from a study run's `hpo.distributions` tag.
pub type Distributions = BTreeMap<String, String>;

/// Reads the `hpo.distributions` tag of `study`, `None` when absent or unreadable.
pub fn distributions_of(study: &Run) -> Option<Distributions> {
    serde_json::from_str(study.data.tag(TAG_DISTRIBUTIONS)?).ok()
}

/// Whether a distribution draws on a log scale.
pub fn is_log_distribution(name: &str) -> bool {
    matches!(
        name,
        "loguniform" | "qloguniform" | "lognormal" | "qlognormal"
    )
}

/// Builds the compare data of `runs` for `metric`; `distributions` (the study's, when known)
/// choose the log axes of the params they name.
pub fn compare(
    mut runs: Vec<Run>,
    metric: &str,
    distributions: Option<&Distributions>,
) -> CompareData {
    let total = runs.len();
    runs.sort_by(|a, b| {
        a.info
            .start_time
            .cmp(&b.info.start_time)
            .then_with(|| a.info.run_id.cmp(&b.info.run_id))
    });
    let mut trials = Vec::new();
    // trial numbers are used when every run has a distinct one (trials of one study)
    let mut numbered = true;
    let mut seen = BTreeSet::new();
    for (place, run) in runs.into_iter().enumerate() {
        if run.info.status != RunStatus::Finished {
            continue;
        }
        let Some(value) = run.data.metric(metric).map(|m| m.latest) else {
            continue;
        };
        if !value.is_finite() {
            continue;
        }
        let number = run.data.tag(TAG_TRIAL_NUMBER).and_then(|n| n.parse().ok());
        let name = if run.info.run_name.is_empty() {
            run.info.run_id.clone()
        } else {
            run.info.run_name.clone()
        };
        numbered &= number.is_some_and(|n| seen.insert(n));
        trials.push(CompareTrial {
            run_id: run.info.run_id,
            name,
            number: number.unwrap_or(place as i64),
            value,
            params: run
                .data
                .params
                .into_iter()
                .map(|p| (p.key, p.value))
                .collect(),
        });
    }
    // a choice's option index named by the option's constants is counted once, through them
    let redundant = redundant_indices(trials.iter().map(|t| &t.params));
    if !redundant.is_empty() {
        for t in &mut trials {
            t.params.retain(|k, _| !redundant.contains(k));
        }
    }
    if numbered {
        trials.sort_by_key(|t| t.number);
    } else {
        for (i, t) in trials.iter_mut().enumerate() {
            t.number = i as i64;
        }
    }
    let params = axes(&trials, distributions);
    let samples: Vec<Sample> = trials
        .iter()
        .map(|t| Sample {
            params: t.params.clone(),
            value: t.value,
        })
        .collect();
    let importance_note = if params.is_empty() {
        None
    } else {
        too_few(samples.len())
    };
    let importance = if importance_note.is_some() {
        Vec::new()
    } else {
        importance(&samples)
            .into_iter()
            .map(|(param, value)| Importance { param, value })
            .collect()
    };
    CompareData {
        metric: metric.to_string(),
        total,
        trials,
        params,
        importance,
        importance_note,
    }
}

/// One axis per param key of `trials`; a param named in `distributions` is on a log axis exactly
/// when its distribution is log-scaled (and its values are positive), others by their values.
pub fn axes(trials: &[CompareTrial], distributions: Option<&Distributions>) -> Vec<ParamAxis> {
    let mut values: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for t in trials {
        for (k, v) in &t.params {
            values.entry(k).or_default().push(v);
        }
    }
    values
        .into_iter()
        .map(|(key, vals)| {
            let distribution = distributions.and_then(|d| d.get(key)).cloned();
            let nums: Option<Vec<f64>> = vals
                .iter()
                .map(|v| v.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
                .collect();
            match nums {
                Some(nums) => {
                    let lo = nums.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = nums.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let log = match &distribution {
                        Some(d) => is_log_distribution(d) && lo > 0.0,
                        None => lo > 0.0 && hi / lo >= LOG_SPAN,
                    };
                    ParamAxis {
                        key: key.to_string(),
                        kind: "numeric",
                        log,
                        distribution,
                        categories: Vec::new(),
                    }
                }
                None => ParamAxis {
                    key: key.to_string(),
                    kind: "categorical",
                    log: false,
                    distribution,
                    categories: vals
                        .into_iter()
                        .map(str::to_string)
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect(),
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(number: i64, params: &[(&str, &str)]) -> CompareTrial {
        CompareTrial {
            run_id: format!("r{number}"),
            name: format!("trial-{number}"),
            number,
            value: number as f64,
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn numbers_strings_and_wide_positive_ranges_get_their_axes() {
        let trials = [
            trial(0, &[("lr", "0.00001"), ("x", "-1"), ("kind", "a")]),
            trial(1, &[("lr", "0.1"), ("x", "2"), ("kind", "b")]),
            trial(2, &[("lr", "0.003"), ("kind", "1.5")]),
            trial(3, &[("x", "inf"), ("flag", "true")]),
        ];
        let axes = axes(&trials, None);
        let get = |k: &str| axes.iter().find(|a| a.key == k).unwrap();
        assert_eq!(get("lr").kind, "numeric");
        assert!(get("lr").log);
        // "inf" is not a finite number: x becomes categorical
        assert_eq!(get("x").kind, "categorical");
        assert_eq!(get("x").categories, ["-1", "2", "inf"]);
        assert_eq!(get("kind").categories, ["1.5", "a", "b"]);
        assert_eq!(get("flag").kind, "categorical");
        let narrow = axes_of(&[("a", "1"), ("a", "99")]);
        assert!(!narrow[0].log, "a span under LOG_SPAN stays linear");
        let wide = axes_of(&[("a", "1"), ("a", "100")]);
        assert!(wide[0].log);
        let signed = axes_of(&[("a", "-1"), ("a", "1000")]);
        assert!(!signed[0].log, "a non-positive value rules out a log axis");
    }

    fn axes_of(values: &[(&str, &str)]) -> Vec<ParamAxis> {
        let trials: Vec<CompareTrial> = values
            .iter()
            .enumerate()
            .map(|(i, kv)| trial(i as i64, &[*kv]))
            .collect();
        axes(&trials, None)
    }

    #[test]
    fn a_recorded_distribution_decides_the_log_axis() {
        let trials: Vec<CompareTrial> = [("0.001", "0.01"), ("0.9", "0.02")]
            .iter()
            .enumerate()
            .map(|(i, (a, b))| trial(i as i64, &[("l1_ratio", a), ("lr", b)]))
            .collect();
        let d: Distributions = [("l1_ratio", "uniform"), ("lr", "loguniform")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let guessed = axes(&trials, None);
        assert!(guessed[0].log && !guessed[1].log, "{guessed:?}");
        let known = axes(&trials, Some(&d));
        assert!(!known[0].log, "uniform stays linear whatever its values");
        assert!(known[1].log, "loguniform is logarithmic whatever its span");
        assert_eq!(known[1].distribution.as_deref(), Some("loguniform"));
    }
}
