//! Cluster-wide names (Erlang's `global`): a name registered on one node resolves on every
//! node, and is free again everywhere when its actor ends or its node is lost.
//!
//! ```
//! use pyact::{Mesh, Node, global};
//! use pyact::error::RegistryError;
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

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use crate::error::RegistryError;
use crate::service::{self, Service, Services, order_key};
use crate::{Address, Node, SendError};

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

// The system actor that keeps the table and runs the lock protocol: `server.rs`.
mod server;
use server::run;
