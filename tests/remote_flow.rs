//! Flow control on a connection (issue 16 rows 3 and 6): a slow but steady reader keeps its
//! connection, a silent one is dropped soon after the write timeout, a flood into a remote
//! bounded mailbox is pushed back to its sender as `Overloaded` without losing the link,
//! and several connections feeding one bounded mailbox lose nothing.

mod common;

use std::io::Read;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::wire::{RawPeer, eventually};
use pyact::{Address, Mesh, Node, NodeOptions, SendError, SpawnOptions, Value, json};

/// Raw peers send no heartbeats: a silent peer is declared down only after 10 minutes (no
/// test here relies on that timeout).
fn base() -> NodeOptions {
    NodeOptions::default().heartbeat(Duration::from_secs(1), Duration::from_secs(600))
}

fn node_with(opts: NodeOptions) -> Node {
    Node::with_options(&Mesh::new(), "k@127.0.0.1:0", opts).unwrap()
}

/// A name for a raw peer: nothing listens there, so the node can never dial it.
const RAW: &str = "127.0.0.1:1";

/// An actor on `b` that keeps sending 64 KiB messages to the raw peer, so that a backlog
/// towards it stays (kernel buffers, then the outbox, full) until `stop` is sent or the
/// connection is lost. Returns `{"overloaded": n, "lost": error or null}`.
fn flood_towards_raw(b: &Node) -> Address {
    let dest: Address = format!("{RAW}/5").parse().unwrap();
    b.spawn(move |mut mb| {
        let chunk = "x".repeat(64 << 10);
        let mut overloaded = 0u64;
        loop {
            if mb.try_receive().is_some() {
                return json!({"overloaded": overloaded, "lost": null});
            }
            match dest.send_ref(&chunk) {
                Ok(()) => {}
                Err(SendError::Overloaded { .. }) => overloaded += 1,
                Err(e) => return json!({"overloaded": overloaded, "lost": e.to_string()}),
            }
        }
    })
}

/// Options for a node facing the raw peer: a 1 s write timeout, senders that give up fast.
fn facing_raw() -> NodeOptions {
    base()
        .write_timeout(Duration::from_secs(1))
        .send_timeout(Duration::from_millis(100))
        .outbound_limit(256 << 10)
}

#[test]
fn a_slow_but_steady_reader_keeps_its_connection_past_the_write_timeout() {
    let b = node_with(facing_raw());
    let mut p = RawPeer::admitted(b.name(), RAW, "k");
    let floods = [flood_towards_raw(&b), flood_towards_raw(&b)];
    // Read about 1.5 KB/s, and say so as a node's reader does (a progress report every
    // 200 ms): TCP alone shows nothing of it, its window reopens a whole segment at a time.
    let (mut read, mut buf) = (0u64, [0u8; 150]);
    let start = Instant::now();
    let mut last_report = start;
    while start.elapsed() < Duration::from_secs(5) {
        read += p.stream.read(&mut buf).expect("the node keeps writing") as u64;
        if last_report.elapsed() >= Duration::from_millis(200) {
            p.send(&json!({"progress": {"read": read}}));
            last_report = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            b.connected_nodes(),
            vec![RAW.to_string()],
            "dropped after {:?} of slow reading ({read} bytes read)",
            start.elapsed()
        );
    }
    // The backlog was there: the floods met the outbox's bound, and never lost the link.
    let mut overloaded = 0;
    for f in &floods {
        f.send("stop").unwrap();
        let r = b.wait(f).unwrap();
        assert_eq!(r["lost"], Value::Null, "{r}");
        overloaded += r["overloaded"].as_u64().unwrap();
    }
    assert!(overloaded > 0);
}

#[test]
fn a_peer_that_reads_nothing_is_dropped_soon_after_the_write_timeout() {
    let b = node_with(facing_raw());
    let p = RawPeer::admitted(b.name(), RAW, "k");
    let start = Instant::now();
    // Two senders, so that the backlog stays even while one of them is not running.
    let floods = [flood_towards_raw(&b), flood_towards_raw(&b)];
    eventually("the silent reader is dropped", || {
        b.connected_nodes().is_empty()
    });
    let took = start.elapsed();
    // Not before the write timeout (no byte was taken before `start`), and soon after the
    // kernel's buffers towards it are full (a few MiB: well under a second here), since
    // the writer looks at its deadline every 250 ms; slack for a loaded box.
    assert!(took >= Duration::from_secs(1), "dropped after {took:?}");
    assert!(took < Duration::from_secs(6), "dropped after {took:?}");
    for f in &floods {
        let r = b.wait(f).unwrap();
        assert_ne!(r["lost"], Value::Null, "{r}");
    }
    drop(p);
}

/// An actor on `b` with `mailbox_limit(2)` that takes about one message a millisecond and
/// ends when none has come for 3 s (after the first): returns how many it took from each sender (`{"s": s,
/// "n": n}` messages), checking that each sender's arrive in order.
fn slow_bounded_consumer(b: &Node) -> Address {
    b.spawn_opts(SpawnOptions::new().mailbox_limit(2), |mut mb| {
        let mut next: std::collections::BTreeMap<String, u64> = Default::default();
        let mut idle = Duration::from_secs(60);
        while let Ok(m) = mb.receive_timeout(idle) {
            idle = Duration::from_secs(3);
            let n = m["n"].as_u64().unwrap();
            let seen = next.entry(m["s"].to_string()).or_insert(0);
            assert!(n >= *seen, "sender {}: {n} after {}", m["s"], *seen);
            *seen = n + 1;
            pyact::actor::sleep(Duration::from_millis(1));
        }
        json!(next)
    })
    .unwrap()
}

