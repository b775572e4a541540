//! A node says when it comes up and goes down, at `info` level. Its own test binary: it
//! installs a logger that records lines, and a logger is process-wide.

#[allow(dead_code)] // each test binary uses part of the shared helpers
mod common;

use std::time::{Duration, Instant};

use pyact::{Mesh, Node};

fn logged(line: &str) -> bool {
    common::logs::count(|l| l == line) > 0
}

#[test]
fn a_node_logs_up_and_down_at_info() {
    common::logs::record(log::LevelFilter::Info);
    let node = Node::new(&Mesh::new(), "k@127.0.0.1:0").unwrap();
    let name = node.name().to_string();
    assert!(logged(&format!("node {name} up")));
    assert!(!logged(&format!(
        "node {name} down: its last handle was dropped"
    )));
    node.shutdown();
    drop(node);
    // The network loops let go of their handles as they notice the shutdown.
    wait_for_down(&name);
}

/// An ended actor's coroutine stays in pyact's pool (src/pool.rs) and runs other actors
/// later: it must not keep the node of the actor it ran (its context), or a node whose
/// actors all ended would never go down.
#[test]
fn pooled_coroutines_of_ended_actors_do_not_keep_their_node() {
    common::logs::record(log::LevelFilter::Info);
    let node = Node::new(&Mesh::new(), "p@127.0.0.1:0").unwrap();
    let name = node.name().to_string();
    let ended: Vec<_> = (0..20)
        .map(|i| {
            node.spawn(move |mut mb| {
                let child = pyact::spawn(|_| pyact::json!("child"));
                let _ = mb.try_receive();
                if i % 2 == 0 {
                    panic!("an actor that panics");
                }
                pyact::json!({"child": child})
            })
        })
        .collect();
    for a in &ended {
        let _ = node.wait(a);
    }
    node.shutdown();
    drop(node);
    wait_for_down(&name);
}

/// Wait (60 s at most) until the node `name` logged that its last handle was dropped.
fn wait_for_down(name: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !logged(&format!("node {name} down: its last handle was dropped")) {
        assert!(Instant::now() < deadline, "never logged down for {name}");
        std::thread::yield_now();
    }
}
