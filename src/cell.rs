//! An actor's cell: the part of an actor that others reach (its mailbox, links, monitors,
//! waiters, exit record), and what happens to it when the actor ends.
//!
//! Separate from `actor.rs`, which runs the coroutine: a cell outlives its coroutine (an
//! address keeps it), inboxes of plain threads have one with no coroutine at all, and every
//! link, monitor and wait is an edit of a cell under its lock.

use crate::link::Ref;
use crate::mailbox::{Envelope, QueueSlot, Signal};
use crate::{Address, ExitReason, Node};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The part of an actor others can reach.
pub(crate) struct ActorCell {
    pub(crate) id: u64,
    pub(crate) node_id: Arc<str>,
    /// The creation number of its node's start (see [`Address::creation`]).
    pub(crate) creation: u32,
    pub(crate) queue: QueueSlot,
    pub(crate) state: Mutex<CellState>,
    /// A call's throwaway mailbox: its end is not worth an exit record.
    pub(crate) ephemeral: bool,
    /// When the cell was made (for `Node::info`'s age).
    pub(crate) born: std::time::Instant,
    /// The type name of the function an actor runs; unset for inboxes (see `observe.rs`).
    /// Set when the cell is made (a `OnceLock` set at spawn cost ~80 instructions a spawn).
    pub(crate) runs: Option<&'static str>,
}

/// Someone waiting for an actor's end.
pub(crate) enum Waiter {
    /// A local `wait` (actor or plain thread), parked so that an exit signal still reaches a
    /// waiting actor: woken, it reads the reason from the cell's `exit` (no slot of its own
    /// to allocate).
    Park(Arc<may::sync::Blocker>),
    /// A peer's remote wait: a table entry, not a coroutine. `key` (connection serial,
    /// request id) finds it again when the connection ends; `reply` queues the answer.
    Remote {
        key: (u64, u64),
        reply: Box<dyn FnOnce(&ExitReason) + Send>,
    },
}

impl Waiter {
    /// Is this the remote wait `req` of connection `serial`?
    pub(crate) fn is_remote(&self, serial: u64, req: u64) -> bool {
        matches!(self, Waiter::Remote { key, .. } if *key == (serial, req))
    }

    /// Is this the local wait parked on the blocker at `me` (`Arc::as_ptr`, compared only)?
    pub(crate) fn is_park(&self, me: *const may::sync::Blocker) -> bool {
        matches!(self, Waiter::Park(b) if std::ptr::eq(Arc::as_ptr(b), me))
    }

    /// Tell the waiter the actor ended. `reason` is `None` only when no waiter is remote
    /// (see `ActorCell::finish`): a parked waiter reads the reason from the cell.
    fn fire(self, reason: Option<&ExitReason>) {
        match self {
            Waiter::Park(b) => b.unpark(),
            Waiter::Remote { reply, .. } => match reason {
                Some(r) => reply(r),
                None => unreachable!("finish copies the reason for remote waiters"),
            },
        }
    }
}

/// Who waits for an actor's end: each waiter in a slot of its own, so that one that gives
/// up (an actor killed while blocked in `wait`, a peer's connection that closed) leaves in
/// O(1) by its slot number instead of a scan of the list, and no entry outlives its
/// waiter. Empty, it holds no allocation.
#[derive(Default)]
pub(crate) struct Waiters {
    slots: Vec<Option<Waiter>>,
    /// Empty slots below the last one, reused first.
    free: Vec<usize>,
}

impl Waiters {
    /// Add a waiter; its slot number, for [`Waiters::remove_if`].
    pub(crate) fn push(&mut self, w: Waiter) -> usize {
        match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(w);
                i
            }
            None => {
                self.slots.push(Some(w));
                self.slots.len() - 1
            }
        }
    }

    /// Remove the waiter in slot `i` if `is_it` says it is the caller's (a slot is only
    /// ever removed by its owner, the check guards against a slot reused after all).
    pub(crate) fn remove_if(&mut self, i: usize, is_it: impl FnOnce(&Waiter) -> bool) -> bool {
        let Some(slot) = self.slots.get_mut(i) else {
            return false;
        };
        if !slot.as_ref().is_some_and(is_it) {
            return false;
        }
        *slot = None;
        if self.len() == 0 {
            // Give the memory back: a long-lived actor once waited on by thousands.
            *self = Waiters::default();
        } else if i + 1 == self.slots.len() {
            self.slots.pop();
        } else {
            self.free.push(i);
        }
        true
    }

    /// Waiters in the table.
    pub(crate) fn len(&self) -> usize {
        // Every slot holds a waiter but the free ones.
        self.slots.len() - self.free.len()
    }

    /// Is any of them a peer's remote wait?
    fn any_remote(&self) -> bool {
        self.len() > 0
            && self
                .slots
                .iter()
                .any(|w| matches!(w, Some(Waiter::Remote { .. })))
    }

    /// Every waiter, emptying the table.
    fn drain(self) -> impl Iterator<Item = Waiter> {
        self.slots.into_iter().flatten()
    }
}

/// What others may change about an actor, guarded by one short-held lock.
#[derive(Default)]
pub(crate) struct CellState {
    /// Set once, when the actor ends.
    pub(crate) exit: Option<ExitReason>,
    /// Who waits for the end: blocked `wait`s and peers' remote waits.
    pub(crate) waiters: Waiters,
    /// Linked actors (bidirectional: each side records the other).
    pub(crate) links: HashSet<Address>,
    /// Monitors placed on this actor: (reference, watcher).
    pub(crate) monitors: Vec<(Ref, Address)>,
    /// Registered name, removed from the registry at exit.
    pub(crate) name: Option<String>,
}

