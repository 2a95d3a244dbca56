//! Times pruning decisions, without criterion: how long one `Pruner::prune` call takes for a
//! trial with `steps` reported values among 30 completed trials of `steps` values each (a fourth
//! argument sets how many).
//!
//! `cargo run --release --example prune_decision_time -- 81 2000` prints, for the extrapolating
//! and the percentile pruner, the median and the 90th percentile of 2000 decisions (the first
//! decision, which fits the completed trials' curves once, is timed apart). It then times
//! `Pruner::forecast` for a trial the extrapolating pruner stops, which checks the forecasts
//! from that step on every completed trial: the first call fits each completed curve's values
//! up to that step; later calls at the same step (other trials stopped there) reuse them. Before
//! that, it times the decision that stops that trial: its forecast is checked against the
//! completed trials' forecasts from the same step (fitted once per step, like the forecast's
//! check), and the first decision one step further. A third argument sets the curves' wiggle
//! (default 0.001); at 0 every forecast is exact, so every completed trial is checked (the
//! slowest case) and the forecast is trusted. Last, it times decisions the analogies take
//! part in, on 30 completed curves that fall and then rise, and again after one more trial
//! completed. Then it times the decision on a slow learner (a fast first descent with a slow
//! one under it, a tenth of the way) with the tangent check off (as TPE has it) and on (as
//! random search has it): on, the check keeps it and, the first time at a step, reads how far
//! each completed curve's line reached from that step.

use std::time::Instant;

use hpo::study::prune::{CurveState, Curves, Extrapolate, Percentile, Pruner};

