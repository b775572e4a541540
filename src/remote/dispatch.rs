//! What a node does with each frame that arrives on an authenticated connection.

use std::sync::Arc;

use super::*;

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

fn deliver_here(node: &Node, id: u64, env: Envelope) {
    match node.cell(id) {
        Some(cell) => {
            if cell.queue.push(env).is_err() {
                log::debug!("{}: message for ended actor {id} dropped", node.name());
            }
        }
        None => log::debug!("{}: message for unknown actor {id} dropped", node.name()),
    }
}

/// Handle one frame that arrived from `conn.peer`.
pub(crate) fn on_frame(node: &Node, conn: &Arc<Conn>, frame: Frame) {
    let r = node.remote();
    match frame {
        Frame::Msg { to, msg } => deliver_here(node, to, Envelope::Msg(msg)),
        Frame::Kill { to } => deliver_here(node, to, Envelope::Signal(Box::new(Signal::Kill))),
        Frame::Exit {
            to,
            from,
            reason,
            linked,
        } => {
            if linked {
                lock(&r.watches)
                    .retain(|w| !(w.monitor.is_none() && w.local.id() == to && w.remote == from));
            }
            let sig = Signal::Exit {
                from,
                reason,
                linked,
            };
            deliver_here(node, to, Envelope::Signal(Box::new(sig)));
        }
        Frame::Down {
            to,
            reference,
            from,
            reason,
        } => {
            lock(&r.watches).retain(|w| w.monitor != Some(reference));
            let sig = Signal::Down {
                reference,
                from,
                reason,
            };
            deliver_here(node, to, Envelope::Signal(Box::new(sig)));
        }
        Frame::Link { from, to } => {
            let linked = node.cell(to).is_some_and(|cell| {
                let mut st = cell.lock();
                st.exit.is_none() && st.links.insert(from.clone()) | true
            });
            if linked {
                lock(&r.watches).push(Watch {
                    local: local_addr(node, to),
                    remote: from,
                    monitor: None,
                });
            } else {
                let _ = from.deliver(Envelope::Signal(Box::new(Signal::Exit {
                    from: local_addr(node, to),
                    reason: ExitReason::NoSuchActor,
                    linked: true,
                })));
            }
        }
        Frame::Unlink { from, to } => {
            if let Some(cell) = node.cell(to) {
                cell.forget_link(&from);
            }
            lock(&r.watches)
                .retain(|w| !(w.monitor.is_none() && w.local.id() == to && w.remote == from));
        }
        Frame::Monitor {
            watcher,
            to,
            reference,
        } => {
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
                let _ = watcher.deliver(Envelope::Signal(Box::new(Signal::Down {
                    reference,
                    from: local_addr(node, to),
                    reason: ExitReason::NoSuchActor,
                })));
            }
        }
        Frame::Demonitor { to, reference } => {
            if let Some(cell) = node.cell(to) {
                cell.lock().monitors.retain(|(r, _)| *r != reference);
            }
        }
        Frame::Wait { req, to } => {
            let (tx, rx) = may::sync::mpsc::channel();
            match node.on_exit(to, tx) {
                Some(reason) => {
                    let _ = conn.push_frame(&Frame::WaitReply { req, reason });
                }
                None => {
                    let conn = conn.clone();
                    let _ = super::go(move || {
                        let reason = rx.recv().unwrap_or(ExitReason::NoSuchActor);
                        let _ = conn.push_frame(&Frame::WaitReply { req, reason });
                    });
                }
            }
        }
        Frame::Whereis { req, name } => {
            let addr = node.whereis(&name);
            let _ = conn.push_frame(&Frame::WhereisReply { req, addr });
        }
        Frame::Spawn { req, factory, args } => {
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
        Frame::WaitReply { req, .. }
        | Frame::WhereisReply { req, .. }
        | Frame::SpawnReply { req, .. } => {
            if let Some((_, tx)) = lock(&r.pending).remove(&req) {
                let _ = tx.send(frame);
            }
        }
        Frame::Heartbeat => {}
        Frame::Hello { .. }
        | Frame::Challenge { .. }
        | Frame::Response { .. }
        | Frame::Ack { .. }
        | Frame::Refused { .. } => {
            log::warn!(
                "{}: handshake frame from {} after the handshake; closing",
                node.name(),
                conn.peer
            );
            conn_failed(node, conn, "protocol violation");
        }
    }
}
