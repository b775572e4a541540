//! What peers placed on this node's actors: remote waits, monitors and links, per
//! connection ([`Placed`]) and summed over the node ([`Totals`]), and how a closed
//! connection takes its entries back ([`release`]).
//!
//! **Bounds.** Each connection may hold at most [`NodeOptions::max_remote_waits`] waits
//! and [`NodeOptions::max_remote_watches`] links plus monitors; the node as a whole at most
//! [`NodeOptions::max_remote_waits_total`] and [`NodeOptions::max_remote_watches_total`],
//! whatever the number of peers. Past a bound the request is refused at once with
//! [`ExitReason::Failed`](crate::ExitReason::Failed) naming it (see `dispatch.rs`).
//!
//! **Counting.** Every entry is counted once in the totals when added and uncounted exactly
//! once: by the `remove_*` that finds it in its connection's table (it fired, or the peer
//! took it back), or by [`release`] for the entries a closed connection held.
//!
//! **Teardown is linear and yields.** A remote wait knows its slot in the target's waiter
//! table (O(1) to remove); a connection's monitors are removed with one pass per target
//! actor, not one per monitor. [`release`] lets other coroutines run every [`CHUNK`]
//! entries, so closing connections that held hundreds of thousands of entries never
//! holds a worker thread for long (issue 16: 3 × 65,536 waits froze a node for 27 s and a
//! connected peer was declared down for missed heartbeats).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// A remote wait whose slot in the target's waiter table is not known yet (see
/// `dispatch.rs`: registered, then told its slot).
const NO_SLOT: usize = usize::MAX;

/// Entries handled between two looks at the clock (see [`Pacer`]).
const CHUNK: usize = 64;

/// How long a release works before it lets everything runnable on its worker run.
const SLICE: std::time::Duration = std::time::Duration::from_millis(1);

/// Node-wide counts of what peers placed here (every connection's [`Placed`], plus what a
/// closing connection is still releasing).
#[derive(Default)]
pub(crate) struct Totals {
    waits: AtomicUsize,
    watches: AtomicUsize,
}

impl Totals {
    /// Remote waits held by peers on this node.
    pub(crate) fn waits(&self) -> usize {
        self.waits.load(Ordering::Relaxed)
    }

    /// Links plus monitors held by peers on this node.
    pub(crate) fn watches(&self) -> usize {
        self.watches.load(Ordering::Relaxed)
    }
}

/// What the peer placed on this node's actors through one connection: its outstanding
/// remote waits, its monitors and its links. Each entry is a few words in a table (no
/// coroutine), counted against the connection's and the node's caps, and removed when it
/// fires, when the peer takes it back, or when the connection ends.
#[derive(Default)]
pub(crate) struct Placed {
    /// Remote waits: request id -> (waited local actor id, slot in its waiter table).
    waits: HashMap<u64, (u64, usize)>,
    /// Monitors: reference -> monitored local actor id.
    monitors: HashMap<Ref, u64>,
    /// Links: (local actor id, the peer's actor).
    links: HashSet<(u64, Address)>,
}

impl Placed {
    pub(crate) fn waits_len(&self) -> usize {
        self.waits.len()
    }

    pub(crate) fn monitors_len(&self) -> usize {
        self.monitors.len()
    }

    pub(crate) fn links_len(&self) -> usize {
        self.links.len()
    }

    /// Count a remote wait `req` of `peer` on local actor `to`, or say why it is refused.
    pub(crate) fn add_wait(
        &mut self,
        r: &Remote,
        peer: &str,
        req: u64,
        to: u64,
    ) -> Result<(), String> {
        if self.waits.contains_key(&req) {
            // A reused request id would add a waiter the table does not count.
            return Err(format!("request id {req} is already waiting"));
        }
        if self.waits.len() >= r.opts.max_remote_waits {
            return Err(format!(
                "too many outstanding remote waits from node {peer} (limit {})",
                r.opts.max_remote_waits
            ));
        }
        count_node_wide(
            r,
            &r.placed.waits,
            r.opts.max_remote_waits_total,
            "outstanding remote waits",
        )?;
        self.waits.insert(req, (to, NO_SLOT));
        Ok(())
    }

