//! The benchmark report: per problem, median [IQR] final regret, mean rank and pairwise
//! significance of each optimizer; overall Borda and Firsts; time spent suggesting; one SVG plot
//! per problem.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::plot::{self, Series};
use super::results::ResultLine;
use super::stats::{self, ProblemRanking};

/// One optimizer on one problem.
#[derive(Clone, Debug)]
pub struct Cell {
    /// Final regret per seed, by seed.
    pub regrets: BTreeMap<u64, f64>,
    /// Median final regret.
    pub median: f64,
    /// First and third quartiles of the final regret.
    pub iqr: (f64, f64),
    /// Mean rank among the optimizers over the seeds they share (1 = best).
    pub mean_rank: f64,
    /// Median time spent suggesting per study, if known.
    pub suggest_seconds: Option<f64>,
    /// Total time spent suggesting over all seeds, if known.
    pub suggest_total: Option<f64>,
    /// (median, q1, q3) of the best-so-far regret after each evaluation.
    pub curve: Vec<(f64, f64, f64)>,
}

/// The analysis of a set of results.
#[derive(Clone, Debug)]
pub struct Analysis {
    /// The problems, in order.
    pub problems: Vec<String>,
    /// Whether each problem has a known minimum (else regrets are best losses).
    pub has_minimum: Vec<bool>,
    /// The optimizers, in order.
    pub optimizers: Vec<String>,
    /// Evaluations per study.
    pub budget: usize,
    /// The significance level (kurobako's rule for this many optimizers).
    pub alpha: f64,
    /// `cells[problem][optimizer]`, `None` where the optimizer has no results for the problem.
    pub cells: Vec<Vec<Option<Cell>>>,
    /// kurobako's ranking per problem (over all optimizers; an absent one beats nobody, and
    /// nobody beats it).
    pub rankings: Vec<ProblemRanking>,
    /// Borda and Firsts per optimizer.
    pub scores: stats::Scores,
}

/// Analyse `lines` (all with `budget` evaluations) for the given problem and optimizer order.
pub fn analyse(
    lines: &[ResultLine],
    problems: &[String],
    optimizers: &[String],
    budget: usize,
) -> Analysis {
    let k = optimizers.len();
    let alpha = stats::kurobako_alpha(k);
    let mut cells = Vec::new();
    let mut rankings = Vec::new();
    let mut has_minimum = Vec::new();
    for prob in problems {
        let of_problem: Vec<&ResultLine> = lines.iter().filter(|l| &l.problem == prob).collect();
        has_minimum.push(of_problem.iter().all(|l| l.minimum.is_some()));
        let mut row: Vec<Option<Cell>> = Vec::new();
        for opt in optimizers {
            let mine: Vec<&&ResultLine> =
                of_problem.iter().filter(|l| &l.optimizer == opt).collect();
            if mine.is_empty() {
                row.push(None);
                continue;
            }
            let regrets: BTreeMap<u64, f64> = mine.iter().map(|l| (l.seed, l.regret)).collect();
            let finals: Vec<f64> = regrets.values().copied().collect();
            let curves: Vec<Vec<f64>> = mine.iter().map(|l| l.regret_curve()).collect();
            let curve = (0..budget)
                .map(|t| {
                    let at: Vec<f64> = curves
                        .iter()
                        .filter_map(|c| c.get(t).copied())
                        .filter(|v| v.is_finite())
                        .collect();
                    if at.len() < curves.len() {
                        // some seeds have no successful evaluation yet
                        return (f64::NAN, f64::NAN, f64::NAN);
                    }
                    let (a, b) = stats::iqr(&at);
                    (stats::median(&at), a, b)
                })
                .collect();
            let suggest: Option<Vec<f64>> = mine.iter().map(|l| l.suggest_seconds).collect();
            row.push(Some(Cell {
                median: stats::median(&finals),
                iqr: stats::iqr(&finals),
                mean_rank: f64::NAN,
                suggest_seconds: suggest.as_ref().map(|s| stats::median(s)),
                suggest_total: suggest.as_ref().map(|s| s.iter().sum()),
                curve,
                regrets,
            }));
        }
        // mean rank over the seeds every present optimizer has
        let present: Vec<usize> = (0..k).filter(|&i| row[i].is_some()).collect();
        let mut common: Option<Vec<u64>> = None;
        for &i in &present {
            let seeds: Vec<u64> = row[i].as_ref().unwrap().regrets.keys().copied().collect();
            common = Some(match common {
                None => seeds,
                Some(c) => c.into_iter().filter(|s| seeds.contains(s)).collect(),
            });
        }
        let common = common.unwrap_or_default();
        let by_algo: Vec<Vec<f64>> = present
            .iter()
            .map(|&i| {
                let r = &row[i].as_ref().unwrap().regrets;
                common.iter().map(|s| r[s]).collect()
            })
            .collect();
        for (&i, m) in present.iter().zip(stats::mean_ranks(&by_algo)) {
            if let Some(c) = row[i].as_mut() {
                c.mean_rank = m;
            }
        }
        // kurobako ranking among the present optimizers, spread back to all
        let samples: Vec<Vec<f64>> = present
            .iter()
            .map(|&i| row[i].as_ref().unwrap().regrets.values().copied().collect())
            .collect();
        let sub = stats::rank_problem(&samples, alpha);
        let mut beats = vec![vec![false; k]; k];
        let mut p = vec![vec![f64::NAN; k]; k];
        let mut rank = vec![0; k];
        for (a, &i) in present.iter().enumerate() {
            rank[i] = sub.rank[a];
            for (b, &j) in present.iter().enumerate() {
                beats[i][j] = sub.beats[a][b];
                p[i][j] = if a == b { f64::NAN } else { sub.p[a][b] };
            }
        }
        rankings.push(ProblemRanking { beats, p, rank });
        cells.push(row);
    }
    let scores = stats::scores(k, &rankings);
    Analysis {
        problems: problems.to_vec(),
        has_minimum,
        optimizers: optimizers.to_vec(),
        budget,
        alpha,
        cells,
        rankings,
        scores,
    }
}

