//! A numeric parameter's observations in value order, kept from one suggestion to the next.
//!
//! In a growing study the bad set of one suggestion is that of the previous one with a trial or
//! two added (the new trial, or the good trial it pushed out) and, rarely, one taken away. So
//! instead of ordering the values again (or putting them in cells) at every suggestion, the
//! order of the last set and each value's neighbour gap are kept, and updated by those few
//! insertions and removals (each changes the gaps of its neighbours only). The kept state is
//! checked against the new input (trial ids and the exact bits of every value) before it is
//! used, so the gaps are always those of the input: what was kept only decides how fast they
//! come.

use std::sync::Mutex;

use super::sort;

/// Sets smaller than this are ordered afresh (the good set, early suggestions).
pub(crate) const KEEP_MIN: usize = 256;
/// At most this many insertions and removals are applied; more, and the set is ordered again.
const MAX_CHANGES: usize = 16;
/// At most this many parameters' orders are kept (several studies may run at once).
const MAX_KEPT: usize = 32;

/// The last set of one parameter's observations and its value order.
struct Kept {
    param: usize,
    /// trial ids of the observations, in input order (strictly increasing)
    ids: Vec<u32>,
    /// their values, input order
    vals: Vec<f64>,
    /// the values ordered by `total_cmp`, ties by position in the input
    sorted: Vec<f64>,
    /// the position in the input of each value of `sorted`
    pos: Vec<u32>,
    /// each value's neighbour gap (not clipped), input order
    gaps: Vec<f64>,
}

static KEPT: Mutex<Vec<Kept>> = Mutex::new(Vec::new());

fn with_kept<R>(f: impl FnOnce(&mut Vec<Kept>) -> R) -> R {
    // a panic elsewhere while the lock was held leaves only checked state behind
    let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut kept)
}

/// The neighbour gaps of `vals`, the values of parameter `param` in observations of trials
/// `ids`, clipped to `[lo, hi]`, into `gap` (its old contents replaced): each value's larger gap
/// to the next smaller and the next larger value, the smallest and the largest value their one
/// inner gap, as [`super::gaps::sorted_gaps`] gives them. False, `gap` unused, when this does
/// not apply: fewer than [`KEEP_MIN`] values, a NaN, or ids not strictly increasing.
pub(crate) fn neighbour_gaps_kept(
    param: usize,
    vals: &[f64],
    ids: &[u32],
    (lo, hi): (f64, f64),
    gap: &mut Vec<f64>,
) -> bool {
    let n = vals.len();
    if n < KEEP_MIN
        || ids.len() != n
        || n >= u32::MAX as usize
        || lo.is_nan()
        || hi.is_nan()
        || lo > hi
    {
        return false;
    }
    // the kept set most likely to be this one's predecessor: same parameter, about the same size,
    // the same first trial
    let found = with_kept(|kept| {
        let i = kept.iter().position(|k| {
            k.param == param
                && k.ids.len().abs_diff(n) <= MAX_CHANGES
                && k.ids.first() == ids.first()
                && k.vals.first().map(|v| v.to_bits()) == vals.first().map(|v| v.to_bits())
        })?;
        Some(kept.swap_remove(i))
    });
    let updated = found.and_then(|mut k| update(&mut k, vals, ids).then_some(k));
    let mut k = match updated {
        Some(k) => k,
        None => {
            if vals.iter().any(|v| v.is_nan()) || ids.windows(2).any(|w| w[0] >= w[1]) {
                return false;
            }
            fresh(param, vals)
        }
    };
    gap.clear();
    gap.extend(k.gaps.iter().map(|g| g.clamp(lo, hi)));
    k.ids.clear();
    k.ids.extend_from_slice(ids);
    k.vals.clear();
    k.vals.extend_from_slice(vals);
    with_kept(|kept| {
        if kept.len() >= MAX_KEPT {
            kept.remove(0);
        }
        kept.push(k);
    });
    true
}

/// A new kept state for `vals`, ordered by sorting.
fn fresh(param: usize, vals: &[f64]) -> Kept {
    let room = vals.len() + vals.len() / 4;
    let mut k = Kept {
        param,
        ids: Vec::with_capacity(room),
        vals: Vec::with_capacity(room),
        sorted: Vec::with_capacity(room),
        pos: Vec::with_capacity(room),
        gaps: Vec::with_capacity(room),
    };
    for (v, p) in sort::sorted_pairs(vals) {
        k.sorted.push(v);
        k.pos.push(p);
    }
    k.gaps.resize(vals.len(), 0.0);
    for r in 0..k.sorted.len() {
        refresh(&mut k, r);
    }
    k
}

