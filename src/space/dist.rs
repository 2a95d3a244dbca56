//! The twelve hyperopt distributions, their validation and their prior sampling.
//!
//! Argument meanings are hyperopt's, so a hyperopt space translates line by line:
//! `loguniform(low, high)` takes natural-log exponents, `randint(low, high)` excludes `high`.
//!
//! # The quantization rule
//! A quantized distribution (`quniform`, `qloguniform`, `qnormal`, `qlognormal`, `uniformint`)
//! yields multiples of `q`. Where the distribution is bounded, its values are the multiples of
//! `q` inside `[low, high]` (for `qloguniform`, inside `[e^low, e^high]`): the grid. A draw is
//! snapped to the nearest grid value, so values never leave `[low, high]` (hyperopt's
//! `quniform(1, 10, 4)` can return 0; here it returns 4 or 8). `quniform` and `uniformint` give
//! every grid value the same probability (hyperopt gives the two end values half as much);
//! `qloguniform` keeps the log-uniform shape. `qlognormal` never returns 0: its smallest value
//! is `q`. A bounded quantized distribution whose grid is empty is an error.
//!
//! # Numeric limits
//! A space is refused when some value it can yield is not a finite, exact number:
//! - `high - low` must be finite (`uniform = [-1.7e308, 1.7e308]` is refused);
//! - a normal's draws reach `mu ± 13 sigma` at most (a polar-method draw from 53-bit uniforms
//!   never exceeds 12.1 in magnitude), so `mu ± 13 sigma` must be finite, and for a lognormal
//!   `exp(mu + 13 sigma)` too (`mu + 13 sigma <= 709.78`);
//! - a grid may hold at most 2^53 steps and `value / q` must be finite, so every grid value is
//!   a distinct, finite multiple of `q` (`quniform = [0, 1e300, 1e-300]` is refused);
//! - an integer parameter's values must lie within ±2^53 (9007199254740992), where `f64` and
//!   `i64` both hold every integer exactly (`quniform = [0, 1e300, 1], int = true` is refused
//!   instead of saturating to `i64::MAX`). This applies to `randint` and `uniformint` too.

use rand::RngExt;

use super::{Node, SpaceError};

/// A distribution of one labelled parameter, with hyperopt's argument meanings.
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    /// One of the options, uniformly (hyperopt `hp.choice`); options may be sub-spaces.
    Choice(Vec<Node>),
    /// One of the options with the given probabilities (hyperopt `hp.pchoice`).
    PChoice(Vec<(f64, Node)>),
    /// Uniform on `[low, high]`.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Uniform on `[low, high]`, quantized to multiples of `q`.
    QUniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
        /// Step.
        q: f64,
    },
    /// `exp(uniform(low, high))`: the bounds are natural-log exponents.
    LogUniform {
        /// Lower bound of the exponent.
        low: f64,
        /// Upper bound of the exponent.
        high: f64,
    },
    /// `exp(uniform(low, high))` quantized to multiples of `q`.
    QLogUniform {
        /// Lower bound of the exponent.
        low: f64,
        /// Upper bound of the exponent.
        high: f64,
        /// Step (in linear space).
        q: f64,
    },
    /// Normal with mean `mu` and standard deviation `sigma`, unbounded.
    Normal {
        /// Mean.
        mu: f64,
        /// Standard deviation.
        sigma: f64,
    },
    /// Normal quantized to multiples of `q`.
    QNormal {
        /// Mean.
        mu: f64,
        /// Standard deviation.
        sigma: f64,
        /// Step.
        q: f64,
    },
    /// `exp(normal(mu, sigma))`.
    LogNormal {
        /// Mean of the logarithm.
        mu: f64,
        /// Standard deviation of the logarithm.
        sigma: f64,
    },
    /// `exp(normal(mu, sigma))` quantized to multiples of `q` (never below `q`).
    QLogNormal {
        /// Mean of the logarithm.
        mu: f64,
        /// Standard deviation of the logarithm.
        sigma: f64,
        /// Step.
        q: f64,
    },
    /// An integer in `low..high` (high exclusive), with no order between values (a categorical).
    RandInt {
        /// Lowest value (inclusive).
        low: i64,
        /// Upper end (exclusive).
        high: i64,
    },
    /// An integer in `low..=high`, every value equally likely, ordered (TPE models neighbours).
    UniformInt {
        /// Lowest value (inclusive).
        low: i64,
        /// Highest value (inclusive).
        high: i64,
    },
}

