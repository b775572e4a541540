//! The listening socket: bind it, accept connections, run the acceptor's handshake.

use std::net::{SocketAddr, ToSocketAddrs};
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

pub(super) fn tune(stream: &may::net::TcpStream) {
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
