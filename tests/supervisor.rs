//! Supervisors: one test per rule of `pyact::supervisor`.
//!
//! No test sleeps or depends on speed. Children report every start to a test inbox, so a
//! test waits for a restart by receiving its report. To know that the supervisor has handled
//! a child's exit, a test monitors the child *before* making it exit: the runtime delivers
//! the exit to the linked supervisor before the DOWN to monitors, so a call sent after the
//! DOWN arrived is answered after the supervisor handled the exit.

use std::time::Duration;

use pyact::server::{CallError, Context, Server};
use pyact::supervisor::{
    ChildKind, ChildSpec, Restart, Shutdown, Strategy, Supervisor, init_ack, start_child,
    terminate_child, which_children,
};
use pyact::testing::Probe;
use pyact::{Address, ExitReason, Mailbox, Mesh, Node, SendError, Value, json, pattern};

/// Long enough never to be the reason a test passes.
const LONG: Duration = Duration::from_secs(30);

fn node() -> Node {
    Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap()
}

/// A worker that reports `{"started": id, "address": a}` to `report`, then obeys:
/// `"crash"` panics, `"quit"` returns normally, `"fail"` returns an error; anything else is
/// ignored.
fn worker(id: &str, report: &Address) -> ChildSpec {
    let (id2, report) = (id.to_string(), report.clone());
    ChildSpec::new(id, move |mut mb: Mailbox| -> Result<Value, String> {
        report
            .send(json!({"started": id2, "address": mb.addr()}))
            .unwrap();
        loop {
            match mb.receive().as_str() {
                Some("crash") => panic!("{id2} crashed on a bad message"),
                Some("quit") => return Ok(json!("quit")),
                Some("fail") => return Err(format!("{id2} failed")),
                _ => {}
            }
        }
    })
}

/// Receive the next start report; returns (id, address).
fn started(inbox: &mut Probe) -> (String, Address) {
    let m = inbox.expect_msg(&pattern!({"started": str, "address": address}), LONG);
    (
        m["started"].as_str().unwrap().to_string(),
        serde_json::from_value(m["address"].clone()).unwrap(),
    )
}

/// Receive `n` start reports, in arrival order.
fn started_n(inbox: &mut Probe, n: usize) -> Vec<(String, Address)> {
    (0..n).map(|_| started(inbox)).collect()
}

fn addrs(sup: &Address) -> Vec<Option<Address>> {
    which_children(sup, LONG)
        .unwrap()
        .into_iter()
        .map(|c| c.address)
        .collect()
}

fn ids(sup: &Address) -> Vec<String> {
    which_children(sup, LONG)
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect()
}

/// Monitor `child`, send it `msg`, and wait for its DOWN; returns its exit reason.
fn make_exit(inbox: &mut Probe, child: &Address, msg: &'static str) -> Value {
    let r = inbox.monitor(child);
    child.send(msg).unwrap();
    let down = inbox.expect_msg(&pattern!({"down": = r}), LONG);
    down["exit"].clone()
}

fn lookup(kids: &[(String, Address)], id: &str) -> Address {
    kids.iter().find(|(i, _)| i == id).unwrap().1.clone()
}

#[test]
fn one_for_one_restarts_only_the_crashed_child() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let me = inbox.addr();
    let sup = Supervisor::new(Strategy::OneForOne)
        .child(worker("a", &me))
        .child(worker("b", &me))
        .child(worker("c", &me))
        .spawn(&node);
    let first = started_n(&mut inbox, 3);
    let before = addrs(&sup);
    assert_eq!(ids(&sup), ["a", "b", "c"]);
    let b = lookup(&first, "b");
    b.send("crash").unwrap();
    let (id, new_b) = started(&mut inbox);
    assert_eq!(id, "b");
    assert_ne!(new_b, b);
    let after = addrs(&sup);
    assert_eq!(after[0], before[0]);
    assert_eq!(after[1], Some(new_b));
    assert_eq!(after[2], before[2]);
    assert!(matches!(node.wait(&b), Err(ExitReason::Panicked(_))));
}

