//! The connection handshake: both nodes prove they know the cookie without sending it, say
//! who they are (name and creation number), and refuse to be fooled into vouching for
//! themselves.
//!
//! Version 2, four frames (each a `Frame` (see `frame.rs`) with at most 4 KiB of JSON):
//!
//! ```text
//! connector A                                               acceptor B
//!   Hello {proto: "pyact", version: 2, node: A, creation: kA}  ->
//!                      <-  Challenge {version: 2, node: B, creation: kB, challenge: cB}
//!   Response {digest: H(k, "A>B", cB, A, kA, B, kB), challenge: cA}  ->
//!                                   B checks the digest; on mismatch: Refused, close
//!                      <-  Ack {digest: H(k, "B>A", cA, B, kB, A, kA)}
//!   A checks the digest; on mismatch: close
//! ```
//!
//! `H` is HMAC-SHA-256 keyed with the cookie (see [`digest`]); `cA`, `cB` are 32 fresh bytes
//! from the OS random generator, hex-encoded. The acceptor answers nothing about the cookie
//! until the connector has proved it, so a wrong-cookie peer learns only that its proof
//! failed (`Refused {why: "bad cookie proof"}`: which check failed, never anything about the
//! cookie, so the connecting side's error and log can say the likely cause); each side's
//! digest covers its own direction, both node names and creations and the other side's fresh
//! challenge, so a recorded handshake cannot be replayed.
//!
//! **Reflection.** A peer without the cookie could try to make a node prove the cookie *to
//! itself*: when the node dials it, the attacker opens a second connection to the node's
//! own listener and relays the node's own challenge and name back to the dialer, then relays
//! the dialer's proof to the listener. Three rules close that door, each enough on its own
//! for the attack of issue 7:
//! - a peer may not declare our own node name (acceptor: in `Hello`; connector: in
//!   `Challenge`);
//! - a challenge this node issued itself (and that is still outstanding, on either side of
//!   any handshake) is never answered;
//! - the name the acceptor declares must equal the name that was dialled.
//!
//! **Who is heard.** The acceptor's steps go through a [`Gate`]: the listener's notes each
//! handshake's progress (so that the door evicts the least advanced first) and, before a
//! proof is checked, takes a token of the node-wide guess budget, waiting in a fair queue if
//! there is none (`door.rs`); a right proof gives the token back.
//!
//! **Deadline.** The whole handshake, not each read, must finish within one deadline
//! ([`NodeOptions::connect_timeout`](crate::NodeOptions::connect_timeout), default 5 s): a
//! peer trickling one byte at a time cannot hold a connection longer than that.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::digest::{constant_time_eq, hex, hmac_sha256, random_bytes};
use super::frame::{Decoder, Frame, HANDSHAKE_MAX_FRAME, PROTOCOL_VERSION, encode_into};

/// Why a handshake failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HandshakeError {
    /// The peer's proof did not match: it has another cookie.
    BadCookie,
    /// The peer claimed an identity it may not have: our own name, our own challenge, or
    /// another name than the one dialled.
    Identity(String),
    /// The peer speaks another protocol or version.
    Protocol(String),
    /// The peer refused us.
    Refused(String),
    /// I/O failed, or the handshake deadline passed.
    Io(String),
    /// The proof was not checked: the node-wide guess budget had no token before the
    /// deadline, or another connection took this one's slot (see `door.rs`).
    NotHeard(String),
    /// The peer's TLS certificate did not pass (feature `tls`): an authentication failure,
    /// counted like a wrong cookie proof.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Certificate(String),
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandshakeError::BadCookie => {
                f.write_str("peer failed the cookie challenge (the two nodes' cookies differ?)")
            }
            HandshakeError::Identity(e) => write!(f, "peer claims a false identity: {e}"),
            HandshakeError::Protocol(e) => write!(f, "protocol error: {e}"),
            HandshakeError::Refused(e) => {
                write!(f, "refused by the peer: {e}{}", likely_cause(e))
            }
            HandshakeError::Io(e) => write!(f, "i/o error during handshake: {e}"),
            HandshakeError::NotHeard(e) => write!(f, "proof not checked: {e}"),
            HandshakeError::Certificate(e) => write!(f, "peer's certificate refused: {e}"),
        }
    }
}

