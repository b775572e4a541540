//! Links and monitors: how actors learn that other actors ended.
//!
//! Semantics (Erlang's, written down before the code):
//!
//! - **Links** are bidirectional. When an actor ends, every actor linked to it gets an exit
//!   signal carrying its [`ExitReason`]:
//!   - a *normal* reason is ignored by a receiver that does not trap exits;
//!   - an *abnormal* reason (panic, error, killed, ...) ends a receiver that does not trap
//!     exits, with reason [`ExitReason::Linked`] `{from, reason}` (`from` the linked actor,
//!     `reason` the root cause of the chain, never nested), which in turn propagates
//!     to *its* links, so a crash takes down a whole linked group;
//!   - a receiver that traps exits ([`Mailbox::trap_exit`]) gets the signal as the message
//!     `{"address": <from>, "exit": <reason>}` instead, for any reason.
//!
//!   Linking to an actor that is already dead (or unknown) delivers at once an exit signal
//!   with reason `noproc` to the linking actor, as if the link had fired.
//! - **Monitors** are one-way and stackable. [`Mailbox::monitor`] returns a fresh [`Ref`];
//!   when the target ends the watcher gets exactly one message
//!   `{"down": <ref>, "address": <target>, "exit": <reason>}` whatever the reason.
//!   Monitoring a dead or unknown actor delivers that DOWN at once with reason `noproc`.
//!   [`Mailbox::demonitor`] removes the monitor and any DOWN of it already in the mailbox.
//! - A signal acts when it *arrives*. One that ends its receiver (a kill; an abnormal exit
//!   signal to an actor that does not trap exits at that moment) ends it at its next pyact
//!   call (send, spawn, receive, call, wait, sleep, yield_now, blocking), or at once if it is
//!   parked in one; Rust code cannot be preempted, so an actor busy without any pyact call
//!   ends when it makes one. Every other signal (trapped exits, normal exits, DOWNs) travels
//!   in the target's mailbox queue, so between two actors it keeps the order of the messages
//!   sent before it.
//! - [`Mailbox::unlink`] cancels an exit signal from that link that arrived but has not
//!   acted yet: once `unlink` returns, the link can no longer end the actor.
//! - When an actor (or inbox) ends, its monitors are removed from their targets' tables and
//!   its links from its local peers' tables, so a long-lived actor collects no entries of
//!   ended ones ([`Node::info`](crate::Node::info) shows both tables).
//! - Across nodes: links and monitors on remote addresses are kept by the remote node too;
//!   when the connection to a node is lost every link and monitor to an actor on it fires
//!   with reason `noconnection`.
//!
//! [`Down`] and [`Exit`] decode those two messages into typed values:
//!
//! ```
//! use pyact::link::{Down, Exit};
//! use pyact::{ExitReason, Mesh, Node, pattern};
//! let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
//! let mut inbox = node.inbox(); // an inbox traps exits
//! let worker = node.spawn(|mut mb| -> () { mb.receive(); panic!("boom") });
//! let r = inbox.monitor(&worker);
//! inbox.link(&worker);
//! worker.send("go").unwrap();
//! let (_, msg) = inbox.receive_match(&[&pattern!({"down": = r})]);
//! let down = Down::try_from(&msg).unwrap();
//! assert_eq!((down.reference, &down.address), (r, &worker));
//! assert!(matches!(down.reason, ExitReason::Panicked(_)));
//! let (_, msg) = inbox.receive_match(&[&pattern!({"address": _, "exit": _})]);
//! let exit = Exit::try_from(&msg).unwrap();
//! assert_eq!(exit.address, worker);
//! assert!(Down::try_from(&msg).is_err()); // each type takes only its own shape
//! ```

use crate::distribution::Distribution;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::mailbox::{Envelope, Signal};
use crate::{Address, ExitReason, Mailbox};

/// The reference a monitor's DOWN message carries.
pub use crate::reference::Ref;

/// A monitor's DOWN message, decoded: `{"down": <ref>, "address": <target>, "exit": <reason>}`
/// (see the [module docs](self)). Its JSON encoding is that message.
///
/// ```
/// use pyact::{ExitReason, link::Down};
/// use std::time::Duration;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let mut inbox = node.inbox();
/// let worker = node.spawn(|mut mb| { mb.receive(); "finished" });
/// let r = inbox.monitor(&worker);
/// worker.send("go").unwrap(); // ends after the monitor is in place
/// let down = Down::try_from(inbox.receive_timeout(Duration::from_secs(10)).unwrap()).unwrap();
/// assert_eq!((down.reference, down.address), (r, worker));
/// assert_eq!(down.reason, ExitReason::Normal("finished".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Down {
    /// The monitor's reference, as returned by [`Mailbox::monitor`].
    #[serde(rename = "down")]
    pub reference: Ref,
    /// The actor that ended.
    pub address: Address,
    /// Why it ended.
    #[serde(rename = "exit")]
    pub reason: ExitReason,
}

