//! Embedding in plain threads: a `std::thread` (not a coroutine) makes its own mesh and node,
//! spawns actors, sends, waits, and receives replies on its inbox.

use pyact::{Address, ExitReason, Mesh, Node, Value, json};

/// What one embedding thread does; returns its node's name and what it observed.
fn embed(tag: usize) -> (String, Vec<Value>) {
    let mesh = Mesh::new();
    let node = Node::new(&mesh, "cookie@127.0.0.1:0").unwrap();
    let mut inbox = node.inbox();
    let me = inbox.addr();
    let doubler = node.spawn(move |mut mb| {
        loop {
            let m = mb.receive();
            if m == "stop" {
                return json!("stopped");
            }
            me.send(json!({"tag": tag, "double": m.as_i64().unwrap() * 2}))
                .unwrap();
        }
    });
    let mut seen = Vec::new();
    for n in 0..5 {
        doubler.send(n).unwrap();
        seen.push(inbox.receive());
    }
    doubler.send("stop").unwrap();
    seen.push(node.wait(&doubler).unwrap());
    (node.name().to_string(), seen)
}

fn expected(tag: usize) -> Vec<Value> {
    let mut v: Vec<Value> = (0..5)
        .map(|n| json!({"tag": tag, "double": n * 2}))
        .collect();
    v.push(json!("stopped"));
    v
}

#[test]
fn a_plain_thread_runs_its_own_node() {
    let (name, seen) = std::thread::spawn(|| embed(0)).join().unwrap();
    assert!(name.starts_with("127.0.0.1:"), "{name}");
    assert_eq!(seen, expected(0));
}

#[test]
fn several_threads_each_with_a_node() {
    let threads: Vec<_> = (1..=4)
        .map(|t| std::thread::spawn(move || embed(t)))
        .collect();
    let mut names = Vec::new();
    for (i, t) in threads.into_iter().enumerate() {
        let (name, seen) = t.join().unwrap();
        assert_eq!(seen, expected(i + 1));
        names.push(name);
    }
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 4, "every node got its own port");
}

#[test]
fn a_thread_uses_a_node_made_elsewhere() {
    let node = Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap();
    let worker = node.spawn(|mut mb| {
        let m = mb.receive();
        let to: Address = serde_json::from_value(m["reply_to"].clone()).unwrap();
        to.send(json!({"got": m["n"]})).unwrap();
        m["n"].clone()
    });
    let (node2, worker2) = (node.clone(), worker.clone());
    let got = std::thread::spawn(move || {
        let mut inbox = node2.inbox();
        worker2
            .send(json!({"reply_to": inbox.addr(), "n": 9}))
            .unwrap();
        let reply = inbox.receive();
        (reply, node2.wait(&worker2))
    })
    .join()
    .unwrap();
    assert_eq!(got, (json!({"got": 9}), Ok(json!(9))));
    assert_eq!(node.wait(&worker), Ok(json!(9)));
}

#[test]
fn a_thread_waits_on_a_crash() {
    let r = std::thread::spawn(|| {
        let node = Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap();
        let a = node.spawn(|mut mb| -> () {
            mb.receive();
            panic!("thread-embedded crash")
        });
        a.send("go").unwrap();
        node.wait(&a)
    })
    .join()
    .unwrap();
    assert_eq!(r, Err(ExitReason::Panicked("thread-embedded crash".into())));
}
