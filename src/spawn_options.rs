//! [`SpawnOptions`]: per-actor settings chosen at spawn time ([`Node::spawn_opts`]).
//!
//! The policy of a bounded mailbox is written on [`SpawnOptions`].

use crate::{Address, IntoExit, Mailbox, Node, SpawnError};

/// Options for [`Node::spawn_opts`].
///
/// **Mailbox bound.** An actor's mailbox is unbounded by default, as in Erlang: a sender
/// never waits and never loses a message to a live actor, and an actor that falls behind
/// grows its queue. With [`SpawnOptions::mailbox_limit`] the actor holds at most that many
/// unread user messages; the policy past it is:
/// - a send from this process (actor or thread) fails at once with
///   [`SendError::MailboxFull`](crate::SendError::MailboxFull) and queues nothing (it does not
///   wait: two bounded actors sending to each other could otherwise wait forever);
/// - a message arriving from another node makes that connection's reader wait for room, at
///   most [`NodeOptions::mailbox_wait`](crate::NodeOptions::mailbox_wait) (default 100 ms),
///   then it is dropped, logged (rate-limited) and counted
///   ([`NetStats::mailbox_full_drops`](crate::remote::NetStats::mailbox_full_drops)). Readers of
///   several connections waiting on one mailbox queue in arrival order, and each place the
///   actor frees goes to the one that waited longest, so none is starved while the actor
///   keeps reading. While a reader waits it reads nothing else from that peer, so a flood
///   is pushed back through TCP to the sending node, whose outbound queue fills and whose
///   senders get [`SendError::Overloaded`](crate::SendError::Overloaded) (and may send
///   again): backpressure end to end, at the price of a short head-of-line stall for that
///   one peer's other messages. The connection stays: the waiting reader reports its
///   progress to the sending node, whose write timeout counts only time without any.
///
/// Erlang has no mailbox bound and no such backpressure between processes (its
/// distribution only suspends a sender whose connection's buffer is full); the bound is
/// pyact's opt-in for actors that must not grow without limit.
///
/// Exit signals, kills and DOWN messages are never refused: they are how an actor learns
/// that it must stop, and they are few.
///
/// ```
/// use pyact::{Mesh, Node, SendError, SpawnOptions, json};
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// // An actor that reads nothing until `gate` ends.
/// let gate = node.spawn(|mut mb| { mb.receive(); });
/// let g = gate.clone();
/// let slow = node
///     .spawn_opts(SpawnOptions::new().mailbox_limit(2), move |mut mb| {
///         let _ = pyact::actor::current_node().unwrap().wait(&g);
///         json!([mb.receive(), mb.receive()])
///     })
///     .unwrap();
/// slow.send(1).unwrap();
/// slow.send(2).unwrap();
/// assert!(matches!(slow.send(3), Err(SendError::MailboxFull(_))));
/// gate.send("open").unwrap();
/// assert_eq!(node.wait(&slow).unwrap(), json!([1, 2]));
/// ```
#[derive(Debug, Clone, Default)]
pub struct SpawnOptions {
    pub(crate) mailbox_limit: Option<usize>,
    pub(crate) start_on_message: bool,
}

impl SpawnOptions {
    /// Default options: an unbounded mailbox.
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let a = node.spawn_opts(pyact::SpawnOptions::new(), |_| "as node.spawn").unwrap();
    /// assert_eq!(node.wait(&a).unwrap(), "as node.spawn");
    /// ```
    pub fn new() -> Self {
        SpawnOptions::default()
    }

    /// Hold at most `n` unread user messages (see [`SpawnOptions`] for the policy).
    ///
    /// ```
    /// use pyact::{SendError, SpawnOptions};
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let a = node.spawn_opts(SpawnOptions::new().mailbox_limit(1), |_| loop { pyact::actor::sleep(std::time::Duration::from_secs(60)) }).unwrap();
    /// a.send(1).unwrap();
    /// assert!(matches!(a.send(2), Err(SendError::MailboxFull(_))));
    /// a.kill().unwrap(); // a kill is never refused
    /// ```
    pub fn mailbox_limit(mut self, n: usize) -> Self {
        self.mailbox_limit = Some(n);
        self
    }

    /// Start the actor's function only when its first message (or signal) arrives: until
    /// then the actor has no coroutine, no stack and no worker time, only its address and
    /// mailbox (0.86 KiB resident where an actor parked in `receive` takes 5.45 KiB).
    ///
    /// For actors whose function begins by waiting for a message: a server, a worker fed
    /// by a router, a forwarder in a ring. An actor spawned this way exists from the
    /// spawn on (sends, links, monitors, names and `wait` work on it, and it holds a
    /// live-actor slot) and is [`Status::Dormant`](crate::observe::Status::Dormant) until
    /// woken. What differs from a plain spawn:
    /// - code before its first receive runs only when something arrives (an actor that
    ///   never gets a message never runs; a plain spawn runs at once, as in Erlang);
    /// - its first receive gets the envelope that woke it (nothing is taken out for it);
    /// - it does not trap exits before its function runs: a kill, or an abnormal exit
    ///   signal from a link, ends it without running the function (as for any actor killed
    ///   before it starts), and [`Node::shutdown`] ends it with
    ///   [`ExitReason::Killed`](crate::ExitReason::Killed).
    ///
    /// Whatever pushed the first envelope (an actor, a thread, a connection's reader for a
    /// message from another node) hands the actor to an idle coroutine of pyact's pool, or
    /// queues it for the next one (`mailbox/dormant.rs` has the mechanism).
    ///
    /// ```
    /// use pyact::observe::Status;
    /// use pyact::{SpawnOptions, json};
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let opts = SpawnOptions::new().start_on_message();
    /// let echo = node.spawn_opts(opts, |mut mb| json!({"echo": mb.receive()})).unwrap();
    /// assert_eq!(node.info(&echo).unwrap().status, Status::Dormant);
    /// echo.send("wake up").unwrap();
    /// assert_eq!(node.wait(&echo).unwrap(), json!({"echo": "wake up"}));
    /// ```
    pub fn start_on_message(mut self) -> Self {
        self.start_on_message = true;
        self
    }
}

impl Node {
    /// Spawn an actor with [`SpawnOptions`]. Errors as [`Node::try_spawn`].
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let opts = pyact::SpawnOptions::new().mailbox_limit(100);
    /// let a = node.spawn_opts(opts, |mut mb| mb.receive()).unwrap();
    /// a.send("within the bound").unwrap();
    /// assert_eq!(node.wait(&a).unwrap(), "within the bound");
    /// ```
    pub fn spawn_opts<F, R>(&self, opts: SpawnOptions, f: F) -> Result<Address, SpawnError>
    where
        F: FnOnce(Mailbox) -> R + Send + 'static,
        R: IntoExit,
    {
        let cell = self.new_cell(false, Some(std::any::type_name::<F>));
        if let Some(n) = opts.mailbox_limit {
            cell.queue.set_limit(n);
        }
        crate::actor::start(self, cell, f, None, opts.start_on_message)
    }
}
