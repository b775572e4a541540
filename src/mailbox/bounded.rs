//! The bound: a mailbox with a
//! [`mailbox_limit`](crate::SpawnOptions::mailbox_limit) counts its user messages, refuses
//! a push beyond the limit, and queues the pushers that wait for room.
//!
//! Separate from the queue because an unbounded mailbox (the default) never touches any of
//! it: the bound is its own small protocol (reserve before queueing, free on receive, wake
//! the oldest waiter in turn).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use may::sync::Blocker;

use super::{Envelope, MailQueue};
use crate::Address;

/// One pusher queued for room in a bounded mailbox (see [`MailQueue::push_waiting`]).
pub(super) struct RoomWaiter {
    /// Tells this waiter's entry from the others (unique per queue).
    pub(super) ticket: u64,
    pub(super) blocker: Arc<Blocker>,
    /// Woken for a free place and not yet back: the next free place goes to the next one.
    pub(super) signalled: bool,
}

/// Unique tickets for [`RoomWaiter`]s.
static ROOM_TICKET: AtomicU64 = AtomicU64::new(1);

impl MailQueue {
    /// Bound the number of queued user messages (before the owner starts receiving).
    pub(crate) fn set_limit(&self, n: usize) {
        self.limit.store(n, Ordering::Relaxed);
    }

    /// The error for a refused push: the mailbox is closed (dead actor) or full.
    pub(crate) fn refusal(&self, addr: &Address) -> crate::SendError {
        if self.closed.load(Ordering::Acquire) {
            crate::SendError::DeadActor(addr.clone())
        } else {
            crate::SendError::MailboxFull(addr.clone())
        }
    }

    /// Count a user message out of a bounded queue.
    #[inline]
    pub(super) fn taken(&self, e: Envelope) -> Envelope {
        if matches!(e, Envelope::Msg(_) | Envelope::Payload(_))
            && self.limit.load(Ordering::Relaxed) != usize::MAX
        {
            // SeqCst here and in `push_waiting`: either the waiter's re-check sees this
            // decrement, or this load sees it queued.
            self.len.fetch_sub(1, Ordering::SeqCst);
            if self.room_waiters.load(Ordering::SeqCst) > 0 {
                self.signal_room();
            }
        }
        e
    }

    /// A place is free: wake the oldest waiting pusher that is not already woken for one.
    /// (Its blocker is cloned under the lock and woken, and the clone dropped, after it:
    /// see `remote::connection::Outbox` for why no blocker is dropped under a lock.)
    fn signal_room(&self) {
        let next = {
            let mut rare = self.rare();
            rare.as_mut().and_then(|r| {
                r.room.iter_mut().find(|w| !w.signalled).map(|w| {
                    w.signalled = true;
                    w.blocker.clone()
                })
            })
        };
        if let Some(b) = next {
            b.unpark();
        }
    }

    /// Push a user message into a bounded mailbox, waiting up to `timeout` for room (for a
    /// connection's reader: see `SpawnOptions`). Fails at once if the mailbox is closed.
    ///
    /// Waiters are served in arrival order: a pusher that finds the mailbox full, or finds
    /// others already waiting, joins the back of the `room` queue; each place the consumer
    /// frees wakes the oldest waiter not yet woken (`signal_room`). A woken waiter that
    /// still finds no room (a plain [`push`](Self::push) took the place) keeps its place
    /// in the queue and waits for the next one; one that gives up after being woken passes
    /// the wake-up on, so a free place is never left with waiters asleep. `Ok(true)`: it had
    /// to wait.
    pub(crate) fn push_waiting(
        &self,
        mut env: Envelope,
        timeout: Duration,
    ) -> Result<bool, Envelope> {
        // The fast path: room, and nobody waiting ahead.
        if self.room_waiters.load(Ordering::SeqCst) == 0 {
            env = match self.push(env) {
                Ok(()) => return Ok(false),
                Err(e) => e,
            };
        }
        if self.closed.load(Ordering::Acquire) || timeout.is_zero() {
            return Err(env);
        }
        let deadline = Instant::now() + timeout;
        let ticket = ROOM_TICKET.fetch_add(1, Ordering::Relaxed);
        let me = Blocker::current();
        {
            let mut rare = self.rare();
            let q = &mut rare.get_or_insert_default().room;
            q.push_back(RoomWaiter {
                ticket,
                blocker: me.clone(),
                signalled: false,
            });
            // SeqCst, as in `taken`: either the consumer sees this waiter, or the re-check
            // below sees its decrement.
            self.room_waiters.store(q.len() as u32, Ordering::SeqCst);
        }
        let result = loop {
            // Room now? Then the oldest waiter is owed a wake-up (the consumer may have
            // freed this place before it could see anyone queued).
            if self.len.load(Ordering::SeqCst) < self.limit.load(Ordering::Relaxed) {
                self.signal_room();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.closed.load(Ordering::Acquire) {
                break Err(env);
            }
            // `may`'s timer counts whole milliseconds; round up, the loop re-checks.
            let _ = me.park(Some(Duration::from_millis(
                left.as_millis().clamp(1, u64::MAX as u128) as u64,
            )));
            // Woken for a place (or at the deadline, when a last try is still fair).
            let signalled = self.with_entry(ticket, |w| std::mem::replace(&mut w.signalled, false));
            if signalled || Instant::now() >= deadline {
                env = match self.push(env) {
                    Ok(()) => break Ok(true),
                    Err(e) => e,
                };
            }
        };
        // Leave the queue; a wake-up this waiter received and did not use goes on.
        let (entry, left_behind) = {
            let mut rare = self.rare();
            let q = &mut rare.get_or_insert_default().room;
            let entry = q
                .iter()
                .position(|w| w.ticket == ticket)
                .and_then(|i| q.remove(i));
            self.room_waiters.store(q.len() as u32, Ordering::SeqCst);
            (entry, !q.is_empty())
        };
        let owed = entry.as_ref().is_some_and(|w| w.signalled) || result.is_err();
        drop(entry);
        if left_behind
            && owed
            && self.len.load(Ordering::SeqCst) < self.limit.load(Ordering::Relaxed)
        {
            self.signal_room();
        }
        result
    }

    /// Apply `f` to waiter `ticket`'s entry in the room queue (`false` if it is not there).
    fn with_entry(&self, ticket: u64, f: impl FnOnce(&mut RoomWaiter) -> bool) -> bool {
        let mut rare = self.rare();
        rare.as_mut()
            .and_then(|r| r.room.iter_mut().find(|w| w.ticket == ticket))
            .is_some_and(f)
    }
}

#[cfg(test)]
mod room {
    use super::*;
    use crate::mailbox::wait::Popped;
    use serde_json::json;
    use std::sync::mpsc;

