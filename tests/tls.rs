//! Encrypted links (feature `tls`, `src/remote/tls.rs`): nodes with certificates from one
//! CA talk; a certificate from another CA, a plain peer, a wrong cookie or a certificate
//! for another host are refused; a relay in the middle sees no message text.
//!
//! Certificates are made with `rcgen` (`benches/common/certs.rs`) into a temporary directory.
#![cfg(feature = "tls")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[allow(dead_code)] // each test binary uses part of the shared helpers
mod common;

use common::spawn_echo;

use pyact::remote::TlsOptions;
use pyact::{Address, Mesh, Node, NodeOptions, SendError, Value, json};
use rcgen::{CertifiedIssuer, KeyPair};

#[path = "../benches/common/certs.rs"]
mod certs;

const COOKIE: &str = "tls-test-cookie-0123456789";

/// A directory of its own under the system's temporary directory, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let d = std::env::temp_dir().join(format!(
            "pyact-tls-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A certificate authority, its certificate in a PEM file.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
    pem: PathBuf,
}

fn ca(dir: &TempDir, name: &str) -> Ca {
    let issuer = certs::ca(name);
    let pem = dir.write(&format!("{name}.pem"), &issuer.pem());
    Ca { issuer, pem }
}

/// A node certificate signed by `ca`, naming `hosts`: (chain file, key file).
fn node_cert(dir: &TempDir, ca: &Ca, name: &str, hosts: &[&str]) -> (PathBuf, PathBuf) {
    let (cert, key) = certs::node_cert(&ca.issuer, name, hosts);
    (
        dir.write(&format!("{name}.pem"), &cert),
        dir.write(&format!("{name}.key"), &key),
    )
}

/// TLS options of a node with a certificate from `ca` naming 127.0.0.1.
fn tls(dir: &TempDir, ca: &Ca, name: &str) -> TlsOptions {
    let (chain, key) = node_cert(dir, ca, name, &["127.0.0.1"]);
    TlsOptions::from_pem_files(chain, key, &ca.pem).unwrap()
}

fn node(cookie: &str, opts: NodeOptions) -> Node {
    Node::with_options(&Mesh::new(), &format!("{cookie}@127.0.0.1:0"), opts).unwrap()
}

fn tls_node(dir: &TempDir, ca: &Ca, name: &str) -> Node {
    node(COOKIE, NodeOptions::default().tls(tls(dir, ca, name)))
}

/// `from` dials `to` (with the common cookie) and is refused: the error's text.
fn refused(from: &Node, to: &Node) -> String {
    from.connect(&format!("{COOKIE}@{}", to.name()))
        .expect_err("the connection was refused")
        .to_string()
}

/// An actor that reports every message it receives to `to`.
fn spawn_recorder(on: &Node, to: Address) -> Address {
    on.spawn(move |mut mb| {
        loop {
            let m = mb.receive();
            to.send(m).unwrap();
        }
    })
}

#[test]
fn two_tls_nodes_exchange_messages_both_ways_in_order() {
    let dir = TempDir::new();
    let ca = ca(&dir, "cluster-ca");
    let a = tls_node(&dir, &ca, "a");
    let b = tls_node(&dir, &ca, "b");
    let echo = spawn_echo(&b);
    let mut inbox = a.inbox();
    for n in 0..300 {
        echo.send(json!({"reply_to": inbox.addr(), "n": n}))
            .unwrap();
    }
    for n in 0..300 {
        assert_eq!(
            inbox.receive_timeout(Duration::from_secs(30)).unwrap()["echo"],
            n
        );
    }
    // Large messages cross many TLS records (and write pieces) intact, both ways.
    let big = "x".repeat(3 << 20);
    echo.send(json!({"reply_to": inbox.addr(), "n": big}))
        .unwrap();
    let back = inbox.receive_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!(back["echo"].as_str().map(str::len), Some(3 << 20));
    // A remote wait on the same connection, the other way round.
    let here = a.spawn(|_| 7);
    assert_eq!(b.wait(&here).unwrap(), 7);
    echo.send("stop").unwrap();
    assert!(a.wait(&echo).is_ok());
    assert_eq!(a.connected_nodes(), [b.name()]);
}

