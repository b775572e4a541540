//! Remote nodes: listening, connecting, and what a node does with the frames it receives.
//!
//! Each [`Node`] listens on its `host:port`. Sending to an address on another node opens a
//! connection on first use (the sender waits at most the connect + handshake timeout, then
//! gets [`SendError::NoConnection`]); the connection is kept and shared by every actor of
//! the node, and re-opened by the next send after a failure.
//!
//! **Who sends on which connection.** A node sends its traffic only on connections *it*
//! opened (one per peer), and reads on every connection. So between two nodes there may be
//! two TCP connections, one per direction. This keeps Erlang's ordering guarantee simply:
//! messages from one actor to another travel one TCP stream and are delivered in the order
//! sent. Replies to requests (`wait`, `whereis`, remote spawn) go back on the connection the
//! request came in on.
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
//! its frames is delivered. Oversized frames, malformed JSON, unknown frame kinds, a frame
//! cut short, or a handshake that stalls close that one connection with a log line; the
//! node keeps serving everyone else. Before the handshake completes a peer can make the node
//! buffer at most 4 KiB, for at most the handshake timeout.

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};

use crate::actor::ActorCell;
use crate::connection::{self, Beat, Conn};
use crate::frame::{self, Frame};
use crate::handshake;
use crate::mailbox::{Envelope, Mailbox, Signal};
use crate::node::NodeName;
use crate::{Address, ExitReason, Node, NodeError, Ref, SendError, SpawnError};

/// Network settings of a node.
///
/// ```
/// use std::time::Duration;
/// let opts = pyact::NodeOptions::default()
///     .max_frame(1 << 20)
///     .heartbeat(Duration::from_millis(500), Duration::from_secs(2));
/// let node = pyact::Node::with_options(&pyact::Mesh::new(), "c@127.0.0.1:0", opts).unwrap();
/// # drop(node);
/// ```
#[derive(Debug, Clone)]
pub struct NodeOptions {
    pub(crate) max_frame: usize,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) heartbeat_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) handshake_timeout: Duration,
    pub(crate) request_timeout: Duration,
}

impl Default for NodeOptions {
    fn default() -> Self {
        NodeOptions {
            max_frame: 16 << 20,
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: handshake::HANDSHAKE_TIMEOUT,
            request_timeout: Duration::from_secs(10),
        }
    }
}

impl NodeOptions {
    /// Largest frame (encoded message) sent or accepted, in bytes (default 16 MiB).
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes;
        self
    }

    /// Heartbeat interval on idle connections, and the silence after which a peer is down
    /// (defaults 1 s and 5 s).
    pub fn heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        self.heartbeat_interval = interval;
        self.heartbeat_timeout = timeout.max(interval);
        self
    }

    /// Deadline for TCP connect, and for each step of the handshake (defaults 5 s).
    pub fn connect_timeout(mut self, connect: Duration, handshake: Duration) -> Self {
        self.connect_timeout = connect;
        self.handshake_timeout = handshake;
        self
    }

    /// Deadline for remote `whereis` and remote spawn replies (default 10 s).
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.request_timeout = t;
        self
    }
}

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
    watches: Mutex<Vec<Watch>>,
    /// Node-event subscribers.
    subscribers: Mutex<Vec<Address>>,
    factories: Mutex<HashMap<String, Factory>>,
    stopped: AtomicBool,
    listen_addr: Mutex<Option<SocketAddr>>,
}

/// An outstanding request: the peer it went to, and where its reply goes.
type Pending = (Arc<str>, may::sync::mpsc::Sender<Frame>);

#[derive(Default)]
struct Peer {
    /// The connection this node sends on.
    out: Option<Arc<Conn>>,
    /// Connections the peer opened to us.
    inbound: Vec<Arc<Conn>>,
}

