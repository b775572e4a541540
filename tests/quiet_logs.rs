//! Quiet by default (issue 15): at `info`, a two-node ping logs nothing from `may` (the fork
//! logs per-socket events such as "add fd to epoll select" at `debug`). Its own test binary:
//! it installs a logger, and a logger is process-wide.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use pyact::{Address, Mesh, Node, json};

/// Every record at `info` or more severe, as (target, message).
struct Recorder(Mutex<Vec<(String, String)>>);

impl log::Log for Recorder {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Info
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            let line = (r.target().to_string(), r.args().to_string());
            self.0.lock().unwrap().push(line);
        }
    }
    fn flush(&self) {}
}

static RECORDER: OnceLock<&'static Recorder> = OnceLock::new();

const DEADLINE: Duration = Duration::from_secs(30);

#[test]
fn a_two_node_ping_at_info_shows_no_may_lines() {
    let rec = *RECORDER.get_or_init(|| {
        let r: &'static Recorder = Box::leak(Box::new(Recorder(Mutex::default())));
        log::set_logger(r).unwrap();
        log::set_max_level(log::LevelFilter::Info);
        r
    });
    let server = Node::new(&Mesh::new(), "quiet@127.0.0.1:0").unwrap();
    let ponger = server.spawn(|mut mb| {
        for _ in 0..5 {
            let m = mb.receive();
            let to = Address::try_from(&m["from"]).expect("a ping names its sender");
            let _ = to.send(json!({"pong": m["ping"]}));
        }
    });
    server.register("ponger", &ponger).unwrap();
    let client = Node::new(&Mesh::new(), "quiet@127.0.0.1:0").unwrap();
    let remote = client
        .whereis_remote(server.name(), "ponger")
        .unwrap()
        .expect("ponger registered");
    let mut inbox = client.inbox();
    for i in 0..5 {
        remote
            .send(json!({"ping": i, "from": inbox.addr()}))
            .unwrap();
        let r = inbox.receive_timeout(DEADLINE).expect("a pong in time");
        assert_eq!(r["pong"], i);
    }
    let lines = rec.0.lock().unwrap().clone();
    // The logger works: pyact's own info lines (a node coming up) were recorded.
    assert!(
        lines.iter().any(|(t, _)| t.starts_with("pyact")),
        "no pyact line recorded: {lines:?}"
    );
    let from_may: Vec<_> = lines
        .iter()
        .filter(|(t, _)| t == "may" || t.starts_with("may::"))
        .collect();
    assert!(from_may.is_empty(), "may logged at info: {from_may:?}");
}