/// A trapped exit signal, decoded: `{"address": <from>, "exit": <reason>}`, what an actor
/// that traps exits ([`Mailbox::trap_exit`], and every thread inbox) receives when a linked
/// actor ends (see the [module docs](self)). Its JSON encoding is that message.
///
/// ```
/// use pyact::{ExitReason, link::Exit};
/// use std::time::Duration;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let mut inbox = node.inbox(); // an inbox traps exits
/// let worker = node.spawn_link(&inbox.addr(), |_| ExitReason::Failed("disk full".into())).unwrap();
/// let exit = Exit::try_from(inbox.receive_timeout(Duration::from_secs(10)).unwrap()).unwrap();
/// assert_eq!(exit.address, worker);
/// assert_eq!(exit.reason, ExitReason::Failed("disk full".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Exit {
    /// The linked actor that ended (or sent the signal with [`Address::exit`]).
    pub address: Address,
    /// Its exit reason.
    #[serde(rename = "exit")]
    pub reason: ExitReason,
}

/// Decoding: `Err` if the message is not exactly a DOWN (any other key, or one missing).
impl TryFrom<&Value> for Down {
    type Error = serde_json::Error;
    fn try_from(msg: &Value) -> Result<Self, Self::Error> {
        Down::deserialize(msg)
    }
}

/// Decoding: `Err` if the message is not exactly a DOWN (any other key, or one missing).
impl TryFrom<Value> for Down {
    type Error = serde_json::Error;
    fn try_from(msg: Value) -> Result<Self, Self::Error> {
        serde_json::from_value(msg)
    }
}

/// Decoding: `Err` if the message is not exactly a trapped exit (any other key, such as a
/// DOWN's `"down"`, or one missing).
impl TryFrom<&Value> for Exit {
    type Error = serde_json::Error;
    fn try_from(msg: &Value) -> Result<Self, Self::Error> {
        Exit::deserialize(msg)
    }
}

/// Decoding: `Err` if the message is not exactly a trapped exit (any other key, such as a
/// DOWN's `"down"`, or one missing).
impl TryFrom<Value> for Exit {
    type Error = serde_json::Error;
    fn try_from(msg: Value) -> Result<Self, Self::Error> {
        serde_json::from_value(msg)
    }
}

impl Mailbox {
    /// Link this actor with `other` (bidirectional). See the [module docs](crate::link).
    ///
    /// ```
    /// # use pyact::{Mesh, Node, ExitReason};
    /// let node = Node::new(&Mesh::new(), "c@localhost:0").unwrap();
    /// let crasher = node.spawn(|mut mb| -> () { mb.receive(); panic!("bad message") });
    /// let buddy = node.spawn({
    ///     let crasher = crasher.clone();
    ///     move |mut mb| { mb.link(&crasher); crasher.send("go").unwrap(); mb.receive(); }
    /// });
    /// assert!(matches!(node.wait(&buddy), Err(ExitReason::Linked { .. })));
    /// ```
    pub fn link(&mut self, other: &Address) {
        let me = self.addr();
        if *other == me {
            return;
        }
        self.cell().lock().links.insert(other.clone());
        add_link_from(other, &me);
    }

    /// Remove the link with `other` on both sides (no signal is sent). An exit signal from
    /// `other` through this link that arrived but was not handled yet is cancelled: once
    /// `unlink` returns, the link can no longer end this actor (Erlang's guarantee). A
    /// trapped exit already turned into a message stays in the mailbox.
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let crasher = node.spawn(|mut mb| -> () { mb.receive(); panic!("crash") });
    /// let survivor = node.spawn({
    ///     let crasher = crasher.clone();
    ///     move |mut mb| {
    ///         mb.link(&crasher);
    ///         mb.unlink(&crasher); // its crash no longer reaches us
    ///         crasher.send("go").unwrap();
    ///         mb.monitor(&crasher);
    ///         mb.receive(); // its DOWN
    ///         "alive"
    ///     }
    /// });
    /// assert_eq!(node.wait(&survivor).unwrap(), "alive");
    /// ```
    pub fn unlink(&mut self, other: &Address) {
        let me = self.addr();
        self.cell().forget_link(other);
        self.cell().queue.cancel_linked_doom(other);
        match other.local_cell().or_else(|| crate::node::home_cell(other)) {
            Some(cell) => cell.forget_link(&me),
            None => self.node().0.dist.unlink(self.node(), other, &me),
        }
    }