/// A link or monitor between a local actor and a remote one, kept so that it can fire with
/// `noconnection` when the remote node is lost.
#[derive(Clone)]
struct Watch {
    local: Address,
    remote: Address,
    monitor: Option<Ref>,
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
            watches: Mutex::default(),
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

/// Bind the node's listening socket with `socket2`: `SO_REUSEADDR` (restart after
/// TIME_WAIT) but not `SO_REUSEPORT`, so a port in use is an error, not a silent share.
pub(crate) fn bind(name: &NodeName) -> Result<std::net::TcpListener, NodeError> {
    let err = |why: String| NodeError::Bind {
        addr: name.id(),
        why,
    };
    let addr = (name.host.as_str(), name.port)
        .to_socket_addrs()
        .map_err(|e| err(e.to_string()))?
        .next()
        .ok_or_else(|| err("host resolves to no address".into()))?;
    let domain = socket2::Domain::for_address(addr);
    let sock = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))
        .map_err(|e| err(e.to_string()))?;
    sock.set_reuse_address(true)
        .map_err(|e| err(e.to_string()))?;
    sock.bind(&addr.into()).map_err(|e| err(e.to_string()))?;
    sock.listen(1024).map_err(|e| err(e.to_string()))?;
    Ok(sock.into())
}

/// Hand a bound std listener to `may` and start accepting.
pub(crate) fn start(node: &Node, listener: std::net::TcpListener) {
    use std::os::unix::io::{FromRawFd, IntoRawFd};
    *lock(&node.remote().listen_addr) = listener.local_addr().ok();
    let fd = listener.into_raw_fd();
    // SAFETY: `fd` was just released by `into_raw_fd` from a listener we own, so this is its
    // only owner; `may` takes it over (sets it non-blocking, registers it with its poller)
    // and closes it on drop. `may` offers no safe conversion from a std listener, and binding
    // through `may::net::TcpListener::bind` would set SO_REUSEPORT.
    let listener = unsafe { may::net::TcpListener::from_raw_fd(fd) };
    let node = node.clone();
    let spawned = crate::actor::go(move || {
        loop {
            let accepted = listener.accept();
            if node.remote().stopped.load(Ordering::Acquire) {
                break;
            }
            match accepted {
                Ok((stream, from)) => {
                    let node2 = node.clone();
                    if let Err(e) = crate::actor::go(move || accept_one(&node2, stream, from)) {
                        log::error!("{}: cannot start a handshake coroutine: {e}", node.name());
                    }
                }
                Err(e) => {
                    log::warn!("{}: accept failed: {e}", node.name());
                    may::coroutine::sleep(Duration::from_millis(50));
                }
            }
        }
        log::debug!("{}: listener stopped", node.name());
    });
    if let Err(e) = spawned {
        log::error!("cannot start the listener coroutine: {e}");
    }
}

fn tune(stream: &may::net::TcpStream) {
    let s = socket2::SockRef::from(stream.inner());
    let _ = s.set_tcp_nodelay(true);
    let _ = s.set_keepalive(true);
}

/// Handshake with a peer that connected to us, then serve it.
fn accept_one(node: &Node, mut stream: may::net::TcpStream, from: SocketAddr) {
    tune(&stream);
    let r = node.remote();
    let _ = stream.set_read_timeout(Some(r.opts.handshake_timeout));
    let _ = stream.set_write_timeout(Some(r.opts.handshake_timeout));
    match handshake::accept(&mut stream, node.name(), node.cookie()) {
        Ok((peer, decoder)) => match serve_conn(node, stream, peer.into(), decoder, false) {
            Ok(conn) => log::debug!("{}: accepted {} from {from}", node.name(), conn.peer),
            Err(e) => log::error!("{}: cannot serve {from}: {e}", node.name()),
        },
        Err(handshake::HandshakeError::BadCookie) => {
            log::warn!("{}: refused {from}: wrong cookie", node.name())
        }
        Err(e) => log::warn!("{}: handshake with {from} failed: {e}", node.name()),
    }
}

