//! Addresses: identity (Eq/Hash/Ord/Display), text and JSON round trips, and addresses
//! travelling inside messages to be replied to.

use std::collections::{HashMap, HashSet};

use pyact::{Address, Mesh, Node, SendError, Value, json, pattern};

fn node() -> Node {
    Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap()
}

#[test]
fn an_address_in_a_message_is_replied_to() {
    let node = node();
    let mut inbox = node.inbox();
    let echo = node.spawn(|mut mb| {
        let reply_to = pattern!({"reply_to": address});
        let (_, msg) = mb.receive_match(&[&reply_to]);
        let to: Address = serde_json::from_value(msg["reply_to"].clone()).unwrap();
        to.send(json!({"echo": msg["text"], "from": mb.addr()}))
            .unwrap();
        json!(to)
    });
    echo.send("no reply_to here").unwrap();
    echo.send(json!({"reply_to": "not an address", "text": "x"}))
        .unwrap();
    echo.send(json!({"reply_to": inbox.addr(), "text": "hi"}))
        .unwrap();
    assert_eq!(inbox.receive(), json!({"echo": "hi", "from": echo}));
    // The actor's own copy of the address equals the original.
    let back: Address = serde_json::from_value(node.wait(&echo).unwrap()).unwrap();
    assert_eq!(back, inbox.addr());
}

#[test]
fn an_address_forwarded_through_a_third_actor_still_works() {
    let node = node();
    let mut inbox = node.inbox();
    // `replier` answers whoever is named in the message; `relay` only passes messages on.
    let replier = node.spawn(|mut mb| {
        let m = mb.receive();
        let to: Address = serde_json::from_value(m["reply_to"].clone()).unwrap();
        to.send(json!({"n": m["n"].as_i64().unwrap() + 1})).unwrap();
    });
    let relay = node.spawn(|mut mb| {
        let m = mb.receive();
        let next: Address = serde_json::from_value(m["next"].clone()).unwrap();
        next.send(m["payload"].clone()).unwrap();
    });
    relay
        .send(json!({"next": replier, "payload": {"reply_to": inbox.addr(), "n": 41}}))
        .unwrap();
    assert_eq!(inbox.receive(), json!({"n": 42}));
    node.wait_all(&[relay, replier])
        .into_iter()
        .for_each(|r| assert!(r.is_ok()));
}

#[test]
fn address_identity() {
    let node = node();
    let a = node.spawn(|mut mb| mb.receive());
    let b = node.spawn(|mut mb| mb.receive());
    let a2 = a.clone();
    assert_eq!(a, a2);
    assert_ne!(a, b);
    assert_eq!(a.node_id(), node.name());
    assert_eq!(b.node_id(), node.name());
    assert_ne!(a.id(), b.id());

    // Display is host:port/id/creation; parsing it back gives an equal address of the
    // same node start, with the same hash.
    assert_eq!(
        a.to_string(),
        format!("{}/{}/{}", node.name(), a.id(), node.creation())
    );
    assert_eq!(format!("{a:?}"), format!("Address({a})"));
    let parsed: Address = a.to_string().parse().unwrap();
    assert_eq!(parsed, a);
    assert_eq!(parsed.creation(), a.creation());
    let mut set = HashSet::new();
    set.insert(a.clone());
    assert!(set.contains(&parsed));
    assert!(!set.contains(&b));
    let mut map = HashMap::new();
    map.insert(parsed.clone(), "a");
    map.insert(b.clone(), "b");
    assert_eq!(map[&a], "a");
    assert_eq!(map[&b], "b");

    // Ordered by node, then id.
    let (lo, hi) = if a.id() < b.id() { (&a, &b) } else { (&b, &a) };
    assert!(lo < hi);

    // A parsed address sends to the live actor.
    parsed.send("via parsed").unwrap();
    assert_eq!(node.wait(&a).unwrap(), "via parsed");
    b.send("b").unwrap();
    node.wait(&b).unwrap();
}

