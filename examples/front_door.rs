//! The front door under attack (issue 16 rows 1, 4 and 5): how long a legitimate node
//! takes to connect, and what an already-connected peer's ping looks like, while an attacker
//! without the cookie holds handshakes open or guesses cookies.
//!
//! ```text
//! cargo run --release --example front_door [SECONDS_PER_PHASE]
//! ```
//!
//! A **victim** node, a **peer** connected to it before the attack that pings an echo actor
//! on it (one round trip at a time, about one per millisecond), and a fresh **legitimate
//! node** every 100 ms that connects, measures how long that took, and shuts down: all in
//! this process. The **attacker** runs in a child process (this example run as
//! `attack MODE ADDR`), one phase after another:
//! - `hold`: 300 connections from 2,000 source addresses 127.1.x.y, each re-opened as
//!   soon as the victim closes it (row 1);
//! - `gentle`: 256 silent connections from 127.0.0.1, the legitimate nodes' own address,
//!   held to the handshake deadline and re-opened (row 1's gentler form);
//! - `same`: wrong-cookie handshakes from 127.0.0.1, about 100 a second (row 4);
//! - `guess`: wrong-cookie handshakes from 2,000 rotating addresses 127.2.x.y, 32 at a
//!   time, as fast as they are answered (row 5).
//!
//! Per phase it prints the connect times (median, max, failures), the ping's median, p99
//! and max, and (for `same` and `guess`) how many guesses the node heard per second.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pyact::{Address, Mesh, Node, NodeOptions, Value, json};

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn source(second: u8, i: usize) -> Ipv4Addr {
    let i = i % 2000;
    Ipv4Addr::new(127, second, (i / 250) as u8, (i % 250) as u8 + 1)
}

fn connect_from(from: Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    s.bind(&SocketAddr::from((from, 0)).into())?;
    s.connect_timeout(&to.into(), Duration::from_secs(5))?;
    Ok(s.into())
}

fn write_frame(s: &mut TcpStream, v: &Value) -> std::io::Result<()> {
    let body = serde_json::to_vec(v).unwrap();
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    s.write_all(&out)
}

