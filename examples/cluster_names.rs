//! How fast cluster-wide names and process groups spread: five nodes in one process, wired
//! pairwise, and the time until every node sees a change (issue 17's goals: a name resolves
//! on all within 500 ms, gone within 1 s of its actor's end; a group join visible everywhere
//! within 500 ms, a leave or end within 1 s).
//!
//! ```text
//! cargo run --release --example cluster_names [ROUNDS]     # default 200
//! ```
//!
//! Each round, on the next node in turn: `global::register_name` (timed alone: the lock
//! round with the four others), then until `whereis_name` answers it on all five; the actor
//! ends, until the name is gone on all five; `pg::join`, until `get_members` lists it on all
//! five; the actor ends, until it is gone from all five. The main thread polls every 20 µs.
//! Prints p50 / p99 / max per measure.

use std::time::{Duration, Instant};

use pyact::{Mesh, Node, global, pg};

fn until(what: &str, mut cond: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < Duration::from_secs(30), "never: {what}");
        std::thread::sleep(Duration::from_micros(20));
    }
    t0.elapsed()
}

fn report(what: &str, mut v: Vec<Duration>) {
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    println!(
        "{what:<32} p50 {:>9.3?}  p99 {:>9.3?}  max {:>9.3?}  (n={})",
        at(0.5),
        at(0.99),
        v[v.len() - 1],
        v.len()
    );
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let mesh = Mesh::new();
    let nodes: Vec<Node> = (0..5)
        .map(|_| Node::new(&mesh, "cluster-names-demo@127.0.0.1:0").unwrap())
        .collect();
    for (i, a) in nodes.iter().enumerate() {
        for b in &nodes[i + 1..] {
            a.connect(&format!("cluster-names-demo@{}", b.name()))
                .unwrap();
        }
    }
    for n in &nodes {
        global::registered_names(n);
        pg::which_groups(n);
    }
    for n in &nodes {
        global::sync(n).unwrap();
    }
    let (mut reg, mut resolve, mut gone, mut join, mut left) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in 0..rounds {
        let home = &nodes[r % nodes.len()];
        let name = format!("name{r}");
        let a = home.spawn(|mut mb| {
            mb.receive();
        });
        let t0 = Instant::now();
        global::register_name(home, &name, &a).unwrap();
        reg.push(t0.elapsed());
        resolve.push(
            t0.elapsed()
                + until("resolved everywhere", || {
                    nodes
                        .iter()
                        .all(|n| global::whereis_name(n, &name).as_ref() == Some(&a))
                }),
        );
        a.send("stop").unwrap();
        gone.push(until("gone everywhere", || {
            nodes
                .iter()
                .all(|n| global::whereis_name(n, &name).is_none())
        }));

        let group = format!("group{r}");
        let b = home.spawn(|mut mb| {
            mb.receive();
        });
        let t0 = Instant::now();
        pg::join(home, &group, &b).unwrap();
        join.push(
            t0.elapsed()
                + until("member everywhere", || {
                    nodes.iter().all(|n| pg::get_members(n, &group).len() == 1)
                }),
        );
        b.send("stop").unwrap();
        left.push(until("member gone everywhere", || {
            nodes.iter().all(|n| pg::get_members(n, &group).is_empty())
        }));
    }
    report("global: register_name call", reg);
    report("global: resolves on all 5", resolve);
    report("global: gone on all 5 after end", gone);
    report("pg: join visible on all 5", join);
    report("pg: gone on all 5 after end", left);
    for n in &nodes {
        n.shutdown();
    }
}