#[test]
fn one_for_all_restarts_every_child() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let me = inbox.addr();
    let sup = Supervisor::new(Strategy::OneForAll)
        .child(worker("a", &me))
        .child(worker("b", &me))
        .child(worker("c", &me))
        .spawn(&node);
    let first = started_n(&mut inbox, 3);
    lookup(&first, "b").send("crash").unwrap();
    let second = started_n(&mut inbox, 3);
    let after = addrs(&sup);
    for (id, old) in &first {
        let new = lookup(&second, id);
        assert_ne!(&new, old, "{id} was restarted");
        assert!(after.contains(&Some(new)));
    }
    // The siblings were stopped by the supervisor, not crashed.
    assert_eq!(node.wait(&lookup(&first, "a")), Err(ExitReason::Shutdown));
    assert_eq!(node.wait(&lookup(&first, "c")), Err(ExitReason::Shutdown));
}

#[test]
fn rest_for_one_restarts_exactly_the_later_siblings() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let me = inbox.addr();
    let sup = Supervisor::new(Strategy::RestForOne)
        .child(worker("a", &me))
        .child(worker("b", &me))
        .child(worker("c", &me))
        .child(worker("d", &me))
        .spawn(&node);
    let first = started_n(&mut inbox, 4);
    let before = addrs(&sup);
    lookup(&first, "b").send("crash").unwrap();
    let mut second = started_n(&mut inbox, 3);
    second.sort();
    assert_eq!(
        second.iter().map(|(i, _)| i.as_str()).collect::<Vec<_>>(),
        ["b", "c", "d"]
    );
    let after = addrs(&sup);
    assert_eq!(after[0], before[0], "the earlier sibling keeps its address");
    for (i, id) in ["b", "c", "d"].iter().enumerate() {
        assert_eq!(after[i + 1], Some(lookup(&second, id)));
        assert_ne!(after[i + 1], before[i + 1]);
    }
    assert_eq!(node.wait(&lookup(&first, "c")), Err(ExitReason::Shutdown));
    assert_eq!(node.wait(&lookup(&first, "d")), Err(ExitReason::Shutdown));
}

#[test]
fn permanent_children_are_restarted_even_after_a_normal_exit() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let me = inbox.addr();
    let sup = Supervisor::new(Strategy::OneForOne)
        .child(worker("p", &me).restart(Restart::Permanent))
        .spawn(&node);
    let (_, p) = started(&mut inbox);
    assert_eq!(make_exit(&mut inbox, &p, "quit"), json!({"normal": "quit"}));
    let (_, p2) = started(&mut inbox);
    assert_ne!(p2, p);
    assert_eq!(addrs(&sup), [Some(p2)]);
}

#[test]
fn transient_children_are_restarted_only_after_an_abnormal_exit() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let me = inbox.addr();
    let sup = Supervisor::new(Strategy::OneForOne)
        .child(worker("t", &me).restart(Restart::Transient))
        .child(worker("other", &me))
        .spawn(&node);
    let first = started_n(&mut inbox, 2);
    let t = lookup(&first, "t");
    // Abnormal (an error return): restarted.
    assert_eq!(
        make_exit(&mut inbox, &t, "fail"),
        json!({"error": "t failed"})
    );
    let (id, t2) = started(&mut inbox);
    assert_eq!(id, "t");
    // Normal: not restarted, but still listed, without an address.
    assert_eq!(
        make_exit(&mut inbox, &t2, "quit"),
        json!({"normal": "quit"})
    );
    let kids = which_children(&sup, LONG).unwrap();
    assert_eq!(kids[0].id, "t");
    assert_eq!(kids[0].address, None);
    assert_eq!(kids[1].address, Some(lookup(&first, "other")));
}

#[test]
fn temporary_children_are_never_restarted_and_are_forgotten() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let me = inbox.addr();
    let sup = Supervisor::new(Strategy::OneForOne)
        .child(worker("tmp", &me).restart(Restart::Temporary))
        .child(worker("keep", &me))
        .spawn(&node);
    let first = started_n(&mut inbox, 2);
    let tmp = lookup(&first, "tmp");
    assert!(make_exit(&mut inbox, &tmp, "crash").get("panic").is_some());
    assert_eq!(ids(&sup), ["keep"]);
    assert_eq!(addrs(&sup), [Some(lookup(&first, "keep"))]);
}

