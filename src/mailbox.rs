//! The mailbox: where a message goes after [`Address::send`](crate::Address::send), and where
//! [`Mailbox::receive`] takes it from.
//!
//! A mailbox has two halves:
//! - `MailQueue`, shared by every sender: a lock-free multi-producer queue of
//!   `Envelope`s plus the parked receiver to wake. A push never blocks.
//! - [`Mailbox`], owned by exactly one actor (or thread): the only consumer of the queue, plus
//!   a *save queue* of messages it took out but that no pattern has matched yet.
//!
//! Selective receive (Erlang semantics): for each message in arrival order, try every pattern;
//! the first message that matches any pattern is removed and returned, all others keep their
//! place. A receive first scans the save queue, then pulls new messages from the queue one by
//! one; a message is looked at once per receive call, so waiting costs O(new messages).
//! [`Mailbox::mark`] lets a request/reply exchange skip every message that arrived before the
//! request was sent (the reply cannot be among them), as Erlang does for fresh references.
//!
//! A signal that ends the actor (a kill, or an abnormal exit signal while it does not trap
//! exits) skips the queue and acts at the actor's next pyact call (see `MailQueue`). Other
//! system signals travel in the same queue, in order with the messages, and are handled the
//! moment they are pulled: a trapped exit becomes an ordinary message, a normal exit to an
//! actor that does not trap is dropped, a monitor's DOWN becomes an ordinary message. Shapes:
//!
//! - exit (trapped): `{"address": <address>, "exit": <reason>}`
//! - down: `{"down": <ref>, "address": <address>, "exit": <reason>}`
//!
//! where `<reason>` is an [`ExitReason`] encoded as in [`crate::exit`].
//!
//! What a message costs, and what is counted (for `Node::info` and `Node::stats`):
//!
//! - a send to an unbounded mailbox: the queue's own swap, then one `fetch_add` on the
//!   queue's `wake` word, which both counts the envelope (messages and signals alike) and
//!   says whether the receiver is parked (then one `fetch_and` more, and the unpark);
//! - a receive: nothing shared when a message is waiting (the consumer's counters are
//!   plain stores to its own cache line); one `fetch_or` to say "wake me" before it parks;
//! - a bounded mailbox ([`SpawnOptions::mailbox_limit`](crate::SpawnOptions::mailbox_limit))
//!   counts its *user messages* in a second counter, `len`: a send reserves a place
//!   (`fetch_add`; undone if that makes more than the limit) before queueing, and the
//!   receive that takes a user message out frees it (`fetch_sub`). Signals take no place
//!   and are never refused. The bound cannot live in the `wake` word: the wake check must
//!   come *after* the envelope is queued (else a receiver could park on a message it
//!   missed), the reservation *before* it.
//!
//! `mailbox_len` in `Node::info` is `pushed - popped` (every envelope still queued,
//! signals included) plus the save queue.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use may::queue::mpsc_list::Queue;
use may::sync::{AtomicOption, Blocker};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::actor::{ActorCell, ExitUnwind};
use crate::observe::Status;
use crate::{Address, ExitReason, Node, Pattern, Ref};

/// What travels through a [`MailQueue`]: a user message or a system signal.
#[derive(Debug)]
pub(crate) enum Envelope {
    /// A user message.
    Msg(Value),
    /// A user message from another node, built by the receiver (see `distribution::Payload`).
    Payload(crate::distribution::Payload),
    /// A system signal (boxed: rare, and keeps the envelope as small as a `Value`).
    Signal(Box<Signal>),
}

/// System signals, handled by the receiving mailbox rather than matched by patterns.
#[derive(Debug)]
pub(crate) enum Signal {
    /// `from` ended with `reason` (`linked`: because of a link, else an explicit exit signal).
    Exit {
        from: Address,
        reason: ExitReason,
        linked: bool,
    },
    /// Untrappable kill.
    Kill,
    /// A monitored actor ended.
    Down {
        reference: Ref,
        from: Address,
        reason: ExitReason,
    },
}

/// The `wake` word of a [`MailQueue`]: the envelopes pushed so far (counted in steps of
/// [`PUSHED`]) and, in its low bits, whether the consumer is parked (or about to park)
/// waiting for one, on its coroutine blocker ([`WAIT_CO`]) or its thread blocker
/// ([`WAIT_THREAD`]).
///
/// One word for both, so that a send pays one read-modify-write for counting *and* for
/// asking "is anyone to wake?" (it used to pay three: a counter, taking the waiter's
/// `Arc<Blocker>` out of a slot, and dropping that `Arc`). The protocol:
///
/// - consumer: set its bit (`fetch_or`), then look at the queue again; park only if it is
///   still empty;
/// - sender: push, then `fetch_add(PUSHED)`; if a bit was set, clear it (`fetch_and`) and
///   unpark the blocker whose bit *it* cleared.
///
/// Both are read-modify-writes of the same word, so one is ordered before the other: either
/// the sender sees the bit (and wakes the consumer), or the consumer's `fetch_or` reads the
/// sender's add (acquire/release) and then sees the pushed envelope. Exactly one sender
/// wakes each park. A wake that arrives after the consumer stopped waiting (it timed out,
/// or a deadly signal woke it) leaves a token in the blocker: its next park returns at once
/// and the receive loop looks again and parks again.
const WAIT_CO: u64 = 1;
/// See [`WAIT_CO`].
const WAIT_THREAD: u64 = 2;
/// Either waiting bit.
const WAITING: u64 = WAIT_CO | WAIT_THREAD;
/// One envelope in the count of the `wake` word.
const PUSHED: u64 = 4;

/// The shared, producer side of a mailbox.
///
/// Deadly signals skip the queue. A kill, or an abnormal exit signal to an actor that does
/// not trap exits, ends the actor whatever else is queued (Erlang's semantics: the signal
/// acts when it arrives, not when the actor gets round to reading), so [`push`](Self::push)
/// puts it aside in `doom`, raises the `doomed` flag and wakes the actor wherever pyact has
/// parked it. Every pyact call the actor makes checks that flag (one atomic load) and ends
/// the actor (see `actor::checkpoint`). [`Mailbox::unlink`] removes a pending signal of
/// the link it removes, so an unlinked actor is never killed by that link.
///
/// Layout (`repr(C)`, fields in this order on purpose): the queue (its push end on lines of
/// its own, then its pop end); then one cache line of what a send touches (`wake` and the
/// flags and bound it reads, written rarely or by the send itself); then one line of what
/// the consumer writes on every receive (its counters and status) or reads on every pyact
/// call (`doomed`), so that a receiver's per-message stores do not pull away the line its
/// senders read `closed` from, when the two run on different workers (the `layout` test
/// pins this; a ping-pong, whose two actors mostly share a worker, measured it neutral).
/// The whole stays within 384 bytes (three 128-byte units: the queue is 128-aligned), the
/// size of one per actor.
#[repr(C)]
pub(crate) struct MailQueue {
    queue: Queue<Envelope>,
    // --- What a send touches (one cache line).
    /// The consumer's blockers, one per kind of context it parks in (coroutine, thread),
    /// made at its first park and kept, so that a sender can unpark one without taking it
    /// out of a slot (and a receive allocates none). They live as long as the cell: an
    /// actor's runner lets go of its cell inside the coroutine (see `actor::start`), as
    /// `may` cannot drop a coroutine blocker in the teardown of a coroutine that was
    /// resumed from inside its own park.
    blockers: [OnceLock<Arc<Blocker>>; 2],
    /// Envelopes pushed (`wake / PUSHED`) and the consumer's waiting bits: see [`WAIT_CO`].
    wake: AtomicU64,
    /// Most user messages queued at once (`usize::MAX`: unbounded), see
    /// [`SpawnOptions::mailbox_limit`](crate::SpawnOptions::mailbox_limit).
    limit: AtomicUsize,
    /// User messages queued or being queued (counted only when bounded; see the module
    /// docs for why this is not derived from `wake`).
    len: AtomicUsize,
    /// Pushers queued for room (bounded mailboxes only; see `room`): the consumer of a
    /// bounded mailbox reads this count per message instead of locking `room`. Written
    /// only under `room`'s lock, as the queue's length.
    room_waiters: AtomicU32,
    closed: AtomicBool,
    /// Mirror of the owner's `trap_exit`, read by senders to classify exit signals.
    trapping: AtomicBool,
    // --- What the consumer writes per message, or reads per pyact call (one cache line;
    // a `u64` first, so that it starts on the next line).
    /// Envelopes the consumer popped. Single writer (the consumer): a plain load + store.
    popped: AtomicU64,
    /// Messages the owner took out of the queue (its `Mailbox::seq`), mirrored by the
    /// consumer for `Node::info`.
    received: AtomicU64,
    /// Length of the owner's save queue, mirrored by the consumer for `Node::info`.
    saved: AtomicUsize,
    /// What the owner is doing, an [`observe::Status`](crate::observe::Status) as a `u8`:
    /// written only around a park (never per message), read by `Node::info`.
    status: AtomicU8,
    /// A deadly signal is waiting in `doom`.
    doomed: AtomicBool,
    /// An actor's queue (an inbox cannot be unwound: every signal becomes a message).
    killable: bool,
    /// A call's throwaway mailbox: parking on it means "waiting in a call".
    call: bool,
    /// The pending deadly signals and the pushers waiting for room: both rare, so boxed
    /// together behind one lock, made when first needed (8 bytes in every cell: it stays
    /// within 384 bytes).
    rare: Mutex<Option<Box<Rare>>>,
    // --- Rarely used.
    /// The actor parked elsewhere than in its own receive (a call, a wait, a sleep...).
    alarm_wake: AtomicOption<Arc<Blocker>>,
}

