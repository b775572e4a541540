//! `examples/typed.rs` checks every typed message it sends and receives (send a struct,
//! `receive_as`, patterns over the same shapes); this runs it and wants it to succeed.

use std::process::Command;

#[test]
fn the_typed_messages_example_runs_and_checks_itself() {
    // `cargo test` builds the examples next to the test binaries.
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/typed");
    if !bin.exists() {
        // Only a partial build (`cargo test --test ...`) lacks it.
        let ok = Command::new(env!("CARGO"))
            .args(["build", "--example", "typed"])
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let out = Command::new(&bin).output().unwrap();
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
