//! The study lease: at most one process runs a given study at a time.
//!
//! Until studies can be shared between processes, two processes continuing the same study would
//! hand out the same trial numbers and mark each other's running trials as interrupted. So a
//! process runs a study only while it holds the study's lease, a tag on the study run:
//!
//! - **The tag.** `hpo.lease` holds the holder as JSON: its host name, its process id, a random
//!   token (unique to this lease), and the time (Unix milliseconds) the lease expires.
//! - **Claim.** A process reads the tag. If it is absent, unreadable, expired, or held by a process
//!   of the same host that no longer exists (a crashed holder), the process writes its own value
//!   with a compare-and-set ([`Tracker::compare_and_set_tag`]: one write transaction that replaces
//!   the tag only if it still holds the value read). If another process changed the tag in
//!   between, the set fails and the claim starts over from the read. A live, unexpired lease of
//!   another process is refused with [`LeaseError::Held`], naming the study run and the holder.
//!   A new study run is created with its lease tag already set ([`LeaseHolder::tag`]), so it is
//!   never visible unleased.
//! - **Renewal.** While it holds the lease, a background thread moves the expiry forward every
//!   third of the lease's time to live, again by compare-and-set against the value it last
//!   wrote. A set that fails means another process took the lease over (this one was seen as
//!   expired, e.g. suspended for longer than the time to live): the lease is then lost
//!   ([`Lease::is_lost`]) and the holder must stop handing out trials.
//! - **Release.** At the study's end (or when the [`Lease`] is dropped), the renewal stops and the
//!   tag is deleted, again only if it still holds this process's value.
//!
//! A crashed holder on the same host is detected at once (its process id no longer exists); one
//! on another host, or whose process id was reused, blocks the study until the lease expires
//! ([`DEFAULT_TTL`] after its last renewal). Expiry compares wall clocks, so hosts sharing a
//! store should keep their clocks in sync to within a fraction of the time to live.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::store::now_ms;
use super::{RunId, RunTag, Tracker, TrackingError};

/// The study run's tag that holds its lease.
pub const TAG_LEASE: &str = "hpo.lease";

/// How long a lease lasts without renewal (it is renewed every third of this while held).
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);

/// How many times a claim re-reads the tag after losing a compare-and-set race.
const CLAIM_ATTEMPTS: usize = 5;

/// Who holds a lease, and until when: the value of the `hpo.lease` tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseHolder {
    /// The holder's host name.
    pub host: String,
    /// The holder's process id.
    pub pid: u32,
    /// A random token unique to this lease.
    pub token: String,
    /// When the lease expires unless renewed (Unix milliseconds).
    pub expires_ms: i64,
}

impl LeaseHolder {
    /// A lease held by this process, expiring `ttl` from now.
    pub fn this_process(ttl: Duration) -> LeaseHolder {
        LeaseHolder {
            host: this_host(),
            pid: std::process::id(),
            token: format!("{:016x}", rand::random::<u64>()),
            expires_ms: expiry(ttl),
        }
    }

    /// The tag to create a new study run with, so that it is leased from its first write.
    pub fn tag(&self) -> RunTag {
        RunTag::new(TAG_LEASE, self.value())
    }

    /// The tag's value (JSON).
    pub fn value(&self) -> String {
        // a struct of strings and integers always serializes
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a tag value; `None` if it is not a lease.
    pub fn parse(value: &str) -> Option<LeaseHolder> {
        serde_json::from_str(value).ok()
    }

    /// Whether another process may take this lease over at `now_ms` on host `host`: it expired,
    /// or its holder was a process of `host` that no longer exists.
    pub fn is_stale(&self, now_ms: i64, host: &str) -> bool {
        self.expires_ms <= now_ms || (self.host == host && !process_exists(self.pid))
    }
}

impl fmt::Display for LeaseHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let left = (self.expires_ms - now_ms()).max(0) as f64 / 1000.0;
        write!(
            f,
            "process {} on host '{}' (its lease expires in {left:.0} s unless renewed)",
            self.pid, self.host
        )
    }
}

/// Why a lease could not be claimed.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Another live process holds the study's lease.
    #[error("study run {run_id} is being run by {holder}; only one process may run a study at a time: wait for it to end, or stop it")]
    Held {
        /// The study run.
        run_id: RunId,
        /// Who holds it.
        holder: LeaseHolder,
    },
    /// Reading or writing the store failed.
    #[error(transparent)]
    Tracking(#[from] TrackingError),
}

/// A held study lease, renewed in the background until released or dropped.
pub struct Lease {
    shared: Arc<Shared>,
    stop: Option<mpsc::Sender<()>>,
    renewer: Option<JoinHandle<()>>,
}

struct Shared {
    tracker: Tracker,
    run_id: RunId,
    /// The value this process last wrote.
    current: Mutex<LeaseHolder>,
    ttl: Duration,
    lost: AtomicBool,
}

