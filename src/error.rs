//! Typed errors of the public API. Every fault a caller can cause or meet has a variant
//! here, with a message that says what to do about it.

use std::fmt;

use crate::Address;

/// Why a message could not be sent.
///
/// ```
/// use pyact::SendError;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let gone = node.spawn(|_| ());
/// node.wait(&gone).unwrap();
/// assert_eq!(gone.send("hello?"), Err(SendError::DeadActor(gone.clone())));
/// let not_json = std::collections::HashMap::from([((1, 2), "tuple keys")]);
/// assert!(matches!(node.inbox().addr().send(not_json), Err(SendError::NotJson(_))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// No live actor has this address (it ended, or never existed on its node).
    DeadActor(Address),
    /// The message does not serialize to JSON.
    NotJson(String),
    /// A string that is not `host:port/id`.
    BadAddress(String),
    /// No local node to send from: call from an actor, or from a thread that made an inbox.
    NoRoute(String),
    /// The target's node cannot be reached (refused, wrong cookie, timed out, lost).
    NoConnection {
        /// `host:port` of the node.
        node: String,
        /// What went wrong.
        why: String,
    },
    /// The connection's outbound queue stayed full for the whole write timeout: the peer
    /// (or the network) does not keep up. Nothing was queued; sending again may succeed.
    Overloaded {
        /// `host:port` of the node.
        node: String,
        /// The outbound queue's bound in bytes ([`NodeOptions::outbound_limit`](crate::NodeOptions::outbound_limit)).
        queued_limit: usize,
        /// How long the sender waited for room.
        waited: std::time::Duration,
    },
    /// The message nests deeper than a receiving node can parse (arrays and objects inside
    /// each other more than `limit` levels); it would not arrive, so it is not sent.
    TooDeep {
        /// The most levels a message may have.
        limit: usize,
    },
    /// The target's mailbox is at its bound (see [`SpawnOptions::mailbox_limit`](crate::SpawnOptions::mailbox_limit)).
    /// Nothing was queued.
    MailboxFull(Address),
    /// The encoded message is larger than the frame limit.
    TooLarge {
        /// Encoded size in bytes.
        size: usize,
        /// The limit in force.
        limit: usize,
    },
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::DeadActor(a) => write!(f, "dead actor: no live actor at {a}"),
            SendError::NotJson(e) => write!(f, "message does not serialize to JSON: {e}"),
            SendError::BadAddress(s) => write!(f, "malformed address {s:?} (want host:port/id)"),
            SendError::NoRoute(why) => write!(f, "no route: {why}"),
            SendError::NoConnection { node, why } => {
                write!(f, "no connection to node {node}: {why}")
            }
            SendError::Overloaded {
                node,
                queued_limit,
                waited,
            } => write!(
                f,
                "node {node} is overloaded: its outbound queue stayed at its bound of \
                 {queued_limit} bytes for {waited:?}"
            ),
            SendError::TooDeep { limit } => write!(
                f,
                "message nests deeper than {limit} levels, which a receiving node cannot parse"
            ),
            SendError::MailboxFull(a) => write!(f, "mailbox of {a} is full"),
            SendError::TooLarge { size, limit } => write!(
                f,
                "message of {size} bytes exceeds the frame limit of {limit} bytes"
            ),
        }
    }
}

impl std::error::Error for SendError {}

/// Why an actor could not be spawned.
///
/// ```
/// use pyact::SpawnError;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let r = node.spawn_remote(node.name(), "no-such-factory", pyact::json!(null));
/// assert_eq!(r, Err(SpawnError::UnknownFactory("no-such-factory".into())));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnError {
    /// The process is at its live-actor limit (derived from `vm.max_map_count`).
    TooManyActors {
        /// The limit in force.
        limit: usize,
    },
    /// `may` could not create the coroutine.
    Io(String),
    /// A remote spawn named a factory the target node does not have.
    UnknownFactory(String),
    /// A remote spawn failed on the way.
    Remote(String),
    /// The node (named here) was shut down: it spawns nothing any more.
    NodeDown(String),
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::TooManyActors { limit } => write!(
                f,
                "too many live actors (limit {limit}): actors' stacks take memory mappings \
                 and vm.max_map_count caps them (the limit grows with it: \
                 `sudo sysctl -w vm.max_map_count=N`), or set Config::max_actors"
            ),
            SpawnError::Io(e) => write!(f, "could not start the actor's coroutine: {e}"),
            SpawnError::UnknownFactory(name) => {
                write!(f, "no actor factory named {name:?} on that node")
            }
            SpawnError::Remote(e) => write!(f, "remote spawn failed: {e}"),
            SpawnError::NodeDown(n) => write!(f, "node {n} was shut down; spawn on a live node"),
        }
    }
}

impl std::error::Error for SpawnError {}

/// Why a node could not be created or connected.
///
/// ```
/// use pyact::{Mesh, Node, NodeError};
/// let err = Node::new(&Mesh::new(), "no-cookie:0").unwrap_err();
/// assert!(matches!(err, NodeError::BadName { .. }));
/// assert!(err.to_string().contains("cookie@host:port"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeError {
    /// The name is not `cookie@host:port`.
    BadName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The address could not be bound (in use, not local, unresolvable).
    Bind {
        /// `host:port` asked for.
        addr: String,
        /// The OS error.
        why: String,
    },
    /// Connecting to a peer failed.
    Connect {
        /// The peer.
        node: String,
        /// Why.
        why: String,
    },
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeError::BadName { name, why } => {
                write!(f, "bad node name {name:?}: {why} (want cookie@host:port)")
            }
            NodeError::Bind { addr, why } => write!(f, "cannot listen on {addr}: {why}"),
            NodeError::Connect { node, why } => write!(f, "cannot connect to {node}: {why}"),
        }
    }
}

impl std::error::Error for NodeError {}

/// Why a name could not be registered.
///
/// ```
/// use pyact::error::RegistryError;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let (a, b) = (node.inbox(), node.inbox());
/// node.register("boss", &a.addr()).unwrap();
/// let err = node.register("boss", &b.addr()).unwrap_err();
/// assert_eq!(err, RegistryError::Taken("boss".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistryError {
    /// Another live actor holds the name.
    Taken(String),
    /// The actor is not a live actor of this node.
    NotLocal(Address),
    /// A cluster-wide registration ([`crate::global`]) got no agreement in time: the
    /// node is shut down, or other nodes did not answer (the text says which).
    Unavailable(String),
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryError::Taken(n) => write!(f, "name {n:?} is already registered"),
            RegistryError::NotLocal(a) => write!(f, "{a} is not a live actor of this node"),
            RegistryError::Unavailable(why) => write!(f, "no cluster-wide agreement: {why}"),
        }
    }
}

impl std::error::Error for RegistryError {}
