//! A timed park always ends: a timeout is never lost, however the worker that parks is
//! preempted.
//!
//! `may` armed a park's timer before it stored the parked coroutine where the timer looks
//! for it; a worker thread preempted in between for the whole timeout (1 ms is enough) let
//! the timer fire, find nobody and drop the timeout, and the coroutine stayed parked until
//! some unpark that might never come (`vendor/may/PYACT-PATCH.md`, fifth patch). In pyact
//! that was a `sleep` that never returned, or a connection's reader stuck for good in a
//! full bounded mailbox with data pending in its socket (`tests/remote_under_attack.rs`).
//!
//! Here actors park with timeouts of 1 to 2 ms (through `may` directly: a timeout of its own
//! to the nanosecond gives each park a timer list of its own, so arming it wakes the timer
//! thread, which may preempt the worker at exactly the wrong moment) while busy actors keep
//! the workers at full load and busy threads compete with them for the cores, so that a
//! preempted worker waits its turn for longer than the timeout. Every parking actor must
//! end; the deadline is generous, and the assertion is about what happened, not how fast.
//! Without the patch every one of them stayed parked within its first few parks when run
//! pinned to one core (`taskset -c 1 cargo test --test lost_timeout`, two at once).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pyact::{Mesh, Node};

/// Actors that park with timeouts.
const SLEEPERS: usize = 12;
/// How long each of them goes on parking.
const RUN: Duration = Duration::from_secs(2);
/// Added to a parking actor's count of parks when it is done.
const DONE: u64 = 1 << 40;
/// Actors that keep the workers busy (they compute and yield).
const BUSY: usize = 4;
/// Threads that compete with the workers for the cores.
const HOGS: usize = 6;
/// Generous: on a loaded 2-core box all of it takes a few seconds.
const PATIENCE: Duration = Duration::from_secs(120);

/// Spin for `d` (work that holds the core).
fn spin(d: Duration) {
    let t = Instant::now();
    let mut x = 0u64;
    while t.elapsed() < d {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

#[test]
fn every_timed_park_ends_even_when_its_worker_is_preempted() {
    let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let hogs: Vec<_> = (0..HOGS)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    spin(Duration::from_millis(1));
                }
            })
        })
        .collect();
    let busy: Vec<_> = (0..BUSY)
        .map(|_| {
            let stop = stop.clone();
            node.spawn(move |_| {
                while !stop.load(Ordering::Relaxed) {
                    spin(Duration::from_micros(100));
                    pyact::actor::yield_now();
                }
            })
        })
        .collect();
    let progress: Arc<Vec<AtomicU64>> =
        Arc::new((0..SLEEPERS).map(|_| AtomicU64::new(0)).collect());
    for i in 0..SLEEPERS {
        let progress = progress.clone();
        node.spawn(move |_| {
            let t0 = Instant::now();
            while t0.elapsed() < RUN {
                // A timeout of its own (1 to 2 ms, to the nanosecond): a timer list of
                // its own in `may`, so arming it wakes the timer thread.
                let n = progress[i].load(Ordering::Relaxed);
                let ns = 1_000_000 + (i as u64 * 7_919 + n * 104_729) % 1_000_000;
                may::coroutine::park_timeout(Duration::from_nanos(ns));
                // The timer thread resumes a timed-out coroutine itself; back to a worker,
                // where the next park is armed.
                pyact::actor::yield_now();
                progress[i].fetch_add(1, Ordering::Relaxed);
            }
            progress[i].fetch_add(DONE, Ordering::Relaxed);
        });
    }
    let deadline = Instant::now() + PATIENCE;
    let done = || progress.iter().all(|p| p.load(Ordering::Relaxed) >= DONE);
    while !done() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    for h in hogs {
        h.join().unwrap();
    }
    for b in &busy {
        assert!(node.wait(b).is_ok());
    }
    let stuck: Vec<(usize, u64)> = progress
        .iter()
        .map(|p| p.load(Ordering::Relaxed))
        .enumerate()
        .filter(|&(_, n)| n < DONE)
        .collect();
    assert!(
        stuck.is_empty(),
        "actors stuck in a timed park (actor, parks done): {stuck:?}"
    );
}
