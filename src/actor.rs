//! Actors: a `may` coroutine running a function that owns a [`Mailbox`].
//!
//! [`ActorCell`] is the part of an actor other actors can reach (through its [`Address`]):
//! its mail queue and the small state that others update (links, monitors, waiters). The
//! actor's own state lives on its coroutine's stack, reachable by nothing but messages.
//!
//! Life of an actor:
//! 1. `spawn` checks the live-actor limit, allocates the cell, registers it in its node's
//!    table and starts a coroutine with the configured stack.
//! 2. The coroutine runs the user function under `catch_unwind`; the function's return value
//!    becomes the [`ExitReason`] (`IntoExit`), a panic becomes
//!    [`ExitReason::Panicked`] with the panic message, and an exit signal unwinds the
//!    coroutine with its reason.
//! 3. [`ActorCell::finish`] closes the mailbox (later sends report
//!    [`SendError::DeadActor`](crate::SendError::DeadActor)), records the reason for late
//!    waiters, and notifies waiters, links and monitors, in that order.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::mailbox::{Envelope, MailQueue, Signal};
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
    fn run(self, mailbox: Mailbox) -> impl IntoExit;
}

/// The part of an actor others can reach.
pub(crate) struct ActorCell {
    pub(crate) id: u64,
    pub(crate) node_id: Arc<str>,
    pub(crate) queue: MailQueue,
    pub(crate) state: Mutex<CellState>,
    /// A call's throwaway mailbox: its end is not worth an exit record.
    pub(crate) ephemeral: bool,
}

/// Someone waiting for an actor's end.
pub(crate) enum Waiter {
    /// A `wait` blocked in this process.
    Local(may::sync::mpsc::Sender<ExitReason>),
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

    fn fire(self, reason: &ExitReason) {
        match self {
            Waiter::Local(tx) => {
                let _ = tx.send(reason.clone());
            }
            Waiter::Remote { reply, .. } => reply(reason),
        }
    }
}

/// What others may change about an actor, guarded by one short-held lock.
#[derive(Default)]
pub(crate) struct CellState {
    /// Set once, when the actor ends.
    pub(crate) exit: Option<ExitReason>,
    /// Who waits for the end: blocked `wait`s and peers' remote waits.
    pub(crate) waiters: Vec<Waiter>,
    /// Linked actors (bidirectional: each side records the other).
    pub(crate) links: HashSet<Address>,
    /// Monitors placed on this actor: (reference, watcher).
    pub(crate) monitors: Vec<(Ref, Address)>,
    /// Registered name, removed from the registry at exit.
    pub(crate) name: Option<String>,
}

impl ActorCell {
    pub(crate) fn new(id: u64, node_id: Arc<str>, ephemeral: bool) -> Self {
        ActorCell {
            id,
            node_id,
            queue: MailQueue::new(),
            state: Mutex::new(CellState::default()),
            ephemeral,
        }
    }

    /// Lock the state; a panic elsewhere never leaves it inconsistent (every critical
    /// section is a few field updates), so a poisoned lock is simply taken over.
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, CellState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An address for this cell.
    pub(crate) fn address(self: &Arc<Self>) -> Address {
        Address::new(self.node_id.clone(), self.id, Arc::downgrade(self))
    }

    /// Drop a link (the other side ended or unlinked).
    pub(crate) fn forget_link(&self, other: &Address) {
        self.lock().links.remove(other);
    }

