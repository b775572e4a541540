//! One authenticated TCP connection to another node, and the two coroutines that drive it.
//!
//! - The **writer** drains the connection's outbound queue. Senders encode their frame and
//!   push the bytes (never blocking); the writer takes everything queued (up to 256 KiB) and
//!   writes it with one `write_all`, so under load many small messages share one syscall.
//!   When the queue stays empty for the heartbeat interval it writes a `Heartbeat` frame.
//! - The **reader** reads into a [`Decoder`] and hands each frame to the node
//!   ([`super::dispatch::on_frame`]), in order. A read that sees nothing for the heartbeat
//!   timeout means the peer is gone.
//!
//! Any failure (I/O error, EOF, silence, a bad frame) closes the connection and reports the
//! peer down to its node, which fires links and monitors with `noconnection`.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use may::net::TcpStream;
use may::sync::mpsc;

use super::frame::{Decoder, Frame, encode_into};
use crate::Node;

/// A live connection to `peer`.
pub(crate) struct Conn {
    /// The peer's node id (`host:port`).
    pub(crate) peer: Arc<str>,
    tx: Mutex<mpsc::Sender<Vec<u8>>>,
    closed: AtomicBool,
    stream: TcpStream,
}

impl Conn {
    /// Queue encoded frame bytes for the writer. Fails once the connection closed.
    pub(crate) fn push(&self, bytes: Vec<u8>) -> Result<(), ()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(());
        }
        self.tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(bytes)
            .map_err(|_| ())
    }

    /// Queue a frame.
    pub(crate) fn push_frame(&self, f: &Frame) -> Result<(), ()> {
        let mut out = Vec::new();
        encode_into(f, &mut out);
        self.push(out)
    }

    /// Close both directions; the loops notice and end. Idempotent.
    pub(crate) fn close(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            let _ = self.stream.shutdown(Shutdown::Both);
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// Heartbeat settings of a connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Beat {
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
}

/// Start the reader and writer of an authenticated stream. `decoder` holds whatever the
/// handshake already read past its last frame.
pub(crate) fn start(
    node: &Node,
    stream: TcpStream,
    peer: Arc<str>,
    mut decoder: Decoder,
    max_frame: usize,
    beat: Beat,
) -> std::io::Result<Arc<Conn>> {
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let conn = Arc::new(Conn {
        peer,
        tx: Mutex::new(tx),
        closed: AtomicBool::new(false),
        stream: stream.try_clone()?,
    });
    decoder.set_limit(max_frame);
    stream.set_read_timeout(Some(beat.timeout))?;
    let mut wstream = stream.try_clone()?;
    let wconn = conn.clone();
    let wnode = node.clone();
    super::go(move || {
        let mut batch: Vec<u8> = Vec::with_capacity(64 * 1024);
        loop {
            match rx.recv_timeout(beat.interval) {
                Ok(first) => {
                    batch.extend_from_slice(&first);
                    while batch.len() < 256 * 1024 {
                        match rx.try_recv() {
                            Ok(more) => batch.extend_from_slice(&more),
                            Err(_) => break,
                        }
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    encode_into(&Frame::Heartbeat, &mut batch);
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if wconn.is_closed() {
                break;
            }
            if let Err(e) = wstream.write_all(&batch) {
                super::peers::conn_failed(&wnode, &wconn, &format!("write failed: {e}"));
                break;
            }
            batch.clear();
        }
    })?;
    let rconn = conn.clone();
    let rnode = node.clone();
    let mut rstream = stream;
    super::go(move || {
        crate::actor::set_context(Some((rnode.clone(), None)));
        let why = read_loop(&rnode, &rconn, &mut rstream, &mut decoder, beat);
        super::peers::conn_failed(&rnode, &rconn, &why);
    })
    .inspect_err(|_| conn.close())?; // the writer sees it closed and ends
    Ok(conn)
}

/// Read and dispatch frames until something goes wrong; returns what went wrong.
fn read_loop(
    node: &Node,
    conn: &Arc<Conn>,
    stream: &mut TcpStream,
    decoder: &mut Decoder,
    beat: Beat,
) -> String {
    const CHUNK: usize = 64 * 1024;
    loop {
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => super::dispatch::on_frame(node, conn, frame),
                Ok(None) => break,
                Err(e) => return format!("{e} from {}", conn.peer),
            }
        }
        if conn.is_closed() {
            return "closed".into();
        }
        let buf = decoder.spare(CHUNK);
        let res = stream.read(buf);
        match res {
            Ok(0) => {
                decoder.filled(CHUNK, 0);
                return if decoder.has_partial() {
                    "peer closed the connection in the middle of a frame".into()
                } else {
                    "peer closed the connection".into()
                };
            }
            Ok(n) => decoder.filled(CHUNK, n),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                ) =>
            {
                decoder.filled(CHUNK, 0);
                return format!("peer silent for {:?} (heartbeat timeout)", beat.timeout);
            }
            Err(e) => {
                decoder.filled(CHUNK, 0);
                return format!("read failed: {e}");
            }
        }
    }
}
