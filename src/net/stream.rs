//! [`TcpStream`]: a TCP connection whose reads and writes park only the calling actor.
//!
//! One file per socket type: each mirrors its `std::net` counterpart method for method, and
//! is read against it; what they share (registering with the poller, timeouts, parking)
//! stays in `mod.rs`.

use super::*;

/// A TCP connection for actor code (see the [module docs](super)): `std::net::TcpStream`'s
/// API, but a read or write that would block parks only the calling actor.
///
/// ```
/// use std::io::{Read, Write};
/// use std::time::Duration;
/// use pyact::net::{TcpListener, TcpStream};
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
/// let (mut server, _) = listener.accept().unwrap();
/// client.write_all(b"ping").unwrap();
/// let mut buf = [0; 4];
/// server.read_exact(&mut buf).unwrap();
/// assert_eq!(&buf, b"ping");
/// // Nothing more comes: a read timeout ends the wait with `TimedOut`.
/// server.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
/// let err = server.read(&mut buf).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
/// ```
pub struct TcpStream {
    /// The read half, registered with `may` for readability only.
    rd: Mutex<SplitReader<may::net::TcpStream>>,
    /// The write half: a second descriptor of the same socket, for writability only, so a
    /// reader and a writer can park at once (`may` keeps one waiter per descriptor).
    wr: Mutex<SplitWriter<may::net::TcpStream>>,
    read_timeout: TimeoutSlot,
    write_timeout: TimeoutSlot,
    peer: SocketAddr,
    local: SocketAddr,
}

impl TcpStream {
    /// Connect to the first address of `addr` that accepts (as `std` does). In an actor
    /// only the actor waits for the handshake. See the module docs about name resolution.
    ///
    /// ```
    /// use pyact::net::{TcpListener, TcpStream};
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// assert_eq!(stream.peer_addr().unwrap(), listener.local_addr().unwrap());
    /// ```
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        let mut last = None;
        for a in addr.to_socket_addrs()? {
            match Self::connect_one(&a, None) {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last
            .unwrap_or_else(|| io::Error::new(ErrorKind::InvalidInput, "no address to connect to")))
    }

