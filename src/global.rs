//! Cluster-wide names (Erlang's `global`): a name registered on one node resolves on every
//! node, and is free again everywhere when its actor ends or its node is lost.
//!
//! ```
//! use pyact::{Mesh, Node, RegistryError, global};
//! let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
//! let mut inbox = node.inbox();
//! global::register_name(&node, "db", &inbox.addr()).unwrap();
//! assert_eq!(global::whereis_name(&node, "db"), Some(inbox.addr()));
//! assert_eq!(
//!     global::register_name(&node, "db", &node.inbox().addr()),
//!     Err(RegistryError::Taken("db".into()))
//! );
//! global::send(&node, "db", "hello").unwrap();
//! assert_eq!(inbox.receive(), "hello");
//! global::unregister_name(&node, "db");
//! assert_eq!(global::whereis_name(&node, "db"), None);
//! ```
//!
//! ## Semantics
//!
//! - **Registration** ([`register_name`]) is for actors of the node it is called on
//!   ([`RegistryError::NotLocal`] otherwise): each node *owns* the names of its actors.
//!   It first waits until this node's service knows its counterpart on every connected
//!   node that runs one ([`sync`], Erlang's `global:sync`); then it succeeds only if none
//!   of them holds the name or is registering it, and returns once every one has agreed
//!   (a lock on the name, below); then [`whereis_name`] resolves it on this node at once and on
//!   the others as soon as the `registered` message arrived (one network hop).
//! - **Concurrent registrations of one name** on different nodes: each takes a lock on the
//!   name on every node; a node grants the lock to one requester at a time, so at most one
//!   registration gathers every grant. A requester that meets a lock held by another backs
//!   off for a short delay that differs per node (it grows with the attempts: 1 ms up to a
//!   few hundred), releases its grants, and tries again; after
//!   [`REGISTER_DEADLINE`] without agreement it fails with [`RegistryError::Unavailable`].
//!   A node that did not answer within the deadline makes the registration fail the same way.
//!   A name that is registered somewhere fails at once with [`RegistryError::Taken`].
//! - **End and loss.** When a registered actor ends, its node unregisters the name and
//!   tells every other node. When a node is lost (connection down, shut down, killed), every
//!   other node forgets all the names it owned at once.
//! - **Partitions** ([`Resolver`]). Two sides of a partition can register the same name,
//!   each on its own side. When they meet again (on `nodeup` each side sends the other
//!   all the names it owns), the rule is deterministic and the same on every node: **the
//!   registration whose actor's address sorts first is kept** (addresses sort by node name
//!   `host:port` as a string, then actor id, then creation). Until the loser's node hears of
//!   the winner, [`whereis_name`] on any node already answers the winner. The *loser's
//!   node* unregisters its name and applies the loser's [`Resolver`]: by default
//!   ([`Resolver::Kill`], Erlang's `random_exit_name` with a deterministic choice) the losing
//!   actor is killed ([`ExitReason::Killed`](crate::ExitReason::Killed), untrappable);
//!   [`Resolver::Notify`] (Erlang's `random_notify_name`) leaves it running and sends it
//!   `{"global": "name_conflict", "name": "<name>", "kept": <address of the winner>}`.
//!   The same rule settles any other conflict a registration may meet (a node that joined
//!   during the lock round). The loser's node settles it when it hears of the winner, so the
//!   two owners must be connected (connect-all gives that; in a mesh wired by hand, a node
//!   connected to both already answers the winner).
//! - [`unregister_name`] works from any node: the owner drops the name and tells the others.
//!
//! ## How it works
//!
//! Each node runs one system actor, registered locally as [`SERVICE`] (a reserved name),
//! started on the first call of this module on that node (a node that never calls it takes
//! no part). Counterparts find each other as `pg`'s do (on `nodeup`, see `service.rs`) and
//! exchange ordinary messages, objects whose `"pyact.global"` field names the kind:
//!
//! | message | meaning |
//! |---|---|
//! | `discover {peer}` | "I run here": monitored, answered with `discover` if new, always with `sync` |
//! | `sync {peer, names: {name: address}}` | every name the sender owns: replaces what the receiver held for that node |
//! | `lock {peer, name, tid}` → `lock_reply {peer, tid, answer: "granted" \| "busy" \| "taken"}` | the registration lock |
//! | `unlock {peer, name, tid}` | a registration attempt gave up |
//! | `registered {peer, name, address}` / `unregistered {peer, name}` | a change of the sender's names (also releases its lock) |
//! | `unregister {peer, name}` | "drop this name of yours" ([`unregister_name`] on another node) |
//!
//! A lock lasts at most [`LOCK_LEASE`] and ends with its holder's node.
//!
//! ## Threat notes
//!
//! Peers hold the cookie, but what they send is checked: a `discover` only from a node this
//! node is connected to, every other message only from a known counterpart; a peer's names
//! must point at actors of *its own* node; per peer at most [`MAX_NAMES_PER_PEER`] names and
//! [`MAX_LOCKS_PER_PEER`] locks are held (past that: dropped with a warning, and `busy`);
//! a name is at most [`MAX_NAME_LEN`] bytes; malformed messages are dropped, never a panic.
//! At most [`MAX_SYNC_CALLERS`] [`sync`] calls wait at once, each at most
//! [`REGISTER_DEADLINE`]. A cookie holder can still unregister or outrace names, or
//! register a *local* actor through the calls' messages: the cookie is the trust boundary,
//! as for every remote operation.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::service::{self, Service, Services, order_key};
use crate::{Address, Mailbox, Node, Ref, RegistryError, SendError, link::Down};