/// A stream whose read and write deadlines the handshake can set (the remaining time of its
/// one overall deadline before each read or write).
pub(crate) trait Timed: Read + Write {
    /// Set both the read and the write timeout.
    fn set_timeouts(&mut self, t: Duration) -> std::io::Result<()>;
}

impl Timed for may::net::TcpStream {
    fn set_timeouts(&mut self, t: Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(t))?;
        self.set_write_timeout(Some(t))
    }
}

impl Timed for std::net::TcpStream {
    fn set_timeouts(&mut self, t: Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(t))?;
        self.set_write_timeout(Some(t))
    }
}

/// Challenges this node has issued and not yet seen answered, on either side of any
/// handshake in progress: a peer that hands one back to us is reflecting it.
#[derive(Default)]
pub(crate) struct Issued(Mutex<HashSet<String>>);

impl Issued {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh challenge, recorded until the returned guard drops.
    fn issue(&self) -> Result<IssuedGuard<'_>, HandshakeError> {
        let c = random_bytes::<32>()
            .map(|b| hex(&b))
            .map_err(|e| HandshakeError::Io(format!("no randomness: {e}")))?;
        self.lock().insert(c.clone());
        Ok(IssuedGuard {
            set: self,
            challenge: c,
        })
    }

    fn is_ours(&self, c: &str) -> bool {
        self.lock().contains(c)
    }
}

struct IssuedGuard<'a> {
    set: &'a Issued,
    challenge: String,
}

impl Drop for IssuedGuard<'_> {
    fn drop(&mut self) {
        self.set.lock().remove(&self.challenge);
    }
}

/// This node's side of a handshake.
pub(crate) struct Me<'a> {
    /// Our node name (`host:port`).
    pub(crate) name: &'a str,
    /// Our creation number.
    pub(crate) creation: u32,
    /// The cookie to prove (and to expect).
    pub(crate) cookie: &'a str,
    /// Our outstanding challenges.
    pub(crate) issued: &'a Issued,
    /// When the whole handshake must be over.
    pub(crate) deadline: Instant,
}

/// Who the peer turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Declared {
    /// The peer's node name.
    pub(crate) name: String,
    /// The peer's creation number (nonzero).
    pub(crate) creation: u32,
}

#[allow(clippy::too_many_arguments)]
fn digest(
    cookie: &str,
    dir: &str,
    challenge: &str,
    from: &str,
    from_creation: u32,
    to: &str,
    to_creation: u32,
) -> String {
    let msg = format!(
        "pyact-v{PROTOCOL_VERSION}|{dir}|{challenge}|{from}|{from_creation}|{to}|{to_creation}"
    );
    hex(&hmac_sha256(cookie.as_bytes(), msg.as_bytes()))
}

fn remaining(me: &Me) -> Result<Duration, HandshakeError> {
    let left = me.deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(HandshakeError::Io("handshake deadline passed".into()));
    }
    Ok(left)
}

fn send<S: Timed>(s: &mut S, me: &Me, f: &Frame) -> Result<(), HandshakeError> {
    let mut out = Vec::new();
    encode_into(f, &mut out);
    s.set_timeouts(remaining(me)?)
        .and_then(|_| s.write_all(&out))
        .and_then(|_| s.flush())
        .map_err(|e| HandshakeError::Io(e.to_string()))
}

