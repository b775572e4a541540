//! Routers: one test per rule of `pyact::router`.
//!
//! No test sleeps or depends on speed. Workers report every start and every message they
//! get to a test inbox; since a worker joins its router before its function runs, a worker's
//! start report means its join is already in the router's mailbox, ahead of anything the
//! test sends next.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use pyact::router::{Router, Routing, pool_supervisor, workers};
use pyact::server::{CallError, Context, Server, ServerError, serve};
use pyact::supervisor::{Restart, which_children};
use pyact::testing::Probe;
use pyact::{Address, ExitReason, Mailbox, Mesh, Node, SendError, Value, json, pattern};

/// Long enough never to be the reason a test passes.
const LONG: Duration = Duration::from_secs(30);

fn node() -> Node {
    Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap()
}

/// A worker that reports `{"started": slot, "address": a}`, then for every message reports
/// `{"slot": slot, "got": msg}`; `"crash"` panics, `"quit"` returns normally.
fn reporting_worker(report: Address) -> impl Fn(Mailbox, usize) -> Value + Send + Sync + 'static {
    move |mut mb: Mailbox, slot: usize| -> Value {
        report
            .send(json!({"started": slot, "address": mb.addr()}))
            .unwrap();
        loop {
            let msg = mb.receive();
            match msg.as_str() {
                Some("crash") => panic!("worker {slot} crashed"),
                Some("quit") => return json!("quit"),
                _ => report.send(json!({"slot": slot, "got": msg})).unwrap(),
            }
        }
    }
}

/// Wait for the start reports of `n` workers; returns their addresses by slot.
fn starts(inbox: &mut Probe, n: usize) -> BTreeMap<u64, Address> {
    (0..n).map(|_| start(inbox)).collect()
}

fn start(inbox: &mut Probe) -> (u64, Address) {
    let m = inbox.expect_msg(&pattern!({"started": int, "address": address}), LONG);
    (
        m["started"].as_u64().unwrap(),
        serde_json::from_value(m["address"].clone()).unwrap(),
    )
}

/// Receive `n` message reports; returns (slot, message) in arrival order.
fn reports(inbox: &mut Probe, n: usize) -> Vec<(u64, Value)> {
    (0..n)
        .map(|_| {
            let m = inbox.expect_msg(&pattern!({"slot": int, "got": _}), LONG);
            (m["slot"].as_u64().unwrap(), m["got"].clone())
        })
        .collect()
}

/// Group reports by slot, keeping each worker's order.
fn by_slot(rs: &[(u64, Value)]) -> BTreeMap<u64, Vec<Value>> {
    let mut m: BTreeMap<u64, Vec<Value>> = BTreeMap::new();
    for (s, v) in rs {
        m.entry(*s).or_default().push(v.clone());
    }
    m
}

#[test]
fn round_robin_takes_the_slots_in_turn() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let router = Router::new(Routing::RoundRobin, 3, reporting_worker(inbox.addr())).spawn(&node);
    for n in 0..9 {
        router.send(n).unwrap();
    }
    let got = by_slot(&reports(&mut inbox, 9));
    assert_eq!(got[&0], [json!(0), json!(3), json!(6)]);
    assert_eq!(got[&1], [json!(1), json!(4), json!(7)]);
    assert_eq!(got[&2], [json!(2), json!(5), json!(8)]);
}

#[test]
fn broadcast_reaches_every_worker() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let router = Router::new(Routing::Broadcast, 4, reporting_worker(inbox.addr())).spawn(&node);
    router.send("hello").unwrap();
    router.send("again").unwrap();
    let got = by_slot(&reports(&mut inbox, 8));
    assert_eq!(got.len(), 4);
    for msgs in got.values() {
        assert_eq!(msgs, &[json!("hello"), json!("again")]);
    }
}

#[test]
fn random_delivers_every_message_once_to_some_worker() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let router = Router::new(Routing::Random, 3, reporting_worker(inbox.addr())).spawn(&node);
    for n in 0..90 {
        router.send(n).unwrap();
    }
    let rs = reports(&mut inbox, 90);
    let mut seen: Vec<i64> = rs.iter().map(|(_, v)| v.as_i64().unwrap()).collect();
    seen.sort();
    assert_eq!(seen, (0..90).collect::<Vec<_>>());
    let slots: BTreeSet<u64> = rs.iter().map(|(s, _)| *s).collect();
    assert!(slots.iter().all(|s| *s < 3));
    // 90 uniform picks all landing on one worker: probability 3^-89.
    assert!(
        slots.len() > 1,
        "random routing used a single worker: {slots:?}"
    );
    assert_eq!(inbox.try_receive_match(&[&pattern!({"slot": int})]), None);
}

