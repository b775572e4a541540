//! Actors spawned before they have a coroutine (src/pool.rs, "Spawned before it has a
//! coroutine"): an actor spawned by an actor while no coroutine is idle waits in the pool's
//! queue. Every queued actor starts (even when all running actors block; when its spawner
//! spins without a pyact call: `spawn_queue_stuck.rs`), runs on a clean coroutine, and is
//! reachable before it starts: kills, exit signals, links, monitors, messages and a node's
//! shutdown all act on it. Tests run one at a time (`SERIAL`), so that one test's actors do
//! not free coroutines for another's.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use pyact::observe::Status;
use pyact::{Address, ExitReason, Mailbox, Mesh, Node, curaddr, json, pattern, spawn};

fn node() -> Node {
    Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap()
}

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Generous: these are outcomes on a loaded box, not timings.
const PATIENCE: Duration = Duration::from_secs(120);

/// Children that announce their start to `parent`, then block in `receive` until told to
/// stop: the N-th can only start if someone runs it while the others block.
fn blocker(parent: Address) -> impl FnOnce(Mailbox) + Send + 'static {
    move |mut mb| {
        parent.send(json!({"started": mb.addr()})).unwrap();
        let _ = mb.receive();
    }
}

/// Collect `n` start announcements, stop the children and wait for them; returns how many
/// announced.
fn start_and_stop(node: &Node, mb: &mut Mailbox, children: &[Address]) -> usize {
    let mut started = 0;
    while started < children.len() {
        match mb.receive_timeout(PATIENCE) {
            Ok(_) => started += 1,
            Err(_) => break,
        }
    }
    for c in children {
        c.send("stop").unwrap();
    }
    for c in children {
        node.wait(c).unwrap();
    }
    started
}

#[test]
fn actors_that_all_block_in_receive_all_start_when_spawned_by_an_actor() {
    let _s = serial();
    const N: usize = 2000;
    let n = node();
    let parent = n.spawn(|mut mb| {
        let node = mb.node().clone();
        let me = mb.addr();
        let children: Vec<Address> = (0..N).map(|_| spawn(blocker(me.clone()))).collect();
        json!(start_and_stop(&node, &mut mb, &children))
    });
    assert_eq!(n.wait(&parent).unwrap(), json!(N));
}

#[test]
fn actors_that_all_block_in_receive_all_start_when_spawned_by_a_thread() {
    let _s = serial();
    const N: usize = 2000;
    let n = node();
    let mut inbox = n.inbox();
    let me = inbox.addr();
    let children: Vec<Address> = (0..N).map(|_| n.spawn(blocker(me.clone()))).collect();
    assert_eq!(start_and_stop(&n, &mut inbox, &children), N);
}

#[test]
fn a_burst_of_short_actors_spawned_by_an_actor_runs_on_few_coroutines() {
    let _s = serial();
    // More than any other test here leaves idle: without the queue, most of these would get
    // a fresh coroutine (each one's stack stays allocated in the pool afterwards).
    const N: usize = 20_000;
    let n = node();
    let before = generator::stacks_in_use();
    let parent = n.spawn(|_| {
        let node = pyact::actor::current_node().unwrap();
        let children: Vec<Address> = (0..N).map(|_| spawn(|_| {})).collect();
        for c in &children {
            node.wait(c).unwrap();
        }
    });
    n.wait(&parent).unwrap();
    let grown = generator::stacks_in_use().saturating_sub(before);
    assert!(
        grown < N / 4,
        "{N} short actors took {grown} new coroutine stacks"
    );
}

may::coroutine_local!(static LEFT: std::cell::Cell<u64> = std::cell::Cell::new(0));

#[test]
fn queued_actors_start_clean_on_shared_coroutines() {
    let _s = serial();
    const N: usize = 3000;
    let n = node();
    let dirty = Arc::new(AtomicUsize::new(0));
    let d = dirty.clone();
    let parent = n.spawn(move |_| {
        let node = pyact::actor::current_node().unwrap();
        let children: Vec<Address> = (0..N as u64)
            .map(|i| {
                let d = d.clone();
                spawn(move |mut mb: Mailbox| {
                    // The context is this actor's, coroutine-locals start fresh, the mailbox
                    // is empty: nothing of the actor that ran before on this coroutine.
                    let clean = curaddr() == Some(mb.addr())
                        && LEFT.with(|l| l.get()) == 0
                        && mb.try_receive().is_none();
                    if !clean {
                        d.fetch_add(1, Ordering::Relaxed);
                    }
                    LEFT.with(|l| l.set(i + 1));
                    let node = pyact::actor::current_node().unwrap();
                    node.register(&format!("queued-{i}"), &mb.addr()).unwrap();
                })
            })
            .collect();
        for c in &children {
            node.wait(c).unwrap();
        }
    });
    n.wait(&parent).unwrap();
    assert_eq!(dirty.load(Ordering::Relaxed), 0);
    // No name outlived its actor.
    assert!(n.registered().is_empty(), "{:?}", n.registered());
}

