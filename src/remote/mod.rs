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
//! **Heartbeats.** A connection that has sent nothing for the interval set by
//! [`NodeOptions::heartbeat`] (default 15 s) sends a heartbeat frame (a busy one sends
//! none); a connection on which nothing arrives for the heartbeat timeout (default 60 s,
//! Erlang's `net_ticktime`) is declared dead. A peer whose process dies is down at once (its
//! kernel closes the connection): the timeout is for hung or cut-off peers.
//!
//! **Bad peers.** A peer that fails the cookie challenge, or claims an identity it may not
//! have (our own name, our own challenge, another name than the one dialled), is refused,
//! and none of its frames is delivered. An oversized frame, a frame cut short, or a
//! handshake that stalls close that one connection with a log line; a complete frame that
//! is malformed (bad JSON, unknown kind) is dropped alone with a log line, and the
//! connection carries on. Before the handshake completes a peer can make the node buffer at
//! most 4 KiB, for at most the handshake deadline (5 s in total, not per read); at most
//! [`NodeOptions::max_handshakes`] handshakes run at once, and a newcomer past it evicts a
//! handshake of the source group holding the most (`door.rs`); wrong cookie proofs are
//! checked at most [`NodeOptions::cookie_guesses`] a second node-wide; a source address
//! whose proofs keep failing is rate-limited and logged at most once a second
//! ([`NodeOptions::failed_handshakes`]), unless it proved the cookie recently. Every network coroutine but the listener holds a
//! slot of the live-actor budget, and a coroutine that cannot be created closes its
//! connection instead of panicking.
//!
//! **Incarnations.** Every node start picks a random creation number
//! ([`Node::creation`]), exchanged in the handshake and carried by addresses: a send, wait,
//! link or monitor for an address of another creation of a node treats its actor as dead
//! (`noproc`).
//!
//! **Bounds a peer runs into** (each enforced in the file named, each a [`NodeOptions`]
//! setting; the [threat model](#threat-model) below lists them with their defaults):
//! - the handshake deadline, the cap on handshakes in progress (with eviction by source
//!   group), the node-wide budget of wrong cookie proofs, and the failed-proof rate limit
//!   per source (`handshake.rs`, `listener.rs`, `door.rs`, `sources.rs`);
//! - outbound queue per connection, in bytes, and the write timeout: a peer that takes
//!   nothing for that long is dropped, one that reads slowly but steadily is not (it
//!   reports its progress, `connection.rs`); a sender facing a full queue waits at most the
//!   send timeout, then gets [`SendError::Overloaded`];
//! - outstanding remote waits, and links plus monitors, placed per connection and on the
//!   whole node (`placed.rs`, `dispatch.rs`), answered with [`ExitReason::Failed`] past a
//!   cap; a closed connection releases its entries in linear time, yielding as it goes;
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
//! | `listener.rs` | bind, accept, the acceptor's handshake, the tarpit for refused connections |
//! | `door.rs` | handshake slots (eviction by source group), the node-wide cookie-guess budget, known sources |
//! | `dialer.rs` | open a connection to a peer, the connector's handshake, redial back-off |
//! | `handshake.rs`, `digest.rs` | the cookie proof, the identity rules, the handshake deadline |
//! | `sources.rs` | wrong cookie proofs per source address: rate limit and log throttle |
//! | `transport.rs`, `tls.rs` | the stream under a connection: plain TCP, or TLS 1.3 (feature `tls`) |
//! | `frame.rs` | the wire format |
//! | `connection.rs` | one authenticated connection: its reader and writer |
//! | `peers.rs` | the peer table, admission; what a failed connection takes down |
//! | `cluster.rs` | connect-all: member lists exchanged after admission, background dials |
//! | `dispatch.rs` | what an incoming frame does |
//! | `placed.rs` | what peers placed here (waits, monitors, links): caps, counts, release |
//! | `requests.rs` | remote `wait`, `whereis`, spawn |
//! | `watch.rs` | links and monitors that cross nodes (indexed table) |
//! | `stats.rs` | [`NetStats`]: the sizes of the tables a peer can grow |
//!
//! ## Using remote nodes
//!
//! - Connections open on first use, are shared by all actors of a node, and re-open after a
//!   failure; `node.connect("cookie@host:port")` connects explicitly, `mesh.nodes()` lists
//!   peers.
//! - Connect-all (`cluster.rs`): a node connected to one member of a cluster connects to
//!   every member, and the others to it, unless it is hidden ([`NodeOptions::hidden`]);
//!   [`Node::connected_nodes`] lists whom it is connected to.
//! - `wait`, `kill`, `whereis_remote`, links and monitors work on remote addresses; remote
//!   spawn: `node.register_factory(name, f)` on one node, `node.spawn_remote(peer, name, args)`
//!   on another.
//! - A node is reached by the name it was started with: a peer that answers to another name
//!   than the one dialled is refused (dial `127.0.0.1:4000`, not `localhost:4000`, for a node
//!   started as `cookie@127.0.0.1:4000`).
//! - Addresses carry the creation number: `{"$addr": "host:port/42/3735928559"}` (host:port,
//!   actor id, creation).
//! - On the wire: a 4-byte big-endian length and a JSON frame; a versioned 4-frame handshake
//!   with HMAC-SHA-256 over fresh 32-byte challenges from both sides, then an admission frame
//!   (see [`protocol`]).
//! - `cargo run --release --example remote_ping -- serve 127.0.0.1:4000` and
//!   `-- ping 127.0.0.1:4000 10000` try it between two processes; `serve` runs until Ctrl-C or
//!   until its `ponger` gets the message `"stop"`, and does not read standard input, so it can
//!   run in the background.
//!
//! ## Threat model
//!
//! **What the cookie protects: who may join.** A node talks only to peers that prove, in the
//! handshake, that they know its cookie (HMAC-SHA-256 over fresh challenges from both sides;
//! the cookie itself never travels); a peer that cannot never gets a frame delivered. A node
//! cannot be tricked into proving the cookie to itself: a peer may not use our name, our own
//! challenges are never answered, and the dialled name must answer. A peer that has proved
//! it is a full member of the cluster: it can send to, link to, monitor, wait on and kill any
//! actor of the node, look up its registered names and spawn from its registered factories.
//! Treat the cookie like a root password, and register as factories only what any member may
//! start.
//!
//! **What it does not protect: the traffic.** Nothing after the handshake is encrypted or
//! authenticated: anyone on the path can read every message, and inject or alter frames on an
//! established connection. Run nodes on a private network, or carry their traffic through a
//! tunnel (WireGuard, SSH, a TLS proxy), or turn on encrypted links; never expose a node's
//! port to the Internet.
//!
//! **With encrypted links** (cargo feature `tls`, `NodeOptions::tls`, module `remote::tls`): the
//! whole stream, cookie handshake included, is a TLS 1.3 session with a certificate on both
//! sides. What changes: someone on the path sees sizes and timing only, and cannot read,
//! inject or alter a frame (the connection fails instead); joining takes a certificate
//! signed by the configured CA *and* the cookie, and the dialled node must hold a
//! certificate for its host, so a node that took over a peer's address cannot pass for it.
//! What does not: a member (certificate and cookie) may still do anything a member may; a
//! stolen certificate key with the cookie is a member (there is no revocation list: replace
//! the CA); the key exchange is classical (X25519/P-256), not post-quantum. The front door
//! costs a stranger more with TLS on: each connection makes the acceptor do one key
//! exchange and one signature before the certificate is checked (rows below).
//!
//! **The front door.** A node with the cookie gets in, whatever an attacker without it does
//! from addresses of *other* /16 groups (IPv4; /48 for IPv6): holding or re-opening any number
//! of pre-handshake connections only ever evicts the attacker's own, and guesses from any
//! number of addresses are heard at most 100 times a second, addresses that proved the cookie
//! before served first. Measured with `examples/front_door.rs` (release, loopback, 2 loaded
//! cores): under 300 connections from 2,000 addresses re-opened at once, 256 silent ones from
//! the same address, 100 guesses a second from the same address, or guesses from 2,000
//! rotating addresses, every fresh node connected (about 50 per attack, two runs; the slowest
//! took 281 ms, most under 2 ms); a connected peer's ping p99 stayed under 5 ms (3.6 ms
//! without an attack on the same box). What it does not guarantee: an attacker within the
//! same /16 as a node, holding every slot with connections opened in the last 250 ms, can
//! have that node's connect refused (`busy`) until they age; an address that never proved the
//! cookie and shares its IP with a guesser is rate-limited with it; a botnet spread over more
//! /16 groups than there are slots gets a fair share like everyone else.
//! Use a strong cookie: `pyact::remote::random_cookie()` makes one (128 bits); a node started with a
//! cookie shorter than `pyact::remote::WEAK_COOKIE_BELOW` (16) characters logs a warning.
//!
//! **Limits a hostile or broken peer runs into**, each a setting (`NodeOptions` unless named
//! otherwise; defaults in brackets) enforced in the file named above:
//!
//! | the peer... | what happens |
//! |---|---|
//! | has not finished the handshake | at most 4 KiB buffered for it; closed at the one handshake deadline, counted from the accept, not per read (`connect_timeout` \[5 s\]) |
//! | (TLS on) has not finished the TLS handshake | at most 16 KiB read from it (hello, certificate chain, signature; a longer chain is refused), held by rustls; the same one deadline and handshake slot as the cookie handshake, which runs after it (and keeps its own 4 KiB frame limit inside the session); costs the acceptor one key exchange and one signature per connection |
//! | (TLS on) presents no certificate, or one not signed by the CA (or, when dialled, not naming its host) | refused before any pyact frame is read; counted as a failed proof for its source's rate limit (`failed_handshakes`); an established session holds at most one record in rustls plus one read of 64 KiB and one write piece of 64 KiB per connection beyond the plain bounds |
//! | (TLS on) speaks plain to a TLS node, or TLS to a plain one | closed on the first bytes: not a TLS record, or a length prefix over 4 KiB |
//! | opens many connections at once | at most `max_handshakes` \[256\] handshakes in progress; a newcomer past it evicts the least advanced, oldest handshake of the source group (IPv4 /16, IPv6 /48) holding the most, or, if its own group is the largest, one of its own group held 250 ms without sending its proof; else it is refused (`busy`). Refused and evicted connections are closed a second later (a re-open loop cannot spin the listener) |
//! | guesses the cookie, from any number of addresses | wrong proofs are checked at most `cookie_guesses` \[100\] per second node-wide (a right proof costs nothing); the others wait within the handshake deadline in a queue that serves addresses that proved the cookie in the last hour first, then other /16 groups in turn, then `busy` |
//! | keeps failing the proof from one address | rate-limited per source IP address (`failed_handshakes` \[10, then 1 per second\]): its connections are closed unheard, unless the address proved the cookie in the last hour; only wrong proofs count, not handshakes cut short (a peer that crashed); logged at most once per second per source and node-wide |
//! | claims the name of a node already connected | refused after the handshake (Erlang's rule): the real node's connection, links and monitors are untouched; one connection per pair of nodes, with a deterministic tie-break when both dial at once |
//! | speaks for an earlier start of a node | addresses carry the creation number: one of another start names a dead actor (`noproc`) |
//! | sends a frame over `max_frame` \[16 MiB\], or cuts one short | that connection is closed (the others stay); a sending pyact node refuses such a message (`SendError::TooLarge`) |
//! | sends a malformed frame (bad JSON, unknown kind) | that frame is dropped and logged; the connection carries on |
//! | nests a message deeper than 127 levels | cannot: a sending pyact node refuses it (`SendError::TooDeep`); a receiver parses the payload with `serde_json`'s own limit, the envelope does not count |
//! | places remote waits | `max_remote_waits` \[65,536\] outstanding per connection and `max_remote_waits_total` \[262,144\] for all peers together, table entries (no coroutine); past either answered at once with a `Failed` reason naming the limit |
//! | places links and monitors | `max_remote_watches` \[65,536\] per connection and `max_remote_watches_total` \[262,144\] for all peers together; past either an immediate exit signal or DOWN with a `Failed` reason; all of them go when its connection goes, released in linear time in ~1 ms slices (3 × 65,536 of each kind: released in ~0.5 s, other actors delayed at most a few ms, `examples/teardown_stall.rs`) |
//! | links or monitors on behalf of another node's actor | dropped and logged (the node never dials on a peer's say-so) |
//! | floods | its connection's reader dispatches at most ~1 ms before letting local actors run; a message for an actor with a full bounded mailbox (`SpawnOptions::mailbox_limit`, opt-in \[unbounded\]) holds that reader back, in turn with other connections' readers waiting on the same mailbox, at most `mailbox_wait` \[100 ms\], so TCP pushes the flood back to the sending node, whose senders get `SendError::Overloaded`; only then is it dropped, logged (rate-limited) and counted (`NetStats::mailbox_full_drops`) |
//! | stops reading | this node's outbound queue for it is bounded (`outbound_limit` \[4 MiB\]); local senders wait at most `send_timeout` \[= `write_timeout`\] then get `SendError::Overloaded`; the connection is dropped when nothing is taken for `write_timeout` \[5 s\] (checked every 250 ms at most): a peer that keeps reading, however slowly, is never dropped for it, as every node's reader reports its progress; replies it asks for and does not read past twice the bound also drop it |
//! | goes silent | declared down after the `heartbeat` timeout \[60 s\] |
//! | is down, and we keep sending to it | after a failed dial, sends fail at once with `NoConnection` during a back-off (`redial_backoff` \[100 ms doubling to 5 s\]), logged once per change |
//! | asks for a remote spawn | one actor per request, counted against the process's live-actor limit (`Config::max_actors`) |
//! | costs coroutines of any kind (handshakes, readers, writers, dialers, actors) | all but the listener count against `Config::max_actors`; past it connections are closed, never a panic |
//!
//! `Node::net_stats()` shows the size of every table a peer can grow. `examples/remote_under_attack.rs`
//! measures a legitimate peer's ping round trip while an attacker trickles handshakes, holds
//! 5,000 remote waits and floods a slow actor (figures in BENCHMARKS-HISTORY.md).

