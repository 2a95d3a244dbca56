//! The truncation term of many bounded kernels at once.
//!
//! Each bounded kernel's log normalising constant subtracts `ln(Φ(zb) − Φ(za))`, its mass
//! inside the bounds; for most kernels that is `ln Φ(near)`, the distance to the nearer bound
//! in sigmas, read from a table of cubic pieces. The AVX2 copy does four kernels at a time with
//! the same operations in the same order (no fused multiply-add), so it gives the same bits as
//! the plain loop; kernels off the common path take the scalar route in both.

use super::kernel::LN_SQRT_2PI;
use super::normal::{log_norm_mass, log_norm_mass_in, PIECES_PER_SIGMA, TAIL_END};

/// `log_c[k] = -log_c[k] - ln √(2π) - ln(Φ(zb) − Φ(za))` with `za`, `zb` the bounds `low`,
/// `high` in sigmas from `mu[k]` (`inv_sigma[k]` = 1 / sigma): `log_c` comes in holding
/// `ln sigma`. `table` is the `ln Φ` table.
pub(crate) fn truncate(
    table: &[[f64; 4]],
    low: f64,
    high: f64,
    mu: &[f64],
    inv_sigma: &[f64],
    log_c: &mut [f64],
) {
    #[cfg(target_arch = "x86_64")]
    if !table.is_empty() && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, as just checked.
        let done = unsafe { truncate_avx2(table, low, high, mu, inv_sigma, log_c) };
        return truncate_plain(
            table,
            low,
            high,
            &mu[done..],
            &inv_sigma[done..],
            &mut log_c[done..],
        );
    }
    truncate_plain(table, low, high, mu, inv_sigma, log_c)
}

/// [`truncate`], one kernel at a time.
fn truncate_plain(
    table: &[[f64; 4]],
    low: f64,
    high: f64,
    mu: &[f64],
    inv_sigma: &[f64],
    log_c: &mut [f64],
) {
    for ((lc, &mu), &i) in log_c.iter_mut().zip(mu).zip(inv_sigma) {
        let (za, zb) = ((low - mu) * i, (high - mu) * i);
        *lc = -*lc - LN_SQRT_2PI - log_norm_mass_in(table, za, zb);
    }
}

