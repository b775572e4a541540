//! Remote nodes: two and three nodes in one process over real TCP on loopback.

use std::time::Duration;

use pyact::{Address, ExitReason, Mesh, Node, NodeOptions, SendError, json, pattern};

fn node(cookie: &str) -> Node {
    Node::new(&Mesh::new(), &format!("{cookie}@127.0.0.1:0")).unwrap()
}

#[test]
fn send_across_nodes_and_reply_to_an_address_in_the_message() {
    let a = node("secret");
    let b = node("secret");
    let echo = b.spawn(|mut mb| {
        loop {
            let m = mb.receive();
            if m == "stop" {
                return;
            }
            let to: Address = serde_json::from_value(m["reply_to"].clone()).unwrap();
            to.send(json!({"echo": m["n"]})).unwrap();
        }
    });
    let mut inbox = a.inbox();
    for n in 0..100 {
        echo.send(json!({"reply_to": inbox.addr(), "n": n}))
            .unwrap();
    }
    for n in 0..100 {
        // Erlang's guarantee: in the order sent.
        assert_eq!(inbox.receive()["echo"], n);
    }
    echo.send("stop").unwrap();
    assert_eq!(a.wait(&echo), Ok(serde_json::Value::Null));
    assert!(a.connected_nodes().contains(&b.name().to_string()));
}
