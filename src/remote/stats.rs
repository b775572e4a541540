//! [`NetStats`]: what a node's network tables hold right now, for operators and tests.

use std::sync::atomic::Ordering;

use super::*;
use crate::observe::{PeerState, PeerStats};

/// A snapshot of a node's network state ([`Node::net_stats`]): the sizes of every table a
/// peer can grow, so a leak or an attack shows as a number.
///
/// This is the hardening view (what peers hold on this node, summed over connections); the
/// per-peer view a user reads (state, traffic, queue of each peer) is
/// [`NodeStats::peers`](crate::observe::NodeStats::peers) from [`Node::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Live connections (one per peer).
    pub connections: usize,
    /// Remote waits peers have outstanding on this node's actors.
    pub remote_waits: usize,
    /// Monitors peers have placed on this node's actors.
    pub remote_monitors: usize,
    /// Links peers have placed on this node's actors.
    pub remote_links: usize,
    /// Links and monitors between this node's actors and remote ones (the watch table).
    pub watches: usize,
    /// Bytes waiting in outbound queues.
    pub queued_bytes: usize,
    /// Malformed frames dropped on live connections, since they opened.
    pub dropped_frames: u64,
    /// Messages from other nodes dropped, since the node started, because the bounded
    /// mailbox they were for stayed full for the whole
    /// [`NodeOptions::mailbox_wait`](crate::NodeOptions::mailbox_wait).
    pub mailbox_full_drops: u64,
}

impl Node {
    /// Every peer this node knows of right now (connected, dialing, backing off), for
    /// [`Node::stats`]. Takes the peer, dial and back-off tables' locks one after the other.
    pub(crate) fn peer_stats(&self) -> Vec<PeerStats> {
        let r = self.remote();
        let mut map: std::collections::BTreeMap<String, PeerStats> = Default::default();
        let blank = |node: &str, state| PeerStats {
            node: node.to_string(),
            state,
            creation: None,
            messages_in: 0,
            bytes_in: 0,
            messages_out: 0,
            bytes_out: 0,
            queued_messages: 0,
            queued_bytes: 0,
            last_error: None,
        };
        let conns: Vec<(Arc<Conn>, u32)> = lock(&r.peers)
            .values()
            .filter_map(|p| Some((p.out.clone()?, p.creation)))
            .filter(|(c, _)| !c.is_closed())
            .collect();
        for (c, creation) in conns {
            let t = &c.traffic;
            let (queued_bytes, queued_messages) = c.queued_with_frames();
            let mut p = blank(&c.peer, PeerState::Connected);
            p.creation = Some(creation);
            p.messages_in = t.frames_in.load(Ordering::Relaxed);
            p.bytes_in = t.bytes_in.load(Ordering::Relaxed);
            p.messages_out = t.frames_out.load(Ordering::Relaxed);
            p.bytes_out = t.bytes_out.load(Ordering::Relaxed);
            p.queued_messages = queued_messages;
            p.queued_bytes = queued_bytes;
            map.insert(c.peer.to_string(), p);
        }
        let dialing: Vec<Arc<str>> = lock(&r.dialing)
            .iter()
            .filter(|(_, g)| g.try_lock().is_err())
            .map(|(k, _)| k.clone())
            .collect();
        for peer in dialing {
            map.entry(peer.to_string())
                .or_insert_with(|| blank(&peer, PeerState::Dialing));
        }
        let now = std::time::Instant::now();
        for (peer, b) in lock(&r.backoff).iter() {
            if map.contains_key(&**peer) {
                continue;
            }
            let (state, why) = b.state(now);
            let mut p = blank(peer, state);
            p.last_error = Some(why);
            map.insert(peer.to_string(), p);
        }
        map.into_values().collect()
    }

    /// The current sizes of this node's network tables.
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// assert_eq!(node.net_stats(), pyact::NetStats::default());
    /// ```
    pub fn net_stats(&self) -> NetStats {
        let r = self.remote();
        let conns: Vec<Arc<Conn>> = lock(&r.peers)
            .values()
            .filter_map(|p| p.out.clone())
            .collect();
        let mut s = NetStats {
            connections: conns.len(),
            watches: r.watches.len(),
            mailbox_full_drops: r.mailbox_drops.load(Ordering::Relaxed),
            ..NetStats::default()
        };
        for c in conns {
            {
                let p = c.placed();
                s.remote_waits += p.waits.len();
                s.remote_monitors += p.monitors.len();
                s.remote_links += p.links.len();
            }
            s.queued_bytes += c.queued();
            s.dropped_frames += c.dropped.load(Ordering::Relaxed);
        }
        s
    }
}
