//! How `hpo run` gets hold of its study: `--resume` finds the study, claims its lease and reads
//! its trials back, or starts the study when it does not exist yet; a new study is created
//! holding its lease. See [`crate::tracking::lease`].

use super::BadInput;
use crate::space::Space;
use crate::tracking::lease::{Lease, LeaseError, LeaseHolder, DEFAULT_TTL};
use crate::tracking::resume::{self, ResumeError, ResumedStudy};
use crate::tracking::{LeaseKeeper, Recorder, Tracker};

/// A study continued by `--resume`: its trials and the lease this process now holds.
pub(super) struct Resumed {
    /// The recorded trials.
    pub study: ResumedStudy,
    /// The study's lease, held from before its trials were read.
    pub lease: Lease,
}

/// The study `--resume` continues: the latest study run named `study_name` in `experiment`,
/// leased to this process (another live holder is bad input: exit 2). `None` (with a note on
/// stderr) when there is no such experiment or study yet: the caller starts it.
pub(super) fn resume_study(
    tracker: &Tracker,
    experiment: &str,
    study_name: &str,
    space: &Space,
    metric: &str,
) -> anyhow::Result<Option<Resumed>> {
    let Some(exp) = tracker.get_experiment_by_name(experiment)? else {
        eprintln!(
            "note: --resume: no experiment '{experiment}' yet; starting study '{study_name}'"
        );
        return Ok(None);
    };
    let Some(parent) = resume::find_study(tracker, exp.experiment_id, study_name)? else {
        eprintln!(
            "note: --resume: no study '{study_name}' in experiment '{experiment}' yet; starting it"
        );
        return Ok(None);
    };
    // the lease first: only its holder may mark the study's running trials as interrupted
    let lease = Lease::acquire(tracker, &parent.info.run_id, DEFAULT_TTL).map_err(|e| match e {
        LeaseError::Tracking(t) => anyhow::Error::from(t),
        held => BadInput(format!("--resume: {held}")).into(),
    })?;
    let study = resume::load_trials(tracker, parent, space, metric).map_err(|e| match e {
        ResumeError::Tracking(e) => anyhow::Error::from(e),
        other => BadInput(format!("--resume: {other}")).into(),
    })?;
    Ok(Some(Resumed { study, lease }))
}

/// The observer that holds the study's lease while it runs: the resumed study's lease, or the
/// lease of the new study run `recorder` creates (given to it as a study tag).
pub(super) fn lease_keeper(
    tracker: &Tracker,
    recorder: Recorder,
    lease: Option<Lease>,
) -> (Recorder, LeaseKeeper) {
    match lease {
        Some(lease) => (recorder, LeaseKeeper::held(lease)),
        None => {
            let holder = LeaseHolder::this_process(DEFAULT_TTL);
            let recorder = recorder.study_tags(vec![holder.tag()]);
            let handle = recorder.handle();
            let keeper = LeaseKeeper::for_new_study(tracker, handle, holder, DEFAULT_TTL);
            (recorder, keeper)
        }
    }
}
