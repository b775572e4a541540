//! Links and monitors between local actors (the semantics in the `pyact::link` docs).

use pyact::link::Ref;
use pyact::{Address, ExitReason, Mailbox, Mesh, Node, Value, curaddr, json, pattern};

fn node() -> Node {
    Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap()
}

/// An actor that blocks in receive; "crash" makes it panic, anything else is returned.
fn victim(mut mb: Mailbox) -> Value {
    let m = mb.receive();
    if m == "crash" {
        panic!("crashed on request");
    }
    m
}

fn crashed() -> ExitReason {
    ExitReason::Panicked("crashed on request".into())
}

fn linked_from(reason: &ExitReason) -> Option<(&Address, &ExitReason)> {
    match reason {
        ExitReason::Linked { from, reason } => Some((from, reason)),
        _ => None,
    }
}

/// Spawn `f` and wait until it reports `{"ready": <its address>}` to `inbox`.
fn spawn_ready(
    node: &Node,
    inbox: &mut Mailbox,
    f: impl FnOnce(Mailbox) -> Value + Send + 'static,
) -> Address {
    let me = inbox.addr();
    let a = node.spawn(move |mb| {
        me.send(json!({"ready": curaddr().unwrap()})).unwrap();
        f(mb)
    });
    inbox.receive_match(&[&pattern!({"ready": = a})]);
    a
}

#[test]
fn an_abnormal_exit_kills_linked_actors() {
    let node = node();
    let a = node.spawn(victim);
    let b = node.spawn_link(&a, victim).unwrap();
    b.send("crash").unwrap();
    assert_eq!(node.wait(&b), Err(crashed()));
    assert_eq!(
        node.wait(&a),
        Err(ExitReason::Linked {
            from: b.clone(),
            reason: Box::new(crashed())
        })
    );
}

#[test]
fn links_are_bidirectional() {
    let node = node();
    let a = node.spawn(victim);
    let b = node.spawn_link(&a, victim).unwrap();
    a.send("crash").unwrap();
    assert_eq!(node.wait(&a), Err(crashed()));
    assert_eq!(
        node.wait(&b),
        Err(ExitReason::Linked {
            from: a.clone(),
            reason: Box::new(crashed())
        })
    );
}

#[test]
fn mailbox_link_from_inside_an_actor() {
    let node = node();
    let crasher = node.spawn(victim);
    let buddy = {
        let crasher = crasher.clone();
        node.spawn(move |mut mb| {
            mb.link(&crasher);
            crasher.send("crash").unwrap();
            mb.receive()
        })
    };
    assert_eq!(node.wait(&crasher), Err(crashed()));
    let reason = node.wait(&buddy).unwrap_err();
    let (from, inner) = linked_from(&reason).expect("a Linked reason");
    assert_eq!((from, inner), (&crasher, &crashed()));
}

#[test]
fn kill_and_failures_propagate_too() {
    let node = node();
    let mut inbox = node.inbox();
    let a = spawn_ready(&node, &mut inbox, victim);
    let b = node.spawn_link(&a, victim).unwrap();
    a.kill().unwrap();
    assert_eq!(node.wait(&a), Err(ExitReason::Killed));
    assert_eq!(
        node.wait(&b),
        Err(ExitReason::Linked {
            from: a.clone(),
            reason: Box::new(ExitReason::Killed)
        })
    );

    let c = node.spawn(victim);
    let d = node
        .spawn_link(&c, |mut mb| -> Result<(), String> {
            mb.receive();
            Err("failed".into())
        })
        .unwrap();
    d.send("go").unwrap();
    assert_eq!(node.wait(&d), Err(ExitReason::Failed("failed".into())));
    assert_eq!(
        node.wait(&c),
        Err(ExitReason::Linked {
            from: d.clone(),
            reason: Box::new(ExitReason::Failed("failed".into()))
        })
    );
}

#[test]
fn a_normal_exit_does_not_kill_linked_actors() {
    let node = node();
    let a = node.spawn(victim);
    let b = node.spawn_link(&a, |_| json!("done")).unwrap();
    assert_eq!(node.wait(&b), Ok(json!("done")));
    // `a` got the (normal) exit signal first and ignored it; it still takes messages.
    a.send("still alive").unwrap();
    assert_eq!(node.wait(&a), Ok(json!("still alive")));
}

