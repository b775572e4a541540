//! The mailbox: where a message goes after [`Address::send`](crate::Address::send), and where
//! [`Mailbox::receive`] takes it from.
//!
//! A mailbox has two halves:
//! - `MailQueue`, shared by every sender: a lock-free multi-producer queue of
//!   `Envelope`s plus the parked receiver to wake. A push never blocks.
//! - [`Mailbox`], owned by exactly one actor (or thread): the only consumer of the queue, plus
//!   a *save queue* of messages it took out but that no pattern has matched yet.
//!
//! Selective receive (Erlang semantics): for each message in arrival order, try every pattern;
//! the first message that matches any pattern is removed and returned, all others keep their
//! place. A receive first scans the save queue, then pulls new messages from the queue one by
//! one; a message is looked at once per receive call, so waiting costs O(new messages).
//! [`Mailbox::mark`] lets a request/reply exchange skip every message that arrived before the
//! request was sent (the reply cannot be among them), as Erlang does for fresh references.
//!
//! A signal that ends the actor (a kill, or an abnormal exit signal while it does not trap
//! exits) skips the queue and acts at the actor's next pyact call (see `MailQueue`). Other
//! system signals travel in the same queue, in order with the messages, and are handled the
//! moment they are pulled: a trapped exit becomes an ordinary message, a normal exit to an
//! actor that does not trap is dropped, a monitor's DOWN becomes an ordinary message. Shapes:
//!
//! - exit (trapped): `{"address": <address>, "exit": <reason>}`
//! - down: `{"down": <ref>, "address": <address>, "exit": <reason>}`
//!
//! where `<reason>` is an [`ExitReason`] encoded as in [`crate::exit`].
//!
//! What a message costs, and what is counted (for `Node::info` and `Node::stats`):
//!
//! - a send to an unbounded mailbox: the queue's own swap, then one `fetch_add` on the
//!   queue's `wake` word, which both counts the envelope (messages and signals alike) and
//!   says whether the receiver is parked (then one `fetch_and` more, and the unpark);
//! - a receive: nothing shared when a message is waiting (the consumer's counters are
//!   plain stores to its own cache line); one `fetch_or` to say "wake me" before it parks;
//! - a bounded mailbox ([`SpawnOptions::mailbox_limit`](crate::SpawnOptions::mailbox_limit))
//!   counts its *user messages* in a second counter, `len`: a send reserves a place
//!   (`fetch_add`; undone if that makes more than the limit) before queueing, and the
//!   receive that takes a user message out frees it (`fetch_sub`). Signals take no place
//!   and are never refused. The bound cannot live in the `wake` word: the wake check must
//!   come *after* the envelope is queued (else a receiver could park on a message it
//!   missed), the reservation *before* it.
//!
//! `mailbox_len` in `Node::info` is `pushed - popped` (every envelope still queued,
//! signals included) plus the save queue.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::actor::{ActorCell, ExitUnwind};
use crate::link::Ref;
use crate::{Address, ExitReason, Node, Pattern};

// One concept per file: this one is the receive API (`Mailbox`, selective receive, the
// save queue, signals as they are pulled); `queue.rs` the shared queue every sender
// pushes on, `wait.rs` how the owner parks and is woken, `doom.rs` the deadly signals that
// skip the queue, `bounded.rs` the mailbox limit and the pushers waiting for room,
// `dormant.rs` the actor that waits for its first envelope without a coroutine.
mod bounded;
mod doom;
mod dormant;
pub(crate) mod hibernate;
mod queue;
mod wait;

pub(crate) use queue::{MailQueue, QueueSlot};
use wait::{Popped, watched, watched_queue};

/// What travels through a [`MailQueue`]: a user message or a system signal.
#[derive(Debug)]
pub(crate) enum Envelope {
    /// A user message.
    Msg(Value),
    /// A user message from another node, built by the receiver (see `distribution::Payload`).
    Payload(crate::distribution::Payload),
    /// A system signal (boxed: rare, and keeps the envelope as small as a `Value`).
    Signal(Box<Signal>),
}

