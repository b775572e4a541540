//! Timers: a message, an exit signal or a kill that the node delivers later (Erlang's
//! `erlang:send_after`, `timer:send_interval`, `timer:exit_after`, `timer:kill_after`,
//! `timer:cancel`).
//!
//! ```
//! use std::time::Duration;
//! use pyact::{Mesh, Node, timer};
//! let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
//! let mut inbox = node.inbox();
//! timer::send_after(&node, Duration::from_millis(10), &inbox.addr(), "wake up").unwrap();
//! assert_eq!(inbox.receive_timeout(Duration::from_secs(30)).unwrap(), "wake up");
//! ```
//!
//! ## What happens, exactly
//!
//! **Firing.** When a timer's deadline passes, the node sends what the timer carries to its
//! target as the node itself would: to an actor of this node straight into its mailbox, to
//! an actor of any other node (in this process or not) over this node's connection to it
//! (opened on demand, as a send does). A message is what [`Address::send`] would send; an
//! exit signal is what [`Address::exit`] would send; a kill is [`Address::kill`]. A timer
//! never fires before its deadline; how late it fires depends on the load (a few hundred
//! microseconds on an idle machine; `cargo bench --bench timer` measures it).
//!
//! **Order.** Timers of one node fire in deadline order; two with the same deadline fire in
//! the order they were created. Timer messages to the same target therefore arrive in that
//! order (those to another node leave through one queue, in that order too).
//!
//! **Intervals do not drift.** The n-th tick of [`send_interval`] is due at its start plus
//! n periods, whenever the previous one actually went out. A tick that comes too late
//! (the machine was busy, a send to another node was held up) is sent once, and the ticks
//! whose time passed meanwhile are *skipped*, not sent in a burst: the next one is due at
//! the first multiple of the period still ahead. A tick to another node whose previous tick
//! is still waiting to go out is skipped the same way. Periods shorter than 1 ms count as
//! 1 ms.
//!
//! **Cancel.** [`cancel`] returns `true` if this call stopped the timer: a one-shot timer
//! that had not fired, or an interval timer that was still running; `false` if it had fired,
//! had been cancelled already, or its node had shut down. After `cancel` returns (either
//! way) the timer sends nothing more. If the timer was in the middle of sending when
//! `cancel` was called, `cancel` waits for that send to finish (for a target on another
//! node whose connection queue is full, at most the node's send timeout): a one-shot timer
//! then counts as fired (`false`, and its message went out exactly once), an interval
//! timer as stopped (`true`: that tick went out, none after it). A message a timer sent
//! before `cancel` stays in the target's mailbox, as in Erlang: a receiver that must not
//! see a stale tick flushes or tags it.
//!
//! **Dead target, failed send.** A send that fails is dropped exactly as a plain send to a
//! dead actor is (logged with `debug!`, never retried, never a panic): the target ended, its
//! node cannot be reached, its bounded mailbox is full, or the message is too large for the
//! wire. An interval timer whose target is known to be dead (an actor of this node that
//! ended, or an address of an earlier start of its node) stops by itself: actor ids are
//! never reused, so no later tick could arrive. To another node, a tick that cannot be
//! delivered is dropped and the next one tries again.
//!
//! **Node shutdown.** [`Node::shutdown`] stops the node's timer service: pending timers are
//! dropped without firing (`cancel` on them returns `false`), the service's thread ends, and
//! creating a timer on a shut-down node fails with [`TimerError::NodeDown`]. A timer that
//! was already sending when the shutdown began finishes that one send.
//!
//! ## How it works
//!
//! One timer service per node, started by the node's first timer: a binary heap of pending
//! timers keyed by (deadline, creation order), served by one thread of its own (named
//! `timer-<port>`) that sleeps on a condition variable until the earliest deadline or a new,
//! earlier timer. No coroutine or thread per timer: a pending timer is a heap entry and a
//! small shared record (about 150 bytes plus the message: 100,000 pending timers with a
//! number each add 15 MB resident, with `{"i": n}` each 82 MB; `cargo bench --bench timer`).
//!
//! Why a thread and not a coroutine: a thread parked with a timeout wakes on time even when
//! every `may` worker is busy running actors, keeps nanosecond deadlines (`may`'s timer
//! counts whole milliseconds), and puts nothing on `may`'s timer list (one entry per
//! distinct wait there; its handling of many distinct intervals needed a fix,
//! `vendor/patches/may/0012`). Delivering into a local mailbox never blocks, so the thread
//! does that itself. A send to another node can block (dialling, a full connection queue),
//! so those go to one forwarder coroutine per node, in firing order, and a slow peer never
//! holds up the timers of local actors. Should the forwarder not start (the live-actor
//! budget, [`Config::max_actors`](crate::config::Config::max_actors), is used up) the thread sends
//! to other nodes itself (logged once with `warn!`) until the forwarder can start.
//!
//! A cancelled timer leaves its heap entry behind until its deadline; when more than half of
//! the heap (and over a thousand entries) is cancelled, the service drops them all at once.

