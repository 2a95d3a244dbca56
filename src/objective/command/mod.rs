//! The command objective: any program in any language, run once per trial.
//!
//! # The protocol
//! - **Params in.** `{label}` placeholders in the arguments are replaced by the trial's values
//!   (`{trial}` by the trial number, `{run_id}` by its tracking run id, `{key}` by a top-level
//!   constant of the space); `{{` and `}}` are literal braces. The params are also in
//!   the environment as JSON (`HPO_PARAMS`) and in a file (`HPO_PARAMS_FILE`), with
//!   `HPO_TRIAL`, `HPO_RUN_ID`, `HPO_TRACKING_URI` and `HPO_ARTIFACT_DIR`: files the program
//!   leaves in that directory become the trial's artifacts.
//! - **Loss out.** The last non-empty line of standard output is the result: a number (the
//!   loss) or a JSON object `{"loss": 0.3, "status": "ok", "metrics": {"acc": 0.9}}` (`status`
//!   `ok` or `fail`; a `message` is kept).
//! - **Learning curves.** Any earlier stdout line that is a JSON object with a `step` key logs
//!   its other numeric fields as metrics at that step: `{"step": 3, "val_loss": 0.41}`.
//! - **Failures.** A non-zero exit makes a FAILED trial with the tail of standard error as the
//!   reason; running past the per-trial timeout, or an interrupt of the study (Ctrl-C), makes a
//!   KILLED trial, and the whole process group is terminated (SIGTERM, then SIGKILL after the
//!   grace period). A trial the study's pruner stops (its `{"step": ...}` lines feed the
//!   pruner as they arrive) is terminated the same way and recorded PRUNED. Standard output
//!   and standard error are kept as the trial's artifacts `stdout.txt` and `stderr.txt` for
//!   failed trials (see [`KeepOutput`]), up to a byte limit.
//! - **Processes.** Nothing a trial's program does can hang hpo or outlive it: see [`process`]
//!   (drained pipes, killed stragglers) and the guard that kills trials after a `kill -9` of hpo.

mod guard;
mod mlflow_link;
mod output;
mod process;
mod scratch;
mod trial_dirs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

pub use mlflow_link::{FedMetric, MlflowLink, TrialFeeds};
use output::Capture;
pub use process::TRIAL_KEY_ENV;

use crate::space::{Params, Value};
use crate::study::{Objective, TrialContext};
use crate::trial::{Status, TrialResult};

/// How long a terminated process group gets before it is killed, by default.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(2);
/// How much of each output stream is kept as an artifact, by default (10 MB).
pub const DEFAULT_OUTPUT_LIMIT: u64 = 10_000_000;
/// How much of standard error a failure reason keeps.
const STDERR_TAIL: usize = 2000;

/// Why a command objective could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// An empty command.
    #[error("the command is empty: give the program and its arguments, e.g. [\"python3\", \"train.py\", \"--lr\", \"{{lr}}\"]")]
    Empty,
    /// A placeholder that names no parameter.
    #[error("placeholder '{{{0}}}' in the command names no parameter of the space (nor 'trial' or 'run_id')")]
    UnknownPlaceholder(String),
    /// `{trial}` or `{run_id}` used while the space has a parameter or constant of that name.
    #[error("placeholder '{{{0}}}' is ambiguous: the space has a parameter or constant named '{0}', and {{{0}}} is the trial's own {0}; give that parameter another label (label = \"...\")")]
    AmbiguousPlaceholder(String),
    /// The scratch directory could not be made.
    #[error("cannot create a scratch directory: {0}")]
    Scratch(#[from] std::io::Error),
}

/// When a trial's standard output and error are kept as its artifacts `stdout.txt` and
/// `stderr.txt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum KeepOutput {
    /// Only for trials that did not end ok (the default).
    #[default]
    Failed,
    /// For every trial.
    Always,
    /// Never.
    Never,
}

impl KeepOutput {
    /// The names accepted in a run file.
    pub const NAMES: [&'static str; 3] = ["failed", "always", "never"];

    /// The policy of that name (`failed`, `always`, `never`).
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "failed" => Some(KeepOutput::Failed),
            "always" => Some(KeepOutput::Always),
            "never" => Some(KeepOutput::Never),
            _ => None,
        }
    }
}

