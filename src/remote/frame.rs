//! The wire protocol: length-prefixed JSON frames.
//!
//! Every frame is a 4-byte big-endian length `n` followed by `n` bytes of UTF-8 JSON: one
//! [`Frame`], externally tagged (`{"msg": {"to": 7, "msg": ...}}`). Frames larger than the
//! receiving node's limit (default 16 MiB, [`NodeOptions::max_frame`](crate::NodeOptions))
//! close the connection with a logged reason; so does a peer that closes in the middle of a
//! frame. A complete frame whose body is malformed JSON or an unknown kind is dropped alone
//! (logged, counted in [`NetStats::dropped_frames`](crate::remote::NetStats)): its length prefix keeps
//! the stream in step. The handshake frames come first (see `handshake.rs`), then the
//! acceptor's verdict, `"admitted"` or `{"refused": {"why": ...}}` (see `peers.rs`); version
//! [`PROTOCOL_VERSION`] is the only one spoken.
//!
//! **Depth.** A user message is written in the compact form
//! `{"msg":{"to":N,"msg":PAYLOAD}}`; a receiver that sees exactly that form parses PAYLOAD on
//! its own, so PAYLOAD may nest [`MAX_DEPTH`] (127) levels, as much as `serde_json` parses
//! anywhere. Any other spelling is parsed whole, and the envelope's two levels count.
//!
//! **Who builds a message.** The reader only checks a compact PAYLOAD and hands its text to
//! the receiving actor, which builds the value when it takes the message out of its mailbox
//! ([`Payload`]); a payload that does not pass the check is a malformed frame, as before.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::link::Ref;
use crate::{Address, ExitReason};

/// Wire protocol version, checked in the handshake.
/// Version 2 added the creation number to `Hello` and `Challenge` (and to the digests).
pub const PROTOCOL_VERSION: u32 = 2;

/// Largest frame the handshake accepts: an unauthenticated peer cannot make us buffer more.
pub(crate) const HANDSHAKE_MAX_FRAME: usize = 4096;

/// One unit of the wire protocol.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Frame {
    // --- handshake (see handshake.rs) ---
    /// Connector → acceptor: who I am.
    Hello {
        proto: String,
        version: u32,
        node: String,
        /// Absent in version 1's `Hello`: read as 0, so that a version-1 peer is refused
        /// with a reason it can print (`unsupported protocol version 1`), not just closed.
        #[serde(default)]
        creation: u32,
    },
    /// Acceptor → connector: who I am, and prove you know the cookie.
    Challenge {
        version: u32,
        node: String,
        creation: u32,
        challenge: String,
    },
    /// Connector → acceptor: proof, and my challenge to you.
    Response { digest: String, challenge: String },
    /// Acceptor → connector: my proof.
    Ack { digest: String },
    /// Either side: the handshake failed (no detail is given to an unauthenticated peer).
    Refused { why: String },

    // --- traffic ---
    /// A user message for actor `to`.
    Msg { to: u64, msg: Value },
    /// A user message for actor `to` as it arrived in the compact form, checked but not yet
    /// built: the receiving actor builds it (see [`Payload`]). Never on the wire as such.
    #[serde(skip)]
    Payload { to: u64, payload: Payload },
    /// An exit signal for actor `to`.
    Exit {
        to: u64,
        from: Address,
        reason: ExitReason,
        linked: bool,
    },
    /// Kill actor `to`.
    Kill { to: u64 },
    /// A monitored actor ended.
    Down {
        to: u64,
        reference: Ref,
        from: Address,
        reason: ExitReason,
    },
    /// `from` links to actor `to`.
    Link { from: Address, to: u64 },
    /// `from` unlinks from actor `to`.
    Unlink { from: Address, to: u64 },
    /// `watcher` monitors actor `to`.
    Monitor {
        watcher: Address,
        to: u64,
        reference: Ref,
    },
    /// Remove monitor `reference` from actor `to`.
    Demonitor { to: u64, reference: Ref },
    /// Tell me when actor `to` ends.
    Wait { req: u64, to: u64 },
    /// Answer to `Wait`.
    WaitReply { req: u64, reason: ExitReason },
    /// Take back `Wait` `req`: its waiter ended (killed while it waited) before the answer.
    Unwait { req: u64 },
    /// Which actor is registered as `name`?
    Whereis { req: u64, name: String },
    /// Answer to `Whereis`.
    WhereisReply { req: u64, addr: Option<Address> },
    /// Spawn an actor from the registered factory `factory` with `args`.
    Spawn {
        req: u64,
        factory: String,
        args: Value,
    },
    /// Answer to `Spawn`.
    SpawnReply {
        req: u64,
        addr: Option<Address>,
        error: Option<String>,
    },
    /// What are your totals and peers ([`Node::stats`](crate::Node::stats))?
    Stats { req: u64 },
    /// Answer to `Stats`.
    StatsReply {
        req: u64,
        stats: crate::observe::NodeStats,
    },
    /// Sent when a connection is otherwise idle, so silence means a dead peer.
    Heartbeat,
    /// "My reader has read `read` bytes of what you sent on this connection so far": sent
    /// by a reader that is taking frames other than heartbeats, at most every `connection::PROGRESS_EVERY`, so the
    /// other side's writer sees a slow reader's progress even when TCP shows none (a
    /// receive window reopens only a whole segment at a time: 64 KiB on loopback).
    Progress { read: u64 },
    /// "I am a cluster member, connected to these other members" (`host:port` each): sent
    /// by a node that is not hidden right after admission, and once in answer to the
    /// first one received on a connection (see `cluster.rs`).
    Peers { nodes: Vec<String> },
    /// Acceptor → connector, right after the handshake: this connection is now the one
    /// between the two nodes (see `peers.rs`). The alternative is `Refused`.
    Admitted,
}

