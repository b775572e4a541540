//! Encrypted links (cargo feature `tls`): TLS 1.3 with mutual certificate authentication
//! under pyact's frames, set per node with [`NodeOptions::tls`](crate::NodeOptions::tls).
//!
//! **What it adds.** Without it, a node's traffic is plaintext after a cookie handshake
//! that proves who may join (see the [threat model](super#threat-model)). With it, every
//! byte of a connection, the cookie handshake included, travels inside a TLS 1.3 session
//! (rustls, the `ring` provider; AES-GCM or ChaCha20-Poly1305, X25519 or P-256 key
//! exchange, not post-quantum: a recording could be read by a future quantum computer): a
//! relay or an eavesdropper sees record sizes and timing, never a message, a node name or
//! a frame kind, and cannot alter or inject a frame without the connection failing. Both
//! sides present a certificate: a peer whose chain does not lead to the configured CA is
//! refused before it can send a single pyact frame; the dialled node's certificate must
//! also name its host (the `host` of `host:port`, as an IP address or DNS subject
//! alternative name). The cookie handshake then runs inside the session as before, so a
//! member needs both a certificate and the cookie.
//!
//! **Both sides must agree.** A TLS node speaks only TLS and a plain node only plain: a
//! plain peer's `Hello` is not a TLS record (the TLS side closes at once), and a TLS
//! `ClientHello` read as a frame announces a frame of hundreds of megabytes (the plain side
//! closes at once). Neither waits for a deadline.
//!
//! **One session, two coroutines.** A connection has a reader coroutine and a writer
//! coroutine on one socket (`may`'s split halves: one registration for reads, one for
//! writes). A rustls [`Connection`] is one state machine, so it sits behind a small lock
//! that is never held across a socket operation:
//! - the reader reads ciphertext from its half *outside* the lock, then under it hands it
//!   to rustls (`read_tls`, `process_new_packets`) and copies out the plaintext;
//! - the writer encrypts a piece of its batch under the lock into a buffer of its own,
//!   and writes that buffer outside it. It is the only one that writes records, so records
//!   leave in the order rustls made them. What the reader's processing makes rustls want
//!   to send (a key update answer) waits in rustls for the writer's next batch, at the
//!   latest the next heartbeat. Session tickets are off (no resumption), so nothing else is
//!   ever sent unasked.
//!
//! The lock is held for one read's worth of decryption (at most 64 KiB) or one piece of
//! encryption (at most 64 KiB of plaintext), tens of microseconds.
//!
//! **Cost** (`benches/remote_tls.rs`, figures in BENCHMARKS.md): on a loaded 2-core box, a
//! remote round trip took 0.98–1.13x and small-message throughput 0.76–0.96x of plain TCP;
//! opening a connection takes a few milliseconds instead of a fraction of one (certificate
//! checks and signatures on both sides, two more round trips).
//!
//! **Bounds before authentication** (what an unauthenticated peer can make us hold; see
//! the threat model): the TLS handshake shares the cookie handshake's one deadline
//! ([`NodeOptions::connect_timeout`](crate::NodeOptions::connect_timeout)'s handshake
//! part) and its slot among [`NodeOptions::max_handshakes`](crate::NodeOptions); at most
//! 16 KiB is read from a peer during the TLS handshake (its hello, certificate chain,
//! signature: a longer chain is refused), so rustls holds no more than that for it, and
//! nothing is read before; each connection costs the acceptor one key exchange and one
//! signature. A peer whose certificate fails counts as a failed proof for the per-source
//! rate limit ([`NodeOptions::failed_handshakes`](crate::NodeOptions::failed_handshakes)).
//!
//! Two nodes with certificates from one CA (made here with `rcgen`; a real cluster reads
//! PEM files with [`TlsOptions::from_pem_files`]):
//!
//! ```
//! use pyact::remote::TlsOptions;
//! use pyact::{Mesh, Node, NodeOptions};
//! use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
//!
//! let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
//! ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
//! let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
//! // A certificate naming the node's host, signed by the CA, and the node's options.
//! let node_tls = || {
//!     let key = KeyPair::generate().unwrap();
//!     let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
//!         .unwrap()
//!         .signed_by(&key, &ca)
//!         .unwrap();
//!     let (chain, key, ca) = (cert.pem(), key.serialize_pem(), ca.pem());
//!     TlsOptions::from_pem(chain.as_bytes(), key.as_bytes(), ca.as_bytes()).unwrap()
//! };
//! let mesh = Mesh::new();
//! let cookie = pyact::remote::random_cookie().unwrap();
//! let a = Node::with_options(&mesh, &format!("{cookie}@127.0.0.1:0"), NodeOptions::default().tls(node_tls())).unwrap();
//! let b = Node::with_options(&mesh, &format!("{cookie}@127.0.0.1:0"), NodeOptions::default().tls(node_tls())).unwrap();
//! let far = b.spawn(|mut mb| mb.receive());
//! let _me = a.inbox(); // this thread sends from `a`
//! far.send("over TLS").unwrap();
//! assert_eq!(a.wait(&far).unwrap(), "over TLS");
//! ```

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use may::io::{SplitIo, SplitReader, SplitWriter};
use may::net::TcpStream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, Connection, RootCertStore, ServerConfig};
use rustls::{ServerConnection, server::WebPkiClientVerifier};

