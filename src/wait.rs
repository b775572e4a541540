//! Waiting for an actor's end from its address: [`Address::wait`] and
//! [`Address::wait_timeout`], usable from actors and plain threads alike.
//!
//! Both run on the *caller's node*, chosen as for a send or a call: the current actor's (or
//! the thread's inbox's) node, else the process's node the target lives on, else the
//! process's oldest node. A process with no node at all cannot reach any actor: the wait
//! returns [`ExitReason::NoConnection`] at once.
//!
//! [`Address::wait`] is [`Node::wait`] on that node. [`Address::wait_timeout`] watches the
//! target with a monitor from a throwaway mailbox and takes the exit reason from its DOWN;
//! for an actor that already ended (the monitor says `noproc`) it asks the target's node for
//! the recorded result, so a late timed wait gets the same answer as a late plain wait.

use std::time::Duration;

use serde_json::Value;

use crate::mailbox::Timeout;
use crate::{Address, ExitReason, Node, pattern};

/// The node a wait, call or ask from here on `target` runs on (see the module docs).
pub(crate) fn caller_node(target: &Address) -> Option<Node> {
    crate::actor::current_node()
        .or_else(|| crate::node::home_node(target))
        .or_else(crate::node::any_local_node)
}

impl Address {
    /// Block until this actor ends and return its result: `Ok(value)` if its function
    /// returned normally, else its [`ExitReason`]. Works on local and remote actors, from an
    /// actor or a plain thread, and after the actor ended (its recorded result).
    ///
    /// ```
    /// use pyact::{ExitReason, Mesh, Node};
    /// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let a = node.spawn(|_| 6 * 7);
    /// assert_eq!(a.wait().unwrap(), 42); // from this thread
    /// let b = node.spawn(|_| -> () { panic!("no") });
    /// let watcher = node.spawn(move |_| b.wait()); // from an actor
    /// assert_eq!(watcher.wait(), Err(ExitReason::Failed("actor panicked: no".into())));
    /// ```
    pub fn wait(&self) -> Result<Value, ExitReason> {
        match caller_node(self) {
            Some(node) => node.wait(self),
            None => Err(ExitReason::NoConnection),
        }
    }

    /// Like [`Address::wait`], but gives up after `timeout`: `Err(Timeout)` if the actor is
    /// still running then (it keeps running), else `Ok` of what `wait` would return.
    ///
    /// ```
    /// use pyact::{Mesh, Node};
    /// use pyact::mailbox::Timeout;
    /// use std::time::Duration;
    /// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let sleeper = node.spawn(|mut mb| mb.receive());
    /// assert_eq!(sleeper.wait_timeout(Duration::from_millis(10)), Err(Timeout));
    /// sleeper.send("wake up").unwrap();
    /// assert_eq!(sleeper.wait_timeout(Duration::from_secs(60)).unwrap().unwrap(), "wake up");
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Result<Value, ExitReason>, Timeout> {
        let Some(node) = caller_node(self) else {
            return Ok(Err(ExitReason::NoConnection));
        };
        let mut mb = node.ephemeral();
        let mref = mb.monitor(self);
        let down = pattern!({"down": = mref});
        let msg = match mb.receive_match_timeout(&[&down], timeout) {
            Ok((_, msg)) => msg,
            Err(Timeout) => {
                mb.demonitor(mref);
                return Err(Timeout);
            }
        };
        let reason = serde_json::from_value::<ExitReason>(msg["exit"].clone())
            .unwrap_or(ExitReason::NoSuchActor);
        Ok(match reason {
            // Ended before the monitor was placed: its node may still have the result.
            ExitReason::NoSuchActor => node.wait(self),
            r => r.into_result(),
        })
    }
}