/// A number in a table: 4 significant digits.
pub fn num(x: f64) -> String {
    if x.is_nan() {
        return "–".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if !(1e-4..1e6).contains(&a) {
        return format!("{x:.3e}");
    }
    let digits = (3 - a.log10().floor() as i32).max(0) as usize;
    format!("{x:.digits$}")
}

fn seconds(x: f64) -> String {
    if x < 1e-3 {
        format!("{:.0} µs", x * 1e6)
    } else if x < 1.0 {
        format!("{:.1} ms", x * 1e3)
    } else {
        format!("{x:.2} s")
    }
}

/// The SVG plot of one problem.
pub fn problem_svg(a: &Analysis, p: usize) -> String {
    let series: Vec<Series> = a
        .optimizers
        .iter()
        .zip(&a.cells[p])
        .filter_map(|(o, c)| {
            c.as_ref().map(|c| Series {
                name: o.clone(),
                points: c.curve.clone(),
            })
        })
        .collect();
    let ylabel = if a.has_minimum[p] {
        "best-so-far regret"
    } else {
        "best-so-far loss"
    };
    plot::svg(&a.problems[p], ylabel, a.budget, &series)
}

/// The file name of a problem's plot.
pub fn plot_file(problem: &str) -> String {
    let safe: String = problem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.svg")
}

/// The summary table: median final regret per problem and optimizer (the lowest in bold, `¹`
/// where no rival is significantly better), then Borda and Firsts.
pub fn summary_table(a: &Analysis) -> String {
    let mut s = String::new();
    let _ = write!(s, "| problem |");
    for o in &a.optimizers {
        let _ = write!(s, " {o} |");
    }
    let _ = write!(s, "\n|---|");
    for _ in &a.optimizers {
        let _ = write!(s, "---:|");
    }
    s.push('\n');
    for (p, prob) in a.problems.iter().enumerate() {
        let best = a.cells[p]
            .iter()
            .flatten()
            .map(|c| c.median)
            .min_by(|x, y| stats::cmp_nan_last(*x, *y));
        // the † of a problem without a known minimum, as the report's note says
        let mark = if a.has_minimum[p] { "" } else { " †" };
        let _ = write!(s, "| {prob}{mark} |");
        for (i, c) in a.cells[p].iter().enumerate() {
            match c {
                None => s.push_str(" – |"),
                Some(c) => {
                    let v = num(c.median);
                    let star = if a.rankings[p].rank[i] == 1 { "¹" } else { "" };
                    if Some(c.median) == best {
                        let _ = write!(s, " **{v}**{star} |");
                    } else {
                        let _ = write!(s, " {v}{star} |");
                    }
                }
            }
        }
        s.push('\n');
    }
    let _ = write!(s, "| **Borda** |");
    for b in &a.scores.borda {
        let _ = write!(s, " {b} |");
    }
    let _ = write!(s, "\n| **Firsts** |");
    for f in &a.scores.firsts {
        let _ = write!(s, " {f} |");
    }
    s.push('\n');
    s
}

/// Everything the report's header says about how the results were made.
pub struct ReportInfo {
    /// The command line.
    pub command: String,
    /// Seeds of hpo's studies.
    pub seeds: Vec<u64>,
    /// Files whose results were added (`--compare`).
    pub compare: Vec<String>,
}

/// The markdown report.
pub fn markdown(a: &Analysis, info: &ReportInfo) -> String {
    let mut s = String::new();
    let k = a.optimizers.len();
    let _ = writeln!(s, "# hpo bench report\n");
    let _ = writeln!(s, "    {}\n", info.command);
    let seeds = match (info.seeds.first(), info.seeds.last()) {
        (Some(f), Some(l)) => format!("{} seeds ({f}-{l})", info.seeds.len()),
        _ => "no seeds".into(),
    };
    let _ = writeln!(
        s,
        "{} problems, {k} optimizers, {} evaluations per study, {seeds} per (problem, optimizer). \
         hpo's results are in `results.jsonl`.",
        a.problems.len(),
        a.budget
    );
    if !info.compare.is_empty() {
        let _ = writeln!(
            s,
            "Results added from {} (cut to the first {} evaluations where longer).",
            info.compare
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", "),
            a.budget
        );
    }
    let _ = writeln!(
        s,
        "\nRegret is the best loss found minus the problem's known minimum. Significance: a \
         two-sided Mann-Whitney U test (normal approximation with tie correction; exact for \
         samples of at most {} without ties) of the final regrets of each pair of optimizers on \
         each problem, at α = {} (kurobako's rule for {k} optimizers: the largest level with \
         1 − (1 − α)^C({k},2) < 0.05). An optimizer *beats* a rival when p < α and its regrets \
         are lower. Rank = 1 + the number of rivals that beat it; **Borda** counts the (problem, \
         rival) pairs it beats; **Firsts** counts the problems where no rival beats it. Mean \
         rank: the optimizers ranked on each seed (ties share), averaged over seeds.",
        stats::EXACT_MAX,
        a.alpha
    );
    if a.has_minimum.iter().any(|m| !m) {
        let _ = writeln!(
            s,
            "\nProblems marked † have no known minimum (a space file with a command): their \
             \"regret\" is the best loss itself."
        );
    }
    let _ = writeln!(s, "\n## Summary: median final regret\n");
    let _ = writeln!(
        s,
        "Lowest median in bold; ¹: no rival is significantly better (rank 1, counts toward \
         Firsts).\n"
    );
    s.push_str(&summary_table(a));
    // time spent suggesting
    let timed: Vec<usize> = (0..k)
        .filter(|&i| {
            a.cells
                .iter()
                .any(|row| row[i].as_ref().is_some_and(|c| c.suggest_seconds.is_some()))
        })
        .collect();
    if !timed.is_empty() {
        let _ = writeln!(
            s,
            "\n## Time spent suggesting\n\nMedian time per study (of {} evaluations) the \
             algorithm spent choosing trials; the total is over all seeds and problems. Results \
             from elsewhere do not record it.\n",
            a.budget
        );
        let _ = write!(s, "| problem |");
        for &i in &timed {
            let _ = write!(s, " {} |", a.optimizers[i]);
        }
        let _ = write!(s, "\n|---|");
        for _ in &timed {
            let _ = write!(s, "---:|");
        }
        s.push('\n');
        let mut totals = vec![0.0; timed.len()];
        for (p, prob) in a.problems.iter().enumerate() {
            let _ = write!(s, "| {prob} |");
            for (t, &i) in timed.iter().enumerate() {
                match a.cells[p][i]
                    .as_ref()
                    .and_then(|c| c.suggest_seconds.zip(c.suggest_total))
                {
                    Some((m, tot)) => {
                        totals[t] += tot;
                        let _ = write!(s, " {} |", seconds(m));
                    }
                    None => s.push_str(" – |"),
                }
            }
            s.push('\n');
        }
        let _ = write!(s, "| **total** |");
        for t in totals {
            let _ = write!(s, " {} |", seconds(t));
        }
        s.push('\n');
    }
    let _ = writeln!(s, "\n## Per problem");
    for (p, prob) in a.problems.iter().enumerate() {
        let mark = if a.has_minimum[p] { "" } else { " †" };
        let _ = writeln!(s, "\n### {prob}{mark}\n");
        let _ = writeln!(s, "![{prob}]({})\n", plot_file(prob));
        let _ = writeln!(
            s,
            "| optimizer | median [IQR] final regret | mean rank | rank | beats |\n|---|---:|---:|---:|---|"
        );
        for (i, o) in a.optimizers.iter().enumerate() {
            let Some(c) = &a.cells[p][i] else { continue };
            let beaten: Vec<&str> = (0..k)
                .filter(|&j| a.rankings[p].beats[i][j])
                .map(|j| a.optimizers[j].as_str())
                .collect();
            let _ = writeln!(
                s,
                "| {o} | {} [{}, {}] | {:.2} | {} | {} |",
                num(c.median),
                num(c.iqr.0),
                num(c.iqr.1),
                c.mean_rank,
                a.rankings[p].rank[i],
                if beaten.is_empty() {
                    "–".into()
                } else {
                    beaten.join(", ")
                }
            );
        }
        let present: Vec<usize> = (0..k).filter(|&i| a.cells[p][i].is_some()).collect();
        if present.len() > 1 {
            let _ = writeln!(s, "\nTwo-sided Mann-Whitney p-values (bold: p < α):\n");
            let _ = write!(s, "| |");
            for &j in &present {
                let _ = write!(s, " {} |", a.optimizers[j]);
            }
            let _ = write!(s, "\n|---|");
            for _ in &present {
                let _ = write!(s, "---:|");
            }
            s.push('\n');
            for &i in &present {
                let _ = write!(s, "| {} |", a.optimizers[i]);
                for &j in &present {
                    let pv = a.rankings[p].p[i][j];
                    if i == j {
                        s.push_str(" |");
                    } else if pv < a.alpha {
                        let _ = write!(s, " **{}** |", pval(pv));
                    } else {
                        let _ = write!(s, " {} |", pval(pv));
                    }
                }
                s.push('\n');
            }
        }
    }
    s
}