use super::handshake::HandshakeError;

/// A node's TLS settings: its certificate chain and private key, and the CA that every
/// peer's certificate must be signed by. Give it to [`NodeOptions::tls`](crate::NodeOptions::tls).
///
/// Files are read and checked when the options are made, so a missing file or a key that
/// does not parse is an error here, not a failed connection later.
#[derive(Clone)]
pub struct TlsOptions {
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
    /// Where the settings came from, for `Debug`.
    source: String,
}

impl std::fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsOptions")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

fn invalid(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {e}"))
}

impl TlsOptions {
    /// TLS settings from three PEM files: `cert_chain` (this node's certificate first, then
    /// any intermediates), `key` (its private key: PKCS#8, PKCS#1 or SEC1) and `ca` (one or
    /// more CA certificates that peers' chains must lead to).
    ///
    /// Every node of a cluster gets a certificate of its own, naming its host (the `host`
    /// of its `host:port` name) as a subject alternative name, IP address or DNS name, and
    /// usable for both server and client authentication (or with no extended key usage).
    ///
    /// ```
    /// let err = pyact::remote::TlsOptions::from_pem_files("/nonexistent/c.pem", "k.pem", "ca.pem");
    /// assert!(err.is_err()); // read at once: a missing file is an error here
    /// ```
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
        ca: impl AsRef<Path>,
    ) -> io::Result<TlsOptions> {
        let (cert_chain, key, ca) = (cert_chain.as_ref(), key.as_ref(), ca.as_ref());
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))
        };
        let mut opts = Self::from_pem(&read(cert_chain)?, &read(key)?, &read(ca)?)?;
        opts.source = format!(
            "chain {}, key {}, CA {}",
            cert_chain.display(),
            key.display(),
            ca.display()
        );
        Ok(opts)
    }

    /// TLS settings from PEM text in memory (the contents of the three files of
    /// [`from_pem_files`](Self::from_pem_files)).
    pub fn from_pem(cert_chain: &[u8], key: &[u8], ca: &[u8]) -> io::Result<TlsOptions> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_chain)
            .collect::<Result<_, _>>()
            .map_err(|e| invalid("certificate chain", e))?;
        if chain.is_empty() {
            return Err(invalid(
                "certificate chain",
                "no certificate in the PEM text",
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| invalid("private key", e))?;
        let mut roots = RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(ca) {
            let c = c.map_err(|e| invalid("CA certificate", e))?;
            roots.add(c).map_err(|e| invalid("CA certificate", e))?;
        }
        if roots.is_empty() {
            return Err(invalid("CA", "no certificate in the PEM text"));
        }
        let roots = Arc::new(roots);
        // rustls 0.23.48 deprecates ring's provider for lacking post-quantum key exchange
        // (aws-lc-rs has X25519MLKEM768, but builds a large C library): the classical
        // X25519/P-256 exchange stays, said in the module docs.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions = [&rustls::version::TLS13];
        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|e| invalid("CA", e))?;
        let mut server = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| invalid("TLS 1.3", e))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(|e| invalid("certificate and key", e))?;
        // No resumption: nothing is sent after the handshake that the writer did not ask for.
        server.send_tls13_tickets = 0;
        server.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        let mut client = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(|e| invalid("TLS 1.3", e))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| invalid("certificate and key", e))?;
        client.resumption = rustls::client::Resumption::disabled();
        // The dialled host is checked against the certificate, not announced in clear.
        client.enable_sni = false;
        Ok(TlsOptions {
            client: Arc::new(client),
            server: Arc::new(server),
            source: "PEM text".into(),
        })
    }
}