/// The barrier after a refusal: `text`, sent to `rec` from the accepted node `good`, is the
/// first message the recorder ever reports to `seen` (so nothing from the refused node got
/// through before it; the deadline only bounds a failure).
fn member_gets_through(good: &Node, rec: &Address, seen: &mut pyact::Mailbox, text: &'static str) {
    let _ctx = good.inbox();
    rec.send(text).unwrap();
    let first = seen
        .receive_timeout(Duration::from_secs(30))
        .expect("the barrier message arrives");
    assert_eq!(first, text);
}

#[test]
fn a_node_with_a_certificate_from_another_ca_is_refused_and_nothing_is_delivered() {
    let dir = TempDir::new();
    let ca1 = ca(&dir, "ca-one");
    let ca2 = ca(&dir, "ca-two");
    let b = tls_node(&dir, &ca1, "b");
    let good = tls_node(&dir, &ca1, "good");
    // It trusts b's CA (so only b's check of its certificate can refuse it).
    let (chain, key) = node_cert(&dir, &ca2, "stranger", &["127.0.0.1"]);
    let stranger = node(
        COOKIE,
        NodeOptions::default().tls(TlsOptions::from_pem_files(chain, key, &ca1.pem).unwrap()),
    );
    // A node with a certificate b accepts, that trusts only the other CA: its check of
    // b's certificate, as the acceptor, is what refuses b when b dials it.
    let (chain, key) = node_cert(&dir, &ca1, "picky", &["127.0.0.1"]);
    let picky = node(
        COOKIE,
        NodeOptions::default().tls(TlsOptions::from_pem_files(chain, key, &ca2.pem).unwrap()),
    );
    let mut seen = b.inbox();
    let rec = spawn_recorder(&b, seen.addr());

    // It dials: refused by b (b does not accept its certificate).
    let err = refused(&stranger, &b);
    assert!(err.contains("TLS"), "{err}");
    // A send from it (this thread's context) fails and delivers nothing.
    {
        let _ctx = stranger.inbox();
        assert!(matches!(
            rec.send("from a stranger"),
            Err(SendError::NoConnection { .. })
        ));
    }
    // b dials it: refused by b itself (its certificate is not from b's CA).
    let err = refused(&b, &stranger);
    assert!(err.contains("certificate"), "{err}");
    let err = refused(&b, &picky);
    assert!(err.contains("TLS"), "{err}");
    assert!(b.connected_nodes().is_empty() && stranger.connected_nodes().is_empty());
    assert!(picky.connected_nodes().is_empty());

    // The barrier: a node with a good certificate gets through, and its message is the
    // first the recorder ever saw.
    member_gets_through(&good, &rec, &mut seen, "from a member");
}

#[test]
fn a_certificate_that_does_not_name_the_dialled_host_is_refused() {
    let dir = TempDir::new();
    let ca = ca(&dir, "cluster-ca");
    // Signed by the right CA, but for another host.
    let (chain, key) = node_cert(&dir, &ca, "elsewhere", &["127.0.0.9", "node9.example"]);
    let b = node(
        COOKIE,
        NodeOptions::default().tls(TlsOptions::from_pem_files(chain, key, &ca.pem).unwrap()),
    );
    let a = tls_node(&dir, &ca, "a");
    let err = refused(&a, &b);
    assert!(err.contains("certificate"), "{err}");
    assert!(a.connected_nodes().is_empty());
}

