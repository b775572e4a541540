//! Actors spawned with `SpawnOptions::start_on_message` (src/mailbox/dormant.rs): no
//! coroutine until the first envelope arrives. Their function runs then and gets that
//! envelope first; before it, they are reachable like any actor (names, links, monitors,
//! `wait`, kills, a node's shutdown), and an envelope from a thread, an actor or another
//! node wakes them. One killed before any message never runs its function.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

#[allow(dead_code)] // each test binary uses part of the shared helpers
mod common;

use common::eventually;
use pyact::observe::Status;
use pyact::{Address, ExitReason, Mailbox, Mesh, Node, SpawnOptions, json, pattern};

fn node() -> Node {
    Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap()
}

fn dormant() -> SpawnOptions {
    SpawnOptions::new().start_on_message()
}

/// Generous: outcomes on a loaded box, not timings.
const PATIENCE: Duration = Duration::from_secs(60);

/// An actor's end, within [`PATIENCE`] (a test may fail, never hang).
fn wait(a: &Address) -> Result<pyact::Value, ExitReason> {
    a.wait_timeout(PATIENCE).expect("the actor ends in time")
}

fn status(node: &Node, a: &Address) -> Status {
    node.info(a).expect("alive").status
}

/// A function that records that it ran, then returns the first message it receives.
fn recorded(ran: &Arc<AtomicBool>) -> impl FnOnce(Mailbox) -> pyact::Value + Send + 'static {
    let ran = ran.clone();
    move |mut mb| {
        ran.store(true, Ordering::SeqCst);
        mb.receive()
    }
}

#[test]
fn its_function_runs_only_when_the_first_message_arrives_and_receives_it() {
    let n = node();
    let mut inbox = n.inbox();
    let me = inbox.addr();
    let a = n
        .spawn_opts(dormant(), move |mut mb| {
            // Code before the first receive: runs only once something arrived.
            me.send("started").unwrap();
            json!({"first": mb.receive(), "second": mb.receive()})
        })
        .unwrap();
    // Nothing can start it: no message has been sent, so this is not a race.
    assert_eq!(status(&n, &a), Status::Dormant);
    assert_eq!(json!(Status::Dormant), "dormant");
    assert_eq!(inbox.try_receive(), None);
    assert!(pyact::actor::live_actors() >= 1, "it holds a live slot");
    a.send(1).unwrap();
    assert_eq!(inbox.receive_timeout(PATIENCE).unwrap(), "started");
    a.send(2).unwrap();
    assert_eq!(wait(&a).unwrap(), json!({"first": 1, "second": 2}));
}

#[test]
fn a_kill_before_any_message_ends_it_without_running_its_function() {
    let n = node();
    let ran = Arc::new(AtomicBool::new(false));
    let a = n.spawn_opts(dormant(), recorded(&ran)).unwrap();
    let mut inbox = n.inbox();
    let r = inbox.monitor(&a);
    a.kill().unwrap();
    assert_eq!(wait(&a), Err(ExitReason::Killed));
    // The monitor fired, with the kill as the reason.
    let (_, down) = inbox
        .receive_match_timeout(&[&pattern!({"down": = r})], PATIENCE)
        .unwrap();
    assert_eq!(down["exit"], json!(ExitReason::Killed));
    assert!(
        !ran.load(Ordering::SeqCst),
        "a killed dormant actor never runs"
    );
    assert!(n.info(&a).is_none());
}

#[test]
fn a_linked_crash_ends_it_unrun_and_a_normal_end_wakes_it() {
    let n = node();
    // An abnormal exit signal is deadly to an actor that does not trap exits: it ends
    // the dormant actor without running it, with the link's reason.
    let ran = Arc::new(AtomicBool::new(false));
    let victim = n.spawn_opts(dormant(), recorded(&ran)).unwrap();
    let v = victim.clone();
    let crasher = n.spawn(move |mut mb| -> () {
        mb.link(&v);
        panic!("crash")
    });
    match wait(&victim) {
        Err(ExitReason::Linked { from, reason }) => {
            assert_eq!(from, crasher);
            assert_eq!(*reason, ExitReason::Panicked("crash".into()));
        }
        other => panic!("{other:?}"),
    }
    assert!(!ran.load(Ordering::SeqCst));

    // A normal exit signal is an envelope like any other: it wakes the actor, whose
    // receive drops it (it does not trap exits) and waits for a real message.
    let ran = Arc::new(AtomicBool::new(false));
    let woken = n.spawn_opts(dormant(), recorded(&ran)).unwrap();
    let w = woken.clone();
    let quitter = n.spawn(move |mut mb| mb.link(&w));
    wait(&quitter).unwrap();
    eventually("the normal exit signal to wake it", || {
        ran.load(Ordering::SeqCst)
    });
    eventually("it to wait in its receive", || {
        status(&n, &woken) == Status::Receiving
    });
    woken.send("real").unwrap();
    assert_eq!(wait(&woken).unwrap(), "real");
}

#[test]
fn a_name_reaches_it_and_wakes_it() {
    let n = node();
    let a = n
        .spawn_opts(dormant(), |mut mb| json!({"got": mb.receive()}))
        .unwrap();
    n.register("sleeper", &a).unwrap();
    assert_eq!(n.whereis("sleeper"), Some(a.clone()));
    assert_eq!(status(&n, &a), Status::Dormant);
    n.send_named("sleeper", "by name").unwrap();
    assert_eq!(wait(&a).unwrap(), json!({"got": "by name"}));
}

