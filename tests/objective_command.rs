//! The command objective end to end: real subprocesses, the loss protocol, learning curves,
//! failures with stderr kept, per-trial timeouts killing the process group, artifacts.

use std::time::{Duration, Instant};

mod common;

use common::proc::{alive, pids};
use hpo::objective::command::{parse_result, CommandObjective};
use hpo::tracking::{Recorder, RunStatus, Tracker};
use hpo::{hp, Fmin, Random, Space, Status, TrialState};

fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

#[test]
fn result_lines() {
    assert_eq!(parse_result("0.25").loss, Some(0.25));
    let r = parse_result(r#"{"loss": 1.5, "metrics": {"acc": 0.9}}"#);
    assert_eq!(
        (r.loss, r.status, r.metrics["acc"]),
        (Some(1.5), Status::Ok, 0.9)
    );
    let r = parse_result(r#"{"status": "fail", "message": "out of memory"}"#);
    assert_eq!(
        (r.status, r.message.as_deref()),
        (Status::Fail, Some("out of memory"))
    );
    let r = parse_result("training done");
    assert_eq!(r.status, Status::Fail);
    assert!(r.message.unwrap().contains("must be the loss"));
}

#[test]
fn unknown_placeholders_are_refused() {
    let e = CommandObjective::new(sh("echo {lr} {nope}"), &["lr"]).unwrap_err();
    assert!(e.to_string().contains("'{nope}'"), "{e}");
    assert!(CommandObjective::new(vec![], &[]).is_err());
    // a parameter named like a placeholder of the trial itself is ambiguous when used
    let e = CommandObjective::new(sh("echo {trial}"), &["trial"]).unwrap_err();
    assert!(e.to_string().contains("ambiguous"), "{e}");
    assert!(CommandObjective::new(sh("echo {trial}"), &["x"]).is_ok());
    assert!(CommandObjective::new(sh("echo $HPO_TRIAL"), &["trial"]).is_ok());
}

#[test]
fn good_failing_and_timing_out_trials() {
    let dir = tempfile::tempdir().unwrap();
    let tracker =
        Tracker::open(&format!("sqlite:///{}", dir.path().join("t.db").display())).unwrap();
    let recorder = Recorder::new(&tracker, "cmd").unwrap();
    let handle = recorder.handle();
    // ({{ and }} are literal braces in a command; other braces are kept as they are)
    // mode 0: good, with a learning curve, an artifact and params from the environment;
    // mode 1: fails with a message on stderr; mode 2: hangs (with a grandchild) past the timeout
    let script = r#"
case {mode} in
  0) echo '{"step": 0, "val_loss": 0.9}'; echo '{"step": 1, "val_loss": 0.5}';
     echo "$HPO_PARAMS" > "$HPO_ARTIFACT_DIR/seen.json";
     echo "trial $HPO_TRIAL run $HPO_RUN_ID";
     echo '{"loss": {x}, "metrics": {"acc": 0.75}}}}' ;;
  1) echo 'loading data' ; echo 'Traceback: CUDA out of memory' >&2; exit 3 ;;
  *) sleep 30 & sleep 30 ;;
