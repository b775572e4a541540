//! Remote nodes: listening, connecting, and what a node does with the frames it receives.
//!
//! Each [`Node`] listens on its `host:port`. Sending to an address on another node opens a
//! connection on first use (the sender waits at most the connect + handshake timeout, then
//! gets [`SendError::NoConnection`]); the connection is kept and shared by every actor of
//! the node, and re-opened by the next send after a failure.
//!
//! **One connection per pair of nodes.** Whoever dialled it, the one connection between two
//! nodes carries every frame in both directions (`peers.rs`: admission after the
//! handshake, Erlang's rule that a second connection claiming a connected name is refused,
//! and a deterministic tie-break when both nodes dial at once). This keeps Erlang's ordering
//! guarantee simply: messages from one actor to another travel one TCP stream and are
//! delivered in the order sent.
//!
//! **When a connection breaks**, the node declares the peer down: every connection with it
//! is closed, pending remote `wait`s return [`ExitReason::NoConnection`], every link or
//! monitor from a local actor to an actor on that node fires with `noconnection`, and node
//! monitors get `{"nodedown": "host:port", "reason": "..."}`. Messages still queued in the
//! broken connection, or in flight in the kernel, may be lost: what was sent before the
//! break may or may not have arrived, and nothing sent after it is delivered twice. A later
//! send reconnects (a new `{"nodeup": ...}`).
//!
//! **Heartbeats.** An idle connection carries a heartbeat frame every
//! [`NodeOptions::heartbeat_interval`]; a connection on which nothing arrives for
//! [`NodeOptions::heartbeat_timeout`] (default 5 s) is declared dead.
//!
//! **Bad peers.** A peer that fails the cookie challenge is refused and logged, and none of
//! its frames is delivered. An oversized frame, a frame cut short, or a handshake that
//! stalls close that one connection with a log line; a complete frame that is malformed
//! (bad JSON, unknown kind) is dropped alone with a log line, and the connection carries on.
//! Before the handshake completes a peer can make the node buffer at most 4 KiB, for at most
//! the handshake timeout.
//!
//! **Bounds a peer runs into** (each enforced in the file named, each a [`NodeOptions`]
//! setting; the README's threat model lists them with their defaults):
//! - outbound queue per connection, in bytes, and the write deadline after which a peer
//!   that stops reading is dropped (`connection.rs`); a sender facing a full queue waits at
//!   most the send timeout, then gets [`SendError::Overloaded`];
//! - outstanding remote waits, and links plus monitors, placed per connection
//!   (`dispatch.rs`), answered with [`ExitReason::Failed`] past the cap;
//! - a full bounded mailbox holds its connection's reader back at most the mailbox wait,
//!   then drops the message (`dispatch.rs`, `spawn_options.rs`);
//! - the frame size (`frame.rs`) and the nesting depth a message may have: the sender
//!   refuses deeper messages with [`SendError::TooDeep`] (`frame.rs`, `send` below);
//! - a reader dispatches for at most about a millisecond before letting local actors run
//!   (`connection.rs`), and never dials or waits on the network (`dispatch.rs`).
//!
//! **Where each part lives.** One door in each direction between the core and the network:
//! the core hands this module an envelope for a remote address (`send`); `dispatch`
//! hands the core an envelope for a local id. Between them:
//!
//! | file | role |
//! |---|---|
//! | `options.rs` | [`NodeOptions`]: every limit and deadline |
//! | `listener.rs` | bind, accept, the acceptor's handshake |
//! | `dialer.rs` | open a connection to a peer, the connector's handshake |
//! | `handshake.rs`, `digest.rs` | the cookie proof |
//! | `frame.rs` | the wire format |
//! | `connection.rs` | one authenticated connection: its reader and writer |
//! | `peers.rs` | the peer table, admission; what a failed connection takes down |
//! | `dispatch.rs` | what an incoming frame does |
//! | `requests.rs` | remote `wait`, `whereis`, spawn |
//! | `watch.rs` | links and monitors that cross nodes (indexed table) |
//! | `stats.rs` | [`NetStats`]: the sizes of the tables a peer can grow |

mod connection;
mod dialer;
mod digest;
mod dispatch;
pub(crate) mod frame;
mod handshake;
mod listener;
mod options;
mod peers;
mod requests;
mod stats;
mod watch;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;

use crate::actor::ActorCell;
use connection::Beat;
use frame::Frame;

use crate::mailbox::{Envelope, Mailbox, Signal};
use crate::node::NodeName;
use crate::{Address, ExitReason, Node, NodeError, Ref, SendError, SpawnError};