/// A borrowed user-message frame, encoded without copying the message.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum MsgRef<'a> {
    Msg { to: u64, msg: &'a Value },
}

/// Why bytes could not be decoded into frames. Every variant closes the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// The length prefix announces more than the limit.
    TooLarge { size: usize, limit: usize },
    /// The body is not JSON, or not a known frame kind.
    Malformed(String),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::TooLarge { size, limit } => {
                write!(f, "frame of {size} bytes exceeds the limit of {limit}")
            }
            FrameError::Malformed(e) => write!(f, "malformed frame: {e}"),
        }
    }
}

/// Append `frame`, length-prefixed, to `out`.
pub(crate) fn encode_into(frame: &Frame, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    serde_json::to_writer(&mut *out, frame).expect("frames serialize");
    patch_len(out, start);
}

/// Encode a user message for actor `to`; refuses bodies over `limit`.
pub(crate) fn encode_msg(to: u64, msg: &Value, limit: usize) -> Result<Vec<u8>, usize> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&[0; 4]);
    serde_json::to_writer(&mut out, &MsgRef::Msg { to, msg }).expect("JSON values serialize");
    if out.len() - 4 > limit {
        return Err(out.len() - 4);
    }
    patch_len(&mut out, 0);
    Ok(out)
}

fn patch_len(out: &mut [u8], start: usize) {
    let n = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&n.to_be_bytes());
}

/// Incremental decoder: feed it bytes as they arrive, take frames out.
pub(crate) struct Decoder {
    buf: Vec<u8>,
    start: usize,
    limit: usize,
}

impl Decoder {
    pub(crate) fn new(limit: usize) -> Self {
        Decoder {
            buf: Vec::with_capacity(64 * 1024),
            start: 0,
            limit,
        }
    }

    /// Change the frame limit (after the handshake).
    pub(crate) fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// Space to read into: the caller writes up to `n` bytes there, then calls `filled`.
    pub(crate) fn spare(&mut self, n: usize) -> &mut [u8] {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > self.buf.capacity() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let len = self.buf.len();
        self.buf.resize(len + n, 0);
        &mut self.buf[len..]
    }

