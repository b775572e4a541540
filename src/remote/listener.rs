//! The listening socket: bind it, accept connections, run the acceptor's handshake.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::peers::serve_conn;
use super::*;

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
///
/// The accept loop never blocks on a peer and never panics: each accepted connection is
/// either closed at once (its source is rate-limited, no handshake may be evicted for it
/// (`door.rs`), or the process is at its live-actor budget) or handed to a handshake
/// coroutine of its own.
/// The listener itself is not counted against the live-actor budget (one per node, for the
/// node's life).
pub(crate) fn start(node: &Node, listener: std::net::TcpListener) {
    use std::os::unix::io::{FromRawFd, IntoRawFd};
    warn_weak_cookie(node.name(), node.cookie());
    *lock(&node.remote().listen_addr) = listener.local_addr().ok();
    let fd = listener.into_raw_fd();
    // SAFETY: `fd` was just released by `into_raw_fd` from a listener we own, so this is its
    // only owner; `may` takes it over (sets it non-blocking, registers it with its poller)
    // and closes it on drop. `may` offers no safe conversion from a std listener, and binding
    // through `may::net::TcpListener::bind` would set SO_REUSEPORT.
    let listener = unsafe { may::net::TcpListener::from_raw_fd(fd) };
    let node = node.clone();
    let spawned = crate::actor::go(move || {
        // A connection that is refused or evicted is often re-opened at once: yield now and
        // then so that a flood of them leaves the worker to everything else.
        for accepted_so_far in 1u64.. {
            if accepted_so_far % 16 == 0 {
                may::coroutine::yield_now();
            }
            let accepted = listener.accept();
            if node.remote().stopped.load(Ordering::Acquire) {
                break;
            }
            match accepted {
                Ok((stream, from)) => admit(&node, stream, from),
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

/// Cookies shorter than this many characters are warned about at node start.
///
/// Why 16: a cookie is a password that an attacker without it can only guess online, at
/// most [`NodeOptions::cookie_guesses`] a second; 16 random characters from any ordinary
/// alphabet (hex gives 64 bits) take that rate longer than the age of the universe, while
/// a short or dictionary word falls in hours. [`random_cookie`] makes
/// a 32-character one.
pub const WEAK_COOKIE_BELOW: usize = 16;

fn warn_weak_cookie(node: &str, cookie: &str) {
    if cookie.chars().count() < WEAK_COOKIE_BELOW {
        log::warn!(
            "{node}: the cookie is only {} characters long; anyone who can reach this port can \
             guess a short cookie (use at least {WEAK_COOKIE_BELOW} random characters, e.g. \
             pyact::remote::random_cookie())",
            cookie.chars().count()
        );
    }
}

/// Decide what becomes of an accepted connection; dropping `stream` closes it.
fn admit(node: &Node, stream: may::net::TcpStream, from: SocketAddr) {
    let r = node.remote();
    let known = r.door.is_known(from.ip());
    if !known && let Err(report) = r.sources.admit(from.ip(), &r.opts) {
        refuse_unheard(
            node,
            stream,
            "rate-limited: too many failed handshakes from this address",
        );
        if let Some(rep) = report {
            log::warn!(
                "{}: {} is rate-limited after failed handshakes: {} failed and {} connection(s) \
                 closed unheard in the last second(s)",
                node.name(),
                from.ip(),
                rep.failed,
                rep.unheard
            );
        }
        return;
    }
    // A duplicate of the descriptor lets the door shut this connection down if it evicts it.
    // (Non-blocking like the original, which `may` made so: the door only ever peeks.)
    let dup = stream
        .inner()
        .try_clone()
        .ok()
        .filter(|d| d.set_nonblocking(true).is_ok());
    let ticket = match r.door.enter(from.ip(), dup, r.opts.max_handshakes) {
        Ok(t) => t,
        Err(door::Full) => {
            refuse_unheard(node, stream, "busy: too many handshakes in progress");
            if r.sources.busy_log_due() {
                log::warn!(
                    "{}: {} handshakes in progress (the limit), none of which may make room: \
                     closing new connections, e.g. from {from}",
                    node.name(),
                    r.opts.max_handshakes
                );
            }
            return;
        }
    };
    let node2 = node.clone();
    if let Err(e) = super::go(move || accept_one(&node2, stream, from, ticket, known)) {
        // The closure, with the stream and the handshake slot, was dropped: closed.
        if r.sources.busy_log_due() {
            log::error!(
                "{}: cannot start a handshake coroutine ({e}): closing connections from {from} and others",
                node.name()
            );
        }
    }
}

/// The listener's side of the acceptor's handshake: progress for eviction, the guess
/// budget before a proof is checked, known sources after.
struct Gate<'a> {
    node: &'a Node,
    ticket: &'a door::Ticket,
    from: SocketAddr,
    known: bool,
    deadline: std::time::Instant,
    /// A wrong proof, counted for its source before the refusal went out (`wrong_proof`),
    /// with the report to log if one is due.
    counted: Option<Option<sources::Report>>,
}

impl handshake::Gate for Gate<'_> {
    fn hello(&mut self) {
        self.ticket.stage(door::Stage::Challenged);
    }

    fn before_check(&mut self) -> Result<(), handshake::HandshakeError> {
        let r = self.node.remote();
        let class = if self.known {
            door::Class::Known
        } else if r.sources.penalised(self.from.ip(), &r.opts) {
            door::Class::Penalised
        } else {
            door::Class::Stranger
        };
        self.ticket
            .take_guess(class, r.opts.cookie_guesses, self.deadline)
            .map_err(|e| {
                handshake::HandshakeError::NotHeard(match e {
                    door::NotHeard::Evicted => "busy: evicted to make room".into(),
                    door::NotHeard::Deadline => {
                        "busy: too many cookie guesses node-wide, proof not checked".into()
                    }
                })
            })
    }

    fn proved(&mut self) {
        let r = self.node.remote();
        self.ticket.refund(r.opts.cookie_guesses);
        r.door.proved(self.from.ip());
    }

    fn wrong_proof(&mut self) {
        let r = self.node.remote();
        self.counted = Some(r.sources.failed(self.from.ip(), &r.opts, true));
    }
}

/// How long a connection refused unheard is kept open (unread) before it is closed.
const TARPIT_FOR: Duration = Duration::from_secs(1);

/// Most connections kept so at once (file descriptors: well under the usual limit of 1,024).
const TARPIT_MAX: usize = 256;

/// Connections refused before their handshake or evicted from it, kept open a while
/// (unread, no coroutine) before they are closed: a client that re-opens a refused
/// connection as soon as it is closed (and an attacker holding slots does just that) would
/// otherwise make the listener accept and close in a loop as fast as the two can, taking the
/// node's CPU, and an evicted handshake re-opened at once would evict the next one, and so
/// on through the whole table. Kept open, a refusal or an eviction costs the client a
/// second, up to [`TARPIT_MAX`] connections at once (past it the oldest goes). A
/// well-behaved connector reads the `Refused` frame and closes at once. Closing after the
/// peer's own close also avoids a reset that would throw the `Refused` frame away.
#[derive(Default)]
pub(crate) struct Tarpit {
    kept: std::collections::VecDeque<(std::time::Instant, may::net::TcpStream)>,
    /// A coroutine is closing the kept connections as their time comes.
    sweeping: bool,
}

impl Tarpit {
    /// Close what has been kept long enough (and the oldest while there are too many).
    fn expire(&mut self, now: std::time::Instant) {
        while self
            .kept
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= TARPIT_FOR)
            || self.kept.len() > TARPIT_MAX
        {
            self.kept.pop_front();
        }
    }
}

/// Tell `stream` why it is refused, without ever waiting (one non-blocking write of a small
/// `Refused` frame into a fresh socket's empty send buffer; if it does not fit, the
/// connector just sees the close), then keep it in the tarpit.
fn refuse_unheard(node: &Node, stream: may::net::TcpStream, why: &str) {
    use std::io::Write;
    // A TLS connector expects a TLS record, not a frame: it just sees the close.
    if !transport::is_tls(&node.remote().opts) {
        let mut out = Vec::new();
        frame::encode_into(&Frame::Refused { why: why.into() }, &mut out);
        let _ = stream.inner().write(&out);
    }
    keep(node, stream);
}

/// Keep `stream` open in the tarpit until its time is up; start the coroutine that closes
/// kept connections if none runs (it ends when the tarpit is empty).
fn keep(node: &Node, stream: may::net::TcpStream) {
    let r = node.remote();
    let start = {
        let mut t = lock(&r.tarpit);
        let now = std::time::Instant::now();
        t.kept.push_back((now, stream));
        t.expire(now);
        !std::mem::replace(&mut t.sweeping, true)
    };
    if !start {
        return;
    }
    let node2 = node.clone();
    let spawned = crate::actor::go(move || {
        loop {
            may::coroutine::sleep(TARPIT_FOR / 4);
            let mut t = lock(&node2.remote().tarpit);
            t.expire(std::time::Instant::now());
            if t.kept.is_empty() {
                t.sweeping = false;
                break;
            }
        }
    });
    if spawned.is_err() {
        // No coroutine: close everything kept now rather than never.
        let mut t = lock(&r.tarpit);
        t.kept.clear();
        t.sweeping = false;
    }
}

pub(super) fn tune(stream: &may::net::TcpStream) {
    let s = socket2::SockRef::from(stream.inner());
    let _ = s.set_tcp_nodelay(true);
    let _ = s.set_keepalive(true);
}

/// Handshake with a peer that connected to us, then serve it.
fn accept_one(
    node: &Node,
    stream: may::net::TcpStream,
    from: SocketAddr,
    ticket: door::Ticket,
    known: bool,
) {
    tune(&stream);
    let r = node.remote();
    let me = handshake::Me {
        name: node.name(),
        creation: r.creation,
        cookie: node.cookie(),
        issued: &r.issued,
        deadline: std::time::Instant::now() + r.opts.handshake_timeout,
    };
    let mut gate = Gate {
        node,
        ticket: &ticket,
        from,
        known,
        deadline: me.deadline,
        counted: None,
    };
    // TLS (if set) first, by the same deadline: the cookie handshake runs inside it.
    let (outcome, stream) = match transport::Stream::accept(stream, &r.opts, me.deadline) {
        Ok(mut stream) => (handshake::accept(&mut stream, &me, &mut gate), stream),
        Err((tcp, e)) => (Err(e), transport::Stream::Plain(tcp)),
    };
    let counted = gate.counted.take();
    let evicted = ticket.evicted();
    // The slot goes back before the connection is served (or closed).
    drop(ticket);
    if evicted {
        // Not closed yet: the peer learns of its eviction only from the tarpit's close.
        keep(node, stream.into_tcp());
        return;
    }
    match outcome {
        Ok((peer, decoder)) => {
            let name: Arc<str> = peer.name.into();
            match serve_conn(
                node,
                stream,
                name,
                peer.creation,
                decoder,
                false,
                me.deadline,
            ) {
                Ok(conn) => log::debug!("{}: accepted {} from {from}", node.name(), conn.peer),
                // A refused admission (a simultaneous-dial tie, a second connection
                // claiming a connected name) was logged by `peers` at its own level.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    log::debug!("{}: not serving {from}: {e}", node.name())
                }
                Err(e) => log::error!("{}: cannot serve {from}: {e}", node.name()),
            }
        }
        Err(e) => {
            let wrong_proof = matches!(
                e,
                handshake::HandshakeError::BadCookie | handshake::HandshakeError::Certificate(_)
            );
            // A wrong cookie proof was counted as it was refused (`Gate::wrong_proof`).
            let report = match counted {
                Some(report) => report,
                None => r.sources.failed(from.ip(), &r.opts, wrong_proof),
            };
            if let Some(rep) = report {
                log::warn!(
                    "{}: refused {from}: {e} ({} failed handshake(s) from {} since the last \
                     report{})",
                    node.name(),
                    rep.failed,
                    from.ip(),
                    if rep.skipped > 0 {
                        format!("; {} report(s) of other sources not logged", rep.skipped)
                    } else {
                        String::new()
                    }
                );
            }
        }
    }
}
