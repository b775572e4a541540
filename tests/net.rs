//! `pyact::net` (issue 15, item 3): coroutine-aware TCP for actor code.
//!
//! Own test binary: `may`'s worker count is process-global, and these tests need two
//! workers (so that blocking a worker would show: a hang, caught by a deadline).

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyact::config::Config;
use pyact::net::{TcpListener, TcpStream};
use pyact::observe::Status;
use pyact::{Address, Mesh, Node, Value, json};

/// Generous: only a blocked worker or a lost wake-up reaches it.
const HUNG: Duration = Duration::from_secs(60);

/// Every test starts here, even one without a node: the first socket starts the runtime,
/// with the default configuration unless this one is applied first.
fn two_workers() {
    Config::default().workers(2).apply().unwrap();
}

fn node() -> Node {
    two_workers();
    Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap()
}

/// Wait for `a` with the deadline; its result.
fn wait(a: &Address) -> Value {
    match a.wait_timeout(HUNG) {
        Ok(Ok(v)) => v,
        Ok(Err(reason)) => panic!("{a} failed: {reason}"),
        Err(_) => panic!("{a} still running after {HUNG:?}"),
    }
}

/// The gevent-style server: an acceptor actor, one echo actor per connection (lines).
fn echo_server(node: &Node) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    node.spawn(move |_| {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            pyact::spawn(move |_| {
                let mut lines = BufReader::new(&stream);
                let mut line = String::new();
                while lines.read_line(&mut line).unwrap_or(0) > 0 {
                    if (&stream).write_all(line.as_bytes()).is_err() {
                        break;
                    }
                    line.clear();
                }
            });
        }
    });
    addr
}

#[test]
fn fifty_clients_make_a_hundred_round_trips_each_on_two_workers() {
    const CLIENTS: usize = 50;
    const ROUNDS: usize = 100;
    let node = node();
    let addr = echo_server(&node);
    let clients: Vec<Address> = (0..CLIENTS)
        .map(|c| {
            node.spawn(move |_| {
                let stream = TcpStream::connect(addr).unwrap();
                stream.set_nodelay(true).unwrap();
                stream.set_read_timeout(Some(HUNG)).unwrap();
                let mut lines = BufReader::new(&stream);
                let mut back = String::new();
                for r in 0..ROUNDS {
                    let line = format!("client {c} round {r}\n");
                    (&stream).write_all(line.as_bytes()).unwrap();
                    back.clear();
                    lines.read_line(&mut back).unwrap();
                    assert_eq!(back, line);
                }
                json!(ROUNDS)
            })
        })
        .collect();
    let total: u64 = clients.iter().map(|c| wait(c).as_u64().unwrap()).sum();
    assert_eq!(total, (CLIENTS * ROUNDS) as u64);
}

#[test]
fn readers_parked_on_sockets_leave_the_workers_free() {
    // More readers than workers, all parked on silent sockets: if a read held its worker,
    // the actor below could never run.
    let node = node();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let readers: Vec<Address> = (0..4)
        .map(|_| {
            node.spawn(move |_| {
                let mut s = TcpStream::connect(addr).unwrap();
                let mut buf = [0u8; 5];
                s.read_exact(&mut buf).unwrap();
                json!(String::from_utf8_lossy(&buf))
            })
        })
        .collect();
    let servers: Vec<_> = (0..4).map(|_| listener.accept().unwrap().0).collect();
    let other = node.spawn(|_| json!("ran"));
    assert_eq!(wait(&other), "ran");
    // Each reader shows where it waits (`Node::info`).
    for r in &readers {
        let deadline = Instant::now() + HUNG;
        while node.info(r).map(|i| i.status) != Some(Status::Socket) {
            assert!(Instant::now() < deadline, "{r}: {:?}", node.info(r));
            std::thread::yield_now();
        }
    }
    for mut s in servers {
        s.write_all(b"hello").unwrap();
    }
    for r in &readers {
        assert_eq!(wait(r), "hello");
    }
}

#[test]
fn a_read_timeout_ends_the_wait_with_timed_out_in_actors_and_threads() {
    let node = node();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let t = Duration::from_millis(30);
    let actor = node.spawn(move |_| {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(t)).unwrap();
        let started = Instant::now();
        let err = s.read(&mut [0u8; 8]).unwrap_err();
        json!([format!("{:?}", err.kind()), started.elapsed() >= t])
    });
    let (_silent, _) = listener.accept().unwrap();
    assert_eq!(wait(&actor), json!(["TimedOut", true]));

    // The same from a plain thread.
    let mut s = TcpStream::connect(addr).unwrap();
    let (_silent2, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(t)).unwrap();
    let started = Instant::now();
    assert_eq!(
        s.read(&mut [0u8; 8]).unwrap_err().kind(),
        ErrorKind::TimedOut
    );
    assert!(started.elapsed() >= t);
    // A zero timeout is refused, as by std.
    assert_eq!(
        s.set_read_timeout(Some(Duration::ZERO)).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn a_write_timeout_ends_a_write_to_a_peer_that_does_not_read() {
    let node = node();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let writer = node.spawn(move |_| {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_write_timeout(Some(Duration::from_millis(30)))
            .unwrap();
        let chunk = vec![7u8; 64 * 1024];
        // Bounded: loopback buffers hold a few MB at most.
        for _ in 0..10_000 {
            if let Err(e) = s.write(&chunk) {
                return json!(format!("{:?}", e.kind()));
            }
        }
        json!("never blocked")
    });
    let (_not_reading, _) = listener.accept().unwrap();
    assert_eq!(wait(&writer), "TimedOut");
}

#[test]
fn binding_a_taken_port_is_an_error() {
    two_workers();
    let first = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = first.local_addr().unwrap();
    let err = TcpListener::bind(addr).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
}

#[test]
fn a_plain_thread_accepts_what_an_actor_sends() {
    let node = node();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let sender = node.spawn(move |_| {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"from an actor").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        json!(s.local_addr().unwrap().to_string())
    });
    // This thread blocks in accept (it is no worker), then reads to the end.
    let (mut s, from) = listener.accept().unwrap();
    let mut got = String::new();
    s.read_to_string(&mut got).unwrap();
    assert_eq!(got, "from an actor");
    assert_eq!(wait(&sender), json!(from.to_string()));
    assert_eq!(s.peer_addr().unwrap(), from);
}