impl ActorCell {
    /// A cell for an actor running a function of type `runs` (its coroutine can be unwound
    /// by an exit signal) or, with `runs` unset, for an inbox.
    #[inline(never)]
    pub(crate) fn new(
        id: u64,
        node_id: Arc<str>,
        creation: u32,
        ephemeral: bool,
        runs: Option<&'static str>,
    ) -> Self {
        // The clock first: with no call left after the queue's allocation, the cell is
        // built where the caller wants it (not in a temporary copied over: 2 copies of 544
        // bytes a spawn).
        let born = std::time::Instant::now();
        ActorCell {
            id,
            node_id,
            creation,
            queue: QueueSlot::new(runs.is_some(), ephemeral),
            state: Mutex::new(CellState::default()),
            ephemeral,
            born,
            runs,
        }
    }

    /// Lock the state; a panic elsewhere never leaves it inconsistent (every critical
    /// section is a few field updates), so a poisoned lock is simply taken over.
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, CellState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An address for this cell.
    pub(crate) fn address(self: &Arc<Self>) -> Address {
        Address::with_creation(
            self.node_id.clone(),
            self.id,
            self.creation,
            Arc::downgrade(self),
        )
    }

    /// Drop a link (the other side ended or unlinked).
    pub(crate) fn forget_link(&self, other: &Address) {
        self.lock().links.remove(other);
    }

    /// Take the pending deadly exit signals (see [`MailQueue::push`]) and return the reason
    /// the first one ends this actor with, or `None` if none is pending (or `unlink`
    /// cancelled them).
    pub(crate) fn take_doom(&self) -> Option<ExitReason> {
        for sig in self.queue.take_doom() {
            match sig {
                Signal::Kill => return Some(ExitReason::Killed),
                Signal::Exit {
                    from,
                    reason,
                    linked: true,
                } => {
                    self.forget_link(&from);
                    return Some(crate::mailbox::linked_exit(from, reason));
                }
                Signal::Exit { reason, .. } => return Some(reason),
                Signal::Down { .. } => {}
            }
        }
        None
    }

    /// Record the end of the actor and tell everyone who asked. Idempotent.
    pub(crate) fn finish(self: &Arc<Self>, node: &Node, reason: ExitReason) {
        let dropped = self.queue.close();
        // Peers' tables drop the link before anyone can see this actor as ended (that is
        // `record_exit`, below), not when (if ever) the peer handles the signal: a `wait` on
        // it that returns finds its peers unlinked, and a long-lived peer does not collect
        // entries of ended actors. Links made meanwhile are dropped after, with the signals.
        let linked = {
            let st = self.lock();
            (!st.links.is_empty()).then(|| st.links.clone())
        };
        if let Some(linked) = &linked {
            let me = self.address();
            for l in linked {
                crate::link::forget_ended_link(l, &me);
            }
        }
        // The reason, the name, the live-table entry and the exit record change together
        // (see `Node::record_exit`): whoever sees the actor ended sees it uncounted, unnamed.
        // The reason moves into the cell; a copy comes back only if something below reads
        // it (a plain actor's end, with local waiters at most, copies it once: its record).
        let debug = log::log_enabled!(log::Level::Debug);
        let ephemeral = self.ephemeral;
        let taken = node.record_exit(self, reason, !ephemeral, |st| {
            let needed =
                debug || !st.links.is_empty() || !st.monitors.is_empty() || st.waiters.any_remote();
            (
                std::mem::take(&mut st.waiters),
                std::mem::take(&mut st.links),
                std::mem::take(&mut st.monitors),
                needed.then(|| st.exit.clone()).flatten(),
            )
        });
        let Some((waiters, links, monitors, reason)) = taken else {
            return;
        };
        let (node_id, id) = (&self.node_id, self.id);
        if dropped > 0 {
            log::debug!("{node_id}/{id} ended with {dropped} unread message(s), dropped");
        }
        match &reason {
            Some(ExitReason::Normal(_)) => log::debug!("{node_id}/{id} exited normally"),
            Some(other) => log::debug!("{node_id}/{id} exited: {other}"),
            None => {}
        }
        // Links made since the first pass (a peer that linked as this actor was ending).
        let late = links
            .iter()
            .filter(|l| !linked.as_ref().is_some_and(|e| e.contains(*l)));
        let mut late = late.peekable();
        if late.peek().is_some() {
            let me = self.address();
            for l in late {
                crate::link::forget_ended_link(l, &me);
            }
        }
        for w in waiters.drain() {
            w.fire(reason.as_ref());
        }
        crate::distribution::Distribution::actor_ended(&node.0.dist, node, id);
        let Some(reason) = reason else {
            // Nothing below reads the reason: no links, no monitors.
            return;
        };
        if links.is_empty() && monitors.is_empty() {
            return;
        }
        let me = self.address();
        for l in links {
            let _ = l.deliver(Envelope::Signal(Box::new(Signal::Exit {
                from: me.clone(),
                reason: reason.clone(),
                linked: true,
            })));
        }
        for (reference, watcher) in monitors {
            let _ = watcher.deliver(Envelope::Signal(Box::new(Signal::Down {
                reference,
                from: me.clone(),
                reason: reason.clone(),
            })));
        }
    }
}
