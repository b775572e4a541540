//! A mesh of N operating-system processes, one node each (`workers(1)`), on 127.0.0.1:
//! time to a full mesh, idle CPU and memory per node, and how fast killed nodes leave
//! every list. `benches/mesh.sh N` builds and runs it.
//!
//! ```text
//! cargo run --release --example mesh -- N [seed|all] [IDLE_SECS]
//! ```
//!
//! - `seed` (default): every node is told about node 0 only (`node.connect(seed)`); the
//!   cluster's connect-all makes the mesh.
//! - `all`: every node is told to connect to every other one by hand (what a program had to
//!   do before connect-all; for comparing the idle cost).
//!
//! Every node then registers a global name (`pyact::global`) and puts a member in one
//! group (`pyact::pg`), and the driver waits until every node sees all of them.
//! Then the mesh is left idle for IDLE_SECS (default 10) and each process's CPU time
//! (`/proc/PID/stat`) and resident memory (`/proc/PID/status`) are read; then three nodes
//! are killed with SIGKILL and the driver waits until every other node's
//! `connected_nodes()` has lost them, and their global names and group members are gone
//! from every node.
//!
//! `MESH_HEARTBEAT=INTERVAL_MS,TIMEOUT_MS` in the environment sets every node's heartbeat
//! ([`pyact::NodeOptions::heartbeat`]) instead of the default, to compare.
//!
//! Each node is this program run as `mesh node COOKIE`: it prints its name, then answers
//! lines on its standard input (`connect NAME`, `nodes`), and exits when its standard
//! input closes, so a driver that dies takes its nodes with it. The driver kills every child
//! on every exit path (its `Drop`), and every wait has a deadline.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// Longest the driver waits for anything (a node's start, the full mesh, the kills seen).
const PATIENCE: Duration = Duration::from_secs(120);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("node") {
        return node(args.get(1).map_or("mesh-bench-cookie", String::as_str));
    }
    let n: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(30);
    let mode = args.get(1).map_or("seed", String::as_str).to_string();
    let idle: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    if n < 5 || !(mode == "seed" || mode == "all") {
        eprintln!("usage: mesh N(>=5) [seed|all] [IDLE_SECS]");
        std::process::exit(2);
    }
    if let Err(e) = drive(n, &mode, idle) {
        eprintln!("mesh: FAILED: {e}");
        std::process::exit(1);
    }
}

/// One node: `workers(1)`, answers its standard input until it closes.
fn node(cookie: &str) {
    pyact::config::Config::default()
        .workers(1)
        .apply()
        .expect("first configuration");
    let mesh = pyact::Mesh::new();
    let mut opts = pyact::NodeOptions::default();
    // `MESH_HEARTBEAT=INTERVAL_MS,TIMEOUT_MS` overrides the default heartbeat (to compare).
    if let Some((i, t)) = std::env::var("MESH_HEARTBEAT")
        .ok()
        .and_then(|v| {
            v.split_once(',')
                .map(|(i, t)| (i.parse().ok(), t.parse().ok()))
        })
        .and_then(|(i, t)| Some((i?, t?)))
    {
        opts = opts.heartbeat(Duration::from_millis(i), Duration::from_millis(t));
    }
    let node = pyact::Node::with_options(&mesh, &format!("{cookie}@127.0.0.1:0"), opts)
        .expect("node starts");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "up {}", node.name());
    let _ = out.flush();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let reply = match line.split_once(' ') {
            Some(("connect", peer)) => match node.connect(&format!("{cookie}@{peer}")) {
                Ok(()) => "ok".to_string(),
                Err(e) => format!("error {e}"),
            },
            _ if line == "nodes" => format!("nodes {}", node.connected_nodes().join(",")),
            // A global name and a group member, each held by an idle actor of this node.
            Some(("register", name)) => {
                let a = node.spawn(|mut mb| mb.receive());
                match pyact::global::register_name(&node, name, &a) {
                    Ok(()) => "ok".to_string(),
                    Err(e) => format!("error {e}"),
                }
            }
            Some(("join", group)) => {
                let a = node.spawn(|mut mb| mb.receive());
                match pyact::pg::join(&node, group, &a) {
                    Ok(()) => "ok".to_string(),
                    Err(e) => format!("error {e}"),
                }
            }
            _ if line == "names" => {
                let mut names = pyact::global::registered_names(&node);
                names.sort();
                format!("nodes {}", names.join(","))
            }
            Some(("members", group)) => {
                let mut at: Vec<String> = pyact::pg::get_members(&node, group)
                    .iter()
                    .map(|a| a.node_id().to_string())
                    .collect();
                at.sort();
                format!("nodes {}", at.join(","))
            }
            _ => format!("error unknown command {line:?}"),
        };
        let _ = writeln!(out, "{reply}");
        let _ = out.flush();
    }
}

