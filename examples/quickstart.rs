//! The quickstart: tune the bundled `mixed_hpo` problem (a log-scaled learning rate, integer
//! units and layers, dropout, and an optimizer choice with a conditional momentum) with TPE,
//! four trials at a time, recording every trial as a nested run in `./hpo.db`, in the experiment
//! `quickstart-library` (the README's `hpo run spaces/quickstart.toml` writes `quickstart`, with
//! another metric: each keeps its own best).
//!
//! cargo run --release --example quickstart

use hpo::bench::problems;
use hpo::tracking::{Recorder, Tracker};
use hpo::{Fmin, Params, Tpe};

/// The experiment this example records into.
const EXPERIMENT: &str = "quickstart-library";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let problem = problems::by_name("mixed_hpo").ok_or("mixed_hpo is bundled")?;
    let tracker = Tracker::open_default()?;
    let recorder = Recorder::new(&tracker, EXPERIMENT)?.study_name("mixed_hpo-tpe");
    let handle = recorder.handle();
    let loss = problem.loss;
    println!("search space:\n{}", problem.space);
    let result = Fmin::new(move |p: &Params| loss(p), &problem.space)
        .algo(Tpe::default())
        .max_evals(100)
        .parallelism(4)
        .seed(42)
        .observer(recorder)
        .run()?;
    let best = result.best().ok_or("no trial succeeded")?;
    println!("trials:     {}", result.trials.len());
    println!(
        "best loss:  {:.5} (trial {}, regret {:.5})",
        best.loss.unwrap_or(f64::NAN),
        best.number,
        best.loss.unwrap_or(f64::NAN) - problem.minimum
    );
    println!("best params: {}", best.params.to_json());
    println!(
        "as hyperopt's argmin: {}",
        serde_json::to_string(&best.params.raw())?
    );
    if let Some(run) = handle.study_run_id() {
        println!(
            "study run:  {run} (experiment '{EXPERIMENT}' in ./hpo.db, every trial a child run)"
        );
    }
    for e in handle.errors() {
        eprintln!("tracking error: {e}");
    }
    Ok(())
}
