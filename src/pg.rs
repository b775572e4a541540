//! Process groups across the cluster (Erlang's `pg`): any actor can [`join`] named groups,
//! and every node can list a group's members.
//!
//! ```
//! use pyact::{Mesh, Node, pg};
//! let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
//! let worker = node.spawn(|mut mb| { mb.receive(); });
//! pg::join(&node, "workers", &worker).unwrap();
//! assert_eq!(pg::get_members(&node, "workers"), vec![worker.clone()]);
//! assert_eq!(pg::get_local_members(&node, "workers"), vec![worker.clone()]);
//! pg::leave(&node, "workers", &worker).unwrap();
//! assert!(pg::get_members(&node, "workers").is_empty());
//! ```
//!
//! ## Semantics (Erlang's `pg`, one scope)
//!
//! - **Each node owns its local members.** Only actors of `node` join or leave through
//!   `node` ([`PgError::NotLocal`] otherwise); `join` and `leave` return once the node's own
//!   view has changed (so [`get_local_members`] and [`get_members`] on that node see it at
//!   once), and the change reaches the other nodes afterwards, asynchronously.
//! - **Eventually consistent.** [`get_members`] on another node sees a join or leave once
//!   the message carrying it arrived (a few network hops; no agreement, no lock). Members are
//!   ordered by address, local and remote alike.
//! - An actor is in a group at most once: joining again is a no-op (Erlang counts joins; here
//!   one `leave` undoes any number of joins).
//! - **Ends and losses.** When a member ends, its node removes it from every group and
//!   tells the others; when a node is lost (connection down, node shut down or killed), every
//!   other node drops all of that node's members at once, and learns them again from the
//!   node when it is back (each side sends the other all its local members on `nodeup`).
//! - **Monitoring.** [`monitor`] returns a reference and the group's members now; the
//!   watcher then gets one message per change seen by *this* node:
//!   `{"pg": "join" | "leave", "ref": <ref>, "group": "<group>", "members": [<address>...]}`.
//!   A lost node's members arrive as one `leave` per group. [`demonitor`] stops it; a
//!   watcher that ends is forgotten.
//!
//! ## How it works (the design of Erlang's `pg`)
//!
//! Each node runs one system actor, registered locally as [`SERVICE`] (a reserved name), started
//! on the first call of this module on that node (a node that never calls it does not take
//! part and is not seen as having members). The actor monitors its local members, subscribes
//! to node events, and finds its counterpart on every connected node (see `service.rs`).
//! Between counterparts, ordinary messages, all objects whose `"pyact.pg"` field names the
//! kind:
//!
//! | message | meaning |
//! |---|---|
//! | `discover {peer}` | "I run here": the receiver monitors `peer`, answers with `discover` if `peer` was new, and always with `sync` |
//! | `sync {peer, groups: {group: [address]}}` | all of the sender's local members: replaces what the receiver held for that node |
//! | `join {peer, group, members}` / `leave {peer, group, members}` | one change of the sender's local members |
//!
//! A counterpart's monitor firing (its node lost, or the actor ended) drops that node's
//! members.
//!
//! ## Threat notes
//!
//! Peers hold the cookie, but what they send is input to check, never to trust:
//! - a `discover` is taken only from an actor on a node this node is connected to (so a peer
//!   cannot make this node dial or monitor other hosts), other messages only from a known
//!   counterpart;
//! - a peer's members must be addresses of *that peer's* node: it cannot put actors of a
//!   third node (or of ours) in a group;
//! - per peer at most [`MAX_GROUPS_PER_PEER`] groups and [`MAX_MEMBERS_PER_PEER`] members are
//!   kept (the excess is dropped with a warning); a group name is at most [`MAX_GROUP_LEN`]
//!   bytes; at most [`MAX_WATCHES`] monitors at once; anything malformed is dropped with a
//!   debug line, never a panic;
//! - the calls of this module reach the actor as messages too: a cookie holder that learns
//!   its address can make a *local* actor join or leave a group, or watch one (what it could
//!   do anyway with a remote spawn); it cannot make this node list a remote actor.
//!
//! A node's members all travel in one `sync` message: past the frame limit
//! ([`NodeOptions::max_frame`](crate::NodeOptions::max_frame)) it is refused with a warning
//! and that peer sees only the later `join`s.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::link::Ref;
use crate::service::{self, Service, Services};
use crate::{Address, Mailbox, Node, link::Down};

