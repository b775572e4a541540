//! The one door between the local runtime and other nodes: what the core needs from
//! "elsewhere", in one place.
//!
//! The core (actors, mailboxes, nodes, links, addresses, exits) runs a whole node on its
//! own. Only a handful of its operations can reach past the process, and each is a method
//! of [`Distribution`]:
//!
//! | the core… | asks the door to… |
//! |---|---|
//! | sends to an address of another node | [`send`](Distribution::send) the envelope there |
//! | links to / monitors an actor of another node | [`link`](Distribution::link), [`monitor`](Distribution::monitor) it there (the door answers with `noconnection` if it cannot) |
//! | unlinks / demonitors one | [`unlink`](Distribution::unlink), [`demonitor`](Distribution::demonitor) |
//! | ends an actor | forget the actor's cross-node links and monitors ([`actor_ended`](Distribution::actor_ended)) |
//! | waits for an actor of another node | [`wait`](Distribution::wait) for its exit reason |
//! | lists the nodes it reaches ([`Mesh::nodes`](crate::Mesh::nodes)) | [`connected_nodes`](Distribution::connected_nodes) |
//! | reports its statistics ([`Node::stats`]) | [`peer_stats`](Distribution::peer_stats) |
//! | shuts a node down | [`shutdown`](Distribution::shutdown) the listener and connections |
//!
//! In the other direction the network calls the core's ordinary crate API: it delivers an
//! [`Envelope`] to a local address, spawns its coroutines through the live-actor budget,
//! and reads the node's actor table. No core file names the network module: this file is
//! the only place where the implementation is chosen ([`Plugged`]).
//!
//! **Why one implementation per build, not a trait object.** With the `net` feature (on by
//! default) every node is a networked node and [`Plugged`] is `remote::Remote`; without it,
//! [`Nowhere`]. A node holds its `Plugged` by value, so the door costs no virtual call and
//! the network code reads its own state without a downcast that could fail; a generic
//! `Node<D>` would have put a type parameter on every public signature. The price is that
//! one build cannot mix networked and offline nodes, which no user has asked for: a node
//! that should not be reached binds `127.0.0.1`.
//!
//! `cargo check --no-default-features` builds the core alone (CI runs it, with the core's
//! unit tests and `tests/offline.rs`), so the door stays the only way through.

use serde_json::Value;

use crate::link::Ref;
use crate::mailbox::Envelope;
#[cfg(not(feature = "net"))]
use crate::mailbox::Signal;
use crate::{Address, ExitReason, Node, SendError};

/// The network implementation this build plugs into every node (see the module doc).
#[cfg(feature = "net")]
pub(crate) type Plugged = crate::remote::Remote;

/// The network implementation this build plugs into every node (see the module doc).
#[cfg(not(feature = "net"))]
pub(crate) type Plugged = Nowhere;

/// What the local runtime needs from other nodes. Every method is called only for an
/// address that is *not* on a node of this process (the core checks first).
pub(crate) trait Distribution: Send + Sync + 'static {
    /// This node start's creation number: nonzero, carried by every address of the node,
    /// so an address of an earlier start of a node on the same `host:port` is told apart.
    fn creation(&self) -> u32;

    /// Deliver `env` to actor `to` on another node, sent by `from`. Fails with a typed
    /// error if it cannot be queued for the wire; success means queued, not delivered.
    fn send(&self, from: &Node, to: &Address, env: Envelope) -> Result<(), SendError>;

    /// Local actor `from` links to remote actor `target`. If the link cannot be placed,
    /// `from` gets the exit signal (`noconnection`, or `noproc` for a stale creation).
    fn link(&self, node: &Node, from: &Address, target: &Address);

    /// Local actor `from` unlinks from remote actor `target`.
    fn unlink(&self, node: &Node, target: &Address, from: &Address);

    /// Local `watcher` monitors remote `target` under `reference`. If the monitor cannot
    /// be placed, `watcher` gets the DOWN message at once.
    fn monitor(&self, node: &Node, watcher: &Address, target: &Address, reference: Ref);

    /// Remove monitor `reference` on remote `target`.
    fn demonitor(&self, node: &Node, target: &Address, reference: Ref);

    /// Local actor `id` of `node` ended: forget its cross-node links and monitors. Called
    /// for every actor end, so it must be cheap when the actor had none.
    fn actor_ended(&self, node: &Node, id: u64);

    /// Block (the actor or the thread) until actor `addr` of another node ends.
    fn wait(&self, node: &Node, addr: &Address) -> ExitReason;

    /// `host:port` of the nodes this node has a live connection to, sorted.
    fn connected_nodes(&self, node: &Node) -> Vec<String>;

    /// Every peer this node knows of right now, for [`Node::stats`].
    fn peer_stats(&self, node: &Node) -> Vec<crate::observe::PeerStats>;

    /// Stop listening and close every connection (the core kills the actors).
    fn shutdown(&self, node: &Node);
}

