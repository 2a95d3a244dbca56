//! Run files: the TOML file `hpo run space.toml` reads, with a `[study]`, an `[objective]` and a
//! `[space]` table, and optionally a `[pruner]` (see [`PrunerSpec`]).
//!
//! ```toml
//! [study]
//! name = "nyc-taxi-xgboost"   # default: the file's stem
//! algo = "tpe"                # tpe | tpe-hyperopt | random | anneal
//! max_evals = 50
//! timeout = "10m"
//!
//! [objective]                 # exactly one of command / linfa / function
//! command = ["python3", "train.py", "--lr", "{learning_rate}"]
//!
//! [space]
//! learning_rate = { loguniform = [-3, 0] }
//! ```
//!
//! [`RunFile::load`] reads and validates everything; every error is a [`Diagnostic`] naming
//! `file:line:column` of the offending value and what would be valid. The space format is
//! described in [`crate::space::toml`].

mod duration;
mod parse;
mod pruner;
mod read;
pub mod shell;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::space::Space;

pub use duration::{format_duration, parse_duration, DURATION_HELP};
pub use pruner::{pruner_keys, PrunerKind, PrunerSpec};
pub use read::MAX_RUN_FILE_BYTES;

/// The keys `[study]` accepts.
pub const STUDY_KEYS: [&str; 12] = [
    "name",
    "algo",
    "max_evals",
    "parallelism",
    "seed",
    "metric",
    "timeout",
    "loss_threshold",
    "no_progress",
    "minimum",
    "score_metric",
    "retries",
];

/// The keys `[objective]` accepts.
pub const OBJECTIVE_KEYS: [&str; 13] = [
    "command",
    "timeout",
    "grace_period",
    "keep_output",
    "output_limit",
    "linfa",
    "dataset",
    "csv",
    "target",
    "validation",
    "folds",
    "metric",
    "function",
];

/// The models a `linfa` objective can fit.
pub const LINFA_MODELS: [&str; 6] = [
    "linear",
    "elasticnet",
    "lasso",
    "ridge",
    "tweedie",
    "decision_tree",
];

/// The data sets bundled with the `linfa` objectives.
pub const LINFA_DATASETS: [&str; 3] = ["diabetes", "winequality", "iris"];

/// The metrics a `linfa` objective can report.
pub const LINFA_METRICS: [&str; 4] = ["rmse", "mae", "r2", "accuracy"];

/// Placeholders a command may use besides the space's labels.
pub const COMMAND_PLACEHOLDERS: [&str; 2] = crate::objective::command::TRIAL_PLACEHOLDERS;

/// A message about a place in a file: `file:line:column: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, as given to [`RunFile::load`] or [`RunFile::parse`].
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong and what would be valid.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// Why a run file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RunFileError {
    /// The file could not be read.
    #[error("{}: cannot read the run file: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The path is not a regular file (a directory, a FIFO, a socket, a device).
    #[error("{}: not a regular file ({kind}); a run file must be a regular TOML file", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead (`directory`, `FIFO`, ...).
        kind: &'static str,
    },
    /// The file is larger than [`MAX_RUN_FILE_BYTES`].
    #[error("{}: the run file is larger than the limit of {limit} bytes (1 MB); a run file describes a study, data belongs in a separate file", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// The file is not valid TOML.
    #[error("{0}")]
    Syntax(Diagnostic),
    /// The file is valid TOML but not a valid run file.
    #[error("{0}")]
    Invalid(Diagnostic),
}

impl RunFileError {
    /// The located message, for syntax and semantic errors.
    pub fn diagnostic(&self) -> Option<&Diagnostic> {
        match self {
            RunFileError::Io { .. }
            | RunFileError::NotAFile { .. }
            | RunFileError::TooLarge { .. } => None,
            RunFileError::Syntax(d) | RunFileError::Invalid(d) => Some(d),
        }
    }
}

