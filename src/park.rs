//! Parking: how a pyact call blocks the running actor (or thread) so that nothing else is
//! blocked and an exit signal still reaches it.
//!
//! Every blocking pyact call (receive, wait, [`sleep`], [`blocking`](crate::blocking::blocking()), a
//! call's wait for its reply) parks through here or through the mailbox's own loop, which
//! follows the same three rules:
//!
//! 1. **Only the caller parks.** In an actor the coroutine is parked and its worker thread
//!    runs other actors; in a plain thread the thread is parked.
//! 2. **A deadly exit signal wakes it.** The actor's blocker is registered as its mailbox's
//!    alarm, so a kill (or an abnormal exit signal it does not trap) ends the actor at once,
//!    wherever it is parked, instead of after the wait.
//! 3. **The watchdog knows.** The worker is marked idle while the actor is parked, so the
//!    watchdog (see [`crate::watchdog`]) only reports actors that hold their worker.
//!
//! `may`'s timer counts whole milliseconds (a coroutine parked for less than 1 ms is never
//! woken, and 1.9 ms wakes after 1 ms), so every timeout is rounded up and the loop re-checks
//! its deadline after an early or late wake-up.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use may::sync::{AtomicOption, Blocker};

use crate::context;
use crate::observe::Status;

/// The time left until `deadline`, rounded up to `may`'s whole milliseconds; `None` once it
/// has passed.
pub(crate) fn timeout_until(deadline: Instant) -> Option<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return None;
    }
    Some(Duration::from_millis(
        left.as_nanos().div_ceil(1_000_000).min(u64::MAX as u128) as u64,
    ))
}

/// The worker is about to park the running actor (see [`crate::watchdog`]), or the running
/// actor to yield: if actors wait in the pool's queue, someone must go on running them
/// (`pool::before_block`).
#[inline]
pub(crate) fn mark_parked() {
    crate::pool::before_block();
    crate::watchdog::set_running(0);
}

/// The running actor (if any) got its worker back.
#[inline]
pub(crate) fn mark_running() {
    crate::watchdog::set_running(context::current_actor_ptr());
}

/// Park until `ready()` holds (woken through `slot`), or `deadline` passes (`false`).
/// In an actor, a deadly exit signal ends it (the call unwinds) before or during the wait,
/// and `why` is its [`Status`] while parked (see [`crate::Node::info`]).
pub(crate) fn park_until(
    slot: &AtomicOption<Arc<Blocker>>,
    deadline: Option<Instant>,
    why: Status,
    ready: impl FnMut() -> bool,
) -> bool {
    park_with(Blocker::current(), slot, deadline, why, ready)
}

/// [`park_until`] with the blocker `me` (one the waker already holds). A blocker is not
/// reused across parks: a wake that arrives after its `ready()` already held would linger
/// as a stale token in the next park's blocker.
pub(crate) fn park_with(
    me: Arc<Blocker>,
    slot: &AtomicOption<Arc<Blocker>>,
    deadline: Option<Instant>,
    why: Status,
    mut ready: impl FnMut() -> bool,
) -> bool {
    let me_actor = context::current_actor();
    loop {
        if let Some(cell) = &me_actor {
            context::die_if_doomed(cell);
        }
        if ready() {
            return true;
        }
        let timeout = match deadline {
            Some(d) => match timeout_until(d) {
                Some(t) => Some(t),
                None => return false,
            },
            None => None,
        };
        slot.store(me.clone());
        if let Some(cell) = &me_actor {
            cell.queue.set_alarm(Some(me.clone()));
        }
        let got = ready();
        if !got && !me_actor.as_ref().is_some_and(|c| c.queue.is_doomed()) {
            if let Some(cell) = &me_actor {
                cell.queue.set_status(why);
            }
            mark_parked();
            let _ = me.park(timeout);
            mark_running();
            if let Some(cell) = &me_actor {
                cell.queue.set_status(Status::Running);
            }
        }
        slot.take();
        if let Some(cell) = &me_actor {
            cell.queue.set_alarm(None);
        }
        if got {
            return true;
        }
    }
}

/// A value delivered once, from any thread, to one parked receiver.
pub(crate) struct OneShot<T> {
    value: Mutex<Option<T>>,
    wake: AtomicOption<Arc<Blocker>>,
}

impl<T> OneShot<T> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(OneShot {
            value: Mutex::new(None),
            wake: AtomicOption::none(),
        })
    }

    /// Deliver the value and wake the receiver.
    pub(crate) fn set(&self, v: T) {
        *self.value.lock().unwrap_or_else(|p| p.into_inner()) = Some(v);
        if let Some(w) = self.wake.take() {
            w.unpark();
        }
    }

    /// The value, if it is there.
    pub(crate) fn try_take(&self) -> Option<T> {
        self.value.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Park until the value is there (see [`park_until`], for `why`); `None` if `deadline`
    /// passed.
    pub(crate) fn wait(&self, deadline: Option<Instant>, why: Status) -> Option<T> {
        let mut got = None;
        park_until(&self.wake, deadline, why, || {
            got = self.value.lock().unwrap_or_else(|p| p.into_inner()).take();
            got.is_some()
        });
        got
    }
}

/// Sleep for `d` without blocking a worker thread: in an actor only the actor is parked
/// (its worker runs other actors meanwhile), in a plain thread the thread sleeps. A kill or
/// an exit signal that ends the actor ends it during the sleep, at once.
///
/// Use this instead of `std::thread::sleep` in actor code (see the [rules for actor code](crate::actor#rules-for-actor-code)).
///
/// ```
/// use pyact::{Mesh, Node, json};
/// use std::time::{Duration, Instant};
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let a = node.spawn(|_| {
///     let t = Instant::now();
///     pyact::actor::sleep(Duration::from_millis(20));
///     json!(t.elapsed() >= Duration::from_millis(20))
/// });
/// assert_eq!(node.wait(&a).unwrap(), true);
/// pyact::actor::sleep(Duration::from_millis(1)); // in a plain thread too
/// ```
pub fn sleep(d: Duration) {
    let Some(deadline) = Instant::now().checked_add(d) else {
        // "Forever": park with no deadline; only an exit signal ends it.
        let never = AtomicOption::none();
        park_until(&never, None, Status::Sleeping, || false);
        return;
    };
    let never = AtomicOption::none();
    park_until(&never, Some(deadline), Status::Sleeping, || false);
}

/// Let other actors run: the calling actor goes to the back of its worker's run queue (in
/// a plain thread, `std::thread::yield_now`). A long computation that calls this now and
/// then never holds a worker thread, and a pending kill takes effect here.
///
/// ```
/// use pyact::{Mesh, Node, json};
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let a = node.spawn(|_| {
///     let mut sum = 0u64;
///     for i in 0..10_000u64 {
///         sum += i;
///         if i % 1000 == 0 { pyact::actor::yield_now(); }
///     }
///     json!(sum)
/// });
/// assert_eq!(node.wait(&a).unwrap(), 49_995_000);
/// ```
pub fn yield_now() {
    context::checkpoint();
    mark_parked();
    may::coroutine::yield_now();
    mark_running();
    context::checkpoint();
}

/// Run `f` with the worker marked idle: for pyact's own calls that block through `may`
/// primitives the watchdog cannot see (the network's request/reply exchanges).
pub(crate) fn outside<R>(f: impl FnOnce() -> R) -> R {
    mark_parked();
    let r = f();
    mark_running();
    r
}