/// System signals, handled by the receiving mailbox rather than matched by patterns.
#[derive(Debug)]
pub(crate) enum Signal {
    /// `from` ended with `reason` (`linked`: because of a link, else an explicit exit signal).
    Exit {
        from: Address,
        reason: ExitReason,
        linked: bool,
    },
    /// Untrappable kill.
    Kill,
    /// A monitored actor ended.
    Down {
        reference: Ref,
        from: Address,
        reason: ExitReason,
    },
}

/// A receive that found nothing before its deadline.
///
/// ```
/// use std::time::Duration;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let mut inbox = node.inbox();
/// let r = inbox.receive_timeout(Duration::from_millis(1));
/// assert_eq!(r, Err(pyact::mailbox::Timeout));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout;

impl std::fmt::Display for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("receive timed out")
    }
}

impl std::error::Error for Timeout {}

/// A position in a mailbox's arrival order, from [`Mailbox::mark`].
///
/// ```
/// use pyact::pattern;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let mut inbox = node.inbox();
/// inbox.addr().send(("reply", 1)).unwrap(); // a stale reply
/// let mark = inbox.mark();
/// inbox.addr().send(("reply", 2)).unwrap();
/// let (_, m) = inbox.receive_match_since(mark, &[&pattern!(("reply", int))], None).unwrap();
/// assert_eq!(m[1], 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[must_use = "a Mark only matters when passed to receive_match_since"]
pub struct Mark(u64);

struct Saved {
    seq: u64,
    msg: Value,
}

/// The receiving end of an actor: the handle its function gets as first argument, as the
/// seed's actors got a `receive` function.
///
/// Only its owner can receive, so it is `Send` (it may move with its coroutine) but neither
/// `Clone` nor `Sync`. A thread gets one from [`Node::inbox`](crate::Node::inbox).
///
/// ```
/// use pyact::{Mesh, Node, pattern};
/// let mesh = Mesh::new();
/// let node = Node::new(&mesh, "cookie@localhost:0").unwrap();
/// let echo = node.spawn(|mut mb| {
///     let (_, msg) = mb.receive_match(&[&pattern!({"reply_to": address, "text": str})]);
///     let to: pyact::Address = serde_json::from_value(msg["reply_to"].clone()).unwrap();
///     to.send(msg["text"].clone()).unwrap();
/// });
/// let mut inbox = node.inbox();
/// echo.send(serde_json::json!({"reply_to": inbox.addr(), "text": "hi"})).unwrap();
/// assert_eq!(inbox.receive(), "hi");
/// ```
pub struct Mailbox {
    cell: Arc<ActorCell>,
    node: Node,
    saved: VecDeque<Saved>,
    seq: u64,
    trap_exit: bool,
    /// Monitors this mailbox's owner holds: DOWNs for other refs (demonitored) are dropped.
    monitors: HashMap<Ref, Address>,
    /// A thread's inbox rather than an actor: it cannot be unwound, so it always traps exits.
    inbox: bool,
}

impl Mailbox {
    pub(crate) fn new(cell: Arc<ActorCell>, node: Node, inbox: bool) -> Self {
        Mailbox {
            cell,
            node,
            saved: VecDeque::new(),
            seq: 0,
            trap_exit: inbox,
            monitors: HashMap::new(),
            inbox,
        }
    }

    pub(crate) fn cell(&self) -> &Arc<ActorCell> {
        &self.cell
    }

    /// A thread's inbox (not an actor's mailbox)?
    pub(crate) fn is_inbox(&self) -> bool {
        self.inbox
    }

    /// This mailbox's address (the seed's `curaddr()`).
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let a = node.spawn(|mb| serde_json::to_value(mb.addr())); // its own address
    /// assert_eq!(node.wait(&a).unwrap(), serde_json::to_value(&a).unwrap());
    /// ```
    pub fn addr(&self) -> Address {
        self.cell.address()
    }

