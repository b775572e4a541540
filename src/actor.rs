//! Actors: a `may` coroutine running a function that owns a [`Mailbox`].
//!
//! `ActorCell` is the part of an actor other actors can reach (through its [`Address`]):
//! its mail queue and the small state that others update (links, monitors, waiters). The
//! actor's own state lives on its coroutine's stack, reachable by nothing but messages.
//!
//! Life of an actor:
//! 1. `spawn` checks the live-actor limit, allocates the cell, registers it in its node's
//!    table and starts a coroutine with the configured stack.
//! 2. The coroutine runs the user function under `catch_unwind`; the function's return value
//!    becomes the [`ExitReason`] (`IntoExit`), a panic becomes
//!    [`ExitReason::Panicked`] with the panic message (reported once: with `log::error!`, or
//!    on stderr when no logger would show it; see `panic.rs`), and an exit signal unwinds the coroutine with its reason.
//! 3. `ActorCell::finish` closes the mailbox (later sends report
//!    [`SendError::DeadActor`](crate::SendError::DeadActor)), records the reason for late
//!    waiters, drops the actor from its local peers' link tables, and notifies waiters, links
//!    and monitors, in that order.
//!
//! ## Where a kill acts
//!
//! A kill, or an exit signal that ends the actor, acts when it *arrives* (Erlang's rule): it
//! is set aside by the mailbox (see `MailQueue`) and the actor ends at its next pyact call
//! — send, spawn, receive, call, wait, [`sleep`](crate::sleep),
//! [`yield_now`](crate::yield_now), [`blocking`](crate::blocking()) — or at once if it is
//! parked in one. A [`pyact::net`](crate::net) socket call checks too, before and after it
//! parks, but a park on a socket is not cut short: the kill lands when the call returns.
//! The check costs one atomic load. Rust code cannot be preempted, so an actor busy without
//! any pyact call ends when it makes one.
//!
//! ## Stack overflow: the process aborts, naming the actor
//!
//! What happens underneath (`generator` 0.8, under `may` 0.3): every coroutine stack has a
//! guard page; a fault on it enters `generator`'s SIGSEGV handler, which prints "coroutine
//! has overflowed its stack" and switches straight back to the scheduler. The overflowed
//! frames are abandoned, never unwound: nothing on them is dropped (locks stay locked,
//! borrows lent to other threads stay live) and `may` recycles the stack. The actor's code
//! never returns, so without pyact it became a zombie: `wait` hung, links and monitors never
//! fired, its live slot leaked.
//!
//! Ending it with a typed reason instead cannot be made sound: its frames may hold a lock, a
//! `RefCell` borrow or a reference lent to a scoped thread, and their memory is reused. So
//! pyact aborts the process at once, with a message (stderr and `log::error!`) naming the
//! actor's address and registered name: a crash you can see beats a node that silently
//! rots. How it is noticed: `may` drops the coroutine's local storage when it recycles the
//! coroutine; pyact's context lives there and aborts if its actor never finished. Size the
//! stack with [`Config::stack_size`](crate::Config::stack_size) or make deep recursion
//! iterative.
//!
//! ## Rules for actor code
//!
//! Actors share a few worker threads and Rust code cannot be preempted, so what an actor does
//! between pyact calls holds its worker. The rules:
//!
//! | instead of (blocks the whole worker) | use (parks only the actor) |
//! |---|---|
//! | `std::thread::sleep(d)` | `pyact::sleep(d)` |
//! | `std::net::TcpListener` / `TcpStream` | `pyact::net::TcpListener` / `TcpStream`: the same API ([`crate::net`]) |
//! | a blocking `std` call: file I/O, a blocking socket, a `std` lock or channel, a C library | `pyact::blocking(move \|\| call())`: runs on a helper thread pool (at most `Config::blocking_threads` \[512\] threads; more calls queue), returns its result |
//! | a long computation with no pyact call | call `pyact::yield_now()` every so often |
//! | waiting for another actor by polling | `receive`, `node.wait(&a)`, `addr.call(..)` |
//!
//! - **Kills act at every pyact call.** A kill (or an exit signal that ends the actor) acts
//!   when it arrives: the actor ends at its next send, spawn, receive, call, wait, `sleep`,
//!   `yield_now` or `blocking`, or at once if it is parked in one (a `pyact::net` socket call:
//!   when it returns). An actor that makes no pyact call cannot be ended: its supervisor gives
//!   up on it after `KILL_TIMEOUT` and logs it.
//! - **The watchdog** logs (`warn!`, once per incident) an actor that holds its worker longer
//!   than `Config::watchdog` (default 100 ms), naming its address. `None` turns it off.
//! - **A busy actor does not strand others**: idle workers take over what was queued behind
//!   it (pyact runs a patched `may`, `vendor/may/PYACT-PATCH.md`), but it does hold one worker.
//! - **Panics** end only the actor that panicked (`ExitReason::Panicked`) and are reported
//!   once with the actor's address, registered name and message: through `log::error!`, or
//!   on stderr when no logger would show it (none installed, or it drops pyact's errors).
//!   Rust's panic hook output is suppressed for actor panics only (your own hook is chained
//!   and still sees every other panic); `Config::panic_output(true)` keeps it.
//! - **Stack overflow aborts the process**, with a message naming the actor: `may` abandons an
//!   overflowed coroutine's frames without unwinding them, so no actor can end cleanly from
//!   there (above). Raise `Config::stack_size` or make deep recursion iterative.
//! - Do not hold a `thread_local!` reference across a pyact call: the actor may resume on
//!   another worker thread.
//! - `pyact::sleep`, `yield_now` and `blocking` also work in plain threads (where they simply
//!   sleep, yield and call).
//!
//! Sockets: [`pyact::net`](crate::net) (the same API as `std::net`; never crates.io `may`'s).

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::mailbox::{Envelope, QueueSlot, Signal};
use crate::{Address, ExitReason, IntoExit, Mailbox, Node, Ref, SpawnError};

