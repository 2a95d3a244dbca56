//! Reading a run file's tables into [`RunFile`], with located errors.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::duration::{parse_duration, seconds, DURATION_HELP};
use super::pruner::{read_pruner, PrunerSpec};
use super::{
    DataSource, Diagnostic, ObjectiveSpec, RunFile, RunFileError, StudySettings, Validation,
    COMMAND_PLACEHOLDERS, LINFA_DATASETS, LINFA_METRICS, LINFA_MODELS, OBJECTIVE_KEYS, STUDY_KEYS,
};
use crate::algo::ALGORITHM_NAMES;
use crate::space::toml::{
    entries, integer, line_col, number, space_from_table, type_name, Located, TomlSpace,
};
use crate::space::Space;

type Entry<'a, 'i> = (&'a Spanned<Cow<'i, str>>, &'a Spanned<DeValue<'i>>);

pub(super) fn parse(text: &str, path: &Path) -> Result<RunFile, RunFileError> {
    let diag = |l: Located| {
        let (line, column) = line_col(text, l.span.start);
        Diagnostic {
            file: path.to_path_buf(),
            line,
            column,
            message: l.message,
        }
    };
    let doc = DeTable::parse(text).map_err(|e| {
        RunFileError::Syntax(diag(Located::new(
            e.span().unwrap_or(0..0),
            format!("TOML syntax error: {}", e.message().trim()),
        )))
    })?;
    let (study, objective, space, pruner) = read(doc.get_ref(), text, path).map_err(|l| {
        let d = diag(l);
        RunFileError::Invalid(d)
    })?;
    Ok(RunFile {
        path: path.to_path_buf(),
        study,
        objective,
        space: space.space,
        pruner,
        warnings: space.warnings.into_iter().map(diag).collect(),
    })
}

fn read(
    doc: &DeTable<'_>,
    text: &str,
    path: &Path,
) -> Result<(StudySettings, ObjectiveSpec, TomlSpace, Option<PrunerSpec>), Located> {
    let mut study = None;
    let mut objective = None;
    let mut space = None;
    let mut pruner = None;
    for (k, v) in entries(doc) {
        let slot = match k.get_ref().as_ref() {
            "study" => &mut study,
            "objective" => &mut objective,
            "space" => &mut space,
            "pruner" => &mut pruner,
            other => {
                return Err(Located::new(
                    k.span(),
                    format!(
                        "unknown {} '{other}' at the top level; expected the tables [study], [objective], [space] and [pruner]",
                        if v.get_ref().is_table() { "table" } else { "key" }
                    ),
                ))
            }
        };
        match v.get_ref() {
            DeValue::Table(t) => *slot = Some((t, v.span())),
            other => {
                return Err(Located::new(
                    v.span(),
                    format!(
                        "'{}' must be a table ([{}]), got {}",
                        k.get_ref(),
                        k.get_ref(),
                        type_name(other)
                    ),
                ))
            }
        }
    }
    let end = text.len();
    let Some(objective) = objective else {
        return Err(Located::new(
            end..end,
            "missing [objective] table; add one with command = [...], linfa = \"...\" or function = \"...\"",
        ));
    };
    let Some((space_table, space_span)) = space else {
        return Err(Located::new(
            end..end,
            "missing [space] table; add one with a parameter such as x = { uniform = [0, 1] }",
        ));
    };
    let study = match study {
        Some((t, _)) => read_study(t)?,
        None => StudySettings::default(),
    };
    let mut space = space_from_table(space_table, space_span, text)?;
    let objective_spec = read_objective(objective.0, objective.1, &space.space, path)?;
    if let ObjectiveSpec::Command { argv, .. } = &objective_spec {
        space.warnings.extend(shell_warnings(objective.0, argv));
    }
    let pruner = match pruner {
        Some((t, span)) => Some(read_pruner(t, span)?),
        None => None,
    };
    Ok((study, objective_spec, space, pruner))
}

