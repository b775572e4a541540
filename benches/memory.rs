//! Resident memory of idle actors: N pyact actors blocked in `receive`, vs N bare `may`
//! coroutines blocked in `may::sync::mpsc::Receiver::recv` (`bare`), and vs N bare coroutines
//! blocked in `may::coroutine::park()` with no channel at all (`park`: the coroutine alone,
//! the strictest baseline), same N, same stack size.
//!
//! Each side runs in a fresh child process (this binary re-executed) so that neither inherits
//! the other's freed heap or pooled stacks. A child creates a `Mesh` (which applies pyact's
//! config: 1 MiB stacks) and a `Node`, warms the scheduler up, reads `VmRSS`, spawns N
//! coroutines that each count themselves and block, waits until all N are blocked, reads
//! `VmRSS` again, then releases them all (one message each) and waits for them to end.
//!
//! `cargo bench --bench memory` (env: `PYACT_MEM_N`, default 100000). N is capped by pyact's
//! live-actor limit (derived from `vm.max_map_count`: ~3.6 million with the default 65,530
//! on Linux 6.13+, where stacks share slab mappings; on older kernels each stack is two
//! mappings and N = 1,000,000 needs `sysctl -w vm.max_map_count=2500000`).

mod common;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use may::sync::mpsc;
use pyact::{Address, Mesh, Node, Value, json};

const CHILD_ENV: &str = "PYACT_MEM_CHILD";

/// Wait (sleeping, from the main thread) until `count` reaches `n`.
fn wait_for(count: &AtomicUsize, n: usize) {
    while count.load(Ordering::Acquire) < n {
        std::thread::sleep(Duration::from_millis(2));
    }
    // Let the last ones finish parking.
    std::thread::sleep(Duration::from_millis(50));
}

/// Warm the scheduler up (its workers and its pool of ready coroutines) on both paths.
fn warm_up(node: &Node) {
    let a = node.spawn(|_mb| {});
    node.wait(&a).expect("warm-up actor");
    may::go!(|| {}).join().expect("warm-up coroutine");
    std::thread::sleep(Duration::from_millis(50));
}

fn child(variant: &str, n: usize) {
    let mesh = Mesh::new();
    let node = Node::new(&mesh, "mem@127.0.0.1:0").expect("node");
    warm_up(&node);
    let stack = may_default_stack_bytes();
    let started = Arc::new(AtomicUsize::new(0));
    let before = rss_kib();
    let t0 = Instant::now();
    let (after, spawn_s) = match variant {
        "pyact" => {
            let mut addrs: Vec<Address> = Vec::with_capacity(n);
            for _ in 0..n {
                let started = started.clone();
                addrs.push(node.spawn(move |mut mb| {
                    started.fetch_add(1, Ordering::Release);
                    let _ = mb.receive();
                }));
            }
            wait_for(&started, n);
            let spawn_s = t0.elapsed().as_secs_f64();
            let after = rss_kib();
            for a in &addrs {
                a.send(Value::Null).expect("idle actor alive");
            }
            // Ended actors' exit records are capped (Config::exit_records), so count them out
            // instead of waiting on each address.
            drop(addrs);
            while pyact::actor::live_actors() > 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
            (after, spawn_s)
        }
        "bare" => {
            let mut senders = Vec::with_capacity(n);
            let mut handles = Vec::with_capacity(n);
            for _ in 0..n {
                let started = started.clone();
                let (tx, rx) = mpsc::channel::<Value>();
                handles.push(may::go!(move || {
                    started.fetch_add(1, Ordering::Release);
                    let _ = rx.recv();
                }));
                senders.push(tx);
            }
            wait_for(&started, n);
            let spawn_s = t0.elapsed().as_secs_f64();
            let after = rss_kib();
            for tx in &senders {
                tx.send(Value::Null).expect("idle coroutine alive");
            }
            for h in handles {
                h.join().expect("idle coroutine ended");
            }
            (after, spawn_s)
        }
        "park" => {
            let release = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let mut handles = Vec::with_capacity(n);
            for _ in 0..n {
                let (started, release) = (started.clone(), release.clone());
                handles.push(may::go!(move || {
                    started.fetch_add(1, Ordering::Release);
                    while !release.load(Ordering::Acquire) {
                        may::coroutine::park();
                    }
                }));
            }
            wait_for(&started, n);
            let spawn_s = t0.elapsed().as_secs_f64();
            let after = rss_kib();
            release.store(true, Ordering::Release);
            for h in &handles {
                h.coroutine().unpark();
            }
            for h in handles {
                h.join().expect("idle coroutine ended");
            }
            (after, spawn_s)
        }
        other => panic!("unknown variant {other}"),
    };
    let released = rss_kib();
    println!(
        "{}",
        json!({"variant": variant, "n": n, "stack": stack, "before_kib": before,
               "after_kib": after, "released_kib": released, "spawn_s": spawn_s})
    );
}

