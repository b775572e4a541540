//! Ping-pong between two OS processes over loopback.
//!
//! ```text
//! cargo run --release --example remote_ping -- serve [HOST:PORT]     # prints its node name
//! cargo run --release --example remote_ping -- ping HOST:PORT [N]    # N round trips (default 10000)
//! ```
//!
//! Both sides use the cookie in `PYACT_COOKIE` (default `pyact-demo`). The server registers a
//! `ponger` actor that answers `{"ping": n, "from": <address>}` with `{"pong": n}`.
//!
//! `serve` runs until Ctrl-C or SIGTERM, or until the ponger gets the message `"stop"`. It
//! handles SIGINT and SIGTERM itself (a shell that runs it in the background may have told it
//! to ignore SIGINT; its own handler still hears them): either stops the ponger, like
//! `"stop"`, and the process exits 0. It does not read its standard input, so `serve &` in a
//! script or under a service manager keeps running. After a stop it lingers until its peers
//! have disconnected (at most [`LINGER`]), so a peer that waits on the ponger still gets its
//! result.

use std::time::{Duration, Instant};

use pyact::{Address, Mesh, Node, json, pattern};

/// How long a stopped server waits for its peers to disconnect.
const LINGER: Duration = Duration::from_secs(5);

fn cookie() -> String {
    std::env::var("PYACT_COOKIE").unwrap_or_else(|_| "pyact-demo".into())
}

fn serve(addr: &str) {
    let mesh = Mesh::new();
    let node = Node::new(&mesh, &format!("{}@{addr}", cookie())).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let mut control = node.inbox();
    node.monitor_nodes(&control.addr());
    let ponger = node.spawn(|mut mb| {
        loop {
            let m = mb.receive();
            if m == "stop" {
                return;
            }
            let Ok(to) = Address::try_from(&m["from"]) else {
                continue;
            };
            let _ = to.send(json!({"pong": m["ping"]}));
        }
    });
    node.register("ponger", &ponger).expect("fresh name");
    let stopper = ponger.clone();
    if let Err(e) = ctrlc::set_handler(move || {
        eprintln!("interrupted: stopping");
        let _ = stopper.send("stop");
    }) {
        eprintln!("cannot handle SIGINT/SIGTERM ({e}); stop me with the message \"stop\"");
    }
    let ponger_down = control.monitor(&ponger);
    println!("{}", node.name());
    // Until the ponger stops ("stop", Ctrl-C or SIGTERM).
    control.receive_match(&[&pattern!({"down": = ponger_down})]);
    eprintln!("ponger stopped; waiting for peers to disconnect");
    let deadline = Instant::now() + LINGER;
    while !node.mesh().nodes().is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let _ = control.receive_match_timeout(&[&pattern!({"nodedown": str})], left);
    }
}

fn ping(peer: &str, n: usize) {
    let mesh = Mesh::new();
    let node = Node::new(&mesh, &format!("{}@127.0.0.1:0", cookie())).expect("node");
    let ponger = match node.whereis_remote(peer, "ponger") {
        Ok(Some(a)) => a,
        Ok(None) => {
            eprintln!("no ponger registered on {peer}");
            std::process::exit(1)
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1)
        }
    };
    let pinger = node.spawn(move |mut mb| {
        let me = mb.addr();
        let mut lat = Vec::with_capacity(n);
        let t0 = Instant::now();
        for i in 0..n {
            let t = Instant::now();
            ponger.send(json!({"ping": i, "from": me})).expect("send");
            let r = mb.receive();
            assert_eq!(r["pong"], i);
            lat.push(t.elapsed().as_secs_f64() * 1e6);
        }
        let total = t0.elapsed().as_secs_f64();
        lat.sort_by(|a, b| a.total_cmp(b));
        json!({
            "n": n,
            "total_s": total,
            "p50_us": lat[lat.len() / 2],
            "p99_us": lat[lat.len() * 99 / 100],
            "msgs_per_s": (2 * n) as f64 / total,
        })
    });
    match node.wait(&pinger) {
        Ok(r) => println!(
            "{} round trips to {peer}: median {:.1} us, p99 {:.1} us, {:.0} messages/s",
            r["n"],
            r["p50_us"].as_f64().unwrap_or(0.0),
            r["p99_us"].as_f64().unwrap_or(0.0),
            r["msgs_per_s"].as_f64().unwrap_or(0.0)
        ),
        Err(e) => {
            eprintln!("ping failed: {e}");
            std::process::exit(1)
        }
    }
}

fn main() {
    env_logger::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => serve(args.get(1).map(String::as_str).unwrap_or("127.0.0.1:0")),
        Some("ping") if args.len() >= 2 => ping(
            &args[1],
            args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000),
        ),
        _ => {
            eprintln!("usage: remote_ping serve [HOST:PORT] | ping HOST:PORT [N]");
            std::process::exit(2)
        }
    }
}