fn read_frame(s: &mut TcpStream, wait: Duration) -> Option<Value> {
    s.set_read_timeout(Some(wait)).ok()?;
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

/// One wrong-cookie handshake: did the node check the proof (and say so)?
fn guess(from: Ipv4Addr, to: SocketAddr) -> bool {
    let Ok(mut s) = connect_from(from, to) else {
        return false;
    };
    let hello = json!({"hello": {"proto": "pyact", "version": 2, "node": "127.0.0.1:1",
                                 "creation": 9}});
    if write_frame(&mut s, &hello).is_err() {
        return false;
    }
    match read_frame(&mut s, Duration::from_secs(5)) {
        Some(f) if f.get("challenge").is_some() => {}
        _ => return false,
    }
    let resp = json!({"response": {"digest": "00".repeat(32), "challenge": "ab".repeat(32)}});
    if write_frame(&mut s, &resp).is_err() {
        return false;
    }
    read_frame(&mut s, Duration::from_millis(300)).is_some_and(|f| {
        f["refused"]["why"]
            .as_str()
            .is_some_and(|w| w.starts_with("bad cookie proof"))
    })
}

/// Keep `n` connections open, each re-opened as soon as it is closed.
fn hold(to: SocketAddr, n: usize, src: fn(usize) -> Ipv4Addr) {
    for t in 0..n {
        std::thread::Builder::new()
            .stack_size(64 << 10)
            .spawn(move || {
                let mut k = t;
                loop {
                    k += n;
                    let Ok(mut s) = connect_from(src(k), to) else {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    let mut buf = [0u8; 256];
                    while let Ok(m) = s.read(&mut buf) {
                        if m == 0 {
                            break;
                        }
                    }
                }
            })
            .unwrap();
    }
}

/// The child process: attack `to` the `mode` way until standard input closes; print the
/// guesses heard when it does.
fn attack(mode: &str, to: SocketAddr) {
    let heard = Arc::new(AtomicU64::new(0));
    match mode {
        "hold" => hold(to, 300, |k| source(1, k)),
        "gentle" => hold(to, 256, |_| Ipv4Addr::LOCALHOST),
        "same" => {
            let heard = heard.clone();
            std::thread::spawn(move || {
                loop {
                    if guess(Ipv4Addr::LOCALHOST, to) {
                        heard.fetch_add(1, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            });
        }
        "guess" => {
            for t in 0..32 {
                let heard = heard.clone();
                std::thread::Builder::new()
                    .stack_size(64 << 10)
                    .spawn(move || {
                        let mut k = t;
                        loop {
                            k += 32;
                            if guess(source(2, k), to) {
                                heard.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    })
                    .unwrap();
            }
        }
        other => panic!("unknown attack {other}"),
    }
    let mut buf = [0u8; 1];
    let _ = std::io::stdin().read(&mut buf);
    println!("heard {}", heard.load(Ordering::Relaxed));
}

fn opts() -> NodeOptions {
    NodeOptions::default().heartbeat(Duration::from_secs(1), Duration::from_secs(30))
}

/// One phase: the attacker (if any) runs for `secs`; legitimate nodes connect meanwhile.
fn phase(victim: &Node, echo: &Address, peer: &Node, mode: Option<&str>, secs: f64) {
    let mut child = mode.map(|m| {
        let c = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["attack", m, victim.name()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the attacker");
        std::thread::sleep(Duration::from_millis(500)); // the attack takes hold
        c
    });
    let stop = Arc::new(AtomicBool::new(false));
    let pinger = {
        let (peer, echo, stop) = (peer.clone(), echo.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut inbox = peer.inbox();
            let me = inbox.addr();
            let mut v = Vec::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                echo.send(json!({"n": n, "from": me})).unwrap();
                let r = inbox.receive();
                assert_eq!(r["n"], n);
                v.push(t.elapsed().as_secs_f64() * 1e6);
                n += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            v
        })
    };
    let t0 = Instant::now();
    let (mut times, mut failed) = (Vec::new(), Vec::new());
    while t0.elapsed().as_secs_f64() < secs {
        let legit = Node::with_options(&Mesh::new(), "k@127.0.0.1:0", opts()).unwrap();
        let t = Instant::now();
        match legit.connect(&format!("k@{}", victim.name())) {
            Ok(()) => times.push(t.elapsed().as_secs_f64() * 1e3),
            Err(e) => failed.push(e.to_string()),
        }
        legit.shutdown();
        std::thread::sleep(Duration::from_millis(100));
    }
    let elapsed = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut pings = pinger.join().unwrap();
    let mut heard = String::new();
    if let Some(c) = child.as_mut() {
        drop(c.stdin.take());
        let mut out = String::new();
        let _ = c.stdout.take().unwrap().read_to_string(&mut out);
        let _ = c.kill();
        let _ = c.wait();
        if let Some(n) = out.trim().strip_prefix("heard ")
            && let Ok(n) = n.parse::<f64>()
            && matches!(mode, Some("same" | "guess"))
        {
            heard = format!("; {:.0} guesses heard per second", n / (elapsed + 0.5));
        }
    }
    let n = times.len();
    println!(
        "{:<8} connect: {n} ok, {} failed, median {:.1} ms, max {:.1} ms | ping: median {:.0} us, \
         p99 {:.0} us, max {:.0} us{heard}",
        mode.unwrap_or("none"),
        failed.len(),
        pct(&mut times, 0.5),
        pct(&mut times, 1.0),
        pct(&mut pings, 0.5),
        pct(&mut pings, 0.99),
        pct(&mut pings, 1.0),
    );
    if let Some(e) = failed.first() {
        println!("         first failure: {e}");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("attack") {
        let to: SocketAddr = args[3].parse().expect("victim address");
        return attack(&args[2], to);
    }
    let secs: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let victim = Node::with_options(&Mesh::new(), "k@127.0.0.1:0", opts()).unwrap();
    let echo = victim.spawn(|mut mb| {
        loop {
            let m = mb.receive();
            if let Ok(from) = Address::try_from(&m["from"]) {
                let _ = from.send(json!({"n": m["n"]}));
            }
        }
    });
    let peer = Node::with_options(&Mesh::new(), "k@127.0.0.1:0", opts()).unwrap();
    peer.connect(&format!("k@{}", victim.name())).unwrap();
    let echo: Address = echo.to_string().parse().unwrap();
    for mode in [
        None,
        Some("hold"),
        Some("gentle"),
        Some("same"),
        Some("guess"),
    ] {
        phase(&victim, &echo, &peer, mode, secs);
    }
}
