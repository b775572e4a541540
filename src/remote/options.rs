//! [`NodeOptions`]: the network settings of a node, and why each default is what it is.

use std::time::Duration;

use super::handshake;

/// Default node-wide cap on remote waits, and on links plus monitors, that all peers
/// together may hold on a node's actors (262,144: four connections' worth of the
/// per-connection caps, tens of MiB of table entries at most).
pub(crate) const DEFAULT_REMOTE_TOTAL: usize = 1 << 18;

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
    pub(crate) hidden: bool,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) heartbeat_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) handshake_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) max_handshakes: usize,
    pub(crate) failed_handshake_burst: u32,
    pub(crate) failed_handshake_refill: Duration,
    pub(crate) cookie_guesses: u32,
    pub(crate) redial_first: Duration,
    pub(crate) redial_max: Duration,
    pub(crate) outbound_limit: usize,
    pub(crate) write_timeout: Duration,
    pub(crate) send_timeout: Option<Duration>,
    pub(crate) mailbox_wait: Duration,
    pub(crate) max_remote_waits: usize,
    pub(crate) max_remote_watches: usize,
    pub(crate) max_remote_waits_total: usize,
    pub(crate) max_remote_watches_total: usize,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<super::tls::TlsOptions>,
}

impl Default for NodeOptions {
    fn default() -> Self {
        NodeOptions {
            max_frame: 16 << 20,
            hidden: false,
            heartbeat_interval: Duration::from_secs(15),
            heartbeat_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: handshake::HANDSHAKE_TIMEOUT,
            request_timeout: Duration::from_secs(10),
            max_handshakes: 256,
            failed_handshake_burst: 10,
            failed_handshake_refill: Duration::from_secs(1),
            cookie_guesses: 100,
            redial_first: Duration::from_millis(100),
            redial_max: Duration::from_secs(5),
            outbound_limit: 4 << 20,
            write_timeout: Duration::from_secs(5),
            send_timeout: None,
            mailbox_wait: Duration::from_millis(100),
            max_remote_waits: 65_536,
            max_remote_watches: 65_536,
            max_remote_waits_total: DEFAULT_REMOTE_TOTAL,
            max_remote_watches_total: DEFAULT_REMOTE_TOTAL,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl NodeOptions {
    /// Largest frame (encoded message) sent or accepted, in bytes (default 16 MiB).
    ///
    /// ```
    /// use pyact::{Mesh, Node, NodeOptions, SendError};
    /// let mesh = Mesh::new();
    /// let small = NodeOptions::default().max_frame(1024);
    /// let a = Node::with_options(&mesh, "k@127.0.0.1:0", small).unwrap();
    /// let b = Node::new(&mesh, "k@127.0.0.1:0").unwrap();
    /// let far = b.spawn(|mut mb| { mb.receive(); });
    /// let _here = a.inbox(); // this thread now sends from `a`
    /// let r = far.send("x".repeat(2000)); // refused before anything is sent
    /// assert!(matches!(r, Err(SendError::TooLarge { limit: 1024, .. })));
    /// far.kill().unwrap();
    /// ```
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes;
        self
    }

    /// A hidden node (Erlang's `-hidden`) stays out of connect-all (default: not hidden).
    ///
    /// A node that is not hidden, once connected to one member of a cluster, connects to
    /// every member it learns of, and is announced to the nodes it connects to, so that
    /// [`Node::connect`](crate::Node::connect) to any member joins the whole cluster. A
    /// hidden node is connected only to the nodes it dials (or that dial it): it is never
    /// announced to anyone, so the other members do not connect to it, and it ignores the
    /// member lists it is sent. Use it for tools that look at a cluster (a shell, a
    /// monitoring probe) without becoming part of it; it still talks to the nodes it is
    /// connected to like any node. The nodes it dials list it in their
    /// [`connected_nodes`](crate::Node::connected_nodes), the others do not.
    ///
    /// ```
    /// use pyact::{Mesh, Node, NodeOptions};
    /// let mesh = Mesh::new();
    /// let probe = Node::with_options(&mesh, "k@127.0.0.1:0", NodeOptions::default().hidden(true)).unwrap();
    /// let member = Node::new(&mesh, "k@127.0.0.1:0").unwrap();
    /// probe.connect(&format!("k@{}", member.name())).unwrap();
    /// assert_eq!(probe.connected_nodes(), [member.name()]);
    /// ```
    pub fn hidden(mut self, hidden: bool) -> Self {
        self.hidden = hidden;
        self
    }

    /// Heartbeat interval on idle connections, and the silence after which a peer is down
    /// (defaults 15 s and 60 s, Erlang's `net_ticktime`).
    ///
    /// A connection sends a heartbeat only when it has sent nothing else for the interval,
    /// so a busy link carries none. The timeout is for a peer that is *silent* but whose
    /// connection stays open (hung, stopped, or cut off by the network without a reset): a
    /// peer whose process dies, even by `kill -9`, is down at once, as its kernel closes
    /// the connection; one that stops reading what we send is dropped after the
    /// [`write_timeout`](Self::write_timeout).
    ///
    /// Why these defaults (they were 1 s and 5 s): an idle mesh of N nodes costs each node
    /// about N heartbeats sent and N received per interval. At 1 s a 100-process mesh cost
    /// each node 0.9% of a core idle, the cluster half of a 2-core box; at 15 s it costs
    /// well under 0.1% (`benches/mesh.sh`, BENCHMARKS.md). A LAN cluster that wants to
    /// notice a hung peer sooner sets a shorter pair, as below.
    ///
    /// ```
    /// use pyact::{Mesh, Node, NodeOptions};
    /// use std::time::Duration;
    /// // A LAN cluster that wants to notice a dead peer within a second.
    /// let fast = NodeOptions::default().heartbeat(Duration::from_millis(200), Duration::from_secs(1));
    /// let mesh = Mesh::new();
    /// let a = Node::with_options(&mesh, "k@127.0.0.1:0", fast).unwrap();
    /// let b = Node::new(&mesh, "k@127.0.0.1:0").unwrap();
    /// a.connect(&format!("k@{}", b.name())).unwrap();
    /// assert_eq!(a.connected_nodes(), [b.name()]);
    /// ```
    pub fn heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        self.heartbeat_interval = interval;
        self.heartbeat_timeout = timeout.max(interval);
        self
    }

    /// Deadline for TCP connect, and for the *whole* handshake (defaults 5 s each).
    ///
    /// The handshake deadline is one overall deadline, not a per-read one, so a peer that
    /// trickles a byte at a time holds a connection (and one of the
    /// [`max_handshakes`](Self::max_handshakes) slots) for at most this long. 5 s is far
    /// above a handshake's few round trips even across continents, and short enough that a
    /// flood of stalled connections drains quickly.
    ///
    /// ```
    /// use pyact::{Mesh, Node, NodeError, NodeOptions};
    /// use std::time::Duration;
    /// let opts = NodeOptions::default().connect_timeout(Duration::from_secs(1), Duration::from_secs(2));
    /// let node = Node::with_options(&Mesh::new(), "k@127.0.0.1:0", opts).unwrap();
    /// // A port nobody listens on (freed at once): refused, well within the deadline.
    /// let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    /// let err = node.connect(&format!("k@{free}")).unwrap_err();
    /// assert!(matches!(err, NodeError::Connect { .. }));
    /// ```
    pub fn connect_timeout(mut self, connect: Duration, handshake: Duration) -> Self {
        self.connect_timeout = connect;
        self.handshake_timeout = handshake;
        self
    }

    /// Deadline for remote `whereis`, [`remote_stats`](crate::Node::remote_stats) and remote
    /// spawn replies (default 10 s).
    ///
    /// ```
    /// use pyact::{Mesh, Node, NodeOptions};
    /// use std::time::Duration;
    /// let opts = NodeOptions::default().request_timeout(Duration::from_secs(3));
    /// let mesh = Mesh::new();
    /// let a = Node::with_options(&mesh, "k@127.0.0.1:0", opts).unwrap();
    /// let b = Node::new(&mesh, "k@127.0.0.1:0").unwrap();
    /// assert_eq!(a.whereis_remote(b.name(), "nobody").unwrap(), None); // answered in time
    /// ```
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.request_timeout = t;
        self
    }

