//! `hpo run FILE` (run a study from a run file) and `hpo validate FILE`.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::output::{json, num};
use super::progress::Progress;
use super::resume::{lease_keeper, resume_study};
use super::shared_study::StudySpec;
use super::signals::SignalWatch;
use super::{open_tracker, BadInput};
use crate::algo::{self, ALGORITHM_NAMES};
use crate::bench::problems;
use crate::objective::command::{CommandObjective, MlflowLink};
use crate::runfile::{ObjectiveSpec, RunFile};
use crate::space::Params;
use crate::study::prune::PruneSummary;
use crate::study::{Fmin, Interrupt, Objective};
use crate::tracking::Recorder;
use crate::trial::TrialState;

type MlflowSlot = std::sync::Arc<std::sync::OnceLock<MlflowLink>>;

/// Arguments of `run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The run file (TOML with [study], [objective], [space] and optionally [pruner]).
    pub file: PathBuf,
    /// Total number of trials (resumed trials included).
    #[arg(long)]
    pub max_evals: Option<usize>,
    /// Search algorithm: tpe, tpe-hyperopt, random or anneal.
    #[arg(long)]
    pub algo: Option<String>,
    /// Trials evaluated at once.
    #[arg(long)]
    pub parallelism: Option<usize>,
    /// Seed (same seed and parallelism give the same trials).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Experiment name (default: [study] name, else the file's stem).
    #[arg(long)]
    pub experiment: Option<String>,
    /// Continue the latest study of this name in the experiment (max_evals counts all trials).
    #[arg(long)]
    pub resume: bool,
    /// Print the result as JSON on standard output.
    #[arg(long)]
    pub json: bool,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
    /// Do not start the MLflow server a command's trials log through (no `MLFLOW_*` variables).
    #[arg(long)]
    pub no_trial_server: bool,
}

/// Arguments of `validate`.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The run file.
    pub file: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn load(file: &PathBuf) -> anyhow::Result<RunFile> {
    RunFile::load(file).map_err(|e| BadInput(e.to_string()).into())
}

pub(crate) fn validate(a: ValidateArgs) -> anyhow::Result<()> {
    let rf = load(&a.file)?;
    // what `run` checks before its first trial: the names, the program, the data
    super::preflight::check(&rf, &rf.experiment_name())?;
    drop(objective(&rf, "", rf.study.seed.unwrap_or(0))?);
    if a.json {
        #[derive(Serialize)]
        struct Out {
            file: String,
            experiment: String,
            parameters: Vec<String>,
            space: serde_json::Value,
            warnings: Vec<String>,
        }
        return json(&Out {
            file: rf.path.display().to_string(),
            experiment: rf.experiment_name(),
            parameters: rf.space.params().iter().map(|p| p.label.clone()).collect(),
            space: super::space_json::node_json(rf.space.root()),
            warnings: rf.warnings.iter().map(|w| w.to_string()).collect(),
        });
    }
    print!("{rf}");
    println!("ok");
    Ok(())
}

/// The objective a run file describes (`seed` fixes a linfa objective's data split), with the
/// scratch directory and the MLflow slot of a command objective.
fn objective(rf: &RunFile, uri: &str, seed: u64) -> anyhow::Result<Built> {
    let labels = crate::objective::command::placeholder_names(&rf.space);
    let mut scratch = None;
    let mut mlflow = None;
    let objective: Box<dyn Objective> = match &rf.objective {
        ObjectiveSpec::Command {
            argv,
            timeout,
            grace_period,
            keep_output,
            output_limit,
        } => {
            let mut c = CommandObjective::new(argv.clone(), &labels)
                .map_err(|e| BadInput(format!("{}: {e}", rf.path.display())))?
                .timeout(*timeout)
                .keep_output(*keep_output)
                .tracking_uri(uri);
            if let Some(g) = grace_period {
                c = c.grace_period(*g);
            }
            if let Some(l) = output_limit {
                c = c.output_limit(*l);
            }
            scratch = Some(c.scratch_dir().to_path_buf());
            mlflow = Some(c.mlflow_slot());
            Box::new(c)
        }
        ObjectiveSpec::Function { name } => {
            let problem = problems::by_name(name).ok_or_else(|| {
                BadInput(format!("{}: unknown function '{name}'", rf.path.display()))
            })?;
            let f = problem.loss;
            Box::new(move |p: &Params| f(p))
        }
        ObjectiveSpec::Linfa { .. } => linfa_objective(rf, seed)?,
    };
    Ok(Built {
        objective,
        scratch,
        mlflow,
    })
}

