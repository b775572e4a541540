//! pyact side of `benches/compare.sh`: one workload per process, timed inside the program,
//! printed as `key value` lines (the same keys as `benches/erlang/bench.erl`).
//!
//! ```text
//! cargo run --release --example workload -- spawn N       # spawn N actors that end, wait for each
//! cargo run --release --example workload -- pingpong N    # N round trips between two actors
//! cargo run --release --example workload -- idle N        # resident KiB per idle actor
//! cargo run --release --example workload -- idle-dormant N  # the same, spawned to start on a message
//! cargo run --release --example workload -- idle-hibernated N  # the same, each hibernated (Mailbox::hibernate)
//! cargo run --release --example workload -- serve         # prints "ready NODE"; runs until stdin closes
//! cargo run --release --example workload -- oneway NODE N # N one-way messages to NODE's sink, then a sync
//! cargo run --release --example workload -- roundtrip NODE N
//! cargo run --release --example workload --features tls -- certs DIR  # see PYACT_TLS below
//! ```
//!
//! The ring is `examples/ring.rs`. Every node listens on 127.0.0.1 (port 0 = any free port);
//! the cookie is `PYACT_COOKIE` (default `pyact-bench`). With `PYACT_TLS=DIR` (a build with
//! `--features tls`) every node's links are encrypted with the certificates `certs DIR`
//! wrote: one CA and one certificate for 127.0.0.1 that both sides present (issue 19's TLS
//! row: one-way between two processes, against Erlang's plain distribution).

use std::io::BufRead;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pyact::actor::current_node;
use pyact::{Address, Mesh, Node, Value, json, spawn};

fn cookie() -> String {
    std::env::var("PYACT_COOKIE").unwrap_or_else(|_| "pyact-bench".into())
}

fn kv(k: &str, v: impl std::fmt::Display) {
    println!("{k} {v}");
}

/// A node on 127.0.0.1, its links encrypted when `PYACT_TLS` names a certificate directory.
fn node() -> Node {
    let name = format!("{}@127.0.0.1:0", cookie());
    match std::env::var_os("PYACT_TLS") {
        None => Node::new(&Mesh::new(), &name).expect("node"),
        Some(dir) => tls::node(&name, dir.as_ref()),
    }
}

#[cfg(feature = "tls")]
#[path = "../benches/common/certs.rs"]
mod certs;

#[cfg(feature = "tls")]
mod tls {
    use super::certs;
    use pyact::remote::TlsOptions;
    use pyact::{Mesh, Node, NodeOptions};
    use std::path::Path;

    /// A node whose links use DIR/node.pem, DIR/node.key and DIR/ca.pem.
    pub fn node(name: &str, dir: &Path) -> Node {
        let tls = TlsOptions::from_pem_files(
            dir.join("node.pem"),
            dir.join("node.key"),
            dir.join("ca.pem"),
        )
        .expect("PYACT_TLS: the files `workload certs DIR` writes");
        Node::with_options(&Mesh::new(), name, NodeOptions::default().tls(tls)).expect("node")
    }

    /// Writes a fresh CA (ca.pem) and a certificate for 127.0.0.1 signed by it, usable by
    /// both ends of a link (node.pem, node.key), into `dir`.
    pub fn certs(dir: &Path) {
        let ca = certs::ca("workload CA");
        let (cert, key) = certs::node_cert(&ca, "workload node", &["127.0.0.1"]);
        std::fs::create_dir_all(dir).expect("certificate directory");
        for (file, pem) in [("ca.pem", ca.pem()), ("node.pem", cert), ("node.key", key)] {
            std::fs::write(dir.join(file), pem).expect("write a certificate file");
        }
    }
}

#[cfg(not(feature = "tls"))]
mod tls {
    use pyact::Node;
    use std::path::Path;

    fn unbuilt() -> ! {
        eprintln!("PYACT_TLS and `certs` need a build with --features tls");
        std::process::exit(2)
    }

    pub fn node(_: &str, _: &Path) -> Node {
        unbuilt()
    }

    pub fn certs(_: &Path) {
        unbuilt()
    }
}

/// Spawn `n` actors that return at once, then wait for each one: nanoseconds.
fn spawn_round(node: &Node, n: usize) -> u64 {
    let parent = node.spawn(move |_mb| {
        let node = current_node().expect("in an actor");
        let t0 = Instant::now();
        let children: Vec<Address> = (0..n).map(|_| spawn(|_mb| {})).collect();
        for c in &children {
            node.wait(c).expect("child ended normally");
        }
        json!(t0.elapsed().as_nanos() as u64)
    });
    node.wait(&parent)
        .expect("spawner")
        .as_u64()
        .expect("nanoseconds")
}

fn pingpong(node: &Node, n: usize) -> u64 {
    let pinger = node.spawn(move |mut mb| {
        let me = mb.addr();
        let ponger = spawn(move |mut mb| {
            loop {
                let v = mb.receive();
                if v.is_null() {
                    return;
                }
                me.send(v).expect("pinger alive");
            }
        });
        let mut v = json!({"ping": "pong"});
        for _ in 0..1000 {
            ponger.send(v).expect("ponger alive");
            v = mb.receive();
        }
        let t0 = Instant::now();
        for _ in 0..n {
            ponger.send(v).expect("ponger alive");
            v = mb.receive();
        }
        let took = t0.elapsed();
        ponger.send(Value::Null).expect("ponger alive");
        json!(took.as_nanos() as u64)
    });
    node.wait(&pinger)
        .expect("pinger")
        .as_u64()
        .expect("nanoseconds")
}

