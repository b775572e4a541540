//! Actors end, and what `wait` says about it: return values, errors, panics, kills, exit
//! signals, unknown addresses; sending to ended actors; panic isolation; `curaddr`, the free
//! `spawn`, and struct-based actors.

use std::collections::HashSet;

use pyact::actor::current_node;
use pyact::{
    Actor, Address, ExitReason, IntoExit, Mailbox, Mesh, Node, SendError, Value, curaddr, json,
    pattern, spawn,
};

fn node() -> Node {
    Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap()
}

/// An address of `node` that no actor ever had.
fn unknown(node: &Node) -> Address {
    format!("{}/999999", node.name())
        .parse::<Address>()
        .unwrap()
}

/// Spawn an actor that says "ready" to `to`, then blocks in receive and returns what it got.
fn blocked(node: &Node, to: &Mailbox) -> Address {
    let me = to.addr();
    node.spawn(move |mut mb| {
        me.send(json!({"ready": curaddr().unwrap()})).unwrap();
        mb.receive()
    })
}

fn await_ready(inbox: &mut Mailbox, who: &Address) {
    let (_, m) = inbox.receive_match(&[&pattern!({"ready": = who})]);
    assert_eq!(m["ready"], json!(who));
}

#[test]
fn wait_returns_the_return_value() {
    let node = node();
    let unit = node.spawn(|_| ());
    let value = node.spawn(|_| json!({"answer": 42}));
    let ok: Address = node.spawn(|_| Ok::<_, String>(vec![1, 2, 3]));
    assert_eq!(node.wait(&unit), Ok(Value::Null));
    assert_eq!(node.wait(&value), Ok(json!({"answer": 42})));
    assert_eq!(node.wait(&ok), Ok(json!([1, 2, 3])));
    assert_eq!(
        node.wait_reason(&value),
        ExitReason::Normal(json!({"answer": 42}))
    );
}

#[test]
fn an_err_result_is_a_failure() {
    let node = node();
    let a = node.spawn(|_| -> Result<i32, String> { Err("disk full".to_string()) });
    assert_eq!(node.wait(&a), Err(ExitReason::Failed("disk full".into())));
    let b =
        node.spawn(|_| -> Result<(), std::io::Error> { Err(std::io::Error::other("io broke")) });
    assert_eq!(node.wait(&b), Err(ExitReason::Failed("io broke".into())));
}

#[test]
fn returning_an_exit_reason_ends_with_it() {
    let node = node();
    let a = node.spawn(|_| ExitReason::Shutdown);
    assert_eq!(node.wait(&a), Err(ExitReason::Shutdown));
    let b = node.spawn(|_| ExitReason::Normal(json!("fine")));
    assert_eq!(node.wait(&b), Ok(json!("fine")));
}

#[test]
fn a_panic_is_reported_with_its_message() {
    let node = node();
    let a = node.spawn(|_| -> () { panic!("boom") });
    let n = 7;
    let b = node.spawn(move |_| -> () { panic!("boom {n}") });
    let c = node.spawn(|mut mb| -> () {
        let m = mb.receive();
        let _ = m.as_array().unwrap()[5].clone(); // index out of bounds
    });
    c.send(json!([1])).unwrap();
    assert_eq!(node.wait(&a), Err(ExitReason::Panicked("boom".into())));
    assert_eq!(node.wait(&b), Err(ExitReason::Panicked("boom 7".into())));
    match node.wait(&c) {
        Err(ExitReason::Panicked(msg)) => assert!(msg.contains("index out of bounds"), "{msg}"),
        other => panic!("want a panic, got {other:?}"),
    }
}

#[test]
fn kill_ends_an_actor_blocked_in_receive() {
    let node = node();
    let mut inbox = node.inbox();
    let a = blocked(&node, &inbox);
    await_ready(&mut inbox, &a);
    a.kill().unwrap();
    assert_eq!(node.wait(&a), Err(ExitReason::Killed));
}

#[test]
fn kill_cannot_be_trapped() {
    let node = node();
    let mut inbox = node.inbox();
    let me = inbox.addr();
    let a = node.spawn(move |mut mb| {
        mb.trap_exit(true);
        me.send(json!({"ready": curaddr().unwrap()})).unwrap();
        mb.receive()
    });
    await_ready(&mut inbox, &a);
    a.kill().unwrap();
    assert_eq!(node.wait(&a), Err(ExitReason::Killed));
}