/// Runs a program per trial (see the module documentation for the protocol).
pub struct CommandObjective {
    argv: Vec<String>,
    timeout: Option<Duration>,
    grace: Duration,
    keep_output: KeepOutput,
    output_limit: u64,
    workdir: Option<PathBuf>,
    tracking_uri: Option<String>,
    scratch: tempfile::TempDir,
    dirs: trial_dirs::TrialDirs,
    key: String,
    guard: std::sync::OnceLock<Option<guard::Guard>>,
    env: Mutex<Vec<(String, String)>>,
    mlflow: Arc<OnceLock<MlflowLink>>,
}

/// One piece of a command argument: literal text or a `{name}` placeholder.
enum Piece<'a> {
    Text(String),
    Placeholder(&'a str),
}

/// Split an argument into text and placeholders. `{name}` (letters, digits, `_`, `.`, `-`) is a
/// placeholder, `{{` and `}}` are literal braces, and any other brace (JSON, shell) is kept.
fn pieces(s: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    let b = s.as_bytes();
    while i < s.len() {
        let rest = &s[i..];
        if rest.starts_with("{{") || rest.starts_with("}}") {
            text.push(b[i] as char);
            i += 2;
            continue;
        }
        if b[i] == b'{' {
            let inner = &rest[1..];
            let len = inner
                .find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '.' | '-')))
                .unwrap_or(inner.len());
            if len > 0 && inner[len..].starts_with('}') {
                if !text.is_empty() {
                    out.push(Piece::Text(std::mem::take(&mut text)));
                }
                out.push(Piece::Placeholder(&inner[..len]));
                i += len + 2;
                continue;
            }
        }
        let c = rest.chars().next().unwrap_or_default();
        text.push(c);
        i += c.len_utf8();
    }
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    out
}

/// The placeholders (`{name}`) in a command argument.
pub fn placeholders(s: &str) -> Vec<String> {
    placeholder_offsets(s)
        .into_iter()
        .map(|(_, n)| n.to_string())
        .collect()
}

/// The placeholders (`{name}`: letters, digits, `_`, `.`, `-` between single braces) in a
/// command argument with the byte offset of their `{`. `{{` and `}}` are literal braces; any
/// other brace (`print({'a': 1})`, JSON, `awk '{print $1}'`) is text and kept as it is.
pub fn placeholder_offsets(s: &str) -> Vec<(usize, &str)> {
    pieces(s)
        .into_iter()
        .filter_map(|p| match p {
            // the name is a slice of `s`, right after its `{`
            Piece::Placeholder(n) => Some((n.as_ptr() as usize - s.as_ptr() as usize - 1, n)),
            Piece::Text(_) => None,
        })
        .collect()
}

/// The placeholders that stand for the trial itself, not for a value of the space.
pub const TRIAL_PLACEHOLDERS: [&str; 2] = ["trial", "run_id"];

/// The names a command's `{placeholder}` may use for `space` (besides `trial` and `run_id`):
/// its parameters' labels and the keys of its top-level scalar constants.
pub fn placeholder_names(space: &crate::space::Space) -> Vec<&str> {
    let mut names: Vec<&str> = space.params().iter().map(|p| p.label.as_str()).collect();
    if let crate::space::Node::Map(items) = space.root() {
        for (k, n) in items {
            if matches!(n, crate::space::Node::Const(v) if v.is_scalar())
                && !names.contains(&k.as_str())
            {
                names.push(k);
            }
        }
    }
    names
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        other => other.to_string(),
    }
}

impl CommandObjective {
    /// A command objective running `argv` (placeholders checked against `labels`: the space's
    /// parameters and top-level constants).
    pub fn new(argv: Vec<String>, labels: &[&str]) -> Result<Self, CommandError> {
        Self::check(&argv, labels)?;
        let scratch = scratch::create()?;
        let key = scratch::key_of(scratch.path());
        let dirs = trial_dirs::TrialDirs::new(scratch.path());
        Ok(CommandObjective {
            argv,
            timeout: None,
            grace: DEFAULT_GRACE,
            keep_output: KeepOutput::default(),
            output_limit: DEFAULT_OUTPUT_LIMIT,
            workdir: None,
            tracking_uri: None,
            scratch,
            dirs,
            key,
            guard: std::sync::OnceLock::new(),
            env: Mutex::new(Vec::new()),
            mlflow: Arc::new(OnceLock::new()),
        })
    }

