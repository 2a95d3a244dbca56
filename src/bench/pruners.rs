//! The pruners of `hpo bench --pruners`: `kind[:key=value]...`, with the keys of a run file's
//! `[pruner]` table (e.g. `median:n_warmup_steps=10`), and `default`, the pruner recommended
//! for multi-fidelity studies, and `oracle`, the benchmark's reference that knows the final
//! values (see [`super::oracle`]).

use super::fidelity::STEPS;
use super::oracle::Oracle;
use crate::runfile::pruner_keys;
use crate::study::prune::{
    Extrapolate, Hyperband, Median, NoPruner, Percentile, Pruner, PrunerError, SuccessiveHalving,
};

/// The pruner `default` stands for, chosen on held-out seeds (100-139, never the reported
/// 0-19) among extrapolating, percentile, median, successive-halving and Hyperband settings:
/// the extrapolating pruner with its defaults, which stops a trial once an optimistic forecast
/// of its final value is above the 2nd percentile of the completed trials' fitted final values
/// (see BENCH.md, "Pruning: compute saved").
pub const DEFAULT_PRUNER: &str = "extrapolate";

/// The pruner kinds `--pruners` accepts.
pub const BENCH_PRUNERS: [&str; 8] = [
    "none",
    "extrapolate",
    "median",
    "percentile",
    "asha",
    "hyperband",
    "default",
    "oracle",
];

fn number<T: std::str::FromStr>(spec: &str, key: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("pruner '{spec}': {key} = '{value}' is not a valid number"))
}

/// A setting's value that must be `true` or `false`.
fn flag(spec: &str, key: &str, value: &str) -> Result<bool, String> {
    value
        .parse()
        .map_err(|_| format!("pruner '{spec}': {key} = '{value}' is not true or false"))
}

/// A spec's `key=value` settings, trimmed.
type Settings<'s> = Vec<(&'s str, &'s str)>;

/// A spec's kind and its settings.
fn split(spec: &str) -> Result<(&str, Settings<'_>), String> {
    let mut parts = spec.trim().split(':');
    let kind = parts.next().unwrap_or("");
    let mut settings = Settings::new();
    for part in parts {
        let Some((k, v)) = part.split_once('=') else {
            return Err(format!(
                "pruner '{spec}': '{part}' is not key=value (e.g. median:n_warmup_steps=10)"
            ));
        };
        settings.push((k.trim(), v.trim()));
    }
    Ok((kind, settings))
}

/// Whether `spec` names the oracle, the benchmark's reference rather than a pruner.
pub fn is_oracle(spec: &str) -> bool {
    spec.trim().split(':').next() == Some("oracle")
}

/// The oracle of an `oracle[:tolerance=T][:n_warmup_steps=W]` spec (defaults 0 and 4), None
/// for any other pruner.
pub fn oracle(spec: &str) -> Result<Option<Oracle>, String> {
    if !is_oracle(spec) {
        return Ok(None);
    }
    let (mut tolerance, mut warmup) = (0.0, 4);
    for (k, v) in split(spec)?.1 {
        match k {
            "tolerance" => tolerance = number(spec, k, v)?,
            "n_warmup_steps" => warmup = number(spec, k, v)?,
            _ => {
                return Err(format!(
                    "pruner '{spec}': '{k}={v}' is not a setting of oracle; use tolerance=T, \
                     n_warmup_steps=W"
                ))
            }
        }
    }
    Oracle::new(tolerance, warmup)
        .map(Some)
        .map_err(|e| format!("pruner '{spec}': {e}"))
}

