//! The pruner, the metric it watches and every trial's curve, shared by the study's driver and
//! its trial threads.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use super::{CurveFeed, CurveState, Curves, NoPruner, Pruner};

/// What [`PruneShared::report`] decided.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision {
    /// Stop the trial now.
    pub prune: bool,
    /// Rungs of successive halving the trial has reached so far.
    pub rungs: usize,
    /// The threshold the pruner compared the trial with at this report (see
    /// [`TrialCurve::thresholds`](super::TrialCurve::thresholds)), if it recorded one.
    pub threshold: Option<f64>,
}

/// A study's pruner, its watched metric and the curves (behind a mutex).
pub struct PruneShared {
    pruner: Box<dyn Pruner>,
    metric: String,
    curves: Mutex<Curves>,
    /// Where the curves of trials running on other workers come from, and how often to ask.
    feed: OnceLock<(Arc<dyn CurveFeed>, Duration)>,
    /// When the feed was last asked.
    fed: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for PruneShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PruneShared")
            .field("pruner", &self.pruner)
            .field("metric", &self.metric)
            .field("fed_from_elsewhere", &self.feed.get().is_some())
            .finish()
    }
}

impl PruneShared {
    /// `pruner` watching `metric`.
    pub fn new(pruner: Box<dyn Pruner>, metric: impl Into<String>) -> Self {
        PruneShared {
            pruner,
            metric: metric.into(),
            curves: Mutex::new(Curves::new()),
            feed: OnceLock::new(),
            fed: Mutex::new(None),
        }
    }

    /// Reads the curves of trials running on other workers from `feed` before a decision, at
    /// most once per `every` (a report in between decides on the last read). Set once; a
    /// second call is ignored.
    pub fn set_feed(&self, feed: Arc<dyn CurveFeed>, every: Duration) {
        let _ = self.feed.set((feed, every));
    }

    /// No pruner, watching `loss`.
    pub fn none() -> Self {
        PruneShared::new(Box::new(NoPruner), "loss")
    }

    /// The metric the pruner watches.
    pub fn metric(&self) -> &str {
        &self.metric
    }

    /// The pruner.
    pub fn pruner(&self) -> &dyn Pruner {
        self.pruner.as_ref()
    }

