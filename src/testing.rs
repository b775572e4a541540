//! Helpers for testing actors: a [`Probe`], an inbox whose expectations wait with a deadline
//! and fail with a message that says what arrived instead (Akka's `TestProbe`, Erlang's
//! `?assertReceive`).
//!
//! Every wait takes a timeout: a test that would otherwise hang on a lost message fails
//! instead. Pick timeouts far above what the awaited event needs (seconds, not
//! milliseconds): on a loaded machine an actor may wait a long time for a worker, and the
//! timeout must never be the reason a test passes. [`Probe::expect_no_msg`] is the one
//! assertion that always waits its whole timeout.
//!
//! ```
//! use pyact::testing::Probe;
//! use pyact::{Mesh, Node, json, pattern};
//! use std::time::Duration;
//!
//! let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
//! let mut probe = Probe::new(&node);
//! let me = probe.addr(); // a Probe is a Mailbox, with assertions
//! let echo = node.spawn(move |mut mb| {
//!     let m = mb.receive();
//!     me.send(json!({"echo": m})).unwrap();
//! });
//! let r = probe.monitor(&echo);
//! echo.send("hi").unwrap();
//! let got = probe.expect_msg(&pattern!({"echo": str}), Duration::from_secs(30));
//! assert_eq!(got["echo"], "hi");
//! let down = probe.expect_down(r, Duration::from_secs(30));
//! assert!(down.reason.is_normal());
//! probe.expect_no_msg(Duration::from_millis(20));
//! ```

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use serde_json::Value;

use crate::link::Ref;
use crate::link::{Down, Exit};
use crate::{Address, Mailbox, Node, Pattern};

/// How many of the messages that arrived instead a failed expectation lists.
const SHOWN: usize = 10;
/// How many it takes out of the mailbox at most (and counts).
const DRAINED: usize = 100_000;

/// A test inbox with assertions. It derefs to its [`Mailbox`] (a thread inbox made by
/// [`Node::inbox`], so it traps exits): `addr`, `monitor`, `link` and every receive work
/// on it as well.
///
/// Each `expect_*` panics (naming the caller's line) if what it waits for does not arrive
/// in time; the panic message lists the messages that did arrive, which the failed
/// expectation takes out of the mailbox.
///
/// ```
/// use pyact::testing::Probe;
/// use std::time::Duration;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let mut probe = Probe::new(&node);
/// let doubler = node.spawn(|mut mb| {
///     let m = mb.receive();
///     pyact::reply(&m, m["n"].as_i64().unwrap_or(0) * 2).unwrap();
/// });
/// doubler.send(pyact::json!({"n": 4, "from": probe.addr()})).unwrap();
/// assert_eq!(probe.expect_msg(&pyact::pattern!(int), Duration::from_secs(30)), 8);
/// ```
#[derive(Debug)]
pub struct Probe {
    inbox: Mailbox,
}

impl Probe {
    /// A probe on `node`: a fresh [`Node::inbox`] (the calling thread's context while it
    /// lives, as any inbox).
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let probe = pyact::testing::Probe::new(&node);
    /// assert_eq!(probe.addr().node_id(), node.name());
    /// ```
    pub fn new(node: &Node) -> Probe {
        Probe {
            inbox: node.inbox(),
        }
    }

    /// The probe's mailbox, to hand on.
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let probe = pyact::testing::Probe::new(&node);
    /// probe.addr().send(1).unwrap();
    /// let mut inbox: pyact::Mailbox = probe.into_inner(); // same mailbox, same messages
    /// assert_eq!(inbox.try_receive(), Some(1.into()));
    /// ```
    pub fn into_inner(self) -> Mailbox {
        self.inbox
    }

    /// Wait at most `timeout` for a message matching `pattern` (selective receive: other
    /// messages keep their place) and return it.
    ///
    /// # Panics
    /// If none arrives in time, with the pattern and the messages that arrived instead.
    ///
    /// ```
    /// # use pyact::{Mesh, Node, pattern};
    /// # use std::time::Duration;
    /// # let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut probe = pyact::testing::Probe::new(&node);
    /// probe.addr().send("other").unwrap();
    /// probe.addr().send(7).unwrap();
    /// assert_eq!(probe.expect_msg(&pattern!(int), Duration::from_secs(30)), 7);
    /// assert_eq!(probe.expect_msg(&pattern!(_), Duration::from_secs(30)), "other");
    /// ```
    #[track_caller]
    pub fn expect_msg(&mut self, pattern: &Pattern, timeout: Duration) -> Value {
        match self.inbox.receive_match_timeout(&[pattern], timeout) {
            Ok((_, msg)) => msg,
            Err(_) => self.fail(&format!(
                "no message matching {pattern:?} within {timeout:?}"
            )),
        }
    }

