//! How the next trial is chosen: pure functions of (space, history, rng).
//!
//! An [`Algorithm`] reads the space and the trials so far (pending ones included) and returns the
//! raw assignment of the next trial. It does no I/O and keeps no state between calls, so a
//! study can be resumed from its trials alone and every suggestion is reproducible from the RNG,
//! which [`trial_rng`] derives from (study seed, trial number).

pub mod anneal;
pub mod random;
pub mod tpe;

use std::collections::BTreeMap;
use std::fmt;

use rand::SeedableRng;

use crate::space::{Assignment, Space, Value};
use crate::trial::HistoryView;

pub use anneal::Anneal;
pub use random::Random;
pub use tpe::Tpe;

/// The random number generator handed to an algorithm for one trial.
pub type TrialRng = rand::rngs::Xoshiro256PlusPlus;

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The RNG for trial `number` of a study seeded with `seed`: the same pair always gives the same
/// stream (Xoshiro256++, a named generator, so streams stay stable across rand versions).
pub fn trial_rng(seed: u64, number: usize) -> TrialRng {
    TrialRng::seed_from_u64(splitmix64(
        seed ^ splitmix64(number as u64 ^ 0x05EE_D0F7_A1A1),
    ))
}

/// A search algorithm: chooses the next trial's raw assignment.
pub trait Algorithm: Send + Sync + fmt::Debug {
    /// A short name (`random`, `tpe`, `tpe-hyperopt`, `anneal`).
    fn name(&self) -> String;

    /// The next assignment for `space`, given the trials so far (pending ones included).
    fn suggest(&self, space: &Space, history: &HistoryView<'_>, rng: &mut TrialRng) -> Assignment;

    /// The algorithm's settings, for recording with a study.
    fn settings(&self) -> BTreeMap<String, Value> {
        BTreeMap::new()
    }

    /// Whether the algorithm learns from the trials a pruner stopped (TPE ranks them by the
    /// pruner's forecast or by the step they reached); random search and annealing skip them.
    /// The study tells its pruner ([`crate::study::prune::Pruner::fit_sampler`]).
    fn learns_from_stopped_trials(&self) -> bool {
        false
    }
}

impl Algorithm for Box<dyn Algorithm> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn suggest(&self, space: &Space, history: &HistoryView<'_>, rng: &mut TrialRng) -> Assignment {
        (**self).suggest(space, history, rng)
    }
    fn settings(&self) -> BTreeMap<String, Value> {
        (**self).settings()
    }
    fn learns_from_stopped_trials(&self) -> bool {
        (**self).learns_from_stopped_trials()
    }
}

/// Look an algorithm up by its name: `random`, `tpe`, `tpe-hyperopt` or `anneal`.
pub fn by_name(name: &str) -> Option<Box<dyn Algorithm>> {
    match name {
        "random" | "rand" => Some(Box::new(Random)),
        "tpe" => Some(Box::new(Tpe::default())),
        "tpe-hyperopt" => Some(Box::new(Tpe::hyperopt())),
        "anneal" => Some(Box::new(Anneal::default())),
        _ => None,
    }
}

/// The names [`by_name`] knows.
pub const ALGORITHM_NAMES: [&str; 4] = ["tpe", "tpe-hyperopt", "random", "anneal"];