    /// Record the slot the wait `req` got in its target's waiter table; `false` if the
    /// wait left this table meanwhile (it fired, or the connection closed and took its
    /// entries: then the caller removes the waiter from the target itself).
    pub(crate) fn set_wait_slot(&mut self, req: u64, slot: usize) -> bool {
        match self.waits.get_mut(&req) {
            Some(e) => {
                e.1 = slot;
                true
            }
            None => false,
        }
    }

    /// Remove (and uncount) wait `req`; whether it was there.
    pub(crate) fn remove_wait(&mut self, req: u64, totals: &Totals) -> bool {
        let there = self.waits.remove(&req).is_some();
        if there {
            totals.waits.fetch_sub(1, Ordering::Relaxed);
        }
        there
    }

    /// Take back wait `req` (the peer's waiter gave up): remove and uncount it; where its
    /// waiter sits (target actor id, slot) if it was there.
    pub(crate) fn take_wait(&mut self, req: u64, totals: &Totals) -> Option<(u64, usize)> {
        let e = self.waits.remove(&req)?;
        totals.waits.fetch_sub(1, Ordering::Relaxed);
        (e.1 != NO_SLOT).then_some(e)
    }

    /// Is this link placed already?
    pub(crate) fn has_link(&self, link: &(u64, Address)) -> bool {
        self.links.contains(link)
    }

    /// Is a monitor with this reference placed already?
    pub(crate) fn has_monitor(&self, reference: &Ref) -> bool {
        self.monitors.contains_key(reference)
    }

    /// Room for one more link or monitor of `peer`? If not, why.
    fn watch_room(&self, r: &Remote, peer: &str) -> Result<(), String> {
        if self.links.len() + self.monitors.len() >= r.opts.max_remote_watches {
            return Err(format!(
                "too many links and monitors from node {peer} (limit {})",
                r.opts.max_remote_watches
            ));
        }
        count_node_wide(
            r,
            &r.placed.watches,
            r.opts.max_remote_watches_total,
            "links and monitors",
        )
    }

    /// Count a new link (caller checked [`Placed::has_link`]), or say why it is refused.
    pub(crate) fn add_link(
        &mut self,
        r: &Remote,
        peer: &str,
        link: (u64, Address),
    ) -> Result<(), String> {
        self.watch_room(r, peer)?;
        self.links.insert(link);
        Ok(())
    }

    /// Remove (and uncount) a link; whether it was there.
    pub(crate) fn remove_link(&mut self, link: &(u64, Address), totals: &Totals) -> bool {
        let there = self.links.remove(link);
        if there {
            totals.watches.fetch_sub(1, Ordering::Relaxed);
        }
        there
    }

    /// Count a new monitor (caller checked [`Placed::has_monitor`]), or say why it is
    /// refused.
    pub(crate) fn add_monitor(
        &mut self,
        r: &Remote,
        peer: &str,
        reference: Ref,
        to: u64,
    ) -> Result<(), String> {
        self.watch_room(r, peer)?;
        self.monitors.insert(reference, to);
        Ok(())
    }

    /// Remove (and uncount) a monitor; the monitored actor's id if it was there.
    pub(crate) fn remove_monitor(&mut self, reference: &Ref, totals: &Totals) -> Option<u64> {
        let to = self.monitors.remove(reference);
        if to.is_some() {
            totals.watches.fetch_sub(1, Ordering::Relaxed);
        }
        to
    }
}

/// The node's name for messages (the totals live in its [`Remote`]).
/// Count one more entry of a kind in `total` if the node-wide `limit` allows it; if not,
/// why (`what`: the kind, as the refusal names it).
fn count_node_wide(
    r: &Remote,
    total: &AtomicUsize,
    limit: usize,
    what: &str,
) -> Result<(), String> {
    if total.fetch_add(1, Ordering::Relaxed) >= limit {
        total.fetch_sub(1, Ordering::Relaxed);
        return Err(format!(
            "too many {what} on node {} (node-wide limit {limit})",
            listen_name(r)
        ));
    }
    Ok(())
}