fn rss_kib() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .expect("/proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Resident KiB per idle actor, waiting as `how` says.
fn idle(node: &Node, n: usize, how: Idle) -> f64 {
    let warm = node.spawn(|_mb| {});
    node.wait(&warm).expect("warm-up");
    std::thread::sleep(Duration::from_millis(50));
    let started = Arc::new(AtomicUsize::new(0));
    let before = rss_kib();
    let opts = pyact::SpawnOptions::new().start_on_message();
    let addrs: Vec<Address> = (0..n)
        .map(|_| {
            let started = started.clone();
            match how {
                Idle::Receiving => node.spawn(move |mut mb: pyact::Mailbox| {
                    started.fetch_add(1, Ordering::Release);
                    let _ = mb.receive();
                }),
                Idle::Dormant => node
                    .spawn_opts(opts.clone(), |mut mb: pyact::Mailbox| {
                        let _ = mb.receive();
                    })
                    .expect("spawn"),
                Idle::Hibernated => node.spawn(move |mb: pyact::Mailbox| {
                    started.fetch_add(1, Ordering::Release);
                    mb.hibernate(|mut mb| {
                        let _ = mb.receive();
                    })
                }),
            }
        })
        .collect();
    while how != Idle::Dormant && started.load(Ordering::Acquire) < n {
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(50));
    if how == Idle::Hibernated {
        // Spawned from this thread faster than they hibernate, many actors started on a
        // coroutine of their own; back in the pool, idle, those are ended by its reaper
        // (half the excess a second). What stays is the actors' own memory.
        std::thread::sleep(Duration::from_secs(6));
    }
    let after = rss_kib();
    for a in &addrs {
        let _ = a.send(Value::Null);
    }
    (after.saturating_sub(before)) as f64 / n as f64
}

/// How the actors of [`idle`] wait.
#[derive(Clone, Copy, PartialEq)]
enum Idle {
    /// Parked in `receive`, on their coroutines.
    Receiving,
    /// Spawned to start on their first message: never started.
    Dormant,
    /// Started, then hibernated (`Mailbox::hibernate`) until their first message.
    Hibernated,
}

fn serve() {
    let node = node();
    let sink = node.spawn(|mut mb| {
        loop {
            let m = mb.receive();
            if m == "stop" {
                return;
            }
            let reply_to = |key: &str| {
                m.get(key)
                    .and_then(|a| serde_json::from_value::<Address>(a.clone()).ok())
            };
            if let Some(to) = reply_to("sync") {
                let _ = to.send("synced");
            } else if let Some(to) = reply_to("from") {
                let _ = to.send(json!({"pong": m["ping"]}));
            }
        }
    });
    node.register("sink", &sink).expect("fresh name");
    println!("ready {}", node.name());
    for _ in std::io::stdin().lock().lines() {}
    let _ = sink.send("stop");
    let _ = node.wait(&sink);
}

fn remote(peer: String, n: usize, oneway: bool) {
    let node = node();
    let sink = match node.whereis_remote(&peer, "sink") {
        Ok(Some(a)) => a,
        other => {
            eprintln!("no sink on {peer}: {other:?}");
            std::process::exit(1)
        }
    };
    let client = node.spawn(move |mut mb| {
        let me = mb.addr();
        let mut run = |n: usize| {
            if oneway {
                for i in 0..n {
                    sink.send(json!({"seq": i, "text": "one way"}))
                        .expect("send");
                }
                sink.send(json!({ "sync": me })).expect("send");
                assert_eq!(mb.receive(), "synced");
            } else {
                for i in 0..n {
                    sink.send(json!({"ping": i, "from": me})).expect("send");
                    assert_eq!(mb.receive()["pong"], i);
                }
            }
        };
        run(if oneway { 1000 } else { 100 });
        let t0 = Instant::now();
        run(n);
        json!(t0.elapsed().as_nanos() as u64)
    });
    let ns = node.wait(&client).expect("client").as_u64().expect("ns") as f64;
    kv("n", n);
    if oneway {
        kv("msgs_per_s", format!("{:.1}", n as f64 / (ns / 1e9)));
    } else {
        kv("us_per_round_trip", format!("{:.3}", ns / 1e3 / n as f64));
    }
}

fn main() {
    env_logger::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num =
        |i: usize, d: usize| -> usize { args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d) };
    match args.first().map(String::as_str) {
        Some("spawn") => {
            let n = num(1, 10_000);
            let node = node();
            spawn_round(&node, n); // warm-up, like the Erlang side
            let ns = spawn_round(&node, n);
            kv("n", n);
            kv("us_per_actor", format!("{:.4}", ns as f64 / 1e3 / n as f64));
        }
        Some("pingpong") => {
            let n = num(1, 200_000);
            let ns = pingpong(&node(), n);
            kv("n", n);
            kv(
                "us_per_round_trip",
                format!("{:.4}", ns as f64 / 1e3 / n as f64),
            );
        }
        Some(m @ ("idle" | "idle-dormant" | "idle-hibernated")) => {
            let n = num(1, 100_000);
            let how = match m {
                "idle" => Idle::Receiving,
                "idle-dormant" => Idle::Dormant,
                _ => Idle::Hibernated,
            };
            let k = idle(&node(), n, how);
            kv("n", n);
            kv("kib_per_actor", format!("{k:.3}"));
        }
        Some("serve") => serve(),
        Some("certs") if args.len() >= 2 => tls::certs(args[1].as_ref()),
        Some(m @ ("oneway" | "roundtrip")) if args.len() >= 2 => {
            let oneway = m == "oneway";
            remote(
                args[1].clone(),
                num(2, if oneway { 200_000 } else { 10_000 }),
                oneway,
            )
        }
        _ => {
            eprintln!(
                "usage: workload spawn N | pingpong N | idle N | idle-dormant N | idle-hibernated N | serve | oneway NODE N | roundtrip NODE N | certs DIR"
            );
            std::process::exit(2)
        }
    }
}
