//! `hpo bench`: run search algorithms on benchmark problems over many seeds and report which is
//! better where, and whether the difference is significant.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use clap::Args;

use super::{open_tracker, BadInput};
use crate::algo::{self, ALGORITHM_NAMES};
use crate::bench::report::{self, Analysis, ReportInfo};
use crate::bench::results::{read_jsonl, ResultLine};
use crate::bench::runner::{self, BenchConfig, BenchProblem, StudyBudget};
use crate::bench::{fidelity, multimodal, noisy, problems, pruners, pruning};
use crate::tracking::store::now_ms;
use crate::tracking::{Metric, Param, RunStatus, RunTag};

/// Benchmark search algorithms on problems over many seeds: results, report and plots.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  hpo bench --problems branin,hartmann6 --algos random,tpe --seeds 20 --budget 100 \\\n      --compare ../shared/anchors/results_b100.jsonl --out bench-results\n  hpo bench --problems fidelity --algos tpe,random --pruners none,median,default --budget 100 \\\n      --step-budget 2700 --out bench-pruning\n\nWrites DIR/results.jsonl (one line per problem, optimizer and seed), DIR/report.md and\none SVG plot per problem."
)]
pub struct BenchArgs {
    /// Problems, comma-separated: built-in names, `all` (every built-in problem), `multimodal`
    /// (`levy5_shifted`, `levy20_shifted`, `rastrigin10_shifted`, `schwefel5`), `noisy` (the
    /// noisy variants, `noisy_branin` ...), `fidelity` (the multi-fidelity problems:
    /// `curves_parallel`, `curves_slow_best`, `curves_noisy`, `curves_crossing`,
    /// `sgd_diabetes`, `enet_diabetes`), or paths of
    /// space files (run files with a command objective) to benchmark on your own task.
    #[arg(long, default_value = "all", value_delimiter = ',')]
    pub problems: Vec<String>,
    /// Algorithms, comma-separated: tpe, tpe-hyperopt, random, anneal.
    #[arg(
        long,
        default_value = "random,tpe-hyperopt,anneal,tpe",
        value_delimiter = ','
    )]
    pub algos: Vec<String>,
    /// Studies per (problem, algorithm), with seeds K..K+N (K from --first-seed, default 0).
    #[arg(long, default_value_t = 20)]
    pub seeds: u64,
    /// The first seed K: the studies use seeds K..K+N (e.g. held-out seeds for tuning, apart
    /// from the ones reported).
    #[arg(long, default_value_t = 0, value_name = "K")]
    pub first_seed: u64,
    /// Evaluations per study (with --step-budget, of the studies without pruning only).
    #[arg(long, default_value_t = 100)]
    pub budget: usize,
    /// Total curve steps of each study with a pruner other than `none` (needs --pruners): it
    /// proposes trials until their steps add up to N, the last trial stopped where the budget
    /// ends (recorded pruned), with no trial budget; the `+none` studies keep --budget trials
    /// and are the baseline (e.g. --budget 100 --step-budget 2700: a third of 100 trials of 81
    /// steps). Compared results of pruned studies are cut to N steps.
    #[arg(long, value_name = "N")]
    pub step_budget: Option<u64>,
    /// Pruners, comma-separated, for multi-fidelity problems: none, extrapolate, median,
    /// percentile, asha, hyperband or default (the recommended one, `extrapolate`), each
    /// optionally with settings (`median:n_warmup_steps=10`). Every algorithm runs with every
    /// pruner (`hpo-tpe+median` ...); the report compares each with the same algorithm without
    /// pruning (`+none`, added when missing). `oracle[:tolerance=T][:n_warmup_steps=W]` is a
    /// reference no pruner can beat: it knows each trial's final value, stops at step W (4) every
    /// trial that will not end below the best completed one plus T (0) and gives the sampler the
    /// stopped trials' true final values.
    #[arg(long, value_delimiter = ',')]
    pub pruners: Vec<String>,
    /// Run every trial a pruner stopped on to its end, outside its study (not counted in its
    /// steps, unseen by its sampler), and report how many would have ended below the best trial
    /// their study had completed when they were stopped, and at which steps (needs --pruners;
    /// the results' `hindsight` field)
    #[arg(long)]
    pub hindsight: bool,
    /// Studies run at once (default: one per core). Each study is sequential.
    #[arg(long)]
    pub parallelism: Option<usize>,
    /// Output directory for results.jsonl, report.md and the plots.
    #[arg(long, default_value = "bench-results")]
    pub out: PathBuf,
    /// Results from elsewhere in the same line format (e.g. the anchors' hyperopt and Optuna
    /// results), added to the tables and plots for the same problems; repeatable.
    #[arg(long, value_name = "FILE.jsonl")]
    pub compare: Vec<PathBuf>,
    /// Record the benchmark in the tracking store: one experiment, one run per (problem,
    /// optimizer).
    #[arg(long)]
    pub record: bool,
    /// Experiment name for --record (default bench-<UTC timestamp>).
    #[arg(long, requires = "record")]
    pub experiment: Option<String>,
    /// The known minimum of the space files' losses (overrides `minimum` in their [study]), so
    /// their results are regrets.
    #[arg(long)]
    pub minimum: Option<f64>,
    /// No progress on standard error.
    #[arg(long, short)]
    pub quiet: bool,
}