    /// Between SIGTERM and SIGKILL when a trial is stopped (default 2 s).
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// When to keep a trial's output as its artifacts (default: failed trials only).
    pub fn keep_output(mut self, keep: KeepOutput) -> Self {
        self.keep_output = keep;
        self
    }

    /// At most this many bytes of each output stream are kept (default 10 MB); the rest is
    /// counted, not stored.
    pub fn output_limit(mut self, bytes: u64) -> Self {
        self.output_limit = bytes;
        self
    }

    /// Check a command without making an objective (no scratch directory): a program is given,
    /// and every placeholder names one of `labels` or `trial`/`run_id`, which no label shadows.
    pub fn check(argv: &[String], labels: &[&str]) -> Result<(), CommandError> {
        if argv.is_empty() || argv[0].trim().is_empty() {
            return Err(CommandError::Empty);
        }
        for a in argv {
            for p in placeholders(a) {
                let own = TRIAL_PLACEHOLDERS.contains(&p.as_str());
                if own && labels.contains(&p.as_str()) {
                    return Err(CommandError::AmbiguousPlaceholder(p));
                }
                if !own && !labels.contains(&p.as_str()) {
                    return Err(CommandError::UnknownPlaceholder(p));
                }
            }
        }
        Ok(())
    }

    /// Kill a trial that runs longer than this.
    pub fn timeout(mut self, t: Option<Duration>) -> Self {
        self.timeout = t;
        self
    }

