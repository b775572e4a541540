//! Spawn rate: spawn N actors that end at once and wait for all of them, vs bare `may`
//! spawn + join. Both spawn from inside a coroutine, with the same stack size (printed), and
//! both reuse the stacks of ended coroutines (pyact its own pool, bare `may` its pool).
//!
//! `cargo bench --bench spawn` (env: `PYACT_SPAWN_N`, default 10000; `PYACT_BENCH_ROUNDS`,
//! default 9).

mod common;

use std::time::{Duration, Instant};

use common::*;
use pyact::actor::current_node;
use pyact::{Address, Mesh, Node, json, spawn};

fn pyact_spawn(node: &Node, n: usize) -> Duration {
    let parent = node.spawn(move |_mb| {
        let node = current_node().expect("in an actor");
        let t0 = Instant::now();
        let children: Vec<Address> = (0..n).map(|_| spawn(|_mb| {})).collect();
        for c in &children {
            node.wait(c).expect("child ended normally");
        }
        json!(t0.elapsed().as_nanos() as u64)
    });
    let r = node.wait(&parent).expect("pyact spawner");
    Duration::from_nanos(r.as_u64().expect("ns"))
}

fn bare_spawn(n: usize) -> Duration {
    let parent = may::go!(move || {
        let t0 = Instant::now();
        let children: Vec<_> = (0..n).map(|_| may::go!(|| {})).collect();
        for c in children {
            c.join().expect("child ended normally");
        }
        t0.elapsed()
    });
    parent.join().expect("bare spawner")
}

fn main() {
    let mesh = Mesh::new();
    let node = Node::new(&mesh, "bench@127.0.0.1:0").expect("node");
    let n = env_usize("PYACT_SPAWN_N", 10_000);
    // pyact keeps its own pool of finished coroutines and leaves `may`'s at one (src/pool.rs):
    // give bare `may` a pool of `n` too, as the pool upstream `may` keeps by default (1,000,
    // built at start) would serve it, so both sides reuse stacks.
    may::config().set_pool_capacity(n);
    let rounds = rounds(9);
    header(
        "spawn",
        &format!("spawn {n} coroutines that end at once, wait for all, median of {rounds} rounds"),
    );
    println!(
        "   stack size: {} for both (may default after Mesh::new())",
        bytes(may_default_stack_bytes())
    );
    let (p, b) = alternate(rounds, || pyact_spawn(&node, n), || bare_spawn(n));
    let (p, b) = (median(&p), median(&b));
    println!(
        "   {:<6} {:>12} {:>14} {:>10}",
        "", "total ms", "spawns/s", "us/spawn"
    );
    for (name, d) in [("pyact", p), ("bare", b)] {
        println!(
            "   {name:<6} {:>12.1} {:>14.0} {:>10.2}",
            ms(d),
            n as f64 / d.as_secs_f64(),
            us_per(d, n)
        );
    }
    println!("   ratio pyact/bare: {:.2}x", ratio(p, b));
}
