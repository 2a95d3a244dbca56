//! Parameter importance for the compare page: a simple, explainable measure.
//!
//! For each param, over the finished trials that have both the param and a finite metric:
//!
//! - any param scores the fraction of the metric's variance explained by its group means (the
//!   correlation ratio η²: between-group sum of squares over total sum of squares), where the
//!   groups of a categorical param are its categories and those of a numeric param (every value
//!   parses as a finite number) are `k = clamp(round(sqrt(n)), 2, 10)` equal-count bins of its
//!   values in rank order (equal values share a bin). Unlike a rank correlation this also sees
//!   effects that are not monotone (a U-shaped loss in `x`).
//!
//! The score is η² corrected for what that many groups explain by chance (ε², floored at 0), so
//! it lies in `[0, 1]` and an unrelated param scores about 0; a param with fewer than two distinct
//! values, or a constant metric, scores 0. The scores are then normalized to sum to 1 (all stay 0 when every score is 0) and
//! listed from the most to the least important. The measure is marginal: it sees one param at a time,
//! so it misses interactions; with few trials per bin it overstates weak effects a little.

use std::collections::BTreeMap;

/// Fewer finished trials than this give no importance: with so few, the scores are mostly noise
/// (a param unrelated to the metric often takes half the share), so the page says why instead.
pub const MIN_TRIALS: usize = 10;

/// Why no importance is shown for `n` finished trials, or `None` when there are enough.
pub fn too_few(n: usize) -> Option<String> {
    (n < MIN_TRIALS).then(|| {
        format!(
            "importance needs at least {MIN_TRIALS} finished trials with the metric \
             ({n} so far): with fewer, the scores are mostly noise"
        )
    })
}

/// One finished trial: its params (key → raw value) and its metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Params as logged (strings).
    pub params: BTreeMap<String, String>,
    /// The study's metric for this trial.
    pub value: f64,
}

/// The importance of each param appearing in `samples`, normalized to sum 1, most important
/// first (ties by name).
pub fn importance(samples: &[Sample]) -> Vec<(String, f64)> {
    let mut keys: Vec<&str> = samples
        .iter()
        .flat_map(|s| s.params.keys().map(String::as_str))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut scores: Vec<(String, f64)> = keys
        .into_iter()
        .map(|k| {
            let pairs: Vec<(&str, f64)> = samples
                .iter()
                .filter(|s| s.value.is_finite())
                .filter_map(|s| s.params.get(k).map(|v| (v.as_str(), s.value)))
                .collect();
            (k.to_string(), score(&pairs))
        })
        .collect();
    let total: f64 = scores.iter().map(|(_, v)| v).sum();
    if total > 0.0 {
        for (_, v) in &mut scores {
            *v /= total;
        }
    }
    scores.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    scores
}