    /// Give the buffer back if it holds nothing and has more than `keep` bytes of capacity
    /// (a large frame, or a flood, has passed): an idle connection keeps no big buffer.
    pub(crate) fn trim(&mut self, keep: usize) {
        if self.start == self.buf.len() && self.buf.capacity() > keep {
            self.buf = Vec::new();
            self.start = 0;
        }
    }

    /// Keep `n` of the bytes last offered by `spare`.
    pub(crate) fn filled(&mut self, offered: usize, n: usize) {
        let len = self.buf.len();
        self.buf.truncate(len - offered + n);
    }

    /// Feed bytes (convenience for tests and fuzzing).
    #[cfg(test)]
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        let s = self.spare(bytes.len());
        s.copy_from_slice(bytes);
    }

    /// Bytes held and not yet taken as frames.
    pub(crate) fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Are there buffered bytes of an incomplete frame?
    pub(crate) fn has_partial(&self) -> bool {
        self.start < self.buf.len()
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed.
    pub(crate) fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        let avail = &self.buf[self.start..];
        if avail.len() < 4 {
            return Ok(None);
        }
        let size = u32::from_be_bytes([avail[0], avail[1], avail[2], avail[3]]) as usize;
        if size > self.limit {
            return Err(FrameError::TooLarge {
                size,
                limit: self.limit,
            });
        }
        if avail.len() < 4 + size {
            return Ok(None);
        }
        let body = &avail[4..4 + size];
        self.start += 4 + size;
        decode_body(body).map(Some)
    }
}

/// How deep a message payload may nest (arrays and objects): the most `serde_json` parses
/// (its recursion limit is 128 levels, so 127 nested containers). The sender refuses deeper
/// messages with [`SendError::TooDeep`](crate::SendError::TooDeep); the receiver parses the
/// payload of a compact `msg` frame on its own, so the envelope's two levels do not count.
pub(crate) const MAX_DEPTH: usize = 127;

/// How deeply `v` nests, counting at most up to `MAX_DEPTH + 1` (so a hostile value costs
/// no more than that much recursion).
pub(crate) fn depth_exceeds(v: &Value, limit: usize) -> bool {
    fn go(v: &Value, left: usize) -> bool {
        match v {
            Value::Array(a) => left == 0 || a.iter().any(|x| go(x, left - 1)),
            Value::Object(o) => left == 0 || o.values().any(|x| go(x, left - 1)),
            _ => false,
        }
    }
    go(v, limit)
}

/// Decode one frame body. A user message in the compact form this crate writes,
/// `{"msg":{"to":N,"msg":PAYLOAD}}`, is taken apart by hand and only PAYLOAD goes through
/// the JSON parser, so a payload may use every level the parser allows; anything else is
/// parsed as a whole.
pub(crate) fn decode_body(body: &[u8]) -> Result<Frame, FrameError> {
    const HEAD: &[u8] = br#"{"msg":{"to":"#;
    const MID: &[u8] = br#","msg":"#;
    if let Some(rest) = body.strip_prefix(HEAD)
        && let Some(rest) = rest.strip_suffix(b"}}")
    {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if (1..=20).contains(&digits)
            && let Some(payload) = rest[digits..].strip_prefix(MID)
            && let Ok(to) = std::str::from_utf8(&rest[..digits])
                .unwrap_or("x")
                .parse::<u64>()
            && serde_json::from_slice::<Check>(payload).is_ok()
        {
            return Ok(Frame::Payload {
                to,
                payload: Payload::checked(payload.into()),
            });
        }
    }
    serde_json::from_slice(body).map_err(|e| FrameError::Malformed(e.to_string()))
}

pub(crate) use crate::distribution::Payload;

/// A visitor that accepts every JSON value `Value` accepts and keeps nothing.
struct Check;

impl<'de> serde::Deserialize<'de> for Check {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Check)
    }
}

