//! [`NetStats`]: what a node's network tables hold right now, for operators and tests.

use std::sync::atomic::Ordering;

use super::*;

/// A snapshot of a node's network state ([`Node::net_stats`]): the sizes of every table a
/// peer can grow, so a leak or an attack shows as a number.
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
}

impl Node {
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
