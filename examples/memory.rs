//! Peak resident memory of a study that keeps 100,000 finished trials of the 10-parameter mixed
//! space of issue 2 (4 uniform, 2 loguniform, 2 integer, 2 categorical), driven by random
//! search through ask/tell.
//!
//! cargo run --release --example memory -- [trials]

use hpo::bench::problems::{mixed10_objective, mixed10_space};
use hpo::{Random, Study};

/// A `VmRSS`/`VmHWM`-style line of /proc/self/status, in kB.
fn status_kb(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("trials must be a number"))
        .unwrap_or(100_000);
    let before = status_kb("VmHWM:").unwrap_or(0);
    let space = mixed10_space();
    let mut study = Study::new(&space, Random, 0);
    let t0 = std::time::Instant::now();
    for _ in 0..n {
        let t = study.ask();
        let loss = mixed10_objective(&t.params);
        study.tell(t.number, loss).expect("tell");
    }
    let elapsed = t0.elapsed();
    let kept = study.trials().len();
    let best = study.best().and_then(|t| t.ok_loss()).unwrap_or(f64::NAN);
    let hwm = status_kb("VmHWM:").expect("VmHWM in /proc/self/status (Linux only)");
    let rss = status_kb("VmRSS:").unwrap_or(0);
    println!(
        "trials kept: {kept}  best loss: {best:.4}  time: {:.2} s ({:.2} us/trial)",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / n as f64
    );
    println!(
        "peak RSS (VmHWM): {:.1} MB  (at start {:.1} MB; current VmRSS {:.1} MB)",
        hwm as f64 / 1024.0,
        before as f64 / 1024.0,
        rss as f64 / 1024.0
    );
    std::hint::black_box(&study);
}