fn run_child(variant: &str, n: usize) -> Value {
    let out = Command::new(std::env::current_exe().expect("own path"))
        .env(CHILD_ENV, variant)
        .env("PYACT_MEM_N", n.to_string())
        .output()
        .expect("run child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        panic!(
            "{variant} child failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let line = stdout.lines().last().expect("child result line");
    serde_json::from_str(line).expect("child result JSON")
}

fn main() {
    let wanted = env_usize("PYACT_MEM_N", 100_000);
    // Past vm.max_map_count `may` aborts, so stay under pyact's map-derived live-actor
    // limit (same N for every side).
    let limit = pyact::config::Config::default()
        .actor_limit()
        .saturating_sub(1_000);
    let n = wanted.min(limit);
    if let Ok(variant) = std::env::var(CHILD_ENV) {
        child(&variant, n);
        return;
    }
    header(
        "memory",
        &format!("resident memory of {n} idle coroutines blocked in receive"),
    );
    let maps = std::fs::read_to_string("/proc/sys/vm/max_map_count").unwrap_or_default();
    println!("   vm.max_map_count: {}", maps.trim());
    if n < wanted {
        println!(
            "   N capped from {wanted} to {n} by vm.max_map_count; for more: \
             sysctl -w vm.max_map_count={}",
            (maps.trim().parse::<usize>().unwrap_or(65_530) * wanted / limit.max(1) + 100_000)
                .next_power_of_two()
        );
    }
    let results: Vec<Value> = ["bare", "pyact", "park"]
        .iter()
        .map(|v| run_child(v, n))
        .collect();
    println!(
        "   stack size: {} for both (may default after Mesh::new())",
        bytes(results[0]["stack"].as_u64().unwrap_or(0) as usize)
    );
    println!(
        "   {:<6} {:>12} {:>12} {:>14} {:>10} {:>14}",
        "", "before MiB", "after MiB", "KiB/actor", "spawn s", "released MiB"
    );
    let mut per = Vec::new();
    for r in &results {
        let kib = |k: &str| r[k].as_u64().expect("kib") as f64;
        let per_actor = (kib("after_kib") - kib("before_kib")) / n as f64;
        per.push(per_actor);
        println!(
            "   {:<6} {:>12.1} {:>12.1} {:>14.2} {:>10.2} {:>14.1}",
            r["variant"].as_str().unwrap_or("?"),
            kib("before_kib") / 1024.0,
            kib("after_kib") / 1024.0,
            per_actor,
            r["spawn_s"].as_f64().unwrap_or(0.0),
            kib("released_kib") / 1024.0,
        );
    }
    for (i, what) in [(0, "bare (mpsc recv)"), (2, "park (no channel)")] {
        let extra = per[1] - per[i];
        println!(
            "   pyact - {what}: {extra:+.2} KiB per idle actor ({:.2}x); floor <= +2 KiB: {}",
            per[1] / per[i],
            if extra <= 2.0 { "PASS" } else { "FAIL" }
        );
    }
}
