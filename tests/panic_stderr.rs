//! An actor's panic is visible without a logger (issue 15, item 5): printed to stderr once,
//! with its message, address and name; with a logger it appears once, in the log only.
//!
//! Each case runs in a child process (this test binary re-executed with `PYACT_PANIC_CHILD`
//! set), because a logger, once installed, stays for the whole process.

use std::process::Command;
use std::time::Duration;

#[allow(dead_code)] // each test binary uses part of the shared helpers
mod common;

use pyact::{ExitReason, Mesh, Node};

const CHILD: &str = "PYACT_PANIC_CHILD";
const MESSAGE: &str = "the actor gave up on purpose";

/// The child's body: a named actor panics; its address goes to stdout for the parent.
#[test]
fn child_body() {
    let Ok(mode) = std::env::var(CHILD) else {
        return; // run as a normal test: nothing to do
    };
    if mode == "env_logger" {
        env_logger::builder().is_test(false).init();
    }
    let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    let a = node.spawn(|mut mb| -> () {
        mb.receive();
        panic!("{MESSAGE}");
    });
    node.register("quitter", &a).unwrap();
    a.send("go").unwrap();
    assert_eq!(node.wait(&a), Err(ExitReason::Panicked(MESSAGE.into())));
    println!("ADDR={a}");
}

/// Run the child in `mode` with `envs`; its (stdout, stderr), within a deadline.
fn run_child(mode: &str, envs: &[(&str, &str)]) -> (String, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child_body", "--nocapture", "--test-threads=1"])
        .env(CHILD, mode)
        .env_remove("RUST_LOG")
        .env_remove("RUST_BACKTRACE");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let o = common::child::output(&mut cmd, Duration::from_secs(60));
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(
        o.status.success(),
        "child {mode} failed: {}\n{out}\n{err}",
        o.status
    );
    (out, err)
}

fn address_in(out: &str) -> String {
    out.lines()
        .find_map(|l| l.split_once("ADDR=").map(|(_, a)| a.trim()))
        .unwrap_or_else(|| panic!("the child printed no address: {out}"))
        .to_string()
}

#[test]
fn without_a_logger_the_panic_is_printed_to_stderr_once() {
    let (out, err) = run_child("none", &[]);
    let addr = address_in(&out);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains(MESSAGE)).collect();
    assert_eq!(lines.len(), 1, "expected one report on stderr, got:\n{err}");
    assert!(
        lines[0].contains(&addr) && lines[0].contains("\"quitter\""),
        "the report names neither the address {addr} nor the name: {}",
        lines[0]
    );
}

#[test]
fn with_a_logger_the_panic_appears_once_in_its_output() {
    let (out, err) = run_child("env_logger", &[("RUST_LOG", "error")]);
    let addr = address_in(&out);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains(MESSAGE)).collect();
    assert_eq!(lines.len(), 1, "expected one report, got:\n{err}");
    assert!(lines[0].contains(&addr), "{}", lines[0]);
    assert!(
        lines[0].contains("ERROR") && !lines[0].starts_with("pyact: "),
        "not the logger's line: {}",
        lines[0]
    );
}
