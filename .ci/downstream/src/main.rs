//! pyact and crates.io `may` in one process: a crates.io `may` coroutine and a pyact ring
//! both run, and both results are checked. Exits non-zero on a mismatch or a timeout.

use std::sync::mpsc;
use std::time::Duration;

use pyact::{Address, Mailbox, Mesh, Node, curaddr, json, spawn};

const RING: usize = 100;
const DEADLINE: Duration = Duration::from_secs(60);

fn forward(mut mb: Mailbox, next: Address) {
    let data = mb.receive();
    let _ = next | json!({"hops": data["hops"].as_u64().unwrap_or(0) + 1});
}

fn main() {
    // A coroutine of crates.io may (its own scheduler, its own generator): it yields between
    // steps, so its context switches run through crates.io generator's assembly.
    let (tx, rx) = mpsc::channel();
    let body = move || {
        let mut sum = 0u64;
        for i in 1..=1000u64 {
            sum += i;
            may::coroutine::yield_now();
        }
        let _ = tx.send(sum);
    };
    // SAFETY: the closure uses no thread-local storage and does not block the thread.
    let _may_co = unsafe { may::coroutine::spawn(body) };

    // A pyact ring of RING actors on pyact's fork of may.
    let mesh = Mesh::new();
    let node = Node::new(&mesh, "downstream@127.0.0.1:0").expect("node");
    let ring = node.spawn(|mut mb| {
        let me = curaddr().expect("in an actor");
        let mut next = me;
        for _ in 0..RING {
            let to = next.clone();
            next = spawn(move |mb| forward(mb, to));
        }
        let _ = next | json!({"hops": 0});
        mb.receive()
    });
    let pyact_result = ring.wait_timeout(DEADLINE);
    let may_result = rx.recv_timeout(DEADLINE);

    let mut ok = true;
    match may_result {
        Ok(500_500) => println!("crates.io may coroutine: sum 500500"),
        other => {
            eprintln!("crates.io may coroutine: expected Ok(500500), got {other:?}");
            ok = false;
        }
    }
    match pyact_result {
        Ok(Ok(v)) if v["hops"] == json!(RING) => println!("pyact ring: {RING} hops"),
        other => {
            eprintln!("pyact ring: expected {RING} hops, got {other:?}");
            ok = false;
        }
    }
    std::process::exit(if ok { 0 } else { 1 });
}