fn recv<S: Timed>(s: &mut S, me: &Me, d: &mut Decoder) -> Result<Frame, HandshakeError> {
    loop {
        match d.next_frame() {
            Ok(Some(f)) => return Ok(f),
            Ok(None) => {}
            Err(e) => return Err(HandshakeError::Protocol(format!("{e}{}", speaks_tls(&e)))),
        }
        s.set_timeouts(remaining(me)?)
            .map_err(|e| HandshakeError::Io(e.to_string()))?;
        let buf = d.spare(4096);
        let n = s.read(buf);
        match n {
            Ok(0) => {
                d.filled(4096, 0);
                return Err(HandshakeError::Io("connection closed".into()));
            }
            Ok(n) => d.filled(4096, n),
            Err(e) => {
                d.filled(4096, 0);
                return Err(HandshakeError::Io(e.to_string()));
            }
        }
    }
}

/// A hint when a "length prefix" was really the header of a TLS record (content type 20 to
/// 23, version 3.x): the peer has encrypted links on (feature `tls`) and we do not.
fn speaks_tls(e: &super::frame::FrameError) -> &'static str {
    match e {
        super::frame::FrameError::TooLarge { size, .. }
            if (0x14..=0x17).contains(&(size >> 24)) && (size >> 16) & 0xff == 0x03 =>
        {
            " (the peer speaks TLS: give this node NodeOptions::tls too, or take it off the peer)"
        }
        _ => "",
    }
}

/// What the acceptor tells a connector it refuses: which check failed, never a secret (the
/// connector learns that its cookie proof failed, not anything about the cookie).
fn public_reason(err: &HandshakeError) -> String {
    match err {
        HandshakeError::BadCookie => BAD_COOKIE.into(),
        HandshakeError::Identity(e) => format!("identity: {e}"),
        HandshakeError::Protocol(e) => format!("protocol: {e}"),
        HandshakeError::Refused(e)
        | HandshakeError::Io(e)
        | HandshakeError::NotHeard(e)
        | HandshakeError::Certificate(e) => e.clone(),
    }
}

/// The reason an acceptor gives for a failed cookie proof.
pub(crate) const BAD_COOKIE: &str = "bad cookie proof";

/// The likely cause of a refusal whose reason the acceptor gave as `why`, for the
/// connector's error and log line.
pub(crate) fn likely_cause(why: &str) -> &'static str {
    if why.starts_with(BAD_COOKIE) {
        " (the two nodes' cookies differ?)"
    } else if why.starts_with("already connected") {
        " (another node already uses this node's name with that peer, or an old connection \
         is not gone yet?)"
    } else if why.starts_with("unsupported protocol version") {
        " (the nodes run different pyact versions?)"
    } else if why.starts_with("busy") {
        " (the peer is at its handshake limit: many nodes connecting at once, or an attack?)"
    } else if why.starts_with("rate-limited") {
        " (too many failed handshakes came from this address: wrong cookies?)"
    } else if why.starts_with("identity") {
        " (two nodes share a name, or a node dialled itself?)"
    } else {
        ""
    }
}

fn refuse<S: Timed>(s: &mut S, me: &Me, err: HandshakeError) -> HandshakeError {
    let _ = send(
        s,
        me,
        &Frame::Refused {
            why: public_reason(&err),
        },
    );
    err
}

