//! The report of a pruning benchmark (`hpo bench --pruners ...` on multi-fidelity problems):
//! for every (problem, sampler + pruner), the median final regret against the total steps
//! spent, compared with the same sampler without pruning, and the regret at equal steps.
//!
//! Optimizer names are `<source>-<sampler>+<pruner>` (`hpo-tpe+median`, `optuna-tpe+asha`);
//! the baseline of each is `<source>-<sampler>+none` from the same results.

use std::fmt::Write;

use super::report::num;
use super::results::ResultLine;
use super::stats::{mann_whitney_u, median};

/// Significance level of the comparisons.
pub const ALPHA: f64 = 0.05;

/// The regret of `line` once its study had spent at most `steps` steps: the best-so-far regret
/// after the last evaluation that ended within them (`inf` if none did).
pub fn regret_at_steps(line: &ResultLine, steps: u64) -> f64 {
    let Some(cum) = &line.steps else {
        return f64::INFINITY;
    };
    let curve = line.regret_curve();
    cum.iter()
        .zip(&curve)
        .take_while(|(s, _)| **s <= steps)
        .last()
        .map_or(f64::INFINITY, |(_, r)| *r)
}

/// The total steps `line`'s study had spent when its best-so-far regret first reached `target`
/// (`None`: never).
pub fn steps_to_reach(line: &ResultLine, target: f64) -> Option<u64> {
    let cum = line.steps.as_ref()?;
    line.regret_curve()
        .iter()
        .zip(cum)
        .find(|(r, _)| **r <= target)
        .map(|(_, s)| *s)
}

/// The fewest total steps at which the median over `lines` of the regret so far
/// ([`regret_at_steps`]) is at most `target` (`None`: never within their steps).
pub fn median_steps_to_reach(lines: &[&ResultLine], target: f64) -> Option<u64> {
    let mut budgets: Vec<u64> = lines
        .iter()
        .filter_map(|l| l.steps.as_ref())
        .flatten()
        .copied()
        .collect();
    budgets.sort_unstable();
    budgets.dedup();
    budgets.into_iter().find(|&s| {
        let at: Vec<f64> = lines.iter().map(|l| regret_at_steps(l, s)).collect();
        !at.is_empty() && median(&at) <= target
    })
}

/// The pruner part of an optimizer's name (`median` for `hpo-tpe+median`); `None` without one.
pub fn pruner_of(optimizer: &str) -> Option<&str> {
    optimizer.rsplit_once('+').map(|(_, p)| p)
}

/// The baseline optimizer of `optimizer` (`x+none` for `x+p`); `None` for one without a pruner
/// part or a baseline itself.
pub fn baseline_of(optimizer: &str) -> Option<String> {
    let (stem, pruner) = optimizer.rsplit_once('+')?;
    (pruner != "none").then(|| format!("{stem}+none"))
}

/// One (problem, optimizer) of the pruning report.
#[derive(Clone, Debug, PartialEq)]
pub struct PruneRow {
    /// The optimizer (`hpo-tpe+median` ...).
    pub optimizer: String,
    /// Seeds.
    pub n: usize,
    /// Median final regret.
    pub regret: f64,
    /// Median total steps.
    pub steps: f64,
    /// Median total steps over the baseline's (1 for the baseline; NaN without one).
    pub steps_ratio: f64,
    /// Two-sided Mann-Whitney p-value of the final regrets against the baseline's (NaN for the
    /// baseline itself or without one).
    pub p_vs_baseline: f64,
    /// Significantly worse than the baseline (p < [`ALPHA`] and higher regrets).
    pub worse: bool,
    /// The total steps at which the median over seeds of the regret so far first reaches the
    /// baseline's median final regret ([`median_steps_to_reach`]; `None`: never).
    pub steps_to_target: Option<u64>,
    /// Seeds that reached the baseline's median final regret.
    pub reached: usize,
    /// Median regret at the report's equal-steps budget.
    pub regret_at_equal: f64,
    /// The regrets at the equal-steps budget, per seed (for the comparisons).
    pub at_equal: Vec<f64>,
    /// The stopped trials in hindsight, over its seeds (`hpo bench --hindsight`; `None`
    /// without).
    pub hindsight: Option<StoppedInHindsight>,
}

