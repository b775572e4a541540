//! [`NodeOptions`]: the network settings of a node, and why each default is what it is.

use std::time::Duration;

use super::handshake;

/// Network settings of a node.
///
/// ```
/// use std::time::Duration;
/// let opts = pyact::NodeOptions::default()
///     .max_frame(1 << 20)
///     .heartbeat(Duration::from_millis(500), Duration::from_secs(2));
/// let node = pyact::Node::with_options(&pyact::Mesh::new(), "c@127.0.0.1:0", opts).unwrap();
/// # drop(node);
/// ```
#[derive(Debug, Clone)]
pub struct NodeOptions {
    pub(crate) max_frame: usize,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) heartbeat_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) handshake_timeout: Duration,
    pub(crate) request_timeout: Duration,
}

impl Default for NodeOptions {
    fn default() -> Self {
        NodeOptions {
            max_frame: 16 << 20,
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: handshake::HANDSHAKE_TIMEOUT,
            request_timeout: Duration::from_secs(10),
        }
    }
}

impl NodeOptions {
    /// Largest frame (encoded message) sent or accepted, in bytes (default 16 MiB).
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes;
        self
    }

    /// Heartbeat interval on idle connections, and the silence after which a peer is down
    /// (defaults 1 s and 5 s).
    pub fn heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        self.heartbeat_interval = interval;
        self.heartbeat_timeout = timeout.max(interval);
        self
    }

    /// Deadline for TCP connect, and for each step of the handshake (defaults 5 s).
    pub fn connect_timeout(mut self, connect: Duration, handshake: Duration) -> Self {
        self.connect_timeout = connect;
        self.handshake_timeout = handshake;
        self
    }

    /// Deadline for remote `whereis` and remote spawn replies (default 10 s).
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.request_timeout = t;
        self
    }
}
