//! `hpo ui` in a real headless browser (Debian's chromium): the pages render the store's data
//! after their JavaScript ran, a filter narrows a study's trials, a model registered through
//! the API shows on the models page, and user text stays text. Screenshots of each page are
//! kept in the test's output directory (`target/tmp/ui-screenshots/`). The compare page of a study
//! draws one mark per finished trial in each of its four plots, and its intermediate-values plot one
//! learning curve per trial, a cross per pruned trial and the pruner's thresholds.
//!
//! `.ci/run` installs chromium and sets `HPO_E2E=1`, which makes a missing browser a failure;
//! elsewhere the test is skipped (with a message) when no chromium is installed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;

use hpo::tracking::{Recorder, Tracker};
use hpo::ui::{UiOptions, UiServer};
use hpo::{hp, with_context, Fmin, Params, Space, TrialContext};

const XSS: &str = "<script>alert(1)</script>";

/// The browser, or `None` (the test is then skipped) when none is installed and `HPO_E2E` is
/// not set; with `HPO_E2E` set a missing browser fails the test.
fn browser() -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        assert!(
            std::env::var_os("HPO_E2E").is_none(),
            "HPO_E2E is set but no chromium is installed"
        );
        eprintln!("skipped: no chromium installed (apt-get install chromium)");
    }
    found
}

/// A fresh tracking store in a temporary directory (kept alive by the returned guard).
fn store() -> (tempfile::TempDir, Tracker) {
    let dir = tempfile::tempdir().unwrap();
    let tracker = Tracker::open(&format!(
        "sqlite:///{}",
        dir.path().join("hpo.db").display()
    ))
    .unwrap();
    (dir, tracker)
}

/// Where screenshots are kept.
fn screenshots() -> PathBuf {
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    shots
}

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Load `url` in headless chromium, let its scripts run, and return the resulting DOM; also
/// save a screenshot as `shot`.
fn browse(browser: &Path, url: &str, shot: &Path) -> String {
    browse_sized(browser, url, shot, "1200,800")
}

/// [`browse`] with a window of `size` ("width,height").
fn browse_sized(browser: &Path, url: &str, shot: &Path, size: &str) -> String {
    let window = format!("--window-size={size}");
    let base = |extra: &[&str]| {
        // a fresh profile per run: a profile still locked by the previous run is refused
        let profile = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(browser);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
        ])
        .arg(&window)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url);
        cmd.output().expect("chromium runs")
    };
    let dom = base(&["--dump-dom"]);
    assert!(
        dom.status.success(),
        "chromium failed on {url}: {}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let shot_arg = format!("--screenshot={}", shot.display());
    let s = base(&[&shot_arg]);
    assert!(
        s.status.success() && shot.exists(),
        "no screenshot of {url}: {}",
        String::from_utf8_lossy(&s.stderr)
    );
    String::from_utf8_lossy(&dom.stdout).into_owned()
}