/// Values compared in runs of this many, without stopping early inside a run (so the compare
/// vectorizes).
const RUN: usize = 32;

/// True if the observations agree: same trial ids, same bits.
#[inline(always)]
fn agree(ids_a: &[u32], vals_a: &[f64], ids_b: &[u32], vals_b: &[f64]) -> bool {
    let ids = ids_a.iter().zip(ids_b).fold(0u32, |d, (a, b)| d | (a ^ b));
    let vals = vals_a
        .iter()
        .zip(vals_b)
        .fold(0u64, |d, (a, b)| d | (a.to_bits() ^ b.to_bits()));
    ids == 0 && vals == 0
}

/// How many leading observations two sets share (`ids`, `vals` the first; `jds`, `wals` the
/// second).
fn common_start(ids: &[u32], vals: &[f64], jds: &[u32], wals: &[f64]) -> usize {
    let n = ids.len().min(vals.len()).min(jds.len()).min(wals.len());
    let mut i = 0;
    while i + RUN <= n
        && agree(
            &ids[i..i + RUN],
            &vals[i..i + RUN],
            &jds[i..i + RUN],
            &wals[i..i + RUN],
        )
    {
        i += RUN;
    }
    while i < n && ids[i] == jds[i] && vals[i].to_bits() == wals[i].to_bits() {
        i += 1;
    }
    i
}

/// How many trailing observations two sets share.
fn common_end(ids: &[u32], vals: &[f64], jds: &[u32], wals: &[f64]) -> usize {
    let (a, b) = (ids.len().min(vals.len()), jds.len().min(wals.len()));
    let n = a.min(b);
    let mut e = 0;
    while e + RUN <= n
        && agree(
            &ids[a - e - RUN..a - e],
            &vals[a - e - RUN..a - e],
            &jds[b - e - RUN..b - e],
            &wals[b - e - RUN..b - e],
        )
    {
        e += RUN;
    }
    while e < n
        && ids[a - 1 - e] == jds[b - 1 - e]
        && vals[a - 1 - e].to_bits() == wals[b - 1 - e].to_bits()
    {
        e += 1;
    }
    e
}

