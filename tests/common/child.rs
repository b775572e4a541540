//! Child processes with deadlines: a test may fail, never hang the suite (issue 16 row 12).

// Not every test binary that includes `common` runs a child process.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Wait for `child` to end; after `patience` it is killed and the test fails.
pub fn wait(child: &mut Child, patience: Duration) -> ExitStatus {
    let deadline = Instant::now() + patience;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait(); // killed: ends at once
            panic!(
                "child process {} still running after {patience:?}",
                child.id()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Run `cmd` to its end with its output captured; after `patience` it is killed and the
/// test fails.
pub fn output(cmd: &mut Command, patience: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let status = wait(&mut child, patience);
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// The first line `child` prints on its standard output (taken from it); the rest of its
/// output is drained on a thread. After `patience` without a line the child is killed and
/// the test fails.
pub fn first_line(child: &mut Child, patience: Duration) -> String {
    let stdout = child.stdout.take().expect("stdout piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        lines.for_each(drop);
    });
    match rx.recv_timeout(patience) {
        Ok(line) => line,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait(); // killed: ends at once
            panic!("child process printed no line within {patience:?}");
        }
    }
}

/// The arguments that make this test binary run only its ignored test `name`, its output
/// shown: how a test runs a copy of itself as a child process (the child's test is marked
/// `#[ignore]` so that a plain `cargo test` does not run it on its own).
pub fn rerun_args(name: &str) -> [&str; 5] {
    [
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]
}

/// This test binary as a child process that runs only its ignored test `name`, with the
/// environment variable `env` set to `value` (the child test's cue; without it the test
/// returns at once), standard input and output piped.
pub fn rerun(name: &str, env: &str, value: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("the test binary's path"));
    cmd.args(rerun_args(name))
        .env(env, value)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    cmd
}
