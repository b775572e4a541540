//! Looking into a node's peers: per-peer traffic and state in `Node::stats`, and what the
//! logs and errors say when nodes come up, go down or are refused (issue 10). Its own test
//! binary: it installs a logger that records every line at `info` and above, and a logger is
//! process-wide.

#[allow(dead_code)] // each test binary uses part of the shared helpers
mod common;

use common::eventually;
use std::time::Duration;

use pyact::observe::PeerState;
use pyact::{Address, Mesh, Node, NodeOptions, json};

fn has_line(f: impl Fn(&str) -> bool) -> bool {
    common::logs::count(f) > 0
}

fn node(cookie: &str, opts: NodeOptions) -> Node {
    Node::with_options(&Mesh::new(), &format!("{cookie}@127.0.0.1:0"), opts).unwrap()
}

/// After a known exchange, each side's per-peer counters show it, and one side's "out" is
/// the other's "in".
#[test]
fn per_peer_traffic_counts_a_known_exchange() {
    common::logs::record(log::LevelFilter::Info);
    let a = node("secret", NodeOptions::default());
    let b = node("secret", NodeOptions::default());
    let echo = b.spawn(|mut mb| {
        loop {
            let m = mb.receive();
            if m == json!("stop") {
                return;
            }
            let to: Address = serde_json::from_value(m["from"].clone()).unwrap();
            to.send(json!({"echo": m["n"].clone()})).unwrap();
        }
    });
    let mut inbox = a.inbox();
    const N: u64 = 25;
    let payload = "x".repeat(100);
    for n in 0..N {
        echo.send(json!({"from": inbox.addr(), "n": n, "pad": payload}))
            .unwrap();
    }
    for n in 0..N {
        assert_eq!(inbox.receive(), json!({"echo": n}));
    }
    let peer_of = |on: &Node, other: &Node| {
        on.stats()
            .peers
            .into_iter()
            .find(|p| p.node == other.name())
            .unwrap_or_else(|| panic!("{} does not list {}", on.name(), other.name()))
    };
    eventually("a's writer and b's reader agree", || {
        let (pa, pb) = (peer_of(&a, &b), peer_of(&b, &a));
        pa.messages_out == pb.messages_in
            && pa.bytes_out == pb.bytes_in
            && pb.messages_out == pa.messages_in
            && pb.bytes_out == pa.bytes_in
    });
    let (pa, pb) = (peer_of(&a, &b), peer_of(&b, &a));
    assert_eq!(pa.state, PeerState::Connected);
    assert_eq!(pb.state, PeerState::Connected);
    assert!(pa.creation.is_some() && pb.creation.is_some());
    assert_ne!(
        pa.creation, pb.creation,
        "each node declares its own creation"
    );
    assert!(pa.messages_out >= N, "{pa:?}");
    assert!(pa.messages_in >= N, "{pa:?}");
    assert!(pa.bytes_out >= N * 100, "the padding alone: {pa:?}");
    assert!(pa.bytes_in < pa.bytes_out, "replies are smaller: {pa:?}");
    assert!(pa.last_error.is_none());
    // Nothing more is sent: the counts stay.
    let before = peer_of(&a, &b).messages_out;
    assert_eq!(before, pa.messages_out);
    echo.send("stop").unwrap();
    eventually("the queue drains", || peer_of(&a, &b).queued_bytes == 0);
    assert_eq!(peer_of(&a, &b).messages_out, before + 1);
}

/// A peer nobody listens on shows as backing off (or down once the back-off passed), with
/// the dial's error.
#[test]
fn an_unreachable_peer_shows_its_back_off_and_error() {
    common::logs::record(log::LevelFilter::Info);
    let a = node(
        "secret",
        NodeOptions::default().redial_backoff(Duration::from_secs(60), Duration::from_secs(60)),
    );
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let target: Address = format!("127.0.0.1:{port}/1").parse().unwrap();
    let _inbox = a.inbox();
    let err = target.send("hi").unwrap_err();
    assert!(
        matches!(err, pyact::SendError::NoConnection { .. }),
        "{err}"
    );
    let p = a
        .stats()
        .peers
        .into_iter()
        .find(|p| p.node == format!("127.0.0.1:{port}"))
        .expect("the peer is listed");
    match p.state {
        PeerState::BackingOff {
            retry_in, failures, ..
        } => {
            assert_eq!(failures, 1);
            assert!(retry_in <= Duration::from_secs(60));
        }
        other => panic!("expected backing off, got {other:?}"),
    }
    assert!(p.last_error.is_some());
    assert_eq!((p.messages_out, p.creation), (0, None));
}