/// The rarely used parts of a [`MailQueue`] (see its `rare`).
#[derive(Default)]
struct Rare {
    /// The pending deadly signals, oldest first.
    doom: Vec<Signal>,
    /// The pushers waiting for room, in arrival order (bounded mailboxes only). See
    /// [`MailQueue::push_waiting`].
    room: VecDeque<RoomWaiter>,
}

/// One pusher queued for room in a bounded mailbox (see [`MailQueue::push_waiting`]).
struct RoomWaiter {
    /// Tells this waiter's entry from the others (unique per queue).
    ticket: u64,
    blocker: Arc<Blocker>,
    /// Woken for a free place and not yet back: the next free place goes to the next one.
    signalled: bool,
}

/// Unique tickets for [`RoomWaiter`]s.
static ROOM_TICKET: AtomicU64 = AtomicU64::new(1);

/// A cell's [`MailQueue`], on the heap apart from the cell, and recycled.
///
/// Why: may's queue pads its push end to 128 bytes, so a `MailQueue` must be 128-aligned,
/// and glibc serves such a block by its slow `memalign` path (a larger block, split, and
/// the pieces freed) every time; with the queue's own first node, a fresh one costs ~1,000
/// instructions to allocate and free, the largest share of a spawn + exit + wait. So a
/// queue whose cell is dropped goes, emptied and reset, to a stock of
/// spares ([`SPARE_MAX`] at most), and a new cell takes one from there when it can. Only
/// the cell (now an ordinary 8-aligned block) still comes from the allocator each time.
/// Nothing of the previous owner survives: every field is reset to what
/// [`MailQueue::new`] makes (see [`MailQueue::clear`]), and the queue's node is never
/// shared (the box goes to the stock only when the cell's last strong reference is
/// dropped, and only the cell could reach it).
pub(crate) struct QueueSlot(Option<Box<MailQueue>>);

/// Most spare queues kept (384 bytes each: 3 MiB at most).
const SPARE_MAX: usize = 8192;

/// The spare queues (see [`QueueSlot`]), shared by all threads: a queue is mostly dropped
/// on another worker than the one that spawns the next actor, so per-thread stocks ran dry
/// on one side and overflowed on the other. The lock is held for one push or pop.
/// Boxes, not queues: each moves in and out of a cell as a pointer, never copied.
#[allow(clippy::vec_box)]
static SPARE: Mutex<Vec<Box<MailQueue>>> = Mutex::new(Vec::new());

#[allow(clippy::vec_box)] // see `SPARE`
fn spares() -> std::sync::MutexGuard<'static, Vec<Box<MailQueue>>> {
    // A push or a pop cannot leave the stock half changed.
    SPARE.lock().unwrap_or_else(|p| p.into_inner())
}

impl QueueSlot {
    /// A queue for an actor (`killable`) or an inbox (`call`: see [`MailQueue::new`]), a
    /// spare one if there is one.
    #[inline]
    pub(crate) fn new(killable: bool, call: bool) -> Self {
        let spare = spares().pop();
        match spare {
            Some(mut q) => {
                q.killable = killable;
                q.call = call;
                *q.trapping.get_mut() = !killable;
                QueueSlot(Some(q))
            }
            None => QueueSlot(Some(Box::new(MailQueue::new(killable, call)))),
        }
    }
}

impl std::ops::Deref for QueueSlot {
    type Target = MailQueue;

    #[inline]
    fn deref(&self) -> &MailQueue {
        match &self.0 {
            Some(q) => q,
            None => unreachable!("a queue slot is emptied only when it is dropped"),
        }
    }
}

impl Drop for QueueSlot {
    fn drop(&mut self) {
        let Some(mut q) = self.0.take() else { return };
        if !q.clear() {
            return;
        }
        let mut spares = spares();
        if spares.len() < SPARE_MAX {
            spares.push(q);
        }
    }
}

impl MailQueue {
    /// A queue for an actor (`killable`) or for an inbox.
    /// `call`: the throwaway mailbox of a call (see [`crate::observe::Status::Calling`]).
    #[inline(always)]
    pub(crate) fn new(killable: bool, call: bool) -> Self {
        MailQueue {
            queue: Queue::new(),
            wake: AtomicU64::new(0),
            blockers: [OnceLock::new(), OnceLock::new()],
            closed: AtomicBool::new(false),
            killable,
            trapping: AtomicBool::new(!killable),
            doomed: AtomicBool::new(false),
            rare: Mutex::new(None),
            alarm_wake: AtomicOption::none(),
            call,
            status: AtomicU8::new(Status::Running as u8),
            popped: AtomicU64::new(0),
            received: AtomicU64::new(0),
            saved: AtomicUsize::new(0),
            limit: AtomicUsize::new(usize::MAX),
            len: AtomicUsize::new(0),
            room_waiters: AtomicU32::new(0),
        }
    }

    /// Back to the state [`new`](Self::new) makes (for [`QueueSlot`]'s stock): drop what is
    /// still queued or set aside, and reset every counter, flag and blocker. `killable`,
    /// `call` and `trapping` are set by the next owner. `false` if the queue cannot be
    /// reused (a poisoned lock).
    fn clear(&mut self) -> bool {
        while self.queue.pop().is_some() {}
        let Ok(rare) = self.rare.get_mut() else {
            return false;
        };
        *rare = None;
        for b in &mut self.blockers {
            b.take();
        }
        *self.wake.get_mut() = 0;
        *self.limit.get_mut() = usize::MAX;
        *self.len.get_mut() = 0;
        *self.room_waiters.get_mut() = 0;
        *self.closed.get_mut() = false;
        *self.popped.get_mut() = 0;
        *self.received.get_mut() = 0;
        *self.saved.get_mut() = 0;
        *self.status.get_mut() = Status::Running as u8;
        *self.doomed.get_mut() = false;
        self.alarm_wake.take();
        true
    }

    /// Bound the number of queued user messages (before the owner starts receiving).
    pub(crate) fn set_limit(&self, n: usize) {
        self.limit.store(n, Ordering::Relaxed);
    }

    /// The error for a refused push: the mailbox is closed (dead actor) or full.
    pub(crate) fn refusal(&self, addr: &Address) -> crate::SendError {
        if self.closed.load(Ordering::Acquire) {
            crate::SendError::DeadActor(addr.clone())
        } else {
            crate::SendError::MailboxFull(addr.clone())
        }
    }

