//! Successive halving, asynchronous (ASHA): trials climb rungs; at each rung only the best
//! `1 / reduction_factor` of the trials that reached it go on.

use std::sync::OnceLock;

use super::{CurveState, Curves, Pruner, PrunerError, TrialCurve};

/// Asynchronous successive halving (Optuna's `SuccessiveHalvingPruner`, for a minimized metric).
///
/// Rung `r` is reached at step `min_resource * reduction_factor^(min_early_stopping_rate + r)`.
/// When a trial's last step reaches its next rung, its value at that step is recorded for the
/// rung ([`TrialCurve::rungs`](super::TrialCurve::rungs)); it goes on only if that value is
/// among the best `floor(n / reduction_factor)` (at least one) of the `n` values recorded at the
/// rung so far by every trial, itself included (ties are promoted). A NaN value at a rung, or
/// fewer than `bootstrap_count + 1` values there, prunes. Several rungs can be climbed by one
/// report if steps were skipped.
///
/// `min_resource = None` ("auto") is estimated once, when first needed, as the highest last step
/// among completed trials divided by 100 (at least 1); until a trial completed, nothing is
/// pruned.
#[derive(Debug)]
pub struct SuccessiveHalving {
    /// Steps of the first rung (`None`: estimated, see above).
    pub min_resource: Option<i64>,
    /// Each rung keeps one in this many trials (at least 2).
    pub reduction_factor: i64,
    /// Rungs skipped at the start (the first rung is at `min_resource * rf^rate`).
    pub min_early_stopping_rate: u32,
    /// Values needed at a rung before any trial is promoted from it.
    pub bootstrap_count: usize,
    auto: OnceLock<i64>,
}

impl SuccessiveHalving {
    /// ASHA with these settings; errors name the setting out of range.
    pub fn new(
        min_resource: Option<i64>,
        reduction_factor: i64,
        min_early_stopping_rate: u32,
        bootstrap_count: usize,
    ) -> Result<Self, PrunerError> {
        if let Some(m) = min_resource.filter(|&m| m < 1) {
            return Err(PrunerError::new(
                "min_resource",
                m,
                "expected 1 or more (or \"auto\")",
            ));
        }
        if reduction_factor < 2 {
            return Err(PrunerError::new(
                "reduction_factor",
                reduction_factor,
                "expected 2 or more",
            ));
        }
        if min_early_stopping_rate > 30 {
            return Err(PrunerError::new(
                "min_early_stopping_rate",
                min_early_stopping_rate,
                "expected 0 to 30",
            ));
        }
        Ok(SuccessiveHalving {
            min_resource,
            reduction_factor,
            min_early_stopping_rate,
            bootstrap_count,
            auto: OnceLock::new(),
        })
    }

    /// Optuna's defaults: min resource auto, reduction factor 4, rate 0, no bootstrap.
    pub fn optuna_defaults() -> Self {
        SuccessiveHalving {
            min_resource: None,
            reduction_factor: 4,
            min_early_stopping_rate: 0,
            bootstrap_count: 0,
            auto: OnceLock::new(),
        }
    }

    fn min_resource(&self, curves: &Curves) -> Option<i64> {
        if let Some(m) = self.min_resource {
            return Some(m);
        }
        if let Some(m) = self.auto.get() {
            return Some(*m);
        }
        let last = curves.highest_completed_step()?;
        Some(*self.auto.get_or_init(|| (last / 100).max(1)))
    }

    /// The step at which rung `rung` is reached (saturating).
    fn rung_step(&self, min_resource: i64, rung: usize) -> i64 {
        let exp = (self.min_early_stopping_rate as u64).saturating_add(rung as u64);
        let exp = u32::try_from(exp).unwrap_or(u32::MAX);
        self.reduction_factor
            .checked_pow(exp)
            .and_then(|f| f.checked_mul(min_resource))
            .unwrap_or(i64::MAX)
    }
}

impl SuccessiveHalving {
    /// The rungs of a trial whose reports this pruner did not see (another worker's, ended or
    /// still running, read from the store; a resumed study's), as its reports in step order
    /// would have recorded them: at each rung, the value of the first step at or past it; a NaN
    /// value ends the climb, as it prunes. A curve running elsewhere is read again as it grows,
    /// so its rungs are worked out again each time.
    fn fill_rungs(&self, c: &mut TrialCurve, min_resource: i64) {
        match c.state {
            CurveState::Running => return,
            CurveState::RunningElsewhere => c.rungs.clear(),
            _ if !c.rungs.is_empty() => return,
            _ => {}
        }
        for (&step, &value) in &c.values {
            while step >= self.rung_step(min_resource, c.rungs.len()) {
                if value.is_nan() {
                    return;
                }
                c.rungs.push(value);
            }
        }
    }
}

impl Pruner for SuccessiveHalving {
    fn name(&self) -> &'static str {
        "asha"
    }

    fn prune(&self, curves: &mut Curves, trial: usize) -> bool {
        self.prune_among(curves, trial, |_| true)
    }
}

