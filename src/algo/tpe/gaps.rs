//! Gaps to neighbouring observations, for the neighbour bandwidth rule.
//!
//! Each observed value gets the larger of its gaps to the next smaller and the next larger
//! observation; the smallest and the largest value take their one inner gap. The rule then
//! clips the gap to `[min, width]`, so a gap below `min` never needs to be known exactly. That
//! allows a linear-time method: values are put in cells `min` wide, and only the first and the
//! last value of each cell can have a gap as wide as a cell.

use super::sort;

/// The neighbour gaps of `vals` by sorting; `lo` and `hi` bound the single value's gaps.
pub(crate) fn sorted_gaps(vals: &[f64], lo: f64, hi: f64) -> Vec<f64> {
    let n = vals.len();
    let pairs = sort::sorted_pairs(vals);
    let mut gap = vec![0.0; n];
    for (rank, p) in pairs.iter().enumerate() {
        let left = if rank == 0 {
            p.0 - lo
        } else {
            p.0 - pairs[rank - 1].0
        };
        let right = if rank == n - 1 {
            hi - p.0
        } else {
            pairs[rank + 1].0 - p.0
        };
        gap[p.1 as usize] = if n >= 2 && rank == 0 {
            right
        } else if n >= 2 && rank == n - 1 {
            left
        } else {
            left.max(right)
        };
    }
    gap
}

/// [`neighbour_gaps_into`] returning the gaps.
#[cfg(test)]
pub(crate) fn neighbour_gaps(vals: &[f64], min: f64) -> Option<Vec<f64>> {
    let mut gap = Vec::new();
    neighbour_gaps_into(vals, min, &mut gap).then_some(gap)
}

/// The neighbour gaps of `vals` (at least two, none NaN) into `gap` (its old contents
/// replaced), exact wherever a gap is at least `min`; where it is below `min`, some value below
/// `min`. False, `gap` unused, when the cells would outnumber the values (a tiny `min`), or for
/// fewer than two values (or more than a billion): then use [`sorted_gaps`].
pub(crate) fn neighbour_gaps_into(vals: &[f64], min: f64, gap: &mut Vec<f64>) -> bool {
    debug_assert!(!vals.iter().any(|v| v.is_nan()), "NaN among the values");
    let n = vals.len();
    if n < 2 || n >= (u32::MAX / 4) as usize || min.is_nan() || min <= 0.0 {
        return false;
    }
    let (vmin, vmax) = vals
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let span = (vmax - vmin) / min;
    if !span.is_finite() || span > (4 * n) as f64 {
        return false;
    }
    let cells = span as usize + 1;
    // first and last value of each cell, ordered by (value, index) as the sort would
    const NONE: u32 = u32::MAX;
    let mut first = vec![NONE; cells];
    let mut last = vec![NONE; cells];
    // their values, so a comparison needs no second look-up: the values are finite here (their
    // span is), so -inf and +inf stand for an empty cell
    let mut lo = vec![f64::INFINITY; cells];
    let mut hi = vec![f64::NEG_INFINITY; cells];
    // each value's cell first, in a loop of its own (the divisions pipeline); the cells number
    // at most 4n + 1, which fits in 32 bits (checked above)
    let top = (cells - 1) as u32;
    let cell: Vec<u32> = vals
        .iter()
        .map(|&v| (((v - vmin) / min) as u32).min(top))
        .collect();
    for (i, (&v, &c)) in vals.iter().zip(&cell).enumerate() {
        let c = c as usize;
        if v < lo[c] {
            lo[c] = v;
            first[c] = i as u32;
        }
        if v >= hi[c] {
            hi[c] = v;
            last[c] = i as u32;
        }
    }
    // interior values of a cell have both neighbours in it: their gaps are below `min`
    gap.clear();
    gap.resize(n, 0.0);
    let occupied: Vec<usize> = (0..cells).filter(|&c| first[c] != NONE).collect();
    for (j, &c) in occupied.iter().enumerate() {
        let (a, b) = (first[c] as usize, last[c] as usize);
        let prev = j.checked_sub(1).map(|p| vals[last[occupied[p]] as usize]);
        let next = occupied.get(j + 1).map(|&q| vals[first[q] as usize]);
        let left = prev.map(|p| vals[a] - p);
        let right = next.map(|q| q - vals[b]);
        if a == b {
            // alone in its cell: both neighbours are outside it
            gap[a] = match (left, right) {
                (Some(l), Some(r)) => l.max(r),
                (Some(l), None) => l,
                (None, Some(r)) => r,
                (None, None) => 0.0,
            };
        } else {
            // the smallest value of the whole set takes its right gap, which is in the cell
            gap[a] = left.unwrap_or(0.0);
            gap[b] = right.unwrap_or(0.0);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    /// Both methods agree once gaps are clipped at `min`.
    fn check(vals: &[f64], min: f64) {
        let Some(fast) = neighbour_gaps(vals, min) else {
            let (a, b) = vals
                .iter()
                .fold((1.0f64, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
            assert!(
                (b - a) / min > (4 * vals.len()) as f64,
                "refused n = {}",
                vals.len()
            );
            return;
        };
        let exact = sorted_gaps(vals, 0.0, 1.0);
        for (i, (f, e)) in fast.iter().zip(&exact).enumerate() {
            assert_eq!(f.max(min), e.max(min), "value {i} = {}", vals[i]);
        }
    }

    #[test]
    fn cells_match_the_sort_after_clipping() {
        let mut rng = crate::algo::trial_rng(3, 0);
        for n in [2, 3, 10, 100, 2000] {
            for min in [0.03, 0.001, 0.2] {
                let spread: Vec<f64> = (0..n).map(|_| rng.random::<f64>()).collect();
                check(&spread, min);
                // clusters with wide empty stretches, and exact duplicates
                let clustered: Vec<f64> = (0..n)
                    .map(|i| match i % 3 {
                        0 => 0.1 + 0.01 * rng.random::<f64>(),
                        1 => 0.9,
                        _ => 0.5 + 0.3 * rng.random::<f64>().powi(4),
                    })
                    .collect();
                check(&clustered, min);
            }
        }
        check(&[0.25, 0.25], 0.03);
        check(&[0.0, 1.0], 0.03);
    }

    #[test]
    fn refuses_too_many_cells() {
        assert!(neighbour_gaps(&[0.0, 1.0, 0.5], 1e-9).is_none());
        assert!(neighbour_gaps(&[0.5], 0.03).is_none());
    }
}
