//! Remote nodes: two and three nodes in one process over real TCP on loopback, raw sockets
//! playing bad peers, and a second OS process.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[allow(dead_code)] // each test binary uses part of the shared helpers
mod common;

use common::spawn_echo;

use pyact::{
    Address, ExitReason, Mesh, Node, NodeOptions, SendError, SpawnError, Value, json, pattern,
};

fn node(cookie: &str) -> Node {
    Node::new(&Mesh::new(), &format!("{cookie}@127.0.0.1:0")).unwrap()
}

fn node_with(cookie: &str, opts: NodeOptions) -> Node {
    Node::with_options(&Mesh::new(), &format!("{cookie}@127.0.0.1:0"), opts).unwrap()
}

/// A port nothing listens on (bound, then closed).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn send_across_nodes_in_order_and_reply_to_an_address_in_the_message() {
    let a = node("secret");
    let b = node("secret");
    let echo = spawn_echo(&b);
    let mut inbox = a.inbox();
    for n in 0..500 {
        echo.send(json!({"reply_to": inbox.addr(), "n": n}))
            .unwrap();
    }
    for n in 0..500 {
        // Erlang's guarantee: from one actor to another, in the order sent.
        assert_eq!(inbox.receive()["echo"], n);
    }
    echo.send("stop").unwrap();
    assert_eq!(a.wait(&echo), Ok(Value::Null));
    assert!(a.connected_nodes().contains(&b.name().to_string()));
    assert!(b.connected_nodes().contains(&a.name().to_string()));
}

#[test]
fn three_nodes_pass_addresses_around() {
    let a = node("k");
    let b = node("k");
    let c = node("k");
    // On C: forward whatever arrives to the address inside it.
    let fwd = c.spawn(|mut mb| {
        let m = mb.receive();
        let to: Address = serde_json::from_value(m["to"].clone()).unwrap();
        to.send(json!({"via": "c", "payload": m["payload"]}))
            .unwrap();
    });
    // On B: an actor that reports what it gets to A's inbox.
    let mut inbox = a.inbox();
    let report_to = inbox.addr();
    let sink = b.spawn(move |mut mb| {
        let m = mb.receive();
        report_to.send(json!({"via_b": m})).unwrap();
    });
    fwd.send(json!({"to": sink, "payload": [1, 2, 3]})).unwrap();
    let got = inbox.receive();
    assert_eq!(got, json!({"via_b": {"via": "c", "payload": [1, 2, 3]}}));
    assert_eq!(a.wait(&fwd), Ok(Value::Null));
    assert_eq!(a.wait(&sink), Ok(Value::Null));
}

#[test]
fn remote_wait_kill_and_whereis() {
    let a = node("k");
    let b = node("k");
    let _inbox = a.inbox();
    let ok = b.spawn(|_| json!({"answer": 42}));
    let boom = b.spawn(|mut mb| -> () {
        mb.receive();
        panic!("remote boom")
    });
    let sleeper = b.spawn(|mut mb| {
        mb.receive();
    });
    b.register("sleeper", &sleeper).unwrap();
    assert_eq!(a.wait(&ok), Ok(json!({"answer": 42})));
    boom.send("go").unwrap();
    assert_eq!(
        a.wait(&boom),
        Err(ExitReason::Panicked("remote boom".into()))
    );
    let found = a.whereis_remote(b.name(), "sleeper").unwrap();
    assert_eq!(found.as_ref(), Some(&sleeper));
    assert_eq!(a.whereis_remote(b.name(), "nobody").unwrap(), None);
    found.unwrap().kill().unwrap();
    assert_eq!(a.wait(&sleeper), Err(ExitReason::Killed));
    let unknown: Address = format!("{}/999999", b.name()).parse().unwrap();
    assert_eq!(a.wait(&unknown), Err(ExitReason::NoSuchActor));
    // Waiting again after the end still gives the result.
    assert_eq!(a.wait(&ok), Ok(json!({"answer": 42})));
}

#[test]
fn remote_spawn_by_registered_factory() {
    let a = node("k");
    let b = node("k");
    b.register_factory("adder", |mut mb, args| {
        let base = args["base"].as_i64().unwrap_or(0);
        let n = mb.receive().as_i64().unwrap_or(0);
        ExitReason::Normal(json!(base + n))
    });
    let _inbox = a.inbox();
    let adder = a
        .spawn_remote(b.name(), "adder", json!({"base": 40}))
        .unwrap();
    assert_eq!(adder.node_id(), b.name());
    adder.send(2).unwrap();
    assert_eq!(a.wait(&adder), Ok(json!(42)));
    assert!(matches!(
        a.spawn_remote(b.name(), "no-such-factory", json!(null)),
        Err(SpawnError::Remote(e)) if e.contains("no-such-factory")
    ));
}

