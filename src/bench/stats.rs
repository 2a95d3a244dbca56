//! The statistics of a benchmark: medians and quartiles, ranks with ties, the Mann-Whitney U
//! test, and kurobako's ranking (its α rule, per-problem rank, Borda and Firsts).

use std::cmp::Ordering;

/// The `q`-quantile of `values` (linear interpolation between order statistics, as numpy's
/// default); NaN for an empty slice.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    if lo == hi || v[lo] == v[hi] {
        v[lo]
    } else {
        v[lo] + (v[hi] - v[lo]) * frac
    }
}

/// The median of `values`.
pub fn median(values: &[f64]) -> f64 {
    quantile(values, 0.5)
}

/// The first and third quartiles of `values`.
pub fn iqr(values: &[f64]) -> (f64, f64) {
    (quantile(values, 0.25), quantile(values, 0.75))
}

/// The ranks (1-based, smallest value first) of `values`; tied values share the mean of the
/// ranks they span.
pub fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]].total_cmp(&values[order[i]]).is_eq() {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            out[k] = r;
        }
        i = j + 1;
    }
    out
}

/// The mean rank of each algorithm over seeds: `by_algo[a][s]` is algorithm `a`'s result on
/// seed `s` (all of the same length); the algorithms are ranked within each seed.
pub fn mean_ranks(by_algo: &[Vec<f64>]) -> Vec<f64> {
    let k = by_algo.len();
    let n = by_algo.iter().map(Vec::len).min().unwrap_or(0);
    if n == 0 {
        return vec![f64::NAN; k];
    }
    let mut sums = vec![0.0; k];
    for s in 0..n {
        let column: Vec<f64> = by_algo.iter().map(|v| v[s]).collect();
        for (sum, r) in sums.iter_mut().zip(ranks(&column)) {
            *sum += r;
        }
    }
    sums.into_iter().map(|s| s / n as f64).collect()
}

/// The result of a two-sided Mann-Whitney U test of samples `a` and `b`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MannWhitney {
    /// U of the first sample: the number of pairs (x from a, y from b) with x > y, ties counting
    /// one half (scipy's `statistic`).
    pub u: f64,
    /// The two-sided p-value.
    pub p: f64,
    /// Whether `p` comes from the exact null distribution (small samples without ties) rather
    /// than the normal approximation.
    pub exact: bool,
}

impl MannWhitney {
    /// Whether `a` tends to be smaller than `b` (its U is below the null mean n_a n_b / 2).
    pub fn a_smaller(&self, na: usize, nb: usize) -> bool {
        self.u < (na * nb) as f64 / 2.0
    }
}

/// Samples up to this size (each, without ties) get the exact distribution of U.
pub const EXACT_MAX: usize = 8;

/// The two-sided Mann-Whitney U test. Exact when both samples have at most [`EXACT_MAX`] values
/// and there are no ties; otherwise the normal approximation with the tie correction of the
/// variance and a continuity correction (scipy's `method="asymptotic"`, `use_continuity=True`).
pub fn mann_whitney_u(a: &[f64], b: &[f64]) -> MannWhitney {
    let (na, nb) = (a.len(), b.len());
    if na == 0 || nb == 0 {
        return MannWhitney {
            u: f64::NAN,
            p: 1.0,
            exact: false,
        };
    }
    let pooled: Vec<f64> = a.iter().chain(b).copied().collect();
    let r = ranks(&pooled);
    let ra: f64 = r[..na].iter().sum();
    let u = ra - (na * (na + 1)) as f64 / 2.0;
    let n = (na + nb) as f64;
    // tie term: sum of t^3 - t over groups of tied values
    let mut sorted = pooled.clone();
    sorted.sort_by(f64::total_cmp);
    let mut ties = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1].total_cmp(&sorted[i]).is_eq() {
            j += 1;
        }
        let t = (j - i + 1) as f64;
        ties += t * t * t - t;
        i = j + 1;
    }
    let big_u = u.max((na * nb) as f64 - u);
    if ties == 0.0 && na <= EXACT_MAX && nb <= EXACT_MAX {
        let counts = u_distribution(na, nb);
        let total: f64 = counts.iter().sum();
        // P(U >= big_u) under the null, doubled
        let k = big_u.round() as usize;
        let upper: f64 = counts[k.min(counts.len())..].iter().sum();
        return MannWhitney {
            u,
            p: (2.0 * upper / total).min(1.0),
            exact: true,
        };
    }
    let mu = (na * nb) as f64 / 2.0;
    let var = (na * nb) as f64 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    let p = if var <= 0.0 {
        1.0
    } else {
        let z = (big_u - mu - 0.5) / var.sqrt();
        libm::erfc(z / std::f64::consts::SQRT_2).min(1.0)
    };
    MannWhitney { u, p, exact: false }
}