/// The reserved local name of each node's `global` actor.
pub const SERVICE: &str = "pyact.global";
/// The longest name, in bytes.
pub const MAX_NAME_LEN: usize = 255;
/// The most names kept for one peer node.
pub const MAX_NAMES_PER_PEER: usize = 100_000;
/// The most name locks one peer node may hold here at once.
pub const MAX_LOCKS_PER_PEER: usize = 1_000;
/// How long a lock granted to a peer lasts if it never registers nor unlocks.
pub const LOCK_LEASE: Duration = Duration::from_secs(10);
/// How long a registration tries to get every node's agreement.
pub const REGISTER_DEADLINE: Duration = Duration::from_secs(5);

/// The most [`sync`] callers waiting at once (each is answered within the registration
/// deadline).
pub const MAX_SYNC_CALLERS: usize = 1_024;

/// How long a call waits for the node's own actor (more than the registration deadline).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What happens to the actor whose registration loses a conflict (see the
/// [module docs](self#semantics)). Chosen per registration with [`register_name_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Resolver {
    /// Kill it (untrappable), as Erlang's default `random_exit_name`.
    #[default]
    Kill,
    /// Leave it running and send it
    /// `{"global": "name_conflict", "name": "<name>", "kept": <winner>}`.
    Notify,
}

impl Resolver {
    fn as_str(self) -> &'static str {
        match self {
            Resolver::Kill => "kill",
            Resolver::Notify => "notify",
        }
    }
}

/// What readers share with the actor: this node's names and every peer's.
#[derive(Default)]
pub(crate) struct View {
    local: HashMap<String, Address>,
    remote: HashMap<String, HashMap<String, Address>>,
}

impl View {
    /// The holder of `name` every node agrees on: the first address by [`order_key`].
    fn winner(&self, name: &str) -> Option<Address> {
        self.local
            .get(name)
            .into_iter()
            .chain(self.remote.values().filter_map(|m| m.get(name)))
            .min_by(|a, b| order_key(a).cmp(&order_key(b)))
            .cloned()
    }
}

static SERVICES: Services<View> = Services::new(SERVICE);

fn instance(node: &Node) -> Result<Arc<Service<View>>, String> {
    SERVICES.ensure(node, run)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME_LEN
}

/// Register the local actor `addr` as `name` on the whole cluster, with the default
/// [`Resolver::Kill`]. Errors: [`RegistryError::Taken`] if a node holds the name,
/// [`RegistryError::NotLocal`] if `addr` is not an actor of `node`,
/// [`RegistryError::Unavailable`] without agreement in time (see the [module docs](self)).
///
/// ```
/// # use pyact::{Mesh, Node, global};
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let a = node.spawn(|mut mb| { mb.receive(); });
/// global::register_name(&node, "cache", &a).unwrap();
/// assert_eq!(global::whereis_name(&node, "cache"), Some(a.clone()));
/// ```
pub fn register_name(node: &Node, name: &str, addr: &Address) -> Result<(), RegistryError> {
    register_name_with(node, name, addr, Resolver::default())
}