fn resolve_problems(names: &[String], minimum: Option<f64>) -> anyhow::Result<Vec<BenchProblem>> {
    let mut out: Vec<BenchProblem> = Vec::new();
    for n in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        if n == "all" {
            out.extend(problems::all().into_iter().map(BenchProblem::from));
        } else if let Some(p) = problems::by_name(n) {
            out.push(p.into());
        } else if n == "multimodal" {
            out.extend(multimodal::all().into_iter().map(BenchProblem::from));
        } else if let Some(p) = multimodal::by_name(n) {
            out.push(p.into());
        } else if n == "fidelity" {
            out.extend(fidelity::all().into_iter().map(BenchProblem::from));
        } else if let Some(p) = fidelity::by_name(n) {
            out.push(p.into());
        } else if n == "noisy" {
            out.extend(noisy::all().into_iter().map(BenchProblem::from));
        } else if let Some(p) = noisy::by_name(n) {
            out.push(p.into());
        } else if Path::new(n).is_file() {
            let mut p = BenchProblem::from_run_file(Path::new(n)).map_err(BadInput)?;
            if let Some(m) = minimum {
                if !m.is_finite() {
                    return Err(
                        BadInput(format!("--minimum must be a finite number, got {m}")).into(),
                    );
                }
                p.minimum = Some(m);
            }
            out.push(p);
        } else {
            let names: Vec<&str> = problems::all()
                .iter()
                .map(|p| p.name)
                .chain(multimodal::all().iter().map(|p| p.name))
                .chain(noisy::all().iter().map(|p| p.name))
                .chain(fidelity::all().iter().map(|p| p.name))
                .collect();
            return Err(BadInput(format!(
                "unknown problem '{n}': use all, multimodal, noisy, fidelity, a space file, or one of {}",
                names.join(", ")
            ))
            .into());
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(p.name.clone()));
    if out.is_empty() {
        return Err(BadInput("no problems given".into()).into());
    }
    Ok(out)
}

fn check_algos(names: &[String]) -> anyhow::Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for a in names.iter().map(|a| a.trim()).filter(|a| !a.is_empty()) {
        if algo::by_name(a).is_none() {
            return Err(BadInput(format!(
                "unknown algorithm '{a}': use one of {}",
                ALGORITHM_NAMES.join(", ")
            ))
            .into());
        }
        if !out.iter().any(|o| o == a) {
            out.push(a.to_string());
        }
    }
    if out.is_empty() {
        return Err(BadInput("no algorithms given".into()).into());
    }
    Ok(out)
}

