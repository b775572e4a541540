//! Nodes: a named place where actors live, `cookie@host:port`.
//!
//! A node owns the table of its actors (live ones, and the exit reasons of recently ended
//! ones so that a late [`Node::wait`] still gets the result), the registry of names, and its
//! listening socket for other nodes (see [`crate::remote`]).
//!
//! Routing (the second stop of a message after [`Address::send`]): an address whose actor
//! lives in this process and was resolved goes straight into its mailbox; an address of this
//! node is looked up in the table by id; any other address goes to the node it names through
//! a connection of the sending actor's node.
//!
//! ## Stopping a node
//!
//! `node.shutdown()` stops the node: it stops listening, closes its connections (peers that
//! monitor it get `{"nodedown": ...}`, and their links and monitors to its actors fire with
//! `noconnection`), and kills every actor it runs (they end with `ExitReason::Killed` at their
//! next receive; waiters get that reason). It is idempotent. Dropping the last handle to a node
//! does not stop its actors: call `shutdown` when the node's work is done.
//!
//! ```rust
//! use pyact::{ExitReason, Mesh, Node};
//!
//! let node = Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap();
//! let worker = node.spawn(|mut mb| loop {
//!     mb.receive();
//! });
//! node.shutdown();
//! assert_eq!(node.wait(&worker), Err(ExitReason::Killed));
//! node.shutdown(); // again: nothing happens
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use serde_json::Value;

use crate::actor::{self, ActorCell};
use crate::context;
use crate::distribution::{Distribution, Plugged};
use crate::mailbox::{Envelope, Mailbox};
use crate::padded::Padded;
use crate::{Actor, Address, ExitReason, IntoExit, Mesh, SendError, SpawnError, SpawnOptions};

const SHARDS: usize = 16;

pub use crate::node_name::NodeName;

/// A local node. Cheap to clone (one `Arc`); all clones are the same node.
///
/// Every program starts by making one (a [`Mesh`] groups the nodes of the process):
/// ```
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let a = node.spawn(|_| 6 * 7);
/// assert_eq!(node.wait(&a).unwrap(), 42);
/// assert_eq!(node.clone(), node); // clones are the same node
/// ```
#[derive(Clone)]
pub struct Node(pub(crate) Arc<NodeInner>);

pub(crate) struct NodeInner {
    pub(crate) name: NodeName,
    /// `host:port` with the real port.
    pub(crate) id: Arc<str>,
    pub(crate) mesh: Mesh,
    /// Written by every spawn; apart from what the other worker reads (see `padded`).
    next_id: Padded<AtomicU64>,
    /// Each shard on its own lines: a spawn inserts in one while an end on the other
    /// worker removes from another.
    shards: Box<[Padded<Mutex<Shard>>]>,
    pub(crate) registry: Mutex<HashMap<String, Address>>,
    exit_records_per_shard: usize,
    /// The door to other nodes (see [`crate::distribution`]).
    pub(crate) dist: Plugged,
    /// Creation order, so "the process's oldest node" is well defined.
    created: u64,
    /// Set by [`Node::shutdown`]: the node is gone for routing and spawning.
    down: AtomicBool,
    /// Lifetime totals for [`Node::stats`] (each counter on lines of its own: see `Counters`).
    pub(crate) counters: crate::observe::Counters,
    /// The timer service, started by the first timer (see [`crate::timer`]).
    pub(crate) timers: crate::timer::Slot,
}

#[derive(Default)]
struct Shard {
    live: HashMap<u64, Arc<ActorCell>, IdHash>,
    dead: HashMap<u64, ExitReason, IdHash>,
    dead_order: VecDeque<u64>,
}

/// Hashing for the actor tables, keyed by this node's own actor ids. SipHash (the std
/// default, built to resist keys chosen by an attacker) was ~9% of the instructions of a
/// spawn + exit + wait. Here the keys that go *in* are ids this node handed out in sequence;
/// ids read from the wire are only looked up, which cannot make the table degrade. A
/// multiply by the golden-ratio constant spreads sequential ids over all bits.
type IdHash = std::hash::BuildHasherDefault<IdHasher>;