mod cluster;
mod connection;
mod dialer;

#[doc = include_str!("protocol.md")]
pub mod protocol {}
mod digest;
mod dispatch;
mod door;
pub(crate) mod frame;
mod handshake;
mod listener;
mod options;
mod peers;
mod placed;
mod quiet;
mod requests;
mod sources;
mod stats;
#[cfg(feature = "tls")]
pub mod tls;
mod transport;
mod watch;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;

use crate::distribution::Distribution;
use connection::Beat;
use frame::Frame;

use crate::link::Ref;
use crate::mailbox::{Envelope, Mailbox, Signal};
use crate::node::NodeName;
use crate::{Address, ExitReason, IntoExit, Node, NodeError, SendError, SpawnError};

use connection::Conn;
pub(crate) use dialer::conn_to;
pub use listener::WEAK_COOKIE_BELOW;
pub use options::NodeOptions;
use peers::{Peer, conn_failed};
use requests::Pending;
pub use stats::NetStats;
#[cfg(feature = "tls")]
pub use tls::TlsOptions;
use watch::{Watch, Watches};

/// An actor factory for remote spawn: gets the mailbox and the JSON arguments.
///
/// ```
/// use pyact::ExitReason;
/// use pyact::remote::Factory;
/// let f: Factory = std::sync::Arc::new(|_mb, args| ExitReason::Normal(args));
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let a = node.spawn(move |mb| f(mb, pyact::json!([1, 2])));
/// assert_eq!(node.wait(&a).unwrap(), pyact::json!([1, 2]));
/// ```
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
    /// What peers placed on this node's actors, summed over connections (node-wide caps).
    placed: Arc<placed::Totals>,
    /// Node-event subscribers.
    subscribers: Mutex<Vec<Address>>,
    factories: Mutex<HashMap<String, Factory>>,
    stopped: AtomicBool,
    listen_addr: Mutex<Option<SocketAddr>>,
    /// This node start's creation number (random, nonzero): see the protocol docs.
    pub(crate) creation: u32,
    /// Challenges this node issued and has not seen answered (reflection guard).
    issued: handshake::Issued,
    /// Handshake slots (capped by `max_handshakes`), the guess budget, known sources.
    door: Arc<door::Door>,
    /// Connections refused or evicted before their handshake, closed a second later.
    tarpit: Mutex<listener::Tarpit>,
    /// Failed handshakes per source address.
    sources: sources::Sources,
    /// Peers whose last dial failed: sends fail fast until the back-off ends.
    backoff: Mutex<HashMap<Arc<str>, dialer::Backoff>>,
    /// Remote messages dropped because their bounded mailbox stayed full for the whole
    /// `mailbox_wait` ([`NetStats::mailbox_full_drops`]).
    pub(crate) mailbox_drops: std::sync::atomic::AtomicU64,
    /// Connect-all: members, names waiting to be dialled (`cluster.rs`).
    cluster: cluster::Cluster,
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
            placed: Arc::default(),
            subscribers: Mutex::default(),
            factories: Mutex::default(),
            stopped: AtomicBool::new(false),
            listen_addr: Mutex::default(),
            creation: new_creation(),
            issued: handshake::Issued::default(),
            door: Arc::default(),
            tarpit: Mutex::default(),
            sources: sources::Sources::default(),
            backoff: Mutex::default(),
            mailbox_drops: Default::default(),
            cluster: Default::default(),
        }
    }

    fn beat(&self) -> Beat {
        Beat {
            interval: self.opts.heartbeat_interval,
            timeout: self.opts.heartbeat_timeout,
        }
    }
}

