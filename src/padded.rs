//! [`Padded`]: a value alone on its cache lines.
//!
//! Why: a spawn on one worker and the spawned actor's end on the other write shared
//! counters, table locks and queue heads. When two of these share a cache line, each write
//! on one core takes the line away from the other core even if that core only wanted its
//! neighbour (false sharing). With the node's id counter, its table shards and its
//! counters apart, spawn + exit + wait (spawned by an actor on one worker, run on the other)
//! went from 0.731 to 0.700 us, medians of 80 alternating runs each (BENCHMARKS-HISTORY.md,
//! "Issue 19, tenth pass"). 128 bytes: x86-64 fetches lines in adjacent pairs.

/// `T` aligned (and so padded) to 128 bytes: nothing else shares its cache lines.
#[repr(align(128))]
#[derive(Default)]
pub(crate) struct Padded<T>(pub(crate) T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Padded;

    #[test]
    fn a_padded_value_fills_its_own_cache_lines() {
        assert_eq!(std::mem::align_of::<Padded<u8>>(), 128);
        assert_eq!(std::mem::size_of::<Padded<u64>>(), 128);
        let two = [Padded(1u64), Padded(2u64)];
        let gap = (&*two[1] as *const u64 as usize) - (&*two[0] as *const u64 as usize);
        assert_eq!(gap, 128);
        assert_eq!(*two[1], 2);
    }
}
