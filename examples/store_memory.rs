//! Memory as the store grows: fills a SQLite store with RUNS runs (10 params, 1 tag each) and
//! POINTS_PER_RUN metric points per run (batched, one `log_batch` per run), then runs a few
//! filtered, ordered searches and prints their times and the peak resident set (`VmHWM`).
//!
//! `cargo run --release --example store_memory -- [RUNS] [POINTS_PER_RUN] [DB]`
//! (defaults: 100000 runs, 100 points per run = 10,000,000 points, a temporary file).
//! An existing DB with the `fill` experiment is searched without being filled again.

use std::time::Instant;

use hpo::tracking::{Metric, Param, RunTag, RunsQuery, Tracker};

fn vm(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "n/a".into())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let points: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100);
    let tmp = tempfile::tempdir().unwrap();
    let db = args
        .get(3)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("memory.db"));
    let tracker = Tracker::open(&format!("sqlite:///{}", db.display())).unwrap();
    let exp = match tracker.get_experiment_by_name("fill").unwrap() {
        Some(e) => e.experiment_id,
        None => {
            let exp = tracker.create_experiment("fill").unwrap();
            let t = Instant::now();
            let mut state = 0x2545_f491_4f6c_dd1du64;
            let mut next = || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 11) as f64 / (1u64 << 53) as f64
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
                let base = next();
                let metrics: Vec<Metric> = (0..points)
                    .map(|s| Metric::new("rmse", base + 1.0 / (s + 1) as f64, s as i64))
                    .collect();
                tracker
                    .log_batch_chunked(&run, &params, &metrics, &[RunTag::new("model", "xgboost")])
                    .unwrap();
                if (i + 1) % 10_000 == 0 {
                    eprintln!("{} runs, {:.0?}, VmRSS {}", i + 1, t.elapsed(), vm("VmRSS"));
                }
            }
            println!(
                "filled {runs} runs x {points} points = {} points in {:.1?}",
                runs * points,
                t.elapsed()
            );
            exp
        }
    };
    let queries = [
        (
            "metrics.rmse < 0.5 and params.p0 = 'v3'",
            "metrics.rmse ASC",
        ),
        ("params.p0 = 'v7'", "metrics.rmse DESC"),
        ("tags.model = 'xgboost'", "start_time DESC"),
        ("metrics.rmse > 0.2", "params.p1 ASC"),
    ];
    for (filter, order) in queries {
        let t = Instant::now();
        let page = tracker
            .search_runs(
                &RunsQuery::new(&[exp], filter)
                    .order_by(&[order])
                    .max_results(100),
            )
            .unwrap();
        println!(
            "search {filter:?} order_by {order:?}: {} runs in {:.1?}",
            page.runs.len(),
            t.elapsed()
        );
    }
    println!(
        "db size {} MB",
        std::fs::metadata(&db)
            .map(|m| m.len() / 1_000_000)
            .unwrap_or(0)
    );
    println!("VmHWM {}  VmRSS {}", vm("VmHWM"), vm("VmRSS"));
}