fn listen_name(r: &Remote) -> String {
    lock(&r.listen_addr)
        .map(|a| a.to_string())
        .unwrap_or_else(|| "this node".into())
}

/// Paces a long release: after about [`SLICE`] of work it sleeps for as long (`may`'s
/// shortest timer, 1 ms). A yield is not enough: a `may` worker is also the event loop of
/// the sockets registered with it, and polls them only when nothing on it is runnable; a
/// coroutine that keeps yielding (or parks behind a fresh waker) is always runnable, so
/// the sockets of that worker went unread for the whole release (an innocent peer's round
/// trip took as long as the release: 480 ms for 3 × 65,536 entries of each kind). In a
/// plain thread nothing is held: no pause. No kill check either: a release that stopped
/// halfway would leave entries behind.
pub(crate) struct Pacer {
    since: std::time::Instant,
    count: usize,
}

impl Pacer {
    pub(crate) fn new() -> Self {
        Pacer {
            since: std::time::Instant::now(),
            count: 0,
        }
    }

    /// `n` more entries handled.
    pub(crate) fn tick(&mut self, n: usize) {
        self.count += n;
        if self.count < CHUNK {
            return;
        }
        self.count = 0;
        if self.since.elapsed() >= SLICE && may::coroutine::is_coroutine() {
            crate::park::mark_parked();
            may::coroutine::sleep(SLICE);
            crate::park::mark_running();
            self.since = std::time::Instant::now();
        }
    }
}

/// Remove from this node's actors what the peer placed on them through the closed
/// connection `conn` (its remote waits and monitors; its links fire with `noconnection`
/// through the watch table, see `peers::peer_down`), and uncount it all. Linear in the
/// entries (one pass per target actor for monitors), yielding every [`CHUNK`] entries.
///
/// Returns how many links the connection held: they are still counted, and leave the
/// actors' tables with the watch table (`peers::peer_down`), after which the caller
/// uncounts them ([`uncount_links`]).
pub(crate) fn release(node: &Node, conn: &Conn) -> usize {
    let placed = std::mem::take(&mut *conn.placed());
    let totals = &node.remote().placed;
    let links = placed.links.len();
    let mut pacer = Pacer::new();
    for (req, (to, slot)) in placed.waits {
        // `NO_SLOT`: the wait is being registered right now; `dispatch` sees it gone from
        // the table and removes its waiter itself.
        if slot != NO_SLOT
            && let Some(cell) = node.cell(to)
        {
            let mut st = cell.lock();
            if st.exit.is_none() {
                st.waiters
                    .remove_if(slot, |w| w.is_remote(conn.serial, req));
            }
        }
        // Uncounted one by one: the count never says less than what is still held.
        totals.waits.fetch_sub(1, Ordering::Relaxed);
        pacer.tick(1);
    }
    // Monitors, grouped by target: one pass over each target's table.
    let mut by_target: HashMap<u64, HashSet<Ref>> = HashMap::new();
    for (reference, to) in placed.monitors {
        by_target.entry(to).or_default().insert(reference);
        pacer.tick(1);
    }
    for (to, refs) in by_target {
        let mut work = refs.len();
        if let Some(cell) = node.cell(to) {
            let mut st = cell.lock();
            work += st.monitors.len();
            st.monitors.retain(|(r, _)| !refs.contains(r));
        }
        totals.watches.fetch_sub(refs.len(), Ordering::Relaxed);
        pacer.tick(work);
    }
    links
}

/// `n` links a closed connection held have left the actors' tables (see [`release`]).
pub(crate) fn uncount_links(node: &Node, n: usize) {
    node.remote().placed.watches.fetch_sub(n, Ordering::Relaxed);
}
