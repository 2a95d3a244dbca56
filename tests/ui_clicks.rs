//! `hpo ui` driven by clicks and keystrokes in a real headless chromium, through Debian's
//! `chromedriver` (W3C WebDriver, see `webdriver/mod.rs`): open the experiments page, expand a
//! study, filter its trials by typing in the filter box, open the compare page and count one mark
//! per trial in each plot, tick three trials and compare just those, then register a model from a
//! run with the run page's button, describe it, find it on the models page, open its version's page,
//! set and remove a tag there, and delete the model. One browser
//! session walks all the steps. Screenshots of every page are kept in
//! `target/tmp/ui-screenshots/click-*.png`.
//!
//! Runs only with `HPO_E2E=1` (set by `.ci/run` when chromium is installed); skipped with a note
//! otherwise, or when chromedriver is not installed (`apt-get install chromium-driver`).

mod webdriver;

use std::path::{Path, PathBuf};

use hpo::tracking::{Recorder, Tracker};
use hpo::ui::{UiOptions, UiServer};
use hpo::{hp, Fmin, Params, Space};
use serde_json::json;
use webdriver::Session;

/// The trials of the study.
const TRIALS: usize = 12;

fn screenshots() -> PathBuf {
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    shots
}

/// Counts the marks of every plot on the page: `{plot id: count}`.
const COUNT_MARKS: &str = "const out = {};
  for (const p of document.querySelectorAll('[id^=\"plot-\"]')) {
    out[p.id] = p.dataset.marks !== undefined ? Number(p.dataset.marks) : p.querySelectorAll('.mark').length;
  }
  return out;";

/// Each of the compare page's four plots holds `n` marks.
fn assert_marks(s: &Session, n: usize) {
    let marks = s.eval(COUNT_MARKS, json!([]));
    for plot in [
        "plot-history",
        "plot-parallel",
        "plot-scatter",
        "plot-contour",
    ] {
        assert_eq!(marks[plot], json!(n), "marks of {plot}: {marks}");
    }
}

