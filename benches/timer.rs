//! `pyact::timer` (issue 17, item 4): how late a 50 ms `send_after` arrives, and what
//! 100,000 pending timers cost.
//!
//! - **latency, spread**: 1,000 timers of 50 ms, created 1 ms apart (so each is a wake-up
//!   of its own), received by a thread's inbox; arrival minus creation, p50 / p99 / max.
//!   Goal (issue 17): p99 within 45–100 ms on an idle box.
//! - **latency, burst**: the same 1,000 created at once (all due together).
//! - **100k pending**: creation time of 100,000 one-hour timers with a small message
//!   (goal < 2 s) and the resident memory they add (`/proc/self/statm`, goal < 100 MB).
//!
//! `cargo bench --bench timer` (env: `PYACT_TIMER_N`, default 1000; `PYACT_TIMER_PENDING`,
//! default 100000).

mod common;

use std::time::{Duration, Instant};

use common::*;
use pyact::{Mesh, Node, json, timer};

const DELAY: Duration = Duration::from_millis(50);

/// Resident bytes of this process (`/proc/self/statm`, second field, in pages).
fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages in /proc/self/statm");
    pages * 4096
}

/// Arrival latencies of `n` timers of [`DELAY`], created `gap` apart.
fn latencies(node: &Node, n: usize, gap: Duration) -> Vec<Duration> {
    let mut inbox = node.inbox();
    let to = inbox.addr();
    let mut created = Vec::with_capacity(n);
    let receiver = std::thread::spawn({
        let node = node.clone();
        move || {
            let _keep = node;
            let mut arrived = vec![None; n];
            for _ in 0..n {
                let m = inbox
                    .receive_timeout(Duration::from_secs(60))
                    .expect("every timer arrives within a minute");
                arrived[m["i"].as_u64().expect("index") as usize] = Some(Instant::now());
            }
            arrived
        }
    });
    let start = Instant::now();
    for i in 0..n {
        let due = start + gap * i as u32;
        while Instant::now() < due {
            std::thread::sleep(due - Instant::now());
        }
        created.push(Instant::now());
        timer::send_after(node, DELAY, &to, json!({"i": i})).expect("timer");
    }
    let arrived = receiver.join().expect("receiver");
    let mut lat: Vec<Duration> = created
        .iter()
        .zip(arrived)
        .map(|(c, a)| a.expect("arrived") - *c)
        .collect();
    lat.sort();
    lat
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn report(what: &str, lat: &[Duration]) {
    let (p50, p99, max) = (pct(lat, 0.50), pct(lat, 0.99), lat[lat.len() - 1]);
    let ok = lat[0] >= Duration::from_millis(45) && p99 <= Duration::from_millis(100);
    println!(
        "{what:<34} min {:>7.3} ms  p50 {:>7.3} ms  p99 {:>7.3} ms  max {:>7.3} ms  (goal 45–100 ms: {})",
        ms(lat[0]),
        ms(p50),
        ms(p99),
        ms(max),
        if ok { "PASS" } else { "FAIL" }
    );
}

fn main() {
    header("timer", "send_after latency and the cost of pending timers");
    let n = env_usize("PYACT_TIMER_N", 1000);
    let pending = env_usize("PYACT_TIMER_PENDING", 100_000);
    let node = Node::new(&Mesh::new(), "bench@127.0.0.1:0").expect("node");

    // Warm up: start the service, let the scheduler settle.
    let _ = latencies(&node, 10, Duration::ZERO);

    report(
        &format!("{n} x 50 ms, created 1 ms apart"),
        &latencies(&node, n, Duration::from_millis(1)),
    );
    report(
        &format!("{n} x 50 ms, created at once"),
        &latencies(&node, n, Duration::ZERO),
    );

    let inbox = node.inbox();
    let to = inbox.addr();
    let mut refs = Vec::with_capacity(2 * pending);
    // Small object messages (`{"i": i}`: serde_json keeps an object in a B-tree, whose
    // first node is most of the cost), then plain numbers (the timer's own cost).
    for (what, object) in [("{\"i\": i}", true), ("i (a number)", false)] {
        let before = resident_bytes();
        let t0 = Instant::now();
        for i in 0..pending {
            let msg = if object { json!({"i": i}) } else { json!(i) };
            refs.push(
                timer::send_after(&node, Duration::from_secs(3600), &to, msg).expect("timer"),
            );
        }
        let took = t0.elapsed();
        let grown = resident_bytes().saturating_sub(before);
        println!(
            "{pending} pending timers, message {what}: created in {:.3} s (goal < 2 s: {}), resident +{:.1} MB = {} bytes each (goal < 100 MB: {})",
            took.as_secs_f64(),
            if took < Duration::from_secs(2) {
                "PASS"
            } else {
                "FAIL"
            },
            grown as f64 / 1e6,
            grown / pending.max(1),
            if grown < 100_000_000 { "PASS" } else { "FAIL" },
        );
    }
    let t1 = Instant::now();
    node.shutdown();
    println!(
        "shutdown with {} pending: {:.1} ms",
        refs.len(),
        ms(t1.elapsed())
    );
    drop(refs);
}