    /// Append an envelope and wake the receiver. Fails (returning it) once the mailbox closed.
    /// A deadly signal is set aside instead (see the type's docs).
    #[inline]
    pub(crate) fn push(&self, env: Envelope) -> Result<(), Envelope> {
        if self.closed.load(Ordering::Acquire) {
            return Err(env);
        }
        if let Envelope::Signal(sig) = &env
            && self.is_deadly(sig)
        {
            return self.push_doom(env);
        }
        let limit = self.limit.load(Ordering::Relaxed);
        if limit != usize::MAX
            && matches!(env, Envelope::Msg(_) | Envelope::Payload(_))
            && self.len.fetch_add(1, Ordering::AcqRel) >= limit
        {
            self.len.fetch_sub(1, Ordering::AcqRel);
            return Err(env);
        }
        self.queue.push(env);
        let old = self.wake.fetch_add(PUSHED, Ordering::AcqRel);
        if old & WAITING != 0 {
            self.wake_consumer();
        }
        Ok(())
    }

    /// The consumer is waiting: clear its bits and unpark the blocker(s) whose bit this call
    /// cleared (a concurrent sender that cleared it first does the waking).
    #[inline]
    fn wake_consumer(&self) {
        let bits = self.wake.fetch_and(!WAITING, Ordering::AcqRel) & WAITING;
        for (i, bit) in [WAIT_CO, WAIT_THREAD].into_iter().enumerate() {
            if bits & bit != 0
                && let Some(b) = self.blockers[i].get()
            {
                b.unpark();
            }
        }
    }

    /// The consumer's blocker for the kind of context it runs in, and that kind's bit.
    #[inline]
    fn blocker(&self) -> (&Arc<Blocker>, u64) {
        let (i, bit) = if may::coroutine::is_coroutine() {
            (0, WAIT_CO)
        } else {
            (1, WAIT_THREAD)
        };
        (self.blockers[i].get_or_init(Blocker::current), bit)
    }

    fn is_deadly(&self, sig: &Signal) -> bool {
        self.killable
            && match sig {
                Signal::Kill => true,
                Signal::Exit { reason, .. } => {
                    !reason.is_normal() && !self.trapping.load(Ordering::Acquire)
                }
                Signal::Down { .. } => false,
            }
    }

    #[cold]
    fn push_doom(&self, env: Envelope) -> Result<(), Envelope> {
        let Envelope::Signal(sig) = env else {
            unreachable!("only signals are deadly")
        };
        {
            let mut rare = self.rare();
            rare.get_or_insert_default().doom.push(*sig);
            self.doomed.store(true, Ordering::Release);
        }
        // A read-modify-write of `wake` after raising `doomed`: either it sees the
        // consumer's waiting bit, or the consumer's `fetch_or` comes later and its check
        // of `doomed` sees the flag (see `WAIT_CO`).
        if self.wake.fetch_add(0, Ordering::AcqRel) & WAITING != 0 {
            self.wake_consumer();
        }
        if let Some(w) = self.alarm_wake.take() {
            w.unpark();
        }
        Ok(())
    }

    /// Is a deadly signal pending?
    #[inline]
    pub(crate) fn is_doomed(&self) -> bool {
        self.doomed.load(Ordering::Acquire)
    }

    /// Take every pending deadly signal, oldest first.
    pub(crate) fn take_doom(&self) -> Vec<Signal> {
        if !self.is_doomed() {
            return Vec::new();
        }
        let mut rare = self.rare();
        self.doomed.store(false, Ordering::Release);
        rare.as_mut()
            .map(|r| std::mem::take(&mut r.doom))
            .unwrap_or_default()
    }

    /// `unlink`: forget a pending exit signal that came through the link with `from`.
    pub(crate) fn cancel_linked_doom(&self, from: &Address) {
        let mut rare = self.rare();
        if let Some(d) = rare.as_mut().map(|r| &mut r.doom) {
            d.retain(|s| !matches!(s, Signal::Exit { from: f, linked: true, .. } if f == from));
        }
        if rare.as_ref().is_none_or(|r| r.doom.is_empty()) {
            self.doomed.store(false, Ordering::Release);
        }
    }

    /// The owner's trap_exit setting, for classifying signals as they arrive.
    pub(crate) fn set_trapping(&self, on: bool) {
        self.trapping.store(on, Ordering::Release);
    }

    /// Has the mailbox closed (its owner ended)?
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Register `b` to be woken by a deadly signal while the actor is parked outside its own
    /// receive; `None` clears it.
    pub(crate) fn set_alarm(&self, b: Option<Arc<Blocker>>) {
        match b {
            Some(b) => self.alarm_wake.store(b),
            None => {
                self.alarm_wake.take();
            }
        }
    }