/// The reserved local name of each node's `pg` actor.
pub const SERVICE: &str = "pyact.pg";
/// The longest group name, in bytes.
pub const MAX_GROUP_LEN: usize = 255;
/// The most groups kept for one peer node.
pub const MAX_GROUPS_PER_PEER: usize = 10_000;
/// The most members (over all its groups) kept for one peer node.
pub const MAX_MEMBERS_PER_PEER: usize = 100_000;

/// The most [`monitor`]s one node's `pg` actor keeps at once.
pub const MAX_WATCHES: usize = 100_000;

/// How long a call waits for the node's own `pg` actor.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a `pg` call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PgError {
    /// The address is not an actor of this node: join and leave through its own node.
    NotLocal(Address),
    /// `leave`: the actor was not in the group.
    NotJoined,
    /// The group name is empty or longer than [`MAX_GROUP_LEN`] bytes.
    BadGroup(String),
    /// The node's `pg` actor could not be reached (the node is shut down, or overloaded).
    Unavailable(String),
}

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PgError::NotLocal(a) => write!(f, "{a} is not an actor of this node"),
            PgError::NotJoined => write!(f, "not a member of that group"),
            PgError::BadGroup(g) => {
                write!(f, "bad group name {g:?}: want 1 to {MAX_GROUP_LEN} bytes")
            }
            PgError::Unavailable(why) => write!(f, "pg service unavailable: {why}"),
        }
    }
}

impl std::error::Error for PgError {}

/// What readers share with the actor.
#[derive(Default)]
pub(crate) struct View {
    local: HashMap<String, BTreeSet<Address>>,
    remote: HashMap<String, HashMap<String, BTreeSet<Address>>>,
}

static SERVICES: Services<View> = Services::new(SERVICE);

fn instance(node: &Node) -> Result<Arc<Service<View>>, PgError> {
    SERVICES.ensure(node, run).map_err(PgError::Unavailable)
}

fn check_group(group: &str) -> Result<(), PgError> {
    if group.is_empty() || group.len() > MAX_GROUP_LEN {
        return Err(PgError::BadGroup(group.chars().take(64).collect()));
    }
    Ok(())
}

fn call(node: &Node, req: Value) -> Result<Value, PgError> {
    let s = instance(node)?;
    service::call(node, &s.addr, req, CALL_TIMEOUT).map_err(PgError::Unavailable)
}

fn answer(v: Value) -> Result<(), PgError> {
    match v["error"].as_str() {
        None => Ok(()),
        Some("not_joined") => Err(PgError::NotJoined),
        Some(other) => Err(PgError::Unavailable(other.to_string())),
    }
}

/// Put the local actor `addr` in `group`; every node will list it until it leaves or ends.
///
/// ```
/// # use pyact::{Mesh, Node, pg};
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let a = node.spawn(|mut mb| { mb.receive(); });
/// pg::join(&node, "cache", &a).unwrap();
/// pg::join(&node, "cache", &a).unwrap(); // once is enough: still one member
/// assert_eq!(pg::get_members(&node, "cache"), vec![a.clone()]);
/// a.send("stop").unwrap();
/// ```
pub fn join(node: &Node, group: &str, addr: &Address) -> Result<(), PgError> {
    check_group(group)?;
    if addr.node_id() != node.name() {
        return Err(PgError::NotLocal(addr.clone()));
    }
    answer(call(
        node,
        json!({"pyact.pg": "local_join", "group": group, "member": addr}),
    )?)
}

/// Take the local actor `addr` out of `group` ([`PgError::NotJoined`] if it was not in it).
///
/// ```
/// # use pyact::{Mesh, Node, pg};
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let a = node.spawn(|mut mb| { mb.receive(); });
/// pg::join(&node, "cache", &a).unwrap();
/// pg::leave(&node, "cache", &a).unwrap();
/// assert_eq!(pg::leave(&node, "cache", &a), Err(pg::PgError::NotJoined));
/// a.send("stop").unwrap();
/// ```
pub fn leave(node: &Node, group: &str, addr: &Address) -> Result<(), PgError> {
    check_group(group)?;
    if addr.node_id() != node.name() {
        return Err(PgError::NotLocal(addr.clone()));
    }
    answer(call(
        node,
        json!({"pyact.pg": "local_leave", "group": group, "member": addr}),
    )?)
}