#[test]
fn one_actor_writes_while_another_reads_the_same_stream() {
    // Both halves parked at once on one connection: a reader and a writer sharing
    // `&TcpStream` (each direction has its own descriptor).
    const BYTES: usize = 4 << 20;
    let node = node();
    let addr = echo_server(&node);
    let stream = Arc::new(TcpStream::connect(addr).unwrap());
    stream.set_read_timeout(Some(HUNG)).unwrap();
    let w = stream.clone();
    let writer = node.spawn(move |_| {
        let line = [b'x'; 1023]
            .iter()
            .chain(b"\n")
            .copied()
            .collect::<Vec<u8>>();
        for _ in 0..BYTES / 1024 {
            (&*w).write_all(&line).unwrap();
        }
        json!(true)
    });
    let r = stream.clone();
    let reader = node.spawn(move |_| {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0;
        while total < BYTES {
            let n = (&*r).read(&mut buf).unwrap();
            assert!(n > 0, "the echo ended early");
            total += n;
        }
        json!(total)
    });
    assert_eq!(wait(&writer), true);
    assert_eq!(wait(&reader), json!(BYTES));
}

#[test]
fn shutdown_through_a_clone_wakes_a_parked_reader() {
    let node = node();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stream = TcpStream::connect(addr).unwrap();
    let handle = stream.try_clone().unwrap();
    let reader = node.spawn(move |_| {
        let mut stream = stream;
        // No timeout: only the shutdown can end this read.
        json!(stream.read(&mut [0u8; 8]).unwrap())
    });
    let (_peer, _) = listener.accept().unwrap();
    // The reader may not be parked yet: a shutdown before its read ends it the same way.
    handle.shutdown(Shutdown::Both).unwrap();
    assert_eq!(wait(&reader), 0);
}

#[test]
fn connect_to_a_closed_port_is_an_error_and_connect_timeout_works() {
    let node = node();
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let a = node.spawn(move |_| {
        let e = TcpStream::connect(closed).unwrap_err();
        json!(format!("{:?}", e.kind()))
    });
    assert_eq!(wait(&a), "ConnectionRefused");
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = l.local_addr().unwrap();
    let b = node.spawn(move |_| {
        let s = TcpStream::connect_timeout(&open, Duration::from_secs(30)).unwrap();
        json!(s.peer_addr().unwrap().to_string())
    });
    assert_eq!(wait(&b), json!(open.to_string()));
}

#[test]
fn udp_one_actor_receives_while_another_sends_on_the_same_socket() {
    let node = node();
    // A UDP echo actor.
    let echo = pyact::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let echo_addr = echo.local_addr().unwrap();
    node.spawn(move |_| {
        let mut buf = [0u8; 64];
        while let Ok((n, from)) = echo.recv_from(&mut buf) {
            let _ = echo.send_to(&buf[..n], from);
        }
    });
    let sock = Arc::new(pyact::net::UdpSocket::bind("127.0.0.1:0").unwrap());
    sock.set_read_timeout(Some(HUNG)).unwrap();
    // Few enough that all fit in a default receive buffer (~200 KB, about 1 KB per small
    // datagram): loopback UDP drops only when a buffer overflows.
    const N: usize = 50;
    let rx = sock.clone();
    // Parked in recv_from before anything is sent: the sender must not wait for it.
    let receiver = node.spawn(move |_| {
        let mut seen = [false; N];
        let mut buf = [0u8; 64];
        for _ in 0..N {
            let (n, from) = rx.recv_from(&mut buf).unwrap();
            assert_eq!(from, echo_addr);
            let i: usize = std::str::from_utf8(&buf[..n]).unwrap().parse().unwrap();
            seen[i] = true;
        }
        json!(seen.iter().all(|s| *s))
    });
    let tx = sock.clone();
    let sender = node.spawn(move |_| {
        for i in 0..N {
            tx.send_to(i.to_string().as_bytes(), echo_addr).unwrap();
        }
        json!(N)
    });
    assert_eq!(wait(&sender), N);
    assert_eq!(wait(&receiver), true);

    // A receive with a timeout and nothing to receive ends with TimedOut (actor and thread).
    let quiet = pyact::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    quiet
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let kind = quiet.recv(&mut [0u8; 8]).unwrap_err().kind();
    assert_eq!(kind, ErrorKind::TimedOut);
    let a = node.spawn(move |_| {
        json!(format!(
            "{:?}",
            quiet.recv_from(&mut [0u8; 8]).unwrap_err().kind()
        ))
    });
    assert_eq!(wait(&a), "TimedOut");
}

#[test]
fn a_kill_lands_when_a_socket_call_returns() {
    // An actor that only ever reads a silent socket (each read timing out) makes no other
    // pyact call: the socket calls themselves must check for the kill.
    let node = node();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = node.spawn(move |_| -> () {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        loop {
            let _ = s.read(&mut [0u8; 8]);
        }
    });
    let (_silent, _) = listener.accept().unwrap();
    reader.kill().unwrap();
    match reader.wait_timeout(HUNG) {
        Ok(Err(pyact::ExitReason::Killed)) => {}
        other => panic!("{other:?}"),
    }
}
