//! The standard normal's probability mass over an interval, for truncated kernels.
//!
//! Every numeric kernel is a normal truncated to the parameter's bounds, so building an
//! estimator needs `ln(Φ(b) − Φ(a))` once per component and parameter. With the kernel's mean
//! inside the bounds, that mass is one minus two upper tails, and a tail beyond 8.5 sigma is
//! below 1e-17 and dropped. Most kernels are narrow, so only the tail at the nearer bound is
//! left and the mass is `Φ(d)`, `d` the distance to that bound in sigmas: `ln Φ(d)` comes from
//! a table of cubic pieces (absolute error below 2.5e-12) instead of an `erfc` and an `ln`.

use std::sync::OnceLock;

/// Beyond this many sigmas a tail is dropped.
pub(crate) const TAIL_END: f64 = 8.5;
/// Table pieces per sigma.
pub(crate) const PIECES_PER_SIGMA: f64 = 128.0;

/// Cubic pieces of `ln Φ(d)` on `[0, 8.5]`, each `[c0, c1, c2, c3]` in the offset `t ∈ [0, 1)`
/// inside the piece: Hermite interpolation of the exact values and slopes at the piece ends.
fn ln_phi_table() -> &'static [[f64; 4]] {
    static TABLE: OnceLock<Vec<[f64; 4]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let pieces = (TAIL_END * PIECES_PER_SIGMA) as usize;
        let h = 1.0 / PIECES_PER_SIGMA;
        let node = |i: usize| {
            let d = i as f64 * h;
            let phi = (-0.5 * d * d).exp() / (2.0 * std::f64::consts::PI).sqrt();
            let cdf = norm_cdf(d);
            // value and slope (per piece width) of ln Φ at d
            ((-norm_cdf(-d)).ln_1p(), phi / cdf * h)
        };
        let mut prev = node(0);
        (0..pieces)
            .map(|i| {
                let next = node(i + 1);
                let (f0, m0, f1, m1) = (prev.0, prev.1, next.0, next.1);
                prev = next;
                [
                    f0,
                    m0,
                    3.0 * (f1 - f0) - 2.0 * m0 - m1,
                    2.0 * (f0 - f1) + m0 + m1,
                ]
            })
            .collect()
    })
}

/// The table behind [`ln_phi`], for loops that call [`log_norm_mass_in`].
pub(crate) fn ln_phi_pieces() -> &'static [[f64; 4]] {
    ln_phi_table()
}

/// `ln Φ(d)` for `d >= 0` from the table (0 from 8.5 on).
pub(crate) fn ln_phi(d: f64) -> f64 {
    ln_phi_in(ln_phi_table(), d)
}

/// [`ln_phi`] with the table passed in, and no branch on `d`: the piece is looked up at a
/// clamped index and the result replaced by 0 from 8.5 on (and for NaN).
#[inline(always)]
fn ln_phi_in(table: &[[f64; 4]], d: f64) -> f64 {
    let x = d.max(0.0) * PIECES_PER_SIGMA;
    // below 8.5 sigma the index is in the table and the clamp does nothing
    let i = (x as usize).min(table.len().saturating_sub(1));
    let t = x - i as f64;
    let v = match table.get(i) {
        Some(c) => c[0] + t * (c[1] + t * (c[2] + t * c[3])),
        None => 0.0,
    };
    if d < TAIL_END {
        v
    } else {
        0.0
    }
}

/// [`log_norm_mass`] with the `ln Φ` table ([`ln_phi_pieces`]) passed in, for loops over many
/// kernels: the common case, the mean inside the bounds and the far bound beyond 8.5 sigma, is
/// handled inline without data-dependent branches; the others go to [`log_norm_mass`]. The
/// result is the same either way.
#[inline(always)]
pub(crate) fn log_norm_mass_in(table: &[[f64; 4]], a: f64, b: f64) -> f64 {
    let (near, far) = if -a < b { (-a, b) } else { (b, -a) };
    if a <= 0.0 && b >= 0.0 && far >= TAIL_END {
        ln_phi_in(table, near)
    } else {
        log_norm_mass(a, b)
    }
}

