//! `examples/ring.rs`, the README's main job: the message comes around a ring of plain
//! actors and of actors started on their first message (`--start-on-message`), and a bad
//! argument is refused with the usage line.

#[allow(dead_code)] // each test binary uses part of the shared helpers
mod common;

use std::process::Command;
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(120);

fn ring(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(common::example::binary("ring"));
    cmd.args(args);
    common::child::output(&mut cmd, PATIENCE)
}

#[test]
fn the_message_comes_around_both_rings() {
    for args in [
        &["2000"][..],
        &["2000", "--start-on-message"],
        &["--start-on-message", "2000"],
    ] {
        let out = ring(args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{args:?}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut lines = stdout.lines();
        assert_eq!(
            lines.next(),
            Some(r#"{"text":"hello around the ring"}"#),
            "{args:?}"
        );
        assert!(
            lines
                .next()
                .is_some_and(|l| l.starts_with("ring of 2000: built in ")),
            "{stdout}"
        );
        assert!(
            stdout.contains("\nbuild_s ") && stdout.contains("\npass_s "),
            "{stdout}"
        );
    }
}

#[test]
fn a_bad_argument_is_refused_with_the_usage() {
    for args in [&["0"][..], &["ten"], &["10", "20"], &["10", "--fast"]] {
        let out = ring(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("usage: ring [N>0] [--start-on-message]"),
            "{args:?}"
        );
    }
}
