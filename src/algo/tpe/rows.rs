//! The observations' internal values, as an estimator reads them.
//!
//! A trial record keeps its params' internal values (log space for log-scale parameters), so
//! building an estimator reads them instead of taking logarithms again at every suggestion.
//! Trials whose params were read through another space object (an equal space built
//! separately, say) get theirs worked out here, the same way.

use super::parzen::Obs;
use crate::space::Space;
use crate::trial::Trial;

/// The internal values of each observation's trial (one per parameter of `space`, `NaN` where
/// inactive), in the order of `obs`. `owned` holds the values that had to be worked out here.
pub(crate) fn internal_rows<'a>(
    space: &Space,
    trials: &'a [Trial],
    obs: &[Obs],
    owned: &'a mut Vec<f64>,
) -> Vec<&'a [f64]> {
    let n = space.len();
    let kinds: Vec<_> = space.params().iter().map(|p| &p.kind).collect();
    owned.clear();
    for o in obs {
        let params = &trials[o.trial].params;
        if params.internal_in(space).is_none() {
            let a = params.assignment();
            owned.extend(
                kinds
                    .iter()
                    .enumerate()
                    .map(|(i, k)| a.raw(i).map_or(f64::NAN, |raw| k.to_internal(raw))),
            );
        }
    }
    let owned: &'a [f64] = owned;
    let mut computed = owned.chunks_exact(n.max(1));
    obs.iter()
        .map(|o| match trials[o.trial].params.internal_in(space) {
            Some(row) => row,
            None => computed.next().unwrap_or(&[]),
        })
        .collect()
}
