//! A queued actor starts even when its spawner never makes another pyact call (src/pool.rs,
//! "What the claim assumes"): the runner its spawn put on its way, stolen by the other
//! worker, or else the watchdog thread's look, starts it, also with the watchdog's reports
//! turned off. Own test binary: two workers, fixed by `Config` (with
//! one worker, a spinning actor holds the only worker and nothing else can run at all).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pyact::config::Config;
use pyact::observe::{ActorInfo, Status};
use pyact::{Mailbox, Mesh, Node, json, spawn};

#[test]
fn a_queued_actor_starts_while_its_spawner_spins_without_a_pyact_call() {
    Config::default().workers(2).watchdog(None).apply().unwrap();
    let n = Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap();
    let parent = n.spawn(|_| {
        let node = pyact::actor::current_node().unwrap();
        // Spawn until one is seen waiting for a coroutine; each notes when it runs.
        let (victim, started) = (0..100_000)
            .find_map(|_| {
                let ran = Arc::new(AtomicBool::new(false));
                let r = ran.clone();
                let a = spawn(move |mut mb: Mailbox| {
                    r.store(true, Ordering::SeqCst);
                    let _ = mb.receive();
                });
                let queued = node
                    .info(&a)
                    .is_some_and(|i: ActorInfo| i.status == Status::Starting);
                queued.then_some((a, ran))
            })
            .expect("no spawn from an actor was ever queued");
        // No pyact call from here on: only the runner on its way (on this busy worker's
        // queue until the other worker steals it) or the watchdog thread can start it.
        let t0 = Instant::now();
        while !started.load(Ordering::SeqCst) && t0.elapsed() < Duration::from_secs(120) {
            std::hint::spin_loop();
        }
        let ok = started.load(Ordering::SeqCst);
        for (a, _) in node.actors() {
            if a != victim && Some(&a) != pyact::curaddr().as_ref() {
                let _ = a.kill();
            }
        }
        victim.kill().unwrap();
        json!(ok)
    });
    assert_eq!(n.wait(&parent).unwrap(), true);
}
