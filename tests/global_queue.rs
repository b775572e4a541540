//! No wake-up from a plain thread is lost between two workers (`vendor/may/PYACT-PATCH.md`,
//! scheduler patch). An actor woken by a plain thread's `send` goes onto a worker's global
//! queue; an idle worker may be draining that queue under its try-lock when it arrives, and
//! the woken owner, finding the lock taken, leaves it to the holder. Before the holder looked
//! again after letting go, such an actor could stay queued with both workers asleep until an
//! idle worker's next poll (10 ms).
//!
//! Here plain threads play ping-pong with actors, so every round trip wakes an actor from a
//! thread while the other worker is often idle and draining. Every round trip must complete;
//! the deadline only turns a lost wake-up into a failure instead of a hang. The race's window
//! is a few instructions wide and it only delays, so this is a stress test of the path (a
//! wake-up lost for good fails it), not a proof of that fix. Own test binary: two workers, fixed by
//! `Config`.

use std::time::Duration;

use pyact::config::Config;
use pyact::{Mesh, Node, json};

/// Thread/actor pairs playing at once.
const PAIRS: usize = 6;
/// Round trips per pair.
const ROUNDS: u64 = 20_000;
/// Generous: only a lost wake-up (an actor queued for good) reaches it.
const HUNG: Duration = Duration::from_secs(60);

#[test]
fn actors_woken_from_threads_are_never_stranded_in_a_global_queue() {
    Config::default().workers(2).apply().unwrap();
    let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    let players: Vec<_> = (0..PAIRS)
        .map(|_| {
            let node = node.clone();
            std::thread::spawn(move || {
                let mut inbox = node.inbox();
                let me = inbox.addr();
                let echo = node.spawn(move |mut mb| {
                    loop {
                        let m = mb.receive();
                        if m == "stop" {
                            return;
                        }
                        me.send(m).unwrap();
                    }
                });
                for i in 0..ROUNDS {
                    echo.send(json!(i)).unwrap();
                    match inbox.receive_timeout(HUNG) {
                        Ok(v) => assert_eq!(v, json!(i)),
                        Err(_) => return Err(i),
                    }
                }
                echo.send("stop").unwrap();
                node.wait(&echo).unwrap();
                Ok(ROUNDS)
            })
        })
        .collect();
    for p in players {
        assert_eq!(
            p.join().unwrap(),
            Ok(ROUNDS),
            "a round trip's reply never came: an actor woken from a thread was stranded"
        );
    }
}
