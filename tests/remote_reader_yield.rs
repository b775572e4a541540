//! Issue 7 row 10: the reader yields between batches, so a flood from one peer never holds
//! the node's only worker. Its own test binary: one worker thread (a process-wide setting).

mod common;

use std::io::Write;
use std::time::Duration;

use common::wire::RawPeer;
use pyact::{Mesh, Node, NodeOptions, json, pattern};

#[test]
fn local_actors_make_progress_while_a_peer_floods_the_only_worker() {
    pyact::config::Config::default().workers(1).apply().unwrap();
    // A raw peer sends no heartbeats: the node must not call it down for silence while
    // this loaded machine gets around to the flood.
    let opts = NodeOptions::default().heartbeat(Duration::from_secs(1), Duration::from_secs(600));
    let b = Node::with_options(&Mesh::new(), "k@127.0.0.1:0", opts).unwrap();
    let mut inbox = b.inbox();
    const N: u64 = 1_000_000;
    // A local actor that does 10 spawn + wait once told to, by another actor. (New
    // coroutines wait in `may`'s global queue, which a worker takes only when its local queue
    // is empty: the reader must let it run dry.)
    let me = inbox.addr();
    let probe = b.spawn(move |mut mb| {
        mb.receive();
        for n in 0..10 {
            let t = pyact::spawn(move |_| json!(n));
            assert_eq!(pyact::actor::current_node().unwrap().wait(&t), Ok(json!(n)));
        }
        me.send("local done").unwrap();
    });
    let me = inbox.addr();
    let sink = b.spawn(move |mut mb| {
        mb.receive();
        probe.send("go").unwrap();
        for _ in 1..N {
            mb.receive();
        }
        me.send("flood done").unwrap();
    });
    // The flood is built before the handshake: a raw peer sends no heartbeats, and building
    // a million frames can take longer than the node's heartbeat timeout on a loaded core,
    // after which the node would rightly call the silent peer down.
    let bytes: Vec<u8> = (0..N)
        .flat_map(|i| RawPeer::msg_bytes(sink.id(), &json!({"i": i})))
        .collect();
    let mut p = RawPeer::admitted(b.name(), "127.0.0.1:1", "k");
    let writer = std::thread::spawn(move || {
        p.stream.write_all(&bytes).unwrap();
        p
    });
    let (_, first) = inbox.receive_match(&[&pattern!("local done"), &pattern!("flood done")]);
    assert_eq!(
        first, "local done",
        "10 local spawn+waits had to wait for the whole flood"
    );
    // The same from this plain thread, while the flood goes on.
    for n in 0..10 {
        let t = b.spawn(move |_| json!(n));
        assert_eq!(b.wait(&t), Ok(json!(n)));
    }
    inbox.addr().send("thread done").unwrap();
    let (_, next) = inbox.receive_match(&[&pattern!("thread done"), &pattern!("flood done")]);
    assert_eq!(
        next, "thread done",
        "10 spawn+waits from a thread had to wait for the whole flood"
    );
    assert_eq!(inbox.receive(), "flood done");
    let _p = writer.join().unwrap();
}