esac"#;
    let space =
        Space::from_params([hp::choice("mode", [0, 1, 2]), hp::uniform("x", 0.0, 1.0)]).unwrap();
    let objective = CommandObjective::new(sh(script), &["mode", "x"])
        .unwrap()
        .timeout(Some(Duration::from_millis(500)));
    let points = (0..3).map(|m| {
        std::collections::BTreeMap::from([
            ("mode".to_string(), hpo::Value::Int(m)),
            ("x".to_string(), hpo::Value::Float(0.5)),
        ])
    });
    let start = Instant::now();
    let r = Fmin::new(objective, &space)
        .algo(Random)
        .initial_points(points)
        .max_evals(3)
        .parallelism(3)
        .seed(1)
        .observer(recorder)
        .run()
        .unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "the timeout did not stop the trial"
    );
    assert!(handle.errors().is_empty(), "{:?}", handle.errors());

    let good = &r.trials[0];
    assert_eq!(good.state, TrialState::Ok);
    assert_eq!(good.loss, Some(0.5));
    assert_eq!(good.metrics["acc"], 0.75);
    let run = tracker.get_run(&handle.trial_run_id(0).unwrap()).unwrap();
    assert_eq!(run.info.status, RunStatus::Finished);
    let curve = tracker
        .metric_history(&run.info.run_id, "val_loss")
        .unwrap();
    assert_eq!(
        curve.iter().map(|m| (m.step, m.value)).collect::<Vec<_>>(),
        vec![(0, 0.9), (1, 0.5)]
    );
    let arts = tracker.artifacts(&run.info.run_id).unwrap();
    // the output of a trial that ended ok is not kept by default
    assert!(arts.read_text("stdout.txt").is_err());
    assert!(arts.read_text("stderr.txt").is_err());
    let seen: serde_json::Value =
        serde_json::from_str(&arts.read_text("seen.json").unwrap()).unwrap();
    assert_eq!(seen["mode"], 0);
    assert_eq!(seen["x"], 0.5);

    let failed = &r.trials[1];
    assert_eq!(failed.state, TrialState::Failed);
    let msg = failed.message.as_deref().unwrap();
    assert!(
        msg.contains("exit code 3") && msg.contains("CUDA out of memory"),
        "{msg}"
    );
    let run = tracker.get_run(&handle.trial_run_id(1).unwrap()).unwrap();
    assert_eq!(run.info.status, RunStatus::Failed);
    assert!(run
        .data
        .tag("hpo.failureReason")
        .unwrap()
        .contains("CUDA out of memory"));
    let arts = tracker.artifacts(&run.info.run_id).unwrap();
    assert!(arts.read_text("stderr.txt").unwrap().contains("Traceback"));

    let killed = &r.trials[2];
    assert_eq!(killed.state, TrialState::Killed);
    assert!(killed.message.as_deref().unwrap().contains("timed out"));
    let run = tracker.get_run(&handle.trial_run_id(2).unwrap()).unwrap();
    assert_eq!(run.info.status, RunStatus::Killed);
}

/// A tracker in a new temporary directory.
fn tracker_in(dir: &tempfile::TempDir) -> Tracker {
    Tracker::open(&format!("sqlite:///{}", dir.path().join("t.db").display())).unwrap()
}

/// One trial of `script` (sh) with a per-trial timeout; returns the trial and the seconds taken.
fn one_trial(script: &str, timeout: Duration, dir: &tempfile::TempDir) -> (hpo::Trial, f64) {
    let tracker = tracker_in(dir);
    let space = Space::from_params([hp::uniform("x", 0.0, 1.0)]).unwrap();
    let objective = CommandObjective::new(sh(script), &["x"])
        .unwrap()
        .timeout(Some(timeout))
        .workdir(dir.path());
    let start = Instant::now();
    let r = Fmin::new(objective, &space)
        .algo(Random)
        .max_evals(1)
        .seed(3)
        .observer(Recorder::new(&tracker, "one").unwrap())
        .run()
        .unwrap();
    (r.trials[0].clone(), start.elapsed().as_secs_f64())
}

#[test]
fn a_grandchild_in_its_own_session_holding_stdout_cannot_hang_the_trial() {
    // the grandchild leaves the process group and the session and keeps stdout open: the
    // timeout still holds, and the grandchild is killed
    let dir = tempfile::tempdir().unwrap();
    let script = "setsid sh -c 'echo $$ > gc.pid; sleep 60' & sleep 60";
    let (trial, secs) = one_trial(script, Duration::from_secs(1), &dir);
    assert_eq!(trial.state, TrialState::Killed, "{:?}", trial.message);
    assert!(secs < 6.0, "took {secs} s");
    let gc = pids(&dir.path().join("gc.pid"));
    assert_eq!(gc.len(), 1);
    std::thread::sleep(Duration::from_millis(200));
    assert!(!alive(gc[0]), "the setsid grandchild {} survived", gc[0]);
}

#[test]
fn a_background_child_holding_stdout_does_not_stretch_the_trial() {
    // the main process prints the loss and exits; a background child keeps stdout for 25 s
    let dir = tempfile::tempdir().unwrap();
    let script = "(echo $$ > /dev/null; sh -c 'echo $$ > bg.pid; exec sleep 25') & echo 0.5";
    let (trial, secs) = one_trial(script, Duration::from_secs(20), &dir);
    assert_eq!(trial.state, TrialState::Ok, "{:?}", trial.message);
    assert_eq!(trial.loss, Some(0.5));
    assert!(
        secs < 5.0,
        "took {secs} s: the trial waited for the background child"
    );
    std::thread::sleep(Duration::from_millis(200));
    for pid in pids(&dir.path().join("bg.pid")) {
        assert!(!alive(pid), "background child {pid} survived the trial");
    }
}

