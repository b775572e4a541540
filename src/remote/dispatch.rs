//! What a node does with each frame that arrives on an authenticated connection.
//!
//! This runs in the connection's reader, so it never waits on the network: no dial, no
//! blocking push to a peer. (The one wait is local and short: a message for a full bounded
//! mailbox waits at most [`NodeOptions::mailbox_wait`] for room, see `spawn_options.rs`.)
//! In particular:
//! - an answer to the peer (a reply, a `noproc` exit or down for a link or monitor on an
//!   actor that is gone) goes back on the connection the frame came in on, never through
//!   routing (which could dial);
//! - a peer may link or monitor only on behalf of its own actors: a `link` or `monitor`
//!   frame naming an actor of any other node is dropped with a log line (it would otherwise
//!   make this node send, or dial, elsewhere);
//! - remote waits, links and monitors are entries in tables (the actor's and the
//!   connection's `Placed`, see `placed.rs`), capped per connection by
//!   [`NodeOptions::max_remote_waits`] and [`NodeOptions::max_remote_watches`] and for
//!   the whole node by [`NodeOptions::max_remote_waits_total`] and
//!   [`NodeOptions::max_remote_watches_total`]; past a cap the request is answered at once
//!   with [`ExitReason::Failed`] naming the limit.

use std::sync::Arc;

use super::quiet::{Quiet, warn_quietly};
use super::*;
use crate::actor::Waiter;

/// The local address of actor `id` of `node`.
fn local_addr(node: &Node, id: u64) -> Address {
    match node.cell(id) {
        Some(c) => c.address(),
        None => Address::with_creation(
            node.0.id.clone(),
            id,
            node.creation(),
            std::sync::Weak::new(),
        ),
    }
}

fn deliver_here(node: &Node, conn: &Conn, id: u64, env: Envelope) {
    match node.cell(id) {
        Some(cell) => {
            let pushed = match env {
                // A bounded mailbox that is full holds this reader back a little, so a flood
                // is pushed back to its sender through TCP instead of read and dropped.
                Envelope::Msg(_) | Envelope::Payload(_) => {
                    let pushed = cell
                        .queue
                        .push_waiting(env, node.remote().opts.mailbox_wait);
                    if !matches!(pushed, Ok(false)) {
                        // Held back, but still taking frames: say so to the peer's writer.
                        let _ = conn.report_progress();
                    }
                    pushed.map(|_| ())
                }
                _ => cell.queue.push(env),
            };
            if pushed.is_err() {
                match cell.queue.refusal(&cell.address()) {
                    SendError::MailboxFull(a) => {
                        // The reader waited `mailbox_wait` for room (see spawn_options.rs).
                        // Counted per node; logged at the 1st, 2nd, 4th, 8th... drop.
                        let n = node
                            .remote()
                            .mailbox_drops
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                            + 1;
                        if n.is_power_of_two() {
                            log::warn!(
                                "{}: mailbox of {a} stayed full for {:?}: a message from {} \
                                 was dropped ({n} so far)",
                                node.name(),
                                node.remote().opts.mailbox_wait,
                                conn.peer
                            );
                        }
                    }
                    _ => log::debug!("{}: message for ended actor {id} dropped", node.name()),
                }
            }
        }
        None => log::debug!("{}: message for unknown actor {id} dropped", node.name()),
    }
}

/// Does `a` name an actor of the peer at the other end of `conn`? If not, log and say no.
fn from_peer(node: &Node, conn: &Conn, a: &Address, what: &str) -> bool {
    if a.node_id() == &*conn.peer {
        return true;
    }
    // A peer can send these as fast as it likes: one line a second node-wide (row 11).
    static FORGED: Quiet = Quiet::new();
    warn_quietly!(
        FORGED,
        "{}: {what} frame from {} on behalf of {a}, an actor of another node: dropped",
        node.name(),
        conn.peer
    );
    false
}