/// What [`objective`] builds.
struct Built {
    objective: Box<dyn Objective>,
    scratch: Option<PathBuf>,
    mlflow: Option<MlflowSlot>,
}

fn linfa_objective(rf: &RunFile, seed: u64) -> anyhow::Result<Box<dyn Objective>> {
    use crate::objective::linfa::{DataSource, LinfaObjective, Validation};
    use crate::runfile::{DataSource as FileData, Validation as FileValidation};
    let ObjectiveSpec::Linfa {
        model,
        data,
        validation,
        metric,
    } = &rf.objective
    else {
        return Err(anyhow::anyhow!("not a linfa objective"));
    };
    let bad =
        |e: crate::objective::linfa::LinfaError| BadInput(format!("{}: {e}", rf.path.display()));
    let data = match data {
        FileData::Bundled(name) => DataSource::builtin(name).map_err(bad)?,
        FileData::Csv { path, target } => DataSource::csv(path.clone(), target.clone()),
    };
    let validation = match validation {
        FileValidation::Holdout(f) => Validation::Holdout { fraction: *f },
        FileValidation::KFold(k) => Validation::KFold { k: *k },
    };
    Ok(Box::new(
        LinfaObjective::new(model, data, validation, metric, seed).map_err(bad)?,
    ))
}

/// The error of a study whose every trial failed (exit code 1), with the last failure's reason.
fn all_failed(trials: &[crate::trial::Trial]) -> anyhow::Error {
    let last = trials.iter().rev().find_map(|t| t.message.clone());
    anyhow::anyhow!(
        "all {} trials failed{}",
        trials.len(),
        last.map(|m| format!("; last failure: {m}"))
            .unwrap_or_default()
    )
}

#[derive(Serialize)]
struct BestOut {
    trial: usize,
    run_id: Option<String>,
    loss: f64,
    params: serde_json::Value,
}

#[derive(Serialize)]
struct RunOut {
    experiment: String,
    study_run_id: Option<String>,
    metric: String,
    trials: usize,
    /// Trials that ended FAILED (not KILLED).
    failed: usize,
    /// Trials the pruner stopped.
    pruned: usize,
    /// Pruned trials and steps saved (when trials reported steps).
    pruning: Option<PruneSummary>,
    /// Trials that were KILLED (a per-trial timeout, an interrupt).
    killed: usize,
    seed: u64,
    stop_reason: String,
    best: Option<BestOut>,
    register: Option<String>,
    recording_failure: Option<super::recording::RecordingFailureOut>,
}

pub(crate) fn run(a: RunArgs, uri: &Option<String>) -> anyhow::Result<()> {
    // the text as read is stored with a shared study, for `hpo worker`
    let (rf, text) = RunFile::load_with_text(&a.file).map_err(|e| BadInput(e.to_string()))?;
    run_file(rf, &text, a, uri)
}

