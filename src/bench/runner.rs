//! Run a benchmark: every (problem, algorithm, seed) cell is one sequential study, and the cells
//! run in parallel. Results come back in a fixed order (problems, then algorithms, then seeds as
//! given) and depend only on the cell, so the same benchmark gives the same results.

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::fidelity::{CurveRun, FidelityProblem, STEPS};
use super::noisy::{standard_normal, NoisyProblem, TRUE_LOSS};
use super::problems::{self, Problem};
use super::pruners;
use super::results::{Hindsight, ResultLine};
use super::step_budget::StepBudget;
use crate::algo::{self, Algorithm, TrialRng};
use crate::objective::command::CommandObjective;
use crate::runfile::{ObjectiveSpec, RunFile};
use crate::space::{Assignment, Node, Params, Space, Value};
use crate::study::{with_context, Fmin, Objective, TrialContext};
use crate::trial::{HistoryView, TrialResult, FORECAST};

/// What a benchmark problem evaluates.
#[derive(Clone, Debug)]
pub enum ProblemObjective {
    /// A built-in loss.
    Builtin(fn(&Params) -> f64),
    /// A built-in loss plus Gaussian noise of this sd, drawn from (study seed, trial number);
    /// the noiseless value is reported as the metric `true_loss`.
    Noisy(fn(&Params) -> f64, f64),
    /// A learning curve of a multi-fidelity problem, reported step by step to the study's
    /// pruner; the score (metric `true_loss`) is the curve's noiseless final value.
    Curves(FidelityProblem),
    /// A command from a space file (a fresh [`CommandObjective`] per study).
    Command {
        /// Program and arguments with placeholders.
        argv: Vec<String>,
        /// Per-trial time limit.
        timeout: Option<Duration>,
        /// The labels the placeholders may name.
        labels: Vec<String>,
    },
}

/// A problem of a benchmark: a built-in one or a space file.
#[derive(Clone, Debug)]
pub struct BenchProblem {
    /// The problem's name (a space file's stem).
    pub name: String,
    /// The search space.
    pub space: Space,
    /// What a trial evaluates.
    pub objective: ProblemObjective,
    /// The known minimum (a built-in problem's, or `minimum` in a run file's [study]); `None`
    /// for a command without one (regret is then the best loss).
    pub minimum: Option<f64>,
    /// A reported metric holding the noiseless loss (`score_metric` in a run file's [study]): the
    /// score after each trial is its value at the trial with the best observed loss so far.
    pub score_metric: Option<String>,
}

impl From<Problem> for BenchProblem {
    fn from(p: Problem) -> Self {
        BenchProblem {
            name: p.name.to_string(),
            space: p.space,
            objective: ProblemObjective::Builtin(p.loss),
            minimum: Some(p.minimum),
            score_metric: None,
        }
    }
}

impl From<NoisyProblem> for BenchProblem {
    fn from(p: NoisyProblem) -> Self {
        BenchProblem {
            name: p.name.to_string(),
            space: p.base.space,
            objective: ProblemObjective::Noisy(p.base.loss, p.sd),
            minimum: Some(p.base.minimum),
            score_metric: Some(TRUE_LOSS.to_string()),
        }
    }
}

impl From<FidelityProblem> for BenchProblem {
    fn from(p: FidelityProblem) -> Self {
        BenchProblem {
            name: p.name.to_string(),
            space: p.space.clone(),
            minimum: p.minimum,
            objective: ProblemObjective::Curves(p),
            score_metric: Some(TRUE_LOSS.to_string()),
        }
    }
}

impl BenchProblem {
    /// Whether its evaluations are learning curves (a multi-fidelity problem).
    pub fn is_multi_fidelity(&self) -> bool {
        matches!(self.objective, ProblemObjective::Curves(_))
    }