#[test]
fn click_through_experiments_filter_compare_and_register() {
    if std::env::var_os("HPO_E2E").is_none() {
        eprintln!("skipped: set HPO_E2E=1 to run the click-driven browser test");
        return;
    }
    let Some((driver, browser)) = webdriver::driver_paths() else {
        eprintln!(
            "skipped: no chromedriver or chromium (apt-get install chromium chromium-driver)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tracker = Tracker::open(&format!(
        "sqlite:///{}",
        dir.path().join("hpo.db").display()
    ))
    .unwrap();
    let recorder = Recorder::new(&tracker, "clicks")
        .unwrap()
        .study_name("click-study");
    let handle = recorder.handle();
    let space = Space::from_params([
        hp::uniform("x", -2.0, 2.0),
        hp::loguniform("lr", -11.0, -2.0),
        hp::choice("kind", ["a", "b"]),
    ])
    .unwrap();
    let result = Fmin::new(
        |p: &Params| -> Result<f64, String> {
            let x = p.f64("x").map_err(|e| e.to_string())?;
            Ok(x * x)
        },
        &space,
    )
    .max_evals(TRIALS)
    .seed(11)
    .observer(recorder)
    .run()
    .unwrap();
    let server = UiServer::bind("127.0.0.1:0", tracker.clone(), UiOptions::default())
        .unwrap()
        .spawn();
    let base = format!("http://{}", server.addr());
    let shots = screenshots();
    let s = Session::start(&driver, &browser, 1280, 1000);

    // the experiments page, then the experiment by its link
    s.goto(&format!("{base}/"));
    s.find_with_text("main a", "clicks");
    s.screenshot(&shots.join("click-experiments.png"));
    s.click_on("main a", "clicks");

    // the study is collapsed: expand it, its trials show
    let toggle = s.find("button.toggle");
    assert!(s.text(&toggle).contains(&TRIALS.to_string()));
    s.screenshot(&shots.join("click-experiment.png"));
    s.click(&toggle);
    s.wait_until("the trials", |s| s.find_all("tr.child").len() == TRIALS);
    s.screenshot(&shots.join("click-expanded.png"));

    // type a filter: only the trials below the threshold remain
    let mut losses: Vec<f64> = result.trials.iter().map(|t| t.loss.unwrap()).collect();
    losses.sort_by(f64::total_cmp);
    let threshold = (losses[TRIALS / 2 - 1] + losses[TRIALS / 2]) / 2.0;
    let filter = s.find("#filter");
    s.type_text(
        &filter,
        &format!("metrics.loss < {threshold} and tags.`hpo.runType` = 'trial'\u{E007}"),
    );
    let below: Vec<String> = result
        .trials
        .iter()
        .filter(|t| t.loss.unwrap() < threshold)
        .map(|t| format!("trial-{}", t.number))
        .collect();
    assert!(!below.is_empty() && below.len() < TRIALS, "{below:?}");
    s.wait_until("the filtered trials", |s| {
        s.find_all("table.runs tbody tr").len() == below.len()
    });
    let text = s.page_text();
    for t in &result.trials {
        let shown = text.contains(&format!("trial-{}\t", t.number));
        assert_eq!(
            shown,
            t.loss.unwrap() < threshold,
            "trial {} in:\n{text}",
            t.number
        );
    }
    s.screenshot(&shots.join("click-filtered.png"));

    // back to the experiment's experiments link: the filter is gone; the study's compare link
    s.click_on("header nav a", "Experiments");
    s.click_on("main a", "clicks");
    s.click_on("a.compare", "compare");
    s.find("#plot-contour");
    assert_marks(&s, TRIALS);
    // a categorical param has its own axis and the loguniform one a log axis
    let labels = s.eval(
        "return [...document.querySelectorAll('#plot-parallel text.label')].map((t) => t.textContent);",
        json!([]),
    );
    assert_eq!(labels, json!(["kind", "lr (log)", "x", "loss"]));
    s.screenshot(&shots.join("click-compare.png"));
    s.eval(
        "document.getElementById('plot-scatter').scrollIntoView();",
        json!([]),
    );
    s.screenshot(&shots.join("click-compare-scatter.png"));

    // pick three trials in the table and compare just those
    s.click_on("a", "back to the experiment");
    s.wait_until("the trials", |s| {
        s.find_all("tr.child input.pick").len() == TRIALS
    });
    s.click(&s.find("input.pick-all"));
    s.find_with_text("#compare-selected", &format!("Compare selected ({TRIALS})"));
    s.click_on("#clear-selected", "Clear");
    s.find_with_text("#compare-selected", "Compare selected (0)");
    for i in [0, 2, 5] {
        s.click(&s.find_all("tr.child input.pick")[i]);
    }
    s.click_on("#compare-selected", "Compare selected (3)");
    s.find_with_text("h1", "Compare 3 selected runs");
    s.find("#plot-contour");
    assert_marks(&s, 3);
    s.screenshot(&shots.join("click-compare-selected.png"));

    // the best trial's run page: register it as a model with the button
    let best = handle.trial_run_id(result.best().unwrap().number).unwrap();
    s.click_on("header nav a", "Experiments");
    s.click_on("main a", "clicks");
    // the study is still expanded from before (the page keeps what was open)
    s.click_on(&format!("tr.child a[href='#/runs/{best}']"), "");
    let name = s.find("input[placeholder='model name']");
    s.type_text(&name, "click-model");
    s.screenshot(&shots.join("click-run.png"));
    s.click_on("button", "Register model");
    s.find_with_text("h1", "click-model");
    // describe the model: the text, markup included, shows as text
    s.click_on("button.edit-description", "Add description");
    let note = "chosen by TPE <b>bold?</b>";
    s.type_text(&s.find("textarea.description-input"), note);
    s.click_on("button.save-description", "Save");
    s.find_with_text("#model-description", note);
    let bold = s.eval(
        "return document.querySelectorAll('main b').length;",
        json!([]),
    );
    assert_eq!(bold, json!(0), "the description became markup");
    s.screenshot(&shots.join("click-model.png"));
    s.click_on("header nav a", "Models");
    s.find_with_text("main table a", "click-model");
    s.screenshot(&shots.join("click-models.png"));

    // the version's own page: its source run, params and metrics at registration
    s.click_on("main table a", "click-model");
    s.click_on("main table a", "v1");
    s.find_with_text("h1", "version 1");
    s.find_with_text(
        "#version-run",
        &format!("trial-{}", result.best().unwrap().number),
    );
    let metrics = s.text(&s.find("#version-metrics"));
    assert!(metrics.contains("loss"), "{metrics}");
    // a tag, set then removed, by clicks
    s.type_text(&s.find("#version-tags input.tag-key"), "team");
    s.type_text(&s.find("#version-tags input.tag-value"), "<i>ml</i>");
    s.click_on("#version-tags button.set-tag", "Set");
    s.find_with_text("#version-tags td", "<i>ml</i>");
    s.screenshot(&shots.join("click-model-version.png"));
    s.click_on("#version-tags button.remove-tag", "Remove");
    s.find_with_text("#version-tags p", "No tags.");
    // delete the model: two clicks, then the models page has none
    s.click_on("main h1 a", "click-model");
    s.click_on("#delete-model", "Delete model");
    s.click_on("#delete-model", "Really delete");
    s.find_with_text("main p", "No registered models yet");
    drop(s);
    server.stop();
}