/// [`register_name`] with the [`Resolver`] to apply to `addr` if its registration loses a
/// conflict after a partition.
///
/// ```
/// # use pyact::{Mesh, Node, global::{self, Resolver}};
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let a = node.spawn(|mut mb| { mb.receive(); });
/// global::register_name_with(&node, "leader", &a, Resolver::Notify).unwrap();
/// ```
pub fn register_name_with(
    node: &Node,
    name: &str,
    addr: &Address,
    resolver: Resolver,
) -> Result<(), RegistryError> {
    if !valid_name(name) {
        return Err(RegistryError::Unavailable(format!(
            "a global name has 1 to {MAX_NAME_LEN} bytes"
        )));
    }
    if addr.node_id() != node.name() {
        return Err(RegistryError::NotLocal(addr.clone()));
    }
    let s = instance(node).map_err(RegistryError::Unavailable)?;
    sync_with(node, &s)?;
    let req = json!({"pyact.global": "local_register", "name": name, "address": addr,
                     "resolver": resolver.as_str()});
    let v = service::call(node, &s.addr, req, CALL_TIMEOUT).map_err(RegistryError::Unavailable)?;
    match v["error"].as_str() {
        None => Ok(()),
        Some("taken") => Err(RegistryError::Taken(name.to_string())),
        Some("not_local") => Err(RegistryError::NotLocal(addr.clone())),
        Some(why) => Err(RegistryError::Unavailable(why.to_string())),
    }
}

/// Wait until this node's service knows its counterpart on every connected node that runs
/// one (Erlang's `global:sync/0`): after it, a registration here is checked against all of
/// them. [`register_name`] does this first; a program can call it after connecting, before
/// relying on [`whereis_name`] answers of the whole cluster. It costs one request per
/// connected node whose service this node does not know yet (a node that never uses
/// `global` is asked each time).
///
/// ```
/// # use pyact::{Mesh, Node, global};
/// let mesh = Mesh::new();
/// let a = Node::new(&mesh, "c@127.0.0.1:0").unwrap();
/// let b = Node::new(&mesh, "c@127.0.0.1:0").unwrap();
/// a.connect(&format!("c@{}", b.name())).unwrap();
/// global::sync(&b).unwrap(); // b runs the service
/// global::sync(&a).unwrap(); // a knows b's
/// let inbox = b.inbox();
/// global::register_name(&b, "x", &inbox.addr()).unwrap();
/// ```
pub fn sync(node: &Node) -> Result<(), RegistryError> {
    let s = instance(node).map_err(RegistryError::Unavailable)?;
    sync_with(node, &s)
}