    /// A problem from a space (run) file: its space and its objective. The minimum is
    /// `minimum` of its [study], else a `function` objective's built-in one; a command passes
    /// the study's seed to its program as `HPO_SEED`.
    pub fn from_run_file(path: &Path) -> Result<BenchProblem, String> {
        let rf = RunFile::load(path).map_err(|e| e.to_string())?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let (objective, minimum) = match &rf.objective {
            ObjectiveSpec::Command { argv, timeout, .. } => {
                let mut labels: Vec<String> =
                    rf.space.params().iter().map(|p| p.label.clone()).collect();
                if let Node::Map(items) = rf.space.root() {
                    labels.extend(items.iter().map(|(k, _)| k.clone()));
                }
                // check the placeholders now rather than in every study
                let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
                CommandObjective::check(argv, &refs)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                (
                    ProblemObjective::Command {
                        argv: argv.clone(),
                        timeout: *timeout,
                        labels,
                    },
                    None,
                )
            }
            ObjectiveSpec::Function { name } => {
                let p = problems::by_name(name)
                    .ok_or_else(|| format!("{}: unknown function '{name}'", path.display()))?;
                (ProblemObjective::Builtin(p.loss), Some(p.minimum))
            }
            ObjectiveSpec::Linfa { .. } => {
                return Err(format!(
                    "{}: linfa objectives cannot be benchmarked (use a command)",
                    path.display()
                ))
            }
        };
        Ok(BenchProblem {
            name,
            space: rf.space,
            objective,
            minimum: rf.study.minimum.or(minimum),
            score_metric: rf.study.score_metric.clone(),
        })
    }
}

/// An algorithm that adds the time spent in `suggest` to a shared counter.
#[derive(Debug)]
pub struct Timed {
    inner: Box<dyn Algorithm>,
    nanos: Arc<AtomicU64>,
}

impl Timed {
    /// Wrap `inner`; returns the wrapper and the counter (nanoseconds).
    pub fn new(inner: Box<dyn Algorithm>) -> (Timed, Arc<AtomicU64>) {
        let nanos = Arc::new(AtomicU64::new(0));
        (
            Timed {
                inner,
                nanos: nanos.clone(),
            },
            nanos,
        )
    }
}

impl Algorithm for Timed {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn suggest(&self, space: &Space, history: &HistoryView<'_>, rng: &mut TrialRng) -> Assignment {
        let start = Instant::now();
        let a = self.inner.suggest(space, history, rng);
        self.nanos
            .fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        a
    }
    fn settings(&self) -> std::collections::BTreeMap<String, Value> {
        self.inner.settings()
    }
    fn learns_from_stopped_trials(&self) -> bool {
        self.inner.learns_from_stopped_trials()
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// The problems.
    pub problems: Vec<BenchProblem>,
    /// Algorithm names known to [`algo::by_name`].
    pub algos: Vec<String>,
    /// The seeds of each (problem, algorithm).
    pub seeds: Vec<u64>,
    /// Evaluations per study (under [`BenchConfig::step_budget`], of the studies without a
    /// pruner only).
    pub budget: usize,
    /// Total curve steps of each multi-fidelity study with a pruner other than `none`: such a
    /// study keeps proposing trials until its trials' steps reach it (the last trial stops there,
    /// recorded pruned) and has no trial budget; the studies without pruning keep `budget`
    /// trials, the baseline the pruned ones are compared with. `None`: every study has `budget`
    /// trials.
    pub step_budget: Option<u64>,
    /// Pruners (specs of [`pruners::parse`]) each multi-fidelity study is run with; empty: no
    /// pruner, and optimizer names without a pruner part.
    pub pruners: Vec<String>,
    /// Studies at once (`None`: one per core).
    pub parallelism: Option<usize>,
    /// Run every trial a pruner stopped on to its end, outside the study, and record what it
    /// would have ended at ([`Hindsight`]).
    pub hindsight: bool,
}

/// The optimizer name of hpo's algorithm `algo` in results (`hpo-tpe` ...).
pub fn optimizer_name(algo: &str) -> String {
    format!("hpo-{algo}")
}

/// The optimizer name of hpo's algorithm `algo` with pruner `pruner` (`hpo-tpe+median` ...).
pub fn pruned_optimizer_name(algo: &str, pruner: Option<&str>) -> String {
    match pruner {
        Some(p) => format!("hpo-{algo}+{p}"),
        None => optimizer_name(algo),
    }
}

/// How long one study runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StudyBudget {
    /// This many trials.
    Trials(usize),
    /// Trials until their curves ran this many steps in total, the last one stopped (pruned)
    /// where the budget ends; only for a multi-fidelity problem.
    Steps(u64),
}