/// The tick labels of every axis of the compare page: `{"plot-id axis": [labels]}`.
const TICK_LABELS: &str = "const out = {};
  for (const t of document.querySelectorAll('svg text.tick')) {
    const k = t.closest('svg').id + ' ' + (t.dataset.axis || '');
    (out[k] = out[k] || []).push(t.textContent);
  }
  return out;";

#[test]
fn axis_ticks_read_distinct_values_and_colour_plots_have_legends() {
    if std::env::var_os("HPO_E2E").is_none() {
        eprintln!("skipped: set HPO_E2E=1 to run the click-driven browser test");
        return;
    }
    let Some((driver, browser)) = webdriver::driver_paths() else {
        eprintln!("skipped: no chromedriver or chromium");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tracker = Tracker::open(&format!(
        "sqlite:///{}",
        dir.path().join("hpo.db").display()
    ))
    .unwrap();
    let recorder = Recorder::new(&tracker, "ticks").unwrap();
    let handle = recorder.handle();
    // values that agree in their first five digits, and a loguniform param within one decade
    let space = Space::from_params([
        hp::uniform("x", 0.398920, 0.398925),
        hp::loguniform("lr", -4.0, -3.0),
    ])
    .unwrap();
    Fmin::new(
        |p: &Params| -> Result<f64, String> {
            let x = p.f64("x").map_err(|e| e.to_string())?;
            Ok(1.0 + (x - 0.3989225) * 1e3)
        },
        &space,
    )
    .max_evals(TRIALS)
    .seed(4)
    .observer(recorder)
    .run()
    .unwrap();
    let study = handle.study_run_id().unwrap();
    let server = UiServer::bind("127.0.0.1:0", tracker.clone(), UiOptions::default())
        .unwrap()
        .spawn();
    let s = Session::start(&driver, &browser, 1280, 1400);
    s.goto(&format!("http://{}/#/compare/{study}", server.addr()));
    s.find("#plot-contour");
    s.find("#legend-contour");
    s.find("#legend-parallel");
    s.screenshot(&screenshots().join("click-ticks.png"));
    let ticks = s.eval(TICK_LABELS, json!([]));
    let axes = ticks.as_object().unwrap();
    assert!(axes.len() >= 8, "{ticks}");
    for (axis, labels) in axes {
        let labels: Vec<&str> = labels
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert!(labels.len() >= 2, "{axis}: {labels:?}");
        let mut distinct = labels.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            labels.len(),
            "{axis} repeats a label: {labels:?}"
        );
    }
    // the x ticks show the digits where the values differ
    let scatter_x = ticks["plot-scatter x"].to_string();
    assert!(scatter_x.contains("0.39892"), "{scatter_x}");
    // the loguniform lr is on a log axis although it spans less than 100x
    let labels = s.eval(
        "return [...document.querySelectorAll('#plot-parallel text.label')].map((t) => t.textContent);",
        json!([]),
    );
    assert_eq!(labels, json!(["lr (log)", "x", "loss"]));
    // each legend has its metric's name and at least two ticks
    for id in ["legend-contour", "legend-parallel"] {
        let n = s.eval(
            &format!("return document.querySelectorAll('#{id} text.tick').length;"),
            json!([]),
        );
        assert!(n.as_u64().unwrap() >= 2, "{id}: {n}");
        let label = s.text(&s.find(&format!("#{id} text.label")));
        assert_eq!(label, "loss");
    }
    drop(s);
    server.stop();
}

