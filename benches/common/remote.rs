//! What the remote benches share (`benches/remote.rs`, `benches/remote_tls.rs`): one-way
//! throughput and ping-pong round trips between two nodes, and the median of runs.

use std::time::Instant;

use pyact::{Address, Node, json};

/// The median of `v` (the upper one of an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Messages per second of `n` one-way messages from `a` to `b`, each padded with `pad`
/// bytes of text (none: `{"i": n}`).
pub fn one_way(a: &Node, b: &Node, n: u64, pad: usize) -> f64 {
    let pad = "p".repeat(pad);
    let sink = b.spawn(move |mut mb| {
        let mut sum = 0u64;
        for _ in 0..n {
            sum += mb.receive()["i"].as_u64().unwrap_or(0);
        }
        json!(sum)
    });
    let src = a.spawn(move |_mb| {
        for i in 0..n {
            if pad.is_empty() {
                sink.send(json!({ "i": i })).expect("send");
            } else {
                sink.send(json!({"i": i, "pad": pad})).expect("send");
            }
        }
        json!({ "sink": sink })
    });
    let t0 = Instant::now();
    let r = a.wait(&src).expect("source");
    let sink: Address = serde_json::from_value(r["sink"].clone()).unwrap();
    let sum = a.wait(&sink).expect("sink");
    assert_eq!(sum, json!(n * (n - 1) / 2), "every message arrived once");
    n as f64 / t0.elapsed().as_secs_f64()
}

pub fn ping_pong(a: &Node, b: &Node, n: u64) -> f64 {
    let ponger = b.spawn(move |mut mb| {
        for _ in 0..n {
            let m = mb.receive();
            let to: Address = serde_json::from_value(m["from"].clone()).unwrap();
            to.send(json!({"pong": m["ping"]})).unwrap();
        }
    });
    let pinger = a.spawn(move |mut mb| {
        let me = mb.addr();
        let t0 = Instant::now();
        for i in 0..n {
            ponger.send(json!({"ping": i, "from": me})).unwrap();
            mb.receive();
        }
        json!(t0.elapsed().as_secs_f64())
    });
    let secs = a.wait(&pinger).unwrap().as_f64().unwrap();
    secs * 1e6 / n as f64
}