impl Dist {
    /// hyperopt's name for this distribution.
    pub fn name(&self) -> &'static str {
        match self {
            Dist::Choice(_) => "choice",
            Dist::PChoice(_) => "pchoice",
            Dist::Uniform { .. } => "uniform",
            Dist::QUniform { .. } => "quniform",
            Dist::LogUniform { .. } => "loguniform",
            Dist::QLogUniform { .. } => "qloguniform",
            Dist::Normal { .. } => "normal",
            Dist::QNormal { .. } => "qnormal",
            Dist::LogNormal { .. } => "lognormal",
            Dist::QLogNormal { .. } => "qlognormal",
            Dist::RandInt { .. } => "randint",
            Dist::UniformInt { .. } => "uniformint",
        }
    }

    fn q(&self) -> Option<f64> {
        match self {
            Dist::QUniform { q, .. }
            | Dist::QLogUniform { q, .. }
            | Dist::QNormal { q, .. }
            | Dist::QLogNormal { q, .. } => Some(*q),
            _ => None,
        }
    }
}

/// How the algorithms see a numeric parameter: a value in "internal" space (log space for log
/// distributions), its bounds and prior there, and how to turn it back into a raw value.
#[derive(Clone, Debug, PartialEq)]
pub struct Numeric {
    /// True for the log distributions: internal values are natural logs of raw values.
    pub log: bool,
    /// Lower bound in internal space (`-inf` for normals).
    pub low: f64,
    /// Upper bound in internal space (`+inf` for normals).
    pub high: f64,
    /// Prior mean in internal space (the middle for bounded distributions).
    pub prior_mu: f64,
    /// Prior standard deviation in internal space (the width for bounded distributions).
    pub prior_sigma: f64,
    /// Quantization step in raw space.
    pub q: Option<f64>,
    /// The first and last grid values (raw space) of a bounded quantized distribution.
    pub grid: Option<(f64, f64)>,
    /// True if values are integers.
    pub int: bool,
    /// True for the uniform family (prior uniform on [low, high]), false for normals.
    pub uniform_prior: bool,
    decimals: Option<i32>,
    /// Lowest raw value for `qlognormal` (q); `None` otherwise.
    min_raw: Option<f64>,
}

/// The kind of a compiled parameter, as the algorithms see it.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamKind {
    /// A choice among `n` options; `probs` for `pchoice`. Raw values are option indices.
    Categorical {
        /// Number of options.
        n: usize,
        /// Prior probabilities (`pchoice`), uniform when `None`.
        probs: Option<Vec<f64>>,
    },
    /// `randint(low, high)`: unordered integers, modelled as a categorical over `high - low`
    /// values. Raw values are the integers themselves.
    RandInt {
        /// Lowest value.
        low: i64,
        /// Upper end (exclusive).
        high: i64,
    },
    /// A numeric parameter.
    Numeric(Numeric),
}

impl ParamKind {
    /// Number of categories for categorical kinds (choice, pchoice, randint).
    pub fn categories(&self) -> Option<usize> {
        match self {
            ParamKind::Categorical { n, .. } => Some(*n),
            ParamKind::RandInt { low, high } => Some((high - low) as usize),
            ParamKind::Numeric(_) => None,
        }
    }

    /// Category index of a raw value (categorical kinds).
    pub fn category_of(&self, raw: f64) -> usize {
        match self {
            ParamKind::RandInt { low, .. } => (raw as i64 - low) as usize,
            _ => raw as usize,
        }
    }

