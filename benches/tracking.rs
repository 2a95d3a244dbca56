//! Tracking overhead (issue 3), on SQLite files in a temporary directory:
//!
//! - `tracking/record_trial`: a whole `fmin` (random search, a trivial objective over 10
//!   parameters) with the [`Recorder`] observer, so each trial is a child run created RUNNING
//!   with 10 params and 1 tag (`hpo.trialNumber`, plus the run-type and system tags), then
//!   1 loss metric (+ `duration_s`) and terminated, exactly as `hpo run` records it. The time
//!   is per trial (criterion's iteration = one trial; `fmin` runs `iters` trials); the trials'
//!   writes are group-committed, and the study's end commits them all, so the time includes
//!   every commit. Each sample records its study into a new store (opened before the clock
//!   starts, closed before it stops), as a first `hpo run` does.
//!   `tracking/record_trial_100k` is the same into a store that already holds 100,000 runs (a
//!   copy of the search benches' store, made once; it keeps growing from sample to sample), since
//!   inserting into larger indexes costs more.
//!   `tracking/fmin_no_recorder` is the same `fmin` without the observer, for the baseline.
//! - `tracking/log_metric_single`: one `log_metric` call with the default asynchronous logging
//!   (points queued and group-committed); each sample ends with a `flush`, so the time includes
//!   the commits.
//! - `tracking/log_metric_sync`: one `log_metric` call with asynchronous logging off (one point,
//!   one transaction committed before the call returns).
//! - `tracking/log_batch_1000`: one `log_batch` of 1000 metric points, one transaction
//!   (asynchronous logging off).
//! - `tracking/search_100k`: `metrics.rmse < 0.5 and params.p0 = 'v3'`, ordered by
//!   `metrics.rmse ASC`, 100 results, over one experiment of 100,000 runs (each with 10 params,
//!   1 metric, 1 tag). The store is built once with the public API and kept in
//!   `<target dir>/tracking-bench-100000-v1.db` for later runs (a store built by an older version
//!   is migrated when first opened). `tracking/search_100k_*` are other filtered searches over the
//!   same store: the default order (`start_time DESC`) with a param filter, `start_time DESC` with
//!   a tag filter, a metric order that the filter does not bound, and a param order.
//! - `tracking/open_and_start_run`: open a tracker on an existing file and create a run;
//!   `tracking/create_file_and_start_run`: the same on a new file (schema creation included).
//!
//! Run with `cargo bench --bench tracking`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use hpo::tracking::{Metric, Param, Recorder, RunTag, RunsQuery, Tracker};
use hpo::{hp, Fmin, Node, Params, Random, Space};

fn uri(p: &Path) -> String {
    format!("sqlite:///{}", p.display())
}

fn space10() -> Space {
    let items: Vec<(String, Node)> = (0..10)
        .map(|i| {
            let l = format!("p{i}");
            let n = hp::uniform(&l, 0.0, 1.0);
            (l, n)
        })
        .collect();
    Space::new(hp::map(items)).unwrap()
}

fn trivial(p: &Params) -> f64 {
    p.f64("p0").unwrap()
}

/// Runs `iters` trials of a recorded random search into `tracker`'s store.
fn recorded_study(tracker: &Tracker, space: &Space, iters: u64, seed: u64) {
    let recorder = Recorder::new(tracker, "bench").unwrap();
    let handle = recorder.handle();
    Fmin::new(trivial, space)
        .algo(Random)
        .max_evals(iters as usize)
        .seed(seed)
        .observer(recorder)
        .run()
        .unwrap();
    assert!(handle.errors().is_empty(), "{:?}", handle.errors());
}

fn record_trial(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let space = space10();
    let mut g = c.benchmark_group("tracking");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    let mut seed = 0u64;
    g.bench_function("record_trial", |b| {
        b.iter_custom(|iters| {
            seed += 1;
            let db = dir.path().join(format!("record-{seed}.db"));
            let tracker = Tracker::open(&uri(&db)).unwrap();
            let t = Instant::now();
            recorded_study(&tracker, &space, iters, seed);
            // closing the store (its last checkpoint) is part of the study's cost
            drop(tracker);
            t.elapsed()
        })
    });
    let big = dir.path().join("record-100k.db");
    std::fs::copy(search_store(100_000), &big).unwrap();
    let tracker = Tracker::open(&uri(&big)).unwrap();
    g.bench_function("record_trial_100k", |b| {
        b.iter_custom(|iters| {
            seed += 1;
            let t = Instant::now();
            recorded_study(&tracker, &space, iters, seed);
            t.elapsed()
        })
    });
    g.bench_function("fmin_no_recorder", |b| {
        b.iter_custom(|iters| {
            seed += 1;
            let t = Instant::now();
            Fmin::new(trivial, &space)
                .algo(Random)
                .max_evals(iters as usize)
                .seed(seed)
                .run()
                .unwrap();
            t.elapsed()
        })
    });
    g.finish();
}

