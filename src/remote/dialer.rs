//! Opening a connection to a peer: one dial at a time per peer, the connector's handshake,
//! and the back-off after a failed dial.
//!
//! **Back-off.** When a dial fails (connect refused or timed out, handshake failed), the
//! peer enters a back-off of [`NodeOptions::redial_backoff`] (first 100 ms, doubling per
//! consecutive failure up to 5 s). Until it ends, every send, link, monitor or request to
//! that peer fails at once with [`SendError::NoConnection`] (carrying the dial's error),
//! without dialling: a sender looping on a dead node costs a few dials a second, not one per
//! message. The first send after the back-off dials again. A failure is logged when the
//! peer's state changes (first failure, a different error, reachable again), not per dial
//! or per message. [`Node::connect`] ignores the back-off: it is an explicit request to try
//! now.

use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::listener::tune;
use super::peers::serve_conn;
use super::*;

/// A peer whose last dial failed.
pub(crate) struct Backoff {
    /// No dial before this instant.
    until: Instant,
    /// The current delay (doubles per failure, capped).
    delay: Duration,
    /// Why the last dial failed.
    why: String,
    /// Consecutive failed dials.
    failures: u32,
}

/// The connection this node sends to `peer` on, opening it if needed (unless the peer is in
/// back-off after a failed dial: then `NoConnection` at once).
pub(crate) fn conn_to(node: &Node, peer: &str) -> Result<Arc<Conn>, SendError> {
    conn_and_creation(node, peer, true).map(|(c, _)| c)
}

/// Like [`conn_to`], with the creation number the peer declared on that connection;
/// `respect_backoff: false` dials even during a back-off.
pub(crate) fn conn_and_creation(
    node: &Node,
    peer: &str,
    respect_backoff: bool,
) -> Result<(Arc<Conn>, u32), SendError> {
    let r = node.remote();
    let live = || {
        lock(&r.peers)
            .get(peer)
            .and_then(|p| Some((p.out.clone()?, p.creation)))
            .filter(|(c, _)| !c.is_closed())
    };
    if let Some(found) = live() {
        return Ok(found);
    }
    if r.stopped.load(Ordering::Acquire) {
        return Err(SendError::NoConnection {
            node: peer.into(),
            why: "this node was shut down".into(),
        });
    }
    if respect_backoff {
        backing_off(node, peer)?;
    }
    let gate = lock(&r.dialing).entry(peer.into()).or_default().clone();
    let _one_at_a_time = gate.lock();
    if let Some(found) = live() {
        return Ok(found);
    }
    if respect_backoff {
        // The dial we queued behind may have just failed.
        backing_off(node, peer)?;
    }
    // Dial from a coroutine even when called from a thread: all network I/O runs on `may`.
    let (tx, rx) = may::sync::mpsc::channel();
    let (node2, peer2) = (node.clone(), peer.to_string());
    let result = match super::go(move || {
        let _ = tx.send(dial(&node2, &peer2));
    }) {
        Ok(()) => rx.recv().unwrap_or_else(|_| {
            Err(SendError::NoConnection {
                node: peer.into(),
                why: "dialer ended".into(),
            })
        }),
        Err(e) => Err(SendError::NoConnection {
            node: peer.into(),
            why: format!("cannot start a dialer: {e}"),
        }),
    };
    record(node, peer, &result);
    let conn = result?;
    let creation = lock(&r.peers).get(peer).map_or(0, |p| p.creation);
    Ok((conn, creation))
}

impl Backoff {
    /// What [`Node::stats`] shows of this peer at `now`, and why its last dial failed.
    pub(crate) fn state(&self, now: Instant) -> (crate::observe::PeerState, String) {
        use crate::observe::PeerState;
        let state = if now < self.until {
            PeerState::BackingOff {
                retry_in: self.until - now,
                failures: self.failures,
            }
        } else {
            PeerState::Down {
                failures: self.failures,
            }
        };
        (state, self.why.clone())
    }
}

/// `Err(NoConnection)` if `peer` is in back-off.
fn backing_off(node: &Node, peer: &str) -> Result<(), SendError> {
    let backoff = lock(&node.remote().backoff);
    match backoff.get(peer) {
        Some(b) if Instant::now() < b.until => Err(SendError::NoConnection {
            node: peer.into(),
            why: format!("{} (not retried for up to {:?})", b.why, b.delay),
        }),
        _ => Ok(()),
    }
}

/// Update `peer`'s back-off after a dial; log when its state changes.
fn record(node: &Node, peer: &str, result: &Result<Arc<Conn>, SendError>) {
    let r = node.remote();
    let mut backoff = lock(&r.backoff);
    match result {
        Ok(_) => {
            if let Some(b) = backoff.remove(peer) {
                log::info!(
                    "{}: connected to {peer} again after {} failed dial(s)",
                    node.name(),
                    b.failures
                );
            }
        }
        Err(e) => {
            let why = match e {
                SendError::NoConnection { why, .. } => why.clone(),
                other => other.to_string(),
            };
            let b = backoff.entry(peer.into()).or_insert_with(|| Backoff {
                until: Instant::now(),
                delay: Duration::ZERO,
                why: String::new(),
                failures: 0,
            });
            b.failures += 1;
            b.delay = if b.delay.is_zero() {
                r.opts.redial_first
            } else {
                (b.delay * 2).min(r.opts.redial_max)
            };
            b.until = Instant::now() + b.delay;
            if b.why != why {
                log::warn!(
                    "{}: cannot connect to {peer}: {why}; sends to it fail at once until a \
                     redial (back-off {:?}, doubling up to {:?})",
                    node.name(),
                    b.delay,
                    r.opts.redial_max
                );
                b.why = why;
            } else {
                log::debug!(
                    "{}: redial of {peer} failed again ({} in a row), back-off {:?}",
                    node.name(),
                    b.failures,
                    b.delay
                );
            }
        }
    }
}

fn dial(node: &Node, peer: &str) -> Result<Arc<Conn>, SendError> {
    let r = node.remote();
    let fail = |why: String| SendError::NoConnection {
        node: peer.into(),
        why,
    };
    let addr = peer
        .to_socket_addrs()
        .map_err(|e| fail(e.to_string()))?
        .next()
        .ok_or_else(|| fail("no address".into()))?;
    let stream = may::net::TcpStream::connect_timeout(&addr, r.opts.connect_timeout)
        .map_err(|e| fail(e.to_string()))?;
    tune(&stream);
    let cookie = lock(&r.cookies)
        .get(peer)
        .cloned()
        .unwrap_or_else(|| node.cookie().to_string());
    let me = handshake::Me {
        name: node.name(),
        creation: r.creation,
        cookie: &cookie,
        issued: &r.issued,
        deadline: Instant::now() + r.opts.handshake_timeout,
    };
    // TLS (if set) first, by the same deadline: the cookie handshake runs inside it.
    let mut stream = transport::Stream::connect(stream, &r.opts, peer, me.deadline)
        .map_err(|e| fail(e.to_string()))?;
    let (declared, decoder) =
        handshake::connect(&mut stream, &me, peer).map_err(|e| fail(e.to_string()))?;
    // The creation is recorded with the connection, at admission, so whoever finds the
    // connection finds it too.
    let conn = serve_conn(
        node,
        stream,
        peer.into(),
        declared.creation,
        decoder,
        true,
        me.deadline,
    )
    .map_err(|e| fail(e.to_string()))?;
    log::debug!("{}: connected to {peer}", node.name());
    Ok(conn)
}