/// Handle one frame that arrived from `conn.peer`: one function per kind of frame (or
/// family of replies), so that each reads on its own.
pub(crate) fn on_frame(node: &Node, conn: &Arc<Conn>, frame: Frame) {
    match frame {
        Frame::Msg { to, msg } => deliver_here(node, conn, to, Envelope::Msg(msg)),
        Frame::Payload { to, payload } => deliver_here(node, conn, to, Envelope::Payload(payload)),
        Frame::Kill { to } => {
            deliver_here(node, conn, to, Envelope::Signal(Box::new(Signal::Kill)))
        }
        Frame::Exit {
            to,
            from,
            reason,
            linked,
        } => on_exit(node, conn, to, from, reason, linked),
        Frame::Down {
            to,
            reference,
            from,
            reason,
        } => on_down(node, conn, to, reference, from, reason),
        Frame::Link { from, to } => on_link(node, conn, from, to),
        Frame::Unlink { from, to } => on_unlink(node, conn, from, to),
        Frame::Monitor {
            watcher,
            to,
            reference,
        } => on_monitor(node, conn, watcher, to, reference),
        Frame::Demonitor { to, reference } => on_demonitor(node, conn, to, reference),
        Frame::Wait { req, to } => on_wait(node, conn, req, to),
        Frame::Unwait { req } => on_unwait(node, conn, req),
        Frame::Whereis { req, name } => {
            let addr = node.whereis(&name);
            let _ = conn.push_frame(&Frame::WhereisReply { req, addr });
        }
        Frame::Stats { req } => {
            let stats = node.stats();
            let _ = conn.push_frame(&Frame::StatsReply { req, stats });
        }
        Frame::Spawn { req, factory, args } => on_spawn(node, conn, req, factory, args),
        Frame::WaitReply { req, .. }
        | Frame::WhereisReply { req, .. }
        | Frame::StatsReply { req, .. }
        | Frame::SpawnReply { req, .. } => {
            if let Some((_, reply)) = lock(&node.remote().pending).remove(&req) {
                reply.set(Some(frame));
            }
        }
        // The reader takes these itself, uncounted (see `connection::read_loop`).
        Frame::Heartbeat | Frame::Progress { .. } | Frame::Peers { .. } => {}
        Frame::Hello { .. }
        | Frame::Challenge { .. }
        | Frame::Response { .. }
        | Frame::Ack { .. }
        | Frame::Refused { .. }
        | Frame::Admitted => {
            log::warn!(
                "{}: handshake frame from {} after the handshake; closing",
                node.name(),
                conn.peer
            );
            conn_failed(node, conn, "protocol violation");
        }
    }
}

/// An exit signal for local actor `to`; a linked one also ends the link's entries.
fn on_exit(node: &Node, conn: &Conn, to: u64, from: Address, reason: ExitReason, linked: bool) {
    let r = node.remote();
    if linked {
        r.watches.remove_link(&local_addr(node, to), &from);
        conn.placed().remove_link(&(to, from.clone()), &r.placed);
    }
    let sig = Signal::Exit {
        from,
        reason,
        linked,
    };
    deliver_here(node, conn, to, Envelope::Signal(Box::new(sig)));
}

/// A remote actor that local actor `to` monitored ended.
fn on_down(node: &Node, conn: &Conn, to: u64, reference: Ref, from: Address, reason: ExitReason) {
    node.remote().watches.remove_ref(reference);
    let sig = Signal::Down {
        reference,
        from,
        reason,
    };
    deliver_here(node, conn, to, Envelope::Signal(Box::new(sig)));
}

/// The peer's actor `from` links to local actor `to` (refused with an exit past a cap or
/// when `to` is gone).
fn on_link(node: &Node, conn: &Conn, from: Address, to: u64) {
    let r = node.remote();
    if !from_peer(node, conn, &from, "link") {
        return;
    }
    let refuse = |reason: ExitReason| {
        let _ = conn.push_frame(&Frame::Exit {
            to: from.id(),
            from: local_addr(node, to),
            reason,
            linked: true,
        });
    };
    {
        let mut p = conn.placed();
        let link = (to, from.clone());
        if !p.has_link(&link)
            && let Err(why) = p.add_link(r, &conn.peer, link)
        {
            drop(p);
            return refuse(ExitReason::Failed(why));
        }
    }
    let linked = node.cell(to).is_some_and(|cell| {
        let mut st = cell.lock();
        st.exit.is_none() && st.links.insert(from.clone()) | true
    });
    if linked {
        r.watches.add(Watch {
            local: local_addr(node, to),
            remote: from,
            monitor: None,
        });
    } else {
        conn.placed().remove_link(&(to, from.clone()), &r.placed);
        refuse(ExitReason::NoSuchActor);
    }
}

/// The peer's actor `from` unlinks from local actor `to`.
fn on_unlink(node: &Node, conn: &Conn, from: Address, to: u64) {
    let r = node.remote();
    if let Some(cell) = node.cell(to) {
        cell.forget_link(&from);
    }
    r.watches.remove_link(&local_addr(node, to), &from);
    conn.placed().remove_link(&(to, from), &r.placed);
}

