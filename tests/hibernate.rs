//! `Mailbox::hibernate` (src/mailbox/hibernate.rs): an actor gives its coroutine back until
//! its next message, then goes on with the function it gave, with the same mailbox; it stays
//! alive (address, name, links, monitors, `wait`) the whole time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[allow(dead_code)] // each test binary uses part of the shared helpers
mod common;

use common::eventually;
use pyact::link::{Down, Exit};
use pyact::observe::Status;
use pyact::{Address, ExitReason, Mailbox, Mesh, Node, Value, json, pattern};

const PATIENCE: Duration = Duration::from_secs(60);

fn node() -> Node {
    Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap()
}

/// Wait until `addr` shows `status` in `Node::info`.
fn until_status(node: &Node, addr: &Address, status: Status) {
    eventually(&format!("{addr} is {status:?}"), || {
        node.info(addr).map(|i| i.status) == Some(status)
    });
}

/// Receive one message, reply to it with `state + it`, hibernate with the new state; end
/// with the state on "stop".
fn adder(mut mb: Mailbox, state: i64) -> Value {
    let m = mb.receive();
    if m["n"].is_i64() {
        let state = state + m["n"].as_i64().unwrap();
        let to: Address = serde_json::from_value(m["to"].clone()).unwrap();
        to.send(json!(state)).unwrap();
        mb.hibernate(move |mb| adder(mb, state))
    }
    json!(state)
}

#[test]
fn hibernated_actors_give_their_coroutines_back_and_keep_their_state() {
    const N: usize = 2_000;
    let node = node();
    let mut inbox = node.inbox();
    let before = generator::stacks_in_use();
    let mut actors = Vec::with_capacity(N);
    for i in 0..N {
        let me = inbox.addr();
        // Each says it is up, then hibernates holding its number.
        let a = node.spawn(move |mb: Mailbox| {
            me.send(json!("up")).unwrap();
            mb.hibernate(move |mb| adder(mb, i as i64))
        });
        assert_eq!(inbox.receive_timeout(PATIENCE).unwrap(), "up");
        actors.push(a);
    }
    for a in &actors {
        until_status(&node, a, Status::Hibernating);
    }
    // Parked in `receive` instead, each would hold a coroutine (and its stack) of its own.
    let grown = generator::stacks_in_use().saturating_sub(before);
    assert!(grown < N / 4, "{N} hibernated actors hold {grown} stacks");
    assert_eq!(
        node.actor_count(),
        N + 1,
        "all alive (and this test's inbox)"
    );
    for a in &actors {
        a.send(json!({"n": 1000, "to": inbox.addr()})).unwrap();
    }
    let mut got: Vec<i64> = (0..N)
        .map(|_| inbox.receive_timeout(PATIENCE).unwrap().as_i64().unwrap())
        .collect();
    got.sort();
    assert_eq!(got, (0..N as i64).map(|i| i + 1000).collect::<Vec<_>>());
    // Each took its message and hibernated again: with nothing unread, none is started
    // before its next message.
    for a in &actors {
        until_status(&node, a, Status::Hibernating);
    }
    let grown = generator::stacks_in_use().saturating_sub(before);
    assert!(
        grown < N / 4,
        "{N} actors hibernated again hold {grown} stacks"
    );
    for (i, a) in actors.iter().enumerate() {
        a.send("stop").unwrap();
        assert_eq!(
            a.wait_timeout(PATIENCE).expect("ends in time"),
            Ok(json!(i as i64 + 1000))
        );
    }
}

#[test]
fn messages_waiting_when_it_hibernates_resume_it_at_once_and_are_kept_in_order() {
    let node = node();
    let mut inbox = node.inbox();
    let me = inbox.addr();
    let a = node.spawn(move |mut mb: Mailbox| {
        // "go" comes after two other messages: a selective receive saves them.
        mb.receive_match(&[&pattern!("go")]);
        assert_eq!(mb.saved_len(), 2);
        mb.hibernate(move |mut mb| {
            // Resumed with no new message: the saved ones are waiting.
            me.send(json!("resumed")).unwrap();
            let first = mb.receive();
            let second = mb.receive();
            let third = mb.receive(); // sent after "resumed"
            me.send(json!([first, second, third])).unwrap();
        })
    });
    a.send("one").unwrap();
    a.send("two").unwrap();
    a.send("go").unwrap();
    assert_eq!(inbox.receive_timeout(PATIENCE).unwrap(), "resumed");
    a.send("three").unwrap();
    assert_eq!(
        inbox.receive_timeout(PATIENCE).unwrap(),
        json!(["one", "two", "three"])
    );
    assert!(a.wait_timeout(PATIENCE).unwrap().is_ok());

    // Queued but not yet taken when it hibernates: resumed at once too, nothing lost.
    let me = inbox.addr();
    let b = node.spawn(move |mut mb: Mailbox| {
        mb.receive_match(&[&pattern!("go")]);
        let deadline = Instant::now() + PATIENCE;
        while mb.node().info(&mb.addr()).unwrap().mailbox_len == 0 {
            assert!(Instant::now() < deadline, "\"after go\" never arrived");
            pyact::actor::yield_now();
        }
        mb.hibernate(move |mut mb| {
            me.send(json!("resumed")).unwrap();
            me.send(mb.receive()).unwrap()
        })
    });
    b.send("go").unwrap();
    b.send("after go").unwrap();
    assert_eq!(inbox.receive_timeout(PATIENCE).unwrap(), "resumed");
    assert_eq!(inbox.receive_timeout(PATIENCE).unwrap(), "after go");
}

