//! The default live-actor limit and memory (issue 16 row 8): idle actors never take more than
//! 80% of memory or of the address-space limit; spawning past it is a typed error.

#[allow(dead_code)] // each test binary uses part of the shared helpers
mod common;

/// The default live-actor limit keeps idle actors within 80% of the machine's memory
/// (issue 16 row 8): at 6 KiB resident per idle actor (5.55 KiB measured), the limit times
/// that is at most 80% of `MemTotal`.
#[test]
fn the_default_actor_limit_fits_idle_actors_in_80_percent_of_memory() {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kib: u64 = info
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap();
    let limit = pyact::config::Config::default().actor_limit() as u64;
    assert!(
        limit * 6 * 1024 <= kib * 1024 * 8 / 10,
        "{limit} idle actors need more than 80% of {kib} KiB"
    );
}

/// Under an address-space limit (`ulimit -v`), the default limit counts each actor's whole
/// stack reservation, and spawning past it is a typed error, not an abort: a child process
/// (this test binary, re-run under `sh -c 'ulimit -v ...'`) spawns until refused.
#[test]
fn under_rlimit_as_spawning_past_the_default_limit_is_a_typed_error() {
    if std::env::var("PYACT_LIMIT_CHILD").is_ok() {
        let limit = pyact::config::Config::default().actor_limit();
        // 3 GiB of address space, 1 MiB (+ guard) stacks: 80% is ~2,450 stacks.
        assert!(
            limit <= 3 * 1024 * 8 / 10,
            "limit {limit} ignores RLIMIT_AS"
        );
        let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
        let mut held = Vec::new();
        loop {
            match node.try_spawn(|mut mb| {
                mb.receive();
            }) {
                Ok(a) => held.push(a),
                Err(pyact::SpawnError::TooManyActors { .. }) => break,
                Err(e) => panic!("unexpected spawn error {e}"),
            }
            assert!(held.len() <= limit, "spawned past the limit");
        }
        println!("REFUSED after {}", held.len());
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut cmd = std::process::Command::new("sh");
    cmd.args([
        "-c",
        "ulimit -v 3145728 && exec \"$0\" --exact under_rlimit_as_spawning_past_the_default_limit_is_a_typed_error --nocapture",
    ])
    .arg(exe)
    .env("PYACT_LIMIT_CHILD", "1");
    let out = common::child::output(&mut cmd, std::time::Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("REFUSED after"),
        "{:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