use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use may::sync::{AtomicOption, Blocker};
use serde::Serialize;
use serde_json::Value;

use crate::distribution::Distribution;
use crate::mailbox::{Envelope, Signal};
use crate::node::NodeInner;
use crate::observe::Status;
use crate::{Address, ExitReason, Node, SendError};

/// Why a timer could not be created.
///
/// ```
/// use std::time::Duration;
/// use pyact::timer::{self, TimerError};
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let inbox = node.inbox();
/// node.shutdown();
/// let err = timer::send_after(&node, Duration::ZERO, &inbox.addr(), 1).unwrap_err();
/// assert!(matches!(err, TimerError::NodeDown(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimerError {
    /// The message does not serialize to JSON (as [`SendError::NotJson`]).
    NotJson(String),
    /// The node was shut down: it runs no timers any more.
    NodeDown(String),
    /// The node's timer service could not be started (no thread could be created).
    NoService(String),
}

impl std::fmt::Display for TimerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TimerError::NotJson(e) => write!(f, "timer message does not serialize to JSON: {e}"),
            TimerError::NodeDown(n) => write!(f, "node {n} was shut down: it runs no timers"),
            TimerError::NoService(why) => write!(f, "cannot start the timer service: {why}"),
        }
    }
}

impl std::error::Error for TimerError {}

/// A running timer, to [`cancel`] it. Dropping it does not cancel the timer (as in
/// Erlang, a timer whose reference was forgotten still fires). Clones name the same timer.
///
/// ```
/// use std::time::Duration;
/// use pyact::timer;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let inbox = node.inbox();
/// let t = timer::send_after(&node, Duration::from_secs(3600), &inbox.addr(), "later").unwrap();
/// let copy = t.clone();
/// assert_eq!(copy, t);
/// assert!(timer::cancel(&copy));
/// assert!(!timer::cancel(&t)); // the same timer: already cancelled
/// ```
#[derive(Clone)]
pub struct TimerRef(Arc<Timer>);

impl PartialEq for TimerRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for TimerRef {}

impl std::fmt::Debug for TimerRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.0.state.load(Ordering::Acquire) {
            ARMED => "pending",
            FIRING | FIRING_CANCELLED => "firing",
            FIRED => "fired",
            _ => "cancelled",
        };
        write!(f, "TimerRef(to {}, {state})", self.0.to)
    }
}

/// Send `msg` to `to` once, after `delay` (Erlang's `erlang:send_after`). `msg` is anything
/// [`Address::send`] takes; it is turned into JSON now, so a message that does not
/// serialize fails here ([`TimerError::NotJson`]) rather than when the timer fires. `to`
/// may be an actor of any node. See the [module docs](self) for what happens on cancel, on a
/// dead target and on shutdown.
///
/// ```
/// use std::time::Duration;
/// use pyact::{Mesh, Node, json, timer};
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let mut inbox = node.inbox();
/// timer::send_after(&node, Duration::from_millis(20), &inbox.addr(), json!({"tick": 2})).unwrap();
/// timer::send_after(&node, Duration::from_millis(10), &inbox.addr(), json!({"tick": 1})).unwrap();
/// let long = Duration::from_secs(30);
/// assert_eq!(inbox.receive_timeout(long).unwrap()["tick"], 1); // deadline order
/// assert_eq!(inbox.receive_timeout(long).unwrap()["tick"], 2);
/// ```
pub fn send_after<M: Serialize + 'static>(
    node: &Node,
    delay: Duration,
    to: &Address,
    msg: M,
) -> Result<TimerRef, TimerError> {
    let v = message(msg)?;
    start(node, delay, None, to, What::Msg(v))
}