#[test]
fn links_monitors_trap_exit_and_name_survive_hibernation() {
    let node = node();
    let mut inbox = node.inbox();
    let me = inbox.addr();
    let watched = node.spawn(|mut mb: Mailbox| {
        mb.receive();
    });
    let linked = node.spawn(|mut mb: Mailbox| -> () {
        mb.receive();
        panic!("linked one crashed")
    });
    let a = {
        let (watched, linked) = (watched.clone(), linked.clone());
        node.spawn(move |mut mb: Mailbox| {
            mb.trap_exit(true);
            let r = mb.monitor(&watched);
            mb.link(&linked);
            me.send(json!("set")).unwrap();
            mb.hibernate(move |mut mb| {
                let down = Down::try_from(mb.receive()).expect("the monitor's DOWN");
                assert_eq!((down.reference, down.address), (r, watched));
                let exit = Exit::try_from(mb.receive()).expect("the trapped exit");
                assert_eq!(exit.address, linked);
                json!("both")
            })
        })
    };
    assert_eq!(inbox.receive_timeout(PATIENCE).unwrap(), "set");
    node.register("sleeper", &a).unwrap();
    until_status(&node, &a, Status::Hibernating);
    assert_eq!(node.whereis("sleeper"), Some(a.clone()));
    watched.send("end").unwrap();
    until_status(&node, &a, Status::Receiving);
    linked.send("crash").unwrap();
    assert_eq!(a.wait_timeout(PATIENCE).unwrap(), Ok(json!("both")));
    assert_eq!(node.whereis("sleeper"), None);
}

#[test]
fn a_kill_ends_a_hibernated_actor_without_resuming_it() {
    let node = node();
    let resumed = Arc::new(AtomicBool::new(false));
    let flag = resumed.clone();
    let a =
        node.spawn(move |mb: Mailbox| mb.hibernate(move |_mb| flag.store(true, Ordering::SeqCst)));
    until_status(&node, &a, Status::Hibernating);
    a.kill().unwrap();
    assert_eq!(a.wait_timeout(PATIENCE).unwrap(), Err(ExitReason::Killed));
    assert!(!resumed.load(Ordering::SeqCst));

    // An abnormal exit signal it does not trap: the same, with the signal's reason.
    let resumed = Arc::new(AtomicBool::new(false));
    let flag = resumed.clone();
    let b =
        node.spawn(move |mb: Mailbox| mb.hibernate(move |_mb| flag.store(true, Ordering::SeqCst)));
    until_status(&node, &b, Status::Hibernating);
    let inbox = node.inbox();
    b.exit(&inbox.addr(), ExitReason::Failed("go away".into()))
        .unwrap();
    assert_eq!(
        b.wait_timeout(PATIENCE).unwrap(),
        Err(ExitReason::Failed("go away".into()))
    );
    assert!(!resumed.load(Ordering::SeqCst));
}

/// With mail always waiting, every hibernation resumes at once: from the bottom of the
/// coroutine's stack, not nested in the last round (100,000 nested rounds would overflow
/// the stack and abort the test binary).
#[test]
fn hibernating_every_round_does_not_grow_the_stack() {
    const ROUNDS: i64 = 100_000;
    fn count(mut mb: Mailbox, n: i64) -> Value {
        match mb.receive().as_i64() {
            Some(_) => mb.hibernate(move |mb| count(mb, n + 1)),
            None => json!(n),
        }
    }
    let node = node();
    let a = node.spawn(|mb| count(mb, 0));
    for i in 0..ROUNDS {
        a.send(json!(i)).unwrap();
    }
    a.send("stop").unwrap();
    assert_eq!(
        a.wait_timeout(Duration::from_secs(300)).unwrap(),
        Ok(json!(ROUNDS))
    );
}

#[test]
#[should_panic(expected = "cannot hibernate")]
fn a_threads_inbox_cannot_hibernate() {
    let node = node();
    let inbox = node.inbox();
    inbox.hibernate(|_mb| ());
}

/// A server that counts its calls, reports its `terminate` to `watcher`, and hibernates as
/// its first call's method says.
struct Tally {
    n: i64,
    watcher: Address,
    idle: Option<Duration>,
}