fn post(addr: SocketAddr, target: &str, token: &str, body: &str) -> u16 {
    let mut s = TcpStream::connect(addr).unwrap();
    let req = format!(
        "POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-HPO-Token: {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn pages_render_filter_and_register_in_a_real_browser() {
    let Some(browser) = browser() else {
        return;
    };
    let (_dir, tracker) = store();
    let recorder = Recorder::new(&tracker, "ui-e2e")
        .unwrap()
        .study_name("e2e-study");
    let handle = recorder.handle();
    let space = Space::from_params([hp::uniform("x", -2.0, 2.0)]).unwrap();
    let result = Fmin::new(
        with_context(|p: &Params, ctx: &TrialContext| -> Result<f64, String> {
            ctx.set_tag("note", XSS);
            let x = p.f64("x").map_err(|e| e.to_string())?;
            Ok(x * x)
        }),
        &space,
    )
    .max_evals(8)
    .seed(4)
    .observer(recorder)
    .run()
    .unwrap();
    let exp = tracker
        .get_experiment_by_name("ui-e2e")
        .unwrap()
        .unwrap()
        .experiment_id;
    let server = UiServer::bind("127.0.0.1:0", tracker.clone(), UiOptions::default())
        .unwrap()
        .spawn();
    let base = format!("http://{}", server.addr());
    let shots = screenshots();

    // the experiments page
    let dom = browse(
        &browser,
        &format!("{base}/"),
        &shots.join("experiments.png"),
    );
    assert!(dom.contains("ui-e2e"), "experiments page:\n{dom}");

    // an experiment: its study
    let dom = browse(
        &browser,
        &format!("{base}/#/experiments/{exp}"),
        &shots.join("experiment.png"),
    );
    assert!(dom.contains("e2e-study"), "experiment page:\n{dom}");

    // a filter narrows the trials to those below the threshold
    let threshold = 1.0;
    let filter =
        format!("metrics.loss%20%3C%20{threshold}%20and%20tags.hpo.runType%20%3D%20%27trial%27");
    let dom = browse(
        &browser,
        &format!("{base}/#/experiments/{exp}?filter={filter}"),
        &shots.join("filtered.png"),
    );
    let mut shown = 0;
    for t in &result.trials {
        let name = format!(">trial-{}<", t.number);
        let below = t.loss.unwrap() < threshold;
        assert_eq!(
            dom.contains(&name),
            below,
            "trial {} (loss {:?}) in the filtered page",
            t.number,
            t.loss
        );
        shown += usize::from(below);
    }
    assert!(
        shown > 0 && shown < 8,
        "the filter should keep some trials, kept {shown}"
    );

    // a run: its params, metric and the tag, as text
    let best = handle.trial_run_id(result.best().unwrap().number).unwrap();
    let dom = browse(
        &browser,
        &format!("{base}/#/runs/{best}"),
        &shots.join("run.png"),
    );
    assert!(
        dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the tag is shown as text:\n{dom}"
    );
    assert!(!dom.contains(XSS), "user text became markup");

    // register the best trial through the API (as the run page's button does), then the models page
    let body = format!("{{\"run_id\": \"{best}\"}}");
    assert_eq!(
        post(
            server.addr(),
            "/api/models/e2e-model/versions",
            server.token(),
            &body
        ),
        200
    );
    assert_eq!(
        post(
            server.addr(),
            "/api/models/e2e-model/aliases/champion",
            server.token(),
            "{\"version\": 1}"
        ),
        200
    );
    let dom = browse(
        &browser,
        &format!("{base}/#/models"),
        &shots.join("models.png"),
    );
    assert!(dom.contains("e2e-model"), "models page:\n{dom}");
    let dom = browse(
        &browser,
        &format!("{base}/#/models/e2e-model"),
        &shots.join("model.png"),
    );
    assert!(
        dom.contains("champion") && dom.contains(&best),
        "model page:\n{dom}"
    );
    server.stop();
}

/// The number of marks (`class="mark ..."`) inside the `<svg id="{id}">` of a dumped DOM.
fn marks_in(dom: &str, id: &str) -> usize {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no plot {id} in:\n{dom}"));
    let end = start + dom[start..].find("</svg>").unwrap();
    dom[start..end].matches("class=\"mark ").count()
}

#[test]
fn compare_page_draws_one_mark_per_finished_trial() {
    let Some(browser) = browser() else {
        return;
    };
    let (_dir, tracker) = store();
    let recorder = Recorder::new(&tracker, "ui-compare")
        .unwrap()
        .study_name("compare-study");
    let handle = recorder.handle();
    let space = Space::from_params([
        hp::uniform("x", -2.0, 2.0),
        hp::uniform("y", 0.0, 1.0),
        hp::choice("kind", ["a", "b"]),
    ])
    .unwrap();
    let n = 14;
    Fmin::new(
        |p: &Params| -> Result<f64, String> {
            let x = p.f64("x").map_err(|e| e.to_string())?;
            let y = p.f64("y").map_err(|e| e.to_string())?;
            Ok(x * x + 0.1 * y)
        },
        &space,
    )
    .max_evals(n)
    .seed(5)
    .observer(recorder)
    .run()
    .unwrap();
    let study = handle.study_run_id().unwrap();
    let server = UiServer::bind("127.0.0.1:0", tracker.clone(), UiOptions::default())
        .unwrap()
        .spawn();
    let base = format!("http://{}", server.addr());
    let shots = screenshots();
    let dom = browse_sized(
        &browser,
        &format!("{base}/#/compare/{study}"),
        &shots.join("compare.png"),
        "1200,1400",
    );
    for plot in [
        "plot-history",
        "plot-parallel",
        "plot-scatter",
        "plot-contour",
    ] {
        assert_eq!(marks_in(&dom, plot), n, "marks in {plot}:\n{dom}");
    }
    assert!(dom.contains("id=\"plot-importance\""), "{dom}");
    assert!(dom.contains("data-trial=\"0\""), "{dom}");

    // the study's run page and its experiment's table link to the compare page
    let link = format!("href=\"#/compare/{study}\"");
    let dom = browse(
        &browser,
        &format!("{base}/#/runs/{study}"),
        &shots.join("study-run.png"),
    );
    assert!(dom.contains(&link), "study run page:\n{dom}");
    let exp = tracker
        .get_experiment_by_name("ui-compare")
        .unwrap()
        .unwrap()
        .experiment_id;
    let dom = browse(
        &browser,
        &format!("{base}/#/experiments/{exp}"),
        &shots.join("compare-experiment.png"),
    );
    assert!(dom.contains(&link), "experiment page:\n{dom}");
    server.stop();
}

/// How many times `needle` occurs inside the SVG with id `id`.
fn count_in_svg(dom: &str, id: &str, needle: &str) -> usize {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no plot {id} in:\n{dom}"));
    let end = start + dom[start..].find("</svg>").unwrap();
    dom[start..end].matches(needle).count()
}

#[test]
fn compare_page_draws_learning_curves_pruned_marks_and_thresholds() {
    let Some(browser) = browser() else {
        return;
    };
    let (_dir, tracker) = store();
    let recorder = Recorder::new(&tracker, "ui-curves")
        .unwrap()
        .study_name("pruned-study");
    let handle = recorder.handle();
    let space = Space::from_params([hp::uniform("x", 0.0, 1.0)]).unwrap();
    let n = 14;
    let result = Fmin::new(
        with_context(|p: &Params, ctx: &TrialContext| {
            let x = p.f64("x").unwrap_or(1.0);
            let mut v = f64::NAN;
            for step in 0..8 {
                v = x + 1.0 / (step + 1) as f64;
                if ctx.report(step, v) {
                    return hpo::TrialResult::pruned();
                }
            }
            hpo::TrialResult::ok(v)
        }),
        &space,
    )
    .pruner(hpo::study::prune::Median::new())
    .prune_metric("val_loss")
    .max_evals(n)
    .seed(4)
    .observer(recorder)
    .run()
    .unwrap();
    let pruned = result
        .trials
        .iter()
        .filter(|t| t.state == hpo::TrialState::Pruned)
        .count();
    assert!(pruned > 0);
    let study = handle.study_run_id().unwrap();
    let server = UiServer::bind("127.0.0.1:0", tracker.clone(), UiOptions::default())
        .unwrap()
        .spawn();
    let base = format!("http://{}", server.addr());
    let dom = browse_sized(
        &browser,
        &format!("{base}/#/compare/{study}"),
        &screenshots().join("compare-curves.png"),
        "1200,2000",
    );
    let plot = "plot-intermediate";
    assert_eq!(count_in_svg(&dom, plot, "class=\"lcurve\""), n, "{dom}");
    assert_eq!(count_in_svg(&dom, plot, "class=\"lc pruned\""), pruned);
    assert_eq!(count_in_svg(&dom, plot, "class=\"pruned-mark\""), pruned);
    assert!(count_in_svg(&dom, plot, "class=\"threshold\"") > 0, "{dom}");
    assert!(dom.contains("id=\"intermediate-summary\""), "{dom}");
}
