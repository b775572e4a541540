//! Routers: one address in front of a pool of workers that a supervisor keeps alive.
//!
//! # Design (written down before the code)
//!
//! [`Router::spawn`] starts two actors: the *router*, and, linked to it, a one-for-one
//! [`Supervisor`] (the *pool supervisor*) with one child per *slot* `0..size`. Each child runs
//! the worker function given to [`Router::new`] with its slot number; before the worker
//! function runs, the child sends the router `{"$join": <slot>, "address": <its address>}`.
//!
//! - **Membership.** On a join the router monitors the worker and puts it in its slot
//!   (replacing any previous holder). On the worker's DOWN, or when a send to it fails because
//!   it is dead, the slot is emptied: the worker *leaves the pool*. When the supervisor
//!   restarts it, the new worker joins the same slot: it *rejoins*. A worker that is not
//!   restarted (see [`Router::restart`]) leaves the pool for good.
//! - **Start.** The router routes nothing until every slot has joined once, so the first
//!   messages already see the whole pool (they wait in the router's mailbox meanwhile).
//! - **Routing** ([`Routing`]), for every message that is not for the router itself:
//!   - `RoundRobin`: the slots in turn, skipping empty ones;
//!   - `Random`: a uniformly random non-empty slot (xorshift, seeded per router);
//!   - `Broadcast`: a copy to every worker in the pool;
//!   - `ConsistentHash(key)`: the value at `key` in the message (a JSON pointer if it starts
//!     with `/`, e.g. `"/message/user"` for a call's argument, else a top-level key; absent
//!     counts as `null`) is hashed onto a ring with [`virtual nodes`](Router::virtual_nodes)
//!     per slot; the message goes to the first non-empty slot clockwise. The ring is made of
//!     slots, not addresses, so a key maps to the same slot for as long as that slot is in
//!     the pool, including after its worker is restarted; while a slot is empty its keys
//!     spread over the other slots, and they come back when it rejoins.
//!
//!   If a send fails because the worker just died, the worker leaves the pool and the message
//!   is routed again. If the pool is empty the message waits in the router until a worker
//!   joins. A message already delivered to a worker that then dies is lost with it.
//! - **Calls.** A call whose method starts with `$` is for the router: `"$workers"` (the
//!   pool by slot, see [`workers`]), `"$supervisor"` ([`pool_supervisor`]) and `"$stop"`
//!   ([`Address::stop_server`](crate::Address::stop_server): stops the pool, then the
//!   router, normally). Any other call is routed like a message; the worker answers the
//!   caller directly. The caller monitors the router, not the worker: if the worker dies
//!   during the call, the call ends at its timeout. A call broadcast to the pool returns the
//!   first answer; the others are dropped with the call's mailbox.
//! - **Failure.** The router and the pool supervisor are linked. If the pool supervisor gives
//!   up (restart intensity, see [`Router::intensity`]), the router dies with
//!   [`ExitReason::Linked`], which escalates to the router's own supervisor; if the router
//!   dies, the pool supervisor stops the workers and exits.
//!
//! ```
//! use pyact::{Mailbox, Mesh, Node, json};
//! use pyact::router::{Router, Routing};
//!
//! let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
//! let mut inbox = node.inbox();
//! let me = inbox.addr();
//! let router = Router::new(Routing::RoundRobin, 2, move |mut mb: Mailbox, slot: usize| {
//!     loop {
//!         let job = mb.receive();
//!         if job == "stop" {
//!             break;
//!         }
//!         me.send(json!({"slot": slot, "job": job})).unwrap();
//!     }
//! })
//! .spawn(&node);
//! for job in 0..4 {
//!     router.send(job).unwrap();
//! }
//! let mut got: Vec<(u64, u64)> = (0..4)
//!     .map(|_| {
//!         let m = inbox.receive();
//!         (m["slot"].as_u64().unwrap(), m["job"].as_u64().unwrap())
//!     })
//!     .collect();
//! got.sort();
//! assert_eq!(got, [(0, 0), (0, 2), (1, 1), (1, 3)]);
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::link::Ref;
use crate::server::{Call, CallError, STOP_METHOD, ServerError};
use crate::supervisor::{ChildSpec, Restart, Shutdown, Strategy, Supervisor};
use crate::{Address, ExitReason, IntoExit, Mailbox, Node, SendError};