/// The connection this node sends to `peer` on, opening it if needed.
pub(crate) fn conn_to(node: &Node, peer: &str) -> Result<Arc<Conn>, SendError> {
    let r = node.remote();
    if let Some(c) = lock(&r.peers).get(peer).and_then(|p| p.out.clone())
        && !c.is_closed()
    {
        return Ok(c);
    }
    if r.stopped.load(Ordering::Acquire) {
        return Err(SendError::NoConnection {
            node: peer.into(),
            why: "this node was shut down".into(),
        });
    }
    let gate = lock(&r.dialing).entry(peer.into()).or_default().clone();
    let _one_at_a_time = gate.lock();
    if let Some(c) = lock(&r.peers).get(peer).and_then(|p| p.out.clone())
        && !c.is_closed()
    {
        return Ok(c);
    }
    // Dial from a coroutine even when called from a thread: all network I/O runs on `may`.
    let (tx, rx) = may::sync::mpsc::channel();
    let (node2, peer2) = (node.clone(), peer.to_string());
    crate::actor::go(move || {
        let _ = tx.send(dial(&node2, &peer2));
    })
    .map_err(|e| SendError::NoConnection {
        node: peer.into(),
        why: e.to_string(),
    })?;
    rx.recv().unwrap_or_else(|_| {
        Err(SendError::NoConnection {
            node: peer.into(),
            why: "dialer ended".into(),
        })
    })
}

fn dial(node: &Node, peer: &str) -> Result<Arc<Conn>, SendError> {
    let r = node.remote();
    let fail = |why: String| {
        log::warn!("{}: cannot connect to {peer}: {why}", node.name());
        SendError::NoConnection {
            node: peer.into(),
            why,
        }
    };
    let addr = peer
        .to_socket_addrs()
        .map_err(|e| fail(e.to_string()))?
        .next()
        .ok_or_else(|| fail("no address".into()))?;
    let mut stream = may::net::TcpStream::connect_timeout(&addr, r.opts.connect_timeout)
        .map_err(|e| fail(e.to_string()))?;
    tune(&stream);
    let _ = stream.set_read_timeout(Some(r.opts.handshake_timeout));
    let _ = stream.set_write_timeout(Some(r.opts.handshake_timeout));
    let cookie = lock(&r.cookies)
        .get(peer)
        .cloned()
        .unwrap_or_else(|| node.cookie().to_string());
    let (declared, decoder) =
        handshake::connect(&mut stream, node.name(), &cookie).map_err(|e| fail(e.to_string()))?;
    if declared != peer {
        log::debug!("{}: {peer} calls itself {declared}", node.name());
    }
    let conn =
        serve_conn(node, stream, peer.into(), decoder, true).map_err(|e| fail(e.to_string()))?;
    log::debug!("{}: connected to {peer}", node.name());
    Ok(conn)
}

/// Start the loops of an authenticated stream, record it as the connection this node sends
/// on (`outgoing`) or as one the peer opened, and announce the peer if it is new.
fn serve_conn(
    node: &Node,
    stream: may::net::TcpStream,
    peer: Arc<str>,
    decoder: frame::Decoder,
    outgoing: bool,
) -> std::io::Result<Arc<Conn>> {
    let r = node.remote();
    stream.set_write_timeout(None)?;
    let conn = connection::start(
        node,
        stream,
        peer.clone(),
        decoder,
        r.opts.max_frame,
        r.beat(),
    )?;
    let fresh = {
        let mut peers = lock(&r.peers);
        let p = peers.entry(peer.clone()).or_default();
        let fresh = p.out.is_none() && p.inbound.is_empty();
        if outgoing {
            p.out = Some(conn.clone());
        } else {
            p.inbound.push(conn.clone());
        }
        fresh
    };
    if fresh {
        node_event(node, json!({"nodeup": &*peer}));
    }
    Ok(conn)
}

