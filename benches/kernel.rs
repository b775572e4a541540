//! What the machine charges for the two things issue 19 found pyact's numbers made of: a
//! fresh page of memory, and a `sched_yield` on a CPU shared with a busy thread. Neither is
//! pyact's code; they are the floor under it, and they differ from machine to machine (a
//! VM's page fault can cost ten times a bare-metal one), so read pyact's ring against them.
//!
//! `cargo bench --bench kernel` (env: `PYACT_KERNEL_PAGES`, default 20000).
//!
//! - **Fresh pages.** A zeroed `Vec` of N pages comes straight from `mmap` (glibc maps
//!   allocations this large), untouched; writing one byte per page faults each one in.
//!   One thread, then two threads faulting half each (the kernel's scaling on this mm).
//!   A ring actor costs ~1.4 fresh pages (its stack's top page and its share of heap), plus
//!   half a page-table page and a guard marker: BENCHMARKS-HISTORY.md, "Issue 19".
//! - **Yields beside a busy thread.** Two threads pinned nowhere: one spins, the other
//!   calls `yield_now` 2,000 times and times each call. With a free CPU every yield
//!   returns at once; when the two share a CPU (`taskset -c 0 cargo bench --bench kernel`,
//!   or a loaded machine) a share of yields return only after the busy thread's time slice.
//!   That is why may's I/O spin stops yielding once a yield came back late
//!   (vendor/may/PYACT-PATCH.md, tenth patch).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::env_usize;

const PAGE: usize = 4096;

/// Write one byte into each page of `pages`, the fresh part of a zeroed buffer.
fn touch(pages: &mut [u8]) {
    for page in pages.chunks_mut(PAGE) {
        page[0] = 1;
    }
}

/// Time to fault in `n` fresh pages, on `threads` threads (1 or 2) sharing the work.
fn fresh_pages(n: usize, threads: usize) -> Duration {
    let mut buf = vec![0u8; n * PAGE];
    let t0 = Instant::now();
    if threads == 1 {
        touch(&mut buf);
    } else {
        let (a, b) = buf.split_at_mut(n / 2 * PAGE);
        std::thread::scope(|s| {
            s.spawn(|| touch(a));
            touch(b);
        });
    }
    let took = t0.elapsed();
    // The buffer is read once so that the writes cannot be optimised away.
    assert_eq!(buf.iter().step_by(PAGE).filter(|b| **b == 1).count(), n);
    took
}

/// Durations of `n` `yield_now` calls while another thread spins.
fn yields_beside_a_spinner(n: usize) -> Vec<Duration> {
    let stop = Arc::new(AtomicBool::new(false));
    let spin = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        })
    };
    // Let the spinner get going.
    std::thread::sleep(Duration::from_millis(20));
    let mut took = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        std::thread::yield_now();
        took.push(t0.elapsed());
    }
    stop.store(true, Ordering::Relaxed);
    spin.join().expect("spinner");
    took
}

fn main() {
    let n = env_usize("PYACT_KERNEL_PAGES", 20_000).max(2);
    println!("fresh pages ({n} pages of 4 KiB, one byte written into each):");
    for threads in [1, 2, 1, 2] {
        let took = fresh_pages(n, threads);
        println!(
            "  {threads} thread(s): {:7.2} ms, {:.2} us a page",
            took.as_secs_f64() * 1e3,
            took.as_secs_f64() * 1e6 / n as f64
        );
    }
    let took = yields_beside_a_spinner(2_000);
    let bands = [
        ("< 10 us", Duration::from_micros(10)),
        ("< 100 us", Duration::from_micros(100)),
        ("< 2 ms", Duration::from_millis(2)),
        (">= 2 ms", Duration::MAX),
    ];
    println!("yield_now beside a spinning thread (2,000 calls):");
    let mut below = Duration::ZERO;
    for (name, limit) in bands {
        let count = took.iter().filter(|t| **t >= below && **t < limit).count();
        println!("  {name:>8}: {count}");
        below = limit;
    }
    let max = took.iter().max().copied().unwrap_or_default();
    println!("  longest: {:.2} ms", max.as_secs_f64() * 1e3);
}
