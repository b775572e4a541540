//! Closing connections that held many remote waits, monitors and links (issue 16, row 2):
//! the release is linear and yields, so the node keeps running its actors and its other
//! peers meanwhile; and what all peers together may place is capped node-wide.
//!
//! The 50 ms goal itself is measured by `examples/teardown_stall.rs` (a timing goal
//! belongs in a bench, not a test on a loaded box); here the bound on a probe actor's
//! worst delay is generous (2 s, where the quadratic release took tens of seconds).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::wire::{RawPeer, eventually};
use pyact::{Address, Mesh, Node, NodeOptions, json};

/// Raw peers send no heartbeats: the node under test gives them 10 minutes. The innocent
/// real peer has a heartbeat of 1 s, down after 5 s of silence (`strict`).
fn patient() -> NodeOptions {
    NodeOptions::default().heartbeat(Duration::from_secs(1), Duration::from_secs(600))
}

fn node_with(opts: NodeOptions) -> Node {
    Node::with_options(&Mesh::new(), "k@127.0.0.1:0", opts).unwrap()
}

fn addr_json(a: &str) -> serde_json::Value {
    json!({"$addr": a})
}

/// Frames for `n` waits, `n` monitors and `n` links of raw peer `name` on `target`, as one
/// buffer (one write instead of 3n).
fn placements(name: &str, target: u64, n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut frame = |v: serde_json::Value| {
        let body = serde_json::to_vec(&v).unwrap();
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(&body);
    };
    let watcher = addr_json(&format!("{name}/1"));
    for i in 0..n {
        frame(json!({"wait": {"req": i, "to": target}}));
        frame(json!({"monitor": {"watcher": watcher, "to": target, "reference": {"$ref": i}}}));
        frame(json!({"link": {"from": addr_json(&format!("{name}/{}", 10 + i)), "to": target}}));
    }
    out
}

/// An actor that sleeps 1 ms in a loop and records the worst delay past its deadline.
fn probe(node: &Node, stop: Arc<AtomicBool>, worst_us: Arc<AtomicU64>) -> Address {
    node.spawn(move |_| {
        while !stop.load(Ordering::Relaxed) {
            let t = Instant::now();
            pyact::actor::sleep(Duration::from_millis(1));
            let late = t.elapsed().saturating_sub(Duration::from_millis(1));
            worst_us.fetch_max(late.as_micros() as u64, Ordering::Relaxed);
        }
    })
}

/// A long-lived actor that traps exits (the links fire as messages) until told `"stop"`.
fn trapping_target(b: &Node) -> Address {
    b.spawn(|mut mb| {
        mb.trap_exit(true);
        loop {
            if mb.receive() == "stop" {
                return;
            }
        }
    })
}

#[test]
fn closing_connections_with_many_entries_releases_them_all_and_stalls_nobody() {
    // Debug builds are slow: 3 × 20,000 of each kind here (the example runs 3 × 65,536).
    const N: u64 = 20_000;
    let b = node_with(patient());
    let target = trapping_target(&b);
    // The innocent peer: a real node that calls the victim down after 5 s of silence (the
    // old default; today's 60 s would hide a stall), watching node events.
    let strict = NodeOptions::default().heartbeat(Duration::from_secs(1), Duration::from_secs(5));
    let a = Node::with_options(&Mesh::new(), "k@127.0.0.1:0", strict).unwrap();
    a.connect(&format!("k@{}", b.name())).unwrap();
    let mut events = a.inbox();
    a.monitor_nodes(&events.addr());
    let names = ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"];
    let mut peers: Vec<RawPeer> = names
        .iter()
        .map(|n| RawPeer::admitted(b.name(), n, "k"))
        .collect();
    for (p, n) in peers.iter_mut().zip(names) {
        use std::io::Write;
        p.stream.write_all(&placements(n, target.id(), N)).unwrap();
    }
    eventually("every entry is placed", || {
        let s = b.net_stats();
        (s.remote_waits, s.remote_monitors, s.remote_links)
            == (3 * N as usize, 3 * N as usize, 3 * N as usize)
    });
    let info = b.info(&target).unwrap();
    assert_eq!(info.waiters, 3 * N as usize);
    assert_eq!(info.monitored_by.len(), 3 * N as usize);
    let stop = Arc::new(AtomicBool::new(false));
    let worst_us = Arc::new(AtomicU64::new(0));
    let p = probe(&b, stop.clone(), worst_us.clone());
    // Let the probe settle, then forget the delays from before the close.
    std::thread::sleep(Duration::from_millis(50));
    worst_us.store(0, Ordering::Relaxed);
    let closed = Instant::now();
    drop(peers);
    eventually("every entry is released", || {
        b.placed_totals() == (0, 0)
            && b.info(&target)
                .is_some_and(|i| i.waiters == 0 && i.monitored_by.is_empty() && i.links.is_empty())
    });
    let released = closed.elapsed();
    stop.store(true, Ordering::Relaxed);
    b.wait(&p).unwrap();
    let worst = Duration::from_micros(worst_us.load(Ordering::Relaxed));
    eprintln!(
        "released 3 x {N} waits, monitors and links in {released:?}; probe's worst delay {worst:?}"
    );
    assert!(
        worst < Duration::from_secs(2),
        "an actor was stalled {worst:?}"
    );
    // The innocent peer is still connected, both ways, and was never declared down.
    assert_eq!(a.connected_nodes(), vec![b.name().to_string()]);
    assert!(b.connected_nodes().contains(&a.name().to_string()));
    if let Ok(m) = events.receive_timeout(Duration::ZERO) {
        panic!("a node event at the innocent peer: {m}");
    }
    // The target lived through it all (its links fired as trapped exits).
    target.send("stop").unwrap();
    assert_eq!(b.wait(&target), Ok(json!(null)));
}