#[test]
fn exceeding_the_restart_intensity_stops_the_children_and_exits_abnormally() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let me = inbox.addr();
    let sup = Supervisor::new(Strategy::OneForOne)
        .intensity(3, Duration::from_secs(3600))
        .child(worker("crashy", &me))
        .child(worker("bystander", &me))
        .spawn(&node);
    let watch = inbox.monitor(&sup);
    let first = started_n(&mut inbox, 2);
    let bystander = lookup(&first, "bystander");
    let mut crashy = lookup(&first, "crashy");
    for _ in 0..3 {
        crashy.send("crash").unwrap();
        let (id, next) = started(&mut inbox);
        assert_eq!(id, "crashy");
        crashy = next;
    }
    crashy.send("crash").unwrap(); // the 4th within the period: too many
    let down = inbox.expect_msg(&pattern!({"down": = watch}), LONG);
    assert_eq!(
        down["exit"],
        json!({"error": "reached max restart intensity"})
    );
    assert_eq!(
        node.wait(&sup),
        Err(ExitReason::Failed("reached max restart intensity".into()))
    );
    assert_eq!(node.wait(&bystander), Err(ExitReason::Shutdown));
}

#[test]
fn erlang_default_intensity_gives_up_on_repeated_crashes() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let me = inbox.addr();
    // Default intensity: 1 restart within 5 seconds.
    let sup = Supervisor::new(Strategy::OneForOne)
        .child(worker("w", &me))
        .spawn(&node);
    let watch = inbox.monitor(&sup);
    let (_, mut w) = started(&mut inbox);
    let mut restarts = 0;
    // Crash the current worker until the supervisor gives up. Two crashes within 5 seconds
    // are enough; a box slow enough to space them out only makes the loop run longer.
    let down = loop {
        w.send("crash").unwrap();
        let (which, m) = inbox
            .receive_match_timeout(
                &[&pattern!({"started": str}), &pattern!({"down": = watch})],
                LONG,
            )
            .unwrap();
        if which == 1 {
            break m;
        }
        restarts += 1;
        w = serde_json::from_value(m["address"].clone()).unwrap();
    };
    assert!(restarts >= 1, "the first crash is within the intensity");
    assert_eq!(
        down["exit"],
        json!({"error": "reached max restart intensity"})
    );
}

#[test]
fn a_failing_nested_supervisor_escalates_to_its_parent() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let me = inbox.addr();
    let inner = Supervisor::new(Strategy::OneForOne)
        .intensity(0, Duration::from_secs(3600))
        .child(worker("leaf", &me));
    let top = Supervisor::new(Strategy::OneForOne)
        .intensity(5, Duration::from_secs(3600))
        .child(worker("sibling", &me))
        .child(ChildSpec::supervisor("inner", inner))
        .spawn(&node);
    let first = started_n(&mut inbox, 2);
    let before = which_children(&top, LONG).unwrap();
    assert_eq!(before[1].kind, ChildKind::Supervisor);
    let inner1 = before[1].address.clone().unwrap();
    let watch = inbox.monitor(&inner1);
    // The leaf crashes once; its supervisor allows no restart, so it fails...
    lookup(&first, "leaf").send("crash").unwrap();
    let down = inbox.expect_msg(&pattern!({"down": = watch}), LONG);
    assert_eq!(
        down["exit"],
        json!({"error": "reached max restart intensity"})
    );
    // ...and the top supervisor restarts it, which starts a new leaf.
    let (id, leaf2) = started(&mut inbox);
    assert_eq!(id, "leaf");
    let after = which_children(&top, LONG).unwrap();
    assert_eq!(after[0].address, before[0].address, "sibling untouched");
    let inner2 = after[1].address.clone().unwrap();
    assert_ne!(inner2, inner1);
    assert_eq!(addrs(&inner2), [Some(leaf2)]);
}

