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
//! [`blocking`](crate::blocking::blocking())) in actor code.
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
//!   resolver runs; pass socket addresses, or resolve in [`blocking`](crate::blocking::blocking()).
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

// One file per socket type, each read against its `std::net` counterpart; this one keeps
// what they share (taking a socket into the poller, timeouts, parking the caller).
mod listener;
mod stream;
mod udp;

pub use listener::{Incoming, TcpListener};
pub use stream::TcpStream;
pub use udp::UdpSocket;

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
    crate::context::checkpoint();
    let me = crate::context::current_actor();
    if let Some(cell) = &me {
        cell.queue.set_status(Status::Socket);
    }
    crate::park::mark_parked();
    let r = f();
    crate::park::mark_running();
    if let Some(cell) = &me {
        cell.queue.set_status(Status::Running);
    }
    crate::context::checkpoint();
    r
}