/// Where `(v, p)` goes in `k`'s order (the first entry not before it).
fn place(k: &Kept, v: f64, p: u32) -> usize {
    let (mut lo, mut hi) = (0, k.sorted.len().min(k.pos.len()));
    while lo < hi {
        let mid = (lo + hi) / 2;
        if k.sorted[mid].total_cmp(&v).then(k.pos[mid].cmp(&p)).is_lt() {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Brings `k`'s order from its last set to the set `vals`, `ids`; false (`k` then unusable) if
/// the two sets differ by more than [`MAX_CHANGES`] observations, a trial kept from the last
/// set has another value now, a new value is NaN or the new ids are not strictly increasing.
fn update(k: &mut Kept, vals: &[f64], ids: &[u32]) -> bool {
    let (n_old, n_new) = (k.ids.len(), ids.len());
    if k.vals.len() != n_old
        || k.sorted.len() != n_old
        || k.pos.len() != n_old
        || k.gaps.len() != n_old
    {
        return false;
    }
    let start = common_start(&k.ids, &k.vals, ids, vals);
    let end = common_end(
        &k.ids[start..],
        &k.vals[start..],
        &ids[start..],
        &vals[start..],
    );
    let (old_end, new_end) = (n_old - end, n_new - end);
    if old_end - start + new_end - start > MAX_CHANGES {
        return false;
    }
    // the new ids around and inside the middle must increase (the rest are the old ones, which did)
    let (a, b) = (start.saturating_sub(1), (new_end + 1).min(n_new));
    if ids[a..b].windows(2).any(|w| w[0] >= w[1]) || vals[start..new_end].iter().any(|v| v.is_nan())
    {
        return false;
    }
    // merge the middles by trial id
    let mut removed: Vec<usize> = Vec::new();
    let mut added: Vec<usize> = Vec::new();
    let (mut i, mut j) = (start, start);
    while i < old_end || j < new_end {
        if j == new_end || (i < old_end && k.ids[i] < ids[j]) {
            removed.push(i);
            i += 1;
        } else if i == old_end || ids[j] < k.ids[i] {
            added.push(j);
            j += 1;
        } else if k.vals[i].to_bits() == vals[j].to_bits() {
            i += 1;
            j += 1;
        } else {
            return false;
        }
    }
    // removals last first, so the positions of the earlier ones still hold
    for &r in removed.iter().rev() {
        let (v, p) = (k.vals[r], r as u32);
        let at = place(k, v, p);
        if at >= k.pos.len() || k.pos[at] != p {
            return false;
        }
        k.sorted.remove(at);
        k.pos.remove(at);
        k.gaps.remove(r);
        for q in k.pos.iter_mut() {
            *q -= u32::from(*q > p);
        }
        // the two values now next to each other
        for i in [at.wrapping_sub(1), at] {
            refresh(k, i);
        }
    }
    // insertions in increasing new position: the positions before each are final already
    for &a in &added {
        let (v, p) = (vals[a], a as u32);
        for q in k.pos.iter_mut() {
            *q += u32::from(*q >= p);
        }
        let at = place(k, v, p);
        k.sorted.insert(at, v);
        k.pos.insert(at, p);
        k.gaps.insert(a, 0.0);
        // the new value and its two neighbours
        for i in [at.wrapping_sub(1), at, at + 1] {
            refresh(k, i);
        }
    }
    k.pos.len() == n_new && k.gaps.len() == n_new
}

/// Works out the neighbour gap of the value at `r` in sorted order (nothing if `r` is out of
/// range): the larger of its two gaps, the smallest and the largest value their one inner gap.
fn refresh(k: &mut Kept, r: usize) {
    let s = &k.sorted;
    let n = s.len();
    if n < 2 || r >= n {
        return;
    }
    let g = if r == 0 {
        s[1] - s[0]
    } else if r == n - 1 {
        s[n - 1] - s[n - 2]
    } else {
        (s[r] - s[r - 1]).max(s[r + 1] - s[r])
    };
    if let Some(x) = k.pos.get(r).and_then(|&p| k.gaps.get_mut(p as usize)) {
        *x = g;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algo::tpe::gaps::sorted_gaps;
    use rand::RngExt;

    fn gaps_of(param: usize, vals: &[f64], ids: &[u32]) -> Vec<f64> {
        let mut g = Vec::new();
        assert!(neighbour_gaps_kept(
            param,
            vals,
            ids,
            (0.0, f64::INFINITY),
            &mut g
        ));
        g
    }

    /// A growing set with insertions anywhere, a removal now and then, duplicates, and a value
    /// changed under a kept id: the gaps always equal a fresh sort's.
    #[test]
    fn kept_order_gives_the_sorted_gaps() {
        let mut rng = crate::algo::trial_rng(17, 0);
        // a parameter index no other test uses, so parallel tests do not share the state
        let param = 1_000_003;
        let mut set: Vec<(u32, f64)> = (0..300)
            .map(|i| (2 * i, (rng.random_range(0..50) as f64) / 7.0))
            .collect();
        let mut next = 600;
        for step in 0..60 {
            match step % 6 {
                0..=2 => {
                    set.push((next, rng.random::<f64>() * 8.0));
                    next += 1;
                }
                3 => {
                    // an old trial joins (a good trial pushed out of the good set)
                    let id = 2 * rng.random_range(0..300) + 1;
                    if !set.iter().any(|s| s.0 == id) {
                        set.push((id, rng.random::<f64>() * 8.0));
                    }
                }
                4 => {
                    let at = rng.random_range(0..set.len());
                    set.remove(at);
                }
                _ => {
                    // another study with the same ids: the same trial, another value
                    let at = rng.random_range(0..set.len());
                    set[at].1 += 0.5;
                }
            }
            set.sort_by_key(|s| s.0);
            let ids: Vec<u32> = set.iter().map(|s| s.0).collect();
            let vals: Vec<f64> = set.iter().map(|s| s.1).collect();
            let got = gaps_of(param, &vals, &ids);
            let want = sorted_gaps(&vals, 0.0, 8.0);
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g.to_bits(), w.to_bits(), "step {step}");
            }
        }
    }

    #[test]
    fn small_or_unordered_sets_are_left_to_the_caller() {
        let mut g = Vec::new();
        assert!(!neighbour_gaps_kept(
            7,
            &[0.5, 0.25],
            &[0, 1],
            (0.0, 1.0),
            &mut g
        ));
        let vals: Vec<f64> = (0..300).map(|i| i as f64).collect();
        let mut ids: Vec<u32> = (0..300).collect();
        ids.swap(3, 4);
        assert!(!neighbour_gaps_kept(7, &vals, &ids, (0.0, 1.0), &mut g));
    }
}
