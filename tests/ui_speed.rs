//! Timings of `hpo ui` over a study of 10,000 trials, for the README's "Web UI" section: the API
//! answers (a page of trials sorted by the metric, the compare data) and, in headless chromium
//! through chromedriver, the pages as a user meets them (open the experiment, expand the study,
//! sort, page, open the compare page, redraw its plots). Ignored by default:
//!
//! `HPO_E2E=1 cargo test --test ui_speed -- --ignored --nocapture`
//!
//! Browser timings come from the page's own clock (`performance.now()`): each step starts a
//! change and waits, inside the page, for its result to be drawn and the next frame to be painted.

mod webdriver;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use hpo::tracking::{Metric, NewRun, Param, RunStatus, RunTag, Tracker};
use hpo::ui::{UiOptions, UiServer};
use serde_json::{json, Value};

const TRIALS: usize = 10_000;

fn get(addr: SocketAddr, target: &str) -> (u16, usize) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
        .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let head = String::from_utf8_lossy(&out[..out.len().min(20)]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, out.len())
}

/// A study run with `TRIALS` finished trials of three params (uniform, log-uniform, categorical).
fn big_store(tracker: &Tracker) -> (i64, String) {
    let exp = tracker.create_experiment("big").unwrap();
    let study = tracker
        .create_run_with(NewRun {
            experiment_id: exp,
            run_name: Some("big-study".into()),
            tags: vec![
                RunTag::new("hpo.runType", "study"),
                RunTag::new("hpo.metric", "loss"),
            ],
            ..NewRun::default()
        })
        .unwrap()
        .run_id;
    let t = Instant::now();
    for i in 0..TRIALS {
        let f = i as f64;
        let x = (f * 0.37).sin() * 2.0;
        let lr = 10f64.powf(-5.0 + 4.0 * ((f * 0.61).cos() + 1.0) / 2.0);
        let kind = ["relu", "tanh", "gelu"][i % 3];
        let info = tracker
            .create_run_with(NewRun {
                experiment_id: exp,
                run_name: Some(format!("trial-{i}")),
                parent_run_id: Some(study.clone()),
                tags: vec![
                    RunTag::new("hpo.runType", "trial"),
                    RunTag::new("hpo.trialNumber", i.to_string()),
                ],
                params: vec![
                    Param::new("x", x.to_string()),
                    Param::new("lr", lr.to_string()),
                    Param::new("kind", kind),
                ],
                ..NewRun::default()
            })
            .unwrap();
        let loss =
            x * x + (lr.log10() + 3.0).powi(2) * 0.1 + if kind == "gelu" { 0.0 } else { 0.3 };
        tracker
            .finish_run(
                &info.run_id,
                &[Metric::new("loss", loss, 0)],
                &[],
                RunStatus::Finished,
                None,
            )
            .unwrap();
    }
    tracker
        .finish_run(&study, &[], &[], RunStatus::Finished, None)
        .unwrap();
    eprintln!(
        "filled {TRIALS} trials in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    (exp, study)
}

/// Runs `action` (JavaScript) in the page, then waits in the page until `done` (a JavaScript
/// expression) holds and one more frame is painted; answers the milliseconds it took.
fn timed(s: &webdriver::Session, action: &str, done: &str) -> f64 {
    let script = format!(
        "const finish = arguments[arguments.length - 1];
         const t0 = performance.now();
         {action};
         const check = () => {{
           if ({done}) requestAnimationFrame(() => setTimeout(() => finish(performance.now() - t0), 0));
           else setTimeout(check, 5);
         }};
         check();"
    );
    s.eval_async(&script, json!([]))
        .as_f64()
        .expect("a duration")
}

#[test]
#[ignore]
fn speed_with_10000_trials() {
    let dir = tempfile::tempdir().unwrap();
    let tracker = Tracker::open(&format!(
        "sqlite:///{}",
        dir.path().join("hpo.db").display()
    ))
    .unwrap();
    let (exp, study) = big_store(&tracker);
    // where the compare data's time goes: reading the runs, then building the data
    let t = Instant::now();
    let runs = tracker.child_runs(&study).unwrap();
    let read = t.elapsed();
    let t = Instant::now();
    let data = hpo::ui::compare::compare(runs, "loss", None);
    eprintln!(
        "library: read {} trials in {:.0} ms, compare data built in {:.0} ms",
        data.trials.len(),
        read.as_secs_f64() * 1000.0,
        t.elapsed().as_secs_f64() * 1000.0
    );
    let server = UiServer::bind("127.0.0.1:0", tracker, UiOptions::default())
        .unwrap()
        .spawn();
    let addr = server.addr();
    for (what, target) in [
        (
            "API: a page of 100 trials sorted by loss",
            format!("/api/experiments/{exp}/runs?parent={study}&order_by=metrics.loss+ASC"),
        ),
        (
            "API: the same sorted descending",
            format!(
                "/api/experiments/{exp}/runs?parent={study}&order_by=metrics.loss+DESC&max_results=100"
            ),
        ),
        (
            "API: compare data of the study",
            format!("/api/compare?study={study}"),
        ),
    ] {
        let t = Instant::now();
        let (status, bytes) = get(addr, &target);
        assert_eq!(status, 200);
        eprintln!(
            "{what}: {:.0} ms, {} KiB",
            t.elapsed().as_secs_f64() * 1000.0,
            bytes / 1024
        );
    }

    let Some((driver, browser)) = webdriver::driver_paths() else {
        eprintln!("no chromedriver: browser timings skipped");
        return;
    };
    if std::env::var_os("HPO_E2E").is_none() {
        eprintln!("HPO_E2E not set: browser timings skipped");
        return;
    }
    let s = webdriver::Session::start(&driver, &browser, 1280, 1000);
    let base = format!("http://{addr}");
    s.goto(&format!("{base}/"));
    s.find("main table");
    let report = |what: &str, ms: f64| eprintln!("browser: {what}: {ms:.0} ms");
    report(
        "open the experiment (study collapsed)",
        timed(
            &s,
            &format!("location.hash = '#/experiments/{exp}'"),
            "document.querySelector('button.toggle')",
        ),
    );
    report(
        "expand the study (first 100 of 10,000 trials)",
        timed(
            &s,
            "document.querySelector('button.toggle').click()",
            "document.querySelectorAll('tr.child').length >= 100",
        ),
    );
    report(
        "sort the trials by loss",
        timed(
            &s,
            "[...document.querySelectorAll('th.sortable')].find((t) => t.textContent.startsWith('loss')).click()",
            "[...document.querySelectorAll('th.sortable')].some((t) => t.textContent.endsWith('▲')) && document.querySelectorAll('tr.child').length >= 100",
        ),
    );
    report(
        "sort descending",
        timed(
            &s,
            "[...document.querySelectorAll('th.sortable')].find((t) => t.textContent.startsWith('loss')).click()",
            "[...document.querySelectorAll('th.sortable')].some((t) => t.textContent.endsWith('▼')) && document.querySelectorAll('tr.child').length >= 100",
        ),
    );
    report(
        "show 100 more trials",
        timed(
            &s,
            "[...document.querySelectorAll('button')].find((b) => b.textContent.startsWith('Show more')).click()",
            "document.querySelectorAll('tr.child').length >= 200",
        ),
    );
    report(
        "open the compare page (10,000 trials, 4 plots)",
        timed(
            &s,
            &format!("location.hash = '#/compare/{study}'"),
            "document.querySelector('#plot-contour') && document.querySelector('#plot-parallel')",
        ),
    );
    let marks: Value = s.eval(
        "return [...document.querySelectorAll('[id^=\"plot-\"]')].map((p) => p.dataset.marks || p.querySelectorAll('.mark').length);",
        json!([]),
    );
    eprintln!("marks per plot: {marks}");
    report(
        "toggle the log axis of lr (redraws 4 plots)",
        timed(
            &s,
            "window.__before = document.querySelector('#plot-parallel'); document.querySelector('input.log-toggle[data-key=\"lr\"]').click()",
            "document.querySelector('#plot-parallel') !== window.__before",
        ),
    );
    report(
        "change the scatter's param",
        timed(
            &s,
            "window.__before = document.querySelector('#plot-scatter'); const sel = document.querySelector('#scatter-param'); sel.value = 'kind'; sel.dispatchEvent(new Event('change'))",
            "document.querySelector('#plot-scatter') !== window.__before",
        ),
    );
    // each plot's own drawing time, off the page, over the same data
    let script = format!(
        "const done = arguments[arguments.length - 1];
         api('compare?study={study}').then((data) => {{
           const trials = data.trials, out = {{}};
           const logs = new Set(data.params.filter((p) => p.log).map((p) => p.key));
           const y = numericAxis('loss', (t) => t.value, trials, false);
           const ax = (k) => Object.assign(paramAxis(data.params.find((p) => p.key === k), trials, logs), {{key: k}});
           const time = (name, f) => {{ const t0 = performance.now(); f(); out[name] = Math.round(performance.now() - t0); }};
           time('history', () => historyPlot(trials, 'loss', y));
           time('parallel', () => parallelPlot(trials, 'loss', data.params.map((p) => ax(p.key)), y));
           time('scatter', () => scatterPlot(trials, 'loss', ax('lr'), y));
           time('contour', () => contourPlot(trials, 'loss', ax('x'), ax('lr'), y));
           done(out);
         }});"
    );
    eprintln!(
        "browser: drawing each plot, ms: {}",
        s.eval_async(&script, json!([]))
    );
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    s.screenshot(&shots.join("speed-compare-10000.png"));
    s.eval(
        "document.getElementById('plot-scatter').scrollIntoView();",
        json!([]),
    );
    s.screenshot(&shots.join("speed-compare-10000-scatter.png"));
    drop(s);
    server.stop();
}
