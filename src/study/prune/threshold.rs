//! The threshold pruner: stop a trial whose value leaves a fixed range.

use super::{first_in_interval, Curves, Pruner, PrunerError};

/// Stops a trial when its value at its last step is below `lower` or above `upper`, or is NaN
/// (Optuna's `ThresholdPruner`). A value equal to a bound is kept. No decision before step
/// `n_warmup_steps` or at a step that is not the first of its interval.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// Values below this are pruned.
    pub lower: Option<f64>,
    /// Values above this are pruned.
    pub upper: Option<f64>,
    /// Steps before which a trial is never pruned.
    pub n_warmup_steps: i64,
    /// Pruning is checked once per this many steps after the warm-up.
    pub interval_steps: i64,
}

impl Threshold {
    /// A threshold pruner with these bounds (at least one), no warm-up, every step.
    pub fn new(lower: Option<f64>, upper: Option<f64>) -> Result<Self, PrunerError> {
        Threshold {
            lower,
            upper,
            n_warmup_steps: 0,
            interval_steps: 1,
        }
        .validated()
    }

    /// Check the settings: one bound at least, numbers, lower <= upper.
    pub fn validated(self) -> Result<Self, PrunerError> {
        if self.lower.is_none() && self.upper.is_none() {
            return Err(PrunerError::new(
                "lower",
                "missing",
                "give lower, upper or both",
            ));
        }
        if let Some(l) = self.lower.filter(|l| l.is_nan()) {
            return Err(PrunerError::new("lower", l, "expected a number"));
        }
        if let Some(u) = self.upper.filter(|u| u.is_nan()) {
            return Err(PrunerError::new("upper", u, "expected a number"));
        }
        if let (Some(l), Some(u)) = (self.lower, self.upper) {
            if l > u {
                return Err(PrunerError::new("lower", l, "expected lower <= upper"));
            }
        }
        PrunerError::at_least("n_warmup_steps", self.n_warmup_steps, 0)?;
        PrunerError::at_least("interval_steps", self.interval_steps, 1)?;
        Ok(self)
    }
}

impl Pruner for Threshold {
    fn name(&self) -> &'static str {
        "threshold"
    }

    fn prune(&self, curves: &mut Curves, trial: usize) -> bool {
        let Some(curve) = curves.get(trial) else {
            return false;
        };
        let Some((step, value)) = curve.last() else {
            return false;
        };
        if step < self.n_warmup_steps
            || !first_in_interval(curve, step, self.n_warmup_steps, self.interval_steps)
        {
            return false;
        }
        value.is_nan()
            || self.lower.is_some_and(|l| value < l)
            || self.upper.is_some_and(|u| value > u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(p: &Threshold, pts: &[(i64, f64)]) -> bool {
        let mut c = Curves::new();
        for &(s, v) in pts {
            c.report(0, s, v);
        }
        p.prune(&mut c, 0)
    }

    #[test]
    fn bounds_ties_and_nan() {
        let p = Threshold::new(Some(0.0), Some(1.0)).unwrap();
        assert!(!one(&p, &[(1, 1.0)]), "equal to upper is kept");
        assert!(!one(&p, &[(1, 0.0)]), "equal to lower is kept");
        assert!(one(&p, &[(1, 1.5)]));
        assert!(one(&p, &[(1, -0.5)]));
        assert!(one(&p, &[(1, f64::NAN)]));
        assert!(!one(&p, &[]), "nothing reported");
    }

    #[test]
    fn reads_the_highest_step_whatever_the_order() {
        let p = Threshold::new(None, Some(1.0)).unwrap();
        // step 3 (ok) reported before step 2 (bad): the last step is 3
        assert!(!one(&p, &[(3, 0.5), (2, 5.0)]));
        assert!(one(&p, &[(2, 0.5), (3, 5.0)]));
    }

    #[test]
    fn warmup_and_interval() {
        let p = Threshold {
            n_warmup_steps: 3,
            interval_steps: 1,
            ..Threshold::new(None, Some(1.0)).unwrap()
        };
        assert!(!one(&p, &[(2, 5.0)]));
        assert!(one(&p, &[(3, 5.0)]));
    }

    #[test]
    fn settings() {
        assert_eq!(Threshold::new(None, None).unwrap_err().field, "lower");
        assert_eq!(
            Threshold::new(Some(2.0), Some(1.0)).unwrap_err().expected,
            "expected lower <= upper"
        );
        assert_eq!(
            Threshold::new(None, Some(f64::NAN)).unwrap_err().field,
            "upper"
        );
    }
}