/// Standard normal CDF.
pub(crate) fn norm_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// The upper tail `Φ(-z) = 1 − Φ(z)`, taken as 0 from `z = 8.5` on (where it is below 1e-17).
pub(crate) fn upper_tail(z: f64) -> f64 {
    if z >= 8.5 {
        0.0
    } else {
        norm_cdf(-z)
    }
}

/// `Φ(b) − Φ(a)` for `a < b`, accurate in both tails.
pub(crate) fn norm_mass(a: f64, b: f64) -> f64 {
    // beyond 8.5 sigma a tail is below 1e-17: one erfc is enough
    if a < -8.5 {
        return if b > 8.5 { 1.0 } else { norm_cdf(b) };
    }
    if b > 8.5 {
        return norm_cdf(-a);
    }
    if a > 0.0 {
        norm_cdf(-a) - norm_cdf(-b)
    } else {
        norm_cdf(b) - norm_cdf(a)
    }
}

/// `ln(Φ(b) − Φ(a))` for `a < b`, the mass floored at 1e-300.
pub(crate) fn log_norm_mass(a: f64, b: f64) -> f64 {
    if a <= 0.0 && b >= 0.0 {
        let (near, far) = if -a < b { (-a, b) } else { (b, -a) };
        if far >= TAIL_END {
            return ln_phi(near);
        }
        // the mean is inside: one minus two tails, at least 1 - 2 Φ(0) = 0 but in practice
        // far from it, so no cancellation worth the name
        let t = upper_tail(-a) + upper_tail(b);
        return if t < 1.35e-3 {
            // ln(1 - t) = -t - t²/2 - t³/3 - t⁴/4 - … (the next term is below 1e-15)
            -t * (1.0 + t * (0.5 + t * (1.0 / 3.0 + t * 0.25)))
        } else {
            (1.0 - t).max(1e-300).ln()
        };
    }
    norm_mass(a, b).max(1e-300).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_ln_phi() {
        let mut worst: f64 = 0.0;
        let mut d = 0.0;
        while d < 9.0 {
            let exact = if d >= TAIL_END {
                0.0
            } else {
                (-norm_cdf(-d)).ln_1p()
            };
            worst = worst.max((ln_phi(d) - exact).abs());
            d += 0.000_731;
        }
        assert!(worst < 2.5e-12, "largest absolute error {worst}");
        assert!((ln_phi(0.0) - 0.5f64.ln()).abs() < 1e-15);
    }

    #[test]
    fn the_inline_log_mass_gives_the_same_bits() {
        let table = ln_phi_pieces();
        let mut a = -40.0;
        while a < 3.0 {
            for w in [0.01, 0.7, 3.0, 8.49, 8.5, 8.51, 12.0, 45.0] {
                let b = a + w;
                assert_eq!(
                    log_norm_mass_in(table, a, b).to_bits(),
                    log_norm_mass(a, b).to_bits(),
                    "({a}, {b})"
                );
            }
            a += 0.0173;
        }
        for (a, b) in [(f64::NAN, 1.0), (-1.0, f64::NAN), (f64::NEG_INFINITY, 0.5)] {
            assert_eq!(
                log_norm_mass_in(table, a, b).to_bits(),
                log_norm_mass(a, b).to_bits()
            );
        }
    }

    #[test]
    fn log_mass_matches_the_direct_formula() {
        for (a, b) in [
            (-0.3, 2.0),
            (-3.5, 0.1),
            (-10.0, 10.0),
            (-1.0, 4.0),
            (-6.0, 3.2),
            (0.5, 2.0),
        ] {
            let ln = log_norm_mass(a, b);
            let exact = norm_cdf(b) - norm_cdf(a);
            assert!(
                (ln - exact.ln()).abs() < 2.5e-12,
                "({a}, {b}): {ln} vs {}",
                exact.ln()
            );
        }
    }
}
