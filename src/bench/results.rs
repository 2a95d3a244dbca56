//! One line of `results.jsonl`: a study of one optimizer on one problem with one seed, in the
//! format of `shared/anchors/results_b100.jsonl`, so hpo's results and hyperopt's or Optuna's
//! can be read side by side.

use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The result of one study.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultLine {
    /// The problem's name.
    pub problem: String,
    /// The optimizer (`hpo-tpe`, `hyperopt-tpe`, `optuna-tpe` ...).
    pub optimizer: String,
    /// The study's seed.
    pub seed: u64,
    /// The number of evaluations.
    pub budget: usize,
    /// The best loss after each evaluation (`null` in the file, infinity here, before the first
    /// successful one).
    #[serde(serialize_with = "ser_vec", deserialize_with = "de_vec")]
    pub best: Vec<f64>,
    /// The final best loss minus the minimum (the best loss itself when the minimum is unknown).
    #[serde(serialize_with = "ser_f64", deserialize_with = "de_f64")]
    pub regret: f64,
    /// The problem's known minimum, `null` for a problem without one (a space file).
    pub minimum: Option<f64>,
    /// Wall time of the whole study in seconds, objective included.
    pub seconds: f64,
    /// Time the algorithm spent choosing trials in the study, in seconds (absent from results
    /// made elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggest_seconds: Option<f64>,
    /// For a multi-fidelity problem: the total steps run by the study after each evaluation
    /// (absent for other problems).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<u64>>,
    /// For a study run under a budget of total steps (`hpo bench --step-budget`): that budget
    /// (absent for a study with a trial budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_budget: Option<u64>,
    /// For a pruned study run with `hpo bench --hindsight`: its stopped trials, each run on to
    /// its end afterwards to see whether stopping it lost anything (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hindsight: Option<Hindsight>,
}

/// What a pruned study's stopped trials would have ended at (`hpo bench --hindsight`): each
/// trial its pruner stopped is run on to its last step outside the study (the steps are not
/// counted, the sampler learns nothing from them) and compared with the best trial the study
/// had completed when it was stopped.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Hindsight {
    /// Trials the pruner stopped (the trial a step budget cut short is not one of them).
    pub stopped: u64,
    /// The steps at which the stopped trials that would have ended below the best completed
    /// trial's final value (scored as the study is: the noiseless value of a noisy curve) were
    /// stopped, one per such trial, in trial order.
    pub beaten_at: Vec<i64>,
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn ser_f64<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    finite(*x).serialize(s)
}

fn de_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
}

fn ser_vec<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|x| finite(*x)))
}

fn de_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    Ok(Vec::<Option<f64>>::deserialize(d)?
        .into_iter()
        .map(|x| x.unwrap_or(f64::INFINITY))
        .collect())
}

impl ResultLine {
    /// The regret after each evaluation: best-so-far minus the minimum (0 when unknown).
    pub fn regret_curve(&self) -> Vec<f64> {
        let m = self.minimum.unwrap_or(0.0);
        self.best.iter().map(|b| b - m).collect()
    }

    /// This result cut to its first `budget` evaluations (its regret recomputed), or `None` if
    /// it has fewer.
    pub fn truncated(&self, budget: usize) -> Option<ResultLine> {
        if self.best.len() < budget || budget == 0 {
            return None;
        }
        if self.best.len() == budget && self.budget == budget {
            return Some(self.clone());
        }
        let best = self.best[..budget].to_vec();
        let last = best[budget - 1];
        Some(ResultLine {
            regret: last - self.minimum.unwrap_or(0.0),
            best,
            budget,
            steps: self
                .steps
                .as_ref()
                .map(|s| s[..budget.min(s.len())].to_vec()),
            ..self.clone()
        })
    }

    /// This result cut to what its study had run within `steps` total steps (the evaluations
    /// that ended within them; its regret recomputed), or `None` if it has no step counts or ran
    /// fewer steps. A study cut this way counts as run under that step budget.
    pub fn within_steps(&self, steps: u64) -> Option<ResultLine> {
        let cum = self.steps.as_ref()?;
        if cum.last().is_none_or(|&total| total < steps) {
            return None;
        }
        let n = cum.iter().take_while(|&&s| s <= steps).count();
        let cut = if n == 0 { None } else { self.truncated(n) };
        let mut cut = cut.unwrap_or_else(|| ResultLine {
            best: Vec::new(),
            regret: f64::INFINITY,
            budget: 0,
            steps: Some(Vec::new()),
            ..self.clone()
        });
        cut.step_budget = Some(steps);
        Some(cut)
    }

    /// The line as JSON (one line, no trailing newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a result line serializes")
    }
}

/// Read a results file (one JSON object per line; blank lines skipped).
pub fn read_jsonl(path: &Path) -> Result<Vec<ResultLine>, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let r: ResultLine = serde_json::from_str(&line)
            .map_err(|e| format!("{} line {}: {e}", path.display(), i + 1))?;
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_anchor_format_and_round_trips() {
        let line = r#"{"problem": "branin", "optimizer": "hyperopt-rand", "seed": 0, "budget": 3, "best": [4.7, 4.1, 0.5], "regret": 0.102, "minimum": 0.398, "seconds": 0.342}"#;
        let r: ResultLine = serde_json::from_str(line).unwrap();
        assert_eq!(r.best, vec![4.7, 4.1, 0.5]);
        assert_eq!(r.suggest_seconds, None);
        let back: ResultLine = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(back, r);
        let t = r.truncated(2).unwrap();
        assert_eq!(t.budget, 2);
        assert!((t.regret - (4.1 - 0.398)).abs() < 1e-12);
        assert!(r.truncated(4).is_none());
        assert!(r.within_steps(10).is_none(), "no step counts");
    }

    #[test]
    fn a_cut_within_steps_keeps_the_evaluations_that_ended_within_them() {
        let line = r#"{"problem": "curves_parallel", "optimizer": "optuna-tpe+median", "seed": 0, "budget": 4, "best": [3.0, 2.0, 1.5, 1.0], "regret": 1.0, "minimum": 0.0, "seconds": 1.0, "steps": [81, 100, 181, 262]}"#;
        let r: ResultLine = serde_json::from_str(line).unwrap();
        let c = r.within_steps(181).unwrap();
        assert_eq!((c.budget, c.regret, c.step_budget), (3, 1.5, Some(181)));
        assert_eq!(c.steps.as_deref(), Some(&[81, 100, 181][..]));
        let c = r.within_steps(180).unwrap();
        assert_eq!((c.budget, c.regret), (2, 2.0));
        let c = r.within_steps(50).unwrap();
        assert_eq!((c.budget, c.regret), (0, f64::INFINITY));
        assert!(r.within_steps(263).is_none(), "ran fewer steps");
        assert!(c.to_json().contains(r#""step_budget":50"#));
    }

    #[test]
    fn infinite_values_are_null() {
        let r = ResultLine {
            problem: "p".into(),
            optimizer: "hpo-tpe".into(),
            seed: 1,
            budget: 2,
            best: vec![f64::INFINITY, 2.0],
            regret: 2.0,
            minimum: None,
            seconds: 0.5,
            suggest_seconds: Some(0.1),
            steps: None,
            step_budget: None,
            hindsight: None,
        };
        let j = r.to_json();
        assert!(!j.contains("hindsight"), "{j}");
        assert!(j.contains(r#""best":[null,2.0]"#), "{j}");
        assert!(j.contains(r#""minimum":null"#), "{j}");
        let back: ResultLine = serde_json::from_str(&j).unwrap();
        assert_eq!(back, r);
    }
}
