//! The `oracle` pruner of `hpo bench`: a reference no real pruner can beat, for reading how far
//! a pruner is from what its problem allows. It knows every trial's final value in advance (the
//! benchmark runs the curve to its end first), keeps a trial only when that value will be below
//! the best completed trial's plus a tolerance, stops the others at the end of the warm-up, and
//! tells the sampler each stopped trial's true final value (as the [`crate::trial::FORECAST`]
//! metric), so TPE ranks it as if it had completed. Only a benchmark can know this: it is not a
//! pruner of run files or of the library.

use std::sync::atomic::{AtomicU64, Ordering};

/// The oracle's settings and the best final value completed so far in one study.
#[derive(Debug)]
pub struct Oracle {
    /// A trial runs on when its final value will be below the best completed one plus this.
    pub tolerance: f64,
    /// The step at which the oracle stops a trial (the default pruner's warm-up: 4).
    pub n_warmup_steps: i64,
    /// The best completed final value (as bits of an `f64`; infinity before any completed).
    best: AtomicU64,
}

impl Oracle {
    /// An oracle with `tolerance` (at least 0) stopping at step `n_warmup_steps` (at least 1).
    pub fn new(tolerance: f64, n_warmup_steps: i64) -> Result<Oracle, String> {
        if !(tolerance.is_finite() && tolerance >= 0.0) {
            return Err(format!(
                "oracle: tolerance = {tolerance} must be a number at least 0"
            ));
        }
        if n_warmup_steps < 1 {
            return Err(format!(
                "oracle: n_warmup_steps = {n_warmup_steps} must be at least 1"
            ));
        }
        Ok(Oracle {
            tolerance,
            n_warmup_steps,
            best: AtomicU64::new(f64::INFINITY.to_bits()),
        })
    }

    /// Whether a trial that will end at `final_value` is stopped at `step`. Before any trial
    /// completed, none is; a NaN final value always is.
    pub fn stops(&self, step: i64, final_value: f64) -> bool {
        let best = f64::from_bits(self.best.load(Ordering::Relaxed));
        let runs_on = final_value < best + self.tolerance;
        step == self.n_warmup_steps && best.is_finite() && !runs_on
    }

    /// Record a completed trial's final value.
    pub fn completed(&self, final_value: f64) {
        let _ = self
            .best
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                (final_value < f64::from_bits(bits)).then(|| final_value.to_bits())
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_the_warm_up_what_will_not_come_within_the_tolerance_of_the_best() {
        let o = Oracle::new(0.125, 4).unwrap();
        // nothing completed: every trial runs
        assert!(!o.stops(4, 5.0));
        o.completed(1.0);
        o.completed(0.5);
        o.completed(0.75); // not a new best
        assert!(o.stops(4, 0.7));
        assert!(o.stops(4, 0.625)); // exactly best + tolerance: not below it
        assert!(!o.stops(4, 0.6));
        assert!(!o.stops(4, 0.2));
        assert!(o.stops(4, f64::NAN));
        // only at the warm-up step
        assert!(!o.stops(3, 0.9));
        assert!(!o.stops(5, 0.9));
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(Oracle::new(-0.1, 4).is_err());
        assert!(Oracle::new(f64::NAN, 4).is_err());
        assert!(Oracle::new(0.0, 0).is_err());
        assert!(Oracle::new(0.0, 1).is_ok());
    }
}
