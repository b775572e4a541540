//! [`NetStats`]: what a node's network tables hold right now, for operators and tests.

use std::sync::atomic::Ordering;

use super::*;
use crate::observe::{NodeStats, PeerState, PeerStats};

/// A snapshot of a node's network state ([`Node::net_stats`]): the sizes of every table a
/// peer can grow, so a leak or an attack shows as a number.
///
/// This is the hardening view (what peers hold on this node, summed over connections); the
/// per-peer view a user reads (state, traffic, queue of each peer) is
/// [`NodeStats::peers`](crate::observe::NodeStats::peers) from [`Node::stats`].
///
/// Serializes (and deserializes) as an object with one key per field.
///
/// ```
/// let mesh = pyact::Mesh::new();
/// let a = pyact::Node::new(&mesh, "k@127.0.0.1:0").unwrap();
/// let b = pyact::Node::new(&mesh, "k@127.0.0.1:0").unwrap();
/// a.connect(&format!("k@{}", b.name())).unwrap();
/// let s = a.net_stats();
/// assert_eq!(s.connections, 1);
/// assert_eq!(s.dropped_frames, 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// Handshakes in progress on the listener (at most
    /// [`NodeOptions::max_handshakes`](crate::NodeOptions::max_handshakes)).
    pub handshakes: usize,
    /// Handshakes evicted to make room for a newcomer since the node started (see
    /// [`NodeOptions::max_handshakes`](crate::NodeOptions::max_handshakes)).
    pub handshakes_evicted: u64,
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

    /// Ask node `peer` (`host:port`, dialled if need be) for its [`Node::stats`], over the
    /// wire: what an operator's console shows for every node of a cluster from one of them.
    /// `peer` may be this node. Waits at most
    /// [`NodeOptions::request_timeout`](crate::NodeOptions::request_timeout) for the answer;
    /// a node of an older pyact that does not know the request drops it, and the call fails
    /// at that timeout.
    ///
    /// # Errors
    /// [`SendError::NoConnection`] if the peer cannot be reached, or does not answer in time.
    ///
    /// ```
    /// use pyact::{Mesh, Node};
    /// let a = Node::new(&Mesh::new(), "k@127.0.0.1:0").unwrap();
    /// let b = Node::new(&Mesh::new(), "k@127.0.0.1:0").unwrap();
    /// let _worker = b.spawn(|mut mb| mb.receive());
    /// let stats = a.remote_stats(b.name()).unwrap();
    /// assert_eq!(stats.live_actors, 1);
    /// assert_eq!(stats.peers[0].node, a.name()); // b sees a, which asked
    /// ```
    pub fn remote_stats(&self, peer: &str) -> Result<NodeStats, SendError> {
        if peer == self.name() {
            return Ok(self.stats());
        }
        requests::stats(self, peer)
    }

    /// The current sizes of this node's network tables.
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// assert_eq!(node.net_stats(), pyact::remote::NetStats::default());
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
            handshakes: r.door.held(),
            handshakes_evicted: r.door.evictions(),
            mailbox_full_drops: r.mailbox_drops.load(Ordering::Relaxed),
            ..NetStats::default()
        };
        for c in conns {
            {
                let p = c.placed();
                s.remote_waits += p.waits_len();
                s.remote_monitors += p.monitors_len();
                s.remote_links += p.links_len();
            }
            s.queued_bytes += c.queued();
            s.dropped_frames += c.dropped.load(Ordering::Relaxed);
        }
        s
    }

    /// Remote waits, and links plus monitors, that peers hold on this node's actors, summed
    /// over every connection, a closing one's too until its entries are released (what
    /// the node-wide caps count). For tests of the release.
    #[doc(hidden)]
    pub fn placed_totals(&self) -> (usize, usize) {
        let t = &self.remote().placed;
        (t.waits(), t.watches())
    }
}
