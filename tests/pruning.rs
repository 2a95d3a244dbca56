//! Pruning in the library: `TrialContext::report`, `should_prune`, `TrialResult::pruned`, the
//! pruned state, and `Fmin::pruner` with each pruner.

use std::sync::atomic::{AtomicUsize, Ordering};

use hpo::study::prune::{Median, Percentile, SuccessiveHalving, Threshold};
use hpo::{hp, with_context, Fmin, Params, Pruner, Random, Space, Study, TrialResult, TrialState};

const STEPS: i64 = 10;

fn space() -> Space {
    Space::from_params([hp::uniform("x", 0.0, 1.0)]).unwrap()
}

/// A learning curve: trials with a larger x are worse at every step.
fn curve(x: f64, step: i64) -> f64 {
    x + 1.0 / (step + 1) as f64
}

/// Runs every trial for STEPS steps unless the pruner stops it; counts the steps run.
fn study(pruner: Option<Box<dyn Pruner>>, steps_run: &AtomicUsize) -> hpo::StudyResult {
    let objective = with_context(|p: &Params, ctx: &hpo::TrialContext| {
        let x = p.f64("x").unwrap_or(1.0);
        for step in 0..STEPS {
            steps_run.fetch_add(1, Ordering::SeqCst);
            if ctx.report(step, curve(x, step)) {
                return TrialResult::pruned();
            }
        }
        TrialResult::ok(curve(x, STEPS - 1))
    });
    let space = space();
    let mut f = Fmin::new(objective, &space)
        .algo(Random)
        .seed(7)
        .max_evals(30);
    if let Some(p) = pruner {
        f = f.pruner_boxed(p);
    }
    f.run().unwrap()
}

#[test]
fn the_median_pruner_stops_worse_curves_and_records_the_step_and_value() {
    let steps = AtomicUsize::new(0);
    let r = study(Some(Box::new(Median::new())), &steps);
    let pruned: Vec<_> = r
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Pruned)
        .collect();
    assert!(pruned.len() >= 8, "{} of 30 pruned", pruned.len());
    assert!(steps.load(Ordering::SeqCst) < 30 * STEPS as usize * 3 / 4);
    let completed: Vec<_> = r
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Ok)
        .collect();
    // the first five complete (start-up trials); every completed trial ran to the last step
    assert!(r.trials[..5].iter().all(|t| t.state == TrialState::Ok));
    assert!(completed.iter().all(|t| t.last_step == Some(STEPS - 1)));
    for t in &pruned {
        let x = t.params.f64("x").unwrap();
        let step = t.last_step.expect("a pruned trial has its step");
        assert!(step < STEPS - 1);
        assert_eq!(
            t.loss,
            Some(curve(x, step)),
            "the value at the step it reached"
        );
        assert!(t.message.is_none());
        // a curve is only pruned when worse than the median completed trial so far
        let earlier: Vec<f64> = completed
            .iter()
            .filter(|c| c.number < t.number)
            .map(|c| c.params.f64("x").unwrap())
            .collect();
        let mut sorted = earlier.clone();
        sorted.sort_by(f64::total_cmp);
        assert!(
            x > sorted[0],
            "trial {} (x = {x}) pruned below every finished x",
            t.number
        );
    }
    // the best trial is an ok one, never a pruned one
    assert_eq!(r.best().unwrap().state, TrialState::Ok);
}

#[test]
fn without_a_pruner_reports_are_recorded_and_nothing_is_pruned() {
    let steps = AtomicUsize::new(0);
    let r = study(None, &steps);
    assert!(r.trials.iter().all(|t| t.state == TrialState::Ok));
    assert!(r.trials.iter().all(|t| t.last_step == Some(STEPS - 1)));
    assert_eq!(steps.load(Ordering::SeqCst), 30 * STEPS as usize);
}

#[test]
fn each_pruner_prunes_through_fmin() {
    let pruners: Vec<Box<dyn Pruner>> = vec![
        Box::new(Percentile {
            n_startup_trials: 3,
            ..Percentile::new(25.0).unwrap()
        }),
        Box::new(SuccessiveHalving::new(Some(1), 3, 0, 0).unwrap()),
        Box::new(Threshold {
            n_warmup_steps: 5,
            ..Threshold::new(None, Some(0.9)).unwrap()
        }),
    ];
    for p in pruners {
        let name = p.name();
        let steps = AtomicUsize::new(0);
        let r = study(Some(p), &steps);
        let n = r
            .trials
            .iter()
            .filter(|t| t.state == TrialState::Pruned)
            .count();
        assert!(n >= 5, "{name}: {n} pruned");
        assert!(n < 30, "{name}: every trial pruned");
    }
}

