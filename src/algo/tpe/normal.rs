//! The standard normal's probability mass over an interval, for truncated kernels.
//!
//! Every numeric kernel is a normal truncated to the parameter's bounds, so building an
//! estimator needs `ln(Φ(b) − Φ(a))` once per component and parameter. With the kernel's mean
//! inside the bounds, that mass is one minus two upper tails, a tail beyond 8.5 sigma is
//! dropped, and the logarithm of a mass near one comes from a series instead of `ln`.

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

/// `(Φ(b) − Φ(a), ln(Φ(b) − Φ(a)))` for `a < b`, the mass floored at 1e-300.
pub(crate) fn log_norm_mass(a: f64, b: f64) -> (f64, f64) {
    if a <= 0.0 && b >= 0.0 {
        // the mean is inside: one minus two tails, at least 1 - 2 Φ(0) = 0 but in practice
        // far from it, so no cancellation worth the name
        let t = upper_tail(-a) + upper_tail(b);
        let mass = (1.0 - t).max(1e-300);
        let ln = if t < 1.35e-3 {
            // ln(1 - t) = -t - t²/2 - t³/3 - t⁴/4 - … (the next term is below 1e-15)
            -t * (1.0 + t * (0.5 + t * (1.0 / 3.0 + t * 0.25)))
        } else {
            mass.ln()
        };
        return (mass, ln);
    }
    let z = norm_mass(a, b).max(1e-300);
    (z, z.ln())
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let (m, ln) = log_norm_mass(a, b);
            let exact = norm_cdf(b) - norm_cdf(a);
            assert!((m - exact).abs() < 1e-14, "({a}, {b}): {m} vs {exact}");
            assert!(
                (ln - exact.ln()).abs() < 1e-13,
                "({a}, {b}): {ln} vs {}",
                exact.ln()
            );
        }
    }
}