#[test]
fn nested_trees_restart_locally() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let me = inbox.addr();
    let sub = Supervisor::new(Strategy::OneForOne)
        .child(worker("x", &me))
        .child(worker("y", &me));
    let top = Supervisor::new(Strategy::OneForOne)
        .child(worker("w", &me))
        .child(ChildSpec::supervisor("sub", sub))
        .spawn(&node);
    // Synchronous start of the nested supervisor: w, then x and y, in that order... except
    // that plain workers are not waited for, so only the set is certain.
    let mut first = started_n(&mut inbox, 3);
    first.sort();
    assert_eq!(
        first.iter().map(|(i, _)| i.as_str()).collect::<Vec<_>>(),
        ["w", "x", "y"]
    );
    let top_before = addrs(&top);
    let sub_addr = top_before[1].clone().unwrap();
    let sub_before = addrs(&sub_addr);
    lookup(&first, "x").send("crash").unwrap();
    let (id, x2) = started(&mut inbox);
    assert_eq!(id, "x");
    assert_eq!(addrs(&top), top_before, "the top supervisor saw nothing");
    let sub_after = addrs(&sub_addr);
    assert_eq!(sub_after[0], Some(x2));
    assert_eq!(sub_after[1], sub_before[1]);
    // Stopping the top stops the whole tree.
    top.stop_server(LONG).unwrap();
    assert_eq!(node.wait(&sub_addr), Err(ExitReason::Shutdown));
    assert_eq!(node.wait(&lookup(&first, "y")), Err(ExitReason::Shutdown));
    assert_eq!(node.wait(&lookup(&first, "w")), Err(ExitReason::Shutdown));
}

/// A server child that reports its init and terminate.
struct Reporter {
    id: String,
    report: Address,
}

impl Server for Reporter {
    fn init(&mut self, _ctx: &mut Context) {
        self.report.send(json!({"init": self.id})).unwrap();
    }
    fn terminate(&mut self, reason: &ExitReason, _ctx: &mut Context) {
        self.report
            .send(json!({"terminate": self.id, "reason": reason}))
            .unwrap();
    }
}

fn reporter(id: &str, report: &Address) -> ChildSpec {
    let (id, report) = (id.to_string(), report.clone());
    ChildSpec::server(id.clone(), move || Reporter {
        id: id.clone(),
        report: report.clone(),
    })
}

#[test]
fn ordered_start_and_reverse_ordered_stop() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let me = inbox.addr();
    let inner = Supervisor::new(Strategy::OneForOne)
        .child(reporter("3a", &me))
        .child(reporter("3b", &me));
    let sup = Supervisor::new(Strategy::OneForOne)
        .child(reporter("1", &me))
        .child(reporter("2", &me))
        .child(ChildSpec::supervisor("3", inner))
        .child(reporter("4", &me))
        .spawn(&node);
    let inits: Vec<Value> = (0..5)
        .map(|_| inbox.expect_msg(&pattern!(_), LONG)["init"].clone())
        .collect();
    assert_eq!(inits, ["1", "2", "3a", "3b", "4"]);
    // The parent shuts the supervisor down with an exit signal.
    sup.exit(&me, ExitReason::Shutdown).unwrap();
    let stops: Vec<Value> = (0..5)
        .map(|_| {
            let m = inbox.expect_msg(&pattern!(_), LONG);
            assert_eq!(m["reason"], "shutdown");
            m["terminate"].clone()
        })
        .collect();
    assert_eq!(stops, ["4", "3b", "3a", "2", "1"]);
    assert_eq!(node.wait(&sup), Err(ExitReason::Shutdown));
}