/// How a router picks workers. See the [module docs](self).
///
/// ```
/// use pyact::router::{Router, Routing};
/// use std::time::Duration;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let mut probe = pyact::testing::Probe::new(&node);
/// let me = probe.addr();
/// let router = Router::new(Routing::Broadcast, 3, move |mut mb: pyact::Mailbox, slot: usize| loop {
///     mb.receive();
///     me.send(slot).unwrap();
/// })
/// .spawn(&node);
/// router.send("config changed").unwrap();
/// let mut slots: Vec<_> = (0..3).map(|_| probe.expect_msg(&pyact::pattern!(int), Duration::from_secs(30))).collect();
/// slots.sort_by_key(|v| v.as_u64());
/// assert_eq!(slots, [0, 1, 2]); // every worker got a copy
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Routing {
    /// The slots in turn.
    RoundRobin,
    /// A random worker.
    Random,
    /// Every worker.
    Broadcast,
    /// By the hash of the value at this key (`/a/b` JSON pointer, or a top-level key name).
    ConsistentHash(String),
}

type Worker = Arc<dyn Fn(Mailbox, usize) -> ExitReason + Send + Sync>;

/// A router's specification. Cheap to clone; [`spawn`](Router::spawn) it, or
/// [`run`](Router::run) it in an actor (e.g. as a supervisor's child).
///
/// ```
/// use pyact::router::{Router, Routing};
/// use std::time::Duration;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// // Calls go to a worker, which answers the caller directly.
/// let pool = Router::new(Routing::RoundRobin, 2, |mut mb: pyact::Mailbox, slot: usize| loop {
///     let call = pyact::server::Call::parse(mb.receive()).unwrap();
///     call.reply(pyact::json!(slot)).unwrap();
/// })
/// .spawn(&node);
/// let t = Duration::from_secs(30);
/// let first = pool.call("which", (), t).unwrap();
/// let second = pool.call("which", (), t).unwrap();
/// assert_ne!(first, second); // round robin
/// ```
#[derive(Clone)]
#[must_use = "a Router does nothing until spawned or run"]
pub struct Router {
    routing: Routing,
    size: usize,
    worker: Worker,
    restart: Restart,
    shutdown: Shutdown,
    max_restarts: u32,
    period: Duration,
    vnodes: usize,
    mailbox_limit: Option<usize>,
}

impl Router {
    /// A router with `size` workers, each running `worker(mailbox, slot)`. Defaults:
    /// permanent workers, 5 s shutdown, pool restart intensity 1 within 5 seconds (Erlang's
    /// default), 64 virtual nodes per slot.
    ///
    /// # Panics
    /// If `size` is 0.
    ///
    /// ```
    /// use pyact::router::{Router, Routing, workers};
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let r = Router::new(Routing::Random, 4, |mut mb: pyact::Mailbox, _slot: usize| loop { mb.receive(); }).spawn(&node);
    /// assert_eq!(workers(&r, Duration::from_secs(30)).unwrap().len(), 4);
    /// ```
    pub fn new<F, R>(routing: Routing, size: usize, worker: F) -> Router
    where
        F: Fn(Mailbox, usize) -> R + Send + Sync + 'static,
        R: IntoExit,
    {
        assert!(size > 0, "a router needs at least one worker");
        Router {
            routing,
            size,
            worker: Arc::new(move |mb, slot| worker(mb, slot).into_exit()),
            restart: Restart::Permanent,
            shutdown: Shutdown::Timeout(Duration::from_secs(5)),
            max_restarts: 1,
            period: Duration::from_secs(5),
            vnodes: 64,
            mailbox_limit: None,
        }
    }

