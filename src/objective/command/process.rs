//! One trial's process, from spawn to the last of its descendants: nothing it does can hang hpo
//! or outlive it.
//!
//! - The program starts in a process group of its own and registers that group with the
//!   [`guard`](super::guard) at once, so the group dies with hpo even after `kill -9`.
//! - One thread waits on the program's exit (a pidfd), its standard output and its standard
//!   error at once with `poll`: no sleeping loop, and output is read as it comes.
//! - A per-trial timeout, an interrupt or the pruner terminates the group: SIGTERM, then SIGKILL after the
//!   grace period (at once when the interrupt is urgent).
//! - Once the program has exited, its pipes get a short drain period; whatever still holds them
//!   then (a background child, a grandchild that left for a session of its own) is killed, and
//!   reading stops soon after even if something unkillable keeps them open.
//! - After every trial, what remains of the group is killed, and so is every process carrying the
//!   trial's key in its environment (`HPO_TRIAL_KEY`), which finds descendants that left the
//!   group or the session.

use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use super::guard::Guard;
use super::output::Capture;
use crate::study::Interrupt;

/// The environment variable holding a trial's key (inherited by its descendants).
pub const TRIAL_KEY_ENV: &str = "HPO_TRIAL_KEY";
/// How long the pipes are read after the program exited before what holds them is killed.
const DRAIN: Duration = Duration::from_millis(250);
/// The longest `poll` wait while an interrupt could arrive.
const INTERRUPT_CHECK: Duration = Duration::from_millis(100);

/// Limits on a trial's process.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Past this, the trial is terminated.
    pub timeout: Option<Duration>,
    /// Between SIGTERM and SIGKILL.
    pub grace: Duration,
}

/// Why the process was stopped from outside.
#[derive(Clone, Debug, PartialEq)]
pub enum Stop {
    /// The per-trial timeout.
    TimedOut,
    /// The study's interrupt, with its reason.
    Interrupted(String),
    /// The study's pruner stopped the trial.
    Pruned,
}

/// How a trial's process ended.
#[derive(Debug)]
pub struct Ending {
    /// The program's exit status (None if it could not be collected).
    pub status: Option<ExitStatus>,
    /// Set when hpo stopped it.
    pub stopped: Option<Stop>,
    /// Processes other than the program still holding its output after the drain period.
    pub output_held: bool,
}

/// How to run one trial's process.
pub struct Launch<'a> {
    /// The guard its group is registered with as soon as the program is spawned.
    pub guard: Option<&'a Guard>,
    /// The trial's key, set as [`TRIAL_KEY_ENV`] in its environment.
    pub key: &'a str,
    /// Timeout and grace period.
    pub limits: Limits,
    /// The study's interrupt.
    pub interrupt: Option<&'a Interrupt>,
    /// Asked after output is read: true when the pruner says to stop the trial.
    pub prune: Option<&'a dyn Fn() -> bool>,
}

/// Run `cmd` (its stdout and stderr piped) to its end; see the module documentation.
pub fn run(
    mut cmd: Command,
    launch: Launch<'_>,
    stdout: &mut Capture,
    stderr: &mut Capture,
    mut on_line: impl FnMut(&str),
) -> io::Result<Ending> {
    let Launch {
        guard,
        key,
        limits,
        interrupt,
        prune,
    } = launch;
    cmd.env(TRIAL_KEY_ENV, key).process_group(0);
    // spawned without a pre-exec hook, so the standard library can use posix_spawn (a vfork)
    // instead of copying hpo's address space with fork; the group is registered with the guard
    // right after, a window of microseconds in which a kill -9 of hpo would leave it unguarded
    let mut child = cmd.spawn()?;
    let pid = child.id() as i32;
    if let Some(g) = guard {
        g.register(pid);
    }
    let stops = Stops { interrupt, prune };
    let result = watch(&mut child, limits, stops, stdout, stderr, &mut on_line);
    // whatever happened, nothing of the trial survives it
    let group_left = kill_group(pid, libc::SIGKILL);
    let held = result.as_ref().is_ok_and(|e| e.output_held);
    if group_left || held || result.as_ref().map_or(true, |e| e.stopped.is_some()) {
        for p in carrying_key(key) {
            // SAFETY: kill(2) on a pid read from /proc; it touches no memory.
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
    }
    if result.is_err() {
        let _ = child.kill();
        let _ = child.wait();
    }
    if let Some(g) = guard {
        g.release(pid);
    }
    result
}

/// One of the program's output pipes, read without blocking until end-of-file.
struct Pipe(Option<std::fs::File>);

impl Pipe {
    fn new(r: Option<impl Into<std::os::fd::OwnedFd>>) -> Pipe {
        Pipe(r.map(|r| {
            let file = std::fs::File::from(r.into());
            // SAFETY: fcntl on the descriptor `file` owns.
            unsafe {
                let fd = file.as_raw_fd();
                let flags = libc::fcntl(fd, libc::F_GETFL);
                libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
            }
            file
        }))
    }

    fn is_open(&self) -> bool {
        self.0.is_some()
    }

    fn fd(&self) -> Option<RawFd> {
        self.0.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// Read what is there; close on end-of-file or error.
    fn drain(&mut self, buf: &mut [u8], mut take: impl FnMut(&[u8])) {
        while let Some(r) = &mut self.0 {
            match r.read(buf) {
                Ok(0) => self.0 = None,
                Ok(n) => take(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.0 = None,
            }
        }
    }
}

/// How much of a trial's output one read takes.
const READ_BUF_LEN: usize = 64 * 1024;

thread_local! {
    /// The read buffer of this thread's last trial, for its next one: zeroing 64 KB for every
    /// trial was about a tenth of hpo's own instructions per trial of a quick command.
    static READ_BUF: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// A trial's read buffer, taken from its thread and given back when dropped.
struct ReadBuf(Vec<u8>);

impl ReadBuf {
    fn take() -> Self {
        let kept = READ_BUF.try_with(|b| b.take()).unwrap_or_default();
        match kept.len() {
            READ_BUF_LEN => ReadBuf(kept),
            _ => ReadBuf(vec![0u8; READ_BUF_LEN]),
        }
    }
}

impl Drop for ReadBuf {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        let _ = READ_BUF.try_with(|b| b.set(buf));
    }
}

/// A pidfd for `pid` (readable once it exits), or None where the kernel has none.
fn pidfd(pid: i32) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a fresh descriptor we now own.
    (fd >= 0).then(|| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as RawFd) })
}

