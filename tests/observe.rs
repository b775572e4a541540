//! Looking into a running node: `actors`, `registered`, `info`.

use std::time::Duration;

use pyact::observe::{ActorInfo, MailboxKind, PeerState, Status};
use pyact::testing::Probe;
use pyact::{Actor, Address, IntoExit, Mailbox, Mesh, Node, json, pattern};

const LONG: Duration = Duration::from_secs(60);

fn node() -> Node {
    Node::new(&Mesh::new(), "observe@127.0.0.1:0").unwrap()
}

struct Sleeper;
impl Actor for Sleeper {
    fn run(self, mut mb: Mailbox) -> impl IntoExit {
        mb.receive()
    }
}

#[test]
fn actors_and_registered_list_live_actors_with_their_names() {
    let node = node();
    let _inbox = node.inbox(); // a thread's inbox is not an actor
    let a = node.spawn(|mut mb| mb.receive());
    let b = node.spawn(|mut mb| mb.receive());
    let c = node.spawn_actor(Sleeper);
    node.register("bee", &b).unwrap();
    node.register("sea", &c).unwrap();
    assert_eq!(
        node.actors(),
        vec![
            (a.clone(), None),
            (b.clone(), Some("bee".into())),
            (c.clone(), Some("sea".into())),
        ]
    );
    assert_eq!(
        node.registered(),
        vec![("bee".into(), b.clone()), ("sea".into(), c.clone())]
    );
    node.unregister("sea");
    b.send("bye").unwrap();
    b.wait().unwrap();
    assert_eq!(node.actors(), vec![(a.clone(), None), (c.clone(), None)]);
    assert!(node.registered().is_empty());
    for x in [&a, &c] {
        x.send("bye").unwrap();
        x.wait().unwrap();
    }
    assert!(node.actors().is_empty());
}

#[test]
fn info_shows_links_monitors_name_kind_and_what_it_runs() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let me = inbox.addr();
    let partner = node.spawn(|mut mb| mb.receive());
    let p = partner.clone();
    let subject = node.spawn(move |mut mb| {
        mb.link(&p);
        me.send("linked").unwrap();
        mb.receive()
    });
    assert_eq!(inbox.expect_msg(&pattern!(_), LONG), "linked");
    node.register("subject", &subject).unwrap();
    inbox.monitor(&subject);
    inbox.monitor(&subject);

    let info = node.info(&subject).expect("live");
    assert_eq!(info.address, subject);
    assert_eq!(info.name.as_deref(), Some("subject"));
    assert_eq!(info.kind, MailboxKind::Actor);
    let runs = info.runs.expect("an actor runs something");
    assert!(runs.starts_with("observe::"), "{runs}");
    assert_eq!(info.links, vec![partner.clone()]);
    assert_eq!(info.monitored_by, vec![inbox.addr(), inbox.addr()]);
    assert!(!info.exiting);
    // The other side of the link sees it too.
    assert_eq!(node.info(&partner).unwrap().links, vec![subject.clone()]);

    // A struct actor shows its type.
    let s = node.spawn_actor(Sleeper);
    let runs = node.info(&s).unwrap().runs.unwrap();
    assert!(runs.contains("Sleeper"), "{runs}");

    // A thread's inbox.
    let info = node.info(&inbox.addr()).unwrap();
    assert_eq!((info.kind, info.runs), (MailboxKind::Inbox, None));

    for x in [&subject, &partner, &s] {
        x.send("bye").unwrap();
    }
    subject.wait().unwrap();
    assert_eq!(node.info(&subject), None);
    partner.wait().unwrap();
    s.wait().unwrap();
}

#[test]
fn info_sees_unread_messages_and_age() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let blocker = node.spawn(|mut mb| mb.receive());
    let b = blocker.clone();
    // Waits on another actor without ever pulling its own mail.
    let busy = node.spawn(move |_| b.wait());
    let first = node.info(&busy).unwrap();
    assert!(!first.has_unread);
    busy.send(json!({"queued": 1})).unwrap();
    let second = node.info(&busy).unwrap();
    assert!(second.has_unread);
    assert!(second.age >= first.age);
    blocker.send("go").unwrap();
    busy.wait().unwrap();
    // An inbox that received is empty again once read.
    inbox.addr().send(1).unwrap();
    assert!(node.info(&inbox.addr()).unwrap().has_unread);
    inbox.receive();
    assert!(!node.info(&inbox.addr()).unwrap().has_unread);
}

#[test]
fn info_is_none_for_other_nodes_and_unknown_ids() {
    let a = node();
    let b = node();
    let on_b = b.spawn(|mut mb| mb.receive());
    assert_eq!(a.info(&on_b), None);
    assert!(b.info(&on_b).is_some());
    let ghost: Address = format!("{}/987654", a.name()).parse().unwrap();
    assert_eq!(a.info(&ghost), None);
    on_b.send("bye").unwrap();
    b.wait(&on_b).unwrap();
}

