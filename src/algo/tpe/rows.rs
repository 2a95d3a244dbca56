//! The observations' internal values, as an estimator reads them.
//!
//! A trial record keeps its params' internal values (log space for log-scale parameters), so
//! building an estimator reads them instead of taking logarithms again at every suggestion.
//! Trials whose params were read through another space object (an equal space built
//! separately, say) get theirs worked out here, the same way. Each trial is visited once, for
//! all the parameters at a time.

use super::parzen::Obs;
use super::pool;
use crate::space::Space;
use crate::trial::Trial;

/// Observations whose rows are copied into the columns together: their rows stay in L1 while
/// each column takes its values.
const CHUNK: usize = 64;

/// The internal values of parameters `dims` of each observation's trial: `cols[j][k]` is that
/// of parameter `dims[j]` in observation `k` (`NaN` where inactive). The columns come from
/// [`pool::F64`].
pub(crate) fn internal_columns(
    space: &Space,
    trials: &[Trial],
    obs: &[Obs],
    dims: &[usize],
) -> Vec<Vec<f64>> {
    let n = space.len();
    // rows of trials read through another space object, worked out here
    let mut owned = Vec::new();
    for o in obs {
        let params = &trials[o.trial].params;
        if params.internal_in(space).is_none() {
            let a = params.assignment();
            owned.extend(
                space
                    .params()
                    .iter()
                    .enumerate()
                    .map(|(i, p)| a.raw(i).map_or(f64::NAN, |raw| p.kind.to_internal(raw))),
            );
        }
    }
    let mut computed = owned.chunks_exact(n.max(1));
    let rows: Vec<&[f64]> = obs
        .iter()
        .map(|o| match trials[o.trial].params.internal_in(space) {
            Some(row) => row,
            None => computed.next().unwrap_or(&[]),
        })
        .collect();
    // room for one more: a numeric column becomes the means, the prior's appended
    let mut cols: Vec<Vec<f64>> = dims.iter().map(|_| pool::F64.take(obs.len() + 1)).collect();
    for chunk in rows.chunks(CHUNK) {
        for (c, &p) in cols.iter_mut().zip(dims) {
            c.extend(chunk.iter().map(|r| r.get(p).copied().unwrap_or(f64::NAN)));
        }
    }
    cols
}
