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
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::{Duration, Instant};

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
    /// When the cell was made (for `Node::info`'s age): nanoseconds since [`epoch`], 8 bytes
    /// where an `Instant` takes 16 (see "Size" below).
    born: u64,
    /// The type name of the function an actor runs (`std::any::type_name`, as a function:
    /// 8 bytes where the name takes 16); unset for inboxes (see `observe.rs`). Set when the
    /// cell is made (a `OnceLock` set at spawn cost ~80 instructions a spawn).
    runs: Option<fn() -> &'static str>,
}

// Size. Every idle actor holds its cell, so its bytes are the actor's: 168 bytes, 184 with
// the `Arc`'s counts, a 192-byte block of glibc's malloc (it was 256, a 288-byte block, before
// the tables most actors never use became [`Lazy`] and `born` and `runs` shrank to a word).
// Nothing in a cell is padded to a cache line (the mail queue is, apart: `QueueSlot`).
const _: () = assert!(std::mem::size_of::<ActorCell>() <= 168);

/// The instant `born` counts from: the first cell's.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// A table that costs one pointer until something is put in it: most actors never link, are
/// never monitored and have no name, and an empty `HashSet` alone took 48 bytes of every cell.
/// Reading an empty one allocates nothing (it reads a shared empty table); the first write
/// through `DerefMut` boxes a default one. The methods named like the table's own (`remove`,
/// `retain`, `take`, `is_empty`...) never allocate, so an actor with nothing to remove does
/// not get a table by removing.
pub(crate) struct Lazy<T>(Option<Box<T>>);

impl<T> Default for Lazy<T> {
    fn default() -> Self {
        Lazy(None)
    }
}

/// A table type with a shared empty value for [`Lazy`] to read.
pub(crate) trait Empty: Default + 'static {
    fn empty() -> &'static Self;
}

impl Empty for HashSet<Address> {
    fn empty() -> &'static Self {
        static EMPTY: LazyLock<HashSet<Address>> = LazyLock::new(HashSet::new);
        &EMPTY
    }
}

impl Empty for Vec<(Ref, Address)> {
    fn empty() -> &'static Self {
        static EMPTY: Vec<(Ref, Address)> = Vec::new();
        &EMPTY
    }
}

impl Empty for Option<String> {
    fn empty() -> &'static Self {
        &None
    }
}

impl<T: Empty> Deref for Lazy<T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.0 {
            Some(t) => t,
            None => T::empty(),
        }
    }
}

impl<T: Empty> DerefMut for Lazy<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.get_or_insert_with(Box::default)
    }
}

impl<T: Empty> Lazy<T> {
    /// The table, if anything was ever put in it.
    fn get_mut(&mut self) -> Option<&mut T> {
        self.0.as_deref_mut()
    }

    /// The table by value (an empty one if never written).
    pub(crate) fn into_inner(self) -> T {
        self.0.map(|b| *b).unwrap_or_default()
    }
}

impl Lazy<HashSet<Address>> {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|t| t.is_empty())
    }

    pub(crate) fn remove(&mut self, a: &Address) -> bool {
        self.get_mut().is_some_and(|t| t.remove(a))
    }
}

impl Lazy<Vec<(Ref, Address)>> {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|t| t.is_empty())
    }

    pub(crate) fn retain(&mut self, keep: impl FnMut(&(Ref, Address)) -> bool) {
        if let Some(t) = self.get_mut() {
            t.retain(keep);
        }
    }
}

impl Lazy<Option<String>> {
    pub(crate) fn take(&mut self) -> Option<String> {
        self.get_mut().and_then(Option::take)
    }
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
    pub(crate) links: Lazy<HashSet<Address>>,
    /// Monitors placed on this actor: (reference, watcher).
    pub(crate) monitors: Lazy<Vec<(Ref, Address)>>,
    /// Registered name, removed from the registry at exit.
    pub(crate) name: Lazy<Option<String>>,
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
        runs: Option<fn() -> &'static str>,
    ) -> Self {
        // The clock first: with no call left after the queue's allocation, the cell is
        // built where the caller wants it (not in a temporary copied over: 2 copies of 544
        // bytes a spawn).
        let born = Instant::now().saturating_duration_since(epoch()).as_nanos() as u64;
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

    /// The type name of the function the actor runs; `None` for an inbox.
    pub(crate) fn runs(&self) -> Option<&'static str> {
        self.runs.map(|name| name())
    }

    /// How long ago the cell was made.
    pub(crate) fn age(&self) -> Duration {
        epoch()
            .elapsed()
            .saturating_sub(Duration::from_nanos(self.born))
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
            (!st.links.is_empty()).then(|| HashSet::clone(&st.links))
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
        for l in links.into_inner() {
            let _ = l.deliver(Envelope::Signal(Box::new(Signal::Exit {
                from: me.clone(),
                reason: reason.clone(),
                linked: true,
            })));
        }
        for (reference, watcher) in monitors.into_inner() {
            let _ = watcher.deliver(Envelope::Signal(Box::new(Signal::Down {
                reference,
                from: me.clone(),
                reason: reason.clone(),
            })));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Mesh, Node};

    fn some_address() -> Address {
        let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
        node.inbox().addr()
    }

    /// Reading, removing from or emptying a table never written allocates nothing; the
    /// first write does, and what was written reads back.
    #[test]
    fn a_lazy_table_is_boxed_only_when_written() {
        let a = some_address();
        let mut st = CellState::default();
        let unboxed =
            |st: &CellState| st.links.0.is_none() && st.monitors.0.is_none() && st.name.0.is_none();
        assert!(st.links.is_empty() && st.links.iter().next().is_none());
        assert!(!st.links.remove(&a));
        assert!(unboxed(&st), "removing a link boxed the table");
        st.monitors.retain(|_| false);
        assert_eq!(st.monitors.len(), 0);
        assert!(st.monitors.is_empty());
        assert!(unboxed(&st), "a demonitor boxed the table");
        assert_eq!(st.name.take(), None);
        assert!(st.name.is_none());
        assert!(unboxed(&st), "taking the name boxed it");
        assert!(std::mem::take(&mut st.links).into_inner().is_empty());
        assert!(unboxed(&st));
        assert!(st.links.insert(a.clone()));
        assert!(st.links.0.is_some() && !st.links.is_empty());
        assert!(st.links.contains(&a));
        assert!(st.links.remove(&a) && st.links.is_empty());
        assert_eq!(st.name.replace("n".into()), None);
        assert_eq!(st.name.clone(), Some("n".to_string()));
        assert_eq!(st.name.take(), Some("n".to_string()));
        assert!(st.name.is_none());
    }

    /// An actor that never links, is never monitored and has no name holds no table, and
    /// its age counts from its spawn.
    #[test]
    fn a_plain_actor_holds_no_tables() {
        let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
        let t0 = Instant::now();
        let a = node.spawn(|mut mb| {
            mb.receive();
        });
        let cell = node.cell(a.id()).unwrap();
        {
            let st = cell.lock();
            assert!(st.links.0.is_none() && st.monitors.0.is_none() && st.name.0.is_none());
        }
        assert!(cell.runs().unwrap().contains("{{closure}}"));
        assert!(cell.age() <= t0.elapsed());
        a.send("end").unwrap();
        node.wait(&a).unwrap();
    }
}
