//! Opening a connection to a peer: one dial at a time per peer, the connector's handshake.

use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::listener::tune;
use super::peers::serve_conn;
use super::*;

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
