//! A study whose records stop landing: the disk fills up (a small tmpfs holding the store) or the
//! store's file is deleted mid-study. The study stops handing out trials, the output says which
//! trials are not in the store, names no best trial that is not in it, and `hpo run` exits 1.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use hpo::study::StopReason;
use hpo::tracking::recorder::{TAG_RUN_TYPE, TAG_TRIAL_NUMBER};
use hpo::tracking::{Recorder, RunStatus, RunsQuery, Tracker};
use hpo::{hp, with_context, Fmin, Params, Space, TrialContext};

/// `hpo` with `args`, the store given by `--tracking-uri` only.
fn hpo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(args)
        .env_remove("HPO_TRACKING_URI")
        .output()
        .expect("the binary runs")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A small tmpfs, unmounted when dropped (also when the test fails).
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` on a new directory under `parent`; `None` (with the reason
    /// printed) where mounting is not permitted.
    fn mount(parent: &Path, size: &str) -> Option<Tmpfs> {
        let dir = parent.join("small-disk");
        std::fs::create_dir(&dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs(dir)),
            Ok(o) => {
                eprintln!(
                    "skipped: cannot mount a tmpfs ({})",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("skipped: cannot run mount ({e})");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

const BRANIN: &str = r#"
[study]
algo = "random"
max_evals = 20000
seed = 1

[objective]
function = "branin"

[space]
x1 = { uniform = [-5, 10] }
x2 = { uniform = [0, 15] }
"#;

/// A copy of the store `db` (with its WAL) outside the small disk, opened.
fn snapshot(db: &Path) -> (tempfile::TempDir, Tracker) {
    let copy = tempfile::tempdir().unwrap();
    for suffix in ["", "-wal"] {
        let from = PathBuf::from(format!("{}{suffix}", db.display()));
        if from.exists() {
            std::fs::copy(&from, copy.path().join(format!("s.db{suffix}"))).unwrap();
        }
    }
    let uri = format!("sqlite:///{}", copy.path().join("s.db").display());
    let tracker = Tracker::open(&uri).unwrap();
    (copy, tracker)
}

/// The numbers of the trials of `experiment` FINISHED in the store.
fn finished(tracker: &Tracker, experiment: &str) -> BTreeSet<usize> {
    let exp = tracker
        .get_experiment_by_name(experiment)
        .unwrap()
        .expect("the experiment is stored")
        .experiment_id;
    let mut out = BTreeSet::new();
    let mut token = None;
    loop {
        let page = tracker
            .search_runs(
                &RunsQuery::new(&[exp], "")
                    .max_results(1000)
                    .page_token(token),
            )
            .unwrap();
        for r in page.runs {
            if r.data.tag(TAG_RUN_TYPE) == Some("trial") && r.info.status == RunStatus::Finished {
                out.insert(r.data.tag(TAG_TRIAL_NUMBER).unwrap().parse().unwrap());
            }
        }
        token = page.next_page_token;
        if token.is_none() {
            return out;
        }
    }
}

/// Parses "3, 5-7, 12" into numbers.
fn parse_ranges(s: &str) -> BTreeSet<usize> {
    s.split(", ")
        .flat_map(|part| match part.split_once('-') {
            Some((a, b)) => (a.parse().unwrap()..=b.parse().unwrap()).collect::<Vec<usize>>(),
            None => vec![part.parse().unwrap()],
        })
        .collect()
}

#[test]
fn a_full_disk_stops_the_study_names_the_lost_trials_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    // big enough for the store's creation (its migrations alone write about 2 MB of WAL), so the
    // disk usually fills while trials are recorded (about 150 of them)
    let Some(disk) = Tmpfs::mount(dir.path(), "4m") else {
        return;
    };
    let file = dir.path().join("branin.toml");
    std::fs::write(&file, BRANIN).unwrap();
    let db = disk.0.join("full.db");
    let out = hpo(&[
        "run",
        file.to_str().unwrap(),
        "--tracking-uri",
        db.to_str().unwrap(),
        "--json",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect(&stdout);
    let trials = json["trials"].as_u64().unwrap() as usize;
    assert!(trials < 20000, "the study stopped early: {trials} trials");
    assert!(
        json["stop_reason"]
            .as_str()
            .unwrap()
            .starts_with("recording failed: "),
        "{json}"
    );
    let failure = &json["recording_failure"];
    assert!(
        failure["reason"].as_str().unwrap().contains("disk is full"),
        "{failure}"
    );
    // what met the full disk first is said: a trial's queued write, or a direct write of the
    // study (its run, or the shared-study board's claim, start or end of a trial, which commit on
    // their own connection), whichever the timing makes first
    assert!(
        failure["failed_writes"].as_u64().unwrap() > 0
            || failure["study_run_incomplete"].as_bool() == Some(true),
        "{failure}"
    );
    let unrecorded: BTreeSet<usize> = failure["unrecorded_trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap() as usize)
        .collect();
    // (a shared study's board may be the first to meet the full disk, each trial's run being
    // committed before the board hears it ended: then no trial is missing, only the study's result)
    // exactly what was said: every other trial is finished in the store, none of these is
    let (_copy, store) = snapshot(&db);
    let stored = finished(&store, "branin");
    assert!(!stored.is_empty(), "the store held trials before it filled");
    assert!(
        stored.is_disjoint(&unrecorded),
        "{stored:?} vs {unrecorded:?}"
    );
    let all: BTreeSet<usize> = (0..trials).collect();
    assert_eq!(
        stored.union(&unrecorded).copied().collect::<BTreeSet<_>>(),
        all
    );
    // stderr names them too, as ranges
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error: store '") && l.contains("': recording failed: "))
        .expect(&stderr);
    assert!(line.contains(db.to_str().unwrap()), "{line}");
    if !unrecorded.is_empty() {
        let (_, ranges) = line
            .split_once("not (fully) recorded in the store: ")
            .expect(line);
        let ranges = ranges.split(';').next().unwrap();
        assert_eq!(parse_ranges(ranges), unrecorded, "{line}");
    }
    // the best named is in the store, finished, with its loss
    let best = &json["best"];
    if !best.is_null() {
        let number = best["trial"].as_u64().unwrap() as usize;
        assert!(stored.contains(&number), "best trial {number} is stored");
        let run = store.get_run(best["run_id"].as_str().unwrap()).unwrap();
        assert_eq!(run.info.status, RunStatus::Finished);
        let loss = run.data.metric("loss").unwrap().latest;
        let printed = best["loss"].as_f64().unwrap();
        assert!(
            (loss - printed).abs() <= 1e-12 * loss.abs(),
            "{loss} vs {printed}"
        );
    }
    assert!(json["register"].is_null(), "no register line: {json}");
}

#[test]
fn a_full_disk_in_text_mode_names_only_a_stored_best() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(dir.path(), "2m") else {
        return;
    };
    let file = dir.path().join("branin.toml");
    std::fs::write(&file, BRANIN).unwrap();
    let db = disk.0.join("full.db");
    let out = hpo(&[
        "run",
        file.to_str().unwrap(),
        "--tracking-uri",
        db.to_str().unwrap(),
        "--quiet",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("': recording failed: "), "{stderr}");
    assert!(stderr.contains("disk is full"), "{stderr}");
    assert!(!stdout.contains("register it"), "{stdout}");
    let (_copy, store) = snapshot(&db);
    let stored = finished(&store, "branin");
    match stdout.lines().find(|l| l.starts_with("best loss")) {
        Some(line) => {
            // "best loss    0.45 (trial #88; 6149 trials: 6149 ok, 0 failed)"
            let number: usize = line
                .split("(trial #")
                .nth(1)
                .and_then(|s| s.split(';').next())
                .and_then(|s| s.parse().ok())
                .expect(line);
            assert!(stored.contains(&number), "{line}: trial {number} is stored");
        }
        None => assert!(stderr.contains("no trial of this study is in the store")),
    }
}

#[test]
fn a_disk_full_before_the_study_starts_is_an_error_naming_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(dir.path(), "1m") else {
        return;
    };
    let file = dir.path().join("branin.toml");
    std::fs::write(&file, BRANIN).unwrap();
    let db = disk.0.join("early.db");
    let run = |evals: &str| {
        hpo(&[
            "run",
            file.to_str().unwrap(),
            "--tracking-uri",
            db.to_str().unwrap(),
            "--max-evals",
            evals,
            "--quiet",
        ])
    };
    let first = run("5");
    assert_eq!(first.status.code(), Some(0), "{:?}", text(&first));
    // fill what is left of the disk
    {
        use std::io::Write;
        let mut filler = std::fs::File::create(disk.0.join("filler")).unwrap();
        let block = vec![0u8; 4096];
        while filler
            .write_all(&block)
            .and_then(|_| filler.flush())
            .is_ok()
        {}
    }
    let out = run("50");
    let (stdout, stderr) = text(&out);
    if out.status.code() == Some(0) {
        // the first study's write-ahead log had room for the second one's pages (it is reused
        // once checkpointed, without growing): then every trial must be in the store
        std::fs::remove_file(disk.0.join("filler")).unwrap();
        let (_copy, store) = snapshot(&db);
        let exp = store.get_experiment_by_name("branin").unwrap().unwrap();
        let n = store
            .search_runs(&hpo::tracking::RunsQuery::new(&[exp.experiment_id], "").max_results(1000))
            .unwrap()
            .runs
            .len();
        assert_eq!(
            n,
            5 + 50 + 2,
            "exit 0, but not every run is in the store: {stdout}"
        );
        return;
    }
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(!stdout.contains("best loss"), "{stdout}");
    assert!(
        stderr.contains(db.to_str().unwrap()),
        "names the store: {stderr}"
    );
    assert!(stderr.contains("storage error"), "{stderr}");
    std::fs::remove_file(disk.0.join("filler")).unwrap();
    let (_copy, store) = snapshot(&db);
    assert_eq!(finished(&store, "branin"), (0..5).collect());
}

/// A run file whose command deletes the store (`db`) during trial 3.
fn deleting_run_file(dir: &Path, db: &Path) -> PathBuf {
    let file = dir.join("deleting.toml");
    let db = db.display();
    std::fs::write(
        &file,
        format!(
            r#"
[study]
algo = "random"
max_evals = 12
seed = 4

[objective]
command = ["sh", "-c", "if [ {{trial}} = 3 ]; then rm -f '{db}' '{db}-wal' '{db}-shm'; fi; echo {{x}}"]

[space]
x = {{ uniform = [-5, 10] }}
"#
        ),
    )
    .unwrap();
    file
}

#[test]
fn a_store_deleted_mid_study_is_a_failure_naming_every_trial() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("gone.db");
    let file = deleting_run_file(dir.path(), &db);
    let args = |json: bool| {
        let mut a = vec![
            "run".to_string(),
            file.display().to_string(),
            "--tracking-uri".into(),
            db.display().to_string(),
            "--quiet".into(),
        ];
        if json {
            a.push("--json".into());
        }
        a
    };
    let text_args = args(false);
    let out = hpo(&text_args.iter().map(String::as_str).collect::<Vec<_>>());
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("was deleted while hpo had it open"),
        "{stderr}"
    );
    assert!(!stdout.contains("best loss"), "no best is named: {stdout}");
    assert!(!stdout.contains("register it"), "{stdout}");
    assert!(
        stderr.contains("no trial of this study is in the store"),
        "{stderr}"
    );
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error: store '") && l.contains("': recording failed: "))
        .expect(&stderr);
    let (_, ranges) = line
        .split_once("not (fully) recorded in the store: ")
        .expect(line);
    let named = parse_ranges(ranges.split(';').next().unwrap());
    assert!(named.len() < 12, "the study stopped early: {line}");
    assert_eq!(named, (0..named.len()).collect(), "every trial: {line}");
    assert!(line.contains("the study's own run is incomplete"), "{line}");

    // the same with --json: the same exit code, no best
    let json_args = args(true);
    let out = hpo(&json_args.iter().map(String::as_str).collect::<Vec<_>>());
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect(&stdout);
    assert!(json["best"].is_null(), "{json}");
    let trials = json["trials"].as_u64().unwrap() as usize;
    let unrecorded: Vec<usize> = json["recording_failure"]["unrecorded_trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(unrecorded, (0..trials).collect::<Vec<_>>());
    assert!(json["stop_reason"]
        .as_str()
        .unwrap()
        .starts_with("recording failed: "));
}

fn space() -> Space {
    Space::from_params([hp::uniform("x", -5.0, 5.0)]).unwrap()
}

#[test]
fn the_recorder_stops_a_study_whose_store_file_was_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lib.db");
    let tracker = Tracker::open(&format!("sqlite:///{}", db.display())).unwrap();
    let recorder = Recorder::new(&tracker, "lib").unwrap();
    let handle = recorder.handle();
    let space = space();
    let doomed = db.clone();
    let objective = with_context(move |p: &Params, ctx: &TrialContext| {
        if ctx.number() == 5 {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", doomed.display()));
            }
        }
        p.f64("x").map(|x| x * x)
    });
    let result = Fmin::new(objective, &space)
        .max_evals(100_000)
        .seed(1)
        .observer(recorder)
        .run()
        .unwrap();
    let n = result.trials.len();
    assert!(n < 100_000, "the study stopped: {n} trials");
    match &result.stop_reason {
        StopReason::Stopped(why) => {
            assert!(why.starts_with("recording failed: "), "{why}");
            assert!(why.contains("was deleted"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!handle.errors().is_empty());
    let failure = handle.recording_failure().expect("a recording failure");
    assert_eq!(failure.trials, (0..n).collect::<Vec<_>>());
    assert_eq!(failure.total_trials, n);
    assert!(failure.study_run_incomplete);
    assert_eq!(handle.recorded_best(), None);
    assert!(tracker.write_failures().file_lost.is_some());
}

#[test]
fn a_trial_whose_writes_fail_is_named_and_never_the_best() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hole.db");
    let uri = format!("sqlite:///{}", db.display());
    let tracker = Tracker::open(&uri).unwrap();
    let recorder = Recorder::new(&tracker, "hole").unwrap();
    let handle = recorder.handle();
    let space = space();
    // trial 5 (the best: loss 0) deletes its own run through another connection, so the write
    // ending it fails when committed
    let objective = with_context(move |p: &Params, ctx: &TrialContext| {
        if ctx.number() != 5 {
            return p.f64("x").map(|x| 1.0 + x * x);
        }
        let run = ctx.attribute("run_id").unwrap().to_string();
        let other = Tracker::open(&uri).unwrap();
        let until = Instant::now() + Duration::from_secs(30);
        // the run is created by the next group commit
        while other.delete_run(&run).is_err() {
            assert!(Instant::now() < until, "run {run} never appeared");
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(0.0)
    });
    let result = Fmin::new(objective, &space)
        .max_evals(100_000)
        .seed(2)
        .observer(recorder)
        .run()
        .unwrap();
    let n = result.trials.len();
    assert!(n < 100_000, "the study stopped: {n} trials");
    assert_eq!(
        result.best().unwrap().number,
        5,
        "trial 5 had the best loss"
    );
    match &result.stop_reason {
        StopReason::Stopped(why) => assert!(why.starts_with("recording failed: "), "{why}"),
        other => panic!("{other:?}"),
    }
    let failure = handle.recording_failure().expect("a recording failure");
    assert_eq!(failure.trials, vec![5]);
    assert_eq!(failure.failed_writes, 1);
    assert!(failure.reason.contains("deleted"), "{}", failure.reason);
    assert!(!failure.study_run_incomplete);
    let best = handle
        .recorded_best()
        .expect("another trial is the stored best");
    assert_ne!(best, 5);
    let run = tracker
        .get_run(&handle.trial_run_id(best).unwrap())
        .unwrap();
    assert_eq!(
        run.data.metric("loss").unwrap().latest,
        result.trials[best].loss.unwrap()
    );
    // the study's run names the stored best
    let study = tracker.get_run(&handle.study_run_id().unwrap()).unwrap();
    assert_eq!(
        study.data.tag("hpo.bestTrial"),
        Some(best.to_string().as_str())
    );
    let stored = finished(&tracker, "hole");
    assert_eq!(stored.len(), n - 1);
    assert!(!stored.contains(&5));

    // the store's earlier failure is not the next study's
    let recorder = Recorder::new(&tracker, "after").unwrap();
    let handle = recorder.handle();
    let result = Fmin::new(|p: &Params| p.f64("x"), &space)
        .max_evals(20)
        .seed(3)
        .observer(recorder)
        .run()
        .unwrap();
    assert_eq!(result.stop_reason, StopReason::MaxEvals);
    assert_eq!(handle.recording_failure(), None);
    assert_eq!(handle.recorded_best(), Some(result.best().unwrap().number));
    assert_eq!(finished(&tracker, "after").len(), 20);
}