#[test]
fn log_metric_of_the_watched_key_reports_and_other_keys_do_not() {
    let objective = with_context(|p: &Params, ctx: &hpo::TrialContext| {
        let x = p.f64("x").unwrap_or(1.0);
        for step in 0..STEPS {
            ctx.log_metric("train_loss", 100.0, step);
            ctx.log_metric("val_loss", curve(x, step), step);
            if ctx.should_prune() {
                return TrialResult::pruned();
            }
        }
        TrialResult::ok(curve(x, STEPS - 1))
    });
    let space = space();
    let r = Fmin::new(objective, &space)
        .algo(Random)
        .seed(3)
        .max_evals(20)
        .pruner(Threshold::new(None, Some(0.8)).unwrap())
        .prune_metric("val_loss")
        .run()
        .unwrap();
    for t in &r.trials {
        let x = t.params.f64("x").unwrap();
        // pruned at the first step where the watched curve is above 0.8
        let first_over = (0..STEPS).find(|&s| curve(x, s) > 0.8);
        match first_over {
            Some(s) => {
                assert_eq!(t.state, TrialState::Pruned, "trial {} x {x}", t.number);
                assert_eq!(t.last_step, Some(s));
            }
            None => assert_eq!(t.state, TrialState::Ok),
        }
    }
}

#[test]
fn ask_tell_records_a_pruned_trial_with_its_step_and_value() {
    let mut s = Study::new(&space(), Random, 1);
    let a = s.ask();
    let t = s.tell(a.number, TrialResult::pruned_at(3, 0.7)).unwrap();
    assert_eq!(t.state, TrialState::Pruned);
    assert_eq!(t.last_step, Some(3));
    assert_eq!(t.loss, Some(0.7));
    assert!(s.best().is_none(), "a pruned trial is never the best");
    // a pruned trial is finished: it cannot be told again
    assert!(s.tell(a.number, 1.0).is_err());
}

/// The share of 200 suggestions in [6, 8], from a history of one finished trial at x = 1, one
/// trial at x = 7 that ran to step 9 with a low value (pruned or failed: `at_seven`), and 18
/// trials pruned at step 1 elsewhere (the best of them at x = 3, among many).
fn share_near_seven(algo: &dyn hpo::Algorithm, at_seven: TrialResult) -> f64 {
    use std::collections::BTreeMap;
    let space = Space::from_params([hp::uniform("x", 0.0, 10.0)]).unwrap();
    let mut study = Study::new(&space, Random, 0);
    let x = |v: f64| BTreeMap::from([("x".to_string(), hpo::Value::Float(v))]);
    study.add_trial(&x(1.0), 5.0).unwrap();
    study.add_trial(&x(7.0), at_seven).unwrap();
    let elsewhere = (0..25)
        .map(|i| 0.2 + 0.4 * i as f64)
        .filter(|v| !(5.5..=8.5).contains(v));
    for v in elsewhere {
        study
            .add_trial(
                &x(v),
                TrialResult::pruned_at(1, 2.0 + 0.01 * (v - 3.0).abs()),
            )
            .unwrap();
    }
    let view = hpo::trial::HistoryView::new(study.trials());
    let near = (0..200)
        .filter(|&s| {
            let mut rng = hpo::algo::trial_rng(s, study.trials().len());
            let a = algo.suggest(&space, &view, &mut rng);
            let v = space.params_of(a).f64("x").unwrap();
            (6.0..=8.0).contains(&v)
        })
        .count();
    near as f64 / 200.0
}

#[test]
fn tpe_is_drawn_to_a_pruned_trial_that_got_far_and_not_to_a_failed_one() {
    use hpo::Tpe;
    for (name, tpe) in [("default", Tpe::default()), ("hyperopt", Tpe::hyperopt())] {
        let pruned = share_near_seven(&tpe, TrialResult::pruned_at(9, 0.3));
        let failed = share_near_seven(&tpe, TrialResult::fail("diverged"));
        // a uniform draw puts 20% of the suggestions in [6, 8]
        assert!(pruned > 0.4, "{name}: {pruned} near the pruned trial");
        assert!(
            pruned > failed + 0.2,
            "{name}: {pruned} near a pruned trial, {failed} near a failed one"
        );
    }
}

