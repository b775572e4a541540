//! Servers: `Address::call` and the `Server` trait, one test per rule of `pyact::server`.
//!
//! No test sleeps or depends on speed: long timeouts are upper bounds that are never reached
//! when the code is right, and every wait is on a message or an exit.

use std::time::Duration;

use pyact::server::{Call, CallError, Context, Server, ServerError, serve};
use pyact::{Address, ExitReason, Mesh, Node, SendError, Value, json, pattern};

/// Long enough never to be the reason a test passes.
const LONG: Duration = Duration::from_secs(30);

fn node() -> Node {
    Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap()
}

/// A key-value store that reports its lifecycle to `report` (if any).
struct Store {
    map: serde_json::Map<String, Value>,
    report: Option<Address>,
}

impl Store {
    fn new(report: Option<Address>) -> Store {
        Store {
            map: Default::default(),
            report,
        }
    }
    fn tell(&self, v: Value) {
        if let Some(r) = &self.report {
            r.send(v).unwrap();
        }
    }
}

impl Server for Store {
    fn init(&mut self, ctx: &mut Context) {
        self.tell(json!({"init": ctx.addr()}));
    }

    fn handle_call(
        &mut self,
        method: &str,
        msg: Value,
        ctx: &mut Context,
    ) -> Result<Value, ServerError> {
        match method {
            "put" => {
                let key = msg["key"].as_str().ok_or("put needs a string key")?;
                Ok(self
                    .map
                    .insert(key.to_string(), msg["value"].clone())
                    .unwrap_or(Value::Null))
            }
            "get" => {
                let key = msg.as_str().ok_or("get needs a string key")?;
                Ok(self.map.get(key).cloned().unwrap_or(Value::Null))
            }
            "fail" => Err(ServerError::Failed(format!("failing on purpose: {msg}"))),
            "panic" => panic!("handler panicked on purpose"),
            "quit" => {
                ctx.stop(json!("quit requested"));
                Ok(json!("bye"))
            }
            _ => Err(ServerError::UnknownMethod),
        }
    }

    fn handle_cast(&mut self, msg: Value, _ctx: &mut Context) {
        self.tell(json!({"cast": msg}));
    }

    fn terminate(&mut self, reason: &ExitReason, _ctx: &mut Context) {
        self.tell(json!({"terminate": reason}));
    }
}

#[test]
fn call_success() {
    let node = node();
    let store = node.spawn_server(Store::new(None));
    let put = store
        .call("put", json!({"key": "a", "value": [1, 2]}), LONG)
        .unwrap();
    assert_eq!(put, Value::Null);
    assert_eq!(store.call("get", "a", LONG).unwrap(), json!([1, 2]));
    assert_eq!(
        store
            .call("put", json!({"key": "a", "value": 3}), LONG)
            .unwrap(),
        json!([1, 2])
    );
}

#[test]
fn unknown_method_is_a_typed_error_and_the_server_keeps_running() {
    let node = node();
    let store = node.spawn_server(Store::new(None));
    assert_eq!(
        store.call("frobnicate", (), LONG),
        Err(CallError::UnknownMethod("frobnicate".into()))
    );
    assert_eq!(store.call("get", "nothing", LONG).unwrap(), Value::Null);
}

#[test]
fn the_servers_own_error_goes_to_the_caller_and_the_server_keeps_running() {
    let node = node();
    let store = node.spawn_server(Store::new(None));
    store
        .call("put", json!({"key": "k", "value": 1}), LONG)
        .unwrap();
    match store.call("fail", "x", LONG) {
        Err(CallError::Server(msg)) => assert!(msg.contains("failing on purpose"), "{msg}"),
        other => panic!("expected a server error, got {other:?}"),
    }
    // An error from `?` on a &str converts too.
    assert!(matches!(
        store.call("get", 42, LONG),
        Err(CallError::Server(m)) if m == "get needs a string key"
    ));
    assert_eq!(store.call("get", "k", LONG).unwrap(), 1);
}

#[test]
fn a_server_that_panics_mid_call_gives_dead_actor_not_timeout() {
    let node = node();
    let store = node.spawn_server(Store::new(None));
    match store.call("panic", (), LONG) {
        Err(CallError::DeadActor(ExitReason::Panicked(m))) => {
            assert_eq!(m, "handler panicked on purpose")
        }
        other => panic!("expected DeadActor(Panicked), got {other:?}"),
    }
    assert!(matches!(node.wait(&store), Err(ExitReason::Panicked(_))));
}

#[test]
fn calling_a_dead_or_unknown_actor_gives_dead_actor() {
    let node = node();
    let gone = node.spawn(|_| ());
    node.wait(&gone).unwrap();
    // Ended normally: the monitor reports its recorded reason... or noproc once forgotten.
    match gone.call("get", "a", LONG) {
        Err(CallError::DeadActor(_)) => {}
        other => panic!("expected DeadActor, got {other:?}"),
    }
    let never: Address = format!("{}/999999", node.name()).parse().unwrap();
    assert_eq!(
        never.call("get", "a", LONG),
        Err(CallError::DeadActor(ExitReason::NoSuchActor))
    );
}

