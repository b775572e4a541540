//! A sender writes its own message to a quiet connection (issue 9, remote rows): whatever
//! the socket does not take goes to the front of the outbox, so bytes still leave whole and
//! in order, and the traffic counters still count each frame and byte once.

mod common;

use std::io::Read;
use std::time::Duration;

use common::wire::{RawPeer, eventually};
use pyact::{Address, Mesh, Node, NodeOptions, json, sleep};

/// A name for a raw peer: nothing listens there, so the node can never dial it.
const RAW: &str = "127.0.0.1:1";

fn node() -> Node {
    // Raw peers send no heartbeats: a silent peer is declared down only after 10 minutes.
    let opts = NodeOptions::default().heartbeat(Duration::from_secs(1), Duration::from_secs(600));
    Node::with_options(&Mesh::new(), "k@127.0.0.1:0", opts).unwrap()
}

/// Read every frame the node sends until `want` user messages arrived; returns them and the
/// bytes read (heartbeats included).
fn read_messages(p: &mut RawPeer, want: usize) -> (Vec<serde_json::Value>, u64) {
    let mut bytes = 0u64;
    let mut buf = Vec::new();
    let mut got = Vec::new();
    let mut chunk = vec![0u8; 7919]; // odd-sized reads: frames straddle them
    while got.len() < want {
        let n = p.stream.read(&mut chunk).expect("read");
        assert!(n > 0, "the node closed after {} messages", got.len());
        bytes += n as u64;
        buf.extend_from_slice(&chunk[..n]);
        loop {
            if buf.len() < 4 {
                break;
            }
            let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if buf.len() < 4 + len {
                break;
            }
            let f: serde_json::Value =
                serde_json::from_slice(&buf[4..4 + len]).expect("every frame arrives whole");
            buf.drain(..4 + len);
            if f != json!("heartbeat") {
                got.push(f["msg"]["msg"].clone());
            }
        }
    }
    assert!(buf.is_empty(), "nothing beyond the last message");
    (got, bytes)
}

/// The first message is larger than the socket takes while the peer is not reading, so the
/// sender writes part of it and leaves the rest to the writer; later messages (from the
/// same sender and from others, some written directly again once the outbox drained) must
/// come after it, whole, in each sender's order.
#[test]
fn a_partly_written_message_is_finished_first_and_everything_arrives_whole_in_order() {
    let b = node();
    let mut p = RawPeer::admitted(b.name(), RAW, "k");
    let dest: Address = format!("{RAW}/5").parse().unwrap();
    const PER_SENDER: u64 = 300;
    // The peer starts reading a moment after the first message went out, and keeps going.
    let reader = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        let r = read_messages(&mut p, 3 * PER_SENDER as usize);
        (r, p) // the connection stays up until the end of the test
    });
    let big = "b".repeat(8 << 20);
    // From a plain thread: one large message, then small ones.
    let _ctx = b.inbox();
    dest.send_ref(&json!({"from": "thread", "seq": 0, "pad": big}))
        .expect("an empty outbox takes any one message");
    let senders: Vec<Address> = ["a", "b"]
        .into_iter()
        .map(|name| {
            let dest = dest.clone();
            b.spawn(move |_| {
                for seq in 0..PER_SENDER {
                    let pad = "p".repeat((seq as usize * 997) % 20_000);
                    dest.send(json!({"from": name, "seq": seq, "pad": pad}))
                        .expect("room in the outbox");
                    if seq % 50 == 0 {
                        // A quiet moment now and then, so a later message may go direct.
                        sleep(Duration::from_millis(2));
                    }
                }
            })
        })
        .collect();
    for s in 1..PER_SENDER {
        dest.send(json!({"from": "thread", "seq": s, "pad": ""}))
            .expect("room in the outbox");
    }
    let ((got, bytes), _p) = reader.join().expect("the peer read everything");
    for s in &senders {
        b.wait(s).expect("sender ended normally");
    }
    assert_eq!(got[0]["pad"].as_str().map(str::len), Some(8 << 20));
    for name in ["thread", "a", "b"] {
        let seqs: Vec<u64> = got
            .iter()
            .filter(|m| m["from"] == name)
            .map(|m| m["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, (0..PER_SENDER).collect::<Vec<_>>(), "order of {name}");
    }
    for m in &got {
        if m["from"] != "thread" {
            let seq = m["seq"].as_u64().unwrap() as usize;
            assert_eq!(m["pad"].as_str().unwrap().len(), (seq * 997) % 20_000);
        }
    }
    // Each frame and byte counted once; heartbeats count in bytes only (and one may have
    // gone out after the peer stopped reading: 15 bytes each).
    let s = b.stats();
    let peer = s.peers.iter().find(|x| x.node == RAW).expect("listed");
    assert_eq!(peer.messages_out, 3 * PER_SENDER);
    assert!(
        peer.bytes_out >= bytes && (peer.bytes_out - bytes) % 15 == 0,
        "counted {} bytes, the peer read {bytes}",
        peer.bytes_out
    );
    eventually("the outbox drained", || b.net_stats().queued_bytes == 0);
}

/// Messages sent one at a time with quiet gaps (each written by its sender) and bursts
/// (queued for the writer) between two real nodes arrive in order, and both ends count the
/// same traffic.
#[test]
fn direct_and_queued_messages_between_nodes_keep_order_and_counts() {
    let a = node();
    let b = node();
    let sink = b.spawn(|mut mb| {
        let mut last = -1i64;
        loop {
            let m = mb.receive();
            if m == "stop" {
                return json!(last);
            }
            let seq = m["seq"].as_i64().unwrap();
            assert_eq!(seq, last + 1, "in order");
            last = seq;
        }
    });
    let sink2 = sink.clone();
    let sender = a.spawn(move |_| {
        let mut seq = 0;
        for round in 0..40 {
            // A burst, then a quiet moment.
            for _ in 0..(round % 7) * 20 + 1 {
                sink2.send(json!({ "seq": seq })).unwrap();
                seq += 1;
            }
            sleep(Duration::from_millis(1));
        }
        sink2.send("stop").unwrap();
        json!(seq - 1)
    });
    let last = a.wait(&sender).unwrap();
    assert_eq!(b.wait(&sink).unwrap(), last, "every message arrived");
    let peer_of = |on: &Node, other: &Node| {
        on.stats()
            .peers
            .into_iter()
            .find(|p| p.node == other.name())
            .unwrap()
    };
    eventually("both ends count the same traffic", || {
        let (pa, pb) = (peer_of(&a, &b), peer_of(&b, &a));
        pa.messages_out == pb.messages_in && pa.bytes_out == pb.bytes_in
    });
    assert!(peer_of(&a, &b).messages_out > last.as_u64().unwrap());
}
