//! Network coroutines count against the live-actor budget, and the listener survives every
//! spawn it cannot make (issue 7 row 4). Its own test binary: the budget is process-wide.

#[allow(dead_code)] // each test binary uses part of the shared helpers
mod common;

use std::time::Duration;

use pyact::actor::live_actors;
use pyact::{Address, Mesh, Node, NodeOptions, SpawnError, json, pattern};

const LIMIT: usize = 40;
const PATIENCE: Duration = Duration::from_secs(30);

/// Does the node answer a Hello with a frame (a handshake ran), or close the connection?
fn handshake_runs(node: &Node) -> bool {
    common::wire::handshake_runs(node.name())
}

#[test]
fn connections_beyond_the_budget_are_closed_and_the_listener_goes_on() {
    pyact::config::Config::default()
        .max_actors(LIMIT)
        .apply()
        .unwrap();
    // Deadlines for a loaded box (the defaults, 5 s, are sized for real networks): a stalled
    // scheduler must not fail the connect below for a reason this test is not about.
    let opts = || {
        NodeOptions::default()
            .connect_timeout(PATIENCE, PATIENCE)
            .heartbeat(Duration::from_secs(1), PATIENCE)
    };
    let a = Node::with_options(&Mesh::new(), "secret@127.0.0.1:0", opts()).unwrap();
    let b = Node::with_options(&Mesh::new(), "secret@127.0.0.1:0", opts()).unwrap();

    // Actors take the whole budget.
    let mut blocked: Vec<Address> = Vec::new();
    loop {
        match a.try_spawn(|mut mb| {
            mb.receive();
        }) {
            Ok(x) => blocked.push(x),
            Err(SpawnError::TooManyActors { .. }) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(live_actors(), LIMIT);

    // A burst of connections: no handshake coroutine can start, each is closed at once,
    // and the listener does not die of it.
    for _ in 0..30 {
        assert!(!handshake_runs(&a), "a handshake ran with no budget left");
    }
    assert_eq!(
        live_actors(),
        LIMIT,
        "connections took no slot they could not have"
    );

    // With room again, the same listener serves a legitimate peer end to end.
    for x in blocked.drain(..10) {
        x.send("stop").unwrap();
        a.wait(&x).unwrap();
    }
    assert!(handshake_runs(&a), "the listener is still accepting");
    // Budget here: 30 actors, the probe's handshake (if not ended yet), then the dialer,
    // a's handshake and two loops per side: at most 37 of 40.
    if let Err(e) = b.connect(&format!("secret@{}", a.name())) {
        panic!("connect failed with {} live: {e}", live_actors());
    }
    let echo = a.spawn(|mut mb| {
        let m = mb.receive();
        let to: Address = serde_json::from_value(m["reply_to"].clone()).unwrap();
        to.send(json!({"echo": m["n"]})).unwrap();
    });
    let mut inbox = b.inbox();
    let remote_echo: Address = echo.to_string().parse().unwrap();
    remote_echo
        .send(json!({"reply_to": inbox.addr(), "n": 7}))
        .unwrap();
    let (_, got) = inbox
        .receive_match_timeout(&[&pattern!({"echo": int})], PATIENCE)
        .expect("the echo over the new connection");
    assert_eq!(got["echo"], 7);
    assert!(live_actors() <= LIMIT);
}
