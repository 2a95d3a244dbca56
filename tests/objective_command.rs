//! The command objective end to end: real subprocesses, the loss protocol, learning curves,
//! failures with stderr kept, per-trial timeouts killing the process group, artifacts.

use std::time::{Duration, Instant};

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
    let stdout = arts.read_text("stdout.txt").unwrap();
    assert!(
        stdout.contains(&format!("run {}", run.info.run_id)),
        "{stdout}"
    );
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
