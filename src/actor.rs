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
//! — send, spawn, receive, call, wait, [`sleep`],
//! [`yield_now`], [`blocking`](crate::blocking::blocking()) — or at once if it is
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
//! stack with [`Config::stack_size`](crate::config::Config::stack_size) or make deep recursion
//! iterative.
//!
//! ## Rules for actor code
//!
//! Actors share a few worker threads and Rust code cannot be preempted, so what an actor does
//! between pyact calls holds its worker. The rules:
//!
//! | instead of (blocks the whole worker) | use (parks only the actor) |
//! |---|---|
//! | `std::thread::sleep(d)` | `pyact::actor::sleep(d)` |
//! | `std::net::TcpListener` / `TcpStream` | `pyact::net::TcpListener` / `TcpStream`: the same API ([`crate::net`]) |
//! | a blocking `std` call: file I/O, a blocking socket, a `std` lock or channel, a C library | `pyact::blocking::blocking(move \|\| call())`: runs on a helper thread pool (at most `Config::blocking_threads` \[512\] threads; more calls queue), returns its result |
//! | a long computation with no pyact call | call `pyact::actor::yield_now()` every so often |
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
//! - `pyact::actor::sleep`, `yield_now` and `blocking` also work in plain threads (where they simply
//!   sleep, yield and call).
//!
//! Sockets: [`pyact::net`](crate::net) (the same API as `std::net`; never crates.io `may`'s).
//!
//! ## The watchdog
//!
//! A helper thread reports an actor that holds its worker thread too long.
//!
//! Actors share a few worker threads and cannot be preempted. An actor that computes for a
//! long time without a pyact call, or blocks in a `std` call (`std::thread::sleep`, a
//! blocking socket, a `std` lock or channel), stalls every actor queued on its worker. That
//! is a bug in the actor code, and it is silent, so pyact watches for it:
//!
//! - each thread that runs actors has a slot saying which actor it is running and how many
//!   times it switched (pyact marks the slot when an actor starts, parks in a pyact call,
//!   resumes, and ends: two relaxed stores, no lock);
//! - the watchdog thread samples the slots every quarter of the threshold; an actor seen
//!   running without a switch for longer than [`Config::watchdog`](crate::config::Config::watchdog)
//!   (default 100 ms) is reported once per incident with `log::warn!`, naming its address
//!   (and registered name). The incident ends when the worker switches.
//!
//! What it cannot see: an actor that blocks in a `may` primitive directly (pyact cannot tell
//! that park from a busy worker) may be reported although its worker is free; use pyact's
//! calls ([`sleep`], [`blocking`](crate::blocking::blocking()), receive) instead.
//!
//! A long computation stays off the watchdog's report (and lets the other actors of its
//! worker run) by calling [`yield_now`] now and then:
//!
//! ```
//! let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
//! let sum = node.spawn(|_| {
//!     let mut total: u64 = 0;
//!     for i in 0..100_000u64 {
//!         total += i;
//!         if i % 10_000 == 0 {
//!             pyact::actor::yield_now(); // a switch: the watchdog sees progress
//!         }
//!     }
//!     total
//! });
//! assert_eq!(node.wait(&sum).unwrap(), 4_999_950_000u64);
//! ```

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::context::{checkpoint_and, context, with_context};
use crate::mailbox::hibernate::Hibernation;
use crate::{Address, ExitReason, IntoExit, Mailbox, Node, SpawnError};

/// Sleeping and yielding, from an actor or a thread (only the actor is parked).
pub use crate::park::{sleep, yield_now};