#[test]
fn a_pruned_trial_is_recorded_killed_with_its_state_step_and_value_and_resumes_pruned() {
    use hpo::tracking::{load_study, Recorder, RunStatus, RunsQuery, Tracker};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hpo.db");
    let tracker = Tracker::open(&format!("sqlite:///{}", db.display())).unwrap();
    let recorder = Recorder::new(&tracker, "prune-test")
        .unwrap()
        .study_name("s")
        .metric("val_loss");
    let handle = recorder.handle();
    let objective = with_context(|p: &Params, ctx: &hpo::TrialContext| {
        let x = p.f64("x").unwrap_or(1.0);
        for step in 0..STEPS {
            if ctx.report(step, curve(x, step)) {
                return TrialResult::pruned();
            }
        }
        TrialResult::ok(curve(x, STEPS - 1))
    });
    let space = space();
    let r = Fmin::new(objective, &space)
        .algo(Random)
        .seed(11)
        .max_evals(20)
        .pruner(Median::new())
        .prune_metric("val_loss")
        .observer(recorder)
        .run()
        .unwrap();
    assert!(handle.errors().is_empty(), "{:?}", handle.errors());
    let pruned: Vec<_> = r
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Pruned)
        .collect();
    assert!(!pruned.is_empty());
    for t in &pruned {
        let run = tracker
            .get_run(&handle.trial_run_id(t.number).unwrap())
            .unwrap();
        assert_eq!(run.info.status, RunStatus::Killed);
        assert_eq!(run.data.tag("hpo.state"), Some("PRUNED"));
        let step = t.last_step.unwrap();
        assert_eq!(
            run.data.tag("hpo.prunedStep"),
            Some(step.to_string().as_str())
        );
        let value: f64 = run.data.tag("hpo.prunedValue").unwrap().parse().unwrap();
        assert_eq!(value, t.loss.unwrap());
        assert!(run.data.tag("hpo.failureReason").is_none());
        // the curve is there up to the step it was pruned at
        let m = run.data.metric("val_loss").unwrap();
        assert_eq!(m.latest, value);
        assert_eq!(m.latest_step, step);
    }
    // completed trials keep their status and have no state tag
    let ok = r.trials.iter().find(|t| t.state == TrialState::Ok).unwrap();
    let run = tracker
        .get_run(&handle.trial_run_id(ok.number).unwrap())
        .unwrap();
    assert_eq!(run.info.status, RunStatus::Finished);
    assert_eq!(run.data.tag("hpo.state"), None);
    // filterable
    let exp = tracker
        .get_experiment_by_name("prune-test")
        .unwrap()
        .unwrap();
    let page = tracker
        .search_runs(&RunsQuery::new(
            &[exp.experiment_id],
            "tags.hpo.state = 'PRUNED'",
        ))
        .unwrap();
    assert_eq!(page.runs.len(), pruned.len());
    // a resumed study sees them pruned, with their step and value
    let resumed = load_study(&tracker, exp.experiment_id, "s", &space, "val_loss").unwrap();
    for t in &pruned {
        let back = resumed
            .trials
            .iter()
            .find(|b| b.number == t.number)
            .unwrap();
        assert_eq!(back.state, TrialState::Pruned);
        assert_eq!(back.last_step, t.last_step);
        assert_eq!(back.loss, t.loss);
    }
}

/// The share of 200 anneal suggestions in [8, 10] after 20 trials at x = 9 ending in `result`.
fn anneal_share_near_nine(result: impl Fn() -> TrialResult) -> f64 {
    use std::collections::BTreeMap;
    let space = Space::from_params([hp::uniform("x", 0.0, 10.0)]).unwrap();
    let mut study = Study::new(&space, Random, 0);
    for _ in 0..20 {
        let at = BTreeMap::from([("x".to_string(), hpo::Value::Float(9.0))]);
        study.add_trial(&at, result()).unwrap();
    }
    let view = hpo::trial::HistoryView::new(study.trials());
    let anneal = hpo::Anneal::default();
    let near = (0..200)
        .filter(|&s| {
            let mut rng = hpo::algo::trial_rng(s, 20);
            let a = hpo::Algorithm::suggest(&anneal, &space, &view, &mut rng);
            (8.0..=10.0).contains(&space.params_of(a).f64("x").unwrap())
        })
        .count();
    near as f64 / 200.0
}