impl BenchConfig {
    /// The budget of a study with `pruner` (see [`BenchConfig::step_budget`]).
    pub fn study_budget(&self, pruner: Option<&str>) -> StudyBudget {
        match (self.step_budget, pruner) {
            (Some(steps), Some(p)) if p != "none" => StudyBudget::Steps(steps),
            _ => StudyBudget::Trials(self.budget),
        }
    }
}

/// The last observed value of a fresh curve run to its end, and its score.
fn run_to_the_end(run: CurveRun) -> (f64, f64) {
    run_on(run, 0, f64::NAN)
}

/// The last observed value and the score of `run`, at step `step` where it reported `value`,
/// once run on to its last step.
fn run_on(mut run: CurveRun, step: i64, value: f64) -> (f64, f64) {
    let mut last = value;
    for _ in step..STEPS {
        last = run.step().1;
    }
    (last, run.score(last))
}

/// The stopped trials of one study so far, and the best final score of its completed trials.
#[derive(Debug)]
struct HindsightLog {
    log: Hindsight,
    best: f64,
}

impl HindsightLog {
    fn new() -> Arc<Mutex<HindsightLog>> {
        Arc::new(Mutex::new(HindsightLog {
            log: Hindsight::default(),
            best: f64::INFINITY,
        }))
    }
}

/// Note a trial stopped at `step` whose curve, run on, would have been scored `score`.
fn note_stopped(log: &Mutex<HindsightLog>, step: i64, score: f64) {
    if let Ok(mut h) = log.lock() {
        h.log.stopped += 1;
        if score < h.best {
            h.log.beaten_at.push(step);
        }
    }
}

/// Note a completed trial scored `score`.
fn note_completed(log: &Mutex<HindsightLog>, score: f64) {
    if let Ok(mut h) = log.lock() {
        h.best = h.best.min(score);
    }
}

/// Run one study of `algo_name` (with `pruner`, a spec of [`pruners::parse`]) on `problem`.
pub fn run_study(
    problem: &BenchProblem,
    algo_name: &str,
    pruner: Option<&str>,
    seed: u64,
    budget: StudyBudget,
) -> Result<ResultLine, String> {
    run_study_with(problem, algo_name, pruner, seed, budget, false)
}

