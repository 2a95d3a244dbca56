//! The pruner that never prunes.

use super::{Curves, Pruner};

/// Never stops a trial (the default: reports are recorded, nothing is pruned).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoPruner;

impl Pruner for NoPruner {
    fn name(&self) -> &'static str {
        "none"
    }

    fn prune(&self, _curves: &mut Curves, _trial: usize) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prunes() {
        let mut c = Curves::new();
        c.report(0, 1, f64::NAN);
        assert!(!NoPruner.prune(&mut c, 0));
        assert!(!NoPruner.prune(&mut c, 7), "an unknown trial");
    }
}