#[test]
fn killing_a_thread_inbox_delivers_a_message() {
    let node = node();
    let mut inbox = node.inbox();
    inbox.addr().kill().unwrap();
    assert_eq!(
        inbox.receive(),
        json!({"address": inbox.addr(), "exit": "killed"})
    );
}

#[test]
fn exit_signals() {
    let node = node();
    let mut inbox = node.inbox();
    let me = inbox.addr();

    // An abnormal reason ends an actor that does not trap exits, with that reason.
    let a = blocked(&node, &inbox);
    await_ready(&mut inbox, &a);
    a.exit(&me, ExitReason::Shutdown).unwrap();
    assert_eq!(node.wait(&a), Err(ExitReason::Shutdown));

    // A normal reason is ignored by an actor that does not trap exits.
    let b = blocked(&node, &inbox);
    b.exit(&me, ExitReason::Normal(Value::Null)).unwrap();
    b.send("still here").unwrap();
    assert_eq!(node.wait(&b), Ok(json!("still here")));

    // An actor that traps exits gets them as messages, whatever the reason. (A signal acts
    // when it arrives, as in Erlang: the actor traps before it says it is ready.)
    let c = node.spawn(move |mut mb| {
        mb.trap_exit(true);
        me.send(json!({"ready": curaddr().unwrap()})).unwrap();
        json!([mb.receive(), mb.receive()])
    });
    let me = inbox.addr();
    await_ready(&mut inbox, &c);
    c.exit(&me, ExitReason::Shutdown).unwrap();
    c.exit(&me, ExitReason::Normal(json!(1))).unwrap();
    assert_eq!(
        node.wait(&c),
        Ok(json!([
            {"address": me, "exit": "shutdown"},
            {"address": me, "exit": {"normal": 1}}
        ]))
    );
}

#[test]
fn trap_exit_returns_the_previous_setting() {
    let node = node();
    let a =
        node.spawn(|mut mb| json!([mb.trap_exit(true), mb.trap_exit(false), mb.trap_exit(false)]));
    assert_eq!(node.wait(&a), Ok(json!([false, true, false])));
    // A thread's inbox always traps.
    let mut inbox = node.inbox();
    assert!(inbox.trap_exit(false));
    assert!(inbox.trap_exit(false));
}

#[test]
fn waiting_on_an_unknown_address_is_no_such_actor() {
    let node = node();
    let nobody = unknown(&node);
    assert_eq!(nobody.node_id(), node.name());
    assert_eq!(nobody.id(), 999_999);
    assert_eq!(node.wait(&nobody), Err(ExitReason::NoSuchActor));
    assert_eq!(node.wait_reason(&nobody), ExitReason::NoSuchActor);
    assert!(matches!(nobody.send("hi"), Err(SendError::DeadActor(a)) if a == nobody));
}

#[test]
fn waiting_twice_and_after_the_end_returns_the_same_result() {
    let node = node();
    let a = node.spawn(|_| json!("done"));
    let b = node.spawn(|_| -> () { panic!("late") });
    assert_eq!(node.wait(&a), Ok(json!("done")));
    assert_eq!(node.wait(&a), Ok(json!("done")));
    assert_eq!(node.wait(&b), Err(ExitReason::Panicked("late".into())));
    assert_eq!(node.wait(&b), Err(ExitReason::Panicked("late".into())));
    // An address parsed from text (no live handle) finds the exit record too.
    let a2: Address = a.to_string().parse().unwrap();
    assert_eq!(node.wait(&a2), Ok(json!("done")));
}

#[test]
fn many_waiters_all_get_the_result() {
    let node = node();
    let mut inbox = node.inbox();
    let a = blocked(&node, &inbox);
    await_ready(&mut inbox, &a);
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let (node, a) = (node.clone(), a.clone());
            std::thread::spawn(move || node.wait(&a))
        })
        .collect();
    // And waiting actors too.
    let actor_waiters: Vec<Address> = (0..4)
        .map(|_| {
            let a = a.clone();
            node.spawn(move |mb| mb.node().wait(&a))
        })
        .collect();
    a.send("result").unwrap();
    for w in waiters {
        assert_eq!(w.join().unwrap(), Ok(json!("result")));
    }
    for w in &actor_waiters {
        assert_eq!(node.wait(w), Ok(json!("result")));
    }
}