/// Struct-based actors, the seed's "subclass `Actor`".
///
/// ```
/// use pyact::{Actor, Mailbox, Mesh, Node};
/// struct Counter { total: i64 }
/// impl Actor for Counter {
///     fn run(mut self, mut mailbox: Mailbox) -> impl pyact::IntoExit {
///         loop {
///             match mailbox.receive() {
///                 serde_json::Value::Number(n) => self.total += n.as_i64().unwrap_or(0),
///                 _ => return serde_json::json!(self.total),
///             }
///         }
///     }
/// }
/// let node = Node::new(&Mesh::new(), "c@localhost:0").unwrap();
/// let addr = node.spawn_actor(Counter { total: 0 });
/// for n in 1..=4 { (&addr | n).unwrap(); }
/// (&addr | "stop").unwrap();
/// assert_eq!(node.wait(&addr).unwrap(), 10);
/// ```
pub trait Actor: Send + 'static {
    /// The actor's body; its return value becomes the exit reason.
    ///
    /// ```
    /// use pyact::{Actor, Mailbox};
    /// struct Greeter { greeting: String } // state moves into the actor
    /// impl Actor for Greeter {
    ///     fn run(self, mut mb: Mailbox) -> impl pyact::IntoExit {
    ///         format!("{} {}", self.greeting, mb.receive().as_str().unwrap_or("?"))
    ///     }
    /// }
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let g = node.spawn_actor(Greeter { greeting: "hello".into() });
    /// g.send("ann").unwrap();
    /// assert_eq!(node.wait(&g).unwrap(), "hello ann");
    /// ```
    fn run(self, mailbox: Mailbox) -> impl IntoExit;
}

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

/// The payload an exit signal unwinds an actor's coroutine with.
pub(crate) struct ExitUnwind(pub(crate) ExitReason);

/// Turn a caught panic payload into an exit reason.
fn reason_from_panic(payload: Box<dyn Any + Send>) -> ExitReason {
    let payload = match payload.downcast::<ExitUnwind>() {
        Ok(exit) => return exit.0,
        Err(p) => p,
    };
    if let Some(s) = payload.downcast_ref::<&str>() {
        ExitReason::Panicked((*s).to_string())
    } else if let Some(s) = payload.downcast_ref::<String>() {
        ExitReason::Panicked(s.clone())
    } else {
        ExitReason::Panicked("non-string panic payload".to_string())
    }
}