#[test]
fn anneal_skips_pruned_trials() {
    // ok trials at 9 are perturbed around 9
    assert!(anneal_share_near_nine(|| TrialResult::ok(1.0)) > 0.5);
    // pruned ones are never a parent: the draws come from the prior (20% in [8, 10])
    let pruned = anneal_share_near_nine(|| TrialResult::pruned_at(5, 0.1));
    assert!(pruned < 0.35, "{pruned}");
}

/// Random search that records, at each suggestion, the numbers of the trials it was shown.
#[derive(Debug, Default)]
struct Recording {
    seen: std::sync::Mutex<Vec<Vec<usize>>>,
}

impl hpo::Algorithm for Recording {
    fn name(&self) -> String {
        "recording".into()
    }
    fn suggest(
        &self,
        space: &Space,
        history: &hpo::trial::HistoryView<'_>,
        rng: &mut hpo::algo::TrialRng,
    ) -> hpo::Assignment {
        let numbers = history.trials().iter().map(|t| t.number).collect();
        self.seen.lock().unwrap().push(numbers);
        Random.suggest(space, history, rng)
    }
}

/// A [`Recording`] the test keeps a handle on.
#[derive(Debug)]
struct Shared(std::sync::Arc<Recording>);

impl hpo::Algorithm for Shared {
    fn name(&self) -> String {
        self.0.name()
    }
    fn suggest(
        &self,
        space: &Space,
        history: &hpo::trial::HistoryView<'_>,
        rng: &mut hpo::algo::TrialRng,
    ) -> hpo::Assignment {
        self.0.suggest(space, history, rng)
    }
}

#[test]
fn hyperband_prunes_through_fmin_and_the_sampler_sees_only_the_trials_bracket() {
    use hpo::study::prune::Hyperband;
    let algo = std::sync::Arc::new(Recording::default());
    let steps_run = AtomicUsize::new(0);
    let objective = with_context(|p: &Params, ctx: &hpo::TrialContext| {
        let x = p.f64("x").unwrap_or(1.0);
        for step in 0..STEPS {
            steps_run.fetch_add(1, Ordering::SeqCst);
            if ctx.report(step, curve(x, step)) {
                return TrialResult::pruned();
            }
        }
        TrialResult::ok(curve(x, STEPS - 1))
    });
    let space = space();
    // min 1, max 9, rf 3: brackets with first rungs at 1, 3, 9
    let hb = Hyperband::new(1, 9, 3, 0).unwrap();
    let brackets = hb.brackets().clone();
    assert_eq!(brackets.len(), 3);
    let r = Fmin::new(objective, &space)
        .algo(Shared(algo.clone()))
        .seed(3)
        .max_evals(40)
        .pruner(hb)
        .run()
        .unwrap();
    assert_eq!(r.trials.len(), 40);
    let pruned: Vec<_> = r
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Pruned)
        .collect();
    assert!(pruned.len() >= 5, "{} of 40 pruned", pruned.len());
    assert!(steps_run.load(Ordering::SeqCst) < 40 * STEPS as usize);
    for t in &pruned {
        let step = t.last_step.expect("a pruned trial has its step");
        // pruned only at a rung of its own bracket: step min * rf^(bracket + r)
        let b = brackets.of(t.number) as u32;
        assert!(
            (0..3).any(|r| step == 3i64.pow(b + r)),
            "trial {} in bracket {b} pruned at step {step}",
            t.number
        );
        assert_eq!(t.loss, Some(curve(t.params.f64("x").unwrap(), step)));
    }
    // sequential: suggestion k is trial k's, and it saw exactly the earlier trials of its bracket
    let seen = algo.seen.lock().unwrap();
    assert_eq!(seen.len(), 40);
    let mut sizes = std::collections::BTreeSet::new();
    for (k, numbers) in seen.iter().enumerate() {
        let want: Vec<usize> = (0..k)
            .filter(|&j| brackets.of(j) == brackets.of(k))
            .collect();
        assert_eq!(numbers, &want, "trial {k}");
        sizes.insert(brackets.of(k));
    }
    assert!(sizes.len() >= 2, "40 trials spread over brackets");
}