/// A warning for each value placeholder inside the script of a shell's `-c`, at the script.
fn shell_warnings(t: &DeTable<'_>, argv: &[String]) -> Vec<Located> {
    let Some(i) = super::shell::shell_script_index(argv) else {
        return Vec::new();
    };
    let element = entries(t)
        .into_iter()
        .find(|(k, _)| k.get_ref() == "command")
        .and_then(|(_, v)| match v.get_ref() {
            DeValue::Array(a) => a.get(i),
            _ => None,
        });
    let Some(element) = element else {
        return Vec::new();
    };
    crate::objective::command::placeholder_offsets(&argv[i])
        .into_iter()
        .filter(|(_, name)| !COMMAND_PLACEHOLDERS.contains(name))
        .map(|(offset, name)| {
            Located::new(
                place(element, &argv[i], offset),
                super::shell::shell_warning(name),
            )
        })
        .collect()
}

pub(super) fn unknown_key(k: &Spanned<Cow<'_, str>>, table: &str, valid: &[&str]) -> Located {
    let hint = valid
        .iter()
        .find(|v| close(k.get_ref(), v))
        .map(|v| format!(" (did you mean '{v}'?)"))
        .unwrap_or_default();
    Located::new(
        k.span(),
        format!(
            "unknown key '{}' in [{table}]{hint}; expected one of {}",
            k.get_ref(),
            valid.join(", ")
        ),
    )
}

/// True if `a` is one edit or one missing/extra trailing letter away from `b`.
fn close(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    prefix + suffix >= a.len().max(b.len()) - 1
}

pub(super) fn wrong_type(v: &Spanned<DeValue<'_>>, what: &str, expected: &str) -> Located {
    Located::new(
        v.span(),
        format!("{what} must be {expected}, got {}", type_name(v.get_ref())),
    )
}

pub(super) fn string(v: &Spanned<DeValue<'_>>, what: &str) -> Result<String, Located> {
    match v.get_ref() {
        DeValue::String(s) if !s.trim().is_empty() => Ok(s.to_string()),
        DeValue::String(_) => Err(Located::new(v.span(), format!("{what} must not be empty"))),
        _ => Err(wrong_type(v, what, "a string")),
    }
}

pub(super) fn one_of(
    v: &Spanned<DeValue<'_>>,
    what: &str,
    valid: &[&str],
) -> Result<String, Located> {
    let s = string(v, what)?;
    if valid.contains(&s.as_str()) {
        Ok(s)
    } else {
        Err(Located::new(
            v.span(),
            format!("unknown {what} '{s}'; expected one of {}", valid.join(", ")),
        ))
    }
}

pub(super) fn positive(v: &Spanned<DeValue<'_>>, what: &str, min: i64) -> Result<usize, Located> {
    match integer(v) {
        Some(Ok(i)) if i >= min => Ok(i as usize),
        Some(Ok(i)) => Err(Located::new(
            v.span(),
            format!("{what} must be an integer >= {min}, got {i}"),
        )),
        Some(Err(e)) => Err(e),
        None => Err(wrong_type(v, what, &format!("an integer >= {min}"))),
    }
}

fn duration(v: &Spanned<DeValue<'_>>, what: &str) -> Result<std::time::Duration, Located> {
    let r = match v.get_ref() {
        DeValue::String(s) => parse_duration(s),
        DeValue::Integer(_) | DeValue::Float(_) => match number(v) {
            Some(Ok(x)) => seconds(x).map_err(|e| format!("invalid duration: {e}")),
            Some(Err(e)) => return Err(e),
            None => unreachable!(),
        },
        _ => {
            return Err(Located::new(
                v.span(),
                format!("{what}: {DURATION_HELP}, got {}", type_name(v.get_ref())),
            ))
        }
    };
    r.map_err(|e| Located::new(v.span(), format!("{what}: {e}")))
}

/// A size in bytes: a whole number, or a string such as "10MB", "512KiB", "1GB".
fn byte_size(v: &Spanned<DeValue<'_>>, what: &str) -> Result<u64, Located> {
    const HELP: &str =
        "expected a size such as \"10MB\", \"512KiB\", \"1GB\" or a whole number of bytes";
    match v.get_ref() {
        DeValue::Integer(_) => match integer(v) {
            Some(Ok(i)) if i >= 0 => Ok(i as u64),
            _ => Err(Located::new(v.span(), format!("{what}: {HELP}"))),
        },
        DeValue::String(s) => parse_size(s)
            .ok_or_else(|| Located::new(v.span(), format!("{what}: invalid size '{s}': {HELP}"))),
        _ => Err(wrong_type(v, what, HELP.trim_start_matches("expected "))),
    }
}