#[test]
fn a_child_that_ignores_shutdown_is_killed_after_its_timeout() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let me = inbox.addr();
    let stubborn = ChildSpec::new("stubborn", move |mut mb: Mailbox| -> Value {
        mb.trap_exit(true);
        me.send(json!({"started": "stubborn", "address": mb.addr()}))
            .unwrap();
        loop {
            mb.receive(); // the shutdown exit message too: ignored
        }
    })
    .shutdown(Shutdown::Timeout(Duration::from_millis(20)));
    let brutal = worker("brutal", &inbox.addr()).shutdown(Shutdown::BrutalKill);
    let sup = Supervisor::new(Strategy::OneForOne)
        .child(stubborn)
        .child(brutal)
        .spawn(&node);
    let kids = started_n(&mut inbox, 2);
    sup.stop_server(LONG).unwrap();
    assert_eq!(
        node.wait(&lookup(&kids, "stubborn")),
        Err(ExitReason::Killed)
    );
    assert_eq!(node.wait(&lookup(&kids, "brutal")), Err(ExitReason::Killed));
}

#[test]
fn an_abnormal_exit_of_the_parent_stops_the_supervisor_and_its_children() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let me = inbox.addr();
    let spec = Supervisor::new(Strategy::OneForOne).child(worker("w", &me));
    let parent = node.spawn(move |mut mb: Mailbox| -> () {
        let sup = spec.spawn_link(mb.node(), &mb.addr()).unwrap();
        me.send(json!({"sup": sup})).unwrap();
        mb.receive_match(&[&pattern!("die")]);
        panic!("parent dies");
    });
    let (_, w) = started(&mut inbox);
    let sup: Address =
        serde_json::from_value(inbox.expect_msg(&pattern!(_), LONG)["sup"].clone()).unwrap();
    parent.send("die").unwrap();
    assert_eq!(
        node.wait(&sup),
        Err(ExitReason::Panicked("parent dies".into()))
    );
    assert_eq!(node.wait(&w), Err(ExitReason::Shutdown));
}

#[test]
fn simple_one_for_one_starts_restarts_and_terminates_dynamic_children() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let me = inbox.addr();
    let template = ChildSpec::with_args("conn", move |mut mb: Mailbox, args: Value| -> Value {
        me.send(json!({"started": args["name"], "address": mb.addr()}))
            .unwrap();
        loop {
            if mb.receive() == "crash" {
                panic!("conn crashed");
            }
        }
    });
    let sup = Supervisor::new(Strategy::SimpleOneForOne)
        .intensity(10, Duration::from_secs(3600))
        .child(template)
        .spawn(&node);
    assert!(which_children(&sup, LONG).unwrap().is_empty());
    let c1 = start_child(&sup, json!({"name": "one"}), LONG).unwrap();
    let c2 = start_child(&sup, json!({"name": "two"}), LONG).unwrap();
    let first = started_n(&mut inbox, 2);
    assert_eq!(lookup(&first, "one"), c1);
    assert_eq!(lookup(&first, "two"), c2);
    // A crash restarts that child with the same arguments.
    c1.send("crash").unwrap();
    let (name, c1b) = started(&mut inbox);
    assert_eq!(name, "one");
    let kids = which_children(&sup, LONG).unwrap();
    assert_eq!(kids.len(), 2);
    assert_eq!(kids[0].args, json!({"name": "one"}));
    assert_eq!(kids[0].address, Some(c1b.clone()));
    assert_eq!(kids[1].address, Some(c2.clone()));
    // terminate_child stops it and forgets it.
    terminate_child(&sup, &c2, LONG).unwrap();
    assert_eq!(node.wait(&c2), Err(ExitReason::Shutdown));
    assert_eq!(addrs(&sup), [Some(c1b)]);
    assert!(matches!(
        terminate_child(&sup, &c2, LONG),
        Err(CallError::Server(_))
    ));
}

#[test]
fn start_child_needs_a_simple_one_for_one_supervisor() {
    let node = node();
    let sup = Supervisor::new(Strategy::OneForOne).spawn(&node);
    assert!(matches!(
        start_child(&sup, (), LONG),
        Err(CallError::Server(m)) if m.contains("simple_one_for_one")
    ));
}

