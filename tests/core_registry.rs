//! The per-node registry of names: register, whereis, unregister, send_named.

use pyact::error::RegistryError;
use pyact::{Address, Mailbox, Mesh, Node, SendError, Value, curaddr, json};

fn node() -> Node {
    Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap()
}

/// An actor that returns the first message it gets.
fn one_shot(node: &Node) -> Address {
    node.spawn(|mut mb| mb.receive())
}

#[test]
fn register_whereis_send_named_unregister() {
    let node = node();
    let a = one_shot(&node);
    assert_eq!(node.whereis("logger"), None);
    node.register("logger", &a).unwrap();
    assert_eq!(node.whereis("logger"), Some(a.clone()));
    node.send_named("logger", json!({"line": 1})).unwrap();
    assert_eq!(node.wait(&a), Ok(json!({"line": 1})));

    let b = one_shot(&node);
    node.register("b", &b).unwrap();
    assert_eq!(node.unregister("b"), Some(b.clone()));
    assert_eq!(node.whereis("b"), None);
    assert_eq!(node.unregister("b"), None);
    assert!(matches!(
        node.send_named("b", "x"),
        Err(SendError::NoRoute(_))
    ));
    // Unregistering does not touch the actor.
    b.send("still alive").unwrap();
    assert_eq!(node.wait(&b), Ok(json!("still alive")));
}

#[test]
fn a_name_is_freed_when_its_actor_ends() {
    let node = node();
    let a = one_shot(&node);
    node.register("worker", &a).unwrap();
    a.send("stop").unwrap();
    node.wait(&a).unwrap();
    assert_eq!(node.whereis("worker"), None);
    assert!(matches!(
        node.send_named("worker", "x"),
        Err(SendError::NoRoute(_))
    ));
    // And it can be taken by another actor.
    let b = one_shot(&node);
    node.register("worker", &b).unwrap();
    assert_eq!(node.whereis("worker"), Some(b.clone()));
    node.send_named("worker", "for b").unwrap();
    assert_eq!(node.wait(&b), Ok(json!("for b")));
    assert_eq!(node.whereis("worker"), None);
}

#[test]
fn a_crash_frees_the_name_too() {
    let node = node();
    let a = node.spawn(|mut mb| -> () {
        mb.receive();
        panic!("crash while registered")
    });
    node.register("fragile", &a).unwrap();
    node.send_named("fragile", "go").unwrap();
    assert!(node.wait(&a).is_err());
    assert_eq!(node.whereis("fragile"), None);
}

#[test]
fn a_name_held_by_a_live_actor_is_taken() {
    let node = node();
    let a = one_shot(&node);
    let b = one_shot(&node);
    node.register("only", &a).unwrap();
    let err = node.register("only", &b).unwrap_err();
    assert_eq!(err, RegistryError::Taken("only".into()));
    assert!(err.to_string().contains("only"), "{err}");
    assert_eq!(
        node.register("only", &a),
        Err(RegistryError::Taken("only".into()))
    );
    assert_eq!(node.whereis("only"), Some(a.clone()));
    a.send(1).unwrap();
    b.send(2).unwrap();
    node.wait_all(&[a, b]);
}

#[test]
fn registering_again_renames() {
    let node = node();
    let a = one_shot(&node);
    node.register("first", &a).unwrap();
    node.register("second", &a).unwrap();
    assert_eq!(node.whereis("first"), None);
    assert_eq!(node.whereis("second"), Some(a.clone()));
    a.send("bye").unwrap();
    node.wait(&a).unwrap();
    assert_eq!(node.whereis("second"), None);
}

#[test]
fn only_live_local_actors_can_be_registered() {
    let node = node();
    let other = Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap();
    let dead = node.spawn(|_| ());
    node.wait(&dead).unwrap();
    assert_eq!(
        node.register("dead", &dead),
        Err(RegistryError::NotLocal(dead.clone()))
    );
    let nobody: Address = format!("{}/999999", node.name()).parse().unwrap();
    assert_eq!(
        node.register("nobody", &nobody),
        Err(RegistryError::NotLocal(nobody.clone()))
    );
    let elsewhere = one_shot(&other);
    assert_eq!(
        node.register("elsewhere", &elsewhere),
        Err(RegistryError::NotLocal(elsewhere.clone()))
    );
    for name in ["dead", "nobody", "elsewhere"] {
        assert_eq!(node.whereis(name), None);
    }
    // Registries are per node.
    other.register("elsewhere", &elsewhere).unwrap();
    assert_eq!(node.whereis("elsewhere"), None);
    assert_eq!(other.whereis("elsewhere"), Some(elsewhere.clone()));
    elsewhere.send("x").unwrap();
    other.wait(&elsewhere).unwrap();
}

#[test]
fn exactly_one_of_many_racing_actors_gets_a_name() {
    let node = node();
    let mut inbox = node.inbox();
    let racers: Vec<Address> = (0..32)
        .map(|_| {
            let report = inbox.addr();
            node.spawn(move |mut mb: Mailbox| {
                let me = curaddr().unwrap();
                let won = mb.node().register("leader", &me).is_ok();
                report.send(json!({"tried": me})).unwrap();
                // Hold the name until told to stop.
                let _ = mb.receive();
                json!(won)
            })
        })
        .collect();
    // Release nobody before everybody tried: the winner holds the name meanwhile.
    for _ in &racers {
        inbox.receive_match(&[&pyact::pattern!({"tried": address})]);
    }
    let leader = node.whereis("leader").expect("one racer holds the name");
    for r in &racers {
        r.send("stop").unwrap();
    }
    let results: Vec<Value> = node
        .wait_all(&racers)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let winners: Vec<&Address> = racers
        .iter()
        .zip(&results)
        .filter(|(_, r)| **r == json!(true))
        .map(|(a, _)| a)
        .collect();
    assert_eq!(winners, vec![&leader]);
    assert_eq!(node.whereis("leader"), None);
}

#[test]
fn actors_use_the_registry() {
    let node = node();
    let server = node.spawn(|mut mb| {
        let m = mb.receive();
        let to: Address = serde_json::from_value(m["reply_to"].clone()).unwrap();
        to.send(json!({"pong": m["ping"]})).unwrap();
    });
    node.register("server", &server).unwrap();
    let client = node.spawn(|mut mb| {
        let here = mb.node().clone();
        let server = here.whereis("server").unwrap();
        here.send_named("server", json!({"reply_to": mb.addr(), "ping": 7}))
            .unwrap();
        json!({"server": server, "reply": mb.receive()})
    });
    assert_eq!(
        node.wait(&client),
        Ok(json!({"server": server, "reply": {"pong": 7}}))
    );
    node.wait(&server).unwrap();
}

#[test]
fn a_thread_inbox_can_be_registered() {
    let node = node();
    let mut inbox = node.inbox();
    node.register("main", &inbox.addr()).unwrap();
    let a = node.spawn(|mb| {
        mb.node().send_named("main", "hello main").unwrap();
    });
    assert_eq!(inbox.receive(), "hello main");
    node.wait(&a).unwrap();
    drop(inbox);
    assert_eq!(node.whereis("main"), None);
}
