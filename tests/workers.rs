//! Where trials run: worker threads started lazily and never more than the trials left to run
//! (a huge parallelism costs nothing; an absurd one is refused), and off the driver's thread
//! whenever an observer listens, so what a trial reports reaches it while the trial runs, at
//! parallelism 1 too; with no observer and one trial at a time, on the driver's thread.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use hpo::study::{StudyInfo, TrialReport, MAX_PARALLELISM};
use hpo::{hp, with_context, Fmin, Observer, Params, Random, Space, StudyError, Trial};

fn space() -> Space {
    Space::from_params([hp::uniform("x", 0.0, 1.0)]).unwrap()
}

#[test]
fn a_huge_parallelism_starts_no_more_threads_than_trials() {
    let threads = Mutex::new(BTreeSet::new());
    let objective = |p: &Params| {
        let name = std::thread::current().name().unwrap_or("").to_string();
        threads.lock().unwrap().insert(name);
        std::thread::sleep(Duration::from_millis(20));
        p.f64("x")
    };
    let space = space();
    let r = Fmin::new(&objective, &space)
        .algo(Random)
        .max_evals(3)
        .parallelism(MAX_PARALLELISM)
        .seed(5)
        .run()
        .unwrap();
    assert_eq!(r.trials.len(), 3);
    let names = threads.lock().unwrap().clone();
    for n in &names {
        let i: usize = n
            .strip_prefix("hpo-trial-")
            .and_then(|i| i.parse().ok())
            .unwrap_or_else(|| panic!("a trial ran on thread {n:?}"));
        assert!(i < 3, "thread {n} started for a 3-trial study");
    }
    // the same trials as with a parallelism of 3: the cap changes no suggestion
    let again = Fmin::new(|p: &Params| p.f64("x"), &space)
        .algo(Random)
        .max_evals(3)
        .parallelism(3)
        .seed(5)
        .run()
        .unwrap();
    let xs = |r: &hpo::StudyResult| -> Vec<f64> {
        r.trials
            .iter()
            .map(|t| t.params.f64("x").unwrap())
            .collect()
    };
    assert_eq!(xs(&r), xs(&again));
}

