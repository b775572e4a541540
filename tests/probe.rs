//! `pyact::testing::Probe`: what its expectations return, and what a failed one says.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use pyact::testing::Probe;
use pyact::{ExitReason, Mesh, Node, json, pattern};

const LONG: Duration = Duration::from_secs(30);

fn node() -> Node {
    Node::new(&Mesh::new(), "probe@127.0.0.1:0").unwrap()
}

/// The panic message of `f`, which must panic.
fn panic_text(f: impl FnOnce()) -> String {
    let p = catch_unwind(AssertUnwindSafe(f)).expect_err("it should have panicked");
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn expect_msg_is_selective_and_keeps_the_others_in_order() {
    let node = node();
    let mut probe = Probe::new(&node);
    for m in [json!("a"), json!({"n": 1}), json!("b")] {
        probe.addr().send(m).unwrap();
    }
    assert_eq!(
        probe.expect_msg(&pattern!({"n": int}), LONG),
        json!({"n": 1})
    );
    assert_eq!(probe.expect_msg(&pattern!(_), LONG), "a");
    assert_eq!(probe.expect_msg(&pattern!(_), LONG), "b");
}

#[test]
fn a_failed_expect_msg_lists_what_arrived_instead() {
    let node = node();
    let mut probe = Probe::new(&node);
    probe.addr().send("wrong").unwrap();
    probe.addr().send(json!({"also": "wrong"})).unwrap();
    let text = panic_text(|| {
        probe.expect_msg(&pattern!({"right": _}), Duration::from_millis(10));
    });
    assert!(text.contains("no message matching"), "{text}");
    assert!(text.contains("\"right\""), "names the pattern: {text}");
    assert!(text.contains("arrived instead (2)"), "{text}");
    assert!(
        text.contains("\"wrong\"") && text.contains("{\"also\":\"wrong\"}"),
        "{text}"
    );
    let text = panic_text(|| {
        probe.expect_msg(&pattern!(_), Duration::from_millis(10));
    });
    assert!(text.contains("nothing else arrived"), "{text}");
}

#[test]
fn expect_no_msg_fails_on_any_message() {
    let node = node();
    let mut probe = Probe::new(&node);
    probe.expect_no_msg(Duration::from_millis(10));
    probe.addr().send(42).unwrap();
    let text = panic_text(|| probe.expect_no_msg(Duration::from_millis(10)));
    assert!(
        text.contains("expected no message") && text.contains("42"),
        "{text}"
    );
}

#[test]
fn expect_down_and_expect_exit_decode_the_signal() {
    let node = node();
    let mut probe = Probe::new(&node);
    let child = node
        .spawn_link(&probe.addr(), |mut mb| -> Result<(), String> {
            mb.receive();
            Err("bad".into())
        })
        .unwrap();
    let r = probe.monitor(&child);
    child.send("go").unwrap();
    let exit = probe.expect_exit(&child, LONG);
    assert_eq!(exit.reason, ExitReason::Failed("bad".into()));
    let down = probe.expect_down(r, LONG);
    assert_eq!((down.reference, &down.address), (r, &child));
    assert_eq!(down.reason, ExitReason::Failed("bad".into()));
    probe.expect_no_msg(Duration::from_millis(10));
}