/// The `[study]` table: how to search.
#[derive(Clone, Debug, PartialEq)]
pub struct StudySettings {
    /// Experiment name; `None` means the run file's stem ([`RunFile::experiment_name`]).
    pub name: Option<String>,
    /// Algorithm name, one of [`crate::algo::ALGORITHM_NAMES`] (default `tpe`).
    pub algo: String,
    /// Number of trials (default 100).
    pub max_evals: usize,
    /// Trials evaluated at once (default 1).
    pub parallelism: usize,
    /// Seed of the study, if fixed.
    pub seed: Option<u64>,
    /// Name under which the loss is recorded (default `loss`).
    pub metric: String,
    /// Time budget of the whole study.
    pub timeout: Option<Duration>,
    /// Stop once a loss at or below this is found.
    pub loss_threshold: Option<f64>,
    /// Stop after this many trials without improvement.
    pub no_progress: Option<usize>,
    /// The loss's known minimum, so `hpo bench` reports regrets for a command objective.
    pub minimum: Option<f64>,
    /// For `hpo bench` on a noisy objective: the reported metric holding the noiseless value
    /// (e.g. `true_loss`), scored at the trial with the best observed loss.
    pub score_metric: Option<String>,
    /// How many times a trial whose worker was lost (killed, its machine gone) is run again
    /// with the same params, in a study shared by many workers (default 0).
    pub retries: usize,
}

impl Default for StudySettings {
    fn default() -> Self {
        StudySettings {
            name: None,
            algo: "tpe".into(),
            max_evals: 100,
            parallelism: 1,
            seed: None,
            metric: "loss".into(),
            minimum: None,
            score_metric: None,
            timeout: None,
            loss_threshold: None,
            no_progress: None,
            retries: 0,
        }
    }
}

/// Where a `linfa` objective's data comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataSource {
    /// A data set bundled with linfa, one of [`LINFA_DATASETS`].
    Bundled(String),
    /// A CSV file with a header row.
    Csv {
        /// The file, resolved relative to the run file's directory.
        path: PathBuf,
        /// The column to predict.
        target: String,
    },
}

/// How a `linfa` objective scores a model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Validation {
    /// Hold out this fraction of the (shuffled) rows.
    Holdout(f64),
    /// k-fold cross-validation with this many folds.
    KFold(usize),
}

/// The `[objective]` table: what each trial evaluates.
#[derive(Clone, Debug, PartialEq)]
pub enum ObjectiveSpec {
    /// Run a command; `{label}` placeholders in its arguments are replaced by the trial's values
    /// (`{trial}` and `{run_id}` are also known; `{{` and `}}` are literal braces).
    Command {
        /// Program and arguments.
        argv: Vec<String>,
        /// Per-trial time limit.
        timeout: Option<Duration>,
        /// Between SIGTERM and SIGKILL when a trial is stopped (default 2 s).
        grace_period: Option<Duration>,
        /// When a trial's output is kept as its artifacts (default: failed trials).
        keep_output: crate::objective::command::KeepOutput,
        /// Bytes of each output stream kept at most (default 10 MB).
        output_limit: Option<u64>,
    },
    /// Fit a built-in linfa model.
    Linfa {
        /// One of [`LINFA_MODELS`].
        model: String,
        /// The data.
        data: DataSource,
        /// How the model is scored.
        validation: Validation,
        /// One of [`LINFA_METRICS`].
        metric: String,
    },
    /// A built-in benchmark function from [`crate::bench::problems::all`].
    Function {
        /// The problem's name.
        name: String,
    },
}

/// A parsed and validated run file.
#[derive(Clone, Debug)]
pub struct RunFile {
    /// The file, as given.
    pub path: PathBuf,
    /// The `[study]` settings (defaults where absent).
    pub study: StudySettings,
    /// The `[objective]`.
    pub objective: ObjectiveSpec,
    /// The validated `[space]`.
    pub space: Space,
    /// The `[pruner]`, if the file has one.
    pub pruner: Option<PrunerSpec>,
    /// Likely mistakes that do not stop the run.
    pub warnings: Vec<Diagnostic>,
}

