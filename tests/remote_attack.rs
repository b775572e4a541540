//! The front door under attack (issue 7 rows 1 and 3): raw sockets play a peer without the
//! cookie that tries to make a node vouch for itself (reflection), and peers that trickle
//! or pile up handshakes.

#[allow(dead_code)] // each test binary uses part of the shared helpers
mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::wire::proof;
use pyact::{Mesh, Node, NodeOptions, Value, json};

/// Generous: 2 cores shared by many builds.
const PATIENCE: Duration = Duration::from_secs(30);

fn node_with(cookie: &str, opts: NodeOptions) -> Node {
    Node::with_options(&Mesh::new(), &format!("{cookie}@127.0.0.1:0"), opts).unwrap()
}

fn write_frame(s: &mut TcpStream, v: &Value) -> std::io::Result<()> {
    let body = serde_json::to_vec(v).unwrap();
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    s.write_all(&out)
}

/// The next frame, or `None` once the peer closed (or reset) the connection.
fn read_frame(s: &mut TcpStream) -> Option<Value> {
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut len = [0u8; 4];
    match s.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
            panic!("the node neither answered nor closed within {PATIENCE:?}")
        }
        Err(_) => return None,
    }
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).ok()?;
    Some(serde_json::from_slice(&body).unwrap())
}

fn hello(node: &str, creation: u64) -> Value {
    json!({"hello": {"proto": "pyact", "version": 2, "node": node, "creation": creation}})
}

/// A node with a factory that counts what the attacker manages to spawn.
fn victim() -> (Node, Arc<AtomicUsize>) {
    let a = node_with("secret", NodeOptions::default());
    let spawned = Arc::new(AtomicUsize::new(0));
    let s = spawned.clone();
    a.register_factory("count", move |_mb, _args| {
        s.fetch_add(1, Ordering::SeqCst);
        pyact::ExitReason::Normal(Value::Null)
    });
    (a, spawned)
}

/// Make `a` dial the attacker (as any `$addr` naming it would) and accept that dial.
/// Returns the dial's outcome (joined later), the dialled connection, and `a`'s Hello.
fn lure(
    a: &Node,
    attacker: &TcpListener,
    cookie: &str,
) -> (
    std::thread::JoinHandle<Result<(), pyact::NodeError>>,
    TcpStream,
    Value,
) {
    let x = attacker.local_addr().unwrap();
    let a2 = a.clone();
    let name = format!("{cookie}@{x}");
    let dial = std::thread::spawn(move || a2.connect(&name));
    let (mut d, _) = attacker.accept().unwrap();
    let h = read_frame(&mut d).expect("the node says hello");
    (dial, d, h["hello"].clone())
}

/// The attack of issue 7 row 1, step by step, each rule on its own: no step gets the node
/// to prove the cookie for the attacker, nothing is spawned, no connection is registered.
#[test]
fn reflection_attack_without_the_cookie_is_refused() {
    let (a, spawned) = victim();
    let attacker = TcpListener::bind("127.0.0.1:0").unwrap();
    let x = attacker.local_addr().unwrap().to_string();
    let a_addr = a.name().to_string();

    // 1. The attacker hands the node's own Hello (its name and creation) to its listener.
    let (dial, mut d, h) = lure(&a, &attacker, "anything");
    assert_eq!(h["node"], a_addr.as_str());
    let mut l = TcpStream::connect(&a_addr).unwrap();
    write_frame(&mut l, &json!({"hello": h.clone()})).unwrap();
    let answer = read_frame(&mut l);
    assert!(
        answer.as_ref().is_none_or(|f| f.get("refused").is_some()),
        "a peer declaring our own name must be refused, got {answer:?}"
    );

    // 2. The attacker asks the listener for a challenge as the dialled name, and hands that
    //    challenge back to the dialer with the node's own name: the reflection.
    let mut l2 = TcpStream::connect(&a_addr).unwrap();
    write_frame(&mut l2, &hello(&x, 77)).unwrap();
    let ch = read_frame(&mut l2).expect("a challenge")["challenge"].clone();
    assert_eq!(ch["node"], a_addr.as_str());
    write_frame(&mut d, &json!({"challenge": ch.clone()})).unwrap();
    assert_eq!(
        read_frame(&mut d),
        None,
        "the dialer must not answer its own name and challenge"
    );
    assert!(dial.join().unwrap().is_err());

    // 3. Same, but the challenge now names the dialled node: only "a challenge we issued is
    //    never answered" stops it (the listener's handshake on l2 is still waiting).
    let (dial, mut d, _) = lure(&a, &attacker, "anything");
    let reflected = ch["challenge"].clone();
    write_frame(
        &mut d,
        &json!({"challenge": {"version": 2, "node": x, "creation": 77, "challenge": reflected}}),
    )
    .unwrap();
    assert_eq!(
        read_frame(&mut d),
        None,
        "the dialer must not answer a challenge it issued itself"
    );
    assert!(dial.join().unwrap().is_err());

    // 4. A fresh challenge, but from a node that is not the one dialled.
    let (dial, mut d, _) = lure(&a, &attacker, "anything");
    write_frame(
        &mut d,
        &json!({"challenge": {"version": 2, "node": "127.0.0.1:9", "creation": 5,
                              "challenge": "ab".repeat(32)}}),
    )
    .unwrap();
    assert_eq!(
        read_frame(&mut d),
        None,
        "the dialer must not answer a node it did not dial"
    );
    assert!(dial.join().unwrap().is_err());

    // Whatever the attacker writes now on its connections goes nowhere.
    for s in [&mut l, &mut l2] {
        let _ = write_frame(
            s,
            &json!({"spawn": {"req": 1, "factory": "count", "args": null}}),
        );
    }
    drop((l, l2));
    assert_eq!(spawned.load(Ordering::SeqCst), 0, "nothing was spawned");
    assert!(
        a.connected_nodes().is_empty(),
        "no connection was registered: {:?}",
        a.connected_nodes()
    );
}