    /// The node this mailbox lives on.
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let a = node.spawn(|mb| mb.node().name().to_string());
    /// assert_eq!(node.wait(&a).unwrap(), node.name());
    /// ```
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Turn exit signals from linked actors into messages instead of dying
    /// (Erlang's `process_flag(trap_exit, true)`). Returns the previous setting.
    /// A thread's inbox always traps exits.
    ///
    /// ```
    /// use pyact::{ExitReason, link::Exit};
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let parent = node.spawn(|mut mb| {
    ///     assert!(!mb.trap_exit(true));
    ///     pyact::spawn_link(|_| -> () { panic!("child died") });
    ///     let exit = Exit::try_from(mb.receive()).unwrap(); // a message, not our death
    ///     exit.reason.to_json()
    /// });
    /// let reason = node.wait(&parent).unwrap();
    /// assert_eq!(reason, ExitReason::Panicked("child died".into()).to_json());
    /// ```
    pub fn trap_exit(&mut self, on: bool) -> bool {
        let on = on || self.inbox;
        self.cell.queue.set_trapping(on);
        std::mem::replace(&mut self.trap_exit, on)
    }

    /// Number of messages taken out of the queue but not yet matched.
    ///
    /// ```
    /// use pyact::pattern;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut inbox = node.inbox();
    /// inbox.addr().send("skip me").unwrap();
    /// inbox.addr().send(7).unwrap();
    /// assert_eq!(inbox.receive_match(&[&pattern!(int)]).1, 7);
    /// assert_eq!(inbox.saved_len(), 1); // "skip me" waits for a later receive
    /// ```
    pub fn saved_len(&self) -> usize {
        self.saved.len()
    }

    /// A mark of "now": a receive [`since`](Mailbox::receive_match_since) it ignores every
    /// message that arrived before, without matching them against patterns.
    ///
    /// Messages already queued are moved into the save queue first (keeping their order),
    /// so "before" means "sent before this call returned"; system signals among them are
    /// handled as in any receive.
    ///
    /// ```
    /// use pyact::pattern;
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut inbox = node.inbox();
    /// inbox.addr().send("old").unwrap();
    /// let mark = inbox.mark();
    /// let any = pattern!(str);
    /// let r = inbox.receive_match_since(mark, &[&any], Some(Duration::from_millis(1)));
    /// assert!(r.is_err()); // "old" arrived before the mark
    /// assert_eq!(inbox.receive(), "old"); // but is still there
    /// ```
    pub fn mark(&mut self) -> Mark {
        let now = Some(Instant::now());
        let other = self.other_watch();
        while let Some(msg) = self.next_message(now, &other) {
            self.seq += 1;
            self.saved.push_back(Saved { seq: self.seq, msg });
        }
        self.mirror();
        Mark(self.seq + 1)
    }

    /// The actor whose deadly signals interrupt a receive on this mailbox: its owner if this
    /// is an actor's mailbox, else the running actor if any (an inbox or a call's mailbox
    /// used inside an actor). A plain thread is never interrupted.
    /// Returns the running actor only when it is not this mailbox's owner (that one is
    /// `self.cell`, no lookup needed): see [`Mailbox::watched`].
    #[inline]
    fn other_watch(&self) -> Option<Arc<ActorCell>> {
        if self.cell.queue.killable {
            None
        } else {
            crate::context::current_actor()
        }
    }

    /// The watched actor's cell: this mailbox's owner, or `other` (from `other_watch`).
    #[inline]
    fn watched<'a>(&'a self, other: &'a Option<Arc<ActorCell>>) -> Option<&'a ActorCell> {
        watched(&self.cell, other)
    }

    /// A deadly signal is pending for the watched actor: end it (unless `unlink` cancelled
    /// the signal).
    #[cold]
    fn doomed(&mut self, other: &Option<Arc<ActorCell>>) {
        let reason = match self.watched(other) {
            Some(cell) => cell.take_doom(),
            None => None,
        };
        if let Some(reason) = reason {
            self.die(reason)
        }
    }

    /// Take the next message, whatever it is, blocking until one arrives.
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let summer = node.spawn(|mut mb| {
    ///     let mut total = 0;
    ///     loop {
    ///         match mb.receive().as_i64() {
    ///             Some(n) => total += n,
    ///             None => return total, // any non-number ends the sum
    ///         }
    ///     }
    /// });
    /// for n in [1, 2, 3] { summer.send(n).unwrap(); }
    /// summer.send("done").unwrap();
    /// assert_eq!(node.wait(&summer).unwrap(), 6);
    /// ```
    pub fn receive(&mut self) -> Value {
        self.receive_timeout_opt(None).expect("no deadline")
    }

    /// Take the next message, or [`Timeout`] after `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut inbox = node.inbox();
    /// assert!(inbox.receive_timeout(Duration::from_millis(1)).is_err());
    /// inbox.addr().send("here").unwrap();
    /// assert_eq!(inbox.receive_timeout(Duration::from_secs(5)).unwrap(), "here");
    /// ```
    pub fn receive_timeout(&mut self, timeout: Duration) -> Result<Value, Timeout> {
        self.receive_timeout_opt(Some(Instant::now() + timeout))
    }

    /// Take the next message if one is there now (a zero-timeout poll).
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut inbox = node.inbox();
    /// assert_eq!(inbox.try_receive(), None);
    /// inbox.addr().send(1).unwrap();
    /// assert_eq!(inbox.try_receive(), Some(1.into()));
    /// ```
    pub fn try_receive(&mut self) -> Option<Value> {
        self.receive_timeout_opt(Some(Instant::now())).ok()
    }

    fn receive_timeout_opt(&mut self, deadline: Option<Instant>) -> Result<Value, Timeout> {
        self.receive_by(Mark(0), deadline, |_| Some(()))
            .map(|(_, v)| v)
    }

    /// Selective receive: the first message (in arrival order) that matches any of
    /// `patterns`; returns the index of the pattern it matched and the message. Blocks until
    /// one arrives; messages that match nothing stay in the mailbox.
    ///
    /// ```
    /// # use pyact::{Mesh, Node, pattern};
    /// # let node = Node::new(&Mesh::new(), "c@localhost:0").unwrap();
    /// let mut inbox = node.inbox();
    /// inbox.addr().send("noise").unwrap();
    /// inbox.addr().send(("data", "payload")).unwrap();
    /// let data = pattern!(("data", str));
    /// let event = pattern!({"event": str, "data": object});
    /// let (which, msg) = inbox.receive_match(&[&data, &event]);
    /// assert_eq!((which, msg[1].as_str()), (0, Some("payload")));
    /// assert_eq!(inbox.receive(), "noise"); // still there, still first
    /// ```
    pub fn receive_match(&mut self, patterns: &[&Pattern]) -> (usize, Value) {
        self.receive_by(Mark(0), None, |v| first_match(patterns, v))
            .expect("no deadline")
    }

    /// [`receive_match`](Mailbox::receive_match) that gives up after `timeout`.
    ///
    /// ```
    /// use pyact::pattern;
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut inbox = node.inbox();
    /// inbox.addr().send("not a number").unwrap();
    /// let num = pattern!(int);
    /// assert!(inbox.receive_match_timeout(&[&num], Duration::from_millis(1)).is_err());
    /// inbox.addr().send(5).unwrap();
    /// assert_eq!(inbox.receive_match_timeout(&[&num], Duration::from_secs(5)).unwrap().1, 5);
    /// ```
    pub fn receive_match_timeout(
        &mut self,
        patterns: &[&Pattern],
        timeout: Duration,
    ) -> Result<(usize, Value), Timeout> {
        let deadline = Instant::now() + timeout;
        self.receive_by(Mark(0), Some(deadline), |v| first_match(patterns, v))
    }

    /// [`receive_match`](Mailbox::receive_match) that only polls (a zero timeout).
    ///
    /// ```
    /// use pyact::pattern;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut inbox = node.inbox();
    /// let (stop, work) = (pattern!("stop"), pattern!({"job": int}));
    /// inbox.addr().send(serde_json::json!({"job": 3})).unwrap();
    /// assert_eq!(inbox.try_receive_match(&[&stop, &work]).map(|(i, _)| i), Some(1));
    /// assert_eq!(inbox.try_receive_match(&[&stop, &work]), None);
    /// ```
    pub fn try_receive_match(&mut self, patterns: &[&Pattern]) -> Option<(usize, Value)> {
        self.receive_by(Mark(0), Some(Instant::now()), |v| first_match(patterns, v))
            .ok()
    }

    /// Selective receive that only considers messages that arrived after `mark`
    /// (see [`Mailbox::mark`]); `timeout` `None` waits forever.
    ///
    /// ```
    /// use pyact::pattern;
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut inbox = node.inbox();
    /// let mark = inbox.mark();
    /// inbox.addr().send(("pong", 1)).unwrap();
    /// let pong = pattern!(("pong", int));
    /// let got = inbox.receive_match_since(mark, &[&pong], Some(Duration::from_secs(5)));
    /// assert_eq!(got.unwrap().1[1], 1);
    /// ```
    pub fn receive_match_since(
        &mut self,
        mark: Mark,
        patterns: &[&Pattern],
        timeout: Option<Duration>,
    ) -> Result<(usize, Value), Timeout> {
        let deadline = timeout.map(|t| Instant::now() + t);
        self.receive_by(mark, deadline, |v| first_match(patterns, v))
    }

    /// Typed receive: the first message that deserializes into `T` (others stay queued).
    ///
    /// ```
    /// # use pyact::{Mesh, Node};
    /// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// struct Ping { seq: u32 }
    /// # let node = Node::new(&Mesh::new(), "c@localhost:0").unwrap();
    /// let mut inbox = node.inbox();
    /// inbox.addr().send("not a ping").unwrap();
    /// inbox.addr().send(Ping { seq: 7 }).unwrap();
    /// assert_eq!(inbox.receive_as::<Ping>(), Ping { seq: 7 });
    /// ```
    pub fn receive_as<T: DeserializeOwned>(&mut self) -> T {
        self.receive_by(Mark(0), None, |v| T::deserialize(v).ok())
            .expect("no deadline")
            .0
    }

    /// [`receive_as`](Mailbox::receive_as) that gives up after `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut inbox = node.inbox();
    /// inbox.addr().send("text").unwrap();
    /// assert!(inbox.receive_as_timeout::<u32>(Duration::from_millis(1)).is_err());
    /// inbox.addr().send(9).unwrap();
    /// assert_eq!(inbox.receive_as_timeout::<u32>(Duration::from_secs(5)), Ok(9));
    /// ```
    pub fn receive_as_timeout<T: DeserializeOwned>(
        &mut self,
        timeout: Duration,
    ) -> Result<T, Timeout> {
        let deadline = Instant::now() + timeout;
        self.receive_by(Mark(0), Some(deadline), |v| T::deserialize(v).ok())
            .map(|(t, _)| t)
    }

    /// The one receive loop every public receive is built on. `pick` decides whether a
    /// message is taken (and what to report about it).
    pub(crate) fn receive_by<R>(
        &mut self,
        since: Mark,
        deadline: Option<Instant>,
        mut pick: impl FnMut(&Value) -> Option<R>,
    ) -> Result<(R, Value), Timeout> {
        // 0. A pending kill or deadly exit signal acts before anything is received.
        let other = self.other_watch();
        if watched_queue(&self.cell, &other).is_some_and(|q| q.is_doomed()) {
            self.doomed(&other);
        }
        // 1. Messages already taken out but not matched, oldest first (none, usually: a
        // plain receive never leaves any).
        // The save queue is in arrival order, so the messages before `since` are a prefix
        // that is skipped without being looked at.
        if !self.saved.is_empty() {
            let start = self.saved.partition_point(|s| s.seq < since.0);
            let mut found = None;
            for (i, s) in self.saved.iter().enumerate().skip(start) {
                if let Some(r) = pick(&s.msg) {
                    found = Some((i, r));
                    break;
                }
            }
            if let Some((i, r)) = found {
                let s = self.saved.remove(i).expect("index from iteration");
                self.mirror();
                return Ok((r, s.msg));
            }
        }
        // 2. New arrivals, each looked at once.
        loop {
            let msg = self.next_message(deadline, &other).ok_or(Timeout)?;
            self.seq += 1;
            if let Some(r) = pick(&msg) {
                self.mirror();
                return Ok((r, msg));
            }
            self.saved.push_back(Saved { seq: self.seq, msg });
            self.mirror();
        }
    }

    /// The next message out of the queue, in arrival order, or `None` at the deadline: a
    /// remote payload is built here, on the receiver's thread; a pending kill or deadly
    /// signal for the watched actor (`other`, from `other_watch`) acts at once; other
    /// signals are handled ([`Self::on_signal`]) and only those that become messages are
    /// returned. The one place both receive loops pop from.
    #[inline]
    fn next_message(
        &mut self,
        deadline: Option<Instant>,
        other: &Option<Arc<ActorCell>>,
    ) -> Option<Value> {
        loop {
            match self
                .cell
                .queue
                .pop_wait(deadline, watched(&self.cell, other))
            {
                Popped::Timeout => return None,
                Popped::Doomed => self.doomed(other),
                Popped::Env(Envelope::Msg(v)) => return Some(v),
                Popped::Env(Envelope::Payload(p)) => return Some(p.into_value()),
                Popped::Env(Envelope::Signal(sig)) => {
                    if let Some(v) = self.on_signal(*sig) {
                        return Some(v);
                    }
                }
            }
        }
    }

    /// Publish the counters `Node::info` shows (two relaxed stores to the consumer's own
    /// fields: no read-modify-write, nothing for senders).
    #[inline]
    fn mirror(&self) {
        let q: &MailQueue = &self.cell.queue;
        q.received.store(self.seq, Ordering::Relaxed);
        q.saved.store(self.saved.len(), Ordering::Relaxed);
    }

    /// Handle a system signal: die, or turn it into a message, or drop it.
    fn on_signal(&mut self, sig: Signal) -> Option<Value> {
        match sig {
            Signal::Kill if !self.inbox => self.die(ExitReason::Killed),
            Signal::Kill => Some(exit_message(&self.addr(), &ExitReason::Killed)),
            Signal::Exit {
                from,
                reason,
                linked,
            } => {
                if linked {
                    self.cell.forget_link(&from);
                }
                if self.trap_exit {
                    Some(exit_message(&from, &reason))
                } else if reason.is_normal() {
                    None
                } else if linked {
                    self.die(linked_exit(from, reason))
                } else {
                    self.die(reason)
                }
            }
            Signal::Down {
                reference,
                from,
                reason,
            } => {
                self.monitors.remove(&reference)?;
                Some(json!({"down": reference, "address": from, "exit": reason}))
            }
        }
    }

    fn die(&mut self, reason: ExitReason) -> ! {
        std::panic::resume_unwind(Box::new(ExitUnwind(reason)))
    }

    /// Remember a monitor this owner placed (so its DOWN is delivered).
    pub(crate) fn add_monitor(&mut self, reference: Ref, target: Address) {
        self.monitors.insert(reference, target);
    }

    /// Forget a monitor and purge its DOWN if one is already queued. Returns the target.
    pub(crate) fn remove_monitor(&mut self, reference: &Ref) -> Option<Address> {
        // Purge first: a DOWN already pulled into the save queue has left `monitors`.
        let key = serde_json::to_value(reference).unwrap_or(Value::Null);
        self.saved.retain(|s| s.msg.get("down") != Some(&key));
        self.mirror();
        self.monitors.remove(reference)
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        // The owner ended (or gave up its mailbox): its monitors go from their targets'
        // tables, so a long-lived target does not collect stale entries.
        for (reference, target) in self.monitors.drain() {
            crate::link::drop_monitor(&self.node, &target, reference);
        }
        // A thread's inbox ends when it is dropped; an actor's end is recorded by its runner.
        if self.inbox {
            crate::context::pop_inbox(&self.cell.address());
            self.cell
                .finish(&self.node, ExitReason::Normal(Value::Null));
        }
    }
}

impl std::fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailbox")
            .field("addr", &self.addr())
            .field("saved", &self.saved.len())
            .finish()
    }
}

fn first_match(patterns: &[&Pattern], v: &Value) -> Option<usize> {
    patterns.iter().position(|p| p.matches(v))
}

/// The reason an actor ends with when a linked actor's abnormal `reason` reaches it.
///
/// Keeps the root cause, not one wrapper per hop: a crash travelling down a chain of 1,000
/// links must stay a small, JSON-encodable reason.
pub(crate) fn linked_exit(from: Address, reason: ExitReason) -> ExitReason {
    let reason = match reason {
        ExitReason::Linked { reason, .. } => reason,
        other => Box::new(other),
    };
    ExitReason::Linked { from, reason }
}

/// The message a trapped exit becomes.
pub(crate) fn exit_message(from: &Address, reason: &ExitReason) -> Value {
    json!({"address": from, "exit": reason})
}

/// Erlang-style receive with pattern arms and an optional `after` arm.
///
/// Each arm is `name @ PATTERN => expression`, where `PATTERN` is one token tree in the
/// [`pattern!`](macro@crate::pattern) syntax (or the name of a [`Pattern`] variable) and `name` binds
/// the matched message. The optional last arm `after DURATION => expression` runs if nothing
/// matches in time.
///
/// ```
/// use pyact::{Mesh, Node, receive};
/// use std::time::Duration;
/// # let node = Node::new(&Mesh::new(), "c@localhost:0").unwrap();
/// let mut inbox = node.inbox();
/// inbox.addr().send(serde_json::json!({"event": "boot", "data": 1})).unwrap();
/// let got = receive! { inbox;
///     m @ ("data", str) => format!("data {}", m[1]),
///     m @ {"event": str} => format!("event {}", m["event"]),
///     after Duration::from_millis(10) => "nothing".to_string(),
/// };
/// assert_eq!(got, "event \"boot\"");
/// let got = receive! { inbox;
///     _m @ int => "int",
///     after Duration::ZERO => "empty",
/// };
/// assert_eq!(got, "empty");
/// ```
#[macro_export]
macro_rules! receive {
    ($mb:expr; $($rest:tt)+) => { $crate::receive!(@arms $mb; [] $($rest)+) };
    (@arms $mb:expr; [$(($bind:ident $pat:tt $body:expr))+] after $dur:expr => $after:expr $(,)?) => {{
        let __pats = [$($crate::pattern!($pat)),+];
        let __refs: ::std::vec::Vec<&$crate::Pattern> = __pats.iter().collect();
        match $mb.receive_match_timeout(&__refs, $dur) {
            ::std::result::Result::Ok((__idx, __msg)) => $crate::__receive_arms!(__idx, __msg; $($bind => $body),+),
            ::std::result::Result::Err(_) => $after,
        }
    }};
    (@arms $mb:expr; [$($arms:tt)*] $bind:ident @ $pat:tt => $body:expr , $($rest:tt)*) => {
        $crate::receive!(@arms $mb; [$($arms)* ($bind $pat $body)] $($rest)*)
    };
    (@arms $mb:expr; [$($arms:tt)*] $bind:ident @ $pat:tt => $body:expr) => {
        $crate::receive!(@arms $mb; [$($arms)* ($bind $pat $body)])
    };
    (@arms $mb:expr; [$(($bind:ident $pat:tt $body:expr))+]) => {{
        let __pats = [$($crate::pattern!($pat)),+];
        let __refs: ::std::vec::Vec<&$crate::Pattern> = __pats.iter().collect();
        let (__idx, __msg) = $mb.receive_match(&__refs);
        $crate::__receive_arms!(__idx, __msg; $($bind => $body),+)
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __receive_arms {
    ($idx:ident, $msg:ident; $($bind:ident => $body:expr),+) => {{
        let mut __msg = ::std::option::Option::Some($msg);
        let mut __i = 0usize;
        'arms: {
            $(
                if $idx == __i {
                    #[allow(unused_variables)]
                    let $bind: $crate::Value = __msg.take().expect("taken once");
                    break 'arms $body;
                }
                __i += 1;
            )+
            let _ = __i;
            unreachable!("receive! matched pattern index out of range")
        }
    }};
}
