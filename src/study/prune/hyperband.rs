//! Hyperband: several successive-halving brackets with different first rungs; each trial is in
//! one bracket, competes only there, and is sampled from its bracket's trials only.

use super::{Curves, Pruner, PrunerError, SuccessiveHalving};

/// How trials are split between Hyperband's brackets: a deterministic function of the trial
/// number, each bracket getting a share of trials proportional to its budget.
///
/// With `n` brackets, bracket `i` has budget `ceil(n * rf^s / (s + 1))` where `s = n - 1 - i`
/// (as Optuna computes it); trial `k` goes to the bracket where `hash(k) mod total budget` falls
/// when the budgets are laid end to end. The hash mixes the number (a 64-bit finalizer), so
/// neighbouring trials land in unrelated brackets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Brackets {
    budgets: Vec<u64>,
}

impl Brackets {
    /// The brackets for `n_brackets` brackets with reduction factor `rf` (at least 1 bracket,
    /// `rf` at least 2).
    pub fn new(n_brackets: usize, rf: i64) -> Self {
        let n = n_brackets.max(1) as u64;
        let rf = rf.max(2) as u64;
        let budgets = (0..n)
            .map(|i| {
                let s = n - 1 - i;
                let pow = u32::try_from(s)
                    .ok()
                    .and_then(|s| rf.checked_pow(s))
                    .unwrap_or(u64::MAX);
                n.saturating_mul(pow).div_ceil(s + 1)
            })
            .collect();
        Brackets { budgets }
    }

    /// Each bracket's trial allocation budget, bracket 0 first.
    pub fn budgets(&self) -> &[u64] {
        &self.budgets
    }

    /// Number of brackets.
    pub fn len(&self) -> usize {
        self.budgets.len()
    }

    /// Always false: there is at least one bracket.
    pub fn is_empty(&self) -> bool {
        self.budgets.is_empty()
    }

    /// The bracket of trial number `trial`.
    pub fn of(&self, trial: usize) -> usize {
        let total = self
            .budgets
            .iter()
            .fold(0u64, |t, b| t.saturating_add(*b))
            .max(1);
        let mut left = mix(trial as u64) % total;
        for (i, b) in self.budgets.iter().enumerate() {
            if left < *b {
                return i;
            }
            left -= b;
        }
        self.budgets.len().saturating_sub(1)
    }
}

/// A 64-bit finalizer (splitmix64's): spreads consecutive numbers over the whole range.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Hyperband (Optuna's `HyperbandPruner`, for a minimized metric).
///
/// The number of brackets is `floor(log_rf(max_resource / min_resource)) + 1` (computed on
/// integers: the largest `k` with `min_resource * rf^k <= max_resource`, plus one). Bracket `i`
/// is an ASHA ([`SuccessiveHalving`]) with `min_early_stopping_rate = i`: its first rung is at
/// step `min_resource * rf^i`. A trial goes to the bracket [`Brackets::of`] its number, climbs
/// that bracket's rungs and competes at each rung only with the trials of its bracket. The
/// sampler, too, sees only the trial's bracket ([`Pruner::sampler_brackets`]).
#[derive(Debug)]
pub struct Hyperband {
    /// Steps of the first rung of bracket 0.
    pub min_resource: i64,
    /// The step a trial is expected to run to.
    pub max_resource: i64,
    /// Each rung keeps one in this many trials (at least 2).
    pub reduction_factor: i64,
    /// Values needed at a rung before any trial is promoted from it.
    pub bootstrap_count: usize,
    brackets: Brackets,
    ashas: Vec<SuccessiveHalving>,
}

impl Hyperband {
    /// Hyperband with these settings; errors name the setting out of range.
    pub fn new(
        min_resource: i64,
        max_resource: i64,
        reduction_factor: i64,
        bootstrap_count: usize,
    ) -> Result<Self, PrunerError> {
        if min_resource < 1 {
            return Err(PrunerError::new(
                "min_resource",
                min_resource,
                "expected 1 or more",
            ));
        }
        if max_resource < min_resource {
            return Err(PrunerError::new(
                "max_resource",
                max_resource,
                "expected at least min_resource",
            ));
        }
        if reduction_factor < 2 {
            return Err(PrunerError::new(
                "reduction_factor",
                reduction_factor,
                "expected 2 or more",
            ));
        }
        let mut k = 0u32;
        let mut step = min_resource;
        while let Some(next) = step.checked_mul(reduction_factor) {
            if next > max_resource {
                break;
            }
            step = next;
            k += 1;
        }
        let n = k as usize + 1;
        let ashas = (0..=k)
            .map(|rate| {
                SuccessiveHalving::new(Some(min_resource), reduction_factor, rate, bootstrap_count)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Hyperband {
            min_resource,
            max_resource,
            reduction_factor,
            bootstrap_count,
            brackets: Brackets::new(n, reduction_factor),
            ashas,
        })
    }

    /// The brackets and how trials are split between them.
    pub fn brackets(&self) -> &Brackets {
        &self.brackets
    }
}

impl Pruner for Hyperband {
    fn name(&self) -> &'static str {
        "hyperband"
    }

