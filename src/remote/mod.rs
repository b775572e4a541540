//! Remote nodes: listening, connecting, and what a node does with the frames it receives.
//!
//! Each [`Node`] listens on its `host:port`. Sending to an address on another node opens a
//! connection on first use (the sender waits at most the connect + handshake timeout, then
//! gets [`SendError::NoConnection`]); the connection is kept and shared by every actor of
//! the node, and re-opened by the next send after a failure. After a *failed dial* the peer
//! is in back-off ([`NodeOptions::redial_backoff`]): sends to it fail at once with
//! `NoConnection` until the back-off ends (see `dialer.rs`).
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
//! interval set by [`NodeOptions::heartbeat`] (default 1 s); a connection on which nothing arrives for
//! the heartbeat timeout (default 5 s) is declared dead.
//!
//! **Bad peers.** A peer that fails the cookie challenge, or claims an identity it may not
//! have (our own name, our own challenge, another name than the one dialled), is refused,
//! and none of its frames is delivered. An oversized frame, a frame cut short, or a
//! handshake that stalls close that one connection with a log line; a complete frame that
//! is malformed (bad JSON, unknown kind) is dropped alone with a log line, and the
//! connection carries on. Before the handshake completes a peer can make the node buffer at
//! most 4 KiB, for at most the handshake deadline (5 s in total, not per read); at most
//! [`NodeOptions::max_handshakes`] handshakes run at once; a source address whose
//! handshakes keep failing is rate-limited and logged at most once a second
//! ([`NodeOptions::failed_handshakes`]). Every network coroutine but the listener holds a
//! slot of the live-actor budget, and a coroutine that cannot be created closes its
//! connection instead of panicking.
//!
//! **Incarnations.** Every node start picks a random creation number
//! ([`Node::creation`]), exchanged in the handshake and carried by addresses: a send, wait,
//! link or monitor for an address of another creation of a node treats its actor as dead
//! (`noproc`).
//!
//! **Bounds a peer runs into** (each enforced in the file named, each a [`NodeOptions`]
//! setting; the README's threat model lists them with their defaults):
//! - the handshake deadline, the cap on handshakes in progress and the failed-handshake
//!   rate limit per source (`handshake.rs`, `listener.rs`, `sources.rs`);
//! - outbound queue per connection, in bytes, and the write timeout: a peer that takes
//!   nothing for that long is dropped, one that reads slowly but steadily is not (it
//!   reports its progress, `connection.rs`); a sender facing a full queue waits at most the
//!   send timeout, then gets [`SendError::Overloaded`];
//! - outstanding remote waits, and links plus monitors, placed per connection
//!   (`dispatch.rs`), answered with [`ExitReason::Failed`] past the cap;
//! - a full bounded mailbox holds its connection's reader back at most the mailbox wait
//!   (readers of several connections wait in turn), then drops the message and counts it
//!   (`dispatch.rs`, `spawn_options.rs`);
//! - the frame size (`frame.rs`) and the nesting depth a message may have: the sender
//!   refuses deeper messages with [`SendError::TooDeep`] (`frame.rs`, `send` below);
//! - a reader dispatches for at most about a millisecond before letting local actors run
//!   (`connection.rs`), and never dials or waits on the network (`dispatch.rs`);
//! - after a failed dial, the redial back-off (`dialer.rs`).
//!
//! The wire protocol (handshake, admission, frames, creation numbers, limits) is specified
//! in [`protocol`].
//!
//! **Where each part lives.** One door in each direction between the core and the network:
//! the core hands this module an envelope for a remote address (`send`); `dispatch`
//! hands the core an envelope for a local id. Between them:
//!
//! | file | role |
//! |---|---|
//! | `options.rs` | [`NodeOptions`]: every limit and deadline |
//! | `listener.rs` | bind, accept, the handshake cap, the acceptor's handshake |
//! | `dialer.rs` | open a connection to a peer, the connector's handshake, redial back-off |
//! | `handshake.rs`, `digest.rs` | the cookie proof, the identity rules, the handshake deadline |
//! | `sources.rs` | failed handshakes per source address: rate limit and log throttle |
//! | `frame.rs` | the wire format |
//! | `connection.rs` | one authenticated connection: its reader and writer |
//! | `peers.rs` | the peer table, admission; what a failed connection takes down |
//! | `dispatch.rs` | what an incoming frame does |
//! | `requests.rs` | remote `wait`, `whereis`, spawn |
//! | `watch.rs` | links and monitors that cross nodes (indexed table) |
//! | `stats.rs` | [`NetStats`]: the sizes of the tables a peer can grow |