    /// Check that no message at all arrives within `timeout` (one already waiting counts):
    /// waits the whole `timeout` when the check passes.
    ///
    /// # Panics
    /// If a message arrives, with that message.
    ///
    /// ```should_panic
    /// # use pyact::{Mesh, Node};
    /// # use std::time::Duration;
    /// # let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut probe = pyact::testing::Probe::new(&node);
    /// probe.addr().send("surprise").unwrap();
    /// probe.expect_no_msg(Duration::from_millis(10)); // panics: it got "surprise"
    /// ```
    #[track_caller]
    pub fn expect_no_msg(&mut self, timeout: Duration) {
        if let Ok(msg) = self.inbox.receive_timeout(timeout) {
            panic!("expected no message within {timeout:?}, got {msg}");
        }
    }

    /// Wait at most `timeout` for the DOWN of monitor `reference` (see
    /// [`Mailbox::monitor`]) and return it decoded.
    ///
    /// # Panics
    /// As [`expect_msg`](Self::expect_msg).
    ///
    /// ```
    /// use pyact::ExitReason;
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut probe = pyact::testing::Probe::new(&node);
    /// let a = node.spawn(|mut mb| loop { mb.receive(); });
    /// let r = probe.monitor(&a);
    /// a.kill().unwrap();
    /// assert_eq!(probe.expect_down(r, Duration::from_secs(30)).reason, ExitReason::Killed);
    /// ```
    #[track_caller]
    pub fn expect_down(&mut self, reference: Ref, timeout: Duration) -> Down {
        let msg = self.expect_msg(&crate::pattern!({"down": = reference}), timeout);
        Down::try_from(&msg).unwrap_or_else(|e| panic!("malformed DOWN {msg}: {e}"))
    }

    /// Wait at most `timeout` for the trapped exit signal from `from` (a probe traps exits:
    /// link it with [`Mailbox::link`]) and return it decoded.
    ///
    /// # Panics
    /// As [`expect_msg`](Self::expect_msg).
    ///
    /// ```
    /// # use pyact::{Mesh, Node, ExitReason};
    /// # use std::time::Duration;
    /// # let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut probe = pyact::testing::Probe::new(&node);
    /// let child = node.spawn_link(&probe.addr(), |_| Err::<(), _>("no")).unwrap();
    /// let exit = probe.expect_exit(&child, Duration::from_secs(30));
    /// assert_eq!(exit.reason, ExitReason::Failed("no".into()));
    /// ```
    #[track_caller]
    pub fn expect_exit(&mut self, from: &Address, timeout: Duration) -> Exit {
        let msg = self.expect_msg(&crate::pattern!({"address": = from, "exit": _}), timeout);
        Exit::try_from(&msg).unwrap_or_else(|e| panic!("malformed exit message {msg}: {e}"))
    }

    /// Panic with `what` and the messages in the mailbox (taken out).
    #[track_caller]
    fn fail(&mut self, what: &str) -> ! {
        let mut got = Vec::new();
        let mut more = 0usize;
        // Bounded: an actor that keeps sending must not keep the failure from reporting.
        while got.len() + more < DRAINED
            && let Some(m) = self.inbox.try_receive()
        {
            if got.len() < SHOWN {
                got.push(m.to_string());
            } else {
                more += 1;
            }
        }
        if got.is_empty() {
            panic!("{what}; nothing else arrived");
        }
        let tail = match more {
            0 => String::new(),
            n => format!("\n  ... and {n} more"),
        };
        panic!(
            "{what}; arrived instead ({}):\n  {}{tail}",
            got.len() + more,
            got.join("\n  ")
        );
    }
}

impl From<Mailbox> for Probe {
    /// Wrap any mailbox (an actor's own, too) in a probe. An actor's mailbox traps exits
    /// only after [`Mailbox::trap_exit`].
    fn from(inbox: Mailbox) -> Probe {
        Probe { inbox }
    }
}

impl Deref for Probe {
    type Target = Mailbox;
    fn deref(&self) -> &Mailbox {
        &self.inbox
    }
}

impl DerefMut for Probe {
    fn deref_mut(&mut self) -> &mut Mailbox {
        &mut self.inbox
    }
}
