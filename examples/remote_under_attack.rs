//! A node under attack keeps answering a legitimate peer (issue 7's floor).
//!
//! ```text
//! cargo run --release --example remote_under_attack [SECONDS]
//! ```
//!
//! Three nodes on loopback: a **victim** and a **legit** peer in this process, and an
//! **attacker** in a child process (this example run as `attack ...`, so that the attacker's
//! own work does not run on the victim's workers). While the legit peer pings an echo actor
//! on the victim (one round trip at a time, about one per millisecond), the victim suffers,
//! all at once:
//! - row 3: 200 TCP connections that trickle one byte per second and never finish the
//!   handshake;
//! - row 6: 5,000 remote `wait`s on one long-lived actor (table entries, capped per
//!   connection);
//! - row 8: an attacker actor flooding a slow actor (one message per millisecond, mailbox
//!   bound 1,000) as fast as the connection lets it.
//!
//! It prints the legit round trip's median, p99 and max before the attacks and during them.
//! The legit peer shares the victim's process and workers, and everything shares the
//! machine's cores, so the figures are pessimistic.

use std::io::{BufRead, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pyact::{Address, Mesh, Node, NodeOptions, SendError, SpawnOptions, json};

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// Ping the echo actor for `secs` seconds; round trips in microseconds.
fn pings(legit: &Node, echo: &Address, secs: f64) -> Vec<f64> {
    let mut inbox = legit.inbox();
    let me = inbox.addr();
    let mut v = Vec::new();
    let t0 = Instant::now();
    let mut n = 0u64;
    while t0.elapsed().as_secs_f64() < secs {
        let t = Instant::now();
        echo.send(json!({"n": n, "from": me})).unwrap();
        let r = inbox.receive();
        assert_eq!(r["n"], n);
        v.push(t.elapsed().as_secs_f64() * 1e6);
        n += 1;
        std::thread::sleep(Duration::from_millis(1));
    }
    v
}

fn report(what: &str, mut v: Vec<f64>) {
    let med = pct(&mut v, 0.5);
    let p99 = pct(&mut v, 0.99);
    let max = pct(&mut v, 1.0);
    println!(
        "{what}: {} round trips, median {med:.0} us, p99 {p99:.0} us, max {max:.0} us",
        v.len()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("attack") {
        return attack(&args[1..]);
    }
    let secs: f64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let victim = Node::new(&Mesh::new(), "k@127.0.0.1:0").unwrap();
    let legit = Node::new(&Mesh::new(), "k@127.0.0.1:0").unwrap();
    let echo = victim.spawn(|mut mb| {
        loop {
            let m = mb.receive();
            let Ok(to) = serde_json::from_value::<Address>(m["from"].clone()) else {
                return;
            };
            let _ = to.send(json!({"n": m["n"]}));
        }
    });
    report("before the attacks", pings(&legit, &echo, secs.min(2.0)));

    // The victim's side of the flood: a slow actor with a bounded mailbox.
    let handled = Arc::new(AtomicU64::new(0));
    let h2 = handled.clone();
    let slow = victim
        .spawn_opts(SpawnOptions::new().mailbox_limit(1_000), move |mut mb| {
            loop {
                if mb.receive() == "stop" {
                    return;
                }
                h2.fetch_add(1, Ordering::Relaxed);
                may::coroutine::sleep(Duration::from_millis(1));
            }
        })
        .unwrap();
    let long_lived = victim.spawn(|mut mb| mb.receive());
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "attack".to_string(),
            victim.name().to_string(),
            slow.to_string(),
            long_lived.to_string(),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the attacker process");
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "attacking");
    // Let the attacks build up, then measure.
    std::thread::sleep(Duration::from_secs(1));
    let during = pings(&legit, &echo, secs);
    let stats = victim.net_stats();
    report("during the attacks", during);
    println!(
        "  victim: {} remote waits held, {} connections, {} bytes queued out; the slow actor handled {}",
        stats.remote_waits,
        stats.connections,
        stats.queued_bytes,
        handled.load(Ordering::Relaxed)
    );
    drop(child.stdin.take()); // tells the attacker to stop and report
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    print!("{rest}");
    let _ = child.wait();
    long_lived.send("bye").unwrap();
    victim.shutdown();
}

/// The attacker process: `attack VICTIM SLOW LONG_LIVED`; stops when its stdin closes.
fn attack(args: &[String]) {
    let victim = args[0].clone();
    let slow: Address = args[1].parse().unwrap();
    let long_lived: Address = args[2].parse().unwrap();
    // The attacker never gives up on the victim (its writer waits as long as it takes for
    // the victim to read): the victim, not the attacker, must bound what the attack costs
    // it. Its flood's sends give up after a second of a full queue (counted as overloaded).
    // Its heartbeat is the victim's (`PYACT_HEARTBEAT_MS` = interval,timeout, as the test
    // sets them for its victim), so neither side declares the other down early.
    let mut opts = NodeOptions::default()
        .write_timeout(Duration::from_secs(600))
        .send_timeout(Duration::from_secs(1));
    if let Some((every, timeout)) = std::env::var("PYACT_HEARTBEAT_MS")
        .ok()
        .and_then(|v| {
            v.split_once(',')
                .map(|(a, b)| (a.parse().ok(), b.parse().ok()))
        })
        .and_then(|(a, b)| Some((Duration::from_millis(a?), Duration::from_millis(b?))))
    {
        opts = opts.heartbeat(every, timeout);
    }
    let attacker = Node::with_options(&Mesh::new(), "k@127.0.0.1:0", opts).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // Row 3: trickling handshakes: a frame header announcing 4000 bytes, then one byte a
    // second; a connection the victim closes is opened again. They come from another
    // loopback source address (127.0.0.2) than the attacker's own node: a victim that
    // throttles the trickling source must not lock out the attacking node's connection,
    // which the test needs alive (on a victim elsewhere than loopback, from the node's).
    let trickle = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let target: std::net::SocketAddr = victim.parse().expect("victim host:port");
            let source: std::net::SocketAddr = if target.ip().is_loopback() {
                "127.0.0.2:0".parse().unwrap()
            } else {
                "0.0.0.0:0".parse().unwrap()
            };
            let open = || {
                let s = socket2::Socket::new(
                    socket2::Domain::IPV4,
                    socket2::Type::STREAM,
                    Some(socket2::Protocol::TCP),
                )
                .ok()?;
                s.bind(&source.into()).ok()?;
                s.connect(&target.into()).ok()?;
                let mut c: std::net::TcpStream = s.into();
                c.write_all(&4000u32.to_be_bytes()).ok()?;
                Some(c)
            };
            let mut conns: Vec<Option<std::net::TcpStream>> = (0..200).map(|_| open()).collect();
            let mut reopened = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for c in conns.iter_mut() {
                    let alive = c.as_mut().is_some_and(|s| s.write_all(b" ").is_ok());
                    if !alive {
                        *c = open();
                        reopened += 1;
                    }
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            reopened
        })
    };
    // Row 6: many remote waits on one long-lived actor. A wait that ends before the attack
    // does (it should not: the actor lives on) is counted, with the first reason.
    let ended = Arc::new(AtomicU64::new(0));
    let first_end = Arc::new(std::sync::Mutex::new(None::<String>));
    let waiters: Vec<Address> = (0..5_000)
        .map(|_| {
            let (t, ended, first_end) = (long_lived.clone(), ended.clone(), first_end.clone());
            attacker.spawn(move |_| {
                let r = pyact::actor::current_node().unwrap().wait_reason(&t);
                ended.fetch_add(1, Ordering::Relaxed);
                first_end.lock().unwrap().get_or_insert(format!("{r:?}"));
            })
        })
        .collect();
    // Row 8: a flood to the slow actor.
    let sent = Arc::new(AtomicU64::new(0));
    let overloaded = Arc::new(AtomicU64::new(0));
    let flood = {
        let (stop, sent, overloaded) = (stop.clone(), sent.clone(), overloaded.clone());
        attacker.spawn(move |_| {
            let filler = "x".repeat(100);
            while !stop.load(Ordering::Relaxed) {
                match slow.send(json!({"flood": filler})) {
                    Ok(()) => sent.fetch_add(1, Ordering::Relaxed),
                    Err(SendError::Overloaded { .. }) => overloaded.fetch_add(1, Ordering::Relaxed),
                    Err(e) => panic!("{e}"),
                };
            }
        })
    };
    println!("attacking");
    std::io::stdout().flush().unwrap();
    let mut sink = String::new();
    let _ = std::io::stdin().read_to_string(&mut sink);
    stop.store(true, Ordering::Relaxed);
    let _ = attacker.wait(&flood);
    println!(
        "  attacker: flood {} sent, {} overloaded; {} remote waits, {} ended early ({}); trickling connections reopened after the victim closed them: {}",
        sent.load(Ordering::Relaxed),
        overloaded.load(Ordering::Relaxed),
        waiters.len(),
        ended.load(Ordering::Relaxed),
        first_end.lock().unwrap().as_deref().unwrap_or("none"),
        trickle.join().unwrap()
    );
    std::process::exit(0);
}
