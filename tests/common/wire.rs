//! A raw peer that speaks pyact's wire protocol from the outside (std sockets, its own
//! SHA-256): the attacker or the broken peer in the network tests. It can declare any node
//! name, send any frame (or garbage), and read what the node sends back.
//!
//! Kept in one file so that a change of the handshake is fixed in one place.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    let bits = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bits.to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, x) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([x[0], x[1], x[2], x[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            (hh, g, f, e, d, c, b, a) = (g, f, e, d.wrapping_add(t1), c, b, a, t1.wrapping_add(t2));
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (i, x) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

fn hmac(key: &[u8], msg: &[u8]) -> String {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&sha256(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    inner.extend_from_slice(msg);
    let mut outer: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    outer.extend_from_slice(&sha256(&inner));
    sha256(&outer).iter().map(|b| format!("{b:02x}")).collect()
}

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
        p.send(&json!({"hello": {"proto": "pyact", "version": 1, "node": name}}));
        let ch = p.recv();
        let c_b = ch["challenge"]["challenge"]
            .as_str()
            .expect("challenge")
            .to_string();
        let acceptor = ch["challenge"]["node"].as_str().unwrap().to_string();
        let msg = format!("pyact-v1|A>B|{c_b}|{name}|{acceptor}");
        let c_a = "ab".repeat(32);
        p.send(&json!({"response": {"digest": hmac(cookie.as_bytes(), msg.as_bytes()), "challenge": c_a}}));
        let ack = p.recv();
        assert!(ack.get("ack").is_some(), "expected ack, got {ack}");
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

    /// Read frames until one that is not a heartbeat.
    pub fn recv_traffic(&mut self) -> Value {
        loop {
            let f = self.recv();
            if f != json!("heartbeat") {
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