#[test]
fn non_utf8_output_and_float_steps_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let tracker = tracker_in(&dir);
    let recorder = Recorder::new(&tracker, "bytes").unwrap();
    let handle = recorder.handle();
    // a stray byte first, then enough output to fill a pipe, float steps, then the loss
    let script = r#"printf '\377\376 not utf-8\n'; seq 1 100000;
echo '{"step": 1.0, "val_loss": 0.7}'; echo '{"step": 2.0, "val_loss": 0.4}'; echo 0.25"#;
    let space = Space::from_params([hp::uniform("x", 0.0, 1.0)]).unwrap();
    let objective = CommandObjective::new(sh(script), &["x"]).unwrap();
    let r = Fmin::new(objective, &space)
        .algo(Random)
        .max_evals(1)
        .seed(3)
        .observer(recorder)
        .run()
        .unwrap();
    assert_eq!(
        r.trials[0].state,
        TrialState::Ok,
        "{:?}",
        r.trials[0].message
    );
    assert_eq!(r.trials[0].loss, Some(0.25));
    let run = handle.trial_run_id(0).unwrap();
    let curve = tracker.metric_history(&run, "val_loss").unwrap();
    assert_eq!(
        curve.iter().map(|m| (m.step, m.value)).collect::<Vec<_>>(),
        vec![(1, 0.7), (2, 0.4)]
    );
}

#[test]
fn output_is_capped_and_kept_for_failed_trials_only() {
    let dir = tempfile::tempdir().unwrap();
    let tracker = tracker_in(&dir);
    let recorder = Recorder::new(&tracker, "out").unwrap();
    let handle = recorder.handle();
    // mode 0: ok with output; mode 1: fails after 3 MB on stdout and a message on stderr
    let script = r#"case {mode} in
  0) echo 'chatter'; echo 'more' >&2; echo 0.1 ;;
  *) head -c 3000000 /dev/zero | tr '\0' 'y'; echo; echo 'boom' >&2; exit 1 ;;
esac"#;
    let space = Space::from_params([hp::choice("mode", [0, 1])]).unwrap();
    let objective = CommandObjective::new(sh(script), &["mode"])
        .unwrap()
        .output_limit(100_000);
    let points = (0..2)
        .map(|m| std::collections::BTreeMap::from([("mode".to_string(), hpo::Value::Int(m))]));
    let r = Fmin::new(objective, &space)
        .algo(Random)
        .initial_points(points)
        .max_evals(2)
        .seed(1)
        .observer(recorder)
        .run()
        .unwrap();
    assert_eq!(r.trials[0].state, TrialState::Ok);
    assert_eq!(r.trials[1].state, TrialState::Failed);
    let ok = tracker.artifacts(&handle.trial_run_id(0).unwrap()).unwrap();
    assert!(
        ok.read_text("stdout.txt").is_err(),
        "output of an ok trial kept"
    );
    let failed = tracker.artifacts(&handle.trial_run_id(1).unwrap()).unwrap();
    let stdout = failed.read_text("stdout.txt").unwrap();
    assert!(stdout.len() < 100_300, "{} bytes kept", stdout.len());
    assert!(stdout.starts_with("yyyy"));
    assert!(
        stdout.contains("output limit of 100000 bytes reached; 2900001 more bytes"),
        "{}",
        &stdout[stdout.len() - 200..]
    );
    assert_eq!(failed.read_text("stderr.txt").unwrap(), "boom\n");
}

#[test]
fn a_fifo_in_the_artifact_directory_is_skipped_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let tracker = tracker_in(&dir);
    let recorder = Recorder::new(&tracker, "fifo").unwrap();
    let handle = recorder.handle();
    let script =
        r#"mkfifo "$HPO_ARTIFACT_DIR/pipe"; echo kept > "$HPO_ARTIFACT_DIR/model.txt"; echo 0.3"#;
    let space = Space::from_params([hp::uniform("x", 0.0, 1.0)]).unwrap();
    let objective = CommandObjective::new(sh(script), &["x"]).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = Fmin::new(objective, &space)
            .algo(Random)
            .max_evals(1)
            .seed(1)
            .observer(recorder)
            .run()
            .unwrap();
        let _ = tx.send(r.trials[0].loss);
    });
    let loss = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the artifact copy hung on the FIFO");
    assert_eq!(loss, Some(0.3));
    let run = tracker.get_run(&handle.trial_run_id(0).unwrap()).unwrap();
    let arts = tracker.artifacts(&run.info.run_id).unwrap();
    assert_eq!(arts.read_text("model.txt").unwrap(), "kept\n");
    assert!(arts.read_text("pipe").is_err());
    assert_eq!(run.data.tag("hpo.skippedArtifacts"), Some("pipe (a FIFO)"));
}