/// A connection failed: the peer is down. Idempotent per failure.
pub(crate) fn conn_failed(node: &Node, conn: &Arc<Conn>, why: &str) {
    conn.close();
    let r = node.remote();
    let removed = {
        let mut peers = lock(&r.peers);
        let known = peers.get(&conn.peer).is_some_and(|p| {
            p.out.as_ref().is_some_and(|c| Arc::ptr_eq(c, conn))
                || p.inbound.iter().any(|c| Arc::ptr_eq(c, conn))
        });
        if known {
            peers.remove(&conn.peer)
        } else {
            None
        }
    };
    let Some(peer_conns) = removed else {
        return;
    };
    for c in peer_conns.out.iter().chain(peer_conns.inbound.iter()) {
        c.close();
    }
    if !r.stopped.load(Ordering::Acquire) {
        log::warn!("{}: node {} down: {why}", node.name(), conn.peer);
    }
    peer_down(node, &conn.peer, why);
}

/// Fire everything that depended on `peer`.
fn peer_down(node: &Node, peer: &str, why: &str) {
    let r = node.remote();
    // Pending requests: dropping the reply senders wakes their waiters with an error.
    lock(&r.pending).retain(|_, (p, _)| &**p != peer);
    let fired: Vec<Watch> = {
        let mut w = lock(&r.watches);
        let (gone, keep): (Vec<Watch>, Vec<Watch>) =
            w.drain(..).partition(|w| w.remote.node_id() == peer);
        *w = keep;
        gone
    };
    for w in fired {
        if let Some(cell) = node.cell(w.local.id()) {
            let sig = match w.monitor {
                Some(reference) => Signal::Down {
                    reference,
                    from: w.remote.clone(),
                    reason: ExitReason::NoConnection,
                },
                None => {
                    cell.forget_link(&w.remote);
                    Signal::Exit {
                        from: w.remote.clone(),
                        reason: ExitReason::NoConnection,
                        linked: true,
                    }
                }
            };
            let _ = cell.queue.push(Envelope::Signal(Box::new(sig)));
        }
    }
    node_event(node, json!({"nodedown": peer, "reason": why}));
}

fn node_event(node: &Node, msg: Value) {
    let subs = lock(&node.remote().subscribers).clone();
    let mut dead = Vec::new();
    for s in subs {
        if s.deliver(Envelope::Msg(msg.clone())).is_err() {
            dead.push(s);
        }
    }
    if !dead.is_empty() {
        lock(&node.remote().subscribers).retain(|s| !dead.contains(s));
    }
}

/// The local address of actor `id` of `node`.
fn local_addr(node: &Node, id: u64) -> Address {
    match node.cell(id) {
        Some(c) => c.address(),
        None => Address::new(node.0.id.clone(), id, std::sync::Weak::new()),
    }
}

fn deliver_here(node: &Node, id: u64, env: Envelope) {
    match node.cell(id) {
        Some(cell) => {
            if cell.queue.push(env).is_err() {
                log::debug!("{}: message for ended actor {id} dropped", node.name());
            }
        }
        None => log::debug!("{}: message for unknown actor {id} dropped", node.name()),
    }
}