fn pval(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(problem: &str, opt: &str, seed: u64, regret: f64) -> ResultLine {
        ResultLine {
            problem: problem.into(),
            optimizer: opt.into(),
            seed,
            budget: 2,
            best: vec![regret + 1.0, regret],
            regret,
            minimum: Some(0.0),
            seconds: 0.0,
            suggest_seconds: Some(0.001),
            steps: None,
            step_budget: None,
            hindsight: None,
        }
    }

    #[test]
    fn analysis_ranks_and_scores() {
        let mut lines = Vec::new();
        for s in 0..10 {
            lines.push(line("p", "a", s, s as f64));
            lines.push(line("p", "b", s, 100.0 + s as f64));
        }
        let a = analyse(&lines, &["p".into()], &["a".into(), "b".into()], 2);
        assert_eq!(a.alpha, 0.025);
        let ca = a.cells[0][0].as_ref().unwrap();
        assert_eq!(ca.median, 4.5);
        assert_eq!(ca.mean_rank, 1.0);
        assert_eq!(a.cells[0][1].as_ref().unwrap().mean_rank, 2.0);
        assert_eq!(a.rankings[0].rank, vec![1, 2]);
        assert_eq!(a.scores.borda, vec![1, 0]);
        assert_eq!(a.scores.firsts, vec![1, 0]);
        assert_eq!(ca.curve[0], (5.5, 3.25, 7.75));
        let md = markdown(
            &a,
            &ReportInfo {
                command: "hpo bench".into(),
                seeds: (0..10).collect(),
                compare: vec![],
            },
        );
        assert!(md.contains("| p | **4.500**¹ | 104.5 |"), "{md}");
        assert!(md.contains("| p | 1.0 ms | 1.0 ms |"), "{md}");
        assert!(md.contains("| **Borda** | 1 | 0 |"));
        assert!(md.contains("![p](p.svg)"));
        assert_eq!(num(0.0021), "0.002100");
        assert_eq!(num(1193.4), "1193");
    }
}
