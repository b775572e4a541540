//! The front door: who may hold a handshake slot, and whose cookie proof is heard.
//!
//! Two scarce things are given out here, fairly, to connections that have not proved the
//! cookie yet:
//!
//! **Handshake slots** ([`NodeOptions::max_handshakes`](crate::NodeOptions::max_handshakes), default 256). A full table does
//! not simply turn the newcomer away. If the newcomer's source group (an IPv4 /16, an IPv6
//! /48) holds at least two slots fewer than the largest group, it *evicts* a handshake of
//! that largest group: the least advanced first (a silent connection before one that sent
//! its `Hello`, before one waiting for its proof to be checked; never one whose proof is
//! being checked), the oldest among equals (but the newest among those waiting for a
//! check, so that the queue keeps its order). Otherwise it may only replace a handshake
//! held for at least [`MIN_AGE`] that has not sent its proof, of its own group first, else
//! of the largest; if there is none, it is refused with `busy`. So slots held by one group
//! cost that group and no other: a group of one connection (a legitimate peer) is never
//! evicted while another group holds three, however many connections an attacker re-opens.
//! An evicted connection stops being read at once but is closed only a second later (the
//! listener's tarpit, like refused ones), so that re-opening it at once cannot start a
//! cascade of evictions.
//!
//! **Cookie guesses** ([`NodeOptions::cookie_guesses`](crate::NodeOptions::cookie_guesses), default 100 per second node-wide).
//! Checking a proof takes a token from one node-wide bucket (burst one second's worth); a
//! proof that is right gives it back, so only *wrong* proofs spend the budget and a peer
//! with the cookie costs nothing. A handshake whose proof arrives while the bucket is empty
//! waits (within its deadline) in a queue served in this order: sources that proved the
//! cookie in the last hour first, then the other sources, then sources penalised for wrong
//! proofs (see `sources.rs`); within a class, the group served longest ago; within a group,
//! first come first served. Guessers from any number of addresses together are heard at
//! most at the budget's rate, while a known peer waits only behind the proofs of other
//! known sources.
//!
//! **Known sources.** An address from which a handshake proved the cookie in the last
//! [`KNOWN_FOR`] is *known* (at most [`MAX_KNOWN`] remembered, the least recently proved
//! forgotten first): its wrong proofs still spend the node-wide budget, but it is never
//! closed unheard for failures of its own (a guesser behind the same NAT address cannot
//! lock a cluster member out), and its proofs are checked first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long an address that proved the cookie stays known.
pub(crate) const KNOWN_FOR: Duration = Duration::from_secs(3600);

/// Most known addresses remembered (about 50 B each).
pub(crate) const MAX_KNOWN: usize = 4096;

/// How long a handshake must have been held before a newcomer of its own group (or of a
/// group as large) may replace it. Replacing costs a coroutine, and the one replaced is
/// often re-opened at once: with this, an attacker whose every connection re-opens at once
/// makes at most `max_handshakes` replacements per `MIN_AGE` (the listener's tarpit slows
/// it further), and a legitimate newcomer of that group is never replaced by it before it
/// had `MIN_AGE` to say `Hello`.
const MIN_AGE: Duration = Duration::from_millis(250);

/// How often a handshake waiting for a guess token, but not first in line, looks again.
const POLL: Duration = Duration::from_millis(20);

/// Sources whose slots are counted together: an IPv4 /16 or an IPv6 /48 (what one
/// operator, or one attacker, typically controls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Group([u8; 6]);

impl Group {
    pub(crate) fn of(ip: IpAddr) -> Group {
        match ip.to_canonical() {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                Group([4, o[0], o[1], 0, 0, 0])
            }
            IpAddr::V6(v6) => {
                let o = v6.octets();
                // 6 bytes = 48 bits.
                Group([o[0], o[1], o[2], o[3], o[4], o[5]])
            }
        }
    }
}

/// How far a handshake has come: the less advanced, the sooner evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Stage {
    /// Accepted; no valid `Hello` yet.
    Connected,
    /// `Hello` read, challenge sent; waiting for the proof.
    Challenged,
    /// Proof received; waiting for a guess token.
    Proving,
    /// Proof being checked, or checked and right: never evicted.
    Proved,
}