#[test]
fn plain_and_tls_nodes_refuse_each_other_without_waiting_for_a_deadline() {
    let dir = TempDir::new();
    let ca = ca(&dir, "cluster-ca");
    // A handshake deadline far longer than the assertions below allow: a refusal must
    // come from the mismatch itself, not from a deadline.
    let slow = |o: NodeOptions| o.connect_timeout(Duration::from_secs(5), Duration::from_secs(120));
    let t = node(
        COOKIE,
        slow(NodeOptions::default().tls(tls(&dir, &ca, "t"))),
    );
    let p = node(COOKIE, slow(NodeOptions::default()));
    for (from, to) in [(&p, &t), (&t, &p)] {
        let start = Instant::now();
        let r = from.connect(&format!("{COOKIE}@{}", to.name()));
        let err = r
            .expect_err("a plain node and a TLS node connected")
            .to_string();
        // Each side's error says what is wrong.
        assert!(err.contains("TLS"), "{err}");
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the refusal took {:?}",
            start.elapsed()
        );
    }
    // Both still serve their own kind.
    let t2 = tls_node(&dir, &ca, "t2");
    t2.connect(&format!("{COOKIE}@{}", t.name())).unwrap();
    let p2 = node(COOKIE, NodeOptions::default());
    p2.connect(&format!("{COOKIE}@{}", p.name())).unwrap();
    assert_eq!(t.connected_nodes(), [t2.name()]);
    assert_eq!(p.connected_nodes(), [p2.name()]);
}