    fn prune(&self, curves: &mut Curves, trial: usize) -> bool {
        let b = self.brackets.of(trial);
        match self.ashas.get(b) {
            Some(asha) => asha.prune_among(curves, trial, |n| self.brackets.of(n) == b),
            None => false,
        }
    }

    fn sampler_brackets(&self) -> Option<Brackets> {
        Some(self.brackets.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bracket_count_and_budgets_as_optuna_computes_them() {
        // 1..27, rf 3: rungs 1, 3, 9, 27 -> 4 brackets; budgets ceil(4 * 3^s / (s + 1))
        let h = Hyperband::new(1, 27, 3, 0).unwrap();
        assert_eq!(h.brackets().budgets(), &[27, 12, 6, 4]);
        // 1..100, rf 3: 81 <= 100 < 243 -> 5 brackets
        let h = Hyperband::new(1, 100, 3, 0).unwrap();
        assert_eq!(h.brackets().budgets(), &[81, 34, 15, 8, 5]);
        // min = max: one bracket, budget 1
        let h = Hyperband::new(5, 5, 2, 0).unwrap();
        assert_eq!(h.brackets().budgets(), &[1]);
        assert_eq!(h.brackets().of(12345), 0);
    }

    #[test]
    fn trials_are_split_by_number_deterministically_and_in_proportion() {
        let b = Brackets::new(4, 3); // budgets 27, 12, 6, 4 of 49
        let mut counts = [0usize; 4];
        for n in 0..49_000 {
            let i = b.of(n);
            assert_eq!(i, b.of(n), "the same number, the same bracket");
            counts[i] += 1;
        }
        for (c, budget) in counts.iter().zip([27.0, 12.0, 6.0, 4.0]) {
            let expected = 49_000.0 * budget / 49.0;
            assert!((*c as f64 - expected).abs() < 0.1 * expected, "{counts:?}");
        }
    }

    /// The first `k` trial numbers that fall in bracket `b`.
    fn in_bracket(h: &Hyperband, b: usize, k: usize) -> Vec<usize> {
        (0..).filter(|&n| h.brackets().of(n) == b).take(k).collect()
    }

    #[test]
    fn each_bracket_has_its_own_rungs_and_competes_only_within() {
        let h = Hyperband::new(1, 4, 2, 0).unwrap(); // 3 brackets: first rungs at 1, 2, 4
        assert_eq!(h.brackets().len(), 3);
        let b0 = in_bracket(&h, 0, 3);
        let b1 = in_bracket(&h, 1, 2);
        let mut c = Curves::new();
        // bracket 1's first rung is at step 2: step 1 decides nothing
        c.report(b1[0], 1, 5.0);
        assert!(!h.prune(&mut c, b1[0]));
        assert!(c.get(b1[0]).unwrap().rungs.is_empty());
        c.report(b1[0], 2, 5.0);
        assert!(!h.prune(&mut c, b1[0]), "alone in its bracket's rung");
        assert_eq!(c.get(b1[0]).unwrap().rungs, vec![5.0]);
        // bracket 0, rung at step 1: a worse value than bracket 1's trial is still alone here
        c.report(b0[0], 1, 9.0);
        assert!(!h.prune(&mut c, b0[0]), "bracket 1's values do not count");
        // rung 0 of bracket 0 holds [9, 10]: floor(2/2) = 1 promoted, 10 is pruned
        c.report(b0[1], 1, 10.0);
        assert!(h.prune(&mut c, b0[1]));
        // [9, 10, 9]: 1 promoted, the best is 9; a tie with it is promoted
        c.report(b0[2], 1, 9.0);
        assert!(!h.prune(&mut c, b0[2]));
        // bracket 1: [5, 7] -> 7 pruned
        c.report(b1[1], 2, 7.0);
        assert!(h.prune(&mut c, b1[1]));
    }

    #[test]
    fn nan_prunes_at_a_rung_and_not_between() {
        let h = Hyperband::new(1, 4, 2, 0).unwrap();
        let t = in_bracket(&h, 1, 1)[0];
        let mut c = Curves::new();
        c.report(t, 1, f64::NAN);
        assert!(
            !h.prune(&mut c, t),
            "step 1 is below bracket 1's first rung"
        );
        c.report(t, 2, f64::NAN);
        assert!(h.prune(&mut c, t));
    }

    #[test]
    fn settings() {
        assert_eq!(
            Hyperband::new(0, 9, 3, 0).unwrap_err().field,
            "min_resource"
        );
        assert_eq!(
            Hyperband::new(3, 2, 3, 0).unwrap_err().field,
            "max_resource"
        );
        assert_eq!(
            Hyperband::new(1, 9, 1, 0).unwrap_err().field,
            "reduction_factor"
        );
    }
}
