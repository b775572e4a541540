//! `blocking` caps its helper threads and queues the rest (issue 16, row 10). Own test
//! binary: the runtime (and so the cap) is configured once per process.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pyact::config::Config;
use pyact::{Mesh, Node, json};

const CAP: usize = 8;

fn node() -> Node {
    static SETUP: std::sync::Once = std::sync::Once::new();
    SETUP.call_once(|| Config::default().blocking_threads(CAP).apply().unwrap());
    Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap()
}

/// 100 actors each make a short blocking call at once: never more than `CAP` of them run
/// at the same time (counted inside the closure), never more than `CAP` helper threads
/// exist, and every call completes with its own result.
#[test]
fn at_most_cap_helpers_run_and_every_call_completes() {
    let node = node();
    let inside = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let threads_peak = Arc::new(AtomicUsize::new(0));
    let actors: Vec<_> = (0..100u64)
        .map(|i| {
            let (inside, peak, threads_peak) = (inside.clone(), peak.clone(), threads_peak.clone());
            node.spawn(move |_| {
                let n = pyact::blocking::blocking(move || {
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    threads_peak
                        .fetch_max(pyact::blocking::blocking_threads_alive(), Ordering::SeqCst);
                    // Long enough that the calls overlap (a blocking std call).
                    std::thread::sleep(Duration::from_millis(5));
                    inside.fetch_sub(1, Ordering::SeqCst);
                    i * 2
                });
                json!(n)
            })
        })
        .collect();
    for (i, a) in actors.iter().enumerate() {
        assert_eq!(node.wait(a).unwrap(), json!(i as u64 * 2));
    }
    let peak = peak.load(Ordering::SeqCst);
    assert!(peak <= CAP, "{peak} calls ran at once, cap {CAP}");
    // With 100 calls of 5 ms queued, the pool did grow to use its helpers.
    assert!(peak >= 2, "the calls never overlapped (peak {peak})");
    let threads = threads_peak.load(Ordering::SeqCst);
    assert!(threads <= CAP, "{threads} helper threads, cap {CAP}");
    assert!(pyact::blocking::blocking_threads_alive() <= CAP);
}

/// Far more callers than helpers (row 10's shape, scaled down): all 2,000 complete.
#[test]
fn two_thousand_callers_all_complete_through_the_queue() {
    let node = node();
    let done = Arc::new(AtomicUsize::new(0));
    let actors: Vec<_> = (0..2_000)
        .map(|_| {
            let done = done.clone();
            node.spawn(move |_| {
                pyact::blocking::blocking(move || {
                    std::thread::sleep(Duration::from_micros(200));
                    done.fetch_add(1, Ordering::SeqCst);
                });
            })
        })
        .collect();
    for a in &actors {
        node.wait(a).unwrap();
    }
    assert_eq!(done.load(Ordering::SeqCst), 2_000);
    assert!(pyact::blocking::blocking_threads_alive() <= CAP);
}