/// A strong random cookie: 32 hex characters (128 bits) from the operating system's
/// random generator, for `cookie@host:port`. Generate it once, and give the same one to
/// every node of the cluster (a file readable by their user only, an environment
/// variable); a node started with a cookie shorter than [`WEAK_COOKIE_BELOW`] characters
/// logs a warning.
///
/// Fails only if the OS has no random generator to read.
///
/// ```
/// let cookie = pyact::remote::random_cookie().unwrap();
/// assert_eq!(cookie.len(), 32);
/// let node = pyact::Node::new(&pyact::Mesh::new(), &format!("{cookie}@127.0.0.1:0")).unwrap();
/// # drop(node);
/// ```
pub fn random_cookie() -> std::io::Result<String> {
    digest::random_bytes::<16>().map(|b| digest::hex(&b))
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
/// process's live-actor budget ([`Config::max_actors`](crate::config::Config::max_actors)) while it
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
            conn.placed().remove_monitor(reference, &r.placed);
        }
        Frame::Exit {
            from: local,
            linked: true,
            ..
        } => {
            conn.placed()
                .remove_link(&(local.id(), addr.clone()), &r.placed);
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

impl Node {
    /// Create a node with explicit network [`NodeOptions`].
    ///
    /// ```
    /// use pyact::{Mesh, Node, NodeOptions};
    /// let opts = NodeOptions::default().max_frame(64 * 1024);
    /// let node = Node::with_options(&Mesh::new(), "c@127.0.0.1:0", opts).unwrap();
    /// let a = node.spawn(|_| "up");
    /// assert_eq!(node.wait(&a).unwrap(), "up");
    /// ```
    pub fn with_options(
        mesh: &crate::Mesh,
        name: &str,
        opts: NodeOptions,
    ) -> Result<Node, NodeError> {
        crate::config::current();
        let mut name = NodeName::parse(name)?;
        let listener = listener::bind(&name)?;
        let local: SocketAddr = listener.local_addr().map_err(|e| NodeError::Bind {
            addr: name.id(),
            why: e.to_string(),
        })?;
        name.port = local.port();
        let node = Node::assemble(mesh, name, Remote::new(opts));
        listener::start(&node, listener);
        Ok(node)
    }

    /// Create a node named `cookie@host:port` on `mesh` and start listening on host:port
    /// (port 0 picks a free port; [`Node::name`] reports the real one), with the default
    /// [`NodeOptions`].
    ///
    /// ```
    /// use pyact::{Mesh, Node};
    /// let mesh = Mesh::new();
    /// let node = Node::new(&mesh, "cookie@127.0.0.1:0").unwrap();
    /// assert!(node.name().starts_with("127.0.0.1:"));
    /// assert!(Node::new(&mesh, "cookie@127.0.0.1").is_err()); // no port
    /// ```
    pub fn new(mesh: &crate::Mesh, name: &str) -> Result<Node, NodeError> {
        Node::with_options(mesh, name, NodeOptions::default())
    }

    /// This node's network state (the door's implementation, see [`crate::distribution`]).
    pub(crate) fn remote(&self) -> &Remote {
        &self.0.dist
    }

    /// Connect to the node `cookie@host:port` now (sends connect on demand anyway), using
    /// that cookie for the handshake, and for every later connection to that node (this
    /// node's own cookie: none of its own any more). Returns the typed reason if it cannot.
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
        // The cookie named is the one to use from now on: a mistyped one is not kept once
        // the right one (maybe this node's own) is given.
        {
            let mut cookies = lock(&self.remote().cookies);
            if n.cookie != self.cookie() {
                cookies.insert(peer.clone().into(), n.cookie.clone());
            } else {
                cookies.remove(peer.as_str());
            }
        }
        dialer::conn_and_creation(self, &peer, false)
            .map(|_| ())
            .map_err(|e| NodeError::Connect {
                node: peer,
                why: e.to_string(),
            })
    }

    /// Close every connection with `peer` (`host:port`): both sides see the other go down.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mesh = pyact::Mesh::new();
    /// let a = pyact::Node::new(&mesh, "k@127.0.0.1:0").unwrap();
    /// let b = pyact::Node::new(&mesh, "k@127.0.0.1:0").unwrap();
    /// let mut events = a.inbox();
    /// a.monitor_nodes(&events.addr());
    /// a.connect(&format!("k@{}", b.name())).unwrap();
    /// a.disconnect(b.name());
    /// let down = pyact::pattern!({"nodedown": str});
    /// assert!(events.receive_match_timeout(&[&down], Duration::from_secs(10)).is_ok());
    /// ```
    pub fn disconnect(&self, peer: &str) {
        let conn = lock(&self.remote().peers)
            .get(peer)
            .and_then(|p| p.out.clone());
        if let Some(c) = conn {
            conn_failed(self, &c, "disconnected locally");
        }
    }

    /// Nodes this node has a live connection with (`host:port`).
    ///
    /// ```
    /// let mesh = pyact::Mesh::new();
    /// let a = pyact::Node::new(&mesh, "k@127.0.0.1:0").unwrap();
    /// let b = pyact::Node::new(&mesh, "k@127.0.0.1:0").unwrap();
    /// assert!(a.connected_nodes().is_empty());
    /// a.connect(&format!("k@{}", b.name())).unwrap();
    /// assert_eq!(a.connected_nodes(), vec![b.name().to_string()]);
    /// ```
    pub fn connected_nodes(&self) -> Vec<String> {
        self.remote().connected_nodes(self)
    }

    /// Subscribe `addr` to node events: it receives `{"nodeup": "host:port"}` and
    /// `{"nodedown": "host:port", "reason": "..."}` (Erlang's `monitor_nodes`). `addr` must be
    /// an actor (or inbox) of this node: events are never sent over the network.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mesh = pyact::Mesh::new();
    /// let a = pyact::Node::new(&mesh, "k@127.0.0.1:0").unwrap();
    /// let b = pyact::Node::new(&mesh, "k@127.0.0.1:0").unwrap();
    /// let mut events = a.inbox();
    /// a.monitor_nodes(&events.addr());
    /// a.connect(&format!("k@{}", b.name())).unwrap();
    /// let up = events.receive_timeout(Duration::from_secs(10)).unwrap();
    /// assert_eq!(up, pyact::json!({"nodeup": b.name()}));
    /// ```
    pub fn monitor_nodes(&self, addr: &Address) {
        lock(&self.remote().subscribers).push(addr.clone());
    }

    /// Register a named factory other nodes can spawn actors from ([`Node::spawn_remote`]).
    /// The factory gets the new actor's mailbox and the spawn's JSON arguments, and may
    /// return whatever an actor given to [`Node::spawn`] may return ([`IntoExit`]).
    ///
    /// ```
    /// use pyact::{Mesh, Node, json};
    /// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// node.register_factory("double", |_, args| args["n"].as_i64().map(|n| n * 2));
    /// let a = node.spawn_remote(node.name(), "double", json!({"n": 21})).unwrap();
    /// assert_eq!(node.wait(&a).unwrap(), 42);
    /// ```
    pub fn register_factory<F, R>(&self, name: &str, f: F)
    where
        F: Fn(Mailbox, Value) -> R + Send + Sync + 'static,
        R: IntoExit,
    {
        let f: Factory = Arc::new(move |mb, args| f(mb, args).into_exit());
        lock(&self.remote().factories).insert(name.to_string(), f);
    }

    /// Spawn an actor on node `peer` (`host:port`) from its factory `factory`, with JSON
    /// `args`; returns the new actor's address. `peer` may be this node.
    ///
    /// ```
    /// use pyact::{Mesh, Node, json};
    /// let mesh = Mesh::new();
    /// let (a, b) = (Node::new(&mesh, "k@127.0.0.1:0").unwrap(), Node::new(&mesh, "k@127.0.0.1:0").unwrap());
    /// b.register_factory("greet", |_, args| format!("hello {}", args["to"].as_str().unwrap_or("?")));
    /// let remote = a.spawn_remote(b.name(), "greet", json!({"to": "a"})).unwrap();
    /// assert_eq!(remote.node_id(), b.name()); // it runs on b
    /// assert_eq!(a.wait(&remote).unwrap(), "hello a");
    /// ```
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

    /// Look up a name on another node (`host:port`), over the network.
    ///
    /// ```
    /// let mesh = pyact::Mesh::new();
    /// let a = pyact::Node::new(&mesh, "c@127.0.0.1:0").unwrap();
    /// let b = pyact::Node::new(&mesh, "c@127.0.0.1:0").unwrap();
    /// let inbox = b.inbox();
    /// b.register("svc", &inbox.addr()).unwrap();
    /// assert_eq!(a.whereis_remote(b.name(), "svc").unwrap(), Some(inbox.addr()));
    /// assert_eq!(a.whereis_remote(b.name(), "none").unwrap(), None);
    /// ```
    pub fn whereis_remote(&self, node: &str, name: &str) -> Result<Option<Address>, SendError> {
        if node == self.name() {
            return Ok(self.whereis(name));
        }
        crate::park::outside(|| requests::whereis(self, node, name))
    }
}