    /// Consumer only: take the next envelope, parking until one arrives or `deadline` passes.
    /// `watch_cell`: the running actor's cell, if any: a deadly signal for it ends the wait
    /// (`Popped::Doomed`), whether this is its own mailbox or one it uses (a call's).
    fn pop_wait(&self, deadline: Option<Instant>, watch_cell: Option<&ActorCell>) -> Popped {
        // The watched actor's queue, reached through its slot once.
        let watch: Option<&MailQueue> = watch_cell.map(|c| &*c.queue);
        loop {
            if let Some(w) = watch
                && w.is_doomed()
            {
                return Popped::Doomed;
            }
            if let Some(e) = self.queue.pop() {
                // Single consumer: no read-modify-write needed.
                self.popped
                    .store(self.popped.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                return Popped::Env(self.taken(e));
            }
            let timeout = match deadline {
                Some(d) => match crate::park::timeout_until(d) {
                    Some(t) => Some(t),
                    None => return Popped::Timeout,
                },
                None => None,
            };
            // Say "wake me", re-check (a push may have raced), then park (see `WAIT_CO`).
            let (me, bit) = self.blocker();
            self.wake.fetch_or(bit, Ordering::AcqRel);
            let foreign = watch.filter(|q| !std::ptr::eq(*q, self));
            if let Some(q) = foreign {
                q.set_alarm(Some(me.clone()));
            }
            if !self.queue.is_empty() || watch.is_some_and(|w| w.is_doomed()) {
                self.wake.fetch_and(!bit, Ordering::AcqRel);
                if let Some(q) = foreign {
                    q.set_alarm(None);
                }
                continue;
            }
            // The status belongs to the running actor if any, else to this mailbox's owner
            // (a thread's inbox).
            let owner = watch.unwrap_or(self);
            owner.set_status(if self.call {
                Status::Calling
            } else {
                Status::Receiving
            });
            crate::park::mark_parked();
            let woken = me.park(timeout).is_ok();
            // The running actor is `watch_cell` (no lookup needed on this hot path).
            crate::watchdog::set_running(watch_cell.map_or(0, |w| w as *const ActorCell as usize));
            owner.set_status(Status::Running);
            // A sender that woke us cleared the bit. After a timeout clear it ourselves, so
            // that no sender wakes a consumer that stopped waiting. (An unpark that was not
            // a sender's, a stale token or the alarm of a call, can leave the bit set: then
            // at worst one later send unparks a consumer that is not parked, and its next
            // park returns at once and looks again.)
            if !woken {
                self.wake.fetch_and(!bit, Ordering::AcqRel);
            }
            if let Some(q) = foreign {
                q.set_alarm(None);
            }
        }
    }

    /// Count a user message out of a bounded queue.
    #[inline]
    fn taken(&self, e: Envelope) -> Envelope {
        if matches!(e, Envelope::Msg(_) | Envelope::Payload(_))
            && self.limit.load(Ordering::Relaxed) != usize::MAX
        {
            // SeqCst here and in `push_waiting`: either the waiter's re-check sees this
            // decrement, or this load sees it queued.
            self.len.fetch_sub(1, Ordering::SeqCst);
            if self.room_waiters.load(Ordering::SeqCst) > 0 {
                self.signal_room();
            }
        }
        e
    }

    fn rare(&self) -> MutexGuard<'_, Option<Box<Rare>>> {
        // Every change under this lock is one push, take or removal: none is left half made.
        self.rare.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place is free: wake the oldest waiting pusher that is not already woken for one.
    /// (Its blocker is cloned under the lock and woken, and the clone dropped, after it:
    /// see `remote::connection::Outbox` for why no blocker is dropped under a lock.)
    fn signal_room(&self) {
        let next = {
            let mut rare = self.rare();
            rare.as_mut().and_then(|r| {
                r.room.iter_mut().find(|w| !w.signalled).map(|w| {
                    w.signalled = true;
                    w.blocker.clone()
                })
            })
        };
        if let Some(b) = next {
            b.unpark();
        }
    }

    /// Push a user message into a bounded mailbox, waiting up to `timeout` for room (for a
    /// connection's reader: see `SpawnOptions`). Fails at once if the mailbox is closed.
    ///
    /// Waiters are served in arrival order: a pusher that finds the mailbox full, or finds
    /// others already waiting, joins the back of the `room` queue; each place the consumer
    /// frees wakes the oldest waiter not yet woken (`signal_room`). A woken waiter that
    /// still finds no room (a plain [`push`](Self::push) took the place) keeps its place
    /// in the queue and waits for the next one; one that gives up after being woken passes
    /// the wake-up on, so a free place is never left with waiters asleep. `Ok(true)`: it had
    /// to wait.
    pub(crate) fn push_waiting(
        &self,
        mut env: Envelope,
        timeout: Duration,
    ) -> Result<bool, Envelope> {
        // The fast path: room, and nobody waiting ahead.
        if self.room_waiters.load(Ordering::SeqCst) == 0 {
            env = match self.push(env) {
                Ok(()) => return Ok(false),
                Err(e) => e,
            };
        }
        if self.closed.load(Ordering::Acquire) || timeout.is_zero() {
            return Err(env);
        }
        let deadline = Instant::now() + timeout;
        let ticket = ROOM_TICKET.fetch_add(1, Ordering::Relaxed);
        let me = Blocker::current();
        {
            let mut rare = self.rare();
            let q = &mut rare.get_or_insert_default().room;
            q.push_back(RoomWaiter {
                ticket,
                blocker: me.clone(),
                signalled: false,
            });
            // SeqCst, as in `taken`: either the consumer sees this waiter, or the re-check
            // below sees its decrement.
            self.room_waiters.store(q.len() as u32, Ordering::SeqCst);
        }
        let result = loop {
            // Room now? Then the oldest waiter is owed a wake-up (the consumer may have
            // freed this place before it could see anyone queued).
            if self.len.load(Ordering::SeqCst) < self.limit.load(Ordering::Relaxed) {
                self.signal_room();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.closed.load(Ordering::Acquire) {
                break Err(env);
            }
            // `may`'s timer counts whole milliseconds; round up, the loop re-checks.
            let _ = me.park(Some(Duration::from_millis(
                left.as_millis().clamp(1, u64::MAX as u128) as u64,
            )));
            // Woken for a place (or at the deadline, when a last try is still fair).
            let signalled = self.with_entry(ticket, |w| std::mem::replace(&mut w.signalled, false));
            if signalled || Instant::now() >= deadline {
                env = match self.push(env) {
                    Ok(()) => break Ok(true),
                    Err(e) => e,
                };
            }
        };
        // Leave the queue; a wake-up this waiter received and did not use goes on.
        let (entry, left_behind) = {
            let mut rare = self.rare();
            let q = &mut rare.get_or_insert_default().room;
            let entry = q
                .iter()
                .position(|w| w.ticket == ticket)
                .and_then(|i| q.remove(i));
            self.room_waiters.store(q.len() as u32, Ordering::SeqCst);
            (entry, !q.is_empty())
        };
        let owed = entry.as_ref().is_some_and(|w| w.signalled) || result.is_err();
        drop(entry);
        if left_behind
            && owed
            && self.len.load(Ordering::SeqCst) < self.limit.load(Ordering::Relaxed)
        {
            self.signal_room();
        }
        result
    }

    /// Apply `f` to waiter `ticket`'s entry in the room queue (`false` if it is not there).
    fn with_entry(&self, ticket: u64, f: impl FnOnce(&mut RoomWaiter) -> bool) -> bool {
        let mut rare = self.rare();
        rare.as_mut()
            .and_then(|r| r.room.iter_mut().find(|w| w.ticket == ticket))
            .is_some_and(f)
    }

    /// Consumer only: close the mailbox and drop what is still in it; returns how many
    /// envelopes were dropped.
    pub(crate) fn close(&self) -> usize {
        self.closed.store(true, Ordering::Release);
        let mut n = 0;
        while self.queue.pop().is_some() {
            n += 1;
        }
        self.popped.fetch_add(n as u64, Ordering::Relaxed);
        n
    }

    /// Record what the owner is doing (only around parks: see `status`).
    #[inline]
    pub(crate) fn set_status(&self, s: Status) {
        self.status.store(s as u8, Ordering::Relaxed);
    }

    /// Envelopes delivered into this queue so far (for `Node::stats`).
    pub(crate) fn delivered(&self) -> u64 {
        self.wake.load(Ordering::Relaxed) / PUSHED
    }

    /// What the owner is doing (a snapshot, for `Node::info`).
    pub(crate) fn status(&self) -> Status {
        Status::from_u8(self.status.load(Ordering::Relaxed))
    }

    /// Messages and signals queued but not pulled yet (a snapshot, for `Node::info`). A
    /// send counts its envelope just after queueing it (see [`WAIT_CO`]), so a snapshot
    /// taken in that instant can miss it (and one taken as the consumer pops it counts 0
    /// rather than -1); once sends and receives have returned, the count is exact.
    pub(crate) fn queued(&self) -> usize {
        let popped = self.popped.load(Ordering::Relaxed);
        let pushed = self.delivered();
        pushed.saturating_sub(popped) as usize
    }

    /// Messages the owner received (pulled from its queue), and the length of its save
    /// queue (a snapshot, for `Node::info`).
    pub(crate) fn received_and_saved(&self) -> (u64, usize) {
        (
            self.received.load(Ordering::Relaxed),
            self.saved.load(Ordering::Relaxed),
        )
    }
}

/// The watched actor's mail queue (see [`watched`]), reached through its cell's
/// [`QueueSlot`] once per receive step rather than at every check.
#[inline]
fn watched_queue<'a>(
    cell: &'a Arc<ActorCell>,
    other: &'a Option<Arc<ActorCell>>,
) -> Option<&'a MailQueue> {
    let own: &MailQueue = &cell.queue;
    if own.killable {
        Some(own)
    } else {
        other.as_deref().map(|c| &*c.queue)
    }
}

/// The watched actor's cell: the mailbox's owner `cell` if it is an actor's, or `other`
/// (a free function so that a receive can borrow its cell apart from the rest).
#[inline]
fn watched<'a>(
    cell: &'a Arc<ActorCell>,
    other: &'a Option<Arc<ActorCell>>,
) -> Option<&'a ActorCell> {
    if cell.queue.killable {
        Some(cell)
    } else {
        other.as_deref()
    }
}

/// What [`MailQueue::pop_wait`] found.
enum Popped {
    Env(Envelope),
    Timeout,
    /// A deadly signal is pending for the running actor.
    Doomed,
}

/// A receive that found nothing before its deadline.
///
/// ```
/// use std::time::Duration;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let mut inbox = node.inbox();
/// let r = inbox.receive_timeout(Duration::from_millis(1));
/// assert_eq!(r, Err(pyact::Timeout));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout;

impl std::fmt::Display for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("receive timed out")
    }
}

impl std::error::Error for Timeout {}