mod connection;
mod dialer;

#[doc = include_str!("protocol.md")]
pub mod protocol {}
mod digest;
mod dispatch;
pub(crate) mod frame;
mod handshake;
mod listener;
mod options;
mod peers;
mod requests;
mod sources;
mod stats;
mod watch;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
pub(crate) use frame::Payload;
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
    /// This node start's creation number (random, nonzero): see the protocol docs.
    pub(crate) creation: u32,
    /// Challenges this node issued and has not seen answered (reflection guard).
    issued: handshake::Issued,
    /// Handshakes in progress on the listener (capped by `max_handshakes`).
    handshaking: AtomicUsize,
    /// Failed handshakes per source address.
    sources: sources::Sources,
    /// Peers whose last dial failed: sends fail fast until the back-off ends.
    backoff: Mutex<HashMap<Arc<str>, dialer::Backoff>>,
    /// Remote messages dropped because their bounded mailbox stayed full for the whole
    /// `mailbox_wait` ([`NetStats::mailbox_full_drops`]).
    pub(crate) mailbox_drops: std::sync::atomic::AtomicU64,
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
            creation: new_creation(),
            issued: handshake::Issued::default(),
            handshaking: AtomicUsize::new(0),
            sources: sources::Sources::default(),
            backoff: Mutex::default(),
            mailbox_drops: Default::default(),
        }
    }

    fn beat(&self) -> Beat {
        Beat {
            interval: self.opts.heartbeat_interval,
            timeout: self.opts.heartbeat_timeout,
        }
    }
}

/// A random nonzero creation number for a node start. The OS random generator cannot
/// really fail on Linux; if it ever does, the clock and the process id stand in (still
/// different from the previous start of a node on the same port, which is what matters).
fn new_creation() -> u32 {
    let c = match digest::random_bytes::<4>() {
        Ok(b) => u32::from_be_bytes(b),
        Err(e) => {
            log::warn!("no randomness for the creation number ({e}); using the clock");
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            (t.as_nanos() as u32) ^ std::process::id().rotate_left(16)
        }
    };
    c.max(1)
}

/// Start a network coroutine (handshake, reader, writer, dialer). It holds one slot of the
/// process's live-actor budget ([`Config::max_actors`](crate::Config::max_actors)) while it
/// runs, so connections cannot exhaust what actors are protected by; without a slot, or if
/// the coroutine cannot be created, this fails with an error and nothing panics.
pub(crate) fn go<F: FnOnce() + Send + 'static>(f: F) -> std::io::Result<()> {
    let slot = crate::actor::LiveSlot::take().map_err(|e| std::io::Error::other(e.to_string()))?;
    crate::actor::go(move || {
        let _slot = slot;
        f()
    })
}

/// The connection to send to `addr` on, if `addr` may still name a live actor: an address
/// of another creation of its node (an earlier start of the process on that port) names an
/// actor that is gone, whatever its id ([`SendError::DeadActor`]).
pub(crate) fn conn_for(from: &Node, addr: &Address) -> Result<Arc<Conn>, SendError> {
    let (conn, have) = dialer::conn_and_creation(from, addr.node_id(), true)?;
    let want = addr.creation();
    // `have` is 0 only if the connection failed meanwhile: then the send fails anyway.
    if want != 0 && have != 0 && want != have {
        return Err(SendError::DeadActor(addr.clone()));
    }
    Ok(conn)
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
        // Only delivered to local actors; should one be routed on, it travels as a message.
        Envelope::Payload(p) => return send(from, addr, Envelope::Msg(p.into_value())),
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
            let conn = conn_for(from, addr)?;
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
    let conn = conn_for(from, addr)?;
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
    crate::node::home_node(addr).and_then(|n| n.cell_of(addr))
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

    /// This node start's creation number: random and nonzero, carried by every address of
    /// the node (`{"$addr": "host:port/id/creation"}`), so that an address of an earlier
    /// process on the same `host:port` never reaches an actor of this one.
    ///
    /// ```
    /// # use pyact::{Mesh, Node};
    /// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let a = node.spawn(|_| ());
    /// assert_ne!(node.creation(), 0);
    /// assert_eq!(a.creation(), node.creation());
    /// ```
    pub fn creation(&self) -> u32 {
        self.0.remote.creation
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
        dialer::conn_and_creation(self, &peer, false)
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
        // Never picked as a sending node, never spawns again (see node.rs).
        self.mark_shut_down();
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