    /// Most handshakes in progress at once on the listener (default 256). When all are
    /// taken, a new connection *evicts* one: the least advanced, oldest handshake of the
    /// source group (IPv4 /16, IPv6 /48) that holds the most slots. A newcomer from that
    /// group itself may only replace one of its own group's handshakes that has not sent its
    /// cookie proof yet; if there is none, it is closed at once with `busy`, unread. So
    /// holding slots costs the holder: a peer from any other group always gets one.
    ///
    /// Why 256: a handshake is a few small frames and finishes in a few round trips, so even a
    /// node that many peers dial at the same moment rarely has more than a handful in
    /// progress; 256 leaves room for a whole cluster restarting at once while bounding what
    /// unauthenticated strangers can hold (256 coroutines and 256 × 4 KiB of buffers) for at
    /// most the handshake deadline.
    ///
    /// ```
    /// use pyact::{Mesh, Node, NodeOptions};
    /// // A node that only a few peers ever dial.
    /// let opts = NodeOptions::default().max_handshakes(8);
    /// let mesh = Mesh::new();
    /// let a = Node::with_options(&mesh, "k@127.0.0.1:0", opts).unwrap();
    /// let b = Node::new(&mesh, "k@127.0.0.1:0").unwrap();
    /// b.connect(&format!("k@{}", a.name())).unwrap(); // one handshake: well under the cap
    /// ```
    pub fn max_handshakes(mut self, n: usize) -> Self {
        self.max_handshakes = n.max(1);
        self
    }

