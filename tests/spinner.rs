//! A busy actor never strands others (issue 8, row 2). Own test binary: two workers, fixed
//! by `Config`. One actor spins without any pyact call (the bug the watchdog reports, but
//! it must not take other actors down with it): 100 spawn+wait of trivial actors from a
//! plain thread must all finish.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pyact::config::Config;
use pyact::{Mesh, Node, json};

#[test]
fn a_spinning_actor_does_not_strand_actors_queued_behind_it() {
    Config::default().workers(2).watchdog(None).apply().unwrap();
    let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let spinner = node.spawn(move |_| {
        while !s2.load(Ordering::Relaxed) {
            std::hint::spin_loop();
        }
    });
    // Every spawn and every wait must finish; a stranded actor would hang its wait, so the
    // waits run on a helper thread and the test fails (rather than hangs) after a minute.
    let node2 = node.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for i in 0..100 {
            let a = node2.spawn(move |_| json!(i));
            let r = node2.wait(&a);
            tx.send((i, r)).unwrap();
        }
    });
    for i in 0..100 {
        let got = rx.recv_timeout(Duration::from_secs(60));
        assert!(
            matches!(&got, Ok((j, Ok(v))) if *j == i && *v == json!(i)),
            "spawn+wait #{i} did not finish while an actor spins: {got:?}"
        );
    }
    stop.store(true, Ordering::Relaxed);
    node.wait(&spinner).unwrap();
}
