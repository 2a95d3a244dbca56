//! The `bits` the TPE examples print: FNV-1a over the bits of every trial's values, so equal
//! hashes mean the same study bit for bit.

/// The hash of `trials`' values, in trial order.
pub fn study_bits(trials: &[hpo::Trial]) -> u64 {
    let mut bits: u64 = 0xcbf2_9ce4_8422_2325;
    for t in trials {
        for v in t.params.assignment().values() {
            bits = (bits ^ v.to_bits()).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    bits
}
