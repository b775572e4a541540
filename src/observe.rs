//! Looking into a running node: which actors it runs, under which names, what each one is
//! doing, how much mail it has, what it is linked to and watched by ([`Node::info`], what
//! Erlang's `process_info` shows), and the node's totals and peers ([`Node::stats`], what
//! `observer` shows).
//!
//! Everything here is a *snapshot* taken under the node's short locks, one actor at a time:
//! an actor may start, end or change its links while a listing is built, so the parts of a
//! listing are each true at some moment, not all at the same one. Reading never blocks an
//! actor for longer than a few field copies, and costs the actors nothing when nobody looks.
//!
//! What it costs: an actor's [`Status`] is written only when it parks and wakes (never per
//! message); the counters behind [`ActorInfo::mailbox_len`] and [`ActorInfo::received`]
//! are one relaxed atomic add per send (the queued count, `pushed - popped`: only the
//! senders can count what they queue) and a few relaxed stores by the receiver per message
//! it pulls (single writer: no read-modify-write). Measured with `benches/pingpong.rs` on
//! the quiet runs of a shared 2-core box: about 3% of a local round trip (~0.35 µs), nearly
//! all of it the senders' add; the receiver's stores are within the noise.
//!
//! ## What you can see
//!
//! `node.actors()` lists the live actors with their registered names, `node.registered()` the
//! names, and `node.info(&addr)` gives a snapshot of one actor (or thread inbox): what it runs
//! (the type name of its function or closure), its age, links, monitors, how many callers wait for its end, name, whether it is
//! exiting, and what it is doing (`Status`: running, or parked receiving, in a call, waiting
//! for another actor, sleeping, in `blocking` or on a `pyact::net` socket), its mailbox length (queued plus pulled but not
//! matched yet) and how many messages it has received. `node.stats()` gives the node's totals:
//! live actors, actors spawned and ended, messages delivered, and its peers (`PeerStats`): each
//! node it is connected to, dialing, or backing off from after a failed dial (with the dial's
//! error), the creation number the peer declared, messages and bytes in and out on the current
//! connection, and its outbound queue (frames and bytes). A peer's counters are kept by the
//! connection's reader and writer, one relaxed store per frame received or batch written.
//! (`node.net_stats()` is the hardening view: the sizes of the tables peers can grow on this
//! node.) `node.remote_stats(peer)` asks another node for its `node.stats()`; every snapshot
//! serializes to JSON.
//! `cargo run --example observe` shows all of it as a table that refreshes every second.
//!
//! Connections are logged at `info`: `node <id> up` on both sides (saying who dialled) and
//! `node <id> down: <why>`. A refused connection is logged on both sides with what failed and
//! the likely cause, and the connector's error says the same: the acceptor's refusal names the
//! check that failed without any secret (`bad cookie proof`, `already connected`, `busy`,
//! `rate-limited`, ...), so a wrong cookie reads `cannot connect to 127.0.0.1:4000: ... refused
//! by 127.0.0.1:4000: bad cookie proof (the two nodes' cookies differ?)`, and a `call` to that
//! node fails with `CallError::NoConnection { node, why }` carrying the same text.
//!
//! ```rust
//! use pyact::observe::Status;
//! use pyact::{Mesh, Node, pattern};
//!
//! let node = Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap();
//! let worker = node.spawn(|mut mb| mb.receive_match(&[&pattern!("stop")]).1);
//! node.register("worker", &worker).unwrap();
//! assert_eq!(node.actors(), vec![(worker.clone(), Some("worker".to_string()))]);
//! worker.send("not for now").unwrap();
//! // Wait until the worker has pulled the message and parked again.
//! let info = loop {
//!     let info = node.info(&worker).unwrap();
//!     if info.received == 1 && info.status == Status::Receiving {
//!         break info;
//!     }
//!     std::thread::yield_now();
//! };
//! assert_eq!(info.name.as_deref(), Some("worker"));
//! assert_eq!(info.mailbox_len, 1); // kept: no pattern matched it
//! assert!(info.links.is_empty());
//! worker.send("stop").unwrap();
//! worker.wait().unwrap();
//! let stats = node.stats();
//! assert_eq!((stats.live_actors, stats.spawned, stats.ended), (0, 1, 1));
//! assert_eq!(stats.delivered, 2);
//!
//! // Two nodes: the peers and their traffic.
//! use pyact::observe::PeerState;
//! let other = Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap();
//! let echo = other.spawn(|mut mb| {
//!     let m = mb.receive();
//!     pyact::Address::try_from(&m["from"]).unwrap().send("pong").unwrap();
//! });
//! let mut inbox = node.inbox();
//! echo.send(pyact::json!({"from": inbox.addr()})).unwrap();
//! assert_eq!(inbox.receive(), "pong");
//! let peer = &node.stats().peers[0];
//! assert_eq!((peer.node.as_str(), peer.state), (other.name(), PeerState::Connected));
//! assert_eq!((peer.messages_out, peer.messages_in), (1, 1));
//! assert!(peer.bytes_out > 0 && peer.bytes_in > 0);
//! // A wrong cookie: the error says what failed.
//! let third = Node::new(&Mesh::new(), "another@127.0.0.1:0").unwrap();
//! let err = node.connect(&format!("guess@{}", third.name())).unwrap_err();
//! assert!(err.to_string().contains("bad cookie proof"), "{err}");
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Address, Node};