/// An actor panicked: reported once, with its address, registered name and message (the
/// panic hook's output is suppressed for actor panics, see [`crate::panic`]). Through
/// `log::error!` when that reaches a logger; otherwise on stderr (see `panic::visible`).
#[cold]
fn report_panic(cell: &Arc<ActorCell>, msg: &str) {
    let name = cell.lock().name.clone();
    let addr = cell.address();
    let line = match name {
        Some(n) => format!("actor {addr} (registered as {n:?}) panicked: {msg}"),
        None => format!("actor {addr} panicked: {msg}"),
    };
    crate::panic::report(&line);
}

/// Live coroutine actors in this process (threads' inboxes are not counted).
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// How many actors are alive in this process right now, counting the network's coroutines
/// (handshakes, connection readers and writers, dialers) too: all of them share the budget
/// of [`Config::max_actors`](crate::Config::max_actors).
///
/// ```
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let a = node.spawn(|mut mb| { mb.receive(); });
/// assert!(pyact::live_actors() >= 1);
/// a.send("stop").unwrap();
/// node.wait(&a).unwrap();
/// ```
pub fn live_actors() -> usize {
    LIVE.load(Ordering::Relaxed)
}

fn max_actors() -> usize {
    static MAX: OnceLock<usize> = OnceLock::new();
    *MAX.get_or_init(|| crate::config::current().actor_limit())
}

/// Releases one live-actor slot when dropped. Network coroutines (handshakes, readers,
/// writers, dialers) hold one too: see `remote::go`.
pub(crate) struct LiveSlot;

impl LiveSlot {
    pub(crate) fn take() -> Result<LiveSlot, SpawnError> {
        let limit = max_actors();
        let prev = LIVE.fetch_add(1, Ordering::Relaxed);
        if prev >= limit {
            LIVE.fetch_sub(1, Ordering::Relaxed);
            return Err(SpawnError::TooManyActors { limit });
        }
        Ok(LiveSlot)
    }
}

impl Drop for LiveSlot {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What pyact knows about the running coroutine or thread.
///
/// - `actor`: the actor whose coroutine this is (set once, when it starts). It wins over
///   everything else, so an [`inbox`](Node::inbox) made inside an actor never changes that
///   actor's [`curaddr`].
/// - `inboxes`: a thread's live inboxes, newest last. An inbox leaves the list when it is
///   dropped, so a thread's context follows its inboxes' lives (the newest live one is
///   "here"; none left means no context).
/// - `other`: a node context without an inbox (the network's reader loops).
/// - `queued`: the actor waited in the pool's queue before it started (see
///   `pool::start_runner`).
#[derive(Default)]
pub(crate) struct Context {
    actor: Option<(Node, Arc<ActorCell>)>,
    queued: bool,
    inboxes: Vec<(Node, Address)>,
    other: Option<(Node, Option<Address>)>,
}

impl Context {
    fn get(&self) -> Option<(Node, Option<Address>)> {
        if let Some((n, cell)) = &self.actor {
            return Some((n.clone(), Some(cell.address())));
        }
        if let Some((n, a)) = self.inboxes.last() {
            return Some((n.clone(), Some(a.clone())));
        }
        self.other.clone()
    }

    fn node(&self) -> Option<Node> {
        if let Some((n, _)) = &self.actor {
            return Some(n.clone());
        }
        if let Some((n, _)) = self.inboxes.last() {
            return Some(n.clone());
        }
        self.other.as_ref().map(|(n, _)| n.clone())
    }

