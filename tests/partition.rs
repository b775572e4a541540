//! A real network partition between two node processes (issue 17 item 6): each node runs in a
//! network namespace this test creates, joined by a veth pair; the partition is
//! `ip link set DEV down`, the heal `up`. Only the addresses of those namespaces are used.
//!
//! Needs root and `ip` (iproute2) with network namespaces; where they are missing the test
//! says why on stderr and returns (CI runs as root on Linux, so it runs there).
//!
//! What it shows: across the partition each side declares the other down (`nodedown`), the
//! other side's global names vanish, the same name can then be registered on both sides, and
//! after the heal and a reconnect exactly one registration is kept on both nodes while the
//! other's actor is ended (Erlang's default resolver, see `pyact::global`).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pyact::{Mesh, Node, NodeOptions, json};

const CHILD_ENV: &str = "PYACT_PARTITION_CHILD";
/// What starts an answer line of the child.
const MARK: &str = "@@> ";
/// Every wait of the test, generous for a loaded 2-core box.
const PATIENCE: Duration = Duration::from_secs(60);

/// Run a command, true if it exited 0 within its deadline.
fn run(args: &[&str]) -> bool {
    let out = common::child::output(
        Command::new(args[0]).args(&args[1..]),
        Duration::from_secs(30),
    );
    if !out.status.success() {
        eprintln!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    out.status.success()
}

/// Two namespaces joined by a veth pair, removed (with the pair) when dropped.
struct Netns {
    a: String,
    b: String,
}

impl Netns {
    /// `None` (with the reason on stderr) where namespaces cannot be made.
    fn new() -> Option<Netns> {
        let tag = std::process::id();
        let ns = Netns {
            a: format!("pyact-pa-{tag}"),
            b: format!("pyact-pb-{tag}"),
        };
        if !run(&["ip", "netns", "add", &ns.a]) {
            eprintln!(
                "partition test skipped: cannot create a network namespace (needs root and iproute2)"
            );
            return None;
        }
        let ok = run(&["ip", "netns", "add", &ns.b])
            && run(&[
                "ip", "link", "add", "va", "netns", &ns.a, "type", "veth", "peer", "name", "vb",
                "netns", &ns.b,
            ])
            && run(&[
                "ip",
                "-n",
                &ns.a,
                "addr",
                "add",
                "10.99.0.1/24",
                "dev",
                "va",
            ])
            && run(&[
                "ip",
                "-n",
                &ns.b,
                "addr",
                "add",
                "10.99.0.2/24",
                "dev",
                "vb",
            ])
            && run(&["ip", "-n", &ns.a, "link", "set", "va", "up"])
            && run(&["ip", "-n", &ns.b, "link", "set", "vb", "up"])
            && run(&["ip", "-n", &ns.a, "link", "set", "lo", "up"])
            && run(&["ip", "-n", &ns.b, "link", "set", "lo", "up"]);
        if !ok {
            eprintln!("partition test skipped: cannot wire two namespaces with a veth pair");
            return None;
        }
        Some(ns)
    }

    fn link(&self, up: bool) {
        let state = if up { "up" } else { "down" };
        assert!(run(&["ip", "-n", &self.a, "link", "set", "va", state]));
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run(&["ip", "netns", "del", &self.a]);
        let _ = run(&["ip", "netns", "del", &self.b]);
    }
}

/// A node process in a namespace, driven by one-line commands; each answer is one line.
struct Peer {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    name: String,
}

impl Peer {
    fn start(ns: &str, ip: &str) -> Peer {
        let exe = std::env::current_exe().unwrap();
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(exe)
            .args(common::child::rerun_args("child"))
            .env(CHILD_ENV, ip)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let out: ChildStdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                // The test harness prints its own text (even on an answer's line, before
                // it): an answer is what follows the marker.
                if let Some(i) = line.find(MARK) {
                    let _ = tx.send(line[i + MARK.len()..].to_string());
                }
            }
        });
        let mut p = Peer {
            child,
            stdin,
            lines,
            name: String::new(),
        };
        p.name = p.ask("name");
        p
    }

    fn ask(&mut self, cmd: &str) -> String {
        writeln!(self.stdin, "{cmd}").unwrap();
        self.stdin.flush().unwrap();
        match self.lines.recv_timeout(PATIENCE) {
            Ok(l) => l,
            Err(_) => {
                let _ = self.child.kill();
                panic!("no answer to {cmd:?} within {PATIENCE:?}");
            }
        }
    }

    /// Ask until the answer satisfies `ok` (each try is bounded; the whole within PATIENCE).
    fn until(&mut self, cmd: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let a = self.ask(cmd);
            if ok(&a) {
                return a;
            }
            assert!(
                Instant::now() < deadline,
                "{cmd:?}: last answer {a:?} after {PATIENCE:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "exit");
        let _ = self.stdin.flush();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_partition_downs_both_sides_and_the_heal_keeps_one_global_name() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let Some(ns) = Netns::new() else {
        return;
    };
    let mut a = Peer::start(&ns.a, "10.99.0.1");
    let mut b = Peer::start(&ns.b, "10.99.0.2");
    assert_eq!(b.ask(&format!("connect {}", a.name)), "ok");

    // Before the partition: one name, seen on both sides, not registrable twice.
    assert_eq!(a.ask("register svc"), "ok");
    let on_a = a.ask("whereis svc");
    b.until("whereis svc", |w| w == on_a);
    assert_eq!(b.ask("register svc"), "taken");

    // The partition: both sides call the other down, and A's name leaves B.
    ns.link(false);
    assert_eq!(a.ask(&format!("await_down {}", b.name)), "down");
    assert_eq!(b.ask(&format!("await_down {}", a.name)), "down");
    b.until("whereis svc", |w| w == "none");
    assert_eq!(b.ask("register svc"), "ok");
    let mine_b = b.ask("whereis svc");
    assert_ne!(mine_b, on_a);

    // The heal: reconnect; one registration is kept on both nodes, the other actor ends.
    ns.link(true);
    b.until(&format!("connect {}", a.name), |r| r == "ok");
    let deadline = Instant::now() + PATIENCE;
    let kept = loop {
        let (on_a_now, on_b_now) = (a.ask("whereis svc"), b.ask("whereis svc"));
        if on_a_now == on_b_now && on_a_now != "none" {
            break on_a_now;
        }
        assert!(
            Instant::now() < deadline,
            "the two sides still disagree: {on_a_now} vs {on_b_now}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        kept == on_a || kept == mine_b,
        "kept {kept}: neither registration"
    );
    let loser = if kept == on_a { &mut b } else { &mut a };
    assert_eq!(loser.ask("await_holder_end"), "ended");
}

/// The node process: answers the parent's commands, one line each, after [`MARK`].
#[test]
#[ignore = "child process of the partition test; run by it"]
fn child() {
    let Ok(ip) = std::env::var(CHILD_ENV) else {
        return;
    };
    let opts = NodeOptions::default()
        .heartbeat(Duration::from_millis(200), Duration::from_secs(2))
        .redial_backoff(Duration::from_millis(50), Duration::from_millis(200))
        .connect_timeout(Duration::from_secs(2), Duration::from_secs(5));
    let node = Node::with_options(&Mesh::new(), &format!("k@{ip}:0"), opts).unwrap();
    let mut events = node.inbox();
    node.monitor_nodes(&events.addr());
    let mut holder: Option<pyact::Address> = None;
    let answer = |s: &str| {
        println!("{MARK}{s}");
        let _ = std::io::stdout().flush();
    };
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let (cmd, arg) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        match cmd {
            "name" => answer(node.name()),
            "connect" => match node.connect(&format!("k@{arg}")) {
                Ok(()) => answer("ok"),
                Err(e) => answer(&format!("error {e}")),
            },
            "register" => {
                let a = node.spawn(|mut mb| {
                    loop {
                        mb.receive();
                    }
                });
                match pyact::global::register_name(&node, arg, &a) {
                    Ok(()) => {
                        holder = Some(a);
                        answer("ok")
                    }
                    Err(_) => {
                        let _ = a.kill();
                        answer("taken")
                    }
                }
            }
            "whereis" => match pyact::global::whereis_name(&node, arg) {
                Some(a) => answer(&a.to_string()),
                None => answer("none"),
            },
            "await_down" => {
                let deadline = Instant::now() + PATIENCE;
                let mut seen = false;
                while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                    match events.receive_timeout(left) {
                        Ok(ev) if ev["nodedown"] == json!(arg) => {
                            seen = true;
                            break;
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
                answer(if seen { "down" } else { "still up" })
            }
            "await_holder_end" => {
                let h = holder.clone().expect("this node registered a name");
                // The resolver kills the loser: its wait returns once it has ended.
                let (tx, rx) = mpsc::channel();
                let n = node.clone();
                std::thread::spawn(move || {
                    let _ = tx.send(n.wait_reason(&h));
                });
                match rx.recv_timeout(PATIENCE) {
                    Ok(_) => answer("ended"),
                    Err(_) => answer("still running"),
                }
            }
            "exit" => break,
            other => answer(&format!("unknown command {other:?}")),
        }
    }
    node.shutdown();
}
