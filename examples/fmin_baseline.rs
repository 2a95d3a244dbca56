//! The in-memory baseline of `benches/shared_study.py`: the library's `fmin` over the Branin
//! problem (the run file's `function = "branin"`), one trial at a time, no store. The shared
//! study's storage overhead per trial is a worker's time per trial minus this.
//!
//! cargo run --release --example fmin_baseline -- ALGO N   (ALGO: random or tpe)
//!
//! Prints one line: algo, trials, seconds, ms per trial.

use std::time::Instant;

use hpo::bench::problems;
use hpo::{Fmin, Params, Random, Tpe};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let algo = args.first().map_or("random", String::as_str);
    let n: usize = args.get(1).map_or(Ok(10_000), |a| a.parse())?;
    let problem = problems::by_name("branin").ok_or("branin is bundled")?;
    let loss = problem.loss;
    let fmin = Fmin::new(move |p: &Params| loss(p), &problem.space)
        .max_evals(n)
        .seed(1);
    let t = Instant::now();
    let result = match algo {
        "random" => fmin.algo(Random).run()?,
        "tpe" => fmin.algo(Tpe::default()).run()?,
        other => return Err(format!("algo '{other}': random or tpe").into()),
    };
    let s = t.elapsed().as_secs_f64();
    println!(
        "algo={algo} trials={} seconds={s:.3} ms_per_trial={:.4}",
        result.trials.len(),
        s * 1e3 / result.trials.len() as f64
    );
    Ok(())
}