    /// Several pushers (plain threads and coroutines) waiting on one bounded mailbox whose
    /// consumer is slow: every waiter is woken in turn, so none gives up while the consumer
    /// keeps draining, and each pusher's messages arrive in its order. (With a single
    /// waiter slot, a second waiter overwrote the first one's wake-up, which then slept
    /// until its deadline and dropped its message.)
    #[test]
    fn every_waiting_pusher_is_woken_in_turn_and_none_drops() {
        const PUSHERS: usize = 8;
        const EACH: usize = 150;
        let q = Arc::new(MailQueue::new(true, false));
        q.set_limit(2);
        let (done_tx, done_rx) = mpsc::channel::<(usize, usize)>();
        for p in 0..PUSHERS {
            let (q, done) = (q.clone(), done_tx.clone());
            let work = move || {
                let mut failed = 0;
                for i in 0..EACH {
                    // Far longer than the consumer needs to serve every pusher once.
                    let env = Envelope::Msg(json!([p, i]));
                    if q.push_waiting(env, Duration::from_secs(20)).is_err() {
                        failed += 1;
                    }
                }
                let _ = done.send((p, failed));
            };
            if p % 2 == 0 {
                std::thread::spawn(work);
            } else {
                crate::actor::go(work).expect("a coroutine");
            }
        }
        drop(done_tx);
        // The consumer: one message about every millisecond.
        let mut next = [0usize; PUSHERS];
        let deadline = Instant::now() + Duration::from_secs(60);
        for _ in 0..PUSHERS * EACH {
            std::thread::sleep(Duration::from_millis(1));
            let Popped::Env(Envelope::Msg(v)) = q.pop_wait(Some(deadline), None) else {
                panic!("a message before the deadline (got {next:?} so far)");
            };
            let (p, i) = (
                v[0].as_u64().unwrap() as usize,
                v[1].as_u64().unwrap() as usize,
            );
            assert_eq!(i, next[p], "pusher {p}'s messages in order");
            next[p] += 1;
        }
        for _ in 0..PUSHERS {
            let (p, failed) = done_rx
                .recv_timeout(Duration::from_secs(30))
                .expect("every pusher ends");
            assert_eq!(failed, 0, "pusher {p} gave up on {failed} messages");
        }
        assert_eq!(q.room_waiters.load(Ordering::SeqCst), 0);
        assert!(q.rare().as_ref().is_none_or(|r| r.room.is_empty()));
    }

    /// A waiter that gives up (its deadline passes) leaves the queue, and the next waiter
    /// still gets the next free place.
    #[test]
    fn a_waiter_that_gives_up_leaves_the_queue() {
        let q = Arc::new(MailQueue::new(true, false));
        q.set_limit(1);
        q.push(Envelope::Msg(json!(0))).unwrap();
        // Times out: nobody drains.
        assert!(
            q.push_waiting(Envelope::Msg(json!(1)), Duration::from_millis(20))
                .is_err()
        );
        assert_eq!(q.room_waiters.load(Ordering::SeqCst), 0);
        let (tx, rx) = mpsc::channel();
        let q2 = q.clone();
        std::thread::spawn(move || {
            let _ = tx.send(
                q2.push_waiting(Envelope::Msg(json!(2)), Duration::from_secs(20))
                    .is_ok(),
            );
        });
        // Once the second waiter is queued, free the place.
        let until = Instant::now() + Duration::from_secs(20);
        while q.room_waiters.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < until, "the waiter queues");
            std::thread::yield_now();
        }
        let Popped::Env(Envelope::Msg(v)) = q.pop_wait(Some(until), None) else {
            panic!("the first message");
        };
        assert_eq!(v, json!(0));
        assert!(
            rx.recv_timeout(Duration::from_secs(20))
                .expect("the waiter ends")
        );
        let Popped::Env(Envelope::Msg(v)) = q.pop_wait(Some(until), None) else {
            panic!("the waiter's message");
        };
        assert_eq!(v, json!(2));
    }
}