fn log_metrics(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let tracker = Tracker::open(&uri(&dir.path().join("metrics.db"))).unwrap();
    let exp = tracker.get_or_create_experiment("bench").unwrap();
    let run = tracker.create_run(exp, Some("single"), None).unwrap();
    let mut g = c.benchmark_group("tracking");
    g.throughput(Throughput::Elements(1));
    let mut step = 0i64;
    g.bench_function("log_metric_single", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                step += 1;
                tracker
                    .log_metric(&run, "loss", 1.0 / step as f64, step)
                    .unwrap();
            }
            tracker.flush().unwrap();
            t.elapsed()
        })
    });
    let tracker = tracker.with_async_logging(false);
    let run = tracker.create_run(exp, Some("sync"), None).unwrap();
    g.bench_function("log_metric_sync", |b| {
        b.iter(|| {
            step += 1;
            tracker
                .log_metric(&run, "loss", 1.0 / step as f64, step)
                .unwrap()
        })
    });
    let run = tracker.create_run(exp, Some("batched"), None).unwrap();
    g.throughput(Throughput::Elements(1000));
    let mut base = 0i64;
    g.bench_function("log_batch_1000", |b| {
        b.iter_batched(
            || {
                base += 1000;
                (0..1000)
                    .map(|i| Metric::new("acc", i as f64, base + i))
                    .collect::<Vec<_>>()
            },
            |points| tracker.log_batch(&run, &[], &points, &[]).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// The cached 100,000-run store (built on first use).
pub fn search_store(runs: usize) -> PathBuf {
    let target = std::env::current_exe()
        .ok()
        .and_then(|e| Some(e.parent()?.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(std::env::temp_dir);
    let path = target.join(format!("tracking-bench-{runs}-v1.db"));
    if path.exists() {
        return path;
    }
    let building = target.join(format!("tracking-bench-{runs}-v1.building.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", building.display()));
    }
    let t = Instant::now();
    {
        let tracker = Tracker::open(&uri(&building)).unwrap();
        let exp = tracker.get_or_create_experiment("search").unwrap();
        let mut rng_state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            rng_state ^= rng_state << 13;
            rng_state ^= rng_state >> 7;
            rng_state ^= rng_state << 17;
            (rng_state >> 11) as f64 / (1u64 << 53) as f64
        };
        for i in 0..runs {
            let run = tracker
                .create_run(exp, Some(&format!("r{i}")), None)
                .unwrap();
            let params: Vec<Param> = (0..10)
                .map(|j| {
                    let v = if j == 0 {
                        format!("v{}", i % 10)
                    } else {
                        format!("{:.6}", next())
                    };
                    Param::new(format!("p{j}"), v)
                })
                .collect();
            tracker
                .log_batch(
                    &run,
                    &params,
                    &[Metric::new("rmse", next(), 0)],
                    &[RunTag::new("model", "xgboost")],
                )
                .unwrap();
        }
    }
    std::fs::rename(&building, &path).unwrap();
    eprintln!(
        "built {} ({runs} runs) in {:.1?}",
        path.display(),
        t.elapsed()
    );
    path
}

/// More searches over the 100,000-run store: (bench name, filter, order_by), 100 results each.
const OTHER_SEARCHES: &[(&str, &str, &[&str])] = &[
    ("search_100k_default_order", "params.p0 = 'v7'", &[]),
    (
        "search_100k_start_time",
        "tags.model = 'xgboost'",
        &["attributes.start_time DESC"],
    ),
    (
        "search_100k_metric_unbounded",
        "params.p0 = 'v7'",
        &["metrics.rmse DESC"],
    ),
    (
        "search_100k_param_order",
        "metrics.rmse > 0.2",
        &["params.p1 ASC"],
    ),
];

fn search(c: &mut Criterion) {
    let path = search_store(100_000);
    let tracker = Tracker::open(&uri(&path)).unwrap();
    let exp = tracker
        .get_experiment_by_name("search")
        .unwrap()
        .unwrap()
        .experiment_id;
    let query = RunsQuery::new(&[exp], "metrics.rmse < 0.5 and params.p0 = 'v3'")
        .order_by(&["metrics.rmse ASC"])
        .max_results(100);
    let first = tracker.search_runs(&query).unwrap();
    assert_eq!(first.runs.len(), 100);
    let mut g = c.benchmark_group("tracking");
    g.sample_size(20);
    g.bench_function("search_100k", |b| {
        b.iter(|| tracker.search_runs(&query).unwrap())
    });
    for (name, filter, order) in OTHER_SEARCHES {
        let query = RunsQuery::new(&[exp], filter)
            .order_by(order)
            .max_results(100);
        assert_eq!(tracker.search_runs(&query).unwrap().runs.len(), 100);
        g.bench_function(*name, |b| b.iter(|| tracker.search_runs(&query).unwrap()));
    }
    g.finish();
}

fn open_and_start(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("open.db");
    drop(Tracker::open(&uri(&path)).unwrap());
    let mut g = c.benchmark_group("tracking");
    g.bench_function("open_and_start_run", |b| {
        b.iter(|| {
            let tracker = Tracker::open(&uri(&path)).unwrap();
            let exp = tracker.get_or_create_experiment("bench").unwrap();
            tracker.create_run(exp, None, None).unwrap()
        })
    });
    g.bench_function("create_file_and_start_run", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |d| {
                let tracker = Tracker::open(&uri(&d.path().join("new.db"))).unwrap();
                let exp = tracker.get_or_create_experiment("bench").unwrap();
                tracker.create_run(exp, None, None).unwrap();
                d
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, record_trial, log_metrics, search, open_and_start);
criterion_main!(benches);
