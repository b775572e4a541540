//! [`TcpListener`]: accepting TCP connections without blocking the worker.
//!
//! One file per socket type: each mirrors its `std::net` counterpart method for method, and
//! is read against it; what they share (registering with the poller, timeouts, parking)
//! stays in `mod.rs`.

use super::*;

/// A TCP socket listening for connections, for actor code (see the [module docs](super)).
///
/// ```
/// use pyact::net::{TcpListener, TcpStream};
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = listener.local_addr().unwrap();
/// let _client = TcpStream::connect(addr).unwrap(); // from a plain thread, too
/// let (_server_side, from) = listener.accept().unwrap();
/// assert_eq!(from.ip(), addr.ip());
/// // The port is taken: a second bind is an error, not a silent share.
/// assert!(TcpListener::bind(addr).is_err());
/// ```
pub struct TcpListener {
    /// Accepts take turns: `may` lets one coroutine at a time wait on a socket.
    inner: Mutex<may::net::TcpListener>,
    local: SocketAddr,
}

impl TcpListener {
    /// Bind to the first address of `addr` that works (as `std` does) and listen (backlog
    /// 1024). `SO_REUSEADDR` is set, `SO_REUSEPORT` is not: a port in use is an
    /// [`ErrorKind::AddrInUse`] error.
    ///
    /// ```
    /// use pyact::net::TcpListener;
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap(); // port 0: the OS picks one
    /// assert_ne!(listener.local_addr().unwrap().port(), 0);
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        let mut last = None;
        for a in addr.to_socket_addrs()? {
            match bind_one(a) {
                Ok(l) => return TcpListener::from_std(l),
                Err(e) => last = Some(e),
            }
        }
        Err(last
            .unwrap_or_else(|| io::Error::new(ErrorKind::InvalidInput, "no address to bind to")))
    }

    /// Take over a bound, listening std listener.
    ///
    /// ```
    /// let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = std_listener.local_addr().unwrap();
    /// let listener = pyact::net::TcpListener::from_std(std_listener).unwrap();
    /// assert_eq!(listener.local_addr().unwrap(), addr);
    /// ```
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        let local = listener.local_addr()?;
        Ok(TcpListener {
            inner: Mutex::new(register(listener)?),
            local,
        })
    }

    /// The address it listens on (with the port the OS chose for port 0).
    ///
    /// ```
    /// let listener = pyact::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap(); // what clients connect to
    /// assert!(addr.ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    /// Wait for a connection: parks the calling actor (or blocks the calling thread) until
    /// one arrives. Several actors may accept on one listener; they take turns.
    ///
    /// ```
    /// use pyact::net::{TcpListener, TcpStream};
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// // In an actor, accept parks only that actor.
    /// let acceptor = node.spawn(move |_| listener.accept().map(|(_, from)| from.to_string()).map_err(|e| e.to_string()));
    /// let client = TcpStream::connect(addr).unwrap();
    /// assert_eq!(node.wait(&acceptor).unwrap(), client.local_addr().unwrap().to_string());
    /// ```
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        if !in_coroutine() {
            let l = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            let (s, from) = thread_io(l.inner().as_fd(), PollFlags::POLLIN, None, || {
                l.inner().accept()
            })?;
            return Ok((TcpStream::from_std(s)?, from));
        }
        crate::context::checkpoint();
        let l = lock_half(&self.inner);
        // Fast path: a connection is waiting (no park, no bookkeeping).
        match l.inner().accept() {
            Ok((s, from)) => return Ok((TcpStream::from_std(s)?, from)),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        let (s, from) = parked(|| l.accept())?;
        Ok((TcpStream::from_may(s)?, from))
    }

    /// An endless iterator of [`accept`](Self::accept)ed streams (never `None`).
    ///
    /// ```
    /// use pyact::net::{TcpListener, TcpStream};
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let _clients = [TcpStream::connect(addr).unwrap(), TcpStream::connect(addr).unwrap()];
    /// let accepted = listener.incoming().take(2).filter(|s| s.is_ok()).count();
    /// assert_eq!(accepted, 2);
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// A second handle to the same listening socket (a new descriptor).
    ///
    /// ```
    /// use pyact::net::{TcpListener, TcpStream};
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let second = listener.try_clone().unwrap(); // e.g. for a second acceptor actor
    /// let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// assert!(second.accept().is_ok()); // same socket
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        let l = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let dup = l.inner().try_clone()?;
        drop(l);
        TcpListener::from_std(dup)
    }
}

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpListener")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

/// Bind and listen on one address with `socket2`: `SO_REUSEADDR`, no `SO_REUSEPORT`.
fn bind_one(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    sock.bind(&addr.into())?;
    sock.listen(1024)?;
    Ok(sock.into())
}

/// The iterator of [`TcpListener::incoming`].
///
/// ```
/// use pyact::net::{TcpListener, TcpStream};
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
/// let mut incoming = listener.incoming();
/// assert!(incoming.next().unwrap().is_ok());
/// ```
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;
    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}