use connection::Conn;
pub(crate) use dialer::conn_to;
pub(crate) use listener::{bind, start};
pub use options::NodeOptions;
use peers::{Peer, conn_failed};
use requests::Pending;
pub(crate) use requests::{wait, whereis};
pub use stats::NetStats;
use watch::{Watch, Watches};
pub(crate) use watch::{demonitor, link, local_ended, monitor, unlink};

/// An actor factory for remote spawn: gets the mailbox and the JSON arguments.
pub type Factory = Arc<dyn Fn(Mailbox, Value) -> ExitReason + Send + Sync>;

/// The network state of one node.
pub(crate) struct Remote {
    pub(crate) opts: NodeOptions,
    peers: Mutex<HashMap<Arc<str>, Peer>>,
    /// One connect attempt at a time per peer (a `may` mutex: waiting coroutines yield).
    dialing: Mutex<HashMap<Arc<str>, Arc<may::sync::Mutex<()>>>>,
    /// Cookies given explicitly to `connect` for a peer.
    cookies: Mutex<HashMap<Arc<str>, String>>,
    /// Outstanding requests: id -> (peer, where the reply goes).
    pending: Mutex<HashMap<u64, Pending>>,
    /// Links and monitors between local actors and actors on other nodes.
    watches: Watches,
    /// Node-event subscribers.
    subscribers: Mutex<Vec<Address>>,
    factories: Mutex<HashMap<String, Factory>>,
    stopped: AtomicBool,
    listen_addr: Mutex<Option<SocketAddr>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Remote {
    pub(crate) fn new(opts: NodeOptions) -> Self {
        Remote {
            opts,
            peers: Mutex::default(),
            dialing: Mutex::default(),
            cookies: Mutex::default(),
            pending: Mutex::default(),
            watches: Watches::default(),
            subscribers: Mutex::default(),
            factories: Mutex::default(),
            stopped: AtomicBool::new(false),
            listen_addr: Mutex::default(),
        }
    }

    fn beat(&self) -> Beat {
        Beat {
            interval: self.opts.heartbeat_interval,
            timeout: self.opts.heartbeat_timeout,
        }
    }
}

/// Send an envelope to an actor on another node.
///
/// A user message is checked before anything else: deeper than a receiver can parse
/// ([`SendError::TooDeep`]) or larger than the frame limit ([`SendError::TooLarge`]) is
/// refused here, so what `send` accepts arrives. It then waits for room in the connection's
/// outbound queue, at most the write timeout ([`SendError::Overloaded`]). Signals never wait.
pub(crate) fn send(from: &Node, addr: &Address, env: Envelope) -> Result<(), SendError> {
    let r = from.remote();
    let to = addr.id();
    let f = match env {
        Envelope::Msg(v) => {
            if frame::depth_exceeds(&v, frame::MAX_DEPTH) {
                return Err(SendError::TooDeep {
                    limit: frame::MAX_DEPTH,
                });
            }
            let bytes = frame::encode_msg(to, &v, r.opts.max_frame).map_err(|size| {
                SendError::TooLarge {
                    size,
                    limit: r.opts.max_frame,
                }
            })?;
            let conn = conn_to(from, addr.node_id())?;
            return conn.push(&bytes).map_err(|e| {
                peers::push_error(
                    addr.node_id(),
                    e,
                    r.opts.outbound_limit,
                    r.opts.sender_wait(),
                )
            });
        }
        Envelope::Signal(sig) => match *sig {
            Signal::Kill => Frame::Kill { to },
            Signal::Exit {
                from,
                reason,
                linked,
            } => Frame::Exit {
                to,
                from,
                reason,
                linked,
            },
            Signal::Down {
                reference,
                from,
                reason,
            } => Frame::Down {
                to,
                reference,
                from,
                reason,
            },
        },
    };
    let conn = conn_to(from, addr.node_id())?;
    // A link or monitor the peer placed here fires: it leaves the connection's table.
    match &f {
        Frame::Down { reference, .. } => {
            conn.placed().monitors.remove(reference);
        }
        Frame::Exit {
            from: local,
            linked: true,
            ..
        } => {
            conn.placed().links.remove(&(local.id(), addr.clone()));
        }
        _ => {}
    }
    conn.push_frame(&f).map_err(|e| {
        peers::push_error(
            addr.node_id(),
            e,
            r.opts.outbound_limit,
            r.opts.write_timeout,
        )
    })
}

/// The live cell behind `addr` if it is an actor of the node that is "here".
pub(crate) fn local_cell_of(addr: &Address) -> Option<Arc<ActorCell>> {
    crate::node::home_node(addr).and_then(|n| n.cell(addr.id()))
}

/// Does `addr` name an actor of the node that is "here"?
pub(crate) fn is_local_node(addr: &Address) -> bool {
    crate::node::home_node(addr).is_some()
}

impl Node {
    /// Create a node with explicit network [`NodeOptions`].
    pub fn with_options(
        mesh: &crate::Mesh,
        name: &str,
        opts: NodeOptions,
    ) -> Result<Node, NodeError> {
        Node::create(mesh, name, opts)
    }