#[test]
fn many_addresses_are_distinct() {
    let node = node();
    let addrs: Vec<Address> = (0..200).map(|_| node.spawn(|_| ())).collect();
    let set: HashSet<&Address> = addrs.iter().collect();
    assert_eq!(set.len(), 200);
    let texts: HashSet<String> = addrs.iter().map(|a| a.to_string()).collect();
    assert_eq!(texts.len(), 200);
    assert!(node.wait_all(&addrs).iter().all(|r| r.is_ok()));
}

#[test]
fn serde_json_round_trip() {
    let node = node();
    let mut inbox = node.inbox();
    let addr = inbox.addr();
    let text = serde_json::to_string(&addr).unwrap();
    assert_eq!(
        text,
        format!(
            "{{\"$addr\":\"{}/{}/{}\"}}",
            node.name(),
            addr.id(),
            node.creation()
        )
    );
    let back: Address = serde_json::from_str(&text).unwrap();
    assert_eq!(back, addr);
    back.send("sent via the round-tripped address").unwrap();
    assert_eq!(inbox.receive(), "sent via the round-tripped address");

    let v = serde_json::to_value(&addr).unwrap();
    assert_eq!(v, json!({"$addr": addr.to_string()}));
    assert!(pattern!(address).matches(&v));
    let inside: Value = json!({"who": [addr, {"deep": addr}]});
    let text = serde_json::to_string(&inside).unwrap();
    let parsed: Value = serde_json::from_str(&text).unwrap();
    let deep: Address = serde_json::from_value(parsed["who"][1]["deep"].clone()).unwrap();
    assert_eq!(deep, addr);

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Req {
        reply_to: Address,
        n: u8,
    }
    let req = Req {
        reply_to: addr.clone(),
        n: 3,
    };
    let v = serde_json::to_value(&req).unwrap();
    assert!(pattern!({"reply_to": address, "n": int}).matches(&v));
    assert_eq!(serde_json::from_value::<Req>(v).unwrap(), req);
}

#[test]
fn malformed_addresses_are_rejected() {
    for bad in [
        "x",
        "",
        "127.0.0.1:4000",
        "127.0.0.1/5",
        "127.0.0.1:99999/5",
        "127.0.0.1:4000/abc",
        "127.0.0.1:4000/-1",
        ":4000/5",
        "127.0.0.1:4000/5/0",
        "127.0.0.1:4000/5/x",
        "127.0.0.1:4000/5/6/7",
    ] {
        assert_eq!(
            bad.parse::<Address>(),
            Err(SendError::BadAddress(bad.to_string())),
            "{bad:?}"
        );
        assert!(
            serde_json::from_value::<Address>(json!({"$addr": bad})).is_err(),
            "{bad:?}"
        );
    }
    for bad in [
        json!("127.0.0.1:4000/5"),
        json!({"addr": "127.0.0.1:4000/5"}),
        json!({"$addr": 5}),
        json!(null),
    ] {
        assert!(
            serde_json::from_value::<Address>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn the_seed_bitor_operator_sends() {
    let node = node();
    let mut inbox = node.inbox();
    let addr = inbox.addr();
    (&addr | json!({"n": 1})).unwrap();
    (addr.clone() | "owned").unwrap();
    (&addr | vec![1, 2]).unwrap();
    (&addr | ("data", 5)).unwrap();
    assert_eq!(inbox.receive(), json!({"n": 1}));
    assert_eq!(inbox.receive(), "owned");
    assert_eq!(inbox.receive(), json!([1, 2]));
    assert_eq!(inbox.receive(), json!(["data", 5]));
}

#[test]
fn values_that_are_not_json_are_refused() {
    let node = node();
    let inbox = node.inbox();
    let mut bad = HashMap::new();
    bad.insert((1, 2), "tuple keys are not JSON object keys");
    assert!(matches!(
        inbox.addr().send(bad.clone()),
        Err(SendError::NotJson(_))
    ));
    assert!(matches!(
        inbox.addr().send_ref(&bad),
        Err(SendError::NotJson(_))
    ));
}
