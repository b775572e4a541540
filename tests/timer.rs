//! `pyact::timer` (issue 17, item 4): one-shot and interval timers, cancel (also racing
//! the firing), exit and kill timers, to local and remote actors, and a shutdown with
//! 100,000 pending timers that leaves no thread, coroutine or timer behind.
//!
//! The tests of this binary run one at a time (`serial`): the leak test counts the process's
//! live coroutines and threads, which the others would change under it.

#[allow(dead_code)] // each test binary uses part of the shared helpers
mod common;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use common::wire::{RawPeer, eventually};
use pyact::link::Exit;
use pyact::testing::Probe;
use pyact::timer::{self, TimerError};
use pyact::{Address, ExitReason, Mesh, Node, NodeOptions, json, pattern};

/// The name a raw peer declares: nothing listens there, so the node can never dial it.
const RAW: &str = "127.0.0.1:1";

/// Generous: a loaded 2-core box.
const LONG: Duration = Duration::from_secs(30);
/// How long "nothing more arrives" is watched for: many times any delay a test uses.
const QUIET: Duration = Duration::from_millis(300);

fn serial() -> MutexGuard<'static, ()> {
    static ONE: Mutex<()> = Mutex::new(());
    ONE.lock().unwrap_or_else(|p| p.into_inner())
}

fn node() -> Node {
    Node::new(&Mesh::new(), "timer@127.0.0.1:0").unwrap()
}

/// Threads of this process named `name` (Linux: `/proc/self/task/*/comm`).
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|c| c.trim_end() == name)
                })
                .count()
        })
        .unwrap_or(0)
}

fn timer_thread(node: &Node) -> String {
    format!("timer-{}", node.name().rsplit(':').next().unwrap())
}

#[test]
fn one_shot_timers_fire_once_in_deadline_then_creation_order() {
    let _s = serial();
    let node = node();
    let mut probe = Probe::new(&node);
    let to = probe.addr();
    // Gaps of half a second: the order below holds unless this thread stalls that long.
    timer::send_after(&node, Duration::from_millis(500), &to, json!({"n": -1})).unwrap();
    // The same delay: due in creation order.
    for n in 0..100 {
        timer::send_after(&node, Duration::from_millis(1000), &to, json!({"n": n})).unwrap();
    }
    // Due before all the above, though created after them.
    timer::send_after(&node, Duration::ZERO, &to, json!({"n": -2})).unwrap();
    let mut got = Vec::new();
    for _ in 0..102 {
        got.push(
            probe.expect_msg(&pattern!({"n": int}), LONG)["n"]
                .as_i64()
                .unwrap(),
        );
    }
    let mut want = vec![-2, -1];
    want.extend(0..100);
    assert_eq!(got, want);
    probe.expect_no_msg(QUIET); // each fired once
    node.shutdown();
}

#[test]
fn timers_reach_an_actor_on_another_node_in_order() {
    let _s = serial();
    let (a, b) = (node(), node());
    let mut probe = Probe::new(&b);
    for n in 0..20 {
        timer::send_after(
            &a,
            Duration::from_millis(10),
            &probe.addr(),
            json!({"n": n}),
        )
        .unwrap();
    }
    for n in 0..20 {
        assert_eq!(probe.expect_msg(&pattern!({"n": int}), LONG)["n"], n);
    }
    probe.expect_no_msg(QUIET);
    // It went over the network, from node a.
    assert_eq!(a.connected_nodes(), vec![b.name().to_string()]);
    a.shutdown();
    b.shutdown();
}

