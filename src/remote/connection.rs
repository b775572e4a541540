//! One authenticated TCP connection to another node, and the two coroutines that drive it.
//!
//! - The **outbox** is a byte buffer of encoded frames, bounded by
//!   [`NodeOptions::outbound_limit`](crate::NodeOptions::outbound_limit). A user message that
//!   does not fit makes its sender (actor or plain thread) wait for room, at most
//!   [`NodeOptions::send_timeout`](crate::NodeOptions::send_timeout); then the send fails
//!   with [`SendError::Overloaded`](crate::SendError::Overloaded). Control frames (replies,
//!   exit and down signals) never wait, so a reader can always answer; they may overshoot the
//!   bound by one more limit's worth, past which the peer is evidently not reading its
//!   replies and the connection is dropped.
//! - The **writer** takes the whole outbox at once (so under load many small messages share
//!   one syscall) and writes it in pieces (`write_batch`). `write_timeout` bounds the time
//!   *without progress*: it restarts whenever the socket takes a byte, or the peer reports
//!   that its reader took some (a `Progress` frame, which every reader sends at most every
//!   `PROGRESS_EVERY` while it takes frames other than heartbeats: TCP alone shows a slow reader's progress only a
//!   whole segment at a time). So a peer that reads slowly but steadily keeps its
//!   connection however large the backlog, and one that reads nothing is dropped at most
//!   about 250 ms after `write_timeout`. When the outbox stays empty for the heartbeat
//!   interval it writes a `Heartbeat` frame.
//! - The **reader** reads into a [`Decoder`] and hands each frame to the node
//!   ([`super::dispatch::on_frame`]), in order, yielding its worker after every read so a
//!   flood from one peer never starves local actors. A read that sees nothing for the
//!   heartbeat timeout means the peer is gone. A complete frame that is not valid JSON or not
//!   a known kind is dropped with a log line (the length prefix keeps the stream in step);
//!   other messages on the connection are unaffected.
//!
//! Whichever of the two loops ends first, for whatever reason (I/O error, EOF, silence, an
//! oversized frame, even a panic), takes the connection down with it: a guard in each loop
//! closes the socket and reports the failure to the peer table when the loop is left.

use std::io::Read;
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use may::net::TcpStream;
use may::sync::Blocker;

use super::frame::{Decoder, Frame, FrameError, encode_into};
use super::placed::Placed;
use super::transport::{ReadHalf, Stream, WriteHalf};
use crate::Node;

/// Why a frame could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushError {
    /// The connection is closed.
    Closed,
    /// The outbox stayed full for the whole write timeout.
    Overloaded,
}

/// The encoded frames waiting for the writer, and who waits for what.
///
/// No [`Blocker`] may be dropped while the outbox is locked. Dropping the last handle of a
/// blocker whose wake-up `may` is still delivering (an unpark that raced the park) makes
/// the dropping coroutine *yield* until the delivery ends (`may::park::Park::drop`). A
/// coroutine that yields holding this `std` mutex leaves every other coroutine that reaches
/// the lock blocking its worker *thread*: with thousands of coroutines queueing frames on
/// one connection, every worker of the process blocked on it for good (issue 9: a writer
/// loop that dropped its blocker under the re-taken lock; `tests/remote_under_attack.rs`).
/// So blockers are taken out under the lock, and woken and dropped after it.
#[derive(Default)]
struct Outbox {
    buf: Vec<u8>,
    /// Frames in `buf`.
    frames: u64,
    /// The writer, parked until there is something to write.
    writer: Option<Arc<Blocker>>,
    /// Senders parked until the writer makes room.
    senders: Vec<Arc<Blocker>>,
}

