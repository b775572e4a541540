//! Links and monitors between a local actor and an actor on another node.

use super::*;

/// A link or monitor between a local actor and a remote one, kept so that it can fire with
/// `noconnection` when the remote node is lost.
#[derive(Clone)]
pub(crate) struct Watch {
    pub(crate) local: Address,
    pub(crate) remote: Address,
    pub(crate) monitor: Option<Ref>,
}

/// The node a local actor `a` lives on.
fn node_of(a: &Address) -> Option<Node> {
    crate::node::home_node(a)
}

/// Local actor `from` links to remote actor `target`.
pub(crate) fn link(from: &Address, target: &Address) {
    remote_watch(from, target, None, || Frame::Link {
        from: from.clone(),
        to: target.id(),
    });
}

/// Local watcher `watcher` monitors remote actor `target`.
pub(crate) fn monitor(watcher: &Address, target: &Address, reference: Ref) {
    remote_watch(watcher, target, Some(reference), || Frame::Monitor {
        watcher: watcher.clone(),
        to: target.id(),
        reference,
    });
}

fn remote_watch(
    local: &Address,
    target: &Address,
    monitor: Option<Ref>,
    f: impl FnOnce() -> Frame,
) {
    let Some(node) = node_of(local) else {
        return;
    };
    lock(&node.remote().watches).push(Watch {
        local: local.clone(),
        remote: target.clone(),
        monitor,
    });
    let sent = super::conn_for(&node, target).and_then(|c| {
        c.push_frame(&f()).map_err(|_| SendError::NoConnection {
            node: target.node_id().into(),
            why: "closed".into(),
        })
    });
    if let Err(e) = sent {
        // Another creation of that node: the target is dead (noproc), not unreachable.
        let reason = match e {
            SendError::DeadActor(_) => ExitReason::NoSuchActor,
            _ => ExitReason::NoConnection,
        };
        lock(&node.remote().watches)
            .retain(|w| !(w.local == *local && w.remote == *target && w.monitor == monitor));
        let sig = match monitor {
            Some(reference) => Signal::Down {
                reference,
                from: target.clone(),
                reason,
            },
            None => Signal::Exit {
                from: target.clone(),
                reason,
                linked: true,
            },
        };
        let _ = local.deliver(Envelope::Signal(Box::new(sig)));
    }
}

/// Local actor `from` unlinks from remote `target`.
pub(crate) fn unlink(node: &Node, target: &Address, from: &Address) {
    lock(&node.remote().watches)
        .retain(|w| !(w.monitor.is_none() && w.local == *from && w.remote == *target));
    if let Ok(c) = conn_to(node, target.node_id()) {
        let _ = c.push_frame(&Frame::Unlink {
            from: from.clone(),
            to: target.id(),
        });
    }
}

/// Remove a monitor on remote `target`.
pub(crate) fn demonitor(node: &Node, target: &Address, reference: Ref) {
    lock(&node.remote().watches).retain(|w| w.monitor != Some(reference));
    if let Ok(c) = conn_to(node, target.node_id()) {
        let _ = c.push_frame(&Frame::Demonitor {
            to: target.id(),
            reference,
        });
    }
}