impl pyact::server::Server for Tally {
    fn init(&mut self, ctx: &mut pyact::server::Context) {
        ctx.hibernate_after(self.idle);
    }

    fn handle_call(
        &mut self,
        method: &str,
        _: Value,
        ctx: &mut pyact::server::Context,
    ) -> Result<Value, pyact::server::ServerError> {
        self.n += 1;
        if method == "tick and sleep" {
            ctx.hibernate();
        }
        Ok(json!(self.n))
    }

    fn terminate(&mut self, reason: &ExitReason, _: &mut pyact::server::Context) {
        let _ = self.watcher.send(json!({"terminated": reason.to_json()}));
    }
}

#[test]
fn a_server_hibernates_when_asked_and_after_idling_and_keeps_its_state() {
    let node = node();
    let mut inbox = node.inbox();
    let t = PATIENCE;
    // Asked by a handler.
    let s = node.spawn_server(Tally {
        n: 0,
        watcher: inbox.addr(),
        idle: None,
    });
    assert_eq!(s.call("tick and sleep", (), t).unwrap(), 1);
    until_status(&node, &s, Status::Hibernating);
    assert_eq!(s.call("tick", (), t).unwrap(), 2);
    until_status(&node, &s, Status::Receiving); // no hibernate_after: stays on its stack
    s.stop_server(t).unwrap();
    assert!(s.wait_timeout(t).unwrap().is_ok());
    // `terminate` ran once, at the stop: a hibernation is not an end.
    assert_eq!(
        inbox.receive_timeout(t).unwrap(),
        json!({"terminated": {"normal": null}})
    );
    assert_eq!(inbox.try_receive(), None);

    // After idling.
    let s = node.spawn_server(Tally {
        n: 10,
        watcher: inbox.addr(),
        idle: Some(Duration::from_millis(5)),
    });
    until_status(&node, &s, Status::Hibernating);
    assert_eq!(s.call("tick", (), t).unwrap(), 11);
    until_status(&node, &s, Status::Hibernating);
    assert_eq!(s.call("tick", (), t).unwrap(), 12);
    s.stop_server(t).unwrap();
    assert_eq!(
        inbox.receive_timeout(t).unwrap(),
        json!({"terminated": {"normal": null}})
    );
    assert_eq!(inbox.try_receive(), None);
}

#[test]
fn a_server_on_a_threads_inbox_goes_on_without_hibernating() {
    let node = node();
    let mut watcher = node.inbox();
    let (tx, rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let (n, w) = (node.clone(), watcher.addr());
    std::thread::spawn(move || {
        let inbox = n.inbox();
        tx.send(inbox.addr()).unwrap();
        let server = Tally {
            n: 0,
            watcher: w,
            idle: Some(Duration::from_millis(1)),
        };
        done_tx.send(pyact::server::serve(server, inbox)).unwrap();
    });
    let s = rx.recv_timeout(PATIENCE).unwrap();
    assert_eq!(s.call("tick and sleep", (), PATIENCE).unwrap(), 1);
    assert_eq!(s.call("tick", (), PATIENCE).unwrap(), 2);
    s.stop_server(PATIENCE).unwrap();
    let reason = done_rx.recv_timeout(PATIENCE).expect("serve returned");
    assert!(reason.is_normal(), "{reason:?}");
    assert_eq!(
        watcher.receive_timeout(PATIENCE).unwrap(),
        json!({"terminated": {"normal": null}})
    );
}

#[test]
fn a_node_shutdown_ends_hibernated_actors_unresumed() {
    let node = node();
    let resumed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let all: Vec<Address> = (0..200)
        .map(|_| {
            let resumed = resumed.clone();
            node.spawn(move |mb: Mailbox| {
                mb.hibernate(move |_mb| {
                    resumed.fetch_add(1, Ordering::SeqCst);
                })
            })
        })
        .collect();
    for a in &all {
        until_status(&node, a, Status::Hibernating);
    }
    node.shutdown();
    for a in &all {
        assert_eq!(a.wait_timeout(PATIENCE).unwrap(), Err(ExitReason::Killed));
    }
    assert_eq!(resumed.load(Ordering::SeqCst), 0);
}

#[test]
fn a_message_from_another_node_wakes_a_hibernated_actor() {
    let (a, b) = (node(), node());
    let echo = b.spawn(|mb: Mailbox| {
        mb.hibernate(|mut mb| {
            let m = mb.receive();
            let to: Address = serde_json::from_value(m["reply_to"].clone()).unwrap();
            to.send(json!({"echo": m["text"]})).unwrap();
        })
    });
    until_status(&b, &echo, Status::Hibernating);
    let mut inbox = a.inbox();
    echo.send(json!({"reply_to": inbox.addr(), "text": "over the wire"}))
        .unwrap();
    assert_eq!(
        inbox.receive_timeout(PATIENCE).unwrap(),
        json!({"echo": "over the wire"})
    );
}