/// From inside an actor: spawn `victim`s (each given a fresh "it ran" flag) until one is
/// seen waiting for a coroutine, and return it with its flag. Nothing unparks the queue
/// meanwhile: this actor neither blocks nor ends, and the test runs alone.
fn spawn_queued<F>(mut victim: impl FnMut(Arc<AtomicBool>) -> F) -> (Address, Arc<AtomicBool>)
where
    F: FnOnce(Mailbox) + Send + 'static,
{
    let node = pyact::actor::current_node().unwrap();
    for _ in 0..100_000 {
        let ran = Arc::new(AtomicBool::new(false));
        let a = spawn(victim(ran.clone()));
        if node.info(&a).is_some_and(|i| i.status == Status::Starting) {
            return (a, ran);
        }
    }
    panic!("no spawn from an actor was ever queued");
}

/// A victim that notes it ran, then waits for anything.
fn runs_then_receives(ran: Arc<AtomicBool>) -> impl FnOnce(Mailbox) + Send + 'static {
    move |mut mb| {
        ran.store(true, Ordering::SeqCst);
        let _ = mb.receive();
    }
}

/// Spawned while `victim`s are spawned: the earlier ones block, each holding a coroutine.
fn stop_all(node: &Node) {
    for a in node.actors().into_iter().map(|(a, _)| a) {
        if Some(&a) != curaddr().as_ref() {
            let _ = a.kill();
        }
    }
}

#[test]
fn a_kill_ends_an_actor_that_has_not_started_and_it_never_runs() {
    let _s = serial();
    let n = node();
    let parent = n.spawn(|_| {
        let node = pyact::actor::current_node().unwrap();
        let (v, ran) = spawn_queued(runs_then_receives);
        v.kill().unwrap();
        // Still queued after the kill (not taken in between): it must never run.
        let still_queued = node.info(&v).is_some_and(|i| i.status == Status::Starting);
        let reason = node.wait(&v);
        stop_all(&node);
        json!({
            "killed": reason == Err(ExitReason::Killed),
            "ran": ran.load(Ordering::SeqCst),
            "still_queued": still_queued,
        })
    });
    let r = n.wait(&parent).unwrap();
    assert_eq!(r["killed"], true, "{r}");
    if r["still_queued"] == true {
        assert_eq!(r["ran"], false, "{r}");
    }
}

#[test]
fn links_monitors_exit_signals_and_messages_reach_an_actor_that_has_not_started() {
    let _s = serial();
    let n = node();
    let parent = n.spawn(|mut mb| {
        let node = pyact::actor::current_node().unwrap();
        mb.trap_exit(true);
        // A victim that reports the message it finds, then waits.
        let (got, _) = spawn_queued(|_| {
            let me = curaddr().unwrap();
            move |mut mb: Mailbox| {
                let m = mb.receive();
                me.send(json!({"got": m})).unwrap();
                let _ = mb.receive();
            }
        });
        got.send("early").unwrap();
        let seen = mb.receive_match(&[&pattern!({"got": str})]).1;
        // Linked and monitored while queued, then ended by an exit signal while queued.
        let (v, ran) = spawn_queued(runs_then_receives);
        mb.link(&v);
        let r = mb.monitor(&v);
        let me = mb.addr();
        v.exit(&me, ExitReason::Normal(json!("ignored"))).unwrap();
        v.exit(&me, ExitReason::Panicked("boom".into())).unwrap();
        let still_queued = node.info(&v).is_some_and(|i| i.status == Status::Starting);
        let down = mb
            .receive_match(&[&pattern!({"down": = r, "address": = v})])
            .1;
        let exit = mb
            .receive_match(&[&pattern!({"address": = v, "exit": _})])
            .1;
        stop_all(&node);
        json!({
            "seen": seen["got"],
            "down": down["exit"],
            "exit": exit["exit"],
            "ran": ran.load(Ordering::SeqCst),
            "still_queued": still_queued,
        })
    });
    let r = n.wait(&parent).unwrap();
    assert_eq!(r["seen"], "early", "{r}");
    let boom = ExitReason::Panicked("boom".into()).to_json();
    assert_eq!(r["down"], boom, "{r}");
    assert_eq!(r["exit"], boom, "{r}");
    if r["still_queued"] == true {
        assert_eq!(r["ran"], false, "{r}");
    }
}

#[test]
fn a_queued_actor_on_a_node_that_shuts_down_ends_killed() {
    let _s = serial();
    let n = node();
    let (tx, rx) = std::sync::mpsc::channel();
    let (go, hold) = std::sync::mpsc::channel::<()>();
    let _parent = n.spawn(move |_| {
        let (v, ran) = spawn_queued(runs_then_receives);
        tx.send((v, ran)).unwrap();
        // Hold the queue, without a pyact call, until the node is gone.
        let _ = hold.recv_timeout(PATIENCE);
    });
    let (v, ran) = rx.recv_timeout(PATIENCE).unwrap();
    n.shutdown();
    let still_queued = n.info(&v).is_some_and(|i| i.status == Status::Starting);
    go.send(()).unwrap();
    // The parent's end, or this thread's wait, starts it: it ends killed.
    assert_eq!(n.wait(&v), Err(ExitReason::Killed));
    if still_queued {
        assert!(!ran.load(Ordering::SeqCst));
    }
}
