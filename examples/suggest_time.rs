//! Times single TPE suggestions on the suggest benchmark's histories, without criterion: a quick
//! A/B check between builds (`RAYON_NUM_THREADS=1` for one thread).
//!
//! `cargo run --release --example suggest_time -- 1000 300 [hyperopt]` prints the median, the
//! 10th and the 90th percentile of 300 suggestions after 1000 random-search trials, a checksum
//! of the suggested values, and a hash of their bits (equal hashes: the same suggestions, bit
//! for bit).

use std::time::Instant;

use hpo::algo::trial_rng;
use hpo::bench::problems::{mixed10_objective, mixed10_space};
use hpo::trial::HistoryView;
use hpo::{Algorithm, Random, Study, Tpe};

fn arg(i: usize, default: usize) -> usize {
    std::env::args()
        .nth(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n = arg(1, 1000);
    let reps = arg(2, 200).max(1);
    let hyperopt = std::env::args().nth(3).is_some_and(|s| s == "hyperopt");
    let space = mixed10_space();
    let mut study = Study::new(&space, Random, 42);
    for _ in 0..n {
        let t = study.ask();
        let loss = mixed10_objective(&t.params);
        if let Err(e) = study.tell(t.number, loss) {
            eprintln!("tell failed: {e}");
            return;
        }
    }
    let view = HistoryView::new(study.trials());
    let algo = if hyperopt {
        Tpe::hyperopt()
    } else {
        Tpe::default()
    };
    let mut times = Vec::with_capacity(reps);
    let mut checksum = 0.0;
    // FNV-1a over the bits of every suggested value
    let mut bits: u64 = 0xcbf2_9ce4_8422_2325;
    for k in 0..reps {
        let mut rng = trial_rng(42, n + k);
        let start = Instant::now();
        let a = algo.suggest(&space, &view, &mut rng);
        times.push(start.elapsed().as_secs_f64() * 1e3);
        checksum += a.values().iter().filter(|v| !v.is_nan()).sum::<f64>();
        for v in a.values() {
            bits = (bits ^ v.to_bits()).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "n={n} median {:.3} ms  p10 {:.3}  p90 {:.3}  (checksum {checksum:.6}, bits {bits:016x})",
        times[reps / 2],
        times[reps / 10],
        times[reps * 9 / 10]
    );
}