#[test]
fn trapping_actors_get_exit_messages() {
    let node = node();
    let watcher = node.spawn(|mut mb| {
        mb.trap_exit(true);
        let me = curaddr().unwrap();
        let crasher = node_of(&mb).spawn_link(&me, victim).unwrap();
        let normal = node_of(&mb).spawn_link(&me, |_| json!(7)).unwrap();
        crasher.send("crash").unwrap();
        let exit = pattern!({"address": address, "exit": object});
        let mut got = vec![];
        for _ in 0..2 {
            got.push(mb.receive_match(&[&exit]).1);
        }
        got.sort_by_key(|m| (m["address"] != json!(crasher)) as u8);
        json!({"crasher": crasher, "normal": normal, "got": got})
    });
    let r = node.wait(&watcher).unwrap();
    assert_eq!(
        r["got"],
        json!([
            {"address": r["crasher"], "exit": {"panic": "crashed on request"}},
            {"address": r["normal"], "exit": {"normal": 7}},
        ])
    );
}

fn node_of(mb: &Mailbox) -> Node {
    mb.node().clone()
}

#[test]
fn a_thread_inbox_traps_exits_of_its_links() {
    let node = node();
    let mut inbox = node.inbox();
    let child = node.spawn_link(&inbox.addr(), victim).unwrap();
    child.send("crash").unwrap();
    assert_eq!(
        inbox.receive(),
        json!({"address": child, "exit": {"panic": "crashed on request"}})
    );
    let child = node.spawn_link(&inbox.addr(), |_| json!([1])).unwrap();
    assert_eq!(
        inbox.receive(),
        json!({"address": child, "exit": {"normal": [1]}})
    );
}

#[test]
fn linking_to_a_dead_actor_fires_noproc() {
    let node = node();
    let dead = node.spawn(|_| ());
    node.wait(&dead).unwrap();
    let b = {
        let dead = dead.clone();
        node.spawn(move |mut mb| {
            mb.link(&dead);
            mb.receive()
        })
    };
    assert_eq!(
        node.wait(&b),
        Err(ExitReason::Linked {
            from: dead.clone(),
            reason: Box::new(ExitReason::NoSuchActor)
        })
    );
    // A trapping actor gets it as a message.
    let c = {
        let dead = dead.clone();
        node.spawn(move |mut mb| {
            mb.trap_exit(true);
            mb.link(&dead);
            mb.receive()
        })
    };
    assert_eq!(
        node.wait(&c),
        Ok(json!({"address": dead, "exit": "noproc"}))
    );
    // spawn_link to a dead actor: the new actor dies at its first receive.
    let d = node.spawn_link(&dead, victim).unwrap();
    assert_eq!(
        node.wait(&d),
        Err(ExitReason::Linked {
            from: dead.clone(),
            reason: Box::new(ExitReason::NoSuchActor)
        })
    );
}

#[test]
fn unlink_stops_propagation() {
    let node = node();
    let mut inbox = node.inbox();
    let a = node.spawn(victim);
    let b = {
        let a = a.clone();
        spawn_ready(&node, &mut inbox, move |mut mb| {
            mb.link(&a);
            mb.unlink(&a);
            mb.receive()
        })
    };
    // `b` linked and unlinked before it reported ready.
    a.send("crash").unwrap();
    assert_eq!(node.wait(&a), Err(crashed()));
    b.send("survived").unwrap();
    assert_eq!(node.wait(&b), Ok(json!("survived")));
}

#[test]
fn a_crash_takes_down_a_chain_of_1000_linked_actors() {
    const N: usize = 1000;
    let node = node();
    let mut chain = vec![node.spawn(victim)];
    for i in 1..N {
        let prev = chain[i - 1].clone();
        chain.push(node.spawn_link(&prev, victim).unwrap());
    }
    // Crash one in the middle: the exit travels both ways.
    let mid = N / 2;
    chain[mid].send("crash").unwrap();
    let results = node.wait_all(&chain);
    assert!(results.iter().all(Result::is_err), "some actor survived");
    assert_eq!(results[mid], Err(crashed()));
    for (i, r) in results.iter().enumerate() {
        if i == mid {
            continue;
        }
        let neighbour = if i < mid { i + 1 } else { i - 1 };
        let (from, _) =
            linked_from(r.as_ref().unwrap_err()).unwrap_or_else(|| panic!("actor {i}: {r:?}"));
        assert_eq!(from, &chain[neighbour], "actor {i}");
    }
    // Every victim carries the root cause itself, one level deep, however far it is from
    // the crash.
    for (i, r) in results.iter().enumerate().filter(|(i, _)| *i != mid) {
        let (_, inner) = linked_from(r.as_ref().unwrap_err()).unwrap();
        assert_eq!(inner, &crashed(), "actor {i}");
    }
    assert_eq!(node.actor_count(), 0);
}