/// Node up and down are logged on both sides.
#[test]
fn node_up_and_down_are_logged_on_both_sides() {
    common::logs::record(log::LevelFilter::Info);
    let a = node("secret", NodeOptions::default());
    let b = node("secret", NodeOptions::default());
    a.connect(&format!("secret@{}", b.name())).unwrap();
    let (an, bn) = (a.name().to_string(), b.name().to_string());
    eventually("both sides log the node up", || {
        has_line(|l| l.starts_with(&format!("{an}: node {bn} up")) && l.contains("we dialled"))
            && has_line(|l| {
                l.starts_with(&format!("{bn}: node {an} up")) && l.contains("it dialled us")
            })
    });
    a.disconnect(b.name());
    eventually("both sides log the node down", || {
        has_line(|l| l.starts_with(&format!("{an}: node {bn} down: disconnected locally")))
            && has_line(|l| l.starts_with(&format!("{bn}: node {an} down")))
    });
}

/// A wrong cookie: the connector's error and log say the acceptor refused the cookie proof
/// and that the cookies probably differ; the acceptor logs it too.
#[test]
fn a_wrong_cookie_is_named_on_both_sides() {
    common::logs::record(log::LevelFilter::Info);
    let a = node("secret", NodeOptions::default());
    let b = node("secret", NodeOptions::default());
    let err = a
        .connect(&format!("guess@{}", b.name()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad cookie proof"), "{err}");
    assert!(err.contains("cookies differ"), "{err}");
    assert!(
        !err.contains("guess"),
        "the error never shows a cookie: {err}"
    );
    let (an, bn) = (a.name().to_string(), b.name().to_string());
    assert!(
        has_line(|l| l.starts_with(&format!("{an}: cannot connect to {bn}"))
            && l.contains("bad cookie proof")
            && l.contains("cookies differ")),
        "the connector logs the refusal and its likely cause"
    );
    eventually("the acceptor logs the refusal", || {
        has_line(|l| {
            l.starts_with(&format!("{bn}: refused 127.0.0.1:")) && l.contains("cookies differ")
        })
    });
}

/// A source rate-limited after failed handshakes is told so before the close.
#[test]
fn a_rate_limited_connector_is_told_why() {
    common::logs::record(log::LevelFilter::Info);
    let a = node("secret", NodeOptions::default());
    let b = node(
        "secret",
        NodeOptions::default().failed_handshakes(1, Duration::from_secs(3600)),
    );
    let first = a.connect(&format!("guess@{}", b.name())).unwrap_err();
    assert!(first.to_string().contains("bad cookie proof"), "{first}");
    let err = a
        .connect(&format!("secret@{}", b.name()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("rate-limited"), "{err}");
    assert!(err.contains("failed handshakes"), "{err}");
}

/// A call to a node that refuses this one's cookie fails with the reason, not just the node.
#[test]
fn a_call_refused_for_the_cookie_says_so() {
    common::logs::record(log::LevelFilter::Info);
    let a = node("secret", NodeOptions::default());
    let b = node("other", NodeOptions::default());
    let server = b.spawn(|mut mb| mb.receive());
    let caller = {
        let a = a.clone();
        std::thread::spawn(move || {
            let _inbox = a.inbox();
            server.call("get", (), Duration::from_secs(60))
        })
    };
    match caller.join().unwrap() {
        Err(pyact::server::CallError::NoConnection { node, why }) => {
            assert_eq!(node, b.name());
            assert!(why.contains("bad cookie proof"), "{why}");
            assert!(why.contains("cookies differ"), "{why}");
        }
        other => panic!("expected NoConnection, got {other:?}"),
    }
}