    /// Rate limit of wrong cookie proofs per source IP address: a token bucket of `burst`
    /// failures (default 10), one token back every `refill` (default 1 s). While a source
    /// has no token left, its new connections are closed at once, without a handshake,
    /// unless a handshake from that address proved the cookie in the last hour (a member
    /// of the cluster behind the same NAT address as a guesser is never locked out; the
    /// address's guesses still spend the node-wide [`cookie_guesses`](Self::cookie_guesses)
    /// budget). Handshakes that fail otherwise (closed or timed out midway: a peer that
    /// crashed) take no token. Failures are logged at most once per second per source and
    /// once per second node-wide.
    ///
    /// Why: a wrong cookie guess costs the guesser one connection and us a handshake (two
    /// random challenges and HMACs); without a limit one client can try hundreds of cookies
    /// a second and flood the log. Ten quick failures cover a misconfigured node retrying
    /// or a few peers behind one NAT address; one a second after that makes guessing a
    /// cookie hopeless and keeps the log readable.
    ///
    /// ```
    /// use pyact::{Mesh, Node, NodeOptions};
    /// use std::time::Duration;
    /// let strict = NodeOptions::default().failed_handshakes(3, Duration::from_secs(10));
    /// let server = Node::with_options(&Mesh::new(), "right@127.0.0.1:0", strict).unwrap();
    /// let guesser = Node::new(&Mesh::new(), "wrong@127.0.0.1:0").unwrap();
    /// // A wrong cookie fails the handshake (and spends one of the source's 3 tokens).
    /// assert!(guesser.connect(&format!("wrong@{}", server.name())).is_err());
    /// ```
    pub fn failed_handshakes(mut self, burst: u32, refill: Duration) -> Self {
        self.failed_handshake_burst = burst.max(1);
        self.failed_handshake_refill = refill;
        self
    }

