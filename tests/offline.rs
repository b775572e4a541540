//! A node without networking (the `net` feature off): the core runs alone, and every
//! address of another node is unreachable, reported as networking reports an unreachable
//! node. Run by CI as `cargo test --no-default-features --test offline`; with the default
//! features this file is empty.
#![cfg(not(feature = "net"))]

use std::time::Duration;

use pyact::{Address, ExitReason, Mesh, Node, SendError, json, pattern};

/// An address of a node that is not in this process.
fn elsewhere() -> Address {
    serde_json::from_value(json!({"$addr": "10.0.0.1:4000/7/9"})).unwrap()
}

#[test]
fn an_offline_node_runs_actors_links_and_monitors() {
    let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    let mut inbox = node.inbox();
    let me = inbox.addr();
    let echo = node.spawn(move |mut mb| {
        let m = mb.receive();
        me.send(json!({"echo": m})).unwrap();
    });
    echo.send("hi").unwrap();
    assert_eq!(
        inbox.receive_timeout(Duration::from_secs(10)).unwrap(),
        json!({"echo": "hi"})
    );
    node.wait(&echo).unwrap();
    let r = inbox.monitor(&echo);
    let (_, down) = inbox
        .receive_match_timeout(&[&pattern!({"down": = r})], Duration::from_secs(10))
        .unwrap();
    assert_eq!(down["exit"], "noproc");
    assert_eq!(node.stats().peers.len(), 0);
    assert!(node.mesh().nodes().is_empty());
}

#[test]
fn another_node_is_unreachable_with_typed_errors() {
    let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    let far = elsewhere();
    assert!(matches!(
        far.send("x"),
        Err(SendError::NoConnection { ref node, .. }) if node == "10.0.0.1:4000"
    ));
    assert_eq!(node.wait_reason(&far), ExitReason::NoConnection);
    let mut inbox = node.inbox();
    let r = inbox.monitor(&far);
    let (_, down) = inbox
        .receive_match_timeout(&[&pattern!({"down": = r})], Duration::from_secs(10))
        .unwrap();
    assert_eq!(down["exit"], "noconnection");
    // A link to it fails at once: a trapping actor sees the exit signal.
    let probe = inbox.addr();
    let linker = node.spawn(move |mut mb| {
        mb.trap_exit(true);
        mb.link(&far);
        let exit = mb.receive();
        probe.send(exit).unwrap();
    });
    let exit = inbox.receive_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(exit["exit"], "noconnection");
    node.wait(&linker).unwrap();
}

#[test]
fn offline_nodes_on_port_zero_get_distinct_names_and_shut_down() {
    let mesh = Mesh::new();
    let a = Node::new(&mesh, "c@127.0.0.1:0").unwrap();
    let b = Node::new(&mesh, "c@127.0.0.1:0").unwrap();
    assert_ne!(a.name(), b.name());
    assert_eq!(mesh.local_nodes().len(), 2);
    let idle = a.spawn(|mut mb| {
        loop {
            mb.receive();
        }
    });
    a.shutdown();
    assert_eq!(a.wait(&idle), Err(ExitReason::Killed));
    assert!(a.try_spawn(|_| ()).is_err());
}
