//! Encrypted links against plain TCP (feature `tls`): remote round trip and one-way
//! throughput (small messages, and 64 KiB ones) between two nodes on loopback, a plain pair and a TLS pair
//! in one process, measured in alternating rounds so that both see the same load.
//! Issue 17's goal: TLS round trip within 1.3x of plain, throughput at least 0.7x.
//!
//! `cargo bench --features tls --bench remote_tls [-- ROUNDS]` (default 7 rounds)
//!
//! The certificates (one CA, one per node, ECDSA P-256) are made at start with `rcgen`
//! (`common/certs.rs`).

#[path = "common/remote.rs"]
mod common;
use common::{median, one_way, ping_pong};
use std::time::Instant;

use pyact::remote::TlsOptions;
use pyact::{Mesh, Node, NodeOptions};
use rcgen::{CertifiedIssuer, KeyPair};

#[path = "common/certs.rs"]
mod certs;

/// TLS options for a node on 127.0.0.1 with a certificate from `ca`.
fn tls(ca: &CertifiedIssuer<'static, KeyPair>) -> TlsOptions {
    let (cert, key) = certs::node_cert(ca, "bench node", &["127.0.0.1"]);
    TlsOptions::from_pem(cert.as_bytes(), key.as_bytes(), ca.pem().as_bytes()).unwrap()
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(7);
    let ca = certs::ca("bench CA");

    let mesh = Mesh::new();
    let cookie = "bench-cookie-0123456789abcdef";
    let plain = |_: ()| Node::new(&mesh, &format!("{cookie}@127.0.0.1:0")).unwrap();
    let secure = |_: ()| {
        let opts = NodeOptions::default().tls(tls(&ca));
        Node::with_options(&mesh, &format!("{cookie}@127.0.0.1:0"), opts).unwrap()
    };
    let (pa, pb) = (plain(()), plain(()));
    let (ta, tb) = (secure(()), secure(()));
    for (a, b) in [(&pa, &pb), (&ta, &tb)] {
        one_way(a, b, 2000, 0); // connect and warm up
        ping_pong(a, b, 200);
    }
    let (mut rate, mut rtt, mut big) = ([vec![], vec![]], [vec![], vec![]], [vec![], vec![]]);
    for r in 0..rounds {
        // Alternate which goes first, so neither always runs on a warmer (or busier) box.
        let order = if r % 2 == 0 { [0, 1] } else { [1, 0] };
        for k in order {
            let (a, b) = if k == 0 { (&pa, &pb) } else { (&ta, &tb) };
            rate[k].push(one_way(a, b, 200_000, 0));
            big[k].push(one_way(a, b, 2_000, BIG) * BIG as f64);
            rtt[k].push(ping_pong(a, b, 10_000));
        }
    }
    // Connection set-up: fresh nodes dial one node (TCP, TLS handshake if on, cookie
    // handshake, admission), each connect timed alone.
    let mut connect = [vec![], vec![]];
    for _ in 0..20 {
        for (k, to) in [(0, &pb), (1, &tb)] {
            let from = if k == 0 { plain(()) } else { secure(()) };
            let t0 = Instant::now();
            from.connect(&format!("{cookie}@{}", to.name())).unwrap();
            connect[k].push(t0.elapsed().as_secs_f64() * 1e6);
            from.shutdown();
        }
    }
    let (cp, ct) = (median(connect[0].clone()), median(connect[1].clone()));
    let (rp, rt) = (median(rate[0].clone()), median(rate[1].clone()));
    let (lp, lt) = (median(rtt[0].clone()), median(rtt[1].clone()));
    let (bp, bt) = (median(big[0].clone()), median(big[1].clone()));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("medians of {rounds} alternating rounds, {cores} cores, one process, loopback");
    println!("| workload | plain TCP | TLS 1.3 | TLS/plain |");
    println!("|---|---|---|---|");
    println!(
        "| remote round trip (10,000) | {lp:.1} us | {lt:.1} us | {:.2}x |",
        lt / lp
    );
    println!(
        "| remote one-way, small messages (200,000) | {:.3} M msg/s | {:.3} M msg/s | {:.2}x |",
        rp / 1e6,
        rt / 1e6,
        rt / rp
    );
    println!(
        "| connect: TCP, handshakes, admission (20) | {cp:.0} us | {ct:.0} us | {:.2}x |",
        ct / cp
    );
    println!(
        "| remote one-way, 64 KiB messages (2,000) | {:.0} MB/s | {:.0} MB/s | {:.2}x |",
        bp / 1e6,
        bt / 1e6,
        bt / bp
    );
}

/// The padding of the large messages.
const BIG: usize = 64 << 10;