/// One overall handshake deadline: a peer trickling a valid Hello one byte at a time is cut
/// off long before it finishes (with a per-read deadline it would be held forever).
#[test]
fn a_trickling_handshake_is_cut_off_at_the_overall_deadline() {
    let a = node_with(
        "secret",
        NodeOptions::default().connect_timeout(Duration::from_secs(5), Duration::from_secs(1)),
    );
    let mut s = TcpStream::connect(a.name()).unwrap();
    let body = serde_json::to_vec(&hello("127.0.0.1:1", 3)).unwrap();
    let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(&body);
    // Each byte comes well within a per-read deadline of 1 s; the whole Hello would take
    // about 25 s.
    let step = Duration::from_secs(25) / bytes.len() as u32;
    let mut closed_after = None;
    for (i, b) in bytes.iter().enumerate() {
        if s.write_all(&[*b]).is_err() {
            closed_after = Some(i);
            break;
        }
        s.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 64];
        let peek = s.read(&mut buf);
        s.set_nonblocking(false).unwrap();
        match peek {
            Ok(0) => {
                closed_after = Some(i + 1);
                break;
            }
            Ok(_) => panic!("the node answered a Hello it never got whole"),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => {
                closed_after = Some(i + 1);
                break;
            }
        }
        std::thread::sleep(step); // the attack itself: one byte at a time
    }
    let sent = closed_after.expect("the trickling peer was never cut off");
    assert!(sent < bytes.len(), "cut off before the Hello was whole");
}