#[test]
fn a_child_that_exits_before_its_ack_fails_the_start() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let me = inbox.addr();
    // "ok" acks its start after its report, so the report is out before "broken" starts
    // (the failed start shuts "ok" down at its next pyact call).
    let report = me.clone();
    let ok_spec = ChildSpec::new("ok", move |mut mb: Mailbox| {
        report
            .send(json!({"started": "ok", "address": mb.addr()}))
            .unwrap();
        pyact::supervisor::init_ack();
        mb.receive();
    })
    .sync_start(true);
    let sup = Supervisor::new(Strategy::OneForOne)
        .child(ok_spec)
        .child(
            ChildSpec::new("broken", |_mb: Mailbox| -> Result<(), String> {
                Err("cannot init".into())
            })
            .sync_start(true),
        )
        .spawn(&node);
    let (_, ok) = started(&mut inbox);
    match node.wait(&sup) {
        Err(ExitReason::Failed(m)) => assert!(m.contains("broken failed to start"), "{m}"),
        other => panic!("expected a start failure, got {other:?}"),
    }
    assert_eq!(node.wait(&ok), Err(ExitReason::Shutdown));
}

#[test]
fn init_ack_orders_plain_children() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let me = inbox.addr();
    let mut sup = Supervisor::new(Strategy::OneForOne);
    for i in 0..5 {
        let me = me.clone();
        sup = sup.child(
            ChildSpec::new(format!("c{i}"), move |mut mb: Mailbox| {
                me.send(json!({"init": i})).unwrap();
                init_ack();
                mb.receive();
            })
            .sync_start(true),
        );
    }
    let sup = sup.spawn(&node);
    let order: Vec<Value> = (0..5)
        .map(|_| inbox.expect_msg(&pattern!(_), LONG)["init"].clone())
        .collect();
    assert_eq!(order, [0, 1, 2, 3, 4]);
    sup.stop_server(LONG).unwrap();
}

#[test]
fn duplicate_child_ids_are_rejected() {
    let node = node();
    let sup = Supervisor::new(Strategy::OneForOne)
        .child(ChildSpec::new("same", |mut mb: Mailbox| {
            mb.receive();
        }))
        .child(ChildSpec::new("same", |mut mb: Mailbox| {
            mb.receive();
        }))
        .spawn(&node);
    assert!(matches!(node.wait(&sup), Err(ExitReason::Failed(m)) if m.contains("duplicate")));
}

#[test]
fn which_children_from_a_plain_thread() {
    let node = node();
    let sup = Supervisor::new(Strategy::OneForOne)
        .child(ChildSpec::new("w", |mut mb: Mailbox| {
            mb.receive();
        }))
        .spawn(&node);
    let s = sup.clone();
    let kids = std::thread::spawn(move || which_children(&s, LONG).unwrap())
        .join()
        .unwrap();
    assert_eq!(kids.len(), 1);
    assert_eq!(kids[0].id, "w");
    assert!(kids[0].address.is_some());
}

/// A server whose `init` asks to stop.
struct RefusesToStart;

impl Server for RefusesToStart {
    fn init(&mut self, ctx: &mut Context) {
        ctx.stop(ExitReason::Failed("no database".into()));
    }
}

#[test]
fn a_server_child_whose_init_stops_fails_the_supervisor_start() {
    let node = node();
    let sup = Supervisor::new(Strategy::OneForOne)
        .child(ChildSpec::server("db", || RefusesToStart))
        .spawn(&node);
    match node.wait(&sup) {
        Err(ExitReason::Failed(m)) => assert!(m.contains("db failed to start"), "{m}"),
        other => panic!("expected a start failure, got {other:?}"),
    }
}

#[test]
fn a_nested_supervisor_whose_child_init_stops_fails_the_parent_start() {
    let node = node();
    let inner =
        Supervisor::new(Strategy::OneForOne).child(ChildSpec::server("db", || RefusesToStart));
    let sup = Supervisor::new(Strategy::OneForOne)
        .child(ChildSpec::supervisor("inner", inner))
        .spawn(&node);
    match node.wait(&sup) {
        Err(ExitReason::Failed(m)) => assert!(m.contains("inner failed to start"), "{m}"),
        other => panic!("expected a start failure, got {other:?}"),
    }
}

