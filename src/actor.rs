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
//!    [`ExitReason::Panicked`] with the panic message, and an exit signal unwinds the
//!    coroutine with its reason.
//! 3. `ActorCell::finish` closes the mailbox (later sends report
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
    /// The creation number of its node's start (see [`Address::creation`]).
    pub(crate) creation: u32,
    pub(crate) queue: MailQueue,
    pub(crate) state: Mutex<CellState>,
    /// A call's throwaway mailbox: its end is not worth an exit record.
    pub(crate) ephemeral: bool,
    /// When the cell was made (for `Node::info`'s age).
    pub(crate) born: std::time::Instant,
    /// The type name of the function an actor runs; unset for inboxes (see `observe.rs`).
    pub(crate) runs: OnceLock<&'static str>,
}

/// What others may change about an actor, guarded by one short-held lock.
#[derive(Default)]
pub(crate) struct CellState {
    /// Set once, when the actor ends.
    pub(crate) exit: Option<ExitReason>,
    /// Threads/actors blocked in `wait`.
    pub(crate) waiters: Vec<may::sync::mpsc::Sender<ExitReason>>,
    /// Linked actors (bidirectional: each side records the other).
    pub(crate) links: HashSet<Address>,
    /// Monitors placed on this actor: (reference, watcher).
    pub(crate) monitors: Vec<(Ref, Address)>,
    /// Registered name, removed from the registry at exit.
    pub(crate) name: Option<String>,
}

impl ActorCell {
    pub(crate) fn new(id: u64, node_id: Arc<str>, creation: u32, ephemeral: bool) -> Self {
        ActorCell {
            id,
            node_id,
            creation,
            queue: MailQueue::new(),
            state: Mutex::new(CellState::default()),
            ephemeral,
            born: std::time::Instant::now(),
            runs: OnceLock::new(),
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
            let _ = w.send(reason.clone());
        }
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

/// How many actors are alive in this process right now, counting the network's coroutines
/// (handshakes, connection readers and writers, dialers) too: all of them share the budget
/// of [`Config::max_actors`](crate::Config::max_actors).
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
    //
    // `may`'s spawn returns `io::Result` but *panics* when it cannot allocate the stack
    // (generator's `Stack::new`: `expect("failed to alloc sys stack")` on mmap failure). No
    // caller of pyact may be unwound by that, least of all the listener: the panic is caught
    // here and becomes an error. Unwinding from there is sound: the stack allocation fails
    // before the coroutine exists, and the closure (with whatever it owns) is simply dropped.
    let spawned = catch_unwind(AssertUnwindSafe(move || unsafe {
        crate::pool::launch(builder, f)
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
    let slot = LiveSlot::take()?;
    let _ = cell.runs.set(std::any::type_name::<F>());
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
