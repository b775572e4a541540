//! Hibernation: an actor gives its coroutine back while it waits for its next message, as
//! Erlang's `erlang:hibernate/3` does.
//!
//! Why: an actor parked in `receive` keeps its coroutine, and with it a stack page and the
//! coroutine's records (5.45 KiB an idle actor, BENCHMARKS.md), for as long as it waits.
//! A program with many long-idle actors (a session per user, a timer per order) pays that
//! for nothing; a hibernated actor costs about what a dormant one does (its cell, its
//! mailbox and the function it resumes with), and its next message starts it on a warm
//! coroutine.
//!
//! The semantics ([`Mailbox::hibernate`] documents them for users):
//! - `mb.hibernate(f)` does not return. The actor's stack is unwound (its values dropped,
//!   as by a panic: what `f` owns is kept), its coroutine goes back to the pool, and the
//!   actor waits without one, as a dormant actor does (`dormant.rs`). The next envelope
//!   (a message, a signal, a monitor's DOWN) starts `f(mb)` on a coroutine, with the same
//!   mailbox: messages saved by selective receive, `trap_exit`, monitors.
//! - If a message is already waiting (in the queue or saved by a selective receive), `f`
//!   starts at once, on a fresh activation: a loop that hibernates every round does not
//!   grow a stack.
//! - The actor lives on the whole time: its address, registered name, links, monitors and
//!   live-actor slot stay, `wait` goes on waiting, and [`Node::info`](crate::Node::info)
//!   says [`Status::Hibernating`](crate::observe::Status::Hibernating).
//! - A kill, or an abnormal exit signal it does not trap, ends it without running `f` (the
//!   signal's reason is its exit reason), as for a dormant actor. A trapped exit signal
//!   wakes it and `f`'s receive gets it; a normal one it does not trap wakes it and is
//!   dropped by that receive.
//! - What `f` returns is the actor's exit reason, as for the function it was spawned with.
//!
//! How: `hibernate` unwinds the coroutine with a [`Hibernation`] payload holding `f` and
//! the mailbox; `actor::run` catches it at the bottom of the stack, where nothing of the
//! actor's activation is left, and puts a new job (same cell, slot and node; the
//! continuation as its function) in the mail queue with `MailQueue::hold_until_first`, the
//! dormant actor's path: the push that finds the bit starts it. The mailbox's coroutine
//! blocker is not tied to a coroutine (`may` records the coroutine that parks on it at
//! each park), so the next coroutine parks on it as the last one did.

use super::Mailbox;
use crate::exit::{ExitReason, IntoExit};
use std::sync::Arc;

/// The payload `hibernate` unwinds the actor's coroutine with: the function the actor
/// resumes with (the mailbox inside), and whether a message is already waiting for it.
pub(crate) struct Hibernation {
    pub(crate) resume: Box<dyn FnOnce(Mailbox) -> ExitReason + Send>,
    pub(crate) ready: bool,
}

impl Mailbox {
    /// Give the actor's coroutine (its stack and records) back until the next message, then
    /// go on with `f(mailbox)`: Erlang's `erlang:hibernate/3`. Never returns.
    ///
    /// Everything on the actor's stack is dropped now (as when a panic unwinds it); keep
    /// what the actor needs in `f`. Its address, name, links, monitors and everything in
    /// the mailbox (saved messages, [`trap_exit`](Mailbox::trap_exit), monitors) stay. If a
    /// message is already waiting, `f` runs at once, on a fresh stack. What `f` returns is
    /// the actor's result. While it hibernates, [`Node::info`](crate::Node::info) says
    /// [`Status::Hibernating`](crate::observe::Status::Hibernating), and a kill (or an
    /// abnormal exit signal it does not trap) ends it without running `f`.
    ///
    /// Cost: a hibernated actor holds about 1 KiB (one parked in `receive`, 5.45 KiB);
    /// waking one costs about a spawn. Worth it for actors idle for long, not between the
    /// messages of a busy one.
    ///
    /// ```
    /// use pyact::{Mailbox, Mesh, Node, Value, json};
    /// use pyact::observe::Status;
    ///
    /// // A counter that hibernates between messages: its state travels in the closure.
    /// fn counter(mut mb: Mailbox, total: i64) -> Value {
    ///     let m = mb.receive();
    ///     match m.as_i64() {
    ///         Some(n) => mb.hibernate(move |mb| counter(mb, total + n)),
    ///         None => json!(total), // any other message ends it with the total
    ///     }
    /// }
    ///
    /// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let c = node.spawn(|mb| counter(mb, 0));
    /// for n in [1, 2, 3] {
    ///     c.send(n).unwrap();
    /// }
    /// c.send("stop").unwrap();
    /// assert_eq!(node.wait(&c).unwrap(), 6);
    /// ```
    ///
    /// # Panics
    /// On a thread's inbox ([`Node::inbox`](crate::Node::inbox): a thread cannot give its
    /// stack away), or outside the actor this mailbox belongs to. It unwinds the actor's
    /// stack like a panic does, so it needs `panic = "unwind"` (as exit signals do), and a
    /// `catch_unwind` of the actor's own between the call and its function would stop it.
    pub fn hibernate<F, R>(self, f: F) -> !
    where
        F: FnOnce(Mailbox) -> R + Send + 'static,
        R: IntoExit,
    {
        assert!(
            !self.inbox,
            "Mailbox::hibernate: a thread's inbox cannot hibernate (only an actor can)"
        );
        // A pending kill ends the actor here, as at any pyact call.
        let mine = crate::context::checkpoint_and(|c| {
            c.actor
                .as_ref()
                .is_some_and(|(_, cell)| Arc::ptr_eq(cell, &self.cell))
        });
        assert!(
            mine,
            "Mailbox::hibernate called outside the actor this mailbox belongs to"
        );
        let ready = !self.saved.is_empty() || self.cell.queue.has_unread();
        log::debug!("{} hibernates", self.addr());
        std::panic::resume_unwind(Box::new(Hibernation {
            resume: Box::new(move |_fresh: Mailbox| f(self).into_exit()),
            ready,
        }))
    }
}
