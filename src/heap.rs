//! Growing a worker thread's malloc heap in large steps before a run of fresh actors.
//!
//! Why: every fresh actor allocates ~1.6 KiB (its cell, mail queue, address, `may`'s
//! coroutine handle and join slots, pyact's context), on the worker thread that spawns it
//! or first runs it. glibc gives each thread its own arena, and a thread arena's heap grows
//! by exactly what the allocation lacks, rounded up to a page, with one `mprotect` of the
//! heap's reserved range per growth: one system call (which takes the address space's lock
//! for writing and splits the heap's memory maps again) per ~2.5 fresh actors, 10% of a
//! 10,000-actor ring build's samples (BENCHMARKS-HISTORY.md, "Sixth pass: ring"). glibc's
//! `M_TOP_PAD` does not apply to thread arenas, and `mallopt` is process-wide anyway.
//!
//! What: before a worker thread makes (or first runs) its first fresh coroutine, and again
//! after every [`EVERY`] more, [`reserve`] allocates [`RESERVE`] bytes in blocks just
//! below glibc's `mmap` threshold and frees them in allocation order. The blocks come from
//! the top of the thread's heap, so the heap grows in ~120 KiB steps (one `mprotect` each
//! instead of one per page); freed, they merge back into the top, and glibc trims it with one
//! `madvise(MADV_DONTNEED)`: nothing stays resident, but the heap keeps its read-write
//! range, so the next [`RESERVE`] bytes of real allocations grow it without a system call.
//! Where the blocks come from free space instead (a heap with room), nothing grows and the
//! cost is 136 allocations and frees. With another allocator it is merely that, and so it
//! is under `vm.overcommit_memory=2`, where glibc makes a trimmed range inaccessible again.
//!
//! Only on the fresh path (a spawn that found no idle coroutine) and only on `may`'s
//! worker threads: warm spawns allocate nothing new of this size, and a plain thread that
//! spawns a few actors would not use the reservation. A reservation costs 0.2–0.5 ms here
//! (136 blocks allocated and freed, ~136 `mprotect`s, one `madvise`).

use std::cell::Cell;

/// Bytes a reservation grows the heap by: ~10,000 fresh actors' allocations.
const RESERVE: usize = 16 << 20;

/// One block: below glibc's default `mmap` threshold (128 KiB), so it comes from the heap.
const BLOCK: usize = 120 << 10;

/// Fresh coroutines a thread makes between two reservations (~[`RESERVE`] of allocations).
const EVERY: u32 = 8192;

thread_local! {
    /// Fresh coroutines left before this thread's next reservation (0: reserve now).
    /// Per thread, not per coroutine: the arena is the thread's. Read and written with no
    /// blocking call in between, so a coroutine moving to another worker cannot tear it.
    static LEFT: Cell<u32> = const { Cell::new(0) };
}

/// Call on the fresh-coroutine path (a `may` spawn, a new coroutine's first run): reserves
/// heap growth for this thread at its first call and after every [`EVERY`] calls.
#[inline]
pub(crate) fn fresh_coroutine() {
    if cfg!(not(all(target_os = "linux", target_env = "gnu"))) {
        return;
    }
    let left = LEFT.with(|l| {
        let left = l.get();
        l.set(left.checked_sub(1).unwrap_or(EVERY - 1));
        left
    });
    if left == 0 {
        reserve();
    }
}

/// Grow this thread's heap by [`RESERVE`] bytes in [`BLOCK`] steps and give them back.
/// Returns the span the blocks covered (for the test).
#[cold]
#[inline(never)]
fn reserve() -> (usize, usize) {
    // `try_reserve_exact`, not `Box::new_uninit_slice`: a reservation is only a hint, so
    // an allocator that refuses (a memory limit, `vm.overcommit_memory=2`) ends it early
    // instead of aborting the process
    let mut blocks: Vec<Vec<u8>> = Vec::with_capacity(RESERVE / BLOCK);
    for _ in 0..RESERVE / BLOCK {
        let mut block: Vec<u8> = Vec::new();
        if block.try_reserve_exact(BLOCK).is_err() {
            break;
        }
        blocks.push(block);
    }
    // keep the compiler from pairing the allocations with their frees and removing both
    std::hint::black_box(&blocks);
    let span = blocks.iter().fold((usize::MAX, 0), |(lo, hi), b| {
        let at = b.as_ptr().addr();
        (lo.min(at), hi.max(at + BLOCK))
    });
    // dropped first to last: each block merges with the free one before it, the last with
    // the heap's top, and glibc trims the whole run at once
    drop(blocks);
    span
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The read-write range of the memory map holding `addr`, from `/proc/self/maps`.
    fn rw_map_around(addr: usize) -> Option<(usize, usize)> {
        let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
        maps.lines().find_map(|l| {
            let mut f = l.split_whitespace();
            let (lo, hi) = f.next()?.split_once('-')?;
            let (lo, hi) = (
                usize::from_str_radix(lo, 16).ok()?,
                usize::from_str_radix(hi, 16).ok()?,
            );
            let rw = f.next()?.starts_with("rw");
            (rw && (lo..hi).contains(&addr)).then_some((lo, hi))
        })
    }

    /// After a reservation the blocks' whole span is still read-write heap (glibc gave the
    /// pages back but kept the range, so allocations there need no `mprotect`), and it is
    /// one range: the blocks came from the heap, not one `mmap` each.
    #[test]
    fn a_reservation_leaves_its_span_read_write() {
        if cfg!(not(all(target_os = "linux", target_env = "gnu"))) {
            return;
        }
        // a thread of its own, as a worker thread is
        std::thread::spawn(|| {
            let (lo, hi) = reserve();
            assert!(
                hi - lo >= RESERVE / BLOCK * BLOCK,
                "the blocks span {} KiB",
                (hi - lo) / 1024
            );
            let (_, end) = rw_map_around(lo).expect("the span's start is mapped read-write");
            assert!(
                end >= hi,
                "after the free, only {} of the {} KiB reserved are read-write",
                end.saturating_sub(lo) / 1024,
                (hi - lo) / 1024
            );
        })
        .join()
        .unwrap();
    }
}
