//! Remote benchmarks on loopback: ping-pong round trips and one-way throughput of small
//! messages between two nodes (in one process, over real TCP).
//!
//! `cargo bench --bench remote`

#[path = "common/remote.rs"]
mod common;
use common::{median, one_way, ping_pong};

use pyact::{Mesh, Node};

fn main() {
    let mesh = Mesh::new();
    let a = Node::new(&mesh, "bench@127.0.0.1:0").unwrap();
    let b = Node::new(&mesh, "bench@127.0.0.1:0").unwrap();
    one_way(&a, &b, 1000, 0); // connect and warm up
    let rates: Vec<f64> = (0..5).map(|_| one_way(&a, &b, 200_000, 0)).collect();
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