#[test]
fn wait_all_keeps_the_order() {
    let node = node();
    let mut inbox = node.inbox();
    let slow = blocked(&node, &inbox);
    await_ready(&mut inbox, &slow);
    let addrs = vec![
        slow.clone(),
        node.spawn(|_| json!(1)),
        node.spawn(|_| -> Result<(), String> { Err("no".into()) }),
        node.spawn(|_| -> () { panic!("p") }),
        unknown(&node),
    ];
    slow.send("slow").unwrap();
    assert_eq!(
        node.wait_all(&addrs),
        vec![
            Ok(json!("slow")),
            Ok(json!(1)),
            Err(ExitReason::Failed("no".into())),
            Err(ExitReason::Panicked("p".into())),
            Err(ExitReason::NoSuchActor),
        ]
    );
    assert_eq!(node.wait_all(&[]), vec![]);
}

#[test]
fn sending_to_an_ended_actor_is_a_dead_actor_error() {
    let node = node();
    let a = node.spawn(|mut mb| mb.receive());
    a.send("one").unwrap();
    assert_eq!(node.wait(&a), Ok(json!("one")));
    assert_eq!(a.send("two"), Err(SendError::DeadActor(a.clone())));
    assert_eq!(a.send_ref("three"), Err(SendError::DeadActor(a.clone())));
    assert_eq!(&a | json!(4), Err(SendError::DeadActor(a.clone())));
    assert_eq!(a.kill(), Err(SendError::DeadActor(a.clone())));
    let parsed: Address = a.to_string().parse().unwrap();
    assert_eq!(parsed.send("five"), Err(SendError::DeadActor(a.clone())));
    let err = a.send("six").unwrap_err();
    assert!(err.to_string().contains(&a.to_string()), "{err}");
    // The same from inside another actor.
    let b = {
        let a = a.clone();
        node.spawn(move |_| a.send("seven"))
    };
    assert_eq!(
        node.wait(&b),
        Err(ExitReason::Failed(
            SendError::DeadActor(a.clone()).to_string()
        ))
    );
}

#[test]
fn a_panic_ends_only_the_actor_that_panicked() {
    let node = node();
    let mut inbox = node.inbox();
    // An echo server that outlives the crashes.
    let echo = node.spawn(|mut mb| {
        loop {
            let m = mb.receive();
            if m == "stop" {
                return json!("stopped");
            }
            let to: Address = serde_json::from_value(m["to"].clone()).unwrap();
            to.send(m["n"].clone()).unwrap();
        }
    });
    let me = inbox.addr();
    echo.send(json!({"to": me, "n": 1})).unwrap();
    assert_eq!(inbox.receive(), 1);

    let crashers: Vec<Address> = (0..20)
        .map(|i| node.spawn(move |_| -> () { panic!("crash {i}") }))
        .collect();
    for (i, c) in crashers.iter().enumerate() {
        assert_eq!(
            node.wait(c),
            Err(ExitReason::Panicked(format!("crash {i}")))
        );
    }

    // The server still serves, and the node still spawns.
    echo.send(json!({"to": me, "n": 2})).unwrap();
    assert_eq!(inbox.receive(), 2);
    let fresh = node.spawn(|mut mb| mb.receive());
    fresh.send("after the crash").unwrap();
    assert_eq!(node.wait(&fresh), Ok(json!("after the crash")));
    echo.send("stop").unwrap();
    assert_eq!(node.wait(&echo), Ok(json!("stopped")));
}

#[test]
fn curaddr_and_current_node_inside_an_actor() {
    let node = node();
    let a = node.spawn(|mb| {
        let me = curaddr().unwrap();
        let here = current_node().unwrap();
        json!({"me": me, "mb": mb.addr(), "node": here.name(), "same": &here == mb.node()})
    });
    let got = node.wait(&a).unwrap();
    assert_eq!(got["me"], json!(a));
    assert_eq!(got["mb"], json!(a));
    assert_eq!(got["node"], node.name());
    assert_eq!(got["same"], true);
}

#[test]
fn curaddr_outside_any_actor() {
    let node = node();
    let (before, after, inbox_addr) = std::thread::spawn(move || {
        let before = (curaddr(), current_node());
        let inbox = node.inbox();
        let after = (curaddr(), current_node().map(|n| n.name().to_string()));
        (before, after, inbox.addr())
    })
    .join()
    .unwrap();
    assert_eq!(before.0, None);
    assert!(before.1.is_none());
    assert_eq!(after.0, Some(inbox_addr.clone()));
    assert_eq!(after.1.as_deref(), Some(inbox_addr.node_id()));
}