#[test]
fn a_wrong_cookie_inside_tls_is_still_refused() {
    let dir = TempDir::new();
    let ca = ca(&dir, "cluster-ca");
    let b = tls_node(&dir, &ca, "b");
    let mut seen = b.inbox();
    let rec = spawn_recorder(&b, seen.addr());
    let other = node(
        "another-cookie-0123456789",
        NodeOptions::default().tls(tls(&dir, &ca, "other")),
    );
    let err = other
        .connect(&format!("another-cookie-0123456789@{}", b.name()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("cookie"), "{err}");
    {
        let _ctx = other.inbox();
        assert!(rec.send("no cookie").is_err());
    }
    let good = tls_node(&dir, &ca, "good");
    member_gets_through(&good, &rec, &mut seen, "with the cookie");
}

#[test]
fn a_silent_connection_to_a_tls_node_is_closed_at_the_handshake_deadline() {
    let dir = TempDir::new();
    let ca = ca(&dir, "cluster-ca");
    let opts = NodeOptions::default()
        .tls(tls(&dir, &ca, "b"))
        .connect_timeout(Duration::from_secs(5), Duration::from_millis(300));
    let b = node(COOKIE, opts);
    let mut s = TcpStream::connect(b.name()).unwrap();
    // Half a TLS record header, then nothing.
    s.write_all(&[0x16, 0x03]).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut buf = [0u8; 64];
    let r = s.read(&mut buf);
    // Closed (EOF or reset), not left open until our own read timeout.
    assert!(
        !matches!(&r, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
        "{r:?}"
    );
}

// --- a relay in the middle ----------------------------------------------------------------

/// A TCP relay on 127.0.0.1 to `target` for one connection, recording every byte it
/// forwards (in both directions) before forwarding it.
fn relay(target: &str) -> (String, Arc<Mutex<Vec<u8>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (target, seen2) = (target.to_string(), seen.clone());
    std::thread::spawn(move || {
        let (a, _) = l.accept().unwrap();
        let b = TcpStream::connect(&target).unwrap();
        let pump = |mut from: TcpStream, mut to: TcpStream, seen: Arc<Mutex<Vec<u8>>>| {
            std::thread::spawn(move || {
                let mut buf = [0u8; 16 << 10];
                loop {
                    match from.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            seen.lock().unwrap().extend_from_slice(&buf[..n]);
                            if to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = to.shutdown(std::net::Shutdown::Both);
            })
        };
        pump(
            a.try_clone().unwrap(),
            b.try_clone().unwrap(),
            seen2.clone(),
        );
        pump(b, a, seen2);
    });
    (addr, seen)
}

fn send_frame(s: &mut impl Write, f: &Value) {
    let body = serde_json::to_vec(f).unwrap();
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    s.write_all(&out).unwrap();
    s.flush().unwrap();
}

fn recv_frame(s: &mut impl Read) -> Value {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    serde_json::from_slice(&body).unwrap()
}

/// The name raw peers declare.
const RAW: &str = "127.0.0.1:1";

/// Through the stream `s` to node `node`: the connector's handshake as raw node [`RAW`].
fn raw_handshake(s: &mut (impl Read + Write), node: &str) {
    use common::wire::{RAW_CREATION, proof};
    let me = RAW;
    send_frame(
        s,
        &json!({"hello": {"proto": "pyact", "version": 2, "node": me, "creation": RAW_CREATION}}),
    );
    let ch = recv_frame(s);
    let c_b = ch["challenge"]["challenge"].as_str().unwrap().to_string();
    let kb = ch["challenge"]["creation"].as_u64().unwrap() as u32;
    let c_a = "cd".repeat(32);
    let d = proof(COOKIE, "A>B", &c_b, (me, RAW_CREATION), (node, kb));
    send_frame(s, &json!({"response": {"digest": d, "challenge": c_a}}));
    assert!(recv_frame(s).get("ack").is_some());
    assert_eq!(recv_frame(s), json!("admitted"));
}

/// Through the stream `s` to node `node`: the handshake, then a message with `text` to
/// `echo`, and the echo's answer back.
fn raw_round_trip(s: &mut (impl Read + Write), node: &str, echo: &Address, text: &str) -> Value {
    use common::wire::RAW_CREATION;
    let me = RAW;
    raw_handshake(s, node);
    let reply_to = json!({"$addr": format!("{me}/1/{RAW_CREATION}")});
    send_frame(
        s,
        &json!({"msg": {"to": echo.id(), "msg": {"reply_to": reply_to, "n": text}}}),
    );
    loop {
        let f = recv_frame(s);
        if let Some(m) = f.get("msg") {
            return m["msg"].clone();
        }
    }
}

/// A blocking rustls client with a certificate from `ca`, for the raw peer.
fn raw_tls_client(
    dir: &TempDir,
    ca: &Ca,
    relay_addr: &str,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let (chain, key) = node_cert(dir, ca, "raw", &["127.0.0.1"]);
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&ca.pem).unwrap())
        .unwrap();
    #[allow(deprecated)] // ring has no post-quantum key exchange; so does the node
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            CertificateDer::pem_file_iter(chain)
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap(),
            PrivateKeyDer::from_pem_file(key).unwrap(),
        )
        .unwrap();
    let conn = rustls::ClientConnection::new(
        Arc::new(cfg),
        ServerName::try_from("127.0.0.1".to_string()).unwrap(),
    )
    .unwrap();
    let tcp = TcpStream::connect(relay_addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn a_relay_between_two_nodes_sees_no_message_text() {
    let dir = TempDir::new();
    let ca = ca(&dir, "cluster-ca");
    let marker = "MARKER-the-text-of-a-message-4f1c";
    let check = |b: &Node, s: &mut dyn ReadWrite, seen: &Arc<Mutex<Vec<u8>>>| {
        let echo = spawn_echo(b);
        let back = raw_round_trip(&mut Dyn(s), b.name(), &echo, marker);
        assert_eq!(
            back,
            json!({"echo": marker}),
            "the text went through the relay"
        );
        let seen = seen.lock().unwrap().clone();
        (
            contains(&seen, marker),
            contains(&seen, "pyact") || contains(&seen, b.name()),
        )
    };
    // Control: between plain nodes, the relay reads everything (the check can fail).
    let p = node(COOKIE, NodeOptions::default());
    let (via, seen) = relay(p.name());
    let mut s = TcpStream::connect(&via).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    assert_eq!(check(&p, &mut s, &seen), (true, true));
    // With TLS: neither the message nor the handshake's names and protocol.
    let b = tls_node(&dir, &ca, "b");
    let (via, seen) = relay(b.name());
    let mut s = raw_tls_client(&dir, &ca, &via);
    assert_eq!(check(&b, &mut s, &seen), (false, false));
    // A pyact node dialling through the relay: its cookie handshake with b runs (b's
    // challenge arrives, and b's real name in it fails the dialled-name rule), all of it
    // unreadable on the way.
    let a = tls_node(&dir, &ca, "a");
    let (via, seen) = relay(b.name());
    let err = a
        .connect(&format!("{COOKIE}@{via}"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("peer declares {}", b.name())),
        "{err}"
    );
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.is_empty());
    for text in ["pyact", "hello", "challenge", a.name(), b.name()] {
        assert!(!contains(&seen, text), "the relay read {text:?}");
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// `&mut dyn ReadWrite` as a sized `Read + Write`.
struct Dyn<'a>(&'a mut dyn ReadWrite);

impl Read for Dyn<'_> {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(b)
    }
}

