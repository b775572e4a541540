//! Remote benchmarks on loopback: ping-pong round trips and one-way throughput of small
//! messages between two nodes (in one process, over real TCP).
//!
//! `cargo bench --bench remote`

use std::time::Instant;

use pyact::{Address, Mesh, Node, json};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn one_way(a: &Node, b: &Node, n: u64) -> f64 {
    let sink = b.spawn(move |mut mb| {
        let mut count = 0u64;
        let mut sum = 0u64;
        while count < n {
            sum += mb.receive()["i"].as_u64().unwrap_or(0);
            count += 1;
        }
        json!(sum)
    });
    let src = a.spawn(move |_mb| {
        let t0 = Instant::now();
        for i in 0..n {
            sink.send(json!({"i": i})).expect("send");
        }
        json!({"sink": sink, "t0": 0, "sent_s": t0.elapsed().as_secs_f64()})
    });
    let t0 = Instant::now();
    let r = a.wait(&src).expect("source");
    let sink: Address = serde_json::from_value(r["sink"].clone()).unwrap();
    let sum = a.wait(&sink).expect("sink");
    assert_eq!(sum, json!(n * (n - 1) / 2), "every message arrived once");
    n as f64 / t0.elapsed().as_secs_f64()
}

fn ping_pong(a: &Node, b: &Node, n: u64) -> f64 {
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

fn main() {
    let mesh = Mesh::new();
    let a = Node::new(&mesh, "bench@127.0.0.1:0").unwrap();
    let b = Node::new(&mesh, "bench@127.0.0.1:0").unwrap();
    one_way(&a, &b, 1000); // connect and warm up
    let rates: Vec<f64> = (0..5).map(|_| one_way(&a, &b, 200_000)).collect();
    println!(
        "remote one-way, 200000 small messages, 2 nodes on loopback: median {:.0} msg/s (runs: {})",
        median(rates.clone()),
        rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let rtts: Vec<f64> = (0..5).map(|_| ping_pong(&a, &b, 10_000)).collect();
    println!(
        "remote ping-pong, 10000 round trips: median {:.1} us per round trip",
        median(rtts)
    );
}
