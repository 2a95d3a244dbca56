//! The linfa objective: bundled data, CSV files, validation, models, saving and tuning.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use hpo::objective::linfa::{
    load_model, predict_csv, save_model, DataSource, LinfaError, LinfaObjective, Validation,
};
use hpo::{hp, Fmin, Space, Tpe, TrialState, Value};

fn values(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn enet(seed: u64) -> LinfaObjective {
    LinfaObjective::new(
        "elasticnet",
        DataSource::Diabetes,
        Validation::default(),
        "rmse",
        seed,
    )
    .unwrap()
}

#[test]
fn elasticnet_on_diabetes_scores_sanely_and_repeats() {
    let obj = enet(7);
    let p = values(&[("alpha", 0.001.into()), ("l1_ratio", 0.5.into())]);
    let e = obj.evaluate_values(&p).unwrap();
    eprintln!("{e:?}");
    assert!(e.scores.r2 > 0.3, "{e:?}");
    assert!(e.scores.rmse < 70.0, "{e:?}");
    assert_eq!(e.loss, e.scores.rmse);
    let again = enet(7);
    assert_eq!(again.splits(), obj.splits());
    assert_eq!(again.evaluate_values(&p).unwrap(), e);
    assert_ne!(enet(8).splits(), obj.splits());
    assert_eq!(obj.splits()[0].valid.len(), 88);
}

#[test]
fn kfold_averages_over_folds() {
    let obj = LinfaObjective::new(
        "ridge",
        DataSource::Diabetes,
        Validation::KFold { k: 5 },
        "r2",
        3,
    )
    .unwrap();
    assert_eq!(obj.splits().len(), 5);
    let e = obj
        .evaluate_values(&values(&[("alpha", 0.001.into())]))
        .unwrap();
    eprintln!("{e:?}");
    assert!(e.scores.r2 > 0.3, "{e:?}");
    assert_eq!(e.loss, -e.scores.r2);
    let m = obj.fit_model(&BTreeMap::new()).unwrap();
    assert_eq!(m.meta.n_train_rows, 441);
}

#[test]
fn decision_tree_on_shuffled_iris() {
    let obj = LinfaObjective::new(
        "decision_tree",
        DataSource::Iris,
        Validation::Holdout { fraction: 0.3 },
        "accuracy",
        11,
    )
    .unwrap();
    let e = obj
        .evaluate_values(&values(&[
            ("max_depth", 3.into()),
            ("split_quality", "entropy".into()),
        ]))
        .unwrap();
    assert!(e.scores.accuracy > 0.85, "{e:?}");
    assert_eq!(e.loss, -e.scores.accuracy);
}

#[test]
fn other_models_run() {
    for (model, data, p) in [
        (
            "linear",
            DataSource::Diabetes,
            values(&[("fit_intercept", true.into())]),
        ),
        (
            "lasso",
            DataSource::Diabetes,
            values(&[("alpha", 0.1.into())]),
        ),
        (
            "tweedie",
            DataSource::Diabetes,
            values(&[("power", 0.0.into()), ("alpha", 0.01.into())]),
        ),
        (
            "tweedie",
            DataSource::WineQuality,
            values(&[
                ("power", 1.0.into()),
                ("link", "log".into()),
                ("max_iter", 50.into()),
            ]),
        ),
        (
            "decision_tree",
            DataSource::WineQuality,
            values(&[("max_depth", 4.into())]),
        ),
    ] {
        let obj = LinfaObjective::new(model, data, Validation::default(), "mae", 1).unwrap();
        let e = obj.evaluate_values(&p).unwrap();
        assert!(e.loss.is_finite() && e.loss > 0.0, "{model}: {e:?}");
    }
}

#[test]
fn invalid_hyperparameters_fail_the_trial() {
    let obj = enet(1);
    let space = Space::from_params([hp::uniform("alpha", -2.0, -1.0)]).unwrap();
    let result = Fmin::new(&obj, &space).max_evals(2).seed(1).run().unwrap();
    for t in &result.trials {
        assert_eq!(t.state, TrialState::Failed);
        let msg = t.message.clone().unwrap();
        assert!(msg.contains("alpha") && msg.contains(">= 0"), "{msg}");
    }
    for bad in [
        values(&[("l1_ratio", 1.5.into())]),
        values(&[("max_iterations", 0.into())]),
        values(&[("fit_intercept", "maybe".into())]),
        values(&[("alpha", "x".into())]),
    ] {
        let err = obj.evaluate_values(&bad).unwrap_err();
        assert!(
            matches!(err, LinfaError::InvalidHyperparameter { .. }),
            "{err}"
        );
    }
    let tree =
        LinfaObjective::new("tree", DataSource::Iris, Validation::default(), "r2", 1).unwrap();
    for bad in [
        values(&[("max_depth", 0.into())]),
        values(&[("split_quality", "best".into())]),
        values(&[("min_impurity_decrease", 0.0.into())]),
    ] {
        assert!(tree.evaluate_values(&bad).is_err());
    }
    let tw = LinfaObjective::new(
        "tweedie",
        DataSource::Diabetes,
        Validation::default(),
        "r2",
        1,
    )
    .unwrap();
    assert!(tw
        .evaluate_values(&values(&[("power", 0.5.into())]))
        .is_err());
    // unknown labels are ignored
    assert!(obj
        .evaluate_values(&values(&[("colour", "red".into())]))
        .is_ok());
}

#[test]
fn bad_construction_is_an_error() {
    let d = || DataSource::Diabetes;
    assert!(LinfaObjective::new("svm", d(), Validation::default(), "rmse", 0).is_err());
    assert!(LinfaObjective::new("linear", d(), Validation::default(), "auc", 0).is_err());
    assert!(LinfaObjective::new("linear", d(), Validation::KFold { k: 1 }, "rmse", 0).is_err());
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
    path
}

#[test]
fn csv_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("x1,x2,y\n");
    for i in 0..40 {
        let (a, b) = (i as f64 * 0.5, ((i * 7) % 11) as f64);
        text.push_str(&format!(
            "{a},{b},{}\n",
            3.0 * a - 2.0 * b + 1.0 + (i % 3) as f64 * 0.1
        ));
    }
    let csv = write(dir.path(), "train.csv", &text);
    let obj = LinfaObjective::new(
        "elasticnet",
        DataSource::csv(&csv, "y"),
        Validation::default(),
        "rmse",
        5,
    )
    .unwrap();
    assert_eq!(obj.table().feature_names, vec!["x1", "x2"]);
    let p = values(&[("alpha", 0.0001.into())]);
    let e = obj.evaluate_values(&p).unwrap();
    assert!(e.scores.r2 > 0.99, "{e:?}");
    let model = obj.fit_model(&p).unwrap();
    let (x, _) = obj.table().rows(&[0, 1, 2, 3]);
    let before = model.predict(&x).unwrap();
    let mdir = dir.path().join("model");
    save_model(&model, &mdir).unwrap();
    let loaded = load_model(&mdir).unwrap();
    assert_eq!(loaded.meta, model.meta);
    let after = loaded.predict(&x).unwrap();
    for (a, b) in before.iter().zip(&after) {
        assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "{a} vs {b}");
    }
    // columns by name, in another order, without the target
    let pred_csv = write(dir.path(), "new.csv", "x2,x1\n0,0\n1,0.5\n");
    let from_csv = predict_csv(&mdir, &pred_csv).unwrap();
    let direct = loaded
        .predict(&ndarray::array![[0.0, 0.0], [0.5, 1.0]])
        .unwrap();
    assert_eq!(from_csv, direct);
    assert!(loaded.predict(&ndarray::array![[1.0]]).is_err());
    let missing = write(dir.path(), "missing.csv", "x1\n1\n");
    let err = predict_csv(&mdir, &missing).unwrap_err().to_string();
    assert!(err.contains("x2") && err.contains("x1"), "{err}");
}

