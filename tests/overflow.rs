//! An actor that overflows its stack aborts the process with a message naming the actor
//! (issue 8, row 1): never a zombie that `wait` hangs on. Runs the overflow in a child
//! process (this test binary, re-executed) and checks how that process ended.

use std::process::Command;
use std::time::{Duration, Instant};

const CHILD: &str = "PYACT_OVERFLOW_CHILD";

fn recurse(n: u64) -> u64 {
    let pad = std::hint::black_box([n; 32]);
    if n == 0 { 0 } else { recurse(n - 1) + pad[1] }
}

/// What the child process runs: a registered actor recurses without bound.
fn child() {
    let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    let a = node.spawn(|mut mb| {
        mb.receive();
        recurse(u64::MAX);
    });
    node.register("deep_thinker", &a).unwrap();
    println!("\nACTOR {a}");
    a.send("go").unwrap();
    let r = node.wait(&a);
    // Reaching this line is the bug: the process should be gone.
    println!("WAIT RETURNED {r:?}");
}

#[test]
fn a_stack_overflow_aborts_naming_the_actor() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    let exe = std::env::current_exe().unwrap();
    let mut proc = Command::new(exe)
        .args([
            "--exact",
            "a_stack_overflow_aborts_naming_the_actor",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A zombie actor would hang the child forever: give it a generous minute.
    let deadline = Instant::now() + Duration::from_secs(60);
    while proc.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            proc.kill().unwrap();
            panic!("the child process hung: the overflowed actor became a zombie");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = proc.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(6),
        "expected SIGABRT; status {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    let addr = stdout
        .lines()
        // The harness may have printed "test ... " on the same line.
        .find_map(|l| l.split("ACTOR ").nth(1))
        .expect("the child printed its actor's address")
        .to_string();
    assert!(
        stderr.contains(&format!("actor {addr}")) && stderr.contains("overflowed"),
        "the abort message does not name actor {addr}:\n{stderr}"
    );
    assert!(
        stderr.contains("deep_thinker"),
        "no registered name:\n{stderr}"
    );
}
