//! What `hpo run` checks before it opens the store, shared with `hpo validate` so that a file
//! `validate` accepts never fails at the first trial: the experiment name, the keys and values
//! the trials will record, and for a command objective that its program exists and that its
//! arguments and environment fit what the operating system passes to a new process.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::BadInput;
use crate::runfile::{ObjectiveSpec, RunFile};
use crate::tracking::store::{
    validate_experiment_name, validate_key, MAX_EXPERIMENT_NAME_LEN, MAX_PARAM_VALUE_LEN,
};

/// The longest parameter label or recorded param key: the store takes keys of up to 250
/// characters, and the study run records the best params again as `best.<key>` tags.
pub const MAX_RECORDED_KEY_LEN: usize = 200;

/// The most bytes one argument or environment variable may have (Linux's MAX_ARG_STRLEN, 32
/// pages of 4 KiB, the terminating NUL included).
pub const MAX_ARG_STRLEN: usize = 131_072;

/// Room kept in the argument-and-environment budget for what hpo adds besides the params
/// (`HPO_TRIAL`, `HPO_RUN_ID`, `HPO_ARTIFACT_DIR`, `HPO_PARAMS_FILE`, `HPO_TRACKING_URI`).
const HPO_ENV_SLACK: usize = 8192;

/// Checks a run file as `hpo run` would before touching the store; `experiment` is the name the
/// study will be recorded under.
pub(crate) fn check(rf: &RunFile, experiment: &str) -> Result<(), BadInput> {
    let file = rf.path.display();
    let bad = |msg: String| BadInput(format!("{file}: {msg}"));
    check_experiment_name(experiment).map_err(bad)?;
    validate_key("metric", &rf.study.metric).map_err(|e| {
        bad(format!(
            "[study] metric '{}': {e}",
            rf.study.metric.escape_debug()
        ))
    })?;
    check_recorded(rf).map_err(bad)?;
    if let ObjectiveSpec::Command { argv, .. } = &rf.objective {
        check_program(&argv[0]).map_err(bad)?;
        check_arguments(rf, argv).map_err(bad)?;
    }
    Ok(())
}

fn check_experiment_name(name: &str) -> Result<(), String> {
    let shown = || {
        let short: String = name.chars().take(40).collect();
        format!(
            "{}{}",
            short.escape_debug(),
            if short.len() < name.len() { "..." } else { "" }
        )
    };
    if name.chars().any(char::is_control) {
        return Err(format!(
            "the experiment name '{}' contains a control character (a newline, a tab, NUL, ...); set [study] name or --experiment to a name without one",
            shown()
        ));
    }
    validate_experiment_name(name).map_err(|e| {
        format!(
            "the experiment name '{}' is not valid: {e}; set [study] name or --experiment to a name of 1 to {MAX_EXPERIMENT_NAME_LEN} characters",
            shown()
        )
    })
}

/// Every key a trial may record (labels, constants' dotted paths) and the longest value under it.
fn check_recorded(rf: &RunFile) -> Result<(), String> {
    for (key, value_len) in rf.space.recorded_keys() {
        let what = if rf.space.index_of(&key).is_some() {
            "parameter label"
        } else {
            "constant (recorded as a param under its dotted path)"
        };
        let short: String = key.chars().take(40).collect();
        if key.chars().any(char::is_control) {
            return Err(format!(
                "[space] {what} '{}' contains a control character (a newline, a tab, ...); labels and keys must be printable",
                key.escape_debug()
            ));
        }
        let n = key.chars().count();
        if n > MAX_RECORDED_KEY_LEN {
            return Err(format!(
                "[space] {what} '{}...' is {n} characters long; labels and keys may have at most {MAX_RECORDED_KEY_LEN} (set label = \"...\" for a shorter one)",
                short.escape_debug()
            ));
        }
        if value_len > MAX_PARAM_VALUE_LEN {
            return Err(format!(
                "[space] '{}' can take a value of {value_len} bytes; a recorded param value may have at most {MAX_PARAM_VALUE_LEN} characters",
                short.escape_debug()
            ));
        }
    }
    Ok(())
}

/// The program of a command: a path (with a `/`) to an executable file, or a name found in PATH.
fn check_program(program: &str) -> Result<(), String> {
    if !crate::objective::command::placeholders(program).is_empty() {
        return Ok(()); // chosen per trial
    }
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = Path::new(program);
        return if executable(p) {
            Ok(())
        } else if p.exists() {
            Err(format!(
                "the command's program '{program}' is not an executable file (chmod +x it, or run it through its interpreter: [\"python3\", \"{program}\", ...])"
            ))
        } else {
            Err(format!(
                "the command's program '{program}' does not exist (relative paths start from the directory hpo runs in: {})",
                std::env::current_dir()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default()
            ))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).any(|d: PathBuf| executable(&d.join(program)));
    if found {
        Ok(())
    } else {
        Err(format!(
            "the command's program '{program}' is not found: no executable file of that name in PATH; install it, or give its path (\"./{program}\", \"/usr/bin/{program}\")"
        ))
    }
}

/// The longest `HPO_PARAMS` and the longest substituted arguments, against what exec accepts.
fn check_arguments(rf: &RunFile, argv: &[String]) -> Result<(), String> {
    let json = "HPO_PARAMS=".len() + rf.space.max_json_len() + 1;
    if json > MAX_ARG_STRLEN {
        return Err(format!(
            "with {} parameters, HPO_PARAMS (the params as JSON in the environment) can reach {json} bytes, over the {MAX_ARG_STRLEN} bytes one environment variable may hold; use fewer parameters or shorter labels and values",
            rf.space.len()
        ));
    }
    let mut total = json + 8;
    for a in argv {
        let mut len = a.len() + 1;
        for p in crate::objective::command::placeholders(a) {
            len += match p.as_str() {
                "trial" => 20,
                "run_id" => 64,
                label => rf.space.max_value_len(label).unwrap_or(0),
            };
        }
        if len > MAX_ARG_STRLEN {
            return Err(format!(
                "the command argument '{}' can become {len} bytes once its placeholders are filled in, over the {MAX_ARG_STRLEN} bytes one argument may have",
                a.chars().take(40).collect::<String>().escape_debug()
            ));
        }
        total += len + 8;
    }
    let env: usize = std::env::vars_os()
        .map(|(k, v)| k.len() + v.len() + 2 + 8)
        .sum();
    total += env + HPO_ENV_SLACK;
    let limit = arg_max();
    if total > limit {
        return Err(format!(
            "the command's arguments and environment can reach {total} bytes (HPO_PARAMS {json}, the environment of hpo {env}), over this system's limit of {limit} (ARG_MAX); use fewer parameters or shorter labels and values"
        ));
    }
    Ok(())
}

/// The most bytes of arguments and environment a new process may get (`sysconf(_SC_ARG_MAX)`,
/// 2 MiB if unknown).
fn arg_max() -> usize {
    // SAFETY: sysconf has no preconditions; it returns -1 for an unknown name.
    let n = unsafe { libc::sysconf(libc::_SC_ARG_MAX) };
    if n > 0 {
        n as usize
    } else {
        2 * 1024 * 1024
    }
}
