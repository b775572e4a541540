pub mod child;
pub mod example;
pub mod logs;
pub mod wire;

use std::time::{Duration, Instant};

use pyact::{Address, Node, json};

/// Poll `cond` until it holds, for at most a minute (a test may fail, never hang): for what
/// happens asynchronously and has no message to wait for.
#[allow(dead_code)] // not every test binary that includes `common` uses it
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// An echo actor on `on`: replies `{"echo": n}` to `{"reply_to": addr, "n": n}`, ends on
/// `"stop"` (the remote tests' standard far end).
#[allow(dead_code)] // not every test binary that includes `common` uses it
pub fn spawn_echo(on: &Node) -> Address {
    on.spawn(|mut mb| {
        loop {
            let m = mb.receive();
            if m == "stop" {
                return;
            }
            let to: Address = serde_json::from_value(m["reply_to"].clone()).unwrap();
            to.send(json!({"echo": m["n"]})).unwrap();
        }
    })
}