#[test]
fn consistent_hash_sends_a_key_to_the_same_worker_even_across_a_restart() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let router = Router::new(
        Routing::ConsistentHash("user".into()),
        4,
        reporting_worker(inbox.addr()),
    )
    .intensity(10, Duration::from_secs(3600))
    .spawn(&node);
    let pool = starts(&mut inbox, 4);
    let users: Vec<String> = (0..20).map(|i| format!("user-{i}")).collect();
    for round in 0..3 {
        for u in &users {
            router.send(json!({"user": u, "round": round})).unwrap();
        }
    }
    let mut slot_of: BTreeMap<String, u64> = BTreeMap::new();
    for (slot, msg) in reports(&mut inbox, 60) {
        let u = msg["user"].as_str().unwrap().to_string();
        let prev = *slot_of.entry(u.clone()).or_insert(slot);
        assert_eq!(prev, slot, "{u} went to two workers");
    }
    assert!(
        slot_of.values().collect::<BTreeSet<_>>().len() > 1,
        "20 keys on one worker out of 4"
    );
    // Restart the worker of user-0's slot: the key still maps to that slot.
    let slot = slot_of["user-0"];
    pool[&slot].send("crash").unwrap();
    let (restarted, new) = start(&mut inbox);
    assert_eq!(restarted, slot);
    assert_ne!(new, pool[&slot]);
    router
        .send(json!({"user": "user-0", "round": "after"}))
        .unwrap();
    assert_eq!(reports(&mut inbox, 1)[0].0, slot);
}

#[test]
fn consistent_hash_by_json_pointer() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let router = Router::new(
        Routing::ConsistentHash("/order/customer".into()),
        3,
        reporting_worker(inbox.addr()),
    )
    .spawn(&node);
    for i in 0..10 {
        router
            .send(json!({"order": {"customer": "ann", "n": i}}))
            .unwrap();
    }
    let slots: BTreeSet<u64> = reports(&mut inbox, 10).iter().map(|(s, _)| *s).collect();
    assert_eq!(slots.len(), 1);
}

#[test]
fn a_dead_worker_leaves_the_pool_and_a_restarted_one_rejoins() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let router = Router::new(Routing::RoundRobin, 3, reporting_worker(inbox.addr()))
        .restart(Restart::Transient)
        .intensity(10, Duration::from_secs(3600))
        .spawn(&node);
    let pool = starts(&mut inbox, 3);
    assert_eq!(
        workers(&router, LONG).unwrap(),
        [
            Some(pool[&0].clone()),
            Some(pool[&1].clone()),
            Some(pool[&2].clone())
        ]
    );

    // Slot 1 crashes: transient, so it is restarted and its new worker rejoins slot 1.
    pool[&1].send("crash").unwrap();
    let (slot, new1) = start(&mut inbox);
    assert_eq!(slot, 1);
    assert_ne!(new1, pool[&1]);
    assert_eq!(workers(&router, LONG).unwrap()[1], Some(new1.clone()));
    // It gets its share of the work again.
    for n in 0..6 {
        router.send(n).unwrap();
    }
    let got = by_slot(&reports(&mut inbox, 6));
    assert_eq!(got.len(), 3);
    assert_eq!(got[&1].len(), 2);

    // Slot 2 quits normally: transient, so not restarted; it leaves the pool for good and
    // nothing is routed to it any more (even before the router saw its DOWN).
    pool[&2].send("quit").unwrap();
    assert_eq!(node.wait(&pool[&2]).unwrap(), "quit");
    for n in 0..6 {
        router.send(n).unwrap();
    }
    let got = by_slot(&reports(&mut inbox, 6));
    assert_eq!(got.keys().copied().collect::<Vec<_>>(), [0, 1]);
    assert_eq!(got[&0].len() + got[&1].len(), 6);
    assert_eq!(workers(&router, LONG).unwrap()[2], None);
    assert_eq!(inbox.try_receive(), None);
}

#[test]
fn no_message_is_lost_while_the_only_worker_restarts() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let router = Router::new(Routing::RoundRobin, 1, reporting_worker(inbox.addr()))
        .intensity(10, Duration::from_secs(3600))
        .spawn(&node);
    let pool = starts(&mut inbox, 1);
    // The router sees the worker's DOWN before these messages (it monitored the worker
    // first); they wait for the new worker if it has not joined yet.
    let r = inbox.monitor(&pool[&0]);
    pool[&0].send("crash").unwrap();
    inbox.expect_down(r, LONG);
    for n in 0..3 {
        router.send(n).unwrap();
    }
    let (slot, _) = start(&mut inbox);
    assert_eq!(slot, 0);
    let got: Vec<Value> = reports(&mut inbox, 3).into_iter().map(|(_, v)| v).collect();
    assert_eq!(got, [0, 1, 2]);
}