#[test]
fn exit_reasons_of_a_crashed_chain_can_still_travel_as_json() {
    // Exit reasons "travel between nodes as JSON" (the `pyact::exit` docs), so every reason
    // must parse back from its JSON text, however long the linked chain it came through.
    const N: usize = 1000;
    let node = node();
    let mut chain = vec![node.spawn(victim)];
    for i in 1..N {
        let prev = chain[i - 1].clone();
        chain.push(node.spawn_link(&prev, victim).unwrap());
    }
    chain[0].send("crash").unwrap();
    let results = node.wait_all(&chain);
    assert!(results.iter().all(Result::is_err), "some actor survived");
    // Deeply nested reasons need a deep stack to serialize: use a thread with plenty.
    let unparsable = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            results
                .iter()
                .enumerate()
                .filter(|(_, r)| {
                    let text = serde_json::to_string(r.as_ref().unwrap_err()).unwrap();
                    serde_json::from_str::<ExitReason>(&text).is_err()
                })
                .map(|(i, _)| i)
                .collect::<Vec<usize>>()
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(
        unparsable.is_empty(),
        "{} of {N} exit reasons do not parse back from their JSON, from actor {} on \
         (Linked reasons nest once per hop)",
        unparsable.len(),
        unparsable.first().copied().unwrap_or(0)
    );
}

#[test]
fn a_monitor_gets_one_down_message() {
    let node = node();
    let mut inbox = node.inbox();
    let target = node.spawn(victim);
    let r = inbox.monitor(&target);
    target.send("crash").unwrap();
    let (_, down) = inbox.receive_match(&[&pattern!({"down": = r})]);
    assert_eq!(
        down,
        json!({"down": r, "address": target, "exit": {"panic": "crashed on request"}})
    );
    assert_eq!(inbox.try_receive(), None, "exactly one DOWN");

    // Normal exits are reported too, and the monitor does not link: the watcher lives on.
    // The target waits to be told to end: spawned here it may run at once on the other
    // worker, and a monitor placed on an actor that already ended gets `noproc` (Erlang's
    // rule, checked elsewhere), not the normal exit this part checks.
    let watcher = node.spawn(|mut mb| {
        let target = node_of(&mb).spawn(|mut mb| {
            mb.receive();
            json!("bye")
        });
        let r = mb.monitor(&target);
        target.send("go").unwrap();
        let (_, down) = mb.receive_match(&[&pattern!({"down": = r})]);
        json!({"r": r, "target": target, "down": down})
    });
    let got = node.wait(&watcher).unwrap();
    assert_eq!(
        got["down"],
        json!({"down": got["r"], "address": got["target"], "exit": {"normal": "bye"}})
    );
}

#[test]
fn the_target_does_not_notice_its_watcher_ending() {
    let node = node();
    let target = node.spawn(victim);
    let watcher = {
        let target = target.clone();
        node.spawn(move |mut mb| -> () {
            mb.monitor(&target);
            panic!("watcher dies")
        })
    };
    assert!(node.wait(&watcher).is_err());
    target.send("unaffected").unwrap();
    assert_eq!(node.wait(&target), Ok(json!("unaffected")));
}

#[test]
fn monitors_stack() {
    let node = node();
    let mut inbox = node.inbox();
    let target = node.spawn(victim);
    let r1 = inbox.monitor(&target);
    let r2 = inbox.monitor(&target);
    assert_ne!(r1, r2);
    target.send("crash").unwrap();
    let d2 = inbox.receive_match(&[&pattern!({"down": = r2})]).1;
    let d1 = inbox.receive_match(&[&pattern!({"down": = r1})]).1;
    assert_eq!(d1["address"], json!(target));
    assert_eq!(d2["address"], json!(target));
    assert_eq!(inbox.try_receive(), None);
}