#[test]
fn ask_tell_studies_can_split_the_history_by_bracket() {
    use hpo::study::prune::Brackets;
    let algo = std::sync::Arc::new(Recording::default());
    let b = Brackets::new(3, 2);
    let mut study = Study::new(&space(), Shared(algo.clone()), 1);
    study.set_sampler_brackets(Some(b.clone()));
    for _ in 0..12 {
        let t = study.ask();
        study.tell(t.number, 1.0).unwrap();
    }
    let seen = algo.seen.lock().unwrap();
    for (k, numbers) in seen.iter().enumerate() {
        assert!(numbers.iter().all(|&n| b.of(n) == b.of(k)), "trial {k}");
        assert_eq!(
            numbers.len(),
            (0..k).filter(|&j| b.of(j) == b.of(k)).count()
        );
    }
}

/// Slow starters end best: trial `x` ends at `x` with a time constant that grows as `x`
/// falls, so the best trials have the highest values for their first steps.
fn slow_best(x: f64, step: i64) -> f64 {
    let tau = 0.5 + 20.0 * (1.0 - x).powi(2);
    x + 2.0 * ((-(step as f64) / tau).exp() - (-30.0 / tau).exp())
}

/// A random-search study of 40 trials of 30 steps on `slow_best`: the trials, the steps run,
/// and how many pruned trials would have ended better than every trial completed before them.
fn slow_best_study(pruner: Box<dyn Pruner>) -> (hpo::StudyResult, usize, usize) {
    let steps = AtomicUsize::new(0);
    let objective = with_context(|p: &Params, ctx: &hpo::TrialContext| {
        let x = p.f64("x").unwrap_or(1.0);
        for step in 1..=30 {
            steps.fetch_add(1, Ordering::SeqCst);
            if ctx.report(step, slow_best(x, step)) {
                return TrialResult::pruned();
            }
        }
        TrialResult::ok(slow_best(x, 30))
    });
    let space = space();
    let r = Fmin::new(objective, &space)
        .algo(Random)
        .seed(3)
        .max_evals(40)
        .pruner_boxed(pruner)
        .run()
        .unwrap();
    let mut best_so_far = f64::INFINITY;
    let mut wrongly_pruned = 0;
    for t in &r.trials {
        let x = t.params.f64("x").unwrap();
        match t.state {
            TrialState::Ok => best_so_far = best_so_far.min(x),
            TrialState::Pruned if x < best_so_far => wrongly_pruned += 1,
            _ => {}
        }
    }
    (r, steps.load(Ordering::SeqCst), wrongly_pruned)
}

#[test]
fn the_extrapolating_pruner_keeps_slow_starters_that_end_best_and_the_median_does_not() {
    use hpo::study::prune::Extrapolate;
    let (r, steps, wrong) = slow_best_study(Box::new(Extrapolate::default()));
    let pruned = r
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Pruned)
        .count();
    assert_eq!(
        wrong, 0,
        "a trial that would have been the best so far was pruned"
    );
    assert!(pruned >= 20, "{pruned} of 40 pruned");
    assert!(steps <= 40 * 30 / 2, "{steps} steps of 1200");
    // the best of the 40 x's was kept
    let min_x = r
        .trials
        .iter()
        .map(|t| t.params.f64("x").unwrap())
        .fold(f64::INFINITY, f64::min);
    assert_eq!(r.best().unwrap().params.f64("x").unwrap(), min_x);
    // the median pruner compares values at the same step and stops such trials
    let (_, _, wrong) = slow_best_study(Box::new(Median::new()));
    assert!(wrong >= 1, "the median pruner kept every slow starter");
}

/// Exponential curves of 30 steps ending at `x`: every curve has the same shape, so a forecast
/// from a few steps is exact.
fn exponential(x: f64, step: i64) -> f64 {
    x + (-(step as f64) / 5.0).exp() - (-30.0 / 5.0f64).exp()
}

/// An objective reporting `curve(x, step)` for steps 1..=30 until it is pruned.
fn reporting(curve: impl Fn(f64, i64) -> f64 + Send + Sync) -> impl hpo::study::Objective {
    with_context(move |p: &Params, ctx: &hpo::TrialContext| {
        let x = p.f64("x").unwrap_or(1.0);
        for step in 1..=30 {
            if ctx.report(step, curve(x, step)) {
                return TrialResult::pruned();
            }
        }
        TrialResult::ok(curve(x, 30))
    })
}