/// Handle one frame that arrived from `conn.peer`.
pub(crate) fn on_frame(node: &Node, conn: &Arc<Conn>, frame: Frame) {
    let r = node.remote();
    match frame {
        Frame::Msg { to, msg } => deliver_here(node, to, Envelope::Msg(msg)),
        Frame::Kill { to } => deliver_here(node, to, Envelope::Signal(Box::new(Signal::Kill))),
        Frame::Exit {
            to,
            from,
            reason,
            linked,
        } => {
            if linked {
                lock(&r.watches)
                    .retain(|w| !(w.monitor.is_none() && w.local.id() == to && w.remote == from));
            }
            let sig = Signal::Exit {
                from,
                reason,
                linked,
            };
            deliver_here(node, to, Envelope::Signal(Box::new(sig)));
        }
        Frame::Down {
            to,
            reference,
            from,
            reason,
        } => {
            lock(&r.watches).retain(|w| w.monitor != Some(reference));
            let sig = Signal::Down {
                reference,
                from,
                reason,
            };
            deliver_here(node, to, Envelope::Signal(Box::new(sig)));
        }
        Frame::Link { from, to } => {
            let linked = node.cell(to).is_some_and(|cell| {
                let mut st = cell.lock();
                st.exit.is_none() && st.links.insert(from.clone()) | true
            });
            if linked {
                lock(&r.watches).push(Watch {
                    local: local_addr(node, to),
                    remote: from,
                    monitor: None,
                });
            } else {
                let _ = from.deliver(Envelope::Signal(Box::new(Signal::Exit {
                    from: local_addr(node, to),
                    reason: ExitReason::NoSuchActor,
                    linked: true,
                })));
            }
        }
        Frame::Unlink { from, to } => {
            if let Some(cell) = node.cell(to) {
                cell.forget_link(&from);
            }
            lock(&r.watches)
                .retain(|w| !(w.monitor.is_none() && w.local.id() == to && w.remote == from));
        }
        Frame::Monitor {
            watcher,
            to,
            reference,
        } => {
            let placed = node.cell(to).is_some_and(|cell| {
                let mut st = cell.lock();
                if st.exit.is_none() {
                    st.monitors.push((reference, watcher.clone()));
                    true
                } else {
                    false
                }
            });
            if !placed {
                let _ = watcher.deliver(Envelope::Signal(Box::new(Signal::Down {
                    reference,
                    from: local_addr(node, to),
                    reason: ExitReason::NoSuchActor,
                })));
            }
        }
        Frame::Demonitor { to, reference } => {
            if let Some(cell) = node.cell(to) {
                cell.lock().monitors.retain(|(r, _)| *r != reference);
            }
        }
        Frame::Wait { req, to } => {
            let (tx, rx) = may::sync::mpsc::channel();
            match node.on_exit(to, tx) {
                Some(reason) => {
                    let _ = conn.push_frame(&Frame::WaitReply { req, reason });
                }
                None => {
                    let conn = conn.clone();
                    let _ = crate::actor::go(move || {
                        let reason = rx.recv().unwrap_or(ExitReason::NoSuchActor);
                        let _ = conn.push_frame(&Frame::WaitReply { req, reason });
                    });
                }
            }
        }
        Frame::Whereis { req, name } => {
            let addr = node.whereis(&name);
            let _ = conn.push_frame(&Frame::WhereisReply { req, addr });
        }
        Frame::Spawn { req, factory, args } => {
            let f = lock(&r.factories).get(&factory).cloned();
            let reply = match f {
                None => Frame::SpawnReply {
                    req,
                    addr: None,
                    error: Some(SpawnError::UnknownFactory(factory).to_string()),
                },
                Some(f) => match node.try_spawn(move |mb| f(mb, args)) {
                    Ok(a) => Frame::SpawnReply {
                        req,
                        addr: Some(a),
                        error: None,
                    },
                    Err(e) => Frame::SpawnReply {
                        req,
                        addr: None,
                        error: Some(e.to_string()),
                    },
                },
            };
            let _ = conn.push_frame(&reply);
        }
        Frame::WaitReply { req, .. }
        | Frame::WhereisReply { req, .. }
        | Frame::SpawnReply { req, .. } => {
            if let Some((_, tx)) = lock(&r.pending).remove(&req) {
                let _ = tx.send(frame);
            }
        }
        Frame::Heartbeat => {}
        Frame::Hello { .. }
        | Frame::Challenge { .. }
        | Frame::Response { .. }
        | Frame::Ack { .. }
        | Frame::Refused { .. } => {
            log::warn!(
                "{}: handshake frame from {} after the handshake; closing",
                node.name(),
                conn.peer
            );
            conn_failed(node, conn, "protocol violation");
        }
    }
}