    /// Connect to `addr`, giving up after `timeout` ([`ErrorKind::TimedOut`]).
    ///
    /// ```
    /// use pyact::net::{TcpListener, TcpStream};
    /// use std::time::Duration;
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap();
    /// assert_eq!(stream.peer_addr().unwrap(), addr);
    /// ```
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        check_timeout(Some(timeout))?;
        Self::connect_one(addr, Some(timeout))
    }

    fn connect_one(addr: &SocketAddr, timeout: Option<Duration>) -> io::Result<TcpStream> {
        if !in_coroutine() {
            let s = match timeout {
                Some(t) => std::net::TcpStream::connect_timeout(addr, t)?,
                None => std::net::TcpStream::connect(addr)?,
            };
            return TcpStream::from_std(s);
        }
        crate::config::current();
        let s = parked(|| match timeout {
            Some(t) => may::net::TcpStream::connect_timeout(addr, whole_ms(t)),
            None => may::net::TcpStream::connect(addr),
        })?;
        TcpStream::from_may(s)
    }

    /// Take over a connected std stream (it becomes non-blocking).
    ///
    /// ```
    /// use std::io::Write;
    /// let listener = pyact::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let std_stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// let mut stream = pyact::net::TcpStream::from_std(std_stream).unwrap();
    /// stream.write_all(b"now actor-friendly").unwrap();
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        TcpStream::from_may(register(stream)?)
    }

    pub(super) fn from_may(s: may::net::TcpStream) -> io::Result<TcpStream> {
        let peer = s.peer_addr()?;
        let local = s.local_addr()?;
        let (rd, wr) = s.split()?;
        Ok(TcpStream {
            rd: Mutex::new(rd),
            wr: Mutex::new(wr),
            read_timeout: TimeoutSlot::default(),
            write_timeout: TimeoutSlot::default(),
            peer,
            local,
        })
    }

    /// The remote address (as it was when the connection was made).
    ///
    /// ```
    /// use pyact::net::{TcpListener, TcpStream};
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// let (server, _) = listener.accept().unwrap();
    /// assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.peer)
    }

    /// The local address.
    ///
    /// ```
    /// use pyact::net::{TcpListener, TcpStream};
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// let (_, from) = listener.accept().unwrap();
    /// assert_eq!(client.local_addr().unwrap(), from);
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    /// Limit each read's wait (`None`: wait for ever). An expired wait is an
    /// [`ErrorKind::TimedOut`] error; zero is refused, as by `std`.
    ///
    /// ```
    /// use pyact::net::{TcpListener, TcpStream};
    /// use std::time::Duration;
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    /// assert_eq!(client.read_timeout().unwrap(), Some(Duration::from_secs(5)));
    /// assert!(client.set_read_timeout(Some(Duration::ZERO)).is_err()); // as std
    /// ```
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.read_timeout.set(timeout)
    }

    /// Limit each write's wait for room in the send buffer (`None`: wait for ever).
    ///
    /// ```
    /// use pyact::net::{TcpListener, TcpStream};
    /// use std::time::Duration;
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// client.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    /// assert_eq!(client.write_timeout().unwrap(), Some(Duration::from_secs(5)));
    /// ```
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.write_timeout.set(timeout)
    }

    /// The read timeout in force.
    ///
    /// ```
    /// use pyact::net::{TcpListener, TcpStream};
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// assert_eq!(client.read_timeout().unwrap(), None); // waits for ever by default
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.read_timeout.get())
    }

    /// The write timeout in force.
    ///
    /// ```
    /// use pyact::net::{TcpListener, TcpStream};
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// assert_eq!(client.write_timeout().unwrap(), None);
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.write_timeout.get())
    }

    /// Shut down one or both directions: a reader parked on this socket (through any
    /// handle) wakes with end of stream. Never waits for a parked reader.
    ///
    /// ```
    /// use pyact::net::{TcpListener, TcpStream};
    /// use std::io::Read;
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// let (mut server, _) = listener.accept().unwrap();
    /// client.shutdown(std::net::Shutdown::Write).unwrap();
    /// let mut rest = Vec::new();
    /// assert_eq!(server.read_to_end(&mut rest).unwrap(), 0); // end of stream
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.with_socket(|s| s.shutdown(how))
    }

    /// Set `TCP_NODELAY` (send small writes at once, no Nagle delay).
    ///
    /// ```
    /// use pyact::net::{TcpListener, TcpStream};
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// client.set_nodelay(true).unwrap(); // small request/reply messages go out at once
    /// assert!(client.nodelay().unwrap());
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.with_socket(|s| s.set_nodelay(nodelay))
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// ```
    /// use pyact::net::{TcpListener, TcpStream};
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// client.set_nodelay(false).unwrap();
    /// assert!(!client.nodelay().unwrap());
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.with_socket(|s| s.nodelay())
    }

    /// A second handle to the same connection (new descriptors), e.g. to give a writer
    /// actor its own, or to [`shutdown`](Self::shutdown) a socket another actor reads.
    /// The timeouts are copied.
    ///
    /// A reader actor and a writer on one connection:
    /// ```
    /// use pyact::net::{TcpListener, TcpStream};
    /// use std::io::{Read, Write};
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// let (server, _) = listener.accept().unwrap();
    /// let mut reader = server.try_clone().unwrap();
    /// let r = node.spawn(move |_| { let mut b = [0; 2]; reader.read_exact(&mut b).map(|_| b.to_vec()).map_err(|e| e.to_string()) });
    /// client.write_all(b"hi").unwrap();
    /// assert_eq!(node.wait(&r).unwrap(), pyact::json!(b"hi"));
    /// drop(server);
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        let dup = self.with_socket(|s| s.try_clone())?;
        let s = TcpStream::from_std(dup)?;
        s.set_read_timeout(self.read_timeout()?)?;
        s.set_write_timeout(self.write_timeout()?)?;
        Ok(s)
    }

    /// Run `f` on the socket through whichever half is not busy (a half is locked for the
    /// whole of a parked read or write), waiting for the write half only if both are.
    fn with_socket<T>(
        &self,
        f: impl FnOnce(&std::net::TcpStream) -> io::Result<T>,
    ) -> io::Result<T> {
        if let Ok(w) = self.wr.try_lock() {
            return f(w.inner().inner());
        }
        if let Ok(r) = self.rd.try_lock() {
            return f(r.inner().inner());
        }
        let w = lock_half(&self.wr);
        f(w.inner().inner())
    }

    fn read_half(&self, buf: &mut [u8]) -> io::Result<usize> {
        let timeout = self.read_timeout()?;
        if !in_coroutine() {
            let r = self.rd.lock().unwrap_or_else(|p| p.into_inner());
            let s = r.inner().inner();
            return thread_io(s.as_fd(), PollFlags::POLLIN, timeout, || (&*s).read(buf));
        }
        crate::context::checkpoint();
        let mut r = lock_half(&self.rd);
        // Fast path: data is waiting (no park, no bookkeeping).
        let mut sock: &std::net::TcpStream = r.inner().inner();
        match sock.read(buf) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            done => return done,
        }
        let s = r.inner_mut();
        let t = timeout.map(whole_ms);
        if s.read_timeout()? != t {
            s.set_read_timeout(t)?;
        }
        parked(|| s.read(buf))
    }

    fn write_half(&self, buf: &[u8]) -> io::Result<usize> {
        let timeout = self.write_timeout()?;
        if !in_coroutine() {
            let w = self.wr.lock().unwrap_or_else(|p| p.into_inner());
            let s = w.inner().inner();
            return thread_io(s.as_fd(), PollFlags::POLLOUT, timeout, || (&*s).write(buf));
        }
        crate::context::checkpoint();
        let mut w = lock_half(&self.wr);
        let mut sock: &std::net::TcpStream = w.inner().inner();
        match sock.write(buf) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            done => return done,
        }
        let s = w.inner_mut();
        let t = timeout.map(whole_ms);
        if s.write_timeout()? != t {
            s.set_write_timeout(t)?;
        }
        parked(|| s.write(buf))
    }
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_half(buf)
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_half(buf)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_half(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_half(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