/// [`truncate`] four kernels at a time, for as many whole groups of four as there are; returns
/// how many kernels it did. `table` must not be empty.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn truncate_avx2(
    table: &[[f64; 4]],
    low: f64,
    high: f64,
    mu: &[f64],
    inv_sigma: &[f64],
    log_c: &mut [f64],
) -> usize {
    use std::arch::x86_64::*;
    let n = log_c.len().min(mu.len()).min(inv_sigma.len());
    let last = table.len().saturating_sub(1);
    let (lowv, highv) = (_mm256_set1_pd(low), _mm256_set1_pd(high));
    let zero = _mm256_setzero_pd();
    let sign = _mm256_set1_pd(-0.0);
    let tail = _mm256_set1_pd(TAIL_END);
    let per_sigma = _mm256_set1_pd(PIECES_PER_SIGMA);
    let last_piece = _mm256_set1_pd(last as f64);
    let ln_sqrt_2pi = _mm256_set1_pd(LN_SQRT_2PI);
    let groups = n / 4;
    for g in 0..groups {
        let k = 4 * g;
        let (m4, i4, l4) = (&mu[k..k + 4], &inv_sigma[k..k + 4], &log_c[k..k + 4]);
        // SAFETY: each slice has four values.
        let (m, iv, l) = unsafe {
            (
                _mm256_loadu_pd(m4.as_ptr()),
                _mm256_loadu_pd(i4.as_ptr()),
                _mm256_loadu_pd(l4.as_ptr()),
            )
        };
        let a = _mm256_mul_pd(_mm256_sub_pd(lowv, m), iv);
        let b = _mm256_mul_pd(_mm256_sub_pd(highv, m), iv);
        let na = _mm256_xor_pd(a, sign);
        // near, far = if -a < b { (-a, b) } else { (b, -a) }
        let lt = _mm256_cmp_pd::<_CMP_LT_OQ>(na, b);
        let near = _mm256_blendv_pd(b, na, lt);
        let far = _mm256_blendv_pd(na, b, lt);
        let common = _mm256_and_pd(
            _mm256_and_pd(
                _mm256_cmp_pd::<_CMP_LE_OQ>(a, zero),
                _mm256_cmp_pd::<_CMP_GE_OQ>(b, zero),
            ),
            _mm256_cmp_pd::<_CMP_GE_OQ>(far, tail),
        );
        let beyond = _mm256_cmp_pd::<_CMP_GE_OQ>(near, tail);
        if _mm256_movemask_pd(_mm256_and_pd(common, beyond)) == 0b1111 {
            // all four kernels 8.5 sigma or more inside both bounds (most narrow kernels): the
            // table's term is +0, and subtracting it leaves every bit as it was
            let out = _mm256_sub_pd(_mm256_xor_pd(l, sign), ln_sqrt_2pi);
            // SAFETY: the slice has four values.
            unsafe { _mm256_storeu_pd(log_c[k..k + 4].as_mut_ptr(), out) };
            continue;
        }
        // ln Φ(near) from the table: the piece at the clamped index, 0 from 8.5 sigma on
        let x = _mm256_mul_pd(_mm256_max_pd(near, zero), per_sigma);
        let piece = _mm256_cvttpd_epi32(_mm256_min_pd(x, last_piece));
        let t = _mm256_sub_pd(x, _mm256_cvtepi32_pd(piece));
        let mut idx = [0i32; 4];
        // SAFETY: `idx` has room for four 32-bit integers.
        unsafe { _mm_storeu_si128(idx.as_mut_ptr().cast(), piece) };
        let row = |j: usize| {
            let c = &table[(idx[j].max(0) as usize).min(last)];
            // SAFETY: a piece has four values.
            unsafe { _mm256_loadu_pd(c.as_ptr()) }
        };
        let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
        // transpose: the pieces' first, second, third and fourth coefficients
        let (u0, u1) = (_mm256_unpacklo_pd(r0, r1), _mm256_unpackhi_pd(r0, r1));
        let (u2, u3) = (_mm256_unpacklo_pd(r2, r3), _mm256_unpackhi_pd(r2, r3));
        let c0 = _mm256_permute2f128_pd::<0x20>(u0, u2);
        let c1 = _mm256_permute2f128_pd::<0x20>(u1, u3);
        let c2 = _mm256_permute2f128_pd::<0x31>(u0, u2);
        let c3 = _mm256_permute2f128_pd::<0x31>(u1, u3);
        // c0 + t (c1 + t (c2 + t c3))
        let mut v = _mm256_add_pd(c2, _mm256_mul_pd(t, c3));
        v = _mm256_add_pd(c1, _mm256_mul_pd(t, v));
        v = _mm256_add_pd(c0, _mm256_mul_pd(t, v));
        let ln_phi = _mm256_and_pd(v, _mm256_cmp_pd::<_CMP_LT_OQ>(near, tail));
        let out = _mm256_sub_pd(_mm256_sub_pd(_mm256_xor_pd(l, sign), ln_sqrt_2pi), ln_phi);
        let mut res = [0.0; 4];
        // SAFETY: `res` has room for four values.
        unsafe { _mm256_storeu_pd(res.as_mut_ptr(), out) };
        let mask = _mm256_movemask_pd(common);
        if mask != 0b1111 {
            // off the common path: the scalar route, as the plain loop takes it
            for (j, r) in res.iter_mut().enumerate() {
                if mask & (1 << j) == 0 {
                    let (za, zb) = ((low - m4[j]) * i4[j], (high - m4[j]) * i4[j]);
                    *r = -l4[j] - LN_SQRT_2PI - log_norm_mass(za, zb);
                }
            }
        }
        log_c[k..k + 4].copy_from_slice(&res);
    }
    4 * groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algo::tpe::normal::ln_phi_pieces;
    use rand::RngExt;

    #[test]
    fn four_at_a_time_gives_the_same_bits() {
        let mut rng = crate::algo::trial_rng(5, 0);
        let (low, high) = (-1.0, 3.0);
        let n = 4003;
        // means inside, on and outside the bounds (and one NaN); bandwidths from far below the
        // table's range to wider than the bounds
        let mu: Vec<f64> = (0..n)
            .map(|k| match k % 9 {
                0 => low,
                1 => high,
                2 => high + rng.random::<f64>(),
                3 if k == 3 => f64::NAN,
                _ => low + (high - low) * rng.random::<f64>(),
            })
            .collect();
        let sigma: Vec<f64> = (0..n)
            .map(|k| match k % 5 {
                0 => 4.0 * rng.random::<f64>(),
                1 => 1e-3,
                _ => 0.12,
            })
            .collect();
        let inv: Vec<f64> = sigma.iter().map(|s| 1.0 / s).collect();
        let ln_s: Vec<f64> = sigma.iter().map(|s| s.ln()).collect();
        let table = ln_phi_pieces();
        let mut fast = ln_s.clone();
        truncate(table, low, high, &mu, &inv, &mut fast);
        let mut plain = ln_s.clone();
        truncate_plain(table, low, high, &mu, &inv, &mut plain);
        for (k, (f, p)) in fast.iter().zip(&plain).enumerate() {
            assert_eq!(
                f.to_bits(),
                p.to_bits(),
                "kernel {k}: mu {} sigma {}",
                mu[k],
                sigma[k]
            );
        }
        // narrow kernels, most of them far inside (whole groups of four take the short way),
        // some within 8.5 sigma of a bound
        let mu: Vec<f64> = (0..n)
            .map(|k| match k % 37 {
                0 => low + 0.005,
                1 => high - 0.001,
                _ => 0.5 + rng.random::<f64>(),
            })
            .collect();
        let inv = vec![1.0 / 1e-3; n];
        let ln_s = vec![1e-3f64.ln(); n];
        let mut fast = ln_s.clone();
        truncate(table, low, high, &mu, &inv, &mut fast);
        let mut plain = ln_s.clone();
        truncate_plain(table, low, high, &mu, &inv, &mut plain);
        for (k, (f, p)) in fast.iter().zip(&plain).enumerate() {
            assert_eq!(f.to_bits(), p.to_bits(), "narrow kernel {k}: mu {}", mu[k]);
        }
    }
}
