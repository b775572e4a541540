//! `examples/echo.rs` checks every line its client actors get back from its
//! one-actor-per-connection server; this runs it (with a deadline) and wants it to succeed.

#[allow(dead_code)] // each test binary uses part of the shared helpers
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn the_echo_example_runs_and_checks_itself() {
    let bin = common::example::binary("echo");
    let mut child = Command::new(&bin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("examples/echo did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("echo: 20 client actors x 50 lines over 127.0.0.1:")
            && stdout.ends_with("all checked\n"),
        "{stdout}"
    );
}