/// [`sync`]: ask the actor which connected nodes it does not know yet; look each up (a
/// network request each, only for those); introduce ourselves to the ones that run the
/// service; wait for the actor to know them (or for them to go down).
fn sync_with(node: &Node, s: &Service<View>) -> Result<(), RegistryError> {
    let v = service::call(
        node,
        &s.addr,
        json!({"pyact.global": "local_unknown"}),
        CALL_TIMEOUT,
    )
    .map_err(RegistryError::Unavailable)?;
    let known: HashSet<String> = serde_json::from_value(v["known"].clone()).unwrap_or_default();
    let mut found = Vec::new();
    for peer in node.connected_nodes() {
        if known.contains(&peer) {
            continue;
        }
        if let Ok(Some(there)) = node.whereis_remote(&peer, SERVICE) {
            let _ = there.send(json!({"pyact.global": "discover", "peer": s.addr}));
            found.push(peer);
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    let req = json!({"pyact.global": "local_await", "nodes": found});
    let v = service::call(node, &s.addr, req, CALL_TIMEOUT).map_err(RegistryError::Unavailable)?;
    match v["error"].as_str() {
        None => Ok(()),
        Some(why) => Err(RegistryError::Unavailable(why.to_string())),
    }
}

/// Free `name` on the whole cluster, whichever node owns it (asynchronously if another
/// node does).
///
/// ```
/// # use pyact::{Mesh, Node, global};
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let inbox = node.inbox();
/// global::register_name(&node, "x", &inbox.addr()).unwrap();
/// global::unregister_name(&node, "x");
/// assert_eq!(global::whereis_name(&node, "x"), None);
/// ```
pub fn unregister_name(node: &Node, name: &str) {
    if let Ok(s) = instance(node) {
        let req = json!({"pyact.global": "local_unregister", "name": name});
        let _ = service::call(node, &s.addr, req, CALL_TIMEOUT);
    }
}

/// The actor registered as `name` anywhere in the cluster, as this node knows it.
///
/// ```
/// # use pyact::{Mesh, Node, global};
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// assert_eq!(global::whereis_name(&node, "nobody"), None);
/// ```
pub fn whereis_name(node: &Node, name: &str) -> Option<Address> {
    instance(node).ok()?.view().winner(name)
}

/// Every name registered in the cluster, as this node knows them, sorted.
///
/// ```
/// # use pyact::{Mesh, Node, global};
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let inbox = node.inbox();
/// global::register_name(&node, "one", &inbox.addr()).unwrap();
/// assert_eq!(global::registered_names(&node), vec!["one".to_string()]);
/// ```
pub fn registered_names(node: &Node) -> Vec<String> {
    let Ok(s) = instance(node) else {
        return Vec::new();
    };
    let view = s.view();
    let mut all: Vec<String> = view
        .local
        .keys()
        .chain(view.remote.values().flat_map(|m| m.keys()))
        .cloned()
        .collect();
    all.sort();
    all.dedup();
    all
}

/// Send `msg` to the actor registered as `name` ([`SendError::NoRoute`] if none), as
/// [`Address::send`] from the caller would.
///
/// ```
/// # use pyact::{Mesh, Node, SendError, global};
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// assert!(matches!(global::send(&node, "nobody", 1), Err(SendError::NoRoute(_))));
/// ```
pub fn send<M: Serialize + 'static>(node: &Node, name: &str, msg: M) -> Result<(), SendError> {
    whereis_name(node, name)
        .ok_or_else(|| SendError::NoRoute(format!("no actor registered globally as {name:?}")))?
        .send(msg)
}

/// One name this node owns.
struct Reg {
    addr: Address,
    resolver: Resolver,
    mref: Ref,
}

/// A lock on a name, held for one node's registration attempt.
struct Lock {
    holder: String,
    tid: u64,
    expires: Instant,
}

/// A registration in progress on this node.
struct Pending {
    name: String,
    addr: Address,
    resolver: Resolver,
    reply_to: Address,
    /// Peers whose answer we wait for; peers that granted.
    waiting: HashSet<String>,
    granted: Vec<String>,
    deadline: Instant,
    /// Backing off: the next attempt's time.
    retry_at: Option<Instant>,
    attempt: u32,
}

struct State {
    node: Node,
    me: Address,
    s: Arc<Service<View>>,
    peers: HashMap<String, (Address, Ref)>,
    regs: HashMap<String, Reg>,
    reg_refs: HashMap<Ref, String>,
    locks: HashMap<String, Lock>,
    pending: HashMap<u64, Pending>,
    next_tid: u64,
    /// [`sync`] callers: the nodes each waits for, its reply address, its deadline.
    awaiting: Vec<(HashSet<String>, Address, Instant)>,
}

fn run(mut mb: Mailbox, s: Arc<Service<View>>) {
    service::start_discovery(&mb, SERVICE);
    let mut st = State {
        node: mb.node().clone(),
        me: mb.addr(),
        s,
        peers: HashMap::new(),
        regs: HashMap::new(),
        reg_refs: HashMap::new(),
        locks: HashMap::new(),
        pending: HashMap::new(),
        next_tid: 1,
        awaiting: Vec::new(),
    };
    loop {
        let msg = match st.next_deadline() {
            Some(t) => mb
                .receive_timeout(t.saturating_duration_since(Instant::now()))
                .ok(),
            None => Some(mb.receive()),
        };
        if let Some(m) = msg {
            st.handle(&mut mb, m);
        }
        st.tick(&mut mb);
        st.check_awaiting();
    }
}

fn reply(to: &Address, v: Value) {
    let _ = to.send(v);
}

impl State {
    fn next_deadline(&self) -> Option<Instant> {
        self.pending
            .values()
            .map(|p| p.retry_at.unwrap_or(p.deadline).min(p.deadline))
            .chain(self.awaiting.iter().map(|a| a.2))
            .min()
    }

    /// Answer the [`sync`] callers whose nodes are all known now (or gone), or whose
    /// deadline passed.
    fn check_awaiting(&mut self) {
        if self.awaiting.is_empty() {
            return;
        }
        let connected: HashSet<String> = self.node.connected_nodes().into_iter().collect();
        let now = Instant::now();
        let peers = &self.peers;
        self.awaiting.retain_mut(|(nodes, to, deadline)| {
            nodes.retain(|n| !peers.contains_key(n) && connected.contains(n));
            if nodes.is_empty() {
                reply(to, json!({"ok": true}));
                false
            } else if *deadline <= now {
                reply(
                    to,
                    json!({"error": format!("no answer from the service of {nodes:?}")}),
                );
                false
            } else {
                true
            }
        });
    }

    fn tick(&mut self, mb: &mut Mailbox) {
        let now = Instant::now();
        let due: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now || p.retry_at.is_some_and(|t| t <= now))
            .map(|(t, _)| *t)
            .collect();
        for tid in due {
            let Some(p) = self.pending.remove(&tid) else {
                continue;
            };
            if p.deadline <= now {
                self.release(tid, &p);
                let why = format!(
                    "no agreement on {:?} within {REGISTER_DEADLINE:?} (waiting for {:?})",
                    p.name, p.waiting
                );
                reply(&p.reply_to, json!({"error": why}));
            } else {
                self.attempt(mb, p);
            }
        }
    }

    fn handle(&mut self, mb: &mut Mailbox, msg: Value) {
        if let Some(peer) = service::nodeup(&msg) {
            service::discover(&self.node, &self.me, SERVICE, peer);
            return;
        }
        if let Ok(down) = Down::try_from(&msg) {
            self.down(mb, down);
            return;
        }
        let kind = msg["pyact.global"].as_str().unwrap_or("");
        match kind {
            "local_register" => self.local_register(mb, &msg),
            "local_unregister" => {
                if let Some(name) = msg["name"].as_str() {
                    self.unregister(mb, name);
                }
                let _ = crate::reply(&msg, json!({"ok": true}));
            }
            "discover" => self.discover(mb, &msg),
            "local_unknown" => {
                let known: Vec<&String> = self.peers.keys().collect();
                let _ = crate::reply(&msg, json!({"known": known}));
            }
            "local_await" => {
                let Ok(to) = Address::try_from(&msg["from"]) else {
                    return;
                };
                let nodes: HashSet<String> =
                    serde_json::from_value(msg["nodes"].clone()).unwrap_or_default();
                if self.awaiting.len() >= MAX_SYNC_CALLERS {
                    return reply(&to, json!({"error": "too many sync calls at once"}));
                }
                self.awaiting
                    .push((nodes, to, Instant::now() + REGISTER_DEADLINE));
            }
            "unregister" => {
                if service::peer_of(&self.node, &msg).is_some()
                    && let Some(name) = msg["name"].as_str()
                {
                    self.drop_local(mb, name);
                }
            }
            "sync" | "lock" | "lock_reply" | "unlock" | "registered" | "unregistered" => {
                self.peer_message(mb, kind, &msg)
            }
            _ => log::debug!("{}: global: dropped an unknown message", self.node.name()),
        }
    }

    fn local_register(&mut self, mb: &mut Mailbox, msg: &Value) {
        let Ok(reply_to) = Address::try_from(&msg["from"]) else {
            return;
        };
        let (Some(name), Ok(addr)) = (msg["name"].as_str(), Address::try_from(&msg["address"]))
        else {
            return reply(&reply_to, json!({"error": "bad request"}));
        };
        if !valid_name(name) {
            return reply(&reply_to, json!({"error": "bad name"}));
        }
        if addr.node_id() != self.node.name() {
            return reply(&reply_to, json!({"error": "not_local"}));
        }
        let resolver = match msg["resolver"].as_str() {
            Some("notify") => Resolver::Notify,
            _ => Resolver::Kill,
        };
        let p = Pending {
            name: name.to_string(),
            addr,
            resolver,
            reply_to,
            waiting: HashSet::new(),
            granted: Vec::new(),
            deadline: Instant::now() + REGISTER_DEADLINE,
            retry_at: None,
            attempt: 0,
        };
        self.attempt(mb, p);
    }

    /// One attempt of a registration: check, lock here, ask every peer for the lock.
    fn attempt(&mut self, mb: &mut Mailbox, mut p: Pending) {
        let now = Instant::now();
        if self.s.view().winner(&p.name).is_some() {
            return reply(&p.reply_to, json!({"error": "taken"}));
        }
        let tid = self.next_tid;
        self.next_tid += 1;
        if self
            .locks
            .get(&p.name)
            .is_some_and(|l| l.expires > now && (l.holder != self.node.name()))
            || self.pending.values().any(|q| q.name == p.name)
        {
            return self.back_off(tid, p);
        }
        self.locks.insert(
            p.name.clone(),
            Lock {
                holder: self.node.name().to_string(),
                tid,
                expires: now + LOCK_LEASE,
            },
        );
        p.retry_at = None;
        p.granted.clear();
        p.waiting = self.peers.keys().cloned().collect();
        let lock = json!({"pyact.global": "lock", "peer": self.me, "name": p.name, "tid": tid});
        for (peer, _) in self.peers.values() {
            let _ = peer.send_ref(&lock);
        }
        if p.waiting.is_empty() {
            self.commit(mb, tid, p);
        } else {
            self.pending.insert(tid, p);
        }
    }

    fn back_off(&mut self, tid: u64, mut p: Pending) {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.node.name(), self.node.creation(), tid).hash(&mut h);
        let span = 4u64 << p.attempt.min(6);
        let wait = Duration::from_millis(1 + h.finish() % span);
        p.attempt += 1;
        p.retry_at = Some(Instant::now() + wait);
        p.waiting.clear();
        p.granted.clear();
        self.pending.insert(tid, p);
    }

    /// Give up attempt `tid`: unlock here and on every peer asked.
    fn release(&mut self, tid: u64, p: &Pending) {
        if self
            .locks
            .get(&p.name)
            .is_some_and(|l| l.holder == self.node.name() && l.tid == tid)
        {
            self.locks.remove(&p.name);
        }
        let unlock = json!({"pyact.global": "unlock", "peer": self.me, "name": p.name, "tid": tid});
        for n in p.waiting.iter().chain(&p.granted) {
            if let Some((peer, _)) = self.peers.get(n) {
                let _ = peer.send_ref(&unlock);
            }
        }
    }

    fn commit(&mut self, mb: &mut Mailbox, tid: u64, p: Pending) {
        if self.s.view().winner(&p.name).is_some() {
            self.release(tid, &p);
            return reply(&p.reply_to, json!({"error": "taken"}));
        }
        self.locks.remove(&p.name);
        let mref = mb.monitor(&p.addr);
        self.reg_refs.insert(mref, p.name.clone());
        self.s.view().local.insert(p.name.clone(), p.addr.clone());
        self.regs.insert(
            p.name.clone(),
            Reg {
                addr: p.addr.clone(),
                resolver: p.resolver,
                mref,
            },
        );
        self.broadcast(&json!({"pyact.global": "registered", "peer": self.me,
                               "name": p.name, "address": p.addr}));
        reply(&p.reply_to, json!({"ok": true}));
    }

    /// Unregister a name: ours at once, another node's by asking it.
    fn unregister(&mut self, mb: &mut Mailbox, name: &str) {
        if self.regs.contains_key(name) {
            self.drop_local(mb, name);
            return;
        }
        let owner = self
            .s
            .view()
            .remote
            .iter()
            .find(|(_, m)| m.contains_key(name))
            .map(|(n, _)| n.clone());
        if let Some((peer, _)) = owner.and_then(|n| self.peers.get(&n)) {
            let _ = peer.send(json!({"pyact.global": "unregister", "peer": self.me, "name": name}));
        }
    }

    /// Drop one of our names and tell every peer; returns the registration.
    fn drop_local(&mut self, mb: &mut Mailbox, name: &str) -> Option<Reg> {
        let reg = self.regs.remove(name)?;
        mb.demonitor(reg.mref);
        self.reg_refs.remove(&reg.mref);
        self.s.view().local.remove(name);
        self.broadcast(&json!({"pyact.global": "unregistered", "peer": self.me, "name": name}));
        Some(reg)
    }

    fn down(&mut self, mb: &mut Mailbox, down: Down) {
        if let Some(name) = self.reg_refs.remove(&down.reference) {
            if self
                .regs
                .get(&name)
                .is_some_and(|r| r.mref == down.reference)
            {
                self.drop_local(mb, &name);
            }
            return;
        }
        let lost = self
            .peers
            .iter()
            .find(|(_, (_, r))| *r == down.reference)
            .map(|(n, _)| n.clone());
        if let Some(n) = lost {
            self.forget_peer(mb, &n, true);
        }
    }

    /// A counterpart is gone: its names, its locks, and our wait for its answers. `fired`:
    /// our monitor on it fired already (a demonitor would only reach for its node again).
    fn forget_peer(&mut self, mb: &mut Mailbox, n: &str, fired: bool) {
        if let Some((_, r)) = self.peers.remove(n)
            && !fired
        {
            mb.demonitor(r);
        }
        self.s.view().remote.remove(n);
        self.locks.retain(|_, l| l.holder != n);
        let mut ready = Vec::new();
        for (t, p) in self.pending.iter_mut() {
            if p.retry_at.is_none() && p.waiting.remove(n) && p.waiting.is_empty() {
                ready.push(*t);
            }
        }
        for tid in ready {
            if let Some(p) = self.pending.remove(&tid) {
                self.commit(mb, tid, p);
            }
        }
    }

    fn discover(&mut self, mb: &mut Mailbox, msg: &Value) {
        let Some(peer) = service::peer_of(&self.node, msg) else {
            log::debug!(
                "{}: global: dropped a discover from no connected node",
                self.node.name()
            );
            return;
        };
        let n = peer.node_id().to_string();
        let known = self.peers.get(&n).map(|(a, _)| a.clone());
        match known {
            Some(a) if a == peer && a.creation() == peer.creation() => {}
            other => {
                if other.is_some() {
                    self.forget_peer(mb, &n, false);
                }
                let r = mb.monitor(&peer);
                self.peers.insert(n, (peer.clone(), r));
                let _ = peer.send(json!({"pyact.global": "discover", "peer": self.me}));
            }
        }
        let names: Map<String, Value> = self
            .regs
            .iter()
            .map(|(name, r)| (name.clone(), json!(r.addr)))
            .collect();
        if let Err(e) = peer.send(json!({"pyact.global": "sync", "peer": self.me, "names": names}))
        {
            log::warn!(
                "{}: global: cannot send our names to {}: {e}",
                self.node.name(),
                peer.node_id()
            );
        }
    }

    fn peer_message(&mut self, mb: &mut Mailbox, kind: &str, msg: &Value) {
        let Ok(peer) = Address::try_from(&msg["peer"]) else {
            return;
        };
        let n = peer.node_id().to_string();
        if self.peers.get(&n).is_none_or(|(a, _)| *a != peer) {
            log::debug!(
                "{}: global: dropped a {kind} from an unknown peer",
                self.node.name()
            );
            if kind == "lock" {
                // Not discovered yet: the requester backs off and asks again.
                let tid = msg["tid"].as_u64().unwrap_or(0);
                if service::peer_of(&self.node, msg).is_some() {
                    let _ = peer.send(json!({"pyact.global": "lock_reply", "peer": self.me,
                                             "tid": tid, "answer": "busy"}));
                }
            }
            return;
        }
        let name = msg["name"].as_str().filter(|s| valid_name(s));
        match kind {
            "sync" => {
                let Some(names) = msg["names"].as_object() else {
                    return;
                };
                let fresh: HashMap<String, Address> = names
                    .iter()
                    .filter(|(k, _)| valid_name(k))
                    .filter_map(|(k, v)| Some((k.clone(), Address::try_from(v).ok()?)))
                    .filter(|(_, a)| a.node_id() == n)
                    .take(MAX_NAMES_PER_PEER)
                    .collect();
                if names.len() > fresh.len() {
                    log::warn!(
                        "{}: global: kept {} of the {} names peer {n} sent",
                        self.node.name(),
                        fresh.len(),
                        names.len()
                    );
                }
                let sorted: BTreeMap<String, Address> =
                    fresh.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                self.s.view().remote.insert(n.clone(), fresh);
                for (name, addr) in sorted {
                    self.conflict(mb, &name, &addr);
                }
            }
            "lock" => {
                let (Some(name), Some(tid)) = (name, msg["tid"].as_u64()) else {
                    return;
                };
                let now = Instant::now();
                let answer = if self.s.view().winner(name).is_some() {
                    "taken"
                } else if self
                    .locks
                    .get(name)
                    .is_some_and(|l| l.expires > now && l.holder != n)
                {
                    "busy"
                } else if !self.locks.contains_key(name)
                    && self.locks.values().filter(|l| l.holder == n).count() >= MAX_LOCKS_PER_PEER
                {
                    log::warn!(
                        "{}: global: peer {n} is at the lock bound",
                        self.node.name()
                    );
                    "busy"
                } else {
                    self.locks.insert(
                        name.to_string(),
                        Lock {
                            holder: n.clone(),
                            tid,
                            expires: now + LOCK_LEASE,
                        },
                    );
                    "granted"
                };
                let _ = peer.send(json!({"pyact.global": "lock_reply", "peer": self.me,
                                         "tid": tid, "answer": answer}));
            }
            "lock_reply" => {
                let Some(tid) = msg["tid"].as_u64() else {
                    return;
                };
                let Some(mut p) = self.pending.remove(&tid) else {
                    return;
                };
                if p.retry_at.is_some() || !p.waiting.remove(&n) {
                    self.pending.insert(tid, p);
                    return;
                }
                match msg["answer"].as_str() {
                    Some("granted") => {
                        p.granted.push(n);
                        if p.waiting.is_empty() {
                            self.commit(mb, tid, p);
                        } else {
                            self.pending.insert(tid, p);
                        }
                    }
                    Some("taken") => {
                        self.release(tid, &p);
                        reply(&p.reply_to, json!({"error": "taken"}));
                    }
                    _ => {
                        self.release(tid, &p);
                        self.back_off(tid, p);
                    }
                }
            }
            "unlock" => {
                let (Some(name), Some(tid)) = (name, msg["tid"].as_u64()) else {
                    return;
                };
                if self
                    .locks
                    .get(name)
                    .is_some_and(|l| l.holder == n && l.tid == tid)
                {
                    self.locks.remove(name);
                }
            }
            "registered" => {
                let (Some(name), Ok(addr)) = (name, Address::try_from(&msg["address"])) else {
                    return;
                };
                if addr.node_id() != n {
                    return;
                }
                if self.locks.get(name).is_some_and(|l| l.holder == n) {
                    self.locks.remove(name);
                }
                {
                    let mut view = self.s.view();
                    let theirs = view.remote.entry(n.clone()).or_default();
                    if !theirs.contains_key(name) && theirs.len() >= MAX_NAMES_PER_PEER {
                        log::warn!(
                            "{}: global: peer {n} is at the name bound",
                            self.node.name()
                        );
                        return;
                    }
                    theirs.insert(name.to_string(), addr.clone());
                }
                self.conflict(mb, name, &addr);
            }
            "unregistered" => {
                if let Some(name) = name
                    && let Some(theirs) = self.s.view().remote.get_mut(&n)
                {
                    theirs.remove(name);
                }
            }
            _ => {}
        }
    }

    /// A peer holds `name` for `theirs`: if we hold it too and theirs sorts first, ours
    /// loses (the deterministic rule of the module docs). If ours sorts first, their node
    /// applies the same rule when it hears of ours.
    fn conflict(&mut self, mb: &mut Mailbox, name: &str, theirs: &Address) {
        let loses = self
            .regs
            .get(name)
            .is_some_and(|r| order_key(theirs) < order_key(&r.addr));
        if !loses {
            return;
        }
        let Some(reg) = self.drop_local(mb, name) else {
            return;
        };
        log::warn!(
            "{}: global: name {name:?} held on both sides of a partition; kept {theirs}, \
             resolving {} ({})",
            self.node.name(),
            reg.addr,
            reg.resolver.as_str()
        );
        match reg.resolver {
            Resolver::Kill => {
                let _ = reg.addr.kill();
            }
            Resolver::Notify => {
                let _ = reg
                    .addr
                    .send(json!({"global": "name_conflict", "name": name, "kept": theirs}));
            }
        }
    }

    fn broadcast(&self, msg: &Value) {
        for (peer, _) in self.peers.values() {
            let _ = peer.send_ref(msg);
        }
    }
}