/// What can stop a trial from outside besides its timeout.
struct Stops<'a> {
    interrupt: Option<&'a Interrupt>,
    prune: Option<&'a dyn Fn() -> bool>,
}

fn watch(
    child: &mut Child,
    limits: Limits,
    stops: Stops<'_>,
    stdout: &mut Capture,
    stderr: &mut Capture,
    on_line: &mut impl FnMut(&str),
) -> io::Result<Ending> {
    let Stops { interrupt, prune } = stops;
    let pid = child.id() as i32;
    let mut out = Pipe::new(child.stdout.take());
    let mut err = Pipe::new(child.stderr.take());
    let exit_fd = pidfd(pid);
    let start = Instant::now();
    let deadline = limits.timeout.map(|t| start + t);
    let mut status: Option<ExitStatus> = None;
    let mut stopped: Option<Stop> = None;
    let mut term_sent: Option<Instant> = None;
    let mut kill_sent = false;
    let mut exited_at: Option<Instant> = None;
    let mut held_killed_at: Option<Instant> = None;
    let mut buf = ReadBuf::take();
    let buf = &mut buf.0;
    loop {
        let now = Instant::now();
        if status.is_none() {
            if stopped.is_none() {
                if let Some(why) = interrupt.and_then(Interrupt::reason) {
                    stopped = Some(Stop::Interrupted(why));
                } else if deadline.is_some_and(|d| now >= d) {
                    stopped = Some(Stop::TimedOut);
                } else if prune.is_some_and(|p| p()) {
                    // like an interrupt, never urgent: SIGTERM, then SIGKILL after the grace
                    stopped = Some(Stop::Pruned);
                }
            }
            if stopped.is_some() && !kill_sent {
                let urgent = interrupt.is_some_and(Interrupt::is_urgent);
                if urgent || term_sent.is_some_and(|t| now >= t + limits.grace) {
                    kill_group(pid, libc::SIGKILL);
                    kill_sent = true;
                } else if term_sent.is_none() {
                    kill_group(pid, libc::SIGTERM);
                    term_sent = Some(now);
                }
            }
        }
        if let Some(exited) = exited_at {
            if !out.is_open() && !err.is_open() {
                break;
            }
            match held_killed_at {
                None if now >= exited + DRAIN => {
                    // something else holds the program's output: it goes
                    kill_group(pid, libc::SIGKILL);
                    held_killed_at = Some(now);
                }
                Some(t) if now >= t + DRAIN => break,
                _ => {}
            }
        }
        // wait for output, the exit, or the next thing to do
        let mut wait: Option<Instant> = None;
        let mut soonest = |t: Instant| wait = Some(wait.map_or(t, |w| w.min(t)));
        if status.is_none() {
            if let (None, Some(d)) = (&stopped, deadline) {
                soonest(d);
            }
            if interrupt.is_some() && !kill_sent {
                // an interrupt, or its escalation, can come at any time
                soonest(now + INTERRUPT_CHECK);
            }
            if let (Some(t), false) = (term_sent, kill_sent) {
                soonest(t + limits.grace);
            }
            if exit_fd.is_none() {
                soonest(now + Duration::from_millis(5));
            }
        }
        if let Some(exited) = exited_at {
            soonest(held_killed_at.map_or(exited, |t| t) + DRAIN);
        }
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(3);
        for fd in [out.fd(), err.fd()].into_iter().flatten() {
            fds.push(libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        if let (None, Some(p)) = (status, &exit_fd) {
            fds.push(libc::pollfd {
                fd: p.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        let timeout_ms = match wait {
            None => -1,
            Some(w) => {
                // rounded up, so the wait never ends just before the moment it waits for
                let d = w.saturating_duration_since(Instant::now());
                d.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
            }
        };
        // SAFETY: `fds` is a live array of pollfd of the given length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        out.drain(buf, |b| stdout.push(b, &mut *on_line));
        err.drain(buf, |b| stderr.push(b, |_| {}));
        if status.is_none() {
            if let Some(s) = child.try_wait()? {
                status = Some(s);
                exited_at = Some(Instant::now());
            }
        }
    }
    stdout.finish(&mut *on_line);
    stderr.finish(|_| {});
    Ok(Ending {
        status,
        stopped,
        output_held: held_killed_at.is_some(),
    })
}

/// Send `sig` to the process group `pgid`; true if it had members.
fn kill_group(pgid: i32, sig: i32) -> bool {
    // SAFETY: kill(2) with a negative pid signals the group we created for the trial.
    unsafe { libc::kill(-pgid, sig) == 0 }
}

/// The processes (other than this one) whose environment holds `HPO_TRIAL_KEY=key`.
pub fn carrying_key(key: &str) -> Vec<i32> {
    let needle = format!("{TRIAL_KEY_ENV}={key}\0").into_bytes();
    let me = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.windows(needle.len()).any(|w| w == needle.as_slice()))
        })
        .collect()
}
