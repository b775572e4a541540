//! Coroutine reuse (src/pool.rs): reuse is on by default, and an actor that runs on the
//! coroutine (and stack) of an ended actor starts clean. A warm spawn hands the new actor to
//! an idle pyact *runner*, the coroutine an ended actor ran on; so each clean-start test runs
//! a `first` actor to its end, then spawns probes until one lands on the stack `first` ran
//! on (stacks are 1 MiB apart, so "within 64 KiB of first's frame" is "the same stack":
//! an idle runner's stack is never unmapped, so the address cannot have been handed out
//! anew), and runs `second` there. The tests run one at a time (`SERIAL`): the page-fault
//! count of the first one is process-wide, and the watchdog test wants nothing running.

#[allow(dead_code)] // each test binary uses part of the shared helpers
mod common;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pyact::actor::current_node;
use pyact::{Address, ExitReason, Mailbox, Mesh, Node, Value, curaddr, json, pattern};

fn node() -> Node {
    Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap()
}

/// An address on the running coroutine's stack.
#[inline(never)]
fn stack_marker() -> usize {
    let x = 0u8;
    std::hint::black_box(&x) as *const u8 as usize
}

fn same_stack(a: usize, b: usize) -> bool {
    a.abs_diff(b) < 64 * 1024
}

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Minor page faults of this process so far (`/proc/self/stat`, field 10).
fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the parenthesised command name, which may contain spaces.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.split(' ').nth(7).unwrap().parse().unwrap()
}

#[test]
fn ended_actors_stacks_are_reused_by_default() {
    let _serial = serial();
    let n = node();
    let spawn_and_wait = |k: usize| {
        for _ in 0..k {
            let a = n.spawn(|mut mb| {
                let _ = mb.try_receive();
            });
            n.wait(&a).unwrap();
        }
    };
    spawn_and_wait(200);
    const N: u64 = 2000;
    let before = minor_faults();
    spawn_and_wait(N as usize);
    let faults = minor_faults() - before;
    // A fresh stack faults in at least the top page it runs on: 1 per actor (the vendored
    // generator and may no longer touch its bottom page). A reused one has it resident.
    assert!(
        faults < N / 2,
        "{faults} page faults for {N} sequential actors: stacks are not reused"
    );
}

type Body = Box<dyn FnOnce(Mailbox) -> Value + Send>;

/// Run `first` on `n1` (it must end by itself, or `release` must end it), then start probes
/// on `n2` until one runs on first's stack; that one runs `second`. Returns first's address
/// and result, and second's address (`second` may still be running).
fn on_reused_stack(
    n1: &Node,
    first: impl FnOnce(Mailbox) -> Value + Send + 'static,
    release: impl FnOnce(&Address),
    n2: &Node,
    second: impl FnOnce(Mailbox) -> Value + Send + 'static,
) -> (Address, Result<Value, ExitReason>, Address) {
    let marker = Arc::new(AtomicUsize::new(0));
    let m = marker.clone();
    let a = n1.spawn(move |mb| {
        m.store(stack_marker(), Ordering::SeqCst);
        first(mb)
    });
    release(&a);
    let first_result = n1.wait(&a);
    let first_marker = marker.load(Ordering::SeqCst);
    assert_ne!(first_marker, 0);

    // Why the probes must land on first's stack: first's runner joins the idle pool once
    // first's body returned (shortly after `wait` saw it end), and a spawn takes an idle
    // runner whenever there is one. A probe that misses stays alive (parked in `receive`)
    // until the search is over, so no runner serves two probes: each probe takes another
    // idle runner (or a new coroutine when none is idle), and first's comes up within as
    // many probes as there were idle runners (a handful). 2,000 is only a bound. The stacks
    // probed are counted for the failure message: first's runner was lost (ended instead of
    // parked) if the probes found that many other stacks.
    let second: Arc<Mutex<Option<Body>>> = Arc::new(Mutex::new(Some(Box::new(second))));
    let mut missed = Vec::new();
    let mut found = None;
    for _ in 0..2_000 {
        let (tx, rx) = std::sync::mpsc::channel::<bool>();
        let second = second.clone();
        let probe = n2.spawn(move |mut mb| {
            let hit = same_stack(stack_marker(), first_marker);
            tx.send(hit).unwrap();
            if !hit {
                let _ = mb.receive();
                return Value::Null;
            }
            let body = second.lock().unwrap().take().expect("one hit");
            body(mb)
        });
        if rx.recv().unwrap() {
            found = Some(probe);
            break;
        }
        missed.push(probe);
    }
    for p in &missed {
        p.send("done").unwrap();
        n2.wait(p).unwrap();
    }
    match found {
        Some(probe) => (a, first_result, probe),
        None => panic!(
            "no actor ran on first's stack in {} spawns: first's coroutine did not go back to \
             the pool",
            missed.len()
        ),
    }
}