#[test]
fn trusted_forecasts_of_stopped_trials_are_recorded_and_resumed() {
    use hpo::study::prune::Extrapolate;
    use hpo::tracking::{load_study, Recorder, Tracker};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hpo.db");
    let tracker = Tracker::open(&format!("sqlite:///{}", db.display())).unwrap();
    let recorder = Recorder::new(&tracker, "forecasts")
        .unwrap()
        .study_name("s");
    let handle = recorder.handle();
    let space = space();
    let r = Fmin::new(reporting(exponential), &space)
        .algo(Random)
        .seed(5)
        .max_evals(30)
        .pruner(Extrapolate::default())
        .observer(recorder)
        .run()
        .unwrap();
    assert!(handle.errors().is_empty(), "{:?}", handle.errors());
    let best = r.best().unwrap().loss.unwrap();
    let pruned: Vec<_> = r
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Pruned)
        .collect();
    assert!(pruned.len() >= 10, "{} of 30 pruned", pruned.len());
    for t in &pruned {
        // each stopped trial's forecast is its true final value, never better than the best
        let x = t.params.f64("x").unwrap();
        let f = t.metrics[hpo::trial::FORECAST];
        assert!(
            (f - x).abs() < 1e-3,
            "trial {}: forecast {f}, ends at {x}",
            t.number
        );
        assert!(
            f >= best,
            "trial {}: forecast {f} below the best {best}",
            t.number
        );
        let run = tracker
            .get_run(&handle.trial_run_id(t.number).unwrap())
            .unwrap();
        assert_eq!(run.data.metric(hpo::trial::FORECAST).unwrap().latest, f);
    }
    // completed trials carry none
    assert!(r
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Ok)
        .all(|t| !t.metrics.contains_key(hpo::trial::FORECAST)));
    // a resumed study's sampler sees them again
    let exp = tracker
        .get_experiment_by_name("forecasts")
        .unwrap()
        .unwrap();
    let resumed = load_study(&tracker, exp.experiment_id, "s", &space, "loss").unwrap();
    for t in &pruned {
        let back = resumed
            .trials
            .iter()
            .find(|b| b.number == t.number)
            .unwrap();
        assert_eq!(
            back.metrics.get(hpo::trial::FORECAST),
            t.metrics.get(hpo::trial::FORECAST)
        );
    }
}

#[test]
fn noisy_curves_give_no_plateau_forecasts_and_analog_ones_only_near_the_truth() {
    use hpo::study::prune::Extrapolate;
    // the noise is a sinusoid whose phase moves with x: the plateau model's forecasts of the
    // completed trials miss by far more than 1 % of the spread, but trials with close x share
    // their noise, so the analogies forecast each other within a tenth of it
    let noisy =
        |x: f64, step: i64| exponential(x, step) + 0.05 * (2.3 * step as f64 + 10.0 * x).sin();
    let space = space();
    let pruned_trials = |pruner: Extrapolate| {
        let r = Fmin::new(reporting(noisy), &space)
            .algo(Random)
            .seed(5)
            .max_evals(30)
            .pruner(pruner)
            .run()
            .unwrap();
        let pruned: Vec<hpo::Trial> = r
            .trials
            .into_iter()
            .filter(|t| t.state == TrialState::Pruned)
            .collect();
        assert!(pruned.len() >= 10, "{} of 30 pruned", pruned.len());
        pruned
    };
    let mut without = Extrapolate::default();
    without.analogies = false;
    assert!(pruned_trials(without)
        .iter()
        .all(|t| !t.metrics.contains_key(hpo::trial::FORECAST)));
    // with analogies, every stopped trial's forecast is within 0.05 of the value its curve
    // settles around (x; its last value is x give or take the noise's 0.05)
    for t in pruned_trials(Extrapolate::default()) {
        let x = t.params.f64("x").unwrap();
        let f = t.metrics[hpo::trial::FORECAST];
        assert!(
            (f - x).abs() < 0.05,
            "trial {}: forecast {f}, x {x}",
            t.number
        );
    }
}