    /// Monitor `target`; returns the reference its DOWN message will carry.
    ///
    /// ```
    /// # use pyact::{Mesh, Node, pattern};
    /// let node = Node::new(&Mesh::new(), "c@localhost:0").unwrap();
    /// let mut inbox = node.inbox();
    /// let short = node.spawn(|_| ());
    /// node.wait(&short).unwrap();
    /// let r = inbox.monitor(&short);
    /// let (_, down) = inbox.receive_match(&[&pattern!({"down": = r})]);
    /// assert_eq!(down["exit"], "noproc");
    /// ```
    pub fn monitor(&mut self, target: &Address) -> Ref {
        let reference = Ref::new();
        let me = self.addr();
        self.add_monitor(reference, target.clone());
        add_monitor_from(target, reference, &me);
        reference
    }

    /// Remove a monitor and any DOWN message of it already received but unread.
    /// Returns whether the monitor was active.
    ///
    /// ```
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut inbox = node.inbox();
    /// let worker = node.spawn(|mut mb| { mb.receive(); });
    /// let r = inbox.monitor(&worker);
    /// assert!(inbox.demonitor(r));
    /// assert!(!inbox.demonitor(r)); // already gone
    /// worker.send("stop").unwrap();
    /// node.wait(&worker).unwrap();
    /// assert!(inbox.receive_timeout(Duration::from_millis(5)).is_err()); // no DOWN
    /// ```
    pub fn demonitor(&mut self, reference: Ref) -> bool {
        let Some(target) = self.remove_monitor(&reference) else {
            return false;
        };
        drop_monitor(self.node(), &target, reference);
        true
    }
}

/// Remove monitor `reference` from `target`'s table (its watcher demonitored, or ended).
pub(crate) fn drop_monitor(node: &crate::Node, target: &Address, reference: Ref) {
    match target
        .local_cell()
        .or_else(|| crate::node::home_cell(target))
    {
        Some(cell) => cell.lock().monitors.retain(|(r, _)| *r != reference),
        None if crate::node::is_here(target) => {}
        // The door keeps the remote half (see `crate::distribution`).
        None => node.0.dist.demonitor(node, target, reference),
    }
}

/// Hook for the network side: a local actor `ended` that was linked to local actor
/// `peer`; drop the link from `peer`'s table at once (the exit signal still travels, in
/// order, and is handled as usual).
pub(crate) fn forget_ended_link(peer: &Address, ended: &Address) {
    if let Some(cell) = peer.local_cell().or_else(|| crate::node::home_cell(peer)) {
        cell.forget_link(ended);
    }
}

/// Record on `target`'s side that `from` is linked to it; if `target` is dead, send `from`
/// the `noproc` exit signal.
pub(crate) fn add_link_from(target: &Address, from: &Address) {
    match target
        .local_cell()
        .or_else(|| crate::node::home_cell(target))
    {
        Some(cell) => {
            let mut st = cell.lock();
            if st.exit.is_none() {
                st.links.insert(from.clone());
                return;
            }
        }
        None if !crate::node::is_here(target) => {
            if let Some(node) = crate::node::home_node(from) {
                node.0.dist.link(&node, from, target);
            }
            return;
        }
        None => {}
    }
    let _ = from.deliver(Envelope::Signal(Box::new(Signal::Exit {
        from: target.clone(),
        reason: ExitReason::NoSuchActor,
        linked: true,
    })));
}

/// Record on `target`'s side that `watcher` monitors it under `reference`; if `target` is
/// dead, send the DOWN at once.
pub(crate) fn add_monitor_from(target: &Address, reference: Ref, watcher: &Address) {
    match target
        .local_cell()
        .or_else(|| crate::node::home_cell(target))
    {
        Some(cell) => {
            let mut st = cell.lock();
            if st.exit.is_none() {
                st.monitors.push((reference, watcher.clone()));
                return;
            }
        }
        None if !crate::node::is_here(target) => {
            if let Some(node) = crate::node::home_node(watcher) {
                node.0.dist.monitor(&node, watcher, target, reference);
            }
            return;
        }
        None => {}
    }
    let _ = watcher.deliver(Envelope::Signal(Box::new(Signal::Down {
        reference,
        from: target.clone(),
        reason: ExitReason::NoSuchActor,
    })));
}
