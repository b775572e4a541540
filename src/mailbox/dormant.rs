//! Dormant actors: an actor spawned with
//! [`SpawnOptions::start_on_message`](crate::SpawnOptions::start_on_message) has no coroutine
//! until its first envelope arrives; its job (the function, its node, its live-actor slot)
//! waits in its own mail queue, and the sender that wakes it starts it.
//!
//! Separate from the queue and the waiting because it is the one way an actor's *start*
//! depends on its mail. How it works: the job is put in the queue's rare part and the
//! `WAIT_JOB` bit is set in the `wake` word before the actor's address exists anywhere
//! but in its spawner's hands (and a parent's link: a push that came first starts the job
//! at once, see `hold_until_first`). Every push (a message, a signal, a deadly signal put aside,
//! from an actor, a thread or a connection's reader) ends in the same read-modify-write of
//! `wake`; the one that finds a waiting bit clears all of them and, finding `WAIT_JOB`
//! among them, takes the job out and hands it to the pool (`pool::start_woken`): an idle
//! runner, or the pool's queue, whose runners are on their way (a failed coroutine start
//! leaves it queued and retried, never lost). Exactly one push clears the bit, so the job
//! starts once. The send itself pays nothing more: a mailbox whose owner runs never has
//! the bit.
//!
//! Why: an actor costs a stack page, its coroutine's records and a page-table share the
//! moment it runs (2.5-3.3 us of kernel time on a fresh stack, BENCHMARKS-HISTORY.md), and
//! an actor that starts by waiting for a message (a server, a forwarder in a ring) pays it
//! only to park. A dormant one costs its cell and mailbox until there is work, and then
//! starts on a runner that is warm.
//!
//! The semantics (the queued actor's, see `pool`, "Spawned before it has a coroutine"):
//! - the function runs when the first envelope arrives, and its first receive gets that
//!   envelope (nothing is taken out on its behalf): a message; a monitor's DOWN; an exit
//!   signal, which the actor, not trapping exits before its function runs, drops if normal;
//! - a kill, or an abnormal exit signal (a linked actor's crash), ends it without running
//!   the function (its exit reason is the signal's), as for any actor killed before it
//!   starts; so does the node's shutdown ([`ExitReason::Killed`](crate::ExitReason::Killed));
//! - it exists from the spawn on: sends, links, monitors, names and `wait` work on it, and
//!   it holds a live-actor slot ([`Config::max_actors`](crate::config::Config::max_actors));
//! - [`Node::info`](crate::Node::info) says
//!   [`Status::Dormant`](crate::observe::Status::Dormant) until it is woken.

use std::sync::atomic::Ordering;

use super::MailQueue;
use super::wait::{PUSHED, WAIT_JOB};
use crate::actor::ActorJob;
use crate::observe::Status;

impl MailQueue {
    /// Keep `job` here until the next envelope arrives (see the module docs), the actor
    /// shown as `status` meanwhile: [`Status::Dormant`] for a spawn, before the actor's
    /// address is handed out, [`Status::Hibernating`] for an actor that hibernates (see
    /// `hibernate.rs`), with the address out. Either way pushes can come first (a linked
    /// spawn links its parent first, whose crash can send an exit signal right away): an
    /// envelope not yet popped (or a deadly signal) starts the job at once.
    pub(crate) fn hold_until_first(&self, job: ActorJob, status: Status) {
        self.rare().get_or_insert_default().job = Some(job);
        self.set_status(status);
        // After the job is in place: the push that sees the bit finds it.
        let before = self.wake.fetch_or(WAIT_JOB, Ordering::AcqRel);
        // A push counts itself (and a deadly one raises `doomed` first) with a
        // read-modify-write of `wake`: one before ours shows here, one after sees the bit.
        // `popped` is the consumer's own count (the caller is the consumer, or there is
        // none yet: 0), so the difference is exactly the envelopes it has not taken.
        if before / PUSHED > self.popped.load(Ordering::Relaxed) || self.is_doomed() {
            self.wake_consumer();
        }
    }

    /// The push that cleared `WAIT_JOB`: start the held job. Only that push gets here, so
    /// the job is there (a queue whose job was never set has no such bit).
    #[cold]
    pub(super) fn start_held(&self) {
        let job = self.rare().as_mut().and_then(|r| r.job.take());
        match job {
            Some(job) => crate::pool::start_woken(job),
            None => log::error!("a dormant actor's mailbox was woken without its job"),
        }
    }

    /// Is the owner still waiting for its first envelope? (for tests)
    #[cfg(test)]
    pub(crate) fn is_dormant(&self) -> bool {
        self.wake.load(Ordering::Acquire) & WAIT_JOB != 0
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::actor::ActorCell;
    use crate::mailbox::{Envelope, Signal};
    use crate::{Address, ExitReason, Mailbox, Mesh, Node, Value};

    type Body = fn(Mailbox) -> Value;

    fn first(mut mb: Mailbox) -> Value {
        mb.receive()
    }

    /// A dormant actor running `f`, whose cell got `early` (if any) before the job was held,
    /// as through a link made before the spawn; and its node, which the caller must keep
    /// (an address whose node is gone cannot be waited for).
    fn dormant(early: Option<Envelope>, f: Body) -> (Node, Arc<ActorCell>, Address) {
        let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
        let cell = node.new_cell(false, Some(std::any::type_name::<Body>));
        if let Some(e) = early {
            assert!(cell.queue.push(e).is_ok());
        }
        let a = crate::actor::start(&node, cell.clone(), f, None, true).unwrap();
        (node, cell, a)
    }

    /// The actor's end, within a deadline (its node must still be alive: see `dormant`).
    fn wait(_alive: &Node, a: &Address) -> Result<Value, ExitReason> {
        a.wait_timeout(Duration::from_secs(60))
            .expect("the actor ends in time")
    }

    /// A linked spawn links the parent before the job is held, so an envelope can reach
    /// the cell (through the address's pointer to it) first: holding the job then starts it
    /// at once instead of leaving it dormant beside its mail.
    #[test]
    fn an_envelope_that_came_before_the_job_starts_it() {
        let (node, cell, a) = dormant(Some(Envelope::Msg("early".into())), first);
        assert!(!cell.queue.is_dormant());
        assert_eq!(wait(&node, &a).unwrap(), "early");
    }

    /// The same for a kill: the actor ends at once, its function unrun (had it run, its
    /// panic would be the exit reason).
    #[test]
    fn a_kill_that_came_before_the_job_ends_it() {
        fn never(_: Mailbox) -> Value {
            panic!("a killed dormant actor ran")
        }
        let (node, _, a) = dormant(Some(Envelope::Signal(Box::new(Signal::Kill))), never);
        assert_eq!(wait(&node, &a), Err(ExitReason::Killed));
    }

    /// Without mail, the job waits; the first send starts it.
    #[test]
    fn without_mail_it_stays_dormant() {
        let (node, cell, a) = dormant(None, first);
        assert!(cell.queue.is_dormant());
        a.send("late").unwrap();
        assert!(!cell.queue.is_dormant());
        assert_eq!(wait(&node, &a).unwrap(), "late");
    }
}