    /// The workers' restart kind (default [`Restart::Permanent`]).
    ///
    /// ```
    /// use pyact::router::{Router, Routing, workers};
    /// use pyact::supervisor::Restart;
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// // One-shot workers: each handles one job and leaves the pool for good.
    /// let r = Router::new(Routing::RoundRobin, 2, |mut mb: pyact::Mailbox, _: usize| { mb.receive(); })
    ///     .restart(Restart::Temporary)
    ///     .spawn(&node);
    /// let t = Duration::from_secs(30);
    /// assert!(workers(&r, t).unwrap()[0].is_some());
    /// r.send("job").unwrap(); // goes to slot 0, which ends
    /// let deadline = std::time::Instant::now() + t;
    /// while workers(&r, t).unwrap()[0].is_some() { // until the router saw it go
    ///     assert!(std::time::Instant::now() < deadline);
    /// }
    /// ```
    pub fn restart(mut self, restart: Restart) -> Router {
        self.restart = restart;
        self
    }

    /// How the workers are stopped (default 5 s, then killed).
    ///
    /// ```
    /// use pyact::router::{Router, Routing};
    /// use pyact::supervisor::Shutdown;
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// // Workers that trap exits would delay a stop by 5 s each; kill them instead.
    /// let r = Router::new(Routing::RoundRobin, 2, |mut mb: pyact::Mailbox, _: usize| { mb.trap_exit(true); loop { mb.receive(); } })
    ///     .shutdown(Shutdown::BrutalKill)
    ///     .spawn(&node);
    /// r.stop_server(Duration::from_secs(30)).unwrap();
    /// ```
    pub fn shutdown(mut self, shutdown: Shutdown) -> Router {
        self.shutdown = shutdown;
        self
    }

    /// The pool supervisor's restart intensity (see [`Supervisor::intensity`]).
    ///
    /// ```
    /// use pyact::router::{Router, Routing};
    /// use pyact::ExitReason;
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let r = Router::new(Routing::RoundRobin, 1, |mut mb: pyact::Mailbox, _: usize| -> () { mb.receive(); panic!("bad job") })
    ///     .intensity(0, Duration::from_secs(5)) // the first crash ends the pool
    ///     .spawn(&node);
    /// r.send("job").unwrap();
    /// assert!(matches!(node.wait(&r), Err(ExitReason::Linked { .. })));
    /// ```
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Router {
        self.max_restarts = max_restarts;
        self.period = period;
        self
    }

    /// Points per slot on the consistent-hash ring (default 64; at least 1).
    ///
    /// ```
    /// use pyact::router::{Router, Routing};
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut probe = pyact::testing::Probe::new(&node);
    /// let me = probe.addr();
    /// let by_user = Router::new(Routing::ConsistentHash("user".into()), 3, move |mut mb: pyact::Mailbox, slot: usize| loop {
    ///     mb.receive();
    ///     me.send(slot).unwrap();
    /// })
    /// .virtual_nodes(16)
    /// .spawn(&node);
    /// let t = Duration::from_secs(30);
    /// by_user.send(pyact::json!({"user": "ann"})).unwrap();
    /// let first = probe.expect_msg(&pyact::pattern!(int), t);
    /// by_user.send(pyact::json!({"user": "ann", "again": true})).unwrap();
    /// assert_eq!(probe.expect_msg(&pyact::pattern!(int), t), first); // same user, same worker
    /// ```
    pub fn virtual_nodes(mut self, n: usize) -> Router {
        self.vnodes = n.max(1);
        self
    }

    /// Bound each worker's mailbox to `n` unread user messages (see
    /// [`ChildSpec::mailbox_limit`]), so that a slow worker cannot pile up work. A message
    /// routed to a full worker (or a broadcast copy for it) is dropped and logged with
    /// `warn!`; the router's own mailbox stays unbounded. Unbounded by default.
    ///
    /// ```
    /// use pyact::router::{Router, Routing, workers};
    /// use pyact::{Mesh, Node, SendError};
    /// use std::time::Duration;
    /// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// // Workers that never read their mail.
    /// let router = Router::new(Routing::RoundRobin, 2, |_, _| loop {
    ///     pyact::actor::sleep(Duration::from_secs(60))
    /// })
    /// .mailbox_limit(1)
    /// .spawn(&node);
    /// let w = workers(&router, Duration::from_secs(30)).unwrap()[0].clone().unwrap();
    /// w.send("one").unwrap();
    /// assert!(matches!(w.send("two"), Err(SendError::MailboxFull(_))));
    /// ```
    pub fn mailbox_limit(mut self, n: usize) -> Router {
        self.mailbox_limit = Some(n);
        self
    }