/// Every member of `group` this node knows of, on any node, ordered by address.
///
/// ```
/// # use pyact::{Mesh, Node, pg};
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// assert!(pg::get_members(&node, "nobody").is_empty());
/// ```
pub fn get_members(node: &Node, group: &str) -> Vec<Address> {
    match instance(node) {
        Ok(s) => get_view_members(&s, group),
        Err(_) => Vec::new(),
    }
}

/// The members of `group` that live on this node, ordered by address.
///
/// ```
/// # use pyact::{Mesh, Node, pg};
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let a = node.spawn(|mut mb| { mb.receive(); });
/// pg::join(&node, "g", &a).unwrap();
/// assert_eq!(pg::get_local_members(&node, "g"), vec![a.clone()]);
/// a.send("stop").unwrap();
/// ```
pub fn get_local_members(node: &Node, group: &str) -> Vec<Address> {
    let Ok(s) = instance(node) else {
        return Vec::new();
    };
    let view = s.view();
    view.local
        .get(group)
        .map(|m| m.iter().cloned().collect())
        .unwrap_or_default()
}

/// Every group with at least one member known to this node.
///
/// ```
/// # use pyact::{Mesh, Node, pg};
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let a = node.spawn(|mut mb| { mb.receive(); });
/// pg::join(&node, "g", &a).unwrap();
/// assert_eq!(pg::which_groups(&node), vec!["g".to_string()]);
/// a.send("stop").unwrap();
/// ```
pub fn which_groups(node: &Node) -> Vec<String> {
    let Ok(s) = instance(node) else {
        return Vec::new();
    };
    let view = s.view();
    let mut all: BTreeSet<String> = view.local.keys().cloned().collect();
    for groups in view.remote.values() {
        all.extend(groups.keys().cloned());
    }
    all.into_iter().collect()
}

/// Watch `group` from `watcher`: returns a reference and the members now; the watcher then
/// gets `{"pg": "join" | "leave", "ref": <ref>, "group": group, "members": [...]}` for every
/// change this node sees (see the [module docs](self)).
///
/// ```
/// use pyact::{Mesh, Node, pattern, pg};
/// use std::time::Duration;
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let mut inbox = node.inbox();
/// let (r, now) = pg::monitor(&node, "g", &inbox.addr()).unwrap();
/// assert!(now.is_empty());
/// let a = node.spawn(|mut mb| { mb.receive(); });
/// pg::join(&node, "g", &a).unwrap();
/// let (_, ev) = inbox
///     .receive_match_timeout(&[&pattern!({"pg": "join", "ref": = r})], Duration::from_secs(30))
///     .unwrap();
/// assert_eq!(ev["members"], serde_json::json!([a]));
/// a.send("stop").unwrap();
/// ```
pub fn monitor(
    node: &Node,
    group: &str,
    watcher: &Address,
) -> Result<(Ref, Vec<Address>), PgError> {
    check_group(group)?;
    let v = call(
        node,
        json!({"pyact.pg": "local_monitor", "group": group, "watcher": watcher}),
    )?;
    let r: Ref = serde_json::from_value(v["ref"].clone())
        .map_err(|e| PgError::Unavailable(e.to_string()))?;
    let members: Vec<Address> = serde_json::from_value(v["members"].clone())
        .map_err(|e| PgError::Unavailable(e.to_string()))?;
    Ok((r, members))
}

/// Stop a [`monitor`]; returns whether it was active.
///
/// ```
/// # use pyact::{Mesh, Node, pg};
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let inbox = node.inbox();
/// let (r, _) = pg::monitor(&node, "g", &inbox.addr()).unwrap();
/// assert!(pg::demonitor(&node, r));
/// assert!(!pg::demonitor(&node, r));
/// ```
pub fn demonitor(node: &Node, reference: Ref) -> bool {
    call(
        node,
        json!({"pyact.pg": "local_demonitor", "ref": reference}),
    )
    .is_ok_and(|v| v["ok"] == true)
}