impl Write for Dyn<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.write(b)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[test]
fn failed_certificates_count_against_the_source_like_wrong_cookie_proofs() {
    let dir = TempDir::new();
    let ca1 = ca(&dir, "ca-one");
    let ca2 = ca(&dir, "ca-two");
    let opts = NodeOptions::default()
        .tls(tls(&dir, &ca1, "b"))
        .failed_handshakes(2, Duration::from_secs(3600));
    let b = node(COOKIE, opts);
    // Trusts b's CA, holds a certificate of the other: b's check refuses it.
    let (chain, key) = node_cert(&dir, &ca2, "stranger", &["127.0.0.1"]);
    let stranger = node(
        COOKIE,
        NodeOptions::default().tls(TlsOptions::from_pem_files(chain, key, &ca1.pem).unwrap()),
    );
    let mut errors = vec![];
    for _ in 0..10 {
        let e = refused(&stranger, &b);
        let unheard = !e.contains("UnknownCA");
        errors.push(e);
        if unheard {
            break;
        }
    }
    // Two refused certificates spent the source's two tokens: a later connection from the
    // address is closed unheard (before any TLS), not refused by a certificate check.
    assert!(
        !errors.last().unwrap().contains("UnknownCA"),
        "every attempt was heard: {errors:#?}"
    );
    assert!(errors.len() >= 3, "{errors:#?}");
}

#[test]
fn a_tls_peer_that_stops_reading_is_dropped_at_the_write_timeout() {
    let dir = TempDir::new();
    let ca = ca(&dir, "cluster-ca");
    let opts = NodeOptions::default()
        .tls(tls(&dir, &ca, "b"))
        .write_timeout(Duration::from_millis(500))
        .heartbeat(Duration::from_secs(1), Duration::from_secs(600));
    let b = node(COOKIE, opts);
    let mut events = b.inbox();
    b.monitor_nodes(&events.addr());
    let mut s = raw_tls_client(&dir, &ca, b.name());
    raw_handshake(&mut s, b.name());
    // It reads nothing from now on; b floods it until its writer gives up.
    let to: Address =
        serde_json::from_value(json!({"$addr": format!("{RAW}/1/{}", common::wire::RAW_CREATION)}))
            .unwrap();
    let flood = b.spawn(move |_| {
        let big = "y".repeat(64 << 10);
        for _ in 0..100_000 {
            if let Err(SendError::NoConnection { .. }) = to.send(json!({"pad": big})) {
                return;
            }
        }
    });
    let down = pyact::pattern!({"nodedown": = RAW});
    let (_, ev) = events
        .receive_match_timeout(&[&down], Duration::from_secs(120))
        .expect("the node that stopped reading is dropped");
    assert!(
        ev["reason"]
            .as_str()
            .unwrap_or("")
            .contains("stopped reading"),
        "{ev}"
    );
    let _ = b.wait(&flood);
    drop(s);
}

