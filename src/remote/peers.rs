//! The peer table: the one authenticated connection this node has with each node, who may
//! take that place, and what happens when it fails (the peer is down: links, monitors,
//! waits and node monitors fire).
//!
//! **One connection per pair of nodes, used in both directions.** Whoever dialled it, the
//! connection in the table carries every frame between the two nodes, so messages from one
//! actor to another travel one TCP stream and arrive in the order sent.
//!
//! **Admission (Erlang's rule).** Right after the handshake the acceptor decides, under the
//! table's lock, and tells the connector with one frame (`Admitted` or `Refused`) before
//! either side sends traffic:
//! - a connection claiming the name of a node that already has one is refused ("already
//!   connected"): a peer that declares another node's name cannot displace, nor take down
//!   by hanging up, the real node's connection, links and monitors;
//! - when the two nodes dial each other at once (the acceptor is itself dialing the
//!   claimed node), the connection dialled by the node with the smaller `host:port` (byte
//!   order) wins: the acceptor with the smaller name refuses ("tie") and keeps its own dial;
//!   the one with the larger name admits it, and its own dial is refused by the other side.
//!   A connector refused for a tie waits (at most the handshake timeout) for the winning
//!   connection to land in its table and uses it.
//!
//!   Why both sides agree: the acceptor checks "already connected" and "dialing" and
//!   registers, all under the table's lock; the dialer holds the peer's gate while it dials
//!   and looks at the table again after taking the gate. So a node that admits a connection
//!   never dials that peer afterwards, and a node that is dialing refuses (smaller name) or
//!   admits (larger name) the other side's connection, and the other side does the mirror
//!   image.
//!
//! **A connection's failure removes that connection only**: the table entry is removed, and
//! the peer declared down, only if it still holds the very connection that failed; a stale
//! failure never touches a newer connection.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::connection::PushError;
use super::quiet::{Quiet, warn_quietly};
use super::*;

/// What the table knows about one peer.
#[derive(Default)]
pub(crate) struct Peer {
    /// The connection with this peer: whoever dialled it, every frame to the peer goes on
    /// it (hence the name).
    pub(crate) out: Option<Arc<Conn>>,
    /// The creation number the peer declared in the handshake of `out` (0: none yet). Kept
    /// beside `out` so a send reads both under one lock (see `dialer::conn_and_creation`),
    /// and written only when a connection is admitted: a refused second connection cannot
    /// change what the admitted one's peer is.
    pub(crate) creation: u32,
}

/// Why an admission was refused, as told to the connector.
const TIE: &str = "tie: both nodes dialled, the smaller name's connection wins";

/// The live connection with `peer`, if any. Never dials.
pub(crate) fn established(node: &Node, peer: &str) -> Option<Arc<Conn>> {
    lock(&node.remote().peers)
        .get(peer)
        .and_then(|p| p.out.clone())
        .filter(|c| !c.is_closed())
}

/// Is this node dialing `peer` right now? (The dialer holds the peer's gate while it dials.)
fn dialing(r: &Remote, peer: &str) -> bool {
    lock(&r.dialing)
        .get(peer)
        .is_some_and(|g| g.try_lock().is_err())
}

/// Put `conn` (whose peer declared `creation`) in the table if admission allows it.
fn admit(
    node: &Node,
    peer: &Arc<str>,
    creation: u32,
    conn: &Arc<Conn>,
    outgoing: bool,
) -> Result<(), String> {
    let r = node.remote();
    let mut peers = lock(&r.peers);
    if let Some(c) = peers.get(peer).and_then(|p| p.out.as_ref()) {
        return Err(if c.is_closed() {
            "the previous connection is still closing".into()
        } else {
            "already connected".into()
        });
    }
    if !outgoing && node.name() < &**peer && dialing(r, peer) {
        return Err(TIE.into());
    }
    peers.insert(
        peer.clone(),
        Peer {
            out: Some(conn.clone()),
            creation,
        },
    );
    Ok(())
}