/// The connector's side: we dialled `dialled`. Returns who the peer is and the decoder
/// (which may already hold the peer's first traffic frames).
pub(crate) fn connect<S: Timed>(
    s: &mut S,
    me: &Me,
    dialled: &str,
) -> Result<(Declared, Decoder), HandshakeError> {
    let mut d = Decoder::new(HANDSHAKE_MAX_FRAME);
    send(
        s,
        me,
        &Frame::Hello {
            proto: "pyact".into(),
            version: PROTOCOL_VERSION,
            node: me.name.into(),
            creation: me.creation,
        },
    )?;
    let (peer, c_b) = match recv(s, me, &mut d)? {
        Frame::Challenge {
            version,
            node,
            creation,
            challenge,
        } if version == PROTOCOL_VERSION => (
            Declared {
                name: node,
                creation,
            },
            challenge,
        ),
        Frame::Refused { why } => return Err(HandshakeError::Refused(why)),
        other => {
            return Err(HandshakeError::Protocol(format!(
                "expected challenge, got {other:?}"
            )));
        }
    };
    if peer.name == me.name {
        return Err(HandshakeError::Identity(
            "peer declares our own name".into(),
        ));
    }
    if peer.name != dialled {
        return Err(HandshakeError::Identity(format!(
            "dialled {dialled}, peer declares {}",
            peer.name
        )));
    }
    if peer.creation == 0 {
        return Err(HandshakeError::Protocol("creation number 0".into()));
    }
    if me.issued.is_ours(&c_b) {
        return Err(HandshakeError::Identity(
            "peer reflects a challenge we issued".into(),
        ));
    }
    let c_a = me.issued.issue()?;
    send(
        s,
        me,
        &Frame::Response {
            digest: digest(
                me.cookie,
                "A>B",
                &c_b,
                me.name,
                me.creation,
                &peer.name,
                peer.creation,
            ),
            challenge: c_a.challenge.clone(),
        },
    )?;
    match recv(s, me, &mut d)? {
        Frame::Ack { digest: got } => {
            let want = digest(
                me.cookie,
                "B>A",
                &c_a.challenge,
                &peer.name,
                peer.creation,
                me.name,
                me.creation,
            );
            if !constant_time_eq(got.as_bytes(), want.as_bytes()) {
                return Err(HandshakeError::BadCookie);
            }
        }
        Frame::Refused { why } => return Err(HandshakeError::Refused(why)),
        other => {
            return Err(HandshakeError::Protocol(format!(
                "expected ack, got {other:?}"
            )));
        }
    }
    Ok((peer, d))
}

/// What the listener does at the acceptor's steps (`door.rs`): note progress, and decide
/// whether a proof is checked at all.
pub(crate) trait Gate {
    /// A valid `Hello` arrived; the challenge is about to go out.
    fn hello(&mut self) {}
    /// A proof arrived: may it be checked now? Waits for a token of the node-wide guess
    /// budget; `Err` if it is not to be checked at all.
    fn before_check(&mut self) -> Result<(), HandshakeError> {
        Ok(())
    }
    /// The proof checked was right.
    fn proved(&mut self) {}
    /// The proof checked was wrong. Called before the refusal goes out: the peer may dial
    /// again the moment it reads it, and that connection must find this failure counted.
    fn wrong_proof(&mut self) {}
}

/// No gate: every proof is checked (the handshake's own tests).
impl Gate for () {}

/// The acceptor's side. Returns who the peer is and the decoder.
pub(crate) fn accept<S: Timed>(
    s: &mut S,
    me: &Me,
    gate: &mut dyn Gate,
) -> Result<(Declared, Decoder), HandshakeError> {
    let mut d = Decoder::new(HANDSHAKE_MAX_FRAME);
    let peer = match recv(s, me, &mut d)? {
        Frame::Hello {
            proto,
            version,
            node,
            creation,
        } if proto == "pyact" && version == PROTOCOL_VERSION => Declared {
            name: node,
            creation,
        },
        Frame::Hello { version, .. } => {
            let _ = send(
                s,
                me,
                &Frame::Refused {
                    why: format!("unsupported protocol version {version}"),
                },
            );
            return Err(HandshakeError::Protocol(format!(
                "peer speaks version {version}"
            )));
        }
        _ => return Err(HandshakeError::Protocol("expected hello".into())),
    };
    if peer.name == me.name {
        return Err(refuse(
            s,
            me,
            HandshakeError::Identity("peer declares our own name".into()),
        ));
    }
    if peer.creation == 0 {
        return Err(refuse(
            s,
            me,
            HandshakeError::Protocol("creation number 0".into()),
        ));
    }
    gate.hello();
    let c_b = me.issued.issue()?;
    send(
        s,
        me,
        &Frame::Challenge {
            version: PROTOCOL_VERSION,
            node: me.name.into(),
            creation: me.creation,
            challenge: c_b.challenge.clone(),
        },
    )?;
    let c_a = match recv(s, me, &mut d)? {
        Frame::Response {
            digest: got,
            challenge,
        } => {
            if let Err(e) = gate.before_check() {
                return Err(refuse(s, me, e));
            }
            let want = digest(
                me.cookie,
                "A>B",
                &c_b.challenge,
                &peer.name,
                peer.creation,
                me.name,
                me.creation,
            );
            if !constant_time_eq(got.as_bytes(), want.as_bytes()) {
                gate.wrong_proof();
                return Err(refuse(s, me, HandshakeError::BadCookie));
            }
            gate.proved();
            challenge
        }
        _ => return Err(HandshakeError::Protocol("expected response".into())),
    };
    if c_a.len() != 64 {
        return Err(HandshakeError::Protocol(
            "challenge must be 32 bytes".into(),
        ));
    }
    if me.issued.is_ours(&c_a) {
        return Err(refuse(
            s,
            me,
            HandshakeError::Identity("peer reflects a challenge we issued".into()),
        ));
    }
    send(
        s,
        me,
        &Frame::Ack {
            digest: digest(
                me.cookie,
                "B>A",
                &c_a,
                me.name,
                me.creation,
                &peer.name,
                peer.creation,
            ),
        },
    )?;
    Ok((peer, d))
}