#[test]
fn floods_both_ways_at_once_arrive_whole_and_in_order() {
    // The reader and the writer of each connection share one TLS session: both busy at
    // once, on both nodes.
    let dir = TempDir::new();
    let ca = ca(&dir, "cluster-ca");
    let a = tls_node(&dir, &ca, "a");
    let b = tls_node(&dir, &ca, "b");
    const N: u64 = 5_000;
    let counter = |on: &Node| {
        on.spawn(|mut mb| {
            for i in 0..N {
                let m = mb.receive();
                if m["i"] != i || m["pad"].as_str().map(str::len) != Some(100 + (i % 5000) as usize)
                {
                    return json!({"bad": i, "got": m["i"]});
                }
            }
            json!("ok")
        })
    };
    let (on_a, on_b) = (counter(&a), counter(&b));
    let flood = |from: &Node, to: Address| {
        from.spawn(move |_| {
            for i in 0..N {
                let pad = "z".repeat(100 + (i % 5000) as usize);
                to.send(json!({"i": i, "pad": pad})).unwrap();
            }
        })
    };
    let (fa, fb) = (flood(&a, on_b.clone()), flood(&b, on_a.clone()));
    assert!(a.wait(&fa).is_ok() && b.wait(&fb).is_ok());
    assert_eq!(a.wait(&on_a).unwrap(), "ok");
    assert_eq!(b.wait(&on_b).unwrap(), "ok");
}

#[test]
fn bad_pem_input_is_an_error_not_a_panic() {
    let dir = TempDir::new();
    let ca = ca(&dir, "cluster-ca");
    let (chain, key) = node_cert(&dir, &ca, "n", &["127.0.0.1"]);
    let (chain, key, ca_pem) = (
        std::fs::read(chain).unwrap(),
        std::fs::read(key).unwrap(),
        std::fs::read(&ca.pem).unwrap(),
    );
    assert!(TlsOptions::from_pem(&chain, &key, &ca_pem).is_ok());
    let garbage = b"-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n";
    for (c, k, a) in [
        (&b""[..], &key[..], &ca_pem[..]),
        (&chain[..], &b""[..], &ca_pem[..]),
        (&chain[..], &key[..], &b""[..]),
        (&garbage[..], &key[..], &ca_pem[..]),
        (&chain[..], &chain[..], &ca_pem[..]), // a certificate where the key belongs
        (&key[..], &key[..], &key[..]),
    ] {
        assert!(TlsOptions::from_pem(c, k, a).is_err());
    }
    // A key that is not the certificate's.
    let (_, other_key) = node_cert(&dir, &ca, "other", &["127.0.0.1"]);
    let other_key = std::fs::read(other_key).unwrap();
    assert!(TlsOptions::from_pem(&chain, &other_key, &ca_pem).is_err());
    // Missing files name the file.
    let e = TlsOptions::from_pem_files(dir.0.join("missing.pem"), dir.0.join("n.key"), &ca.pem)
        .unwrap_err();
    assert!(e.to_string().contains("missing.pem"), "{e}");
}

#[test]
fn a_tls_handshake_longer_than_16_kib_is_refused() {
    // What an unauthenticated peer can make a node hold is bounded: a certificate chain
    // padded past the TLS handshake budget is refused, whichever side sends it.
    let dir = TempDir::new();
    let ca = ca(&dir, "cluster-ca");
    let (chain, key) = node_cert(&dir, &ca, "fat", &["127.0.0.1"]);
    let mut fat_chain = std::fs::read_to_string(&chain).unwrap();
    let ca_pem = std::fs::read_to_string(&ca.pem).unwrap();
    while fat_chain.len() < 48 << 10 {
        fat_chain.push_str(&ca_pem);
    }
    let fat_chain = dir.write("fat-chain.pem", &fat_chain);
    let fat = node(
        COOKIE,
        NodeOptions::default().tls(TlsOptions::from_pem_files(fat_chain, key, &ca.pem).unwrap()),
    );
    let b = tls_node(&dir, &ca, "b");
    // b dials it: b reads the fat node's flight and stops at the budget.
    let err = refused(&b, &fat);
    assert!(err.contains("over 16 KiB"), "{err}");
    // It dials b: b stops reading at the budget and closes.
    assert!(fat.connect(&format!("{COOKIE}@{}", b.name())).is_err());
    assert!(b.connected_nodes().is_empty() && fat.connected_nodes().is_empty());
    // An ordinary chain is far below it.
    let c = tls_node(&dir, &ca, "c");
    c.connect(&format!("{COOKIE}@{}", b.name())).unwrap();
}