#[test]
fn the_run_chart_starts_on_the_study_metric_and_overlays_metrics_and_runs() {
    use hpo::tracking::Metric;
    if std::env::var_os("HPO_E2E").is_none() {
        eprintln!("skipped: set HPO_E2E=1 to run the click-driven browser test");
        return;
    }
    let Some((driver, browser)) = webdriver::driver_paths() else {
        eprintln!("skipped: no chromedriver or chromium");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tracker = Tracker::open(&format!(
        "sqlite:///{}",
        dir.path().join("hpo.db").display()
    ))
    .unwrap();
    let recorder = Recorder::new(&tracker, "curves").unwrap().metric("rmse");
    let handle = recorder.handle();
    let space = Space::from_params([hp::uniform("x", -1.0, 1.0)]).unwrap();
    Fmin::new(
        hpo::with_context(
            |p: &Params, ctx: &hpo::TrialContext| -> Result<f64, String> {
                ctx.log_metric("accuracy", 0.5, 0);
                for step in 0..5 {
                    ctx.log_metric("val_loss", 1.0 / (step + 1) as f64, step);
                }
                Ok(p.f64("x").map_err(|e| e.to_string())?.abs())
            },
        ),
        &space,
    )
    .max_evals(2)
    .seed(1)
    .observer(recorder)
    .run()
    .unwrap();
    let trial = handle.trial_run_id(0).unwrap();
    let other = handle.trial_run_id(1).unwrap();
    // a run of no study: its metric with the most points, not the alphabetically first
    let exp = tracker.get_experiment_by_name("curves").unwrap().unwrap();
    let lone = tracker
        .create_run(exp.experiment_id, Some("lone"), None)
        .unwrap();
    let mut points = vec![Metric::new("a_once", 1.0, 0)];
    points.extend((0..4).map(|i| Metric::new("b_curve", f64::from(i as u8), i)));
    tracker.log_batch(&lone, &[], &points, &[]).unwrap();

    let server = UiServer::bind("127.0.0.1:0", tracker.clone(), UiOptions::default())
        .unwrap()
        .spawn();
    let base = format!("http://{}", server.addr());
    let s = Session::start(&driver, &browser, 1280, 1200);
    let checked = "return [...document.querySelectorAll('input.curve-key')].filter((b) => b.checked).map((b) => b.dataset.key);";
    let legend = "return [...document.querySelectorAll('#curves text.legend-entry')].map((t) => t.textContent);";

    s.goto(&format!("{base}/#/runs/{trial}"));
    s.find("#curves");
    assert_eq!(
        s.eval(checked, json!([])),
        json!(["rmse"]),
        "the study's metric first"
    );
    s.goto(&format!("{base}/#/runs/{lone}"));
    s.wait_until("the lone run's chart", |s| {
        s.eval(checked, json!([])) == json!(["b_curve"])
    });

    // overlay a second metric, then a second run, then time on x and a log scale
    s.goto(&format!("{base}/#/runs/{trial}"));
    s.find("#curves");
    s.click(&s.find("input.curve-key[data-key='val_loss']"));
    s.wait_until("two series", |s| {
        s.eval(legend, json!([])) == json!(["rmse", "val_loss"])
    });
    s.type_text(&s.find("#curve-run"), &other);
    s.click(&s.find("#curve-add-run"));
    s.wait_until("four series", |s| {
        s.eval(legend, json!([])).as_array().unwrap().len() == 4
    });
    let names = s.eval(legend, json!([])).to_string();
    assert!(
        names.contains("trial-1 val_loss") && names.contains("trial-0 rmse"),
        "{names}"
    );
    s.eval(
        "const x = document.getElementById('curve-x'); x.value = 'time'; x.dispatchEvent(new Event('change'));",
        json!([]),
    );
    s.wait_until("time on x", |s| {
        s.text(&s.find("#curves-x-label")).contains("seconds")
    });
    s.click(&s.find("#curve-log"));
    s.wait_until("log y", |s| {
        s.text(&s.find("#curves-y-label")).contains("(log)")
    });
    // every point has a hover title with its value
    let titles = s.eval(
        "return [...document.querySelectorAll('#curves circle title')].map((t) => t.textContent);",
        json!([]),
    );
    let titles = titles.as_array().unwrap();
    assert_eq!(titles.len(), 2 * (1 + 5), "{titles:?}");
    assert!(
        titles
            .iter()
            .any(|t| t.as_str().unwrap().contains("val_loss, step 4, ")
                && t.as_str().unwrap().contains(": 0.2")),
        "{titles:?}"
    );
    s.screenshot(&screenshots().join("click-curves.png"));
    drop(s);
    server.stop();
}