    pub(crate) fn remote(&self) -> &Remote {
        &self.0.remote
    }

    /// Connect to the node `cookie@host:port` now (sends connect on demand anyway), using
    /// that cookie for the handshake. Returns the typed reason if it cannot.
    ///
    /// ```
    /// # use pyact::{Mesh, Node};
    /// let mesh = Mesh::new();
    /// let a = Node::new(&mesh, "secret@127.0.0.1:0").unwrap();
    /// let b = Node::new(&mesh, "secret@127.0.0.1:0").unwrap();
    /// a.connect(&format!("secret@{}", b.name())).unwrap();
    /// assert!(a.connected_nodes().contains(&b.name().to_string()));
    /// ```
    pub fn connect(&self, name: &str) -> Result<(), NodeError> {
        let n = NodeName::parse(name)?;
        let peer = n.id();
        if n.cookie != self.cookie() {
            lock(&self.remote().cookies).insert(peer.clone().into(), n.cookie.clone());
        }
        conn_to(self, &peer)
            .map(|_| ())
            .map_err(|e| NodeError::Connect {
                node: peer,
                why: e.to_string(),
            })
    }

    /// Close every connection with `peer` (`host:port`): both sides see the other go down.
    pub fn disconnect(&self, peer: &str) {
        let conn = lock(&self.remote().peers)
            .get(peer)
            .and_then(|p| p.out.clone());
        if let Some(c) = conn {
            conn_failed(self, &c, "disconnected locally");
        }
    }

    /// Nodes this node has a live connection with (`host:port`).
    pub fn connected_nodes(&self) -> Vec<String> {
        let mut v: Vec<String> = lock(&self.remote().peers)
            .iter()
            .filter(|(_, p)| p.out.as_ref().is_some_and(|c| !c.is_closed()))
            .map(|(k, _)| k.to_string())
            .collect();
        v.sort();
        v
    }

    /// Subscribe `addr` to node events: it receives `{"nodeup": "host:port"}` and
    /// `{"nodedown": "host:port", "reason": "..."}` (Erlang's `monitor_nodes`). `addr` must be
    /// an actor (or inbox) of this node: events are never sent over the network.
    pub fn monitor_nodes(&self, addr: &Address) {
        lock(&self.remote().subscribers).push(addr.clone());
    }

    /// Register a named factory other nodes can spawn actors from ([`Node::spawn_remote`]).
    pub fn register_factory<F>(&self, name: &str, f: F)
    where
        F: Fn(Mailbox, Value) -> ExitReason + Send + Sync + 'static,
    {
        lock(&self.remote().factories).insert(name.to_string(), Arc::new(f));
    }

    /// Spawn an actor on node `peer` (`host:port`) from its factory `factory`, with JSON
    /// `args`; returns the new actor's address. `peer` may be this node.
    pub fn spawn_remote(
        &self,
        peer: &str,
        factory: &str,
        args: Value,
    ) -> Result<Address, SpawnError> {
        if peer == self.name() {
            let f = lock(&self.remote().factories)
                .get(factory)
                .cloned()
                .ok_or_else(|| SpawnError::UnknownFactory(factory.into()))?;
            return self.try_spawn(move |mb| f(mb, args));
        }
        requests::spawn(self, peer, factory, args)
    }

    /// Stop listening, close every connection, and kill every actor of this node.
    pub fn shutdown(&self) {
        let r = self.remote();
        if r.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        // Wake the accept loop so it sees `stopped`.
        if let Some(a) = *lock(&r.listen_addr) {
            let _ = std::net::TcpStream::connect_timeout(&a, Duration::from_secs(1));
        }
        let peers: Vec<Arc<str>> = lock(&r.peers).keys().cloned().collect();
        for p in peers {
            self.disconnect(&p);
        }
        for cell in self.live_cells() {
            let _ = cell.queue.push(Envelope::Signal(Box::new(Signal::Kill)));
        }
        log::debug!("{}: shut down", self.name());
    }
}