/// A pruner from its spec; `max_resource` of Hyperband defaults to the curves' length. The
/// `oracle` is no pruner of the study (it never stops a trial through the pruner): its
/// settings are checked and the benchmark's objective stops trials (see [`oracle`]).
pub fn parse(spec: &str) -> Result<Box<dyn Pruner>, String> {
    let spec = spec.trim();
    if spec == "default" {
        return parse(DEFAULT_PRUNER);
    }
    if is_oracle(spec) {
        oracle(spec)?;
        return Ok(Box::new(NoPruner));
    }
    let (kind, settings) = split(spec)?;
    let bad_key = |k: &str| {
        format!(
            "pruner '{spec}': unknown setting '{k}' for {kind}; use {}",
            pruner_keys(kind).join(", ")
        )
    };
    let err = |e: PrunerError| format!("pruner '{spec}': {e}");
    match kind {
        "none" => {
            if let Some((k, _)) = settings.first() {
                return Err(bad_key(k));
            }
            Ok(Box::new(NoPruner))
        }
        "median" | "percentile" => {
            let mut p = Percentile {
                percentile: 50.0,
                ..Median::new().0
            };
            for (k, v) in settings {
                match k {
                    "percentile" if kind == "percentile" => p.percentile = number(spec, k, v)?,
                    "n_startup_trials" => p.n_startup_trials = number(spec, k, v)?,
                    "n_warmup_steps" => p.n_warmup_steps = number(spec, k, v)?,
                    "interval_steps" => p.interval_steps = number(spec, k, v)?,
                    "n_min_trials" => p.n_min_trials = number(spec, k, v)?,
                    _ => return Err(bad_key(k)),
                }
            }
            if kind == "median" {
                Ok(Box::new(Median::with(p).map_err(err)?))
            } else {
                Ok(Box::new(p.validated().map_err(err)?))
            }
        }
        "extrapolate" => {
            let mut p = Extrapolate::default();
            for (k, v) in settings {
                match k {
                    "percentile" => p.percentile = number(spec, k, v)?,
                    "n_startup_trials" => p.n_startup_trials = number(spec, k, v)?,
                    "n_warmup_steps" => p.n_warmup_steps = number(spec, k, v)?,
                    "interval_steps" => p.interval_steps = number(spec, k, v)?,
                    "z" => p.z = number(spec, k, v)?,
                    "forecast_tolerance" => p.forecast_tolerance = number(spec, k, v)?,
                    "analogies" => p.analogies = flag(spec, k, v)?,
                    "tangent" => p.tangent = Some(flag(spec, k, v)?),
                    _ => return Err(bad_key(k)),
                }
            }
            Ok(Box::new(p.validated().map_err(err)?))
        }
        "asha" => {
            let (mut min, mut rf, mut rate, mut boot) = (None, 4, 0, 0);
            for (k, v) in settings {
                match k {
                    "min_resource" if v == "auto" => min = None,
                    "min_resource" => min = Some(number(spec, k, v)?),
                    "reduction_factor" => rf = number(spec, k, v)?,
                    "min_early_stopping_rate" => rate = number(spec, k, v)?,
                    "bootstrap_count" => boot = number(spec, k, v)?,
                    _ => return Err(bad_key(k)),
                }
            }
            Ok(Box::new(
                SuccessiveHalving::new(min, rf, rate, boot).map_err(err)?,
            ))
        }
        "hyperband" => {
            let (mut min, mut max, mut rf, mut boot) = (1, STEPS, 3, 0);
            for (k, v) in settings {
                match k {
                    "min_resource" => min = number(spec, k, v)?,
                    "max_resource" => max = number(spec, k, v)?,
                    "reduction_factor" => rf = number(spec, k, v)?,
                    "bootstrap_count" => boot = number(spec, k, v)?,
                    _ => return Err(bad_key(k)),
                }
            }
            Ok(Box::new(Hyperband::new(min, max, rf, boot).map_err(err)?))
        }
        _ => Err(format!(
            "unknown pruner '{kind}': use one of {}",
            BENCH_PRUNERS.join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_build_their_pruners_and_bad_ones_say_why() {
        assert_eq!(parse("none").unwrap().name(), "none");
        assert_eq!(parse("median").unwrap().name(), "median");
        assert_eq!(parse("default").unwrap().name(), "extrapolate");
        assert_eq!(
            parse("extrapolate:percentile=10:z=1").unwrap().name(),
            "extrapolate"
        );
        assert!(parse("extrapolate:z=-1").unwrap_err().contains("'z'"));
        assert_eq!(
            parse("extrapolate:analogies=false").unwrap().name(),
            "extrapolate"
        );
        assert_eq!(
            parse("extrapolate:tangent=true").unwrap().name(),
            "extrapolate"
        );
        assert!(parse("extrapolate:tangent=1")
            .unwrap_err()
            .contains("tangent = '1' is not true or false"));
        let e = parse("extrapolate:analogies=no").unwrap_err();
        assert!(e.contains("analogies = 'no' is not true or false"), "{e}");
        assert_eq!(
            parse("percentile:percentile=25").unwrap().name(),
            "percentile"
        );
        assert_eq!(parse("asha:min_resource=auto").unwrap().name(), "asha");
        assert_eq!(parse("hyperband").unwrap().name(), "hyperband");
        let e = parse("median:n_warmup=3").unwrap_err();
        assert!(e.contains("unknown setting 'n_warmup'"), "{e}");
        let e = parse("median:n_warmup_steps=x").unwrap_err();
        assert!(e.contains("not a valid number"), "{e}");
        let e = parse("asha:reduction_factor=1").unwrap_err();
        assert!(e.contains("reduction_factor"), "{e}");
        assert!(parse("bogus").unwrap_err().contains("unknown pruner"));
        assert!(parse("median:5").unwrap_err().contains("key=value"));
    }
}
