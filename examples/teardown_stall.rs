//! How long closing connections that held many remote waits, monitors and links stalls a
//! node (issue 16, row 2: the goal is no actor delayed by more than 50 ms, and no innocent
//! peer declared down).
//!
//! ```text
//! cargo run --release --example teardown_stall [PER_PEER] [PEERS] [KINDS]
//! ```
//!
//! Defaults: 65,536 entries of each kind per peer, 3 peers, kinds `waits,monitors,links`.
//! A victim node in this process holds one long-lived target actor; `PEERS` raw peers
//! (speaking the wire protocol, `tests/common/wire.rs`) place `PER_PEER` entries of each
//! kind on it; an innocent real node (heartbeat 1 s, down after 5 s of silence) pings
//! an echo actor on the victim, and a probe actor on the victim sleeps 1 ms in a loop.
//! Then every raw peer hangs up at once, and this prints how long the release took, the
//! probe's worst lateness, the innocent peer's worst round trip during the release, and
//! whether the innocent peer stayed connected.

#[path = "../tests/common/wire.rs"]
mod wire;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pyact::{Mesh, Node, NodeOptions, json, pattern};
use wire::RawPeer;

fn frame(out: &mut Vec<u8>, v: serde_json::Value) {
    let body = serde_json::to_vec(&v).unwrap();
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
}

fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !cond() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let per_peer: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(65_536);
    let peers: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(3);
    let kinds = args
        .get(3)
        .cloned()
        .unwrap_or_else(|| "waits,monitors,links".into());
    let (waits, monitors, links) = (
        kinds.contains("waits"),
        kinds.contains("monitors"),
        kinds.contains("links"),
    );
    // Raw peers send no heartbeats: the victim gives them 10 minutes. Room for them all
    // (links and monitors share one per-connection cap).
    let total = per_peer as usize * peers;
    let victim = Node::with_options(
        &Mesh::new(),
        "k@127.0.0.1:0",
        NodeOptions::default()
            .heartbeat(Duration::from_secs(1), Duration::from_secs(600))
            .max_remote_waits(per_peer.max(1) as usize)
            .max_remote_watches(2 * per_peer.max(1) as usize)
            .max_remote_waits_total(total.max(1))
            .max_remote_watches_total((2 * total).max(1)),
    )
    .unwrap();
    // TARGET=idle: the target never reads its mailbox (the release alone is measured);
    // TARGET=yield: it calls `yield_now` every 256 messages; default: a plain receive loop,
    // which handles the burst of trapped exits the links' release sends it in one go.
    let mode = std::env::var("TARGET").unwrap_or_default();
    let target = victim.spawn(move |mut mb| {
        mb.trap_exit(true);
        if mode == "idle" {
            pyact::actor::sleep(Duration::from_secs(3600));
        }
        let mut n = 0u64;
        loop {
            if mb.receive() == "stop" {
                return;
            }
            n += 1;
            if mode == "yield" && n.is_multiple_of(256) {
                pyact::actor::yield_now();
            }
        }
    });
    let echo = victim.spawn(|mut mb| {
        loop {
            let m = mb.receive();
            if m == "stop" {
                return;
            }
            if let Ok(to) = serde_json::from_value::<pyact::Address>(m["reply_to"].clone()) {
                let _ = to.send(json!({"echo": m["n"]}));
            }
        }
    });
    // The heartbeat defaults were 1 s / 5 s when this was written: kept, so that a stall of
    // the victim longer than 5 s still shows as the innocent peer going down.
    let strict = NodeOptions::default().heartbeat(Duration::from_secs(1), Duration::from_secs(5));
    let innocent = Node::with_options(&Mesh::new(), "k@127.0.0.1:0", strict).unwrap();
    innocent
        .connect(&format!("k@{}", victim.name()))
        .expect("innocent peer connects");
    let mut events = innocent.inbox();
    innocent.monitor_nodes(&events.addr());

    println!(
        "placing {per_peer} x ({kinds}) from each of {peers} peers on one actor ({} entries)",
        per_peer as usize * peers * (waits as usize + monitors as usize + links as usize)
    );
    let t = Instant::now();
    let mut raw: Vec<RawPeer> = (0..peers)
        .map(|i| RawPeer::admitted(victim.name(), &format!("127.0.0.1:{}", i + 1), "k"))
        .collect();
    for (i, p) in raw.iter_mut().enumerate() {
        let name = format!("127.0.0.1:{}", i + 1);
        let watcher = json!({"$addr": format!("{name}/1")});
        let mut out = Vec::new();
        for k in 0..per_peer {
            if waits {
                frame(&mut out, json!({"wait": {"req": k, "to": target.id()}}));
            }
            if monitors {
                frame(
                    &mut out,
                    json!({"monitor": {"watcher": watcher, "to": target.id(), "reference": {"$ref": k}}}),
                );
            }
            if links {
                frame(
                    &mut out,
                    json!({"link": {"from": {"$addr": format!("{name}/{}", 10 + k)}, "to": target.id()}}),
                );
            }
        }
        p.stream.write_all(&out).unwrap();
    }
    let want = (
        if waits { total } else { 0 },
        if monitors { total } else { 0 },
        if links { total } else { 0 },
    );
    until("every entry is placed", || {
        let s = victim.net_stats();
        (s.remote_waits, s.remote_monitors, s.remote_links) == want
    });
    println!("placed in {:.2?}", t.elapsed());

    // The probe: an actor of the victim sleeping 1 ms in a loop.
    let stop = Arc::new(AtomicBool::new(false));
    let worst_us = Arc::new(AtomicU64::new(0));
    let probe = {
        let (stop, worst_us) = (stop.clone(), worst_us.clone());
        victim.spawn(move |_| {
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                pyact::actor::sleep(Duration::from_millis(1));
                let late = t.elapsed().saturating_sub(Duration::from_millis(1));
                worst_us.fetch_max(late.as_micros() as u64, Ordering::Relaxed);
            }
        })
    };
    // The innocent peer pings the echo actor, one round trip at a time.
    let ping_worst_us = Arc::new(AtomicU64::new(0));
    let pinger = {
        let (stop, worst) = (stop.clone(), ping_worst_us.clone());
        let (innocent, echo) = (innocent.clone(), echo.clone());
        std::thread::spawn(move || {
            let mut inbox = innocent.inbox();
            let mut n = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                if echo
                    .send(json!({"reply_to": inbox.addr(), "n": n}))
                    .is_err()
                {
                    return false;
                }
                let got = inbox
                    .receive_match_timeout(&[&pattern!({"echo": = n})], Duration::from_secs(30));
                if got.is_err() {
                    return false;
                }
                worst.fetch_max(t.elapsed().as_micros() as u64, Ordering::Relaxed);
                n += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            true
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    worst_us.store(0, Ordering::Relaxed);
    ping_worst_us.store(0, Ordering::Relaxed);

    let closed = Instant::now();
    drop(raw);
    until("every entry is released", || {
        victim.placed_totals() == (0, 0)
            && victim
                .info(&target)
                .is_some_and(|i| i.waiters == 0 && i.monitored_by.is_empty() && i.links.is_empty())
    });
    let released = closed.elapsed();
    // Keep measuring a little after the release (trapped exits still being handled).
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let _ = victim.wait(&probe);
    let pings_ok = pinger.join().unwrap_or(false);
    let node_events: Vec<_> =
        std::iter::from_fn(|| events.receive_timeout(Duration::ZERO).ok()).collect();
    let still = innocent.connected_nodes() == vec![victim.name().to_string()];
    println!("released in        {released:.2?}");
    println!(
        "probe worst delay  {:.2?}",
        Duration::from_micros(worst_us.load(Ordering::Relaxed))
    );
    println!(
        "ping worst RTT     {:.2?} (pings {})",
        Duration::from_micros(ping_worst_us.load(Ordering::Relaxed)),
        if pings_ok { "all answered" } else { "FAILED" }
    );
    println!(
        "innocent peer      {} ({} node events: {node_events:?})",
        if still {
            "still connected"
        } else {
            "DISCONNECTED"
        },
        node_events.len()
    );
    target.send("stop").unwrap();
    echo.send("stop").unwrap();
}
