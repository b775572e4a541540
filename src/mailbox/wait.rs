//! The waiting: how the owner of a mailbox parks until a message (or a deadly signal, or
//! its deadline) arrives, and how a sender wakes it.
//!
//! Separate from the queue because it is the one subtle protocol of the mailbox (one atomic
//! word for counting and for "is anyone to wake?"), and it deserves to be read on its own.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use may::sync::Blocker;

use super::{Envelope, MailQueue};
use crate::actor::ActorCell;
use crate::observe::Status;

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
///
/// An actor spawned to start on its first message waits the same way before it has a
/// coroutine at all: its bit is [`WAIT_JOB`], set when it is made, and the sender that
/// clears it starts the actor (see `dormant.rs`).
pub(super) const WAIT_CO: u64 = 1;
/// See [`WAIT_CO`].
pub(super) const WAIT_THREAD: u64 = 2;
/// The owner has not started: its job waits in the queue for the first envelope (see
/// `dormant.rs`). Set only by `MailQueue::hold_until_first`, before the
/// actor's address is handed out.
pub(super) const WAIT_JOB: u64 = 4;
/// Any waiting bit.
pub(super) const WAITING: u64 = WAIT_CO | WAIT_THREAD | WAIT_JOB;
/// One envelope in the count of the `wake` word.
pub(super) const PUSHED: u64 = 8;

impl MailQueue {
    /// The consumer is waiting: clear its bits and unpark the blocker(s) whose bit this call
    /// cleared (a concurrent sender that cleared it first does the waking), or start the
    /// owner if it has not started yet ([`WAIT_JOB`]).
    #[inline]
    pub(super) fn wake_consumer(&self) {
        let bits = self.wake.fetch_and(!WAITING, Ordering::AcqRel) & WAITING;
        if bits & WAIT_JOB != 0 {
            self.start_held();
            return;
        }
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
    pub(super) fn blocker(&self) -> (&Arc<Blocker>, u64) {
        let (i, bit) = if may::coroutine::is_coroutine() {
            (0, WAIT_CO)
        } else {
            (1, WAIT_THREAD)
        };
        (self.blockers[i].get_or_init(Blocker::current), bit)
    }

    /// Consumer only: take the next envelope, parking until one arrives or `deadline` passes.
    /// `watch_cell`: the running actor's cell, if any: a deadly signal for it ends the wait
    /// (`Popped::Doomed`), whether this is its own mailbox or one it uses (a call's).
    pub(super) fn pop_wait(
        &self,
        deadline: Option<Instant>,
        watch_cell: Option<&ActorCell>,
    ) -> Popped {
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
}

/// The watched actor's mail queue (see [`watched`]), reached through its cell's
/// [`QueueSlot`] once per receive step rather than at every check.
#[inline]
pub(super) fn watched_queue<'a>(
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
pub(super) fn watched<'a>(
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
pub(super) enum Popped {
    Env(Envelope),
    Timeout,
    /// A deadly signal is pending for the running actor.
    Doomed,
}