may::coroutine_local!(static USER_LOCAL: std::cell::Cell<u32> = std::cell::Cell::new(0));

#[test]
fn coroutine_locals_and_the_actor_context_start_fresh() {
    let _serial = serial();
    let (n1, n2) = (node(), node());
    let (first, r1, second) = on_reused_stack(
        &n1,
        |mb| {
            USER_LOCAL.with(|c| c.set(42));
            json!({"local": USER_LOCAL.with(|c| c.get()), "me": mb.addr()})
        },
        |_| {},
        &n2,
        |mb| {
            json!({
                "local": USER_LOCAL.with(|c| c.get()),
                "curaddr": curaddr(),
                "me": mb.addr(),
                "node": current_node().map(|n| n.name().to_string()),
            })
        },
    );
    assert_eq!(r1, Ok(json!({"local": 42, "me": first})));
    let got = n2.wait(&second).unwrap();
    assert_eq!(got["local"], 0, "coroutine-local data leaked: {got}");
    assert_eq!(got["curaddr"], json!(second), "{got}");
    assert_eq!(got["me"], json!(second), "{got}");
    assert_eq!(got["node"], json!(n2.name()), "{got}");
    assert_ne!(n1.name(), n2.name());
}

#[test]
fn a_registered_name_does_not_pass_to_the_next_actor() {
    let _serial = serial();
    let n = node();
    let n2 = n.clone();
    let (first, _, second) = on_reused_stack(
        &n,
        move |mb| {
            n2.register("pooled-name", &mb.addr()).unwrap();
            Value::Null
        },
        |_| {},
        &n,
        |mut mb| {
            // Registered by the first actor, which ended: gone.
            let before = mb.node().whereis("pooled-name");
            let mine = mb.node().register("other-name", &mb.addr()).is_ok();
            let _ = mb.receive();
            json!({"before": before, "registered": mine})
        },
    );
    assert_eq!(n.whereis("pooled-name"), None);
    assert_ne!(first, second);
    second.send("stop").unwrap();
    let got = n.wait(&second).unwrap();
    assert_eq!(got, json!({"before": null, "registered": true}));
    assert_eq!(n.whereis("other-name"), None);
}

#[test]
fn links_of_the_previous_actor_do_not_carry_over() {
    let _serial = serial();
    let n = node();
    let mut inbox = n.inbox(); // a thread inbox traps the exits of its links
    let watcher = inbox.addr();
    let (first, _, second) = on_reused_stack(
        &n,
        move |mut mb| {
            mb.link(&watcher);
            json!("first done")
        },
        |_| {},
        &n,
        |mut mb| -> Value {
            let _ = mb.receive();
            panic!("second crashes")
        },
    );
    let exit = pattern!({"address": address, "exit": object});
    let (_, got) = inbox.receive_match(&[&exit]);
    assert_eq!(
        got,
        json!({"address": first, "exit": {"normal": "first done"}})
    );

    // The DOWN comes after any exit signal the crash sends to links, so once it is here an
    // exit message from `second` would be too.
    let r = inbox.monitor(&second);
    second.send("crash").unwrap();
    let (_, down) = inbox.receive_match(&[&pattern!({"down": = r})]);
    assert_eq!(down["exit"], json!({"panic": "second crashes"}));
    assert_eq!(
        inbox.try_receive(),
        None,
        "the crash reached the first actor's link"
    );
    assert!(matches!(n.wait(&second), Err(ExitReason::Panicked(_))));
}

