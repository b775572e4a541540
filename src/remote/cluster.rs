//! Connect-all (Erlang's `connect_all`): a node connected to one member of a cluster
//! becomes a member of the whole cluster.
//!
//! **How.** Right after a connection is admitted, a node that is not hidden tells the peer
//! "I am a member, and these are the other members I am connected to" with one `peers`
//! frame (see the [protocol](super::protocol)). A node that receives the first `peers` frame
//! of a connection marks the peer as a member and answers with its own list (once per
//! connection: never a ping-pong), then dials, in the background, every listed node it is
//! not connected to. Marking a member and taking the list to send happen under one lock, so
//! of any two members joining the same node at once, the one marked second is sent the
//! first: each pair of nodes with a member in common is introduced, and the cluster ends
//! fully connected (a new node dials the members it is told of; each of them sees it
//! connect, so the others learn of it too).
//!
//! **Hidden nodes** ([`NodeOptions::hidden`](crate::NodeOptions::hidden)) send no `peers`
//! frame and ignore those they receive: they are connected only to the nodes they dial or
//! that dial them, and are never in a list sent to anyone. A node of an older version does
//! not send the frame either (and logs ours as an unknown frame, once per connection), so
//! it is treated like a hidden node.
//!
//! **A peer's list is untrusted input** (from a cookie holder, but still): at most
//! [`MAX_NAMES`] names of a frame are looked at; a name must be a canonical `host:port` with
//! a nonzero port and is never our own; at most [`MAX_QUEUED`] names wait to be dialled;
//! the reader that takes the frame never dials ([`super::dispatch`]): at most
//! [`MAX_DIALERS`] background coroutines dial, at most [`DIAL_BURST`] dials at once and
//! [`DIALS_PER_SEC`] a second after that, and a name whose dial failed is in the dialer's
//! back-off ([`NodeOptions::redial_backoff`](crate::NodeOptions::redial_backoff)) like any
//! other.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::quiet::{Quiet, warn_quietly};
use super::*;

/// Most names of one `peers` frame looked at; the rest are ignored (and logged).
pub(crate) const MAX_NAMES: usize = 4096;
/// Most names waiting to be dialled; past it new names are dropped (and logged).
pub(crate) const MAX_QUEUED: usize = 4096;
/// Most coroutines dialling for connect-all at once.
pub(crate) const MAX_DIALERS: usize = 4;
/// Dials that may start at once (a 100-node cluster joins without waiting) ...
pub(crate) const DIAL_BURST: f64 = 256.0;
/// ... and how many a second after the burst.
pub(crate) const DIALS_PER_SEC: f64 = 20.0;
/// Longest `host:port` accepted (a DNS name is at most 253 characters).
const MAX_NAME_LEN: usize = 270;

/// A node's connect-all state.
pub(crate) struct Cluster {
    state: Mutex<State>,
}

struct State {
    /// Peers that said they are members, with the serial of the connection they said it on.
    members: HashMap<Arc<str>, u64>,
    /// Names waiting to be dialled, in order, and the same as a set.
    queue: VecDeque<Arc<str>>,
    queued: HashSet<Arc<str>>,
    /// Dial coroutines running.
    dialers: usize,
    /// The dial rate limit.
    bucket: Bucket,
}

/// A token bucket: [`DIAL_BURST`] dials at once, then [`DIALS_PER_SEC`].
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl Bucket {
    fn new(now: Instant) -> Bucket {
        Bucket {
            tokens: DIAL_BURST,
            refilled: now,
        }
    }

    /// Take a token (`None`), or say how long until there is one.
    fn take(&mut self, now: Instant) -> Option<Duration> {
        let earned = now.saturating_duration_since(self.refilled).as_secs_f64() * DIALS_PER_SEC;
        self.tokens = (self.tokens + earned).min(DIAL_BURST);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return None;
        }
        Some(Duration::from_secs_f64((1.0 - self.tokens) / DIALS_PER_SEC))
    }
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            state: Mutex::new(State {
                members: HashMap::new(),
                queue: VecDeque::new(),
                queued: HashSet::new(),
                dialers: 0,
                bucket: Bucket::new(Instant::now()),
            }),
        }
    }
}

/// The members this node is connected to now, but `except`. Prunes members whose
/// connection is gone.
fn live_members(node: &Node, st: &mut State, except: &str) -> Vec<String> {
    let peers = lock(&node.remote().peers);
    st.members.retain(|name, serial| {
        peers
            .get(name)
            .and_then(|p| p.out.as_ref())
            .is_some_and(|c| c.serial == *serial && !c.is_closed())
    });
    let mut v: Vec<String> = st
        .members
        .keys()
        .filter(|n| &***n != except)
        .map(|n| n.to_string())
        .collect();
    v.sort();
    v
}

/// A connection with a peer was admitted: unless hidden, tell the peer we are a member and
/// whom we know.
pub(crate) fn on_nodeup(node: &Node, conn: &Conn) {
    let r = node.remote();
    if r.opts.hidden {
        return;
    }
    let nodes = live_members(node, &mut lock(&r.cluster.state), &conn.peer);
    // A control frame: never waits. A closed connection has nothing left to tell.
    let _ = conn.push_bookkeeping(&Frame::Peers { nodes });
}

