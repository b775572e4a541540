//! The watchdog thread (its behaviour for users is documented in [`crate::actor`], "The
//! watchdog"): per-worker slots saying which actor runs, sampled by one helper thread.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once, Weak};
use std::time::{Duration, Instant};

/// What one thread is running.
#[derive(Default)]
struct Slot {
    /// The running actor's cell (as a pointer, only compared, never dereferenced), or 0.
    running: AtomicUsize,
    /// Bumped at every mark: an unchanged count means the thread did not switch.
    switches: AtomicU64,
}

fn slots() -> &'static Mutex<Vec<Weak<Slot>>> {
    static SLOTS: Mutex<Vec<Weak<Slot>>> = Mutex::new(Vec::new());
    &SLOTS
}

thread_local! {
    /// This thread's slot, or `None` when the watchdog is off (one TLS access per mark).
    static SLOT: Option<Arc<Slot>> = crate::config::current().watchdog_threshold().map(|_| {
        let s = Arc::new(Slot::default());
        slots().lock().unwrap_or_else(|p| p.into_inner()).push(Arc::downgrade(&s));
        s
    });
}

/// Mark this thread as running actor `cell_ptr` (0: none).
#[inline]
pub(crate) fn set_running(cell_ptr: usize) {
    let _ = SLOT.try_with(|s| {
        if let Some(s) = s {
            s.running.store(cell_ptr, Ordering::Relaxed);
            let n = s.switches.load(Ordering::Relaxed);
            s.switches.store(n.wrapping_add(1), Ordering::Relaxed);
        }
    });
}

/// How often the watchdog thread looks when the configuration turns the reports off: it
/// still keeps the pool's queued actors moving (`pool::unstick`).
const BACKSTOP_PERIOD: Duration = Duration::from_millis(25);

/// Start the watchdog thread (once per process). With the reports off
/// ([`Config::watchdog`](crate::config::Config::watchdog)`(None)`) it only keeps the pool's queued
/// actors moving (see `pool`, "Spawned before it has a coroutine").
pub(crate) fn start() {
    static START: Once = Once::new();
    START.call_once(|| {
        let threshold = crate::config::current().watchdog_threshold();
        let spawned = std::thread::Builder::new()
            .name("pyact-watchdog".into())
            .spawn(move || watch(threshold));
        if let Err(e) = spawned {
            log::warn!("pyact watchdog not started: {e}");
        }
    });
}

/// One slot's state as last sampled.
struct Seen {
    slot: Weak<Slot>,
    running: usize,
    switches: u64,
    since: Instant,
    reported: bool,
}

fn watch(threshold: Option<Duration>) {
    let period = threshold.map_or(BACKSTOP_PERIOD, |t| {
        (t / 4).clamp(Duration::from_millis(1), BACKSTOP_PERIOD)
    });
    let mut seen: Vec<Seen> = Vec::new();
    let mut taken = 0;
    loop {
        std::thread::sleep(period);
        taken = crate::pool::unstick(taken);
        let Some(threshold) = threshold else {
            continue;
        };
        // New threads join the watch list.
        {
            let mut all = slots().lock().unwrap_or_else(|p| p.into_inner());
            all.retain(|w| w.strong_count() > 0);
            for w in all.iter() {
                if !seen.iter().any(|s| s.slot.ptr_eq(w)) {
                    seen.push(Seen {
                        slot: w.clone(),
                        running: 0,
                        switches: 0,
                        since: Instant::now(),
                        reported: false,
                    });
                }
            }
        }
        seen.retain(|s| s.slot.strong_count() > 0);
        let now = Instant::now();
        for s in seen.iter_mut() {
            let Some(slot) = s.slot.upgrade() else {
                continue;
            };
            let running = slot.running.load(Ordering::Relaxed);
            let switches = slot.switches.load(Ordering::Relaxed);
            if running == 0 || running != s.running || switches != s.switches {
                *s = Seen {
                    slot: s.slot.clone(),
                    running,
                    switches,
                    since: now,
                    reported: false,
                };
                continue;
            }
            let held = now.duration_since(s.since);
            if !s.reported && held >= threshold {
                s.reported = true;
                report(running, held);
            }
        }
    }
}

/// Name the actor whose cell is at `ptr` (if it is still alive) and warn.
fn report(ptr: usize, held: Duration) {
    let who = crate::node::find_cell_by_ptr(ptr)
        .map(|(addr, name, runs)| describe(&addr.to_string(), name.as_deref(), runs))
        .unwrap_or_else(|| "an actor".to_string());
    log::warn!("{}", held_message(&who, held));
}

/// Who held the worker: its address, registered name and the function it runs (issue 16
/// row 11: the report names what the actor was doing, as far as the watchdog can see).
fn describe(addr: &str, name: Option<&str>, runs: Option<&str>) -> String {
    let mut who = format!("actor {addr}");
    if let Some(n) = name {
        who.push_str(&format!(" (registered as {n:?})"));
    }
    if let Some(f) = runs {
        who.push_str(&format!(" running `{f}`"));
    }
    who
}

/// The watchdog's report. The watchdog sees switches only, not calls: an actor that keeps
/// sending, or receiving messages that are already there, makes pyact calls that never wait,
/// and holds its worker as surely as a computation or a blocking `std` call does. The
/// message says so instead of claiming "no pyact call" (issue 16 row 11).
fn held_message(who: &str, held: Duration) -> String {
    format!(
        "{who} has held its worker thread for {} ms without waiting or yielding (computing, \
         blocked in a std call, or in a loop whose sends and receives never have to wait): \
         every actor queued on that worker is stalled. Blocking std calls belong in \
         pyact::blocking::blocking, waits in pyact::actor::sleep, long loops should call pyact::actor::yield_now \
         (see the rules for actor code in pyact::actor's docs)",
        held.as_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_names_the_actor_its_name_and_the_function_it_runs() {
        assert_eq!(
            describe("h:1/2/3", Some("pinger"), Some("app::pinger")),
            "actor h:1/2/3 (registered as \"pinger\") running `app::pinger`"
        );
        assert_eq!(describe("h:1/2/3", None, None), "actor h:1/2/3");
    }

    #[test]
    fn the_report_names_the_actor_and_does_not_claim_it_made_no_call() {
        let m = held_message("actor h:1/2/3", Duration::from_millis(150));
        assert!(m.starts_with("actor h:1/2/3 has held its worker thread for 150 ms"));
        assert!(!m.contains("without a pyact call"), "{m}");
        assert!(m.contains("sends and receives never have to wait"), "{m}");
    }
}
