//! Links and monitors between a local actor and an actor on another node.
//!
//! The node keeps each one in an indexed table ([`Watches`]) so that it can fire with
//! `noconnection` when the remote node is lost (found by peer), be removed by its reference
//! or pair when it fires or is taken back (found by key), and be taken back from the peer
//! when the local actor ends (found by local actor): a watcher's end sends `demonitor` for
//! each remote monitor it held, so the peer does not keep a stale entry until the target
//! ends. A link needs no such message: the watcher's end sends the linked exit signal,
//! which removes the peer's side.
//!
//! None of this ever dials from a reader: frames that answer a peer go back on the
//! connection the request came in on, and taking back a monitor uses the existing
//! connection only (no connection: nothing to take back, the peer dropped it already).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::peers::established;
use super::*;

/// A link or monitor between a local actor and a remote one.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct Watch {
    pub(crate) local: Address,
    pub(crate) remote: Address,
    pub(crate) monitor: Option<Ref>,
}

#[derive(Default)]
struct Table {
    by_peer: HashMap<Arc<str>, HashSet<Watch>>,
    by_local: HashMap<u64, HashSet<Watch>>,
    by_ref: HashMap<Ref, Watch>,
}

/// Every cross-node link and monitor of one node, indexed by peer, by local actor and by
/// monitor reference: each operation costs O(1) (or O(entries removed)), never a scan of
/// the whole table.
#[derive(Default)]
pub(crate) struct Watches {
    table: Mutex<Table>,
    /// Entries in the table, so an actor's end checks the table without taking its lock
    /// when it is empty (the common case).
    len: AtomicUsize,
}

impl Watches {
    fn table(&self) -> MutexGuard<'_, Table> {
        lock(&self.table)
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    pub(crate) fn add(&self, w: Watch) {
        let mut t = self.table();
        let peer: Arc<str> = w.remote.node_id().into();
        if !t.by_peer.entry(peer).or_default().insert(w.clone()) {
            return;
        }
        t.by_local
            .entry(w.local.id())
            .or_default()
            .insert(w.clone());
        if let Some(r) = w.monitor {
            t.by_ref.insert(r, w);
        }
        self.len.fetch_add(1, Ordering::Relaxed);
    }

    fn unindex(&self, t: &mut Table, w: &Watch, skip_peer: bool, skip_local: bool) {
        if !skip_peer && let Some(s) = t.by_peer.get_mut(w.remote.node_id()) {
            s.remove(w);
            if s.is_empty() {
                t.by_peer.remove(w.remote.node_id());
            }
        }
        if !skip_local && let Some(s) = t.by_local.get_mut(&w.local.id()) {
            s.remove(w);
            if s.is_empty() {
                t.by_local.remove(&w.local.id());
            }
        }
        if let Some(r) = w.monitor {
            t.by_ref.remove(&r);
        }
        self.len.fetch_sub(1, Ordering::Relaxed);
    }

    /// Remove one entry; whether it was there.
    pub(crate) fn remove(&self, w: &Watch) -> bool {
        let mut t = self.table();
        let there = t
            .by_peer
            .get(w.remote.node_id())
            .is_some_and(|s| s.contains(w));
        if there {
            self.unindex(&mut t, w, false, false);
        }
        there
    }

    /// Remove the link between local actor `local` and `remote`.
    pub(crate) fn remove_link(&self, local: &Address, remote: &Address) -> bool {
        self.remove(&Watch {
            local: local.clone(),
            remote: remote.clone(),
            monitor: None,
        })
    }

    /// Remove the monitor with this reference.
    pub(crate) fn remove_ref(&self, r: Ref) -> Option<Watch> {
        let mut t = self.table();
        let w = t.by_ref.get(&r).cloned()?;
        self.unindex(&mut t, &w, false, false);
        Some(w)
    }

    /// Take `peer`'s entries out of the by-peer index (O(1)), to be fired later by
    /// [`Watches::fire_detached`]: done the moment the connection leaves the peer table,
    /// so that entries of a newer connection with the same peer, made while the old one
    /// is still being released, are never fired with it.
    pub(crate) fn detach_peer(&self, peer: &str) -> Option<HashSet<Watch>> {
        self.table().by_peer.remove(peer)
    }

