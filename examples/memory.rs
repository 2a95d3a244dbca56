//! Peak resident memory of a study that keeps 100,000 finished trials of the 10-parameter mixed
//! space of issue 2 (4 uniform, 2 loguniform, 2 integer, 2 categorical), driven by random
//! search through ask/tell.
//!
//! cargo run --release --example memory -- [trials]

use hpo::{hp, Params, Random, Space, Study};

fn space() -> Space {
    let mut items: Vec<(String, hpo::Node)> = (0..4)
        .map(|i| {
            let label = format!("x{i}");
            let node = hp::uniform(&label, -1.0, 1.0);
            (label, node)
        })
        .collect();
    items.push(("lr".into(), hp::loguniform("lr", -7.0, 0.0)));
    items.push(("reg".into(), hp::loguniform("reg", -9.0, 0.0)));
    items.push(("depth".into(), hp::quniform("depth", 1.0, 20.0, 1.0).int()));
    items.push(("n".into(), hp::quniform("n", 10.0, 200.0, 1.0).int()));
    items.push(("c1".into(), hp::choice("c1", ["a", "b", "c"])));
    items.push(("c2".into(), hp::choice("c2", [1_i64, 2, 3, 4])));
    Space::new(hp::map(items)).expect("valid space")
}

/// The objective of `shared/anchors/suggest_latency.py`.
fn objective(p: &Params) -> f64 {
    let mut s = 0.0;
    for i in 0..4 {
        s += (p.f64(&format!("x{i}")).unwrap() - 0.3).powi(2);
    }
    s += (p.f64("lr").unwrap().ln() + 3.0).powi(2) + (p.f64("reg").unwrap().ln() + 5.0).powi(2);
    s += (p.i64("depth").unwrap() - 7).pow(2) as f64 * 0.01
        + (p.i64("n").unwrap() - 50).pow(2) as f64 * 1e-4;
    s += if p.str("c1").unwrap() == "b" {
        0.0
    } else {
        0.5
    };
    s += if p.i64("c2").unwrap() == 2 { 0.0 } else { 0.3 };
    s
}

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
    let space = space();
    let mut study = Study::new(&space, Random, 0);
    let t0 = std::time::Instant::now();
    for _ in 0..n {
        let t = study.ask();
        let loss = objective(&t.params);
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