    /// Run the program in this directory (default: the current one).
    pub fn workdir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.workdir = Some(dir.into());
        self
    }

    /// The tracking URI passed as `HPO_TRACKING_URI`.
    pub fn tracking_uri(mut self, uri: &str) -> Self {
        self.tracking_uri = Some(uri.to_string());
        self
    }

    /// Where trials log as MLflow clients, once set: each trial's process then gets
    /// `MLFLOW_TRACKING_URI`, `MLFLOW_RUN_ID` and `MLFLOW_EXPERIMENT_ID`, and the metrics it logs
    /// there are its learning curve (see [`MlflowLink`]). Set it after the objective is handed to
    /// the study, before the first trial starts.
    pub fn mlflow_slot(&self) -> Arc<OnceLock<MlflowLink>> {
        self.mlflow.clone()
    }

    /// An extra environment variable for every trial.
    pub fn env(self, key: &str, value: &str) -> Self {
        if let Ok(mut e) = self.env.lock() {
            e.push((key.to_string(), value.to_string()));
        }
        self
    }

    fn substitute(&self, arg: &str, params: &Params, number: usize, run_id: &str) -> String {
        let mut out = String::new();
        for piece in pieces(arg) {
            match piece {
                Piece::Text(t) => out.push_str(&t),
                Piece::Placeholder("trial") => out.push_str(&number.to_string()),
                Piece::Placeholder("run_id") => out.push_str(run_id),
                Piece::Placeholder(label) => {
                    let v = params.get(label).or_else(|| {
                        // a top-level constant of the space
                        params.tree().as_map().and_then(|m| m.get(label).cloned())
                    });
                    // an inactive parameter (unchosen branch) becomes an empty argument
                    if let Some(v) = v {
                        out.push_str(&value_text(&v));
                    }
                }
            }
        }
        out
    }

    fn run(&self, params: &Params, ctx: &TrialContext) -> Result<TrialResult, String> {
        let number = ctx.number();
        let run_id = ctx.attribute("run_id").unwrap_or("").to_string();
        let params_json = params.to_json().to_string();
        let trial_dir = self.dirs.take(number, &params_json).map_err(|e| {
            format!(
                "cannot prepare trial-{number} in {}: {e}",
                self.scratch.path().display()
            )
        })?;
        let dir = trial_dir.path().to_path_buf();
        let artifacts = trial_dir.artifacts();
        let params_file = trial_dir.params_file();
        let argv: Vec<String> = self
            .argv
            .iter()
            .map(|a| self.substitute(a, params, number, &run_id))
            .collect();
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("HPO_PARAMS", &params_json)
            .env("HPO_PARAMS_FILE", &params_file)
            .env("HPO_TRIAL", number.to_string())
            .env("HPO_RUN_ID", &run_id)
            .env("HPO_ARTIFACT_DIR", &artifacts);
        if let Some(uri) = &self.tracking_uri {
            cmd.env("HPO_TRACKING_URI", uri);
        }
        if let Ok(env) = self.env.lock() {
            for (k, v) in env.iter() {
                cmd.env(k, v);
            }
        }
        if let Some(w) = &self.workdir {
            cmd.current_dir(w);
        }
        let link = self.mlflow.get().filter(|_| !run_id.is_empty());
        if let Some(link) = link {
            cmd.env("MLFLOW_TRACKING_URI", &link.tracking_uri)
                .env("MLFLOW_RUN_ID", &run_id)
                .env("MLFLOW_EXPERIMENT_ID", &link.experiment_id);
        }
        let claim = link.map(|l| l.feeds.claim(&run_id));
        let feed = |metrics: Vec<FedMetric>| {
            for m in metrics {
                ctx.log_metric(&m.key, m.value, m.step);
            }
        };
        let mut stdout = Capture::new(dir.join("stdout.txt"), self.output_limit);
        let mut stderr = Capture::new(dir.join("stderr.txt"), self.output_limit);
        let key = format!("{}-{}", self.key, number);
        let limits = process::Limits {
            timeout: self.timeout,
            grace: self.grace,
        };
        let guard = self
            .guard
            .get_or_init(|| guard::Guard::start(self.scratch.path()))
            .as_ref();
        let prune = || {
            if let Some(c) = &claim {
                feed(c.drain());
            }
            ctx.should_prune()
        };
        let launch = process::Launch {
            guard,
            key: &key,
            limits,
            interrupt: ctx.interrupt(),
            prune: Some(&prune),
        };
        let ending = process::run(cmd, launch, &mut stdout, &mut stderr, |line| {
            report_curve(line, ctx)
        })
        .map_err(|e| format!("cannot run '{}': {e}", argv[0]));
        if let Some(c) = claim {
            feed(c.release());
        }
        let ending = match ending {
            Ok(e) => e,
            Err(e) => {
                self.dirs.give_back(trial_dir);
                return Err(e);
            }
        };
        let result = self.result_of(&argv[0], &ending, &stdout, &stderr);
        let keep = match self.keep_output {
            KeepOutput::Always => true,
            KeepOutput::Failed => !matches!(result.status, Status::Ok | Status::Pruned),
            KeepOutput::Never => false,
        };
        if keep {
            for capture in [stdout, stderr] {
                let path = capture.path().to_path_buf();
                match capture.save() {
                    Ok(Some(p)) => ctx.log_artifact(p, ""),
                    Ok(None) => {}
                    Err(e) => ctx.set_tag("hpo.outputError", &format!("{}: {e}", path.display())),
                }
            }
        }
        if std::fs::read_dir(&artifacts).is_ok_and(|mut d| d.next().is_some()) {
            ctx.log_artifact(&artifacts, "");
        }
        // once its files are in the trial's run, the trial's scratch directory is emptied: a
        // long study does not keep a second copy of every model it saved until it ends
        ctx.wait_for_reports();
        self.dirs.give_back(trial_dir);
        Ok(result)
    }

    /// The trial's result from how its process ended and what it printed.
    fn result_of(
        &self,
        program: &str,
        ending: &process::Ending,
        stdout: &Capture,
        stderr: &Capture,
    ) -> TrialResult {
        match &ending.stopped {
            Some(process::Stop::TimedOut) => {
                let t = self.timeout.unwrap_or_default();
                return TrialResult::killed(format!(
                    "timed out after {:.1} s (per-trial timeout); the process group was terminated",
                    t.as_secs_f64()
                ));
            }
            Some(process::Stop::Interrupted(why)) => {
                return TrialResult::killed(format!(
                    "interrupted ({why}); the process group was terminated"
                ));
            }
            // the study fills in the step and value it reached
            Some(process::Stop::Pruned) => return TrialResult::pruned(),
            None => {}
        }
        let Some(status) = ending.status else {
            return TrialResult::fail(format!("the exit status of '{program}' was lost"));
        };
        if !status.success() {
            use std::os::unix::process::ExitStatusExt;
            let code = match (status.code(), status.signal()) {
                (Some(c), _) => format!("exit code {c}"),
                (None, Some(s)) => format!("signal {s}"),
                _ => "an unknown status".into(),
            };
            let tail = tail(&stderr.tail(), STDERR_TAIL);
            return TrialResult::fail(if tail.is_empty() {
                format!("'{program}' failed with {code}")
            } else {
                format!("'{program}' failed with {code}: {tail}")
            });
        }
        match stdout.last_line() {
            Err(e) => TrialResult::fail(e),
            Ok(None) => TrialResult::fail(
                "the program printed nothing: its last line of standard output must be the loss",
            ),
            Ok(Some(line)) => parse_result(&line),
        }
    }
}