#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys use this hasher; stay correct for anything else anyway.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Local nodes of this process, by id, so an address read from JSON finds its actor.
fn local_nodes() -> &'static Mutex<HashMap<Arc<str>, Weak<NodeInner>>> {
    static NODES: OnceLock<Mutex<HashMap<Arc<str>, Weak<NodeInner>>>> = OnceLock::new();
    NODES.get_or_init(Default::default)
}

/// Nodes alive in this process. While there is one, every actor cell reachable here belongs
/// to it and every actor runs on it, so a send needs no "which node am I on" check (see
/// [`Address::local_cell`](crate::Address)): one atomic load instead of a coroutine-local
/// lookup and a string compare per message.
static LIVE_NODES: AtomicUsize = AtomicUsize::new(0);

/// Is this process running exactly one node?
#[inline]
pub(crate) fn single_node() -> bool {
    LIVE_NODES.load(Ordering::Acquire) == 1
}

impl Drop for NodeInner {
    fn drop(&mut self) {
        LIVE_NODES.fetch_sub(1, Ordering::AcqRel);
        // The node's last handle is gone (its actors, inboxes and network loops hold one
        // each, so nothing of it runs any more).
        log::info!("node {} down: its last handle was dropped", self.id);
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn local_node(id: &str) -> Option<Node> {
    lock(local_nodes())
        .get(id)
        .and_then(Weak::upgrade)
        .map(Node)
}

impl Node {
    /// Create a node named `cookie@host:port` on `mesh`. Built without the `net` feature,
    /// the node is offline: nothing listens, port 0 stays 0 unless another offline node
    /// of the process has that name (then it is numbered), and every address of another
    /// node is unreachable ([`SendError::NoConnection`]).
    ///
    /// ```
    /// use pyact::{Mesh, Node};
    /// let mesh = Mesh::new();
    /// let node = Node::new(&mesh, "cookie@127.0.0.1:0").unwrap();
    /// assert!(node.name().starts_with("127.0.0.1:"));
    /// assert!(Node::new(&mesh, "cookie@127.0.0.1").is_err()); // no port
    /// ```
    #[cfg(not(feature = "net"))]
    pub fn new(mesh: &Mesh, name: &str) -> Result<Node, crate::NodeError> {
        let mut name = NodeName::parse(name)?;
        if name.port == 0 {
            static NEXT: AtomicU64 = AtomicU64::new(1);
            // Offline names only need to be distinct within the process.
            while lock(local_nodes()).contains_key(name.id().as_str()) || name.port == 0 {
                name.port = (NEXT.fetch_add(1, Ordering::Relaxed) % 65_535 + 1) as u16;
            }
        }
        Ok(Node::assemble(mesh, name, crate::distribution::Nowhere))
    }

    /// Build a node around its door to other nodes (the network calls this once it has
    /// bound the listener and knows the real port) and make it findable in the process.
    pub(crate) fn assemble(mesh: &Mesh, name: NodeName, dist: Plugged) -> Node {
        crate::config::current();
        let id: Arc<str> = name.id().into();
        let cfg = crate::config::current();
        let node = Node(Arc::new(NodeInner {
            id: id.clone(),
            name,
            mesh: mesh.clone(),
            next_id: Padded(AtomicU64::new(1)),
            shards: (0..SHARDS).map(|_| Padded(Mutex::default())).collect(),
            registry: Mutex::default(),
            exit_records_per_shard: cfg.exit_record_count().div_ceil(SHARDS),
            dist,
            created: {
                static COUNTER: AtomicU64 = AtomicU64::new(0);
                COUNTER.fetch_add(1, Ordering::Relaxed)
            },
            down: AtomicBool::new(false),
            counters: Default::default(),
            timers: Default::default(),
        }));
        LIVE_NODES.fetch_add(1, Ordering::AcqRel);
        lock(local_nodes()).insert(id, Arc::downgrade(&node.0));
        mesh.add_local(&node);
        log::info!("node {} up", node.name());
        node
    }

    /// This node start's creation number: nonzero (random with networking), carried by
    /// every address of the node (`{"$addr": "host:port/id/creation"}`), so that an address
    /// of an earlier process on the same `host:port` never reaches an actor of this one.
    ///
    /// ```
    /// # use pyact::{Mesh, Node};
    /// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let a = node.spawn(|_| ());
    /// assert_ne!(node.creation(), 0);
    /// assert_eq!(a.creation(), node.creation());
    /// ```
    pub fn creation(&self) -> u32 {
        self.0.dist.creation()
    }

    /// Stop listening, close every connection, and kill every actor of this node; its
    /// pending timers are dropped unfired ([`crate::timer`]).
    ///
    /// ```
    /// use pyact::ExitReason;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let idle = node.spawn(|mut mb| loop { mb.receive(); });
    /// node.shutdown();
    /// assert_eq!(node.wait(&idle), Err(ExitReason::Killed));
    /// ```
    pub fn shutdown(&self) {
        // Never picked as a sending node, never spawns again.
        if self.0.down.swap(true, Ordering::AcqRel) {
            return;
        }
        crate::timer::stop(self);
        self.0.dist.shutdown(self);
        for cell in self.live_cells() {
            let _ = cell
                .queue
                .push(Envelope::Signal(Box::new(crate::mailbox::Signal::Kill)));
        }
        log::debug!("{}: shut down", self.name());
    }

    /// The node's `host:port` (with the real port), as addresses carry it.
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// assert!(node.name().starts_with("127.0.0.1:")); // never the cookie
    /// assert!(!node.name().ends_with(":0")); // the port the OS picked
    /// assert_eq!(node.spawn(|_| ()).node_id(), node.name());
    /// ```
    pub fn name(&self) -> &str {
        &self.0.id
    }

    /// The mesh this node belongs to.
    ///
    /// ```
    /// let mesh = pyact::Mesh::new();
    /// let node = pyact::Node::new(&mesh, "c@127.0.0.1:0").unwrap();
    /// assert_eq!(node.mesh().local_nodes().len(), 1);
    /// ```
    pub fn mesh(&self) -> &Mesh {
        &self.0.mesh
    }

    /// Spawn an actor running `f`, which gets the actor's [`Mailbox`] as its argument
    /// (arguments are passed by closure capture, as with `std::thread::spawn`).
    ///
    /// The actor exists when this returns (sends, links, monitors, kills and `wait` work on
    /// it); it runs later, when a worker gets to it. An actor spawned by an actor while
    /// every coroutine is busy waits for one without a stack of its own ([`Node::info`]
    /// says [`Status::Starting`](crate::observe::Status::Starting)) and starts when a coroutine is
    /// free or its spawner blocks; one killed before it starts never runs `f`. An actor
    /// whose function begins by waiting for a message can go without a coroutine until
    /// one arrives: [`SpawnOptions::start_on_message`].
    ///
    /// # Panics
    /// If the actor cannot be spawned (see [`Node::try_spawn`] for the typed error).
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let greeting = String::from("hello");
    /// let echo = node.spawn(move |mut mb| {
    ///     let name = mb.receive();
    ///     format!("{greeting}, {}", name.as_str().unwrap_or("?"))
    /// });
    /// echo.send("world").unwrap();
    /// assert_eq!(node.wait(&echo).unwrap(), "hello, world");
    /// ```
    pub fn spawn<F, R>(&self, f: F) -> Address
    where
        F: FnOnce(Mailbox) -> R + Send + 'static,
        R: IntoExit,
    {
        self.try_spawn(f).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Spawn, reporting [`SpawnError::TooManyActors`] instead of letting `may` abort when
    /// memory mappings run out.
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// match node.try_spawn(|_| "ok") {
    ///     Ok(a) => assert_eq!(node.wait(&a).unwrap(), "ok"),
    ///     Err(e) => panic!("out of actors: {e}"),
    /// }
    /// ```
    pub fn try_spawn<F, R>(&self, f: F) -> Result<Address, SpawnError>
    where
        F: FnOnce(Mailbox) -> R + Send + 'static,
        R: IntoExit,
    {
        actor::start(
            self,
            self.new_cell(false, Some(std::any::type_name::<F>)),
            f,
            None,
            false,
        )
    }

    /// Spawn a struct-based [`Actor`].
    ///
    /// ```
    /// struct Doubler;
    /// impl pyact::Actor for Doubler {
    ///     fn run(self, mut mb: pyact::Mailbox) -> impl pyact::IntoExit {
    ///         mb.receive().as_i64().unwrap_or(0) * 2
    ///     }
    /// }
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let d = node.spawn_actor(Doubler);
    /// d.send(21).unwrap();
    /// assert_eq!(node.wait(&d).unwrap(), 42);
    /// ```
    pub fn spawn_actor<A: Actor>(&self, a: A) -> Address {
        self.spawn(move |mb| a.run(mb).into_exit())
    }

    /// Spawn an actor linked to `to` (see [`crate::link`]): both are linked before the new
    /// actor runs.
    ///
    /// A thread's inbox traps exits, so it learns of the crash as a message:
    /// ```
    /// use pyact::link::Exit;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut inbox = node.inbox();
    /// let child = node.spawn_link(&inbox.addr(), |_| -> () { panic!("oops") }).unwrap();
    /// let exit = Exit::try_from(inbox.receive_timeout(std::time::Duration::from_secs(10)).unwrap()).unwrap();
    /// assert_eq!(exit.address, child);
    /// assert_eq!(exit.reason, pyact::ExitReason::Panicked("oops".into()));
    /// ```
    pub fn spawn_link<F, R>(&self, to: &Address, f: F) -> Result<Address, SpawnError>
    where
        F: FnOnce(Mailbox) -> R + Send + 'static,
        R: IntoExit,
    {
        self.spawn_link_opts(to, &SpawnOptions::default(), f)
    }

    /// [`Node::spawn_link`] with [`SpawnOptions`] (for supervisors' children).
    pub(crate) fn spawn_link_opts<F, R>(
        &self,
        to: &Address,
        opts: &SpawnOptions,
        f: F,
    ) -> Result<Address, SpawnError>
    where
        F: FnOnce(Mailbox) -> R + Send + 'static,
        R: IntoExit,
    {
        context::checkpoint();
        if self.is_shut_down() {
            return Err(SpawnError::NodeDown(self.name().to_string()));
        }
        let cell = self.new_cell(false, Some(std::any::type_name::<F>));
        if let Some(n) = opts.mailbox_limit {
            cell.queue.set_limit(n);
        }
        let child = cell.address();
        crate::link::add_link_from(to, &child);
        actor::start(self, cell, f, Some(to.clone()), opts.start_on_message).inspect_err(|_| {
            // Undo the half-made link: the child never existed.
            match to.local_cell().or_else(|| home_cell(to)) {
                Some(c) => c.forget_link(&child),
                None if !is_here(to) => self.0.dist.unlink(self, to, &child),
                None => {}
            }
        })
    }

    /// A mailbox for the calling thread (or coroutine): an address of its own to receive
    /// replies on, with the same receive API as an actor. It is not counted as an actor, it
    /// always traps exits, and it ends (normally) when dropped.
    ///
    /// In a plain thread the newest live inbox is the thread's context ([`curaddr`](crate::curaddr),
    /// the node sends and spawns go from); when it is dropped the thread's context goes back
    /// to its previous live inbox, or to none. Inside an actor an inbox never changes the
    /// actor's context.
    ///
    /// ```
    /// # use pyact::{Mesh, Node};
    /// let node = Node::new(&Mesh::new(), "c@localhost:0").unwrap();
    /// let mut inbox = node.inbox();
    /// let me = inbox.addr();
    /// let doubler = node.spawn(move |mut mb| {
    ///     let n = mb.receive().as_i64().unwrap();
    ///     me.send(n * 2).unwrap();
    /// });
    /// doubler.send(21).unwrap();
    /// assert_eq!(inbox.receive(), 42);
    /// ```
    pub fn inbox(&self) -> Mailbox {
        let mb = self.thread_mailbox(false);
        context::push_inbox(self, mb.addr());
        mb
    }

    /// A throwaway mailbox for one request/reply exchange (`Address::call`): like
    /// [`Node::inbox`] but it does not become the thread's context, and its end leaves no
    /// exit record. When it is dropped it closes, so a late reply to it is dropped rather
    /// than left in anyone's mailbox.
    pub(crate) fn ephemeral(&self) -> Mailbox {
        self.thread_mailbox(true)
    }

    /// A registered mailbox that is not an actor (no coroutine of its own).
    fn thread_mailbox(&self, ephemeral: bool) -> Mailbox {
        let cell = self.new_cell(ephemeral, None);
        self.insert_cell(cell.clone());
        Mailbox::new(cell, self.clone(), true)
    }

    /// A cell with a fresh id: an actor's running a function of type `runs`, or (`None`)
    /// an inbox's.
    pub(crate) fn new_cell(
        &self,
        ephemeral: bool,
        runs: Option<fn() -> &'static str>,
    ) -> Arc<ActorCell> {
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        Arc::new(ActorCell::new(
            id,
            self.0.id.clone(),
            self.creation(),
            ephemeral,
            runs,
        ))
    }

    /// Has this node been [shut down](Node::shutdown)? A shut-down node is gone: it spawns
    /// nothing ([`SpawnError::NodeDown`]) and is never picked as the node a plain thread
    /// sends or calls from.
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// assert!(!node.is_shut_down());
    /// node.shutdown();
    /// assert!(node.is_shut_down());
    /// assert!(node.try_spawn(|_| ()).is_err());
    /// ```
    pub fn is_shut_down(&self) -> bool {
        self.0.down.load(Ordering::Acquire)
    }

    fn shard(&self, id: u64) -> MutexGuard<'_, Shard> {
        lock(&self.0.shards[(id as usize) % SHARDS])
    }

    pub(crate) fn insert_cell(&self, cell: Arc<ActorCell>) {
        let id = cell.id;
        self.shard(id).live.insert(id, cell);
    }

    pub(crate) fn remove_cell(&self, id: u64) {
        self.shard(id).live.remove(&id);
    }

    /// Does `addr` (of this node) belong to this start of the node? An address of another
    /// creation names an actor of an earlier process on the same `host:port`: dead.
    pub(crate) fn same_creation(&self, addr: &Address) -> bool {
        let c = addr.creation();
        c == 0 || c == self.creation()
    }

    /// The live actor `addr` (of this node) names, if any.
    pub(crate) fn cell_of(&self, addr: &Address) -> Option<Arc<ActorCell>> {
        if self.same_creation(addr) {
            self.cell(addr.id())
        } else {
            None
        }
    }

    /// The live actor with this id, if any.
    pub(crate) fn cell(&self, id: u64) -> Option<Arc<ActorCell>> {
        self.shard(id).live.get(&id).cloned()
    }

    /// End `cell` (called by `ActorCell::finish`): set its exit reason, drop its registered
    /// name and move it from the live table to the exit records (`keep`) in one critical
    /// section, under the registry (only if it is named), shard and cell locks, taken in
    /// `register`'s order. Then `take` what `finish` delivers from its state. `None` if it had
    /// ended already.
    ///
    /// Why one section: a `wait` returns once it sees the reason (in the cell, or in the exit
    /// record), and after `wait` the actor must be neither counted by
    /// [`actor_count`](Self::actor_count) nor found by [`whereis`](Self::whereis). When the
    /// reason was set first and the tables updated after, a waiter arriving in between
    /// returned with the actor still counted (tests/limit.rs failed on it).
    pub(crate) fn record_exit<T>(
        &self,
        cell: &ActorCell,
        reason: ExitReason,
        keep: bool,
        take: impl FnOnce(&mut actor::CellState) -> T,
    ) -> Option<T> {
        let id = cell.id;
        // The registry lock only for a named actor: a name, seen under the cell's lock,
        // sends us round again with it (no extra lock of the cell up front for the many
        // actors without a name).
        let mut named = false;
        loop {
            let mut reg = named.then(|| lock(&self.0.registry));
            let mut sh = self.shard(id);
            let mut st = cell.lock();
            if st.exit.is_some() {
                return None;
            }
            if st.name.is_some() && reg.is_none() {
                named = true;
                continue;
            }
            // Counted before it leaves the live table, so `Node::stats` never misses it.
            self.0
                .counters
                .ended(cell.runs().is_some(), cell.queue.delivered());
            if let (Some(reg), Some(name)) = (reg.as_mut(), st.name.take())
                && reg.get(&name).is_some_and(|a| a.id() == id)
            {
                reg.remove(&name);
            }
            sh.live.remove(&id);
            if keep && self.0.exit_records_per_shard > 0 {
                sh.dead.insert(id, reason.clone());
                sh.dead_order.push_back(id);
                while sh.dead_order.len() > self.0.exit_records_per_shard {
                    if let Some(old) = sh.dead_order.pop_front() {
                        sh.dead.remove(&old);
                    }
                }
            }
            st.exit = Some(reason);
            return Some(take(&mut st));
        }
    }

    /// Deliver to an actor of this node by id.
    pub(crate) fn deliver_local(&self, addr: &Address, env: Envelope) -> Result<(), SendError> {
        match self.cell_of(addr) {
            Some(cell) => cell.queue.push(env).map_err(|_| cell.queue.refusal(addr)),
            None => Err(SendError::DeadActor(addr.clone())),
        }
    }

    /// Block until the actor ends and return its result: `Ok(value)` if its function
    /// returned normally, or the [`ExitReason`] (panicked, failed, killed, no such actor...).
    /// Works from a thread or an actor, on local and remote addresses; waiting on an actor
    /// that already ended returns its recorded result, while the node keeps it: about the newest
    /// [`Config::exit_records`](crate::config::Config::exit_records) ended actors (65,536 by
    /// default; older ones give [`ExitReason::NoSuchActor`], as Erlang's `noproc`).
    ///
    /// ```
    /// # use pyact::{Mesh, Node, ExitReason};
    /// let node = Node::new(&Mesh::new(), "c@localhost:0").unwrap();
    /// let ok = node.spawn(|_| serde_json::json!("done"));
    /// let bad = node.spawn(|_| -> () { panic!("boom") });
    /// assert_eq!(node.wait(&ok).unwrap(), "done");
    /// assert_eq!(node.wait(&bad), Err(ExitReason::Panicked("boom".into())));
    /// assert_eq!(node.wait(&ok).unwrap(), "done"); // still there
    /// ```
    pub fn wait(&self, addr: &Address) -> Result<Value, ExitReason> {
        self.wait_reason(addr).into_result()
    }

    /// Like [`Node::wait`], but returns the raw [`ExitReason`].
    ///
    /// In an actor, only the actor is parked, and a kill or deadly exit signal ends it during
    /// the wait.
    ///
    /// ```
    /// use pyact::ExitReason;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let a = node.spawn(|_| ExitReason::Shutdown);
    /// assert_eq!(node.wait_reason(&a), ExitReason::Shutdown);
    /// let b = node.spawn(|_| 1);
    /// assert!(node.wait_reason(&b).is_normal());
    /// ```
    pub fn wait_reason(&self, addr: &Address) -> ExitReason {
        context::checkpoint();
        // Same node: mostly the very same `Arc` (addresses of this node's cells share it).
        if !Arc::ptr_eq(&addr.0.node, &self.0.id) && addr.node_id() != self.name() {
            return crate::park::outside(|| self.0.dist.wait(self, addr));
        }
        if !self.same_creation(addr) {
            return ExitReason::NoSuchActor;
        }
        let (cell, me, slot) = {
            let sh = self.shard(addr.id());
            if let Some(cell) = sh.live.get(&addr.id()) {
                let mut st = cell.lock();
                if let Some(r) = &st.exit {
                    return r.clone();
                }
                let me = may::sync::Blocker::current();
                let slot = st.waiters.push(actor::Waiter::Park(me.clone()));
                (cell.clone(), me, slot)
            } else if let Some(r) = sh.dead.get(&addr.id()) {
                return r.clone();
            } else {
                return ExitReason::NoSuchActor;
            }
        };
        // However the wait ends, its entry leaves the target's table: a waiter killed (or
        // ended by an exit signal) while parked unwinds through here, and a long-lived
        // target must not collect one entry per kill.
        let mut leave = LeaveWaiters {
            cell: &cell,
            me: Arc::as_ptr(&me),
            slot,
            ended: false,
        };
        let mut got = None;
        crate::park::park_with(
            me,
            &may::sync::AtomicOption::none(),
            None,
            crate::observe::Status::Waiting,
            || {
                got = cell.lock().exit.clone();
                got.is_some()
            },
        );
        // Returned: the target ended and its table is gone already (no second lock).
        leave.ended = got.is_some();
        got.unwrap_or(ExitReason::NoSuchActor)
    }

    /// Register `tx` to get the exit reason of local actor `id` (for remote waits): its
    /// slot in the actor's waiter table, or the reason at once if the actor already ended
    /// or is unknown.
    pub(crate) fn on_exit(&self, id: u64, tx: actor::Waiter) -> Result<usize, ExitReason> {
        let sh = self.shard(id);
        if let Some(cell) = sh.live.get(&id) {
            let mut st = cell.lock();
            if let Some(r) = &st.exit {
                return Err(r.clone());
            }
            Ok(st.waiters.push(tx))
        } else {
            Err(sh.dead.get(&id).cloned().unwrap_or(ExitReason::NoSuchActor))
        }
    }

    /// Wait for several actors; results in the same order (the seed's `wait_all`).
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let squares: Vec<_> = (1..=3).map(|n| node.spawn(move |_| n * n)).collect();
    /// let got: Vec<_> = node.wait_all(&squares).into_iter().map(|r| r.unwrap()).collect();
    /// assert_eq!(got, [1, 4, 9]);
    /// ```
    pub fn wait_all(&self, addrs: &[Address]) -> Vec<Result<Value, ExitReason>> {
        addrs.iter().map(|a| self.wait(a)).collect()
    }

    /// Every live actor (and inbox) of this node.
    pub(crate) fn live_cells(&self) -> Vec<Arc<ActorCell>> {
        self.0
            .shards
            .iter()
            .flat_map(|s| lock(s).live.values().cloned().collect::<Vec<_>>())
            .collect()
    }

    /// Number of live actors (and inboxes) on this node.
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let before = node.actor_count();
    /// let a = node.spawn(|mut mb| { mb.receive(); });
    /// assert_eq!(node.actor_count(), before + 1);
    /// a.send("stop").unwrap();
    /// node.wait(&a).unwrap();
    /// assert_eq!(node.actor_count(), before);
    /// ```
    pub fn actor_count(&self) -> usize {
        self.0.shards.iter().map(|s| lock(s).live.len()).sum()
    }

    pub(crate) fn cookie(&self) -> &str {
        &self.0.name.cookie
    }
}

/// A local `wait`'s entry in its target's waiter table, removed when the wait ends
/// (returned or unwound). After the target's end the table was emptied already.
struct LeaveWaiters<'a> {
    cell: &'a ActorCell,
    /// The waiter's blocker (compared, never dereferenced: the entry holds it alive).
    me: *const may::sync::Blocker,
    slot: usize,
    /// The wait returned with the target's reason: nothing left to remove.
    ended: bool,
}

impl Drop for LeaveWaiters<'_> {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let mut st = self.cell.lock();
        if st.exit.is_none() {
            st.waiters.remove_if(self.slot, |w| w.is_park(self.me));
        }
    }
}