    fn lock(&self) -> MutexGuard<'_, Curves> {
        // a panic while holding the lock leaves the curves consistent (each change is one
        // insert), so a poisoned lock is still usable
        self.curves.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Add the curves of earlier trials (a resumed study's), keyed by their numbers.
    pub fn add_prior(&self, prior: &Curves) {
        let mut curves = self.lock();
        for (n, c) in prior.iter() {
            curves.insert(n, c.clone());
        }
    }

    /// Add (or grow) the curves of trials running on other workers. A trial already known in
    /// another state keeps it: its end, read by the study's sync, may be newer than this
    /// snapshot.
    pub fn add_running_elsewhere(&self, running: &Curves) {
        let mut curves = self.lock();
        for (n, c) in running.iter() {
            let stale = curves
                .get(n)
                .is_some_and(|old| old.state != CurveState::RunningElsewhere);
            if !stale {
                let mut c = c.clone();
                c.state = CurveState::RunningElsewhere;
                curves.insert(n, c);
            }
        }
    }

    /// Asks the feed, if one is set and its interval has passed (one trial thread asks; the
    /// others decide on what was read last).
    fn refresh_from_feed(&self) {
        let Some((feed, every)) = self.feed.get() else {
            return;
        };
        let Ok(mut fed) = self.fed.try_lock() else {
            return;
        };
        if fed.is_some_and(|t| t.elapsed() < *every) {
            return;
        }
        let running = feed.running_elsewhere();
        *fed = Some(Instant::now());
        self.add_running_elsewhere(&running);
    }

    /// Trial `n` started.
    pub fn start(&self, n: usize) {
        self.lock().start(n);
    }

    /// Trial `n` reported `value` at `step`: record it (a repeated step is ignored) and ask the
    /// pruner (after reading the other workers' running curves, when a feed is set and due).
    pub fn report(&self, n: usize, step: i64, value: f64) -> Decision {
        self.refresh_from_feed();
        let mut curves = self.lock();
        curves.report(n, step, value);
        let before = curves.get(n).map(|c| c.thresholds.clone());
        let prune = self.pruner.prune(&mut curves, n);
        let after = curves.get(n);
        // the threshold recorded (or changed) by this decision
        let threshold = after.and_then(|c| {
            c.thresholds
                .iter()
                .rev()
                .find(|(s, v)| before.as_ref().and_then(|b| b.get(s)) != Some(v))
                .map(|(_, v)| *v)
        });
        Decision {
            prune,
            rungs: after.map_or(0, |c| c.rungs.len()),
            threshold,
        }
    }

    /// Trial `n` finished in `state`; returns its last step and the value there.
    pub fn finish(&self, n: usize, state: CurveState) -> Option<(i64, f64)> {
        let mut curves = self.lock();
        curves.finish(n, state);
        curves.get(n).and_then(|c| c.last())
    }

    /// The pruner's trusted forecast of trial `n`'s final value, for a trial it stopped (see
    /// [`Pruner::forecast`]).
    pub fn forecast(&self, n: usize) -> Option<f64> {
        let curves = self.lock();
        self.pruner.forecast(&curves, n)
    }

    /// A copy of the curves.
    pub fn curves(&self) -> Curves {
        self.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::super::Median;
    use super::*;

    #[test]
    fn a_decision_carries_the_threshold_recorded_by_this_report() {
        let shared = PruneShared::new(Box::new(Median::new()), "val");
        for (n, v) in [(0, 1.0), (1, 2.0), (2, 3.0), (3, 4.0), (4, 5.0)] {
            shared.start(n);
            assert_eq!(shared.report(n, 1, v).threshold, None, "start-up trials");
            shared.finish(n, CurveState::Complete);
        }
        shared.start(5);
        let d = shared.report(5, 1, 3.5);
        // median of 1..5 at step 1 is 3; 3.5 is above it
        assert_eq!((d.prune, d.threshold), (true, Some(3.0)));
        // step 2: nobody completed it, so no decision and no threshold
        assert_eq!(shared.report(5, 2, 0.1).threshold, None);
    }

    /// A feed that hands out what it was given and counts the reads.
    struct Fixed(Curves, std::sync::atomic::AtomicUsize);

    impl CurveFeed for Fixed {
        fn running_elsewhere(&self) -> Curves {
            self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.0.clone()
        }
    }

    #[test]
    fn curves_running_elsewhere_are_read_at_most_once_per_interval_and_never_undo_an_end() {
        use super::super::{SuccessiveHalving, TrialCurve};
        let asha = SuccessiveHalving::new(Some(1), 2, 0, 0).unwrap();
        let shared = PruneShared::new(Box::new(asha), "val");
        let mut elsewhere = Curves::new();
        for (n, v) in [(0, 0.1), (1, 0.2)] {
            let mut c = TrialCurve::new();
            c.values.insert(1, v);
            elsewhere.insert(n, c);
        }
        // trial 1 ended (pruned at 0.2) as far as the study's sync knows: the feed's older
        // snapshot of it running does not bring it back
        let mut ended = TrialCurve::new();
        ended.state = CurveState::Pruned;
        ended.values.insert(1, 0.2);
        let mut prior = Curves::new();
        prior.insert(1, ended);
        shared.add_prior(&prior);
        let feed = Arc::new(Fixed(elsewhere, Default::default()));
        shared.set_feed(feed.clone(), Duration::from_secs(3600));
        shared.start(2);
        // rung 0 holds [0.1, 0.2, 0.15]: one goes on (0.1); 0.15 stops
        assert!(shared.report(2, 1, 0.15).prune);
        let curves = shared.curves();
        assert_eq!(curves.get(0).unwrap().state, CurveState::RunningElsewhere);
        assert_eq!(curves.get(1).unwrap().state, CurveState::Pruned);
        shared.start(3);
        shared.report(3, 1, 0.05);
        assert_eq!(
            feed.1.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "one read per interval"
        );
    }
}