/// The number of arrangements of `na` + `nb` distinct values giving each U = 0 ..= na nb.
fn u_distribution(na: usize, nb: usize) -> Vec<f64> {
    // f[m][n][u]: arrangements of m values of a and n of b with statistic u, by the recurrence
    // f(m, n, u) = f(m - 1, n, u - n) + f(m, n - 1, u) (the largest value is from a or from b)
    let max = na * nb;
    let mut f = vec![vec![vec![0.0; max + 1]; nb + 1]; na + 1];
    for m in 0..=na {
        for n in 0..=nb {
            if m == 0 || n == 0 {
                f[m][n][0] = 1.0;
                continue;
            }
            for u in 0..=m * n {
                let from_a = if u >= n { f[m - 1][n][u - n] } else { 0.0 };
                f[m][n][u] = from_a + f[m][n - 1][u];
            }
        }
    }
    f[na][nb].clone()
}

/// kurobako's significance level for `k` solvers: the largest α of 0.05, 0.025, 0.01, 0.0075,
/// 0.005, 0.0025, 0.001, ..., 1e-5 such that the family-wise error over the C(k, 2) pairs,
/// 1 - (1 - α)^C(k,2), stays below 0.05.
pub fn kurobako_alpha(k: usize) -> f64 {
    const LEVELS: [f64; 15] = [
        0.05, 0.025, 0.01, 0.0075, 0.005, 0.0025, 0.001, 0.00075, 0.0005, 0.00025, 0.0001,
        0.000075, 0.00005, 0.000025, 0.00001,
    ];
    let pairs = (k * k.saturating_sub(1) / 2) as i32;
    LEVELS
        .into_iter()
        .find(|a| 1.0 - (1.0 - a).powi(pairs) < 0.05)
        .unwrap_or(0.00001)
}

/// kurobako's comparison of solvers on one problem.
#[derive(Clone, Debug, PartialEq)]
pub struct ProblemRanking {
    /// `beats[i][j]`: solver i is significantly better (smaller) than solver j.
    pub beats: Vec<Vec<bool>>,
    /// `p[i][j]`: the two-sided Mann-Whitney p-value of solvers i and j.
    pub p: Vec<Vec<f64>>,
    /// 1 + the number of solvers significantly better than each solver.
    pub rank: Vec<usize>,
}

/// Compare the per-seed results `samples[i]` of each solver on one problem at level `alpha`:
/// i beats j if the Mann-Whitney test is significant and i's values tend to be smaller.
pub fn rank_problem(samples: &[Vec<f64>], alpha: f64) -> ProblemRanking {
    let k = samples.len();
    let mut beats = vec![vec![false; k]; k];
    let mut p = vec![vec![1.0; k]; k];
    for i in 0..k {
        for j in 0..k {
            if i == j {
                continue;
            }
            let t = mann_whitney_u(&samples[i], &samples[j]);
            p[i][j] = t.p;
            beats[i][j] = t.p < alpha && t.a_smaller(samples[i].len(), samples[j].len());
        }
    }
    let rank = (0..k)
        .map(|j| 1 + (0..k).filter(|&i| beats[i][j]).count())
        .collect();
    ProblemRanking { beats, p, rank }
}

