//! The queue: the shared, producer side of a mailbox ([`MailQueue`]) and the recycled box
//! it lives in ([`QueueSlot`]).
//!
//! Separate from the receive API (`mod.rs`) because every sender touches it, on any
//! worker, while only the owner receives: its layout, its counters and its reuse are a
//! concern of their own. The waiting (`wait.rs`), the deadly signals (`doom.rs`) and the
//! bound (`bounded.rs`) add their methods to it from their own files.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use may::queue::mpsc_list::Queue;
use may::sync::{AtomicOption, Blocker};

use super::bounded::RoomWaiter;
use super::wait::{PUSHED, WAITING};
use super::{Envelope, Signal};
use crate::observe::Status;

/// The shared, producer side of a mailbox.
///
/// Deadly signals skip the queue. A kill, or an abnormal exit signal to an actor that does
/// not trap exits, ends the actor whatever else is queued (Erlang's semantics: the signal
/// acts when it arrives, not when the actor gets round to reading), so [`push`](Self::push)
/// puts it aside in `doom`, raises the `doomed` flag and wakes the actor wherever pyact has
/// parked it. Every pyact call the actor makes checks that flag (one atomic load) and ends
/// the actor (see `context::checkpoint`). [`Mailbox::unlink`] removes a pending signal of
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
    pub(super) queue: Queue<Envelope>,
    // --- What a send touches (one cache line).
    /// The consumer's blockers, one per kind of context it parks in (coroutine, thread),
    /// made at its first park and kept, so that a sender can unpark one without taking it
    /// out of a slot (and a receive allocates none). They live as long as the cell: an
    /// actor's runner lets go of its cell inside the coroutine (see `actor::start`), as
    /// `may` cannot drop a coroutine blocker in the teardown of a coroutine that was
    /// resumed from inside its own park.
    pub(super) blockers: [OnceLock<Arc<Blocker>>; 2],
    /// Envelopes pushed (`wake / PUSHED`) and the consumer's waiting bits: see [`WAIT_CO`].
    pub(super) wake: AtomicU64,
    /// Most user messages queued at once (`usize::MAX`: unbounded), see
    /// [`SpawnOptions::mailbox_limit`](crate::SpawnOptions::mailbox_limit).
    pub(super) limit: AtomicUsize,
    /// User messages queued or being queued (counted only when bounded; see the module
    /// docs for why this is not derived from `wake`).
    pub(super) len: AtomicUsize,
    /// Pushers queued for room (bounded mailboxes only; see `room`): the consumer of a
    /// bounded mailbox reads this count per message instead of locking `room`. Written
    /// only under `room`'s lock, as the queue's length.
    pub(super) room_waiters: AtomicU32,
    pub(super) closed: AtomicBool,
    /// Mirror of the owner's `trap_exit`, read by senders to classify exit signals.
    pub(super) trapping: AtomicBool,
    // --- What the consumer writes per message, or reads per pyact call (one cache line;
    // a `u64` first, so that it starts on the next line).
    /// Envelopes the consumer popped. Single writer (the consumer): a plain load + store.
    pub(super) popped: AtomicU64,
    /// Messages the owner took out of the queue (its `Mailbox::seq`), mirrored by the
    /// consumer for `Node::info`.
    pub(super) received: AtomicU64,
    /// Length of the owner's save queue, mirrored by the consumer for `Node::info`.
    pub(super) saved: AtomicUsize,
    /// What the owner is doing, an [`observe::Status`](crate::observe::Status) as a `u8`:
    /// written only around a park (never per message), read by `Node::info`.
    pub(super) status: AtomicU8,
    /// A deadly signal is waiting in `doom`.
    pub(super) doomed: AtomicBool,
    /// An actor's queue (an inbox cannot be unwound: every signal becomes a message).
    pub(super) killable: bool,
    /// A call's throwaway mailbox: parking on it means "waiting in a call".
    pub(super) call: bool,
    /// The pending deadly signals, the pushers waiting for room and a dormant owner's job:
    /// all rare, so boxed together behind one lock, made when first needed (8 bytes in every cell: it stays
    /// within 384 bytes).
    pub(super) rare: Mutex<Option<Box<Rare>>>,
    // --- Rarely used.
    /// The actor parked elsewhere than in its own receive (a call, a wait, a sleep...).
    pub(super) alarm_wake: AtomicOption<Arc<Blocker>>,
}

/// The rarely used parts of a [`MailQueue`] (see its `rare`).
#[derive(Default)]
pub(super) struct Rare {
    /// The pending deadly signals, oldest first.
    pub(super) doom: Vec<Signal>,
    /// The pushers waiting for room, in arrival order (bounded mailboxes only). See
    /// [`MailQueue::push_waiting`].
    pub(super) room: VecDeque<RoomWaiter>,
    /// The owner's job while it waits for its first envelope (see `dormant.rs`).
    pub(super) job: Option<crate::actor::ActorJob>,
}

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

    pub(super) fn rare(&self) -> MutexGuard<'_, Option<Box<Rare>>> {
        // Every change under this lock is one push, take or removal: none is left half made.
        self.rare.lock().unwrap_or_else(|p| p.into_inner())
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

    /// Are envelopes waiting that the owner has not pulled yet? (for `Node::info` and the
    /// pool's "Mail first"; a snapshot, exact once sends and receives have returned, as
    /// [`queued`](Self::queued)). From the counters, not the queue's `is_empty`: that reads
    /// the consumer's end without an atomic, a data race with a consumer popping meanwhile.
    pub(crate) fn has_unread(&self) -> bool {
        self.queued() > 0
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
    use crate::mailbox::wait::WAIT_THREAD;
    use serde_json::json;

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