fn arg(i: usize, default: usize) -> usize {
    std::env::args()
        .nth(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// A falling curve with a deterministic wiggle of amplitude `w`, ending at `a`.
fn value(a: f64, tau: f64, t: i64, steps: i64, w: f64) -> f64 {
    let t = t as f64;
    a + (-t / tau).exp() - (-(steps as f64) / tau).exp() + w * (t * 0.7).sin()
}

fn main() {
    let steps = arg(1, 81) as i64;
    let reps = arg(2, 2000).max(1);
    let wiggle: f64 = std::env::args()
        .nth(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.001);
    let count = arg(4, 30);
    let mut curves = falling(steps, count, wiggle);
    // the decided trial: half-way, still above the threshold's reach
    for t in 1..=steps / 2 {
        curves.report(count, t, value(0.05, steps as f64 / 3.0, t, steps, wiggle));
    }
    let pruners: Vec<Box<dyn Pruner>> = vec![
        Box::new(Extrapolate::default()),
        Box::new(Percentile::new(10.0).expect("a valid percentile")),
    ];
    for p in pruners {
        print_decisions(
            p.name(),
            steps,
            &timed(reps, || p.prune(&mut curves, count)),
        );
    }
    // a trial plateauing above the completed ones: stopped, and its forecast checked
    for t in 1..=steps / 2 {
        curves.report(
            count + 1,
            t,
            value(0.5, steps as f64 / 8.0, t, steps, wiggle),
        );
    }
    let p = Extrapolate::default();
    let t = timed(reps, || p.prune(&mut curves, count + 1));
    let stopped = t.first;
    print_decisions("stopped", steps, &t);
    // the same trial one step further: the first decision at the next step
    curves.report(
        count + 1,
        steps / 2 + 1,
        value(0.5, steps as f64 / 8.0, steps / 2 + 1, steps, wiggle),
    );
    print_decisions(
        "next step",
        steps,
        &timed(reps, || p.prune(&mut curves, count + 1)),
    );
    let t = timed(reps, || p.forecast(&curves, count + 1));
    println!(
        "forecast     steps {steps:>6}: stopped {stopped}, trusted {:?}: first {:>9.1} us, then median {:>9.1} us, p90 {:>9.1} us",
        t.first, t.first_us, t.median_us, t.p90_us,
    );
    analogies(steps, reps, count);
    tangent(steps, reps, count, wiggle);
}

/// Decisions on a slow learner a tenth of the way, among `count` completed curves like
/// `main`'s, with the tangent check off and on.
fn tangent(steps: i64, reps: usize, count: usize, wiggle: f64) {
    let span = steps as f64;
    let mut curves = falling(steps, count, wiggle);
    let slow = |t: i64| {
        let t = t as f64;
        0.05 + 0.6 * (-t / (span / 50.0)).exp() + 0.4 * (-t / (span / 2.0)).exp()
    };
    for t in 1..=(steps / 10).max(4) {
        curves.report(count, t, slow(t));
    }
    for on in [false, true] {
        let mut p = Extrapolate::default();
        p.tangent = Some(on);
        let label = if on { "tangent on" } else { "tangent off" };
        print_decisions(label, steps, &timed(reps, || p.prune(&mut curves, count)));
    }
}

/// A loss falling to `a - dip` and rising back to `a` at the last step.
fn fall_then_rise(a: f64, tau: f64, dip: f64, t: i64, steps: i64) -> f64 {
    let s = t as f64 / steps as f64;
    let t = t as f64;
    a + (-t / tau).exp() - (-(steps as f64) / tau).exp() - dip * (1.0 - s * s)
}

/// Decisions the analogies take part in: `count` completed curves that fall and then rise, and a
/// trial a quarter of the way, still falling, that ends well above them (the plateau model
/// keeps it, the analogies stop it). The first decision calibrates at that step (each
/// completed curve against the others); the later ones at that step reuse it.
fn analogies(steps: i64, reps: usize, count: usize) {
    let tau = steps as f64 / 12.0;
    let mut curves = completed(steps, count, |n, t| {
        let (a, dip) = (
            0.1 + 0.3 * n as f64 / count as f64,
            0.38 + 0.01 * (n % 5) as f64,
        );
        fall_then_rise(a, tau, dip, t, steps)
    });
    for t in 1..=steps / 4 {
        curves.report(count, t, fall_then_rise(0.35, tau, 0.4, t, steps));
    }
    let p = Extrapolate::default();
    print_decisions(
        "analogies",
        steps,
        &timed(reps, || p.prune(&mut curves, count)),
    );
    // one more trial completes: the next decision at that step meets a new set of completed
    // trials (recalibrated at up to 100 of them, reused above until they grew by a tenth)
    for t in 1..=steps {
        curves.report(count + 1, t, fall_then_rise(0.2, tau, 0.4, t, steps));
    }
    curves.finish(count + 1, CurveState::Complete);
    print_decisions(
        "one more",
        steps,
        &timed(reps, || p.prune(&mut curves, count)),
    );
}

/// `count` completed falling curves ending at 0.1, 0.11, ..., the later ones slower.
fn falling(steps: i64, count: usize, wiggle: f64) -> Curves {
    completed(steps, count, |n, t| {
        let (a, tau) = (0.1 + 0.01 * n as f64, steps as f64 / (4.0 + n as f64 / 5.0));
        value(a, tau, t, steps, wiggle)
    })
}

/// `count` completed trials of `steps` steps, trial `n`'s value at step `t` being `value(n, t)`.
fn completed(steps: i64, count: usize, value: impl Fn(usize, i64) -> f64) -> Curves {
    let mut curves = Curves::new();
    for n in 0..count {
        for t in 1..=steps {
            curves.report(n, t, value(n, t));
        }
        curves.finish(n, CurveState::Complete);
    }
    curves
}

/// One line of decision timings.
fn print_decisions(label: &str, steps: i64, t: &Timing<bool>) {
    println!(
        "{label:<12} steps {steps:>6}: first decision {:>10.1} us (prune: {}), then median {:>9.1} us, p90 {:>9.1} us",
        t.first_us, t.first, t.median_us, t.p90_us,
    );
}

/// A call's first result and time, then the median and 90th percentile of `reps` more.
struct Timing<T> {
    first: T,
    first_us: f64,
    median_us: f64,
    p90_us: f64,
}

fn timed<T>(reps: usize, mut call: impl FnMut() -> T) -> Timing<T> {
    let start = Instant::now();
    let first = call();
    let first_us = start.elapsed().as_secs_f64() * 1e6;
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(call());
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    Timing {
        first,
        first_us,
        median_us: times[times.len() / 2],
        p90_us: times[times.len() * 9 / 10],
    }
}