/// Progress on standard error: a bar on a terminal, a line every tenth otherwise.
struct Progress {
    start: Instant,
    tty: bool,
    quiet: bool,
    lock: Mutex<()>,
}

impl Progress {
    fn show(&self, done: usize, total: usize) {
        if self.quiet {
            return;
        }
        let _g = self.lock.lock();
        let elapsed = self.start.elapsed().as_secs_f64();
        let eta = (elapsed / done.max(1) as f64 * (total - done) as f64) as u64;
        let mut err = std::io::stderr();
        if self.tty {
            let width = 30;
            let filled = done * width / total.max(1);
            let _ = write!(
                err,
                "\r[{}{}] {done}/{total} studies, {elapsed:.0}s, ETA {:02}:{:02}   ",
                "#".repeat(filled),
                "-".repeat(width - filled),
                eta / 60,
                eta % 60
            );
            if done == total {
                let _ = writeln!(err);
            }
        } else if done == total || done.is_multiple_of((total / 10).max(1)) {
            let _ = writeln!(err, "bench {done}/{total} studies, {elapsed:.0}s");
        }
    }
}

/// Run `hpo bench`.
pub(crate) fn run(a: BenchArgs, tracking_uri: &Option<String>) -> anyhow::Result<()> {
    let problems = resolve_problems(&a.problems, a.minimum)?;
    let algos = check_algos(&a.algos)?;
    if a.seeds == 0 || a.budget == 0 {
        return Err(BadInput("--seeds and --budget must be at least 1".into()).into());
    }
    let Some(end_seed) = a.first_seed.checked_add(a.seeds) else {
        return Err(BadInput("--first-seed plus --seeds is too large".into()).into());
    };
    if a.parallelism == Some(0) {
        return Err(BadInput("--parallelism must be at least 1".into()).into());
    }
    let mut pruner_specs: Vec<String> = Vec::new();
    for p in a.pruners.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        pruners::parse(p).map_err(BadInput)?;
        if !pruner_specs.iter().any(|q| q == p) {
            pruner_specs.push(p.to_string());
        }
    }
    if !pruner_specs.is_empty() {
        if let Some(p) = problems.iter().find(|p| !p.is_multi_fidelity()) {
            return Err(BadInput(format!(
                "--pruners needs multi-fidelity problems (fidelity, or one of {}); '{}' is not one",
                fidelity::all()
                    .iter()
                    .map(|p| p.name)
                    .collect::<Vec<_>>()
                    .join(", "),
                p.name
            ))
            .into());
        }
        if !pruner_specs.iter().any(|p| p == "none") {
            pruner_specs.insert(0, "none".to_string());
        }
    }
    match a.step_budget {
        Some(0) => return Err(BadInput("--step-budget must be at least 1".into()).into()),
        Some(_) if pruner_specs.is_empty() => {
            return Err(BadInput(
                "--step-budget needs --pruners (it applies to the pruned studies)".into(),
            )
            .into())
        }
        _ => {}
    }
    if a.hindsight && pruner_specs.is_empty() {
        return Err(BadInput(
            "--hindsight needs --pruners (it looks at the stopped trials)".into(),
        )
        .into());
    }
    let mut compare: Vec<ResultLine> = Vec::new();
    for f in &a.compare {
        compare.extend(read_jsonl(f).map_err(BadInput)?);
    }
    let cfg = BenchConfig {
        problems,
        algos,
        seeds: (a.first_seed..end_seed).collect(),
        budget: a.budget,
        step_budget: a.step_budget,
        pruners: pruner_specs,
        parallelism: a.parallelism,
        hindsight: a.hindsight,
    };
    let progress = Progress {
        start: Instant::now(),
        tty: std::io::stderr().is_terminal(),
        quiet: a.quiet,
        lock: Mutex::new(()),
    };
    let results = runner::run(&cfg, &|d, t| progress.show(d, t)).map_err(anyhow::Error::msg)?;

    std::fs::create_dir_all(&a.out)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", a.out.display()))?;
    let mut jsonl = String::new();
    for r in &results {
        jsonl.push_str(&r.to_json());
        jsonl.push('\n');
    }
    write_file(&a.out.join("results.jsonl"), &jsonl)?;

    // hpo's results, then those from elsewhere for the same problems (cut to the budget their
    // optimizer has here)
    let problem_names: Vec<String> = cfg.problems.iter().map(|p| p.name.clone()).collect();
    let mut optimizers: Vec<String> = if cfg.pruners.is_empty() {
        cfg.algos
            .iter()
            .map(|a| runner::optimizer_name(a))
            .collect()
    } else {
        cfg.algos
            .iter()
            .flat_map(|a| {
                cfg.pruners
                    .iter()
                    .map(move |p| runner::pruned_optimizer_name(a, Some(p)))
            })
            .collect()
    };
    let hpo_optimizers = optimizers.clone();
    let mut lines = results.clone();
    let mut short = 0;
    for c in compare {
        if !problem_names.contains(&c.problem) {
            continue;
        }
        let cut = match cfg.study_budget(pruning::pruner_of(&c.optimizer)) {
            StudyBudget::Trials(n) => c.truncated(n),
            StudyBudget::Steps(n) => c.within_steps(n),
        };
        match cut {
            Some(t) => {
                if !optimizers.contains(&t.optimizer) {
                    optimizers.push(t.optimizer.clone());
                }
                lines.push(t);
            }
            None => short += 1,
        }
    }
    if short > 0 {
        eprintln!(
            "warning: {short} compared result(s) have fewer than {} evaluations{} and were left out",
            a.budget,
            a.step_budget
                .map(|n| format!(" (pruned ones: {n} steps)"))
                .unwrap_or_default()
        );
    }
    if !cfg.pruners.is_empty() {
        return pruning_report(
            &a,
            &cfg,
            &lines,
            &problem_names,
            &optimizers,
            &hpo_optimizers,
        );
    }
    let analysis = report::analyse(&lines, &problem_names, &optimizers, a.budget);
    let info = ReportInfo {
        command: command_line(),
        seeds: cfg.seeds.clone(),
        compare: a.compare.iter().map(|p| p.display().to_string()).collect(),
    };
    write_file(
        &a.out.join("report.md"),
        &report::markdown(&analysis, &info),
    )?;
    for p in 0..analysis.problems.len() {
        write_file(
            &a.out.join(report::plot_file(&analysis.problems[p])),
            &report::problem_svg(&analysis, p),
        )?;
    }
    print!("{}", report::summary_table(&analysis));
    println!(
        "\nwrote {} ({} studies), report.md and {} plots",
        a.out.join("results.jsonl").display(),
        results.len(),
        analysis.problems.len()
    );
    if a.record {
        let name = a.experiment.clone().unwrap_or_else(|| {
            let t = super::output::time(now_ms());
            format!("bench-{}", t.replace([' ', ':'], "-"))
        });
        record(&analysis, &lines, &name, tracking_uri)?;
        println!("recorded in experiment '{name}'");
    }
    Ok(())
}