#[test]
fn a_timer_cancelled_before_it_fires_never_arrives() {
    let _s = serial();
    let (a, b) = (node(), node());
    let mut here = Probe::new(&a);
    let mut there = Probe::new(&b);
    // Due in a second: cancelled long before (unless this thread stalls that long).
    let soon = Duration::from_secs(1);
    let t1 = timer::send_after(&a, soon, &here.addr(), "no").unwrap();
    let t2 = timer::send_after(&a, soon, &there.addr(), "no").unwrap();
    let t3 = timer::send_interval(&a, soon, &here.addr(), "no").unwrap();
    let t4 = timer::kill_after(&a, soon, &here.addr()).unwrap();
    for t in [&t1, &t2, &t3, &t4] {
        assert!(timer::cancel(t), "{t:?} was pending");
        assert!(!timer::cancel(t), "{t:?} cancelled twice");
    }
    // A timer due after them fires: the service went past their deadlines (deadline order)
    // without sending anything for them.
    timer::send_after(&a, soon + Duration::from_millis(100), &here.addr(), "yes").unwrap();
    assert_eq!(here.expect_msg(&pattern!(_), LONG), "yes");
    here.expect_no_msg(QUIET);
    there.expect_no_msg(QUIET);
    a.shutdown();
    b.shutdown();
}

/// Cancel at every moment around the firing: when `cancel` says it stopped the timer, the
/// message never arrives; when it says the timer had fired, it arrived exactly once.
#[test]
fn cancel_racing_the_firing_sends_exactly_once_or_never() {
    let _s = serial();
    let node = node();
    let mut probe = Probe::new(&node);
    let to = probe.addr();
    const N: u64 = 300;
    let mut stopped = Vec::new();
    for i in 0..N {
        let t = timer::send_after(&node, Duration::ZERO, &to, json!({"i": i})).unwrap();
        // A different head start for the service each time: 0 to ~150 µs of spinning.
        let until = std::time::Instant::now() + Duration::from_micros(i / 2);
        while std::time::Instant::now() < until {
            std::hint::spin_loop();
        }
        stopped.push(timer::cancel(&t));
    }
    // Due after all of them, and local delivery follows firing order: once it is here,
    // everything the others sent is here.
    timer::send_after(&node, Duration::from_millis(1), &to, "end").unwrap();
    let mut seen = vec![0u32; N as usize];
    loop {
        let m = probe.expect_msg(&pattern!(_), LONG);
        if m == "end" {
            break;
        }
        seen[m["i"].as_u64().unwrap() as usize] += 1;
    }
    for i in 0..N as usize {
        let want = if stopped[i] { 0 } else { 1 };
        assert_eq!(seen[i], want, "timer {i}: cancel said {}", stopped[i]);
    }
    probe.expect_no_msg(QUIET);
    let n_stopped = stopped.iter().filter(|s| **s).count();
    eprintln!("race: {n_stopped} of {N} cancelled before firing");
    node.shutdown();
}

#[test]
fn an_interval_keeps_firing_until_cancelled_and_then_never_again() {
    let _s = serial();
    let (a, b) = (node(), node());
    for target_node in [&a, &b] {
        let mut probe = Probe::new(target_node);
        let t = timer::send_interval(&a, Duration::from_millis(5), &probe.addr(), "tick").unwrap();
        for _ in 0..10 {
            assert_eq!(probe.expect_msg(&pattern!(_), LONG), "tick");
        }
        assert!(timer::cancel(&t), "it was running");
        assert!(!timer::cancel(&t));
        // Ticks sent before the cancel may be queued still; none is sent after it. The
        // marker, sent after the cancel returned, comes after every tick on the same route
        // (for the remote probe: from a, over the same connection).
        let marker_from = a.spawn({
            let to = probe.addr();
            move |_| to.send("marker")
        });
        a.wait(&marker_from).unwrap();
        loop {
            if probe.expect_msg(&pattern!(_), LONG) == "marker" {
                break;
            }
        }
        probe.expect_no_msg(QUIET);
    }
    a.shutdown();
    b.shutdown();
}

/// An interval cancelled while it sends: `cancel` returns once that send is over, and
/// nothing comes after it.
#[test]
fn an_interval_cancelled_at_any_moment_sends_nothing_after_cancel_returns() {
    let _s = serial();
    let node = node();
    let mut probe = Probe::new(&node);
    for i in 0..50u64 {
        let t =
            timer::send_interval(&node, Duration::from_millis(1), &probe.addr(), json!(i)).unwrap();
        let until = std::time::Instant::now() + Duration::from_micros(100 * (i % 20));
        while std::time::Instant::now() < until {
            std::hint::spin_loop();
        }
        assert!(timer::cancel(&t), "an interval runs until cancelled");
    }
    probe.addr().send("marker").unwrap();
    while probe.expect_msg(&pattern!(_), LONG) != "marker" {}
    probe.expect_no_msg(QUIET);
    node.shutdown();
}