/// Overall scores over problems.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scores {
    /// Borda: the number of (problem, rival) pairs each solver significantly beats.
    pub borda: Vec<usize>,
    /// Firsts: the number of problems on which no rival significantly beats each solver.
    pub firsts: Vec<usize>,
}

/// Borda and Firsts of `k` solvers from their rankings on each problem.
pub fn scores(k: usize, rankings: &[ProblemRanking]) -> Scores {
    let mut borda = vec![0; k];
    let mut firsts = vec![0; k];
    for r in rankings {
        for i in 0..k {
            borda[i] += r.beats[i].iter().filter(|&&b| b).count();
            if r.rank[i] == 1 {
                firsts[i] += 1;
            }
        }
    }
    Scores { borda, firsts }
}

/// Order floats with NaN last (for sorting table rows).
pub fn cmp_nan_last(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.total_cmp(&b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} != {b}");
    }

    #[test]
    fn median_and_quartiles() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        // numpy.percentile([1..=8], [25, 75]) = 2.75, 6.25
        let v: Vec<f64> = (1..=8).map(f64::from).collect();
        assert_eq!(iqr(&v), (2.75, 6.25));
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn ranks_share_ties() {
        assert_eq!(ranks(&[10.0, 30.0, 20.0]), vec![1.0, 3.0, 2.0]);
        // 1 | 2 2 2 | 5 5 -> ranks 1 | 3 3 3 | 5.5 5.5
        assert_eq!(
            ranks(&[5.0, 2.0, 1.0, 2.0, 5.0, 2.0]),
            vec![5.5, 3.0, 1.0, 3.0, 5.5, 3.0]
        );
    }

    #[test]
    fn mean_ranks_over_seeds() {
        // seed 0: a < b < c; seed 1: b < a = c; seed 2: c < b < a
        let a = vec![1.0, 5.0, 9.0];
        let b = vec![2.0, 1.0, 8.0];
        let c = vec![3.0, 5.0, 7.0];
        let m = mean_ranks(&[a, b, c]);
        close(m[0], (1.0 + 2.5 + 3.0) / 3.0, 1e-12);
        close(m[1], (2.0 + 1.0 + 2.0) / 3.0, 1e-12);
        close(m[2], (3.0 + 2.5 + 1.0) / 3.0, 1e-12);
    }

    #[test]
    fn mann_whitney_exact_small_samples() {
        // a = [1, 2, 3], b = [4, 5, 6]: U = 0; exact P(U <= 0) = 1/C(6,3) = 0.05, p = 0.1
        // (scipy.stats.mannwhitneyu(a, b, method="exact") -> U=0, p=0.1)
        let t = mann_whitney_u(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]);
        assert!(t.exact);
        assert_eq!(t.u, 0.0);
        close(t.p, 0.1, 1e-12);
        // scipy: mannwhitneyu([1.1, 3.2, 0.5, 4.8], [2.0, 5.5, 6.1, 7.3, 3.9], method="exact")
        // -> U=3, p=0.1111111111111111 (U=3 pairs x > y: 3.2>2.0, 4.8>2.0, 4.8>3.9)
        let t = mann_whitney_u(&[1.1, 3.2, 0.5, 4.8], &[2.0, 5.5, 6.1, 7.3, 3.9]);
        assert!(t.exact);
        assert_eq!(t.u, 3.0);
        close(t.p, 0.1111111111111111, 1e-12);
        assert!(t.a_smaller(4, 5));
        // symmetric: swapping the samples keeps p and gives U' = n_a n_b - U
        let s = mann_whitney_u(&[2.0, 5.5, 6.1, 7.3, 3.9], &[1.1, 3.2, 0.5, 4.8]);
        assert_eq!(s.u, 17.0);
        close(s.p, t.p, 1e-12);
        // U = 2 = n_a n_b / 2: p = 1 (scipy: U=2, p=1.0)
        let t = mann_whitney_u(&[1.0, 4.0], &[2.0, 3.0]);
        close(t.p, 1.0, 1e-12);
    }

    #[test]
    fn mann_whitney_normal_approximation_with_ties() {
        // a = [1, 2, 2, 3, 3, 3], b = [3, 4, 4, 5, 5, 6] (ties): pooled ranks 1 | 2.5 2.5 |
        // 5.5 x4 | 8.5 8.5 | 10.5 10.5 | 12; a's sum 22.5, U = 22.5 - 21 = 1.5; mu = 18;
        // tie term: 2 (2s) -> 6, 4 (3s) -> 60, 2 (4s) -> 6, 2 (5s) -> 6, total 78;
        // var = 36/12 * (13 - 78/132) = 37.22727; z = (34.5 - 18 - 0.5)/sqrt(var) = 2.6224;
        // p = erfc(z/sqrt 2) = 0.0087328
        // (scipy.stats.mannwhitneyu(a, b, method="asymptotic") -> U=1.5, p=0.008732768512539242)
        let t = mann_whitney_u(
            &[1.0, 2.0, 2.0, 3.0, 3.0, 3.0],
            &[3.0, 4.0, 4.0, 5.0, 5.0, 6.0],
        );
        assert!(!t.exact);
        assert_eq!(t.u, 1.5);
        close(t.p, 0.008732768512539242, 1e-12);
        // all values tied: no evidence
        let t = mann_whitney_u(&[1.0; 10], &[1.0; 10]);
        assert_eq!(t.p, 1.0);
    }

    #[test]
    fn mann_whitney_large_samples_without_ties() {
        // a = 0..20, b = 10.5..29.5: no ties, n > 8, so the normal approximation
        let a: Vec<f64> = (0..20).map(f64::from).collect();
        let b: Vec<f64> = (0..20).map(|i| f64::from(i) + 10.5).collect();
        // scipy.stats.mannwhitneyu(a, b) (asymptotic) -> U=45, p=2.9248649327368934e-05
        let t = mann_whitney_u(&a, &b);
        assert!(!t.exact);
        assert_eq!(t.u, 45.0);
        close(t.p, 2.9248649327368934e-05, 1e-15);
    }

    #[test]
    fn kurobako_alpha_rule() {
        assert_eq!(kurobako_alpha(3), 0.01);
        assert_eq!(kurobako_alpha(4), 0.0075);
        assert_eq!(kurobako_alpha(8), 0.001);
        assert_eq!(kurobako_alpha(2), 0.025);
        assert_eq!(kurobako_alpha(9), 0.001);
    }

    #[test]
    fn ranking_borda_and_firsts() {
        // three solvers, 10 seeds each: a clearly best, b and c overlapping on problem 1;
        // on problem 2 all three identical in distribution
        let a: Vec<f64> = (0..10).map(f64::from).collect();
        let b: Vec<f64> = (0..10).map(|i| f64::from(i) + 100.0).collect();
        let c: Vec<f64> = (0..10).map(|i| f64::from(i) + 100.5).collect();
        let r1 = rank_problem(&[a.clone(), b, c], kurobako_alpha(3));
        assert_eq!(r1.rank, vec![1, 2, 2]);
        assert!(r1.beats[0][1] && r1.beats[0][2]);
        assert!(!r1.beats[1][2] && !r1.beats[2][1]);
        let r2 = rank_problem(&[a.clone(), a.clone(), a], 0.01);
        assert_eq!(r2.rank, vec![1, 1, 1]);
        let s = scores(3, &[r1, r2]);
        assert_eq!(s.borda, vec![2, 0, 0]);
        assert_eq!(s.firsts, vec![2, 1, 1]);
    }
}
