//! Scale and stack depth: the seed's ring with 20,000 actors, and JSON nested as deep as
//! serde_json parses, serialized and parsed again inside an actor's coroutine stack.

use pyact::{Address, Mailbox, Mesh, Node, Value, curaddr, json, spawn};

fn forward(mut mb: Mailbox, next: Address) {
    let data = mb.receive();
    let _ = next | data;
}

fn build(mut mb: Mailbox, n: usize) -> Value {
    let mut ring: Vec<Address> = Vec::new();
    for _ in 0..n {
        let next = ring.last().cloned().unwrap_or_else(|| curaddr().unwrap());
        ring.push(spawn(move |mb| forward(mb, next)));
    }
    let _ = ring.last().unwrap() | json!({"text": "hello around the ring"});
    let data = mb.receive();
    // Every ring actor forwarded once and ended.
    let ended = ring
        .iter()
        .filter(|a| mb.node().wait(a) == Ok(Value::Null))
        .count();
    json!({"data": data, "ended": ended})
}

#[test]
fn a_ring_of_20000_actors() {
    const N: usize = 20_000;
    let node = Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap();
    let addr = node.spawn(|mb| build(mb, N));
    assert_eq!(
        node.wait(&addr).unwrap(),
        json!({"data": {"text": "hello around the ring"}, "ended": N})
    );
    assert_eq!(node.actor_count(), 0);
}

/// `depth` nested containers around a leaf; `kind` picks arrays, objects or both.
fn nested(depth: usize, kind: &str) -> Value {
    let mut v = json!("leaf");
    for i in 0..depth {
        let array = match kind {
            "array" => true,
            "object" => false,
            _ => i % 2 == 0,
        };
        v = if array { json!([v]) } else { json!({"k": v}) };
    }
    v
}

fn depth_of(mut v: &Value) -> usize {
    let mut d = 0;
    loop {
        v = match v {
            Value::Array(a) => &a[0],
            Value::Object(o) => &o["k"],
            _ => return d,
        };
        d += 1;
    }
}

#[test]
fn json_127_deep_round_trips_inside_an_actor() {
    const DEPTH: usize = 127;
    let node = Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap();
    let kinds = ["array", "object", "mixed"];
    let actors: Vec<Address> = kinds
        .iter()
        .map(|_| {
            node.spawn(|mut mb| {
                let msg = mb.receive();
                let text = serde_json::to_string(&msg).unwrap();
                let back: Value = serde_json::from_str(&text).unwrap();
                let pretty = serde_json::to_string_pretty(&back).unwrap();
                let again: Value = serde_json::from_str(&pretty).unwrap();
                assert_eq!(again, msg);
                // Pass it on to a fresh actor too, which returns it.
                let child = spawn(|mut mb| mb.receive());
                child.send(again).unwrap();
                let echoed = mb.node().wait(&child).unwrap();
                json!({"text": text, "value": echoed})
            })
        })
        .collect();
    for (a, kind) in actors.iter().zip(kinds) {
        a.send(nested(DEPTH, kind)).unwrap();
    }
    for (a, kind) in actors.iter().zip(kinds) {
        let got = node.wait(a).unwrap_or_else(|e| panic!("{kind}: {e}"));
        let want = nested(DEPTH, kind);
        assert_eq!(depth_of(&got["value"]), DEPTH, "{kind}");
        assert_eq!(got["value"], want, "{kind}");
        assert_eq!(got["text"], serde_json::to_string(&want).unwrap(), "{kind}");
    }
}