/// A child stuck in a call to a server that never answers is killed at once when its
/// supervisor shuts it down (issue 8, row 4): the shutdown does not wait for the call.
#[test]
fn shutting_down_a_child_blocked_in_a_call_kills_it_at_once() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let me = inbox.addr();
    let mute = node.spawn(|mut mb| {
        loop {
            if mb.receive() == "stop" {
                return;
            }
        }
    });
    let m2 = mute.clone();
    let spec = ChildSpec::new("caller", move |mb: Mailbox| {
        me.send(json!({"started": "caller", "address": mb.addr()}))
            .unwrap();
        let _ = m2.call("never", Value::Null, Duration::from_secs(3600));
    })
    .shutdown(Shutdown::BrutalKill);
    let sup = Supervisor::new(Strategy::OneForOne)
        .child(spec)
        .spawn(&node);
    let (_, caller) = started(&mut inbox);
    let t = Duration::from_secs(60);
    terminate_child(&sup, &caller, t).unwrap();
    assert_eq!(node.wait(&caller), Err(ExitReason::Killed));
    mute.send("stop").unwrap();
    sup.stop_server(t).unwrap();
}

/// A child that makes no pyact call cannot be killed; its supervisor gives up on it after
/// `KILL_TIMEOUT` instead of waiting forever (issue 8, row 4: every supervisor wait has a
/// deadline).
#[test]
fn a_child_that_ignores_its_kill_is_abandoned_after_the_kill_timeout() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let node = node();
    let mut inbox = Probe::new(&node);
    let me = inbox.addr();
    let release = Arc::new(AtomicBool::new(false));
    let r2 = release.clone();
    let spec = ChildSpec::new("deaf", move |mb: Mailbox| {
        me.send(json!({"started": "deaf", "address": mb.addr()}))
            .unwrap();
        // Busy without any pyact call (`may`'s own yield lets other actors run).
        while !r2.load(Ordering::Acquire) {
            may::coroutine::yield_now();
        }
    })
    .shutdown(Shutdown::BrutalKill);
    let sup = Supervisor::new(Strategy::OneForOne)
        .child(spec)
        .spawn(&node);
    let (_, deaf) = started(&mut inbox);
    let t = pyact::supervisor::KILL_TIMEOUT * 12;
    assert_eq!(terminate_child(&sup, &deaf, t), Ok(()));
    release.store(true, Ordering::Release);
    node.wait(&deaf).unwrap();
    sup.stop_server(t).unwrap();
}

#[test]
fn a_child_mailbox_limit_holds_at_every_start() {
    let node = node();
    let mut inbox = Probe::new(&node);
    let me = inbox.addr();
    // The child reads nothing while `gate` lives, so what is sent to it stays unread.
    let gate = node.spawn(|mut mb| {
        mb.receive();
    });
    let g = gate.clone();
    let idle = move |id: &'static str| {
        let (me, g) = (me.clone(), g.clone());
        ChildSpec::new(id, move |mb: Mailbox| {
            me.send(json!({"started": id, "address": mb.addr()}))
                .unwrap();
            let _ = mb.node().wait(&g);
        })
    };
    let sup = Supervisor::new(Strategy::OneForOne)
        .child(idle("bounded").mailbox_limit(2))
        .child(idle("free"))
        .spawn(&node);
    let kids = started_n(&mut inbox, 2);
    let (first, free) = (lookup(&kids, "bounded"), lookup(&kids, "free"));
    first.send(1).unwrap();
    first.send(2).unwrap();
    assert!(matches!(first.send(3), Err(SendError::MailboxFull(_))));
    // The restarted child is bounded too.
    let r = inbox.monitor(&first);
    first.kill().unwrap();
    inbox.expect_down(r, LONG);
    let (_, second) = started(&mut inbox);
    assert_ne!(second, first);
    second.send(1).unwrap();
    second.send(2).unwrap();
    assert!(matches!(second.send(3), Err(SendError::MailboxFull(_))));
    // A child without the option stays unbounded.
    for n in 0..10 {
        free.send(n).unwrap();
    }
    sup.stop_server(LONG).unwrap();
    gate.send("done").unwrap();
}