#[test]
fn tree_model_round_trip() {
    let obj = LinfaObjective::new(
        "decision_tree",
        DataSource::Iris,
        Validation::default(),
        "accuracy",
        2,
    )
    .unwrap();
    let model = obj.fit_model(&values(&[("max_depth", 4.into())])).unwrap();
    let dir = tempfile::tempdir().unwrap();
    save_model(&model, dir.path()).unwrap();
    let loaded = load_model(dir.path()).unwrap();
    let x = obj.table().records.clone();
    assert_eq!(model.predict(&x).unwrap(), loaded.predict(&x).unwrap());
    assert!(loaded
        .predict(&x)
        .unwrap()
        .iter()
        .all(|c| [0.0, 1.0, 2.0].contains(c)));
}

#[test]
fn bad_csvs_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let open = |name: &str, text: &str, target: &str| {
        let p = write(dir.path(), name, text);
        LinfaObjective::new(
            "linear",
            DataSource::csv(p, target),
            Validation::default(),
            "rmse",
            0,
        )
        .err()
        .unwrap()
    };
    let e = open("bad.csv", "a,b,y\n1,2,3\n4,oops,6\n", "y");
    assert!(
        matches!(&e, LinfaError::BadCell { line: 3, column_number: 2, column, value, .. } if column == "b" && value == "oops"),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("bad.csv") && msg.contains("line 3") && msg.contains("'b'"),
        "{msg}"
    );
    let e = open("nt.csv", "a,b,y\n1,2,3\n", "target");
    assert!(matches!(&e, LinfaError::MissingColumn { .. }), "{e}");
    assert!(e.to_string().contains("a, b, y"), "{e}");
    let e = open("empty.csv", "", "y");
    assert!(matches!(&e, LinfaError::EmptyCsv { .. }), "{e}");
    assert!(e.to_string().contains("empty"), "{e}");
    let e = open("header.csv", "a,y\n\n", "y");
    assert!(matches!(&e, LinfaError::NoDataRows { .. }), "{e}");
    let e = open("ragged.csv", "a,y\n1,2\n3\n", "y");
    assert!(matches!(&e, LinfaError::RaggedRow { line: 3, .. }), "{e}");
    let e = open("nan.csv", "a,y\n1,2\nNaN,3\n", "y");
    assert!(matches!(&e, LinfaError::BadCell { line: 3, .. }), "{e}");
    let p = write(dir.path(), "frac.csv", "a,y\n1,2\n3,0.5\n4,1\n");
    let e = LinfaObjective::new(
        "decision_tree",
        DataSource::csv(p, "y"),
        Validation::default(),
        "accuracy",
        0,
    )
    .err()
    .unwrap();
    assert!(
        matches!(&e, LinfaError::NotClassLabels { row: 1, .. }),
        "{e}"
    );
    let e = LinfaObjective::new(
        "linear",
        DataSource::csv(dir.path().join("nope.csv"), "y"),
        Validation::default(),
        "rmse",
        0,
    )
    .err()
    .unwrap();
    assert!(matches!(&e, LinfaError::Io { .. }), "{e}");
}

