//! The guard: a small process that kills the trials' process groups when hpo dies.
//!
//! `kill -9` of hpo cannot be caught, so hpo cannot clean up after itself. At its first trial,
//! a command objective forks a guard process that holds the read end of a pipe whose only write end is hpo's
//! (close-on-exec, so no trial inherits it). hpo writes each trial's pid (its process group) to
//! the pipe as soon as it is spawned, and the negated pid once the trial is over.
//! When the pipe reports end-of-file, hpo is gone: the guard sends SIGTERM to every group still
//! registered, SIGKILL half a second later, and exits. The guard ignores SIGINT, SIGTERM and
//! SIGHUP and sits in its own process group, so the signals meant for hpo do not stop it early.
//! When the objective is dropped (the study is over), hpo says goodbye (a 0 message), closes
//! the pipe and reaps the guard. End-of-file without a goodbye means hpo died: after killing
//! the groups, the guard execs `rm -rf` on the objective's scratch directory.
//!
//! The guard is forked from a threaded process, so it only makes async-signal-safe system calls
//! (read, kill, nanosleep, close, sigaction, setpgid, _exit) and never allocates.

use std::ffi::CString;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// How many process groups the guard can hold at once (trials in flight).
const SLOTS: usize = 4096;

/// A running guard process and the write end of its pipe.
#[derive(Debug)]
pub struct Guard {
    write_fd: RawFd,
    pid: libc::pid_t,
}

impl Guard {
    /// Fork the guard for the trials of an objective whose scratch directory is `scratch`
    /// (`None` if that failed: trials then run unguarded).
    pub fn start(scratch: &Path) -> Option<Guard> {
        let path = CString::new(scratch.as_os_str().as_bytes()).ok()?;
        start(path)
    }

    /// Tell the guard about the process group `pgid` of a trial that just started.
    pub fn register(&self, pgid: i32) {
        send(self.write_fd, pgid);
    }

    /// Tell the guard that the process group `pgid` is over (its trial was cleaned up).
    pub fn release(&self, pgid: i32) {
        send(self.write_fd, -pgid);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // SAFETY: closing our write end makes the guard read end-of-file and exit; waitpid
        // reaps it (it is our child).
        unsafe {
            send(self.write_fd, 0);
            libc::close(self.write_fd);
            let mut status = 0;
            libc::waitpid(self.pid, &mut status, 0);
        }
    }
}

/// Write one message (4 bytes: atomic on a pipe).
fn send(fd: RawFd, message: i32) {
    let bytes = message.to_ne_bytes();
    // SAFETY: writes 4 bytes from a local array to a file descriptor we own.
    unsafe {
        libc::write(fd, bytes.as_ptr().cast(), bytes.len());
    }
}

fn start(scratch: CString) -> Option<Guard> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 fills the two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return None;
    }
    let (read_fd, write_fd) = (fds[0], fds[1]);
    // SAFETY: after fork the child only runs `watch`, which makes async-signal-safe calls and
    // never returns.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => {
            // SAFETY: closing the two descriptors pipe2 just made.
            unsafe {
                libc::close(read_fd);
                libc::close(write_fd);
            }
            None
        }
        0 => watch(read_fd, &scratch),
        _ => {
            // SAFETY: the parent keeps only the write end.
            unsafe { libc::close(read_fd) };
            Some(Guard { write_fd, pid })
        }
    }
}

/// The guard's life (in the forked child): read registrations until end-of-file, then kill.
fn watch(read_fd: RawFd, scratch: &CString) -> ! {
    // SAFETY: only async-signal-safe calls on local memory; ends with _exit.
    unsafe {
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGPIPE] {
            libc::signal(sig, libc::SIG_IGN);
        }
        libc::setpgid(0, 0);
        libc::prctl(libc::PR_SET_NAME, c"hpo-guard".as_ptr());
        // keep nothing of hpo's open: above all not the write end, nor trials' pipes
        let below = match read_fd {
            0 => 0,
            fd => libc::syscall(libc::SYS_close_range, 0u32, fd as u32 - 1, 0u32),
        };
        let above = libc::syscall(libc::SYS_close_range, read_fd as u32 + 1, u32::MAX, 0u32);
        if below != 0 || above != 0 {
            // no close_range (Linux before 5.9): close one by one
            let max = match libc::sysconf(libc::_SC_OPEN_MAX) {
                n if n > 0 && n < 1 << 20 => n as i32,
                _ => 1 << 16,
            };
            for fd in 0..max {
                if fd != read_fd {
                    libc::close(fd);
                }
            }
        }
        let mut groups = [0i32; SLOTS];
        let mut buf = [0u8; 4 * 256];
        let mut carry = [0u8; 4];
        let mut carried = 0usize;
        let mut goodbye = false;
        loop {
            let n = libc::read(read_fd, buf.as_mut_ptr().cast(), buf.len());
            if n == 0 {
                break;
            }
            if n < 0 {
                if *libc::__errno_location() == libc::EINTR {
                    continue;
                }
                break;
            }
            for &b in &buf[..n as usize] {
                carry[carried] = b;
                carried += 1;
                if carried == 4 {
                    carried = 0;
                    let m = i32::from_ne_bytes(carry);
                    if m > 0 {
                        if let Some(slot) = groups.iter_mut().find(|g| **g == 0) {
                            *slot = m;
                        }
                    } else if m < 0 {
                        if let Some(slot) = groups.iter_mut().find(|g| **g == -m) {
                            *slot = 0;
                        }
                    } else {
                        goodbye = true;
                    }
                }
            }
        }
        if goodbye {
            libc::_exit(0);
        }
        if groups.iter().any(|g| *g != 0) {
            for &g in groups.iter().filter(|g| **g > 0) {
                libc::kill(-g, libc::SIGTERM);
            }
            let pause = libc::timespec {
                tv_sec: 0,
                tv_nsec: 500_000_000,
            };
            libc::nanosleep(&pause, std::ptr::null_mut());
            for &g in groups.iter().filter(|g| **g > 0) {
                libc::kill(-g, libc::SIGKILL);
            }
        }
        // hpo died: its scratch directory goes too
        let rm = c"/bin/rm";
        let args = [
            c"rm".as_ptr(),
            c"-rf".as_ptr(),
            c"--".as_ptr(),
            scratch.as_ptr(),
            std::ptr::null(),
        ];
        libc::execv(rm.as_ptr(), args.as_ptr());
        libc::_exit(0)
    }
}
