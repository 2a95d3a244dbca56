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
    killed: usize,
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
            killed: 0,
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
        match trial.state {
            TrialState::Failed => self.failed += 1,
            TrialState::Killed => self.killed += 1,
            _ => {}
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
        let failures = if self.killed > 0 {
            format!("{} failed, {} killed", self.failed, self.killed)
        } else {
            format!("{} failed", self.failed)
        };
        if self.tty {
            let text = format!(
                "{}/{} trials done, {failures}, best {} {}, ETA {}",
                self.done,
                self.total,
                self.metric,
                best,
                self.eta(new, remaining)
            );
            let line = bar_line(terminal_width(), self.done, self.total, &text);
            // back to the line's start, the line, and clear what a longer one left
            let _ = write!(err, "\r{line}\x1b[K");
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
            // #N is the trial's number (0-based, as in the store); the count is how many are done
            let _ = writeln!(
                err,
                "trial #{} {} {}={} best={} ({}/{} done, {failures})",
                trial.number, trial.state, self.metric, loss, best, self.done, self.total
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

/// The terminal's width in columns: standard error's window size, else `COLUMNS`, else 80.
fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ fills a winsize struct; a zeroed one is a valid value to pass.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
    if ok && ws.ws_col > 0 {
        return ws.ws_col as usize;
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|&c: &usize| c > 0)
        .unwrap_or(80)
}

/// One progress line that fits in `width` columns (one column is left free so the cursor never
/// wraps): a bar of up to 24 cells when there is room, then `text`, cut to fit.
fn bar_line(width: usize, done: usize, total: usize, text: &str) -> String {
    let room = width.saturating_sub(1);
    let text_len = text.chars().count();
    // "[" + bar + "] " + text
    let bar = room.saturating_sub(text_len + 3).min(24);
    let mut line = if bar >= 5 {
        let filled = (done * bar / total.max(1)).min(bar);
        format!(
            "[{}{}] {text}",
            "#".repeat(filled),
            "-".repeat(bar - filled)
        )
    } else {
        text.to_string()
    };
    if line.chars().count() > room {
        line = line.chars().take(room).collect();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::bar_line;

    #[test]
    fn the_line_fits_the_terminal() {
        let text = "17/50 trials done, 2 failed, best rmse 53.123456, ETA 00:42";
        for width in [20, 40, 60, 80, 120, 200] {
            let line = bar_line(width, 17, 50, text);
            assert!(line.chars().count() < width, "{width}: {line}");
        }
        // wide: the full bar and the whole text
        let wide = bar_line(120, 25, 50, text);
        assert!(
            wide.starts_with("[############------------] 17/50"),
            "{wide}"
        );
        // 60 columns: a shorter bar, the text whole
        let mid = bar_line(60, 17, 50, "17/50 trials done, best loss 0.1, ETA 00:42");
        assert!(mid.ends_with("ETA 00:42") && mid.starts_with('['), "{mid}");
        // too narrow for a bar: the text, cut
        assert_eq!(
            bar_line(20, 1, 50, text),
            text.chars().take(19).collect::<String>()
        );
    }
}