impl<'de> serde::de::Visitor<'de> for Check {
    type Value = Check;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Check, E> {
        Ok(Check)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Check, E> {
        Ok(Check)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Check, E> {
        Ok(Check)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Check, E> {
        Ok(Check)
    }
    fn visit_str<E>(self, _: &str) -> Result<Check, E> {
        Ok(Check)
    }
    fn visit_unit<E>(self) -> Result<Check, E> {
        Ok(Check)
    }
    fn visit_none<E>(self) -> Result<Check, E> {
        Ok(Check)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Check, D::Error> {
        Check::deserialize(d)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Check, A::Error> {
        while a.next_element::<Check>()?.is_some() {}
        Ok(Check)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Check, A::Error> {
        while a.next_key::<Check>()?.is_some() {
            a.next_value::<Check>()?;
        }
        Ok(Check)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A received frame with its checked payload built, as the receiving actor sees it.
    fn built(f: Frame) -> Frame {
        match f {
            Frame::Payload { to, payload } => Frame::Msg {
                to,
                msg: payload.into_value(),
            },
            f => f,
        }
    }

    fn roundtrip(f: &Frame) -> Frame {
        let mut out = Vec::new();
        encode_into(f, &mut out);
        let mut d = Decoder::new(1 << 20);
        d.feed(&out);
        built(d.next_frame().unwrap().unwrap())
    }

    #[test]
    fn frames_roundtrip_and_split_anywhere() {
        let frames = vec![
            Frame::Heartbeat,
            Frame::Msg {
                to: 3,
                msg: json!({"a": [1, 2.5, "x", null]}),
            },
            Frame::Wait { req: 9, to: 4 },
            Frame::Unwait { req: 9 },
            Frame::Peers {
                nodes: vec!["127.0.0.1:4000".into(), "[::1]:5".into()],
            },
            Frame::WaitReply {
                req: 9,
                reason: ExitReason::Panicked("boom".into()),
            },
        ];
        for f in &frames {
            assert_eq!(&roundtrip(f), f);
        }
        let mut bytes = Vec::new();
        for f in &frames {
            encode_into(f, &mut bytes);
        }
        // Feed one byte at a time: frames come out whole and in order.
        let mut d = Decoder::new(1 << 20);
        let mut got = Vec::new();
        for b in &bytes {
            d.feed(&[*b]);
            while let Some(f) = d.next_frame().unwrap() {
                got.push(built(f));
            }
        }
        assert_eq!(got, frames);
        assert!(!d.has_partial());
    }

    #[test]
    fn an_emptied_decoder_gives_its_buffer_back() {
        let mut out = Vec::new();
        let big = Frame::Msg {
            to: 1,
            msg: json!("x".repeat(100_000)),
        };
        encode_into(&big, &mut out);
        let mut d = Decoder::new(1 << 20);
        d.feed(&out[..50_000]);
        d.trim(4096);
        assert!(d.buf.capacity() >= 50_000, "a partial frame is kept");
        d.feed(&out[50_000..]);
        assert_eq!(built(d.next_frame().unwrap().unwrap()), big);
        d.trim(4096);
        assert_eq!(d.buf.capacity(), 0);
        // Still decodes after.
        let mut hb = Vec::new();
        encode_into(&Frame::Heartbeat, &mut hb);
        d.feed(&hb);
        assert_eq!(d.next_frame().unwrap(), Some(Frame::Heartbeat));
    }

    #[test]
    fn msg_encoding_matches_frame_encoding() {
        let v = json!({"text": "hi"});
        let fast = encode_msg(5, &v, 1 << 20).unwrap();
        let mut slow = Vec::new();
        encode_into(
            &Frame::Msg {
                to: 5,
                msg: v.clone(),
            },
            &mut slow,
        );
        assert_eq!(fast, slow);
        // `{"msg":{"to":5,"msg":"xx..."}}`: 23 bytes of envelope around the 102-byte string.
        assert_eq!(encode_msg(5, &json!("x".repeat(100)), 50), Err(125));
        assert!(encode_msg(5, &json!("x".repeat(100)), 125).is_ok());
    }

    #[test]
    fn oversized_malformed_and_unknown_frames_are_errors() {
        let mut d = Decoder::new(10);
        d.feed(&100u32.to_be_bytes());
        assert_eq!(
            d.next_frame(),
            Err(FrameError::TooLarge {
                size: 100,
                limit: 10
            })
        );
        let mut d = Decoder::new(100);
        d.feed(&3u32.to_be_bytes());
        d.feed(b"{x}");
        assert!(matches!(d.next_frame(), Err(FrameError::Malformed(_))));
        let mut d = Decoder::new(100);
        let body = br#"{"launch_missiles":{}}"#;
        d.feed(&(body.len() as u32).to_be_bytes());
        d.feed(body);
        assert!(matches!(d.next_frame(), Err(FrameError::Malformed(_))));
        let mut d = Decoder::new(100);
        d.feed(&[0, 0, 0, 20, b'{']);
        assert_eq!(d.next_frame(), Ok(None));
        assert!(d.has_partial());
    }

    fn nested(depth: usize) -> Value {
        let mut v = json!(1);
        for _ in 0..depth {
            v = json!([v]);
        }
        v
    }

    #[test]
    fn compact_msg_payload_gets_every_level_the_parser_allows() {
        for depth in [0, 1, 126, MAX_DEPTH] {
            let bytes = encode_msg(7, &nested(depth), 1 << 20).unwrap();
            let mut d = Decoder::new(1 << 20);
            d.feed(&bytes);
            assert_eq!(
                d.next_frame().map(|f| f.map(built)),
                Ok(Some(Frame::Msg {
                    to: 7,
                    msg: nested(depth)
                })),
                "depth {depth}"
            );
        }
        // One more level is beyond serde_json, however it is framed.
        let body = format!(r#"{{"msg":{{"to":7,"msg":{}}}}}"#, nested(MAX_DEPTH + 1));
        assert!(matches!(
            decode_body(body.as_bytes()),
            Err(FrameError::Malformed(_))
        ));
        // Another spelling of the same frame goes through the whole-frame parser.
        let spaced = br#"{ "msg": { "to": 7, "msg": [1] } }"#;
        assert_eq!(
            decode_body(spaced),
            Ok(Frame::Msg {
                to: 7,
                msg: json!([1])
            })
        );
        // Junk after the payload is not taken for a payload.
        assert!(decode_body(br#"{"msg":{"to":7,"msg":1}},"x":2}}"#).is_err());
    }

    #[test]
    fn a_compact_message_stays_text_until_received() {
        let bytes = encode_msg(7, &json!({"a": "b"}), 1 << 20).unwrap();
        assert_eq!(
            decode_body(&bytes[4..]),
            Ok(Frame::Payload {
                to: 7,
                payload: Payload::checked(br#"{"a":"b"}"#.to_vec().into())
            })
        );
    }

    /// The reader's check accepts a payload exactly when the receiver can build it: every
    /// kind of bad JSON the parser knows is refused by both, everything else accepted by both.
    #[test]
    fn the_check_accepts_what_the_receiver_builds() {
        let agree = |payload: &[u8]| {
            let parsed = serde_json::from_slice::<Value>(payload);
            let checked = serde_json::from_slice::<Check>(payload);
            assert_eq!(
                parsed.is_ok(),
                checked.is_ok(),
                "{:?}: parsed {parsed:?}",
                String::from_utf8_lossy(payload)
            );
            // And the frame decodes the same way: a message the actor builds, or a dropped frame.
            let mut body = br#"{"msg":{"to":3,"msg":"#.to_vec();
            body.extend_from_slice(payload);
            body.extend_from_slice(b"}}");
            match (decode_body(&body).map(built), parsed) {
                (Ok(Frame::Msg { to: 3, msg }), Ok(v)) => assert_eq!(msg, v),
                (Err(FrameError::Malformed(_)), Err(_)) => {}
                (got, want) => panic!("{payload:?}: decoded {got:?}, parser says {want:?}"),
            }
        };
        let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        let cases: Vec<Vec<u8>> = vec![
            b"1".to_vec(),
            b"-0.5e-3".to_vec(),
            b"1e400".to_vec(),
            b"-1e400".to_vec(),
            b"18446744073709551616".to_vec(),
            b"01".to_vec(),
            b"1.".to_vec(),
            br#""\u00e9\n\"""#.to_vec(),
            br#""\ud800""#.to_vec(),
            br#""\ud83d\ude00""#.to_vec(),
            br#""\x""#.to_vec(),
            b"\"\x01\"".to_vec(),
            b"\"\xff\xfe\"".to_vec(),
            b"\"\xc3\xa9\"".to_vec(),
            br#"{"a":1,"a":2}"#.to_vec(),
            br#"{"\ud800":1}"#.to_vec(),
            b"{\"\xff\":1}".to_vec(),
            br#"{1:2}"#.to_vec(),
            br#"[1,]"#.to_vec(),
            br#"{"a":1,}"#.to_vec(),
            br#"[1 2]"#.to_vec(),
            b"nul".to_vec(),
            b"true false".to_vec(),
            b" [ null , true ] ".to_vec(),
            b"".to_vec(),
            deep(MAX_DEPTH).into_bytes(),
            deep(MAX_DEPTH + 1).into_bytes(),
        ];
        for c in &cases {
            agree(c);
        }
        // Corrupted valid payloads: random single-byte changes of a message with every kind
        // of value in it.
        let good = serde_json::to_vec(&json!({
            "s": "t\u{e9}\"x\n", "n": [-1, 2.5e10, 18446744073709551615u64],
            "b": [true, false, null], "o": {"k": {}}
        }))
        .unwrap();
        let mut seed = 0x2545f4914f6cdd1du64;
        for _ in 0..3000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut p = good.clone();
            let i = (seed as usize) % p.len();
            p[i] = [
                b'"',
                b'\\',
                b'{',
                b']',
                b',',
                b'e',
                b'0',
                0xff,
                b'u',
                (seed >> 32) as u8,
            ][((seed >> 16) % 10) as usize];
            agree(&p);
        }
    }

    #[test]
    fn depth_check_counts_containers() {
        assert!(!depth_exceeds(&json!(1), 0));
        assert!(depth_exceeds(&json!([1]), 0));
        assert!(!depth_exceeds(&nested(MAX_DEPTH), MAX_DEPTH));
        assert!(depth_exceeds(&nested(MAX_DEPTH + 1), MAX_DEPTH));
        assert!(depth_exceeds(&json!({"a": [{"b": []}]}), 3));
        assert!(!depth_exceeds(&json!({"a": [{"b": []}]}), 4));
    }

    /// Property test: random bytes never panic the decoder, and every outcome is a frame,
    /// a typed error, or "need more bytes".
    #[test]
    fn random_bytes_never_panic() {
        let mut seed = 0x9e3779b97f4a7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..2000 {
            let len = (next() % 300) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if round % 3 == 0 && len >= 4 {
                // Plausible length prefix so the JSON parser sees the garbage.
                let n = (len - 4) as u32;
                bytes[..4].copy_from_slice(&n.to_be_bytes());
            }
            if round % 5 == 0 && len > 8 {
                // A valid frame with a corrupted byte.
                let mut ok = Vec::new();
                encode_into(
                    &Frame::Msg {
                        to: 1,
                        msg: json!({"k": [1, 2]}),
                    },
                    &mut ok,
                );
                let i = (next() as usize) % ok.len();
                ok[i] ^= (next() as u8) | 1;
                bytes = ok;
            }
            let mut d = Decoder::new(256);
            d.feed(&bytes);
            for _ in 0..8 {
                match d.next_frame() {
                    Ok(Some(_)) => continue,
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }
}