/// A peer says it is a member and lists the members it knows (in its reader: no dial here).
pub(crate) fn on_peers(node: &Node, conn: &Conn, nodes: Vec<String>) {
    let r = node.remote();
    if r.opts.hidden {
        log::debug!(
            "{}: hidden: ignoring the member list of {}",
            node.name(),
            conn.peer
        );
        return;
    }
    let reply = {
        let mut st = lock(&r.cluster.state);
        let first = st.members.insert(conn.peer.clone(), conn.serial) != Some(conn.serial);
        // Marked and listed under one lock: see the module docs.
        first.then(|| live_members(node, &mut st, &conn.peer))
    };
    if let Some(nodes) = reply {
        let _ = conn.push_bookkeeping(&Frame::Peers { nodes });
    }
    if nodes.len() > MAX_NAMES {
        static TOO_MANY: Quiet = Quiet::new();
        warn_quietly!(
            TOO_MANY,
            "{}: {} listed {} nodes; only the first {MAX_NAMES} are looked at",
            node.name(),
            conn.peer,
            nodes.len()
        );
    }
    let mut fresh = Vec::new();
    for name in nodes.iter().take(MAX_NAMES) {
        match valid_name(node, name) {
            Ok(true) => fresh.push(Arc::<str>::from(name.as_str())),
            Ok(false) => {}
            Err(why) => {
                static BAD: Quiet = Quiet::new();
                warn_quietly!(
                    BAD,
                    "{}: {} listed a bad node name {:?}: {why}",
                    node.name(),
                    conn.peer,
                    name.chars().take(80).collect::<String>()
                );
            }
        }
    }
    if !fresh.is_empty() {
        enqueue(node, fresh);
    }
}

/// Is `name` a node to dial (`Ok(true)`), one to skip (ourselves, already connected:
/// `Ok(false)`), or not a node name at all?
fn valid_name(node: &Node, name: &str) -> Result<bool, &'static str> {
    if name.len() > MAX_NAME_LEN {
        return Err("too long");
    }
    let parsed = crate::node::NodeName::parse(&format!("c@{name}")).map_err(|_| "not host:port")?;
    if parsed.port == 0 {
        return Err("port 0");
    }
    if parsed.id() != name {
        return Err("not in canonical form");
    }
    if name == node.name() {
        return Ok(false);
    }
    Ok(super::peers::established(node, name).is_none())
}

/// Queue `names` for dialling, and start dialers if there are too few.
fn enqueue(node: &Node, names: Vec<Arc<str>>) {
    let r = node.remote();
    let start = {
        let mut st = lock(&r.cluster.state);
        let mut dropped = 0usize;
        for n in names {
            if st.queued.contains(&n) {
                continue;
            }
            if st.queue.len() >= MAX_QUEUED {
                dropped += 1;
                continue;
            }
            st.queued.insert(n.clone());
            st.queue.push_back(n);
        }
        if dropped > 0 {
            static FULL: Quiet = Quiet::new();
            warn_quietly!(
                FULL,
                "{}: {dropped} node names not queued for connect-all: {MAX_QUEUED} already wait",
                node.name()
            );
        }
        let want = st.queue.len().min(MAX_DIALERS).saturating_sub(st.dialers);
        st.dialers += want;
        want
    };
    for _ in 0..start {
        let n = node.clone();
        if let Err(e) = super::go(move || dial_queued(&n)) {
            lock(&r.cluster.state).dialers -= 1;
            log::warn!("{}: cannot start a connect-all dialer: {e}", node.name());
        }
    }
}

/// Take a dial token, waiting for one if needed; `false` if the node stopped meanwhile.
fn take_token(node: &Node) -> bool {
    let r = node.remote();
    loop {
        if r.stopped.load(Ordering::Acquire) {
            return false;
        }
        let wait = lock(&r.cluster.state).bucket.take(Instant::now());
        match wait {
            None => return true,
            Some(wait) => may::coroutine::sleep(wait),
        }
    }
}

/// A dialer: dial queued names until the queue is empty.
fn dial_queued(node: &Node) {
    let r = node.remote();
    loop {
        let next = {
            let mut st = lock(&r.cluster.state);
            match st.queue.pop_front() {
                Some(n) => {
                    st.queued.remove(&n);
                    Some(n)
                }
                None => {
                    st.dialers -= 1;
                    None
                }
            }
        };
        let Some(name) = next else { return };
        if super::peers::established(node, &name).is_some() {
            continue;
        }
        if !take_token(node) {
            let mut st = lock(&r.cluster.state);
            st.dialers -= 1;
            st.queue.clear();
            st.queued.clear();
            return;
        }
        match dialer::conn_to(node, &name) {
            Ok(_) => log::debug!("{}: connect-all: connected to {name}", node.name()),
            Err(e) => log::debug!("{}: connect-all: cannot reach {name}: {e}", node.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dials_come_in_a_burst_then_at_the_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(t0);
        for _ in 0..DIAL_BURST as usize {
            assert_eq!(b.take(t0), None);
        }
        let wait = b.take(t0).expect("the burst is spent");
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs_f64(1.0 / DIALS_PER_SEC));
        // A second later: one second's worth, and no more.
        let t1 = t0 + Duration::from_secs(1);
        let mut taken = 0;
        while b.take(t1).is_none() {
            taken += 1;
        }
        assert_eq!(taken, DIALS_PER_SEC as usize);
    }
}