/// Send `msg` to `to` every `period`, first after one period, until [`cancel`]led (Erlang's
/// `timer:send_interval`). Ticks do not drift, and ticks missed under load are skipped,
/// not bunched; periods under 1 ms count as 1 ms; an interval to an actor known to have
/// ended stops by itself (all in the [module docs](self)).
///
/// ```
/// use std::time::Duration;
/// use pyact::{Mesh, Node, timer};
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let mut inbox = node.inbox();
/// let t = timer::send_interval(&node, Duration::from_millis(5), &inbox.addr(), "tick").unwrap();
/// for _ in 0..3 {
///     assert_eq!(inbox.receive_timeout(Duration::from_secs(30)).unwrap(), "tick");
/// }
/// assert!(timer::cancel(&t)); // it was running
/// ```
pub fn send_interval<M: Serialize + 'static>(
    node: &Node,
    period: Duration,
    to: &Address,
    msg: M,
) -> Result<TimerRef, TimerError> {
    let v = message(msg)?;
    let period = period.max(MIN_PERIOD);
    start(node, period, Some(period), to, What::Msg(v))
}

/// Stop a timer; `true` if this call stopped it (a one-shot timer that had not fired, an
/// interval timer still running), `false` if it had fired, was cancelled already, or its
/// node shut down. After it returns, the timer sends nothing more; if the timer was sending
/// at that moment, this waits for that one send to finish (see the [module docs](self)).
/// Messages the timer sent before stay in the target's mailbox.
///
/// ```
/// use std::time::Duration;
/// use pyact::{Mesh, Node, timer};
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let mut inbox = node.inbox();
/// let late = timer::send_after(&node, Duration::from_secs(3600), &inbox.addr(), "never").unwrap();
/// assert!(timer::cancel(&late)); // had not fired: it never will
/// let soon = timer::send_after(&node, Duration::ZERO, &inbox.addr(), "now").unwrap();
/// assert_eq!(inbox.receive_timeout(Duration::from_secs(30)).unwrap(), "now");
/// assert!(!timer::cancel(&soon)); // had fired
/// ```
pub fn cancel(timer: &TimerRef) -> bool {
    let t = &timer.0;
    loop {
        match t.state.load(Ordering::Acquire) {
            ARMED => {
                if t.swap_state(ARMED, CANCELLED) {
                    t.note_cancelled();
                    return true;
                }
            }
            FIRING => {
                if t.swap_state(FIRING, FIRING_CANCELLED) {
                    // The sender finishes its send, then settles the state and wakes us.
                    crate::park::park_until(&t.canceller, None, Status::Waiting, || t.is_over());
                    return t.state.load(Ordering::Acquire) == CANCELLED;
                }
            }
            FIRING_CANCELLED => {
                // Another `cancel` got there first (and waits on the sender's wake-up);
                // this one only waits for the send to end.
                while !t.is_over() {
                    crate::park::sleep(Duration::from_millis(1));
                }
                return false;
            }
            _ => return false,
        }
    }
}

