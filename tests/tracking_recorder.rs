//! Every trial a nested run: fmin with the Recorder observer writes a parent run for the study
//! and one child run per trial into a real SQLite file.

use std::collections::BTreeSet;

use hpo::tracking::{Recorder, RunStatus, RunsQuery, Tracker};
use hpo::{hp, with_context, Fmin, Node, Params, Space, TrialContext};

fn space() -> Space {
    Space::new(hp::map([
        ("lr", hp::loguniform("lr", -5.0, 0.0)),
        (
            "model",
            hp::choice(
                "model",
                [
                    hp::map([
                        ("type", Node::from("svm")),
                        ("C", hp::uniform("C", 0.0, 1.0)),
                    ]),
                    hp::map([
                        ("type", Node::from("tree")),
                        ("depth", hp::uniformint("depth", 1, 5)),
                    ]),
                ],
            ),
        ),
        ("penalty", hp::choice("penalty", ["l1", "l2"])),
    ]))
    .unwrap()
}

#[test]
fn a_study_is_a_parent_run_and_every_trial_a_child_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hpo.db");
    let tracker = Tracker::open(&format!("sqlite:///{}", db.display())).unwrap();
    let recorder = Recorder::new(&tracker, "recorder-test")
        .unwrap()
        .study_name("s1")
        .metric("rmse");
    let handle = recorder.handle();
    let artifact = dir.path().join("model.txt");
    std::fs::write(&artifact, "weights").unwrap();
    let result = Fmin::new(
        with_context(|p: &Params, ctx: &TrialContext| -> Result<f64, String> {
            if ctx.number() == 2 {
                return Err("diverged".into());
            }
            for epoch in 0..3 {
                ctx.log_metric("val_rmse", 1.0 / (epoch + 1) as f64, epoch);
            }
            ctx.set_tag("framework", "toy");
            ctx.log_artifact(&artifact, "model");
            let lr = p.f64("lr").map_err(|e| e.to_string())?;
            Ok(lr.ln().abs())
        }),
        &space(),
    )
    .max_evals(12)
    .parallelism(2)
    .seed(5)
    .observer(recorder)
    .run()
    .unwrap();
    assert!(handle.errors().is_empty(), "{:?}", handle.errors());

    let parent_id = handle.study_run_id().unwrap();
    let parent = tracker.get_run(&parent_id).unwrap();
    assert_eq!(parent.info.run_name, "s1");
    assert_eq!(parent.info.status, RunStatus::Finished);
    assert_eq!(parent.data.tag("hpo.runType"), Some("study"));
    assert_eq!(parent.data.tag("hpo.metric"), Some("rmse"));
    assert_eq!(parent.data.param("algo"), Some("tpe"));
    assert_eq!(parent.data.param("seed"), Some("5"));
    assert_eq!(parent.data.param("parallelism"), Some("2"));
    assert!(parent.data.param("algo.gamma").is_some());
    let best = result.best().unwrap();
    let best_run = handle.trial_run_id(best.number).unwrap();
    assert_eq!(parent.data.tag("hpo.bestRunId"), Some(best_run.as_str()));
    assert_eq!(
        parent.data.tag("hpo.bestTrial").unwrap(),
        best.number.to_string()
    );
    assert_eq!(
        parent.data.metric("best_rmse").unwrap().latest,
        best.loss.unwrap()
    );
    assert_eq!(
        parent.data.tag("best.lr").unwrap(),
        best.params.get("lr").unwrap().to_string()
    );
    assert_eq!(
        parent.data.tag("best.model").unwrap(),
        best.params.flat()["model"].to_string()
    );

    let children = tracker.child_runs(&parent_id).unwrap();
    assert_eq!(children.len(), 12);
    let mut numbers = BTreeSet::new();
    for child in &children {
        let n: usize = child.data.tag("hpo.trialNumber").unwrap().parse().unwrap();
        numbers.insert(n);
        let trial = &result.trials[n];
        assert_eq!(child.data.tag("hpo.parentRunId"), Some(parent_id.as_str()));
        assert_eq!(child.data.tag("hpo.runType"), Some("trial"));
        // params: active labels only, nested choices flattened
        let keys: BTreeSet<&str> = child.data.params.iter().map(|p| p.key.as_str()).collect();
        let expected: BTreeSet<String> = trial.params.flat().keys().cloned().collect();
        assert_eq!(keys, expected.iter().map(|s| s.as_str()).collect());
        assert!(keys.contains("C") != keys.contains("depth"));
        if n == 2 {
            assert_eq!(child.info.status, RunStatus::Failed);
            assert_eq!(child.data.tag("hpo.failureReason"), Some("diverged"));
            assert!(child.data.metric("rmse").is_none());
        } else {
            assert_eq!(child.info.status, RunStatus::Finished);
            assert_eq!(
                child.data.metric("rmse").unwrap().latest,
                trial.loss.unwrap()
            );
            let curve = tracker
                .metric_history(&child.info.run_id, "val_rmse")
                .unwrap();
            assert_eq!(
                curve.iter().map(|m| m.step).collect::<Vec<_>>(),
                vec![0, 1, 2]
            );
            assert_eq!(child.data.metric("val_rmse").unwrap().min, Some(1.0 / 3.0));
            assert_eq!(child.data.tag("framework"), Some("toy"));
            let files = tracker
                .artifacts(&child.info.run_id)
                .unwrap()
                .list("model")
                .unwrap();
            assert_eq!(files.len(), 1, "{files:?}");
        }
        assert!(child.data.metric("duration_s").is_some());
        assert!(child.info.end_time.is_some());
    }
    assert_eq!(numbers, (0..12).collect());

    // the trials can be searched with the filter language
    let exp = tracker
        .get_experiment_by_name("recorder-test")
        .unwrap()
        .unwrap();
    let q = RunsQuery::new(
        &[exp.experiment_id],
        "tags.hpo.runType = 'trial' and metrics.rmse < 1e9",
    )
    .order_by(&["metrics.rmse ASC"]);
    let page = tracker.search_runs(&q).unwrap();
    assert_eq!(page.runs.len(), 11);
    assert_eq!(page.runs[0].info.run_id, best_run);
}
