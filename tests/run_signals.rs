//! `hpo run` under signals: Ctrl-C, SIGTERM and SIGHUP stop the study cleanly (running trials
//! KILLED with the reason, the study KILLED, the summary printed, exit 128 + signal), a second
//! signal kills at once, and after `kill -9` of hpo no trial process outlives it and its scratch
//! directory goes too.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::proc::{alive, pids};
use hpo::tracking::recorder::TAG_FAILURE_REASON;
use hpo::tracking::{RunStatus, Tracker};

/// A study whose trials 0 and 1 finish at once and whose later trials write their pid (and a
/// grandchild's) to `pids` and sleep; `extra` goes into [objective].
fn study(dir: &Path, sleeper: &str, extra: &str) -> PathBuf {
    let p = dir.join("sig.toml");
    let script = format!("if [ $HPO_TRIAL -lt 2 ]; then echo 0.$HPO_TRIAL; else {sleeper}; fi");
    std::fs::write(
        &p,
        format!(
            "[study]\nname = \"sig\"\nmax_evals = 8\nparallelism = 2\nseed = 1\n\
             [objective]\ncommand = [\"sh\", \"-c\", {script:?}]\n{extra}\n\
             [space]\nx = {{ uniform = [0, 1] }}\n"
        ),
    )
    .unwrap();
    p
}

/// Sleeps in a child and a grandchild, both pids recorded.
const SLEEPER: &str =
    "echo $$ >> pids; (echo $$ >/dev/null; sh -c 'echo $$ >> pids; exec sleep 60') & sleep 60";

