//! The run file's `[pruner]` table: which pruner stops unpromising trials, its settings, and the
//! metric it watches.
//!
//! ```toml
//! [pruner]
//! kind = "median"          # extrapolate | median | percentile | asha | hyperband | threshold | patient | none
//! metric = "val_loss"      # the reported key it watches (default: [study] metric)
//! n_startup_trials = 5
//! n_warmup_steps = 2
//!
//! # patient wraps another pruner, given as a nested table:
//! # [pruner]
//! # kind = "patient"
//! # patience = 3
//! # [pruner.wrapped]
//! # kind = "median"
//! ```

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::parse::{one_of, positive, string, unknown_key, wrong_type};
use crate::space::toml::{entries, integer, number, Located};
use crate::study::prune::{
    Extrapolate, Hyperband, Median, NoPruner, Patient, Percentile, Pruner, PrunerError,
    SuccessiveHalving, Threshold, PRUNER_NAMES,
};

/// A pruner as a run file describes it.
#[derive(Clone, Debug, PartialEq)]
pub enum PrunerKind {
    /// The extrapolating pruner (the recommended one).
    Extrapolate(Extrapolate),
    /// The median pruner with these settings.
    Median(Percentile),
    /// The percentile pruner.
    Percentile(Percentile),
    /// Asynchronous successive halving.
    Asha {
        /// Steps of the first rung (`None`: "auto").
        min_resource: Option<i64>,
        /// Each rung keeps one trial in this many.
        reduction_factor: i64,
        /// Rungs skipped at the start.
        min_early_stopping_rate: u32,
        /// Values needed at a rung before promotions.
        bootstrap_count: usize,
    },
    /// Hyperband: successive-halving brackets.
    Hyperband {
        /// Steps of bracket 0's first rung.
        min_resource: i64,
        /// The step a trial is expected to run to.
        max_resource: i64,
        /// Each rung keeps one trial in this many.
        reduction_factor: i64,
        /// Values needed at a rung before promotions.
        bootstrap_count: usize,
    },
    /// The threshold pruner.
    Threshold(Threshold),
    /// The patient pruner around another one (or none).
    Patient {
        /// The wrapped pruner.
        wrapped: Option<Box<PrunerKind>>,
        /// Steps without improvement tolerated.
        patience: usize,
        /// Smallest improvement that counts.
        min_delta: f64,
    },
    /// No pruning.
    None,
}

impl PrunerKind {
    /// The pruner itself.
    pub fn build(&self) -> Box<dyn Pruner> {
        match self {
            PrunerKind::Extrapolate(p) => Box::new(p.clone()),
            PrunerKind::Median(p) => Box::new(Median(p.clone())),
            PrunerKind::Percentile(p) => Box::new(p.clone()),
            PrunerKind::Asha {
                min_resource,
                reduction_factor,
                min_early_stopping_rate,
                bootstrap_count,
            } => match SuccessiveHalving::new(
                *min_resource,
                *reduction_factor,
                *min_early_stopping_rate,
                *bootstrap_count,
            ) {
                Ok(p) => Box::new(p),
                // validated when the file was read
                Err(_) => Box::new(NoPruner),
            },
            PrunerKind::Hyperband {
                min_resource,
                max_resource,
                reduction_factor,
                bootstrap_count,
            } => match Hyperband::new(
                *min_resource,
                *max_resource,
                *reduction_factor,
                *bootstrap_count,
            ) {
                Ok(p) => Box::new(p),
                // validated when the file was read
                Err(_) => Box::new(NoPruner),
            },
            PrunerKind::Threshold(t) => Box::new(t.clone()),
            PrunerKind::Patient {
                wrapped,
                patience,
                min_delta,
            } => Box::new(Patient {
                wrapped: wrapped.as_ref().map(|w| w.build()),
                patience: *patience,
                min_delta: *min_delta,
            }),
            PrunerKind::None => Box::new(NoPruner),
        }
    }
}