#[test]
fn fmin_tunes_elasticnet_below_the_default() {
    let obj = enet(42);
    let default = obj.evaluate_values(&BTreeMap::new()).unwrap().loss;
    let space = Space::from_params([
        hp::loguniform("alpha", -7.0, 1.0),
        hp::uniform("l1_ratio", 0.0, 1.0),
    ])
    .unwrap();
    let models = tempfile::tempdir().unwrap();
    let obj = obj.model_dir(models.path());
    let result = Fmin::new(&obj, &space)
        .algo(Tpe)
        .max_evals(15)
        .seed(3)
        .run()
        .unwrap();
    let best = result.best().unwrap();
    let loss = best.ok_loss().unwrap();
    eprintln!("default {default}, best {loss}");
    assert!(loss < default, "default {default}, best {loss}");
    // a regression logs the regression metrics, not a meaningless accuracy
    let mut keys: Vec<&str> = best.metrics.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["mae", "r2", "rmse"], "{:?}", best.metrics);
    assert_eq!(best.metrics["rmse"], loss);
    assert_eq!(best.state, TrialState::Ok);
    // every trial saved a model
    assert_eq!(std::fs::read_dir(models.path()).unwrap().count(), 15);
}

#[test]
fn degenerate_inputs_fail_or_work_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    // a constant column, a constant target, more features than training rows
    let p = write(
        dir.path(),
        "deg.csv",
        "a,b,c,d,e,f,y\n1,0,3,1,2,3,1\n1,0,4,2,2,4,0\n1,0,5,3,2,5,1\n1,0,6,5,2,6,1\n",
    );
    for model in [
        "linear",
        "elasticnet",
        "lasso",
        "ridge",
        "tweedie",
        "decision_tree",
    ] {
        for v in [Validation::default(), Validation::KFold { k: 2 }] {
            let obj = LinfaObjective::new(model, DataSource::csv(&p, "y"), v, "r2", 0).unwrap();
            for params in [
                BTreeMap::new(),
                values(&[("alpha", 0.0.into()), ("fit_intercept", false.into())]),
                values(&[("link", "logit".into()), ("power", 0.into())]),
            ] {
                let r = std::panic::catch_unwind(|| obj.evaluate_values(&params));
                assert!(r.is_ok(), "{model} {v} {params:?} panicked");
            }
        }
    }
    // tweedie with a logit link on a target outside (0, 1), and a log link on negative values
    let obj = LinfaObjective::new(
        "tweedie",
        DataSource::Diabetes,
        Validation::default(),
        "rmse",
        0,
    )
    .unwrap();
    for params in [
        values(&[("link", "logit".into())]),
        values(&[
            ("power", 0.into()),
            ("link", "log".into()),
            ("max_iter", 5.into()),
        ]),
        values(&[("power", 2.into())]),
    ] {
        let r = std::panic::catch_unwind(|| obj.evaluate_values(&params));
        assert!(r.is_ok(), "{params:?} panicked");
    }
}

