//! `examples/remote_ping -- serve` as a user runs it: in the background (no standard input),
//! stopped by a message or by Ctrl-C.

#[allow(dead_code)] // each test binary uses part of the shared helpers
mod common;

use std::io::BufRead;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use pyact::{Address, Mesh, Node, Value, json};

const LONG: Duration = Duration::from_secs(60);

/// Start `remote_ping serve` with standard input closed (as `serve &` or a service manager
/// would); returns the child and its node name.
fn serve_in_background(cookie: &str) -> (Child, String) {
    let bin = common::example::binary("remote_ping");
    let mut child = Command::new(&bin)
        .args(["serve", "127.0.0.1:0"])
        .env("PYACT_COOKIE", cookie)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().to_string())
}

fn ping(ponger: &Address, inbox: &mut pyact::Mailbox, n: i64) {
    ponger
        .send(json!({"ping": n, "from": inbox.addr()}))
        .unwrap();
    assert_eq!(inbox.receive_timeout(LONG).unwrap(), json!({"pong": n}));
}

#[test]
fn serve_without_stdin_keeps_serving_until_a_stop_message() {
    let (mut child, peer) = serve_in_background("bg-test");
    assert!(peer.starts_with("127.0.0.1:"), "{peer:?}");
    let a = Node::new(&Mesh::new(), "bg-test@127.0.0.1:0").unwrap();
    let mut inbox = a.inbox();
    let ponger = a
        .whereis_remote(&peer, "ponger")
        .unwrap()
        .expect("registered");
    for i in 0..5 {
        ping(&ponger, &mut inbox, i);
    }
    assert!(child.try_wait().unwrap().is_none(), "serve exited early");
    ponger.send("stop").unwrap();
    // The server lingers for its peers: the ponger's result is still readable.
    assert_eq!(a.wait(&ponger), Ok(Value::Null));
    // Once its peers have gone, it exits cleanly.
    a.shutdown();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn serve_ends_on_ctrl_c() {
    let (mut child, peer) = serve_in_background("sigint-test");
    let a = Node::new(&Mesh::new(), "sigint-test@127.0.0.1:0").unwrap();
    let mut inbox = a.inbox();
    let ponger = a
        .whereis_remote(&peer, "ponger")
        .unwrap()
        .expect("registered");
    ping(&ponger, &mut inbox, 1);
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(2), "{status:?}"); // SIGINT
}