impl std::fmt::Display for PrunerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pct = |f: &mut std::fmt::Formatter<'_>, p: &Percentile| {
            write!(
                f,
                "n_startup_trials = {}, n_warmup_steps = {}, interval_steps = {}, n_min_trials = {}",
                p.n_startup_trials, p.n_warmup_steps, p.interval_steps, p.n_min_trials
            )
        };
        match self {
            PrunerKind::Extrapolate(p) => write!(
                f,
                "extrapolate {} (n_startup_trials = {}, n_warmup_steps = {}, interval_steps = {}, z = {}, forecast_tolerance = {}, analogies = {}, tangent = {})",
                p.percentile,
                p.n_startup_trials,
                p.n_warmup_steps,
                p.interval_steps,
                p.z,
                p.forecast_tolerance,
                p.analogies,
                match p.tangent {
                    Some(on) => on.to_string(),
                    None => "by sampler (on with random and anneal, off with tpe)".into(),
                }
            ),
            PrunerKind::Median(p) => {
                write!(f, "median (")?;
                pct(f, p)?;
                write!(f, ")")
            }
            PrunerKind::Percentile(p) => {
                write!(f, "percentile {} (", p.percentile)?;
                pct(f, p)?;
                write!(f, ")")
            }
            PrunerKind::Asha {
                min_resource,
                reduction_factor,
                min_early_stopping_rate,
                bootstrap_count,
            } => write!(
                f,
                "asha (min_resource = {}, reduction_factor = {reduction_factor}, \
                 min_early_stopping_rate = {min_early_stopping_rate}, bootstrap_count = {bootstrap_count})",
                min_resource.map_or("auto".to_string(), |m| m.to_string())
            ),
            PrunerKind::Hyperband {
                min_resource,
                max_resource,
                reduction_factor,
                bootstrap_count,
            } => write!(
                f,
                "hyperband (min_resource = {min_resource}, max_resource = {max_resource}, \
                 reduction_factor = {reduction_factor}, bootstrap_count = {bootstrap_count})"
            ),
            PrunerKind::Threshold(t) => write!(
                f,
                "threshold (lower = {}, upper = {}, n_warmup_steps = {}, interval_steps = {})",
                t.lower.map_or("none".to_string(), |l| l.to_string()),
                t.upper.map_or("none".to_string(), |u| u.to_string()),
                t.n_warmup_steps,
                t.interval_steps
            ),
            PrunerKind::Patient {
                wrapped,
                patience,
                min_delta,
            } => {
                write!(f, "patient (patience = {patience}, min_delta = {min_delta}")?;
                match wrapped {
                    Some(w) => write!(f, ", wrapping {w})"),
                    None => write!(f, ")"),
                }
            }
            PrunerKind::None => write!(f, "none"),
        }
    }
}

/// The `[pruner]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct PrunerSpec {
    /// Which pruner, with its settings.
    pub kind: PrunerKind,
    /// The reported metric it watches (`None`: the study's metric).
    pub metric: Option<String>,
}

/// The keys `[pruner]` accepts for each kind (besides `kind` and `metric`).
pub fn pruner_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "extrapolate" => &[
            "percentile",
            "n_startup_trials",
            "n_warmup_steps",
            "interval_steps",
            "z",
            "forecast_tolerance",
            "analogies",
            "tangent",
        ],
        "median" => &[
            "n_startup_trials",
            "n_warmup_steps",
            "interval_steps",
            "n_min_trials",
        ],
        "percentile" => &[
            "percentile",
            "n_startup_trials",
            "n_warmup_steps",
            "interval_steps",
            "n_min_trials",
        ],
        "asha" => &[
            "min_resource",
            "reduction_factor",
            "min_early_stopping_rate",
            "bootstrap_count",
        ],
        "hyperband" => &[
            "min_resource",
            "max_resource",
            "reduction_factor",
            "bootstrap_count",
        ],
        "threshold" => &["lower", "upper", "n_warmup_steps", "interval_steps"],
        "patient" => &["patience", "min_delta", "wrapped"],
        _ => &[],
    }
}

type Entry<'a, 'i> = (
    &'a Spanned<std::borrow::Cow<'i, str>>,
    &'a Spanned<DeValue<'i>>,
);