/// Send an exit signal with `reason` to `to` after `delay` (Erlang's `timer:exit_after`):
/// the target ends with `reason` unless it traps exits, in which case it gets the exit
/// message; a normal reason ends no one (as [`Address::exit`]). The signal comes from the
/// calling actor ([`curaddr`](crate::curaddr)), or, called from a thread without an inbox,
/// from the node's timer service (address id 0 of this node, never an actor). Cancel it
/// with [`cancel`].
///
/// ```
/// use std::time::Duration;
/// use pyact::{ExitReason, Mesh, Node, timer};
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let worker = node.spawn(|mut mb| loop { mb.receive(); });
/// timer::exit_after(&node, Duration::from_millis(10), &worker, ExitReason::Shutdown).unwrap();
/// assert_eq!(node.wait(&worker), Err(ExitReason::Shutdown));
/// ```
pub fn exit_after(
    node: &Node,
    delay: Duration,
    to: &Address,
    reason: ExitReason,
) -> Result<TimerRef, TimerError> {
    let from = crate::curaddr().unwrap_or_else(|| {
        Address::with_creation(node.0.id.clone(), 0, node.creation(), Weak::new())
    });
    start(node, delay, None, to, What::Exit { from, reason })
}

/// Kill `to` after `delay` (Erlang's `timer:kill_after`): it ends with
/// [`ExitReason::Killed`], trapping exits or not (as [`Address::kill`]). Cancel it with
/// [`cancel`].
///
/// ```
/// use std::time::Duration;
/// use pyact::{ExitReason, Mesh, Node, timer};
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let stubborn = node.spawn(|mut mb| {
///     mb.trap_exit(true);
///     loop { mb.receive(); }
/// });
/// timer::kill_after(&node, Duration::from_millis(10), &stubborn).unwrap();
/// assert_eq!(node.wait(&stubborn), Err(ExitReason::Killed));
/// ```
pub fn kill_after(node: &Node, delay: Duration, to: &Address) -> Result<TimerRef, TimerError> {
    start(node, delay, None, to, What::Kill)
}

/// The shortest interval period.
const MIN_PERIOD: Duration = Duration::from_millis(1);
/// Longer delays are this long (100 years: never, in practice), so no deadline overflows.
const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
/// Timers fired per hold of the heap's lock (creators are not kept waiting behind a burst).
const BATCH: usize = 1024;
/// Cancelled entries the heap must hold, at least, before it is compacted.
const COMPACT_MIN: usize = 1024;

// A timer's life: ARMED → FIRING → ARMED (interval) or FIRED (one-shot); ARMED →
// CANCELLED; FIRING → FIRING_CANCELLED → CANCELLED (interval) or FIRED (one-shot) when
// `cancel` comes during a send. FIRED and CANCELLED are final.
const ARMED: u8 = 0;
const FIRING: u8 = 1;
const FIRING_CANCELLED: u8 = 2;
const FIRED: u8 = 3;
const CANCELLED: u8 = 4;

/// One timer, shared by its heap entry, the forwarder's queue and the user's [`TimerRef`].
struct Timer {
    state: AtomicU8,
    /// `Some` for an interval timer.
    period: Option<Duration>,
    to: Address,
    what: What,
    /// The target is not on this node: sends go through the forwarder.
    remote: bool,
    /// A tick of this timer waits in the forwarder's queue.
    queued: AtomicBool,
    /// The `cancel` waiting for a send in progress.
    canceller: AtomicOption<Arc<Blocker>>,
    service: Weak<Service>,
}

/// What a timer delivers.
enum What {
    Msg(Value),
    Exit { from: Address, reason: ExitReason },
    Kill,
}

impl What {
    fn envelope(&self) -> Envelope {
        match self {
            What::Msg(v) => Envelope::Msg(v.clone()),
            What::Exit { from, reason } => Envelope::Signal(Box::new(Signal::Exit {
                from: from.clone(),
                reason: reason.clone(),
                linked: false,
            })),
            What::Kill => Envelope::Signal(Box::new(Signal::Kill)),
        }
    }
}

impl Timer {
    fn swap_state(&self, from: u8, to: u8) -> bool {
        self.state
            .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Fired (one-shot) or stopped: it will send nothing more.
    fn is_over(&self) -> bool {
        matches!(self.state.load(Ordering::Acquire), FIRED | CANCELLED)
    }

    /// Drop a timer that will never be sent (its node is shutting down).
    fn abandon(&self) {
        self.swap_state(ARMED, CANCELLED);
    }

    /// Send what the timer carries, unless it was cancelled, and settle its state.
    fn fire(&self, node: &Node) {
        if !self.swap_state(ARMED, FIRING) {
            return;
        }
        let result = deliver(node, &self.to, self.what.envelope());
        if let Err(e) = &result {
            log::debug!("{}: timer to {} dropped: {e}", node.name(), self.to);
        }
        self.settle(matches!(result, Err(SendError::DeadActor(_))));
    }

    /// The send is over (`dead`: its target is known to have ended): an interval is armed
    /// again (unless its target is dead), a one-shot has fired; a `cancel` that came during
    /// the send is told the outcome and woken.
    fn settle(&self, dead: bool) {
        let next = if self.period.is_some() && !dead {
            ARMED
        } else {
            FIRED
        };
        if !self.swap_state(FIRING, next) {
            // `cancel` came during the send and waits for us.
            let end = if self.period.is_some() {
                CANCELLED
            } else {
                FIRED
            };
            self.state.store(end, Ordering::Release);
            if let Some(b) = self.canceller.take() {
                b.unpark();
            }
        }
    }

    /// Count a cancelled heap entry; ask the service to compact when they are over half.
    fn note_cancelled(&self) {
        let Some(svc) = self.service.upgrade() else {
            return;
        };
        let n = svc.cancelled.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= COMPACT_MIN && n.is_multiple_of(256) {
            let mut h = svc.lock();
            if n * 2 > h.entries.len() && !h.compact {
                h.compact = true;
                svc.wake.notify_one();
            }
        }
    }
}

/// Deliver from `node`: into the mailbox of an actor of this node, through the node's door
/// to other nodes for any other (as `node::route` does for the current node).
fn deliver(node: &Node, to: &Address, env: Envelope) -> Result<(), SendError> {
    if to.node_id() == node.name() {
        node.deliver_local(to, env)
    } else {
        node.0.dist.send(node, to, env)
    }
}

fn message<M: Serialize + 'static>(msg: M) -> Result<Value, TimerError> {
    crate::address::into_value(msg).map_err(|e| match e {
        SendError::NotJson(why) => TimerError::NotJson(why),
        other => TimerError::NotJson(other.to_string()),
    })
}

/// A node's timer service (see the [module docs](self)).
pub(crate) struct Service {
    heap: Mutex<Heap>,
    /// Signalled on an earlier timer, a compaction request and the stop.
    wake: Condvar,
    /// Timers cancelled since the last compaction (an estimate of dead heap entries).
    cancelled: AtomicUsize,
}

#[derive(Default)]
struct Heap {
    entries: BinaryHeap<Entry>,
    /// Creation order, for ties.
    next_seq: u64,
    stopped: bool,
    compact: bool,
}

/// A heap entry: the earliest (deadline, seq) is the greatest (`BinaryHeap` is a max-heap).
struct Entry {
    deadline: Instant,
    seq: u64,
    timer: Arc<Timer>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}

/// The node's handle on its timer service, started on first use (a field of the node).
#[derive(Default)]
pub(crate) struct Slot(Mutex<Option<Arc<Service>>>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Service {
    fn lock(&self) -> MutexGuard<'_, Heap> {
        lock(&self.heap)
    }
}

/// The node's service, started now if this is its first timer.
fn service(node: &Node) -> Result<Arc<Service>, TimerError> {
    let mut slot = lock(&node.0.timers.0);
    if node.is_shut_down() {
        return Err(TimerError::NodeDown(node.name().to_string()));
    }
    if let Some(s) = &*slot {
        return Ok(s.clone());
    }
    let svc = Arc::new(Service {
        heap: Mutex::default(),
        wake: Condvar::new(),
        cancelled: AtomicUsize::new(0),
    });
    let port = node.name().rsplit(':').next().unwrap_or("?");
    let (weak, s2) = (Arc::downgrade(&node.0), svc.clone());
    std::thread::Builder::new()
        .name(format!("timer-{port}"))
        .spawn(move || run(weak, s2))
        .map_err(|e| {
            log::error!("{}: cannot start the timer service: {e}", node.name());
            TimerError::NoService(e.to_string())
        })?;
    *slot = Some(svc.clone());
    Ok(svc)
}

/// Stop `node`'s timer service (from [`Node::shutdown`]): drop its pending timers, end
/// its thread (and so its forwarder). Idempotent.
pub(crate) fn stop(node: &Node) {
    let Some(svc) = lock(&node.0.timers.0).take() else {
        return;
    };
    let pending = {
        let mut h = svc.lock();
        h.stopped = true;
        svc.wake.notify_all();
        std::mem::take(&mut h.entries)
    };
    for e in &pending {
        e.timer.abandon();
    }
    log::debug!(
        "{}: timer service stopped, {} pending timers dropped",
        node.name(),
        pending.len()
    );
}

/// Create a timer and put it in the heap.
fn start(
    node: &Node,
    delay: Duration,
    period: Option<Duration>,
    to: &Address,
    what: What,
) -> Result<TimerRef, TimerError> {
    let svc = service(node)?;
    let timer = Arc::new(Timer {
        state: AtomicU8::new(ARMED),
        period,
        to: to.clone(),
        what,
        remote: to.node_id() != node.name(),
        queued: AtomicBool::new(false),
        canceller: AtomicOption::none(),
        service: Arc::downgrade(&svc),
    });
    let deadline = Instant::now().checked_add(delay.min(FAR));
    let mut h = svc.lock();
    if h.stopped {
        return Err(TimerError::NodeDown(node.name().to_string()));
    }
    // A deadline past what `Instant` holds (not on Linux) never comes: the timer stays
    // pending, never fires, and can be cancelled.
    if let Some(deadline) = deadline {
        let earliest = h.entries.peek().is_none_or(|e| deadline < e.deadline);
        let seq = h.next_seq;
        h.next_seq += 1;
        h.entries.push(Entry {
            deadline,
            seq,
            timer: timer.clone(),
        });
        if earliest {
            svc.wake.notify_one();
        }
    }
    Ok(TimerRef(timer))
}

/// The next tick of an interval due at `deadline`, fired at `now`: one period on, or, if
/// that has passed too, the first multiple of the period after `now` (missed ticks are
/// skipped). `None` past what `Instant` holds.
fn next_tick(deadline: Instant, period: Duration, now: Instant) -> Option<Instant> {
    let next = deadline.checked_add(period)?;
    if next > now {
        return Some(next);
    }
    let p = period.as_nanos().max(1);
    let ticks = now.duration_since(deadline).as_nanos() / p + 1;
    let add = ticks.checked_mul(p)?;
    let add = Duration::new(
        u64::try_from(add / 1_000_000_000).ok()?,
        (add % 1_000_000_000) as u32,
    );
    deadline.checked_add(add)
}

/// The service thread: sleep until the earliest deadline, fire what is due, again.
fn run(node: Weak<NodeInner>, svc: Arc<Service>) {
    let mut due: Vec<Arc<Timer>> = Vec::with_capacity(BATCH);
    let mut forwarder: Option<may::sync::mpsc::Sender<Arc<Timer>>> = None;
    let mut forwarder_failed = false;
    loop {
        {
            let mut h = svc.lock();
            loop {
                if h.stopped {
                    return;
                }
                if h.compact {
                    let before = h.entries.len();
                    h.entries.retain(|e| !e.timer.is_over());
                    if h.entries.len() < h.entries.capacity() / 4 {
                        h.entries.shrink_to_fit();
                    }
                    h.compact = false;
                    // Those cancelled during the scan and kept stay counted.
                    let removed = before - h.entries.len();
                    let _ = svc
                        .cancelled
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                            Some(c.saturating_sub(removed))
                        });
                }
                let now = Instant::now();
                h = match h.entries.peek() {
                    Some(e) if e.deadline <= now => break,
                    Some(e) => {
                        let wait = e.deadline - now;
                        svc.wake
                            .wait_timeout(h, wait)
                            .unwrap_or_else(|p| p.into_inner())
                            .0
                    }
                    None => svc.wake.wait(h).unwrap_or_else(|p| p.into_inner()),
                };
            }
            let now = Instant::now();
            while due.len() < BATCH {
                let Some(top) = h.entries.peek() else { break };
                if top.deadline > now {
                    break;
                }
                let Some(e) = h.entries.pop() else { break };
                if e.timer.is_over() {
                    let _ = svc
                        .cancelled
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_sub(1));
                    continue;
                }
                if let Some(p) = e.timer.period
                    && let Some(next) = next_tick(e.deadline, p, now)
                {
                    h.entries.push(Entry {
                        deadline: next,
                        seq: e.seq,
                        timer: e.timer.clone(),
                    });
                }
                due.push(e.timer);
            }
        }
        let Some(node) = node.upgrade().map(Node) else {
            return;
        };
        for t in due.drain(..) {
            if node.is_shut_down() {
                t.abandon();
                continue;
            }
            if t.remote {
                if t.queued.swap(true, Ordering::AcqRel) {
                    // The previous tick still waits to go out: skip this one.
                    continue;
                }
                if forwarder.is_none() {
                    // Tried again at each send to another node until it starts (taking a
                    // live-actor slot fails at once while the budget is used up).
                    forwarder = start_forwarder(&node, &svc)
                        .inspect_err(|e| {
                            if !forwarder_failed {
                                log::warn!(
                                    "{}: no timer forwarder ({e}); timers to other nodes are sent by the timer thread",
                                    node.name()
                                );
                            }
                            forwarder_failed = true;
                        })
                        .ok();
                }
                let t = match &forwarder {
                    Some(tx) => match tx.send(t) {
                        Ok(()) => continue,
                        Err(back) => {
                            forwarder = None;
                            back.0
                        }
                    },
                    None => t,
                };
                t.queued.store(false, Ordering::Release);
                fire_guarded(&t, &node);
            } else {
                fire_guarded(&t, &node);
            }
        }
    }
}