    /// Record the end of the actor and tell everyone who asked. Idempotent.
    pub(crate) fn finish(self: &Arc<Self>, node: &Node, reason: ExitReason) {
        let dropped = self.queue.close();
        let (waiters, links, monitors, name) = {
            let mut st = self.lock();
            if st.exit.is_some() {
                return;
            }
            st.exit = Some(reason.clone());
            (
                std::mem::take(&mut st.waiters),
                std::mem::take(&mut st.links),
                std::mem::take(&mut st.monitors),
                st.name.take(),
            )
        };
        let (node_id, id) = (&self.node_id, self.id);
        if dropped > 0 {
            log::debug!("{node_id}/{id} ended with {dropped} unread message(s), dropped");
        }
        match &reason {
            ExitReason::Normal(_) => log::debug!("{node_id}/{id} exited normally"),
            other => log::debug!("{node_id}/{id} exited: {other}"),
        }
        node.record_exit(id, name.as_deref(), reason.clone(), !self.ephemeral);
        for w in waiters {
            w.fire(&reason);
        }
        crate::remote::local_ended(node, id);
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

/// Live coroutine actors in this process (threads' inboxes are not counted).
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// How many actors are alive in this process right now.
pub fn live_actors() -> usize {
    LIVE.load(Ordering::Relaxed)
}

fn max_actors() -> usize {
    static MAX: OnceLock<usize> = OnceLock::new();
    *MAX.get_or_init(|| crate::config::current().get_max_actors())
}

/// Releases one live-actor slot when dropped.
struct LiveSlot;

impl LiveSlot {
    fn take() -> Result<LiveSlot, SpawnError> {
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

may::coroutine_local!(static CONTEXT: RefCell<Option<(Node, Option<Address>)>> = RefCell::new(None));

/// The node and address of the running actor (or of the thread's latest inbox).
pub(crate) fn context() -> Option<(Node, Option<Address>)> {
    CONTEXT.with(|c| c.borrow().clone())
}

/// May code running here deliver straight into a mailbox of node `node_id`? Yes outside any
/// node's context, or inside one of that node; no from another node's actor (that message
/// must cross the wire, with its cookie check and ordering).
#[inline]
pub(crate) fn may_deliver_locally(node_id: &str) -> bool {
    CONTEXT.with(|c| match &*c.borrow() {
        Some((n, _)) => n.name() == node_id,
        None => true,
    })
}

pub(crate) fn set_context(ctx: Option<(Node, Option<Address>)>) {
    CONTEXT.with(|c| *c.borrow_mut() = ctx);
}

/// The address of the running actor: the seed's `curaddr()`. `None` outside an actor (and
/// outside a thread that made an [`inbox`](Node::inbox)).
pub fn curaddr() -> Option<Address> {
    context().and_then(|(_, a)| a)
}

/// The node of the running actor (or of the thread's latest inbox).
pub fn current_node() -> Option<Node> {
    context().map(|(n, _)| n)
}

/// Spawn an actor on the current actor's node: the seed's `actor.spawn`.
///
/// # Panics
/// Outside an actor (use [`Node::spawn`]), or if the spawn fails (see [`Node::try_spawn`]).
pub fn spawn<F, R>(f: F) -> Address
where
    F: FnOnce(Mailbox) -> R + Send + 'static,
    R: IntoExit,
{
    current_node()
        .expect("pyact::spawn called outside an actor; use Node::spawn")
        .spawn(f)
}

/// Start a coroutine with pyact's configured stack: the one place pyact creates coroutines
/// (actors, and the network's listener, reader and writer loops).
pub(crate) fn go<F: FnOnce() + Send + 'static>(f: F) -> std::io::Result<()> {
    let builder = may::coroutine::Builder::new().stack_size(crate::config::stack_words());
    // SAFETY: `may` marks spawning unsafe for two reasons. (1) Thread-local storage: a
    // coroutine may resume on another worker thread, so a `thread_local!` reference held
    // across a blocking call would dangle; pyact's own code keeps per-actor data in
    // `coroutine_local!` storage and the user's function is documented (crate docs, "Rules
    // for actor code") not to hold thread-locals across a receive. (2) Stack overflow: every
    // coroutine gets the configured stack (1 MiB by default), sized for the deepest JSON
    // serde_json accepts, and `may` puts a guard page under it, so an overflow faults instead
    // of corrupting memory.
    unsafe { builder.spawn(f) }.map(|_handle| ())
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
    let slot = LiveSlot::take()?;
    let addr = cell.address();
    if let Some(parent) = &link_to {
        cell.lock().links.insert(parent.clone());
    }
    node.insert_cell(cell.clone());
    let node2 = node.clone();
    let body = move || {
        set_context(Some((node2.clone(), Some(cell.address()))));
        let mailbox = Mailbox::new(cell.clone(), node2.clone(), false);
        let reason = match catch_unwind(AssertUnwindSafe(move || f(mailbox).into_exit())) {
            Ok(r) => r,
            Err(payload) => reason_from_panic(payload),
        };
        // Free the live-actor slot before waking waiters, so a spawn right after `wait`
        // sees it.
        drop(slot);
        cell.finish(&node2, reason);
    };
    match go(body) {
        Ok(()) => Ok(addr),
        Err(e) => {
            // The closure (and the live slot in it) was dropped by the failed spawn.
            node.remove_cell(addr.id());
            Err(SpawnError::Io(e.to_string()))
        }
    }
}
