//! Times recording trials with the Recorder on a new store: `cargo run --release --example
//! record_time -- 5000 3 [store.db [pause_ms]]` (trials per study, studies one after the other into
//! the same store; a new store in a temporary directory unless a path is given or the path is `-`).
//! After each study (and a pause, 0 ms by default) it also times a search ordered by a param twice:
//! the first indexes the study's params by value unless the store's background thread has done it
//! during the pause (they are indexed lazily, see TRACKING_BENCHMARKS.md), the second finds them
//! indexed.

use std::time::Instant;

use hpo::tracking::{Recorder, RunsQuery, Tracker};
use hpo::{hp, Fmin, Node, Params, Random, Space};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5000);
    let rounds: u64 = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = std::env::args()
        .nth(3)
        .filter(|p| p != "-")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("record.db"));
    let pause_ms: u64 = std::env::args()
        .nth(4)
        .and_then(|a| a.parse().ok())
        .unwrap_or(0);
    let tracker = Tracker::open(&format!("sqlite:///{}", db.display())).expect("a store");
    let items: Vec<(String, Node)> = (0..10)
        .map(|i| {
            let l = format!("p{i}");
            let n = hp::uniform(&l, 0.0, 1.0);
            (l, n)
        })
        .collect();
    let space = Space::new(hp::map(items)).expect("a space");
    for round in 0..rounds {
        let recorder = Recorder::new(&tracker, "bench").expect("a recorder");
        let handle = recorder.handle();
        let t = Instant::now();
        Fmin::new(|p: &Params| p.f64("p0").unwrap_or(0.0), &space)
            .algo(Random)
            .max_evals(n)
            .seed(round)
            .observer(recorder)
            .run()
            .expect("a study");
        let e = t.elapsed();
        assert!(handle.errors().is_empty(), "{:?}", handle.errors());
        let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
        std::thread::sleep(std::time::Duration::from_millis(pause_ms));
        let exp = tracker
            .get_or_create_experiment("bench")
            .expect("the experiment");
        let query = RunsQuery::new(&[exp], "").order_by(&["params.p1 ASC"]);
        let searches: Vec<f64> = (0..2)
            .map(|_| {
                let t = Instant::now();
                tracker.search_runs(&query).expect("a search");
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        println!(
            "round {round}: {n} trials in {:.3} s = {:.1} µs per trial (db {:.1} MB); \
             search by params.p1: {:.1} ms, then {:.1} ms",
            e.as_secs_f64(),
            e.as_secs_f64() * 1e6 / n as f64,
            size as f64 / 1e6,
            searches[0],
            searches[1]
        );
    }
}