struct Echo {
    slot: usize,
}

impl Server for Echo {
    fn handle_call(
        &mut self,
        method: &str,
        msg: Value,
        _ctx: &mut Context,
    ) -> Result<Value, ServerError> {
        match method {
            "echo" => Ok(json!({"slot": self.slot, "echo": msg})),
            _ => Err(ServerError::UnknownMethod),
        }
    }
}

#[test]
fn calls_through_a_router_are_answered_by_a_worker() {
    let node = node();
    let router = Router::new(Routing::RoundRobin, 2, |mb: Mailbox, slot: usize| {
        serve(Echo { slot }, mb)
    })
    .spawn(&node);
    let a = router.call("echo", "one", LONG).unwrap();
    let b = router.call("echo", "two", LONG).unwrap();
    assert_eq!(a, json!({"slot": 0, "echo": "one"}));
    assert_eq!(b, json!({"slot": 1, "echo": "two"}));
    assert_eq!(
        router.call("nope", (), LONG),
        Err(CallError::UnknownMethod("nope".into()))
    );
    assert_eq!(
        router.call("$nope", (), LONG),
        Err(CallError::UnknownMethod("$nope".into()))
    );
}

#[test]
fn stopping_the_router_stops_its_pool() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let router = Router::new(Routing::RoundRobin, 2, reporting_worker(inbox.addr())).spawn(&node);
    let pool = starts(&mut inbox, 2);
    let sup = pool_supervisor(&router, LONG).unwrap();
    assert_eq!(which_children(&sup, LONG).unwrap().len(), 2);
    router.stop_server(LONG).unwrap();
    assert_eq!(node.wait(&router).unwrap(), Value::Null);
    assert_eq!(node.wait(&sup), Err(ExitReason::Shutdown));
    assert_eq!(node.wait(&pool[&0]), Err(ExitReason::Shutdown));
    assert_eq!(node.wait(&pool[&1]), Err(ExitReason::Shutdown));
}

#[test]
fn a_pool_that_keeps_crashing_takes_the_router_down() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let router = Router::new(Routing::RoundRobin, 1, reporting_worker(inbox.addr()))
        .intensity(0, Duration::from_secs(3600))
        .spawn(&node);
    let pool = starts(&mut inbox, 1);
    pool[&0].send("crash").unwrap();
    match node.wait(&router) {
        Err(ExitReason::Linked { reason, .. }) => assert_eq!(
            *reason,
            ExitReason::Failed("reached max restart intensity".into())
        ),
        other => panic!("expected the router to die with its pool, got {other:?}"),
    }
}

#[test]
fn killing_the_router_stops_the_pool() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let router = Router::new(Routing::Broadcast, 2, reporting_worker(inbox.addr())).spawn(&node);
    let pool = starts(&mut inbox, 2);
    router.kill().unwrap();
    assert_eq!(node.wait(&router), Err(ExitReason::Killed));
    assert_eq!(node.wait(&pool[&0]), Err(ExitReason::Shutdown));
    assert_eq!(node.wait(&pool[&1]), Err(ExitReason::Shutdown));
}

#[test]
fn a_full_worker_gets_nothing_more_until_it_reads() {
    let node = node();
    let mut inbox = Probe::new(&node);
    // The worker reads nothing while `gate` lives.
    let gate = node.spawn(|mut mb| {
        mb.receive();
    });
    let (report, g) = (inbox.addr(), gate.clone());
    let router = Router::new(
        Routing::RoundRobin,
        1,
        move |mut mb: Mailbox, slot: usize| {
            report
                .send(json!({"started": slot, "address": mb.addr()}))
                .unwrap();
            let _ = mb.node().wait(&g);
            loop {
                let msg = mb.receive();
                report.send(json!({"slot": slot, "got": msg})).unwrap();
            }
        },
    )
    .mailbox_limit(1)
    .spawn(&node);
    let (_, w) = start(&mut inbox);
    router.send("a").unwrap();
    router.send("b").unwrap();
    // Answered after both were routed: "a" filled the worker's mailbox, "b" found it full.
    assert_eq!(workers(&router, LONG).unwrap(), [Some(w.clone())]);
    assert!(matches!(w.send("direct"), Err(SendError::MailboxFull(_))));
    gate.send("open").unwrap();
    assert_eq!(reports(&mut inbox, 1), [(0, json!("a"))]);
    // Once it has read, it has room again; "b" was dropped, not delayed.
    router.send("c").unwrap();
    assert_eq!(reports(&mut inbox, 1), [(0, json!("c"))]);
    assert_eq!(inbox.try_receive(), None);
}