    fn node_name(&self) -> Option<&str> {
        if let Some((n, _)) = &self.actor {
            return Some(n.name());
        }
        if let Some((n, _)) = self.inboxes.last() {
            return Some(n.name());
        }
        self.other.as_ref().map(|(n, _)| n.name())
    }
}

impl Drop for Context {
    /// An actor's context is dropped with its coroutine's local storage. If its cell was never
    /// finished, the coroutine was abandoned without unwinding: that is what `generator` (under
    /// `may`) does when a coroutine runs into its stack's guard page. See
    /// [`crate::actor`]'s "Stack overflow" section for why pyact aborts here.
    fn drop(&mut self) {
        if let Some((node, cell)) = &self.actor
            && !cell.queue.is_closed()
        {
            stack_overflow_abort(node, cell);
        }
    }
}

/// The process cannot go on soundly: report which actor overflowed its stack, then abort.
#[cold]
fn stack_overflow_abort(node: &Node, cell: &ActorCell) -> ! {
    let name = cell
        .state
        .try_lock()
        .ok()
        .and_then(|st| st.name.clone())
        .map(|n| format!(" (registered as {n:?})"))
        .unwrap_or_default();
    let msg = format!(
        "pyact: actor {}/{}/{}{name} on node {} overflowed its coroutine stack (or was abandoned \
         by the scheduler without unwinding); aborting the process: its frames were never \
         unwound, so nothing it held can be released safely. Raise Config::stack_size or \
         make the recursion iterative.",
        cell.node_id,
        cell.id,
        cell.creation,
        node.name()
    );
    log::error!("{msg}");
    // A fatal message must reach the terminal even without a logger installed, as the
    // standard library's own "thread has overflowed its stack" does.
    eprintln!("{msg}");
    std::process::abort()
}

may::coroutine_local!(static CONTEXT: RefCell<Context> = RefCell::new(Context::default()));

/// Make the running coroutine as fresh as a new one, between two closures on a pooled
/// coroutine (`pool::park_idle`): pyact's context is emptied in place (its allocation is
/// kept for the next closure) and every other coroutine-local value is dropped (see
/// `may::coroutine::reset_local_data`). The context is emptied first, so the old one's drop
/// still checks that its actor finished.
pub(crate) fn reset_coroutine() {
    let old = CONTEXT.with(|c| std::mem::take(&mut *c.borrow_mut()));
    drop(old);
    may::coroutine::reset_local_data_keeping(&CONTEXT);
}

/// Did the running actor wait in the pool's queue before it started?
pub(crate) fn taken_off_queue() -> bool {
    CONTEXT.with(|c| c.borrow().queued)
}

/// The node and address of the running actor (or of the thread's newest live inbox).
pub(crate) fn context() -> Option<(Node, Option<Address>)> {
    CONTEXT.with(|c| c.borrow().get())
}

/// May code running here deliver straight into a mailbox of node `node_id`? Yes outside any
/// node's context, or inside one of that node; no from another node's actor (that message
/// must cross the wire, with its cookie check and ordering).
#[inline]
pub(crate) fn may_deliver_locally(node_id: &str) -> bool {
    CONTEXT.with(|c| c.borrow().node_name().is_none_or(|n| n == node_id))
}

/// Set (or clear) a node context without an inbox, e.g. for the network's reader loops.
pub(crate) fn set_context(ctx: Option<(Node, Option<Address>)>) {
    CONTEXT.with(|c| c.borrow_mut().other = ctx);
}

/// Make `addr` (a thread's new inbox) the thread's context, unless this is an actor's
/// coroutine (an actor's `curaddr` never changes).
pub(crate) fn push_inbox(node: &Node, addr: Address) {
    CONTEXT.with(|c| {
        let mut c = c.borrow_mut();
        if c.actor.is_none() {
            c.inboxes.push((node.clone(), addr));
        }
    });
}

/// An inbox ended: it no longer counts as the thread's context.
pub(crate) fn pop_inbox(addr: &Address) {
    // `try_with`-like safety: during thread teardown the local may be gone already.
    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| {
        CONTEXT.with(|c| {
            if let Ok(mut c) = c.try_borrow_mut() {
                c.inboxes.retain(|(_, a)| a != addr);
            }
        })
    }));
}

/// The cell of the actor whose coroutine is running, if this is one.
pub(crate) fn current_actor() -> Option<Arc<ActorCell>> {
    CONTEXT.with(|c| c.borrow().actor.as_ref().map(|(_, cell)| cell.clone()))
}

/// Is this an actor's coroutine? (For the panic hook: cheap, never panics.)
pub(crate) fn in_actor() -> bool {
    may::coroutine::is_coroutine()
        && CONTEXT.with(|c| c.try_borrow().is_ok_and(|c| c.actor.is_some()))
}

/// The running actor's cell as a number, only for the watchdog's identity checks (0 outside
/// an actor).
#[inline]
pub(crate) fn current_actor_ptr() -> usize {
    CONTEXT.with(|c| {
        c.borrow()
            .actor
            .as_ref()
            .map_or(0, |(_, cell)| Arc::as_ptr(cell) as usize)
    })
}

