//! Claim latency of many lightweight workers of one shared study on PostgreSQL (issue 19): W
//! threads in this process each claim trial numbers through hpo's `PgBoard` (the same
//! transaction as a worker's claim: the counter upsert checked against the budget, the trial's
//! row, its lease), one after the other with no objective in between, the worst case for the
//! counter row.
//!
//! Up to C workers (C = the connection limit given) each get their own board and connection;
//! beyond that the workers share a pool of C boards and the latency includes the wait for one
//! (PostgreSQL's `max_connections` is 100 here, shared with other programs).
//!
//! cargo run --release --example pg_claim_latency -- postgresql://postgres@127.0.0.1:5432/DB WORKERS CLAIMS_EACH [CONNECTIONS]
//!
//! Prints one line: workers, connections, claims, wall seconds, claims/s, p50/p90/p99/max ms.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use hpo::tracking::postgres::board::PgBoard;
use hpo::tracking::shared::{NewSharedStudy, StudyBoard};
use hpo::tracking::Tracker;

/// Boards shared by more workers than there are connections.
struct Boards {
    idle: Mutex<Vec<Arc<PgBoard>>>,
    ready: Condvar,
}

impl Boards {
    fn take(&self) -> Arc<PgBoard> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(b) = idle.pop() {
                return b;
            }
            idle = self.ready.wait(idle).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn give(&self, b: Arc<PgBoard>) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(b);
        self.ready.notify_one();
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        return Err("usage: pg_claim_latency URL WORKERS CLAIMS_EACH [CONNECTIONS]".into());
    }
    let url = args[0].clone();
    let workers: usize = args[1].parse()?;
    let each: usize = args[2].parse()?;
    let connections: usize = args.get(3).map_or(Ok(64), |c| c.parse())?;
    let shared = workers > connections;

    let tracker = Tracker::open(&url)?;
    let exp = tracker.get_or_create_experiment("claim-latency")?;
    let boards: Vec<Arc<PgBoard>> = (0..workers.min(connections))
        .map(|_| PgBoard::open(&url).map(Arc::new))
        .collect::<Result<_, _>>()?;
    let name = format!("sim-{workers}");
    let new = NewSharedStudy {
        study_run_id: format!("{:032x}", rand_id()),
        max_evals: (workers * each) as i64,
        retries: 0,
        spec: String::new(),
    };
    let (study, _) = boards[0].join(exp, &name, &new)?;
    let study = Arc::new(study.study_run_id);
    let pool = Arc::new(Boards {
        idle: Mutex::new(boards.clone()),
        ready: Condvar::new(),
    });
    let start = Arc::new(std::sync::Barrier::new(workers + 1));
    let ttl = Duration::from_secs(600);
    let threads: Vec<_> = (0..workers)
        .map(|w| {
            let (pool, study, start) = (pool.clone(), study.clone(), start.clone());
            let own = (!shared).then(|| boards[w].clone());
            std::thread::Builder::new().stack_size(256 * 1024).spawn(
                move || -> Result<Vec<f64>, String> {
                    let worker = format!("sim:{w}");
                    let mut times = Vec::with_capacity(each);
                    start.wait();
                    for _ in 0..each {
                        let t = Instant::now();
                        let board = own.clone().unwrap_or_else(|| pool.take());
                        let got = board.claim(&study, &worker, ttl);
                        if own.is_none() {
                            pool.give(board);
                        }
                        times.push(t.elapsed().as_secs_f64() * 1e3);
                        got.map_err(|e| e.to_string())?
                            .ok_or("budget used up too early")?;
                    }
                    Ok(times)
                },
            )
        })
        .collect::<Result<_, _>>()?;
    start.wait();
    let t0 = Instant::now();
    let mut all = Vec::with_capacity(workers * each);
    for t in threads {
        all.extend(t.join().map_err(|_| "a worker panicked")??);
    }
    let wall = t0.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    println!(
        "workers={workers} connections={} claims={} wall_s={wall:.2} claims_per_s={:.0} \
         p50_ms={:.2} p90_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        workers.min(connections),
        all.len(),
        all.len() as f64 / wall,
        percentile(&all, 0.5),
        percentile(&all, 0.9),
        percentile(&all, 0.99),
        all[all.len() - 1],
    );
    Ok(())
}

fn rand_id() -> u128 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    t ^ (u128::from(std::process::id()) << 64)
}
