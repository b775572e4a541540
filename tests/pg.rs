//! Process groups across five nodes in one process (issue 17 item 3): members joined on three
//! nodes are listed on all five; a leave, an actor's end and a node's shutdown reach every
//! node; a monitor gets join and leave events; a peer cannot slip another node's actors in.

#[allow(dead_code)] // each test binary uses part of the shared helpers
mod common;

use std::time::Duration;

use common::wire::eventually;
use pyact::testing::Probe;
use pyact::{Address, Mesh, Node, json, pattern, pg};

const PATIENCE: Duration = Duration::from_secs(30);

/// `n` nodes, each connected to every other one explicitly.
fn cluster(n: usize) -> Vec<Node> {
    let mesh = Mesh::new();
    let nodes: Vec<Node> = (0..n)
        .map(|_| Node::new(&mesh, "pgcookie@127.0.0.1:0").unwrap())
        .collect();
    for (i, a) in nodes.iter().enumerate() {
        for b in &nodes[i + 1..] {
            a.connect(&format!("pgcookie@{}", b.name())).unwrap();
        }
    }
    nodes
}

fn idle(node: &Node) -> Address {
    node.spawn(|mut mb| {
        mb.receive();
    })
}

fn sorted(mut v: Vec<Address>) -> Vec<Address> {
    v.sort();
    v
}

fn everywhere(nodes: &[Node], group: &str, want: &[Address]) {
    let want = sorted(want.to_vec());
    for n in nodes {
        eventually(&format!("{group} on {} is {want:?}", n.name()), || {
            pg::get_members(n, group) == want
        });
    }
}

#[test]
fn members_of_three_nodes_are_seen_on_all_and_leave_everywhere() {
    let nodes = cluster(5);
    let members: Vec<Address> = nodes[..3].iter().map(idle).collect();
    for (n, m) in nodes.iter().zip(&members) {
        pg::join(n, "workers", m).unwrap();
        assert_eq!(pg::get_local_members(n, "workers"), vec![m.clone()]);
    }
    everywhere(&nodes, "workers", &members);
    assert!(pg::get_local_members(&nodes[4], "workers").is_empty());
    assert!(pg::which_groups(&nodes[4]).contains(&"workers".to_string()));

    // A leave, then an end.
    pg::leave(&nodes[0], "workers", &members[0]).unwrap();
    everywhere(&nodes, "workers", &members[1..]);
    members[1].send("stop").unwrap();
    everywhere(&nodes, "workers", &members[2..]);
    for n in &nodes {
        n.shutdown();
    }
}

#[test]
fn a_shut_down_node_loses_its_members_everywhere() {
    let nodes = cluster(5);
    let a = idle(&nodes[1]);
    let b = idle(&nodes[3]);
    pg::join(&nodes[1], "g", &a).unwrap();
    pg::join(&nodes[3], "g", &b).unwrap();
    everywhere(&nodes, "g", &[a.clone(), b.clone()]);
    nodes[3].shutdown();
    let rest: Vec<Node> = nodes.iter().filter(|n| *n != &nodes[3]).cloned().collect();
    everywhere(&rest, "g", std::slice::from_ref(&a));
    // A stopped node takes no part any more.
    assert!(matches!(
        pg::join(&nodes[3], "g", &b),
        Err(pg::PgError::Unavailable(_))
    ));
    assert!(pg::get_members(&nodes[3], "g").is_empty());
    for n in &nodes {
        n.shutdown();
    }
}

