//! Which errors are the user's input (exit 2) and which are failures (exit 1).

use crate::registry::RegistryError;
use crate::space::SpaceError;
use crate::study::StudyError;
use crate::tracking::{ArtifactError, SearchError, StoreError, TrackingError};

/// An error caused by the user's input: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// The exit code for an error: 2 if it comes from the user's input, 1 otherwise.
pub fn exit_code(e: &anyhow::Error) -> i32 {
    for cause in e.chain() {
        if let Some(i) = cause.downcast_ref::<super::signals::Interrupted>() {
            return 128 + i.signal;
        }
        if cause.is::<BadInput>() || cause.is::<SpaceError>() || cause.is::<SearchError>() {
            return 2;
        }
        if let Some(s) = cause.downcast_ref::<StudyError>() {
            if !matches!(s, StudyError::AllTrialsFailed { .. }) {
                return 2;
            }
        }
        if let Some(t) = cause.downcast_ref::<TrackingError>() {
            match t {
                TrackingError::InvalidUri { .. }
                | TrackingError::NoStore { .. }
                | TrackingError::Unreachable { .. } => return 2,
                TrackingError::Store(s) if store_input(s) => return 2,
                TrackingError::Artifact(a) if artifact_input(a) => return 2,
                _ => {}
            }
        }
        if let Some(s) = cause.downcast_ref::<StoreError>() {
            if store_input(s) {
                return 2;
            }
        }
        if let Some(r) = cause.downcast_ref::<RegistryError>() {
            match r {
                RegistryError::Store(s) if !store_input(s) => {}
                RegistryError::Artifact(a) if !artifact_input(a) => {}
                RegistryError::Unsupported | RegistryError::Tracking(_) => {}
                _ => return 2,
            }
        }
        if let Some(a) = cause.downcast_ref::<ArtifactError>() {
            if artifact_input(a) {
                return 2;
            }
        }
    }
    1
}

fn store_input(s: &StoreError) -> bool {
    !matches!(
        s,
        StoreError::Busy(_)
            | StoreError::Database(_)
            | StoreError::ClaimLost { .. }
            | StoreError::Storage(_)
            | StoreError::QueuedWritesFailed { .. }
            | StoreError::SchemaTooNew { .. }
    )
}

fn artifact_input(a: &ArtifactError) -> bool {
    !matches!(a, ArtifactError::Io { .. })
}