/// Read the acceptor's verdict (the first frame after the handshake).
fn read_verdict(
    stream: &mut super::transport::Stream,
    decoder: &mut frame::Decoder,
) -> Result<Frame, String> {
    use std::io::Read;
    loop {
        match decoder.next_frame() {
            Ok(Some(f)) => return Ok(f),
            Ok(None) => {}
            Err(e) => return Err(e.to_string()),
        }
        let buf = decoder.spare(4096);
        match stream.read(buf) {
            Ok(0) => {
                decoder.filled(4096, 0);
                return Err("closed before admission".into());
            }
            Ok(n) => decoder.filled(4096, n),
            Err(e) => {
                decoder.filled(4096, 0);
                return Err(format!("no admission: {e}"));
            }
        }
    }
}

/// After an authenticated handshake with `peer` (which declared `creation`): admit the
/// stream (acceptor) or learn whether it was admitted (connector), then start its loops and
/// announce the peer. The connector may get back the peer's other, winning connection
/// instead of its own. The admission exchange belongs to the handshake: it must end by the
/// handshake's one `deadline`.
pub(super) fn serve_conn(
    node: &Node,
    mut stream: super::transport::Stream,
    peer: Arc<str>,
    creation: u32,
    mut decoder: frame::Decoder,
    outgoing: bool,
    deadline: Instant,
) -> std::io::Result<Arc<Conn>> {
    use std::io::Write;
    let r = node.remote();
    // The handshake left its last per-read timeouts on the stream; the verdict gets what
    // remains of the same deadline (at least 1 ms: a zero timeout would mean "none").
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    stream.set_read_timeout(Some(left))?;
    stream.set_write_timeout(Some(left))?;
    let conn = Conn::new(
        stream.tcp(),
        peer.clone(),
        r.opts.outbound_limit,
        r.opts.write_timeout,
        r.opts.sender_wait(),
    )?;
    if outgoing {
        let verdict = read_verdict(&mut stream, &mut decoder);
        match verdict {
            Ok(Frame::Admitted) => {}
            Ok(Frame::Refused { why }) => {
                let deadline = Instant::now()
                    + if why == TIE {
                        r.opts.handshake_timeout
                    } else {
                        Duration::ZERO
                    };
                loop {
                    if let Some(c) = established(node, &peer) {
                        return Ok(c);
                    }
                    if Instant::now() >= deadline {
                        let cause = handshake::likely_cause(&why);
                        return Err(std::io::Error::other(format!(
                            "refused by {peer}: {why}{cause}"
                        )));
                    }
                    may::coroutine::sleep(Duration::from_millis(2));
                }
            }
            Ok(other) => {
                return Err(std::io::Error::other(format!(
                    "expected admission from {peer}, got {other:?}"
                )));
            }
            Err(why) => return Err(std::io::Error::other(why)),
        }
        if let Err(why) = admit(node, &peer, creation, &conn, true) {
            // Our table got a connection with this peer meanwhile: that one serves.
            return established(node, &peer).ok_or_else(|| std::io::Error::other(why));
        }
    } else {
        let verdict = admit(node, &peer, creation, &conn, false);
        let mut out = Vec::new();
        let f = match &verdict {
            Ok(()) => Frame::Admitted,
            Err(why) => Frame::Refused { why: why.clone() },
        };
        frame::encode_into(&f, &mut out);
        let written = stream.write_all(&out);
        if let Err(why) = verdict {
            if why == TIE {
                // Both nodes dialled at once: a normal race, settled by the rule above
                // (issue 16 row 11: it logged an ERROR each time).
                log::debug!(
                    "{}: {peer} dialled us while we dialled it: {why}",
                    node.name()
                );
            } else {
                // A peer can make these as fast as it connects: one line a second.
                static SECOND: Quiet = Quiet::new();
                warn_quietly!(
                    SECOND,
                    "{}: refused a second connection claiming {peer}: {why}",
                    node.name()
                );
            }
            let _ = stream.shutdown(std::net::Shutdown::Both);
            // Logged here; the listener logs a refused admission at debug only.
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                why,
            ));
        }
        if let Err(e) = written {
            conn_failed(node, &conn, &format!("cannot send admission: {e}"));
            return Err(e);
        }
    }
    conn.run(node, stream, decoder, r.opts.max_frame, r.beat())?;
    log::info!(
        "{}: node {peer} up (creation {creation}, {})",
        node.name(),
        if outgoing {
            "we dialled it"
        } else {
            "it dialled us"
        }
    );
    super::cluster::on_nodeup(node, &conn);
    node_event(node, json!({"nodeup": &*peer}));
    Ok(conn)
}