/// Polls `node.info(addr)` until `ok` holds (the actor gets there on its own schedule);
/// fails with the last snapshot after a generous deadline.
fn info_until(node: &Node, addr: &Address, ok: impl Fn(&ActorInfo) -> bool) -> ActorInfo {
    let deadline = std::time::Instant::now() + LONG;
    loop {
        let info = node.info(addr).expect("live");
        if ok(&info) {
            return info;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never got there: {info:?}"
        );
        std::thread::yield_now();
    }
}

#[test]
fn status_tells_receive_call_wait_sleep_blocking_and_running() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let me = inbox.addr();

    let receiver = node.spawn(|mut mb| mb.receive());
    info_until(&node, &receiver, |i| i.status == Status::Receiving);

    // A server that never answers: its caller waits in the call's throwaway mailbox.
    let mute = node.spawn(|mut mb| {
        mb.receive();
        mb.receive()
    });
    let m = mute.clone();
    let caller = node.spawn(move |_| {
        let _ = m.call("hello", json!(null), LONG);
    });
    info_until(&node, &caller, |i| i.status == Status::Calling);

    let r = receiver.clone();
    let waiter = node.spawn(move |_| r.wait());
    info_until(&node, &waiter, |i| i.status == Status::Waiting);

    let sleeper = node.spawn(|_| pyact::actor::sleep(LONG));
    info_until(&node, &sleeper, |i| i.status == Status::Sleeping);

    let (release, held) = std::sync::mpsc::channel::<()>();
    let blocked =
        node.spawn(move |_| pyact::blocking::blocking(move || held.recv_timeout(LONG).is_ok()));
    info_until(&node, &blocked, |i| i.status == Status::Blocking);

    // Spinning in its own code: running, whatever it did before.
    let go = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let g = go.clone();
    let spinner = node.spawn(move |mut mb| {
        mb.receive(); // first seen waiting...
        me.send("spinning").unwrap();
        while !g.load(std::sync::atomic::Ordering::Relaxed) {
            std::hint::spin_loop();
        }
    });
    info_until(&node, &spinner, |i| i.status == Status::Receiving);
    spinner.send("spin").unwrap();
    assert_eq!(inbox.expect_msg(&pattern!(_), LONG), "spinning");
    assert_eq!(node.info(&spinner).unwrap().status, Status::Running);
    go.store(true, std::sync::atomic::Ordering::Relaxed);
    spinner.wait().unwrap();

    // Woken, each is back to running and ends.
    release.send(()).unwrap();
    assert_eq!(blocked.wait().unwrap(), true);
    receiver.send("bye").unwrap();
    receiver.wait().unwrap();
    waiter.wait().unwrap();
    mute.kill().unwrap();
    caller.wait().unwrap();
    sleeper.kill().unwrap();
    assert!(sleeper.wait().is_err());
}

#[test]
fn mailbox_len_counts_queued_and_saved_and_received_counts_pulled() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let me = inbox.addr();

    // Queued, never pulled: it sleeps.
    let sleeper = node.spawn(|_| pyact::actor::sleep(LONG));
    info_until(&node, &sleeper, |i| i.status == Status::Sleeping);
    sleeper.send(1).unwrap();
    sleeper.send(2).unwrap();
    let info = node.info(&sleeper).unwrap();
    assert_eq!((info.mailbox_len, info.received), (2, 0), "{info:?}");
    assert!(info.has_unread);
    sleeper.kill().unwrap();
    assert!(sleeper.wait().is_err());

    // Pulled but unmatched: they stay in the save queue.
    let picky = node.spawn(move |mut mb| {
        mb.receive_match(&[&pyact::pattern!("go")]);
        me.send("went").unwrap();
        mb.receive_match(&[&pyact::pattern!("end")]);
        json!(mb.saved_len())
    });
    for n in 1..=3 {
        picky.send(n).unwrap();
    }
    let info = info_until(&node, &picky, |i| {
        i.received == 3 && i.status == Status::Receiving
    });
    assert_eq!(info.mailbox_len, 3, "{info:?}");
    assert!(!info.has_unread);
    picky.send("go").unwrap();
    assert_eq!(inbox.expect_msg(&pattern!(_), LONG), "went");
    let info = info_until(&node, &picky, |i| i.status == Status::Receiving);
    assert_eq!((info.received, info.mailbox_len), (4, 3), "{info:?}");
    picky.send("end").unwrap();
    assert_eq!(picky.wait().unwrap(), 3);

    // A thread's inbox counts the same way.
    let mine = inbox.addr();
    let before = node.info(&mine).unwrap().received;
    mine.send("a").unwrap();
    mine.send("b").unwrap();
    assert_eq!(node.info(&mine).unwrap().mailbox_len, 2);
    assert_eq!(inbox.receive(), "a");
    let info = node.info(&mine).unwrap();
    assert_eq!(
        (info.mailbox_len, info.received),
        (1, before + 1),
        "{info:?}"
    );
}