/// What owns a mailbox of a node. JSON: `"actor"`, `"inbox"`, `"call"`.
///
/// ```
/// use pyact::observe::MailboxKind;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let inbox = node.inbox();
/// assert_eq!(node.info(&inbox.addr()).unwrap().kind, MailboxKind::Inbox);
/// assert_eq!(pyact::json!(MailboxKind::Actor), "actor");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MailboxKind {
    /// An actor: a coroutine running a function.
    Actor,
    /// A plain thread's [`Node::inbox`].
    Inbox,
    /// The throwaway mailbox of a call, ask or timed wait in progress.
    Call,
}

/// What an actor (or a thread's inbox) is doing at the moment of a snapshot.
///
/// Recorded when it parks and when it wakes: between two parks an actor is `Running` (on a
/// worker, or ready to run and waiting for one). A thread's inbox is `Running` whenever the
/// thread is not parked in one of its receives.
///
/// JSON: the variant's name in snake case (`"receiving"`).
///
/// ```
/// use pyact::observe::Status;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let mut probe = pyact::testing::Probe::new(&node);
/// let me = probe.addr();
/// let a = node.spawn(move |mut mb| { me.send("ready").unwrap(); mb.receive(); });
/// probe.expect_msg(&pyact::pattern!("ready"), std::time::Duration::from_secs(30));
/// // It is on its way into `receive` (or there already).
/// let s = node.info(&a).unwrap().status;
/// assert!(matches!(s, Status::Running | Status::Receiving));
/// assert_eq!(pyact::json!(Status::Receiving), "receiving");
/// a.send("bye").unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Status {
    /// Running its own code (or ready to, waiting for a worker).
    Running = 0,
    /// Parked in one of its receives, waiting for a message that matches.
    Receiving = 1,
    /// Parked waiting for an answer in a call's throwaway mailbox: a
    /// [`call`](crate::Address::call), [`ask`](crate::ask()),
    /// [`wait_timeout`](crate::Address::wait_timeout).
    Calling = 2,
    /// Parked in [`Node::wait`] (or [`Address::wait`]) for another actor's end.
    Waiting = 3,
    /// Parked in [`sleep`](crate::actor::sleep).
    Sleeping = 4,
    /// Parked while a helper thread runs its [`blocking`](crate::blocking::blocking()) function.
    Blocking = 5,
    /// Spawned but not started: waiting for a coroutine to run on (an actor spawned by an
    /// actor while every coroutine was busy; see [`Node::spawn`]).
    Starting = 6,
    /// Parked on a [`pyact::net`](crate::net) socket: accepting, connecting, or waiting to
    /// read or write.
    Socket = 7,
    /// Spawned with [`SpawnOptions::start_on_message`](crate::SpawnOptions::start_on_message)
    /// and not started: no coroutine yet, its function runs when its first message (or
    /// signal) arrives.
    Dormant = 8,
    /// Gave its coroutine back with [`Mailbox::hibernate`](crate::Mailbox::hibernate): no
    /// coroutine until its next message (or signal) arrives, then it goes on with the
    /// function it gave.
    Hibernating = 9,
}

impl Status {
    pub(crate) fn from_u8(v: u8) -> Status {
        match v {
            1 => Status::Receiving,
            2 => Status::Calling,
            3 => Status::Waiting,
            4 => Status::Sleeping,
            5 => Status::Blocking,
            6 => Status::Starting,
            7 => Status::Socket,
            8 => Status::Dormant,
            9 => Status::Hibernating,
            _ => Status::Running,
        }
    }
}

