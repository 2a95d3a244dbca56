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

/// The internal values of parameters `dims` of each observation's trial: `cols[j][k]` is that
/// of parameter `dims[j]` in observation `k` (`NaN` where inactive). The columns come from
/// [`pool::F64`].
pub(crate) fn internal_columns(
    space: &Space,
    trials: &[Trial],
    obs: &[Obs],
    dims: &[usize],
) -> Vec<Vec<f64>> {
    let kinds: Vec<_> = space.params().iter().map(|p| &p.kind).collect();
    let mut cols: Vec<Vec<f64>> = dims.iter().map(|_| pool::F64.take(obs.len())).collect();
    for o in obs {
        let params = &trials[o.trial].params;
        match params.internal_in(space) {
            Some(row) => {
                for (c, &p) in cols.iter_mut().zip(dims) {
                    c.push(row.get(p).copied().unwrap_or(f64::NAN));
                }
            }
            None => {
                let a = params.assignment();
                for (c, &p) in cols.iter_mut().zip(dims) {
                    let x = match (a.raw(p), kinds.get(p)) {
                        (Some(raw), Some(kind)) => kind.to_internal(raw),
                        _ => f64::NAN,
                    };
                    c.push(x);
                }
            }
        }
    }
    cols
}
