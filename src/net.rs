//! Sockets for actor code: TCP that parks only the calling actor, never its worker thread.
//!
//! An actor that reads a `std::net::TcpStream` blocks its worker thread, and every actor
//! queued on that worker waits with it. [`TcpListener`], [`TcpStream`] and [`UdpSocket`] have
//! the `std` API (`bind`, `accept`, `incoming`, `connect`, [`Read`]/[`Write`], `send_to`,
//! `recv_from`, timeouts, `shutdown`) but a
//! call that would block parks only the calling actor on pyact's own runtime (the patched
//! `may` it runs on): the worker runs other actors until the socket is ready. So the gevent
//! style works: one actor per connection, written as plain blocking code.
//!
//! ```
//! use std::io::{BufRead, BufReader, Write};
//! use pyact::net::{TcpListener, TcpStream};
//! use pyact::{Mesh, Node, json};
//!
//! let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
//! let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//! let addr = listener.local_addr().unwrap();
//! // One acceptor; one actor per connection, each echoing lines back.
//! node.spawn(move |_| {
//!     for stream in listener.incoming() {
//!         let Ok(stream) = stream else { continue };
//!         pyact::spawn(move |_| {
//!             let mut lines = BufReader::new(&stream);
//!             let mut line = String::new();
//!             while lines.read_line(&mut line).unwrap_or(0) > 0 {
//!                 if (&stream).write_all(line.as_bytes()).is_err() {
//!                     break;
//!                 }
//!                 line.clear();
//!             }
//!         });
//!     }
//! });
//! let client = node.spawn(move |_| {
//!     let mut s = TcpStream::connect(addr).unwrap();
//!     s.write_all(b"hello\n").unwrap();
//!     let mut back = String::new();
//!     BufReader::new(&s).read_line(&mut back).unwrap();
//!     json!(back)
//! });
//! assert_eq!(node.wait(&client).unwrap(), "hello\n");
//! ```
//!
//! ## Why not `may::net` from crates.io
//!
//! A crates.io `may` is a second runtime, not pyact's: its sockets park coroutines of its
//! own scheduler, and called from an actor they see no coroutine of theirs, so they block the
//! calling thread, which is one of pyact's workers. Use these types (or
//! [`blocking`](crate::blocking())) in actor code.
//!
//! ## In plain threads
//!
//! Every call also works outside actors (`main`, a test, a thread): there it blocks the
//! calling thread, waiting for readiness with `poll(2)` and honouring the same timeouts.
//! (`may`'s own thread path is not used: it hands each wait to a proxy coroutine and parks
//! the thread once, so a spurious wake-up of `std::thread::park` would leave that proxy
//! holding a pointer to a finished call's stack.)
//!
//! ## Rules and limits
//!
//! - **Errors are `std::io::Error`**; an expired read or write timeout is
//!   [`ErrorKind::TimedOut`] (in actors and threads alike).
//! - **Kills**: a kill (or an exit signal that ends the actor) is checked before and after
//!   each call that may park, but cannot interrupt a park on a socket: it lands when the call
//!   returns (data, end of stream, error or timeout). Give long waits a timeout, or
//!   [`shutdown`](TcpStream::shutdown) the socket from another actor (through a
//!   [`try_clone`](TcpStream::try_clone)) to wake its reader.
//! - **Sharing**: `&TcpStream` is [`Read`] and [`Write`], so one actor can read while another
//!   writes (each stream holds two descriptors, one per direction, so both can park at
//!   once). Two readers (or two writers) of one stream take turns.
//! - **Name resolution** (`connect("example.com:80")`) blocks the worker while the system
//!   resolver runs; pass socket addresses, or resolve in [`blocking`](crate::blocking()).
//! - [`TcpListener::bind`] sets `SO_REUSEADDR` (rebind after `TIME_WAIT`) but not
//!   `SO_REUSEPORT`: a port in use is an error, as with `std`.
//!
//! ## Never crates.io `may` in actor code
//!
//! Not `may::net`, `may::sync` or `may::go!` either, even though pyact runs on `may`: pyact runs on
//! its own patched copy, so a crates.io `may` is a second runtime with a second scheduler and
//! its own worker threads. Its sockets block one of pyact's workers, with every actor queued on
//! it, and its coroutines are invisible to pyact's kills, watchdog and limits.
//!
//! ## Try it
//!
//! `cargo run --example echo` is one actor per connection; `-- serve` to try it with `nc`.
//! `connect_timeout`, `try_clone`, `Read`/`Write` on `&TcpStream`, and read and write timeouts
//! work as in `std`.
//!
//! ```
//! use std::io::{Read, Write};
//! use pyact::net::{TcpListener, TcpStream};
//! let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
//! let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//! let addr = listener.local_addr().unwrap();
//! node.spawn(move |_| {
//!     for conn in listener.incoming().flatten() {
//!         pyact::spawn(move |_| { let _ = std::io::copy(&mut &conn, &mut &conn); }); // echo
//!     }
//! });
//! let mut s = TcpStream::connect(addr).unwrap();
//! s.write_all(b"ping").unwrap();
//! let mut back = [0; 4];
//! s.read_exact(&mut back).unwrap();
//! assert_eq!(&back, b"ping");
//! ```

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::AsFd;
use std::os::unix::io::{FromRawFd, IntoRawFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex as StdMutex;
use std::time::{Duration, Instant};

use may::io::{SplitIo, SplitReader, SplitWriter};
use may::sync::{Mutex, MutexGuard};
use nix::poll::{PollFd, PollFlags, PollTimeout};

/// Take over a std socket into `may`'s poller (non-blocking from then on).
///
/// `may` offers no safe conversion: only `FromRawFd`, which panics if the poller refuses
/// the descriptor. That panic is caught here and becomes an error.
fn register<S, M>(sock: S) -> io::Result<M>
where
    S: IntoRawFd,
    M: FromRawFd,
{
    // `may` reads its configuration once, when its scheduler starts: pyact's first.
    crate::config::current();
    let fd = sock.into_raw_fd();
    // SAFETY: `fd` was just released by `into_raw_fd` from a socket we own, so the new
    // value is its only owner (it closes it on drop). If `from_raw_fd` panics (the poller
    // refused the descriptor), `may` has already dropped the std socket it wrapped `fd` in,
    // closing it: nothing leaks and nothing closes it twice.
    catch_unwind(AssertUnwindSafe(|| unsafe { M::from_raw_fd(fd) }))
        .map_err(|_| io::Error::other("the runtime's poller refused the socket"))
}

/// Does this call run in a coroutine (an actor, or one of pyact's own)?
fn in_coroutine() -> bool {
    may::coroutine::is_coroutine()
}

/// `d` rounded up to whole milliseconds (`may`'s timers and `poll(2)` count milliseconds: a
/// shorter timeout would never fire, or fire at once).
fn whole_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_nanos().div_ceil(1_000_000).min(u64::MAX as u128) as u64)
}

