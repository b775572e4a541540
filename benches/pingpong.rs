//! Ping-pong: one `serde_json::Value` bounced between two pyact actors, vs two bare `may`
//! coroutines joined by two `may::sync::mpsc` channels. Reports round trips per second.
//!
//! `cargo bench --bench pingpong` (env: `PYACT_PINGPONG_N` round trips per round, default
//! 200000; `PYACT_BENCH_ROUNDS`, default 7).

mod common;

use std::time::{Duration, Instant};

use common::*;
use may::sync::mpsc;
use pyact::{Mesh, Node, Value, curaddr, json, spawn};

fn pyact_pingpong(node: &Node, n: usize) -> Duration {
    let pinger = node.spawn(move |mut mb| {
        let me = curaddr().expect("in an actor");
        let ponger = spawn(move |mut mb| {
            loop {
                let v = mb.receive();
                if v.is_null() {
                    break;
                }
                me.send(v).expect("pinger alive");
            }
        });
        let mut v = json!({"ping": "pong"});
        let t0 = Instant::now();
        for _ in 0..n {
            ponger.send(v).expect("ponger alive");
            v = mb.receive();
        }
        let took = t0.elapsed();
        ponger.send(Value::Null).expect("ponger alive");
        json!(took.as_nanos() as u64)
    });
    let r = node.wait(&pinger).expect("pyact pinger");
    Duration::from_nanos(r.as_u64().expect("ns"))
}

fn bare_pingpong(n: usize) -> Duration {
    let pinger = may::go!(move || {
        let (to_pinger, inbox) = mpsc::channel::<Value>();
        let (to_ponger, ponger_inbox) = mpsc::channel::<Value>();
        let ponger = may::go!(move || {
            loop {
                let v = ponger_inbox.recv().expect("pinger alive");
                if v.is_null() {
                    break;
                }
                to_pinger.send(v).expect("pinger alive");
            }
        });
        let mut v = json!({"ping": "pong"});
        let t0 = Instant::now();
        for _ in 0..n {
            to_ponger.send(v).expect("ponger alive");
            v = inbox.recv().expect("pong");
        }
        let took = t0.elapsed();
        to_ponger.send(Value::Null).expect("ponger alive");
        ponger.join().expect("ponger");
        took
    });
    pinger.join().expect("bare pinger")
}

fn main() {
    let mesh = Mesh::new();
    let node = Node::new(&mesh, "bench@127.0.0.1:0").expect("node");
    let n = env_usize("PYACT_PINGPONG_N", 200_000);
    let rounds = rounds(7);
    header(
        "pingpong",
        &format!("{n} round trips between two coroutines, median of {rounds} rounds"),
    );
    let (p, b) = alternate(rounds, || pyact_pingpong(&node, n), || bare_pingpong(n));
    let (p, b) = (median(&p), median(&b));
    println!(
        "   {:<6} {:>14} {:>14}",
        "", "round trips/s", "us/round trip"
    );
    for (name, d) in [("pyact", p), ("bare", b)] {
        println!(
            "   {name:<6} {:>14.0} {:>14.2}",
            n as f64 / d.as_secs_f64(),
            us_per(d, n)
        );
    }
    println!(
        "   ratio pyact/bare (time per round trip): {:.2}x",
        ratio(p, b)
    );
}
