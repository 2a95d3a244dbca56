//! Ctrl-C, SIGTERM and SIGHUP during `hpo run`: stop the study cleanly instead of dying.
//!
//! The first signal triggers the study's [`Interrupt`]: no new trial is handed out, running
//! trials' process groups get SIGTERM (SIGKILL after the grace period) and are recorded KILLED,
//! the study run ends KILLED, everything is committed, the best-so-far summary is printed, and
//! hpo exits with 128 + the signal's number (130 for Ctrl-C). A second signal escalates: running
//! trials are killed at once, and if the study has not ended [`HARD_EXIT_AFTER`] later (an
//! objective in this process that does not stop), queued writes are committed and hpo exits.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

use crate::study::Interrupt;

/// How long after a second signal hpo waits for the study to end before it exits anyway.
pub const HARD_EXIT_AFTER: Duration = Duration::from_secs(3);

/// Stopped by a signal: the exit code is 128 + its number.
#[derive(Clone, Copy, Debug, thiserror::Error)]
#[error("interrupted by {name}")]
pub struct Interrupted {
    /// The signal's number.
    pub signal: i32,
    /// Its name.
    pub name: &'static str,
}

/// Watches for the signals while a study runs; dropping it stops watching.
pub struct SignalWatch {
    handle: Handle,
    thread: Option<JoinHandle<()>>,
    first: Arc<Mutex<Option<i32>>>,
}

fn name(sig: i32) -> &'static str {
    match sig {
        SIGINT => "SIGINT (Ctrl-C)",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

impl SignalWatch {
    /// Start watching: signals trigger `interrupt`; `hard_exit` runs (commit, clean up) before
    /// hpo exits on its own after a second signal.
    pub fn start(
        interrupt: Interrupt,
        hard_exit: impl Fn() + Send + 'static,
    ) -> std::io::Result<SignalWatch> {
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        let handle = signals.handle();
        let first = Arc::new(Mutex::new(None));
        let seen = first.clone();
        let thread = std::thread::Builder::new()
            .name("hpo-signals".into())
            .spawn(move || {
                for sig in signals.forever() {
                    if let Ok(mut f) = seen.lock() {
                        f.get_or_insert(sig);
                    }
                    if !interrupt.is_triggered() {
                        eprintln!(
                            "\n{} received: stopping the study; running trials are terminated and recorded KILLED (send it again to kill them at once)",
                            name(sig)
                        );
                        interrupt.trigger(name(sig));
                    } else {
                        eprintln!("\n{} received again: killing running trials now", name(sig));
                        interrupt.escalate(name(sig));
                        std::thread::sleep(HARD_EXIT_AFTER);
                        eprintln!("the study did not end in time; committing and exiting");
                        hard_exit();
                        std::process::exit(128 + sig);
                    }
                }
            })?;
        Ok(SignalWatch {
            handle,
            thread: Some(thread),
            first,
        })
    }

    /// The first signal received, if any.
    pub fn received(&self) -> Option<Interrupted> {
        self.first
            .lock()
            .ok()
            .and_then(|f| *f)
            .map(|signal| Interrupted {
                signal,
                name: name(signal),
            })
    }
}

impl Drop for SignalWatch {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(t) = self.thread.take() {
            // the thread may be sleeping before a hard exit; do not wait for it then
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}