#[test]
fn a_trickled_tls_handshake_is_closed_at_the_one_deadline() {
    // One byte every 20 ms never lets a read time out; the handshake's one deadline
    // (counted from the accept, not per read) closes the connection all the same.
    let dir = TempDir::new();
    let ca = ca(&dir, "cluster-ca");
    let opts = NodeOptions::default()
        .tls(tls(&dir, &ca, "b"))
        .connect_timeout(Duration::from_secs(5), Duration::from_millis(300));
    let b = node(COOKIE, opts);
    let mut s = TcpStream::connect(b.name()).unwrap();
    let mut reader = s.try_clone().unwrap();
    reader
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let closed = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        // The node sends nothing before the client's hello is complete: the first thing
        // this sees is the close.
        let r = reader.read(&mut buf);
        !matches!(&r, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut))
    });
    // A handshake record of 16 KiB holding the start of a ClientHello of 16 KiB - 4, then
    // the rest of its body a byte at a time.
    let _ = s.write_all(&[0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0x3f, 0xfc]);
    let start = Instant::now();
    while !closed.is_finished() && start.elapsed() < Duration::from_secs(60) {
        if s.write_all(&[0x00]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        closed.join().unwrap(),
        "the trickling connection was never closed"
    );
}

/// The bench driver's TLS mode (`examples/workload.rs` with `PYACT_TLS`, which
/// `benches/compare.sh`'s TLS rows run): `certs DIR` writes a CA and a node certificate
/// that `TlsOptions` accepts, a client and a server using them exchange messages both
/// ways, and a plain client is refused with the reason (so the rows are TLS, not plain).
#[test]
fn the_workload_example_runs_its_remote_rows_over_tls() {
    use std::process::{Command, Stdio};
    const PATIENCE: Duration = Duration::from_secs(120);
    let bin = common::example::binary_with("workload", "tls");
    let dir = TempDir::new();
    let out = common::child::output(Command::new(&bin).arg("certs").arg(&dir.0), PATIENCE);
    assert!(out.status.success(), "{out:?}");
    TlsOptions::from_pem_files(
        dir.0.join("node.pem"),
        dir.0.join("node.key"),
        dir.0.join("ca.pem"),
    )
    .expect("the files `workload certs` wrote");
    let mut server = Command::new(&bin)
        .arg("serve")
        .env("PYACT_TLS", &dir.0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ready = common::child::first_line(&mut server, PATIENCE);
    let name = ready
        .strip_prefix("ready ")
        .expect("ready NODE")
        .to_string();
    // `workload MODE NODE N`
    let client = |mode: &str, tls: bool| {
        let mut cmd = Command::new(&bin);
        cmd.args([mode, &name, "200"]);
        match tls {
            true => cmd.env("PYACT_TLS", &dir.0),
            false => cmd.env_remove("PYACT_TLS"),
        };
        common::child::output(&mut cmd, PATIENCE)
    };
    for (mode, key) in [
        ("oneway", "msgs_per_s "),
        ("roundtrip", "us_per_round_trip "),
    ] {
        let out = client(mode, true);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(key),
            "{mode}: {out:?}"
        );
    }
    let out = client("oneway", false);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a plain client got through: {out:?}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("speaks TLS"),
        "{out:?}"
    );
    drop(server.stdin.take()); // `serve` ends when its standard input closes
    assert!(common::child::wait(&mut server, PATIENCE).success());
}
