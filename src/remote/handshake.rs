//! The connection handshake: both nodes prove they know the cookie without sending it.
//!
//! Version 1, four frames (each a `Frame` (see `frame.rs`) with at most 4 KiB of JSON):
//!
//! ```text
//! connector A                                  acceptor B
//!   Hello {proto: "pyact", version: 1, node: A}  ->
//!                                <-  Challenge {version: 1, node: B, challenge: cB}
//!   Response {digest: H(k, "A>B" cB A B), challenge: cA}  ->
//!                                   B checks the digest; on mismatch: Refused, close
//!                                <-  Ack {digest: H(k, "B>A" cA B A)}
//!   A checks the digest; on mismatch: close
//! ```
//!
//! `H` is HMAC-SHA-256 keyed with the cookie; `cA`, `cB` are 32 fresh bytes from the OS
//! random generator. The acceptor answers nothing about the cookie until the connector has
//! proved it, so a wrong-cookie peer learns only "refused"; each side's digest covers its own
//! direction, both node names and the other side's fresh challenge, so a recorded handshake
//! cannot be replayed or reflected. Every step has a deadline (a peer that says nothing is
//! dropped), and no traffic frame is accepted before the handshake completes.

use std::io::{Read, Write};
use std::time::Duration;

use super::digest::{constant_time_eq, hex, hmac_sha256, random_bytes};
use super::frame::{Decoder, Frame, HANDSHAKE_MAX_FRAME, PROTOCOL_VERSION, encode_into};

/// Why a handshake failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HandshakeError {
    /// The peer's proof did not match: it has another cookie.
    BadCookie,
    /// The peer speaks another protocol or version.
    Protocol(String),
    /// The peer refused us.
    Refused(String),
    /// I/O failed or timed out.
    Io(String),
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandshakeError::BadCookie => f.write_str("peer failed the cookie challenge"),
            HandshakeError::Protocol(e) => write!(f, "protocol error: {e}"),
            HandshakeError::Refused(e) => write!(f, "refused by peer: {e}"),
            HandshakeError::Io(e) => write!(f, "i/o error during handshake: {e}"),
        }
    }
}

/// 32 bytes from the OS random generator, hex-encoded.
fn fresh_challenge() -> Result<String, HandshakeError> {
    random_bytes::<32>()
        .map(|b| hex(&b))
        .map_err(|e| HandshakeError::Io(format!("no randomness: {e}")))
}

fn digest(cookie: &str, dir: &str, challenge: &str, from: &str, to: &str) -> String {
    let msg = format!("pyact-v{PROTOCOL_VERSION}|{dir}|{challenge}|{from}|{to}");
    hex(&hmac_sha256(cookie.as_bytes(), msg.as_bytes()))
}

fn send<S: Write>(s: &mut S, f: &Frame) -> Result<(), HandshakeError> {
    let mut out = Vec::new();
    encode_into(f, &mut out);
    s.write_all(&out)
        .and_then(|_| s.flush())
        .map_err(|e| HandshakeError::Io(e.to_string()))
}