/// Send an envelope to an actor on another node.
pub(crate) fn send(from: &Node, addr: &Address, env: Envelope) -> Result<(), SendError> {
    let conn = conn_to(from, addr.node_id())?;
    let to = addr.id();
    let bytes = match env {
        Envelope::Msg(v) => {
            frame::encode_msg(to, &v, from.remote().opts.max_frame).map_err(|size| {
                SendError::TooLarge {
                    size,
                    limit: from.remote().opts.max_frame,
                }
            })?
        }
        Envelope::Signal(sig) => {
            let f = match *sig {
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
            };
            let mut out = Vec::new();
            frame::encode_into(&f, &mut out);
            out
        }
    };
    conn.push(bytes).map_err(|_| SendError::NoConnection {
        node: addr.node_id().into(),
        why: "connection closed".into(),
    })
}

/// Send a request to `peer` and wait for its reply frame.
fn request(
    node: &Node,
    peer: &str,
    make: impl FnOnce(u64) -> Frame,
    timeout: Option<Duration>,
) -> Result<Frame, SendError> {
    let r = node.remote();
    let conn = conn_to(node, peer)?;
    let req = Ref::new().id();
    let (tx, rx) = may::sync::mpsc::channel();
    lock(&r.pending).insert(req, (conn.peer.clone(), tx));
    let lost = |why: &str| SendError::NoConnection {
        node: peer.into(),
        why: why.into(),
    };
    if conn.push_frame(&make(req)).is_err() {
        lock(&r.pending).remove(&req);
        return Err(lost("connection closed"));
    }
    let got = match timeout {
        Some(t) => rx.recv_timeout(t).map_err(|e| match e {
            std::sync::mpsc::RecvTimeoutError::Timeout => lost("no reply in time"),
            std::sync::mpsc::RecvTimeoutError::Disconnected => lost("connection lost"),
        }),
        None => rx.recv().map_err(|_| lost("connection lost")),
    };
    lock(&r.pending).remove(&req);
    got
}

/// Remote `wait`.
pub(crate) fn wait(node: &Node, addr: &Address) -> ExitReason {
    let to = addr.id();
    match request(node, addr.node_id(), |req| Frame::Wait { req, to }, None) {
        Ok(Frame::WaitReply { reason, .. }) => reason,
        Ok(_) | Err(_) => ExitReason::NoConnection,
    }
}

/// Remote `whereis`.
pub(crate) fn whereis(node: &Node, peer: &str, name: &str) -> Result<Option<Address>, SendError> {
    let name = name.to_string();
    let t = node.remote().opts.request_timeout;
    match request(node, peer, |req| Frame::Whereis { req, name }, Some(t))? {
        Frame::WhereisReply { addr, .. } => Ok(addr),
        _ => Ok(None),
    }
}

/// Remote spawn.
pub(crate) fn spawn(
    node: &Node,
    peer: &str,
    factory: &str,
    args: Value,
) -> Result<Address, SpawnError> {
    let factory = factory.to_string();
    let t = node.remote().opts.request_timeout;
    match request(
        node,
        peer,
        |req| Frame::Spawn { req, factory, args },
        Some(t),
    ) {
        Ok(Frame::SpawnReply { addr: Some(a), .. }) => Ok(a),
        Ok(Frame::SpawnReply { error: Some(e), .. }) => Err(SpawnError::Remote(e)),
        Ok(_) => Err(SpawnError::Remote("malformed reply".into())),
        Err(e) => Err(SpawnError::Remote(e.to_string())),
    }
}

/// The live cell behind `addr` if it is an actor of the node that is "here".
pub(crate) fn local_cell_of(addr: &Address) -> Option<Arc<ActorCell>> {
    crate::node::home_node(addr).and_then(|n| n.cell(addr.id()))
}

/// Does `addr` name an actor of the node that is "here"?
pub(crate) fn is_local_node(addr: &Address) -> bool {
    crate::node::home_node(addr).is_some()
}

