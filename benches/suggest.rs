//! Per-suggestion cost (issue 2): one `suggest` call given n = 100, 1000 and 10,000 finished
//! trials of the 10-parameter mixed space of `shared/anchors/suggest_latency.py`.
//!
//! The histories are built with random search (`Study::new(&space, Random, seed)` and n
//! ask/tell rounds with the anchor script's objective), not with TPE: random histories are
//! cheap to build at n = 10,000 and give every algorithm the same input. TPE's cost depends on
//! the number of finished trials, not on where they lie, so the figures carry over to the
//! histories TPE itself produces.
//!
//! Run with `cargo bench --bench suggest`; groups are named `suggest/<algo>/<n>`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use hpo::algo::trial_rng;
use hpo::trial::HistoryView;
use hpo::{hp, Algorithm, Params, Random, Space, Study, Tpe};

/// The anchor script's space: 4 uniform, 2 loguniform, 2 integer, 2 categorical parameters.
pub fn space() -> Space {
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

/// The anchor script's objective `f`.
pub fn objective(p: &Params) -> f64 {
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

/// A study with `n` finished trials chosen by random search.
fn history(space: &Space, n: usize, seed: u64) -> Study {
    let mut study = Study::new(space, Random, seed);
    for _ in 0..n {
        let t = study.ask();
        let loss = objective(&t.params);
        study.tell(t.number, loss).expect("tell");
    }
    study
}

fn bench_suggest(c: &mut Criterion) {
    const SEED: u64 = 42;
    let space = space();
    let algos: [(&str, Box<dyn Algorithm>); 3] = [
        ("random", Box::new(Random)),
        ("tpe", Box::new(Tpe::default())),
        ("tpe-hyperopt", Box::new(Tpe::hyperopt())),
    ];
    for n in [100_usize, 1000, 10_000] {
        let study = history(&space, n, SEED);
        let view = HistoryView::new(study.trials());
        for (name, algo) in &algos {
            let mut group = c.benchmark_group(format!("suggest/{name}"));
            // Slow cases get fewer samples so the whole run stays within a few minutes.
            let (samples, secs) = match (*name, n) {
                ("random", _) => (100, 3),
                (_, 10_000) => (10, 8),
                (_, 1000) => (20, 5),
                _ => (50, 3),
            };
            group.sample_size(samples);
            group.warm_up_time(Duration::from_secs(1));
            group.measurement_time(Duration::from_secs(secs));
            let mut k = n;
            group.bench_function(n.to_string(), |b| {
                b.iter_batched(
                    || {
                        // A fresh trial RNG per suggestion, as the study would hand out.
                        k += 1;
                        trial_rng(SEED, k)
                    },
                    |mut rng| black_box(algo.suggest(&space, black_box(&view), &mut rng)),
                    BatchSize::SmallInput,
                )
            });
            group.finish();
        }
    }
}

criterion_group!(benches, bench_suggest);
criterion_main!(benches);
