//! The driver: fmin and its builder, parallel trials, failures, stopping rules, initial points,
//! prior trials, observers and ask/tell.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hpo::study::{Control, StopReason, StudyInfo, TrialReport};
use hpo::{
    fmin, hp, with_context, Anneal, Fmin, Observer, ParamError, Params, Random, Space, Study,
    StudyError, Tpe, Trial, TrialResult, TrialState, Value,
};

fn quad_space() -> Space {
    Space::new(hp::map([
        ("x", hp::uniform("x", -5.0, 5.0)),
        ("y", hp::loguniform("y", -5.0, 2.0)),
        ("k", hp::uniformint("k", 0, 10)),
        ("c", hp::choice("c", ["a", "b", "c"])),
    ]))
    .unwrap()
}

fn quad(p: &Params) -> Result<f64, ParamError> {
    let c = match p.str("c")?.as_str() {
        "a" => 0.0,
        "b" => 0.5,
        _ => 1.0,
    };
    Ok((p.f64("x")? - 1.0).powi(2) + p.f64("y")?.ln().powi(2) + (p.i64("k")? - 3) as f64 * 0.1 + c)
}

#[test]
fn fmin_returns_the_best_trial_with_typed_params() {
    let space = quad_space();
    let best = fmin(quad, &space, Tpe, 80).unwrap();
    assert!(best.loss.unwrap() < 1.5, "best loss {:?}", best.loss);
    assert!(matches!(best.params.get("k"), Some(Value::Int(_))));
    assert!(matches!(best.params.get("c"), Some(Value::Str(_))));
    assert_eq!(best.state, TrialState::Ok);
    // the shorthand works with any algorithm, the space by value or by reference
    assert!(fmin(quad, space.clone(), Random, 20).is_ok());
    assert!(fmin(quad, &space, Anneal::default(), 20).is_ok());
    assert!(fmin(quad, &space, Tpe::hyperopt(), 30).is_ok());
}

fn run(parallelism: usize, seed: u64, algo: Tpe) -> Vec<Vec<u64>> {
    let space = quad_space();
    let r = Fmin::new(
        |p: &Params| {
            // uneven durations shuffle the order in which results come back
            let x = p.f64("x").unwrap_or(0.0);
            std::thread::sleep(Duration::from_micros(((x + 5.0) * 300.0) as u64));
            quad(p)
        },
        &space,
    )
    .algo(algo)
    .max_evals(40)
    .seed(seed)
    .parallelism(parallelism)
    .run()
    .unwrap();
    assert_eq!(r.trials.len(), 40);
    r.trials
        .iter()
        .map(|t| {
            t.params
                .assignment()
                .values()
                .iter()
                .map(|v| v.to_bits())
                .collect()
        })
        .collect()
}

#[test]
fn a_seed_fixes_the_trials_at_parallelism_1_and_4() {
    for p in [1, 4] {
        let a = run(p, 7, Tpe::default());
        let b = run(p, 7, Tpe::default());
        assert_eq!(a, b, "parallelism {p}: two runs with the same seed differ");
        let c = run(p, 8, Tpe::default());
        assert_ne!(
            a, c,
            "parallelism {p}: different seeds gave the same trials"
        );
    }
    assert_eq!(run(4, 3, Tpe::hyperopt()), run(4, 3, Tpe::hyperopt()));
}

#[test]
fn failing_objectives_make_failed_trials_and_the_study_goes_on() {
    let space = Space::from_params([hp::uniform("x", 0.0, 1.0)]).unwrap();
    let calls = AtomicUsize::new(0);
    let r = Fmin::new(
        |p: &Params| -> Result<f64, String> {
            let i = calls.fetch_add(1, Ordering::SeqCst);
            match i % 5 {
                0 => panic!("boom {i}"),
                1 => Ok(f64::NAN),
                2 => Err(format!("bad input {i}")),
                3 => Ok(f64::INFINITY),
                _ => Ok(p.f64("x").map_err(|e| e.to_string())?),
            }
        },
        &space,
    )
    .max_evals(25)
    .seed(1)
    .parallelism(2)
    .run()
    .unwrap();
    assert_eq!(r.trials.len(), 25);
    let failed: Vec<&Trial> = r
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Failed)
        .collect();
    let ok: Vec<&Trial> = r
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Ok)
        .collect();
    assert_eq!(failed.len(), 20);
    assert_eq!(ok.len(), 5);
    let messages: BTreeSet<String> = failed
        .iter()
        .map(|t| {
            let m = t.message.clone().unwrap();
            m.split(' ').take(2).collect::<Vec<_>>().join(" ")
        })
        .collect();
    assert!(messages.contains("objective panicked:"), "{messages:?}");
    assert!(messages.contains("loss is"), "{messages:?}");
    assert!(messages.contains("bad input"), "{messages:?}");
    assert!(r
        .trials
        .iter()
        .all(|t| t.ended.is_some() && t.duration().is_some()));
    assert_eq!(r.best().unwrap().state, TrialState::Ok);
}

