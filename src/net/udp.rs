//! [`UdpSocket`]: datagrams whose sends and receives park only the calling actor.
//!
//! One file per socket type: each mirrors its `std::net` counterpart method for method, and
//! is read against it; what they share (registering with the poller, timeouts, parking)
//! stays in `mod.rs`.

use super::*;

/// A UDP socket for actor code (see the [module docs](super)): `std::net::UdpSocket`'s API,
/// but a receive (or a send into a full buffer) that would block parks only the calling
/// actor. One actor may receive while others send: receiving and sending use one
/// descriptor each.
///
/// ```
/// use pyact::net::UdpSocket;
/// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
/// a.send_to(b"ping", b.local_addr().unwrap()).unwrap();
/// let mut buf = [0; 16];
/// let (n, from) = b.recv_from(&mut buf).unwrap();
/// assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr().unwrap()));
/// ```
pub struct UdpSocket {
    rx: Mutex<may::net::UdpSocket>,
    tx: Mutex<may::net::UdpSocket>,
    read_timeout: TimeoutSlot,
    write_timeout: TimeoutSlot,
    local: SocketAddr,
}

impl std::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl UdpSocket {
    /// Bind to the first address of `addr` that works (as `std` does).
    ///
    /// ```
    /// let s = pyact::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_ne!(s.local_addr().unwrap().port(), 0);
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        UdpSocket::from_std(std::net::UdpSocket::bind(addr)?)
    }

    /// Take over a bound std socket (it becomes non-blocking).
    ///
    /// ```
    /// let std_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let addr = std_socket.local_addr().unwrap();
    /// let s = pyact::net::UdpSocket::from_std(std_socket).unwrap();
    /// assert_eq!(s.local_addr().unwrap(), addr);
    /// ```
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        let local = socket.local_addr()?;
        let dup = socket.try_clone()?;
        Ok(UdpSocket {
            rx: Mutex::new(register(socket)?),
            tx: Mutex::new(register(dup)?),
            read_timeout: TimeoutSlot::default(),
            write_timeout: TimeoutSlot::default(),
            local,
        })
    }

    /// The address it is bound to.
    ///
    /// ```
    /// let s = pyact::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(s.local_addr().unwrap().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    /// Send and receive only to and from `addr` (for [`send`](Self::send) and
    /// [`recv`](Self::recv)). Never waits.
    ///
    /// ```
    /// use pyact::net::UdpSocket;
    /// let (a, b) = (UdpSocket::bind("127.0.0.1:0").unwrap(), UdpSocket::bind("127.0.0.1:0").unwrap());
    /// a.connect(b.local_addr().unwrap()).unwrap();
    /// a.send(b"to b").unwrap(); // no address needed any more
    /// let mut buf = [0; 8];
    /// let n = b.recv(&mut buf).unwrap();
    /// assert_eq!(&buf[..n], b"to b");
    /// ```
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        self.with_socket(|s| s.connect(addr))
    }

    /// The address it is connected to.
    ///
    /// ```
    /// use pyact::net::UdpSocket;
    /// let (a, b) = (UdpSocket::bind("127.0.0.1:0").unwrap(), UdpSocket::bind("127.0.0.1:0").unwrap());
    /// assert!(a.peer_addr().is_err()); // not connected yet
    /// a.connect(b.local_addr().unwrap()).unwrap();
    /// assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.with_socket(|s| s.peer_addr())
    }

    /// Allow sending to broadcast addresses.
    ///
    /// ```
    /// let s = pyact::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.set_broadcast(true).unwrap();
    /// ```
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.with_socket(|s| s.set_broadcast(on))
    }

    /// Limit each receive's wait (`None`: wait for ever); see
    /// [`TcpStream::set_read_timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = pyact::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    /// let mut buf = [0; 8];
    /// assert_eq!(s.recv_from(&mut buf).unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// ```
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.read_timeout.set(timeout)
    }

    /// Limit each send's wait for buffer room (`None`: wait for ever).
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = pyact::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    /// assert_eq!(s.write_timeout().unwrap(), Some(Duration::from_secs(1)));
    /// ```
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.write_timeout.set(timeout)
    }

    /// The read timeout in force.
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = pyact::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_eq!(s.read_timeout().unwrap(), None);
    /// s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    /// assert_eq!(s.read_timeout().unwrap(), Some(Duration::from_secs(2)));
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.read_timeout.get())
    }

    /// The write timeout in force.
    ///
    /// ```
    /// let s = pyact::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_eq!(s.write_timeout().unwrap(), None);
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.write_timeout.get())
    }

    /// A second handle to the same socket (new descriptors); the timeouts are copied.
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = pyact::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    /// let sender = s.try_clone().unwrap(); // e.g. for another actor
    /// assert_eq!(sender.read_timeout().unwrap(), Some(Duration::from_secs(3))); // copied
    /// assert_eq!(sender.local_addr().unwrap(), s.local_addr().unwrap());
    /// ```
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        let s = UdpSocket::from_std(self.with_socket(|s| s.try_clone())?)?;
        s.set_read_timeout(self.read_timeout()?)?;
        s.set_write_timeout(self.write_timeout()?)?;
        Ok(s)
    }

    /// Receive one datagram and its sender (a datagram longer than `buf` is cut).
    ///
    /// ```
    /// use pyact::net::UdpSocket;
    /// let (a, b) = (UdpSocket::bind("127.0.0.1:0").unwrap(), UdpSocket::bind("127.0.0.1:0").unwrap());
    /// b.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    /// a.send_to(b"0123456789", b.local_addr().unwrap()).unwrap();
    /// let mut small = [0; 4];
    /// let (n, from) = b.recv_from(&mut small).unwrap();
    /// assert_eq!((n, &small, from), (4, b"0123", a.local_addr().unwrap())); // cut to fit
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.receive(buf, |s, b| s.recv_from(b), |s, b| s.recv_from(b))
    }

    /// Receive one datagram from the connected peer.
    ///
    /// ```
    /// use pyact::net::UdpSocket;
    /// let (a, b) = (UdpSocket::bind("127.0.0.1:0").unwrap(), UdpSocket::bind("127.0.0.1:0").unwrap());
    /// b.connect(a.local_addr().unwrap()).unwrap();
    /// b.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    /// a.send_to(b"hey", b.local_addr().unwrap()).unwrap();
    /// let mut buf = [0; 8];
    /// assert_eq!(b.recv(&mut buf).unwrap(), 3);
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.receive(buf, |s, b| s.recv(b), |s, b| s.recv(b))
    }

    /// Send one datagram to `addr` (its first address, as `std` does).
    ///
    /// ```
    /// use pyact::net::UdpSocket;
    /// let (a, b) = (UdpSocket::bind("127.0.0.1:0").unwrap(), UdpSocket::bind("127.0.0.1:0").unwrap());
    /// assert_eq!(a.send_to(b"ping", b.local_addr().unwrap()).unwrap(), 4);
    /// ```
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let to = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(ErrorKind::InvalidInput, "no address to send to"))?;
        self.transmit(|s| s.send_to(buf, to), |s| s.send_to(buf, to))
    }

    /// Send one datagram to the connected peer.
    ///
    /// ```
    /// use pyact::net::UdpSocket;
    /// let (a, b) = (UdpSocket::bind("127.0.0.1:0").unwrap(), UdpSocket::bind("127.0.0.1:0").unwrap());
    /// assert!(a.send(b"x").is_err()); // not connected
    /// a.connect(b.local_addr().unwrap()).unwrap();
    /// assert_eq!(a.send(b"x").unwrap(), 1);
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.transmit(|s| s.send(buf), |s| s.send(buf))
    }

    /// See [`TcpStream`]'s helper of the same name.
    fn with_socket<T>(
        &self,
        f: impl FnOnce(&std::net::UdpSocket) -> io::Result<T>,
    ) -> io::Result<T> {
        if let Ok(t) = self.tx.try_lock() {
            return f(t.inner());
        }
        if let Ok(r) = self.rx.try_lock() {
            return f(r.inner());
        }
        let t = lock_half(&self.tx);
        f(t.inner())
    }

    /// A receive: `op` on the std socket (non-blocking), or `slow` on `may`'s when it
    /// would block in a coroutine.
    fn receive<T>(
        &self,
        buf: &mut [u8],
        op: impl Fn(&std::net::UdpSocket, &mut [u8]) -> io::Result<T>,
        slow: impl FnOnce(&may::net::UdpSocket, &mut [u8]) -> io::Result<T>,
    ) -> io::Result<T> {
        let timeout = self.read_timeout()?;
        if !in_coroutine() {
            let r = self.rx.lock().unwrap_or_else(|p| p.into_inner());
            let s = r.inner();
            return thread_io(s.as_fd(), PollFlags::POLLIN, timeout, || op(s, buf));
        }
        crate::context::checkpoint();
        let r = lock_half(&self.rx);
        match op(r.inner(), buf) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            done => return done,
        }
        let t = timeout.map(whole_ms);
        if r.read_timeout()? != t {
            r.set_read_timeout(t)?;
        }
        parked(|| slow(&r, buf))
    }

    /// A send: as [`receive`](Self::receive), waiting for room instead of data.
    fn transmit<T>(
        &self,
        op: impl Fn(&std::net::UdpSocket) -> io::Result<T>,
        slow: impl FnOnce(&may::net::UdpSocket) -> io::Result<T>,
    ) -> io::Result<T> {
        let timeout = self.write_timeout()?;
        if !in_coroutine() {
            let w = self.tx.lock().unwrap_or_else(|p| p.into_inner());
            let s = w.inner();
            return thread_io(s.as_fd(), PollFlags::POLLOUT, timeout, || op(s));
        }
        crate::context::checkpoint();
        let w = lock_half(&self.tx);
        match op(w.inner()) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            done => return done,
        }
        let t = timeout.map(whole_ms);
        if w.write_timeout()? != t {
            w.set_write_timeout(t)?;
        }
        parked(|| slow(&w))
    }
}
