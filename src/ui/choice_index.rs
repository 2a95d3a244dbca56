//! Recorded params that repeat one another: a choice over sub-spaces is recorded as its option
//! index (`opt = 1`) beside the constants of the chosen option (`opt.name = adam`). When such a
//! constant tells the options apart, the index says nothing more, and counting both would count
//! one choice twice in the importance and in every plot. [`redundant_indices`] finds those
//! indices so they can be left out.

use std::collections::{BTreeMap, BTreeSet};

/// The keys `k` among `runs`' params whose every value is an option index (a non-negative
/// integer) and that a key `k.<name>` identifies: across the runs, each index always comes with
/// the same value of `k.<name>` (or always without it) and distinct indices with distinct
/// values. Keys nobody nests under are never redundant.
pub fn redundant_indices<'a, I>(runs: I) -> BTreeSet<String>
where
    I: IntoIterator<Item = &'a BTreeMap<String, String>> + Clone,
{
    let mut candidates: BTreeSet<&str> = BTreeSet::new();
    let mut not_index: BTreeSet<&str> = BTreeSet::new();
    for params in runs.clone() {
        for (k, v) in params {
            if v.trim().parse::<u32>().is_ok() {
                candidates.insert(k);
            } else {
                not_index.insert(k);
            }
        }
    }
    let mut out = BTreeSet::new();
    for k in candidates.difference(&not_index) {
        let prefix = format!("{k}.");
        let children: BTreeSet<&str> = runs
            .clone()
            .into_iter()
            .flat_map(|p| p.keys())
            .filter(|c| c.starts_with(&prefix))
            .map(String::as_str)
            .collect();
        if children
            .iter()
            .any(|child| identifies(runs.clone(), k, child))
        {
            out.insert(k.to_string());
        }
    }
    out
}

/// Whether `child`'s value (or its absence) is a one-to-one function of `index`'s value.
fn identifies<'a, I>(runs: I, index: &str, child: &str) -> bool
where
    I: IntoIterator<Item = &'a BTreeMap<String, String>>,
{
    let mut forward: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    let mut backward: BTreeMap<Option<&str>, &str> = BTreeMap::new();
    for params in runs {
        let Some(i) = params.get(index) else {
            continue;
        };
        let c = params.get(child).map(String::as_str);
        if *forward.entry(i.as_str()).or_insert(c) != c {
            return false;
        }
        if *backward.entry(c).or_insert(i.as_str()) != i.as_str() {
            return false;
        }
    }
    !forward.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_index_named_by_a_constant_of_its_options_is_redundant() {
        let runs = [
            run(&[("opt", "0"), ("opt.opt", "\"sgd\""), ("lr", "0.1")]),
            run(&[("opt", "1"), ("opt.opt", "\"adam\""), ("beta", "0.9")]),
            run(&[("opt", "0"), ("opt.opt", "\"sgd\""), ("lr", "0.2")]),
        ];
        let r = redundant_indices(runs.iter());
        assert_eq!(r, BTreeSet::from(["opt".to_string()]));
        // an index nothing nests under, or a child that does not tell options apart, stays
        let runs = [
            run(&[("opt", "0"), ("opt.seed", "1"), ("n", "3")]),
            run(&[("opt", "1"), ("opt.seed", "1"), ("n", "4")]),
        ];
        assert!(redundant_indices(runs.iter()).is_empty());
    }
}