/// A live connection to `peer`.
pub(crate) struct Conn {
    /// The peer's node id (`host:port`).
    pub(crate) peer: Arc<str>,
    /// Unique per process: tells a connection from a newer one with the same peer.
    pub(crate) serial: u64,
    out: Mutex<Outbox>,
    limit: usize,
    write_timeout: Duration,
    send_timeout: Duration,
    /// When the connection was made: the origin of `peer_read`.
    opened: Instant,
    /// When (ms after `opened`) the peer last said its reader took bytes (a
    /// [`Frame::Progress`]); 0: never.
    peer_read: AtomicU64,
    /// When (ms after `opened`) this side last sent a [`Frame::Progress`] (reader only).
    reported: AtomicU64,
    closed: AtomicBool,
    /// A plain duplicate of the socket, for `shutdown`. Not registered with `may`'s event
    /// loop: every registration of a socket is woken by every event it asks for, and an
    /// extra one asking for reads woke a second worker on each incoming packet (which then
    /// stole the reader's freshly woken actors, see `run`).
    stream: std::net::TcpStream,
    /// What the peer placed here through this connection.
    pub(crate) placed: Mutex<Placed>,
    /// Frames dropped because they were malformed (counted for [`crate::remote::NetStats`]).
    pub(crate) dropped: AtomicU64,
    /// Traffic since the connection opened, for [`crate::observe::PeerStats`].
    pub(crate) traffic: Traffic,
}

/// A connection's traffic counters. Each has one writer (the reader loop for `*_in`, the
/// writer loop for `*_out`), which keeps a running total and stores it once per frame read,
/// per read, or per batch written (before the batch goes out): a relaxed store, no
/// read-modify-write, no lock. So a frame is counted before its effect can be seen.
#[derive(Default)]
pub(crate) struct Traffic {
    /// Frames received and dispatched (heartbeats, progress reports and member lists
    /// excluded).
    pub(crate) frames_in: AtomicU64,
    /// Bytes received (frames and heartbeats, after the handshake).
    pub(crate) bytes_in: AtomicU64,
    /// Frames handed to the socket (heartbeats, progress reports and member lists excluded).
    pub(crate) frames_out: AtomicU64,
    /// Bytes handed to the socket.
    pub(crate) bytes_out: AtomicU64,
}

/// Wake the writer parked on the outbox `out` (if any), after letting go of the lock: a
/// blocker is unparked and dropped outside it (see [`Outbox`]: `Park::drop` can yield).
#[inline]
fn wake_writer(mut out: MutexGuard<'_, Outbox>) {
    let w = out.writer.take();
    drop(out);
    if let Some(w) = w {
        w.unpark();
    }
}

