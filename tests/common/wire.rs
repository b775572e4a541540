//! A raw peer that speaks pyact's wire protocol (version 2, `src/remote/protocol.md`) from
//! the outside (std sockets, RustCrypto's HMAC): the attacker or the broken peer in the network tests. It can declare any node
//! name, send any frame (or garbage), and read what the node sends back.
//!
//! Kept in one file so that a change of the handshake is fixed in one place.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};

/// The handshake's proof (version 2, see `src/remote/protocol.md`): hex HMAC-SHA-256 keyed
/// with the cookie over `pyact-v2|dir|challenge|from|from_creation|to|to_creation`.
pub fn proof(
    cookie: &str,
    dir: &str,
    challenge: &str,
    from: (&str, u32),
    to: (&str, u32),
) -> String {
    use hmac::{KeyInit, Mac};
    let msg = format!(
        "pyact-v2|{dir}|{challenge}|{}|{}|{}|{}",
        from.0, from.1, to.0, to.1
    );
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(cookie.as_bytes()).unwrap();
    mac.update(msg.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Open a raw connection to `node` (`host:port`) and send a Hello: does the node answer with
/// a frame (a handshake coroutine ran), or close the connection at once? Panics if it does
/// neither within 30 s.
pub fn handshake_runs(node: &str) -> bool {
    let mut s = TcpStream::connect(node).unwrap();
    let body = serde_json::to_vec(&json!({"hello": {
        "proto": "pyact", "version": 2, "node": "127.0.0.1:1", "creation": 9}}))
    .unwrap();
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    let _ = s.write_all(&out);
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut b = [0u8; 4];
    match s.read_exact(&mut b) {
        Ok(()) => true,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            panic!("neither answered nor closed")
        }
        Err(_) => false,
    }
}

/// The creation number raw peers declare (any nonzero `u32` will do).
pub const RAW_CREATION: u32 = 4242;

/// A raw connection to a node.
pub struct RawPeer {
    pub stream: TcpStream,
    buf: Vec<u8>,
    /// The name this peer declared.
    pub name: String,
}

impl RawPeer {
    /// Open a TCP connection to `node` (`host:port`) without saying anything.
    pub fn connect(node: &str) -> RawPeer {
        let stream = TcpStream::connect(node).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        RawPeer {
            stream,
            buf: Vec::new(),
            name: String::new(),
        }
    }

    /// Connect and run the connector's handshake declaring `name`, with `cookie`; returns
    /// the peer and the node's admission verdict (`{"admitted": null}` or `{"refused": ...}`).
    pub fn handshake(node: &str, name: &str, cookie: &str) -> (RawPeer, Value) {
        let mut p = RawPeer::connect(node);
        p.name = name.to_string();
        p.send(
            &json!({"hello": {"proto": "pyact", "version": 2, "node": name,
                                  "creation": RAW_CREATION}}),
        );
        let ch = p.recv();
        let c_b = ch["challenge"]["challenge"]
            .as_str()
            .unwrap_or_else(|| panic!("expected a challenge, got {ch}"))
            .to_string();
        let acceptor = ch["challenge"]["node"].as_str().unwrap().to_string();
        let kb = ch["challenge"]["creation"].as_u64().unwrap() as u32;
        let c_a = "ab".repeat(32);
        let d_a = proof(cookie, "A>B", &c_b, (name, RAW_CREATION), (&acceptor, kb));
        p.send(&json!({"response": {"digest": d_a, "challenge": c_a}}));
        let ack = p.recv();
        let d_b = ack["ack"]["digest"]
            .as_str()
            .unwrap_or_else(|| panic!("expected ack, got {ack}"));
        assert_eq!(
            d_b,
            proof(cookie, "B>A", &c_a, (&acceptor, kb), (name, RAW_CREATION)),
            "the acceptor's proof"
        );
        let verdict = p.recv();
        (p, verdict)
    }

    /// Handshake declaring a name of our own choosing that the node must admit.
    pub fn admitted(node: &str, name: &str, cookie: &str) -> RawPeer {
        let (p, v) = RawPeer::handshake(node, name, cookie);
        assert_eq!(v, json!("admitted"), "verdict");
        p
    }

    /// Send one frame.
    pub fn send(&mut self, frame: &Value) {
        let body = serde_json::to_vec(frame).unwrap();
        self.send_raw_body(&body);
    }

    /// Send one length-prefixed body, whatever it holds.
    pub fn send_raw_body(&mut self, body: &[u8]) {
        let mut out = (body.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(body);
        self.stream.write_all(&out).expect("write");
    }

    /// Frame bytes of a user message to actor `to`, in the compact form.
    pub fn msg_bytes(to: u64, msg: &Value) -> Vec<u8> {
        let body = serde_json::to_vec(&json!({"msg": {"to": to, "msg": msg}})).unwrap();
        let mut out = (body.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&body);
        out
    }

    /// Read the next frame (heartbeats included). Panics on EOF or timeout.
    pub fn recv(&mut self) -> Value {
        self.try_recv().expect("connection closed")
    }

    /// Read the next frame; `None` on EOF.
    pub fn try_recv(&mut self) -> Option<Value> {
        loop {
            if self.buf.len() >= 4 {
                let n = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]])
                    as usize;
                if self.buf.len() >= 4 + n {
                    let v = serde_json::from_slice(&self.buf[4..4 + n]).expect("json frame");
                    self.buf.drain(..4 + n);
                    return Some(v);
                }
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Read frames until one that is not a heartbeat, a progress report (a node's reader
    /// reports what it has read, at most every 200 ms, while it takes traffic) or a member
    /// list (connect-all: a node sends one right after admission).
    pub fn recv_traffic(&mut self) -> Value {
        loop {
            let f = self.recv_not_idle();
            if f.get("peers").is_none() {
                return f;
            }
        }
    }

    /// Read frames until one that is not a heartbeat or a progress report.
    pub fn recv_not_idle(&mut self) -> Value {
        loop {
            let f = self.recv();
            if f != json!("heartbeat") && f.get("progress").is_none() {
                return f;
            }
        }
    }
}

/// Poll `cond` until it holds, up to a generous deadline (the machine is shared and slow).
/// For outcomes that happen asynchronously (a connection noticed closed), not for timing.
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