#[test]
fn a_flood_into_a_remote_bounded_mailbox_gets_overloaded_and_the_link_stays() {
    // Short timeouts, so that the old failure (the sender's writer timing out on a reader
    // held back by the mailbox, and dropping the connection) would show within the test.
    let a = node_with(
        base()
            .write_timeout(Duration::from_secs(1))
            .send_timeout(Duration::from_millis(50))
            .outbound_limit(64 << 10),
    );
    let b = node_with(base().mailbox_wait(Duration::from_millis(100)));
    let consumer = slow_bounded_consumer(&b);
    let _ctx = a.inbox();
    // Large enough that the kernel buffers between the nodes hold only a few thousand (a
    // few seconds of the consumer), small enough that TCP shows the sender no progress for
    // longer than its write timeout.
    let pad = "p".repeat(1024);
    let (mut ok, mut overloaded, mut other) = (0u64, 0u64, Vec::new());
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        match consumer.send(json!({"s": 0, "n": ok, "pad": pad})) {
            Ok(()) => ok += 1,
            Err(SendError::Overloaded { .. }) => overloaded += 1,
            Err(e) => other.push(e.to_string()),
        }
    }
    assert!(
        other.is_empty(),
        "{:?} ({} errors)",
        other.first(),
        other.len()
    );
    assert!(
        overloaded > 0,
        "the sender felt the backpressure ({ok} sent)"
    );
    assert_eq!(a.connected_nodes(), vec![b.name().to_string()]);
    let got = b.wait(&consumer).unwrap();
    // Every message accepted was delivered, or dropped at the receiver after the mailbox
    // wait and counted there: none lost silently.
    let delivered = got["0"].as_u64().unwrap_or(0);
    let dropped = b.net_stats().mailbox_full_drops;
    assert_eq!(
        delivered + dropped,
        ok,
        "delivered {delivered}, dropped {dropped}"
    );
    assert_eq!(a.connected_nodes(), vec![b.name().to_string()]);
}

/// `senders` nodes, each sending `each` messages to one actor with `mailbox_limit(2)` that
/// drains about one a millisecond: every message arrives, in order per sender.
fn many_senders_into_one_bounded_mailbox(senders: usize, each: u64) {
    // A long mailbox wait: only a waiter that is never woken could reach it, on a box
    // however loaded.
    let b = node_with(base().mailbox_wait(Duration::from_secs(5)));
    let consumer = slow_bounded_consumer(&b);
    let (tx, rx) = mpsc::channel();
    let mut nodes = Vec::new();
    for s in 0..senders {
        let a = node_with(base());
        let (to, tx) = (consumer.clone(), tx.clone());
        nodes.push(a.clone());
        std::thread::spawn(move || {
            let _ctx = a.inbox();
            let mut overloaded = 0u64;
            for n in 0..each {
                loop {
                    match to.send(json!({"s": s, "n": n})) {
                        Ok(()) => break,
                        // Reported to the sender, not lost: send it again.
                        Err(SendError::Overloaded { .. }) => overloaded += 1,
                        Err(e) => panic!("sender {s}: {e}"),
                    }
                }
            }
            let _ = tx.send(overloaded);
        });
    }
    drop(tx);
    for _ in 0..senders {
        rx.recv_timeout(Duration::from_secs(120))
            .expect("every sender ends");
    }
    let got = b.wait(&consumer).unwrap();
    let want = each_per_sender(senders, each);
    assert_eq!(got, want, "messages taken per sender");
    assert_eq!(b.net_stats().mailbox_full_drops, 0);
    drop(nodes);
}

#[test]
fn four_remote_senders_into_a_mailbox_of_two_lose_nothing() {
    many_senders_into_one_bounded_mailbox(4, 400);
}

#[test]
fn eight_remote_senders_into_a_mailbox_of_two_lose_nothing() {
    many_senders_into_one_bounded_mailbox(8, 200);
}

/// Local senders (threads and actors) to a full bounded mailbox are refused at once
/// (`MailboxFull`, nothing queued) and may send again: nothing is lost, and each sender's
/// messages arrive in order.
#[test]
fn local_senders_into_a_mailbox_of_two_lose_nothing() {
    let b = node_with(base());
    let consumer = slow_bounded_consumer(&b);
    let (senders, each) = (8usize, 150u64);
    let send_all = move |to: &Address, s: usize| {
        for n in 0..each {
            loop {
                match to.send(json!({"s": s, "n": n})) {
                    Ok(()) => break,
                    Err(SendError::MailboxFull(_)) => pyact::actor::yield_now(),
                    Err(e) => panic!("sender {s}: {e}"),
                }
            }
        }
    };
    let mut actors = Vec::new();
    let mut threads = Vec::new();
    for s in 0..senders {
        let to = consumer.clone();
        if s % 2 == 0 {
            actors.push(b.spawn(move |_| send_all(&to, s)));
        } else {
            let b = b.clone();
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                let _ctx = b.inbox();
                send_all(&to, s);
                let _ = tx.send(());
            });
            threads.push(rx);
        }
    }
    for a in &actors {
        b.wait(a).unwrap();
    }
    for rx in threads {
        rx.recv_timeout(Duration::from_secs(120))
            .expect("every sender ends");
    }
    let got = b.wait(&consumer).unwrap();
    let want = each_per_sender(senders, each);
    assert_eq!(got, want);
}

/// What the consumer reports when every one of `senders` got `each` messages through:
/// `{"0": each, "1": each, ...}`.
fn each_per_sender(senders: usize, each: u64) -> Value {
    (0..senders)
        .map(|s| (s.to_string(), json!(each)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}
