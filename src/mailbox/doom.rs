//! Deadly signals: a kill, or an abnormal exit signal to an actor that does not trap exits,
//! skips the queue and ends the actor at its next pyact call (see [`MailQueue`]).
//!
//! Separate from the queue because it is the one way around it: these signals must act
//! when they arrive, not when the actor gets round to reading.

use std::sync::atomic::Ordering;

use super::wait::WAITING;
use super::{Envelope, MailQueue, Signal};
use crate::Address;

impl MailQueue {
    pub(super) fn is_deadly(&self, sig: &Signal) -> bool {
        self.killable
            && match sig {
                Signal::Kill => true,
                Signal::Exit { reason, .. } => {
                    !reason.is_normal() && !self.trapping.load(Ordering::Acquire)
                }
                Signal::Down { .. } => false,
            }
    }

    #[cold]
    pub(super) fn push_doom(&self, env: Envelope) -> Result<(), Envelope> {
        let Envelope::Signal(sig) = env else {
            unreachable!("only signals are deadly")
        };
        {
            let mut rare = self.rare();
            rare.get_or_insert_default().doom.push(*sig);
            self.doomed.store(true, Ordering::Release);
        }
        // A read-modify-write of `wake` after raising `doomed`: either it sees the
        // consumer's waiting bit, or the consumer's `fetch_or` comes later and its check
        // of `doomed` sees the flag (see `WAIT_CO`).
        if self.wake.fetch_add(0, Ordering::AcqRel) & WAITING != 0 {
            self.wake_consumer();
        }
        if let Some(w) = self.alarm_wake.take() {
            w.unpark();
        }
        Ok(())
    }

    /// Is a deadly signal pending?
    #[inline]
    pub(crate) fn is_doomed(&self) -> bool {
        self.doomed.load(Ordering::Acquire)
    }

    /// Take every pending deadly signal, oldest first.
    pub(crate) fn take_doom(&self) -> Vec<Signal> {
        if !self.is_doomed() {
            return Vec::new();
        }
        let mut rare = self.rare();
        self.doomed.store(false, Ordering::Release);
        rare.as_mut()
            .map(|r| std::mem::take(&mut r.doom))
            .unwrap_or_default()
    }

    /// `unlink`: forget a pending exit signal that came through the link with `from`.
    pub(crate) fn cancel_linked_doom(&self, from: &Address) {
        let mut rare = self.rare();
        if let Some(d) = rare.as_mut().map(|r| &mut r.doom) {
            d.retain(|s| !matches!(s, Signal::Exit { from: f, linked: true, .. } if f == from));
        }
        if rare.as_ref().is_none_or(|r| r.doom.is_empty()) {
            self.doomed.store(false, Ordering::Release);
        }
    }
}