/// `"10MB"` and the like in bytes (decimal kB, MB, GB; binary KiB, MiB, GiB; B or none).
fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let amount: f64 = t[..split].parse().ok()?;
    let unit = t[split..].trim().to_ascii_lowercase();
    let factor = match unit.as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = amount * factor;
    (0.0..1.0e18).contains(&bytes).then_some(bytes as u64)
}

/// A finite number.
fn finite(v: &Spanned<DeValue<'_>>, what: &str) -> Result<f64, Located> {
    match number(v) {
        Some(Ok(x)) if x.is_finite() => Ok(x),
        Some(Ok(x)) => Err(Located::new(
            v.span(),
            format!("{what} must be a finite number, got {x}"),
        )),
        Some(Err(e)) => Err(e),
        None => Err(wrong_type(v, what, "a number")),
    }
}

fn read_study(t: &DeTable<'_>) -> Result<StudySettings, Located> {
    let mut s = StudySettings::default();
    for (k, v) in entries(t) {
        let key = k.get_ref().as_ref();
        let what = format!("'{key}' in [study]");
        match key {
            "name" => s.name = Some(string(v, &what)?),
            "algo" => s.algo = one_of(v, "algorithm", &ALGORITHM_NAMES)?,
            "max_evals" => s.max_evals = positive(v, &what, 1)?,
            "parallelism" => {
                s.parallelism = positive(v, &what, 1)?;
                let max = crate::study::MAX_PARALLELISM;
                if s.parallelism > max {
                    return Err(Located::new(
                        v.span(),
                        format!(
                            "{what} must be at most {max} (trials at once), got {}",
                            s.parallelism
                        ),
                    ));
                }
            }
            "seed" => s.seed = Some(positive(v, &what, 0)? as u64),
            "metric" => s.metric = string(v, &what)?,
            "score_metric" => s.score_metric = Some(string(v, &what)?),
            "minimum" => s.minimum = Some(finite(v, &what)?),
            "timeout" => s.timeout = Some(duration(v, &what)?),
            "loss_threshold" => s.loss_threshold = Some(finite(v, &what)?),
            "no_progress" => s.no_progress = Some(positive(v, &what, 1)?),
            "retries" => s.retries = positive(v, &what, 0)?,
            _ => return Err(unknown_key(k, "study", &STUDY_KEYS)),
        }
    }
    Ok(s)
}

const KINDS: [&str; 3] = ["command", "linfa", "function"];

