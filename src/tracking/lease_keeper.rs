//! [`LeaseKeeper`]: an fmin observer that holds a study's [lease](super::lease) while the study
//! runs, stops the study if the lease is lost, and releases it at the study's end.

use std::time::Duration;

use super::lease::{Lease, LeaseHolder};
use super::{RecorderHandle, Tracker};
use crate::study::{Control, Observer, StopReason, StudyInfo};
use crate::trial::Trial;

/// Holds a study's lease for the length of a study. Add it after the [`Recorder`](super::Recorder)
/// it goes with, so that it starts after the study run exists and releases after its last write.
pub struct LeaseKeeper {
    state: State,
}

enum State {
    /// A new study: its run is created by the recorder with this holder's tag.
    Pending {
        tracker: Tracker,
        handle: RecorderHandle,
        holder: LeaseHolder,
        ttl: Duration,
    },
    Held(Lease),
    Released,
}

impl LeaseKeeper {
    /// Keeps a lease already claimed (a resumed study, see [`Lease::acquire`]).
    pub fn held(lease: Lease) -> LeaseKeeper {
        LeaseKeeper {
            state: State::Held(lease),
        }
    }

    /// Keeps the lease of the new study run that the recorder behind `handle` creates; that
    /// recorder must be given `holder`'s [tag](LeaseHolder::tag) as a study tag.
    pub fn for_new_study(
        tracker: &Tracker,
        handle: RecorderHandle,
        holder: LeaseHolder,
        ttl: Duration,
    ) -> LeaseKeeper {
        LeaseKeeper {
            state: State::Pending {
                tracker: tracker.clone(),
                handle,
                holder,
                ttl,
            },
        }
    }
}

impl Observer for LeaseKeeper {
    fn on_study_start(&mut self, _info: &StudyInfo<'_>) {
        let state = std::mem::replace(&mut self.state, State::Released);
        self.state = match state {
            State::Pending {
                tracker,
                handle,
                holder,
                ttl,
            } => match handle.study_run_id() {
                Some(run) => State::Held(Lease::adopt(&tracker, &run, holder, ttl)),
                // the recorder could not create the study run: nothing to hold
                None => State::Released,
            },
            other => other,
        };
    }

    fn on_trial_end(&mut self, _trial: &Trial, _trials: &[Trial]) -> Control {
        match &self.state {
            State::Held(lease) if lease.is_lost() => Control::Stop(format!(
                "another process took over the lease of study run {}",
                lease.run_id()
            )),
            _ => Control::Continue,
        }
    }

    fn on_study_end(&mut self, _trials: &[Trial], _reason: &StopReason) {
        if let State::Held(lease) = std::mem::replace(&mut self.state, State::Released) {
            // a lease that cannot be deleted expires on its own
            let _ = lease.release();
        }
    }
}