impl Conn {
    /// A connection on an authenticated stream; nothing runs until [`Conn::run`].
    pub(crate) fn new(
        stream: &TcpStream,
        peer: Arc<str>,
        limit: usize,
        write_timeout: Duration,
        send_timeout: Duration,
    ) -> std::io::Result<Arc<Conn>> {
        static SERIAL: AtomicU64 = AtomicU64::new(1);
        Ok(Arc::new(Conn {
            peer,
            serial: SERIAL.fetch_add(1, Ordering::Relaxed),
            out: Mutex::new(Outbox::default()),
            limit: limit.max(1),
            write_timeout,
            send_timeout,
            opened: Instant::now(),
            peer_read: AtomicU64::new(0),
            reported: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            stream: stream.inner().try_clone()?,
            placed: Mutex::default(),
            dropped: AtomicU64::new(0),
            traffic: Traffic::default(),
        }))
    }

    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        self.out.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn placed(&self) -> MutexGuard<'_, Placed> {
        self.placed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queue a user message's bytes, waiting (at most the send timeout) for room when the
    /// outbox is full. An empty outbox takes any one frame, so a frame larger than the bound
    /// still travels.
    pub(crate) fn push(&self, bytes: &[u8]) -> Result<(), PushError> {
        let mut deadline: Option<Instant> = None;
        loop {
            if self.is_closed() {
                return Err(PushError::Closed);
            }
            let mut out = self.outbox();
            if out.buf.is_empty() || out.buf.len() + bytes.len() <= self.limit {
                out.buf.extend_from_slice(bytes);
                out.frames += 1;
                wake_writer(out);
                return Ok(());
            }
            let d = *deadline.get_or_insert_with(|| Instant::now() + self.send_timeout);
            let left = d.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(PushError::Overloaded);
            }
            let me = Blocker::current();
            out.senders.push(me.clone());
            drop(out);
            // `may`'s timer counts whole milliseconds; round up, the loop re-checks.
            let _ = me.park(Some(Duration::from_millis(
                left.as_millis().max(1).min(u64::MAX as u128) as u64,
            )));
        }
    }

    /// Queue a control frame (a reply or a signal): never waits. Past twice the bound the
    /// peer is not reading what it asked for, and the connection is dropped.
    pub(crate) fn push_frame(&self, f: &Frame) -> Result<(), PushError> {
        self.push_control(f, 1)
    }

    /// Queue a frame that is bookkeeping, not traffic (a member list, see `cluster.rs`):
    /// as [`Conn::push_frame`], but not counted in the traffic's frames, as heartbeats
    /// and progress reports are not.
    pub(crate) fn push_bookkeeping(&self, f: &Frame) -> Result<(), PushError> {
        self.push_control(f, 0)
    }

    fn push_control(&self, f: &Frame, counted: u64) -> Result<(), PushError> {
        if self.is_closed() {
            return Err(PushError::Closed);
        }
        let mut out = self.outbox();
        if out.buf.len() > self.limit.saturating_mul(2) {
            drop(out);
            log::warn!(
                "connection to {}: outbox over twice its limit of {} bytes with control frames; dropping it",
                self.peer,
                self.limit
            );
            self.close();
            return Err(PushError::Closed);
        }
        encode_into(f, &mut out.buf);
        out.frames += counted;
        wake_writer(out);
        Ok(())
    }

    /// The reader took traffic: tell the peer's writer ([`Frame::Progress`]), at most
    /// every [`PROGRESS_EVERY`]; `true` if a report was queued. Called by the reader after
    /// each batch of frames it took (or part of one), and after a frame whose dispatch
    /// waited (for room in a bounded mailbox), so that a reader held back frame by frame
    /// still shows its progress. Skipped while the outbox is over its bound (a report is
    /// never worth dropping the connection for, as [`Conn::push_frame`] would past twice
    /// the bound).
    pub(crate) fn report_progress(&self) -> bool {
        let now = self.opened.elapsed().as_millis() as u64;
        let last = self.reported.load(Ordering::Relaxed);
        if now < last + PROGRESS_EVERY.as_millis() as u64 || self.is_closed() {
            return false;
        }
        let read = self.traffic.bytes_in.load(Ordering::Relaxed);
        let mut out = self.outbox();
        if out.buf.len() > self.limit {
            return false;
        }
        self.reported.store(now, Ordering::Relaxed);
        // Not counted as a frame: like heartbeats, not traffic (see `Traffic`).
        encode_into(&Frame::Progress { read }, &mut out.buf);
        wake_writer(out);
        true
    }

    /// The peer said its reader took bytes: the writer counts that as progress.
    fn peer_reads(&self) {
        let ms = self.opened.elapsed().as_millis().max(1) as u64;
        self.peer_read.store(ms, Ordering::Relaxed);
    }

    /// When the peer last said its reader took bytes, if ever.
    fn peer_read_at(&self) -> Option<Instant> {
        match self.peer_read.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(self.opened + Duration::from_millis(ms)),
        }
    }

    /// Close both directions and wake everyone parked on the outbox; the loops notice and
    /// end. Idempotent.
    pub(crate) fn close(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            let _ = self.stream.shutdown(Shutdown::Both);
            let (w, s) = {
                let mut out = self.outbox();
                (out.writer.take(), std::mem::take(&mut out.senders))
            };
            for b in w.into_iter().chain(s) {
                b.unpark();
            }
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Bytes waiting in the outbox.
    pub(crate) fn queued(&self) -> usize {
        self.outbox().buf.len()
    }

    /// Bytes and frames waiting in the outbox.
    pub(crate) fn queued_with_frames(&self) -> (usize, u64) {
        let out = self.outbox();
        (out.buf.len(), out.frames)
    }

    /// Start the writer and the reader. `decoder` holds whatever the handshake already read
    /// past its last frame. If either cannot start, the connection is closed and reported.
    pub(crate) fn run(
        self: &Arc<Self>,
        node: &Node,
        mut stream: Stream,
        mut decoder: Decoder,
        max_frame: usize,
        beat: Beat,
    ) -> std::io::Result<()> {
        decoder.set_limit(max_frame);
        stream.set_read_timeout(Some(beat.timeout))?;
        // Each write call waits at most a slice; `write_batch` adds the slices up and drops
        // the peer only after `write_timeout` without progress.
        stream.set_write_timeout(Some(write_slice(self.write_timeout)))?;
        // Split, not cloned: the reader's registration with `may`'s event loop asks for
        // reads only and the writer's for writes only. A clone asks for both, so each
        // incoming packet also woke the worker that owned the writer's registration; that
        // worker, awake with nothing to do, stole the actors the reader had just woken, and
        // the reader's allocations were then freed on another thread (malloc's arena lock
        // turned out to be the hottest spot of a one-way flood).
        let (rstream, mut wstream) = stream.split()?;
        let (wconn, wnode) = (self.clone(), node.clone());
        // Both loops are counted network coroutines (`remote::go`): a connection holds two
        // slots of the live-actor budget, and a failed start closes it instead of panicking.
        let started = super::go(move || {
            let guard = DownGuard::new(&wnode, &wconn, "writer ended");
            let why = write_loop(&wconn, &mut wstream, beat);
            guard.set(why);
        });
        if let Err(e) = started {
            super::peers::conn_failed(node, self, &format!("cannot start the writer: {e}"));
            return Err(e);
        }
        let (rconn, rnode) = (self.clone(), node.clone());
        let mut rstream = rstream;
        let started = super::go(move || {
            crate::context::set_context(Some((rnode.clone(), None)));
            let guard = DownGuard::new(&rnode, &rconn, "reader ended");
            let why = read_loop(&rnode, &rconn, &mut rstream, &mut decoder, beat);
            guard.set(why);
        });
        if let Err(e) = started {
            super::peers::conn_failed(node, self, &format!("cannot start the reader: {e}"));
            return Err(e);
        }
        Ok(())
    }
}

