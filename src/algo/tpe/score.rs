//! Scoring many candidates against one Parzen estimator at once.
//!
//! `log p(x)` of a mixture is a log-sum-exp over its components. Scoring the candidates one at
//! a time streams every component's kernel parameters through the cache once per candidate;
//! here the components are cut into fixed blocks and each block is scored for every candidate
//! while it is hot, four candidates at a time, with a running log-sum-exp per candidate. The
//! block size is fixed, so the result does not depend on how many threads score the blocks.

use rayon::prelude::*;

/// Components per block: the kernel parameters of a block over ten parameters fit in L1/L2.
pub(crate) const BLOCK: usize = 256;

/// What one candidate contributes, prepared once per estimator.
pub(crate) struct Query {
    /// internal value of each numeric dimension of the estimator; NaN where inactive
    pub xs: Vec<f64>,
    /// for each categorical dimension: the log kernel mass indexed by a component's code,
    /// empty where inactive
    pub luts: Vec<Vec<f64>>,
    /// a constant added to the result (hyperopt's mixture-wide truncation terms)
    pub extra: f64,
}

/// The kernel parameters of one numeric dimension, per component.
pub(crate) struct NumCols<'a> {
    pub mu: &'a [f64],
    pub inv_sigma: &'a [f64],
    pub log_c: &'a [f64],
}

/// Running log-sum-exp: the largest term seen and the sum of `exp(term - max)`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lse {
    max: f64,
    sum: f64,
}

impl Lse {
    const EMPTY: Lse = Lse {
        max: f64::NEG_INFINITY,
        sum: 0.0,
    };

    fn merge(self, o: Lse) -> Lse {
        if o.max == f64::NEG_INFINITY {
            return self;
        }
        if self.max == f64::NEG_INFINITY {
            return o;
        }
        if o.max > self.max {
            Lse {
                max: o.max,
                sum: o.sum + self.sum * exp_nonpos(self.max - o.max),
            }
        } else {
            Lse {
                max: self.max,
                sum: self.sum + o.sum * exp_nonpos(o.max - self.max),
            }
        }
    }

    fn value(self) -> f64 {
        if self.max == f64::NEG_INFINITY {
            self.max
        } else {
            self.max + self.sum.ln()
        }
    }
}

/// `exp(x)` for `x <= 0`, written so loops over slices vectorize.
///
/// Range reduction `x = k ln 2 + r` with `|r| <= ln 2 / 2`, a degree-10 Taylor polynomial for
/// `exp(r)` (relative error below 3e-13, ample for a sum of probabilities) and `2^k` assembled in the exponent bits. Inputs
/// below -700, and NaN, are treated as -700 (their exponentials are below 1e-304, far under the
/// largest term of any sum they enter).
#[inline(always)]
pub(crate) fn exp_nonpos(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    // adding 1.5 * 2^52 rounds to an integer held in the low mantissa bits
    const SHIFT: f64 = 6_755_399_441_055_744.0;
    let x = x.max(-700.0);
    let kf = x * LOG2E + SHIFT;
    let k = kf - SHIFT;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let mut p = 1.0 / 3_628_800.0;
    p = p * r + 1.0 / 362_880.0;
    p = p * r + 1.0 / 40_320.0;
    p = p * r + 1.0 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // k is in [-1010, 0]: k + 1023 fits the 11 exponent bits
    let scale = f64::from_bits(kf.to_bits().wrapping_add(1023) << 52);
    p * scale
}

/// Adds one numeric dimension's log kernel at `x` to `acc` for a block of components.
#[inline(always)]
pub(crate) fn add_numeric(acc: &mut [f64], x: f64, mu: &[f64], inv_sigma: &[f64], log_c: &[f64]) {
    for (((a, &m), &is), &lc) in acc.iter_mut().zip(mu).zip(inv_sigma).zip(log_c) {
        let z = (x - m) * is;
        *a += lc - 0.5 * z * z;
    }
}