impl SuccessiveHalving {
    /// [`Pruner::prune`] where trial `trial` competes at each rung only with the trials whose
    /// numbers `in_group` accepts (Hyperband's bracket).
    pub(crate) fn prune_among(
        &self,
        curves: &mut Curves,
        trial: usize,
        in_group: impl Fn(usize) -> bool,
    ) -> bool {
        let Some((step, value)) = curves.get(trial).and_then(|c| c.last()) else {
            return false;
        };
        let Some(min_resource) = self.min_resource(curves) else {
            return false;
        };
        // trials that ended elsewhere (other workers', a resumed study's) count at their rungs
        for (_, c) in curves.iter_mut() {
            self.fill_rungs(c, min_resource);
        }
        loop {
            let rung = curves.get(trial).map_or(0, |c| c.rungs.len());
            if step < self.rung_step(min_resource, rung) {
                return false;
            }
            if value.is_nan() {
                return true;
            }
            if let Some(c) = curves.get_mut(trial) {
                c.rungs.push(value);
            }
            let mut competing: Vec<f64> = curves
                .iter()
                .filter(|(n, _)| in_group(*n))
                .filter_map(|(_, c)| c.rungs.get(rung).copied())
                .collect();
            if competing.len() <= self.bootstrap_count {
                return true;
            }
            let promotable = (competing.len() / self.reduction_factor as usize).max(1) - 1;
            competing.sort_by(f64::total_cmp);
            let threshold = competing[promotable];
            if competing.len() > 1 {
                if let Some(c) = curves.get_mut(trial) {
                    c.thresholds.insert(step, threshold);
                }
            }
            if value > threshold {
                return true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::CurveState;
    use super::*;

    fn asha(rf: i64) -> SuccessiveHalving {
        SuccessiveHalving::new(Some(1), rf, 0, 0).unwrap()
    }

    #[test]
    fn first_trial_at_a_rung_is_promoted_and_the_rest_compete() {
        let p = asha(2);
        let mut c = Curves::new();
        // rungs at steps 1, 2, 4, 8
        c.report(0, 1, 1.0);
        assert!(!p.prune(&mut c, 0), "alone at rung 0: promoted");
        assert_eq!(c.get(0).unwrap().rungs, vec![1.0]);
        c.report(1, 1, 2.0);
        // rung 0 holds [1.0, 2.0]: the best 2/2 = 1 goes on; 2.0 > 1.0
        assert!(p.prune(&mut c, 1));
        assert_eq!(
            c.get(1).unwrap().rungs,
            vec![2.0],
            "the rung it reached is recorded"
        );
        // the worst value still promoted at the rung is its threshold; alone, there is none
        assert_eq!(c.get(1).unwrap().thresholds.get(&1), Some(&1.0));
        assert!(c.get(0).unwrap().thresholds.is_empty());
        c.report(2, 1, 0.5);
        // [1.0, 2.0, 0.5]: floor(3/2) = 1 promoted: 0.5 is the best
        assert!(!p.prune(&mut c, 2));
        c.report(3, 1, 1.0);
        // [1, 2, .5, 1]: 2 promoted: sorted .5, 1, 1, 2 -> the 2nd is 1.0; a tie is promoted
        assert!(!p.prune(&mut c, 3));
    }

    /// A curve as a shared study reads another worker's finished trial: values only.
    fn ended_elsewhere(state: CurveState, values: &[(i64, f64)]) -> TrialCurve {
        let mut c = TrialCurve::new();
        c.state = state;
        c.values = values.iter().copied().collect();
        c
    }

    #[test]
    fn trials_that_ended_elsewhere_compete_at_the_rungs_they_reached() {
        let p = asha(2);
        let mut c = Curves::new();
        // rungs at steps 1, 2, 4, 8; another worker's trial reported steps 1, 3 and 8
        c.insert(
            0,
            ended_elsewhere(CurveState::Complete, &[(1, 0.5), (3, 0.4), (8, 0.2)]),
        );
        // one pruned at rung 0 elsewhere, and one whose NaN ended its climb at rung 1
        c.insert(1, ended_elsewhere(CurveState::Pruned, &[(1, 3.0)]));
        c.insert(
            2,
            ended_elsewhere(CurveState::Pruned, &[(1, 0.1), (2, f64::NAN)]),
        );
        c.report(3, 1, 1.0);
        // rung 0 holds [0.5, 3.0, 0.1, 1.0]: 2 promoted, the 2nd best is 0.5; 1.0 > 0.5
        assert!(p.prune(&mut c, 3));
        assert_eq!(c.get(0).unwrap().rungs, vec![0.5, 0.4, 0.2, 0.2]);
        assert_eq!(c.get(1).unwrap().rungs, vec![3.0]);
        assert_eq!(c.get(2).unwrap().rungs, vec![0.1]);
        assert_eq!(c.get(3).unwrap().thresholds.get(&1), Some(&0.5));
        // at rung 1 only trial 0 (0.4) is there: [0.4, 0.3] keeps one, 0.3 goes on
        c.report(4, 1, 0.05);
        assert!(!p.prune(&mut c, 4));
        c.report(4, 2, 0.3);
        assert!(!p.prune(&mut c, 4));
        c.report(5, 2, 0.45);
        // rung 0 first: [.5, 3, .1, 1, .05, .45] keeps 3 (.05, .1, .45): promoted; then rung 1
        // holds [.4, .3, .45]: keeps 1 (.3); .45 is pruned there
        assert!(p.prune(&mut c, 5));
        // a trial running in this process has no rungs filled in: its reports record them
        c.insert(6, ended_elsewhere(CurveState::Running, &[(1, 0.0)]));
        c.report(7, 1, 9.0);
        p.prune(&mut c, 7);
        assert!(c.get(6).unwrap().rungs.is_empty());
    }

    #[test]
    fn trials_running_elsewhere_compete_at_the_rungs_they_reached_so_far() {
        let p = asha(2);
        let mut c = Curves::new();
        c.insert(
            0,
            ended_elsewhere(CurveState::RunningElsewhere, &[(1, 0.2)]),
        );
        c.report(1, 1, 0.7);
        // rung 0 holds [0.2, 0.7]: one goes on, 0.7 does not
        assert!(p.prune(&mut c, 1));
        assert_eq!(c.get(0).unwrap().rungs, vec![0.2]);
        // read again as it grew: its rungs are worked out again, not appended to
        c.insert(
            0,
            ended_elsewhere(CurveState::RunningElsewhere, &[(1, 0.2), (2, 0.15)]),
        );
        c.report(2, 2, 0.1);
        assert!(!p.prune(&mut c, 2), "0.1 is the best at rungs 0 and 1");
        assert_eq!(c.get(0).unwrap().rungs, vec![0.2, 0.15]);
        c.report(3, 2, 0.3);
        // rung 0 [0.2, 0.7, 0.1, 0.3] keeps two (0.1, 0.2): 0.3 stops there
        assert!(p.prune(&mut c, 3));
        assert_eq!(c.get(0).unwrap().rungs, vec![0.2, 0.15]);
    }

    #[test]
    fn between_rungs_no_decision_and_skipped_rungs_are_climbed() {
        let p = asha(2);
        let mut c = Curves::new();
        c.report(0, 1, 1.0);
        assert!(!p.prune(&mut c, 0));
        c.report(0, 3, 1.0);
        assert!(!p.prune(&mut c, 0), "step 3: rung 1 (step 2) climbed late");
        assert_eq!(c.get(0).unwrap().rungs.len(), 2);
        // a trial jumping straight to step 4 climbs rungs 0, 1 and 2 in one report
        c.report(1, 4, 0.1);
        assert!(!p.prune(&mut c, 1));
        assert_eq!(c.get(1).unwrap().rungs, vec![0.1, 0.1, 0.1]);
        // out of order: step 1 after step 4 changes nothing (the last step is 4)
        c.report(1, 1, 9.0);
        assert!(!p.prune(&mut c, 1));
        assert_eq!(c.get(1).unwrap().rungs.len(), 3);
    }

    #[test]
    fn nan_and_bootstrap() {
        let p = asha(2);
        let mut c = Curves::new();
        c.report(0, 1, f64::NAN);
        assert!(p.prune(&mut c, 0));
        assert!(c.get(0).unwrap().rungs.is_empty());
        let b = SuccessiveHalving::new(Some(1), 2, 0, 1).unwrap();
        let mut c = Curves::new();
        c.report(0, 1, 1.0);
        assert!(
            b.prune(&mut c, 0),
            "one value at the rung, bootstrap 1: pruned"
        );
    }

    #[test]
    fn min_resource_auto_and_early_stopping_rate() {
        let p = SuccessiveHalving::optuna_defaults();
        let mut c = Curves::new();
        c.report(0, 1, 5.0);
        assert!(!p.prune(&mut c, 0), "no completed trial: no decision");
        for s in 0..=400 {
            c.report(1, s, 1.0);
        }
        c.finish(1, CurveState::Complete);
        // min resource = 400 / 100 = 4; rungs at 4, 16, 64
        c.report(2, 3, 9.0);
        assert!(!p.prune(&mut c, 2));
        c.report(2, 4, 9.0);
        // trial 1 finished before ASHA looked: its reports count at its rungs (4, 16, 64, 256),
        // so rung 0 holds [1.0, 9.0] and keeps 1.0
        assert!(p.prune(&mut c, 2));
        assert_eq!(c.get(1).unwrap().rungs, vec![1.0; 4]);
        c.report(3, 4, 0.5);
        // [1, 9, .5] keeps the best one
        assert!(!p.prune(&mut c, 3));
        let r = SuccessiveHalving::new(Some(2), 3, 1, 0).unwrap();
        // first rung at 2 * 3^1 = 6
        let mut c = Curves::new();
        c.report(0, 5, 1.0);
        assert!(!r.prune(&mut c, 0));
        assert!(c.get(0).unwrap().rungs.is_empty());
    }

    #[test]
    fn settings() {
        assert_eq!(
            SuccessiveHalving::new(Some(1), 1, 0, 0).unwrap_err().field,
            "reduction_factor"
        );
        assert_eq!(
            SuccessiveHalving::new(Some(0), 2, 0, 0).unwrap_err().field,
            "min_resource"
        );
    }
}