/// At most `max_handshakes` in progress: a connection past the cap from the same source
/// group as the holders is closed at once with `busy` while they are young (under 250 ms),
/// then takes the slot of the oldest handshake that has got least far (here the silent
/// peers holding every slot, one per newcomer), so a legitimate peer gets in at once (issue
/// 16 row 1, see `door.rs`).
#[test]
fn handshakes_past_the_cap_evict_the_oldest_silent_one() {
    const CAP: usize = 4;
    let a = node_with(
        "secret",
        NodeOptions::default()
            .connect_timeout(Duration::from_secs(5), Duration::from_secs(60))
            .max_handshakes(CAP),
    );
    // CAP silent peers hold every handshake slot (the deadline is 60 s).
    let mut held: Vec<TcpStream> = Vec::new();
    for _ in 0..CAP {
        held.push(TcpStream::connect(a.name()).unwrap());
        // In order: the first held is the oldest.
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut young = TcpStream::connect(a.name()).unwrap();
    write_frame(&mut young, &hello("127.0.0.1:1", 3)).unwrap_or(());
    assert_eq!(
        read_frame(&mut young),
        Some(json!({"refused": {"why": "busy: too many handshakes in progress"}})),
        "while the held ones are young, a connection past the cap is told why and closed"
    );
    assert_eq!(read_frame(&mut young), None, "then closed");
    // The age after which the door may replace a handshake of the newcomer's own group.
    std::thread::sleep(Duration::from_millis(300));
    let mut extra = TcpStream::connect(a.name()).unwrap();
    write_frame(&mut extra, &hello("127.0.0.1:1", 3)).unwrap();
    let answer = read_frame(&mut extra).expect("an answer");
    assert!(
        answer.get("challenge").is_some(),
        "a connection past the cap gets a handshake: {answer:?}"
    );
    assert_eq!(
        read_frame(&mut held[0]),
        None,
        "the oldest silent peer was closed"
    );
    for s in &mut held[1..] {
        s.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 8];
        let r = s.read(&mut buf);
        assert!(
            matches!(&r, Err(e) if e.kind() == ErrorKind::WouldBlock),
            "the other held handshakes are still open: {r:?}"
        );
    }
    // A legitimate node gets in on its first try, though every slot is still taken.
    let b = node_with("secret", NodeOptions::default());
    b.connect(&format!("secret@{}", a.name()))
        .expect("a legitimate node gets in at once");
    assert!(b.connected_nodes().contains(&a.name().to_string()));
    drop((held, extra));
}

/// The acceptor's side of the reflection rule, which only a peer *with* the cookie can
/// reach (a wrong digest is refused first): the listener never answers a challenge that the
/// node's own dialer issued and is waiting on. Also checks the digest layout of the protocol
/// page, since the valid proof here is computed from it.
#[test]
fn the_listener_never_answers_a_challenge_its_own_dialer_issued() {
    let (a, _) = victim();
    let attacker = TcpListener::bind("127.0.0.1:0").unwrap();
    let x = attacker.local_addr().unwrap().to_string();
    let a_addr = a.name().to_string();
    let ka = a.creation();

    // The node dials us; we answer as the node it dialled and get its challenge cA.
    let (dial, mut d, _) = lure(&a, &attacker, "secret");
    write_frame(
        &mut d,
        &json!({"challenge": {"version": 2, "node": x, "creation": 77,
                              "challenge": "cd".repeat(32)}}),
    )
    .unwrap();
    let resp = read_frame(&mut d).expect("a response")["response"].clone();
    assert_eq!(
        resp["digest"],
        proof("secret", "A>B", &"cd".repeat(32), (&a_addr, ka), (&x, 77)),
        "the digest is the one the protocol page specifies"
    );
    let c_a = resp["challenge"].as_str().unwrap().to_string();

    // Now we connect to its listener, prove the cookie, and hand it cA to answer.
    let mut l = TcpStream::connect(&a_addr).unwrap();
    write_frame(&mut l, &hello(&x, 77)).unwrap();
    let ch = read_frame(&mut l).expect("a challenge")["challenge"].clone();
    let c_b = ch["challenge"].as_str().unwrap();
    let digest = proof("secret", "A>B", c_b, (&x, 77), (&a_addr, ka));
    write_frame(
        &mut l,
        &json!({"response": {"digest": digest, "challenge": c_a}}),
    )
    .unwrap();
    let answer = read_frame(&mut l);
    assert!(
        answer.as_ref().is_none_or(|f| f.get("refused").is_some()),
        "the listener must not answer the dialer's own challenge, got {answer:?}"
    );

    // Control: the same with a fresh challenge is answered (so the refusal above was the
    // reflection rule, not a wrong proof).
    let mut l2 = TcpStream::connect(&a_addr).unwrap();
    write_frame(&mut l2, &hello(&x, 78)).unwrap();
    let ch = read_frame(&mut l2).expect("a challenge")["challenge"].clone();
    let c_b = ch["challenge"].as_str().unwrap();
    let digest = proof("secret", "A>B", c_b, (&x, 78), (&a_addr, ka));
    write_frame(
        &mut l2,
        &json!({"response": {"digest": digest, "challenge": "ef".repeat(32)}}),
    )
    .unwrap();
    let ack = read_frame(&mut l2).expect("an ack");
    assert_eq!(
        ack["ack"]["digest"],
        proof("secret", "B>A", &"ef".repeat(32), (&a_addr, ka), (&x, 78))
    );
    drop((d, l, l2));
    let _ = dial.join();
}