/// Priority of a proof waiting for a guess token (lower is served first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Class {
    /// The address proved the cookie recently.
    Known,
    /// Any other address.
    Stranger,
    /// An address with no failed-proof tokens left (`sources.rs`).
    Penalised,
}

/// What the door can do to a handshake it evicts: flag it and shut its socket down.
struct Evict {
    evicted: AtomicBool,
    /// A duplicate of the connection's descriptor, to shut it down from outside.
    sock: Option<std::net::TcpStream>,
}

impl Evict {
    /// Has the peer written anything not yet read (never blocks: the socket is
    /// non-blocking)?
    fn has_spoken(&self) -> bool {
        let mut b = [0u8; 1];
        self.sock
            .as_ref()
            .is_some_and(|s| matches!(s.peek(&mut b), Ok(1)))
    }
}

struct Held {
    group: Group,
    stage: Stage,
    since: Instant,
    evict: Arc<Evict>,
}

struct Waiter {
    class: Class,
    group: Group,
    seq: u64,
}

struct State {
    next: u64,
    held: HashMap<u64, Held>,
    per_group: HashMap<Group, usize>,
    known: HashMap<IpAddr, Instant>,
    tokens: f64,
    refilled: Instant,
    queue: HashMap<u64, Waiter>,
    served: HashMap<Group, Instant>,
}

/// The front door of one node.
pub(crate) struct Door {
    state: Mutex<State>,
    evictions: std::sync::atomic::AtomicU64,
}

impl Default for Door {
    fn default() -> Self {
        Door {
            state: Mutex::new(State {
                next: 0,
                held: HashMap::new(),
                per_group: HashMap::new(),
                known: HashMap::new(),
                tokens: f64::INFINITY,
                refilled: Instant::now(),
                queue: HashMap::new(),
                served: HashMap::new(),
            }),
            evictions: Default::default(),
        }
    }
}

/// One handshake slot, released on drop.
pub(crate) struct Ticket {
    door: Arc<Door>,
    id: u64,
    group: Group,
    evict: Arc<Evict>,
}

/// Why a connection got no slot.
#[derive(Debug)]
pub(crate) struct Full;

/// Why a proof was not checked.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NotHeard {
    /// Another connection took this one's slot.
    Evicted,
    /// The handshake deadline passed while waiting for a guess token.
    Deadline,
}