/// A snapshot of one live mailbox of a node: see [`Node::info`].
///
/// Serializes (for a dashboard, a log line, a reply to an operator) as an object with one
/// key per field; `age` is `{"secs": u64, "nanos": u32}`.
///
/// ```
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let a = node.spawn(|mut mb| mb.receive());
/// let info = pyact::serde_json::to_value(node.info(&a).unwrap()).unwrap();
/// assert_eq!(info["kind"], "actor");
/// assert_eq!(info["address"], pyact::json!(a));
/// # a.send(0).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ActorInfo {
    /// Its address.
    pub address: Address,
    /// Its registered name, if any.
    pub name: Option<String>,
    /// Actor, thread inbox, or call mailbox.
    pub kind: MailboxKind,
    /// The type name of the function or closure an actor runs (e.g.
    /// `my_app::main::{{closure}}`); `None` for inboxes and call mailboxes.
    pub runs: Option<&'static str>,
    /// Time since it was spawned (or the inbox was made).
    pub age: Duration,
    /// The actors it is linked to, sorted.
    pub links: Vec<Address>,
    /// The actors (or mailboxes) that monitor it, sorted; one entry per monitor.
    pub monitored_by: Vec<Address>,
    /// Callers blocked in [`Node::wait`] on it, here or on other nodes (a waiter that
    /// gave up, killed or disconnected, is not counted: its entry left with it).
    pub waiters: usize,
    /// Messages or signals wait in its queue that it has not pulled yet (see also
    /// [`mailbox_len`](Self::mailbox_len)).
    pub has_unread: bool,
    /// It is ending: its exit is being delivered to waiters, links and monitors.
    pub exiting: bool,
    /// What it is doing.
    pub status: Status,
    /// Messages in its mailbox: those queued that it has not pulled yet, plus those it
    /// pulled but no pattern has matched so far (its save queue). Queued system signals
    /// (exits, DOWNs) count too, as they travel in the same queue.
    pub mailbox_len: usize,
    /// Messages it has taken out of its queue since it started (matched or still saved;
    /// not counting signals it dropped or that ended it).
    pub received: u64,
}

impl Node {
    /// The live actors of this node (not thread inboxes or call mailboxes), with their
    /// registered names, in spawn order.
    ///
    /// ```
    /// use pyact::{Mesh, Node};
    /// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let a = node.spawn(|mut mb| mb.receive());
    /// node.register("a", &a).unwrap();
    /// assert_eq!(node.actors(), vec![(a.clone(), Some("a".to_string()))]);
    /// a.send("bye").unwrap();
    /// a.wait().unwrap();
    /// assert!(node.actors().is_empty());
    /// ```
    pub fn actors(&self) -> Vec<(Address, Option<String>)> {
        let mut v: Vec<(Address, Option<String>)> = self
            .live_cells()
            .into_iter()
            .filter(|c| c.runs().is_some())
            .map(|c| {
                let name = c.lock().name.clone();
                (c.address(), name)
            })
            .collect();
        v.sort_by_key(|(a, _)| a.id());
        v
    }

    /// The registered names of this node's live actors, sorted by name.
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let inbox = node.inbox();
    /// node.register("console", &inbox.addr()).unwrap();
    /// assert_eq!(node.registered(), vec![("console".to_string(), inbox.addr())]);
    /// ```
    pub fn registered(&self) -> Vec<(String, Address)> {
        let mut v: Vec<(String, Address)> = self
            .live_cells()
            .into_iter()
            .filter_map(|c| {
                let name = c.lock().name.clone()?;
                Some((name, c.address()))
            })
            .collect();
        v.sort();
        v
    }

    /// A snapshot of the live actor (or inbox) at `addr`; `None` if it is not a live mailbox
    /// of this node (ended, never existed, or on another node).
    ///
    /// ```
    /// use pyact::{Mesh, Node};
    /// use pyact::observe::MailboxKind;
    /// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut inbox = node.inbox();
    /// let a = node.spawn(|mut mb| mb.receive());
    /// inbox.monitor(&a);
    /// let info = node.info(&a).unwrap();
    /// assert_eq!(info.kind, MailboxKind::Actor);
    /// assert_eq!(info.monitored_by, vec![inbox.addr()]);
    /// assert!(info.runs.unwrap().contains("{{closure}}"));
    /// a.send("bye").unwrap();
    /// a.wait().unwrap();
    /// assert_eq!(node.info(&a), None);
    /// ```
    pub fn info(&self, addr: &Address) -> Option<ActorInfo> {
        if addr.node_id() != self.name() {
            return None;
        }
        let cell = self.cell(addr.id())?;
        let runs = cell.runs();
        let kind = match (runs, cell.ephemeral) {
            (Some(_), _) => MailboxKind::Actor,
            (None, true) => MailboxKind::Call,
            (None, false) => MailboxKind::Inbox,
        };
        let (name, mut links, mut monitored_by, waiters, exiting) = {
            let st = cell.lock();
            (
                st.name.clone(),
                st.links.iter().cloned().collect::<Vec<_>>(),
                st.monitors
                    .iter()
                    .map(|(_, w)| w.clone())
                    .collect::<Vec<_>>(),
                st.waiters.len(),
                st.exit.is_some(),
            )
        };
        links.sort();
        monitored_by.sort();
        let (received, saved) = cell.queue.received_and_saved();
        Some(ActorInfo {
            address: cell.address(),
            name,
            kind,
            runs,
            age: cell.age(),
            links,
            monitored_by,
            waiters,
            has_unread: cell.queue.has_unread(),
            exiting,
            status: cell.queue.status(),
            mailbox_len: cell.queue.queued() + saved,
            received,
        })
    }
}

