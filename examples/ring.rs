//! The seed's ring: N actors, each forwarding one message to the next and dying.
//!
//! `cargo run --release --example ring -- N` (default 10000). Prints the message that came
//! around, the time to build the ring and the time to pass the message (and both again as
//! `build_s` / `pass_s` lines for `benches/compare.sh`). Finished actors' coroutines are
//! reused by default (`Config::pool_capacity`); `PYACT_POOL=N` bounds that pool to N.
//!
//! `ring N --start-on-message` spawns the forwarders with
//! `SpawnOptions::start_on_message`: each waits without a coroutine until the message
//! reaches it, then runs on a warm one (the seed's ring, and Erlang's, start every
//! forwarder at once: that is the plain spawn).

use std::time::Instant;

use pyact::{Address, Mailbox, Mesh, Node, SpawnOptions, curaddr, json, spawn};

fn forward(mut mb: Mailbox, next: Address) {
    let data = mb.receive();
    let _ = next | data;
}

fn build(mut mb: Mailbox, n: usize, on_message: bool) -> pyact::Value {
    let t0 = Instant::now();
    let mut ring: Vec<Address> = Vec::with_capacity(n);
    let dormant = SpawnOptions::new().start_on_message();
    for _ in 0..n {
        let next = ring
            .last()
            .cloned()
            .unwrap_or_else(|| curaddr().expect("in an actor"));
        let f = move |mb| forward(mb, next);
        ring.push(if on_message {
            mb.node().spawn_opts(dormant.clone(), f).expect("spawn")
        } else {
            spawn(f)
        });
    }
    let built = t0.elapsed();
    let t1 = Instant::now();
    let _ = ring.last().expect("n >= 1") | json!({"text": "hello around the ring"});
    let data = mb.receive();
    let passed = t1.elapsed();
    json!({"data": data, "build_s": built.as_secs_f64(), "pass_s": passed.as_secs_f64()})
}

/// A `vm.max_map_count` that allows `actors` live actors, given that the current one allows
/// `limit` (the limit grows in proportion to the maps; generous rounding up).
fn maps_for(actors: usize, limit: usize) -> usize {
    let maps: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65_530);
    (maps.saturating_mul(actors) / limit.max(1) + 100_000).next_power_of_two()
}

fn main() {
    env_logger::init();
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let on_message = match args.iter().position(|a| a == "--start-on-message") {
        Some(i) => {
            args.remove(i);
            true
        }
        None => false,
    };
    let n: usize = match args.first().map(|a| a.parse()) {
        None if args.is_empty() => 10_000,
        Some(Ok(n)) if n > 0 && args.len() == 1 => n,
        _ => {
            eprintln!("usage: ring [N>0] [--start-on-message]");
            std::process::exit(2);
        }
    };
    // PYACT_POOL=N bounds the pool of finished coroutines kept for reuse (see
    // Config::pool_capacity; the default keeps up to 1,048,576).
    if let Some(pool) = std::env::var("PYACT_POOL")
        .ok()
        .and_then(|p| p.parse().ok())
    {
        pyact::config::Config::default()
            .pool_capacity(pool)
            .apply()
            .expect("first configuration");
    }
    let mesh = Mesh::new();
    let node = Node::new(&mesh, "cookie@127.0.0.1:0").expect("node");
    let limit = pyact::config::Config::default().actor_limit();
    if n + 1 > limit {
        eprintln!(
            "ring of {n} needs {} live actors but this machine allows {limit}: actors' \
             stacks take memory mappings and vm.max_map_count caps them. Raise it with\n  \
             sudo sysctl -w vm.max_map_count={}",
            n + 1,
            maps_for(n + 1, limit)
        );
        std::process::exit(1);
    }
    let addr = node.spawn(move |mb| build(mb, n, on_message));
    match node.wait(&addr) {
        Ok(r) => {
            println!("{}", r["data"]);
            println!(
                "ring of {n}: built in {:.3} s ({:.2} us/actor), message passed in {:.3} s ({:.2} us/hop)",
                r["build_s"].as_f64().unwrap_or(0.0),
                r["build_s"].as_f64().unwrap_or(0.0) * 1e6 / n as f64,
                r["pass_s"].as_f64().unwrap_or(0.0),
                r["pass_s"].as_f64().unwrap_or(0.0) * 1e6 / n as f64,
            );
            // Machine-readable, for benches/compare.sh.
            println!("build_s {}", r["build_s"]);
            println!("pass_s {}", r["pass_s"]);
        }
        Err(e) => {
            eprintln!("ring failed: {e}");
            std::process::exit(1);
        }
    }
}