/// A pruner's stopped trials over the seeds of one (problem, optimizer), each run on to its end
/// afterwards (`hpo bench --hindsight`).
#[derive(Clone, Debug, PartialEq)]
pub struct StoppedInHindsight {
    /// Trials stopped by the pruner.
    pub stopped: u64,
    /// Of them, those that would have ended below the best trial their study had completed
    /// when they were stopped.
    pub beaten: u64,
    /// The median step at which those were stopped (NaN when there were none).
    pub median_step: f64,
}

impl StoppedInHindsight {
    /// The sum over `lines` (those with a [`ResultLine::hindsight`]; `None` when none has).
    pub fn over(lines: &[&ResultLine]) -> Option<StoppedInHindsight> {
        let logs: Vec<_> = lines.iter().filter_map(|l| l.hindsight.as_ref()).collect();
        if logs.is_empty() {
            return None;
        }
        let steps: Vec<f64> = logs
            .iter()
            .flat_map(|h| h.beaten_at.iter().map(|&s| s as f64))
            .collect();
        Some(StoppedInHindsight {
            stopped: logs.iter().map(|h| h.stopped).sum(),
            beaten: steps.len() as u64,
            median_step: if steps.is_empty() {
                f64::NAN
            } else {
                median(&steps)
            },
        })
    }
}

/// The pruning report of one problem.
#[derive(Clone, Debug, PartialEq)]
pub struct ProblemPruning {
    /// The problem.
    pub problem: String,
    /// The steps budget of the "at equal steps" column: a third of the baseline's median steps.
    pub equal_steps: u64,
    /// One row per optimizer, in the order given.
    pub rows: Vec<PruneRow>,
}

/// Analyse `lines` (hpo's and compared results) for `problems` and `optimizers`; the "at equal
/// steps" budget is `equal_steps` (e.g. the pruned studies' step budget), else a third of the
/// largest baseline's median total steps.
pub fn analyse(
    lines: &[ResultLine],
    problems: &[String],
    optimizers: &[String],
    equal_steps: Option<u64>,
) -> Vec<ProblemPruning> {
    let equal_steps_given = equal_steps;
    problems
        .iter()
        .map(|problem| {
            let of = |opt: &str| -> Vec<&ResultLine> {
                lines
                    .iter()
                    .filter(|l| &l.problem == problem && l.optimizer == opt && l.steps.is_some())
                    .collect()
            };
            let total = |l: &ResultLine| {
                l.steps
                    .as_ref()
                    .and_then(|s| s.last())
                    .copied()
                    .unwrap_or(0) as f64
            };
            // a third of the largest baseline's median total steps
            let equal_steps = optimizers
                .iter()
                .filter(|o| o.ends_with("+none"))
                .map(|o| {
                    let t: Vec<f64> = of(o).iter().map(|l| total(l)).collect();
                    if t.is_empty() {
                        0.0
                    } else {
                        median(&t)
                    }
                })
                .fold(0.0, f64::max);
            let equal_steps = equal_steps_given.unwrap_or((equal_steps / 3.0).floor() as u64);
            let rows = optimizers
                .iter()
                .filter_map(|opt| {
                    let mine = of(opt);
                    if mine.is_empty() {
                        return None;
                    }
                    let regrets: Vec<f64> = mine.iter().map(|l| l.regret).collect();
                    let steps: Vec<f64> = mine.iter().map(|l| total(l)).collect();
                    let base_name = baseline_of(opt).unwrap_or_else(|| opt.clone());
                    let base = of(&base_name);
                    let base_regrets: Vec<f64> = base.iter().map(|l| l.regret).collect();
                    let base_steps: Vec<f64> = base.iter().map(|l| total(l)).collect();
                    let target = if base.is_empty() {
                        f64::NAN
                    } else {
                        median(&base_regrets)
                    };
                    let (p, worse) = if base.is_empty() || &base_name == opt {
                        (f64::NAN, false)
                    } else {
                        let mw = mann_whitney_u(&regrets, &base_regrets);
                        (
                            mw.p,
                            mw.p < ALPHA && !mw.a_smaller(regrets.len(), base_regrets.len()),
                        )
                    };
                    let reached = mine
                        .iter()
                        .filter(|l| steps_to_reach(l, target).is_some())
                        .count();
                    let at_equal: Vec<f64> = mine
                        .iter()
                        .map(|l| regret_at_steps(l, equal_steps))
                        .collect();
                    Some(PruneRow {
                        optimizer: opt.clone(),
                        n: mine.len(),
                        regret: median(&regrets),
                        steps: median(&steps),
                        steps_ratio: if base.is_empty() {
                            f64::NAN
                        } else {
                            median(&steps) / median(&base_steps)
                        },
                        p_vs_baseline: p,
                        worse,
                        steps_to_target: median_steps_to_reach(&mine, target),
                        reached,
                        regret_at_equal: median(&at_equal),
                        at_equal,
                        hindsight: StoppedInHindsight::over(&mine),
                    })
                })
                .collect();
            ProblemPruning {
                problem: problem.clone(),
                equal_steps,
                rows,
            }
        })
        .collect()
}