/// Reports the connection down when a loop is left, however it is left (a panic included).
struct DownGuard {
    node: Node,
    conn: Arc<Conn>,
    why: String,
}

impl DownGuard {
    fn new(node: &Node, conn: &Arc<Conn>, why: &str) -> Self {
        DownGuard {
            node: node.clone(),
            conn: conn.clone(),
            why: format!("{why} unexpectedly"),
        }
    }

    fn set(mut self, why: String) {
        self.why = why;
    }
}

impl Drop for DownGuard {
    fn drop(&mut self) {
        super::peers::conn_failed(&self.node, &self.conn, &self.why);
    }
}

/// Heartbeat settings of a connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Beat {
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
}

/// Write the outbox until the connection closes or a write fails; returns why it ended.
fn write_loop(conn: &Conn, stream: &mut WriteHalf, beat: Beat) -> String {
    let mut batch: Vec<u8> = Vec::with_capacity(64 * 1024);
    let (mut frames_out, mut bytes_out) = (0u64, 0u64);
    loop {
        let batch_frames: u64;
        let senders = {
            let mut out = conn.outbox();
            if out.buf.is_empty() {
                let me = Blocker::current();
                out.writer = Some(me.clone());
                drop(out);
                if conn.is_closed() {
                    return "closed".into();
                }
                let timed_out = me.park(Some(beat.interval)).is_err();
                // Declared after `me`, so released before `me` is dropped (see `Outbox`).
                let mut out = conn.outbox();
                out.writer = None;
                if out.buf.is_empty() {
                    if timed_out {
                        encode_into(&Frame::Heartbeat, &mut out.buf);
                    } else {
                        continue;
                    }
                }
                std::mem::swap(&mut out.buf, &mut batch);
                batch_frames = std::mem::take(&mut out.frames);
                std::mem::take(&mut out.senders)
            } else {
                std::mem::swap(&mut out.buf, &mut batch);
                batch_frames = std::mem::take(&mut out.frames);
                std::mem::take(&mut out.senders)
            }
        };
        for s in senders {
            s.unpark();
        }
        if conn.is_closed() {
            return "closed".into();
        }
        // Published before the write: whoever sees the peer's answer to this batch sees it
        // counted. (A write that fails ends the connection, and its counters with it.)
        frames_out += batch_frames;
        bytes_out += batch.len() as u64;
        conn.traffic.frames_out.store(frames_out, Ordering::Relaxed);
        conn.traffic.bytes_out.store(bytes_out, Ordering::Relaxed);
        if let Err(why) = write_batch(conn, stream, &batch) {
            return why;
        }
        batch.clear();
        if batch.capacity() > 1 << 20 {
            batch.shrink_to(64 * 1024);
        }
    }
}