#[test]
fn failed_trials_never_count_as_good() {
    // the objective fails (NaN) for x < 0.4 and is (x - 0.7)^2 otherwise: suggestions must
    // not keep returning to the failing region, exploration trials included
    let space = Space::from_params([hp::uniform("x", 0.0, 1.0)]).unwrap();
    let mut late_failures = Vec::new();
    for seed in 0..10 {
        let r = Fmin::new(
            |p: &Params| {
                let x = p.f64("x").unwrap_or(0.0);
                if x < 0.4 {
                    f64::NAN
                } else {
                    (x - 0.7).powi(2)
                }
            },
            &space,
        )
        .max_evals(80)
        .seed(seed)
        .run()
        .unwrap();
        late_failures.push(
            r.trials[40..]
                .iter()
                .filter(|t| t.state == TrialState::Failed)
                .count(),
        );
        assert!(r.best().unwrap().loss.unwrap() < 0.001, "seed {seed}");
    }
    // a prior draw fails 40 % of the time: 160 of 400. Measured: 28 (37 before exploration
    // trials weighed failed trials apart, with exploration every fifth suggestion; 105 with it
    // every second and failed trials weighing as much as finished ones)
    let total: usize = late_failures.iter().sum();
    assert!(
        total <= 32,
        "{total} of the last 40 trials of 10 studies failed: {late_failures:?}"
    );
}

#[test]
fn all_failed_is_an_error_naming_the_last_failure() {
    let space = Space::from_params([hp::uniform("x", 0.0, 1.0)]).unwrap();
    let e = fmin(|_: &Params| Err::<f64, _>("cannot train"), &space, Tpe, 5).unwrap_err();
    assert_eq!(
        e,
        StudyError::AllTrialsFailed {
            trials: 5,
            last_error: Some("cannot train".into())
        }
    );
    assert!(e.to_string().contains("cannot train"));
}

#[test]
fn stopping_rules() {
    let space = Space::from_params([hp::uniform("x", -1.0, 1.0)]).unwrap();
    let r = Fmin::new(|p: &Params| p.f64("x").map(|x| x * x), &space)
        .max_evals(500)
        .loss_threshold(0.01)
        .seed(2)
        .run()
        .unwrap();
    assert!(r.trials.len() < 500);
    assert!(r.best().unwrap().loss.unwrap() < 0.01);
    assert!(matches!(r.stop_reason, StopReason::Stopped(ref s) if s.contains("threshold")));

    let r = Fmin::new(|_: &Params| 1.0, &space)
        .max_evals(500)
        .no_progress(15)
        .seed(2)
        .run()
        .unwrap();
    assert_eq!(
        r.trials.len(),
        16,
        "the first trial sets the best, then 15 without progress"
    );

    let r = Fmin::new(
        |_: &Params| {
            std::thread::sleep(Duration::from_millis(20));
            1.0
        },
        &space,
    )
    .max_evals(10_000)
    .timeout(Duration::from_millis(150))
    .parallelism(2)
    .run()
    .unwrap();
    assert_eq!(r.stop_reason, StopReason::Timeout);
    assert!(r.trials.len() < 40, "{} trials", r.trials.len());
    assert!(r.trials.iter().all(|t| t.state.is_finished()));
}