#[test]
fn an_absurd_parallelism_is_refused() {
    let space = space();
    let e = Fmin::new(|p: &Params| p.f64("x"), &space)
        .max_evals(3)
        .parallelism(MAX_PARALLELISM + 1)
        .run()
        .unwrap_err();
    assert_eq!(e, StudyError::TooMuchParallelism(MAX_PARALLELISM + 1));
    assert!(e.to_string().contains("1024"), "{e}");

    // on the command line, from the flag or the file: exit 2, named limit, no store
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.toml");
    std::fs::write(
        &file,
        "[study]\nmax_evals = 3\n[objective]\nfunction = \"branin\"\n[space]\nx1 = { uniform = [-5, 10] }\nx2 = { uniform = [0, 15] }\n",
    )
    .unwrap();
    let hpo = |args: &[&str]| {
        let start = std::time::Instant::now();
        let o = Command::new(env!("CARGO_BIN_EXE_hpo"))
            .args(args)
            .env(
                "HPO_TRACKING_URI",
                format!("sqlite:///{}", dir.path().join("hpo.db").display()),
            )
            .output()
            .unwrap();
        assert!(start.elapsed() < Duration::from_secs(10));
        o
    };
    let f = file.to_str().unwrap();
    let o = hpo(&["run", f, "--parallelism", "1000000"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("1000000") && err.contains("at most 1024"),
        "{err}"
    );
    assert!(!dir.path().join("hpo.db").exists());
    std::fs::write(
        &file,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace("max_evals = 3", "max_evals = 3\nparallelism = 1000000000"),
    )
    .unwrap();
    for cmd in ["validate", "run"] {
        let o = hpo(&[cmd, f]);
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("must be at most 1024"), "{err}");
    }
    // within the limit, a 3-trial study at parallelism 1024 runs quickly
    std::fs::write(
        &file,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace("parallelism = 1000000000", "parallelism = 1024"),
    )
    .unwrap();
    let o = hpo(&["run", f, "--parallelism", "1024", "--json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let _ = Path::new(f);
}

/// Forwards each metric report to a channel as it arrives.
struct Forward(Mutex<mpsc::Sender<(usize, String, f64)>>);

impl Observer for Forward {
    fn on_study_start(&mut self, _info: &StudyInfo) {}
    fn on_trial_report(&mut self, trial: &Trial, report: &TrialReport) {
        if let TrialReport::Metric { key, value, .. } = report {
            let _ = self
                .0
                .lock()
                .unwrap()
                .send((trial.number, key.clone(), *value));
        }
    }
}

#[test]
fn reports_reach_observers_while_the_trial_runs_at_parallelism_1() {
    let (seen_tx, seen_rx) = mpsc::channel();
    // the objective logs a metric, then waits until the observer has seen it
    let seen_rx = Mutex::new(seen_rx);
    let objective = with_context(|p: &Params, ctx: &hpo::TrialContext| {
        ctx.log_metric("val_loss", 0.5, 1);
        let seen = seen_rx
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(10));
        match seen {
            Ok((n, key, v)) if n == ctx.number() && key == "val_loss" && v == 0.5 => p.f64("x"),
            Ok(other) => Err(hpo::ParamError::Unknown(format!("saw {other:?}"))),
            Err(_) => Err(hpo::ParamError::Unknown(
                "the report did not reach the observer while the trial ran".into(),
            )),
        }
    });
    let space = space();
    let r = Fmin::new(objective, &space)
        .algo(Random)
        .max_evals(3)
        .parallelism(1)
        .seed(2)
        .observer(Forward(Mutex::new(seen_tx)))
        .run()
        .unwrap();
    for t in &r.trials {
        assert_eq!(t.state, hpo::TrialState::Ok, "{:?}", t.message);
    }
    // still reproducible at parallelism 1
    let again = Fmin::new(|p: &Params| p.f64("x"), &space)
        .algo(Random)
        .max_evals(3)
        .seed(2)
        .run()
        .unwrap();
    let xs = |r: &hpo::StudyResult| -> Vec<f64> {
        r.trials
            .iter()
            .map(|t| t.params.f64("x").unwrap())
            .collect()
    };
    assert_eq!(xs(&r), xs(&again));
}

#[test]
fn a_study_without_a_seed_runs_its_trials_in_parallel() {
    // without a seed nothing waits for reproducibility: a slot is filled as soon as it frees
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let objective = |p: &Params| {
        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
        most.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(100));
        running.fetch_sub(1, Ordering::SeqCst);
        p.f64("x")
    };
    let space = space();
    let r = Fmin::new(&objective, &space)
        .max_evals(8)
        .parallelism(4)
        .run()
        .unwrap();
    assert_eq!(r.trials.len(), 8);
    assert_eq!(
        most.load(Ordering::SeqCst),
        4,
        "an unseeded study at parallelism 4 ran at most {} trials at once",
        most.load(Ordering::SeqCst)
    );
}

#[test]
fn a_study_with_nothing_to_record_runs_its_trials_on_the_driver_thread() {
    // no observer, one trial at a time: no thread hand-over per trial; an objective that waits
    // for its reports or asks the pruner still returns, and the trials are the same
    let driver = std::thread::current().id();
    let threads = Mutex::new(Vec::new());
    let objective = || {
        with_context(|p: &Params, ctx: &hpo::TrialContext| {
            threads.lock().unwrap().push(std::thread::current().id());
            ctx.log_metric("val_loss", 0.5, 1);
            ctx.wait_for_reports();
            let _ = ctx.report(2, 0.25);
            p.f64("x")
        })
    };
    let space = space();
    let r = Fmin::new(objective(), &space)
        .algo(Random)
        .max_evals(5)
        .seed(4)
        .run()
        .unwrap();
    assert!(r.trials.iter().all(|t| t.state == hpo::TrialState::Ok));
    let seen = threads.lock().unwrap().clone();
    assert_eq!(seen.len(), 5);
    assert!(seen.iter().all(|&t| t == driver), "{seen:?}");

    // with an observer (or two trials at a time) they run on a worker, with the same params
    threads.lock().unwrap().clear();
    let (tx, _rx) = mpsc::channel();
    let observed = Fmin::new(objective(), &space)
        .algo(Random)
        .max_evals(5)
        .seed(4)
        .observer(Forward(Mutex::new(tx)))
        .run()
        .unwrap();
    let seen = threads.lock().unwrap().clone();
    assert_eq!(seen.len(), 5);
    assert!(seen.iter().all(|&t| t != driver), "{seen:?}");
    let xs = |r: &hpo::StudyResult| -> Vec<f64> {
        r.trials
            .iter()
            .map(|t| t.params.f64("x").unwrap())
            .collect()
    };
    assert_eq!(xs(&r), xs(&observed));
}
