//! Porting comfort: the python-actors idioms written the short way (free `spawn_link`,
//! `addr.wait()`, reply addresses read with `Address::try_from`, plain return values, `ask`).

use std::time::Duration;

use pyact::mailbox::Timeout;
use pyact::server::{Call, CallError};
use pyact::{
    Address, ExitReason, Mesh, Node, SendError, Value, ask, json, pattern, reply, spawn_link,
};

/// Generous: 2 shared cores; these bound hangs, they do not time anything.
const LONG: Duration = Duration::from_secs(60);

fn node() -> Node {
    Node::new(&Mesh::new(), "porting@127.0.0.1:0").unwrap()
}

#[test]
fn free_spawn_link_links_the_child_to_the_calling_actor() {
    let node = node();
    let mut inbox = node.inbox();
    let me = inbox.addr();
    let parent = node.spawn(move |mut mb| {
        let child = spawn_link(|mut mb| {
            mb.receive();
        });
        me.send(json!({"child": child})).unwrap();
        mb.receive();
    });
    let msg = inbox.receive_timeout(LONG).unwrap();
    let child = Address::try_from(&msg["child"]).unwrap();
    // Killing the parent takes the linked child down with it.
    parent.kill().unwrap();
    assert_eq!(parent.wait(), Err(ExitReason::Killed));
    match child.wait() {
        Err(ExitReason::Linked { from, reason }) => {
            assert_eq!(from, parent);
            assert_eq!(*reason, ExitReason::Killed);
        }
        other => panic!("child should die linked, got {other:?}"),
    }
}

#[test]
fn free_spawn_link_outside_an_actor_panics_with_a_hint() {
    let err = std::thread::spawn(|| {
        spawn_link(|_| ());
    })
    .join()
    .unwrap_err();
    let text = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(text.contains("outside an actor"), "{text}");
}

#[test]
fn address_wait_from_a_thread_and_from_an_actor() {
    let node = node();
    let worker = node.spawn(|mut mb| mb.receive());
    let w = worker.clone();
    let watcher = node.spawn(move |_| w.wait().map(|v| json!({"saw": v})));
    worker.send("done").unwrap();
    assert_eq!(worker.wait().unwrap(), "done");
    assert_eq!(watcher.wait().unwrap(), json!({"saw": "done"}));
    // Late waits get the recorded result.
    assert_eq!(worker.wait().unwrap(), "done");
}

#[test]
fn address_wait_on_an_unknown_actor_is_noproc() {
    let node = node();
    let ghost: Address = format!("{}/999999", node.name()).parse().unwrap();
    assert_eq!(ghost.wait(), Err(ExitReason::NoSuchActor));
    assert_eq!(ghost.wait_timeout(LONG), Ok(Err(ExitReason::NoSuchActor)));
}

#[test]
fn wait_timeout_times_out_on_a_running_actor_then_sees_its_end() {
    let node = node();
    let a = node.spawn(|mut mb| mb.receive());
    assert_eq!(a.wait_timeout(Duration::from_millis(20)), Err(Timeout));
    // The actor keeps running after a timed-out wait, and no stale monitor bothers it.
    a.send(json!({"v": 1})).unwrap();
    assert_eq!(a.wait_timeout(LONG), Ok(Ok(json!({"v": 1}))));
}

#[test]
fn wait_timeout_after_the_end_gets_the_recorded_result_not_noproc() {
    let node = node();
    let ok = node.spawn(|_| "finished");
    let bad = node.spawn(|_| -> () { panic!("broken") });
    assert_eq!(ok.wait().unwrap(), "finished");
    assert!(bad.wait().is_err());
    assert_eq!(ok.wait_timeout(LONG), Ok(Ok(json!("finished"))));
    assert_eq!(
        bad.wait_timeout(LONG),
        Ok(Err(ExitReason::Panicked("broken".into())))
    );
}

#[test]
fn wait_timeout_from_inside_an_actor() {
    let node = node();
    let target = node.spawn(|mut mb| mb.receive());
    let t = target.clone();
    let watcher = node.spawn(move |_| {
        let first = t.wait_timeout(Duration::from_millis(20));
        t.send("go").unwrap();
        let second = t.wait_timeout(LONG);
        json!([first == Err(Timeout), second == Ok(Ok(json!("go")))])
    });
    assert_eq!(watcher.wait().unwrap(), json!([true, true]));
}

#[test]
fn address_from_a_message_field() {
    let node = node();
    let a = node.spawn(|mut mb| mb.receive());
    let encoded = json!({"from": a});
    assert_eq!(Address::try_from(&encoded["from"]).unwrap(), a);
    assert_eq!(Address::try_from(encoded["from"].clone()).unwrap(), a);
    assert_eq!(Address::try_from(&json!(a.to_string())).unwrap(), a);
    for bad in [
        Value::Null,
        json!(42),
        json!("nowhere"),
        json!({"$addr": "host:1/x"}),
        json!({"$addr": "host:1/2", "extra": 1}),
        encoded["missing"].clone(),
    ] {
        assert!(
            matches!(Address::try_from(&bad), Err(SendError::BadAddress(_))),
            "{bad}"
        );
    }
    a.send("bye").unwrap();
}