#[test]
fn initial_points_come_first_and_count_towards_max_evals() {
    let space = quad_space();
    let point = BTreeMap::from([
        ("x".to_string(), Value::Float(1.0)),
        ("y".to_string(), Value::Float(1.0)),
        ("k".to_string(), Value::Int(3)),
        ("c".to_string(), Value::from("a")),
    ]);
    let r = Fmin::new(quad, &space)
        .initial_points([point.clone()])
        .max_evals(5)
        .seed(1)
        .run()
        .unwrap();
    assert_eq!(r.trials.len(), 5);
    assert_eq!(r.trials[0].params.to_map(), point);
    assert_eq!(r.trials[0].loss, Some(0.0));
    let mut bad = point;
    bad.insert("c".into(), Value::from("zzz"));
    let e = Fmin::new(quad, &space)
        .initial_points([bad])
        .run()
        .unwrap_err();
    assert!(
        e.to_string().contains("'c'") && e.to_string().contains("one of [a, b, c]"),
        "{e}"
    );
}

#[test]
fn prior_trials_warm_start_and_resume() {
    let space = quad_space();
    let first = Fmin::new(quad, &space).max_evals(15).seed(4).run().unwrap();
    let resumed = Fmin::new(quad, &space)
        .prior_trials(first.trials.clone())
        .max_evals(30)
        .seed(4)
        .run()
        .unwrap();
    assert_eq!(
        resumed.trials.len(),
        30,
        "max_evals counts the prior trials"
    );
    for (a, b) in first.trials.iter().zip(&resumed.trials) {
        assert_eq!(a.params.to_map(), b.params.to_map());
        assert_eq!(a.loss, b.loss);
    }
    assert!(resumed.best().unwrap().loss <= first.best().unwrap().loss);
}

#[derive(Default)]
struct Log {
    events: Vec<String>,
}

struct Recorder(Arc<Mutex<Log>>);

impl Observer for Recorder {
    fn on_study_start(&mut self, info: &StudyInfo<'_>) {
        self.0
            .lock()
            .unwrap()
            .events
            .push(format!("start {} {}", info.algorithm, info.seed));
    }
    fn on_trial_start(&mut self, t: &Trial) {
        self.0
            .lock()
            .unwrap()
            .events
            .push(format!("trial {} {}", t.number, t.state));
    }
    fn on_trial_report(&mut self, t: &Trial, r: &TrialReport) {
        if let TrialReport::Metric { key, step, .. } = r {
            self.0
                .lock()
                .unwrap()
                .events
                .push(format!("report {} {key} {step}", t.number));
        }
    }
    fn on_trial_end(&mut self, t: &Trial, all: &[Trial]) -> Control {
        self.0
            .lock()
            .unwrap()
            .events
            .push(format!("end {} {} {}", t.number, t.state, all.len()));
        if t.number == 3 {
            Control::Stop("enough".into())
        } else {
            Control::Continue
        }
    }
    fn on_study_end(&mut self, trials: &[Trial], reason: &StopReason) {
        self.0
            .lock()
            .unwrap()
            .events
            .push(format!("study end {} {reason}", trials.len()));
    }
}

#[test]
fn observers_see_every_event_in_order_and_can_stop() {
    let space = Space::from_params([hp::uniform("x", 0.0, 1.0)]).unwrap();
    let log = Arc::new(Mutex::new(Log::default()));
    let r = Fmin::new(
        with_context(|p: &Params, ctx: &hpo::TrialContext| {
            for epoch in 0..2 {
                ctx.log_metric("val_loss", 1.0 / (epoch + 1) as f64, epoch);
            }
            p.f64("x")
        }),
        &space,
    )
    .algo(Random)
    .max_evals(10)
    .seed(9)
    .observer(Recorder(log.clone()))
    .run()
    .unwrap();
    assert_eq!(r.trials.len(), 4);
    let events = log.lock().unwrap().events.clone();
    assert_eq!(events[0], "start random 9");
    assert_eq!(
        &events[1..6],
        &[
            "trial 0 running",
            "report 0 val_loss 0",
            "report 0 val_loss 1",
            "end 0 ok 1",
            "trial 1 running"
        ]
    );
    assert_eq!(events.last().unwrap(), "study end 4 enough");
}

