//! No entry of a waiter, monitor or link outlives the actor that made it, however it ended
//! (issue 16, row 9): a long-lived target collects nothing from actors that waited on it,
//! monitored it or linked to it and were killed (or ended by an exit signal) while
//! blocked in `wait`.

use std::time::{Duration, Instant};

use pyact::{Address, ExitReason, Mesh, Node, json};

fn node() -> Node {
    Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap()
}

/// A long-lived target that traps exits (a linked waiter's end does not take it down).
fn target(node: &Node) -> Address {
    node.spawn(|mut mb| {
        mb.trap_exit(true);
        loop {
            if mb.receive() == "stop" {
                return;
            }
        }
    })
}

/// Wait (deadline 60 s) until every one of `waiters` is parked in its `wait`.
fn until_waiting(node: &Node, target: &Address, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while node.info(target).unwrap().waiters < n {
        assert!(Instant::now() < deadline, "the waiters never all waited");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn waiters_killed_while_blocked_in_wait_leave_no_entry_behind() {
    let node = node();
    let t = target(&node);
    let waiters: Vec<Address> = (0..100)
        .map(|_| {
            let (n, t) = (node.clone(), t.clone());
            node.spawn(move |mut mb| {
                mb.monitor(&t);
                mb.link(&t);
                n.wait(&t).ok();
            })
        })
        .collect();
    until_waiting(&node, &t, 100);
    let info = node.info(&t).unwrap();
    assert_eq!((info.monitored_by.len(), info.links.len()), (100, 100));
    for w in &waiters {
        w.kill().unwrap();
    }
    for w in &waiters {
        assert_eq!(node.wait(w), Err(ExitReason::Killed));
    }
    let info = node.info(&t).unwrap();
    assert_eq!(info.waiters, 0, "waiter entries left behind");
    assert_eq!(info.monitored_by, Vec::<Address>::new());
    assert_eq!(info.links, Vec::<Address>::new());
    t.send("stop").unwrap();
    assert_eq!(node.wait(&t), Ok(json!(null)));
}

#[test]
fn waiters_ended_by_an_exit_signal_or_returning_leave_no_entry_behind() {
    let node = node();
    let t = target(&node);
    let other = node.spawn(|mut mb| mb.receive());
    // 50 end by an exit signal while parked in `wait`; 50 wait on a short-lived actor
    // too and return normally (their entries went with that actor).
    let signalled: Vec<Address> = (0..50)
        .map(|_| {
            let (n, t) = (node.clone(), t.clone());
            node.spawn(move |_| {
                n.wait(&t).ok();
            })
        })
        .collect();
    let returned: Vec<Address> = (0..50)
        .map(|_| {
            let (n, o) = (node.clone(), other.clone());
            node.spawn(move |_| n.wait(&o).map(|_| ()).unwrap_or(()))
        })
        .collect();
    until_waiting(&node, &t, 50);
    until_waiting(&node, &other, 50);
    let me = node.spawn(|mut mb| mb.receive());
    for s in &signalled {
        s.exit(&me, ExitReason::Failed("go away".into())).unwrap();
    }
    other.send("done").unwrap();
    for s in &signalled {
        assert!(node.wait(s).is_err());
    }
    for r in &returned {
        assert_eq!(node.wait(r), Ok(json!(null)));
    }
    assert_eq!(node.info(&t).unwrap().waiters, 0);
    t.send("stop").unwrap();
    assert_eq!(node.wait(&t), Ok(json!(null)));
    me.kill().unwrap();
}

/// An actor blocked in `wait` on an actor of another node is parked like any pyact call:
/// a kill ends it at once (it used to stay blocked until the remote target ended), its
/// request leaves the node's table of pending requests as it unwinds, and the entry its
/// wait made on the other node is taken back.
#[test]
fn an_actor_killed_while_blocked_in_a_remote_wait_ends_at_once() {
    let a = node();
    let b = node();
    let t = target(&b);
    let waiter = {
        let (a2, t) = (a.clone(), t.clone());
        a.spawn(move |_| {
            a2.wait(&t).ok();
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while b.net_stats().remote_waits < 1 {
        assert!(Instant::now() < deadline, "the remote wait never arrived");
        std::thread::sleep(Duration::from_millis(5));
    }
    waiter.kill().unwrap();
    assert_eq!(
        waiter.wait_timeout(Duration::from_secs(30)),
        Ok(Err(ExitReason::Killed)),
        "the killed waiter did not end"
    );
    // Its wait is taken back from `b` (`unwait`): no entry outlives the waiter there either.
    while b.net_stats().remote_waits > 0 || b.info(&t).unwrap().waiters > 0 {
        assert!(
            Instant::now() < deadline,
            "the killed waiter's remote wait stayed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // The target lives on, and still answers a later remote wait.
    let again = {
        let (a2, t) = (a.clone(), t.clone());
        a.spawn(move |_| a2.wait(&t).is_ok())
    };
    while b.net_stats().remote_waits < 1 {
        assert!(
            Instant::now() < deadline,
            "the second remote wait never arrived"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    t.send("stop").unwrap();
    assert_eq!(
        again.wait_timeout(Duration::from_secs(30)),
        Ok(Ok(json!(true)))
    );
}
