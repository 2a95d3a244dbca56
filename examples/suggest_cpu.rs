//! The CPU time of each suggestion in the like-for-like loop (`examples/suggest_loop.rs`'s study,
//! through `Study::ask` and `Study::tell` on one thread): less sensitive to other processes than
//! the loop's wall time, for A/B checks between builds while the machine is shared.
//!
//! `RAYON_NUM_THREADS=1 cargo run --release --example suggest_cpu -- 1000 tpe` prints the mean
//! and the median thread CPU time of the last 100 suggestions (`tpe` or `tpe-no-explore`) and
//! `bits`, the hash `suggest_loop` prints for the same study.

#[path = "common/study_bits.rs"]
mod common_bits;

use common_bits::study_bits;
use hpo::bench::problems::{mixed10_objective, mixed10_space};
use hpo::{Study, Tpe};

/// This thread's CPU time in milliseconds.
fn thread_cpu_ms() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 * 1e-6
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let algo = std::env::args().nth(2).unwrap_or_else(|| "tpe".into());
    let tpe = match algo.as_str() {
        "tpe" => Tpe::default(),
        "tpe-no-explore" => Tpe {
            explore: None,
            ..Tpe::default()
        },
        other => {
            eprintln!("unknown algorithm '{other}': tpe or tpe-no-explore");
            std::process::exit(2);
        }
    };
    let space = mixed10_space();
    let mut study = Study::new(&space, tpe, 0);
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = thread_cpu_ms();
        let t = study.ask();
        times.push(thread_cpu_ms() - start);
        let loss = mixed10_objective(&t.params);
        if let Err(e) = study.tell(t.number, loss) {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
    let bits = study_bits(study.trials());
    let mut last = times[n.saturating_sub(100)..].to_vec();
    let mean = last.iter().sum::<f64>() / last.len().max(1) as f64;
    last.sort_by(f64::total_cmp);
    let median = last.get(last.len() / 2).copied().unwrap_or(f64::NAN);
    println!(
        "{{\"algo\": \"{algo}\", \"n\": {n}, \"cpu_ms_per_suggestion_last100_mean\": {mean:.4}, \"cpu_ms_per_suggestion_last100_median\": {median:.4}, \"bits\": \"{bits:016x}\"}}"
    );
}