fn read_objective(
    t: &DeTable<'_>,
    span: Range<usize>,
    space: &Space,
    path: &Path,
) -> Result<ObjectiveSpec, Located> {
    let all = entries(t);
    for (k, _) in &all {
        if !OBJECTIVE_KEYS.contains(&k.get_ref().as_ref()) {
            return Err(unknown_key(k, "objective", &OBJECTIVE_KEYS));
        }
    }
    let kinds: Vec<&Entry<'_, '_>> = all
        .iter()
        .filter(|(k, _)| KINDS.contains(&k.get_ref().as_ref()))
        .collect();
    let (kind, value) = match kinds.as_slice() {
        [] => {
            return Err(Located::new(
                span,
                "[objective] needs exactly one of command = [...], linfa = \"<model>\" or function = \"<name>\"",
            ))
        }
        [(k, v)] => (k.get_ref().as_ref(), *v),
        [(a, _), (b, _), ..] => {
            return Err(Located::new(
                b.span(),
                format!(
                    "[objective] has both '{}' and '{}'; choose exactly one of command, linfa, function",
                    a.get_ref(),
                    b.get_ref()
                ),
            ))
        }
    };
    let get = |name: &str| all.iter().find(|(k, _)| k.get_ref() == name).copied();
    // Keys that belong to another objective kind.
    let allowed: &[&str] = match kind {
        "command" => &[
            "command",
            "timeout",
            "grace_period",
            "keep_output",
            "output_limit",
        ],
        "linfa" => &[
            "linfa",
            "dataset",
            "csv",
            "target",
            "validation",
            "folds",
            "metric",
        ],
        _ => &["function"],
    };
    for (k, _) in &all {
        if !allowed.contains(&k.get_ref().as_ref()) {
            return Err(Located::new(
                k.span(),
                format!(
                    "key '{}' does not apply to a {kind} objective; a {kind} objective takes {}",
                    k.get_ref(),
                    allowed.join(", ")
                ),
            ));
        }
    }
    match kind {
        "command" => {
            let mut spec = read_command(value, get("timeout").map(|e| e.1), space)?;
            if let ObjectiveSpec::Command {
                grace_period,
                keep_output,
                output_limit,
                ..
            } = &mut spec
            {
                if let Some((_, v)) = get("grace_period") {
                    *grace_period = Some(duration(v, "'grace_period' in [objective]")?);
                }
                if let Some((_, v)) = get("keep_output") {
                    let names = crate::objective::command::KeepOutput::NAMES;
                    let name = one_of(v, "keep_output", &names)?;
                    *keep_output =
                        crate::objective::command::KeepOutput::by_name(&name).unwrap_or_default();
                }
                if let Some((_, v)) = get("output_limit") {
                    *output_limit = Some(byte_size(v, "'output_limit' in [objective]")?);
                }
            }
            Ok(spec)
        }
        "linfa" => read_linfa(value, &get, path),
        _ => {
            let names: Vec<&str> = crate::bench::problems::all()
                .iter()
                .map(|p| p.name)
                .collect();
            let name = one_of(value, "function", &names)?;
            let problem = crate::bench::problems::by_name(&name).expect("listed");
            let missing: Vec<&str> = problem
                .space
                .params()
                .iter()
                .map(|p| p.label.as_str())
                .filter(|l| space.index_of(l).is_none())
                .collect();
            if !missing.is_empty() {
                let needs: Vec<&str> = problem
                    .space
                    .params()
                    .iter()
                    .map(|p| p.label.as_str())
                    .collect();
                return Err(Located::new(
                    value.span(),
                    format!(
                        "function '{name}' reads the parameters {}, but [space] has no {}",
                        needs.join(", "),
                        missing.join(", ")
                    ),
                ));
            }
            Ok(ObjectiveSpec::Function { name })
        }
    }
}

fn read_command(
    value: &Spanned<DeValue<'_>>,
    timeout: Option<&Spanned<DeValue<'_>>>,
    space: &Space,
) -> Result<ObjectiveSpec, Located> {
    let arr = match value.get_ref() {
        DeValue::Array(a) if !a.is_empty() => a,
        DeValue::Array(_) => {
            return Err(Located::new(
                value.span(),
                "command must not be empty; give the program and its arguments, e.g. [\"python3\", \"train.py\", \"--lr\", \"{lr}\"]",
            ))
        }
        _ => {
            return Err(wrong_type(
                value,
                "command",
                "an array of strings, e.g. [\"python3\", \"train.py\", \"--lr\", \"{lr}\"]",
            ))
        }
    };
    // placeholders may name a parameter or a top-level constant of the space
    let labels: BTreeSet<&str> = crate::objective::command::placeholder_names(space)
        .into_iter()
        .collect();
    let mut argv = Vec::new();
    for e in arr.iter() {
        let DeValue::String(s) = e.get_ref() else {
            return Err(wrong_type(
                e,
                "each command argument",
                "a string (quote numbers: \"42\")",
            ));
        };
        for (offset, name) in crate::objective::command::placeholder_offsets(s) {
            if labels.contains(name) && COMMAND_PLACEHOLDERS.contains(&name) {
                return Err(Located::new(
                    place(e, s, offset),
                    format!(
                        "placeholder '{{{name}}}' is ambiguous: [space] has a parameter or constant named '{name}', and {{{name}}} is the trial's own {name}; give that parameter another label (label = \"...\") or rename the constant"
                    ),
                ));
            }
            if !labels.contains(name) && !COMMAND_PLACEHOLDERS.contains(&name) {
                let valid: Vec<&str> = labels.iter().copied().chain(COMMAND_PLACEHOLDERS).collect();
                return Err(Located::new(
                    place(e, s, offset),
                    format!(
                        "placeholder '{{{name}}}' in the command is not a label or constant of the space; expected one of {}",
                        valid.join(", ")
                    ),
                ));
            }
        }
        argv.push(s.to_string());
    }
    let timeout = match timeout {
        Some(v) => Some(duration(v, "'timeout' in [objective]")?),
        None => None,
    };
    Ok(ObjectiveSpec::Command {
        argv,
        timeout,
        grace_period: None,
        keep_output: Default::default(),
        output_limit: None,
    })
}

