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
//!   reason; running past the per-trial timeout makes a KILLED trial, and the whole process
//!   group is terminated (SIGTERM, then SIGKILL after a grace period). Standard output and
//!   standard error are kept as the trial's artifacts `stdout.txt` and `stderr.txt`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use crate::space::{Params, Value};
use crate::study::{Objective, TrialContext};
use crate::trial::TrialResult;

/// How long a terminated process group gets before it is killed.
const GRACE: Duration = Duration::from_secs(2);
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
    /// The scratch directory could not be made.
    #[error("cannot create a scratch directory: {0}")]
    Scratch(#[from] std::io::Error),
}

/// Runs a program per trial (see the module documentation for the protocol).
pub struct CommandObjective {
    argv: Vec<String>,
    timeout: Option<Duration>,
    workdir: Option<PathBuf>,
    tracking_uri: Option<String>,
    scratch: tempfile::TempDir,
    env: Mutex<Vec<(String, String)>>,
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
    pieces(s)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Placeholder(n) => Some(n.to_string()),
            Piece::Text(_) => None,
        })
        .collect()
}

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
        if argv.is_empty() || argv[0].trim().is_empty() {
            return Err(CommandError::Empty);
        }
        for a in &argv {
            for p in placeholders(a) {
                if p != "trial" && p != "run_id" && !labels.contains(&p.as_str()) {
                    return Err(CommandError::UnknownPlaceholder(p));
                }
            }
        }
        Ok(CommandObjective {
            argv,
            timeout: None,
            workdir: None,
            tracking_uri: None,
            scratch: tempfile::Builder::new().prefix("hpo-trials-").tempdir()?,
            env: Mutex::new(Vec::new()),
        })
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
        let dir = self.scratch.path().join(format!("trial-{number}"));
        let artifacts = dir.join("artifacts");
        std::fs::create_dir_all(&artifacts)
            .map_err(|e| format!("cannot create {}: {e}", artifacts.display()))?;
        let params_json = params.to_json().to_string();
        let params_file = dir.join("params.json");
        std::fs::write(&params_file, &params_json)
            .map_err(|e| format!("cannot write {}: {e}", params_file.display()))?;
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
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start '{}': {e}", argv[0]))?;
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        // stdout: lines as they come (learning curves); stderr: collected whole
        let (line_tx, line_rx) = mpsc::channel::<String>();
        let out_thread = std::thread::spawn(move || {
            let mut all = String::new();
            if let Some(s) = stdout {
                for line in BufReader::new(s).lines().map_while(Result::ok) {
                    all.push_str(&line);
                    all.push('\n');
                    let _ = line_tx.send(line);
                }
            }
            all
        });
        let err_thread = std::thread::spawn(move || {
            let mut all = Vec::new();
            if let Some(mut s) = stderr {
                let _ = s.read_to_end(&mut all);
            }
            String::from_utf8_lossy(&all).into_owned()
        });
        let start = Instant::now();
        let mut killed = false;
        let status = loop {
            while let Ok(line) = line_rx.try_recv() {
                report_curve(&line, ctx);
            }
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) => {}
                Err(e) => return Err(format!("cannot wait for '{}': {e}", argv[0])),
            }
            if self.timeout.is_some_and(|t| start.elapsed() >= t) {
                terminate(&mut child);
                killed = true;
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let stdout_all = out_thread.join().unwrap_or_default();
        // curve lines that arrived after the last poll
        while let Ok(line) = line_rx.try_recv() {
            report_curve(&line, ctx);
        }
        let stderr_all = err_thread.join().unwrap_or_default();
        let lines: Vec<&str> = stdout_all.lines().collect();
        let _ = std::fs::write(dir.join("stdout.txt"), &stdout_all);
        let _ = std::fs::write(dir.join("stderr.txt"), &stderr_all);
        ctx.log_artifact(dir.join("stdout.txt"), "");
        ctx.log_artifact(dir.join("stderr.txt"), "");
        if std::fs::read_dir(&artifacts).is_ok_and(|mut d| d.next().is_some()) {
            ctx.log_artifact(&artifacts, "");
        }
        if killed {
            let t = self.timeout.unwrap_or_default();
            return Ok(TrialResult::killed(format!(
                "timed out after {:.1} s (per-trial timeout); the process group was terminated",
                t.as_secs_f64()
            )));
        }
        let status = status.ok_or("the process vanished")?;
        if !status.success() {
            let code = status
                .code()
                .map(|c| format!("exit code {c}"))
                .unwrap_or_else(|| "killed by a signal".into());
            let tail = tail(&stderr_all, STDERR_TAIL);
            return Ok(TrialResult::fail(if tail.is_empty() {
                format!("'{}' failed with {code}", argv[0])
            } else {
                format!("'{}' failed with {code}: {tail}", argv[0])
            }));
        }
        let last = lines.iter().rev().find(|l| !l.trim().is_empty());
        match last {
            None => Ok(TrialResult::fail(
                "the program printed nothing: its last line of standard output must be the loss",
            )),
            Some(line) => Ok(parse_result(line)),
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

/// Terminate the child's process group: SIGTERM, then SIGKILL after the grace period.
fn terminate(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        let pgid = child.id() as i32;
        // SAFETY: kill(2) with a negative pid signals the process group we created for the
        // child (process_group(0)); it touches no memory of ours.
        unsafe {
            libc::kill(-pgid, libc::SIGTERM);
        }
        let until = Instant::now() + GRACE;
        while Instant::now() < until {
            if let Ok(Some(_)) = child.try_wait() {
                // the leader is gone; make sure the rest of the group is too
                unsafe {
                    libc::kill(-pgid, libc::SIGKILL);
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
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
    let Some(step) = m.get("step").and_then(|s| s.as_i64()) else {
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