/// The peer's actor `watcher` monitors local actor `to` (refused with a DOWN past a cap,
/// for a reused reference, or when `to` is gone).
fn on_monitor(node: &Node, conn: &Conn, watcher: Address, to: u64, reference: Ref) {
    let r = node.remote();
    if !from_peer(node, conn, &watcher, "monitor") {
        return;
    }
    let refuse = |reason: ExitReason| {
        let _ = conn.push_frame(&Frame::Down {
            to: watcher.id(),
            reference,
            from: local_addr(node, to),
            reason,
        });
    };
    {
        let mut p = conn.placed();
        if p.has_monitor(&reference) {
            // A reused reference would add an entry the table does not count.
            drop(p);
            return refuse(ExitReason::Failed(format!(
                "monitor reference {reference} is already in use"
            )));
        }
        if let Err(why) = p.add_monitor(r, &conn.peer, reference, to) {
            drop(p);
            return refuse(ExitReason::Failed(why));
        }
    }
    let placed = node.cell(to).is_some_and(|cell| {
        let mut st = cell.lock();
        if st.exit.is_none() {
            st.monitors.push((reference, watcher.clone()));
            true
        } else {
            false
        }
    });
    if !placed {
        conn.placed().remove_monitor(&reference, &r.placed);
        refuse(ExitReason::NoSuchActor);
    }
}

/// The peer takes back its monitor `reference` of local actor `to`.
fn on_demonitor(node: &Node, conn: &Conn, to: u64, reference: Ref) {
    let r = node.remote();
    if conn
        .placed()
        .remove_monitor(&reference, &r.placed)
        .is_some()
        && let Some(cell) = node.cell(to)
    {
        cell.lock().monitors.retain(|(r, _)| *r != reference);
    }
}

/// The peer asks to be told when local actor `to` ends (answered with a `WaitReply`).
fn on_wait(node: &Node, conn: &Arc<Conn>, req: u64, to: u64) {
    let r = node.remote();
    let added = conn.placed().add_wait(r, &conn.peer, req, to);
    if let Err(why) = added {
        let reason = ExitReason::Failed(why);
        let _ = conn.push_frame(&Frame::WaitReply { req, reason });
        return;
    }
    let weak = Arc::downgrade(conn);
    let totals = r.placed.clone();
    let waiter = Waiter::Remote {
        key: (conn.serial, req),
        reply: Box::new(move |reason: &ExitReason| {
            if let Some(c) = weak.upgrade()
                && c.placed().remove_wait(req, &totals)
            {
                let _ = c.push_frame(&Frame::WaitReply {
                    req,
                    reason: reason.clone(),
                });
            }
        }),
    };
    match node.on_exit(to, waiter) {
        Ok(slot) => {
            if !conn.placed().set_wait_slot(req, slot)
                && let Some(cell) = node.cell(to)
            {
                // The connection closed meanwhile and took the entry before its
                // slot was known: the waiter is ours to remove.
                let mut st = cell.lock();
                if st.exit.is_none() {
                    st.waiters
                        .remove_if(slot, |w| w.is_remote(conn.serial, req));
                }
            }
        }
        Err(reason) => {
            conn.placed().remove_wait(req, &r.placed);
            let _ = conn.push_frame(&Frame::WaitReply { req, reason });
        }
    }
}

/// The peer's waiter `req` ended before its answer: its entry goes.
fn on_unwait(node: &Node, conn: &Conn, req: u64) {
    let r = node.remote();
    // The waiter on the peer's side ended without its answer: its entry goes.
    let taken = conn.placed().take_wait(req, &r.placed);
    if let Some((to, slot)) = taken
        && let Some(cell) = node.cell(to)
    {
        let mut st = cell.lock();
        if st.exit.is_none() {
            st.waiters
                .remove_if(slot, |w| w.is_remote(conn.serial, req));
        }
    }
}

/// The peer asks for an actor from the registered factory `factory` (answered with a
/// `SpawnReply`).
fn on_spawn(node: &Node, conn: &Conn, req: u64, factory: String, args: Value) {
    let r = node.remote();
    let f = lock(&r.factories).get(&factory).cloned();
    let reply = match f {
        None => Frame::SpawnReply {
            req,
            addr: None,
            error: Some(SpawnError::UnknownFactory(factory).to_string()),
        },
        Some(f) => match node.try_spawn(move |mb| f(mb, args)) {
            Ok(a) => Frame::SpawnReply {
                req,
                addr: Some(a),
                error: None,
            },
            Err(e) => Frame::SpawnReply {
                req,
                addr: None,
                error: Some(e.to_string()),
            },
        },
    };
    let _ = conn.push_frame(&reply);
}
