//! `examples/observe.rs` prints a table of a running node's actors; run it for a few frames
//! and check the table shows the tree it started.

#[allow(dead_code)] // each test binary uses part of the shared helpers
mod common;

use std::process::Command;

#[test]
fn the_observe_example_prints_the_node_table() {
    let bin = common::example::binary("observe");
    let out = common::child::output(
        Command::new(&bin).args(["2", "100"]),
        std::time::Duration::from_secs(120),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let frames: Vec<&str> = stdout
        .split("\n\n")
        .filter(|f| !f.trim().is_empty())
        .collect();
    assert_eq!(frames.len(), 2, "{stdout}");
    for frame in frames {
        let lines: Vec<&str> = frame.lines().collect();
        assert!(lines[0].starts_with("node 127.0.0.1:"), "{frame}");
        assert!(lines[0].contains("actors: 4"), "{frame}");
        // One peer: the second node the example connects.
        assert!(lines[0].contains("peers: [\"127.0.0.1:"), "{frame}");
        let totals: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(totals[0], "spawned:", "{frame}");
        let spawned: u64 = totals[1].parse().unwrap();
        assert!(spawned >= 4, "{frame}");
        assert!(lines[2].contains("monitored by"), "{frame}");
        let row = |what: &str| {
            lines
                .iter()
                .find(|l| l.contains(what))
                .unwrap_or_else(|| panic!("no row with {what}: {frame}"))
                .split_whitespace()
                .collect::<Vec<_>>()
        };
        // The supervisor is linked to its three children; each child to the supervisor.
        let sup = row("Supervisor::spawn");
        assert_eq!(sup[1], "sup");
        let sup_id = sup[0];
        assert_eq!(sup[7].split(',').count(), 3, "{frame}");
        const STATUSES: [&str; 6] = [
            "running",
            "receiving",
            "calling",
            "waiting",
            "sleeping",
            "blocking",
        ];
        assert!(STATUSES.contains(&sup[4]), "{frame}");
        // The counter answered the frame's question: it received at least that message.
        let counter = row("\"counter\"");
        let (status, mail, recv) = (counter[5], counter[6], counter[7]);
        assert!(STATUSES.contains(&status), "{frame}");
        mail.parse::<usize>().unwrap();
        assert!(recv.parse::<u64>().unwrap() >= 1, "{frame}");
        for child in ["\"counter\"", "\"ticker\"", "\"flaky\""] {
            assert!(row(child).contains(&sup_id), "{child} not linked: {frame}");
        }
        let registered = lines
            .iter()
            .position(|l| l.starts_with("registered: counter="))
            .unwrap_or_else(|| panic!("no registered line: {frame}"));
        // Then the peers table: the second node, connected, with the pings and pongs.
        assert!(lines[registered + 1].starts_with("peer "), "{frame}");
        let peer: Vec<&str> = lines[registered + 2].split_whitespace().collect();
        assert!(peer[0].starts_with("127.0.0.1:"), "{frame}");
        assert_eq!(peer[1], "connected", "{frame}");
        let msgs_in: u64 = peer[2].parse().unwrap();
        let bytes_in: u64 = peer[3].parse().unwrap();
        assert!(msgs_in >= 1 && bytes_in > 0, "the pong came back: {frame}");
        assert_eq!(lines.len(), registered + 3, "one peer: {frame}");
    }
}
