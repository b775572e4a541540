//! `pyact::blocking::blocking` round trip: an actor hands a trivial closure to the helper pool and
//! gets its result back (issue 8's floor: median under 20 µs). Each call is timed on its
//! own; reports the median and the 90th percentile over all calls of all rounds.
//!
//! Then issue 16's row 10: a burst of `PYACT_BLOCKING_BURST` (default 2,000) actors each
//! calling `blocking(|| sleep(800 ms))` at once; reports how long all of them took and the
//! most OS threads the process had meanwhile (the helper pool is capped at
//! `Config::blocking_threads`, default 512: the rest queue).
//!
//! `cargo bench --bench blocking` (env: `PYACT_BLOCKING_N` calls per round, default 20000;
//! `PYACT_BENCH_ROUNDS`, default 5).

mod common;

use std::time::{Duration, Instant};

use common::*;
use pyact::{Mesh, Node, json};

fn round(node: &Node, n: usize) -> Vec<Duration> {
    let a = node.spawn(move |_| {
        let mut v = Vec::with_capacity(n);
        for i in 0..n {
            let t0 = Instant::now();
            let r = pyact::blocking::blocking(move || i + 1);
            v.push(t0.elapsed().as_nanos() as u64);
            assert_eq!(r, i + 1);
        }
        json!(v)
    });
    let v = node.wait(&a).expect("bench actor");
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| Duration::from_nanos(x.as_u64().expect("ns")))
        .collect()
}

fn main() {
    let node = Node::new(&Mesh::new(), "bench@127.0.0.1:0").expect("node");
    let n = env_usize("PYACT_BLOCKING_N", 20_000);
    let rounds = rounds(5);
    header(
        "blocking",
        &format!("{n} blocking(|| i + 1) round trips from an actor, {rounds} rounds"),
    );
    let _ = round(&node, n.min(1000)); // warm-up: helper threads started
    let mut all: Vec<Duration> = Vec::new();
    for _ in 0..rounds {
        all.extend(round(&node, n));
    }
    all.sort();
    let p = |q: f64| all[((all.len() - 1) as f64 * q) as usize];
    println!(
        "   round trip: median {:.1} µs, p90 {:.1} µs, p99 {:.1} µs ({} calls)",
        p(0.5).as_nanos() as f64 / 1000.0,
        p(0.9).as_nanos() as f64 / 1000.0,
        p(0.99).as_nanos() as f64 / 1000.0,
        all.len()
    );
    burst(&node, env_usize("PYACT_BLOCKING_BURST", 2_000));
}

/// Threads of this process now (Linux: `/proc/self/status`; 0 elsewhere).
fn os_threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:").map(|v| v.trim().parse().ok()))
                .flatten()
        })
        .unwrap_or(0)
}

fn burst(node: &Node, n: usize) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let before = os_threads();
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(os_threads(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let t0 = Instant::now();
    let actors: Vec<_> = (0..n)
        .map(|_| {
            node.spawn(|_| {
                pyact::blocking::blocking(|| std::thread::sleep(Duration::from_millis(800)));
            })
        })
        .collect();
    let done = actors.iter().filter(|a| node.wait(a).is_ok()).count();
    let took = t0.elapsed();
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    println!(
        "   burst: {done} of {n} blocking(|| sleep(800 ms)) calls done in {took:.2?}; \
         OS threads {before} before, at most {} during",
        peak.load(Ordering::Relaxed)
    );
}