/// A node process and the lines it prints.
struct Proc {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    name: String,
}

impl Proc {
    fn start(cookie: &str) -> Result<Proc, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .args(["node", cookie])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start a node: {e}"))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let mut p = Proc {
            child,
            stdin,
            lines,
            name: String::new(),
        };
        let up = p.line()?;
        p.name = up
            .strip_prefix("up ")
            .ok_or_else(|| format!("unexpected first line {up:?}"))?
            .to_string();
        Ok(p)
    }

    fn line(&self) -> Result<String, String> {
        self.lines
            .recv_timeout(PATIENCE)
            .map_err(|_| format!("node {} silent for {PATIENCE:?}", self.name))
    }

    fn ask(&mut self, cmd: &str) -> Result<String, String> {
        writeln!(self.stdin, "{cmd}").map_err(|e| format!("node {}: {e}", self.name))?;
        self.line()
    }

    /// A command whose answer is a comma-separated list (after `nodes `).
    fn list(&mut self, cmd: &str) -> Result<Vec<String>, String> {
        let l = self.ask(cmd)?;
        let list = l
            .strip_prefix("nodes ")
            .or_else(|| (l == "nodes").then_some(""))
            .ok_or_else(|| format!("unexpected answer {l:?}"))?;
        Ok(list
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect())
    }

    /// User + system CPU time so far, in clock ticks (`/proc/PID/stat` fields 14 and 15).
    fn cpu_ticks(&self) -> Result<u64, String> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .map_err(|e| e.to_string())?;
        // The command name (field 2) is in parentheses and may hold spaces: count after it.
        let rest = &stat[stat.rfind(')').ok_or("bad stat")? + 2..];
        let f: Vec<&str> = rest.split(' ').collect();
        let parse = |i: usize| {
            f.get(i)
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or("bad stat")
        };
        Ok(parse(11)? + parse(12)?)
    }

    /// Resident memory, in KiB (`VmRSS`).
    fn rss_kib(&self) -> Result<u64, String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .map_err(|e| e.to_string())?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| "no VmRSS".into())
    }
}

/// Every child is killed and reaped however the driver leaves (an error, a panic).
struct Procs(Vec<Proc>);

impl Drop for Procs {
    fn drop(&mut self) {
        for p in &mut self.0 {
            let _ = p.child.kill();
            let _ = p.child.wait(); // killed: ends at once
        }
    }
}

/// Poll every node in `alive` until each lists exactly the others in `alive`.
fn until_full(procs: &mut [Proc], alive: &[usize], what: &str) -> Result<Duration, String> {
    until_all(procs, alive, what, "nodes", |i, j, names| {
        (i != j).then(|| names[j].clone())
    })
}