#[test]
fn monitors_of_the_previous_actor_do_not_carry_over() {
    let _serial = serial();
    let n = node();
    let mut inbox = n.inbox();
    let first_ref = Arc::new(Mutex::new(None));
    let fr = first_ref.clone();
    let (first, _, second) = on_reused_stack(
        &n,
        |mut mb| mb.receive(),
        |a| {
            *fr.lock().unwrap() = Some(inbox.monitor(a));
            a.send("go").unwrap();
        },
        &n,
        |mut mb| mb.receive(),
    );
    let r1 = first_ref.lock().unwrap().take().unwrap();
    let (_, down) = inbox.receive_match(&[&pattern!({"down": = r1})]);
    assert_eq!(down["address"], json!(first));

    let r2 = inbox.monitor(&second);
    second.send("bye").unwrap();
    let (_, down) = inbox.receive_match(&[&pattern!({"down": = r2})]);
    assert_eq!(down["exit"], json!({"normal": "bye"}));
    // Only the DOWN of the monitor placed on `second`: none under the first actor's ref.
    assert_eq!(inbox.try_receive(), None);
}

#[test]
fn a_pending_timer_of_the_previous_actor_does_not_fire_into_the_next() {
    let _serial = serial();
    let n = node();
    const FIRST_TIMEOUT: Duration = Duration::from_millis(200);
    let (_, r1, second) = on_reused_stack(
        &n,
        // Woken by a message well before its timeout: the timer is still pending as it ends.
        |mut mb| json!(mb.receive_timeout(FIRST_TIMEOUT).is_ok()),
        |a| a.send("early").unwrap(),
        &n,
        |mut mb| {
            let t0 = Instant::now();
            let got = mb.receive_timeout(Duration::from_secs(120)).ok();
            json!({"got": got, "waited_ms": t0.elapsed().as_millis() as u64})
        },
    );
    assert_eq!(r1, Ok(json!(true)));
    // Outlive the first actor's timer before sending; a stale timer would have woken
    // `second` with a timeout (or an empty wake-up) by now.
    std::thread::sleep(FIRST_TIMEOUT * 3);
    second.send("late").unwrap();
    let got = n.wait(&second).unwrap();
    assert_eq!(got["got"], "late", "{got}");
}

#[test]
fn an_actor_that_panicked_leaves_a_usable_stack() {
    let _serial = serial();
    let n = node();
    let (_, r1, second) = on_reused_stack(
        &n,
        |_| -> Value { panic!("first panics") },
        |_| {},
        &n,
        |mut mb| {
            // Deep enough to use the stack well past the first actor's frames.
            fn depth(k: u32) -> u32 {
                let pad = std::hint::black_box([k as u8; 512]);
                if k == 0 {
                    pad[0] as u32
                } else {
                    depth(k - 1) + pad[1] as u32
                }
            }
            json!({"msg": mb.receive(), "depth": depth(200)})
        },
    );
    assert_eq!(r1, Err(ExitReason::Panicked("first panics".into())));
    second.send("fine").unwrap();
    // depth(k) adds k for every frame k = 200..=0.
    let expected: u32 = (0..=200).sum();
    assert_eq!(
        n.wait(&second).unwrap(),
        json!({"msg": "fine", "depth": expected})
    );
}

may::coroutine_local!(static LATE: std::cell::Cell<u32> = std::cell::Cell::new(0));

/// Sets `LATE` (another coroutine-local) when dropped, and says so.
struct SetsLateOnDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for SetsLateOnDrop {
    fn drop(&mut self) {
        LATE.with(|c| c.set(7));
        self.0.store(true, Ordering::SeqCst);
    }
}

may::coroutine_local!(static DROPPER: std::cell::RefCell<Option<SetsLateOnDrop>> =
    std::cell::RefCell::new(None));

