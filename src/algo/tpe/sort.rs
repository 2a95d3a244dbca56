//! Sorting a parameter's observed values, the one super-linear step of building an estimator.
//!
//! Large inputs are ordered by a radix sort on a 32-bit fixed-point image of each value (four
//! linear passes), then an insertion pass puts the rare distinct values that share a fixed-point
//! key in exact order. The result is exactly the comparison sort's.

use std::cmp::Ordering;

/// Below this many values a comparison sort is faster.
const RADIX_MIN: usize = 256;

fn by_value(a: &(f64, u32), b: &(f64, u32)) -> Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}

/// `(value, index)` pairs of `vals`, sorted by value (`total_cmp`), ties by index.
pub(crate) fn sorted_pairs(vals: &[f64]) -> Vec<(f64, u32)> {
    let mut pairs: Vec<(f64, u32)> = vals
        .iter()
        .enumerate()
        .map(|(i, &v)| (v, i as u32))
        .collect();
    let (lo, hi) = vals
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let fits = vals.len() >= RADIX_MIN && vals.len() <= u32::MAX as usize;
    if !fits || !(hi - lo).is_finite() || hi <= lo || vals.iter().any(|v| v.is_nan()) {
        pairs.sort_unstable_by(by_value);
        return pairs;
    }
    // the fixed-point image is monotone: a smaller value never gets a larger key
    let scale = u32::MAX as f64 / (hi - lo);
    let mut items: Vec<u64> = vals
        .iter()
        .enumerate()
        .map(|(i, &v)| ((((v - lo) * scale) as u32 as u64) << 32) | i as u64)
        .collect();
    radix_sort_high32(&mut items);
    for (p, it) in pairs.iter_mut().zip(&items) {
        let i = (*it & 0xffff_ffff) as usize;
        *p = (vals[i], i as u32);
    }
    // equal keys came out in index order; put distinct values sharing a key in value order,
    // giving up on this shortcut if there are many of them
    let budget = 8 * pairs.len();
    let mut moves = 0;
    for i in 1..pairs.len() {
        let mut j = i;
        while j > 0 && by_value(&pairs[j - 1], &pairs[j]) == Ordering::Greater {
            pairs.swap(j - 1, j);
            j -= 1;
            moves += 1;
        }
        if moves > budget {
            pairs.sort_unstable_by(by_value);
            break;
        }
    }
    pairs
}

/// Stable LSD radix sort of `items` by their upper 32 bits (the lower 32 keep their order).
fn radix_sort_high32(items: &mut Vec<u64>) {
    let mut buf = vec![0u64; items.len()];
    for pass in 0..4 {
        let shift = 32 + 8 * pass;
        let mut count = [0usize; 256];
        for &it in items.iter() {
            count[((it >> shift) & 0xff) as usize] += 1;
        }
        if count.contains(&items.len()) {
            continue; // every item has the same digit here
        }
        let mut start = [0usize; 256];
        let mut sum = 0;
        for (s, c) in start.iter_mut().zip(count) {
            *s = sum;
            sum += c;
        }
        for &it in items.iter() {
            let d = ((it >> shift) & 0xff) as usize;
            buf[start[d]] = it;
            start[d] += 1;
        }
        std::mem::swap(items, &mut buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    fn reference(vals: &[f64]) -> Vec<(f64, u32)> {
        let mut p: Vec<(f64, u32)> = vals
            .iter()
            .enumerate()
            .map(|(i, &v)| (v, i as u32))
            .collect();
        p.sort_by(by_value);
        p
    }

    #[test]
    fn matches_a_comparison_sort() {
        let mut rng = crate::algo::trial_rng(7, 0);
        for n in [0, 1, 5, 255, 256, 1000, 5000] {
            // spread values, heavy duplicates (a quantized parameter), near-duplicates below the
            // fixed-point resolution, and negative values
            let spread: Vec<f64> = (0..n).map(|_| rng.random::<f64>() * 10.0 - 3.0).collect();
            let dups: Vec<f64> = (0..n).map(|_| rng.random_range(0..7) as f64).collect();
            let near: Vec<f64> = (0..n)
                .map(|i| {
                    if i % 2 == 0 {
                        1.0 + 1e-13 * rng.random::<f64>()
                    } else {
                        rng.random::<f64>()
                    }
                })
                .collect();
            for vals in [spread, dups, near] {
                assert_eq!(sorted_pairs(&vals), reference(&vals), "n = {n}");
            }
        }
    }
}