/// One watcher of one group.
struct Watch {
    group: String,
    watcher: Address,
    /// Our monitor on the watcher, to forget it when it ends.
    mref: Ref,
}

/// The actor's own state (the shared [`View`] aside).
struct State {
    node: Node,
    me: Address,
    s: Arc<Service<View>>,
    /// Counterparts by node: their address and our monitor on them.
    peers: service::Peers,
    /// Our monitors on local members: by member, and back by reference.
    members: HashMap<Address, Ref>,
    member_refs: HashMap<Ref, Address>,
    /// Watches by their reference; watcher monitors back to the watch.
    watches: HashMap<Ref, Watch>,
    watcher_refs: HashMap<Ref, Ref>,
}

fn run(mut mb: Mailbox, s: Arc<Service<View>>) {
    service::start_discovery(&mb, SERVICE);
    let mut st = State {
        node: mb.node().clone(),
        me: mb.addr(),
        s,
        peers: service::Peers::default(),
        members: HashMap::new(),
        member_refs: HashMap::new(),
        watches: HashMap::new(),
        watcher_refs: HashMap::new(),
    };
    loop {
        let msg = mb.receive();
        st.handle(&mut mb, msg);
    }
}

/// Addresses of `v` (a JSON array) that live on `node`, at most `room` of them.
fn addresses_of(v: &Value, node: &str, room: usize) -> Vec<Address> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| Address::try_from(x).ok())
                .filter(|a| a.node_id() == node)
                .take(room)
                .collect()
        })
        .unwrap_or_default()
}

fn group_of(v: &Value) -> Option<&str> {
    v.as_str()
        .filter(|g| !g.is_empty() && g.len() <= MAX_GROUP_LEN)
}

/// A local request's group and the address in its field `who`; `None` after answering
/// "bad request" if either is missing or malformed.
fn group_and_address<'m>(msg: &'m Value, who: &str) -> Option<(&'m str, Address)> {
    match (group_of(&msg["group"]), Address::try_from(&msg[who])) {
        (Some(group), Ok(addr)) => Some((group, addr)),
        _ => {
            let _ = crate::reply(msg, json!({"error": "bad request"}));
            None
        }
    }
}

impl State {
    fn handle(&mut self, mb: &mut Mailbox, msg: Value) {
        if let Some(peer) = service::nodeup(&msg) {
            service::discover(&self.node, &self.me, SERVICE, peer);
            return;
        }
        if let Ok(down) = Down::try_from(&msg) {
            self.down(down);
            return;
        }
        let kind = msg["pyact.pg"].as_str().unwrap_or("");
        match kind {
            "local_join" => self.local_join(mb, &msg),
            "local_leave" => self.local_leave(mb, &msg),
            "local_monitor" => self.local_monitor(mb, &msg),
            "local_demonitor" => {
                let ok = serde_json::from_value::<Ref>(msg["ref"].clone())
                    .ok()
                    .and_then(|r| self.watches.remove(&r))
                    .map(|w| {
                        mb.demonitor(w.mref);
                        self.watcher_refs.remove(&w.mref);
                    })
                    .is_some();
                let _ = crate::reply(&msg, json!({"ok": ok}));
            }
            "discover" => self.discover(mb, &msg),
            "sync" | "join" | "leave" => self.peer_message(kind, &msg),
            _ => log::debug!("{}: pg: dropped an unknown message", self.node.name()),
        }
    }

    fn local_join(&mut self, mb: &mut Mailbox, msg: &Value) {
        let Some((group, member)) = group_and_address(msg, "member") else {
            return;
        };
        if member.node_id() != self.node.name() {
            let _ = crate::reply(msg, json!({"error": "not local"}));
            return;
        }
        let added = self
            .s
            .view()
            .local
            .entry(group.to_string())
            .or_default()
            .insert(member.clone());
        if added {
            if !self.members.contains_key(&member) {
                let r = mb.monitor(&member);
                self.members.insert(member.clone(), r);
                self.member_refs.insert(r, member.clone());
            }
            self.broadcast(
                json!({"pyact.pg": "join", "peer": self.me, "group": group, "members": [member]}),
            );
            self.notify(group, "join", std::slice::from_ref(&member));
        }
        let _ = crate::reply(msg, json!({"ok": true}));
    }