fn start(dir: &Path, file: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(["run", "-q"])
        .arg(file)
        .current_dir(dir)
        .env("HPO_TRACKING_URI", "sqlite:///hpo.db")
        .env("TMPDIR", dir.join("tmp"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs")
}

/// Wait until the two sleeping trials and their grandchildren (4 pids) are up.
fn wait_for_sleepers(dir: &Path) {
    let until = Instant::now() + Duration::from_secs(30);
    while pids(&dir.join("pids")).len() < 4 {
        assert!(Instant::now() < until, "the sleeping trials never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on the pid of a child we started.
    unsafe { libc::kill(child.id() as i32, sig) };
}

/// Wait for hpo to exit (at most `limit`); its exit code, stdout, stderr and the time taken.
fn finish(mut child: Child, limit: Duration) -> (Option<i32>, String, String, Duration) {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("hpo did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = start.elapsed();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        took,
    )
}

fn assert_gone(dir: &Path) {
    // gone within 5 s (at once, normally; a loaded machine may schedule the guard late)
    let until = Instant::now() + Duration::from_secs(5);
    let left = || -> Vec<i32> {
        pids(&dir.join("pids"))
            .into_iter()
            .filter(|&p| alive(p))
            .collect()
    };
    while !left().is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    for pid in left() {
        assert!(!alive(pid), "trial process {pid} outlived hpo");
    }
    let left: Vec<_> = std::fs::read_dir(dir.join("tmp"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "scratch directories left: {left:?}");
}

/// The study run and its trials' (status, failure reason), by trial number.
fn recorded(dir: &Path) -> (RunStatus, Vec<(RunStatus, Option<String>)>) {
    let t = Tracker::open(&format!("sqlite:///{}", dir.join("hpo.db").display())).unwrap();
    let exp = t.get_experiment_by_name("sig").unwrap().unwrap();
    let study = hpo::tracking::find_study(&t, exp.experiment_id, "sig")
        .unwrap()
        .unwrap();
    let mut children = t.child_runs(&study.info.run_id).unwrap();
    children.sort_by_key(|c| c.info.run_name.clone());
    let trials = children
        .iter()
        .map(|c| {
            (
                c.info.status,
                c.data.tag(TAG_FAILURE_REASON).map(String::from),
            )
        })
        .collect();
    (study.info.status, trials)
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tmp")).unwrap();
    dir
}

#[test]
fn ctrl_c_kills_running_trials_records_them_and_exits_130() {
    let dir = setup();
    let file = study(dir.path(), SLEEPER, "");
    let child = start(dir.path(), &file);
    wait_for_sleepers(dir.path());
    signal(&child, libc::SIGINT);
    let (code, stdout, stderr, took) = finish(child, Duration::from_secs(20));
    assert_eq!(code, Some(130), "{stderr}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    // the best-so-far summary and the register line
    assert!(stdout.contains("best loss    0 "), "{stdout}");
    assert!(
        stdout.contains("register it: hpo register --study"),
        "{stdout}"
    );
    assert!(stderr.contains("SIGINT (Ctrl-C) received"), "{stderr}");
    let (study, trials) = recorded(dir.path());
    assert_eq!(study, RunStatus::Killed);
    assert_eq!(trials.len(), 4, "no trial is handed out after Ctrl-C");
    assert_eq!(trials[0].0, RunStatus::Finished);
    assert_eq!(trials[1].0, RunStatus::Finished);
    for (status, reason) in &trials[2..] {
        assert_eq!(*status, RunStatus::Killed);
        let reason = reason.as_deref().unwrap_or_default();
        assert!(reason.contains("interrupted (SIGINT (Ctrl-C))"), "{reason}");
    }
    assert_gone(dir.path());
}

#[test]
fn sigterm_and_sighup_stop_the_study_too_with_their_exit_codes() {
    for (sig, code) in [(libc::SIGTERM, 143), (libc::SIGHUP, 129)] {
        let dir = setup();
        let file = study(dir.path(), SLEEPER, "");
        let child = start(dir.path(), &file);
        wait_for_sleepers(dir.path());
        signal(&child, sig);
        let (got, _, stderr, _) = finish(child, Duration::from_secs(20));
        assert_eq!(got, Some(code), "{stderr}");
        let (study, trials) = recorded(dir.path());
        assert_eq!(study, RunStatus::Killed);
        assert!(trials[2..].iter().all(|t| t.0 == RunStatus::Killed));
        assert_gone(dir.path());
    }
}

#[test]
fn trials_that_ignore_sigterm_are_killed_after_the_grace_period_or_at_a_second_ctrl_c() {
    // the trials ignore SIGTERM: with a 30 s grace period only the second Ctrl-C ends them soon
    let stubborn = "trap '' TERM; echo $$ >> pids; (trap '' TERM; sh -c 'echo $$ >> pids; exec sleep 60') & sleep 60; sleep 60";
    let dir = setup();
    let file = study(dir.path(), stubborn, "grace_period = \"30s\"");
    let child = start(dir.path(), &file);
    wait_for_sleepers(dir.path());
    signal(&child, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(500));
    signal(&child, libc::SIGINT);
    let (code, _, stderr, took) = finish(child, Duration::from_secs(20));
    assert_eq!(code, Some(130), "{stderr}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(stderr.contains("killing running trials now"), "{stderr}");
    let (_, trials) = recorded(dir.path());
    assert!(
        trials[2..].iter().all(|t| t.0 == RunStatus::Killed),
        "{trials:?}"
    );
    assert_gone(dir.path());

    // with a short grace period one Ctrl-C is enough
    let dir = setup();
    let file = study(dir.path(), stubborn, "grace_period = \"300ms\"");
    let child = start(dir.path(), &file);
    wait_for_sleepers(dir.path());
    signal(&child, libc::SIGINT);
    let (code, _, stderr, took) = finish(child, Duration::from_secs(20));
    assert_eq!(code, Some(130), "{stderr}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_gone(dir.path());
}

#[test]
fn after_kill_9_no_trial_process_outlives_hpo() {
    let dir = setup();
    let file = study(dir.path(), SLEEPER, "");
    let mut child = start(dir.path(), &file);
    wait_for_sleepers(dir.path());
    // hpo registers a trial's group with the guard right after spawning it, a window of
    // microseconds that a descheduled thread can stretch: let it pass before the kill
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // the guard terminates the groups at once and kills them half a second later
    std::thread::sleep(Duration::from_millis(1500));
    assert_gone(dir.path());
    // the next resume takes back the trials the killed worker left running
    let out = Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(["run", "-q", "--resume", "--max-evals", "4"])
        .arg(&file)
        .current_dir(dir.path())
        .env("HPO_TRACKING_URI", "sqlite:///hpo.db")
        .env("TMPDIR", dir.path().join("tmp"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, trials) = recorded(dir.path());
    assert_eq!(trials.len(), 4);
    for (status, reason) in &trials[2..] {
        assert_eq!(*status, RunStatus::Failed);
        assert_eq!(reason.as_deref(), Some("worker lost"));
    }
}