    /// Raw value -> internal value, the space the algorithms model a parameter in: a numeric
    /// parameter's [`Numeric::to_internal`], a categorical one's raw value unchanged.
    pub(crate) fn to_internal(&self, raw: f64) -> f64 {
        match self {
            ParamKind::Numeric(n) => n.to_internal(raw),
            _ => raw,
        }
    }

    /// Raw value of a category index (categorical kinds).
    pub fn raw_of_category(&self, k: usize) -> f64 {
        match self {
            ParamKind::RandInt { low, .. } => (low + k as i64) as f64,
            _ => k as f64,
        }
    }

    /// Prior probability of category `k` (categorical kinds).
    pub fn category_prior(&self, k: usize) -> f64 {
        match self {
            ParamKind::Categorical { probs: Some(p), .. } => p[k],
            _ => 1.0 / self.categories().unwrap_or(1) as f64,
        }
    }

    /// True if the parameter takes finitely many values (categorical, or quantized and bounded).
    pub fn is_discrete(&self) -> bool {
        match self {
            ParamKind::Numeric(n) => n.grid.is_some(),
            _ => true,
        }
    }

    /// Draw a raw value from the prior.
    pub fn sample_prior<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            ParamKind::Categorical { n, probs } => match probs {
                None => rng.random_range(0..*n) as f64,
                Some(p) => sample_weighted(rng, p) as f64,
            },
            ParamKind::RandInt { low, high } => rng.random_range(*low..*high) as f64,
            ParamKind::Numeric(n) => n.sample_prior(rng),
        }
    }
}

/// Index drawn with probability proportional to `weights` (which must not all be zero).
pub(crate) fn sample_weighted<R: rand::Rng + ?Sized>(rng: &mut R, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
}

/// A standard normal draw (Marsaglia's polar method).
pub(crate) fn std_normal<R: rand::Rng + ?Sized>(rng: &mut R) -> f64 {
    loop {
        let u = 2.0 * rng.random::<f64>() - 1.0;
        let v = 2.0 * rng.random::<f64>() - 1.0;
        let s = u * u + v * v;
        if s > 0.0 && s < 1.0 {
            return u * (-2.0 * s.ln() / s).sqrt();
        }
    }
}

impl Numeric {
    /// Raw value -> internal value (log for log distributions), clamped into the bounds.
    pub fn to_internal(&self, raw: f64) -> f64 {
        let x = if self.log {
            raw.max(f64::MIN_POSITIVE).ln()
        } else {
            raw
        };
        x.clamp(self.low, self.high)
    }

    /// Internal value -> raw value: exponentiate log values, snap quantized ones to the grid.
    pub fn to_raw(&self, internal: f64) -> f64 {
        let v = if self.log { internal.exp() } else { internal };
        self.snap(v)
    }

    /// Snap a raw value onto the distribution's support (the grid for quantized ones).
    pub fn snap(&self, v: f64) -> f64 {
        let Some(q) = self.q else {
            if self.uniform_prior {
                let (lo, hi) = if self.log {
                    (self.low.exp(), self.high.exp())
                } else {
                    (self.low, self.high)
                };
                return v.clamp(lo, hi);
            }
            return v;
        };
        let mut k = (v / q).round() * q;
        if let Some((first, last)) = self.grid {
            k = k.clamp(first, last);
        }
        if let Some(min) = self.min_raw {
            k = k.max(min);
        }
        if let Some(d) = self.decimals {
            let s = 10f64.powi(d);
            k = (k * s).round() / s;
        }
        if self.int {
            k = k.round();
        }
        k
    }

    /// Draw a raw value from the prior.
    pub fn sample_prior<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let x = if self.uniform_prior {
            self.low + (self.high - self.low) * rng.random::<f64>()
        } else {
            self.prior_mu + self.prior_sigma * std_normal(rng)
        };
        self.to_raw(x)
    }

    /// Width of the internal domain (the prior sigma for unbounded distributions).
    pub fn width(&self) -> f64 {
        if self.uniform_prior {
            self.high - self.low
        } else {
            self.prior_sigma
        }
    }

    /// Number of grid values of a bounded quantized parameter.
    pub fn grid_len(&self) -> Option<usize> {
        let (first, last) = self.grid?;
        let q = self.q?;
        Some(((last - first) / q).round() as usize + 1)
    }
}

