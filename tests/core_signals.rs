//! Exit signals act at every pyact call, not only at receive (issue 8, rows 3-5): a kill
//! reaches an actor that only sends, spawns, waits, sleeps, yields or is blocked in a call;
//! `unlink` cancels a signal of that link that arrived but was not handled.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pyact::{Address, ExitReason, Mailbox, Mesh, Node, Value, curaddr, json, pattern};

/// Long enough for any loaded machine; a test that needs it has failed anyway.
const LONG: Duration = Duration::from_secs(60);

fn node() -> Node {
    Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap()
}

fn await_ready(inbox: &mut Mailbox, who: &Address) {
    inbox
        .receive_match_timeout(&[&pattern!({"ready": = who})], LONG)
        .expect("the actor said it was ready");
}

/// Spawn an actor that says "ready", then runs `body` (which never receives) for at most
/// [`LONG`] and returns "survived" if it was not ended on the way.
fn busy(node: &Node, inbox: &Mailbox, body: fn(&Address)) -> Address {
    let me = inbox.addr();
    let dead = node.spawn(|_| ());
    node.wait(&dead).unwrap();
    node.spawn(move |_mb| {
        me.send(json!({"ready": curaddr().unwrap()})).unwrap();
        let t0 = Instant::now();
        while t0.elapsed() < LONG {
            body(&dead);
        }
        json!("survived")
    })
}

fn killed_while(body: fn(&Address)) {
    let node = node();
    let mut inbox = node.inbox();
    let a = busy(&node, &inbox, body);
    await_ready(&mut inbox, &a);
    a.kill().unwrap();
    assert_eq!(node.wait(&a), Err(ExitReason::Killed));
}

#[test]
fn a_kill_reaches_an_actor_that_only_sends() {
    killed_while(|dead| {
        let _ = dead.send("into the void");
    });
}

#[test]
fn a_kill_reaches_an_actor_that_only_spawns() {
    killed_while(|_| {
        let _ = pyact::spawn(|_| ());
    });
}

#[test]
fn a_kill_reaches_an_actor_that_only_waits() {
    killed_while(|dead| {
        let _ = pyact::actor::current_node().unwrap().wait(dead);
    });
}

#[test]
fn a_kill_reaches_an_actor_that_only_yields() {
    killed_while(|_| pyact::actor::yield_now());
}

#[test]
fn a_kill_ends_a_sleeping_actor_at_once() {
    killed_while(|_| pyact::actor::sleep(LONG * 2));
}

#[test]
fn an_exit_signal_reaches_an_actor_that_only_sends() {
    let node = node();
    let mut inbox = node.inbox();
    let a = busy(&node, &inbox, |dead| {
        let _ = dead.send(1);
    });
    await_ready(&mut inbox, &a);
    a.exit(&inbox.addr(), ExitReason::Shutdown).unwrap();
    assert_eq!(node.wait(&a), Err(ExitReason::Shutdown));
}

#[test]
fn a_kill_reaches_an_actor_waiting_on_another_actor() {
    let node = node();
    let mut inbox = node.inbox();
    let me = inbox.addr();
    let forever = node.spawn(|mut mb| {
        mb.receive();
    });
    let f2 = forever.clone();
    let a = node.spawn(move |_mb| {
        me.send(json!({"ready": curaddr().unwrap()})).unwrap();
        pyact::actor::current_node().unwrap().wait(&f2)
    });
    await_ready(&mut inbox, &a);
    a.kill().unwrap();
    assert_eq!(node.wait(&a), Err(ExitReason::Killed));
    forever.send("stop").unwrap();
}

#[test]
fn a_kill_ends_an_actor_blocked_in_a_call_at_once_with_killed() {
    let node = node();
    let mut inbox = node.inbox();
    let me = inbox.addr();
    // A server that takes requests and never answers.
    let mute = node.spawn(|mut mb| {
        loop {
            if mb.receive() == "stop" {
                return;
            }
        }
    });
    let m2 = mute.clone();
    let caller = node.spawn(move |_mb| {
        me.send(json!({"ready": curaddr().unwrap()})).unwrap();
        match m2.call("anything", Value::Null, LONG) {
            Ok(v) => json!({"answer": v}),
            Err(e) => json!({"error": e.to_string()}),
        }
    });
    await_ready(&mut inbox, &caller);
    caller.kill().unwrap();
    assert_eq!(node.wait(&caller), Err(ExitReason::Killed));
    mute.send("stop").unwrap();
}

#[test]
fn a_trapping_actor_still_dies_of_a_kill_outside_receive() {
    let node = node();
    let mut inbox = node.inbox();
    let me = inbox.addr();
    let a = node.spawn(move |mut mb| {
        mb.trap_exit(true);
        me.send(json!({"ready": curaddr().unwrap()})).unwrap();
        let t0 = Instant::now();
        while t0.elapsed() < LONG {
            pyact::actor::yield_now();
        }
        json!("survived")
    });
    await_ready(&mut inbox, &a);
    // A trapped exit does not end it...
    a.exit(&inbox.addr(), ExitReason::Shutdown).unwrap();
    // ...a kill does.
    a.kill().unwrap();
    assert_eq!(node.wait(&a), Err(ExitReason::Killed));
}

#[test]
fn unlink_cancels_an_exit_signal_that_arrived_but_was_not_handled() {
    let node = node();
    let mut inbox = node.inbox();
    let me = inbox.addr();
    let crasher = node.spawn(|mut mb| -> () {
        mb.receive();
        panic!("crash on purpose");
    });
    let go = Arc::new(AtomicBool::new(false));
    let (c2, go2) = (crasher.clone(), go.clone());
    let a = node.spawn(move |mut mb| {
        mb.link(&c2);
        me.send(json!({"ready": curaddr().unwrap()})).unwrap();
        // No pyact call until the crash's exit signal has arrived: `may`'s own yield.
        while !go2.load(Ordering::Acquire) {
            may::coroutine::yield_now();
        }
        mb.unlink(&c2);
        // The signal that arrived before `unlink` must not act now.
        mb.receive()
    });
    await_ready(&mut inbox, &a);
    // The DOWN comes after the link's exit signal (an actor's end notifies links first).
    let r = inbox.monitor(&crasher);
    crasher.send("crash").unwrap();
    inbox
        .receive_match_timeout(&[&pattern!({"down": = r})], LONG)
        .expect("the crasher's DOWN");
    go.store(true, Ordering::Release);
    a.send("still alive").unwrap();
    assert_eq!(node.wait(&a), Ok(json!("still alive")));
}

#[test]
fn a_normal_exit_of_a_link_still_does_not_end_a_busy_actor() {
    let node = node();
    let mut inbox = node.inbox();
    let me = inbox.addr();
    let quitter = node.spawn(|mut mb| {
        mb.receive();
    });
    let q2 = quitter.clone();
    let a = node.spawn(move |mut mb| {
        mb.link(&q2);
        me.send(json!({"ready": curaddr().unwrap()})).unwrap();
        mb.receive()
    });
    await_ready(&mut inbox, &a);
    quitter.send("quit").unwrap();
    node.wait(&quitter).unwrap();
    a.send("fine").unwrap();
    assert_eq!(node.wait(&a), Ok(json!("fine")));
}