/// The kill check every pyact call makes: if an exit signal that ends this actor is
/// pending, end it now (by unwinding its coroutine). Cheap when none is pending: one
/// coroutine-local lookup and one atomic load.
#[inline]
pub(crate) fn checkpoint() {
    checkpoint_and(|_| ())
}

/// [`checkpoint`], also reading `what` of the context in the same coroutine-local lookup
/// (a spawn's node and "am I an actor?").
#[inline]
fn checkpoint_and<T>(what: impl FnOnce(&Context) -> T) -> T {
    let (doomed, got) = CONTEXT.with(|c| {
        let c = c.borrow();
        let doomed = match &c.actor {
            Some((_, cell)) if cell.queue.is_doomed() => Some(cell.clone()),
            _ => None,
        };
        (doomed, what(&c))
    });
    if let Some(cell) = doomed {
        die_if_doomed(&cell);
    }
    got
}

/// A send's hot path: the kill check and [`may_deliver_locally`] for `node_id` (if the
/// target resolved to a live cell) with one coroutine-local lookup. Returns whether the
/// message may go straight into that cell.
#[inline]
pub(crate) fn checkpoint_may_deliver(node_id: Option<&str>) -> bool {
    let (doomed, local) = CONTEXT.with(|c| {
        let c = c.borrow();
        let doomed = match &c.actor {
            Some((_, cell)) if cell.queue.is_doomed() => Some(cell.clone()),
            _ => None,
        };
        let here = c.node_name();
        let local = node_id.is_some_and(|id| here.is_none_or(|n| n == id));
        (doomed, local)
    });
    if let Some(cell) = doomed {
        die_if_doomed(&cell);
    }
    local
}

/// End the running actor (`cell`) if a deadly exit signal is pending for it. Never unwinds
/// while a panic is already unwinding (that would abort): the actor is ending anyway.
#[cold]
pub(crate) fn die_if_doomed(cell: &ActorCell) {
    if std::thread::panicking() {
        return;
    }
    if let Some(reason) = cell.take_doom() {
        std::panic::resume_unwind(Box::new(ExitUnwind(reason)));
    }
}

/// The address of the running actor: the seed's `curaddr()`. `None` outside an actor (and
/// outside a thread that made an [`inbox`](Node::inbox)).
///
/// ```
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let a = node.spawn(|mb| pyact::curaddr() == Some(mb.addr()));
/// assert_eq!(node.wait(&a).unwrap(), true);
/// ```
pub fn curaddr() -> Option<Address> {
    context().and_then(|(_, a)| a)
}

/// The node of the running actor (or of the thread's latest inbox).
///
/// ```
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let a = node.spawn(|_| pyact::current_node().map(|n| n.name().to_string()));
/// assert_eq!(node.wait(&a).unwrap(), node.name());
/// ```
pub fn current_node() -> Option<Node> {
    // Not through `context()`, which also builds an address (an allocation per spawn).
    CONTEXT.with(|c| c.borrow().node())
}