pub(crate) use crate::cell::{ActorCell, CellState, Waiter};

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
/// of [`Config::max_actors`](crate::config::Config::max_actors).
///
/// ```
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let a = node.spawn(|mut mb| { mb.receive(); });
/// assert!(pyact::actor::live_actors() >= 1);
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
/// let a = node.spawn(|_| pyact::actor::current_node().map(|n| n.name().to_string()));
/// assert_eq!(node.wait(&a).unwrap(), node.name());
/// ```
pub fn current_node() -> Option<Node> {
    // Not through `context()`, which also builds an address (an allocation per spawn).
    with_context(|c| c.borrow().node())
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
    let cell = node.new_cell(false, Some(std::any::type_name::<F>));
    start_checked(&node, cell, f, None, actor, false).unwrap_or_else(|e| panic!("{e}"))
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

/// Start the coroutine of a new actor on `node`, or, if `dormant`, keep it in its mailbox
/// until its first envelope arrives (see `mailbox/dormant.rs`).
pub(crate) fn start<F, R>(
    node: &Node,
    cell: Arc<ActorCell>,
    f: F,
    link_to: Option<Address>,
    dormant: bool,
) -> Result<Address, SpawnError>
where
    F: FnOnce(Mailbox) -> R + Send + 'static,
    R: IntoExit,
{
    let from_actor = checkpoint_and(|c| c.actor.is_some());
    start_checked(node, cell, f, link_to, from_actor, dormant)
}

/// [`start`] after its kill check; `from_actor`: the spawner is an actor (its child may wait
/// for a runner in the pool's queue).
fn start_checked<F, R>(
    node: &Node,
    cell: Arc<ActorCell>,
    f: F,
    link_to: Option<Address>,
    from_actor: bool,
    dormant: bool,
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
    debug_assert_eq!(cell.runs(), Some(std::any::type_name::<F>()));
    let addr = cell.address();
    if let Some(parent) = &link_to {
        cell.lock().links.insert(parent.clone());
    }
    node.0.counters.spawned();
    let job = ActorJob {
        node: node.clone(),
        cell: cell.clone(),
        slot,
        f: Box::new(move |mb| f(mb).into_exit()),
    };
    if dormant {
        // Held before the cell is in the node's table; a push that came earlier (through
        // a link made first) starts it at once (`MailQueue::hold_until_first`).
        cell.queue
            .hold_until_first(job, crate::observe::Status::Dormant);
        node.insert_cell(cell);
        return Ok(addr);
    }
    node.insert_cell(cell);
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
}

impl ActorJob {
    /// Has something arrived for it (a message or a signal)? For the pool's choice of which
    /// queued actor to start (`pool`, "Mail first").
    pub(crate) fn has_mail(&self) -> bool {
        self.cell.queue.has_unread()
    }

    /// Is this the job of the actor at `a`? (the pool's tests look for one in its queue)
    #[cfg(test)]
    pub(crate) fn is_of(&self, a: &Address) -> bool {
        self.cell.id == a.id()
    }

    /// It waits in the pool's queue: [`Node::info`] says [`Status::Starting`](crate::observe::Status::Starting).
    pub(crate) fn mark_queued(&self) {
        self.cell.queue.set_status(crate::observe::Status::Starting);
    }
}

/// The body of an actor's coroutine: run its function, then record its end. An actor that
/// hibernates (`mailbox/hibernate.rs`) is not ended: its continuation goes on here at once
/// if a message waits for it, or waits in its mailbox for the next one.
pub(crate) fn run(mut job: ActorJob) {
    loop {
        let ActorJob {
            node,
            cell,
            slot,
            f,
        } = job;
        with_context(|c| c.borrow_mut().actor = Some((node.clone(), cell.clone())));
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
            Err(payload) => match payload.downcast::<Hibernation>() {
                Ok(h) => {
                    let next = ActorJob {
                        node,
                        cell,
                        slot,
                        f: h.resume,
                    };
                    if !h.ready {
                        return hibernate(next);
                    }
                    // A message waits: go on now, on this coroutine, from the bottom of its
                    // stack.
                    job = next;
                    continue;
                }
                Err(payload) => {
                    let reason = reason_from_panic(payload);
                    if let ExitReason::Panicked(msg) = &reason {
                        report_panic(&cell, msg);
                    }
                    reason
                }
            },
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
        return;
    }
}

/// The actor of `job` hibernated with nothing to read: this coroutine lets it go, and `job`
/// waits in its mailbox for the next envelope (`mailbox/hibernate.rs`).
fn hibernate(job: ActorJob) {
    // The context lets go of the actor (a context dropped with its actor unfinished means a
    // stack overflow).
    with_context(|c| c.borrow_mut().actor = None);
    let cell = job.cell.clone();
    cell.queue
        .hold_until_first(job, crate::observe::Status::Hibernating);
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