    /// Spawn the router (and its pool) on `node`; returns the router's address.
    ///
    /// ```
    /// use pyact::router::{Router, Routing};
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let r = Router::new(Routing::RoundRobin, 2, |mut mb: pyact::Mailbox, _: usize| loop { mb.receive(); }).spawn(&node);
    /// r.stop_server(Duration::from_secs(30)).unwrap(); // pool first, then the router
    /// assert!(node.wait(&r).is_ok());
    /// ```
    pub fn spawn(self, node: &Node) -> Address {
        node.spawn(move |mb| self.run(mb))
    }

    /// Run the router in the calling actor until it is stopped; returns its exit reason.
    ///
    /// ```
    /// use pyact::router::{Router, Routing};
    /// use pyact::supervisor::{ChildSpec, Strategy, Supervisor, which_children};
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let pool = Router::new(Routing::RoundRobin, 2, |mut mb: pyact::Mailbox, _: usize| loop { mb.receive(); });
    /// // A router as a supervised child: restarted with a fresh pool if it dies.
    /// let sup = Supervisor::new(Strategy::OneForOne)
    ///     .child(ChildSpec::new("pool", move |mb| pool.clone().run(mb)))
    ///     .spawn(&node);
    /// assert_eq!(which_children(&sup, Duration::from_secs(30)).unwrap()[0].id, "pool");
    /// ```
    pub fn run(self, mut mailbox: Mailbox) -> ExitReason {
        let me = mailbox.addr();
        let mut sup =
            Supervisor::new(Strategy::OneForOne).intensity(self.max_restarts, self.period);
        for slot in 0..self.size {
            let (worker, router) = (self.worker.clone(), me.clone());
            let child = ChildSpec::new(format!("worker-{slot}"), move |mb: Mailbox| {
                let _ = router.send(json!({"$join": slot, "address": mb.addr()}));
                worker(mb, slot)
            });
            let mut child = child.restart(self.restart).shutdown(self.shutdown);
            if let Some(n) = self.mailbox_limit {
                child = child.mailbox_limit(n);
            }
            sup = sup.child(child);
        }
        let supervisor = match sup.spawn_link(mailbox.node(), &me) {
            Ok(a) => a,
            Err(e) => return ExitReason::Failed(format!("router could not start its pool: {e}")),
        };
        let mut pool = Pool::new(&self, supervisor);
        let join = crate::pattern!({"$join": int, "address": address});
        let down = crate::pattern!({"down": _, "address": address, "exit": _});
        while pool.joined.iter().any(|j| !j) {
            let (_, msg) = mailbox.receive_match(&[&join, &down]);
            pool.handle(msg, &mut mailbox);
        }
        loop {
            let msg = mailbox.receive();
            if let Some(reason) = pool.handle(msg, &mut mailbox) {
                return reason;
            }
        }
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("routing", &self.routing)
            .field("size", &self.size)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("max_restarts", &self.max_restarts)
            .field("period", &self.period)
            .field("vnodes", &self.vnodes)
            .field("mailbox_limit", &self.mailbox_limit)
            .finish()
    }
}

/// The router's pool, by slot (`None`: not in the pool now).
///
/// ```
/// use pyact::router::{Router, Routing, workers};
/// use std::time::Duration;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let r = Router::new(Routing::RoundRobin, 2, |mut mb: pyact::Mailbox, _: usize| loop { mb.receive(); }).spawn(&node);
/// let pool = workers(&r, Duration::from_secs(30)).unwrap();
/// assert!(pool.iter().all(Option::is_some)); // every slot joined before the router answers
/// ```
pub fn workers(router: &Address, timeout: Duration) -> Result<Vec<Option<Address>>, CallError> {
    let v = router.call("$workers", (), timeout)?;
    serde_json::from_value(v).map_err(|e| CallError::Server(format!("bad $workers: {e}")))
}