/// Adds one categorical dimension's log kernel mass to `acc` for a block of components.
#[inline(always)]
pub(crate) fn add_categorical(acc: &mut [f64], lut: &[f64], codes: &[u32]) {
    if lut.len() < 8 {
        // the same masses from a table padded with -inf to eight entries: no bounds check, and
        // the loop vectorizes
        let mut t = [f64::NEG_INFINITY; 8];
        t[..lut.len()].copy_from_slice(lut);
        for (a, &c) in acc.iter_mut().zip(codes) {
            *a += t[(c as usize).min(7)];
        }
        return;
    }
    for (a, &c) in acc.iter_mut().zip(codes) {
        *a += lut.get(c as usize).copied().unwrap_or(f64::NEG_INFINITY);
    }
}

/// True if two tables hold the same bits.
#[inline(always)]
fn same_table(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// The largest value (NaNs ignored), in four lanes so the loop vectorizes.
#[inline(always)]
fn max_of(v: &[f64]) -> f64 {
    let mut lanes = [f64::NEG_INFINITY; 4];
    let chunks = v.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        for (l, &x) in lanes.iter_mut().zip(c) {
            *l = if x > *l { x } else { *l };
        }
    }
    rest.iter()
        .chain(&lanes)
        .fold(f64::NEG_INFINITY, |m, &x| if x > m { x } else { m })
}

/// `Σ exp(v - max)`, in four lanes: lane `j` adds the terms `j, j + 4, …` in order, then
/// `(l0 + l1) + (l2 + l3)` and the left-over terms. The exponentials are taken first into `tmp`
/// (at least as long as `v`), a loop that vectorizes at full width.
#[inline(always)]
fn sum_exp(v: &[f64], max: f64, tmp: &mut [f64]) -> f64 {
    let tmp = &mut tmp[..v.len()];
    for (e, &x) in tmp.iter_mut().zip(v) {
        *e = exp_nonpos(x - max);
    }
    let mut lanes = [0.0; 4];
    let chunks = tmp.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        for (l, &e) in lanes.iter_mut().zip(c) {
            *l += e;
        }
    }
    let tail: f64 = rest.iter().sum();
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + tail
}

/// The log-sum-exp of one block for each query, with 512-bit or 256-bit vectors where the CPU
/// has them.
///
/// The loops are the same either way and Rust never fuses a multiply and an add, so all the
/// paths give bit-identical results: suggestions do not depend on the machine.
fn score_block(
    range: std::ops::Range<usize>,
    log_w: &[f64],
    nums: &[NumCols<'_>],
    cats: &[&[u32]],
    queries: &[Query],
) -> Vec<Lse> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU supports AVX-512F, as just checked.
        return unsafe { score_block_avx512(range, log_w, nums, cats, queries) };
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, as just checked.
        return unsafe { score_block_avx2(range, log_w, nums, cats, queries) };
    }
    score_block_plain(range, log_w, nums, cats, queries)
}

/// [`score_block_plain`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn score_block_avx2(
    range: std::ops::Range<usize>,
    log_w: &[f64],
    nums: &[NumCols<'_>],
    cats: &[&[u32]],
    queries: &[Query],
) -> Vec<Lse> {
    score_block_plain(range, log_w, nums, cats, queries)
}

/// [`score_block_plain`] compiled for AVX-512: twice the registers, so the exponential's
/// constants stay in them, and eight terms per instruction.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn score_block_avx512(
    range: std::ops::Range<usize>,
    log_w: &[f64],
    nums: &[NumCols<'_>],
    cats: &[&[u32]],
    queries: &[Query],
) -> Vec<Lse> {
    score_block_plain(range, log_w, nums, cats, queries)
}

/// Queries scored together: each load of a block's kernel columns serves all of them.
const GROUP: usize = 4;