/// A position in a mailbox's arrival order, from [`Mailbox::mark`].
///
/// ```
/// use pyact::pattern;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let mut inbox = node.inbox();
/// inbox.addr().send(("reply", 1)).unwrap(); // a stale reply
/// let mark = inbox.mark();
/// inbox.addr().send(("reply", 2)).unwrap();
/// let (_, m) = inbox.receive_match_since(mark, &[&pattern!(("reply", int))], None).unwrap();
/// assert_eq!(m[1], 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[must_use = "a Mark only matters when passed to receive_match_since"]
pub struct Mark(u64);

struct Saved {
    seq: u64,
    msg: Value,
}

/// The receiving end of an actor: the handle its function gets as first argument, as the
/// seed's actors got a `receive` function.
///
/// Only its owner can receive, so it is `Send` (it may move with its coroutine) but neither
/// `Clone` nor `Sync`. A thread gets one from [`Node::inbox`](crate::Node::inbox).
///
/// ```
/// use pyact::{Mesh, Node, pattern};
/// let mesh = Mesh::new();
/// let node = Node::new(&mesh, "cookie@localhost:0").unwrap();
/// let echo = node.spawn(|mut mb| {
///     let (_, msg) = mb.receive_match(&[&pattern!({"reply_to": address, "text": str})]);
///     let to: pyact::Address = serde_json::from_value(msg["reply_to"].clone()).unwrap();
///     to.send(msg["text"].clone()).unwrap();
/// });
/// let mut inbox = node.inbox();
/// echo.send(serde_json::json!({"reply_to": inbox.addr(), "text": "hi"})).unwrap();
/// assert_eq!(inbox.receive(), "hi");
/// ```
pub struct Mailbox {
    cell: Arc<ActorCell>,
    node: Node,
    saved: VecDeque<Saved>,
    seq: u64,
    trap_exit: bool,
    /// Monitors this mailbox's owner holds: DOWNs for other refs (demonitored) are dropped.
    monitors: HashMap<Ref, Address>,
    /// A thread's inbox rather than an actor: it cannot be unwound, so it always traps exits.
    inbox: bool,
}

impl Mailbox {
    pub(crate) fn new(cell: Arc<ActorCell>, node: Node, inbox: bool) -> Self {
        Mailbox {
            cell,
            node,
            saved: VecDeque::new(),
            seq: 0,
            trap_exit: inbox,
            monitors: HashMap::new(),
            inbox,
        }
    }

    pub(crate) fn cell(&self) -> &Arc<ActorCell> {
        &self.cell
    }

    /// This mailbox's address (the seed's `curaddr()`).
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let a = node.spawn(|mb| serde_json::to_value(mb.addr())); // its own address
    /// assert_eq!(node.wait(&a).unwrap(), serde_json::to_value(&a).unwrap());
    /// ```
    pub fn addr(&self) -> Address {
        self.cell.address()
    }

