//! Annealing (hyperopt's `anneal.suggest`): a local search around one of the best trials, whose
//! steps shrink as a parameter gathers observations.
//!
//! For each trial a parent is drawn among the trials ranked by loss (rank `k` with probability
//! `2^-(k+1)` by default, so the best is chosen half the time); every active parameter is then
//! perturbed around the parent's value: uniform within a window of `width * s` (shifted to stay
//! inside the bounds) for bounded parameters, normal with sigma `sigma * s` for unbounded ones,
//! and for categoricals the parent's option with probability `1 - s`, else a prior draw. The
//! shrink factor is `s = 1 / (1 + shrink_coef * T)`, `T` the number of observations of the
//! parameter. Pending and failed trials rank last. A parameter the parent lacks takes its value
//! from the best-ranked trial that has it (or the prior).

use std::collections::BTreeMap;

use rand::RngExt;

use super::{Algorithm, TrialRng};
use crate::space::dist::std_normal;
use crate::space::{Assignment, ParamKind, Space, Value};
use crate::trial::{HistoryView, Observation};

/// hyperopt's annealing algorithm; its settings with hyperopt's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Anneal {
    /// Mean rank of the parent among trials sorted by loss (2.0: the best half the time).
    pub avg_best_idx: f64,
    /// How fast the search window shrinks with the number of observations (0.1).
    pub shrink_coef: f64,
}

impl Default for Anneal {
    fn default() -> Self {
        Anneal {
            avg_best_idx: 2.0,
            shrink_coef: 0.1,
        }
    }
}

impl Anneal {
    fn rank<R: rand::Rng + ?Sized>(&self, rng: &mut R, n: usize) -> usize {
        // Geometric(p) - 1 on {0, 1, ...}, clipped to n - 1
        let p = (1.0 / self.avg_best_idx).clamp(1e-9, 1.0);
        let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
        let k = if p >= 1.0 {
            0.0
        } else {
            (u.ln() / (1.0 - p).ln()).floor()
        };
        (k as usize).min(n.saturating_sub(1))
    }
}

impl Algorithm for Anneal {
    fn name(&self) -> String {
        "anneal".into()
    }

    fn settings(&self) -> BTreeMap<String, Value> {
        BTreeMap::from([
            ("avg_best_idx".to_string(), Value::Float(self.avg_best_idx)),
            ("shrink_coef".to_string(), Value::Float(self.shrink_coef)),
        ])
    }

    fn suggest(&self, space: &Space, history: &HistoryView<'_>, rng: &mut TrialRng) -> Assignment {
        // trial positions ranked by loss; pending and failed last (loss +inf), ties by position
        // (the trials are in number order, and a resumed study's numbers may have gaps);
        // pruned trials are skipped
        let mut ranked: Vec<(f64, usize)> = history
            .iter()
            .enumerate()
            .filter_map(|(i, (_, o))| match o {
                Observation::Ok(l) => Some((l, i)),
                Observation::Pruned { .. } => None,
                _ => Some((f64::INFINITY, i)),
            })
            .collect();
        ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let trials = history.trials();
        let n_obs: Vec<usize> = (0..space.len())
            .map(|i| {
                trials
                    .iter()
                    .filter(|t| t.params.assignment().is_active(i))
                    .count()
            })
            .collect();
        let mut parent: Option<usize> = if ranked.is_empty() {
            None
        } else {
            Some(ranked[self.rank(rng, ranked.len())].1)
        };
        space.build_assignment(|i, _| {
            let kind = &space.params()[i].kind;
            let has = |t: usize| trials[t].params.assignment().raw(i);
            let mut base = parent.and_then(has);
            if base.is_none() {
                // adopt a parent that has this parameter, ranked among those that do
                let with: Vec<usize> = ranked
                    .iter()
                    .map(|r| r.1)
                    .filter(|&t| has(t).is_some())
                    .collect();
                if !with.is_empty() {
                    let t = with[self.rank(rng, with.len())];
                    parent = Some(t);
                    base = has(t);
                }
            }
            let Some(base) = base else {
                return kind.sample_prior(rng);
            };
            let s = 1.0 / (1.0 + self.shrink_coef * n_obs[i] as f64);
            match kind {
                ParamKind::Numeric(n) => {
                    let x = n.to_internal(base);
                    let y = if n.uniform_prior {
                        let w = (n.high - n.low) * s;
                        let lo = (x - w / 2.0).clamp(n.low, n.high - w);
                        lo + w * rng.random::<f64>()
                    } else {
                        x + n.prior_sigma * s * std_normal(rng)
                    };
                    n.to_raw(y)
                }
                _ => {
                    if rng.random::<f64>() < 1.0 - s {
                        base
                    } else {
                        kind.sample_prior(rng)
                    }
                }
            }
        })
    }
}