fn tail(s: &str, max: usize) -> String {
    let t = s.trim_end();
    if t.len() <= max {
        return t.to_string();
    }
    let mut start = t.len() - max;
    while !t.is_char_boundary(start) {
        start += 1;
    }
    format!("...{}", &t[start..])
}

/// A learning-curve line: a JSON object with a `step` and numeric fields.
fn report_curve(line: &str, ctx: &TrialContext) {
    let t = line.trim();
    if !t.starts_with('{') {
        return;
    }
    let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(t) else {
        return;
    };
    // an integral float (`1.0`, as Python's float epochs print) is a step too
    let Some(step) = m.get("step").and_then(|s| {
        s.as_i64().or_else(|| {
            s.as_f64()
                .filter(|x| x.fract() == 0.0 && x.abs() < 9.0e15)
                .map(|x| x as i64)
        })
    }) else {
        return;
    };
    for (k, v) in &m {
        if let (false, Some(x)) = (k == "step", v.as_f64()) {
            ctx.log_metric(k, x, step);
        }
    }
}

/// The result line: a number, or JSON with loss, status, metrics and message.
pub fn parse_result(line: &str) -> TrialResult {
    let t = line.trim();
    if let Ok(x) = t.parse::<f64>() {
        return TrialResult::ok(x);
    }
    let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(t) else {
        return TrialResult::fail(format!(
            "the last line of standard output must be the loss (a number) or JSON with \"loss\"; got: {}",
            tail(t, 200)
        ));
    };
    let loss = m.get("loss").and_then(|l| l.as_f64());
    let status = m.get("status").and_then(|s| s.as_str()).unwrap_or("ok");
    let mut metrics = BTreeMap::new();
    if let Some(serde_json::Value::Object(ms)) = m.get("metrics") {
        for (k, v) in ms {
            if let Some(x) = v.as_f64() {
                metrics.insert(k.clone(), x);
            }
        }
    }
    let message = m.get("message").and_then(|s| s.as_str()).map(String::from);
    let mut r = match (status, loss) {
        ("ok", Some(l)) => TrialResult::ok(l),
        ("ok", None) => TrialResult::fail("the result JSON has no numeric \"loss\""),
        ("fail", _) => TrialResult::fail(
            message
                .clone()
                .unwrap_or_else(|| "the program reported status fail".into()),
        ),
        (other, _) => TrialResult::fail(format!(
            "unknown status '{other}' in the result JSON; expected ok or fail"
        )),
    };
    r.loss = r.loss.or(loss);
    r.metrics = metrics;
    if r.message.is_none() {
        r.message = message;
    }
    r
}

impl Objective for CommandObjective {
    fn evaluate(&self, params: &Params, ctx: &TrialContext) -> TrialResult {
        self.run(params, ctx).unwrap_or_else(TrialResult::fail)
    }

    /// The command is another process, handed the trial's run id (`HPO_RUN_ID`).
    fn runs_elsewhere(&self) -> bool {
        true
    }
}

impl std::fmt::Debug for CommandObjective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CommandObjective({:?})", self.argv)
    }
}

/// The scratch directory of a command objective (trial directories live under it until the
/// objective is dropped).
impl CommandObjective {
    /// Where the trial directories are.
    pub fn scratch_dir(&self) -> &Path {
        self.scratch.path()
    }
}