fn recv<S: Read>(s: &mut S, d: &mut Decoder) -> Result<Frame, HandshakeError> {
    loop {
        match d.next_frame() {
            Ok(Some(f)) => return Ok(f),
            Ok(None) => {}
            Err(e) => return Err(HandshakeError::Protocol(e.to_string())),
        }
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

/// The connector's side. Returns the peer's declared node id and the decoder (which may
/// already hold the peer's first traffic frames).
pub(crate) fn connect<S: Read + Write>(
    s: &mut S,
    me: &str,
    cookie: &str,
) -> Result<(String, Decoder), HandshakeError> {
    let mut d = Decoder::new(HANDSHAKE_MAX_FRAME);
    send(
        s,
        &Frame::Hello {
            proto: "pyact".into(),
            version: PROTOCOL_VERSION,
            node: me.into(),
        },
    )?;
    let (peer, c_b) = match recv(s, &mut d)? {
        Frame::Challenge {
            version,
            node,
            challenge,
        } if version == PROTOCOL_VERSION => (node, challenge),
        Frame::Refused { why } => return Err(HandshakeError::Refused(why)),
        other => {
            return Err(HandshakeError::Protocol(format!(
                "expected challenge, got {other:?}"
            )));
        }
    };
    let c_a = fresh_challenge()?;
    send(
        s,
        &Frame::Response {
            digest: digest(cookie, "A>B", &c_b, me, &peer),
            challenge: c_a.clone(),
        },
    )?;
    match recv(s, &mut d)? {
        Frame::Ack { digest: got } => {
            let want = digest(cookie, "B>A", &c_a, &peer, me);
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

/// The acceptor's side. Returns the peer's declared node id and the decoder.
pub(crate) fn accept<S: Read + Write>(
    s: &mut S,
    me: &str,
    cookie: &str,
) -> Result<(String, Decoder), HandshakeError> {
    let mut d = Decoder::new(HANDSHAKE_MAX_FRAME);
    let peer = match recv(s, &mut d)? {
        Frame::Hello {
            proto,
            version,
            node,
        } if proto == "pyact" && version == PROTOCOL_VERSION => node,
        Frame::Hello { version, .. } => {
            let _ = send(
                s,
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
    let c_b = fresh_challenge()?;
    send(
        s,
        &Frame::Challenge {
            version: PROTOCOL_VERSION,
            node: me.into(),
            challenge: c_b.clone(),
        },
    )?;
    let c_a = match recv(s, &mut d)? {
        Frame::Response {
            digest: got,
            challenge,
        } => {
            let want = digest(cookie, "A>B", &c_b, &peer, me);
            if !constant_time_eq(got.as_bytes(), want.as_bytes()) {
                let _ = send(
                    s,
                    &Frame::Refused {
                        why: "refused".into(),
                    },
                );
                return Err(HandshakeError::BadCookie);
            }
            challenge
        }
        _ => return Err(HandshakeError::Protocol("expected response".into())),
    };
    if c_a.len() != 64 {
        return Err(HandshakeError::Protocol(
            "challenge must be 32 bytes".into(),
        ));
    }
    send(
        s,
        &Frame::Ack {
            digest: digest(cookie, "B>A", &c_a, me, &peer),
        },
    )?;
    Ok((peer, d))
}

/// Default deadline for each handshake read.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    fn pair(
        cookie_a: &'static str,
        cookie_b: &'static str,
    ) -> (
        Result<String, HandshakeError>,
        Result<String, HandshakeError>,
    ) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let b = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(HANDSHAKE_TIMEOUT)).unwrap();
            accept(&mut s, "B:2", cookie_b).map(|(p, _)| p)
        });
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(HANDSHAKE_TIMEOUT)).unwrap();
        let a = connect(&mut s, "A:1", cookie_a).map(|(p, _)| p);
        drop(s);
        (a, b.join().unwrap())
    }

    #[test]
    fn same_cookie_authenticates_both_ways() {
        let (a, b) = pair("secret", "secret");
        assert_eq!(a.unwrap(), "B:2");
        assert_eq!(b.unwrap(), "A:1");
    }

    #[test]
    fn wrong_cookie_is_refused_on_both_sides() {
        let (a, b) = pair("secret", "other");
        assert_eq!(b, Err(HandshakeError::BadCookie));
        assert!(matches!(a, Err(HandshakeError::Refused(_))), "{a:?}");
    }

    #[test]
    fn digests_depend_on_every_input() {
        let base = digest("k", "A>B", "c", "a", "b");
        assert_ne!(base, digest("k2", "A>B", "c", "a", "b"));
        assert_ne!(base, digest("k", "B>A", "c", "a", "b"));
        assert_ne!(base, digest("k", "A>B", "c2", "a", "b"));
        assert_ne!(base, digest("k", "A>B", "c", "b", "a"));
        assert_eq!(base.len(), 64);
    }
}
