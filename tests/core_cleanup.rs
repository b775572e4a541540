//! An ended watcher leaves nothing behind (issue 8, row 6), and a thread's context follows
//! its inboxes (row 7).

use std::time::Duration;

use pyact::{Mesh, Node, curaddr, json};

const LONG: Duration = Duration::from_secs(60);

fn node() -> Node {
    Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap()
}

#[test]
fn ended_watchers_leave_no_monitors_on_a_long_lived_target() {
    let node = node();
    let target = node.spawn(|mut mb| {
        mb.receive();
    });
    let watchers: Vec<_> = (0..100)
        .map(|_| {
            let t = target.clone();
            node.spawn(move |mut mb| {
                mb.monitor(&t);
            })
        })
        .collect();
    for w in &watchers {
        node.wait(w).unwrap();
    }
    let info = node.info(&target).expect("target alive");
    assert_eq!(info.monitored_by.len(), 0, "stale monitors: {info:?}");
    target.send("stop").unwrap();
    node.wait(&target).unwrap();
}

#[test]
fn ended_linked_actors_leave_no_links_on_a_long_lived_target() {
    let node = node();
    let target = node.spawn(|mut mb| {
        mb.receive();
    });
    let peers: Vec<_> = (0..100)
        .map(|_| {
            let t = target.clone();
            node.spawn(move |mut mb| {
                mb.link(&t);
            })
        })
        .collect();
    for p in &peers {
        node.wait(p).unwrap();
    }
    let info = node.info(&target).expect("target alive");
    assert!(info.links.is_empty(), "stale links: {info:?}");
    target.send("stop").unwrap();
    node.wait(&target).unwrap();
}

#[test]
fn a_live_watcher_is_listed_until_it_ends() {
    let node = node();
    let target = node.spawn(|mut mb| {
        mb.receive();
    });
    let t = target.clone();
    let watcher = node.spawn(move |mut mb| {
        mb.monitor(&t);
        mb.link(&t); // placed after the monitor: seeing it means both are there
        mb.receive();
    });
    let deadline = std::time::Instant::now() + LONG;
    while node.info(&target).unwrap().links.is_empty() {
        assert!(std::time::Instant::now() < deadline, "monitor never placed");
        std::thread::yield_now();
    }
    let info = node.info(&target).unwrap();
    assert_eq!(info.monitored_by, vec![watcher.clone()]);
    assert_eq!(info.links, vec![watcher.clone()]);
    watcher.send("bye").unwrap();
    node.wait(&watcher).unwrap();
    let info = node.info(&target).unwrap();
    assert!(
        info.monitored_by.is_empty() && info.links.is_empty(),
        "{info:?}"
    );
    target.send("stop").unwrap();
}

#[test]
fn a_threads_context_follows_its_inboxes() {
    std::thread::spawn(|| {
        let node = node();
        assert_eq!(curaddr(), None);
        let first = node.inbox();
        assert_eq!(curaddr(), Some(first.addr()));
        let second = node.inbox();
        assert_eq!(curaddr(), Some(second.addr()));
        drop(second);
        assert_eq!(curaddr(), Some(first.addr()));
        drop(first);
        assert_eq!(
            curaddr(),
            None,
            "a dropped inbox is still the thread's address"
        );
        assert!(pyact::actor::current_node().is_none());
    })
    .join()
    .unwrap();
}

#[test]
fn an_inbox_made_inside_an_actor_does_not_change_its_curaddr() {
    let node = node();
    let a = node.spawn(|mb| {
        let me = mb.addr();
        let inbox = pyact::actor::current_node().unwrap().inbox();
        let same = curaddr() == Some(me.clone());
        drop(inbox);
        json!([same, curaddr() == Some(me)])
    });
    assert_eq!(node.wait(&a).unwrap(), json!([true, true]));
}

/// Stretches the moment an actor ends: `ActorCell::finish` logs "exited" on its way out (it
/// used to do so after setting the reason but before updating the live table and the
/// registry), so while [`SLOW_END`] is on, a waiter that arrives then lands in any such gap.
struct SlowEnd;

static SLOW_END: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The node whose actors [`SlowEnd`] slows down.
static SLOW_NODE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

impl log::Log for SlowEnd {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        // Only the actors of the node of the test that turned it on: other tests of this
        // binary run meanwhile, at their own pace.
        let msg = record.args().to_string();
        if SLOW_END.load(std::sync::atomic::Ordering::SeqCst)
            && msg.contains("exited")
            && SLOW_NODE
                .get()
                .is_some_and(|n| msg.starts_with(&format!("{n}/")))
        {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    fn flush(&self) {}
}

/// After `wait` returns, the ended actor is neither counted nor named, and its peers'
/// tables no longer hold its link: `finish` unlinks the peers first, then sets the reason,
/// drops the name and moves the actor from the live table to the exit records in one
/// critical section (the reason used to be visible first, and a `wait` arriving then
/// returned with the actor still counted: tests/limit.rs failed on it).
#[test]
fn after_wait_returns_the_actor_is_neither_counted_nor_named_nor_linked() {
    log::set_logger(&SlowEnd).unwrap();
    log::set_max_level(log::LevelFilter::Debug);
    let node = node();
    SLOW_NODE.set(node.name().to_string()).unwrap();
    let target = node.spawn(|mut mb| {
        mb.receive();
    });
    for round in 0..200 {
        let t = target.clone();
        let a = node.spawn(move |mut mb| {
            mb.link(&t);
            mb.receive();
        });
        node.register("ending", &a).unwrap();
        SLOW_END.store(true, std::sync::atomic::Ordering::SeqCst);
        a.send("go").unwrap();
        // Arrives while the actor is ending: after the reason is set, before it is gone.
        while node.info(&a).is_some_and(|i| !i.exiting) {}
        node.wait(&a).unwrap();
        SLOW_END.store(false, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(node.actor_count(), 1, "round {round}: only the target");
        assert_eq!(node.whereis("ending"), None, "round {round}");
        let links = node.info(&target).unwrap().links;
        assert!(links.is_empty(), "round {round}: {links:?}");
    }
    target.send("stop").unwrap();
    node.wait(&target).unwrap();
}