/// [`add_numeric`] for a group of queries at once: `acc` holds one accumulator of `mu.len()`
/// terms per query, `xs` their values (none NaN). Each term gets the same operations in the same
/// order as from [`add_numeric`].
#[inline(always)]
fn add_numeric_group(
    acc: &mut [f64],
    xs: [f64; GROUP],
    mu: &[f64],
    inv_sigma: &[f64],
    log_c: &[f64],
) {
    let len = mu.len().min(inv_sigma.len()).min(log_c.len());
    let (mu, inv_sigma, log_c) = (&mu[..len], &inv_sigma[..len], &log_c[..len]);
    let (a0, rest) = acc.split_at_mut(len);
    let (a1, rest) = rest.split_at_mut(len);
    let (a2, rest) = rest.split_at_mut(len);
    let a3 = &mut rest[..len];
    for k in 0..len {
        let (m, is, lc) = (mu[k], inv_sigma[k], log_c[k]);
        let z = (xs[0] - m) * is;
        a0[k] += lc - 0.5 * z * z;
        let z = (xs[1] - m) * is;
        a1[k] += lc - 0.5 * z * z;
        let z = (xs[2] - m) * is;
        a2[k] += lc - 0.5 * z * z;
        let z = (xs[3] - m) * is;
        a3[k] += lc - 0.5 * z * z;
    }
}