#[test]
fn actor_functions_may_return_plain_values() {
    let node = node();
    let cases: Vec<(Address, Value)> = vec![
        (node.spawn(|_| 2 + 2), json!(4)),
        (node.spawn(|_| -7i64), json!(-7)),
        (node.spawn(|_| 2.5), json!(2.5)),
        (node.spawn(|_| true), json!(true)),
        (node.spawn(|_| 'x'), json!("x")),
        (node.spawn(|_| "text"), json!("text")),
        (node.spawn(|_| String::from("owned")), json!("owned")),
        (node.spawn(|_| vec![1, 2, 3]), json!([1, 2, 3])),
        (node.spawn(|_| Some(1u8)), json!(1)),
        (node.spawn(|_| None::<u8>), Value::Null),
    ];
    for (addr, want) in cases {
        assert_eq!(addr.wait().unwrap(), want);
    }
}

#[test]
fn an_actor_that_loops_forever_needs_no_return_type() {
    let node = node();
    let counter = node.spawn(|mut mb| {
        let mut n = 0;
        loop {
            let msg = mb.receive();
            n += 1;
            if msg == "crash" {
                panic!("after {n}");
            }
        }
    });
    counter.send(1).unwrap();
    counter.send("crash").unwrap();
    assert_eq!(counter.wait(), Err(ExitReason::Panicked("after 2".into())));
}

fn spawn_doubler(node: &Node) -> Address {
    node.spawn(|mut mb| {
        loop {
            let msg = mb.receive();
            if msg["n"] == "die" {
                panic!("asked to die");
            }
            if msg["n"] == "ignore" {
                continue;
            }
            reply(&msg, json!({"double": msg["n"].as_i64().unwrap_or(0) * 2})).unwrap();
        }
    })
}

#[test]
fn ask_gets_the_answer_sent_to_from() {
    let node = node();
    let d = spawn_doubler(&node);
    assert_eq!(
        ask(&d, json!({"n": 21}), LONG).unwrap(),
        json!({"double": 42})
    );
    // A caller-supplied "from" is replaced by the ask's own reply address.
    assert_eq!(
        d.ask(json!({"n": 2, "from": "elsewhere"}), LONG).unwrap(),
        json!({"double": 4})
    );
    // From inside an actor too; nothing is left in the asking actor's own mailbox.
    let d2 = d.clone();
    let asker = node.spawn(move |mut mb| {
        let got = d2.ask(json!({"n": 5}), LONG).unwrap();
        json!([got, mb.try_receive()])
    });
    assert_eq!(asker.wait().unwrap(), json!([{"double": 10}, null]));
}

#[test]
fn ask_reports_a_dead_target_a_death_during_the_ask_and_a_timeout() {
    let node = node();
    let gone = node.spawn(|_| ());
    gone.wait().unwrap();
    assert!(matches!(
        ask(&gone, json!({"n": 1}), LONG),
        Err(CallError::DeadActor(_))
    ));
    let d = spawn_doubler(&node);
    assert_eq!(
        ask(&d, json!({"n": "ignore"}), Duration::from_millis(20)),
        Err(CallError::Timeout)
    );
    assert_eq!(
        ask(&d, json!({"n": "die"}), LONG),
        Err(CallError::DeadActor(ExitReason::Panicked(
            "asked to die".into()
        )))
    );
}

#[test]
fn ask_needs_an_object_and_reply_needs_a_from() {
    let node = node();
    let d = spawn_doubler(&node);
    match ask(&d, json!([1, 2]), LONG) {
        Err(CallError::Send(SendError::NotJson(why))) => assert!(why.contains("\"from\"")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        reply(&json!({"n": 1}), 2),
        Err(SendError::BadAddress(_))
    ));
}

#[test]
fn ask_across_nodes() {
    let a = node();
    let b = Node::new(&Mesh::new(), "porting@127.0.0.1:0").unwrap();
    let d = spawn_doubler(&b);
    let remote: Address = d.to_string().parse().unwrap();
    let asker = a.spawn(move |_| remote.ask(json!({"n": 8}), LONG));
    assert_eq!(asker.wait().unwrap(), json!({"double": 16}));
}

#[test]
fn call_is_reexported_at_the_root() {
    // A hand-rolled server loop built on `pyact::server::Call`.
    let node = node();
    let server = node.spawn(|mut mb| {
        let (_, msg) = mb.receive_match(&[&pattern!({"call": _, "method": str})]);
        let call = Call::parse(msg).expect("a call request");
        call.reply(json!(call.method.len())).unwrap();
    });
    assert_eq!(server.call("hello", (), LONG).unwrap(), 5);
}

#[test]
fn address_wait_and_wait_timeout_on_a_remote_actor() {
    let a = node();
    let b = Node::new(&Mesh::new(), "porting@127.0.0.1:0").unwrap();
    let on_b = b.spawn(|mut mb| mb.receive());
    let remote: Address = on_b.to_string().parse().unwrap();
    let watcher = a.spawn(move |_| {
        let early = remote.wait_timeout(Duration::from_millis(20));
        remote.send(json!({"done": true})).unwrap();
        let late = remote.wait_timeout(LONG);
        let again = remote.wait();
        json!([
            early == Err(Timeout),
            late == Ok(Ok(json!({"done": true}))),
            again == Ok(json!({"done": true}))
        ])
    });
    assert_eq!(watcher.wait().unwrap(), json!([true, true, true]));
}