impl RunFile {
    /// Read and validate the run file at `path`: a regular file (never a FIFO, a device or a
    /// directory, which are refused without being read) of at most [`MAX_RUN_FILE_BYTES`].
    pub fn load(path: impl AsRef<Path>) -> Result<RunFile, RunFileError> {
        Ok(RunFile::load_with_text(path)?.0)
    }

    /// Like [`RunFile::load`], with the text as read (stored with a shared study).
    pub fn load_with_text(path: impl AsRef<Path>) -> Result<(RunFile, String), RunFileError> {
        let path = path.as_ref();
        let text = read::read_run_file(path)?;
        Ok((RunFile::parse(&text, path)?, text))
    }

    /// Validate run-file `text`; `path` names the file in messages and is the base of relative
    /// paths inside it.
    pub fn parse(text: &str, path: impl AsRef<Path>) -> Result<RunFile, RunFileError> {
        parse::parse(text, path.as_ref())
    }

    /// The experiment name: `[study] name`, or else the file's stem.
    pub fn experiment_name(&self) -> String {
        self.study.name.clone().unwrap_or_else(|| {
            self.path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "default".into())
        })
    }
}

impl fmt::Display for StudySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "algo = {}, max_evals = {}, parallelism = {}, metric = {}",
            self.algo, self.max_evals, self.parallelism, self.metric
        )?;
        if let Some(s) = self.seed {
            write!(f, ", seed = {s}")?;
        }
        if let Some(t) = self.timeout {
            write!(f, ", timeout = {}", format_duration(t))?;
        }
        if let Some(l) = self.loss_threshold {
            write!(f, ", loss_threshold = {l}")?;
        }
        if let Some(n) = self.no_progress {
            write!(f, ", no_progress = {n}")?;
        }
        Ok(())
    }
}

impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSource::Bundled(name) => write!(f, "bundled data set {name}"),
            DataSource::Csv { path, target } => {
                write!(f, "{} (target column {target})", path.display())
            }
        }
    }
}

impl fmt::Display for Validation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Validation::Holdout(frac) => write!(f, "hold-out {}%", (frac * 1000.0).round() / 10.0),
            Validation::KFold(k) => write!(f, "{k}-fold cross-validation"),
        }
    }
}

impl fmt::Display for ObjectiveSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectiveSpec::Command { argv, timeout, .. } => {
                let quoted: Vec<String> = argv
                    .iter()
                    .map(|a| {
                        if a.is_empty() || a.contains(char::is_whitespace) {
                            format!("{a:?}")
                        } else {
                            a.clone()
                        }
                    })
                    .collect();
                write!(f, "command: {}", quoted.join(" "))?;
                if let Some(t) = timeout {
                    write!(f, " (timeout {} per trial)", format_duration(*t))?;
                }
                Ok(())
            }
            ObjectiveSpec::Linfa {
                model,
                data,
                validation,
                metric,
            } => write!(f, "linfa {model} on {data}, {validation}, metric {metric}"),
            ObjectiveSpec::Function { name } => write!(f, "built-in function {name}"),
        }
    }
}

/// The summary `hpo validate` prints: study, objective, space and warnings.
impl fmt::Display for RunFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "run file: {}", self.path.display())?;
        writeln!(f, "study: {} ({})", self.experiment_name(), self.study)?;
        writeln!(f, "objective: {}", self.objective)?;
        if let Some(p) = &self.pruner {
            writeln!(
                f,
                "pruner: {}, watching {}",
                p.kind,
                p.metric.as_deref().unwrap_or(&self.study.metric)
            )?;
        }
        writeln!(
            f,
            "space: {} parameter{}",
            self.space.len(),
            if self.space.len() == 1 { "" } else { "s" }
        )?;
        for line in self.space.to_string().lines() {
            writeln!(f, "  {line}")?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
    }
}
