//! Pruning across the workers of a shared study (issue 16 on issue 19's shared studies): a
//! worker's pruner compares its trial with the curves other workers' trials have logged so
//! far, while those trials still run, on SQLite and PostgreSQL.

mod common;

use std::sync::{mpsc, Mutex};
use std::time::Duration;

use common::pg::TempDb;
use hpo::study::prune::SuccessiveHalving;
use hpo::tracking::Tracker;
use hpo::worker::Join;
use hpo::{hp, with_context, Fmin, Params, Random, Space, TrialContext, TrialResult, TrialState};

fn space() -> Space {
    Space::from_params([hp::uniform("x", 0.0, 1.0)]).unwrap()
}

/// Successive halving from step 1, halving at each rung: a trial at rung 0 with one other
/// value there goes on only if it is the better of the two.
fn halving() -> SuccessiveHalving {
    SuccessiveHalving::new(Some(1), 2, 0, 0).unwrap()
}

/// Worker A's trial logs a good curve, tells B, and runs on until B's trial has ended; worker
/// B's trial logs a worse value at the same step once A's is in the store. Returns B's
/// trial's state.
fn race(uri: &str, study: &str) -> TrialState {
    let (a_logged, b_waits) = mpsc::channel::<()>();
    let (b_done, a_waits) = mpsc::channel::<bool>();
    let a = {
        let uri = uri.to_string();
        let study = study.to_string();
        std::thread::spawn(move || {
            let tracker = Tracker::open(&uri).unwrap();
            let space = space();
            let (a_logged, a_waits) = (Mutex::new(a_logged), Mutex::new(a_waits));
            let worker = Join::new(&tracker, &study, &space)
                .max_evals(2)
                .prune_metric("val")
                .join()
                .unwrap();
            let objective = with_context(move |_: &Params, ctx: &TrialContext| {
                for step in 1..=3 {
                    ctx.report(step, 0.1);
                }
                // the reports go to the study's observers on the driver's thread: wait until
                // they are in the store's queue, then commit it
                ctx.wait_for_reports();
                tracker.flush().unwrap();
                a_logged.lock().unwrap().send(()).unwrap();
                // still running while B decides
                let _ = a_waits
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(60));
                TrialResult::ok(0.1)
            });
            let fmin = Fmin::new(objective, &space)
                .algo(Random)
                .pruner(halving())
                .prune_metric("val");
            worker.attach(fmin).run().unwrap()
        })
    };
    b_waits.recv_timeout(Duration::from_secs(60)).unwrap();
    let tracker = Tracker::open(uri).unwrap();
    let space = space();
    let worker = Join::new(&tracker, study, &space)
        .max_evals(2)
        .prune_metric("val")
        .join()
        .unwrap();
    let b_done = Mutex::new(b_done);
    let objective = with_context(|_: &Params, ctx: &TrialContext| {
        let pruned = ctx.report(1, 5.0);
        // A's trial runs until B's is decided
        let _ = b_done.lock().unwrap().send(pruned);
        match pruned {
            true => TrialResult::pruned(),
            false => TrialResult::ok(5.0),
        }
    });
    let fmin = Fmin::new(objective, &space)
        .algo(Random)
        .pruner(halving())
        .prune_metric("val");
    let b = worker.attach(fmin).run().unwrap();
    let a = a.join().unwrap();
    // B's result holds its own trial (its loss is the value it reached, 5.0) and A's as seen
    let own: Vec<_> = b.trials.iter().filter(|t| t.loss == Some(5.0)).collect();
    assert_eq!(own.len(), 1, "{uri}: B ran one trial: {:?}", b.trials);
    let a_trial = a.trials.iter().find(|t| t.loss == Some(0.1));
    assert_eq!(a_trial.map(|t| t.state), Some(TrialState::Ok), "{uri}");
    own[0].state
}

#[test]
fn a_trial_is_pruned_against_a_trial_still_running_on_another_worker() {
    let dir = tempfile::tempdir().unwrap();
    let mut uris = vec![format!("sqlite:///{}", dir.path().join("hpo.db").display())];
    let db = TempDb::create("shared_pruning");
    if let Some(db) = &db {
        uris.push(db.url());
    }
    for uri in uris {
        let state = race(&uri, "halving");
        assert_eq!(
            state,
            TrialState::Pruned,
            "{uri}: at rung 0 B's 5.0 loses to A's 0.1 read from the store"
        );
    }
}

/// Exponential curves of 30 steps ending at `x`: the extrapolating pruner's forecasts are exact.
fn exponential(x: f64, step: i64) -> f64 {
    x + (-(step as f64) / 5.0).exp() - (-30.0 / 5.0f64).exp()
}

/// Runs `n` trials of the shared study `study` on `uri` with the extrapolating pruner (the
/// study's budget `n` counted from its start; `resume` for a later worker).
fn extrapolated(uri: &str, study: &str, n: usize, resume: bool) -> hpo::StudyResult {
    let tracker = Tracker::open(uri).unwrap();
    let space = space();
    let worker = Join::new(&tracker, study, &space)
        .max_evals(n)
        .prune_metric("val")
        .resume(resume)
        .join()
        .unwrap();
    let objective = with_context(|p: &Params, ctx: &TrialContext| {
        let x = p.f64("x").unwrap_or(1.0);
        for step in 1..=30 {
            if ctx.report(step, exponential(x, step)) {
                return TrialResult::pruned();
            }
        }
        TrialResult::ok(exponential(x, 30))
    });
    let fmin = Fmin::new(objective, &space)
        .algo(Random)
        .seed(9)
        .pruner(hpo::study::prune::Extrapolate::default())
        .prune_metric("val");
    worker.attach(fmin).run().unwrap()
}

#[test]
fn another_workers_stopped_trials_reach_the_sampler_with_their_forecasts() {
    let dir = tempfile::tempdir().unwrap();
    let mut uris = vec![format!("sqlite:///{}", dir.path().join("hpo.db").display())];
    let db = TempDb::create("shared_forecasts");
    if let Some(db) = &db {
        uris.push(db.url());
    }
    for uri in uris {
        let a = extrapolated(&uri, "forecasts", 24, false);
        let with_forecast: Vec<_> = a
            .trials
            .iter()
            .filter(|t| t.metrics.contains_key(hpo::trial::FORECAST))
            .collect();
        assert!(
            with_forecast.len() >= 5,
            "{uri}: {} forecasts",
            with_forecast.len()
        );
        // a second worker carries the study on by one trial and sees A's forecasts
        let b = extrapolated(&uri, "forecasts", 25, true);
        for t in with_forecast {
            let seen = b.trials.iter().find(|s| s.number == t.number);
            assert_eq!(
                seen.and_then(|s| s.metrics.get(hpo::trial::FORECAST)),
                t.metrics.get(hpo::trial::FORECAST),
                "{uri}: trial {}",
                t.number
            );
        }
    }
}