/// Most bytes a peer may send during the TLS handshake (its hello, its certificate chain,
/// its signature and Finished): what an unauthenticated peer can make us hold. 16 KiB is
/// several times a chain of three RSA-4096 certificates; rustls's own cap is 64 KiB.
pub(crate) const TLS_HANDSHAKE_MAX: u64 = 16 << 10;

/// Most plaintext encrypted per write step: four full records.
pub(crate) const PLAIN_CHUNK: usize = 64 << 10;

/// Most ciphertext the reader reads from the socket at once.
const CIPHER_CHUNK: usize = 64 << 10;

/// The host part of a node name `host:port` (`[v6]:port` too).
fn host_of(peer: &str) -> &str {
    let host = peer.rsplit_once(':').map_or(peer, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// What a rustls error means for the handshake: a certificate that does not pass is an
/// authentication failure (it counts like a wrong cookie proof), the rest a protocol one.
fn classify(e: rustls::Error) -> HandshakeError {
    use rustls::Error as E;
    match e {
        E::InvalidCertificate(_) | E::NoCertificatesPresented => {
            HandshakeError::Certificate(format!("TLS: {e}"))
        }
        E::AlertReceived(a) => HandshakeError::Refused(format!(
            "TLS alert {a:?} (the peer does not accept our certificate, or speaks no TLS 1.3?)"
        )),
        other => HandshakeError::Protocol(format!("TLS: {other} (the peer speaks no TLS?)")),
    }
}

fn tls_io(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, classify(e).to_string())
}

fn io_err(e: io::Error) -> HandshakeError {
    HandshakeError::Io(e.to_string())
}

/// Time left until `deadline`, or a `TimedOut` error if none.
fn left(deadline: Instant) -> io::Result<Duration> {
    let l = deadline.saturating_duration_since(Instant::now());
    if l.is_zero() {
        return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"));
    }
    Ok(l)
}

/// Write everything rustls wants to send, by `deadline`.
fn flush_by(conn: &mut Connection, tcp: &mut TcpStream, deadline: Instant) -> io::Result<()> {
    while conn.wants_write() {
        tcp.set_write_timeout(Some(left(deadline)?))?;
        if conn.write_tls(tcp)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "socket took no bytes",
            ));
        }
    }
    Ok(())
}

/// Run the TLS handshake on `tcp` by `deadline`.
fn handshake(
    conn: &mut Connection,
    tcp: &mut TcpStream,
    deadline: Instant,
) -> Result<(), HandshakeError> {
    // What the peer has sent so far: at most `TLS_HANDSHAKE_MAX` is ever read.
    let mut received = 0u64;
    while conn.is_handshaking() {
        flush_by(conn, tcp, deadline).map_err(io_err)?;
        if !conn.is_handshaking() {
            break;
        }
        let budget = TLS_HANDSHAKE_MAX - received;
        if budget == 0 {
            return Err(HandshakeError::Protocol(format!(
                "TLS: the peer's handshake is over {} KiB (a certificate chain that long?)",
                TLS_HANDSHAKE_MAX >> 10
            )));
        }
        tcp.set_read_timeout(Some(left(deadline).map_err(io_err)?))
            .map_err(io_err)?;
        // rustls reads into its own buffer, never more than the budget left.
        match conn.read_tls(&mut Read::take(&mut *tcp, budget)) {
            Ok(0) => {
                return Err(HandshakeError::Io(
                    "closed during the TLS handshake (the peer speaks no TLS, or refused us \
                     unheard: busy or rate-limited?)"
                        .into(),
                ));
            }
            Ok(n) => received += n as u64,
            Err(e) => return Err(io_err(e)),
        }
        if let Err(e) = conn.process_new_packets() {
            // The alert that says why, if it can go out at once.
            let _ = flush_by(conn, tcp, deadline);
            return Err(classify(e));
        }
    }
    // The client's last flight (its certificate and Finished).
    flush_by(conn, tcp, deadline).map_err(io_err)
}