/// Default deadline for the whole handshake.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    fn me<'a>(name: &'a str, cookie: &'a str, issued: &'a Issued) -> Me<'a> {
        Me {
            name,
            creation: 7,
            cookie,
            issued,
            deadline: Instant::now() + HANDSHAKE_TIMEOUT * 4,
        }
    }

    fn pair(
        cookie_a: &'static str,
        cookie_b: &'static str,
    ) -> (
        Result<Declared, HandshakeError>,
        Result<Declared, HandshakeError>,
    ) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let b = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let issued = Issued::default();
            accept(&mut s, &me("B:2", cookie_b, &issued), &mut ()).map(|(p, _)| p)
        });
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let issued = Issued::default();
        let a = connect(&mut s, &me("A:1", cookie_a, &issued), "B:2").map(|(p, _)| p);
        drop(s);
        (a, b.join().unwrap())
    }

    #[test]
    fn same_cookie_authenticates_both_ways() {
        let (a, b) = pair("secret", "secret");
        assert_eq!(a.unwrap().name, "B:2");
        let b = b.unwrap();
        assert_eq!((b.name.as_str(), b.creation), ("A:1", 7));
    }

    #[test]
    fn wrong_cookie_is_refused_on_both_sides() {
        let (a, b) = pair("secret", "other");
        assert_eq!(b, Err(HandshakeError::BadCookie));
        assert_eq!(a, Err(HandshakeError::Refused(BAD_COOKIE.into())));
        let text = a.unwrap_err().to_string();
        assert!(text.contains("cookies differ"), "{text}");
    }

    #[test]
    fn digests_depend_on_every_input() {
        let base = digest("k", "A>B", "c", "a", 1, "b", 2);
        assert_ne!(base, digest("k2", "A>B", "c", "a", 1, "b", 2));
        assert_ne!(base, digest("k", "B>A", "c", "a", 1, "b", 2));
        assert_ne!(base, digest("k", "A>B", "c2", "a", 1, "b", 2));
        assert_ne!(base, digest("k", "A>B", "c", "b", 1, "a", 2));
        assert_ne!(base, digest("k", "A>B", "c", "a", 3, "b", 2));
        assert_ne!(base, digest("k", "A>B", "c", "a", 1, "b", 3));
        assert_eq!(base.len(), 64);
    }

    #[test]
    fn issued_challenges_are_recognised_until_answered() {
        let issued = Issued::default();
        let c = issued.issue().unwrap();
        assert!(issued.is_ours(&c.challenge));
        let text = c.challenge.clone();
        drop(c);
        assert!(!issued.is_ours(&text));
    }
}