/// The supervisor of the router's pool (for [`which_children`](crate::supervisor::which_children)).
///
/// ```
/// use pyact::router::{Router, Routing, pool_supervisor};
/// use pyact::supervisor::which_children;
/// use std::time::Duration;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let r = Router::new(Routing::RoundRobin, 2, |mut mb: pyact::Mailbox, _: usize| loop { mb.receive(); }).spawn(&node);
/// let t = Duration::from_secs(30);
/// let sup = pool_supervisor(&r, t).unwrap();
/// assert_eq!(which_children(&sup, t).unwrap().len(), 2);
/// ```
pub fn pool_supervisor(router: &Address, timeout: Duration) -> Result<Address, CallError> {
    let v = router.call("$supervisor", (), timeout)?;
    serde_json::from_value(v).map_err(|e| CallError::Server(format!("bad $supervisor: {e}")))
}

/// 64-bit FNV-1a followed by the splitmix64 finalizer: stable across processes and
/// releases (unlike `DefaultHasher`), and well spread.
fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The router's state.
struct Pool {
    routing: Routing,
    supervisor: Address,
    /// Current worker and its monitor, by slot.
    slots: Vec<Option<(Address, Ref)>>,
    /// Whether each slot has joined at least once.
    joined: Vec<bool>,
    /// Next slot to try (round robin).
    next: usize,
    /// xorshift64 state (random).
    rng: u64,
    /// (point, slot), sorted by point (consistent hash).
    ring: Vec<(u64, usize)>,
    /// Messages waiting for a worker (the pool was empty).
    pending: VecDeque<Value>,
}

impl Pool {
    fn new(spec: &Router, supervisor: Address) -> Pool {
        let mut ring = Vec::new();
        if let Routing::ConsistentHash(_) = spec.routing {
            for slot in 0..spec.size {
                for v in 0..spec.vnodes {
                    ring.push((hash_bytes(format!("{slot}#{v}").as_bytes()), slot));
                }
            }
            ring.sort_unstable();
        }
        Pool {
            routing: spec.routing.clone(),
            supervisor,
            slots: vec![None; spec.size],
            joined: vec![false; spec.size],
            next: 0,
            rng: (crate::random_u64() ^ Ref::new().id()) | 1,
            ring,
            pending: VecDeque::new(),
        }
    }

    /// Handle one message; `Some(reason)` when the router must stop.
    fn handle(&mut self, msg: Value, mb: &mut Mailbox) -> Option<ExitReason> {
        if let (Some(slot), Some(addr)) = (msg["$join"].as_u64(), msg.get("address"))
            && let Ok(addr) = serde_json::from_value::<Address>(addr.clone())
        {
            self.join(slot as usize, addr, mb);
            return None;
        }
        if let Some(r) = msg
            .get("down")
            .and_then(|r| serde_json::from_value::<Ref>(r.clone()).ok())
            && let Some(slot) = self
                .slots
                .iter()
                .position(|s| s.as_ref().is_some_and(|(_, m)| *m == r))
        {
            self.slots[slot] = None;
            return None;
        }
        let for_router =
            msg.get("call").is_some() && msg["method"].as_str().is_some_and(|m| m.starts_with('$'));
        if for_router && let Ok(call) = Call::parse(msg.clone()) {
            return self.own_call(call, mb);
        }
        // Anything else, calls included: a worker answers a call straight to its caller.
        self.route(msg, mb);
        None
    }

    fn own_call(&mut self, call: Call, mb: &mut Mailbox) -> Option<ExitReason> {
        let reply = match call.method.as_str() {
            "$workers" => {
                let pool: Vec<Option<&Address>> = self
                    .slots
                    .iter()
                    .map(|s| s.as_ref().map(|(a, _)| a))
                    .collect();
                call.reply(json!(pool))
            }
            "$supervisor" => call.reply(json!(self.supervisor)),
            STOP_METHOD => {
                self.stop_pool(mb);
                let _ = call.reply(Value::Null);
                return Some(ExitReason::Normal(Value::Null));
            }
            _ => call.reply_error(&ServerError::UnknownMethod),
        };
        if let Err(e) = reply {
            log::debug!("router {}: reply not delivered: {e}", mb.addr());
        }
        None
    }

