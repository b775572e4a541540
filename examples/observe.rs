//! A live view of a running node: its actors, their names, what each is doing, its mailbox
//! length and messages received, links, monitors, age; the node's totals and peers, redrawn
//! in the terminal (what Erlang's `observer` shows first).
//!
//! ```text
//! cargo run --example observe                 # refreshes every second until Ctrl-C
//! cargo run --example observe -- 5 200        # 5 frames, 200 ms apart, then exits
//! ```
//!
//! The node runs a small tree: a supervisor with a ticker (sends a tick to a counter every
//! 100 ms), the counter (registered as `counter`), and a flaky worker that crashes every four
//! seconds and is restarted (watch its address and age change). A second node connects, so
//! the peers line has something to show, and this thread pings an echo actor there once per
//! frame: the peers table below the actors shows each peer's state and its traffic (messages
//! and bytes in and out, the outbound queue).

use std::collections::HashMap;
use std::time::Duration;

use pyact::mailbox::Timeout;
use pyact::observe::{ActorInfo, MailboxKind, PeerState, PeerStats, Status};
use pyact::supervisor::{ChildSpec, Strategy, Supervisor, which_children};
use pyact::{Address, Mailbox, Mesh, Node, curaddr, json};

fn counter(mut mb: Mailbox) {
    if let Some(me) = curaddr() {
        let _ = pyact::actor::current_node().map(|n| n.register("counter", &me));
    }
    let mut ticks = 0u64;
    loop {
        let msg = mb.receive();
        if msg == "tick" {
            ticks += 1;
        } else {
            // Anything else is a question (see `pyact::ask`): answer the tick count.
            let _ = pyact::reply(&msg, ticks);
        }
    }
}

fn ticker(mut mb: Mailbox) {
    loop {
        if let Err(Timeout) = mb.receive_timeout(Duration::from_millis(100)) {
            let node = pyact::actor::current_node().expect("in an actor");
            let _ = node.send_named("counter", "tick");
        }
    }
}

fn flaky(mut mb: Mailbox) {
    // Waits a few seconds for a message that never comes, then crashes.
    let _ = mb.receive_timeout(Duration::from_secs(4));
    panic!("flaky worker gave up");
}

fn row(info: &ActorInfo, child_ids: &HashMap<Address, String>) -> String {
    let short = |a: &pyact::Address| a.id().to_string();
    let list = |v: &[pyact::Address]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.iter().map(short).collect::<Vec<_>>().join(",")
        }
    };
    // A supervisor's children all run the supervisor's start closure: name them by child id.
    let runs = match (child_ids.get(&info.address), info.runs) {
        (Some(id), _) => format!("child {id:?}"),
        (None, Some(r)) => r.trim_end_matches("::{{closure}}").to_string(),
        (None, None) if info.kind == MailboxKind::Inbox => "(thread inbox)".into(),
        (None, None) => "(call)".into(),
    };
    let status = match info.status {
        Status::Running => "running",
        Status::Receiving => "receiving",
        Status::Calling => "calling",
        Status::Waiting => "waiting",
        Status::Sleeping => "sleeping",
        Status::Blocking => "blocking",
        Status::Socket => "socket",
        _ => "other",
    };
    format!(
        "{:>4}  {:<10} {:<36} {:>7.1}s  {:<9} {:>4} {:>6}  {:<10} {:<12} {}",
        info.address.id(),
        info.name.as_deref().unwrap_or("-"),
        runs,
        info.age.as_secs_f64(),
        status,
        info.mailbox_len,
        info.received,
        list(&info.links),
        list(&info.monitored_by),
        if info.exiting { "exiting" } else { "" },
    )
}