impl PartialEq for Node {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Node({})", self.name())
    }
}

/// An address for actor `id` of node `node` (of start `creation`, 0 if unknown), resolved
/// to the live actor when it lives on the current actor's node (or, outside any actor, on
/// any node of this process) and the creation matches that node's.
pub(crate) fn resolve(node: &str, id: u64, creation: u32) -> Address {
    let here = actor::current_node();
    let local = match &here {
        Some(n) if n.name() == node => Some(n.clone()),
        Some(_) => None,
        None => local_node(node),
    };
    let cell = local
        .filter(|n| creation == 0 || creation == n.creation())
        .and_then(|n| n.cell(id));
    match cell {
        Some(c) => c.address(),
        None => Address::with_creation(node.into(), id, creation, Weak::new()),
    }
}

/// Route an envelope to an address that has no resolved live cell. The sending node is the
/// current actor's (or the thread's latest inbox's); a thread with neither sends from the
/// address's own node if it is in this process, else from this process's oldest live node.
pub(crate) fn route(addr: &Address, env: Envelope) -> Result<(), SendError> {
    let from = actor::current_node()
        .or_else(|| local_node(addr.node_id()))
        .or_else(any_local_node);
    let Some(from) = from else {
        return Err(SendError::NoRoute(format!(
            "{addr} is on another node and this process has no node to send from"
        )));
    };
    if addr.node_id() == from.name() {
        from.deliver_local(addr, env)
    } else {
        from.0.dist.send(&from, addr, env)
    }
}