/// Poll every node `i` in `alive` with `cmd` until its list is exactly `want(i, j, names)`
/// over the `j` in `alive` (`names`: every node's `host:port`).
fn until_all(
    procs: &mut [Proc],
    alive: &[usize],
    what: &str,
    cmd: &str,
    want: impl Fn(usize, usize, &[String]) -> Option<String>,
) -> Result<Duration, String> {
    let start = Instant::now();
    let names: Vec<String> = procs.iter().map(|p| p.name.clone()).collect();
    let mut pending: Vec<usize> = alive.to_vec();
    loop {
        let mut still = Vec::new();
        for &i in &pending {
            let mut want: Vec<String> = alive.iter().filter_map(|&j| want(i, j, &names)).collect();
            want.sort();
            let mut got = procs[i].list(cmd)?;
            got.sort();
            if got != want {
                still.push(i);
            }
        }
        if still.is_empty() {
            return Ok(start.elapsed());
        }
        if start.elapsed() > PATIENCE {
            return Err(format!(
                "{what}: {} nodes still without the full list after {PATIENCE:?}",
                still.len()
            ));
        }
        pending = still;
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn drive(n: usize, mode: &str, idle: u64) -> Result<(), String> {
    let cookie = format!("mesh-{}", std::process::id());
    let t0 = Instant::now();
    let mut procs = Procs(Vec::with_capacity(n));
    for _ in 0..n {
        procs.0.push(Proc::start(&cookie)?);
    }
    let started = t0.elapsed();
    let names: Vec<String> = procs.0.iter().map(|p| p.name.clone()).collect();
    let t1 = Instant::now();
    // Send every connect first, then read the answers: the nodes join at once.
    let mut asked = vec![0usize; n];
    for (i, p) in procs.0.iter_mut().enumerate() {
        let targets: Vec<&String> = match mode {
            "seed" if i > 0 => vec![&names[0]],
            "all" => names[i + 1..].iter().collect(),
            _ => vec![],
        };
        for t in targets {
            writeln!(p.stdin, "connect {t}").map_err(|e| e.to_string())?;
            asked[i] += 1;
        }
    }
    for (i, p) in procs.0.iter().enumerate() {
        for _ in 0..asked[i] {
            let l = p.line()?;
            if l != "ok" {
                return Err(format!("node {}: connect: {l}", p.name));
            }
        }
    }
    let alive: Vec<usize> = (0..n).collect();
    let meshed = t1.elapsed().max(until_full(&mut procs.0, &alive, "join")?);
    println!(
        "nodes {n} ({mode}): started in {:.2} s; full mesh {:.2} s after the connects",
        started.as_secs_f64(),
        meshed.as_secs_f64()
    );
    // Every node registers a global name and puts a member in one group; every node must
    // see all of them.
    let t3 = Instant::now();
    for (i, p) in procs.0.iter_mut().enumerate() {
        for cmd in [format!("register name{i}"), "join everyone".to_string()] {
            let l = p.ask(&cmd)?;
            if l != "ok" {
                return Err(format!("node {}: {cmd}: {l}", p.name));
            }
        }
    }
    let registered = t3.elapsed();
    let seen = until_all(&mut procs.0, &alive, "names", "names", |_, j, _| {
        Some(format!("name{j}"))
    })?;
    let grouped = until_all(
        &mut procs.0,
        &alive,
        "group",
        "members everyone",
        |_, j, names| Some(names[j].clone()),
    )?;
    println!(
        "global names and group members: {n} of each registered in {:.2} s, \
         every name on every node {:.2} s later, every member {:.2} s later",
        registered.as_secs_f64(),
        seen.as_secs_f64(),
        grouped.as_secs_f64()
    );
    // Let the joins settle before measuring an idle mesh.
    std::thread::sleep(Duration::from_secs(2));
    let hz = 100.0; // USER_HZ on Linux
    let before: Vec<u64> = procs
        .0
        .iter()
        .map(Proc::cpu_ticks)
        .collect::<Result<_, _>>()?;
    let t = Instant::now();
    std::thread::sleep(Duration::from_secs(idle));
    let after: Vec<u64> = procs
        .0
        .iter()
        .map(Proc::cpu_ticks)
        .collect::<Result<_, _>>()?;
    let secs = t.elapsed().as_secs_f64();
    let cpu: Vec<f64> = before
        .iter()
        .zip(&after)
        .map(|(b, a)| (a - b) as f64 / hz / secs * 100.0)
        .collect();
    let rss: Vec<u64> = procs
        .0
        .iter()
        .map(Proc::rss_kib)
        .collect::<Result<_, _>>()?;
    let mean = cpu.iter().sum::<f64>() / n as f64;
    let max = cpu.iter().cloned().fold(0.0, f64::max);
    let rss_mean = rss.iter().sum::<u64>() as f64 / n as f64 / 1024.0;
    let rss_max = *rss.iter().max().unwrap_or(&0) as f64 / 1024.0;
    println!(
        "idle {idle} s: CPU per node mean {mean:.2}% max {max:.2}% of a core; \
         RSS per node mean {rss_mean:.1} MiB max {rss_max:.1} MiB"
    );
    // Kill three nodes (not the seed) with SIGKILL; the others must lose them.
    let victims = [1, n / 2, n - 1];
    let t2 = Instant::now();
    for &v in &victims {
        procs.0[v].child.kill().map_err(|e| e.to_string())?;
        let _ = procs.0[v].child.wait(); // killed: ends at once
    }
    let alive: Vec<usize> = (0..n).filter(|i| !victims.contains(i)).collect();
    let gone = until_full(&mut procs.0, &alive, "kill -9")?;
    println!(
        "killed 3 nodes (-9): gone from every list in {:.2} s ({:.2} s total)",
        gone.as_secs_f64(),
        t2.elapsed().as_secs_f64()
    );
    let names_gone = until_all(
        &mut procs.0,
        &alive,
        "names after kill -9",
        "names",
        |_, j, _| Some(format!("name{j}")),
    )?;
    let members_gone = until_all(
        &mut procs.0,
        &alive,
        "members after kill -9",
        "members everyone",
        |_, j, names| Some(names[j].clone()),
    )?;
    println!(
        "their global names gone from every node {:.2} s later, their group members {:.2} s \
         later ({:.2} s after the kills)",
        names_gone.as_secs_f64(),
        members_gone.as_secs_f64(),
        t2.elapsed().as_secs_f64()
    );
    Ok(())
}