    /// Hand each detached entry to `fire`, a chunk at a time
    /// (the lock is taken once per chunk and the caller is paced between chunks, see
    /// `placed::Pacer`): a peer with hundreds of thousands of entries must not hold the
    /// table's lock, nor a worker, for long.
    ///
    /// The peer's set left the by-peer index already (so `remove` no longer finds them:
    /// they are this call's to fire); each entry then leaves the other indexes in its
    /// chunk, unless the local actor's end (`take_local`) or its reference (`remove_ref`)
    /// took it meanwhile: an entry is handed out by exactly one of them.
    pub(crate) fn fire_detached(&self, set: HashSet<Watch>, mut fire: impl FnMut(Watch)) {
        const PER_LOCK: usize = 256;
        let mut pacer = super::placed::Pacer::new();
        let mut it = set.into_iter().peekable();
        let mut chunk = Vec::with_capacity(PER_LOCK.min(it.size_hint().0));
        while it.peek().is_some() {
            {
                let mut t = self.table();
                for w in it.by_ref().take(PER_LOCK) {
                    let id = w.local.id();
                    let Some(s) = t.by_local.get_mut(&id) else {
                        continue;
                    };
                    if !s.remove(&w) {
                        continue;
                    }
                    if s.is_empty() {
                        t.by_local.remove(&id);
                    }
                    if let Some(r) = w.monitor {
                        t.by_ref.remove(&r);
                    }
                    self.len.fetch_sub(1, Ordering::Relaxed);
                    chunk.push(w);
                }
            }
            let n = chunk.len();
            chunk.drain(..).for_each(&mut fire);
            pacer.tick(n.max(1));
        }
    }

    /// Take every entry of local actor `id`.
    pub(crate) fn take_local(&self, id: u64) -> Vec<Watch> {
        if self.len() == 0 {
            return Vec::new();
        }
        let mut t = self.table();
        let Some(set) = t.by_local.remove(&id) else {
            return Vec::new();
        };
        let v: Vec<Watch> = set.into_iter().collect();
        for w in &v {
            self.unindex(&mut t, w, false, true);
        }
        v
    }
}

/// Local actor `from` links to remote actor `target`.
pub(crate) fn link(node: &Node, from: &Address, target: &Address) {
    remote_watch(node, from, target, None, || Frame::Link {
        from: from.clone(),
        to: target.id(),
    });
}

/// Local watcher `watcher` monitors remote actor `target`.
pub(crate) fn monitor(node: &Node, watcher: &Address, target: &Address, reference: Ref) {
    remote_watch(node, watcher, target, Some(reference), || Frame::Monitor {
        watcher: watcher.clone(),
        to: target.id(),
        reference,
    });
}

fn remote_watch(
    node: &Node,
    local: &Address,
    target: &Address,
    monitor: Option<Ref>,
    f: impl FnOnce() -> Frame,
) {
    let w = Watch {
        local: local.clone(),
        remote: target.clone(),
        monitor,
    };
    node.remote().watches.add(w.clone());
    let sent = super::conn_for(node, target).and_then(|c| {
        c.push_frame(&f()).map_err(|_| SendError::NoConnection {
            node: target.node_id().into(),
            why: "closed".into(),
        })
    });
    if let Err(e) = sent
        && node.remote().watches.remove(&w)
    {
        // Another creation of that node: the target is dead (noproc), not unreachable.
        let reason = match e {
            SendError::DeadActor(_) => ExitReason::NoSuchActor,
            _ => ExitReason::NoConnection,
        };
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
    node.remote().watches.remove_link(from, target);
    if let Some(c) = established(node, target.node_id()) {
        let _ = c.push_frame(&Frame::Unlink {
            from: from.clone(),
            to: target.id(),
        });
    }
}

/// Remove a monitor on remote `target`.
pub(crate) fn demonitor(node: &Node, target: &Address, reference: Ref) {
    node.remote().watches.remove_ref(reference);
    if let Some(c) = established(node, target.node_id()) {
        let _ = c.push_frame(&Frame::Demonitor {
            to: target.id(),
            reference,
        });
    }
}

/// Local actor `id` of `node` ended: forget its cross-node links and monitors, and take
/// its monitors back from their peers.
pub(crate) fn local_ended(node: &Node, id: u64) {
    for w in node.remote().watches.take_local(id) {
        if let Some(reference) = w.monitor
            && let Some(c) = established(node, w.remote.node_id())
        {
            let _ = c.push_frame(&Frame::Demonitor {
                to: w.remote.id(),
                reference,
            });
        }
    }
}