    /// Most cookie proofs checked *and found wrong* per second, node-wide, from all sources
    /// together (default 100; burst: one second's worth). A proof is checked only with a
    /// token of this budget, and a right proof gives its token back, so a peer with the
    /// cookie costs nothing. A proof that arrives while the budget is spent waits, within the
    /// handshake deadline, in a queue served first to addresses that proved the cookie in the
    /// last hour, then to others (round robin over /16 groups), then to addresses penalised
    /// by [`failed_handshakes`](Self::failed_handshakes); one not checked by the deadline is
    /// refused with `busy`.
    ///
    /// Why 100: a legitimate cluster fails a proof only when misconfigured, a few times a
    /// second at most; at 100 guesses a second, a cookie of 16 random hex characters (64
    /// bits) lasts about 5 billion years, while a guesser rotating over any number of
    /// addresses gets no further than from one.
    pub fn cookie_guesses(mut self, per_second: u32) -> Self {
        self.cookie_guesses = per_second.max(1);
        self
    }

    /// Back-off after a failed dial (defaults: first 100 ms, doubling up to 5 s). While a
    /// node is in back-off, sends to it fail at once with
    /// [`SendError::NoConnection`](crate::SendError::NoConnection) instead of each one
    /// dialling again; the first send after the back-off dials. [`Node::connect`](crate::Node::connect)
    /// always dials at once.
    ///
    /// Why these: 100 ms is long enough that a sender looping on a dead node costs about ten
    /// dials a second instead of one per message, and short enough that a peer that
    /// restarts is reached again almost at once; the 5 s cap matches the write
    /// timeout, the time a peer that takes nothing takes to be declared dead.
    ///
    /// ```
    /// use pyact::{Mesh, Node, NodeOptions};
    /// use std::time::Duration;
    /// let opts = NodeOptions::default().redial_backoff(Duration::from_millis(50), Duration::from_secs(1));
    /// let node = Node::with_options(&Mesh::new(), "k@127.0.0.1:0", opts).unwrap();
    /// let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    /// assert!(node.connect(&format!("k@{free}")).is_err()); // connect always dials
    /// ```
    pub fn redial_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.redial_first = first;
        self.redial_max = max.max(first);
        self
    }

    /// Bound of each connection's outbound queue, in bytes of encoded frames (default
    /// 4 MiB: about 100 ms of a fast link, far more than a healthy peer ever lets build up,
    /// small enough that a hundred stuck peers cost well under a gigabyte). A sender whose
    /// message does not fit waits for room, at most [`NodeOptions::write_timeout`], then gets
    /// [`SendError::Overloaded`](crate::SendError::Overloaded) (see also
    /// [`NodeOptions::send_timeout`]). One message larger than the
    /// bound still goes when the queue is empty.
    ///
    /// ```
    /// use pyact::{Mesh, Node, NodeOptions};
    /// // Little memory per peer: at most 256 KiB queued for each.
    /// let opts = NodeOptions::default().outbound_limit(256 * 1024);
    /// let mesh = Mesh::new();
    /// let a = Node::with_options(&mesh, "k@127.0.0.1:0", opts).unwrap();
    /// let b = Node::new(&mesh, "k@127.0.0.1:0").unwrap();
    /// let far = b.spawn(|mut mb| mb.receive());
    /// let _here = a.inbox();
    /// far.send("fits").unwrap();
    /// assert_eq!(b.wait(&far).unwrap(), "fits");
    /// ```
    pub fn outbound_limit(mut self, bytes: usize) -> Self {
        self.outbound_limit = bytes.max(1);
        self
    }

    /// How long a write to a peer may make no progress, and how long a sender waits for
    /// room in a full outbound queue (default 5 s: a peer that stops reading for
    /// that long is dropped, much sooner than one that stops talking, after the heartbeat
    /// timeout, as a peer that reads nothing holds our memory).
    ///
    /// Progress is any byte the socket takes, or a progress report from the peer's reader
    /// (a node's reader sends one at most every 200 ms while it takes frames other than heartbeats: TCP
    /// alone shows a slow reader's progress only a whole segment at a time). So a peer that
    /// keeps reading, however slowly, keeps its connection whatever the backlog, and one
    /// that reads nothing is dropped at most about 250 ms after this timeout.
    ///
    /// ```
    /// use pyact::{Mesh, Node, NodeOptions};
    /// use std::time::Duration;
    /// let opts = NodeOptions::default().write_timeout(Duration::from_secs(2));
    /// let node = Node::with_options(&Mesh::new(), "k@127.0.0.1:0", opts).unwrap();
    /// assert!(node.connected_nodes().is_empty());
    /// ```
    pub fn write_timeout(mut self, t: Duration) -> Self {
        self.write_timeout = t;
        self
    }

    /// How long a sender waits for room in a full outbound queue before it gets
    /// [`SendError::Overloaded`](crate::SendError::Overloaded) (default: the write timeout).
    /// Shorter makes senders fail fast under load while a slow-but-alive peer keeps its
    /// connection.
    ///
    /// ```
    /// use pyact::{Mesh, Node, NodeOptions};
    /// use std::time::Duration;
    /// // Senders give up after 50 ms of a full queue; the connection itself lives on (5 s).
    /// let opts = NodeOptions::default().send_timeout(Duration::from_millis(50));
    /// let node = Node::with_options(&Mesh::new(), "k@127.0.0.1:0", opts).unwrap();
    /// let a = node.spawn(|_| "local sends never wait");
    /// assert!(node.wait(&a).is_ok());
    /// ```
    pub fn send_timeout(mut self, t: Duration) -> Self {
        self.send_timeout = Some(t);
        self
    }

    /// The sender's wait in force.
    pub(crate) fn sender_wait(&self) -> Duration {
        self.send_timeout.unwrap_or(self.write_timeout)
    }

    /// How long a connection's reader waits for room in a full bounded mailbox
    /// ([`SpawnOptions::mailbox_limit`](crate::SpawnOptions::mailbox_limit)) before it drops
    /// the message (default 100 ms). While it waits, nothing else from that peer is read, so
    /// TCP pushes a flood back to its sender (whose outbound queue fills, and whose senders
    /// get [`SendError::Overloaded`](crate::SendError::Overloaded)); other peers are not
    /// affected. Readers of several connections waiting on one mailbox are served in turn,
    /// each freed place to the one that waited longest. A message dropped at the end of the
    /// wait is logged (rate-limited) and counted in
    /// [`NetStats::mailbox_full_drops`](crate::remote::NetStats::mailbox_full_drops). Short, so that
    /// one stuck actor cannot stall its peer's connection for long; the waiting reader
    /// still reports its progress, so the peer's writer does not take it for one that
    /// stopped reading.
    ///
    /// ```
    /// use pyact::{Mesh, Node, NodeOptions};
    /// use std::time::Duration;
    /// let opts = NodeOptions::default().mailbox_wait(Duration::from_millis(20));
    /// let node = Node::with_options(&Mesh::new(), "k@127.0.0.1:0", opts).unwrap();
    /// assert!(!node.is_shut_down());
    /// ```
    pub fn mailbox_wait(mut self, t: Duration) -> Self {
        self.mailbox_wait = t;
        self
    }

    /// Most remote `wait`s one connection may have outstanding on this node's actors
    /// (default 65,536: each is a table entry of about 100 bytes, so a hostile peer holds at
    /// most a few MiB; a legitimate node rarely waits on more than a few thousand actors at
    /// once). Past it a wait is answered at once with [`ExitReason::Failed`](crate::ExitReason::Failed).
    ///
    /// ```
    /// use pyact::{Mesh, Node, NodeOptions};
    /// let mesh = Mesh::new();
    /// let a = Node::with_options(&mesh, "k@127.0.0.1:0", NodeOptions::default().max_remote_waits(100)).unwrap();
    /// let b = Node::new(&mesh, "k@127.0.0.1:0").unwrap();
    /// let here = a.spawn(|_| 7);
    /// assert_eq!(b.wait(&here).unwrap(), 7); // one remote wait: within the bound
    /// ```
    pub fn max_remote_waits(mut self, n: usize) -> Self {
        self.max_remote_waits = n;
        self
    }

    /// Most links plus monitors one connection may have placed on this node's actors
    /// (default 65,536, for the same reason as [`NodeOptions::max_remote_waits`]). Past it
    /// a monitor gets an immediate DOWN, and a link an immediate exit signal, with reason
    /// [`ExitReason::Failed`](crate::ExitReason::Failed) naming the limit.
    ///
    /// ```
    /// use pyact::{Mesh, Node, NodeOptions};
    /// use std::time::Duration;
    /// let mesh = Mesh::new();
    /// let a = Node::with_options(&mesh, "k@127.0.0.1:0", NodeOptions::default().max_remote_watches(100)).unwrap();
    /// let b = Node::new(&mesh, "k@127.0.0.1:0").unwrap();
    /// let watched = a.spawn(|mut mb| { mb.receive(); });
    /// let mut probe = pyact::testing::Probe::new(&b);
    /// let r = probe.monitor(&watched); // one remote monitor: within the bound
    /// watched.send("stop").unwrap();
    /// assert!(probe.expect_down(r, Duration::from_secs(30)).reason.is_normal());
    /// ```
    pub fn max_remote_watches(mut self, n: usize) -> Self {
        self.max_remote_watches = n;
        self
    }

    /// Most remote `wait`s all peers together may have outstanding on this node's actors
    /// (default 262,144: four connections' worth of the per-connection cap). The per-connection cap
    /// ([`NodeOptions::max_remote_waits`]) bounds one peer; this bounds the node whatever
    /// the number of peers. Past it a wait is answered at once with
    /// [`ExitReason::Failed`](crate::ExitReason::Failed) naming the node-wide limit.
    ///
    /// ```
    /// let opts = pyact::NodeOptions::default().max_remote_waits_total(100_000);
    /// # drop(opts);
    /// ```
    pub fn max_remote_waits_total(mut self, n: usize) -> Self {
        self.max_remote_waits_total = n;
        self
    }

    /// Most links plus monitors all peers together may have placed on this node's actors
    /// (default 262,144: four connections' worth of the per-connection cap), beside the per-connection
    /// [`NodeOptions::max_remote_watches`]. Past it a monitor gets an immediate DOWN, and a
    /// link an immediate exit signal, with reason
    /// [`ExitReason::Failed`](crate::ExitReason::Failed) naming the node-wide limit.
    pub fn max_remote_watches_total(mut self, n: usize) -> Self {
        self.max_remote_watches_total = n;
        self
    }

    /// Encrypt and mutually authenticate every connection of this node with TLS 1.3
    /// (cargo feature `tls`; see [`TlsOptions`](crate::remote::TlsOptions) and the
    /// [`remote::tls`](crate::remote::tls) module docs). Every node of the cluster needs it: a
    /// TLS node refuses plain peers and a plain node TLS ones. Peers must present a
    /// certificate signed by the configured CA, and the node dialled a certificate naming
    /// its host; the cookie handshake still runs, inside the session.
    ///
    /// ```no_run
    /// use pyact::remote::TlsOptions;
    /// use pyact::{Mesh, Node, NodeOptions};
    /// // node1.pem names the host `node1.internal` (a DNS subject alternative name).
    /// let tls = TlsOptions::from_pem_files("node1.pem", "node1.key", "cluster-ca.pem").unwrap();
    /// let opts = NodeOptions::default().tls(tls);
    /// let node = Node::with_options(&Mesh::new(), "cookie@node1.internal:4000", opts).unwrap();
    /// // node2 must run TLS too, with a certificate for `node2.internal` from the same CA.
    /// node.connect("cookie@node2.internal:4000").unwrap();
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: super::tls::TlsOptions) -> Self {
        self.tls = Some(tls);
        self
    }
}