/// The report of a benchmark with pruners: report.md and, on standard output, how each hpo
/// sampler with the `default` pruner (else the first pruner given) meets the targets.
fn pruning_report(
    a: &BenchArgs,
    cfg: &BenchConfig,
    lines: &[ResultLine],
    problems: &[String],
    optimizers: &[String],
    hpo_optimizers: &[String],
) -> anyhow::Result<()> {
    let analysis = pruning::analyse(lines, problems, optimizers, cfg.step_budget);
    // the targets are checked on the default pruner, else the first one that is a pruner
    // (not `none`, not the oracle, which is a reference)
    let checked = cfg
        .pruners
        .iter()
        .find(|p| p.as_str() == "default")
        .or_else(|| {
            cfg.pruners
                .iter()
                .find(|p| p.as_str() != "none" && !pruners::is_oracle(p))
        });
    let others: Vec<String> = optimizers
        .iter()
        .filter(|o| !hpo_optimizers.contains(o) && pruning::baseline_of(o).is_some())
        .cloned()
        .collect();
    let mut checks = Vec::new();
    if let Some(p) = checked {
        for algo in &cfg.algos {
            let name = runner::pruned_optimizer_name(algo, Some(p));
            checks.extend(pruning::check_targets(&analysis, &name, &others));
        }
    }
    write_file(
        &a.out.join("report.md"),
        &pruning::markdown(
            &analysis,
            &checks,
            &command_line(),
            cfg.step_budget,
            &others,
        ),
    )?;
    for pp in &analysis {
        println!("{} (equal steps {})", pp.problem, pp.equal_steps);
        for r in &pp.rows {
            println!(
                "  {:<40} regret {:>10}  steps {:>6.0} ({:.2})  p {:.3}{}  at equal steps {:>10}",
                r.optimizer,
                report::num(r.regret),
                r.steps,
                r.steps_ratio,
                r.p_vs_baseline,
                if r.worse { " worse" } else { "" },
                report::num(r.regret_at_equal)
            );
        }
    }
    if !checks.is_empty() {
        println!("\n{}", pruning::targets_table(&checks));
    }
    println!(
        "wrote {} ({} studies) and report.md",
        a.out.join("results.jsonl").display(),
        lines
            .iter()
            .filter(|l| l.optimizer.starts_with("hpo-"))
            .count()
    );
    Ok(())
}

fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("hpo {}", super::quote::shell_line(&args))
}

/// Record the benchmark: one run per (problem, optimizer) with its summary and curve.
fn record(
    a: &Analysis,
    lines: &[ResultLine],
    experiment: &str,
    tracking_uri: &Option<String>,
) -> anyhow::Result<()> {
    let tracker = open_tracker(tracking_uri)?;
    let exp = tracker.get_or_create_experiment(experiment)?;
    let now = now_ms();
    for (p, prob) in a.problems.iter().enumerate() {
        for (i, opt) in a.optimizers.iter().enumerate() {
            let Some(c) = &a.cells[p][i] else { continue };
            let run = tracker.create_run(exp, Some(&format!("{prob}/{opt}")), None)?;
            let params = vec![
                Param::new("problem", prob.as_str()),
                Param::new("optimizer", opt.as_str()),
                Param::new("budget", a.budget.to_string()),
                Param::new("seeds", c.regrets.len().to_string()),
            ];
            let m = |key: &str, value: f64, step: i64| Metric {
                key: key.to_string(),
                value,
                timestamp: now,
                step,
            };
            let mut metrics = vec![
                m("median_regret", c.median, 0),
                m("regret_q1", c.iqr.0, 0),
                m("regret_q3", c.iqr.1, 0),
                m("mean_rank", c.mean_rank, 0),
                m("rank", a.rankings[p].rank[i] as f64, 0),
            ];
            if let Some(s) = c.suggest_seconds {
                metrics.push(m("suggest_seconds", s, 0));
            }
            for (seed, r) in &c.regrets {
                metrics.push(m("final_regret", *r, *seed as i64));
            }
            for (t, (med, _, _)) in c.curve.iter().enumerate() {
                if med.is_finite() {
                    metrics.push(m("median_best_regret", *med, t as i64 + 1));
                }
            }
            let source = if lines
                .iter()
                .any(|l| &l.problem == prob && &l.optimizer == opt && l.suggest_seconds.is_some())
            {
                "hpo"
            } else {
                "compare"
            };
            let tags = vec![
                RunTag::new("hpo.bench.problem", prob.as_str()),
                RunTag::new("hpo.bench.optimizer", opt.as_str()),
                RunTag::new("hpo.bench.source", source),
            ];
            tracker.log_batch_chunked(&run, &params, &metrics, &tags)?;
            tracker.set_terminated(&run, RunStatus::Finished, Some(now_ms()))?;
        }
    }
    Ok(())
}