    fn local_leave(&mut self, mb: &mut Mailbox, msg: &Value) {
        let Some((group, member)) = group_and_address(msg, "member") else {
            return;
        };
        let removed = {
            let mut view = self.s.view();
            let removed = view.local.get_mut(group).is_some_and(|m| m.remove(&member));
            if view.local.get(group).is_some_and(BTreeSet::is_empty) {
                view.local.remove(group);
            }
            removed
        };
        if !removed {
            let _ = crate::reply(msg, json!({"error": "not_joined"}));
            return;
        }
        let still_in = self.s.view().local.values().any(|m| m.contains(&member));
        if !still_in && let Some(r) = self.members.remove(&member) {
            mb.demonitor(r);
            self.member_refs.remove(&r);
        }
        self.broadcast(
            json!({"pyact.pg": "leave", "peer": self.me, "group": group, "members": [member]}),
        );
        self.notify(group, "leave", std::slice::from_ref(&member));
        let _ = crate::reply(msg, json!({"ok": true}));
    }

    fn local_monitor(&mut self, mb: &mut Mailbox, msg: &Value) {
        let Some((group, watcher)) = group_and_address(msg, "watcher") else {
            return;
        };
        if self.watches.len() >= MAX_WATCHES {
            let _ = crate::reply(msg, json!({"error": "too many monitors"}));
            return;
        }
        let reference = Ref::new();
        let mref = mb.monitor(&watcher);
        self.watcher_refs.insert(mref, reference);
        self.watches.insert(
            reference,
            Watch {
                group: group.to_string(),
                watcher,
                mref,
            },
        );
        let members = get_view_members(&self.s, group);
        let _ = crate::reply(msg, json!({"ref": reference, "members": members}));
    }

    fn down(&mut self, down: Down) {
        if let Some(member) = self.member_refs.remove(&down.reference) {
            self.members.remove(&member);
            let left: Vec<String> = {
                let mut view = self.s.view();
                let mut left = Vec::new();
                view.local.retain(|g, m| {
                    if m.remove(&member) {
                        left.push(g.clone());
                    }
                    !m.is_empty()
                });
                left
            };
            for g in left {
                self.broadcast(
                    json!({"pyact.pg": "leave", "peer": self.me, "group": g, "members": [member]}),
                );
                self.notify(&g, "leave", std::slice::from_ref(&member));
            }
            return;
        }
        if let Some(reference) = self.watcher_refs.remove(&down.reference) {
            self.watches.remove(&reference);
            return;
        }
        if let Some(n) = self.peers.lost(down.reference) {
            self.drop_peer_groups(&n);
        }
    }

    /// Forget everything of node `n`'s, telling watchers.
    fn drop_peer_groups(&mut self, n: &str) {
        let gone = self.s.view().remote.remove(n).unwrap_or_default();
        for (g, m) in gone {
            let m: Vec<Address> = m.into_iter().collect();
            self.notify(&g, "leave", &m);
        }
    }

    fn discover(&mut self, mb: &mut Mailbox, msg: &Value) {
        let Some(peer) = service::peer_of(&self.node, msg) else {
            log::debug!(
                "{}: pg: dropped a discover from no connected node",
                self.node.name()
            );
            return;
        };
        if self.peers.meet(mb, SERVICE, &peer) == service::Met::Replaced {
            // A new counterpart on that node (a restart): the old one's members go.
            self.drop_peer_groups(peer.node_id());
        }
        let groups: Map<String, Value> = self
            .s
            .view()
            .local
            .iter()
            .map(|(g, m)| (g.clone(), json!(m)))
            .collect();
        if let Err(e) = peer.send(json!({"pyact.pg": "sync", "peer": self.me, "groups": groups})) {
            log::warn!(
                "{}: pg: cannot send our members to {}: {e}",
                self.node.name(),
                peer.node_id()
            );
        }
    }