/// The unnormalized score of one param from its (value, metric) pairs.
fn score(pairs: &[(&str, f64)]) -> f64 {
    let numbers: Option<Vec<f64>> = pairs
        .iter()
        .map(|(v, _)| v.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect();
    let ys: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    let s = match numbers {
        Some(xs) => binned_ratio(&xs, &ys),
        None => {
            let labels: Vec<&str> = pairs.iter().map(|p| p.0).collect();
            adjusted_ratio(&labels, &ys)
        }
    };
    if s.is_finite() {
        s.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// Ranks from 1, ties sharing their average rank.
fn ranks(xs: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut out = vec![0.0; xs.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && xs[order[j + 1]] == xs[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &o in &order[i..=j] {
            out[o] = avg;
        }
        i = j + 1;
    }
    out
}

/// Spearman's rank correlation (Pearson's on the ranks); `None` when either side is constant or
/// there are fewer than two points.
pub fn spearman(xs: &[f64], ys: &[f64]) -> Option<f64> {
    if xs.len() != ys.len() || xs.len() < 2 {
        return None;
    }
    pearson(&ranks(xs), &ranks(ys))
}

fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len() as f64;
    let ma = a.iter().sum::<f64>() / n;
    let mb = b.iter().sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa <= 0.0 || sbb <= 0.0 {
        return None;
    }
    Some(sab / (saa * sbb).sqrt())
}

/// η² of a numeric param: its values cut into `clamp(round(sqrt(n)), 2, 10)` equal-count bins by
/// rank (ties share their average rank, so equal values share a bin).
pub fn binned_ratio(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len();
    if n < 2 {
        return 0.0;
    }
    let k = ((n as f64).sqrt().round() as usize).clamp(2, 10);
    let labels: Vec<String> = ranks(xs)
        .iter()
        .map(|r| {
            (((r - 1.0) * k as f64 / n as f64) as usize)
                .min(k - 1)
                .to_string()
        })
        .collect();
    let refs: Vec<&str> = labels.iter().map(|s| s.as_str()).collect();
    adjusted_ratio(&refs, ys)
}

/// η² corrected for the variance that `g` groups explain by chance (ε²:
/// `(SSB - (g - 1) SSW / (n - g)) / SST`, floored at 0), so a param unrelated to the metric
/// scores about 0 however many bins or categories it has.
pub fn adjusted_ratio(labels: &[&str], ys: &[f64]) -> f64 {
    let n = ys.len();
    let g = labels
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if n <= g || g < 2 {
        return 0.0;
    }
    let mean = ys.iter().sum::<f64>() / n as f64;
    let total: f64 = ys.iter().map(|y| (y - mean) * (y - mean)).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let eta2 = correlation_ratio(labels, ys);
    let between = eta2 * total;
    let within = total - between;
    ((between - (g - 1) as f64 * within / (n - g) as f64) / total).max(0.0)
}

/// η²: the share of the variance of `ys` explained by the means of the groups given by `labels`.
pub fn correlation_ratio(labels: &[&str], ys: &[f64]) -> f64 {
    if ys.len() < 2 {
        return 0.0;
    }
    let mean = ys.iter().sum::<f64>() / ys.len() as f64;
    let total: f64 = ys.iter().map(|y| (y - mean) * (y - mean)).sum();
    let mut groups: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
    for (l, y) in labels.iter().zip(ys) {
        let g = groups.entry(l).or_insert((0.0, 0));
        g.0 += y;
        g.1 += 1;
    }
    if total <= 0.0 || groups.len() < 2 {
        return 0.0;
    }
    let between: f64 = groups
        .values()
        .map(|&(sum, n)| {
            let m = sum / n as f64;
            n as f64 * (m - mean) * (m - mean)
        })
        .sum();
    between / total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(params: &[(&str, String)], value: f64) -> Sample {
        Sample {
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            value,
        }
    }

    /// A small deterministic pseudo-random sequence in [0, 1).
    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*seed >> 11) as f64 / (1u64 << 53) as f64
    }

    fn get(imp: &[(String, f64)], key: &str) -> f64 {
        imp.iter().find(|(k, _)| k == key).unwrap().1
    }

    #[test]
    fn a_metric_of_one_numeric_param_gives_it_most_of_the_importance() {
        let mut seed = 7;
        let samples: Vec<Sample> = (0..60)
            .map(|_| {
                let x = lcg(&mut seed) * 4.0 - 2.0;
                let y = lcg(&mut seed);
                let z = lcg(&mut seed);
                sample(
                    &[
                        ("x", x.to_string()),
                        ("y", y.to_string()),
                        ("z", z.to_string()),
                    ],
                    (x + 3.0).ln(),
                )
            })
            .collect();
        let imp = importance(&samples);
        assert_eq!(imp[0].0, "x");
        assert!(get(&imp, "x") > 0.8, "{imp:?}");
        let sum: f64 = imp.iter().map(|p| p.1).sum();
        assert!((sum - 1.0).abs() < 1e-9);
        assert!(imp.iter().all(|p| p.1 >= 0.0));
    }

    #[test]
    fn a_categorical_param_is_scored_by_the_variance_its_means_explain() {
        let mut seed = 3;
        let samples: Vec<Sample> = (0..300)
            .map(|i| {
                let algo = ["tpe", "rand", "anneal"][i % 3];
                let noise = lcg(&mut seed);
                let base = match algo {
                    "tpe" => 0.0,
                    "rand" => 10.0,
                    _ => 20.0,
                };
                // an unrelated param, and metric noise independent of it
                let unrelated = lcg(&mut seed);
                sample(
                    &[("algo", algo.to_string()), ("n", unrelated.to_string())],
                    base + noise,
                )
            })
            .collect();
        let imp = importance(&samples);
        assert_eq!(imp[0].0, "algo");
        assert!(get(&imp, "algo") > 0.9, "{imp:?}");
    }

    #[test]
    fn spearman_and_eta_squared_on_exact_cases() {
        // monotone but not linear: Spearman sees a perfect relation
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert!((spearman(&xs, &[1.0, 8.0, 27.0, 64.0]).unwrap() - 1.0).abs() < 1e-12);
        assert!((spearman(&xs, &[4.0, 3.0, 2.0, 1.0]).unwrap() + 1.0).abs() < 1e-12);
        assert_eq!(spearman(&xs, &[1.0, 1.0, 1.0, 1.0]), None);
        // ties share ranks
        assert_eq!(ranks(&[5.0, 1.0, 5.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
        // groups a: {1, 3} (mean 2), b: {5, 7} (mean 6); total SS 20, between SS 16
        let eta = correlation_ratio(&["a", "a", "b", "b"], &[1.0, 3.0, 5.0, 7.0]);
        assert!((eta - 0.8).abs() < 1e-12);
        assert_eq!(correlation_ratio(&["a", "a"], &[1.0, 2.0]), 0.0);
    }

    #[test]
    fn a_u_shaped_effect_is_seen() {
        // loss = x^2 (U-shaped, not monotone) plus a small linear term in y
        let mut seed = 7u64;
        let samples: Vec<Sample> = (0..60)
            .map(|_| {
                let x = lcg(&mut seed) * 4.0 - 2.0;
                let y = lcg(&mut seed);
                sample(
                    &[("x", x.to_string()), ("y", y.to_string())],
                    x * x + 0.1 * y,
                )
            })
            .collect();
        let imp = importance(&samples);
        assert!(get(&imp, "x") > 0.8, "{imp:?}");
        assert_eq!(imp[0].0, "x");
    }

    #[test]
    fn degenerate_input_gives_zeros_not_nan() {
        assert!(importance(&[]).is_empty());
        let one = importance(&[sample(&[("x", "1".into())], 1.0)]);
        assert_eq!(one, vec![("x".to_string(), 0.0)]);
        let constant: Vec<Sample> = (0..5)
            .map(|i| sample(&[("x", i.to_string())], 2.0))
            .collect();
        assert_eq!(importance(&constant)[0].1, 0.0);
        let with_nan = vec![
            sample(&[("x", "1".into())], f64::NAN),
            sample(&[("x", "2".into())], 1.0),
            sample(&[("x", "3".into())], 2.0),
        ];
        // the NaN trial is left out: the same as the two finite trials alone, and finite
        let finite = importance(&with_nan[1..]);
        assert_eq!(importance(&with_nan), finite);
        assert!(finite[0].1.is_finite());
    }
}