#[test]
fn tpe_ranks_a_stopped_trial_by_its_trusted_forecast() {
    use hpo::Tpe;
    // pruned at step 1 with the worst value of all the pruned trials: ranked Optuna's way it
    // is bad; with a forecast of 0.1 it ranks among the finished trials, ahead of x = 1's 5.0
    let worst = || TrialResult::pruned_at(1, 3.0);
    for (name, tpe) in [("default", Tpe::default()), ("hyperopt", Tpe::hyperopt())] {
        let plain = share_near_seven(&tpe, worst());
        let forecast = share_near_seven(&tpe, worst().with_metric(hpo::trial::FORECAST, 0.1));
        assert!(forecast > 0.4, "{name}: {forecast} near the forecast trial");
        assert!(
            forecast > plain + 0.2,
            "{name}: {forecast} near it with its forecast, {plain} without"
        );
    }
}

/// An SGD-like curve of 81 steps: below 0.5 a fast learner, flat from step 4 and ending at
/// 0.2 to 0.3; from 0.5 a slow learner, which looks flat near 0.4 after 4 steps and still
/// falls to about 0.1 to 0.15 by step 81.
fn fast_or_slow(x: f64, step: i64) -> f64 {
    let t = step as f64;
    if x < 0.5 {
        0.2 + 0.2 * x + (-t).exp()
    } else {
        0.05 + 0.1 * (1.0 - x) + 0.6 * (-t / 1.5).exp() + 0.4 * (-t / 40.0).exp()
    }
}

/// A study of `algo` with `pruner` on [`fast_or_slow`]: 5 fast learners first, then 25 of the
/// algorithm's; returns the results and how many slow learners completed.
fn fast_or_slow_study(
    algo: impl hpo::Algorithm + 'static,
    pruner: Box<dyn Pruner>,
) -> (hpo::StudyResult, usize) {
    let objective = with_context(|p: &Params, ctx: &hpo::TrialContext| {
        let x = p.f64("x").unwrap_or(0.0);
        for step in 1..=81 {
            if ctx.report(step, fast_or_slow(x, step)) {
                return TrialResult::pruned();
            }
        }
        TrialResult::ok(fast_or_slow(x, 81))
    });
    let space = space();
    let fast = [0.05, 0.1, 0.15, 0.2, 0.25]
        .map(|x| std::collections::BTreeMap::from([("x".to_string(), hpo::Value::from(x))]));
    let r = Fmin::new(objective, &space)
        .algo(algo)
        .seed(5)
        .max_evals(30)
        .initial_points(fast)
        .pruner_boxed(pruner)
        .run()
        .unwrap();
    let slow_completed = r
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Ok && t.params.f64("x").unwrap() >= 0.5)
        .count();
    (r, slow_completed)
}

#[test]
fn with_random_search_the_default_pruner_keeps_slow_learners_the_plateau_model_would_stop() {
    use hpo::study::prune::Extrapolate;
    // random search learns nothing from stopped trials: the study turns the tangent check on
    let (r, slow) = fast_or_slow_study(Random, Box::new(Extrapolate::default()));
    assert!(slow >= 3, "{slow} slow learners completed");
    let best = r.best().unwrap().loss.unwrap();
    assert!(best < 0.16, "best {best}");
    // without it, every slow learner is stopped at the end of the warm-up
    let mut off = Extrapolate::default();
    off.tangent = Some(false);
    let (r, slow) = fast_or_slow_study(Random, Box::new(off));
    assert_eq!(slow, 0);
    let stopped_slow: Vec<i64> = r
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Pruned && t.params.f64("x").unwrap() >= 0.5)
        .filter_map(|t| t.last_step)
        .collect();
    assert!(stopped_slow.len() >= 3, "{stopped_slow:?}");
    assert!(stopped_slow.iter().all(|&s| s == 4), "{stopped_slow:?}");
    assert!(r.best().unwrap().loss.unwrap() >= 0.2);
    // TPE learns from stopped trials: the check stays off, as it does for the pruner above
    let (r, slow) = fast_or_slow_study(hpo::Tpe::default(), Box::new(Extrapolate::default()));
    assert_eq!(slow, 0);
    let slow_tried = r
        .trials
        .iter()
        .filter(|t| t.params.f64("x").unwrap() >= 0.5)
        .count();
    assert!(slow_tried >= 1, "TPE tried no slow learner");
}
