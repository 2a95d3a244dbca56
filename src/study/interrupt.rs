//! Stopping a study from outside while trials run: the [`Interrupt`] handle.
//!
//! A program (the `hpo` command line on Ctrl-C, SIGTERM or SIGHUP; a library user from any
//! thread) triggers the interrupt with a reason. The study then hands out no new trial and ends
//! with [`StopReason::Interrupted`](super::StopReason::Interrupted) once the trials in flight
//! have returned. Objectives see it through
//! [`TrialContext::interrupted`](super::TrialContext::interrupted): the command objective
//! terminates its process group (SIGTERM, then SIGKILL after the grace period) and reports the
//! trial KILLED with the reason. [`Interrupt::escalate`] (a second Ctrl-C) asks for the same
//! without the grace period.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

type Listener = Arc<dyn Fn() + Send + Sync>;

#[derive(Default)]
struct State {
    reason: Option<String>,
    urgent: bool,
    listeners: Vec<(u64, Listener)>,
}

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    next_id: AtomicU64,
}

/// A cloneable request to stop a study (see the module documentation).
#[derive(Clone, Default)]
pub struct Interrupt(Arc<Inner>);

/// Keeps a listener registered with [`Interrupt::subscribe`]; dropping it unregisters it.
pub struct Subscription {
    interrupt: Interrupt,
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.interrupt
            .lock()
            .listeners
            .retain(|(id, _)| *id != self.id);
    }
}

impl Interrupt {
    /// A handle that has not been triggered.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // listeners never panic while the lock is held; recover the state if one did
        self.0.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn notify(&self) {
        // listeners are called without the lock held, so they may read the interrupt
        let listeners: Vec<Listener> = self
            .lock()
            .listeners
            .iter()
            .map(|(_, l)| l.clone())
            .collect();
        for listener in listeners {
            listener();
        }
    }

    /// Ask the study to stop: no new trial is handed out, running trials are stopped. The first
    /// reason is kept; later calls only notify again.
    pub fn trigger(&self, reason: impl Into<String>) {
        {
            let mut state = self.lock();
            if state.reason.is_none() {
                state.reason = Some(reason.into());
            }
        }
        self.notify();
    }

    /// Ask for running trials to be stopped at once, without a grace period (triggers the
    /// interrupt too if it was not).
    pub fn escalate(&self, reason: impl Into<String>) {
        {
            let mut state = self.lock();
            state.urgent = true;
            if state.reason.is_none() {
                state.reason = Some(reason.into());
            }
        }
        self.notify();
    }

    /// The reason given when the interrupt was triggered, if it was.
    pub fn reason(&self) -> Option<String> {
        self.lock().reason.clone()
    }

    /// Whether the interrupt was triggered.
    pub fn is_triggered(&self) -> bool {
        self.lock().reason.is_some()
    }

    /// Whether running trials should be stopped without a grace period.
    pub fn is_urgent(&self) -> bool {
        self.lock().urgent
    }

    /// Call `listener` (on the triggering thread) at each trigger or escalation, until the
    /// returned [`Subscription`] is dropped. It must not block.
    pub fn subscribe(&self, listener: impl Fn() + Send + Sync + 'static) -> Subscription {
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().listeners.push((id, Arc::new(listener)));
        Subscription {
            interrupt: self.clone(),
            id,
        }
    }
}

impl std::fmt::Debug for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("Interrupt")
            .field("reason", &state.reason)
            .field("urgent", &state.urgent)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn first_reason_kept_listeners_called_until_dropped() {
        let i = Interrupt::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let sub = i.subscribe(move || {
            c.fetch_add(1, Ordering::SeqCst);
        });
        assert!(!i.is_triggered());
        i.trigger("SIGINT");
        i.trigger("SIGTERM");
        assert_eq!(i.reason().as_deref(), Some("SIGINT"));
        assert!(!i.is_urgent());
        i.escalate("again");
        assert!(i.is_urgent());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        drop(sub);
        i.trigger("x");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}