/// Spawn an actor on the current actor's node: the seed's `actor.spawn`.
///
/// # Panics
/// Outside an actor (use [`Node::spawn`]), or if the spawn fails (see [`Node::try_spawn`]).
///
/// ```
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let parent = node.spawn(|mut mb| {
///     let me = mb.addr();
///     let child = pyact::spawn(move |_| me.send("hi from the child").unwrap());
///     assert_eq!(child.node_id(), mb.node().name()); // same node as the spawner
///     mb.receive()
/// });
/// assert_eq!(node.wait(&parent).unwrap(), "hi from the child");
/// ```
pub fn spawn<F, R>(f: F) -> Address
where
    F: FnOnce(Mailbox) -> R + Send + 'static,
    R: IntoExit,
{
    // The kill check `start` makes and the node, with one coroutine-local lookup.
    let (node, actor) = checkpoint_and(|c| (c.node(), c.actor.is_some()));
    let node = node.expect("pyact::spawn called outside an actor; use Node::spawn");
    let cell = node.new_cell(false, Some(std::any::type_name::<F>()));
    start_checked(&node, cell, f, None, actor).unwrap_or_else(|e| panic!("{e}"))
}

/// Start a coroutine with pyact's configured stack: the one place pyact creates coroutines
/// (actors, and the network's listener, reader and writer loops).
///
/// A warm start hands `f` to an idle coroutine of pyact's pool (`pool::hand_off`); only when
/// none is idle is a `may` coroutine made, which joins the pool when `f` returns.
pub(crate) fn go<F: FnOnce() + Send + 'static>(f: F) -> std::io::Result<()> {
    go_job(crate::pool::Job::Task(Box::new(f)), false)
}

/// [`go`] for a closure or an actor (see `pool::Job`); `may_queue`: an actor spawned by an
/// actor may wait in the pool's queue for a runner instead of getting a fresh coroutine
/// (see `pool`, "Spawned before it has a coroutine").
fn go_job(f: crate::pool::Job, may_queue: bool) -> std::io::Result<()> {
    match crate::pool::hand_off(f, may_queue) {
        Ok(()) => Ok(()),
        Err(f) => fresh_runner(Some(f)),
    }
}

/// Start a new `may` coroutine that runs `first` (if any), then serves as a runner of the
/// pool (`pool::runner`).
pub(crate) fn fresh_runner(first: Option<crate::pool::Job>) -> std::io::Result<()> {
    let words = crate::config::stack_words();
    let builder = may::coroutine::Builder::new().stack_size(words);
    // SAFETY: `may` marks spawning unsafe for two reasons. (1) Thread-local storage: a
    // coroutine may resume on another worker thread, so a `thread_local!` reference held
    // across a blocking call would dangle; pyact's own code keeps per-actor data in
    // `coroutine_local!` storage and the user's function is documented (crate docs, "Rules
    // for actor code") not to hold thread-locals across a receive. (2) Stack overflow: every
    // coroutine gets the configured stack (1 MiB by default), sized for the deepest JSON
    // serde_json accepts, and `may` puts a guard page under it, so an overflow faults instead
    // of corrupting memory; pyact then aborts the process rather than run on with the
    // abandoned frames (module docs, "Stack overflow").
    //
    // `may`'s spawn returns `io::Result` but *panics* when it cannot allocate the stack
    // (generator's `Stack::new`: `expect("failed to alloc sys stack")` on mmap failure). No
    // caller of pyact may be unwound by that, least of all the listener: the panic is caught
    // here and becomes an error. Unwinding from there is sound: the stack allocation fails
    // before the coroutine exists, and the closure (with whatever it owns) is simply dropped.
    let spawned = catch_unwind(AssertUnwindSafe(move || unsafe {
        crate::pool::launch(builder, crate::pool::runner(words, first))
    }));
    match spawned {
        Ok(r) => r,
        Err(p) => Err(std::io::Error::other(format!(
            "cannot create a coroutine: {}",
            reason_from_panic(p)
        ))),
    }
}

/// Start the coroutine of a new actor on `node`. The single place pyact creates coroutines.
pub(crate) fn start<F, R>(
    node: &Node,
    cell: Arc<ActorCell>,
    f: F,
    link_to: Option<Address>,
) -> Result<Address, SpawnError>
where
    F: FnOnce(Mailbox) -> R + Send + 'static,
    R: IntoExit,
{
    let from_actor = checkpoint_and(|c| c.actor.is_some());
    start_checked(node, cell, f, link_to, from_actor)
}

/// [`start`] after its kill check; `from_actor`: the spawner is an actor (its child may wait
/// for a runner in the pool's queue).
fn start_checked<F, R>(
    node: &Node,
    cell: Arc<ActorCell>,
    f: F,
    link_to: Option<Address>,
    from_actor: bool,
) -> Result<Address, SpawnError>
where
    F: FnOnce(Mailbox) -> R + Send + 'static,
    R: IntoExit,
{
    if node.is_shut_down() {
        return Err(SpawnError::NodeDown(node.name().to_string()));
    }
    crate::watchdog::start();
    let slot = LiveSlot::take()?;
    debug_assert_eq!(cell.runs, Some(std::any::type_name::<F>()));
    let addr = cell.address();
    if let Some(parent) = &link_to {
        cell.lock().links.insert(parent.clone());
    }
    node.0.counters.spawned();
    node.insert_cell(cell.clone());
    let job = ActorJob {
        node: node.clone(),
        cell,
        slot,
        f: Box::new(move |mb| f(mb).into_exit()),
        queued: false,
    };
    match go_job(crate::pool::Job::Actor(job), from_actor) {
        Ok(()) => Ok(addr),
        Err(e) => {
            // The closure (and the live slot in it) was dropped by the failed spawn.
            node.remove_cell(addr.id());
            node.0.counters.spawn_failed();
            Err(SpawnError::Io(e.to_string()))
        }
    }
}

/// A new actor, as a runner gets it (see `pool::Job`).
pub(crate) struct ActorJob {
    node: Node,
    cell: Arc<ActorCell>,
    /// Its live-actor slot, given back when it ends.
    slot: LiveSlot,
    /// The user's function, returning its exit reason.
    f: Box<dyn FnOnce(Mailbox) -> ExitReason + Send>,
    /// It waited in the pool's queue.
    queued: bool,
}

impl ActorJob {
    /// It waits in the pool's queue: [`Node::info`] says [`Status::Starting`](crate::observe::Status::Starting).
    pub(crate) fn mark_queued(&mut self) {
        self.queued = true;
        self.cell.queue.set_status(crate::observe::Status::Starting);
    }
}

/// The body of an actor's coroutine: run its function, then record its end.
pub(crate) fn run(job: ActorJob) {
    let ActorJob {
        node,
        cell,
        slot,
        f,
        queued,
    } = job;
    CONTEXT.with(|c| {
        let mut c = c.borrow_mut();
        c.actor = Some((node.clone(), cell.clone()));
        c.queued = queued;
    });
    // `park::mark_running` with the cell at hand (it would look the context up again).
    crate::watchdog::set_running(Arc::as_ptr(&cell) as usize);
    cell.queue.set_status(crate::observe::Status::Running);
    // Killed (or ended by an exit signal) before it started, e.g. while it waited in the
    // pool's queue: it never runs, as in Erlang (its function is dropped unrun).
    let doomed = if cell.queue.is_doomed() {
        cell.take_doom()
    } else {
        None
    };
    let mailbox = Mailbox::new(cell.clone(), node.clone(), false);
    let ran = match doomed {
        Some(reason) => Ok(reason),
        None => catch_unwind(AssertUnwindSafe(move || f(mailbox))),
    };
    let reason = match ran {
        Ok(r) => r,
        Err(payload) => {
            let reason = reason_from_panic(payload);
            if let ExitReason::Panicked(msg) = &reason {
                report_panic(&cell, msg);
            }
            reason
        }
    };
    // Free the live-actor slot before waking waiters, so a spawn right after `wait`
    // sees it.
    drop(slot);
    cell.finish(&node, reason);
    // The context's hold on the cell is let go by the runner right after this returns,
    // still in the coroutine (`pool::park_idle` -> `reset_coroutine`), not in `may`'s
    // teardown of its local storage: the cell holds the mailbox's blocker, and a blocker
    // dropped in that teardown while the coroutine was resumed from inside its own park
    // (a wake that raced the park) waits forever for that park to return.
    // (Not `park::mark_parked`: this runner looks at the pool's queue itself next.)
    crate::watchdog::set_running(0);
}

/// Spawn an actor linked to the current actor, on its node: the free-function form of
/// [`Node::spawn_link`] (Erlang's `spawn_link/1`), as [`spawn`] is of [`Node::spawn`]. Both are
/// linked before the new actor runs, so neither can miss the other's abnormal end.
///
/// ```
/// use pyact::{ExitReason, Mesh, Node, spawn_link};
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let parent = node.spawn(|mut mb| {
///     spawn_link(|_| -> () { panic!("child crashed") });
///     mb.receive(); // never returns: the child's crash ends this actor
/// });
/// match node.wait(&parent) {
///     Err(ExitReason::Linked { reason, .. }) => {
///         assert_eq!(*reason, ExitReason::Panicked("child crashed".into()))
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
///
/// # Panics
/// Outside an actor (use [`Node::spawn_link`]), or if the spawn fails (see
/// [`Node::spawn_link`] for the typed error).
pub fn spawn_link<F, R>(f: F) -> Address
where
    F: FnOnce(Mailbox) -> R + Send + 'static,
    R: IntoExit,
{
    let (node, me) = context().expect("pyact::spawn_link called outside an actor");
    let me = me.expect("pyact::spawn_link called outside an actor");
    node.spawn_link(&me, f).unwrap_or_else(|e| panic!("{e}"))
}