/// Runs the study of run file `rf` (read from `text`) as `hpo run` does; `hpo worker` comes
/// here with the run file stored with the study.
pub(super) fn run_file(
    rf: RunFile,
    text: &str,
    a: RunArgs,
    uri: &Option<String>,
) -> anyhow::Result<()> {
    for w in &rf.warnings {
        eprintln!("warning: {w}");
    }
    let mut study = rf.study.clone();
    if let Some(n) = a.max_evals {
        study.max_evals = n;
    }
    if let Some(p) = a.parallelism {
        study.parallelism = p;
    }
    if let Some(algo) = &a.algo {
        study.algo = algo.clone();
    }
    if study.parallelism == 0 {
        return Err(BadInput("--parallelism must be at least 1".into()).into());
    }
    if study.parallelism > crate::study::MAX_PARALLELISM {
        return Err(BadInput(format!(
            "parallelism {} is too large: at most {} trials run at once (and never more than max_evals)",
            study.parallelism,
            crate::study::MAX_PARALLELISM
        ))
        .into());
    }
    if study.max_evals == 0 {
        return Err(
            BadInput("--max-evals must be at least 1 (the total number of trials)".into()).into(),
        );
    }
    let algorithm = algo::by_name(&study.algo).ok_or_else(|| {
        BadInput(format!(
            "unknown algorithm '{}'; expected one of {}",
            study.algo,
            ALGORITHM_NAMES.join(", ")
        ))
    })?;
    let experiment = a.experiment.clone().unwrap_or_else(|| rf.experiment_name());
    let study_name = experiment.clone();
    let uri_text = uri.clone().unwrap_or_else(|| {
        crate::tracking::default_tracking_uri(
            std::env::var(crate::tracking::TRACKING_URI_ENV)
                .ok()
                .as_deref(),
        )
    });
    // everything the user controls is checked before the store is touched
    super::preflight::check(&rf, &experiment)?;
    let Built {
        objective,
        scratch,
        mlflow,
    } = objective(&rf, &uri_text, a.seed.or(study.seed).unwrap_or(0))?;
    let tracker = open_tracker(uri)?;
    let mut resume = a.resume;
    if resume && tracker.get_experiment_by_name(&experiment)?.is_none() {
        eprintln!(
            "note: --resume: no experiment '{experiment}' yet; starting study '{study_name}'"
        );
        resume = false;
    }
    // the study is shared with every other process running it on this store
    let spec = StudySpec {
        run_file: text.to_string(),
        path: std::path::absolute(&rf.path)
            .unwrap_or_else(|_| rf.path.clone())
            .display()
            .to_string(),
        algo: study.algo.clone(),
        seed: a.seed.or(study.seed),
        experiment: experiment.clone(),
    };
    let joined = super::shared_study::join(
        &tracker,
        &super::shared_study::JoinArgs {
            study_name: &study_name,
            space: &rf.space,
            metric: &study.metric,
            prune_metric: rf
                .pruner
                .as_ref()
                .map(|p| p.metric.clone().unwrap_or_else(|| study.metric.clone())),
            spec: &spec,
            max_evals: study.max_evals,
            retries: study.retries,
            resume,
        },
    )
    .map_err(|e| match e.is::<BadInput>() {
        true => e,
        false => anyhow::anyhow!("the store {uri_text}: {e:#}"),
    })?;
    let mut resumed = None;
    let mut keeper = None;
    let mut coordinator = None;
    let mut recorder = match joined {
        Some(worker) => {
            study.max_evals = worker.max_evals();
            let (r, shared) = worker.into_parts();
            coordinator = Some(shared);
            r
        }
        None => {
            // a store that cannot share a study: this process runs it alone, under its lease
            let recorder = Recorder::new(&tracker, &experiment)?
                .study_name(&study_name)
                .metric(&study.metric);
            let lease = match a.resume {
                true => resume_study(&tracker, &experiment, &study_name, &rf.space, &study.metric)?
                    .map(|r| {
                        resumed = Some(r.study);
                        r.lease
                    }),
                false => None,
            };
            let (r, k) = lease_keeper(&tracker, recorder, lease);
            keeper = Some(k);
            r
        }
    };
    // a command's trials log into their runs as MLflow clients, through a server of this study
    let server = match mlflow.filter(|_| !a.no_trial_server) {
        Some(slot) => Some(super::trial_server::start(&tracker, &experiment, &slot)?),
        None => None,
    };
    let mut builder = Fmin::new(objective, &rf.space)
        .algo_boxed(algorithm)
        .max_evals(study.max_evals)
        .parallelism(study.parallelism);
    let seed = a
        .seed
        .or(study.seed)
        .or(resumed.as_ref().and_then(|r| r.seed));
    if let Some(s) = seed {
        builder = builder.seed(s);
    }
    if let Some(t) = study.timeout {
        builder = builder.timeout(t);
    }
    if let Some(l) = study.loss_threshold {
        builder = builder.loss_threshold(l);
    }
    if let Some(n) = study.no_progress {
        builder = builder.no_progress(n);
    }
    if let Some(p) = &rf.pruner {
        let watched = p.metric.clone().unwrap_or_else(|| study.metric.clone());
        if let Some(r) = &resumed {
            // the pruner compares new trials with the resumed ones too
            let curves = crate::tracking::curves::load_curves(&tracker, r, &watched)?;
            builder = builder.prior_curves(curves);
        }
        builder = builder.pruner_boxed(p.kind.build()).prune_metric(watched);
    }
    if let Some(r) = resumed {
        if r.trials.len() >= study.max_evals {
            eprintln!(
                "the study already has {} trials (max_evals {}): nothing to run",
                r.trials.len(),
                study.max_evals
            );
        }
        recorder = recorder.resume(&r.parent, r.runs);
        builder = builder.prior_trials(r.trials);
    }
    let handle = recorder.handle();
    // Ctrl-C, SIGTERM and SIGHUP stop the study cleanly (see `signals`)
    let interrupt = Interrupt::new();
    let hard_exit = {
        let tracker = tracker.clone();
        move || {
            if let Err(e) = tracker.flush() {
                eprintln!("tracking error: {e}");
            }
            if let Some(dir) = &scratch {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    };
    let watch = SignalWatch::start(interrupt.clone(), hard_exit)?;
    let mut builder = builder.interrupt(interrupt).observer(recorder);
    if let Some(keeper) = keeper {
        builder = builder.observer(keeper);
    }
    if let Some(c) = coordinator {
        builder = builder.coordinator(c);
    }
    let result = builder
        .observer(Progress::new(&study.metric, a.quiet || a.json))
        .run();
    let signal = watch.received();
    drop(watch);
    drop(server);
    let result = result?;
    let recording = super::recording::Recording::read(&handle, &uri_text);
    let count = |s: TrialState| result.trials.iter().filter(|t| t.state == s).count();
    let (failed, killed) = (count(TrialState::Failed), count(TrialState::Killed));
    let pruning = PruneSummary::of(&result.trials);
    let pruned = pruning.map_or(0, |p| p.pruned);
    // only a trial whose run is in the store is named
    let best = recording.best(&result);
    let study_run = handle.study_run_id();
    let uri_flag = match uri {
        Some(u)
            if std::env::var(crate::tracking::TRACKING_URI_ENV)
                .ok()
                .as_deref()
                != Some(u) =>
        {
            format!(" --tracking-uri {}", super::quote::shell_quote(u))
        }
        _ => String::new(),
    };
    let register = study_run.as_ref().filter(|_| best.is_some()).map(|id| {
        let name = super::quote::shell_quote(&format!("{experiment}-model"));
        format!(
            "hpo register --study {} --name {name} --alias champion{uri_flag}",
            super::quote::shell_quote(id)
        )
    });
    let ended = |printed: anyhow::Result<()>| match signal {
        Some(s) => printed.and(Err(s.into())),
        None => printed,
    };
    // a study whose recording failed is not offered for registering
    let register = register.filter(|_| !recording.failed());
    if a.json {
        let printed = json(&RunOut {
            experiment: experiment.clone(),
            study_run_id: study_run.clone(),
            metric: study.metric.clone(),
            trials: result.trials.len(),
            failed,
            killed,
            pruned,
            pruning,
            seed: result.seed,
            stop_reason: result.stop_reason.to_string(),
            best: best.map(|b| BestOut {
                trial: b.number,
                run_id: handle.trial_run_id(b.number),
                loss: b.loss.unwrap_or(f64::NAN),
                params: b.params.to_json(),
            }),
            register,
            recording_failure: recording.json(),
        });
        // the JSON is printed either way; the exit code does not depend on --json
        return ended(
            printed
                .and_then(|()| recording.result())
                .and_then(|()| match best {
                    None if signal.is_some() => Ok(()),
                    None => Err(all_failed(&result.trials)),
                    Some(_) => Ok(()),
                }),
        );
    }
    match best {
        None if recording.failed() => eprintln!("no trial of this study is in the store"),
        None if signal.is_some() => {
            eprintln!(
                "interrupted before any trial finished ({} trials recorded)",
                result.trials.len()
            );
            return ended(recording.result());
        }
        None => return Err(all_failed(&result.trials)),
        Some(b) => {
            let best_label = format!("best {}", study.metric);
            let w = best_label.chars().count().max("register it:".len());
            let ok = result.trials.len() - failed - killed - pruned;
            let mut counts = format!("{} trials: {ok} ok, {failed} failed", result.trials.len());
            if killed > 0 {
                counts.push_str(&format!(", {killed} killed"));
            }
            if pruned > 0 {
                counts.push_str(&format!(", {pruned} pruned"));
            }
            // trial numbers are 0-based, as in the store (run trial-N), and always shown as #N
            println!(
                "{best_label:<w$} {} (trial #{}; {counts})",
                num(b.loss.unwrap_or(f64::NAN)),
                b.number,
            );
            println!("{:<w$} {}", "best params", b.params.to_json());
            if let Some(p) = pruning.filter(|p| p.pruned > 0) {
                println!("{:<w$} {p}", "pruning");
            }
            if let Some(id) = study_run
                .as_ref()
                .filter(|_| recording.study_run_complete())
            {
                println!(
                    "{:<w$} {id} (experiment '{experiment}', seed {})",
                    "study run", result.seed
                );
            }
            if let Some(r) = &register {
                println!("{:<w$} {r}", "register it:");
            }
        }
    }
    ended(recording.result())
}