/// No networking: a node built without the `net` feature. Every address of another node
/// is unreachable, reported exactly as an unreachable node is with networking on.
#[cfg(not(feature = "net"))]
pub(crate) struct Nowhere;

#[cfg(not(feature = "net"))]
impl Nowhere {
    fn unreachable(to: &Address) -> SendError {
        SendError::NoConnection {
            node: to.node_id().to_string(),
            why: "this build of pyact has no networking (the `net` feature is off)".into(),
        }
    }
}

#[cfg(not(feature = "net"))]
impl Distribution for Nowhere {
    fn creation(&self) -> u32 {
        1
    }

    fn send(&self, _: &Node, to: &Address, _: Envelope) -> Result<(), SendError> {
        Err(Nowhere::unreachable(to))
    }

    fn link(&self, _: &Node, from: &Address, target: &Address) {
        let _ = from.deliver(Envelope::Signal(Box::new(Signal::Exit {
            from: target.clone(),
            reason: ExitReason::NoConnection,
            linked: true,
        })));
    }

    fn unlink(&self, _: &Node, _: &Address, _: &Address) {}

    fn monitor(&self, _: &Node, watcher: &Address, target: &Address, reference: Ref) {
        let _ = watcher.deliver(Envelope::Signal(Box::new(Signal::Down {
            reference,
            from: target.clone(),
            reason: ExitReason::NoConnection,
        })));
    }

    fn demonitor(&self, _: &Node, _: &Address, _: Ref) {}

    fn actor_ended(&self, _: &Node, _: u64) {}

    fn wait(&self, _: &Node, _: &Address) -> ExitReason {
        ExitReason::NoConnection
    }

    fn connected_nodes(&self, _: &Node) -> Vec<String> {
        Vec::new()
    }

    fn peer_stats(&self, _: &Node) -> Vec<crate::observe::PeerStats> {
        Vec::new()
    }

    fn shutdown(&self, _: &Node) {}
}

/// The JSON text of a user message that arrived from another node, checked by the
/// connection's reader and built into a [`Value`] by the actor that receives it.
///
/// Why: building a `Value` allocates (a map node, every string); built by the reader and
/// dropped by the receiving actor, which usually runs on the other worker thread, those
/// allocations were freed across threads, and in a one-way flood both threads then queued
/// on the allocator's lock (the hottest spot of the receiving node, ahead of parsing).
/// Kept as text, a message costs the reader one allocation, and the receiver builds and
/// drops the value on its own thread.
///
/// The reader accepts exactly what the receiver will build (see `remote::frame`: the same
/// `serde_json` parser over the same bytes, with a visitor that keeps nothing). It lives
/// here, not in the network, because mailboxes hold it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Payload(Box<[u8]>);

impl Payload {
    /// A payload whose text the caller has checked to be one valid JSON value.
    pub(crate) fn checked(text: Box<[u8]>) -> Payload {
        Payload(text)
    }

    /// The message. The text was checked when it arrived, so this does not fail; if it
    /// ever did, the message is reported and read as `null` rather than lost silently.
    pub(crate) fn into_value(self) -> Value {
        serde_json::from_slice(&self.0).unwrap_or_else(|e| {
            log::error!("a checked remote message failed to parse ({e}); delivered as null");
            Value::Null
        })
    }
}