    /// `sync`, `join`, `leave` from a known counterpart.
    fn peer_message(&mut self, kind: &str, msg: &Value) {
        let Ok(peer) = Address::try_from(&msg["peer"]) else {
            return;
        };
        let n = peer.node_id().to_string();
        if !self.peers.is_known(&peer) {
            log::debug!(
                "{}: pg: dropped a {kind} from an unknown peer",
                self.node.name()
            );
            return;
        }
        match kind {
            "sync" => {
                let Some(groups) = msg["groups"].as_object() else {
                    return;
                };
                let mut fresh: HashMap<String, BTreeSet<Address>> = HashMap::new();
                let mut room = MAX_MEMBERS_PER_PEER;
                for (g, m) in groups.iter().take(MAX_GROUPS_PER_PEER) {
                    if group_of(&Value::from(g.as_str())).is_none() || room == 0 {
                        continue;
                    }
                    let m: BTreeSet<Address> = addresses_of(m, &n, room).into_iter().collect();
                    room -= m.len();
                    if !m.is_empty() {
                        fresh.insert(g.clone(), m);
                    }
                }
                if groups.len() > MAX_GROUPS_PER_PEER || room == 0 {
                    log::warn!(
                        "{}: pg: peer {n} sent more than the bounds; kept {} groups",
                        self.node.name(),
                        fresh.len()
                    );
                }
                let old = self
                    .s
                    .view()
                    .remote
                    .insert(n.clone(), fresh.clone())
                    .unwrap_or_default();
                let mut names: BTreeSet<&String> = old.keys().collect();
                names.extend(fresh.keys());
                for g in names {
                    let before = old.get(g).cloned().unwrap_or_default();
                    let after = fresh.get(g).cloned().unwrap_or_default();
                    let joined: Vec<Address> = after.difference(&before).cloned().collect();
                    let left: Vec<Address> = before.difference(&after).cloned().collect();
                    if !joined.is_empty() {
                        self.notify(g, "join", &joined);
                    }
                    if !left.is_empty() {
                        self.notify(g, "leave", &left);
                    }
                }
            }
            _ => {
                let Some(g) = group_of(&msg["group"]) else {
                    return;
                };
                let changed: Vec<Address> = {
                    let mut view = self.s.view();
                    let groups = view.remote.entry(n.clone()).or_default();
                    let held: usize = groups.values().map(BTreeSet::len).sum();
                    if kind == "join" {
                        if !groups.contains_key(g) && groups.len() >= MAX_GROUPS_PER_PEER {
                            log::warn!("{}: pg: peer {n} is at the group bound", self.node.name());
                            return;
                        }
                        let room = MAX_MEMBERS_PER_PEER.saturating_sub(held);
                        let set = groups.entry(g.to_string()).or_default();
                        addresses_of(&msg["members"], &n, room)
                            .into_iter()
                            .filter(|a| set.insert(a.clone()))
                            .collect()
                    } else {
                        let Some(set) = groups.get_mut(g) else {
                            return;
                        };
                        let out: Vec<Address> = addresses_of(&msg["members"], &n, usize::MAX)
                            .into_iter()
                            .filter(|a| set.remove(a))
                            .collect();
                        if set.is_empty() {
                            groups.remove(g);
                        }
                        out
                    }
                };
                if !changed.is_empty() {
                    self.notify(g, kind, &changed);
                }
            }
        }
    }

    fn broadcast(&self, msg: Value) {
        self.peers.broadcast(&msg);
    }

    fn notify(&self, group: &str, kind: &str, members: &[Address]) {
        for (r, w) in &self.watches {
            if w.group == group {
                let _ = w
                    .watcher
                    .send(json!({"pg": kind, "ref": r, "group": group, "members": members}));
            }
        }
    }
}

fn get_view_members(s: &Service<View>, group: &str) -> Vec<Address> {
    let view = s.view();
    let mut all: BTreeSet<Address> = view.local.get(group).cloned().unwrap_or_default();
    for groups in view.remote.values() {
        if let Some(m) = groups.get(group) {
            all.extend(m.iter().cloned());
        }
    }
    all.into_iter().collect()
}