#[test]
fn stats_count_spawned_ended_live_and_delivered() {
    let node = node();
    let fresh = node.stats();
    assert_eq!(
        (
            fresh.live_actors,
            fresh.spawned,
            fresh.ended,
            fresh.delivered
        ),
        (0, 0, 0, 0)
    );
    let actors: Vec<Address> = (0..3)
        .map(|_| node.spawn(|mut mb| mb.receive_match(&[&pyact::pattern!("end")]).1))
        .collect();
    let crasher = node.spawn(|_| -> () { panic!("counted as ended too") });
    assert!(crasher.wait().is_err());
    let stats = node.stats();
    assert_eq!(
        (stats.live_actors, stats.spawned, stats.ended),
        (3, 4, 1),
        "{stats:?}"
    );
    for (i, a) in actors.iter().enumerate() {
        a.send(i).unwrap(); // never matched, still delivered
        a.send("end").unwrap();
    }
    for a in &actors {
        a.wait().unwrap();
    }
    assert_eq!(actor_counts(&node), (0, 4, 4, 6));
    // Thread inboxes are not actors, but what they are sent is delivered.
    let mut inbox = Probe::new(&node);
    inbox.addr().send(1).unwrap();
    inbox.receive();
    drop(inbox);
    assert_eq!(actor_counts(&node), (0, 4, 4, 7));
}

#[test]
fn stats_list_connected_peers() {
    let a = Node::new(&Mesh::new(), "k@127.0.0.1:0").unwrap();
    let b = Node::new(&Mesh::new(), "k@127.0.0.1:0").unwrap();
    assert!(a.stats().peers.is_empty());
    a.connect(&format!("k@{}", b.name())).unwrap();
    let peers = a.stats().peers;
    assert_eq!(peers.len(), 1, "{peers:?}");
    assert_eq!(peers[0].node, b.name());
    assert_eq!(peers[0].state, PeerState::Connected);
    a.disconnect(b.name());
    assert!(a.stats().peers.is_empty());
}

/// A node's live, spawned and ended actors and delivered messages, from `node.stats()`.
fn actor_counts(node: &Node) -> (usize, u64, u64, u64) {
    let s = node.stats();
    (s.live_actors, s.spawned, s.ended, s.delivered)
}

#[test]
fn stats_and_info_serialize_for_an_operator() {
    use pyact::observe::{NodeStats, PeerStats};
    use pyact::remote::NetStats;
    let a = Node::new(&Mesh::new(), "k@127.0.0.1:0").unwrap();
    let b = Node::new(&Mesh::new(), "k@127.0.0.1:0").unwrap();
    a.connect(&format!("k@{}", b.name())).unwrap();
    let mut inbox = a.inbox();
    let worker = a.spawn(|mut mb| mb.receive());
    a.register("worker", &worker).unwrap();
    inbox.monitor(&worker);

    let stats = a.stats();
    let v = serde_json::to_value(&stats).unwrap();
    assert_eq!(v["live_actors"], stats.live_actors);
    assert_eq!(v["spawned"], stats.spawned);
    assert_eq!(v["peers"][0]["node"], b.name());
    assert_eq!(v["peers"][0]["state"], "connected");
    assert_eq!(serde_json::from_value::<NodeStats>(v).unwrap(), stats);
    let peer: PeerStats =
        serde_json::from_value(serde_json::to_value(&stats.peers[0]).unwrap()).unwrap();
    assert_eq!(peer, stats.peers[0]);
    let backing_off = json!({"backing_off": {"retry_in": {"secs": 2, "nanos": 0}, "failures": 3}});
    match serde_json::from_value::<PeerState>(backing_off.clone()).unwrap() {
        s @ PeerState::BackingOff { failures: 3, .. } => {
            assert_eq!(serde_json::to_value(s).unwrap(), backing_off)
        }
        other => panic!("decoded as {other:?}"),
    }

    let info = a.info(&worker).unwrap();
    let v = serde_json::to_value(&info).unwrap();
    assert_eq!(v["address"], json!(worker));
    assert_eq!(v["name"], "worker");
    assert_eq!(v["kind"], "actor");
    assert_eq!(v["monitored_by"], json!([inbox.addr()]));
    assert_eq!(v["status"], serde_json::to_value(info.status).unwrap());
    for s in [Status::Receiving, Status::Running, Status::Socket] {
        let text = serde_json::to_value(s).unwrap();
        assert_eq!(serde_json::from_value::<Status>(text).unwrap(), s);
    }
    assert_eq!(
        serde_json::to_value(Status::Receiving).unwrap(),
        "receiving"
    );
    assert_eq!(serde_json::to_value(MailboxKind::Inbox).unwrap(), "inbox");

    let net = a.net_stats();
    let v = serde_json::to_value(&net).unwrap();
    assert_eq!(v["connections"], 1);
    assert_eq!(serde_json::from_value::<NetStats>(v).unwrap(), net);
    worker.send("bye").unwrap();
}
