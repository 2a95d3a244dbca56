//! Search over 100,000 runs on PostgreSQL (issue 19: the same ≤ 50 ms target as SQLite): the
//! store of `benches/tracking.rs`'s search benches (each run with 10 params, `p0` = `v0`..`v9`,
//! one metric `rmse` and the tag `model = xgboost`), filled through the public API into the
//! database at URL once (kept: a second call only searches), then each of the same five
//! searches as the SQLite benches (100 results each) timed `ITERS` times.
//!
//! cargo run --release --example pg_search -- postgresql://postgres@127.0.0.1:5432/DB [RUNS] [ITERS]
//!
//! Prints per search: the median, p90 and first (cold) time in ms.
//!
//! With `deep` as a fourth argument, each search is instead timed at three depths: the first page,
//! the page from offset 4,000 (page 41 of 100 runs) and the last page, `ITERS` times each (the page
//! token of each depth is found once beforehand, with pages of up to 50,000 runs):
//!
//! cargo run --release --example pg_search -- URL 100000 10 deep
//!
//! With `lacking` instead, 1,000 runs are added once that lack the ordered param `p1` (and half of
//! them the ordered metric `rmse`), so that the last pages of the two searches ordered by them read
//! runs without the value (MLflow puts those last):
//!
//! cargo run --release --example pg_search -- URL 100000 1 lacking

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
    if args.get(3).map(String::as_str) == Some("deep") {
        return deep_pages(&tracker, exp, iters);
    }
    if args.get(3).map(String::as_str) == Some("lacking") {
        return add_lacking(&tracker, exp, runs);
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

/// Adds 1,000 runs (once: the experiment then holds `runs + 1000`) without param `p1`, half of
/// them also without metric `rmse` (the others log 0.5), `p0` = `v0`..`v9` as for the others:
/// the runs that the searches ordered by `params.p1` and `metrics.rmse` put last.
fn add_lacking(tracker: &Tracker, exp: i64, runs: usize) -> Result<(), Box<dyn std::error::Error>> {
    let have = tracker.count_runs(exp, ViewType::All)?;
    for i in have.saturating_sub(runs)..1_000 {
        let run = tracker.create_run(exp, Some(&format!("lacking{i}")), None)?;
        let params: Vec<Param> = (0..10)
            .filter(|j| *j != 1)
            .map(|j| Param::new(format!("p{j}"), format!("v{}", i % 10)))
            .collect();
        let metrics: Vec<Metric> = if i % 2 == 0 {
            vec![Metric::new("rmse", 0.5, 0)]
        } else {
            Vec::new()
        };
        tracker.log_batch(&run, &params, &metrics, &[RunTag::new("model", "xgboost")])?;
    }
    println!("{} runs", tracker.count_runs(exp, ViewType::All)?);
    Ok(())
}

/// The page token that starts a search at run `offset` (`None` for 0), read with pages of up to
/// 50,000 runs (page tokens do not depend on the page size).
fn token_at(
    tracker: &Tracker,
    query: &RunsQuery,
    offset: usize,
) -> Result<Option<String>, Box<dyn std::error::Error>> {
    let (mut token, mut at) = (None, 0);
    while at < offset {
        let step = (offset - at).min(50_000);
        let mut q = query.clone().max_results(step);
        q.page_token = token;
        let page = tracker.search_runs(&q)?;
        at += page.runs.len();
        token = page.next_page_token;
        if token.is_none() && at < offset {
            return Err(format!("only {at} runs, not {offset}").into());
        }
    }
    Ok(token)
}

/// How many runs `query` matches (read in pages of 50,000).
fn count(tracker: &Tracker, query: &RunsQuery) -> Result<usize, Box<dyn std::error::Error>> {
    let (mut token, mut n) = (None, 0);
    loop {
        let mut q = query.clone().max_results(50_000);
        q.page_token = token;
        let page = tracker.search_runs(&q)?;
        n += page.runs.len();
        match page.next_page_token {
            Some(t) => token = Some(t),
            None => return Ok(n),
        }
    }
}

/// Times each search's first page, the page at offset 4,000 and its last page (100 runs a page).
fn deep_pages(tracker: &Tracker, exp: i64, iters: usize) -> Result<(), Box<dyn std::error::Error>> {
    for (name, filter, order) in SEARCHES {
        let query = RunsQuery::new(&[exp], filter)
            .order_by(order)
            .max_results(100);
        let matches = count(tracker, &query)?;
        let last = (matches - 1) / 100 * 100;
        for (depth, offset) in [("first", 0), ("offset 4000", 4_000), ("last", last)] {
            let mut q = query.clone();
            q.page_token = token_at(tracker, &query, offset)?;
            let want = (matches - offset).min(100);
            let mut times = Vec::with_capacity(iters);
            for _ in 0..=iters {
                let t = Instant::now();
                let page = tracker.search_runs(&q)?;
                times.push(t.elapsed().as_secs_f64() * 1e3);
                if page.runs.len() != want {
                    let got = page.runs.len();
                    return Err(format!("{name} {depth}: {got} runs, not {want}").into());
                }
            }
            // the first call is cold (plans the statements); the median is of the others
            let first = times.remove(0);
            times.sort_by(f64::total_cmp);
            println!(
                "{name:30} {depth:12} (offset {offset:6} of {matches:6}) median {:8.2} ms  p90 {:8.2} ms  first {:8.2} ms",
                times[times.len() / 2],
                times[(times.len() * 9) / 10],
                first,
            );
        }
    }
    Ok(())
}