/// Lifetime totals of a node, for [`Node::stats`]. Touched once per spawn and once per end,
/// never per message: messages are counted by each mailbox (see `MailQueue`), and a mailbox
/// that ends hands its count over here.
#[derive(Default)]
pub(crate) struct Counters {
    /// Written by the spawning worker, `ended` by the one the actor ends on: apart.
    spawned: crate::padded::Padded<AtomicU64>,
    ended: crate::padded::Padded<AtomicU64>,
    /// Envelopes delivered into mailboxes of this node that have ended since.
    delivered_to_ended: AtomicU64,
}

// The node's other fields stay off the counters' lines: the struct is as aligned as they are.
const _: () = assert!(std::mem::align_of::<Counters>() >= 128);

impl Counters {
    /// An actor is about to start.
    pub(crate) fn spawned(&self) {
        self.spawned.fetch_add(1, Ordering::Relaxed);
    }

    /// The actor counted by [`spawned`](Self::spawned) could not start after all.
    pub(crate) fn spawn_failed(&self) {
        self.spawned.fetch_sub(1, Ordering::Relaxed);
    }

    /// A mailbox ended (`actor`: an actor's, not an inbox's or a call's), after `delivered`
    /// envelopes were delivered to it.
    pub(crate) fn ended(&self, actor: bool, delivered: u64) {
        if actor {
            self.ended.fetch_add(1, Ordering::Relaxed);
        }
        self.delivered_to_ended
            .fetch_add(delivered, Ordering::Relaxed);
    }
}

/// A snapshot of a node's totals and its peers: see [`Node::stats`].
///
/// (For the sizes of the tables peers can grow on this node, remote waits, monitors and
/// links, which show a leak or an attack, see [`Node::net_stats`].)
///
/// Serializes (and deserializes) as an object with one key per field.
///
/// ```
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let stats = node.stats();
/// let json = pyact::serde_json::to_string(&stats).unwrap();
/// let back: pyact::observe::NodeStats = pyact::serde_json::from_str(&json).unwrap();
/// assert_eq!(back, stats);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NodeStats {
    /// Actors running now (not thread inboxes or call mailboxes).
    pub live_actors: usize,
    /// Actors spawned on this node since it started.
    pub spawned: u64,
    /// Actors of this node that have ended (`spawned - ended` can exceed `live_actors`
    /// for an instant: an actor counts as ended once its end is recorded).
    pub ended: u64,
    /// Messages and signals delivered into this node's mailboxes (actors, inboxes and call
    /// mailboxes, live or ended) since it started, whoever sent them: actors and threads
    /// of this process, and the network side delivering what peers sent. Deadly signals
    /// (kills) that skip the queue are not counted.
    pub delivered: u64,
    /// The nodes this node is connected to, is dialing, or failed to reach, sorted by node
    /// id, with their traffic.
    pub peers: Vec<PeerStats>,
}