/// `std`'s rule for timeouts: zero is refused (it would mean "no timeout" to the OS).
/// One timeout of a socket (read or write), shared by `TcpStream` and `UdpSocket`: pyact's
/// own waits read it, so it lives here rather than in the descriptor.
#[derive(Default)]
struct TimeoutSlot(StdMutex<Option<Duration>>);

impl TimeoutSlot {
    /// Set it, refusing a zero duration as `std` does.
    fn set(&self, d: Option<Duration>) -> io::Result<()> {
        check_timeout(d)?;
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = d;
        Ok(())
    }

    fn get(&self) -> Option<Duration> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn check_timeout(d: Option<Duration>) -> io::Result<()> {
    if d.is_some_and(|d| d.is_zero()) {
        return Err(io::Error::new(
            ErrorKind::InvalidInput,
            "cannot set a 0 duration timeout",
        ));
    }
    Ok(())
}

fn timed_out() -> io::Error {
    io::Error::new(ErrorKind::TimedOut, "timeout")
}

/// In a plain thread: run `op` (non-blocking) until it does not say `WouldBlock`, waiting
/// for `events` on `fd` with `poll(2)` in between, at most `timeout` in all.
fn thread_io<T>(
    fd: std::os::fd::BorrowedFd<'_>,
    events: PollFlags,
    timeout: Option<Duration>,
    mut op: impl FnMut() -> io::Result<T>,
) -> io::Result<T> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        match op() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            done => return done,
        }
        let wait = match deadline {
            None => PollTimeout::NONE,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(timed_out());
                }
                PollTimeout::try_from(whole_ms(left)).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = [PollFd::new(fd, events)];
        match nix::poll::poll(&mut fds, wait) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(io::Error::from_raw_os_error(e as i32)),
        }
    }
}

/// Lock `m` for a call that may park: parking on a contended lock, or on the socket after
/// it, is a park as pyact counts them (the watchdog and the spawn queue must know).
fn lock_half<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.try_lock() {
        Ok(g) => g,
        Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => {
            parked(|| m.lock().unwrap_or_else(|p| p.into_inner()))
        }
    }
}

/// Run `f`, which may park the running actor, as a pyact park: the kill check before and
/// after, the worker marked idle meanwhile (see [`crate::park`]), the actor's status
/// [`Status::Socket`](crate::observe::Status::Socket) (see [`Node::info`](crate::Node::info)).
fn parked<T>(f: impl FnOnce() -> T) -> T {
    use crate::observe::Status;
    crate::actor::checkpoint();
    let me = crate::actor::current_actor();
    if let Some(cell) = &me {
        cell.queue.set_status(Status::Socket);
    }
    crate::park::mark_parked();
    let r = f();
    crate::park::mark_running();
    if let Some(cell) = &me {
        cell.queue.set_status(Status::Running);
    }
    crate::actor::checkpoint();
    r
}

/// A TCP socket listening for connections, for actor code (see the [module docs](self)).
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
        crate::actor::checkpoint();
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

/// A TCP connection for actor code (see the [module docs](self)): `std::net::TcpStream`'s
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

    fn from_may(s: may::net::TcpStream) -> io::Result<TcpStream> {
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
        crate::actor::checkpoint();
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
        crate::actor::checkpoint();
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

/// A UDP socket for actor code (see the [module docs](self)): `std::net::UdpSocket`'s API,
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
        crate::actor::checkpoint();
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
        crate::actor::checkpoint();
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