#[test]
fn a_monitor_gets_joins_and_leaves_from_other_nodes() {
    let nodes = cluster(5);
    let mut probe = Probe::new(&nodes[4]);
    let (r, now) = pg::monitor(&nodes[4], "room", &probe.addr()).unwrap();
    assert!(now.is_empty());
    // Every node takes part before the joins, so they come as `join` messages or syncs.
    for n in &nodes {
        pg::which_groups(n);
    }
    let a = idle(&nodes[0]);
    pg::join(&nodes[0], "room", &a).unwrap();
    let ev = probe.expect_msg(&pattern!({"pg": "join", "ref": = r}), PATIENCE);
    assert_eq!(
        ev,
        json!({"pg": "join", "ref": r, "group": "room", "members": [a]})
    );

    pg::leave(&nodes[0], "room", &a).unwrap();
    let ev = probe.expect_msg(&pattern!({"pg": "leave", "ref": = r}), PATIENCE);
    assert_eq!(ev["members"], json!([a]));

    let b = idle(&nodes[2]);
    pg::join(&nodes[2], "room", &b).unwrap();
    probe.expect_msg(&pattern!({"pg": "join", "ref": = r}), PATIENCE);
    b.send("stop").unwrap();
    let ev = probe.expect_msg(&pattern!({"pg": "leave", "ref": = r}), PATIENCE);
    assert_eq!(ev["members"], json!([b]));

    // Another group's changes, and changes after demonitor, are not reported.
    let c = idle(&nodes[1]);
    pg::join(&nodes[1], "other", &c).unwrap();
    assert!(pg::demonitor(&nodes[4], r));
    pg::join(&nodes[1], "room", &c).unwrap();
    everywhere(&nodes[4..], "room", std::slice::from_ref(&c));
    probe.expect_no_msg(Duration::from_millis(200));
    for n in &nodes {
        n.shutdown();
    }
}

#[test]
fn a_peer_cannot_list_actors_of_another_node() {
    let nodes = cluster(3);
    for n in &nodes {
        pg::which_groups(n);
    }
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    let b_service = b.whereis(pg::SERVICE).unwrap();
    let a_service = a.whereis(pg::SERVICE).unwrap();
    // Wait until a knows b's service (b's members reach a).
    let known = idle(b);
    pg::join(b, "probe", &known).unwrap();
    everywhere(
        std::slice::from_ref(a),
        "probe",
        std::slice::from_ref(&known),
    );

    let on_c = idle(c);
    let on_b = idle(b);
    let long = "x".repeat(pg::MAX_GROUP_LEN + 1);
    let mut probe = Probe::new(a);
    let (r, _) = pg::monitor(a, "fine", &probe.addr()).unwrap();
    for forged in [
        // b claims an actor of c, of a, then sends garbage and an oversized group name.
        json!({"pyact.pg": "join", "peer": b_service, "group": "forged", "members": [on_c]}),
        json!({"pyact.pg": "sync", "peer": b_service, "groups": {"forged": [on_c], "probe": [known]}}),
        json!({"pyact.pg": "join", "peer": b_service, "group": long, "members": [on_b]}),
        json!({"pyact.pg": "join", "peer": b_service, "group": "forged", "members": "nope"}),
        json!({"pyact.pg": "sync", "peer": b_service, "groups": [1, 2]}),
        json!({"pyact.pg": 7}),
        json!([]),
    ] {
        a_service.send(forged).unwrap();
    }
    // Then a well-formed one: once a reports it, the ones before it were handled. (Its
    // event, not the list: a late real sync from b may replace b's groups at any time.)
    a_service
        .send(json!({"pyact.pg": "join", "peer": b_service, "group": "fine", "members": [on_b]}))
        .unwrap();
    let ev = probe.expect_msg(&pattern!({"pg": "join", "ref": = r}), PATIENCE);
    assert_eq!(ev["members"], json!([on_b]));
    assert!(pg::get_members(a, "forged").is_empty());
    assert_eq!(pg::get_members(a, "probe"), vec![known.clone()]);
    assert!(!pg::which_groups(a).contains(&long));
    // Joining a remote actor through the wrong node is refused.
    assert_eq!(
        pg::join(a, "g", &on_c),
        Err(pg::PgError::NotLocal(on_c.clone()))
    );
    for n in &nodes {
        n.shutdown();
    }
}
