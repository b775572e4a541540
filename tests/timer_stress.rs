//! `may`'s timer survives timed parks racing wake-ups and timeouts, over many intervals.
//!
//! `may` keeps one timer list per distinct timeout interval and, once more than 1,024
//! intervals are in use, drops a list it finds empty. The list freed its last node even
//! while the handle of the timer that had just fired still referred to it; the woken
//! coroutine's release of that handle then wrote into freed memory, which by then was often
//! another timer's node, and the timer thread died on `assertion failed: old &
//! REF_COUNT_MASK != 0` (issue 16, row 0: a client whose peer was stopped for 12 s hung
//! for good ~10 s after the reconnect; `vendor/may/PYACT-PATCH.md`, "the interval list's
//! last node"). Since then a panic of `may`'s timer or I/O thread also aborts the process
//! loudly instead of hanging it, so a regression fails this test rather than hanging it.
//!
//! Here actors park with timeouts of thousands of distinct intervals (to the nanosecond,
//! so each park gets a list of its own), half of them woken early by other actors and by
//! plain threads, half timing out, while new timers keep allocating nodes of the same size.
//! Every parking actor must finish all its parks; the deadline is generous, the assertion
//! is about what happened. Without the fix the process aborted within a second or two.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pyact::{Mesh, Node};

/// Actors that park with timeouts.
const PARKERS: usize = 16;
/// Parks each of them makes.
const PARKS: u64 = 1_500;
/// Plain threads that wake parked actors early.
const WAKERS: usize = 2;
/// Generous: on a loaded 2-core box all of it takes a few seconds.
const PATIENCE: Duration = Duration::from_secs(120);

#[test]
fn timed_parks_racing_wakeups_over_thousands_of_intervals_all_end() {
    let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    // The parked coroutines' handles, for the wakers.
    let handles: Arc<Mutex<Vec<may::coroutine::Coroutine>>> = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut parkers = Vec::new();
    for i in 0..PARKERS as u64 {
        let (handles, done) = (handles.clone(), done.clone());
        parkers.push(node.spawn(move |_| {
            handles.lock().unwrap().push(may::coroutine::current());
            for n in 0..PARKS {
                // Every other park: 1 to 3 ms in steps of 1 us, 2,048 rarely shared
                // intervals (more than `may` keeps lists for, so lists found empty are
                // dropped); the others share one busy 2 ms list, as a program's fixed
                // timeouts do.
                let ns = if n % 2 == 0 {
                    1_000_000 + (i * 7_919 + n * 104_729) % 2_048 * 1_000
                } else {
                    2_000_000
                };
                may::coroutine::park_timeout(Duration::from_nanos(ns));
                if n % 64 == 0 {
                    pyact::actor::yield_now();
                }
            }
            done.fetch_add(1, Ordering::Relaxed);
        }));
    }
    // Wakers: plain threads and an actor unpark random parkers, racing their timeouts.
    let wake_round = |handles: &Mutex<Vec<may::coroutine::Coroutine>>, seed: &mut u64| {
        let hs = handles.lock().unwrap();
        if !hs.is_empty() {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            hs[(*seed >> 33) as usize % hs.len()].unpark();
        }
    };
    let threads: Vec<_> = (0..WAKERS as u64)
        .map(|t| {
            let (handles, stop) = (handles.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut seed = t + 1;
                while !stop.load(Ordering::Relaxed) {
                    wake_round(&handles, &mut seed);
                    std::thread::sleep(Duration::from_micros(500));
                }
            })
        })
        .collect();
    let waker_actor = {
        let (handles, stop) = (handles.clone(), stop.clone());
        node.spawn(move |_| {
            let mut seed = 99;
            while !stop.load(Ordering::Relaxed) {
                wake_round(&handles, &mut seed);
                pyact::actor::sleep(Duration::from_millis(1));
            }
        })
    };
    let deadline = Instant::now() + PATIENCE;
    while done.load(Ordering::Relaxed) < PARKERS as u64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    assert!(
        waker_actor.wait_timeout(Duration::from_secs(30)).is_ok(),
        "the waking actor did not end"
    );
    assert_eq!(
        done.load(Ordering::Relaxed),
        PARKERS as u64,
        "actors still parked after {PATIENCE:?}"
    );
    for p in &parkers {
        assert!(node.wait(p).is_ok());
    }
}