impl Door {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot for a connection from `ip` (`sock`: a duplicate of its descriptor), evicting
    /// another handshake if all `cap` are taken; `Err` if no handshake may be evicted for it.
    pub(crate) fn enter(
        self: &Arc<Self>,
        ip: IpAddr,
        sock: Option<std::net::TcpStream>,
        cap: usize,
    ) -> Result<Ticket, Full> {
        let group = Group::of(ip);
        let now = Instant::now();
        let mut st = self.lock();
        if st.held.len() >= cap {
            let victim = st.victim(group, now).ok_or(Full)?;
            if let Some(h) = st.remove(victim) {
                h.evict.evicted.store(true, Ordering::Release);
                // Ends its handshake's reads (a local end of input: nothing is sent to the
                // peer, which learns of it when the listener's tarpit closes the socket).
                if let Some(s) = &h.evict.sock {
                    let _ = s.shutdown(std::net::Shutdown::Read);
                }
                self.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
        let id = st.next;
        st.next += 1;
        let evict = Arc::new(Evict {
            evicted: AtomicBool::new(false),
            sock,
        });
        st.held.insert(
            id,
            Held {
                group,
                stage: Stage::Connected,
                since: now,
                evict: evict.clone(),
            },
        );
        *st.per_group.entry(group).or_default() += 1;
        Ok(Ticket {
            door: self.clone(),
            id,
            group,
            evict,
        })
    }

    /// Handshakes holding a slot now.
    pub(crate) fn held(&self) -> usize {
        self.lock().held.len()
    }

    /// Make every handshake held `by` older.
    #[cfg(test)]
    fn age(&self, by: Duration) {
        for h in self.lock().held.values_mut() {
            h.since -= by;
        }
    }

    /// Handshakes evicted so far.
    pub(crate) fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// Did `ip` prove the cookie within [`KNOWN_FOR`]?
    pub(crate) fn is_known(&self, ip: IpAddr) -> bool {
        self.lock()
            .known
            .get(&ip.to_canonical())
            .is_some_and(|t| t.elapsed() < KNOWN_FOR)
    }

    /// `ip` proved the cookie.
    pub(crate) fn proved(&self, ip: IpAddr) {
        let mut st = self.lock();
        let now = Instant::now();
        if st.known.len() >= MAX_KNOWN && !st.known.contains_key(&ip.to_canonical()) {
            st.known.retain(|_, t| now.duration_since(*t) < KNOWN_FOR);
            if st.known.len() >= MAX_KNOWN {
                let mut by_age: Vec<(IpAddr, Instant)> =
                    st.known.iter().map(|(ip, t)| (*ip, *t)).collect();
                by_age.sort_by_key(|(_, t)| *t);
                for (ip, _) in by_age.into_iter().take(MAX_KNOWN / 4) {
                    st.known.remove(&ip);
                }
            }
        }
        st.known.insert(ip.to_canonical(), now);
    }
}

impl State {
    fn remove(&mut self, id: u64) -> Option<Held> {
        let h = self.held.remove(&id)?;
        if let Some(n) = self.per_group.get_mut(&h.group) {
            *n -= 1;
            if *n == 0 {
                self.per_group.remove(&h.group);
            }
        }
        self.queue.remove(&id);
        Some(h)
    }

    /// The handshake a newcomer from `group` replaces, if any (see the module docs).
    fn victim(&mut self, group: Group, now: Instant) -> Option<u64> {
        let own = self.per_group.get(&group).copied().unwrap_or(0);
        let (&big, &most) = self.per_group.iter().max_by_key(|(_, n)| **n)?;
        if own + 1 < most {
            return self.pick(big, Stage::Proving, None);
        }
        let old = now.checked_sub(MIN_AGE);
        let old = Some(old.unwrap_or(now));
        self.pick(group, Stage::Challenged, old)
            .or_else(|| self.pick(big, Stage::Challenged, old))
    }

    /// The handshake of `group` that goes first, among those at most at `max_stage` and
    /// (if given) accepted before `before`. A candidate still at `Connected` whose peer has
    /// in fact written something (its `Hello` is waiting to be read: its coroutine has not
    /// run yet) is moved up to `Challenged` and passed over, so that only silent connections
    /// go first; each connection is looked at once this way.
    fn pick(&mut self, group: Group, max_stage: Stage, before: Option<Instant>) -> Option<u64> {
        loop {
            let (id, stage) = self
                .held
                .iter()
                .filter(|(_, h)| {
                    h.group == group && h.stage <= max_stage && before.is_none_or(|t| h.since <= t)
                })
                .min_by(|(_, a), (_, b)| {
                    a.stage.cmp(&b.stage).then(if a.stage == Stage::Proving {
                        b.since.cmp(&a.since)
                    } else {
                        a.since.cmp(&b.since)
                    })
                })
                .map(|(id, h)| (*id, h.stage))?;
            let h = self.held.get_mut(&id)?;
            if stage == Stage::Connected && h.evict.has_spoken() {
                h.stage = Stage::Challenged;
                continue;
            }
            return Some(id);
        }
    }

    fn refill(&mut self, per_second: u32, now: Instant) {
        let burst = f64::from(per_second.max(1));
        let gained = now.duration_since(self.refilled).as_secs_f64() * f64::from(per_second);
        self.tokens = (self.tokens + gained).min(burst);
        self.refilled = now;
    }

    /// The waiter served next: lowest class, then the group served longest ago, then the
    /// first to come.
    fn head(&self) -> Option<u64> {
        self.queue
            .iter()
            .min_by_key(|(_, w)| (w.class, self.served.get(&w.group).copied(), w.seq))
            .map(|(id, _)| *id)
    }
}

impl Ticket {
    /// The handshake came this far.
    pub(crate) fn stage(&self, stage: Stage) {
        if let Some(h) = self.door.lock().held.get_mut(&self.id) {
            h.stage = stage;
        }
    }

    /// Was this handshake evicted?
    pub(crate) fn evicted(&self) -> bool {
        self.evict.evicted.load(Ordering::Acquire)
    }

    /// Take a token of the node-wide guess budget (`per_second`) to check a proof, waiting
    /// in the fair queue until `deadline` if there is none. Give it back with
    /// [`Ticket::refund`] if the proof was right.
    pub(crate) fn take_guess(
        &self,
        class: Class,
        per_second: u32,
        deadline: Instant,
    ) -> Result<(), NotHeard> {
        loop {
            let now = Instant::now();
            let wait = {
                let mut st = self.door.lock();
                if self.evicted() || !st.held.contains_key(&self.id) {
                    st.queue.remove(&self.id);
                    return Err(NotHeard::Evicted);
                }
                if let Some(h) = st.held.get_mut(&self.id) {
                    h.stage = Stage::Proving;
                }
                st.refill(per_second, now);
                let first = st.queue.is_empty() || st.head() == Some(self.id);
                if first && st.tokens >= 1.0 {
                    st.tokens -= 1.0;
                    st.queue.remove(&self.id);
                    // Being checked now: never evicted from here on (a right proof must
                    // not lose its connection between the check and the admission).
                    if let Some(h) = st.held.get_mut(&self.id) {
                        h.stage = Stage::Proved;
                    }
                    st.served.insert(self.group, now);
                    if st.served.len() > 4 * st.queue.len() + 64 {
                        let keep: std::collections::HashSet<Group> =
                            st.queue.values().map(|w| w.group).collect();
                        st.served.retain(|g, _| keep.contains(g));
                    }
                    return Ok(());
                }
                if !st.queue.contains_key(&self.id) {
                    let seq = st.next;
                    st.next += 1;
                    st.queue.insert(
                        self.id,
                        Waiter {
                            class,
                            group: self.group,
                            seq,
                        },
                    );
                }
                if st.head() == Some(self.id) {
                    let missing = (1.0 - st.tokens).max(0.0);
                    Duration::from_secs_f64(missing / f64::from(per_second.max(1)))
                        .max(Duration::from_millis(1))
                } else {
                    POLL
                }
            };
            let left = deadline.saturating_duration_since(now);
            if left.is_zero() {
                self.door.lock().queue.remove(&self.id);
                return Err(NotHeard::Deadline);
            }
            may::coroutine::sleep(wait.min(left));
        }
    }

    /// The proof checked with the token was right: the token goes back.
    pub(crate) fn refund(&self, per_second: u32) {
        let mut st = self.door.lock();
        let burst = f64::from(per_second.max(1));
        st.tokens = (st.tokens + 1.0).min(burst);
        if let Some(h) = st.held.get_mut(&self.id) {
            h.stage = Stage::Proved;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.door.lock().remove(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn groups_are_slash_16_and_slash_48() {
        assert_eq!(Group::of(ip("10.1.2.3")), Group::of(ip("10.1.200.7")));
        assert_ne!(Group::of(ip("10.1.2.3")), Group::of(ip("10.2.2.3")));
        assert_eq!(Group::of(ip("::ffff:10.1.2.3")), Group::of(ip("10.1.9.9")));
        assert_eq!(
            Group::of(ip("2001:db8:1::1")),
            Group::of(ip("2001:db8:1:ff::2"))
        );
        assert_ne!(
            Group::of(ip("2001:db8:1::1")),
            Group::of(ip("2001:db8:2::1"))
        );
    }

    #[test]
    fn a_full_table_evicts_from_the_largest_group_never_a_lone_newcomer() {
        let door = Arc::new(Door::default());
        let lone = door.enter(ip("127.0.0.1"), None, 4).unwrap();
        let mut crowd: Vec<Ticket> = (0..3)
            .map(|i| door.enter(ip(&format!("127.1.0.{i}")), None, 4).unwrap())
            .collect();
        // The crowd re-opens as fast as it likes: refused while its own are young...
        assert!(door.enter(ip("127.1.9.9"), None, 4).is_err());
        // ... and once they are old, it only ever replaces its own.
        for i in 0..50 {
            door.age(MIN_AGE);
            crowd.push(door.enter(ip(&format!("127.1.1.{i}")), None, 4).unwrap());
            assert!(!lone.evicted(), "the lone connection was evicted");
            assert_eq!(door.held(), 4);
        }
        assert_eq!(crowd.iter().filter(|t| !t.evicted()).count(), 3);
        // A second lone source evicts from the crowd at once, not the first one.
        let other = door.enter(ip("127.2.0.1"), None, 4).unwrap();
        assert!(!lone.evicted() && !other.evicted());
        assert_eq!(door.evictions(), 51);
    }

    #[test]
    fn within_its_own_group_a_newcomer_only_replaces_an_old_unproved_handshake() {
        let door = Arc::new(Door::default());
        let a = door.enter(ip("127.0.0.1"), None, 2).unwrap();
        let b = door.enter(ip("127.0.0.2"), None, 2).unwrap();
        a.stage(Stage::Proving);
        b.stage(Stage::Challenged);
        assert!(door.enter(ip("127.0.0.3"), None, 2).is_err(), "b is young");
        door.age(MIN_AGE);
        let c = door.enter(ip("127.0.0.3"), None, 2).unwrap();
        assert!(
            b.evicted() && !a.evicted(),
            "the one that sent no proof goes"
        );
        c.stage(Stage::Proving);
        door.age(MIN_AGE);
        assert!(door.enter(ip("127.0.0.4"), None, 2).is_err(), "busy");
        drop((a, c));
        assert_eq!(door.held(), 0, "every slot came back");
    }

    #[test]
    fn the_guess_queue_serves_known_sources_first_then_groups_in_turn() {
        let door = Door::default();
        let mut st = door.lock();
        let crowd = Group::of(ip("127.1.0.1"));
        let other = Group::of(ip("127.2.0.1"));
        let home = Group::of(ip("127.0.0.1"));
        st.served.insert(crowd, Instant::now());
        let mut add = |id: u64, class: Class, group: Group| {
            st.queue.insert(
                id,
                Waiter {
                    class,
                    group,
                    seq: id,
                },
            );
        };
        add(1, Class::Stranger, crowd);
        add(2, Class::Stranger, crowd);
        add(3, Class::Penalised, other);
        add(4, Class::Stranger, other);
        add(5, Class::Known, home);
        let mut order = Vec::new();
        while let Some(id) = st.head() {
            let g = st.queue.remove(&id).unwrap().group;
            st.served.insert(g, Instant::now());
            order.push(id);
        }
        assert_eq!(order, [5, 4, 1, 2, 3]);
    }

    #[test]
    fn wrong_proofs_spend_the_budget_and_right_ones_give_it_back() {
        let door = Arc::new(Door::default());
        let t = door.enter(ip("127.0.0.1"), None, 4).unwrap();
        let far = Instant::now() + Duration::from_secs(60);
        for _ in 0..5 {
            t.take_guess(Class::Stranger, 5, far).unwrap();
        }
        t.refund(5);
        let t0 = Instant::now();
        t.take_guess(Class::Stranger, 5, far).unwrap();
        t.take_guess(Class::Stranger, 5, far).unwrap();
        // The refunded token, then one more at 5 a second: at least 200 ms.
        assert!(
            t0.elapsed() >= Duration::from_millis(150),
            "{:?}",
            t0.elapsed()
        );
        assert_eq!(
            // (At one a second: a second's stall of this thread would be needed to flake.)
            t.take_guess(Class::Stranger, 1, Instant::now()),
            Err(NotHeard::Deadline),
            "none left, and no time to wait"
        );
    }

    #[test]
    fn known_addresses_are_remembered_and_bounded() {
        let door = Door::default();
        assert!(!door.is_known(ip("127.0.0.1")));
        door.proved(ip("127.0.0.1"));
        assert!(door.is_known(ip("127.0.0.1")));
        for i in 0..(MAX_KNOWN as u32 + 10) {
            door.proved(IpAddr::from(i.to_be_bytes()));
        }
        assert!(door.lock().known.len() <= MAX_KNOWN);
    }
}