/// One line of the peers table.
fn peer_row(p: &PeerStats) -> String {
    let state = match &p.state {
        PeerState::Connected => "connected".to_string(),
        PeerState::Dialing => "dialing".to_string(),
        PeerState::BackingOff { retry_in, .. } => format!("retry in {retry_in:.1?}"),
        PeerState::Down { .. } => "down".to_string(),
        _ => "other".to_string(),
    };
    format!(
        "{:<22} {:<12} {:>8} {:>10} {:>8} {:>10} {:>6} {:>8}  {}",
        p.node,
        state,
        p.messages_in,
        p.bytes_in,
        p.messages_out,
        p.bytes_out,
        p.queued_messages,
        p.queued_bytes,
        p.last_error.as_deref().unwrap_or(""),
    )
    .trim_end()
    .to_string()
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let frames = args.first().copied();
    let interval = Duration::from_millis(args.get(1).copied().unwrap_or(1000));

    let node = Node::new(&Mesh::new(), "observe@127.0.0.1:0").expect("node");
    let sup = Supervisor::new(Strategy::OneForOne)
        .intensity(100, Duration::from_secs(60))
        .child(ChildSpec::new("counter", counter))
        .child(ChildSpec::new("ticker", ticker))
        .child(ChildSpec::new("flaky", flaky))
        .spawn(&node);
    node.register("sup", &sup).expect("fresh name");

    let other = Node::new(&Mesh::new(), "observe@127.0.0.1:0").expect("second node");
    let echo = other.spawn(|mut mb| {
        loop {
            let m = mb.receive();
            if let Ok(to) = Address::try_from(&m["from"]) {
                let _ = to.send(json!({"pong": m["ping"].clone()}));
            }
        }
    });
    node.connect(&format!("observe@{}", other.name()))
        .expect("connect");
    // This thread's inbox on `node`: its pings travel the connection, and so do the pongs.
    let mut inbox = node.inbox();

    let clear = frames.is_none(); // redraw in place only when running interactively
    let mut frame = 0u64;
    loop {
        if clear {
            print!("\x1b[2J\x1b[H");
        }
        let child_ids: HashMap<Address, String> = which_children(&sup, Duration::from_secs(5))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| Some((c.address?, c.id)))
            .collect();
        let ticks = node
            .whereis("counter")
            .and_then(|c| c.ask(json!({"get": "ticks"}), Duration::from_secs(5)).ok());
        let _ = echo.send(json!({"ping": frame, "from": inbox.addr()}));
        let _ = inbox.receive_timeout(Duration::from_secs(5));
        let stats = node.stats();
        let peers: Vec<&str> = stats.peers.iter().map(|p| p.node.as_str()).collect();
        println!(
            "node {}  actors: {}  peers: {:?}  ticks counted: {}",
            node.name(),
            stats.live_actors,
            peers,
            ticks.unwrap_or_default()
        );
        println!(
            "spawned: {}  ended: {}  messages delivered: {}",
            stats.spawned, stats.ended, stats.delivered
        );
        println!(
            "{:>4}  {:<10} {:<36} {:>8}  {:<9} {:>4} {:>6}  {:<10} {:<12} state",
            "id", "name", "runs", "age", "status", "mail", "recv", "links", "monitored by"
        );
        for (addr, _) in node.actors() {
            if let Some(info) = node.info(&addr) {
                println!("{}", row(&info, &child_ids));
            }
        }
        println!(
            "registered: {}",
            node.registered()
                .iter()
                .map(|(n, a)| format!("{n}={}", a.id()))
                .collect::<Vec<_>>()
                .join(" ")
        );
        println!(
            "{:<22} {:<12} {:>8} {:>10} {:>8} {:>10} {:>6} {:>8}  last error",
            "peer", "state", "msgs in", "bytes in", "msgs out", "bytes out", "queued", "q bytes"
        );
        for p in &stats.peers {
            println!("{}", peer_row(p));
        }
        println!();
        frame += 1;
        if frames.is_some_and(|n| frame >= n) {
            break;
        }
        std::thread::sleep(interval);
    }
    node.shutdown();
    other.shutdown();
}
