//! An echo server in the gevent style: one actor accepts, one actor per connection echoes
//! each line back, all written as plain blocking code on `pyact::net` sockets (a read parks
//! only its actor, never a worker thread).
//!
//! ```text
//! cargo run --example echo                         # self-check: 20 client actors x 50 lines, then exits
//! cargo run --example echo -- serve                # serve on 127.0.0.1:7878 until Ctrl-C
//! cargo run --example echo -- serve 127.0.0.1:9000 # ... or on another address
//! nc 127.0.0.1 7878                                # then type lines: each comes back
//! ```

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;

use pyact::net::{TcpListener, TcpStream};
use pyact::{Mesh, Node, json};

/// One connection: echo every line until the client closes (or the connection fails).
fn echo(stream: TcpStream) {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let mut lines = BufReader::new(&stream);
    let mut line = String::new();
    let mut echoed = 0u64;
    while lines.read_line(&mut line).unwrap_or(0) > 0 {
        if (&stream).write_all(line.as_bytes()).is_err() {
            break;
        }
        echoed += 1;
        line.clear();
    }
    log::debug!("{peer}: closed after {echoed} line(s)");
}

/// Bind, then accept for ever in an actor, spawning one `echo` actor per connection.
fn start_server(node: &Node, addr: &str) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    node.spawn(move |_| {
        for stream in listener.incoming() {
            match stream {
                Ok(s) => {
                    pyact::spawn(move |_| echo(s));
                }
                // E.g. out of descriptors: pause rather than spin on the error.
                Err(e) => {
                    log::warn!("accept failed: {e}");
                    pyact::actor::sleep(std::time::Duration::from_millis(50));
                }
            }
        }
    });
    Ok(bound)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let node = Node::new(&Mesh::new(), "echo@127.0.0.1:0").expect("node");
    if args.first().map(String::as_str) == Some("serve") {
        let addr = args.get(1).map_or("127.0.0.1:7878", String::as_str);
        let bound = start_server(&node, addr).unwrap_or_else(|e| {
            eprintln!("cannot listen on {addr}: {e}");
            std::process::exit(1)
        });
        println!(
            "echo server on {bound}; try `nc {}` (Ctrl-C stops)",
            bound.to_string().replace(':', " ")
        );
        // The acceptor never ends: wait for it (until Ctrl-C).
        let mut inbox = node.inbox();
        inbox.receive();
        return;
    }

    // Self-check: client actors on the same node, each with its own connection.
    const CLIENTS: usize = 20;
    const LINES: usize = 50;
    let bound = start_server(&node, "127.0.0.1:0").expect("bind");
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            node.spawn(move |_| {
                let stream = TcpStream::connect(bound).expect("connect");
                let mut back = BufReader::new(&stream);
                let mut got = String::new();
                for i in 0..LINES {
                    let line = format!("client {c} line {i}\n");
                    (&stream).write_all(line.as_bytes()).expect("write");
                    got.clear();
                    back.read_line(&mut got).expect("read");
                    assert_eq!(got, line, "client {c} got another line back");
                }
                json!(LINES)
            })
        })
        .collect();
    let mut total = 0;
    for c in &clients {
        let n = node
            .wait(c)
            .unwrap_or_else(|r| panic!("client {c} failed: {r}"));
        total += n.as_u64().unwrap_or(0);
    }
    assert_eq!(total as usize, CLIENTS * LINES);
    println!("echo: {CLIENTS} client actors x {LINES} lines over {bound}, all checked");
}
