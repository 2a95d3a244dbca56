//! hpo's whole loop per trial, timed the way `benches/anchors/suggest_latency.py` times hyperopt,
//! Optuna and rustuna: `fmin` with a trivial objective on the same 10-parameter space, a time
//! stamp at each call of the objective, the mean time per trial over the last 100 of `n`.
//!
//! `cargo run --release --example suggest_loop -- 1000 tpe` prints one JSON line in the anchors'
//! format (`algo`: tpe, tpe-hyperopt, tpe-no-explore or random). `benches/like_for_like.py` alternates it with
//! the anchors. `bits` is a hash of every trial's values (FNV-1a over their bits): equal
//! hashes, the same study bit for bit, so a speed-up can show it changed no suggestion.

#[path = "common/study_bits.rs"]
mod common_bits;

use std::sync::Mutex;
use std::time::Instant;

use common_bits::study_bits;
use hpo::bench::problems::{mixed10_objective, mixed10_space};
use hpo::{Fmin, Params, Random, Tpe};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let algo = std::env::args().nth(2).unwrap_or_else(|| "tpe".into());
    let space = mixed10_space();
    let stamps = Mutex::new(Vec::with_capacity(n));
    let objective = |p: &Params| {
        if let Ok(mut s) = stamps.lock() {
            s.push(Instant::now());
        }
        mixed10_objective(p)
    };
    let builder = Fmin::new(objective, &space).max_evals(n).seed(0);
    let builder = match algo.as_str() {
        "tpe" => builder.algo(Tpe::default()),
        "tpe-hyperopt" => builder.algo(Tpe::hyperopt()),
        // the default without its exploration trials, to time what they cost
        "tpe-no-explore" => builder.algo(Tpe {
            explore: None,
            ..Tpe::default()
        }),
        "random" => builder.algo(Random),
        other => {
            eprintln!("unknown algorithm '{other}': tpe, tpe-hyperopt, tpe-no-explore or random");
            std::process::exit(2);
        }
    };
    let start = Instant::now();
    let result = match builder.run() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let all = start.elapsed().as_secs_f64() / n as f64 * 1e3;
    let stamps = stamps.into_inner().unwrap_or_default();
    let last = if stamps.len() > 101 {
        let k = stamps.len();
        (stamps[k - 1] - stamps[k - 101]).as_secs_f64() / 100.0 * 1e3
    } else {
        f64::NAN
    };
    let bits = study_bits(&result.trials);
    println!(
        "{{\"lib\": \"hpo-{}\", \"algo\": \"{algo}\", \"n\": {n}, \"ms_per_trial_last100\": {last:.4}, \"ms_per_trial_all\": {all:.4}, \"bits\": \"{bits:016x}\"}}",
        env!("CARGO_PKG_VERSION")
    );
}