/// One peer of a node, in [`NodeStats::peers`]: a node this node is connected to, is
/// dialing, or failed to reach (its back-off entry, see
/// [`NodeOptions::redial_backoff`](crate::NodeOptions::redial_backoff)).
///
/// The traffic counters belong to the current connection: they start at 0 when it opens,
/// and a peer without a connection shows zeros. Each is kept by the one coroutine that moves
/// that traffic (the connection's reader or writer) and published once per frame received
/// and once per batch written, before the frame takes effect or the batch is written: once
/// an answer from the peer (or a message it sent) is seen, the frames that caused it are
/// counted. They never go backwards while the connection lives.
///
/// Serializes (and deserializes) as an object with one key per field.
///
/// ```
/// use pyact::observe::PeerState;
/// let mesh = pyact::Mesh::new();
/// let a = pyact::Node::new(&mesh, "k@127.0.0.1:0").unwrap();
/// let b = pyact::Node::new(&mesh, "k@127.0.0.1:0").unwrap();
/// a.connect(&format!("k@{}", b.name())).unwrap();
/// let peer = &a.stats().peers[0];
/// assert_eq!((peer.node.as_str(), peer.state), (b.name(), PeerState::Connected));
/// assert!(peer.creation.is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PeerStats {
    /// The peer's node id (`host:port`).
    pub node: String,
    /// The state of the connection.
    pub state: PeerState,
    /// The creation number the peer declared on the current connection (tells a restarted
    /// node from its previous run); `None` without a connection.
    pub creation: Option<u32>,
    /// Frames received from the peer on this connection: messages, signals, requests and
    /// replies (heartbeats and connect-all member lists excluded).
    pub messages_in: u64,
    /// Bytes received from the peer on this connection, after the handshake.
    pub bytes_in: u64,
    /// Frames written to the peer on this connection (heartbeats and member lists excluded).
    pub messages_out: u64,
    /// Bytes written to the peer on this connection.
    pub bytes_out: u64,
    /// Frames waiting in the connection's outbound queue.
    pub queued_messages: u64,
    /// Bytes waiting in the connection's outbound queue (bounded by
    /// [`NodeOptions::outbound_limit`](crate::NodeOptions::outbound_limit) for user messages).
    pub queued_bytes: usize,
    /// Why the last dial failed, while the peer is [`PeerState::BackingOff`] or
    /// [`PeerState::Down`].
    pub last_error: Option<String>,
}

/// The state of a node's connection with a peer, in [`PeerStats`].
///
/// JSON: `"connected"`, `"dialing"`, `{"backing_off": {"retry_in": <duration>, "failures":
/// n}}`, `{"down": {"failures": n}}`, a duration being `{"secs": u64, "nanos": u32}`.
///
/// ```
/// use pyact::observe::PeerState;
/// assert_eq!(pyact::json!(PeerState::Connected), "connected");
/// assert_eq!(pyact::json!(PeerState::Dialing), "dialing");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PeerState {
    /// An authenticated connection is open (see [`Node::connected_nodes`]).
    Connected,
    /// This node is dialing the peer (connecting or in the handshake) right now.
    Dialing,
    /// The last dial failed: sends to the peer fail at once, without dialling, for this
    /// long still (see [`NodeOptions::redial_backoff`](crate::NodeOptions::redial_backoff)).
    #[non_exhaustive]
    BackingOff {
        /// Time left until the next send may dial again.
        retry_in: Duration,
        /// Failed dials in a row.
        failures: u32,
    },
    /// The last dial failed and its back-off is over: the next send dials again.
    #[non_exhaustive]
    Down {
        /// Failed dials in a row.
        failures: u32,
    },
}

impl Node {
    /// A snapshot of this node's totals and peers (what Erlang's `observer` shows on its
    /// system page). Costs one pass over the node's actor table; nothing is counted per
    /// message but the mailboxes' own counters.
    ///
    /// ```
    /// use pyact::{Mesh, Node};
    /// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let a = node.spawn(|mut mb| mb.receive());
    /// a.send("bye").unwrap();
    /// a.wait().unwrap();
    /// let stats = node.stats();
    /// assert_eq!((stats.live_actors, stats.spawned, stats.ended), (0, 1, 1));
    /// assert_eq!(stats.delivered, 1);
    /// assert!(stats.peers.is_empty());
    /// ```
    pub fn stats(&self) -> NodeStats {
        let c = &self.0.counters;
        // The live table first, then the totals: a mailbox hands its count over before it
        // leaves the table, so one that ends meanwhile is counted twice at worst, never
        // missed. `spawned` last, so that `ended <= spawned`.
        let cells = self.live_cells();
        let live_actors = cells.iter().filter(|c| c.runs().is_some()).count();
        let delivered_live: u64 = cells.iter().map(|c| c.queue.delivered()).sum();
        let delivered_to_ended = c.delivered_to_ended.load(Ordering::Relaxed);
        let ended = c.ended.load(Ordering::Relaxed);
        let spawned = c.spawned.load(Ordering::Relaxed);
        NodeStats {
            live_actors,
            spawned,
            ended,
            delivered: delivered_to_ended + delivered_live,
            peers: crate::distribution::Distribution::peer_stats(&self.0.dist, self),
        }
    }
}