#[test]
fn a_factory_may_return_what_spawn_accepts() {
    let a = node("k");
    let b = node("k");
    // A plain number, and a `Result` whose `Err` becomes a failure, as for `spawn`.
    b.register_factory("triple", |_, args| args["n"].as_i64().unwrap_or(0) * 3);
    b.register_factory("checked", |_, args| match args["n"].as_i64() {
        Some(n) => Ok(n),
        None => Err(format!("not a number: {}", args["n"])),
    });
    let _inbox = a.inbox();
    let t = a
        .spawn_remote(b.name(), "triple", json!({"n": 14}))
        .unwrap();
    assert_eq!(a.wait(&t), Ok(json!(42)));
    let ok = a
        .spawn_remote(b.name(), "checked", json!({"n": 1}))
        .unwrap();
    assert_eq!(a.wait(&ok), Ok(json!(1)));
    let bad = a
        .spawn_remote(b.name(), "checked", json!({"n": "x"}))
        .unwrap();
    assert_eq!(
        a.wait(&bad),
        Err(ExitReason::Failed("not a number: \"x\"".into()))
    );
}

#[test]
fn wrong_cookie_is_refused_and_nothing_is_delivered() {
    let a = node("right");
    let b = node("wrong");
    let mut target = b.inbox();
    let target_addr = target.addr();
    let _ctx = a.inbox();
    let err = target_addr.send("let me in").unwrap_err();
    assert!(matches!(err, SendError::NoConnection { .. }), "{err:?}");
    assert!(a.connected_nodes().is_empty());
    assert!(b.connected_nodes().is_empty());
    // The refused message was never accepted: nothing is there.
    assert_eq!(target.try_receive(), None);
    // An explicit connect with the wrong cookie is a typed error too.
    assert!(a.connect(&format!("guess@{}", b.name())).is_err());
    // With the right cookie for that peer it works.
    a.connect(&format!("wrong@{}", b.name())).unwrap();
    assert_eq!(a.connected_nodes(), vec![b.name().to_string()]);
}

/// A mistyped cookie given for a peer is not kept once the right one (here this node's
/// own) is given: the next connect uses it.
#[test]
fn connecting_with_our_own_cookie_forgets_a_wrong_one_given_before() {
    let a = node("shared");
    let b = node("shared");
    let err = a.connect(&format!("typo@{}", b.name())).unwrap_err();
    assert!(err.to_string().contains("bad cookie proof"), "{err}");
    a.connect(&format!("shared@{}", b.name())).unwrap();
    assert_eq!(a.connected_nodes(), vec![b.name().to_string()]);
}

#[test]
fn unreachable_node_is_a_typed_error_not_a_hang() {
    let a = node("k");
    let _ctx = a.inbox();
    let nowhere: Address = format!("127.0.0.1:{}/1", closed_port()).parse().unwrap();
    match nowhere.send("hello") {
        Err(SendError::NoConnection { node, .. }) => assert_eq!(node, nowhere.node_id()),
        other => panic!("expected NoConnection, got {other:?}"),
    }
    assert_eq!(a.wait(&nowhere), Err(ExitReason::NoConnection));
}

#[test]
fn remote_stats_asks_another_node_for_its_stats() {
    let a = node("k");
    let b = node("k");
    let worker = b.spawn(|mut mb| mb.receive());
    let theirs = a.remote_stats(b.name()).unwrap();
    let local = b.stats();
    assert_eq!(theirs.live_actors, 1);
    assert_eq!((theirs.spawned, theirs.ended), (local.spawned, local.ended));
    let peers: Vec<&str> = theirs.peers.iter().map(|p| p.node.as_str()).collect();
    assert_eq!(peers, [a.name()], "b knows a, which asked");
    assert_eq!(a.remote_stats(a.name()).unwrap().live_actors, 0);
    let nowhere = format!("127.0.0.1:{}", closed_port());
    assert!(matches!(
        a.remote_stats(&nowhere),
        Err(SendError::NoConnection { node, .. }) if node == nowhere
    ));
    worker.send("bye").unwrap();
}

