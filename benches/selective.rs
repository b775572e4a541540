//! Selective receive with 1,000 non-matching messages queued.
//!
//! A client actor does request/reply with an echo actor: for each request it takes
//! `Mailbox::mark()`, sends `{"ref": <fresh pyact::link::Ref>}` and waits with
//! `receive_match_since(mark, [{"ref": = r}])`. Variants, alternating in one process:
//! - `empty`:         the client's mailbox holds nothing else;
//! - `1000 queued`:   1,000 non-matching messages sit in the client's mailbox (already
//!   taken out of the queue and kept unmatched, as after any selective receive);
//! - `1000, no mark`: the same, with `receive_match` (no mark): every receive re-examines
//!   the 1,000 messages; shown to make the effect of the mark visible;
//! - `bare`:          the same message shape over two `may::sync::mpsc` channels (a plain
//!   `recv`).
//!
//! `cargo bench --bench selective` (env: `PYACT_SELECTIVE_N` request/replies per round,
//! default 20000; `PYACT_SELECTIVE_QUEUED`, default 1000; `PYACT_BENCH_ROUNDS`, default 7).

mod common;

use std::time::{Duration, Instant};

use common::*;
use may::sync::mpsc;
use pyact::link::Ref;
use pyact::{Mesh, Node, Value, curaddr, json, pattern, spawn};

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Empty,
    QueuedMark,
    QueuedNoMark,
}

fn pyact_selective(node: &Node, n: usize, queued: usize, variant: Variant) -> Duration {
    let client = node.spawn(move |mut mb| {
        let me = curaddr().expect("in an actor");
        let echo = spawn(move |mut mb| {
            loop {
                let v = mb.receive();
                if v.is_null() {
                    break;
                }
                me.send(v).expect("client alive");
            }
        });
        if variant != Variant::Empty {
            for i in 0..queued {
                mb.addr()
                    .send(json!({"noise": i, "text": "not a reply"}))
                    .expect("self");
            }
            // Move them from the queue into the mailbox's kept-unmatched list.
            let never = pattern!({"never": _});
            assert!(mb.try_receive_match(&[&never]).is_none());
            assert_eq!(mb.saved_len(), queued);
        }
        let t0 = Instant::now();
        for _ in 0..n {
            let r = Ref::new();
            let mark = mb.mark();
            echo.send(json!({ "ref": r })).expect("echo alive");
            let reply = pattern!({"ref": = r});
            let got = if variant == Variant::QueuedNoMark {
                mb.receive_match(&[&reply]).1
            } else {
                mb.receive_match_since(mark, &[&reply], None)
                    .expect("no timeout")
                    .1
            };
            debug_assert_eq!(got["ref"]["$ref"], r.id());
        }
        let took = t0.elapsed();
        assert_eq!(
            mb.saved_len(),
            if variant == Variant::Empty { 0 } else { queued }
        );
        echo.send(Value::Null).expect("echo alive");
        json!(took.as_nanos() as u64)
    });
    let r = node.wait(&client).expect("pyact client");
    Duration::from_nanos(r.as_u64().expect("ns"))
}

fn bare_request_reply(n: usize) -> Duration {
    let client = may::go!(move || {
        let (to_client, inbox) = mpsc::channel::<Value>();
        let (to_echo, echo_inbox) = mpsc::channel::<Value>();
        let echo = may::go!(move || {
            loop {
                let v = echo_inbox.recv().expect("client alive");
                if v.is_null() {
                    break;
                }
                to_client.send(v).expect("client alive");
            }
        });
        let t0 = Instant::now();
        for _ in 0..n {
            let r = Ref::new();
            to_echo.send(json!({ "ref": r })).expect("echo alive");
            let got = inbox.recv().expect("reply");
            debug_assert_eq!(got["ref"]["$ref"], r.id());
        }
        let took = t0.elapsed();
        to_echo.send(Value::Null).expect("echo alive");
        echo.join().expect("echo");
        took
    });
    client.join().expect("bare client")
}

fn main() {
    let mesh = Mesh::new();
    let node = Node::new(&mesh, "bench@127.0.0.1:0").expect("node");
    let n = env_usize("PYACT_SELECTIVE_N", 20_000);
    let queued = env_usize("PYACT_SELECTIVE_QUEUED", 1_000);
    let rounds = rounds(7);
    header(
        "selective",
        &format!(
            "{n} request/replies (fresh Ref, mark + receive_match_since) with {queued} \
             non-matching messages queued vs none, median of {rounds} rounds"
        ),
    );
    let no_mark_n = (n / 10).max(1);
    let mut empty = || pyact_selective(&node, n, queued, Variant::Empty);
    let mut marked = || pyact_selective(&node, n, queued, Variant::QueuedMark);
    let mut unmarked = || pyact_selective(&node, no_mark_n, queued, Variant::QueuedNoMark);
    let mut bare = || bare_request_reply(n);
    let s = rotate(
        rounds,
        &mut [&mut empty, &mut marked, &mut unmarked, &mut bare],
    );
    let per = |i: usize, count: usize| us_per(median(&s[i]), count);
    let (e, m, u, b) = (per(0, n), per(1, n), per(2, no_mark_n), per(3, n));
    println!("   {:<28} {:>12} {:>10}", "", "us/receive", "vs bare");
    for (name, us) in [
        ("pyact, empty mailbox".to_string(), e),
        (format!("pyact, {queued} queued, mark"), m),
        (format!("pyact, {queued} queued, no mark"), u),
        ("bare mpsc recv".to_string(), b),
    ] {
        println!("   {name:<28} {us:>12.3} {:>9.2}x", us / b);
    }
    println!(
        "   {queued} queued vs empty (with mark): {:.2}x, {:+.3} us per receive \
         ({:+.2} ns per queued message)",
        m / e,
        m - e,
        (m - e) * 1e3 / queued as f64
    );
}
