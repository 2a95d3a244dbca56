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
use hpo::bench::problems::{mixed10_objective, mixed10_space};
use hpo::trial::HistoryView;
use hpo::{Algorithm, Random, Space, Study, Tpe};

/// A study with `n` finished trials chosen by random search.
fn history(space: &Space, n: usize, seed: u64) -> Study {
    let mut study = Study::new(space, Random, seed);
    for _ in 0..n {
        let t = study.ask();
        let loss = mixed10_objective(&t.params);
        study.tell(t.number, loss).expect("tell");
    }
    study
}

fn bench_suggest(c: &mut Criterion) {
    const SEED: u64 = 42;
    let space = mixed10_space();
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