/// The live actor whose cell is at `ptr` (see [`crate::watchdog`]): its address and name.
pub(crate) fn find_cell_by_ptr(
    ptr: usize,
) -> Option<(Address, Option<String>, Option<&'static str>)> {
    let nodes: Vec<Node> = lock(local_nodes())
        .values()
        .filter_map(Weak::upgrade)
        .map(Node)
        .collect();
    nodes.iter().find_map(|n| {
        n.live_cells()
            .into_iter()
            .find(|c| Arc::as_ptr(c) as usize == ptr)
            .map(|c| (c.address(), c.lock().name.clone(), c.runs()))
    })
}

/// The oldest live node of this process (a shut-down node is not live).
pub(crate) fn any_local_node() -> Option<Node> {
    let nodes: Vec<Node> = lock(local_nodes())
        .values()
        .filter_map(Weak::upgrade)
        .map(Node)
        .collect();
    oldest_live(nodes)
}

/// The oldest of `nodes` that is not shut down.
fn oldest_live(nodes: impl IntoIterator<Item = Node>) -> Option<Node> {
    nodes
        .into_iter()
        .filter(|n| !n.is_shut_down())
        .min_by_key(|n| n.0.created)
}

/// The node that counts as "here" for `addr`: the current actor's node if `addr` names it,
/// or (outside any actor) the process's node of that name.
pub(crate) fn home_node(addr: &Address) -> Option<Node> {
    match actor::current_node() {
        Some(n) if n.name() == addr.node_id() => Some(n),
        Some(_) => None,
        None => local_node(addr.node_id()),
    }
}

/// The live cell behind `addr` if it is an actor of the node that is "here".
pub(crate) fn home_cell(addr: &Address) -> Option<Arc<ActorCell>> {
    home_node(addr).and_then(|n| n.cell_of(addr))
}

/// Does `addr` name an actor of the node that is "here"? If not, it is the door's
/// ([`crate::distribution`]).
pub(crate) fn is_here(addr: &Address) -> bool {
    home_node(addr).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shut_down_node_is_never_picked_as_the_oldest() {
        let mesh = Mesh::new();
        let old = Node::new(&mesh, "c@127.0.0.1:0").unwrap();
        let young = Node::new(&mesh, "c@127.0.0.1:0").unwrap();
        assert_eq!(oldest_live([young.clone(), old.clone()]), Some(old.clone()));
        old.shutdown();
        assert_eq!(
            oldest_live([young.clone(), old.clone()]),
            Some(young.clone())
        );
        assert_eq!(oldest_live([old.clone()]), None);
        assert!(any_local_node().is_some_and(|n| n != old));
    }
}
