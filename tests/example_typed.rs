//! `examples/typed.rs` checks every typed message it sends and receives (send a struct,
//! `receive_as`, patterns over the same shapes); this runs it and wants it to succeed.

#[allow(dead_code)] // each test binary uses part of the shared helpers
mod common;

use std::process::Command;

#[test]
fn the_typed_messages_example_runs_and_checks_itself() {
    let bin = common::example::binary("typed");
    let out = common::child::output(&mut Command::new(&bin), std::time::Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(r#"-> {"op":"deposit","amount":500,"from":{"$addr":"#));
    assert!(stdout.contains("<- Insufficient { balance: 380, wanted: 1000 }"));
    assert!(stdout.contains("audit: Event { kind: \"withdraw\", amount: 120, balance: 380 }"));
    assert!(stdout.ends_with("all typed messages checked\n"), "{stdout}");
}