#[test]
fn waits_links_and_monitors_are_capped_node_wide() {
    let b = node_with(
        patient()
            .max_remote_waits_total(150)
            .max_remote_watches_total(150),
    );
    let target = trapping_target(&b);
    // Two peers, each within its own per-connection caps, together past the node's.
    let mut p1 = RawPeer::admitted(b.name(), "127.0.0.1:1", "k");
    let mut p2 = RawPeer::admitted(b.name(), "127.0.0.1:2", "k");
    use std::io::Write;
    p1.stream
        .write_all(&placements("127.0.0.1:1", target.id(), 50))
        .unwrap();
    eventually("p1's entries are placed", || b.placed_totals() == (50, 100));
    p2.stream
        .write_all(&placements("127.0.0.1:2", target.id(), 100))
        .unwrap();
    // p2 gets 100 waits and 50 links + monitors; the rest are refused at once.
    let (mut wait_refused, mut watch_refused) = (0, 0);
    while wait_refused + watch_refused < 150 {
        let f = p2.recv_traffic();
        let why = [
            &f["wait_reply"]["reason"],
            &f["down"]["reason"],
            &f["exit"]["reason"],
        ]
        .iter()
        .find_map(|r| r["error"].as_str())
        .unwrap_or_else(|| panic!("unexpected frame {f}"))
        .to_string();
        assert!(why.contains("node-wide limit 150"), "{why}");
        if f.get("wait_reply").is_some() {
            wait_refused += 1;
        } else {
            watch_refused += 1;
        }
    }
    assert_eq!((wait_refused, watch_refused), (0, 150));
    assert_eq!(b.placed_totals(), (150, 150));
    let s = b.net_stats();
    assert_eq!(
        (s.remote_waits, s.remote_monitors + s.remote_links),
        (150, 150)
    );
    // p1 leaves: its entries are uncounted and p2 can place more.
    drop(p1);
    eventually("p1's entries are released", || {
        b.placed_totals() == (100, 50)
    });
    p2.send(&json!({"monitor": {"watcher": addr_json("127.0.0.1:2/1"), "to": target.id(), "reference": {"$ref": 999}}}));
    p2.send(&json!({"whereis": {"req": 5, "name": "x"}}));
    assert_eq!(p2.recv_traffic()["whereis_reply"]["req"], 5);
    assert_eq!(b.placed_totals(), (100, 51));
    drop(p2);
    eventually("everything is released", || b.placed_totals() == (0, 0));
    assert_eq!(b.info(&target).unwrap().waiters, 0);
    target.send("stop").unwrap();
    assert_eq!(b.wait(&target), Ok(json!(null)));
}

/// A peer whose connection closed reconnects at once, while the old connection's many
/// entries are still being released: what it places through the new connection is its
/// own, never fired or dropped with the old connection's.
#[test]
fn a_reconnected_peer_keeps_what_it_places_while_the_old_connection_is_released() {
    const N: u64 = 20_000;
    let b = node_with(patient());
    let target = trapping_target(&b);
    let name = "127.0.0.1:1";
    let mut old = RawPeer::admitted(b.name(), name, "k");
    {
        use std::io::Write;
        old.stream
            .write_all(&placements(name, target.id(), N))
            .unwrap();
    }
    eventually("the old connection's entries are placed", || {
        b.placed_totals() == (N as usize, 2 * N as usize)
    });
    drop(old);
    // Reconnect as soon as the node lets us (it refuses while the old one is in its table).
    let mut new = loop {
        let (p, verdict) = RawPeer::handshake(b.name(), name, "k");
        if verdict == json!("admitted") {
            break p;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let mine = addr_json(&format!("{name}/999999"));
    new.send(&json!({"link": {"from": mine, "to": target.id()}}));
    new.send(
        &json!({"monitor": {"watcher": mine, "to": target.id(), "reference": {"$ref": 999_999}}}),
    );
    eventually("the old connection's entries are released", || {
        b.placed_totals() == (0, 2)
    });
    // Counted until they left the actor's tables: nothing of the old connection is left.
    let info = b.info(&target).unwrap();
    let mine: pyact::Address = serde_json::from_value(mine).unwrap();
    assert_eq!(info.waiters, 0);
    assert!(
        info.links.len() <= 1 && info.monitored_by.len() <= 1,
        "{} links and {} monitors left",
        info.links.len(),
        info.monitored_by.len()
    );
    assert_eq!(info.links, vec![mine.clone()], "the new link was dropped");
    assert_eq!(info.monitored_by, vec![mine]);
    assert!(b.connected_nodes().contains(&name.to_string()));
    drop(new);
    eventually("everything is released", || b.placed_totals() == (0, 0));
    target.send("stop").unwrap();
    assert_eq!(b.wait(&target), Ok(json!(null)));
}