/// The span of byte `offset` of string value `s`, exact when the string has no escapes.
fn place(v: &Spanned<DeValue<'_>>, s: &str, offset: usize) -> Range<usize> {
    let span = v.span();
    // A plain one-line string: "..." or '...' with the value verbatim inside the quotes.
    if span.len() == s.len() + 2 {
        span.start + 1 + offset..span.start + 2 + offset
    } else {
        span
    }
}

type Get<'a, 'i> = dyn Fn(&str) -> Option<Entry<'a, 'i>> + 'a;

fn read_linfa(
    value: &Spanned<DeValue<'_>>,
    get: &Get<'_, '_>,
    path: &Path,
) -> Result<ObjectiveSpec, Located> {
    let model = one_of(value, "linfa model", &LINFA_MODELS)?;
    let classifier = model == "decision_tree";
    let data = match (get("dataset"), get("csv")) {
        (Some(_), Some((c, _))) => {
            return Err(Located::new(
                c.span(),
                "[objective] has both 'dataset' and 'csv'; give one data source",
            ));
        }
        (Some((_, d)), None) => {
            if let Some((t, _)) = get("target") {
                return Err(Located::new(
                    t.span(),
                    "'target' applies only to csv data; a bundled data set has its own target",
                ));
            }
            let name = one_of(d, "dataset", &LINFA_DATASETS)?;
            if classifier && name == "diabetes" {
                return Err(Located::new(
                    d.span(),
                    "decision_tree is a classifier, but diabetes has a continuous target; use iris or winequality",
                ));
            }
            DataSource::Bundled(name)
        }
        (None, Some((_, c))) => {
            let file = string(c, "csv")?;
            let Some((_, t)) = get("target") else {
                return Err(Located::new(
                    c.span(),
                    "csv data needs target = \"<column>\": the column to predict",
                ));
            };
            let target = string(t, "target")?;
            let file = Path::new(&file);
            let resolved = if file.is_absolute() {
                file.to_path_buf()
            } else {
                path.parent().unwrap_or(Path::new("")).join(file)
            };
            DataSource::Csv {
                path: resolved,
                target,
            }
        }
        (None, None) => {
            return Err(Located::new(
                value.span(),
                format!(
                    "a linfa objective needs data: dataset = \"<name>\" ({}) or csv = \"<file>\" with target = \"<column>\"",
                    LINFA_DATASETS.join(", ")
                ),
            ))
        }
    };
    let validation = match (get("validation"), get("folds")) {
        (Some(_), Some((f, _))) => {
            return Err(Located::new(
                f.span(),
                "[objective] has both 'validation' and 'folds'; give a hold-out fraction or a number of folds",
            ))
        }
        (Some((_, v)), None) => match number(v) {
            Some(Ok(x)) if x > 0.0 && x < 1.0 => Validation::Holdout(x),
            Some(Ok(x)) => {
                return Err(Located::new(
                    v.span(),
                    format!("validation is the hold-out fraction and must be in (0, 1), got {x}"),
                ))
            }
            Some(Err(e)) => return Err(e),
            None => {
                return Err(wrong_type(
                    v,
                    "validation",
                    "a hold-out fraction in (0, 1), e.g. 0.2",
                ))
            }
        },
        (None, Some((_, f))) => Validation::KFold(positive(f, "folds", 2)?),
        (None, None) => Validation::Holdout(0.2),
    };
    let metric = match get("metric") {
        Some((_, m)) => {
            let metric = one_of(m, "metric", &LINFA_METRICS)?;
            if classifier != (metric == "accuracy") {
                return Err(Located::new(
                    m.span(),
                    if classifier {
                        "decision_tree is a classifier; its metric must be accuracy".to_string()
                    } else {
                        format!("{model} is a regression model; its metric must be rmse, mae or r2")
                    },
                ));
            }
            metric
        }
        None if classifier => "accuracy".into(),
        None => "rmse".into(),
    };
    Ok(ObjectiveSpec::Linfa {
        model,
        data,
        validation,
        metric,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_keys() {
        assert!(close("max_eval", "max_evals"));
        assert!(close("algp", "algo"));
        assert!(!close("seed", "name"));
    }
}