/// [`run_study`], and with `hindsight` (and a pruner) every trial the pruner stops is run on to
/// its end outside the study, its score compared with the best completed trial's
/// ([`ResultLine::hindsight`]).
pub fn run_study_with(
    problem: &BenchProblem,
    algo_name: &str,
    pruner: Option<&str>,
    seed: u64,
    budget: StudyBudget,
    hindsight: bool,
) -> Result<ResultLine, String> {
    let hindsight =
        (hindsight && pruner.is_some_and(|p| p != "none") && problem.is_multi_fidelity())
            .then(HindsightLog::new);
    let step_budget = match budget {
        StudyBudget::Steps(limit) if problem.is_multi_fidelity() => Some(StepBudget::new(limit)),
        StudyBudget::Steps(_) => {
            return Err(format!(
                "{}: a step budget needs a multi-fidelity problem",
                problem.name
            ))
        }
        StudyBudget::Trials(_) => None,
    };
    let algo =
        algo::by_name(algo_name).ok_or_else(|| format!("unknown algorithm '{algo_name}'"))?;
    let (timed, nanos) = Timed::new(algo);
    let start = Instant::now();
    let objective: Box<dyn Objective> = match &problem.objective {
        ProblemObjective::Builtin(f) => {
            let f = *f;
            Box::new(move |p: &Params| f(p))
        }
        ProblemObjective::Noisy(f, sd) => {
            let (f, sd) = (*f, *sd);
            Box::new(with_context(move |p: &Params, ctx: &TrialContext| {
                let clean = f(p);
                TrialResult::ok(clean + sd * standard_normal(seed, ctx.number()))
                    .with_metric(TRUE_LOSS, clean)
            }))
        }
        ProblemObjective::Curves(fp) => {
            let fp = fp.clone();
            let steps_left = step_budget.clone();
            let oracle = pruner.map(pruners::oracle).transpose()?.flatten();
            let hindsight = hindsight.clone();
            Box::new(with_context(move |p: &Params, ctx: &TrialContext| {
                let mut run = CurveRun::new(&fp, p, seed, ctx.number());
                // the oracle's foresight: the value this trial will end at, and its score
                let ending = oracle.as_ref().map(|_| run_to_the_end(run.clone()));
                let mut last = f64::NAN;
                for _ in 0..STEPS {
                    if steps_left.as_ref().is_some_and(|b| !b.take()) {
                        return TrialResult::pruned();
                    }
                    let (step, value) = run.step();
                    last = value;
                    if ctx.report(step, value) {
                        if let Some(h) = &hindsight {
                            note_stopped(h, step, run_on(run.clone(), step, value).1);
                        }
                        return TrialResult::pruned();
                    }
                    if let (Some(o), Some((end, score))) = (&oracle, ending) {
                        if o.stops(step, score) {
                            if let Some(h) = &hindsight {
                                note_stopped(h, step, score);
                            }
                            return TrialResult::pruned().with_metric(FORECAST, end);
                        }
                    }
                }
                let score = run.score(last);
                if let Some(h) = &hindsight {
                    note_completed(h, score);
                }
                if let Some(o) = &oracle {
                    o.completed(score);
                }
                TrialResult::ok(last).with_metric(TRUE_LOSS, score)
            }))
        }
        ProblemObjective::Command {
            argv,
            timeout,
            labels,
        } => {
            let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
            Box::new(
                CommandObjective::new(argv.clone(), &refs)
                    .map_err(|e| e.to_string())?
                    .timeout(*timeout)
                    .env("HPO_SEED", &seed.to_string()),
            )
        }
    };
    let max_evals = match budget {
        StudyBudget::Trials(n) => n,
        // every trial but the last runs at least one step
        StudyBudget::Steps(limit) => usize::try_from(limit).unwrap_or(usize::MAX).max(1),
    };
    let mut fmin = Fmin::new(objective, &problem.space)
        .algo(timed)
        .max_evals(max_evals)
        .seed(seed)
        .parallelism(1);
    if let Some(spec) = pruner {
        fmin = fmin.pruner_boxed(pruners::parse(spec)?);
    }
    if let Some(b) = step_budget.clone() {
        fmin = fmin.observer(b);
    }
    let result = fmin
        .run()
        .map_err(|e| format!("{} / {algo_name} / seed {seed}: {e}", problem.name))?;
    let seconds = start.elapsed().as_secs_f64();
    let best = match &problem.score_metric {
        Some(metric) => scored_trace(&result.trials, metric),
        None => result.best_so_far(),
    };
    let last = best.last().copied().unwrap_or(f64::INFINITY);
    let steps = problem.is_multi_fidelity().then(|| {
        let mut total = 0u64;
        result
            .trials
            .iter()
            .map(|t| {
                total += t.last_step.unwrap_or(0).max(0) as u64;
                total
            })
            .collect()
    });
    Ok(ResultLine {
        problem: problem.name.clone(),
        optimizer: pruned_optimizer_name(algo_name, pruner),
        seed,
        budget: best.len(),
        step_budget: step_budget.map(|b| b.limit()),
        regret: last - problem.minimum.unwrap_or(0.0),
        best,
        minimum: problem.minimum,
        seconds,
        suggest_seconds: Some(nanos.load(Ordering::Relaxed) as f64 * 1e-9),
        steps,
        hindsight: hindsight.and_then(|h| h.lock().ok().map(|h| h.log.clone())),
    })
}

