//! "Mail first" (src/pool.rs): of the actors queued for a coroutine, the newest goes first
//! when it has mail and the oldest has none, at most `PASS_OVER` times in a row. The seed's
//! ring, spawned by an actor, then passes its message on a few warm coroutines instead of
//! starting every forwarder on a stack of its own first, and the oldest queued actor is
//! still taken now and then.
//!
//! One worker thread (this binary's configuration), so that no other worker starts queued
//! actors while the builder runs: which actor is taken is then decided by the policy alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pyact::{Address, Mailbox, Mesh, Node, json, spawn};

const PATIENCE: Duration = Duration::from_secs(120);

#[test]
fn a_ring_spawned_by_an_actor_passes_its_message_on_few_coroutines() {
    pyact::config::Config::default()
        .workers(1)
        .apply()
        .expect("first configuration of this binary");
    const N: usize = 20_000;
    let n = Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap();
    // Forwarders that found no message waiting when they started: taken oldest first.
    let early = Arc::new(AtomicUsize::new(0));
    let e = early.clone();
    let before = generator::stacks_in_use();
    let builder = n.spawn(move |mut mb| {
        let mut ring: Vec<Address> = Vec::with_capacity(N);
        for _ in 0..N {
            let next = ring.last().cloned().unwrap_or_else(|| mb.addr());
            let e = e.clone();
            ring.push(spawn(move |mut mb: Mailbox| {
                let m = match mb.try_receive() {
                    Some(m) => m,
                    None => {
                        e.fetch_add(1, Ordering::Relaxed);
                        mb.receive()
                    }
                };
                let _ = next.send(m);
            }));
        }
        ring.last().unwrap().send("around").unwrap();
        mb.receive_timeout(PATIENCE).unwrap()
    });
    let came_around = builder
        .wait_timeout(PATIENCE)
        .expect("the ring ends in time");
    assert_eq!(came_around, Ok(json!("around")));
    let grown = generator::stacks_in_use().saturating_sub(before);
    let early = early.load(Ordering::Relaxed);
    // Oldest first, every forwarder would have started without its message and blocked on
    // a stack of its own: N of each.
    assert!(grown < N / 4, "{N} forwarders took {grown} new stacks");
    assert!(
        early < N / 100,
        "{early} of {N} forwarders started without mail"
    );
    // The oldest was not passed over for ever: some were taken before their message came.
    assert!(early >= 1, "the oldest queued actor was never taken early");
}