#[test]
fn coroutine_locals_are_dropped_at_the_end_even_those_made_while_dropping() {
    let _serial = serial();
    let n = node();
    let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d = dropped.clone();
    let (_, r1, second) = on_reused_stack(
        &n,
        move |_| {
            DROPPER.with(|slot| *slot.borrow_mut() = Some(SetsLateOnDrop(d)));
            json!("first done")
        },
        |_| {},
        &n,
        |_| json!({"late": LATE.with(|c| c.get())}),
    );
    assert_eq!(r1, Ok(json!("first done")));
    // The first actor's locals were dropped when it ended (before its coroutine ran anything
    // else), not kept until the coroutine itself ends.
    assert!(
        dropped.load(Ordering::SeqCst),
        "first's local was never dropped"
    );
    // The value its drop created was dropped too: the second actor starts without it.
    assert_eq!(n.wait(&second).unwrap(), json!({"late": 0}));
}

#[test]
fn a_may_handle_kept_from_the_previous_actor_reaches_nothing() {
    let _serial = serial();
    let n = node();
    let kept: Arc<Mutex<Option<may::coroutine::Coroutine>>> = Arc::new(Mutex::new(None));
    let k = kept.clone();
    let (_, r1, second) = on_reused_stack(
        &n,
        move |_| {
            *k.lock().unwrap() = Some(may::coroutine::current());
            json!("first done")
        },
        |_| {},
        &n,
        |mut mb| json!({"got": mb.receive()}),
    );
    assert_eq!(r1, Ok(json!("first done")));
    let handle = kept.lock().unwrap().take().expect("first ran");
    wait_until_receiving(&n, &second);
    // What anyone holding the first actor's `may` handle can do: cancel and unpark it. On a
    // reused coroutine that kept its handle, the cancel would unwind the second actor out
    // of its receive (or at its next park).
    // SAFETY: may's cancel is unsafe because it unwinds the coroutine it reaches; this test
    // checks that it reaches no coroutine, and an actor unwound by it would only end.
    unsafe { handle.cancel() };
    handle.unpark();
    second.send("still here").unwrap();
    assert_eq!(n.wait(&second).unwrap(), json!({"got": "still here"}));
}

/// Wait until `a` is parked in its receive.
fn wait_until_receiving(n: &Node, a: &Address) {
    let t0 = Instant::now();
    while n.info(a).expect("alive").status != pyact::observe::Status::Receiving {
        assert!(t0.elapsed() < Duration::from_secs(60), "{a} never parked");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_cancelled_coroutine_does_not_cancel_the_next_actor() {
    let _serial = serial();
    let n = node();
    let (_, r1, second) = on_reused_stack(
        &n,
        |mut mb| {
            // SAFETY: may's cancel unwinds the coroutine at its next park: this actor, which
            // then ends with a panic reason (its receive never returns).
            unsafe { may::coroutine::current().cancel() };
            mb.receive()
        },
        |_| {},
        &n,
        |mut mb| json!({"got": mb.receive()}),
    );
    assert!(matches!(r1, Err(ExitReason::Panicked(_))), "{r1:?}");
    wait_until_receiving(&n, &second);
    second.send("still here").unwrap();
    assert_eq!(n.wait(&second).unwrap(), json!({"got": "still here"}));
}

#[test]
fn an_ended_actors_worker_is_not_left_marked_busy() {
    let _serial = serial();
    common::logs::record(log::LevelFilter::Warn);
    let held = || common::logs::count(|l| l.contains("held its worker"));
    let n = node();
    for _ in 0..50 {
        let a = n.spawn(|mut mb| {
            let _ = mb.try_receive();
        });
        n.wait(&a).unwrap();
    }
    // Their runners are parked (or parking): no actor runs now. A runner that parked with
    // its worker still marked as running its last actor would be reported by the watchdog
    // (default threshold 100 ms) within this idle second.
    let before = held();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        held(),
        before,
        "the watchdog saw a busy worker with no actor running"
    );
}
