//! The peer table: which authenticated connections this node has with which node, and what
//! happens when one fails (the peer is down: links, monitors, waits and node monitors fire).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use super::*;

#[derive(Default)]
pub(crate) struct Peer {
    /// The connection this node sends on.
    pub(crate) out: Option<Arc<Conn>>,
    /// Connections the peer opened to us.
    pub(crate) inbound: Vec<Arc<Conn>>,
    /// The creation number the peer declared in its latest handshake (0: none yet). Kept
    /// beside `out` so a send reads both under one lock (see `dialer::conn_and_creation`).
    pub(crate) creation: u32,
}

/// Start the loops of an authenticated stream, record it as the connection this node sends
/// on (`outgoing`) or as one the peer opened, and announce the peer if it is new.
pub(super) fn serve_conn(
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
pub(super) fn peer_down(node: &Node, peer: &str, why: &str) {
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

pub(super) fn node_event(node: &Node, msg: Value) {
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