/// How the default pruner of hpo does against the targets on one problem.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetCheck {
    /// The problem.
    pub problem: String,
    /// The hpo optimizer checked (`hpo-tpe+default`).
    pub optimizer: String,
    /// Its median steps over its baseline's.
    pub steps_ratio: f64,
    /// Its p-value against its baseline.
    pub p_vs_baseline: f64,
    /// Not significantly worse than its baseline and at most a third of its steps.
    pub same_regret_third_steps: bool,
    /// The compared optimizer with the lowest median regret at equal steps (e.g. Optuna's best
    /// pruner), if any.
    pub best_other: Option<String>,
    /// Two-sided p-value of the regrets at equal steps, checked against `best_other`.
    pub p_vs_other: f64,
    /// Not significantly worse than `best_other` at equal steps.
    pub at_least_as_good: bool,
}

/// The row of `others` with the lowest median regret at equal steps on `pp` (e.g. Optuna's best
/// pruner), if any.
pub fn best_other<'a>(pp: &'a ProblemPruning, others: &[String]) -> Option<&'a PruneRow> {
    pp.rows
        .iter()
        .filter(|r| others.contains(&r.optimizer))
        .min_by(|a, b| a.regret_at_equal.total_cmp(&b.regret_at_equal))
}

/// Two-sided Mann-Whitney test of `row`'s regrets at equal steps against `other`'s: (p,
/// significantly worse, significantly better).
pub fn compare_at_equal(row: &PruneRow, other: &PruneRow) -> (f64, bool, bool) {
    let mw = mann_whitney_u(&row.at_equal, &other.at_equal);
    let smaller = mw.a_smaller(row.at_equal.len(), other.at_equal.len());
    (mw.p, mw.p < ALPHA && !smaller, mw.p < ALPHA && smaller)
}

/// Check `optimizer` on each problem against its baseline and against the best of `others`
/// (at equal steps).
pub fn check_targets(
    analysis: &[ProblemPruning],
    optimizer: &str,
    others: &[String],
) -> Vec<TargetCheck> {
    analysis
        .iter()
        .filter_map(|pp| {
            let row = pp.rows.iter().find(|r| r.optimizer == optimizer)?;
            let other = best_other(pp, others);
            let (p_other, as_good) = match other {
                Some(o) => {
                    let (p, worse, _) = compare_at_equal(row, o);
                    (p, !worse)
                }
                None => (f64::NAN, true),
            };
            Some(TargetCheck {
                problem: pp.problem.clone(),
                optimizer: optimizer.to_string(),
                steps_ratio: row.steps_ratio,
                p_vs_baseline: row.p_vs_baseline,
                same_regret_third_steps: !row.worse && row.steps_ratio <= 1.0 / 3.0 + 1e-9,
                best_other: other.map(|o| o.optimizer.clone()),
                p_vs_other: p_other,
                at_least_as_good: as_good,
            })
        })
        .collect()
}

fn p_text(p: f64) -> String {
    if p.is_nan() {
        "".into()
    } else if p < 0.001 {
        "<0.001".into()
    } else {
        format!("{p:.3}")
    }
}