#[test]
fn exit_after_ends_an_actor_or_reaches_a_trapping_one_as_a_message() {
    let _s = serial();
    let node = node();
    let mut probe = Probe::new(&node);
    let plain = node.spawn(|mut mb| {
        loop {
            mb.receive();
        }
    });
    timer::exit_after(
        &node,
        Duration::from_millis(10),
        &plain,
        ExitReason::Shutdown,
    )
    .unwrap();
    assert_eq!(node.wait(&plain), Err(ExitReason::Shutdown));

    let report = probe.addr();
    let trapper = node.spawn(move |mut mb| {
        mb.trap_exit(true);
        let m = mb.receive();
        report.send(m).unwrap();
        "still alive"
    });
    timer::exit_after(
        &node,
        Duration::from_millis(10),
        &trapper,
        ExitReason::Failed("late".into()),
    )
    .unwrap();
    let exit = Exit::try_from(probe.expect_msg(&pattern!({"exit": _}), LONG)).unwrap();
    assert_eq!(exit.reason, ExitReason::Failed("late".into()));
    // Sent from the caller: this thread, whose context is the probe.
    assert_eq!(exit.address, probe.addr());
    assert_eq!(node.wait(&trapper).unwrap(), "still alive");

    // A normal reason ends no one.
    let calm = node.spawn(|mut mb| mb.receive());
    timer::exit_after(&node, Duration::ZERO, &calm, ExitReason::Normal(json!(1))).unwrap();
    timer::send_after(&node, Duration::from_millis(5), &calm, "done").unwrap();
    assert_eq!(node.wait(&calm).unwrap(), "done");
    node.shutdown();
}

#[test]
fn kill_after_kills_even_a_trapping_actor_local_or_remote() {
    let _s = serial();
    let (a, b) = (node(), node());
    for home in [&a, &b] {
        let stubborn = home.spawn(|mut mb| {
            mb.trap_exit(true);
            loop {
                mb.receive();
            }
        });
        timer::kill_after(&a, Duration::from_millis(10), &stubborn).unwrap();
        assert_eq!(home.wait(&stubborn), Err(ExitReason::Killed));
    }
    let remote = b.spawn(|mut mb| {
        loop {
            mb.receive();
        }
    });
    timer::exit_after(&a, Duration::from_millis(10), &remote, ExitReason::Shutdown).unwrap();
    assert_eq!(b.wait(&remote), Err(ExitReason::Shutdown));
    a.shutdown();
    b.shutdown();
}

#[test]
fn bad_input_gives_errors_or_documented_outcomes_never_a_panic() {
    let _s = serial();
    let node = node();
    let mut probe = Probe::new(&node);
    let to = probe.addr();
    // A message that is not JSON: refused at once.
    let not_json = std::collections::HashMap::from([((1, 2), "tuple keys")]);
    assert!(matches!(
        timer::send_after(&node, Duration::ZERO, &to, not_json),
        Err(TimerError::NotJson(_))
    ));
    // Delays too long for a clock: pending forever, cancellable.
    let forever = timer::send_after(&node, Duration::MAX, &to, 1).unwrap();
    let forever_tick = timer::send_interval(&node, Duration::MAX, &to, 1).unwrap();
    // A zero period counts as 1 ms: it ticks, and does not spin.
    let fast = timer::send_interval(&node, Duration::ZERO, &to, "fast").unwrap();
    for _ in 0..5 {
        assert_eq!(probe.expect_msg(&pattern!("fast"), LONG), "fast");
    }
    assert!(timer::cancel(&fast));
    assert!(timer::cancel(&forever));
    assert!(timer::cancel(&forever_tick));
    // A dead target: dropped, as a send to a dead actor is; the service carries on.
    let gone = node.spawn(|_| ());
    node.wait(&gone).unwrap();
    timer::send_after(&node, Duration::ZERO, &gone, "lost").unwrap();
    let to_gone = timer::send_interval(&node, Duration::from_millis(1), &gone, "lost").unwrap();
    // An interval to an actor of this node that ended stops by itself (ids are not reused).
    eventually("the interval to an ended actor stopped", || {
        format!("{to_gone:?}").contains("fired")
    });
    assert!(!timer::cancel(&to_gone));
    // An address of a node that is not there (a closed port on loopback).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nowhere: Address = format!("127.0.0.1:{port}/1").parse().unwrap();
    timer::send_after(&node, Duration::ZERO, &nowhere, "lost").unwrap();
    timer::send_after(&node, Duration::from_millis(20), &to, "after").unwrap();
    while probe.expect_msg(&pattern!(_), LONG) != "after" {}
    node.shutdown();
}

