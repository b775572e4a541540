//! `examples/remote_ping -- serve` as a user runs it: in the background (no standard input),
//! stopped by a message or by Ctrl-C.

#[allow(dead_code)] // each test binary uses part of the shared helpers
mod common;

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
    let line = common::child::first_line(&mut child, LONG);
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
    let status = common::child::wait(&mut child, LONG);
    assert!(status.success(), "{status:?}");
}

/// Ctrl-C and SIGTERM stop the server cleanly (exit 0), also when it was started with
/// SIGINT ignored, as a shell does for a background job: its own handler hears them.
#[test]
fn serve_ends_on_ctrl_c_and_sigterm_even_when_sigint_was_ignored() {
    for (signal, ignore) in [("-INT", false), ("-TERM", false), ("-INT", true)] {
        let (mut child, peer) = if ignore {
            serve_in_background_ignoring_sigint("sigint-test")
        } else {
            serve_in_background("sigint-test")
        };
        let a = Node::new(&Mesh::new(), "sigint-test@127.0.0.1:0").unwrap();
        let mut inbox = a.inbox();
        let ponger = a
            .whereis_remote(&peer, "ponger")
            .unwrap()
            .expect("registered");
        ping(&ponger, &mut inbox, 1);
        let kill = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        assert_eq!(
            a.wait(&ponger),
            Ok(Value::Null),
            "{signal} stops the ponger"
        );
        a.shutdown();
        let status = common::child::wait(&mut child, LONG);
        assert!(
            status.success(),
            "{signal} (ignored first: {ignore}): {status:?}"
        );
    }
}

/// [`serve_in_background`] from a shell that ignores SIGINT (`trap '' INT`), as a
/// non-interactive shell does for `serve &`.
fn serve_in_background_ignoring_sigint(cookie: &str) -> (Child, String) {
    let bin = common::example::binary("remote_ping");
    let mut child = Command::new("sh")
        .args(["-c", "trap '' INT; exec \"$0\" serve 127.0.0.1:0"])
        .arg(&bin)
        .env("PYACT_COOKIE", cookie)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let line = common::child::first_line(&mut child, LONG);
    (child, line.trim().to_string())
}