/// The network side of the door ([`crate::distribution`]): what the core asks of other
/// nodes, answered over this module's connections.
impl Distribution for Remote {
    fn creation(&self) -> u32 {
        self.creation
    }

    fn send(&self, from: &Node, to: &Address, env: Envelope) -> Result<(), SendError> {
        send(from, to, env)
    }

    fn link(&self, node: &Node, from: &Address, target: &Address) {
        watch::link(node, from, target)
    }

    fn unlink(&self, node: &Node, target: &Address, from: &Address) {
        watch::unlink(node, target, from)
    }

    fn monitor(&self, node: &Node, watcher: &Address, target: &Address, reference: Ref) {
        watch::monitor(node, watcher, target, reference)
    }

    fn demonitor(&self, node: &Node, target: &Address, reference: Ref) {
        watch::demonitor(node, target, reference)
    }

    fn actor_ended(&self, node: &Node, id: u64) {
        watch::local_ended(node, id)
    }

    fn wait(&self, node: &Node, addr: &Address) -> ExitReason {
        requests::wait(node, addr)
    }

    fn connected_nodes(&self, _: &Node) -> Vec<String> {
        let mut v: Vec<String> = lock(&self.peers)
            .iter()
            .filter(|(_, p)| p.out.as_ref().is_some_and(|c| !c.is_closed()))
            .map(|(k, _)| k.to_string())
            .collect();
        v.sort();
        v
    }

    fn peer_stats(&self, node: &Node) -> Vec<crate::observe::PeerStats> {
        node.peer_stats()
    }

    fn shutdown(&self, node: &Node) {
        let r = self;
        if r.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        // Wake the accept loop so it sees `stopped`.
        if let Some(a) = *lock(&r.listen_addr) {
            let _ = std::net::TcpStream::connect_timeout(&a, Duration::from_secs(1));
        }
        let peers: Vec<Arc<str>> = lock(&r.peers).keys().cloned().collect();
        for p in peers {
            node.disconnect(&p);
        }
    }
}