#[test]
fn monitoring_a_dead_or_unknown_actor_gives_noproc_at_once() {
    let node = node();
    let mut inbox = node.inbox();
    let dead = node.spawn(|_| ());
    node.wait(&dead).unwrap();
    let r = inbox.monitor(&dead);
    // Already there: a poll finds it.
    assert_eq!(
        inbox.try_receive_match(&[&pattern!({"down": = r})]),
        Some((0, json!({"down": r, "address": dead, "exit": "noproc"})))
    );
    let nobody: Address = format!("{}/999999", node.name()).parse().unwrap();
    let r = inbox.monitor(&nobody);
    assert_eq!(
        inbox.try_receive(),
        Some(json!({"down": r, "address": nobody, "exit": "noproc"}))
    );
}

#[test]
fn demonitor_removes_a_down_already_in_the_mailbox() {
    let node = node();
    let mut inbox = node.inbox();
    let target = node.spawn(victim);
    let r1 = inbox.monitor(&target);
    let r2 = inbox.monitor(&target);
    target.send("crash").unwrap();
    // DOWNs come in monitor order: receiving r2's moves r1's into the save queue.
    inbox.receive_match(&[&pattern!({"down": = r2})]);
    assert_eq!(inbox.saved_len(), 1);
    // The monitor already fired, so whether it counts as "active" is moot; its unread DOWN
    // must go either way.
    inbox.demonitor(r1);
    assert_eq!(inbox.saved_len(), 0);
    assert_eq!(inbox.try_receive(), None);
    assert!(!inbox.demonitor(r1), "already removed");
    assert!(!inbox.demonitor(r2), "already fired");
    assert!(!inbox.demonitor(Ref::new()), "never placed");
}

#[test]
fn demonitor_drops_a_down_still_in_the_queue() {
    let node = node();
    let mut inbox = node.inbox();
    let target = node.spawn(victim);
    let r1 = inbox.monitor(&target);
    let r2 = inbox.monitor(&target);
    target.send("crash").unwrap();
    assert!(node.wait(&target).is_err());
    // r1's DOWN is in the queue or on its way; either way it must never be seen.
    assert!(inbox.demonitor(r1));
    let (_, down) = inbox.receive_match(&[&pattern!({"down": object})]);
    assert_eq!(down["down"], json!(r2));
    assert_eq!(inbox.try_receive(), None);
}

#[test]
fn demonitor_before_the_end_means_no_down() {
    let node = node();
    let mut inbox = node.inbox();
    let target = node.spawn(victim);
    let r1 = inbox.monitor(&target);
    assert!(inbox.demonitor(r1));
    let r2 = inbox.monitor(&target);
    target.send("crash").unwrap();
    let (_, down) = inbox.receive_match(&[&pattern!({"down": object})]);
    assert_eq!(down["down"], json!(r2));
    assert_eq!(inbox.try_receive(), None);
}

#[test]
fn down_and_exit_messages_decode_into_typed_values() {
    use pyact::link::{Down, Exit};
    let node = node();
    let mut inbox = node.inbox();
    let target = node.spawn_link(&inbox.addr(), victim).unwrap();
    let r = inbox.monitor(&target);
    target.send("crash").unwrap();

    let (_, msg) = inbox.receive_match(&[&pattern!({"down": = r})]);
    let down = Down::try_from(&msg).expect("a DOWN decodes");
    assert_eq!(down.reference, r);
    assert_eq!(down.address, target);
    assert_eq!(down.reason, crashed());
    assert_eq!(
        Down::try_from(msg.clone()).unwrap(),
        down,
        "owned and borrowed agree"
    );
    assert_eq!(
        serde_json::to_value(&down).unwrap(),
        msg,
        "encodes back to the message"
    );
    assert!(
        Exit::try_from(&msg).is_err(),
        "a DOWN is not a trapped exit"
    );

    let (_, msg) = inbox.receive_match(&[&pattern!({"address": = target, "exit": _})]);
    let exit = Exit::try_from(&msg).expect("a trapped exit decodes");
    assert_eq!(exit.address, target);
    assert_eq!(exit.reason, crashed());
    assert_eq!(serde_json::to_value(&exit).unwrap(), msg);
    assert!(
        Down::try_from(&msg).is_err(),
        "a trapped exit is not a DOWN"
    );

    // Anything else is refused, not half-decoded.
    for other in [
        json!("down"),
        json!({"address": target, "exit": "killed", "extra": 1}),
        json!({"address": "nowhere", "exit": "killed"}),
        json!({"down": r, "address": target}),
        json!({"down": r, "address": target, "exit": {"no such reason": 1}}),
    ] {
        assert!(Down::try_from(&other).is_err(), "{other} is no DOWN");
        assert!(Exit::try_from(&other).is_err(), "{other} is no exit");
    }
}