/// The report in Markdown: one table per problem (each row also tested at equal steps against
/// the best of `others`, e.g. Optuna's pruners), then the target checks; `step_budget` is the
/// total steps the pruned studies ran under, if they did.
pub fn markdown(
    analysis: &[ProblemPruning],
    checks: &[TargetCheck],
    command: &str,
    step_budget: Option<u64>,
    others: &[String],
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# hpo bench: pruning\n\n    {command}\n");
    if let Some(n) = step_budget {
        let _ = writeln!(
            s,
            "Budget counted in steps: every study with a pruner ran trials until their steps \
             added up to {n} (the last trial stopped there), the studies without pruning (`+none`) \
             their full trial budget.\n"
        );
    }
    let _ = writeln!(
        s,
        "Per (problem, sampler+pruner), over seeds: the median final regret and total steps; \
         the steps against the same sampler without pruning (`+none`) and a two-sided \
         Mann-Whitney test of the final regrets against it (**worse** when p < {ALPHA} and \
         higher); the total steps at which the median over seeds of the regret so far first \
         reaches the no-pruning median final regret (and how many seeds reach it); the median regret once the study had \
         spent a third of the no-pruning steps (\"at equal steps\").\n"
    );
    for pp in analysis {
        let other = best_other(pp, others);
        let _ = writeln!(
            s,
            "## {}\n\nequal steps: {}; best compared at equal steps: {}\n\n| optimizer | seeds | final regret | steps | steps / no pruning | p vs no pruning | steps to no-pruning regret | reached | regret at equal steps | p vs best compared at equal steps |\n|---|---|---|---|---|---|---|---|---|---|",
            pp.problem,
            pp.equal_steps,
            other.map_or("-", |o| o.optimizer.as_str())
        );
        for r in &pp.rows {
            let vs_other = match other {
                Some(o) if !others.contains(&r.optimizer) => {
                    let (p, worse, better) = compare_at_equal(r, o);
                    let mark = if worse {
                        " **worse**"
                    } else if better {
                        " **better**"
                    } else {
                        ""
                    };
                    format!("{}{mark}", p_text(p))
                }
                _ => String::new(),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.0} | {} | {}{} | {} | {}/{} | {} | {} |",
                r.optimizer,
                r.n,
                num(r.regret),
                r.steps,
                if r.steps_ratio.is_nan() {
                    String::new()
                } else {
                    format!("{:.2}", r.steps_ratio)
                },
                p_text(r.p_vs_baseline),
                if r.worse { " **worse**" } else { "" },
                r.steps_to_target
                    .map_or("not reached".to_string(), |v| v.to_string()),
                r.reached,
                r.n,
                num(r.regret_at_equal),
                vs_other,
            );
        }
        s.push('\n');
    }
    s.push_str(&hindsight_table(analysis));
    if !checks.is_empty() {
        s.push_str(&targets_table(checks));
        let budget = match step_budget {
            Some(n) => format!(
                "the pruned study spending its budget of {n} steps, the baseline its full trial \
                 budget"
            ),
            None => "both with the same trial budget".to_string(),
        };
        let _ = writeln!(
            s,
            "\nThe targets (issue 16), for each sampler with the checked pruner: the same final \
             regret as no pruning (not significantly worse over the seeds) at most a third of \
             its total steps ({budget}); and at least as good as the best compared pruner at \
             equal steps (not significantly worse at the \"equal steps\" budget)."
        );
    }
    s
}

