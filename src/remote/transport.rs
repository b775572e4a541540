//! The byte stream under a connection: plain TCP, or TLS over it (feature `tls`, see
//! [`tls`](super::tls)).
//!
//! A connection's life has two phases, and the stream has a shape for each:
//! - **One owner** ([`Stream`]): the dialer or the listener's handshake coroutine, then
//!   `peers::serve_conn`, read and write it in turn (the TLS handshake, the cookie
//!   handshake, the admission verdict). A read or write timeout set here is a deadline
//!   for the whole call, however many socket operations it takes (TLS reads whole records).
//! - **Two owners** ([`ReadHalf`], [`WriteHalf`], from [`Stream::split`]): the
//!   connection's reader and writer coroutines (`connection.rs`), each with `may`'s split
//!   registration of the socket (reads only, writes only). Timeouts are per socket
//!   operation (the heartbeat timeout, the write slice), as they are for plain TCP.
//!
//! Without the feature, every variant but `Plain` is compiled out and the halves are
//! `may`'s own split halves in a one-variant enum.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use may::io::{SplitIo, SplitReader, SplitWriter};
use may::net::TcpStream;

use super::NodeOptions;
use super::handshake::{HandshakeError, Timed};

/// Does this node speak TLS?
pub(crate) fn is_tls(opts: &NodeOptions) -> bool {
    #[cfg(feature = "tls")]
    if opts.tls.is_some() {
        return true;
    }
    let _ = opts;
    false
}

/// A connection's stream before it is split (handshakes and admission).
pub(crate) enum Stream {
    /// Plain TCP: what goes on the wire is pyact's frames as they are.
    Plain(TcpStream),
    /// TLS 1.3 over TCP: the whole byte stream, handshake frames included, travels inside.
    #[cfg(feature = "tls")]
    Tls(Box<super::tls::TlsStream>),
}

impl Stream {
    /// The connector's stream on `tcp`, dialled to node `peer` (`host:port`): TLS if this
    /// node has [`NodeOptions::tls`](crate::NodeOptions) set (then the TLS handshake runs
    /// now, by `deadline`, and the peer's certificate must name `host`), else plain.
    pub(crate) fn connect(
        tcp: TcpStream,
        opts: &NodeOptions,
        peer: &str,
        deadline: Instant,
    ) -> Result<Stream, HandshakeError> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &opts.tls {
            return super::tls::connect(tcp, tls, peer, deadline).map(|s| Stream::Tls(Box::new(s)));
        }
        let _ = (opts, peer, deadline);
        Ok(Stream::Plain(tcp))
    }

    /// The acceptor's stream on `tcp`: TLS if this node has TLS set (the TLS handshake runs
    /// now, by `deadline`, and the peer must present a certificate signed by the configured
    /// CA), else plain. On failure the TCP stream comes back with the error (the listener
    /// may keep it in its tarpit).
    pub(crate) fn accept(
        tcp: TcpStream,
        opts: &NodeOptions,
        deadline: Instant,
    ) -> Result<Stream, (TcpStream, HandshakeError)> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &opts.tls {
            return super::tls::accept(tcp, tls, deadline).map(|s| Stream::Tls(Box::new(s)));
        }
        let _ = (opts, deadline);
        Ok(Stream::Plain(tcp))
    }

    /// The TCP socket underneath (for a duplicate descriptor, socket options).
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.tcp(),
        }
    }

    /// Give up the stream, keeping only its TCP socket (to keep it open unread).
    pub(crate) fn into_tcp(self) -> TcpStream {
        match self {
            Stream::Plain(s) => s,
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.into_tcp(),
        }
    }

    /// Each read call (however many socket reads it takes) must end within `t`.
    pub(crate) fn set_read_timeout(&mut self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.set_read_timeout(t),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.set_read_timeout(t),
        }
    }

    /// Each write call (however many socket writes it takes) must end within `t`.
    pub(crate) fn set_write_timeout(&mut self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.set_write_timeout(t),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.set_write_timeout(t),
        }
    }

    /// Shut the TCP socket down (no TLS close_notify: a closed connection is closed).
    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.tcp().shutdown(how)
    }

    /// Split into the reader's and the writer's halves. The timeouts last set become the
    /// halves' per-operation timeouts.
    pub(crate) fn split(self) -> io::Result<(ReadHalf, WriteHalf)> {
        match self {
            Stream::Plain(s) => {
                let (r, w) = s.split()?;
                Ok((ReadHalf::Plain(r), WriteHalf::Plain(w)))
            }
            #[cfg(feature = "tls")]
            Stream::Tls(s) => {
                let (r, w) = s.split()?;
                Ok((ReadHalf::Tls(r), WriteHalf::Tls(w)))
            }
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.flush(),
        }
    }
}

impl Timed for Stream {
    fn set_timeouts(&mut self, t: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(t))?;
        self.set_write_timeout(Some(t))
    }
}

/// The reader coroutine's half: plaintext in (`Ok(0)`: the peer closed).
pub(crate) enum ReadHalf {
    Plain(SplitReader<TcpStream>),
    #[cfg(feature = "tls")]
    Tls(super::tls::TlsReader),
}

impl Read for ReadHalf {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ReadHalf::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            ReadHalf::Tls(s) => s.read(buf),
        }
    }
}

/// The writer coroutine's half.
pub(crate) enum WriteHalf {
    Plain(SplitWriter<TcpStream>),
    #[cfg(feature = "tls")]
    Tls(super::tls::TlsWriter),
}

impl WriteHalf {
    /// One step of writing `buf`, for a writer that measures progress (`write_batch` in
    /// `connection.rs`): `Ok(n)` means the socket took bytes and the first `n` bytes of
    /// `buf` are done (`n` may be 0 with TLS: the socket took part of records already
    /// encrypted; call again with the same `buf`, or an empty one once all of it is done,
    /// while [`has_pending`](Self::has_pending)); a `TimedOut` or `WouldBlock` error means
    /// the socket took nothing for one write timeout, and nothing of `buf` was consumed
    /// that a retry with the same `buf` would not find.
    pub(crate) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            WriteHalf::Plain(s) => match s.write(buf)? {
                0 if !buf.is_empty() => Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "the socket took no bytes",
                )),
                n => Ok(n),
            },
            #[cfg(feature = "tls")]
            WriteHalf::Tls(s) => s.write(buf),
        }
    }

    /// Bytes the caller has handed over that have not all reached the socket yet (TLS
    /// records encrypted but not written): more calls of [`write`](Self::write) are needed.
    pub(crate) fn has_pending(&self) -> bool {
        match self {
            WriteHalf::Plain(_) => false,
            #[cfg(feature = "tls")]
            WriteHalf::Tls(s) => s.has_pending(),
        }
    }
}