/// The node a local actor `a` lives on.
fn node_of(a: &Address) -> Option<Node> {
    crate::node::home_node(a)
}

/// Local actor `from` links to remote actor `target`.
pub(crate) fn link(from: &Address, target: &Address) {
    remote_watch(from, target, None, || Frame::Link {
        from: from.clone(),
        to: target.id(),
    });
}

/// Local watcher `watcher` monitors remote actor `target`.
pub(crate) fn monitor(watcher: &Address, target: &Address, reference: Ref) {
    remote_watch(watcher, target, Some(reference), || Frame::Monitor {
        watcher: watcher.clone(),
        to: target.id(),
        reference,
    });
}

fn remote_watch(
    local: &Address,
    target: &Address,
    monitor: Option<Ref>,
    f: impl FnOnce() -> Frame,
) {
    let Some(node) = node_of(local) else {
        return;
    };
    lock(&node.remote().watches).push(Watch {
        local: local.clone(),
        remote: target.clone(),
        monitor,
    });
    let sent = conn_to(&node, target.node_id()).and_then(|c| {
        c.push_frame(&f()).map_err(|_| SendError::NoConnection {
            node: target.node_id().into(),
            why: "closed".into(),
        })
    });
    if sent.is_err() {
        lock(&node.remote().watches)
            .retain(|w| !(w.local == *local && w.remote == *target && w.monitor == monitor));
        let sig = match monitor {
            Some(reference) => Signal::Down {
                reference,
                from: target.clone(),
                reason: ExitReason::NoConnection,
            },
            None => Signal::Exit {
                from: target.clone(),
                reason: ExitReason::NoConnection,
                linked: true,
            },
        };
        let _ = local.deliver(Envelope::Signal(Box::new(sig)));
    }
}

/// Local actor `from` unlinks from remote `target`.
pub(crate) fn unlink(node: &Node, target: &Address, from: &Address) {
    lock(&node.remote().watches)
        .retain(|w| !(w.monitor.is_none() && w.local == *from && w.remote == *target));
    if let Ok(c) = conn_to(node, target.node_id()) {
        let _ = c.push_frame(&Frame::Unlink {
            from: from.clone(),
            to: target.id(),
        });
    }
}

/// Remove a monitor on remote `target`.
pub(crate) fn demonitor(node: &Node, target: &Address, reference: Ref) {
    lock(&node.remote().watches).retain(|w| w.monitor != Some(reference));
    if let Ok(c) = conn_to(node, target.node_id()) {
        let _ = c.push_frame(&Frame::Demonitor {
            to: target.id(),
            reference,
        });
    }
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
        let conns = lock(&self.remote().peers).get(peer).map(|p| {
            p.out
                .iter()
                .chain(p.inbound.iter())
                .cloned()
                .collect::<Vec<_>>()
        });
        if let Some(c) = conns.and_then(|c| c.into_iter().next()) {
            conn_failed(self, &c, "disconnected locally");
        }
    }

    /// Nodes this node has a live connection with (`host:port`).
    pub fn connected_nodes(&self) -> Vec<String> {
        let mut v: Vec<String> = lock(&self.remote().peers)
            .iter()
            .filter(|(_, p)| {
                p.out.as_ref().is_some_and(|c| !c.is_closed())
                    || p.inbound.iter().any(|c| !c.is_closed())
            })
            .map(|(k, _)| k.to_string())
            .collect();
        v.sort();
        v
    }

    /// Subscribe `addr` to node events: it receives `{"nodeup": "host:port"}` and
    /// `{"nodedown": "host:port", "reason": "..."}` (Erlang's `monitor_nodes`).
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
        spawn(self, peer, factory, args)
    }

    /// Stop listening, close every connection, and kill every actor of this node.
    pub fn shutdown(&self) {
        self.mark_shut_down(); // issue 8: never picked, never spawns again (see node.rs)
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