#[test]
fn unregularized_elasticnet_saves_and_loads() {
    let obj = enet(4);
    let p = values(&[("alpha", 0.0.into())]);
    let model = obj.fit_model(&p).unwrap();
    let dir = tempfile::tempdir().unwrap();
    save_model(&model, dir.path()).unwrap();
    let loaded = load_model(dir.path()).unwrap();
    let x = obj.table().records.clone();
    let (a, b) = (model.predict(&x).unwrap(), loaded.predict(&x).unwrap());
    for (a, b) in a.iter().zip(&b) {
        assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0));
    }
}

#[test]
fn recorded_trials_keep_a_loadable_model() {
    use hpo::tracking::{Recorder, Tracker};
    let dir = tempfile::tempdir().unwrap();
    let tracker = Tracker::open(&format!(
        "sqlite:///{}",
        dir.path().join("hpo.db").display()
    ))
    .unwrap();
    let recorder = Recorder::new(&tracker, "linfa").unwrap().metric("accuracy");
    let handle = recorder.handle();
    let obj = LinfaObjective::new(
        "decision_tree",
        DataSource::Iris,
        Validation::KFold { k: 3 },
        "accuracy",
        9,
    )
    .unwrap()
    .model_dir(dir.path().join("scratch"));
    let iris = obj.table().records.clone();
    let space = Space::from_params([
        hp::uniformint("max_depth", 1, 5),
        hp::choice("split_quality", ["gini", "entropy"]),
    ])
    .unwrap();
    let result = Fmin::new(obj, &space)
        .max_evals(3)
        .seed(2)
        .observer(recorder)
        .run()
        .unwrap();
    assert!(handle.errors().is_empty(), "{:?}", handle.errors());
    let best = result.best().unwrap();
    assert!(best.metrics["accuracy"] > 0.6, "{:?}", best.metrics);
    let run = handle.trial_run_id(best.number).unwrap();
    // a classifier's trial records accuracy only: rmse of class labels means nothing
    let recorded: Vec<String> = tracker
        .get_run(&run)
        .unwrap()
        .data
        .metrics
        .iter()
        .map(|m| m.key.clone())
        .filter(|k| ["rmse", "mae", "r2", "accuracy"].contains(&k.as_str()))
        .collect();
    assert_eq!(recorded, ["accuracy"]);
    let store = tracker.artifacts(&run).unwrap();
    let files: Vec<String> = store
        .list("model")
        .unwrap()
        .iter()
        .map(|f| f.path.clone())
        .collect();
    assert!(files.iter().any(|f| f.ends_with("meta.json")), "{files:?}");
    let model = load_model(store.root().join("model")).unwrap();
    assert_eq!(model.meta.n_train_rows, 150);
    assert_eq!(model.meta.feature_names.len(), 4);
    let pred = model.predict(&iris).unwrap();
    assert_eq!(pred.len(), 150);
}