impl Shared {
    fn current(&self) -> LeaseHolder {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// One renewal; false when the lease was taken over (or expired while the store failed).
    fn renew(&self) -> bool {
        let old = self.current();
        let new = LeaseHolder {
            expires_ms: expiry(self.ttl),
            ..old.clone()
        };
        let set = self.tracker.compare_and_set_tag(
            &self.run_id,
            TAG_LEASE,
            Some(&old.value()),
            Some(&new.value()),
        );
        match set {
            Ok(true) => {
                *self.current.lock().unwrap_or_else(|e| e.into_inner()) = new;
                true
            }
            Ok(false) => false,
            // a busy or failing store: try again at the next tick, unless the lease ran out
            Err(_) => old.expires_ms > now_ms(),
        }
    }
}

impl Lease {
    /// Claims the lease of study run `run_id` for this process (see the module documentation),
    /// lasting `ttl` between renewals, and starts renewing it.
    pub fn acquire(tracker: &Tracker, run_id: &str, ttl: Duration) -> Result<Lease, LeaseError> {
        let host = this_host();
        let mut last_seen = None;
        for _ in 0..CLAIM_ATTEMPTS {
            let run = tracker.get_run(run_id)?;
            let seen = run.data.tag(TAG_LEASE).map(str::to_string);
            let holder = seen.as_deref().and_then(LeaseHolder::parse);
            if let Some(h) = holder.as_ref().filter(|h| !h.is_stale(now_ms(), &host)) {
                return Err(LeaseError::Held {
                    run_id: run_id.to_string(),
                    holder: h.clone(),
                });
            }
            let mine = LeaseHolder::this_process(ttl);
            if tracker.compare_and_set_tag(
                run_id,
                TAG_LEASE,
                seen.as_deref(),
                Some(&mine.value()),
            )? {
                return Ok(Lease::adopt(tracker, run_id, mine, ttl));
            }
            last_seen = holder;
        }
        // lost every race: someone else keeps claiming it
        let holder = last_seen.unwrap_or_else(|| LeaseHolder {
            host: "unknown".into(),
            pid: 0,
            token: String::new(),
            expires_ms: now_ms(),
        });
        Err(LeaseError::Held {
            run_id: run_id.to_string(),
            holder,
        })
    }

    /// Takes charge of a lease this process already wrote (a study run created with
    /// [`LeaseHolder::tag`]) and starts renewing it.
    pub fn adopt(tracker: &Tracker, run_id: &str, holder: LeaseHolder, ttl: Duration) -> Lease {
        let shared = Arc::new(Shared {
            tracker: tracker.clone(),
            run_id: run_id.to_string(),
            current: Mutex::new(holder),
            ttl,
            lost: AtomicBool::new(false),
        });
        let (stop, stopped) = mpsc::channel::<()>();
        let every = (ttl / 3).max(Duration::from_millis(10));
        let s = Arc::clone(&shared);
        let renewer = std::thread::Builder::new()
            .name("hpo-lease".into())
            .spawn(move || {
                // a message or a dropped sender both mean: stop renewing
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    if !s.renew() {
                        s.lost.store(true, Ordering::SeqCst);
                        return;
                    }
                }
            });
        Lease {
            renewer: renewer.ok(),
            shared,
            stop: Some(stop),
        }
    }

    /// The study run this lease is on.
    pub fn run_id(&self) -> &str {
        &self.shared.run_id
    }

    /// Whether another process took the lease over (this process must stop handing out trials).
    pub fn is_lost(&self) -> bool {
        self.shared.lost.load(Ordering::SeqCst)
    }

    /// Stops renewing and deletes the lease tag if it still holds this process's value.
    pub fn release(mut self) -> Result<(), TrackingError> {
        self.release_now()
    }

    fn release_now(&mut self) -> Result<(), TrackingError> {
        let Some(stop) = self.stop.take() else {
            return Ok(());
        };
        drop(stop);
        if let Some(t) = self.renewer.take() {
            let _ = t.join();
        }
        let mine = self.shared.current().value();
        self.shared
            .tracker
            .compare_and_set_tag(&self.shared.run_id, TAG_LEASE, Some(&mine), None)
            .map(|_| ())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // best effort: a lease left behind expires on its own
        let _ = self.release_now();
    }
}

fn expiry(ttl: Duration) -> i64 {
    now_ms().saturating_add(ttl.as_millis().min(i64::MAX as u128) as i64)
}

pub(crate) fn this_host() -> String {
    super::system::host_name().unwrap_or_else(|| "unknown".into())
}

/// Whether a process with this id exists on this host (a zombie counts as existing).
#[cfg(unix)]
pub(crate) fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // signal 0 checks existence and permission without sending anything
    // SAFETY: kill with signal 0 has no effect on the target process
    if unsafe { libc::kill(pid, 0) } == 0 {
        return true;
    }
    std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Without a way to check, a holder is assumed alive until its lease expires.
#[cfg(not(unix))]
pub(crate) fn process_exists(_pid: u32) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_round_trips_and_staleness() {
        let h = LeaseHolder::this_process(Duration::from_secs(60));
        assert_eq!(LeaseHolder::parse(&h.value()), Some(h.clone()));
        assert!(LeaseHolder::parse("not a lease").is_none());
        let now = now_ms();
        assert!(!h.is_stale(now, &h.host), "this process is alive");
        assert!(h.is_stale(h.expires_ms, &h.host), "expired");
        let other_host = LeaseHolder {
            host: "elsewhere".into(),
            pid: u32::MAX,
            ..h.clone()
        };
        assert!(
            !other_host.is_stale(now, &h.host),
            "cannot check another host"
        );
        let dead = LeaseHolder {
            pid: u32::MAX,
            ..h.clone()
        };
        assert!(dead.is_stale(now, &h.host), "no such process");
    }
}
