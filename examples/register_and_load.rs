//! Tune a model, register the best trial, load it back and predict: the end of every classic
//! hyperopt + MLflow tutorial, in the library.
//!
//! cargo run --release --example register_and_load

use hpo::objective::linfa::{load_model, DataSource, LinfaObjective, Validation};
use hpo::registry::Registry;
use hpo::tracking::{Recorder, Tracker};
use hpo::{hp, Fmin, Space, Tpe};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let tracker = Tracker::open(&format!(
        "sqlite:///{}",
        dir.path().join("hpo.db").display()
    ))?;

    // 1. tune a Lasso's alpha on the bundled diabetes data, every trial a nested run
    let space = Space::from_params([hp::loguniform("alpha", -9.0, 2.0)])?;
    let objective = LinfaObjective::new(
        "lasso",
        DataSource::builtin("diabetes")?,
        Validation::Holdout { fraction: 0.2 },
        "rmse",
        42,
    )?;
    let recorder = Recorder::new(&tracker, "diabetes-lasso")?.metric("rmse");
    let handle = recorder.handle();
    let result = Fmin::new(&objective, &space)
        .algo(Tpe::default())
        .max_evals(30)
        .seed(42)
        .observer(recorder)
        .run()?;
    let best = result.best().ok_or("no trial succeeded")?;
    println!(
        "best rmse {:.3} with alpha = {}",
        best.loss.unwrap_or(f64::NAN),
        best.params.f64("alpha")?
    );

    // 2. register the study's best trial and point the champion alias at it
    let registry = Registry::new(tracker.clone())?;
    let study = handle.study_run_id().ok_or("the study was not recorded")?;
    let version = registry.register_best_of_study(&study, "diabetes-lasso", Some("champion"))?;
    println!(
        "registered models:/{}/{} ({})",
        version.name, version.version, version.source
    );

    // 3. load it back by alias and predict
    let resolved = registry.resolve("models:/diabetes-lasso@champion")?;
    let model = load_model(&resolved.artifact_location)?;
    let table = DataSource::builtin("diabetes")?.load()?;
    let predictions = model.predict(&table.records)?;
    for (p, t) in predictions.iter().zip(table.targets.iter()).take(5) {
        println!("predicted {p:7.1}   actual {t:5.0}");
    }
    Ok(())
}