/// The stopped trials in hindsight as a Markdown section (empty when no row has them).
pub fn hindsight_table(analysis: &[ProblemPruning]) -> String {
    let rows: Vec<(&str, &PruneRow, &StoppedInHindsight)> = analysis
        .iter()
        .flat_map(|pp| {
            pp.rows
                .iter()
                .filter_map(move |r| r.hindsight.as_ref().map(|h| (pp.problem.as_str(), r, h)))
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "## Stopped trials in hindsight\n\nEvery trial a pruner stopped was run on to its end \
         outside its study (those steps are not counted, and its sampler learned nothing from \
         them): how many would have ended below the best trial their study had completed when \
         they were stopped, over all seeds, and the median step at which those were stopped.\n\n\
         | problem | optimizer | seeds | trials stopped | would have beaten the best completed | share | median step stopped at |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for (problem, r, h) in rows {
        let share = match h.stopped {
            0 => String::new(),
            n => format!("{:.1}%", 100.0 * h.beaten as f64 / n as f64),
        };
        let step = if h.median_step.is_nan() {
            String::new()
        } else {
            format!("{}", h.median_step)
        };
        let _ = writeln!(
            s,
            "| {problem} | {} | {} | {} | {} | {share} | {step} |",
            r.optimizer, r.n, h.stopped, h.beaten
        );
    }
    s.push('\n');
    s
}

/// The target checks as a Markdown table.
pub fn targets_table(checks: &[TargetCheck]) -> String {
    let mut s = String::from(
        "## Targets\n\n| problem | optimizer | steps / no pruning | p vs no pruning | same regret at <= 1/3 steps | best compared at equal steps | p | at least as good |\n|---|---|---|---|---|---|---|---|\n",
    );
    for c in checks {
        let _ = writeln!(
            s,
            "| {} | {} | {:.2} | {} | {} | {} | {} | {} |",
            c.problem,
            c.optimizer,
            c.steps_ratio,
            p_text(c.p_vs_baseline),
            if c.same_regret_third_steps {
                "yes"
            } else {
                "no"
            },
            c.best_other.as_deref().unwrap_or("-"),
            p_text(c.p_vs_other),
            if c.at_least_as_good { "yes" } else { "no" },
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(opt: &str, seed: u64, best: &[f64], steps: &[u64]) -> ResultLine {
        ResultLine {
            problem: "p".into(),
            optimizer: opt.into(),
            seed,
            budget: best.len(),
            best: best.to_vec(),
            regret: *best.last().unwrap(),
            minimum: Some(0.0),
            seconds: 0.0,
            suggest_seconds: None,
            steps: Some(steps.to_vec()),
            step_budget: None,
            hindsight: None,
        }
    }

    #[test]
    fn regret_at_steps_and_steps_to_reach() {
        let l = line("hpo-tpe+median", 0, &[3.0, 2.0, 1.0], &[10, 15, 40]);
        assert_eq!(regret_at_steps(&l, 9), f64::INFINITY);
        assert_eq!(regret_at_steps(&l, 15), 2.0);
        assert_eq!(regret_at_steps(&l, 39), 2.0);
        assert_eq!(regret_at_steps(&l, 100), 1.0);
        assert_eq!(steps_to_reach(&l, 2.5), Some(15));
        assert_eq!(steps_to_reach(&l, 0.5), None);
        assert_eq!(
            baseline_of("hpo-tpe+median").as_deref(),
            Some("hpo-tpe+none")
        );
        assert_eq!(baseline_of("hpo-tpe+none"), None);
        assert_eq!(baseline_of("hpo-tpe"), None);
    }

    #[test]
    fn the_median_curve_reaches_the_target_when_half_the_seeds_do() {
        let a = line("x+p", 0, &[3.0, 1.0], &[10, 20]);
        let b = line("x+p", 1, &[3.0, 3.0], &[10, 20]);
        let c = line("x+p", 2, &[1.0, 1.0], &[5, 30]);
        // at 5 steps: inf, inf, 1; at 10: 3, 3, 1; at 20: 1, 3, 1 -> median 1
        assert_eq!(median_steps_to_reach(&[&a, &b, &c], 1.0), Some(20));
        assert_eq!(median_steps_to_reach(&[&a, &b, &c], 3.0), Some(10));
        assert_eq!(median_steps_to_reach(&[&a, &b, &c], 0.5), None);
    }

    #[test]
    fn stopped_trials_in_hindsight_add_up_over_seeds() {
        use crate::bench::results::Hindsight;
        let mut lines = Vec::new();
        for (seed, beaten_at) in [vec![4, 4, 9], vec![], vec![6]].into_iter().enumerate() {
            let mut l = line("hpo-tpe+default", seed as u64, &[2.0, 1.0], &[81, 85]);
            l.hindsight = Some(Hindsight {
                stopped: 10 + seed as u64,
                beaten_at,
            });
            lines.push(l);
            lines.push(line("hpo-tpe+none", seed as u64, &[2.0, 1.0], &[81, 162]));
        }
        let opts = ["hpo-tpe+none", "hpo-tpe+default"]
            .map(String::from)
            .to_vec();
        let a = analyse(&lines, &["p".to_string()], &opts, None);
        assert_eq!(a[0].rows[0].hindsight, None);
        let h = a[0].rows[1].hindsight.clone().unwrap();
        // 10 + 11 + 12 stopped; 4 of them beaten, stopped at steps 4, 4, 6, 9
        assert_eq!((h.stopped, h.beaten, h.median_step), (33, 4, 5.0));
        let md = markdown(&a, &[], "cmd", None, &[]);
        assert!(
            md.contains("| p | hpo-tpe+default | 3 | 33 | 4 | 12.1% | 5 |"),
            "{md}"
        );
        assert!(!markdown(
            &analyse(&lines[1..2], &["p".to_string()], &opts, None),
            &[],
            "c",
            None,
            &[]
        )
        .contains("hindsight"));
    }

    #[test]
    fn rows_compare_with_the_baseline() {
        let mut lines = Vec::new();
        for seed in 0..10 {
            // no pruning: regret 1.0 at 300 steps; pruned: regret 1.0 at 100 steps; bad: 5.0
            lines.push(line(
                "hpo-tpe+none",
                seed,
                &[2.0, 1.0, 1.0],
                &[100, 200, 300],
            ));
            lines.push(line(
                "hpo-tpe+median",
                seed,
                &[2.0, 1.0, 1.0],
                &[40, 60, 100],
            ));
            let r = 5.0 + seed as f64 * 0.01;
            lines.push(line("hpo-tpe+asha", seed, &[r, r, r], &[10, 20, 30]));
            let o = 1.5 + seed as f64 * 0.01;
            lines.push(line("optuna-tpe+median", seed, &[o, o, o], &[40, 60, 100]));
        }
        let opts: Vec<String> = [
            "hpo-tpe+none",
            "hpo-tpe+median",
            "hpo-tpe+asha",
            "optuna-tpe+median",
        ]
        .map(String::from)
        .to_vec();
        let a = analyse(&lines, &["p".to_string()], &opts, None);
        assert_eq!(a[0].equal_steps, 100);
        let at_50 = analyse(&lines, &["p".to_string()], &opts, Some(50));
        assert_eq!(at_50[0].equal_steps, 50);
        assert_eq!(at_50[0].rows[1].regret_at_equal, 2.0);
        let row = |o: &str| a[0].rows.iter().find(|r| r.optimizer == o).unwrap().clone();
        let base = row("hpo-tpe+none");
        assert_eq!(
            (base.regret, base.steps, base.steps_ratio),
            (1.0, 300.0, 1.0)
        );
        assert_eq!(base.steps_to_target, Some(200));
        assert_eq!(base.regret_at_equal, 2.0);
        let med = row("hpo-tpe+median");
        assert!((med.steps_ratio - 1.0 / 3.0).abs() < 1e-12);
        assert!(!med.worse && med.p_vs_baseline > 0.5);
        assert_eq!((med.steps_to_target, med.reached), (Some(60), 10));
        assert_eq!(med.regret_at_equal, 1.0);
        let asha = row("hpo-tpe+asha");
        assert!(asha.worse && asha.p_vs_baseline < 0.001);
        assert_eq!((asha.steps_to_target, asha.reached), (None, 0));
        let checks = check_targets(&a, "hpo-tpe+median", &["optuna-tpe+median".to_string()]);
        assert!(checks[0].same_regret_third_steps);
        assert!(checks[0].at_least_as_good);
        assert!(checks[0].p_vs_other < 0.001);
        let bad = check_targets(&a, "hpo-tpe+asha", &["optuna-tpe+median".to_string()]);
        assert!(!bad[0].same_regret_third_steps && !bad[0].at_least_as_good);
        let md = markdown(
            &a,
            &checks,
            "hpo bench",
            Some(100),
            &["optuna-tpe+median".to_string()],
        );
        assert!(
            md.contains("best compared at equal steps: optuna-tpe+median"),
            "{md}"
        );
        // at 100 steps: hpo-tpe+median 1.0 against optuna's 1.5..1.59, asha 5.x
        assert!(md.contains("| 1.000 | <0.001 **better** |"), "{md}");
        assert!(md.contains("<0.001 **worse** |\n"), "{md}");
        assert!(md.contains("added up to 100"), "{md}");
        assert!(md.contains("its budget of 100 steps"), "{md}");
        assert!(md.contains("| hpo-tpe+asha | 10 |"), "{md}");
        assert!(md.contains("**worse**"));
    }
}