/// The connector's TLS handshake with node `peer` (`host:port`).
pub(crate) fn connect(
    mut tcp: TcpStream,
    tls: &TlsOptions,
    peer: &str,
    deadline: Instant,
) -> Result<TlsStream, HandshakeError> {
    let name = ServerName::try_from(host_of(peer).to_string())
        .map_err(|e| HandshakeError::Protocol(format!("TLS: no server name in {peer}: {e}")))?;
    let conn = ClientConnection::new(tls.client.clone(), name)
        .map_err(|e| HandshakeError::Protocol(format!("TLS: {e}")))?;
    let mut conn = Connection::Client(conn);
    handshake(&mut conn, &mut tcp, deadline)?;
    Ok(TlsStream::new(tcp, conn))
}

/// The acceptor's TLS handshake.
pub(crate) fn accept(
    mut tcp: TcpStream,
    tls: &TlsOptions,
    deadline: Instant,
) -> Result<TlsStream, (TcpStream, HandshakeError)> {
    let conn = match ServerConnection::new(tls.server.clone()) {
        Ok(c) => c,
        Err(e) => return Err((tcp, HandshakeError::Protocol(format!("TLS: {e}")))),
    };
    let mut conn = Connection::Server(conn);
    match handshake(&mut conn, &mut tcp, deadline) {
        Ok(()) => Ok(TlsStream::new(tcp, conn)),
        Err(e) => Err((tcp, e)),
    }
}

/// An established TLS session with one owner (the cookie handshake and the admission).
/// Read and write timeouts are deadlines for a whole call.
pub(crate) struct TlsStream {
    tcp: TcpStream,
    conn: Connection,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

impl TlsStream {
    fn new(tcp: TcpStream, mut conn: Connection) -> Self {
        // Our own buffers bound what is queued (`PLAIN_CHUNK` per write step).
        conn.set_buffer_limit(None);
        TlsStream {
            tcp,
            conn,
            read_timeout: None,
            write_timeout: None,
        }
    }

    pub(crate) fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    pub(crate) fn into_tcp(self) -> TcpStream {
        self.tcp
    }

    pub(crate) fn set_read_timeout(&mut self, t: Option<Duration>) -> io::Result<()> {
        self.read_timeout = t;
        self.tcp.set_read_timeout(t)
    }

    pub(crate) fn set_write_timeout(&mut self, t: Option<Duration>) -> io::Result<()> {
        self.write_timeout = t;
        self.tcp.set_write_timeout(t)
    }