/// The log-sum-exp of one block for each query.
#[inline(always)]
fn score_block_plain(
    range: std::ops::Range<usize>,
    log_w: &[f64],
    nums: &[NumCols<'_>],
    cats: &[&[u32]],
    queries: &[Query],
) -> Vec<Lse> {
    let len = range.len();
    // the terms of a group of queries, and the exponentials of one query's: every value is
    // written before it is read, so the thread's buffer from the last block serves as it is
    let mut buf = SCRATCH.with(|s| s.take());
    buf.resize((GROUP + 1) * len, 0.0);
    let (acc, tmp) = buf.split_at_mut(GROUP * len);
    let mut out = Vec::with_capacity(queries.len());
    // each categorical dimension's masses over the block, once per distinct table (queries of
    // the same option share one): `cols[which[q * cats.len() + j]]` for query q, dimension j
    let mut cols: Vec<Vec<f64>> = Vec::new();
    let mut keys: Vec<(usize, &[f64])> = Vec::new();
    let mut which: Vec<usize> = Vec::with_capacity(queries.len() * cats.len());
    for q in queries {
        for (j, codes) in cats.iter().enumerate() {
            let lut: &[f64] = q.luts.get(j).map_or(&[], |l| l.as_slice());
            if lut.is_empty() {
                which.push(usize::MAX); // inactive in this query
                continue;
            }
            let mut found = usize::MAX;
            for (c, (d, l)) in keys.iter().enumerate() {
                if *d == j && same_table(l, lut) {
                    found = c;
                    break;
                }
            }
            if found == usize::MAX {
                // -0 + m is m for every m, so adding this column adds the table's masses
                let mut col = vec![-0.0; len];
                add_categorical(&mut col, lut, &codes[range.clone()]);
                cols.push(col);
                keys.push((j, lut));
                found = cols.len() - 1;
            }
            which.push(found);
        }
    }
    // plain loops, no closures: everything here is inlined into the AVX2 copy
    for (g, group) in queries.chunks(GROUP).enumerate() {
        let acc = &mut acc[..group.len() * len];
        for a in acc.chunks_exact_mut(len) {
            a.copy_from_slice(&log_w[range.clone()]);
        }
        for (j, d) in nums.iter().enumerate() {
            let r = range.clone();
            let (mu, is, lc) = (&d.mu[r.clone()], &d.inv_sigma[r.clone()], &d.log_c[r]);
            let mut xs = [f64::NAN; GROUP];
            for (x, q) in xs.iter_mut().zip(group) {
                *x = q.xs.get(j).copied().unwrap_or(f64::NAN);
            }
            if xs.iter().all(|x| !x.is_nan()) {
                add_numeric_group(acc, xs, mu, is, lc);
            } else {
                // a short group, or a dimension inactive in some query
                for (a, &x) in acc.chunks_exact_mut(len).zip(&xs) {
                    if !x.is_nan() {
                        add_numeric(a, x, mu, is, lc);
                    }
                }
            }
        }
        for (i, a) in acc.chunks_exact_mut(len).take(group.len()).enumerate() {
            let q = g * GROUP + i;
            for j in 0..cats.len() {
                if let Some(col) = which.get(q * cats.len() + j).and_then(|&c| cols.get(c)) {
                    for (x, &m) in a.iter_mut().zip(col) {
                        *x += m;
                    }
                }
            }
            let max = max_of(a);
            out.push(if max == f64::NEG_INFINITY {
                Lse::EMPTY
            } else {
                Lse {
                    max,
                    sum: sum_exp(a, max, tmp),
                }
            });
        }
    }
    SCRATCH.with(|s| s.set(buf));
    out
}

thread_local! {
    /// Each thread's buffer for [`score_block_plain`]'s terms.
    static SCRATCH: std::cell::Cell<Vec<f64>> = const { std::cell::Cell::new(Vec::new()) };
}

/// `log p(x)` for every query: the mixture has weights `log_w` (one per component), numeric
/// dimensions `nums` and categorical dimensions `cats` (each component's category code).
/// Blocks are scored on the rayon pool when `parallel` is set; the result is the same either way.
pub(crate) fn log_pdf_many(
    log_w: &[f64],
    nums: &[NumCols<'_>],
    cats: &[&[u32]],
    queries: &[Query],
    parallel: bool,
) -> Vec<f64> {
    let m = log_w.len();
    let ranges: Vec<std::ops::Range<usize>> = (0..m)
        .step_by(BLOCK)
        .map(|k| k..(k + BLOCK).min(m))
        .collect();
    let blocks: Vec<Vec<Lse>> = if parallel && ranges.len() > 1 {
        ranges
            .into_par_iter()
            .map(|r| score_block(r, log_w, nums, cats, queries))
            .collect()
    } else {
        ranges
            .into_iter()
            .map(|r| score_block(r, log_w, nums, cats, queries))
            .collect()
    };
    let mut total = vec![Lse::EMPTY; queries.len()];
    for b in blocks {
        for (t, l) in total.iter_mut().zip(b) {
            *t = t.merge(l);
        }
    }
    total
        .into_iter()
        .zip(queries)
        .map(|(t, q)| t.value() + q.extra)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_nonpos_matches_std() {
        let mut worst: f64 = 0.0;
        let mut x = 0.0;
        while x > -745.0 {
            let (a, b) = (exp_nonpos(x), x.max(-700.0).exp());
            worst = worst.max(((a - b) / b).abs());
            x -= 0.0137;
        }
        assert!(worst < 3e-13, "largest relative error {worst}");
        assert_eq!(exp_nonpos(0.0), 1.0);
        assert!(exp_nonpos(f64::NEG_INFINITY) < 1e-300);
        // a NaN term drops out of a sum, as in a log-sum-exp that skips negligible terms
        assert!(exp_nonpos(f64::NAN) < 1e-300);
    }

    /// Kernel columns of `m` components over two numeric dimensions and one categorical one,
    /// and six queries (one with the second dimension inactive).
    fn mixture(m: usize) -> (Vec<Vec<f64>>, Vec<u32>, Vec<Query>) {
        use rand::RngExt;
        let mut rng = crate::algo::trial_rng(11, 0);
        let mut col = |lo: f64, hi: f64| -> Vec<f64> {
            (0..m)
                .map(|_| lo + (hi - lo) * rng.random::<f64>())
                .collect()
        };
        let cols = vec![
            col(-9.0, -5.0),
            col(0.0, 1.0),
            col(2.0, 40.0),
            col(-1.0, 3.0),
            col(0.0, 1.0),
            col(2.0, 40.0),
            col(-1.0, 3.0),
        ];
        let codes: Vec<u32> = (0..m as u32).map(|k| k % 4).collect();
        let queries = [0.13, 0.5, 0.97, 0.02, 0.61, 0.33]
            .iter()
            .enumerate()
            .map(|(i, &x)| Query {
                xs: vec![x, if i == 4 { f64::NAN } else { 1.0 - x }],
                // three options' tables, and the categorical dimension inactive in one query
                luts: vec![match i % 3 {
                    _ if i == 5 => vec![],
                    0 => vec![-0.1, -2.0, -2.0, -1.5],
                    1 => vec![-2.0, -0.1, -2.0, -1.5],
                    _ => vec![-2.0, -2.0, -0.1, -1.5],
                }],
                extra: 0.0,
            })
            .collect();
        (cols, codes, queries)
    }

    /// The two numeric dimensions of a `mixture`'s columns.
    fn two_numeric(c: &[Vec<f64>]) -> [NumCols<'_>; 2] {
        [
            NumCols {
                mu: &c[1],
                inv_sigma: &c[2],
                log_c: &c[3],
            },
            NumCols {
                mu: &c[4],
                inv_sigma: &c[5],
                log_c: &c[6],
            },
        ]
    }

    fn same_bits(a: &[Lse], b: &[Lse]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert_eq!(x.max.to_bits(), y.max.to_bits());
            assert_eq!(x.sum.to_bits(), y.sum.to_bits());
        }
    }

    #[test]
    fn the_avx2_and_avx512_copies_give_the_same_bits() {
        let m = 300;
        let (c, codes, queries) = mixture(m);
        let nums = two_numeric(&c);
        let cats = [codes.as_slice()];
        let a = score_block(0..m, &c[0], &nums, &cats, &queries);
        let b = score_block_plain(0..m, &c[0], &nums, &cats, &queries);
        same_bits(&a, &b);
        #[cfg(target_arch = "x86_64")]
        for (has, wide) in [
            (
                std::arch::is_x86_feature_detected!("avx2"),
                score_block_avx2 as unsafe fn(_, _, _, _, _) -> _,
            ),
            (
                std::arch::is_x86_feature_detected!("avx512f"),
                score_block_avx512,
            ),
        ] {
            if has {
                // SAFETY: the CPU has the feature, as just checked.
                let w = unsafe { wide(0..m, &c[0], &nums, &cats, &queries) };
                same_bits(&w, &b);
            }
        }
    }

    #[test]
    fn a_group_of_queries_gives_the_bits_of_one_at_a_time() {
        let m = 256;
        let (c, codes, queries) = mixture(m);
        let nums = two_numeric(&c);
        let cats = [codes.as_slice()];
        let together = score_block(0..m, &c[0], &nums, &cats, &queries);
        let alone: Vec<Lse> = queries
            .chunks(1)
            .flat_map(|q| score_block(0..m, &c[0], &nums, &cats, q))
            .collect();
        same_bits(&together, &alone);
    }

    #[test]
    fn shared_categorical_columns_give_the_bits_of_each_query_alone() {
        // the terms of each query built one dimension at a time, as before the columns
        let m = 300;
        let (c, codes, queries) = mixture(m);
        let nums = two_numeric(&c);
        let got = score_block_plain(0..m, &c[0], &nums, &[codes.as_slice()], &queries);
        for (q, g) in queries.iter().zip(&got) {
            let mut a = c[0].clone();
            for (d, &x) in nums.iter().zip(&q.xs) {
                if !x.is_nan() {
                    add_numeric(&mut a, x, d.mu, d.inv_sigma, d.log_c);
                }
            }
            if !q.luts[0].is_empty() {
                add_categorical(&mut a, &q.luts[0], &codes);
            }
            let max = max_of(&a);
            let sum = sum_exp(&a, max, &mut vec![0.0; m]);
            assert_eq!(g.max.to_bits(), max.to_bits());
            assert_eq!(g.sum.to_bits(), sum.to_bits());
        }
    }

    #[test]
    fn padded_masses_and_vector_exponentials_match_the_plain_loops() {
        // out-of-range codes get -inf, short and long tables alike
        let codes: Vec<u32> = (0..40).map(|k| (k * 7 % 13) as u32).collect();
        for n in [1, 4, 7, 8, 12] {
            let lut: Vec<f64> = (0..n).map(|j| -0.25 * j as f64 - 0.1).collect();
            let mut acc = vec![0.5; codes.len()];
            add_categorical(&mut acc, &lut, &codes);
            for (a, &c) in acc.iter().zip(&codes) {
                let want = 0.5 + lut.get(c as usize).copied().unwrap_or(f64::NEG_INFINITY);
                assert_eq!(a.to_bits(), want.to_bits(), "n = {n}, code {c}");
            }
        }
        // the sum in four lanes, as a loop adding each exponential to its lane would give
        // near terms, and far ones (700 or more below the maximum, -inf, NaN) alone, in whole
        // chunks of four and mixed with near ones
        let near = |k: usize| -0.37 * (k % 11) as f64 - 0.01 * k as f64;
        let far = |k: usize| match k % 5 {
            0 => -700.0,
            1 => -700.000_000_1,
            2 => f64::NEG_INFINITY,
            3 => f64::NAN,
            _ => -1e5 - k as f64,
        };
        let cases = [1, 3, 4, 9, 256].into_iter().flat_map(|len| {
            [
                (0..len).map(near).collect::<Vec<f64>>(),
                (0..len).map(far).collect(),
                (0..len)
                    .map(|k| if k % 13 == 5 { near(k) } else { far(k) })
                    .collect(),
                (0..len)
                    .map(|k| if (k / 4) % 2 == 0 { near(k) } else { far(k) })
                    .collect(),
                (0..len).map(|k| near(k) - 699.9 * (k % 2) as f64).collect(),
            ]
        });
        for v in cases {
            let len = v.len();
            let mut lanes = [0.0; 4];
            let chunks = v.chunks_exact(4);
            let tail: f64 = chunks
                .remainder()
                .iter()
                .map(|&x| exp_nonpos(x - 0.0))
                .sum();
            for c in chunks {
                for (l, &x) in lanes.iter_mut().zip(c) {
                    *l += exp_nonpos(x - 0.0);
                }
            }
            let want = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + tail;
            let got = sum_exp(&v, 0.0, &mut [0.0; BLOCK]);
            assert_eq!(got.to_bits(), want.to_bits(), "len = {len}");
        }
    }

    #[test]
    fn blocks_merge_to_the_plain_log_sum_exp() {
        // 600 components, one numeric dimension: three blocks
        let m = 600;
        let log_w: Vec<f64> = (0..m)
            .map(|k| -((m as f64).ln()) - 0.001 * k as f64)
            .collect();
        let mu: Vec<f64> = (0..m).map(|k| k as f64 / m as f64).collect();
        let inv_sigma = vec![20.0; m];
        let log_c = vec![(20.0f64).ln() - 0.918_938_533_204_672_7; m];
        let nums = [NumCols {
            mu: &mu,
            inv_sigma: &inv_sigma,
            log_c: &log_c,
        }];
        let queries: Vec<Query> = [0.1, 0.55, 0.99]
            .iter()
            .map(|&x| Query {
                xs: vec![x],
                luts: vec![],
                extra: 0.0,
            })
            .collect();
        for parallel in [false, true] {
            let got = log_pdf_many(&log_w, &nums, &[], &queries, parallel);
            for (q, g) in queries.iter().zip(got) {
                let x = q.xs[0];
                let terms: Vec<f64> = (0..m)
                    .map(|k| {
                        let z = (x - mu[k]) * inv_sigma[k];
                        log_w[k] + log_c[k] - 0.5 * z * z
                    })
                    .collect();
                let mx = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let want = mx + terms.iter().map(|t| (t - mx).exp()).sum::<f64>().ln();
                assert!((g - want).abs() < 1e-12, "x={x}: {g} vs {want}");
            }
        }
    }
}
