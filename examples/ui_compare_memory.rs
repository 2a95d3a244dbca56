//! The web server's memory under `/api/compare` (issue 18, item 3): records a study of 10,000
//! trials (three params, random search), starts `hpo ui`'s server in this process, sends 100
//! compare requests from 8 concurrent clients, and prints the process's RSS before, after the
//! requests and after a second of idling. A benchmark, not a test: run it through
//! `benches/ui_compare_memory.sh` (release build) or `cargo run --release --example ui_compare_memory`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use hpo::tracking::{Recorder, Tracker};
use hpo::ui::{UiOptions, UiServer};
use hpo::{hp, Fmin, Params, Random, Space};

/// The process's resident set size in MB, from /proc.
fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// One GET on a fresh connection; returns the body's length.
fn get(addr: SocketAddr, target: &str) -> usize {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read");
    out.len()
}

fn main() {
    let trials: usize = std::env::var("TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let tracker = Tracker::open(&format!(
        "sqlite:///{}",
        dir.path().join("hpo.db").display()
    ))
    .expect("store");
    let recorder = Recorder::new(&tracker, "memory").expect("recorder");
    let handle = recorder.handle();
    let space = Space::from_params([
        hp::uniform("x", -2.0, 2.0),
        hp::loguniform("lr", -9.0, -1.0),
        hp::choice("kind", ["a", "b", "c"]),
    ])
    .expect("space");
    Fmin::new(
        |p: &Params| -> Result<f64, String> {
            let x = p.f64("x").map_err(|e| e.to_string())?;
            Ok(x * x)
        },
        &space,
    )
    .algo(Random)
    .max_evals(trials)
    .seed(1)
    .observer(recorder)
    .run()
    .expect("study");
    let study = handle.study_run_id().expect("study run");
    drop(handle);
    let server = UiServer::bind("127.0.0.1:0", tracker.clone(), UiOptions::default())
        .expect("bind")
        .spawn();
    let addr = server.addr();
    hpo::ui::release_free_memory();
    println!("trials {trials}: RSS at start {:.0} MB", rss_mb());
    let target = format!("/api/compare?study={study}");
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..8 {
            let target = &target;
            s.spawn(move || {
                for _ in 0..100 / 8 + 1 {
                    assert!(get(addr, target) > 1000);
                }
            });
        }
    });
    println!(
        "after 104 compare requests from 8 clients ({:.1} s): RSS {:.0} MB",
        started.elapsed().as_secs_f64(),
        rss_mb()
    );
    std::thread::sleep(std::time::Duration::from_secs(1));
    println!("after 1 s idle: RSS {:.0} MB", rss_mb());
    server.stop();
}
