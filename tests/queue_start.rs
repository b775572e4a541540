//! "One runner on its way" (src/pool.rs): actors spawned by an actor and queued for a
//! coroutine are started one at a time, not all at once when the first of them blocks. A
//! queued actor that would only start to block in `receive` is left queued, holding no
//! stack, until its message starts it on a warm coroutine ("Mail first").
//!
//! One worker thread (this binary's configuration), so that no other worker starts queued
//! actors meanwhile: how many start early is then decided by the policy alone.

use std::time::Duration;

use pyact::actor::yield_now;
use pyact::{Address, Mesh, Node, json, spawn};

const PATIENCE: Duration = Duration::from_secs(120);

#[test]
fn queued_actors_that_block_are_not_all_given_a_coroutine_at_once() {
    pyact::config::Config::default()
        .workers(1)
        .apply()
        .expect("first configuration of this binary");
    const N: usize = 5_000;
    let n = Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap();
    let before = generator::stacks_in_use();
    let spawner = n.spawn(move |mut mb| {
        let me = mb.addr();
        let workers: Vec<Address> = (0..N)
            .map(|_| {
                let me = me.clone();
                spawn(move |mut mb| {
                    let job = mb.receive();
                    let _ = me.send(job);
                })
            })
            .collect();
        // One block before any mail: the queue gets a runner, and the oldest queued
        // actor it starts blocks in `receive` (with the old flush, that block gave every
        // other queued actor a coroutine of its own at once).
        yield_now();
        for (i, w) in workers.iter().enumerate() {
            w.send(json!(i)).unwrap();
        }
        let mut sum = 0;
        for _ in 0..N {
            sum += mb.receive_timeout(PATIENCE).unwrap().as_u64().unwrap();
        }
        json!(sum)
    });
    let done = spawner
        .wait_timeout(PATIENCE)
        .expect("every worker answers in time");
    assert_eq!(done, Ok(json!((N * (N - 1) / 2) as u64)));
    let grown = generator::stacks_in_use().saturating_sub(before);
    assert!(grown < N / 4, "{N} queued actors took {grown} new stacks");
}