#[test]
fn an_interrupt_stops_the_study_and_kills_running_trials() {
    let dir = tempfile::tempdir().unwrap();
    let tracker = tracker_in(&dir);
    let recorder = Recorder::new(&tracker, "int").unwrap();
    let handle = recorder.handle();
    // every trial ignores SIGTERM and sleeps: only SIGKILL after the grace period stops it
    let script = "trap '' TERM; echo $$ >> pids; sleep 60 & wait; sleep 60";
    let space = Space::from_params([hp::uniform("x", 0.0, 1.0)]).unwrap();
    let objective = CommandObjective::new(sh(script), &["x"])
        .unwrap()
        .workdir(dir.path())
        .grace_period(Duration::from_millis(300));
    let interrupt = hpo::study::Interrupt::new();
    let trigger = interrupt.clone();
    let pid_file = dir.path().join("pids");
    let watcher = pid_file.clone();
    std::thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(20);
        while pids(&watcher).len() < 2 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        trigger.trigger("test says stop");
    });
    let start = Instant::now();
    let r = Fmin::new(objective, &space)
        .algo(Random)
        .max_evals(10)
        .parallelism(2)
        .seed(1)
        .interrupt(interrupt)
        .observer(recorder)
        .run()
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(15));
    assert_eq!(
        r.stop_reason,
        hpo::StopReason::Interrupted("test says stop".into())
    );
    assert_eq!(
        r.trials.len(),
        2,
        "no trial is handed out after the interrupt"
    );
    for (n, t) in r.trials.iter().enumerate() {
        assert_eq!(t.state, TrialState::Killed);
        let run = tracker.get_run(&handle.trial_run_id(n).unwrap()).unwrap();
        assert_eq!(run.info.status, RunStatus::Killed);
        let reason = run.data.tag("hpo.failureReason").unwrap();
        assert!(reason.contains("interrupted (test says stop)"), "{reason}");
    }
    let study = tracker.get_run(&handle.study_run_id().unwrap()).unwrap();
    assert_eq!(study.info.status, RunStatus::Killed);
    for pid in pids(&pid_file) {
        assert!(!alive(pid), "trial process {pid} survived");
    }
}

/// A trial's scratch directory (its params file, its artifacts) goes once its files are in its
/// run: a long study keeps no second copy of every model it saved.
#[test]
fn a_trials_scratch_directory_goes_once_its_artifacts_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let tracker =
        Tracker::open(&format!("sqlite:///{}", dir.path().join("t.db").display())).unwrap();
    let recorder = Recorder::new(&tracker, "scratch").unwrap();
    let handle = recorder.handle();
    // each trial counts the files it finds in its artifact directory (directories are reused,
    // emptied, from trial to trial), saves a model, and prints that count plus how many trial
    // directories it sees next to its own
    let script = r#"left=$(ls -A "$HPO_ARTIFACT_DIR" | wc -l)
echo "model of trial $HPO_TRIAL" > "$HPO_ARTIFACT_DIR/model.txt"; touch "$HPO_ARTIFACT_DIR/../extra"
echo $(( left + $(ls -d "$HPO_ARTIFACT_DIR"/../../trial-* | wc -l) ))"#;
    let space = Space::from_params([hp::uniform("x", 0.0, 1.0)]).unwrap();
    let objective = CommandObjective::new(sh(script), &["x"]).unwrap();
    let r = Fmin::new(objective, &space)
        .algo(Random)
        .max_evals(5)
        .parallelism(1)
        .seed(3)
        .observer(recorder)
        .run()
        .unwrap();
    assert!(handle.errors().is_empty(), "{:?}", handle.errors());
    for t in &r.trials {
        assert_eq!(t.state, TrialState::Ok, "{t:?}");
        assert_eq!(
            t.loss,
            Some(1.0),
            "trial {}: earlier trials' directories or files remain",
            t.number
        );
        let run = handle.trial_run_id(t.number).unwrap();
        let arts = tracker.artifacts(&run).unwrap();
        assert_eq!(
            arts.read_text("model.txt").unwrap(),
            format!("model of trial {}\n", t.number)
        );
    }
}