#[test]
fn the_free_spawn_starts_actors_on_the_current_node() {
    let node = node();
    let parent = node.spawn(|mb| {
        let me = curaddr().unwrap();
        let children: Vec<Address> = (0..10)
            .map(|i| {
                let parent = me.clone();
                spawn(move |_| json!({"i": i, "parent": parent, "me": curaddr().unwrap()}))
            })
            .collect();
        let results: Vec<Value> = children
            .iter()
            .map(|c| mb.node().wait(c).unwrap())
            .collect();
        json!({"children": children, "results": results})
    });
    let got = node.wait(&parent).unwrap();
    let children: Vec<Address> = serde_json::from_value(got["children"].clone()).unwrap();
    assert_eq!(children.len(), 10);
    assert_eq!(children.iter().collect::<HashSet<_>>().len(), 10);
    for (i, c) in children.iter().enumerate() {
        assert_eq!(c.node_id(), node.name());
        assert_eq!(
            got["results"][i],
            json!({"i": i, "parent": parent, "me": c})
        );
        // Ended, with its result recorded on this node.
        assert_eq!(node.wait(c).unwrap()["i"], i);
    }
}

#[test]
fn the_free_spawn_outside_an_actor_panics() {
    let r = std::thread::spawn(|| spawn(|_| ())).join();
    assert!(r.is_err());
}

struct Counter {
    total: i64,
}

impl Actor for Counter {
    fn run(mut self, mut mailbox: Mailbox) -> impl IntoExit {
        loop {
            match mailbox.receive() {
                Value::Number(n) => self.total += n.as_i64().unwrap_or(0),
                _ => return json!(self.total),
            }
        }
    }
}

struct Picky;

impl Actor for Picky {
    fn run(self, mut mailbox: Mailbox) -> impl IntoExit {
        let m = mailbox.receive();
        if m == "good" {
            Ok(json!("accepted"))
        } else {
            Err(format!("rejected {m}"))
        }
    }
}

#[test]
fn struct_actors() {
    let node = node();
    let c = node.spawn_actor(Counter { total: 100 });
    for n in 1..=4 {
        (&c | n).unwrap();
    }
    (&c | "stop").unwrap();
    assert_eq!(node.wait(&c), Ok(json!(110)));
    let good = node.spawn_actor(Picky);
    let bad = node.spawn_actor(Picky);
    good.send("good").unwrap();
    bad.send("bad").unwrap();
    assert_eq!(node.wait(&good), Ok(json!("accepted")));
    assert_eq!(
        node.wait(&bad),
        Err(ExitReason::Failed("rejected \"bad\"".into()))
    );
}

#[test]
fn actor_count_follows_the_actors_of_one_node() {
    let node = node();
    assert_eq!(node.actor_count(), 0);
    let mut inbox = node.inbox();
    assert_eq!(node.actor_count(), 1);
    let addrs: Vec<Address> = (0..10).map(|_| blocked(&node, &inbox)).collect();
    for a in &addrs {
        await_ready(&mut inbox, a);
    }
    assert_eq!(node.actor_count(), 11);
    for a in &addrs {
        a.send("go").unwrap();
    }
    assert!(node.wait_all(&addrs).iter().all(|r| r == &Ok(json!("go"))));
    assert_eq!(node.actor_count(), 1);
    drop(inbox);
    assert_eq!(node.actor_count(), 0);
}

#[test]
fn exit_reason_json_encoding() {
    let node = node();
    let a = unknown(&node);
    let cases = [
        (ExitReason::Normal(json!([1])), json!({"normal": [1]})),
        (ExitReason::Failed("e".into()), json!({"error": "e"})),
        (ExitReason::Panicked("p".into()), json!({"panic": "p"})),
        (ExitReason::Killed, json!("killed")),
        (ExitReason::NoSuchActor, json!("noproc")),
        (ExitReason::NoConnection, json!("noconnection")),
        (ExitReason::Shutdown, json!("shutdown")),
        (
            ExitReason::Linked {
                from: a.clone(),
                reason: Box::new(ExitReason::Killed),
            },
            json!({"linked": {"from": a, "reason": "killed"}}),
        ),
    ];
    for (reason, want) in cases {
        assert_eq!(reason.to_json(), want, "{reason:?}");
        assert_eq!(serde_json::to_value(&reason).unwrap(), want);
        assert_eq!(serde_json::from_value::<ExitReason>(want).unwrap(), reason);
        assert_eq!(reason.is_normal(), matches!(reason, ExitReason::Normal(_)));
        assert!(!reason.to_string().is_empty());
    }
    assert_eq!(ExitReason::Normal(json!(3)).into_result(), Ok(json!(3)));
    assert_eq!(ExitReason::Killed.into_result(), Err(ExitReason::Killed));
}