/// Read `[pruner]` (a table at `span`).
pub(super) fn read_pruner(t: &DeTable<'_>, span: Range<usize>) -> Result<PrunerSpec, Located> {
    let all = entries(t);
    let metric = match all.iter().find(|(k, _)| k.get_ref() == "metric") {
        Some((_, v)) => Some(string(v, "'metric' in [pruner]")?),
        None => None,
    };
    let kind = read_kind(&all, span, "pruner", true)?;
    Ok(PrunerSpec { kind, metric })
}

fn read_kind(
    all: &[Entry<'_, '_>],
    span: Range<usize>,
    table: &str,
    top: bool,
) -> Result<PrunerKind, Located> {
    let Some((_, kv)) = all.iter().find(|(k, _)| k.get_ref() == "kind") else {
        return Err(Located::new(
            span,
            format!("[{table}] needs kind = one of {}", PRUNER_NAMES.join(", ")),
        ));
    };
    let kind = one_of(kv, "pruner kind", &PRUNER_NAMES)?;
    let keys = pruner_keys(&kind);
    let mut valid: Vec<&str> = vec!["kind"];
    if top {
        valid.push("metric");
    }
    valid.extend_from_slice(keys);
    for (k, _) in all {
        if !valid.contains(&k.get_ref().as_ref()) {
            return Err(unknown_key(k, table, &valid));
        }
    }
    let get = |name: &str| all.iter().find(|(k, _)| k.get_ref() == name).map(|e| e.1);
    let what = |name: &str| format!("'{name}' in [{table}]");
    let int = |name: &str, min: i64, default: i64| -> Result<i64, Located> {
        match get(name) {
            Some(v) => positive(v, &what(name), min).map(|i| i as i64),
            None => Ok(default),
        }
    };
    let float = |name: &str| -> Result<Option<f64>, Located> {
        match get(name) {
            None => Ok(None),
            Some(v) => match number(v) {
                Some(Ok(x)) if x.is_finite() => Ok(Some(x)),
                Some(Ok(x)) => Err(Located::new(
                    v.span(),
                    format!("{} must be a finite number, got {x}", what(name)),
                )),
                Some(Err(e)) => Err(e),
                None => Err(wrong_type(v, &what(name), "a number")),
            },
        }
    };
    let flag = |name: &str| -> Result<Option<bool>, Located> {
        match get(name).map(|v| (v, v.get_ref())) {
            None => Ok(None),
            Some((_, DeValue::Boolean(b))) => Ok(Some(*b)),
            Some((v, _)) => Err(wrong_type(v, &what(name), "true or false")),
        }
    };
    // a library check of a setting, located at the setting (or the table)
    let checked = |r: Result<PrunerKind, PrunerError>| {
        r.map_err(|e| {
            let at = get(e.field).map_or(span.clone(), |v| v.span());
            Located::new(at, format!("[{table}] {e}"))
        })
    };
    let percentile = |q: f64| -> Result<Percentile, Located> {
        Ok(Percentile {
            percentile: q,
            n_startup_trials: int("n_startup_trials", 0, 5)? as usize,
            n_warmup_steps: int("n_warmup_steps", 0, 0)?,
            interval_steps: int("interval_steps", 1, 1)?,
            n_min_trials: int("n_min_trials", 1, 1)? as usize,
        })
    };
    match kind.as_str() {
        "extrapolate" => {
            let mut p = Extrapolate::default();
            p.percentile = float("percentile")?.unwrap_or(p.percentile);
            p.n_startup_trials = int("n_startup_trials", 0, p.n_startup_trials as i64)? as usize;
            p.n_warmup_steps = int("n_warmup_steps", 0, p.n_warmup_steps)?;
            p.interval_steps = int("interval_steps", 1, p.interval_steps)?;
            p.z = float("z")?.unwrap_or(p.z);
            p.forecast_tolerance = float("forecast_tolerance")?.unwrap_or(p.forecast_tolerance);
            p.analogies = flag("analogies")?.unwrap_or(p.analogies);
            p.tangent = flag("tangent")?.or(p.tangent);
            checked(p.validated().map(PrunerKind::Extrapolate))
        }
        "median" => Ok(PrunerKind::Median(percentile(50.0)?)),
        "percentile" => {
            let Some(q) = float("percentile")? else {
                return Err(Located::new(
                    span,
                    format!(
                        "[{table}] kind = \"percentile\" needs percentile = a number from 0 to 100"
                    ),
                ));
            };
            let p = percentile(q)?;
            checked(p.validated().map(PrunerKind::Percentile))
        }
        "asha" => {
            let min_resource = match get("min_resource") {
                None => None,
                Some(v) if matches!(v.get_ref(), DeValue::String(s) if s.as_ref() == "auto") => {
                    None
                }
                Some(v) => match integer(v) {
                    Some(Ok(i)) => Some(i),
                    Some(Err(e)) => return Err(e),
                    None => {
                        return Err(wrong_type(
                            v,
                            &what("min_resource"),
                            "an integer >= 1 or \"auto\"",
                        ))
                    }
                },
            };
            let reduction_factor = match get("reduction_factor") {
                Some(v) => match integer(v) {
                    Some(Ok(i)) => i,
                    Some(Err(e)) => return Err(e),
                    None => {
                        return Err(wrong_type(v, &what("reduction_factor"), "an integer >= 2"))
                    }
                },
                None => 4,
            };
            let rate = int("min_early_stopping_rate", 0, 0)?;
            let bootstrap = int("bootstrap_count", 0, 0)? as usize;
            let rate = u32::try_from(rate).unwrap_or(u32::MAX);
            checked(
                SuccessiveHalving::new(min_resource, reduction_factor, rate, bootstrap).map(|_| {
                    PrunerKind::Asha {
                        min_resource,
                        reduction_factor,
                        min_early_stopping_rate: rate,
                        bootstrap_count: bootstrap,
                    }
                }),
            )
        }
        "hyperband" => {
            let Some(mv) = get("max_resource") else {
                return Err(Located::new(
                    span,
                    format!("[{table}] kind = \"hyperband\" needs max_resource = an integer >= 1 (the last step a trial reports)"),
                ));
            };
            let max_resource = positive(mv, &what("max_resource"), 1)? as i64;
            let min_resource = int("min_resource", 1, 1)?;
            let reduction_factor = int("reduction_factor", 2, 3)?;
            let bootstrap = int("bootstrap_count", 0, 0)? as usize;
            checked(
                Hyperband::new(min_resource, max_resource, reduction_factor, bootstrap).map(|_| {
                    PrunerKind::Hyperband {
                        min_resource,
                        max_resource,
                        reduction_factor,
                        bootstrap_count: bootstrap,
                    }
                }),
            )
        }
        "threshold" => {
            let t = Threshold {
                lower: float("lower")?,
                upper: float("upper")?,
                n_warmup_steps: int("n_warmup_steps", 0, 0)?,
                interval_steps: int("interval_steps", 1, 1)?,
            };
            checked(t.validated().map(PrunerKind::Threshold))
        }
        "patient" => {
            let Some(pv) = get("patience") else {
                return Err(Located::new(
                    span,
                    format!("[{table}] kind = \"patient\" needs patience = an integer >= 0"),
                ));
            };
            let patience = positive(pv, &what("patience"), 0)?;
            let min_delta = float("min_delta")?.unwrap_or(0.0);
            let wrapped = match get("wrapped") {
                None => None,
                Some(w) => match w.get_ref() {
                    DeValue::Table(wt) => {
                        let inner = entries(wt);
                        let name = format!("{table}.wrapped");
                        Some(Box::new(read_kind(&inner, w.span(), &name, false)?))
                    }
                    _ => {
                        return Err(wrong_type(
                            w,
                            &what("wrapped"),
                            "a table ([pruner.wrapped] with its own kind)",
                        ))
                    }
                },
            };
            checked(
                Patient::new(None, patience, min_delta).map(|_| PrunerKind::Patient {
                    wrapped,
                    patience,
                    min_delta,
                }),
            )
        }
        _ => Ok(PrunerKind::None),
    }
}