/// A connection failed. If it is the peer's connection in the table, the peer is down;
/// a connection that is not (refused, or already replaced) takes nothing else with it.
/// Idempotent.
pub(crate) fn conn_failed(node: &Node, conn: &Arc<Conn>, why: &str) {
    let r = node.remote();
    // What depended on the peer leaves the node's tables with the connection, under the
    // peer table's lock, and is fired below, after the (possibly long, paced) release:
    // a newer connection with the same peer admitted meanwhile keeps its own requests,
    // links and monitors.
    let detached = {
        let mut peers = lock(&r.peers);
        let current = peers
            .get(&conn.peer)
            .and_then(|p| p.out.as_ref())
            .is_some_and(|c| Arc::ptr_eq(c, conn));
        current.then(|| {
            peers.remove(&conn.peer);
            // Pending requests: their callers are woken with "connection lost".
            lock(&r.pending).retain(|_, (p, reply)| {
                let keep = *p != conn.peer;
                if !keep {
                    reply.set(None);
                }
                keep
            });
            r.watches.detach_peer(&conn.peer)
        })
    };
    conn.close();
    let links = super::placed::release(node, conn);
    let Some(watches) = detached else {
        super::placed::uncount_links(node, links);
        return;
    };
    if !r.stopped.load(Ordering::Acquire) {
        log::warn!("{}: node {} down: {why}", node.name(), conn.peer);
    }
    peer_down(node, &conn.peer, watches, why);
    super::placed::uncount_links(node, links);
}

/// Fire everything that depended on `peer` (its `watches`, detached from the table).
fn peer_down(node: &Node, peer: &str, watches: Option<HashSet<Watch>>, why: &str) {
    let r = node.remote();
    // Links and monitors fire in paced chunks: a peer that held hundreds of thousands of
    // them must not hold this worker thread for long (see `placed.rs`).
    r.watches.fire_detached(watches.unwrap_or_default(), |w| {
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
    });
    node_event(node, json!({"nodedown": peer, "reason": why}));
}

/// Map a failed push to the caller's error.
pub(crate) fn push_error(peer: &str, e: PushError, limit: usize, waited: Duration) -> SendError {
    match e {
        PushError::Closed => SendError::NoConnection {
            node: peer.into(),
            why: "connection closed".into(),
        },
        PushError::Overloaded => SendError::Overloaded {
            node: peer.into(),
            queued_limit: limit,
            waited,
        },
    }
}

/// Tell node-event subscribers. Only local ones are told: this runs in a connection's
/// reader when a peer goes down, and a reader never dials.
pub(super) fn node_event(node: &Node, msg: Value) {
    let subs = lock(&node.remote().subscribers).clone();
    let mut dead = Vec::new();
    for s in subs {
        if s.node_id() != node.name() {
            log::debug!(
                "{}: node event not sent to remote subscriber {s}",
                node.name()
            );
            continue;
        }
        if node.deliver_local(&s, Envelope::Msg(msg.clone())).is_err() {
            dead.push(s);
        }
    }
    if !dead.is_empty() {
        lock(&node.remote().subscribers).retain(|s| !dead.contains(s));
    }
}
