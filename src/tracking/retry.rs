//! Trying a store call again while the database is out of reach (a PostgreSQL restart, a network
//! cut, a busy SQLite file): [`retrying`], with backoff from 50 ms to 5 s, for the errors that say
//! so ([`Transient`]).

use std::time::{Duration, Instant};

use super::StoreError;

/// An error that may go away if the call is made again later.
pub trait Transient {
    /// Whether the call failed only because the database was out of reach or busy.
    fn is_transient(&self) -> bool;
}

impl Transient for StoreError {
    fn is_transient(&self) -> bool {
        matches!(self, StoreError::Busy(_))
    }
}

/// Runs `f` again while it fails with a [`Transient`] error, backing off from 50 ms to 5 s, for
/// at most `patience`; then returns its last result.
pub fn retrying<T, E: Transient>(
    patience: Duration,
    mut f: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        match f() {
            Err(e) if e.is_transient() && start.elapsed() < patience => {
                let left = patience.saturating_sub(start.elapsed());
                std::thread::sleep(pause.min(left));
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            other => return other,
        }
    }
}