/// A timer to a peer that stops reading waits for room in that connection's queue (here up
/// to two minutes); meanwhile timers to local actors fire, on time: sends to other nodes
/// leave through the node's forwarder, not the timer thread.
#[test]
fn a_peer_that_stops_reading_holds_up_no_local_timer() {
    let _s = serial();
    let opts = NodeOptions::default()
        .heartbeat(Duration::from_secs(1), Duration::from_secs(600))
        .write_timeout(Duration::from_secs(120))
        .send_timeout(Duration::from_secs(120))
        .outbound_limit(64 << 10);
    let a = Node::with_options(&Mesh::new(), "k@127.0.0.1:0", opts).unwrap();
    // A peer that completes the handshake and then reads nothing.
    let raw = RawPeer::admitted(a.name(), RAW, "k");
    let far: Address = format!("{RAW}/5").parse().unwrap();
    let chunk = json!("x".repeat(512 << 10));
    // 32 MiB: more than the kernel's buffers hold, so the forwarder ends up waiting.
    for _ in 0..64 {
        timer::send_after(&a, Duration::ZERO, &far, chunk.clone()).unwrap();
    }
    eventually("the connection to the silent peer is full", || {
        a.stats()
            .peers
            .iter()
            .any(|p| p.node == RAW && p.queued_bytes >= 512 << 10)
    });
    let mut probe = Probe::new(&a);
    timer::send_after(&a, Duration::from_millis(10), &probe.addr(), "local").unwrap();
    assert_eq!(probe.expect_msg(&pattern!(_), LONG), "local");
    drop(raw); // the stuck sends fail at once now
    a.shutdown();
}

/// 100,000 pending timers (and one to another node, so the forwarder runs too), then
/// shutdown: the timer thread and the forwarder end, every pending timer is dropped
/// unfired, and the node refuses new timers.
#[test]
fn shutdown_with_100k_pending_timers_leaves_nothing_behind() {
    let _s = serial();
    let baseline = pyact::actor::live_actors();
    let (a, b) = (node(), node());
    let mut probe = Probe::new(&a);
    let mut remote_probe = Probe::new(&b);
    let thread = timer_thread(&a);
    assert_eq!(threads_named(&thread), 0);
    let pending: Vec<_> = (0..100_000)
        .map(|i| {
            timer::send_after(
                &a,
                Duration::from_secs(3600),
                &probe.addr(),
                json!({"i": i}),
            )
            .unwrap()
        })
        .collect();
    timer::send_after(&a, Duration::ZERO, &remote_probe.addr(), "remote").unwrap();
    assert_eq!(remote_probe.expect_msg(&pattern!(_), LONG), "remote");
    assert_eq!(
        threads_named(&thread),
        1,
        "one service thread, whatever the timer count"
    );
    a.shutdown();
    b.shutdown();
    eventually("the timer thread ended", || threads_named(&thread) == 0);
    eventually("every coroutine of the nodes ended (forwarder too)", || {
        pyact::actor::live_actors() <= baseline
    });
    assert!(
        pending.iter().all(|t| !timer::cancel(t)),
        "shutdown dropped every pending timer"
    );
    assert!(matches!(
        timer::send_after(&a, Duration::ZERO, &probe.addr(), 1),
        Err(TimerError::NodeDown(_))
    ));
    // The shutdown killed the probe (an inbox gets that as a message); nothing else came.
    probe.expect_msg(&pattern!({"exit": "killed"}), LONG);
    probe.expect_no_msg(QUIET);
}