/// Most bytes handed to one write call: the writer looks at its deadline, and at the
/// peer's progress reports, at least once per piece.
const WRITE_CHUNK: usize = 256 << 10;

/// How often a reader that is taking traffic (not only heartbeats) says so to the writer at the other end
/// ([`Frame::Progress`]).
pub(crate) const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// How long one write call waits for the socket before the writer looks at its deadline
/// again: a quarter of the write timeout, between 1 ms and 250 ms, so that a peer that
/// reads nothing is dropped at most 250 ms after the write timeout.
fn write_slice(write_timeout: Duration) -> Duration {
    (write_timeout / 4).clamp(Duration::from_millis(1), Duration::from_millis(250))
}

/// Write `batch` in pieces of at most [`WRITE_CHUNK`] bytes. The write timeout bounds the
/// time *without progress*, not the whole batch: it restarts whenever the socket takes a
/// byte or the peer reports that its reader took some ([`Frame::Progress`]), so a peer
/// that reads slowly but steadily is never dropped for it, however large the backlog, and
/// one that reads nothing is dropped about `write_timeout` after its last byte.
fn write_batch(conn: &Conn, stream: &mut WriteHalf, batch: &[u8]) -> Result<(), String> {
    let mut progress = Instant::now();
    let mut off = 0;
    // With TLS, records of the batch's end may still be on their way when all of it is
    // handed over (`WriteHalf::write`).
    while off < batch.len() || stream.has_pending() {
        let end = batch.len().min(off + WRITE_CHUNK);
        match stream.write(&batch[off..end]) {
            Ok(n) => {
                off += n;
                progress = Instant::now();
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                ) =>
            {
                if conn.is_closed() {
                    return Err("closed".into());
                }
                if let Some(t) = conn.peer_read_at() {
                    progress = progress.max(t);
                }
                if progress.elapsed() >= conn.write_timeout {
                    return Err(format!(
                        "peer stopped reading: nothing taken for the write timeout of {:?} \
                         ({} bytes still to write)",
                        conn.write_timeout,
                        batch.len() - off
                    ));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("write failed: {e}")),
        }
    }
    Ok(())
}

/// How long a reader dispatches without letting others run.
const FAIR_SLICE: Duration = Duration::from_millis(1);

/// Step aside until everything runnable on this worker has run, *including* coroutines that
/// wait in `may`'s global queue (wake-ups and spawns from plain threads).
///
/// Written for upstream `may`, where `may::coroutine::yield_now` was not enough: it requeues
/// on the worker's local queue, a worker took its global queue only when the local one was
/// empty, and a reader flooding an actor (the reader wakes the actor, the actor wakes
/// nothing, the reader requeues) never let that happen. So the reader parks and a fresh
/// coroutine wakes it; the wake-up comes after what was runnable before it. (A helper
/// *thread* waking the reader does not work: it can wake it before it has parked, and then
/// the park returns at once.)
///
/// Since the merge with main two things changed underneath, and the step aside keeps its
/// meaning: `crate::actor::go` called from a coroutine starts the waker on this worker's
/// local queue (`pool.rs`), so the reader resumes behind everything already runnable
/// here, spawns from actors included (they queue locally too); and the vendored `may`
/// looks at a worker's global queue every 61 tasks (`vendor/may/PYACT-PATCH.md`), so
/// coroutines scheduled from plain threads get in during the step aside as well
/// (`tests/remote_reader_yield.rs` checks both on one worker). The cost, one pooled
/// coroutine start, is paid at most once per [`FAIR_SLICE`] of dispatch. On several workers
/// the waker may be stolen by another one and wake the reader early; a later slice then
/// tries again.
fn yield_fairly() {
    let me = Blocker::current();
    let waker = me.clone();
    if crate::actor::go(move || waker.unpark()).is_ok() {
        let _ = me.park(None);
    } else {
        may::coroutine::yield_now();
    }
}

/// Smallest and largest read a reader offers the socket.
const READ_MIN: usize = 4 << 10;
const READ_MAX: usize = 64 << 10;

/// The next read size after a read of `n` bytes out of `chunk` offered.
fn next_read_size(chunk: usize, n: usize) -> usize {
    if n == chunk {
        (chunk * 2).min(READ_MAX)
    } else if n < chunk / 4 {
        (chunk / 2).max(READ_MIN)
    } else {
        chunk
    }
}

/// Read and dispatch frames until something goes wrong; returns what went wrong.
fn read_loop(
    node: &Node,
    conn: &Arc<Conn>,
    stream: &mut ReadHalf,
    decoder: &mut Decoder,
    beat: Beat,
) -> String {
    // The read size adapts: a read that fills it doubles it (a flood is read 64 KiB at a
    // time), a small one halves it; an idle connection's buffer is given back. Each read
    // zero-fills what it offers, so a fixed 64 KiB kept 64 KiB resident per connection,
    // 6 MiB per node in an idle 100-node mesh.
    let mut chunk = READ_MIN;
    let mut busy_since = Instant::now();
    // Bytes the handshake read past its last frame are traffic too (the connector may read
    // the acceptor's first frames, a member list, with its admission verdict).
    let (mut frames_in, mut bytes_in) = (0u64, decoder.buffered() as u64);
    conn.traffic.bytes_in.store(bytes_in, Ordering::Relaxed);
    // `frames_in` at the last progress report.
    let mut frames_reported = 0u64;
    loop {
        loop {
            match decoder.next_frame() {
                Ok(Some(Frame::Heartbeat)) => {}
                Ok(Some(Frame::Progress { .. })) => conn.peer_reads(),
                // Bookkeeping, not traffic: not counted (see `Traffic`).
                Ok(Some(Frame::Peers { nodes })) => super::cluster::on_peers(node, conn, nodes),
                Ok(Some(frame)) => {
                    // Published before the frame takes effect: whoever sees its effect (a
                    // message delivered) sees it counted. One relaxed store, single writer.
                    frames_in += 1;
                    conn.traffic.frames_in.store(frames_in, Ordering::Relaxed);
                    super::dispatch::on_frame(node, conn, frame)
                }
                Ok(None) => break,
                Err(FrameError::Malformed(e)) => {
                    // The length prefix was fine, so the stream is still in step: drop this
                    // one frame, keep the connection others share.
                    let n = conn.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                    if n.is_power_of_two() {
                        log::warn!(
                            "{}: dropped a malformed frame from {} ({n} so far): {e}",
                            node.name(),
                            conn.peer
                        );
                    }
                }
                Err(e) => return format!("{e} from {}", conn.peer),
            }
        }
        if conn.is_closed() {
            return "closed".into();
        }
        // Traffic taken since the last report (frames, or part of one): say so. Heartbeats
        // alone are not reported, so a peer that sends nothing stays silent to us and is
        // declared down by its heartbeat timeout as before.
        if (frames_in != frames_reported || decoder.has_partial()) && conn.report_progress() {
            frames_reported = frames_in;
        }
        // Let local actors run between batches: a flood from one peer must not hold this
        // worker for longer than about a millisecond of dispatch.
        if busy_since.elapsed() >= FAIR_SLICE {
            yield_fairly();
            busy_since = Instant::now();
        }
        decoder.trim(4 * chunk);
        let buf = decoder.spare(chunk);
        let res = stream.read(buf);
        match res {
            Ok(0) => {
                decoder.filled(chunk, 0);
                return if decoder.has_partial() {
                    "peer closed the connection in the middle of a frame".into()
                } else {
                    "peer closed the connection".into()
                };
            }
            Ok(n) => {
                decoder.filled(chunk, n);
                chunk = next_read_size(chunk, n);
                bytes_in += n as u64;
                conn.traffic.bytes_in.store(bytes_in, Ordering::Relaxed);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                ) =>
            {
                decoder.filled(chunk, 0);
                return format!("peer silent for {:?} (heartbeat timeout)", beat.timeout);
            }
            Err(e) => {
                decoder.filled(chunk, 0);
                return format!("read failed: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_size_grows_with_full_reads_and_shrinks_with_small_ones() {
        let mut c = READ_MIN;
        for _ in 0..10 {
            c = next_read_size(c, c);
        }
        assert_eq!(c, READ_MAX, "a flood is read 64 KiB at a time");
        assert_eq!(next_read_size(c, c / 2), c, "half full: unchanged");
        for _ in 0..10 {
            c = next_read_size(c, 15); // heartbeats
        }
        assert_eq!(c, READ_MIN, "an idle connection reads little");
    }
}
