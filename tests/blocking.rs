//! `sleep`, `yield_now`, `blocking` and the watchdog on a one-worker runtime (issue 8,
//! row 10). Own test binary: the runtime is configured once per process.

use std::sync::mpsc;
use std::sync::{Mutex, Once};
use std::time::Duration;

use pyact::config::Config;
use pyact::{ExitReason, Mesh, Node, curaddr, json};

const LONG: Duration = Duration::from_secs(60);

static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Warn
    }
    fn log(&self, r: &log::Record) {
        if r.level() == log::Level::Warn {
            WARNINGS.lock().unwrap().push(r.args().to_string());
        }
    }
    fn flush(&self) {}
}

fn node() -> Node {
    static SETUP: Once = Once::new();
    SETUP.call_once(|| {
        Config::default()
            .workers(1)
            .watchdog(Some(Duration::from_millis(50)))
            .apply()
            .unwrap();
        log::set_logger(&Capture).unwrap();
        log::set_max_level(log::LevelFilter::Warn);
    });
    Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap()
}

/// One worker: while one actor waits in `blocking`, another actor still runs. The blocking
/// call waits for a std channel that is only fed after the other actor has answered, so if
/// `blocking` held the worker this would never finish.
#[test]
fn blocking_parks_only_the_calling_actor() {
    let node = node();
    let (tx, rx) = mpsc::channel::<i32>();
    let blocked = node.spawn(move |_| {
        let got =
            pyact::blocking::blocking(move || rx.recv_timeout(LONG).map_err(|e| e.to_string()));
        json!(got.unwrap() * 2)
    });
    let other = node.spawn(|_| json!("ran"));
    assert_eq!(node.wait(&other).unwrap(), "ran");
    tx.send(21).unwrap();
    assert_eq!(node.wait(&blocked).unwrap(), 42);
}

#[test]
fn blocking_returns_the_result_and_reraises_a_panic() {
    let node = node();
    let a = node.spawn(|_| json!(pyact::blocking::blocking(|| "from a helper".to_string())));
    assert_eq!(node.wait(&a).unwrap(), "from a helper");
    let b = node.spawn(|_| -> () { pyact::blocking::blocking(|| panic!("helper failed")) });
    assert_eq!(
        node.wait(&b),
        Err(ExitReason::Panicked("helper failed".into()))
    );
    // Plain thread: runs right there.
    assert_eq!(pyact::blocking::blocking(|| 5), 5);
}

/// One worker: a sleeping actor does not hold it.
#[test]
fn sleep_parks_only_the_calling_actor() {
    let node = node();
    let (tx, rx) = mpsc::channel::<()>();
    let mut inbox = node.inbox();
    let me = inbox.addr();
    let sleeper = node.spawn(move |_| {
        me.send(json!({"sleeping": curaddr().unwrap()})).unwrap();
        pyact::actor::sleep(Duration::from_secs(2));
        json!("woke")
    });
    inbox
        .receive_match_timeout(&[&pyact::pattern!({"sleeping": _})], LONG)
        .unwrap();
    let other = node.spawn(move |_| {
        tx.send(()).unwrap();
    });
    // The other actor ran while the sleeper slept (it did not wait for the wake-up).
    rx.recv_timeout(LONG).expect("the other actor ran");
    assert_eq!(
        node.info(&sleeper).filter(|i| !i.exiting).map(|_| "alive"),
        Some("alive"),
        "the other actor only ran after the sleep"
    );
    node.wait(&other).unwrap();
    assert_eq!(node.wait(&sleeper).unwrap(), "woke");
    pyact::actor::sleep(Duration::from_millis(1)); // and in a plain thread
}

#[test]
fn yield_now_lets_others_run_on_one_worker() {
    let node = node();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    // Yields until the other actor has run: on one worker that needs a real yield.
    let yielder = node.spawn(move |_| {
        let mut turns = 0u64;
        while rx.try_recv().is_err() {
            pyact::actor::yield_now();
            turns += 1;
            if turns > 10_000_000 {
                return json!("starved");
            }
        }
        json!("others ran")
    });
    let other = node.spawn(move |_| {
        tx.send(()).unwrap();
        done_tx.send(()).unwrap();
    });
    done_rx.recv_timeout(LONG).unwrap();
    node.wait(&other).unwrap();
    assert_eq!(node.wait(&yielder).unwrap(), "others ran");
    pyact::actor::yield_now(); // plain thread
}

/// The watchdog names an actor that holds the worker in a std call, once per incident.
#[test]
fn the_watchdog_names_an_actor_that_holds_its_worker() {
    let node = node();
    let hog = node.spawn(|_| {
        // The bug the watchdog is for: a std sleep in actor code.
        std::thread::sleep(Duration::from_secs(1));
    });
    node.wait(&hog).unwrap();
    let warnings = WARNINGS.lock().unwrap().clone();
    let about_hog: Vec<_> = warnings
        .iter()
        .filter(|w| w.contains(&format!("actor {hog}")))
        .collect();
    assert_eq!(
        about_hog.len(),
        1,
        "want one warning naming {hog}: {warnings:?}"
    );
    assert!(about_hog[0].contains("held its worker"), "{about_hog:?}");
    // It names the function the actor runs (issue 16 row 11).
    assert!(about_hog[0].contains(" running `"), "{about_hog:?}");
}
