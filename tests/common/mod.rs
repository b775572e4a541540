pub mod child;
pub mod example;
pub mod logs;
pub mod wire;

use pyact::{Address, Node, json};

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
