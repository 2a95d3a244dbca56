//! Study and trial leases. A second process of a running study joins it (studies are shared);
//! the trial of a worker that died is failed as "worker lost" at once on the same host. The
//! study lease itself (kept for stores that cannot share a study): claimed once, expires, and a
//! holder whose lease was taken over finds out.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use hpo::tracking::lease::{Lease, LeaseError, LeaseHolder, TAG_LEASE};
use hpo::tracking::recorder::{TAG_FAILURE_REASON, TAG_TRIAL_NUMBER};
use hpo::tracking::{RunStatus, Tracker};

fn study_file(dir: &Path, name: &str, command: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!(
            "[study]\nname = \"leased\"\nseed = 1\n[objective]\ncommand = {command}\n\
             [space]\nx = {{ uniform = [0, 1] }}\n"
        ),
    )
    .unwrap();
    p
}

fn cmd(db: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hpo"));
    c.args(args)
        .env("HPO_TRACKING_URI", format!("sqlite:///{}", db.display()));
    c
}

fn hpo(db: &Path, args: &[&str]) -> Output {
    cmd(db, args).output().expect("the binary runs")
}

fn tracker(db: &Path) -> Tracker {
    Tracker::open(&format!("sqlite:///{}", db.display())).unwrap()
}

/// Polls `f` every 50 ms until it gives a value; panics after 30 s.
fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "waited 30 s for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The id of the study run named "leased" once it exists, with its child runs.
fn study_with_children(db: &Path, children: usize) -> Option<String> {
    if !db.exists() {
        return None;
    }
    let t = tracker(db);
    let exp = t.get_experiment_by_name("leased").ok()??;
    let study = hpo::tracking::find_study(&t, exp.experiment_id, "leased").ok()??;
    let n = t.child_runs(&study.info.run_id).ok()?.len();
    (n >= children).then_some(study.info.run_id)
}

fn wait_exit(child: &mut Child) -> Option<i32> {
    wait_for("hpo to exit", || child.try_wait().unwrap()).code()
}

#[test]
fn a_second_process_joins_the_study_the_first_runs() {
    // since studies are shared (issue 19), a second process of a running study is one more
    // worker: it neither waits for the first nor starts a study of its own
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hpo.db");
    let file = study_file(
        dir.path(),
        "shared.toml",
        r#"["sh", "-c", "sleep 0.3; echo 0.5"]"#,
    );
    let f = file.to_str().unwrap();
    let mut first = cmd(&db, &["run", f, "--max-evals", "6", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let study = wait_for("the first study's first trial", || {
        study_with_children(&db, 1)
    });
    let o = hpo(&db, &["run", f, "--max-evals", "6", "--resume", "--json"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["study_run_id"].as_str().unwrap(),
        study,
        "joined the same study"
    );
    assert_eq!(wait_exit(&mut first), Some(0));
    let t = tracker(&db);
    let children = t.child_runs(&study).unwrap();
    let mut numbers: Vec<usize> = children
        .iter()
        .map(|c| c.data.tag(TAG_TRIAL_NUMBER).unwrap().parse().unwrap())
        .collect();
    numbers.sort();
    assert_eq!(
        numbers,
        vec![0, 1, 2, 3, 4, 5],
        "one budget, numbers once each"
    );
    assert!(children
        .iter()
        .all(|c| c.info.status == RunStatus::Finished));
    assert_eq!(t.get_run(&study).unwrap().info.status, RunStatus::Finished);
}

#[test]
fn the_trial_of_a_killed_worker_is_failed_as_worker_lost_and_the_study_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hpo.db");
    let pid_file = dir.path().join("objective.pid");
    let slow = study_file(
        dir.path(),
        "slow.toml",
        &format!(
            r#"["sh", "-c", "echo $$ > \"$0\"; sleep 20; echo 0.5", "{}"]"#,
            pid_file.display()
        ),
    );
    let mut first = cmd(
        &db,
        &["run", slow.to_str().unwrap(), "--max-evals", "3", "--quiet"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let study = wait_for("the first trial to run", || {
        pid_file
            .exists()
            .then(|| study_with_children(&db, 1))
            .flatten()
    });
    first.kill().unwrap(); // SIGKILL: no cleanup, the lease and the trial stay behind
    first.wait().unwrap();
    // the objective's process group may outlive hpo: end it
    let objective = std::fs::read_to_string(&pid_file).unwrap();
    let _ = Command::new("kill")
        .args(["-9", "--", &format!("-{}", objective.trim())])
        .status();
    let t = tracker(&db);

    // the worker's process is gone: its trial is taken back at once (well before its lease expires)
    let fast = study_file(dir.path(), "fast.toml", r#"["sh", "-c", "echo 0.25"]"#);
    let o = hpo(
        &db,
        &[
            "run",
            fast.to_str().unwrap(),
            "--max-evals",
            "2",
            "--resume",
            "--json",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["study_run_id"].as_str().unwrap(), study);
    let children = t.child_runs(&study).unwrap();
    assert_eq!(children.len(), 2);
    let interrupted = children
        .iter()
        .find(|c| c.data.tag(TAG_TRIAL_NUMBER) == Some("0"))
        .unwrap();
    assert_eq!(interrupted.info.status, RunStatus::Failed);
    assert_eq!(
        interrupted.data.tag(TAG_FAILURE_REASON),
        Some("worker lost")
    );
    assert_eq!(t.get_run(&study).unwrap().info.status, RunStatus::Finished);
}

#[test]
fn leases_are_claimed_once_expire_and_report_a_takeover() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(&dir.path().join("hpo.db"));
    let exp = t.get_or_create_experiment("e").unwrap();
    let run = t.create_run(exp, Some("s"), None).unwrap();
    let ttl = Duration::from_secs(60);

    let lease = Lease::acquire(&t, &run, ttl).unwrap();
    let mine = LeaseHolder::parse(t.get_run(&run).unwrap().data.tag(TAG_LEASE).unwrap()).unwrap();
    assert_eq!(mine.pid, std::process::id());
    // a live holder (this very process) keeps it
    match Lease::acquire(&t, &run, ttl) {
        Err(LeaseError::Held { run_id, holder }) => {
            assert_eq!(run_id, run);
            assert_eq!(holder, mine);
        }
        other => panic!("expected Held, got {:?}", other.err()),
    }
    lease.release().unwrap();
    assert_eq!(t.get_run(&run).unwrap().data.tag(TAG_LEASE), None);

    // a holder on another host is trusted until its lease expires
    let now = hpo::tracking::store::now_ms();
    let elsewhere = LeaseHolder {
        host: "another-host".into(),
        pid: 1,
        token: "t".into(),
        expires_ms: now + 60_000,
    };
    t.set_tag(&run, TAG_LEASE, &elsewhere.value()).unwrap();
    assert!(matches!(
        Lease::acquire(&t, &run, ttl),
        Err(LeaseError::Held { .. })
    ));
    let expired = LeaseHolder {
        expires_ms: now - 1,
        ..elsewhere
    };
    t.set_tag(&run, TAG_LEASE, &expired.value()).unwrap();
    let lease = Lease::acquire(&t, &run, Duration::from_millis(300)).unwrap();
    assert!(!lease.is_lost());

    // another process overwrites it: the renewal finds out
    t.set_tag(&run, TAG_LEASE, &expired.value()).unwrap();
    wait_for("the lease to be reported lost", || {
        lease.is_lost().then_some(())
    });
    drop(lease);
    assert_eq!(
        t.get_run(&run).unwrap().data.tag(TAG_LEASE),
        Some(expired.value().as_str()),
        "a lost lease is not deleted by its former holder"
    );
}