/// After each trial, the value of `metric` at the trial with the best observed loss so far
/// (`inf` before the first ok trial, or while that trial did not report the metric).
pub fn scored_trace(trials: &[crate::trial::Trial], metric: &str) -> Vec<f64> {
    let mut best: Option<(f64, f64)> = None;
    trials
        .iter()
        .map(|t| {
            if let Some(l) = t.ok_loss() {
                if best.is_none_or(|(b, _)| l < b) {
                    let score = t.metrics.get(metric).copied().unwrap_or(f64::INFINITY);
                    best = Some((l, score));
                }
            }
            best.map_or(f64::INFINITY, |(_, s)| s)
        })
        .collect()
}

/// Run every (problem, algorithm, seed) cell; `progress(done, total)` is called after each.
pub fn run(
    cfg: &BenchConfig,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<ResultLine>, String> {
    for a in &cfg.algos {
        if algo::by_name(a).is_none() {
            return Err(format!("unknown algorithm '{a}'"));
        }
    }
    for spec in &cfg.pruners {
        pruners::parse(spec)?;
    }
    let pruner_list: Vec<Option<&str>> = if cfg.pruners.is_empty() {
        vec![None]
    } else {
        cfg.pruners.iter().map(|p| Some(p.as_str())).collect()
    };
    let pruner_list = &pruner_list;
    let cells: Vec<(usize, &str, Option<&str>, u64)> = (0..cfg.problems.len())
        .flat_map(|p| {
            cfg.algos.iter().flat_map(move |a| {
                pruner_list
                    .iter()
                    .flat_map(move |&pr| cfg.seeds.iter().map(move |&s| (p, a.as_str(), pr, s)))
            })
        })
        .collect();
    let total = cells.len();
    let done = AtomicUsize::new(0);
    let work = || {
        cells
            .par_iter()
            .map(|&(p, a, pr, s)| {
                let budget = cfg.study_budget(pr);
                let r = run_study_with(&cfg.problems[p], a, pr, s, budget, cfg.hindsight);
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                r
            })
            .collect::<Result<Vec<_>, String>>()
    };
    let mut builder = rayon::ThreadPoolBuilder::new().thread_name(|i| format!("hpo-bench-{i}"));
    if let Some(k) = cfg.parallelism {
        builder = builder.num_threads(k.max(1));
    }
    let pool = builder.build().map_err(|e| e.to_string())?;
    pool.install(work)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timing_wrapper_says_what_its_algorithm_learns_from() {
        // the pruner's tangent check follows it: on with random search, off with TPE
        for (name, learns) in [("tpe", true), ("random", false), ("anneal", false)] {
            let (timed, _) = Timed::new(algo::by_name(name).unwrap());
            assert_eq!(timed.learns_from_stopped_trials(), learns, "{name}");
        }
    }

    #[test]
    fn results_are_in_order_and_reproducible() {
        let cfg = BenchConfig {
            problems: vec![problems::by_name("branin").unwrap().into()],
            algos: vec!["random".into(), "tpe".into()],
            seeds: vec![0, 1],
            budget: 12,
            step_budget: None,
            pruners: Vec::new(),
            hindsight: false,
            parallelism: Some(2),
        };
        let a = run(&cfg, &|_, _| {}).unwrap();
        let b = run(&cfg, &|_, _| {}).unwrap();
        let key = |r: &ResultLine| (r.optimizer.clone(), r.seed, r.best.clone());
        assert_eq!(
            a.iter().map(key).collect::<Vec<_>>(),
            b.iter().map(key).collect::<Vec<_>>()
        );
        let order: Vec<(String, u64)> = a.iter().map(|r| (r.optimizer.clone(), r.seed)).collect();
        assert_eq!(
            order,
            vec![
                ("hpo-random".to_string(), 0),
                ("hpo-random".to_string(), 1),
                ("hpo-tpe".to_string(), 0),
                ("hpo-tpe".to_string(), 1)
            ]
        );
        assert!(a.iter().all(|r| r.best.len() == 12 && r.regret >= 0.0));
        assert!(a.iter().all(|r| r.suggest_seconds.unwrap() >= 0.0));
    }

    /// The steps each trial of `line` ran.
    fn steps_per_trial(line: &ResultLine) -> Vec<u64> {
        let steps = line.steps.clone().unwrap();
        std::iter::once(steps[0])
            .chain(steps.windows(2).map(|w| w[1] - w[0]))
            .collect()
    }

    #[test]
    fn a_curve_run_on_from_any_step_ends_where_it_would_have() {
        let fp = crate::bench::fidelity::by_name("sgd_diabetes").unwrap();
        let raw = [("lr", 0.004), ("momentum", 0.5), ("l2", 1e-3)]
            .map(|(k, v)| (k.to_string(), Value::Float(v)))
            .into_iter()
            .collect();
        let params = fp
            .space
            .params_of(fp.space.assignment_from_raw(&raw).unwrap());
        let fresh = CurveRun::new(&fp, &params, 0, 0);
        let whole = run_to_the_end(fresh.clone()).1;
        for stop in [1, 4, 80, 81] {
            let mut run = fresh.clone();
            let mut value = f64::NAN;
            for _ in 0..stop {
                value = run.step().1;
            }
            assert_eq!(run_on(run, stop, value).1, whole, "stopped at {stop}");
        }
    }

    #[test]
    fn hindsight_counts_the_stopped_trials_that_would_have_beaten_the_best() {
        let problem: BenchProblem = crate::bench::fidelity::by_name("curves_slow_best")
            .unwrap()
            .into();
        let budget = StudyBudget::Steps(1500);
        let run = |pruner, hindsight| {
            run_study_with(&problem, "random", Some(pruner), 2, budget, hindsight).unwrap()
        };
        let median = run("median", true);
        let h = median.hindsight.clone().unwrap();
        // every trial that ran fewer than 81 steps was stopped, the pruner's, but the last
        // one may have been cut by the budget instead
        let ran = steps_per_trial(&median);
        let short = ran.iter().filter(|&&s| s < 81).count() as u64;
        assert!((short - 1..=short).contains(&h.stopped), "{h:?} {ran:?}");
        let stopped = h.stopped as usize;
        // the median pruner stops slow starters, which end best, while they still look bad
        assert!(
            !h.beaten_at.is_empty() && h.beaten_at.len() < stopped,
            "{h:?}"
        );
        assert!(h.beaten_at.iter().all(|&s| (1..81).contains(&s)), "{h:?}");
        // running the stopped trials on changes nothing in the study
        let without = run("median", false);
        assert_eq!((without.best, without.steps), (median.best, median.steps));
        assert_eq!(without.hindsight, None);
        // the oracle stops only trials that would not end below the best completed one
        let oracle = run("oracle", true).hindsight.unwrap();
        assert!(
            oracle.stopped > 10 && oracle.beaten_at.is_empty(),
            "{oracle:?}"
        );
        // and without a pruner there is nothing to look at
        let none = run_study_with(&problem, "random", Some("none"), 2, budget, true).unwrap();
        assert_eq!(none.hindsight, None);
    }

    #[test]
    fn the_oracle_completes_only_new_bests_and_stops_the_rest_at_the_warm_up() {
        let problem: BenchProblem = crate::bench::fidelity::by_name("curves_parallel")
            .unwrap()
            .into();
        let line = run_study(
            &problem,
            "random",
            Some("oracle:n_warmup_steps=3"),
            5,
            StudyBudget::Steps(1000),
        )
        .unwrap();
        assert_eq!(line.steps.as_ref().and_then(|s| s.last()), Some(&1000));
        let ran = steps_per_trial(&line);
        // every trial but the one the budget cut ran 81 steps or was stopped at step 3
        let (cut, whole) = ran.split_last().unwrap();
        assert!(*cut <= 81);
        assert!(whole.iter().all(|&s| s == 81 || s == 3), "{ran:?}");
        assert!(whole.iter().filter(|&&s| s == 3).count() > 100);
        // and a trial ran to its end exactly when it became the new best
        let mut previous = f64::INFINITY;
        for (i, &s) in whole.iter().enumerate() {
            assert_eq!(s == 81, line.best[i] < previous, "trial {i}: {ran:?}");
            previous = line.best[i];
        }
        assert!(pruners::oracle("oracle:tolerance=-1").is_err());
        assert!(pruners::oracle("oracle:patience=2").is_err());
        assert!(pruners::oracle("median").unwrap().is_none());
    }
}