/// Fire, and never let a bug in a send take the service down with it.
fn fire_guarded(t: &Timer, node: &Node) {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| t.fire(node)));
    if r.is_err() {
        log::error!(
            "{}: a timer's send to {} panicked; the timer is dropped",
            node.name(),
            t.to
        );
        t.settle(true);
    }
}

/// Start the node's forwarder: one coroutine that sends timers' messages to other nodes,
/// in the order it gets them. It ends when the service thread ends (its sender dropped).
fn start_forwarder(
    node: &Node,
    svc: &Arc<Service>,
) -> std::io::Result<may::sync::mpsc::Sender<Arc<Timer>>> {
    let (tx, rx) = may::sync::mpsc::channel::<Arc<Timer>>();
    let (weak, svc) = (Arc::downgrade(&node.0), svc.clone());
    // Like the network's coroutines, it holds a slot of the live-actor budget.
    let slot = crate::actor::LiveSlot::take().map_err(|e| std::io::Error::other(e.to_string()))?;
    crate::actor::go(move || {
        let _slot = slot;
        while let Ok(t) = rx.recv() {
            t.queued.store(false, Ordering::Release);
            match weak.upgrade().map(Node) {
                Some(node) if !node.is_shut_down() && !svc.lock().stopped => {
                    fire_guarded(&t, &node)
                }
                _ => t.abandon(),
            }
        }
    })?;
    Ok(tx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_tick_keeps_the_grid_and_skips_missed_ticks() {
        let t0 = Instant::now();
        let p = Duration::from_millis(10);
        // On time: one period on.
        assert_eq!(next_tick(t0, p, t0), Some(t0 + p));
        // 35 ms late: ticks at 10, 20, 30 are gone; the next is at 40, on the grid.
        assert_eq!(
            next_tick(t0, p, t0 + Duration::from_millis(35)),
            Some(t0 + Duration::from_millis(40))
        );
        // Exactly on a later tick: that one has passed too.
        assert_eq!(
            next_tick(t0, p, t0 + Duration::from_millis(20)),
            Some(t0 + Duration::from_millis(30))
        );
    }

    fn timer(to: Address, period: Option<Duration>) -> Arc<Timer> {
        Arc::new(Timer {
            state: AtomicU8::new(ARMED),
            period,
            to,
            what: What::Kill,
            remote: false,
            queued: AtomicBool::new(false),
            canceller: AtomicOption::none(),
            service: Weak::new(),
        })
    }

    /// `cancel` during a send waits for it, then reports a one-shot as fired and an
    /// interval as stopped (the race the integration test hits only now and then).
    #[test]
    fn cancel_during_a_send_waits_for_it_and_reports_the_outcome() {
        let node = Node::new(&crate::Mesh::new(), "c@127.0.0.1:0").unwrap();
        let inbox = node.inbox();
        for (period, want, end) in [
            (None, false, FIRED),
            (Some(Duration::from_millis(1)), true, CANCELLED),
        ] {
            let t = timer(inbox.addr(), period);
            assert!(t.swap_state(ARMED, FIRING)); // the sender has begun its send
            let (tx, rx) = std::sync::mpsc::channel();
            let r = TimerRef(t.clone());
            let canceller = std::thread::spawn(move || tx.send(cancel(&r)).unwrap());
            assert!(
                rx.recv_timeout(Duration::from_millis(100)).is_err(),
                "cancel returned while the send was under way"
            );
            t.settle(false); // the send is over
            assert_eq!(rx.recv_timeout(Duration::from_secs(30)), Ok(want));
            assert_eq!(t.state.load(Ordering::Acquire), end);
            canceller.join().unwrap();
        }
        node.shutdown();
    }

    /// Cancelled timers do not pile up in the heap until their (far) deadlines, and the
    /// compaction keeps the live ones.
    #[test]
    fn cancelled_entries_are_compacted_away_and_live_ones_still_fire() {
        let node = Node::new(&crate::Mesh::new(), "c@127.0.0.1:0").unwrap();
        let mut inbox = node.inbox();
        let to = inbox.addr();
        let hour = Duration::from_secs(3600);
        let live: Vec<_> = (0..10)
            .map(|i| send_after(&node, Duration::from_millis(200), &to, i).unwrap())
            .collect();
        let doomed: Vec<_> = (0..5000)
            .map(|i| send_after(&node, hour, &to, i).unwrap())
            .collect();
        let svc = lock(&node.0.timers.0).clone().unwrap();
        assert!(svc.lock().entries.len() >= 5000);
        assert!(doomed.iter().all(cancel));
        let deadline = Instant::now() + Duration::from_secs(30);
        // Compaction runs at every 256th cancel once over `COMPACT_MIN` and half the heap:
        // fewer cancelled entries than that are left (and the 10 live ones), not 5,000.
        while svc.lock().entries.len() > 10 + COMPACT_MIN + 255 {
            assert!(Instant::now() < deadline, "never compacted");
            std::thread::sleep(Duration::from_millis(5));
        }
        for i in 0..10 {
            assert_eq!(inbox.receive_timeout(Duration::from_secs(30)).unwrap(), i);
        }
        assert!(live.iter().all(|t| !cancel(t)));
        node.shutdown();
    }

    #[test]
    fn entries_order_by_deadline_then_creation() {
        let node = Node::new(&crate::Mesh::new(), "c@127.0.0.1:0").unwrap();
        let inbox = node.inbox();
        let t = |_| timer(inbox.addr(), None);
        let d = Instant::now();
        let mut heap = BinaryHeap::new();
        for (deadline, seq) in [(d, 2), (d + Duration::from_millis(1), 0), (d, 1)] {
            heap.push(Entry {
                deadline,
                seq,
                timer: t(seq),
            });
        }
        let order: Vec<u64> = std::iter::from_fn(|| heap.pop().map(|e| e.seq)).collect();
        assert_eq!(order, [1, 2, 0]);
    }
}
