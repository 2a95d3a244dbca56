//! Progress of a study on standard error: a bar on a terminal, plain lines otherwise.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use crate::study::{Control, Observer, StopReason, StudyInfo};
use crate::trial::{Trial, TrialState};

/// Shows trials done, failures, best loss and ETA.
pub(crate) struct Progress {
    total: usize,
    done: usize,
    failed: usize,
    best: f64,
    start: Instant,
    tty: bool,
    quiet: bool,
    metric: String,
}

impl Progress {
    pub(crate) fn new(metric: &str, quiet: bool) -> Self {
        Progress {
            total: 0,
            done: 0,
            failed: 0,
            best: f64::INFINITY,
            start: Instant::now(),
            tty: std::io::stderr().is_terminal(),
            quiet,
            metric: metric.to_string(),
        }
    }

    fn eta(&self, new: usize, remaining: usize) -> String {
        if new == 0 {
            return "--:--".into();
        }
        let per = self.start.elapsed().as_secs_f64() / new as f64;
        let s = (per * remaining as f64) as u64;
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

impl Observer for Progress {
    fn on_study_start(&mut self, info: &StudyInfo<'_>) {
        self.total = info.max_evals;
        self.done = info.prior_trials;
        self.start = Instant::now();
    }

    fn on_trial_end(&mut self, trial: &Trial, trials: &[Trial]) -> Control {
        self.done += 1;
        if matches!(trial.state, TrialState::Failed | TrialState::Killed) {
            self.failed += 1;
        }
        if let Some(l) = trial.ok_loss() {
            self.best = self.best.min(l);
        }
        if self.quiet {
            return Control::Continue;
        }
        let prior = trials.len().saturating_sub(self.done).min(self.done);
        let new = self.done.saturating_sub(prior);
        let remaining = self.total.saturating_sub(self.done);
        let best = if self.best.is_finite() {
            format!("{:.6}", self.best)
        } else {
            "-".into()
        };
        let mut err = std::io::stderr();
        if self.tty {
            let width = 24;
            let filled = (self.done * width / self.total.max(1)).min(width);
            let _ = write!(
                err,
                "\r[{}{}] {}/{} trials, {} failed, best {} {}, ETA {}   ",
                "#".repeat(filled),
                "-".repeat(width - filled),
                self.done,
                self.total,
                self.failed,
                self.metric,
                best,
                self.eta(new, remaining)
            );
        } else {
            // plain lines: improvements, failures, every tenth of the budget and the last trial
            let improved = trial.ok_loss().is_some_and(|l| l <= self.best);
            let step = (self.total / 10).max(1);
            if !(improved
                || trial.state != TrialState::Ok
                || self.done.is_multiple_of(step)
                || remaining == 0)
            {
                return Control::Continue;
            }
            let loss = trial
                .loss
                .map(|l| format!("{l:.6}"))
                .unwrap_or_else(|| "-".into());
            let _ = writeln!(
                err,
                "trial {}/{} {} {}={} best={}",
                self.done, self.total, trial.state, self.metric, loss, best
            );
        }
        Control::Continue
    }

    fn on_study_end(&mut self, _trials: &[Trial], _reason: &StopReason) {
        if self.tty && !self.quiet {
            eprintln!();
        }
    }
}
