//! `may` panics when it cannot allocate a coroutine stack (generator's `Stack::new` expects
//! the `mmap` to succeed); pyact turns that into an error, and the listener survives it
//! (issue 7 row 4). Its own test binary: it changes `may`'s process-wide stack size after
//! start, to 16 TiB, which no machine this runs on can map, so stack allocation fails the way
//! it does when `vm.max_map_count` or memory runs out.

#[allow(dead_code)] // each test binary uses part of the shared helpers
mod common;

use pyact::{Mesh, Node, SpawnError};

/// Does the node answer a Hello with a frame (a handshake ran), or close the connection?
fn handshake_runs(node: &Node) -> bool {
    common::wire::handshake_runs(node.name())
}

#[test]
fn failed_stack_allocation_is_an_error_and_the_listener_survives_it() {
    pyact::config::Config::default()
        .pool_capacity(1)
        .apply()
        .unwrap();
    let node = Node::new(&Mesh::new(), "secret@127.0.0.1:0").unwrap();
    assert!(handshake_runs(&node));
    let normal = may::config().get_stack_size();
    // Eight actors end at once while pyact's pool keeps one idle coroutine: the other seven
    // end their coroutines, and `may`'s own pool (one place) keeps one of them. That one has
    // the old stack size: `may` must not hand it out for the new size (its pool patch,
    // vendor/may/PYACT-PATCH.md), or it would serve every spawn below.
    let held: Vec<_> = (0..8)
        .map(|_| {
            node.spawn(|mut mb| {
                mb.receive();
            })
        })
        .collect();
    for a in &held {
        a.send("end").unwrap();
    }
    for a in &held {
        node.wait(a).unwrap();
    }
    // `wait` returns as an actor ends, a moment before its coroutine is done.
    std::thread::sleep(std::time::Duration::from_millis(200));

    may::config().set_stack_size(1 << 41); // words: 16 TiB
    // A pooled stack may serve a spawn or two; then `may` must allocate, and fails.
    let err = (0..10)
        .find_map(|_| node.try_spawn(|_| ()).err())
        .expect("spawns fail once no pooled stack is left");
    assert!(
        matches!(&err, SpawnError::Io(why) if why.contains("coroutine")),
        "{err:?}"
    );
    // A burst of connections while no coroutine can be made: each is closed, none kills
    // the listener.
    let mut answered = 0;
    for _ in 0..30 {
        answered += usize::from(handshake_runs(&node));
    }
    assert!(
        answered < 30,
        "no handshake coroutine could have been made for most"
    );

    may::config().set_stack_size(normal);
    assert!(handshake_runs(&node), "the listener is still accepting");
    assert!(node.try_spawn(|_| ()).is_ok());
}
