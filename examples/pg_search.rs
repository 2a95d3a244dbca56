//! Search over 100,000 runs on PostgreSQL (issue 19: the same ≤ 50 ms target as SQLite): the
//! store of `benches/tracking.rs`'s search benches (each run with 10 params, `p0` = `v0`..`v9`,
//! one metric `rmse` and the tag `model = xgboost`), filled through the public API into the
//! database at URL once (kept: a second call only searches), then each of the same five
//! searches as the SQLite benches (100 results each) timed `ITERS` times.
//!
//! cargo run --release --example pg_search -- postgresql://postgres@127.0.0.1:5432/DB [RUNS] [ITERS]
//!
//! Prints per search: the median, p90 and first (cold) time in ms.

use std::time::Instant;

use hpo::tracking::{Metric, Param, RunTag, RunsQuery, Tracker, ViewType};

/// The searches of `benches/tracking.rs` (name, filter, order_by).
const SEARCHES: &[(&str, &str, &[&str])] = &[
    (
        "search_100k",
        "metrics.rmse < 0.5 and params.p0 = 'v3'",
        &["metrics.rmse ASC"],
    ),
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

/// Fills `runs` runs into the experiment, `threads` writers at once.
fn fill(tracker: &Tracker, exp: i64, from: usize, runs: usize, threads: usize) {
    std::thread::scope(|s| {
        for t in 0..threads {
            let tracker = tracker.clone();
            s.spawn(move || {
                let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ (t as u64 + 1).wrapping_mul(0x2545);
                let mut next = || {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 11) as f64 / (1u64 << 53) as f64
                };
                for i in (from + t..runs).step_by(threads) {
                    let run = tracker
                        .create_run(exp, Some(&format!("r{i}")), None)
                        .expect("create run");
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
                        .expect("log batch");
                }
            });
        }
    });
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url = args.first().ok_or("usage: pg_search URL [RUNS] [ITERS]")?;
    let runs: usize = args.get(1).map_or(Ok(100_000), |a| a.parse())?;
    let iters: usize = args.get(2).map_or(Ok(20), |a| a.parse())?;
    let tracker = Tracker::open(url)?.with_async_logging(false);
    let exp = tracker.get_or_create_experiment("search")?;
    // a fill cut short (the server restarted) goes on where it stopped
    let have = tracker.count_runs(exp, ViewType::ActiveOnly)?;
    if have < runs {
        let t = Instant::now();
        fill(&tracker, exp, have, runs, 4);
        println!(
            "filled runs {have}..{runs} in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    for (name, filter, order) in SEARCHES {
        let query = RunsQuery::new(&[exp], filter)
            .order_by(order)
            .max_results(100);
        let mut times = Vec::with_capacity(iters);
        for _ in 0..iters {
            let t = Instant::now();
            let page = tracker.search_runs(&query)?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
            if page.runs.len() != 100 {
                return Err(format!("{name}: {} runs, not 100", page.runs.len()).into());
            }
        }
        let first = times[0];
        times.sort_by(f64::total_cmp);
        println!(
            "{name:30} median {:7.2} ms  p90 {:7.2} ms  first {:7.2} ms  ({filter}; {})",
            times[times.len() / 2],
            times[(times.len() * 9) / 10],
            first,
            order.join(", ")
        );
    }
    Ok(())
}