    /// The reader's and the writer's halves, sharing the session behind a lock.
    pub(crate) fn split(self) -> io::Result<(TlsReader, TlsWriter)> {
        // Per operation from now on (`read` above may have left a shorter one).
        self.tcp.set_read_timeout(self.read_timeout)?;
        self.tcp.set_write_timeout(self.write_timeout)?;
        let (r, w) = self.tcp.split()?;
        let conn = Arc::new(Mutex::new(self.conn));
        Ok((
            TlsReader {
                sock: r,
                conn: conn.clone(),
                cipher: vec![0; CIPHER_CHUNK],
                start: 0,
                end: 0,
            },
            TlsWriter {
                sock: w,
                conn,
                pending: Vec::new(),
                pos: 0,
                credit: 0,
            },
        ))
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = self.read_timeout.map(|t| Instant::now() + t);
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if let Some(d) = deadline {
                self.tcp.set_read_timeout(Some(left(d)?))?;
            }
            if self.conn.read_tls(&mut self.tcp)? == 0 {
                return Ok(0);
            }
            self.conn.process_new_packets().map_err(tls_io)?;
        }
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.conn.writer().write_all(buf)?;
        self.flush()?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + self.write_timeout.unwrap_or(Duration::from_secs(3600));
        flush_by(&mut self.conn, &mut self.tcp, deadline)?;
        self.tcp.set_write_timeout(self.write_timeout)
    }
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The reader coroutine's half of a TLS connection.
pub(crate) struct TlsReader {
    sock: SplitReader<TcpStream>,
    conn: Arc<Mutex<Connection>>,
    /// Ciphertext read from the socket and not yet handed to rustls: `cipher[start..end]`.
    cipher: Vec<u8>,
    start: usize,
    end: usize,
}

impl Read for TlsReader {
    /// Plaintext into `buf`: as much as the ciphertext at hand decrypts to, reading the
    /// socket (outside the lock) only when none is at hand. `Ok(0)`: the peer closed.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut rounds = 0u32;
        loop {
            let mut got = 0;
            {
                let mut c = lock(&self.conn);
                loop {
                    match c.reader().read(&mut buf[got..]) {
                        // The peer's close_notify (after any plaintext before it).
                        Ok(0) => return Ok(got),
                        Ok(n) => got += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) if got > 0 => {
                            log::debug!("TLS read after {got} bytes: {e}");
                            return Ok(got);
                        }
                        Err(e) => return Err(e),
                    }
                    if got == buf.len() || self.start == self.end {
                        break;
                    }
                    let mut rd = &self.cipher[self.start..self.end];
                    let n = c.read_tls(&mut rd)?;
                    self.start = if n == 0 { self.end } else { self.start + n };
                    c.process_new_packets().map_err(tls_io)?;
                }
            }
            if got > 0 {
                return Ok(got);
            }
            // Nothing decrypted: read more ciphertext, outside the lock.
            let n = self.sock.read(&mut self.cipher)?;
            if n == 0 {
                return Ok(0);
            }
            (self.start, self.end) = (0, n);
            // Records that carry no plaintext (empty ones, key updates) cannot keep this
            // coroutine from letting others run.
            rounds += 1;
            if rounds.is_multiple_of(16) {
                may::coroutine::yield_now();
            }
        }
    }
}

/// The writer coroutine's half of a TLS connection: encrypts a piece of the caller's
/// bytes under the lock, then writes the records outside it.
pub(crate) struct TlsWriter {
    sock: SplitWriter<TcpStream>,
    conn: Arc<Mutex<Connection>>,
    /// Records to write: `pending[pos..]`.
    pending: Vec<u8>,
    pos: usize,
    /// Bytes at the start of the caller's `buf` already in `pending`: reported done when
    /// `pending` is all written.
    credit: usize,
}

impl TlsWriter {
    /// See [`super::transport::WriteHalf::write`].
    pub(crate) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.pos == self.pending.len() && self.credit == 0 {
            self.pending.clear();
            self.pos = 0;
            if !buf.is_empty() {
                let take = buf.len().min(PLAIN_CHUNK);
                let mut c = lock(&self.conn);
                c.writer().write_all(&buf[..take])?;
                // Also whatever the reader's processing queued (a key update answer),
                // in rustls's order.
                while c.wants_write() {
                    c.write_tls(&mut self.pending)?;
                }
                self.credit = take;
            }
        }
        if self.pos < self.pending.len() {
            let n = self.sock.write(&self.pending[self.pos..])?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "the socket took no bytes",
                ));
            }
            self.pos += n;
            if self.pos < self.pending.len() {
                return Ok(0);
            }
        }
        debug_assert!(self.credit <= buf.len());
        Ok(std::mem::take(&mut self.credit))
    }

    /// Records encrypted and not all written yet.
    pub(crate) fn has_pending(&self) -> bool {
        self.pos < self.pending.len()
    }
}