#[test]
fn oversized_message_is_refused_at_send() {
    let a = node_with("k", NodeOptions::default().max_frame(1024));
    let b = node("k");
    let mut inbox = b.inbox();
    let _ctx = a.inbox();
    let big = "x".repeat(10_000);
    match inbox.addr().send(big) {
        Err(SendError::TooLarge { size, limit }) => {
            assert!(size > 10_000);
            assert_eq!(limit, 1024);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    inbox.addr().send("small").unwrap();
    assert_eq!(inbox.receive(), "small");
}

#[test]
fn node_events_and_monitors_fire_on_connection_loss() {
    let a = node("k");
    let b = node("k");
    let mut events = a.inbox();
    a.monitor_nodes(&events.addr());
    let remote = b.spawn(|mut mb| {
        mb.receive();
    });
    let r = events.monitor(&remote);
    let up = events.receive_match(&[&pattern!({"nodeup": str})]).1;
    assert_eq!(up["nodeup"], b.name());
    a.disconnect(b.name());
    let (_, down) = events.receive_match(&[&pattern!({"down": = r})]);
    assert_eq!(down["exit"], "noconnection");
    let (_, nd) = events.receive_match(&[&pattern!({"nodedown": str})]);
    assert_eq!(nd["nodedown"], b.name());
    // The remote actor itself is fine, and a new send reconnects.
    remote.send("done").unwrap();
    assert_eq!(a.wait(&remote), Ok(Value::Null));
}

#[test]
fn remote_link_takes_the_local_actor_down_and_trap_exit_turns_it_into_a_message() {
    let a = node("k");
    let b = node("k");
    let crasher = b.spawn(|mut mb| -> () {
        mb.receive();
        panic!("crash on b")
    });
    let c2 = crasher.clone();
    let linked = a.spawn(move |mut mb| {
        mb.link(&c2);
        c2.send("go").unwrap();
        mb.receive();
    });
    match a.wait(&linked) {
        Err(ExitReason::Linked { from, reason }) => {
            assert_eq!(from, crasher);
            assert_eq!(*reason, ExitReason::Panicked("crash on b".into()));
        }
        other => panic!("expected a linked exit, got {other:?}"),
    }
    // Trapping: the remote crash arrives as a message.
    let crasher = b.spawn(|mut mb| -> () {
        mb.receive();
        panic!("again")
    });
    let mut inbox = a.inbox();
    inbox.link(&crasher);
    crasher.send("go").unwrap();
    let (_, m) = inbox.receive_match(&[&pattern!({"address": address, "exit": object})]);
    assert_eq!(m["exit"], json!({"panic": "again"}));
}

#[test]
fn remote_monitor_gets_down_with_the_reason() {
    let a = node("k");
    let b = node("k");
    let mut inbox = a.inbox();
    let worker = b.spawn(|mut mb| mb.receive());
    let r = inbox.monitor(&worker);
    worker.send("bye").unwrap();
    let (_, down) = inbox.receive_match(&[&pattern!({"down": = r})]);
    assert_eq!(down["exit"], json!({"normal": "bye"}));
    // Monitoring an actor that is gone: DOWN noproc at once.
    let r2 = inbox.monitor(&worker);
    let (_, down) = inbox.receive_match(&[&pattern!({"down": = r2})]);
    assert_eq!(down["exit"], "noproc");
}

#[test]
fn silent_peer_is_declared_down_after_the_heartbeat_timeout() {
    // B never sends a heartbeat (interval far above the test), A expects one every 300 ms.
    let a = node_with(
        "k",
        NodeOptions::default().heartbeat(Duration::from_millis(100), Duration::from_millis(300)),
    );
    let b = node_with(
        "k",
        NodeOptions::default().heartbeat(Duration::from_secs(600), Duration::from_secs(600)),
    );
    let mut events = a.inbox();
    a.monitor_nodes(&events.addr());
    a.connect(&format!("k@{}", b.name())).unwrap();
    let (_, down) = events.receive_match(&[&pattern!({"nodedown": str, "reason": str})]);
    assert_eq!(down["nodedown"], b.name());
    assert!(
        down["reason"].as_str().unwrap().contains("heartbeat"),
        "{down}"
    );
}

/// Open a raw TCP connection to a node.
fn raw(n: &Node) -> TcpStream {
    let s = TcpStream::connect(n.name()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// Read until the node closes the connection; true if it did (EOF or reset).
fn closed_by_node(mut s: TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn bad_peers_are_dropped_and_the_node_keeps_serving() {
    let b = node_with(
        "k",
        NodeOptions::default().connect_timeout(Duration::from_secs(5), Duration::from_millis(300)),
    );
    let echo = spawn_echo(&b);
    // 1. Says nothing: dropped after the handshake timeout.
    let silent = raw(&b);
    // 2. Announces a frame far over the handshake limit.
    let mut huge = raw(&b);
    huge.write_all(&u32::MAX.to_be_bytes()).unwrap();
    // 3. Malformed JSON.
    let mut garbage = raw(&b);
    garbage.write_all(&5u32.to_be_bytes()).unwrap();
    garbage.write_all(b"{{{{{").unwrap();
    // 4. An unknown frame kind.
    let mut unknown = raw(&b);
    let body = br#"{"launch":{"at":"dawn"}}"#;
    unknown
        .write_all(&(body.len() as u32).to_be_bytes())
        .unwrap();
    unknown.write_all(body).unwrap();
    // 5. Half a frame, then nothing.
    let mut half = raw(&b);
    half.write_all(&[0, 0, 0, 50, b'{', b'"']).unwrap();
    // 6. A flood of random bytes.
    let mut flood = raw(&b);
    let junk: Vec<u8> = (0..1_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let _ = flood.write_all(&junk); // the node may close before we finish: fine
    for s in [silent, huge, garbage, unknown, half, flood] {
        assert!(closed_by_node(s), "node should close a bad peer");
    }
    // 7. A traffic frame before the handshake is a protocol error too.
    let mut early = raw(&b);
    let body = br#"{"msg":{"to":1,"msg":"sneaky"}}"#;
    early.write_all(&(body.len() as u32).to_be_bytes()).unwrap();
    early.write_all(body).unwrap();
    assert!(closed_by_node(early));
    // The node still serves a good peer.
    let a = node("k");
    let mut inbox = a.inbox();
    echo.send(json!({"reply_to": inbox.addr(), "n": 7}))
        .unwrap();
    assert_eq!(inbox.receive()["echo"], 7);
}

#[test]
fn talks_to_a_second_os_process() {
    // `cargo test` builds the examples next to the test binaries.
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let bin = dir.join("remote_ping");
    if !bin.exists() {
        // Only a partial build (`cargo test --test remote`) lacks it; `cargo test` builds it.
        let ok = std::process::Command::new(env!("CARGO"))
            .args(["build", "--example", "remote_ping"])
            .status()
            .unwrap();
        assert!(ok.success());
    }
    assert!(bin.exists(), "example binary missing at {}", bin.display());
    let mut child = std::process::Command::new(&bin)
        .arg("serve")
        .env("PYACT_COOKIE", "os-test")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let peer = common::child::first_line(&mut child, Duration::from_secs(60))
        .trim()
        .to_string();
    let a = node("os-test");
    let mut inbox = a.inbox();
    let ponger = a
        .whereis_remote(&peer, "ponger")
        .unwrap()
        .expect("registered");
    for i in 0..20 {
        ponger
            .send(json!({"ping": i, "from": inbox.addr()}))
            .unwrap();
        assert_eq!(
            inbox.receive_timeout(Duration::from_secs(60)).unwrap(),
            json!({"pong": i})
        );
    }
    ponger.send("stop").unwrap();
    assert_eq!(a.wait(&ponger), Ok(Value::Null));
    // The server lingers until its peers disconnect (see examples/remote_ping.rs).
    a.shutdown();
    assert!(common::child::wait(&mut child, Duration::from_secs(60)).success());
}

#[test]
fn a_port_in_use_is_a_bind_error() {
    let a = node("k");
    let err = Node::new(&Mesh::new(), &format!("k@{}", a.name())).unwrap_err();
    assert!(matches!(err, pyact::NodeError::Bind { .. }), "{err:?}");
    assert!(
        !err.to_string().contains("k@"),
        "the cookie is not printed: {err}"
    );
}

#[test]
fn shutdown_kills_local_actors_and_peers_see_the_node_go() {
    let a = node("k");
    let b = node("k");
    let mut watcher = a.inbox();
    a.monitor_nodes(&watcher.addr());
    let on_b = b.spawn(|mut mb| {
        mb.receive();
    });
    let r = watcher.monitor(&on_b);
    watcher.receive_match(&[&pattern!({"nodeup": str})]);
    b.shutdown();
    let (_, down) = watcher.receive_match(&[&pattern!({"down": = r})]);
    // Either the kill's DOWN or the connection loss gets there first; both are abnormal.
    assert!(
        down["exit"] == "killed" || down["exit"] == "noconnection",
        "{down}"
    );
    assert_eq!(b.wait(&on_b), Err(ExitReason::Killed));
    // Sends from the stopped node fail with a typed error.
    let _ctx = b.inbox();
    assert!(matches!(
        watcher.addr().send("x"),
        Err(SendError::NoConnection { .. })
    ));
}

#[test]
fn mesh_lists_connected_nodes() {
    let mesh = Mesh::new();
    let a = Node::new(&mesh, "k@127.0.0.1:0").unwrap();
    let b = node("k");
    let c = node("k");
    assert!(mesh.nodes().is_empty());
    a.connect(&format!("k@{}", b.name())).unwrap();
    a.connect(&format!("k@{}", c.name())).unwrap();
    let mut want = vec![b.name().to_string(), c.name().to_string()];
    want.sort();
    assert_eq!(mesh.nodes(), want);
}
