//! Ring build + pass: N coroutines in a ring, each receives one message, forwards it to the
//! next and ends (examples/ring.rs), pyact actors vs bare `may` coroutines joined by
//! `may::sync::mpsc` channels moving a `serde_json::Value`.
//!
//! `cargo bench --bench ring` (env: `PYACT_RING_N`, default 10000; `PYACT_BENCH_ROUNDS`,
//! default 11). Both sides run in the same process, alternating, after `Mesh::new()` has applied
//! pyact's config, so both get the same `may` stack size (printed).

mod common;

use std::time::{Duration, Instant};

use common::*;
use may::sync::mpsc;
use pyact::{Address, Mesh, Node, Value, curaddr, json, spawn};

const TEXT: &str = "hello around the ring";

struct Sample {
    build: Duration,
    pass: Duration,
    stack: usize,
}

impl Sample {
    fn total(&self) -> Duration {
        self.build + self.pass
    }
}

fn pyact_ring(node: &Node, n: usize) -> Sample {
    let builder = node.spawn(move |mut mb| {
        let stack = current_stack_bytes().unwrap_or(0);
        let t0 = Instant::now();
        let mut ring: Vec<Address> = Vec::with_capacity(n);
        for _ in 0..n {
            let next = ring
                .last()
                .cloned()
                .unwrap_or_else(|| curaddr().expect("in an actor"));
            ring.push(spawn(move |mut mb| {
                let data = mb.receive();
                let _ = next | data;
            }));
        }
        let build = t0.elapsed();
        let t1 = Instant::now();
        let _ = ring.last().expect("n >= 1") | json!({ "text": TEXT });
        let data = mb.receive();
        let pass = t1.elapsed();
        assert_eq!(data["text"], TEXT);
        json!([build.as_nanos() as u64, pass.as_nanos() as u64, stack])
    });
    let r = node.wait(&builder).expect("pyact ring");
    let ns = |i: usize| Duration::from_nanos(r[i].as_u64().expect("ns"));
    Sample {
        build: ns(0),
        pass: ns(1),
        stack: r[2].as_u64().unwrap_or(0) as usize,
    }
}

fn bare_ring(n: usize) -> Sample {
    let builder = may::go!(move || {
        let stack = current_stack_bytes().unwrap_or(0);
        let (me, inbox) = mpsc::channel::<Value>();
        let t0 = Instant::now();
        let mut ring: Vec<mpsc::Sender<Value>> = Vec::with_capacity(n);
        for _ in 0..n {
            let next = ring.last().cloned().unwrap_or_else(|| me.clone());
            let (tx, rx) = mpsc::channel::<Value>();
            may::go!(move || {
                let data = rx.recv().expect("ring message");
                let _ = next.send(data);
            });
            ring.push(tx);
        }
        let build = t0.elapsed();
        let t1 = Instant::now();
        let _ = ring.last().expect("n >= 1").send(json!({ "text": TEXT }));
        let data = inbox.recv().expect("message came around");
        let pass = t1.elapsed();
        assert_eq!(data["text"], TEXT);
        Sample { build, pass, stack }
    });
    builder.join().expect("bare ring")
}

fn main() {
    let mesh = Mesh::new(); // applies pyact's Config (1 MiB stacks) before may starts
    let node = Node::new(&mesh, "bench@127.0.0.1:0").expect("node");
    let n = env_usize("PYACT_RING_N", 10_000);
    let rounds = rounds(11);
    header(
        "ring",
        &format!("{n} coroutines, build + pass one message around, median of {rounds} rounds"),
    );

    let (p, b) = alternate(rounds, || pyact_ring(&node, n), || bare_ring(n));

    println!(
        "   stack size: pyact actors {}, bare coroutines {} (may default after Mesh::new(): {})",
        bytes(p[0].stack),
        bytes(b[0].stack),
        bytes(may_default_stack_bytes()),
    );
    assert_eq!(p[0].stack, b[0].stack, "both sides must use the same stack");

    let (pb, pp, pt) = (
        median_of(&p, |s| s.build),
        median_of(&p, |s| s.pass),
        median_of(&p, Sample::total),
    );
    let (bb, bp, bt) = (
        median_of(&b, |s| s.build),
        median_of(&b, |s| s.pass),
        median_of(&b, Sample::total),
    );
    println!(
        "   {:<6} {:>10} {:>10} {:>12} {:>12} {:>12}",
        "", "build ms", "pass ms", "total ms", "us/spawn", "us/hop"
    );
    for (name, bd, pa, t) in [("pyact", pb, pp, pt), ("bare", bb, bp, bt)] {
        println!(
            "   {name:<6} {:>10.1} {:>10.1} {:>12.1} {:>12.2} {:>12.2}",
            ms(bd),
            ms(pa),
            ms(t),
            us_per(bd, n),
            us_per(pa, n),
        );
    }
    let (rb, rp, rt) = (ratio(pb, bb), ratio(pp, bp), ratio(pt, bt));
    println!("   ratio pyact/bare: build {rb:.2}x, pass (per hop) {rp:.2}x, build+pass {rt:.2}x");
    println!(
        "   floor: build+pass <= 1.5x: {} ({rt:.2}x); per hop <= 3x: {} ({rp:.2}x)",
        verdict(rt, 1.5),
        verdict(rp, 3.0),
    );
}