    /// The node this mailbox lives on.
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let a = node.spawn(|mb| mb.node().name().to_string());
    /// assert_eq!(node.wait(&a).unwrap(), node.name());
    /// ```
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Turn exit signals from linked actors into messages instead of dying
    /// (Erlang's `process_flag(trap_exit, true)`). Returns the previous setting.
    /// A thread's inbox always traps exits.
    ///
    /// ```
    /// use pyact::{ExitReason, link::Exit};
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let parent = node.spawn(|mut mb| {
    ///     assert!(!mb.trap_exit(true));
    ///     pyact::spawn_link(|_| -> () { panic!("child died") });
    ///     let exit = Exit::try_from(mb.receive()).unwrap(); // a message, not our death
    ///     exit.reason.to_json()
    /// });
    /// let reason = node.wait(&parent).unwrap();
    /// assert_eq!(reason, ExitReason::Panicked("child died".into()).to_json());
    /// ```
    pub fn trap_exit(&mut self, on: bool) -> bool {
        let on = on || self.inbox;
        self.cell.queue.set_trapping(on);
        std::mem::replace(&mut self.trap_exit, on)
    }

    /// Number of messages taken out of the queue but not yet matched.
    ///
    /// ```
    /// use pyact::pattern;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut inbox = node.inbox();
    /// inbox.addr().send("skip me").unwrap();
    /// inbox.addr().send(7).unwrap();
    /// assert_eq!(inbox.receive_match(&[&pattern!(int)]).1, 7);
    /// assert_eq!(inbox.saved_len(), 1); // "skip me" waits for a later receive
    /// ```
    pub fn saved_len(&self) -> usize {
        self.saved.len()
    }

    /// A mark of "now": a receive [`since`](Mailbox::receive_match_since) it ignores every
    /// message that arrived before, without matching them against patterns.
    ///
    /// Messages already queued are moved into the save queue first (keeping their order),
    /// so "before" means "sent before this call returned"; system signals among them are
    /// handled as in any receive.
    ///
    /// ```
    /// use pyact::pattern;
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut inbox = node.inbox();
    /// inbox.addr().send("old").unwrap();
    /// let mark = inbox.mark();
    /// let any = pattern!(str);
    /// let r = inbox.receive_match_since(mark, &[&any], Some(Duration::from_millis(1)));
    /// assert!(r.is_err()); // "old" arrived before the mark
    /// assert_eq!(inbox.receive(), "old"); // but is still there
    /// ```
    pub fn mark(&mut self) -> Mark {
        let now = Some(Instant::now());
        let other = self.other_watch();
        while let Some(msg) = self.next_message(now, &other) {
            self.seq += 1;
            self.saved.push_back(Saved { seq: self.seq, msg });
        }
        self.mirror();
        Mark(self.seq + 1)
    }

    /// The actor whose deadly signals interrupt a receive on this mailbox: its owner if this
    /// is an actor's mailbox, else the running actor if any (an inbox or a call's mailbox
    /// used inside an actor). A plain thread is never interrupted.
    /// Returns the running actor only when it is not this mailbox's owner (that one is
    /// `self.cell`, no lookup needed): see [`Mailbox::watched`].
    #[inline]
    fn other_watch(&self) -> Option<Arc<ActorCell>> {
        if self.cell.queue.killable {
            None
        } else {
            crate::actor::current_actor()
        }
    }

    /// The watched actor's cell: this mailbox's owner, or `other` (from `other_watch`).
    #[inline]
    fn watched<'a>(&'a self, other: &'a Option<Arc<ActorCell>>) -> Option<&'a ActorCell> {
        watched(&self.cell, other)
    }

    /// A deadly signal is pending for the watched actor: end it (unless `unlink` cancelled
    /// the signal).
    #[cold]
    fn doomed(&mut self, other: &Option<Arc<ActorCell>>) {
        let reason = match self.watched(other) {
            Some(cell) => cell.take_doom(),
            None => None,
        };
        if let Some(reason) = reason {
            self.die(reason)
        }
    }

    /// Take the next message, whatever it is, blocking until one arrives.
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let summer = node.spawn(|mut mb| {
    ///     let mut total = 0;
    ///     loop {
    ///         match mb.receive().as_i64() {
    ///             Some(n) => total += n,
    ///             None => return total, // any non-number ends the sum
    ///         }
    ///     }
    /// });
    /// for n in [1, 2, 3] { summer.send(n).unwrap(); }
    /// summer.send("done").unwrap();
    /// assert_eq!(node.wait(&summer).unwrap(), 6);
    /// ```
    pub fn receive(&mut self) -> Value {
        self.receive_timeout_opt(None).expect("no deadline")
    }

    /// Take the next message, or [`Timeout`] after `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut inbox = node.inbox();
    /// assert!(inbox.receive_timeout(Duration::from_millis(1)).is_err());
    /// inbox.addr().send("here").unwrap();
    /// assert_eq!(inbox.receive_timeout(Duration::from_secs(5)).unwrap(), "here");
    /// ```
    pub fn receive_timeout(&mut self, timeout: Duration) -> Result<Value, Timeout> {
        self.receive_timeout_opt(Some(Instant::now() + timeout))
    }

    /// Take the next message if one is there now (a zero-timeout poll).
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut inbox = node.inbox();
    /// assert_eq!(inbox.try_receive(), None);
    /// inbox.addr().send(1).unwrap();
    /// assert_eq!(inbox.try_receive(), Some(1.into()));
    /// ```
    pub fn try_receive(&mut self) -> Option<Value> {
        self.receive_timeout_opt(Some(Instant::now())).ok()
    }

    fn receive_timeout_opt(&mut self, deadline: Option<Instant>) -> Result<Value, Timeout> {
        self.receive_by(Mark(0), deadline, |_| Some(()))
            .map(|(_, v)| v)
    }

    /// Selective receive: the first message (in arrival order) that matches any of
    /// `patterns`; returns the index of the pattern it matched and the message. Blocks until
    /// one arrives; messages that match nothing stay in the mailbox.
    ///
    /// ```
    /// # use pyact::{Mesh, Node, pattern};
    /// # let node = Node::new(&Mesh::new(), "c@localhost:0").unwrap();
    /// let mut inbox = node.inbox();
    /// inbox.addr().send("noise").unwrap();
    /// inbox.addr().send(("data", "payload")).unwrap();
    /// let data = pattern!(("data", str));
    /// let event = pattern!({"event": str, "data": object});
    /// let (which, msg) = inbox.receive_match(&[&data, &event]);
    /// assert_eq!((which, msg[1].as_str()), (0, Some("payload")));
    /// assert_eq!(inbox.receive(), "noise"); // still there, still first
    /// ```
    pub fn receive_match(&mut self, patterns: &[&Pattern]) -> (usize, Value) {
        self.receive_by(Mark(0), None, |v| first_match(patterns, v))
            .expect("no deadline")
    }

    /// [`receive_match`](Mailbox::receive_match) that gives up after `timeout`.
    ///
    /// ```
    /// use pyact::pattern;
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut inbox = node.inbox();
    /// inbox.addr().send("not a number").unwrap();
    /// let num = pattern!(int);
    /// assert!(inbox.receive_match_timeout(&[&num], Duration::from_millis(1)).is_err());
    /// inbox.addr().send(5).unwrap();
    /// assert_eq!(inbox.receive_match_timeout(&[&num], Duration::from_secs(5)).unwrap().1, 5);
    /// ```
    pub fn receive_match_timeout(
        &mut self,
        patterns: &[&Pattern],
        timeout: Duration,
    ) -> Result<(usize, Value), Timeout> {
        let deadline = Instant::now() + timeout;
        self.receive_by(Mark(0), Some(deadline), |v| first_match(patterns, v))
    }

    /// [`receive_match`](Mailbox::receive_match) that only polls (a zero timeout).
    ///
    /// ```
    /// use pyact::pattern;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut inbox = node.inbox();
    /// let (stop, work) = (pattern!("stop"), pattern!({"job": int}));
    /// inbox.addr().send(serde_json::json!({"job": 3})).unwrap();
    /// assert_eq!(inbox.try_receive_match(&[&stop, &work]).map(|(i, _)| i), Some(1));
    /// assert_eq!(inbox.try_receive_match(&[&stop, &work]), None);
    /// ```
    pub fn try_receive_match(&mut self, patterns: &[&Pattern]) -> Option<(usize, Value)> {
        self.receive_by(Mark(0), Some(Instant::now()), |v| first_match(patterns, v))
            .ok()
    }

    /// Selective receive that only considers messages that arrived after `mark`
    /// (see [`Mailbox::mark`]); `timeout` `None` waits forever.
    ///
    /// ```
    /// use pyact::pattern;
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut inbox = node.inbox();
    /// let mark = inbox.mark();
    /// inbox.addr().send(("pong", 1)).unwrap();
    /// let pong = pattern!(("pong", int));
    /// let got = inbox.receive_match_since(mark, &[&pong], Some(Duration::from_secs(5)));
    /// assert_eq!(got.unwrap().1[1], 1);
    /// ```
    pub fn receive_match_since(
        &mut self,
        mark: Mark,
        patterns: &[&Pattern],
        timeout: Option<Duration>,
    ) -> Result<(usize, Value), Timeout> {
        let deadline = timeout.map(|t| Instant::now() + t);
        self.receive_by(mark, deadline, |v| first_match(patterns, v))
    }

    /// Typed receive: the first message that deserializes into `T` (others stay queued).
    ///
    /// ```
    /// # use pyact::{Mesh, Node};
    /// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// struct Ping { seq: u32 }
    /// # let node = Node::new(&Mesh::new(), "c@localhost:0").unwrap();
    /// let mut inbox = node.inbox();
    /// inbox.addr().send("not a ping").unwrap();
    /// inbox.addr().send(Ping { seq: 7 }).unwrap();
    /// assert_eq!(inbox.receive_as::<Ping>(), Ping { seq: 7 });
    /// ```
    pub fn receive_as<T: DeserializeOwned>(&mut self) -> T {
        self.receive_by(Mark(0), None, |v| T::deserialize(v).ok())
            .expect("no deadline")
            .0
    }

    /// [`receive_as`](Mailbox::receive_as) that gives up after `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut inbox = node.inbox();
    /// inbox.addr().send("text").unwrap();
    /// assert!(inbox.receive_as_timeout::<u32>(Duration::from_millis(1)).is_err());
    /// inbox.addr().send(9).unwrap();
    /// assert_eq!(inbox.receive_as_timeout::<u32>(Duration::from_secs(5)), Ok(9));
    /// ```
    pub fn receive_as_timeout<T: DeserializeOwned>(
        &mut self,
        timeout: Duration,
    ) -> Result<T, Timeout> {
        let deadline = Instant::now() + timeout;
        self.receive_by(Mark(0), Some(deadline), |v| T::deserialize(v).ok())
            .map(|(t, _)| t)
    }

    /// The one receive loop every public receive is built on. `pick` decides whether a
    /// message is taken (and what to report about it).
    pub(crate) fn receive_by<R>(
        &mut self,
        since: Mark,
        deadline: Option<Instant>,
        mut pick: impl FnMut(&Value) -> Option<R>,
    ) -> Result<(R, Value), Timeout> {
        // 0. A pending kill or deadly exit signal acts before anything is received.
        let other = self.other_watch();
        if watched_queue(&self.cell, &other).is_some_and(|q| q.is_doomed()) {
            self.doomed(&other);
        }
        // 1. Messages already taken out but not matched, oldest first (none, usually: a
        // plain receive never leaves any).
        // The save queue is in arrival order, so the messages before `since` are a prefix
        // that is skipped without being looked at.
        if !self.saved.is_empty() {
            let start = self.saved.partition_point(|s| s.seq < since.0);
            let mut found = None;
            for (i, s) in self.saved.iter().enumerate().skip(start) {
                if let Some(r) = pick(&s.msg) {
                    found = Some((i, r));
                    break;
                }
            }
            if let Some((i, r)) = found {
                let s = self.saved.remove(i).expect("index from iteration");
                self.mirror();
                return Ok((r, s.msg));
            }
        }
        // 2. New arrivals, each looked at once.
        loop {
            let msg = self.next_message(deadline, &other).ok_or(Timeout)?;
            self.seq += 1;
            if let Some(r) = pick(&msg) {
                self.mirror();
                return Ok((r, msg));
            }
            self.saved.push_back(Saved { seq: self.seq, msg });
            self.mirror();
        }
    }

    /// The next message out of the queue, in arrival order, or `None` at the deadline: a
    /// remote payload is built here, on the receiver's thread; a pending kill or deadly
    /// signal for the watched actor (`other`, from `other_watch`) acts at once; other
    /// signals are handled ([`Self::on_signal`]) and only those that become messages are
    /// returned. The one place both receive loops pop from.
    #[inline]
    fn next_message(
        &mut self,
        deadline: Option<Instant>,
        other: &Option<Arc<ActorCell>>,
    ) -> Option<Value> {
        loop {
            match self
                .cell
                .queue
                .pop_wait(deadline, watched(&self.cell, other))
            {
                Popped::Timeout => return None,
                Popped::Doomed => self.doomed(other),
                Popped::Env(Envelope::Msg(v)) => return Some(v),
                Popped::Env(Envelope::Payload(p)) => return Some(p.into_value()),
                Popped::Env(Envelope::Signal(sig)) => {
                    if let Some(v) = self.on_signal(*sig) {
                        return Some(v);
                    }
                }
            }
        }
    }

    /// Publish the counters `Node::info` shows (two relaxed stores to the consumer's own
    /// fields: no read-modify-write, nothing for senders).
    #[inline]
    fn mirror(&self) {
        let q: &MailQueue = &self.cell.queue;
        q.received.store(self.seq, Ordering::Relaxed);
        q.saved.store(self.saved.len(), Ordering::Relaxed);
    }

    /// Handle a system signal: die, or turn it into a message, or drop it.
    fn on_signal(&mut self, sig: Signal) -> Option<Value> {
        match sig {
            Signal::Kill if !self.inbox => self.die(ExitReason::Killed),
            Signal::Kill => Some(exit_message(&self.addr(), &ExitReason::Killed)),
            Signal::Exit {
                from,
                reason,
                linked,
            } => {
                if linked {
                    self.cell.forget_link(&from);
                }
                if self.trap_exit {
                    Some(exit_message(&from, &reason))
                } else if reason.is_normal() {
                    None
                } else if linked {
                    self.die(linked_exit(from, reason))
                } else {
                    self.die(reason)
                }
            }
            Signal::Down {
                reference,
                from,
                reason,
            } => {
                self.monitors.remove(&reference)?;
                Some(json!({"down": reference, "address": from, "exit": reason}))
            }
        }
    }

    fn die(&mut self, reason: ExitReason) -> ! {
        std::panic::resume_unwind(Box::new(ExitUnwind(reason)))
    }

    /// Remember a monitor this owner placed (so its DOWN is delivered).
    pub(crate) fn add_monitor(&mut self, reference: Ref, target: Address) {
        self.monitors.insert(reference, target);
    }

    /// Forget a monitor and purge its DOWN if one is already queued. Returns the target.
    pub(crate) fn remove_monitor(&mut self, reference: &Ref) -> Option<Address> {
        // Purge first: a DOWN already pulled into the save queue has left `monitors`.
        let key = serde_json::to_value(reference).unwrap_or(Value::Null);
        self.saved.retain(|s| s.msg.get("down") != Some(&key));
        self.mirror();
        self.monitors.remove(reference)
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        // The owner ended (or gave up its mailbox): its monitors go from their targets'
        // tables, so a long-lived target does not collect stale entries.
        for (reference, target) in self.monitors.drain() {
            crate::link::drop_monitor(&self.node, &target, reference);
        }
        // A thread's inbox ends when it is dropped; an actor's end is recorded by its runner.
        if self.inbox {
            crate::actor::pop_inbox(&self.cell.address());
            self.cell
                .finish(&self.node, ExitReason::Normal(Value::Null));
        }
    }
}

impl std::fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailbox")
            .field("addr", &self.addr())
            .field("saved", &self.saved.len())
            .finish()
    }
}

fn first_match(patterns: &[&Pattern], v: &Value) -> Option<usize> {
    patterns.iter().position(|p| p.matches(v))
}

/// The reason an actor ends with when a linked actor's abnormal `reason` reaches it.
///
/// Keeps the root cause, not one wrapper per hop: a crash travelling down a chain of 1,000
/// links must stay a small, JSON-encodable reason.
pub(crate) fn linked_exit(from: Address, reason: ExitReason) -> ExitReason {
    let reason = match reason {
        ExitReason::Linked { reason, .. } => reason,
        other => Box::new(other),
    };
    ExitReason::Linked { from, reason }
}

/// The message a trapped exit becomes.
pub(crate) fn exit_message(from: &Address, reason: &ExitReason) -> Value {
    json!({"address": from, "exit": reason})
}

/// Erlang-style receive with pattern arms and an optional `after` arm.
///
/// Each arm is `name @ PATTERN => expression`, where `PATTERN` is one token tree in the
/// [`pattern!`](macro@crate::pattern) syntax (or the name of a [`Pattern`] variable) and `name` binds
/// the matched message. The optional last arm `after DURATION => expression` runs if nothing
/// matches in time.
///
/// ```
/// use pyact::{Mesh, Node, receive};
/// use std::time::Duration;
/// # let node = Node::new(&Mesh::new(), "c@localhost:0").unwrap();
/// let mut inbox = node.inbox();
/// inbox.addr().send(serde_json::json!({"event": "boot", "data": 1})).unwrap();
/// let got = receive! { inbox;
///     m @ ("data", str) => format!("data {}", m[1]),
///     m @ {"event": str} => format!("event {}", m["event"]),
///     after Duration::from_millis(10) => "nothing".to_string(),
/// };
/// assert_eq!(got, "event \"boot\"");
/// let got = receive! { inbox;
///     _m @ int => "int",
///     after Duration::ZERO => "empty",
/// };
/// assert_eq!(got, "empty");
/// ```
#[macro_export]
macro_rules! receive {
    ($mb:expr; $($rest:tt)+) => { $crate::receive!(@arms $mb; [] $($rest)+) };
    (@arms $mb:expr; [$(($bind:ident $pat:tt $body:expr))+] after $dur:expr => $after:expr $(,)?) => {{
        let __pats = [$($crate::pattern!($pat)),+];
        let __refs: ::std::vec::Vec<&$crate::Pattern> = __pats.iter().collect();
        match $mb.receive_match_timeout(&__refs, $dur) {
            ::std::result::Result::Ok((__idx, __msg)) => $crate::__receive_arms!(__idx, __msg; $($bind => $body),+),
            ::std::result::Result::Err(_) => $after,
        }
    }};
    (@arms $mb:expr; [$($arms:tt)*] $bind:ident @ $pat:tt => $body:expr , $($rest:tt)*) => {
        $crate::receive!(@arms $mb; [$($arms)* ($bind $pat $body)] $($rest)*)
    };
    (@arms $mb:expr; [$($arms:tt)*] $bind:ident @ $pat:tt => $body:expr) => {
        $crate::receive!(@arms $mb; [$($arms)* ($bind $pat $body)])
    };
    (@arms $mb:expr; [$(($bind:ident $pat:tt $body:expr))+]) => {{
        let __pats = [$($crate::pattern!($pat)),+];
        let __refs: ::std::vec::Vec<&$crate::Pattern> = __pats.iter().collect();
        let (__idx, __msg) = $mb.receive_match(&__refs);
        $crate::__receive_arms!(__idx, __msg; $($bind => $body),+)
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __receive_arms {
    ($idx:ident, $msg:ident; $($bind:ident => $body:expr),+) => {{
        let mut __msg = ::std::option::Option::Some($msg);
        let mut __i = 0usize;
        'arms: {
            $(
                if $idx == __i {
                    #[allow(unused_variables)]
                    let $bind: $crate::Value = __msg.take().expect("taken once");
                    break 'arms $body;
                }
                __i += 1;
            )+
            let _ = __i;
            unreachable!("receive! matched pattern index out of range")
        }
    }};
}

impl MailQueue {
    /// Are envelopes waiting that the owner has not pulled yet? (for `Node::info`; a snapshot)
    pub(crate) fn has_unread(&self) -> bool {
        !self.queue.is_empty()
    }
}

#[cfg(test)]
mod layout {
    use super::MailQueue;
    use std::mem::offset_of;

    /// The cache line (64 bytes) a field of a `MailQueue` starts on; `MailQueue` is aligned
    /// to at least 64 bytes (its queue's push end is cache-padded).
    fn line(offset: usize) -> usize {
        assert!(std::mem::align_of::<MailQueue>() >= 64);
        offset / 64
    }

    #[test]
    fn what_senders_touch_and_what_the_consumer_writes_are_on_separate_lines() {
        let send = line(offset_of!(MailQueue, wake));
        for (name, off, size) in [
            ("blockers", offset_of!(MailQueue, blockers), 32),
            ("limit", offset_of!(MailQueue, limit), 8),
            ("len", offset_of!(MailQueue, len), 8),
            ("room_waiters", offset_of!(MailQueue, room_waiters), 4),
            ("closed", offset_of!(MailQueue, closed), 1),
            ("trapping", offset_of!(MailQueue, trapping), 1),
        ] {
            assert_eq!((line(off), line(off + size - 1)), (send, send), "{name}");
        }
        let consumer = line(offset_of!(MailQueue, popped));
        assert_ne!(consumer, send);
        for (name, off) in [
            ("doomed", offset_of!(MailQueue, doomed)),
            ("status", offset_of!(MailQueue, status)),
            ("received", offset_of!(MailQueue, received)),
            ("saved", offset_of!(MailQueue, saved)),
        ] {
            assert_eq!(line(off), consumer, "{name}");
        }
        // No bigger than before the wake word (a cell per actor: the idle footprint).
        assert!(
            std::mem::size_of::<MailQueue>() <= 384,
            "{}",
            std::mem::size_of::<MailQueue>()
        );
        // The queue (its push and pop ends) ends before both.
        assert!(
            offset_of!(MailQueue, blockers)
                >= std::mem::size_of_val(&MailQueue::new(true, false).queue)
        );
    }
}

#[cfg(test)]
mod recycle {
    use super::*;

    /// Everything a reused queue's next owner could observe, as `MailQueue::new` leaves it
    /// for an actor.
    fn assert_as_new(q: &MailQueue) {
        assert!(!q.is_closed());
        assert!(!q.is_doomed());
        assert!(q.take_doom().is_empty());
        assert!(!q.has_unread());
        assert_eq!((q.queued(), q.delivered()), (0, 0));
        assert_eq!(q.received_and_saved(), (0, 0));
        assert_eq!(q.status(), Status::Running);
        assert_eq!(q.limit.load(Ordering::Relaxed), usize::MAX);
        assert_eq!(q.len.load(Ordering::Relaxed), 0);
        assert_eq!(q.room_waiters.load(Ordering::Relaxed), 0);
        assert_eq!(q.wake.load(Ordering::Relaxed), 0);
        assert!(q.blockers.iter().all(|b| b.get().is_none()));
        assert!(q.alarm_wake.take().is_none());
        assert!(q.rare().is_none());
    }

    #[test]
    fn a_queue_reset_for_reuse_keeps_nothing_of_its_last_owner() {
        let mut q = Box::new(MailQueue::new(true, false));
        q.set_limit(5);
        q.push(Envelope::Msg(json!("left unread"))).unwrap();
        q.push(Envelope::Signal(Box::new(Signal::Kill))).unwrap();
        assert!(q.is_doomed());
        q.set_status(Status::Receiving);
        q.received.store(7, Ordering::Relaxed);
        q.saved.store(2, Ordering::Relaxed);
        let _ = q.blocker();
        q.wake.fetch_or(WAIT_THREAD, Ordering::AcqRel);
        q.set_alarm(Some(Blocker::current()));
        q.rare().get_or_insert_default().room.push_back(RoomWaiter {
            ticket: 1,
            blocker: Blocker::current(),
            signalled: true,
        });
        q.room_waiters.store(1, Ordering::Relaxed);
        q.close();
        q.push(Envelope::Msg(json!("after close"))).unwrap_err();
        assert!(q.clear());
        assert_as_new(&q);
    }

    #[test]
    fn a_slot_is_set_up_for_its_new_owner_whatever_it_reuses() {
        // Dirty slots of both kinds go back to the stock...
        for killable in [true, false] {
            let s = QueueSlot::new(killable, !killable);
            s.push(Envelope::Msg(json!(1))).unwrap();
            s.set_trapping(killable);
            s.close();
        }
        // ...and whichever the next ones get, they are fresh and of their own kind.
        for killable in [false, true] {
            let s = QueueSlot::new(killable, !killable);
            assert_as_new(&s);
            assert_eq!(s.killable, killable);
            assert_eq!(s.call, !killable);
            assert_eq!(s.trapping.load(Ordering::Relaxed), !killable);
        }
    }
}

#[cfg(test)]
mod room {
    use super::*;
    use std::sync::mpsc;

    /// Several pushers (plain threads and coroutines) waiting on one bounded mailbox whose
    /// consumer is slow: every waiter is woken in turn, so none gives up while the consumer
    /// keeps draining, and each pusher's messages arrive in its order. (With a single
    /// waiter slot, a second waiter overwrote the first one's wake-up, which then slept
    /// until its deadline and dropped its message.)
    #[test]
    fn every_waiting_pusher_is_woken_in_turn_and_none_drops() {
        const PUSHERS: usize = 8;
        const EACH: usize = 150;
        let q = Arc::new(MailQueue::new(true, false));
        q.set_limit(2);
        let (done_tx, done_rx) = mpsc::channel::<(usize, usize)>();
        for p in 0..PUSHERS {
            let (q, done) = (q.clone(), done_tx.clone());
            let work = move || {
                let mut failed = 0;
                for i in 0..EACH {
                    // Far longer than the consumer needs to serve every pusher once.
                    let env = Envelope::Msg(json!([p, i]));
                    if q.push_waiting(env, Duration::from_secs(20)).is_err() {
                        failed += 1;
                    }
                }
                let _ = done.send((p, failed));
            };
            if p % 2 == 0 {
                std::thread::spawn(work);
            } else {
                crate::actor::go(work).expect("a coroutine");
            }
        }
        drop(done_tx);
        // The consumer: one message about every millisecond.
        let mut next = [0usize; PUSHERS];
        let deadline = Instant::now() + Duration::from_secs(60);
        for _ in 0..PUSHERS * EACH {
            std::thread::sleep(Duration::from_millis(1));
            let Popped::Env(Envelope::Msg(v)) = q.pop_wait(Some(deadline), None) else {
                panic!("a message before the deadline (got {next:?} so far)");
            };
            let (p, i) = (
                v[0].as_u64().unwrap() as usize,
                v[1].as_u64().unwrap() as usize,
            );
            assert_eq!(i, next[p], "pusher {p}'s messages in order");
            next[p] += 1;
        }
        for _ in 0..PUSHERS {
            let (p, failed) = done_rx
                .recv_timeout(Duration::from_secs(30))
                .expect("every pusher ends");
            assert_eq!(failed, 0, "pusher {p} gave up on {failed} messages");
        }
        assert_eq!(q.room_waiters.load(Ordering::SeqCst), 0);
        assert!(q.rare().as_ref().is_none_or(|r| r.room.is_empty()));
    }

    /// A waiter that gives up (its deadline passes) leaves the queue, and the next waiter
    /// still gets the next free place.
    #[test]
    fn a_waiter_that_gives_up_leaves_the_queue() {
        let q = Arc::new(MailQueue::new(true, false));
        q.set_limit(1);
        q.push(Envelope::Msg(json!(0))).unwrap();
        // Times out: nobody drains.
        assert!(
            q.push_waiting(Envelope::Msg(json!(1)), Duration::from_millis(20))
                .is_err()
        );
        assert_eq!(q.room_waiters.load(Ordering::SeqCst), 0);
        let (tx, rx) = mpsc::channel();
        let q2 = q.clone();
        std::thread::spawn(move || {
            let _ = tx.send(
                q2.push_waiting(Envelope::Msg(json!(2)), Duration::from_secs(20))
                    .is_ok(),
            );
        });
        // Once the second waiter is queued, free the place.
        let until = Instant::now() + Duration::from_secs(20);
        while q.room_waiters.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < until, "the waiter queues");
            std::thread::yield_now();
        }
        let Popped::Env(Envelope::Msg(v)) = q.pop_wait(Some(until), None) else {
            panic!("the first message");
        };
        assert_eq!(v, json!(0));
        assert!(
            rx.recv_timeout(Duration::from_secs(20))
                .expect("the waiter ends")
        );
        let Popped::Env(Envelope::Msg(v)) = q.pop_wait(Some(until), None) else {
            panic!("the waiter's message");
        };
        assert_eq!(v, json!(2));
    }
}