#[test]
fn ask_and_tell() {
    let space = quad_space();
    let mut study = Study::new(&space, Tpe::default(), 11);
    for _ in 0..30 {
        let t = study.ask();
        let loss = quad(&t.params);
        study.tell(t.number, loss).unwrap();
    }
    let pending = study.ask();
    assert_eq!(study.trials()[pending.number].state, TrialState::Running);
    assert!(matches!(
        study.tell(999, 1.0),
        Err(StudyError::UnknownTrial(999))
    ));
    study
        .tell(pending.number, TrialResult::ok(0.5).with_metric("acc", 0.9))
        .unwrap();
    assert!(matches!(
        study.tell(pending.number, 1.0),
        Err(StudyError::AlreadyFinished(..))
    ));
    assert_eq!(study.trials()[pending.number].metrics["acc"], 0.9);
    assert_eq!(study.trials().len(), 31);
    assert!(study.best().unwrap().loss.unwrap() <= 0.5);
}

#[test]
fn discrete_spaces_are_not_re_proposed() {
    // 3 x 4 = 12 points: 12 trials cover them all once
    let space =
        Space::from_params([hp::choice("a", [1, 2, 3]), hp::uniformint("b", 0, 3)]).unwrap();
    for parallelism in [1, 3] {
        let r = Fmin::new(
            |p: &Params| -> Result<f64, ParamError> { Ok((p.i64("a")? * 10 + p.i64("b")?) as f64) },
            &space,
        )
        .max_evals(12)
        .parallelism(parallelism)
        .seed(3)
        .run()
        .unwrap();
        let distinct: BTreeSet<String> = r
            .trials
            .iter()
            .map(|t| format!("{:?}", t.params.to_map()))
            .collect();
        assert_eq!(
            distinct.len(),
            12,
            "parallelism {parallelism}: duplicates proposed"
        );
    }
}

#[test]
fn bad_settings_are_errors() {
    let space = quad_space();
    assert!(matches!(
        Fmin::new(quad, &space).parallelism(0).run(),
        Err(StudyError::ZeroParallelism)
    ));
    // more parallelism than trials runs exactly max_evals
    let r = Fmin::new(quad, &space)
        .parallelism(8)
        .max_evals(3)
        .seed(1)
        .run()
        .unwrap();
    assert_eq!(r.trials.len(), 3);
}

#[test]
fn prior_trials_keep_their_numbers_across_a_gap() {
    let space = quad_space();
    let first = Fmin::new(quad, &space).max_evals(8).seed(2).run().unwrap();
    // trial 3 was deleted from the record: 7 prior trials, numbered 0-2 and 4-7
    let priors: Vec<Trial> = first
        .trials
        .iter()
        .filter(|t| t.number != 3)
        .cloned()
        .collect();
    for algo in ["tpe", "anneal", "random"] {
        let resumed = Fmin::new(quad, &space)
            .algo_boxed(hpo::algo::by_name(algo).unwrap())
            .prior_trials(priors.clone())
            .max_evals(12)
            .seed(2)
            .parallelism(2)
            .run()
            .unwrap();
        let numbers: Vec<usize> = resumed.trials.iter().map(|t| t.number).collect();
        assert_eq!(
            numbers,
            vec![0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12],
            "{algo}"
        );
        assert!(resumed.trials.iter().all(|t| t.state.is_finished()));
        for (a, b) in priors.iter().zip(&resumed.trials) {
            assert_eq!(a.params.to_map(), b.params.to_map());
        }
    }

    // ask/tell by number after a gap
    let mut study = Study::new(&space, Random, 5);
    study.add_prior_trial(&priors[0]).unwrap();
    study.add_prior_trial(&priors[3]).unwrap(); // number 4
    assert!(matches!(
        study.add_prior_trial(&priors[1]),
        Err(StudyError::PriorTrialOrder { number: 1, last: 4 })
    ));
    let asked = study.ask();
    assert_eq!(asked.number, 5);
    assert!(study.trial(3).is_none());
    assert_eq!(study.tell(5, 0.25).unwrap().number, 5);
    assert_eq!(study.trial(5).unwrap().loss, Some(0.25));
    assert!(matches!(
        study.tell(3, 1.0),
        Err(StudyError::UnknownTrial(3))
    ));
    // a trial of another study takes the next number
    assert_eq!(study.add_warm_start_trial(&priors[0]).unwrap(), 6);
}