/// Decimal places of `q` (up to 12), so grid values print cleanly (0.1 * 3 = 0.3, not 0.30000000000000004).
fn decimals_of(q: f64) -> Option<i32> {
    (0..=12).find(|&d| {
        let s = q * 10f64.powi(d);
        (s - s.round()).abs() <= 1e-9 * s.abs().max(1.0)
    })
}

fn check_finite(label: &str, name: &'static str, v: f64) -> Result<(), SpaceError> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(SpaceError::NotFinite {
            label: label.to_string(),
            field: name,
            value: v,
        })
    }
}

fn check_bounds(label: &str, low: f64, high: f64) -> Result<(), SpaceError> {
    check_finite(label, "low", low)?;
    check_finite(label, "high", high)?;
    if low < high {
        Ok(())
    } else {
        Err(SpaceError::Bounds {
            label: label.to_string(),
            low,
            high,
        })
    }
}

/// A range whose width `high - low` is finite.
fn check_width(label: &str, dist: &Dist, low: f64, high: f64) -> Result<(), SpaceError> {
    if (high - low).is_finite() {
        return Ok(());
    }
    Err(unsampleable(
        label,
        dist,
        format!("the width high - low of [{low}, {high}] overflows to infinity; the bounds must be less than 1.8e308 apart", low = num(low), high = num(high)),
    ))
}

fn check_sigma(label: &str, mu: f64, sigma: f64) -> Result<(), SpaceError> {
    check_finite(label, "mu", mu)?;
    check_finite(label, "sigma", sigma)?;
    if sigma > 0.0 {
        Ok(())
    } else {
        Err(SpaceError::Sigma {
            label: label.to_string(),
            sigma,
        })
    }
}

fn check_q(label: &str, q: f64, int: bool) -> Result<(), SpaceError> {
    check_finite(label, "q", q)?;
    if q <= 0.0 {
        return Err(SpaceError::Step {
            label: label.to_string(),
            q,
        });
    }
    if int && q.fract() != 0.0 {
        return Err(SpaceError::IntStep {
            label: label.to_string(),
            q,
        });
    }
    Ok(())
}

/// The grid of multiples of `q` inside `[lo, hi]`, as (first, last).
fn grid(label: &str, lo: f64, hi: f64, q: f64) -> Result<(f64, f64), SpaceError> {
    let first = (lo / q).ceil() * q;
    let last = (hi / q).floor() * q;
    // tolerate representation noise at the ends (0.3 / 0.1 = 2.9999999999999996)
    let first = if ((lo / q).round() * q - lo).abs() <= 1e-9 * q {
        (lo / q).round() * q
    } else {
        first
    };
    let last = if ((hi / q).round() * q - hi).abs() <= 1e-9 * q {
        (hi / q).round() * q
    } else {
        last
    };
    if first > last + 1e-12 * q {
        return Err(SpaceError::EmptyGrid {
            label: label.to_string(),
            low: lo,
            high: hi,
            q,
        });
    }
    Ok((first, last))
}

