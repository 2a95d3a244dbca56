//! Buffers kept between suggestions for the estimators' per-component columns.
//!
//! An estimator over 10,000 observations fills a few megabytes of columns. Taken fresh at
//! every suggestion, that memory is often handed back to the system in between and faulted in
//! again page by page. Columns are given back here when an estimator is dropped and taken by
//! the next one instead. Only the contents' capacity is reused, never their values, so results
//! cannot depend on what was kept; at most [`MAX_KEPT`] buffers and [`MAX_BYTES`] are kept.

use std::sync::Mutex;

/// Buffers shorter than this are not worth keeping: the allocator serves them quickly. (At
/// 1024, the 36 columns of 8 KB an estimator over a thousand observations fills were all
/// allocated and freed at every suggestion.)
const MIN_LEN: usize = 256;
/// At most this many buffers of each type are kept.
const MAX_KEPT: usize = 96;
/// At most this many bytes are kept per type.
const MAX_BYTES: usize = 64 << 20;

/// A store of empty buffers with capacity.
pub(crate) struct Pool<T> {
    kept: Mutex<Vec<Vec<T>>>,
}

/// Buffers of `f64` (means, bandwidths, kernel constants, weights).
pub(crate) static F64: Pool<f64> = Pool::new();
/// Buffers of `u32` (category codes).
pub(crate) static U32: Pool<u32> = Pool::new();

impl<T> Pool<T> {
    const fn new() -> Pool<T> {
        Pool {
            kept: Mutex::new(Vec::new()),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Vec<Vec<T>>) -> R) -> R {
        // a panic elsewhere while the lock was held leaves only empty buffers behind
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut kept)
    }

    /// An empty buffer with room for at least `len` values (a quarter more when newly made).
    pub(crate) fn take(&self, len: usize) -> Vec<T> {
        if len < MIN_LEN {
            return Vec::with_capacity(len);
        }
        let found = self.with(|kept| {
            // the smallest kept buffer that is large enough
            let i = kept
                .iter()
                .enumerate()
                .filter(|(_, v)| v.capacity() >= len)
                .min_by_key(|(_, v)| v.capacity())
                .map(|(i, _)| i)?;
            Some(kept.swap_remove(i))
        });
        // with room to grow: a study adds an observation per trial, and a buffer of exactly
        // `len` would be too small for every later suggestion's columns
        found.unwrap_or_else(|| Vec::with_capacity(len + len / 4))
    }

    /// Keep `v`'s memory for a later [`Pool::take`].
    pub(crate) fn give(&self, mut v: Vec<T>) {
        if v.capacity() < MIN_LEN {
            return;
        }
        v.clear();
        let dropped = self.with(|kept| {
            kept.push(v);
            let bytes = |kept: &Vec<Vec<T>>| {
                kept.iter().map(|v| v.capacity()).sum::<usize>() * std::mem::size_of::<T>()
            };
            let mut dropped = Vec::new();
            // over the limits: let the smallest go first
            while kept.len() > MAX_KEPT || bytes(kept) > MAX_BYTES {
                let Some(i) = (0..kept.len()).min_by_key(|&i| kept[i].capacity()) else {
                    break;
                };
                dropped.push(kept.swap_remove(i));
            }
            dropped
        });
        // freed outside the lock
        drop(dropped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_empty_and_large_enough() {
        let pool: Pool<f64> = Pool::new();
        let mut v = pool.take(5000);
        assert!(v.capacity() >= 5000 && v.is_empty());
        v.extend(std::iter::repeat_n(1.5, 5000));
        pool.give(v);
        let w = pool.take(3000);
        assert!(w.capacity() >= 5000 && w.is_empty());
        let x = pool.take(3000);
        assert!(x.capacity() >= 3000 && x.is_empty());
        pool.give(w);
        pool.give(x);
        // bounded
        for _ in 0..2 * MAX_KEPT {
            pool.give(Vec::with_capacity(MIN_LEN));
        }
        assert!(pool.with(|k| k.len()) <= MAX_KEPT);
    }
}