    /// Stop the pool supervisor (and so the workers) and wait until it is gone.
    fn stop_pool(&mut self, mb: &mut Mailbox) {
        let me = mb.addr();
        mb.unlink(&self.supervisor);
        let r = mb.monitor(&self.supervisor);
        let _ = self.supervisor.exit(&me, ExitReason::Shutdown);
        mb.receive_match(&[&crate::pattern!({"down": = r})]);
    }

    fn join(&mut self, slot: usize, addr: Address, mb: &mut Mailbox) {
        if slot >= self.slots.len() {
            log::warn!("router {}: join for unknown slot {slot}", mb.addr());
            return;
        }
        if let Some((_, old)) = self.slots[slot].take() {
            mb.demonitor(old);
        }
        let r = mb.monitor(&addr);
        log::debug!("router {}: {addr} joined slot {slot}", mb.addr());
        self.slots[slot] = Some((addr, r));
        self.joined[slot] = true;
        for msg in std::mem::take(&mut self.pending) {
            self.route(msg, mb);
        }
    }

    /// Take `slot` out of the pool (its worker is dead).
    fn leave(&mut self, slot: usize, mb: &mut Mailbox) {
        if let Some((_, r)) = self.slots[slot].take() {
            mb.demonitor(r);
        }
    }

    fn alive(&self, slot: usize) -> bool {
        self.slots[slot].is_some()
    }

    /// The slot for `msg` among the current pool, if the pool is not empty.
    fn pick(&mut self, msg: &Value) -> Option<usize> {
        let n = self.slots.len();
        match &self.routing {
            Routing::RoundRobin | Routing::Broadcast => {
                let slot = (0..n)
                    .map(|k| (self.next + k) % n)
                    .find(|&s| self.alive(s))?;
                self.next = slot + 1;
                Some(slot)
            }
            Routing::Random => {
                let alive: Vec<usize> = (0..n).filter(|&s| self.alive(s)).collect();
                if alive.is_empty() {
                    return None;
                }
                let mut x = self.rng;
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                self.rng = x;
                Some(alive[(x % alive.len() as u64) as usize])
            }
            Routing::ConsistentHash(key) => {
                let value = if key.starts_with('/') {
                    msg.pointer(key)
                } else {
                    msg.get(key)
                };
                let text = serde_json::to_string(value.unwrap_or(&Value::Null)).unwrap_or_default();
                let h = hash_bytes(text.as_bytes());
                let start = self.ring.partition_point(|(p, _)| *p < h);
                let len = self.ring.len();
                (0..len)
                    .map(|k| self.ring[(start + k) % len].1)
                    .find(|&s| self.alive(s))
            }
        }
    }

    fn route(&mut self, msg: Value, mb: &mut Mailbox) {
        if self.routing == Routing::Broadcast {
            let mut sent = false;
            for slot in 0..self.slots.len() {
                let Some((addr, _)) = &self.slots[slot] else {
                    continue;
                };
                match addr.send(msg.clone()) {
                    Ok(()) => sent = true,
                    Err(SendError::DeadActor(_)) => self.leave(slot, mb),
                    Err(e) => log::warn!("router {}: broadcast to {addr} failed: {e}", mb.addr()),
                }
            }
            if !sent {
                self.pending.push_back(msg);
            }
            return;
        }
        loop {
            let Some(slot) = self.pick(&msg) else {
                self.pending.push_back(msg);
                return;
            };
            let addr = self.slots[slot].as_ref().map(|(a, _)| a.clone());
            let Some(addr) = addr else { return };
            // A copy, so that the message can be routed again if this worker just died.
            match addr.send(msg.clone()) {
                Ok(()) => return,
                Err(SendError::DeadActor(_)) => self.leave(slot, mb),
                Err(e) => {
                    log::warn!("router {}: message to {addr} lost: {e}", mb.addr());
                    return;
                }
            }
        }
    }
}