/// A number for messages: plain when short, in e-notation when huge or tiny.
fn num(x: f64) -> String {
    if x == 0.0 || (1e-4..1e16).contains(&x.abs()) || !x.is_finite() {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// The largest integer below which `f64` holds every integer exactly: 2^53.
pub const EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// How many standard deviations a prior draw of a normal can reach (a standard normal draw
/// from [`std_normal`] never exceeds 12.1 in magnitude).
pub const NORMAL_REACH: f64 = 13.0;

fn unsampleable(label: &str, dist: &Dist, reason: String) -> SpaceError {
    SpaceError::Unsampleable {
        label: label.to_string(),
        dist: dist.name(),
        reason,
    }
}

/// Integer values within ±2^53.
fn check_exact_ints(label: &str, dist: &Dist, low: f64, high: f64) -> Result<(), SpaceError> {
    if low.abs() <= EXACT_INT && high.abs() <= EXACT_INT {
        return Ok(());
    }
    Err(unsampleable(
        label,
        dist,
        format!(
            "its integer values reach [{low}, {high}], but integers are exact only within ±2^53 (±{EXACT_INT}); narrow the range", low = num(low), high = num(high)
        ),
    ))
}

/// A grid `first..=last` of multiples of `q` whose every value is finite and exact.
fn check_grid(
    label: &str,
    dist: &Dist,
    first: f64,
    last: f64,
    q: f64,
    int: bool,
) -> Result<(), SpaceError> {
    let steps = (last - first) / q;
    if !(first / q).is_finite() || !(last / q).is_finite() || !steps.is_finite() {
        return Err(unsampleable(
            label,
            dist,
            format!("value / q overflows to infinity with q = {q} (values reach [{first}, {last}]); use a larger q or a narrower range", q = num(q), first = num(first), last = num(last)),
        ));
    }
    if int {
        check_exact_ints(label, dist, first, last)?;
    }
    if steps > EXACT_INT {
        return Err(unsampleable(
            label,
            dist,
            format!(
                "the grid of multiples of q = {q} has {steps} steps; at most 2^53 ({EXACT_INT}) are exact: use a larger q or a narrower range", q = num(q), steps = num(steps)
            ),
        ));
    }
    Ok(())
}

/// A normal (internal space) whose draws `mu ± 13 sigma` stay finite, also after `exp` for a
/// log distribution, and on an exact grid for a quantized one.
fn check_reach(
    label: &str,
    dist: &Dist,
    mu: f64,
    sigma: f64,
    log: bool,
    int: bool,
) -> Result<(), SpaceError> {
    let (lo, hi) = (mu - NORMAL_REACH * sigma, mu + NORMAL_REACH * sigma);
    if !lo.is_finite() || !hi.is_finite() {
        return Err(unsampleable(
            label,
            dist,
            format!("draws reach mu ± 13 sigma = [{lo}, {hi}], which overflows; use a smaller mu or sigma", lo = num(lo), hi = num(hi)),
        ));
    }
    let (lo, hi) = if log {
        let max = f64::MAX.ln();
        if hi > max {
            return Err(unsampleable(
                label,
                dist,
                format!(
                    "draws reach exp(mu + 13 sigma) = exp({hi}), which overflows; mu + 13 sigma must be at most {max:.2}"
                ),
            ));
        }
        (0.0, hi.exp())
    } else {
        (lo, hi)
    };
    match dist.q() {
        Some(q) => check_grid(label, dist, lo, hi, q, int),
        None => Ok(()),
    }
}

/// Validate a distribution and compile it into the kind the algorithms use.
pub(crate) fn compile(label: &str, dist: &Dist, int: bool) -> Result<ParamKind, SpaceError> {
    if int && dist.q().is_none() && !matches!(dist, Dist::RandInt { .. } | Dist::UniformInt { .. })
    {
        return Err(SpaceError::IntWithoutStep {
            label: label.to_string(),
            dist: dist.name(),
        });
    }
    if let Some(q) = dist.q() {
        check_q(label, q, int)?;
    }
    let numeric = |log: bool, low: f64, high: f64, mu: f64, sigma: f64, q: Option<f64>| Numeric {
        log,
        low,
        high,
        prior_mu: mu,
        prior_sigma: sigma,
        q,
        grid: None,
        int,
        uniform_prior: low.is_finite(),
        decimals: q.and_then(decimals_of),
        min_raw: None,
    };
    let kind = match dist {
        Dist::Choice(options) => {
            if options.is_empty() {
                return Err(SpaceError::EmptyChoice {
                    label: label.to_string(),
                });
            }
            ParamKind::Categorical {
                n: options.len(),
                probs: None,
            }
        }
        Dist::PChoice(options) => {
            if options.is_empty() {
                return Err(SpaceError::EmptyChoice {
                    label: label.to_string(),
                });
            }
            for (i, (p, _)) in options.iter().enumerate() {
                if !(0.0..=1.0).contains(p) {
                    return Err(SpaceError::Probability {
                        label: label.to_string(),
                        index: i,
                        p: *p,
                    });
                }
            }
            let sum: f64 = options.iter().map(|(p, _)| p).sum();
            if (sum - 1.0).abs() > 1e-6 {
                return Err(SpaceError::ProbabilitySum {
                    label: label.to_string(),
                    sum,
                });
            }
            ParamKind::Categorical {
                n: options.len(),
                probs: Some(options.iter().map(|(p, _)| p / sum).collect()),
            }
        }
        Dist::Uniform { low, high } => {
            check_bounds(label, *low, *high)?;
            check_width(label, dist, *low, *high)?;
            ParamKind::Numeric(numeric(
                false,
                *low,
                *high,
                0.5 * (low + high),
                high - low,
                None,
            ))
        }
        Dist::QUniform { low, high, q } => {
            check_bounds(label, *low, *high)?;
            check_width(label, dist, *low, *high)?;
            let (first, last) = grid(label, *low, *high, *q)?;
            check_grid(label, dist, first, last, *q, int)?;
            check_width(label, dist, first - q / 2.0, last + q / 2.0)?;
            let (lo, hi) = (first - q / 2.0, last + q / 2.0);
            let mut n = numeric(false, lo, hi, 0.5 * (lo + hi), hi - lo, Some(*q));
            n.grid = Some((first, last));
            ParamKind::Numeric(n)
        }
        Dist::UniformInt { low, high } => {
            check_exact_ints(label, dist, *low as f64, *high as f64)?;
            if low >= high {
                return Err(SpaceError::Bounds {
                    label: label.to_string(),
                    low: *low as f64,
                    high: *high as f64,
                });
            }
            let (lo, hi) = (*low as f64 - 0.5, *high as f64 + 0.5);
            let mut n = numeric(false, lo, hi, 0.5 * (lo + hi), hi - lo, Some(1.0));
            n.grid = Some((*low as f64, *high as f64));
            n.int = true;
            n.decimals = Some(0);
            ParamKind::Numeric(n)
        }
        Dist::LogUniform { low, high } | Dist::QLogUniform { low, high, .. } => {
            check_bounds(label, *low, *high)?;
            if *high > 700.0 || *low < -700.0 {
                return Err(SpaceError::LogRange {
                    label: label.to_string(),
                    low: *low,
                    high: *high,
                });
            }
            let q = dist.q();
            let mut n = numeric(true, *low, *high, 0.5 * (low + high), high - low, q);
            if let Some(q) = q {
                let (first, last) = grid(label, low.exp(), high.exp(), q)?;
                check_grid(label, dist, first, last, q, int)?;
                n.grid = Some((first, last));
            }
            ParamKind::Numeric(n)
        }
        Dist::Normal { mu, sigma } | Dist::QNormal { mu, sigma, .. } => {
            check_sigma(label, *mu, *sigma)?;
            check_reach(label, dist, *mu, *sigma, false, int)?;
            ParamKind::Numeric(numeric(
                false,
                f64::NEG_INFINITY,
                f64::INFINITY,
                *mu,
                *sigma,
                dist.q(),
            ))
        }
        Dist::LogNormal { mu, sigma } | Dist::QLogNormal { mu, sigma, .. } => {
            check_sigma(label, *mu, *sigma)?;
            check_reach(label, dist, *mu, *sigma, true, int)?;
            let mut n = numeric(
                true,
                f64::NEG_INFINITY,
                f64::INFINITY,
                *mu,
                *sigma,
                dist.q(),
            );
            n.min_raw = dist.q();
            ParamKind::Numeric(n)
        }
        Dist::RandInt { low, high } => {
            check_exact_ints(label, dist, *low as f64, *high as f64)?;
            if low >= high {
                return Err(SpaceError::Bounds {
                    label: label.to_string(),
                    low: *low as f64,
                    high: *high as f64,
                });
            }
            ParamKind::RandInt {
                low: *low,
                high: *high,
            }
        }
    };
    Ok(kind)
}
