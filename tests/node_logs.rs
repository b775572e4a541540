//! A node says when it comes up and goes down, at `info` level. Its own test binary: it
//! installs a logger that records lines, and a logger is process-wide.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use pyact::{Mesh, Node};

/// Every info (and worse) line pyact logged.
struct Recorder(Mutex<Vec<String>>);

impl log::Log for Recorder {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Info
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            self.0.lock().unwrap().push(r.args().to_string());
        }
    }
    fn flush(&self) {}
}

fn recorder() -> &'static Recorder {
    static R: OnceLock<&'static Recorder> = OnceLock::new();
    R.get_or_init(|| {
        let r: &'static Recorder = Box::leak(Box::new(Recorder(Mutex::default())));
        log::set_logger(r).unwrap();
        log::set_max_level(log::LevelFilter::Info);
        r
    })
}

fn logged(line: &str) -> bool {
    recorder().0.lock().unwrap().iter().any(|l| l == line)
}

#[test]
fn a_node_logs_up_and_down_at_info() {
    recorder();
    let node = Node::new(&Mesh::new(), "k@127.0.0.1:0").unwrap();
    let name = node.name().to_string();
    assert!(logged(&format!("node {name} up")));
    assert!(!logged(&format!(
        "node {name} down: its last handle was dropped"
    )));
    node.shutdown();
    drop(node);
    // The network loops let go of their handles as they notice the shutdown.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !logged(&format!("node {name} down: its last handle was dropped")) {
        assert!(Instant::now() < deadline, "never logged down for {name}");
        std::thread::yield_now();
    }
}