#[test]
fn timeout_and_a_late_reply_is_dropped_not_left_in_the_mailbox() {
    let node = node();
    let mut inbox = node.inbox();
    let report = inbox.addr();
    // Holds the call until told to answer, then says whether its answer could be delivered.
    let slow = node.spawn(move |mut mb| {
        let call = Call::parse(mb.receive_match(&[&pattern!({"call": _})]).1).unwrap();
        mb.receive_match(&[&pattern!("answer now")]);
        let sent = call.reply(json!("too late"));
        report
            .send(json!({"late_reply_delivered": sent.is_ok(),
                         "dead_actor": matches!(sent, Err(SendError::DeadActor(_)))}))
            .unwrap();
    });
    // Called from the test thread, which has an inbox of its own (so a leak would show).
    assert_eq!(
        slow.call("anything", (), Duration::from_millis(50)),
        Err(CallError::Timeout)
    );
    slow.send("answer now").unwrap();
    let got = inbox.receive_timeout(LONG).unwrap();
    assert_eq!(
        got,
        json!({"late_reply_delivered": false, "dead_actor": true})
    );
    node.wait(&slow).unwrap();
    assert_eq!(
        inbox.try_receive(),
        None,
        "the late reply must not be anywhere"
    );
}

#[test]
fn call_from_a_plain_thread_without_an_inbox() {
    let node = node();
    let store = node.spawn_server(Store::new(None));
    let s = store.clone();
    let got = std::thread::spawn(move || {
        assert!(pyact::actor::current_node().is_none());
        s.call("put", json!({"key": "t", "value": "thread"}), LONG)
            .unwrap();
        s.call("get", "t", LONG).unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(got, "thread");
}

#[test]
fn call_from_an_actor_leaves_its_other_messages_in_place() {
    let node = node();
    let store = node.spawn_server(Store::new(None));
    let caller = node.spawn(move |mut mb| {
        mb.addr().send("queued before").unwrap();
        store
            .call("put", json!({"key": "x", "value": 7}), LONG)
            .unwrap();
        let v = store.call("get", "x", LONG).unwrap();
        json!({"value": v, "first": mb.receive(), "rest": mb.try_receive()})
    });
    assert_eq!(
        node.wait(&caller).unwrap(),
        json!({"value": 7, "first": "queued before", "rest": null})
    );
}

#[test]
fn casts_go_to_handle_cast_in_order_with_calls() {
    let node = node();
    let mut inbox = node.inbox();
    let store = node.spawn_server(Store::new(Some(inbox.addr())));
    assert!(inbox.receive_timeout(LONG).unwrap().get("init").is_some());
    store.send(json!({"note": 1})).unwrap();
    store.send("plain").unwrap();
    store.call("get", "a", LONG).unwrap();
    assert_eq!(inbox.try_receive(), Some(json!({"cast": {"note": 1}})));
    assert_eq!(inbox.try_receive(), Some(json!({"cast": "plain"})));
}

#[test]
fn stop_server_runs_terminate_and_ends_normally() {
    let node = node();
    let mut inbox = node.inbox();
    let store = node.spawn_server(Store::new(Some(inbox.addr())));
    assert!(inbox.receive_timeout(LONG).unwrap().get("init").is_some());
    store.stop_server(LONG).unwrap();
    assert_eq!(
        inbox.receive_timeout(LONG).unwrap(),
        json!({"terminate": {"normal": null}})
    );
    assert_eq!(node.wait(&store).unwrap(), Value::Null);
    // Stopping it again: it is dead.
    assert!(matches!(
        store.stop_server(LONG),
        Err(CallError::DeadActor(_))
    ));
}

#[test]
fn a_handler_can_stop_the_server_after_replying() {
    let node = node();
    let mut inbox = node.inbox();
    let store = node.spawn_server(Store::new(Some(inbox.addr())));
    inbox.receive_timeout(LONG).unwrap();
    assert_eq!(store.call("quit", (), LONG).unwrap(), "bye");
    assert_eq!(
        inbox.receive_timeout(LONG).unwrap(),
        json!({"terminate": {"normal": "quit requested"}})
    );
    assert_eq!(node.wait(&store).unwrap(), "quit requested");
}

#[test]
fn terminate_runs_on_a_panic_and_on_an_exit_signal_but_not_on_kill() {
    let node = node();
    let mut inbox = node.inbox();

    let panicking = node.spawn_server(Store::new(Some(inbox.addr())));
    inbox.receive_timeout(LONG).unwrap();
    let _ = panicking.call("panic", (), LONG);
    assert_eq!(
        inbox.receive_timeout(LONG).unwrap(),
        json!({"terminate": {"panic": "handler panicked on purpose"}})
    );

    let shut = node.spawn_server(Store::new(Some(inbox.addr())));
    inbox.receive_timeout(LONG).unwrap();
    shut.exit(&inbox.addr(), ExitReason::Shutdown).unwrap();
    assert_eq!(node.wait(&shut), Err(ExitReason::Shutdown));
    assert_eq!(
        inbox.receive_timeout(LONG).unwrap(),
        json!({"terminate": "shutdown"})
    );

    let killed = node.spawn_server(Store::new(Some(inbox.addr())));
    inbox.receive_timeout(LONG).unwrap();
    killed.kill().unwrap();
    assert_eq!(node.wait(&killed), Err(ExitReason::Killed));
    assert_eq!(inbox.try_receive(), None, "no terminate after a kill");
}

#[test]
fn a_server_killed_during_a_call_ends_the_call_at_once() {
    let node = node();
    let mut inbox = node.inbox();
    let report = inbox.addr();
    // Takes the call, tells the test, then waits (forever) for something that never comes.
    let stuck = node.spawn(move |mut mb| {
        let call = mb.receive_match(&[&pattern!({"call": _})]).1;
        report.send(json!({"got": call["method"]})).unwrap();
        mb.receive_match(&[&pattern!("never")]);
    });
    let s = stuck.clone();
    let caller = std::thread::spawn(move || s.call("hang", (), LONG));
    assert_eq!(inbox.receive_timeout(LONG).unwrap(), json!({"got": "hang"}));
    stuck.kill().unwrap();
    assert_eq!(
        caller.join().unwrap(),
        Err(CallError::DeadActor(ExitReason::Killed))
    );
}

#[test]
fn serve_runs_in_any_actor_body() {
    let node = node();
    let store = node.spawn(|mb| serve(Store::new(None), mb));
    store
        .call("put", json!({"key": "s", "value": true}), LONG)
        .unwrap();
    assert_eq!(store.call("get", "s", LONG).unwrap(), true);
}

#[test]
fn many_calls_do_not_accumulate_anything() {
    let node = node();
    let store = node.spawn_server(Store::new(None));
    let before = node.actor_count();
    for i in 0..500 {
        store
            .call("put", json!({"key": "n", "value": i}), LONG)
            .unwrap();
    }
    assert_eq!(store.call("get", "n", LONG).unwrap(), 499);
    // Every call's throwaway mailbox is gone.
    assert_eq!(node.actor_count(), before);
}

#[test]
fn call_errors_display() {
    let shown = [
        CallError::Timeout.to_string(),
        CallError::DeadActor(ExitReason::Killed).to_string(),
        CallError::NoConnection {
            node: "h:1".into(),
            why: "connection lost".into(),
        }
        .to_string(),
        CallError::UnknownMethod("m".into()).to_string(),
        CallError::Server("e".into()).to_string(),
    ];
    assert!(shown.iter().all(|s| !s.is_empty()));
    let e: Box<dyn std::error::Error> = Box::new(CallError::Timeout);
    assert_eq!(e.to_string(), "call timed out");
}

#[test]
fn call_timeout_from_an_actor() {
    let node = node();
    // Never answers.
    let mute = node.spawn(|mut mb: pyact::Mailbox| {
        mb.receive_match(&[&pattern!("never")]);
    });
    let m = mute.clone();
    let caller = node.spawn(move |mut mb: pyact::Mailbox| {
        let first = m.call("x", (), Duration::from_micros(300));
        let second = m.call("x", (), Duration::from_millis(20));
        json!([
            first == Err(CallError::Timeout),
            second == Err(CallError::Timeout),
            mb.try_receive()
        ])
    });
    assert_eq!(node.wait(&caller).unwrap(), json!([true, true, null]));
    mute.kill().unwrap();
}

#[test]
fn calls_across_nodes() {
    let a = node();
    let b = node();
    let store = b.spawn_server(Store::new(None));
    // From a thread with an inbox on node a: the call's mailbox lives on a.
    let _inbox = a.inbox();
    store
        .call("put", json!({"key": "k", "value": "remote"}), LONG)
        .unwrap();
    assert_eq!(store.call("get", "k", LONG).unwrap(), "remote");
    assert_eq!(
        store.call("nope", (), LONG),
        Err(CallError::UnknownMethod("nope".into()))
    );
    assert!(matches!(
        store.call("fail", 1, LONG),
        Err(CallError::Server(_))
    ));
    match store.call("panic", (), LONG) {
        Err(CallError::DeadActor(ExitReason::Panicked(_))) => {}
        other => panic!("expected DeadActor(Panicked) across nodes, got {other:?}"),
    }
}

#[test]
fn losing_the_servers_node_mid_call_gives_no_connection() {
    let a = node();
    let b = node();
    let mut inbox = a.inbox();
    let report = inbox.addr();
    // On b: takes the call, tells the test, then never answers.
    let stuck = b.spawn(move |mut mb| {
        let call = mb.receive_match(&[&pattern!({"call": _})]).1;
        report.send(json!({"got": call["method"]})).unwrap();
        mb.receive_match(&[&pattern!("never")]);
    });
    let s = stuck.clone();
    let a2 = a.clone();
    let caller = std::thread::spawn(move || {
        let _inbox = a2.inbox();
        s.call("hang", (), LONG)
    });
    assert_eq!(inbox.receive_timeout(LONG).unwrap(), json!({"got": "hang"}));
    b.shutdown();
    assert_eq!(
        caller.join().unwrap(),
        Err(CallError::NoConnection {
            node: b.name().to_string(),
            why: "connection lost".into(),
        })
    );
}