#[test]
fn a_node_shutdown_ends_dormant_actors_unrun() {
    let n = node();
    let runs = Arc::new(AtomicUsize::new(0));
    let all: Vec<Address> = (0..200)
        .map(|_| {
            let runs = runs.clone();
            n.spawn_opts(dormant(), move |mut mb| {
                runs.fetch_add(1, Ordering::SeqCst);
                mb.receive()
            })
            .unwrap()
        })
        .collect();
    n.shutdown();
    for a in &all {
        assert_eq!(wait(a), Err(ExitReason::Killed));
    }
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[test]
fn a_message_from_another_node_wakes_it() {
    let a = node();
    let b = node();
    let echo = b
        .spawn_opts(dormant(), |mut mb| {
            let m = mb.receive();
            let to: Address = serde_json::from_value(m["reply_to"].clone()).unwrap();
            to.send(json!({"echo": m["n"]})).unwrap();
        })
        .unwrap();
    assert_eq!(status(&b, &echo), Status::Dormant);
    let mut inbox = a.inbox();
    echo.send(json!({"reply_to": inbox.addr(), "n": 7}))
        .unwrap();
    assert_eq!(inbox.receive_timeout(PATIENCE).unwrap(), json!({"echo": 7}));
    assert_eq!(wait(&echo), Ok(pyact::Value::Null));
}

/// The seed's ring with dormant forwarders, built by an actor (whose wakes may queue the
/// forwarders in the pool) and by a thread: the message comes around, and every forwarder
/// ran exactly once.
#[test]
fn a_ring_of_dormant_forwarders_passes_its_message() {
    const N: usize = 3000;
    let n = node();
    let hops = Arc::new(AtomicUsize::new(0));
    let ring = |node: &Node, head: Address, hops: &Arc<AtomicUsize>| -> Vec<Address> {
        let mut ring: Vec<Address> = Vec::with_capacity(N);
        for _ in 0..N {
            let next = ring.last().cloned().unwrap_or_else(|| head.clone());
            let hops = hops.clone();
            ring.push(
                node.spawn_opts(dormant(), move |mut mb| {
                    hops.fetch_add(1, Ordering::SeqCst);
                    let m = mb.receive();
                    next.send(m).unwrap();
                })
                .unwrap(),
            );
        }
        ring
    };
    let h = hops.clone();
    let builder = n.spawn(move |mut mb| {
        let node = mb.node().clone();
        let ring = ring(&node, mb.addr(), &h);
        ring.last().unwrap().send("around").unwrap();
        mb.receive()
    });
    assert_eq!(wait(&builder).unwrap(), "around");
    let mut inbox = n.inbox();
    let from_thread = ring(&n, inbox.addr(), &hops);
    from_thread.last().unwrap().send("again").unwrap();
    assert_eq!(inbox.receive_timeout(PATIENCE).unwrap(), "again");
    for a in &from_thread {
        wait(a).unwrap();
    }
    assert_eq!(hops.load(Ordering::SeqCst), 2 * N);
}

/// A supervisor's child spec carries the option: the restarted child is dormant again.
#[test]
fn a_supervised_dormant_child_is_restarted_dormant() {
    use pyact::supervisor::{ChildSpec, Strategy, Supervisor, which_children};
    let n = node();
    let child = |sup: &Address| -> Option<Address> {
        which_children(sup, PATIENCE).unwrap()[0].address.clone()
    };
    let spec = ChildSpec::new("worker", |mut mb: Mailbox| {
        if mb.receive() == "crash" {
            panic!("asked to")
        }
    })
    .start_on_message();
    let sup = Supervisor::new(Strategy::OneForOne).child(spec).spawn(&n);
    let first = child(&sup).unwrap();
    assert_eq!(status(&n, &first), Status::Dormant);
    first.send("crash").unwrap();
    assert!(matches!(wait(&first), Err(ExitReason::Panicked(_))));
    let mut second = None;
    eventually("a restarted child", || {
        second = child(&sup).filter(|c| *c != first);
        second.is_some()
    });
    assert_eq!(status(&n, &second.unwrap()), Status::Dormant);
}

/// A child that starts synchronously (a server's init) cannot wait for a message: the
/// option is ignored for it, and its start does not hang.
#[test]
fn a_synchronous_child_ignores_the_option() {
    use pyact::server::{Context, Server, ServerError};
    use pyact::supervisor::{ChildSpec, Strategy, Supervisor, which_children};
    struct Ping;
    impl Server for Ping {
        fn handle_call(
            &mut self,
            _: &str,
            _: pyact::Value,
            _: &mut Context,
        ) -> Result<pyact::Value, ServerError> {
            Ok("pong".into())
        }
    }
    let n = node();
    let sup = Supervisor::new(Strategy::OneForOne)
        .child(ChildSpec::server("ping", || Ping).start_on_message())
        .spawn(&n);
    let ping = which_children(&sup, PATIENCE).unwrap()[0]
        .address
        .clone()
        .unwrap();
    assert_ne!(status(&n, &ping), Status::Dormant);
    assert_eq!(ping.call("ping", json!(null), PATIENCE).unwrap(), "pong");
}
