//! Supervisors: actors that start children, watch them and restart them (Erlang/OTP's
//! `supervisor`).
//!
//! # Semantics (Erlang's, written down before the code)
//!
//! A supervisor is a [`serve`]d actor that traps exits and links to every child (each child
//! is spawned with [`Node::spawn_link`], so the link exists before the child runs). Its
//! children are described by [`ChildSpec`]s and kept in start order.
//!
//! **Starting.** At start the children are started one after the other, in spec order. A
//! child is *started* when it was spawned, or, for a child with
//! [`sync_start`](ChildSpec::sync_start) (servers and supervisors have it by default), when it
//! called [`init_ack`] ([`serve`] does so right after [`Server::init`]): the next child is
//! not started before, so "ordered start" means every earlier sibling has finished its
//! `init`. If a child cannot be spawned or exits before its ack during the initial start, the
//! supervisor stops the children already started (reverse order) and exits with
//! [`ExitReason::Failed`] `"child <id> failed to start: ..."`.
//!
//! **Restart kinds** ([`Restart`]), applied when a child exits on its own:
//! - `Permanent`: always restarted;
//! - `Transient`: restarted only after an abnormal exit (anything but
//!   [`ExitReason::Normal`] and [`ExitReason::Shutdown`]);
//! - `Temporary`: never restarted, and removed from the children list.
//!
//! **Strategies** ([`Strategy`]): when a child must be restarted,
//! - `OneForOne`: only that child is restarted;
//! - `OneForAll`: all other running children are stopped in reverse start order, then all
//!   children are started again in order;
//! - `RestForOne`: the children started after it are stopped in reverse order, then it and
//!   those are started again in order (earlier siblings keep running, with the same
//!   addresses);
//! - `SimpleOneForOne`: one child spec is a template and no child starts with the
//!   supervisor; [`start_child`] starts one with the given arguments (restarted with the same
//!   arguments, one-for-one). Children that are not restarted are removed.
//!
//! Children of the restarted range whose kind is `Temporary` are stopped and not started
//! again. Restarted children get new addresses.
//!
//! **Restart intensity.** Every restart (one per child exit that needs one, whatever the
//! strategy) is timestamped; if more than `max_restarts` happened within the last `period`
//! (Erlang's defaults: 1 within 5 seconds; [`Supervisor::intensity`]), the supervisor does
//! not restart: it stops all its children (reverse order) and exits with
//! [`ExitReason::Failed`]`("reached max restart intensity")`, an abnormal reason, so the
//! failure escalates along its link to its own supervisor (which applies its own policy) or to
//! whoever monitors it.
//!
//! **Stopping a child** (Erlang's `shutdown`): the supervisor monitors it and sends it an exit
//! signal with [`ExitReason::Shutdown`] (a child that does not trap exits dies at its next
//! pyact call, or at once if it is parked in one; one that traps exits gets the message and
//! should end). If the child has not ended after its [`Shutdown::Timeout`], it is killed
//! ([`Address::kill`], untrappable); [`Shutdown::BrutalKill`] kills at once,
//! [`Shutdown::Infinity`] waits forever (the default for supervisors, so a subtree shuts down
//! completely: every wait inside it is bounded). A killed child gets [`KILL_TIMEOUT`] to end;
//! one that does not (busy without any pyact call: Rust code cannot be preempted) is logged
//! and abandoned, so no other wait of the supervisor is unbounded. A
//! [`sync_start`](ChildSpec::sync_start) child gets [`START_TIMEOUT`] to ack. The supervisor
//! waits for each child to end before stopping the next.
//!
//! **Stopping the supervisor.** An exit message with an abnormal reason from an actor that is
//! not one of its children (its parent supervisor shutting it down, an explicit
//! [`Address::exit`] with [`ExitReason::Shutdown`], the crash of any other linked actor) stops
//! the supervisor with that reason; a normal one is ignored. So does a [`STOP_METHOD`](crate::server::STOP_METHOD) call
//! ([`Address::stop_server`], reason normal), and reaching the restart intensity. In every
//! case it first stops all its children in reverse start order. [`Address::kill`] kills it at
//! once; its children then get the `killed` exit signal through their links.
//!
//! **Queries** are calls to the supervisor ([`which_children`], [`start_child`],
//! [`terminate_child`]); they are answered between two exits, never in the middle of a
//! restart.
//!
//! ```
//! use pyact::{Mailbox, Mesh, Node, pattern};
//! use pyact::supervisor::{ChildSpec, Strategy, Supervisor, which_children};
//! use std::time::Duration;
//!
//! fn worker(mut mb: Mailbox) {
//!     loop {
//!         if mb.receive() == "crash" {
//!             panic!("bad message")
//!         }
//!     }
//! }
//! let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
//! let sup = Supervisor::new(Strategy::OneForOne)
//!     .child(ChildSpec::new("a", worker))
//!     .child(ChildSpec::new("b", worker))
//!     .spawn(&node);
//! let t = Duration::from_secs(30);
//! let before = which_children(&sup, t).unwrap();
//! assert_eq!(before.len(), 2);
//! let a = before[0].address.clone().unwrap();
//! // Crash "a" and wait for its end. A monitor placed before the crash fires after the
//! // exit signal reached the supervisor, so the next call is answered after the restart.
//! let mut inbox = node.inbox();
//! let watch = inbox.monitor(&a);
//! a.send("crash").unwrap();
//! inbox.receive_match(&[&pattern!({"down": = watch})]);
//! let after = which_children(&sup, t).unwrap();
//! assert!(after[0].address.as_ref().is_some_and(|new| *new != a)); // restarted
//! assert_eq!(after[1].address, before[1].address); // untouched
//! sup.stop_server(t).unwrap();
//! ```

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::link::Ref;
use crate::server::{CallError, Context, Server, ServerError, serve};
use crate::{Address, ExitReason, IntoExit, Mailbox, Node, SpawnError, SpawnOptions};

// This file holds what a user writes (specs, strategy, the client calls); `running.rs` the
// server behind them, which starts, stops and restarts the children.
mod running;

use running::SupervisorServer;

/// How a supervisor restarts its children. See the [module docs](self).
///
/// ```
/// use pyact::supervisor::{ChildSpec, Strategy, Supervisor, which_children};
/// use std::time::Duration;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let worker = |mut mb: pyact::Mailbox| loop { if mb.receive() == "crash" { panic!("crash") } };
/// let sup = Supervisor::new(Strategy::OneForAll)
///     .child(ChildSpec::new("a", worker))
///     .child(ChildSpec::new("b", worker))
///     .spawn(&node);
/// let t = Duration::from_secs(30);
/// let before = which_children(&sup, t).unwrap();
/// let mut inbox = node.inbox();
/// let r = inbox.monitor(before[1].address.as_ref().unwrap());
/// before[0].address.as_ref().unwrap().send("crash").unwrap(); // "a" crashes...
/// inbox.receive_match_timeout(&[&pyact::pattern!({"down": = r})], t).unwrap(); // ..."b" is stopped
/// let after = which_children(&sup, t).unwrap();
/// assert!(after.iter().zip(&before).all(|(new, old)| new.address != old.address)); // both restarted
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Strategy {
    /// Restart only the child that exited.
    OneForOne,
    /// Restart all children.
    OneForAll,
    /// Restart the child that exited and the ones started after it.
    RestForOne,
    /// Dynamic children from one template, started with [`start_child`]; one-for-one.
    SimpleOneForOne,
}

/// When a child that exited on its own is restarted. See the [module docs](self).
///
/// ```
/// use pyact::supervisor::{ChildSpec, Restart, Strategy, Supervisor, which_children};
/// use std::time::Duration;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let sup = Supervisor::new(Strategy::OneForOne)
///     .child(ChildSpec::new("job", |mut mb| { mb.receive(); "done" }).restart(Restart::Transient))
///     .spawn(&node);
/// let mut inbox = node.inbox();
/// let t = Duration::from_secs(30);
/// let job = which_children(&sup, t).unwrap()[0].address.clone().unwrap();
/// let r = inbox.monitor(&job);
/// job.send("go").unwrap(); // it ends normally: a transient child stays ended
/// inbox.receive_match_timeout(&[&pyact::pattern!({"down": = r})], t).unwrap();
/// assert_eq!(which_children(&sup, t).unwrap()[0].address, None); // not restarted
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Restart {
    /// Always.
    Permanent,
    /// Only after an abnormal exit (not normal, not shutdown).
    Transient,
    /// Never (and the child is forgotten).
    Temporary,
}

/// How a child is stopped by its supervisor.
///
/// ```
/// use pyact::supervisor::{ChildSpec, Shutdown, Strategy, Supervisor};
/// use std::time::Duration;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// // A child that ignores shutdown signals: kill it at once rather than wait 5 s.
/// let stubborn = ChildSpec::new("stubborn", |mut mb| { mb.trap_exit(true); loop { mb.receive(); } })
///     .shutdown(Shutdown::BrutalKill);
/// let sup = Supervisor::new(Strategy::OneForOne).child(stubborn).spawn(&node);
/// sup.stop_server(Duration::from_secs(30)).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shutdown {
    /// Kill at once (untrappable).
    BrutalKill,
    /// Send a `shutdown` exit signal; kill if the child has not ended after this long.
    Timeout(Duration),
    /// Send a `shutdown` exit signal and wait as long as it takes (for supervisors).
    Infinity,
}

/// Whether a child is a worker or a supervisor (informational, and it sets the default
/// [`Shutdown`]: 5 seconds for workers, infinity for supervisors, as in Erlang).
///
/// ```
/// use pyact::supervisor::{ChildKind, ChildSpec, Strategy, Supervisor, which_children};
/// use std::time::Duration;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let inner = Supervisor::new(Strategy::OneForOne);
/// let sup = Supervisor::new(Strategy::OneForOne)
///     .child(ChildSpec::new("w", |mut mb| { mb.receive(); }))
///     .child(ChildSpec::supervisor("team", inner))
///     .spawn(&node);
/// let kinds: Vec<_> = which_children(&sup, Duration::from_secs(30)).unwrap().into_iter().map(|c| c.kind).collect();
/// assert_eq!(kinds, [ChildKind::Worker, ChildKind::Supervisor]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildKind {
    /// Any actor that is not a supervisor.
    Worker,
    /// A supervisor.
    Supervisor,
}

type Factory = Arc<dyn Fn(Mailbox, Value) -> ExitReason + Send + Sync>;

/// How to start (and restart, and stop) one child. Cheap to clone.
///
/// The factory is called once per start, in the new child's actor, with its mailbox (and,
/// for [`ChildSpec::with_args`], its arguments); its return value is the child's exit reason.
///
/// ```
/// use pyact::supervisor::{ChildSpec, Restart};
/// let spec = ChildSpec::new("cache", |mut mb| loop { mb.receive(); })
///     .restart(Restart::Transient)
///     .mailbox_limit(1_000);
/// assert_eq!(spec.id(), "cache");
/// ```
#[derive(Clone)]
#[must_use = "a ChildSpec does nothing until given to a Supervisor"]
pub struct ChildSpec {
    id: String,
    start: Factory,
    args: Value,
    restart: Restart,
    shutdown: Shutdown,
    kind: ChildKind,
    sync_start: bool,
    opts: SpawnOptions,
}

/// Erlang's default shutdown timeout for workers.
const WORKER_SHUTDOWN: Duration = Duration::from_secs(5);

impl ChildSpec {
    /// A permanent worker child named `id` running `f` (5 s shutdown timeout, started
    /// without waiting for an [`init_ack`]).
    ///
    /// ```
    /// use pyact::supervisor::{ChildSpec, Strategy, Supervisor, which_children};
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let sup = Supervisor::new(Strategy::OneForOne)
    ///     .child(ChildSpec::new("echo", |mut mb| loop { let _ = mb.receive(); }))
    ///     .spawn(&node);
    /// let kids = which_children(&sup, Duration::from_secs(30)).unwrap();
    /// assert_eq!(kids[0].id, "echo");
    /// ```
    pub fn new<F, R>(id: impl Into<String>, f: F) -> ChildSpec
    where
        F: Fn(Mailbox) -> R + Send + Sync + 'static,
        R: IntoExit,
    {
        ChildSpec::with_args(id, move |mb, _| f(mb))
    }

    /// Like [`ChildSpec::new`], but `f` also gets the child's arguments: the ones of
    /// [`ChildSpec::args`], or, under [`Strategy::SimpleOneForOne`], the ones given to
    /// [`start_child`].
    ///
    /// ```
    /// use pyact::supervisor::{ChildSpec, Strategy, Supervisor, which_children};
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let spec = ChildSpec::with_args("port", |mut mb, args| { mb.receive(); args["port"].as_u64() })
    ///     .args(pyact::json!({"port": 8080}));
    /// let sup = Supervisor::new(Strategy::OneForOne).child(spec).spawn(&node);
    /// let kids = which_children(&sup, Duration::from_secs(30)).unwrap();
    /// assert_eq!(kids[0].args["port"], 8080);
    /// ```
    pub fn with_args<F, R>(id: impl Into<String>, f: F) -> ChildSpec
    where
        F: Fn(Mailbox, Value) -> R + Send + Sync + 'static,
        R: IntoExit,
    {
        ChildSpec {
            id: id.into(),
            start: Arc::new(move |mb, args| f(mb, args).into_exit()),
            args: Value::Null,
            restart: Restart::Permanent,
            shutdown: Shutdown::Timeout(WORKER_SHUTDOWN),
            kind: ChildKind::Worker,
            sync_start: false,
            opts: SpawnOptions::new(),
        }
    }

    /// A child running [`serve`] on a fresh server from `make` (called at every start).
    /// Started synchronously: the supervisor waits until its [`Server::init`] returned.
    ///
    /// ```
    /// use pyact::server::{Context, Server, ServerError};
    /// use pyact::supervisor::{ChildSpec, Strategy, Supervisor, which_children};
    /// use std::time::Duration;
    /// struct Ping;
    /// impl Server for Ping {
    ///     fn handle_call(&mut self, _: &str, _: pyact::Value, _: &mut Context) -> Result<pyact::Value, ServerError> {
    ///         Ok("pong".into())
    ///     }
    /// }
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let sup = Supervisor::new(Strategy::OneForOne).child(ChildSpec::server("ping", || Ping)).spawn(&node);
    /// let t = Duration::from_secs(30);
    /// let ping = which_children(&sup, t).unwrap()[0].address.clone().unwrap();
    /// assert_eq!(ping.call("ping", (), t).unwrap(), "pong");
    /// ```
    pub fn server<S, F>(id: impl Into<String>, make: F) -> ChildSpec
    where
        S: Server,
        F: Fn() -> S + Send + Sync + 'static,
    {
        ChildSpec::new(id, move |mb| serve(make(), mb)).sync_start(true)
    }

    /// A child that is itself a supervisor (nesting trees): shutdown [`Shutdown::Infinity`],
    /// started synchronously (its own children are all started when it counts as started).
    ///
    /// ```
    /// use pyact::supervisor::{ChildSpec, Strategy, Supervisor, which_children};
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let team = Supervisor::new(Strategy::OneForOne).child(ChildSpec::new("w", |mut mb| { mb.receive(); }));
    /// let root = Supervisor::new(Strategy::OneForOne).child(ChildSpec::supervisor("team", team)).spawn(&node);
    /// let t = Duration::from_secs(30);
    /// let team = which_children(&root, t).unwrap()[0].address.clone().unwrap();
    /// assert_eq!(which_children(&team, t).unwrap()[0].id, "w"); // started before `root` counts as started
    /// ```
    pub fn supervisor(id: impl Into<String>, sup: Supervisor) -> ChildSpec {
        let mut spec = ChildSpec::new(id, move |mb| sup.clone().run(mb)).sync_start(true);
        spec.kind = ChildKind::Supervisor;
        spec.shutdown = Shutdown::Infinity;
        spec
    }

    /// Set the restart kind (default [`Restart::Permanent`]).
    ///
    /// ```
    /// use pyact::supervisor::{ChildSpec, Restart, Strategy, Supervisor, which_children};
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let once = ChildSpec::new("once", |mut mb| { mb.receive(); }).restart(Restart::Temporary);
    /// let sup = Supervisor::new(Strategy::OneForOne).child(once).spawn(&node);
    /// let t = Duration::from_secs(30);
    /// let child = which_children(&sup, t).unwrap()[0].address.clone().unwrap();
    /// let mut inbox = node.inbox();
    /// let r = inbox.monitor(&child);
    /// child.send("end").unwrap();
    /// inbox.receive_match_timeout(&[&pyact::pattern!({"down": = r})], t).unwrap();
    /// assert!(which_children(&sup, t).unwrap().is_empty()); // forgotten
    /// ```
    pub fn restart(mut self, restart: Restart) -> ChildSpec {
        self.restart = restart;
        self
    }

    /// Set how the child is stopped (default 5 s for workers, infinity for supervisors).
    ///
    /// ```
    /// use pyact::supervisor::{ChildSpec, Shutdown};
    /// use std::time::Duration;
    /// let spec = ChildSpec::new("flusher", |mut mb| { mb.receive(); })
    ///     .shutdown(Shutdown::Timeout(Duration::from_millis(500))); // time to flush, then killed
    /// assert!(format!("{spec:?}").contains("500ms"));
    /// ```
    pub fn shutdown(mut self, shutdown: Shutdown) -> ChildSpec {
        self.shutdown = shutdown;
        self
    }

    /// Set the arguments passed to a [`with_args`](ChildSpec::with_args) factory.
    ///
    /// ```
    /// use pyact::supervisor::ChildSpec;
    /// let spec = ChildSpec::with_args("conn", |_, args| args).args(("db", 5432));
    /// assert!(format!("{spec:?}").contains("5432"));
    /// ```
    pub fn args(mut self, args: impl Serialize) -> ChildSpec {
        self.args = serde_json::to_value(args).unwrap_or(Value::Null);
        self
    }

    /// Make the supervisor wait, after spawning the child, until the child calls
    /// [`init_ack`] (or exits) before it starts the next one. A child with this flag that
    /// never calls `init_ack` blocks its supervisor, and one that calls its supervisor
    /// (e.g. [`which_children`]) before its ack waits for that call's timeout.
    ///
    /// ```
    /// use pyact::supervisor::{ChildSpec, Strategy, Supervisor, init_ack, which_children};
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut inbox = node.inbox();
    /// let me = inbox.addr();
    /// let db = ChildSpec::new("db", move |mut mb| { me.send("db ready").unwrap(); init_ack(); mb.receive(); })
    ///     .sync_start(true);
    /// let me = inbox.addr();
    /// let web = ChildSpec::new("web", move |mut mb| { me.send("web up").unwrap(); mb.receive(); });
    /// let sup = Supervisor::new(Strategy::OneForOne).child(db).child(web).spawn(&node);
    /// which_children(&sup, Duration::from_secs(30)).unwrap();
    /// assert_eq!(inbox.receive(), "db ready"); // always before "web up"
    /// ```
    pub fn sync_start(mut self, on: bool) -> ChildSpec {
        self.sync_start = on;
        self
    }

    /// Bound the child's mailbox to `n` unread user messages, at every start and restart
    /// (the policy past it is [`SpawnOptions`]'s: a local send fails at once with
    /// [`SendError::MailboxFull`](crate::SendError::MailboxFull)). Unbounded by default.
    ///
    /// ```
    /// use pyact::supervisor::{ChildSpec, Strategy, Supervisor, which_children};
    /// use pyact::{Mesh, Node, SendError};
    /// use std::time::Duration;
    /// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// // A child that never reads its mail.
    /// let idle = ChildSpec::new("idle", |_| loop { pyact::actor::sleep(Duration::from_secs(60)) });
    /// let sup = Supervisor::new(Strategy::OneForOne)
    ///     .child(idle.mailbox_limit(1))
    ///     .spawn(&node);
    /// let child = which_children(&sup, Duration::from_secs(30)).unwrap()[0].address.clone().unwrap();
    /// child.send("one").unwrap();
    /// assert!(matches!(child.send("two"), Err(SendError::MailboxFull(_))));
    /// ```
    pub fn mailbox_limit(mut self, n: usize) -> ChildSpec {
        self.opts = self.opts.mailbox_limit(n);
        self
    }

    /// Start the child's function only when its first message arrives, at every start and
    /// restart (see [`SpawnOptions::start_on_message`]): a child that waits for work costs
    /// no coroutine until it gets some. A kill or a deadly exit signal ends a dormant child
    /// unrun, and the supervisor handles that end as any other. Ignored for a child that
    /// starts synchronously ([`ChildSpec::server`], [`ChildSpec::sync_start`]): the
    /// supervisor waits for its init, which must run at once.
    ///
    /// ```
    /// use pyact::observe::Status;
    /// use pyact::supervisor::{ChildSpec, Strategy, Supervisor, which_children};
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let worker = ChildSpec::new("worker", |mut mb| { mb.receive(); });
    /// let sup = Supervisor::new(Strategy::OneForOne)
    ///     .child(worker.start_on_message())
    ///     .spawn(&node);
    /// let child = which_children(&sup, Duration::from_secs(30)).unwrap()[0].address.clone().unwrap();
    /// assert_eq!(node.info(&child).unwrap().status, Status::Dormant);
    /// ```
    pub fn start_on_message(mut self) -> ChildSpec {
        self.opts = self.opts.start_on_message();
        self
    }

    /// The child's id.
    ///
    /// ```
    /// let spec = pyact::ChildSpec::new("worker-1", |_| ());
    /// assert_eq!(spec.id(), "worker-1");
    /// ```
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("args", &self.args)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("kind", &self.kind)
            .field("sync_start", &self.sync_start)
            .field("opts", &self.opts)
            .finish()
    }
}

/// A supervisor's specification: strategy, restart intensity and child specs. Cheap to
/// clone; [`spawn`](Supervisor::spawn) it, or [`run`](Supervisor::run) it in an actor, or
/// nest it with [`ChildSpec::supervisor`].
///
/// ```
/// use pyact::supervisor::{ChildSpec, Strategy, Supervisor};
/// use std::time::Duration;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let spec = Supervisor::new(Strategy::OneForOne).child(ChildSpec::new("w", |mut mb| { mb.receive(); }));
/// let (one, two) = (spec.clone().spawn(&node), spec.spawn(&node)); // one spec, two trees
/// assert_ne!(one, two);
/// one.stop_server(Duration::from_secs(30)).unwrap();
/// ```
#[derive(Debug, Clone)]
#[must_use = "a Supervisor does nothing until spawned or run"]
pub struct Supervisor {
    strategy: Strategy,
    max_restarts: u32,
    period: Duration,
    children: Vec<ChildSpec>,
}

impl Supervisor {
    /// A supervisor with `strategy`, no children and Erlang's default intensity (1 restart
    /// within 5 seconds).
    ///
    /// ```
    /// use pyact::supervisor::{Strategy, Supervisor, which_children};
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let empty = Supervisor::new(Strategy::OneForOne).spawn(&node);
    /// assert!(which_children(&empty, Duration::from_secs(30)).unwrap().is_empty());
    /// ```
    pub fn new(strategy: Strategy) -> Supervisor {
        Supervisor {
            strategy,
            max_restarts: 1,
            period: Duration::from_secs(5),
            children: Vec::new(),
        }
    }

    /// Allow at most `max_restarts` restarts within any `period`; one more and the
    /// supervisor gives up (see the [module docs](self)).
    ///
    /// ```
    /// use pyact::supervisor::{ChildSpec, Strategy, Supervisor};
    /// use pyact::ExitReason;
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let sup = Supervisor::new(Strategy::OneForOne)
    ///     .intensity(0, Duration::from_secs(5)) // no restart allowed: give up at the first crash
    ///     .child(ChildSpec::new("fragile", |_| -> () { panic!("boom") }))
    ///     .spawn(&node);
    /// assert_eq!(node.wait(&sup), Err(ExitReason::Failed("reached max restart intensity".into())));
    /// ```
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Supervisor {
        self.max_restarts = max_restarts;
        self.period = period;
        self
    }

    /// Add a child (started after the ones added before). Under
    /// [`Strategy::SimpleOneForOne`] the one child spec is the template for [`start_child`].
    ///
    /// ```
    /// use pyact::supervisor::{ChildSpec, Strategy, Supervisor, which_children};
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let sup = ["first", "second"].iter()
    ///     .fold(Supervisor::new(Strategy::RestForOne), |s, id| s.child(ChildSpec::new(*id, |mut mb| { mb.receive(); })))
    ///     .spawn(&node);
    /// let ids: Vec<_> = which_children(&sup, Duration::from_secs(30)).unwrap().into_iter().map(|c| c.id).collect();
    /// assert_eq!(ids, ["first", "second"]); // start order
    /// ```
    pub fn child(mut self, spec: ChildSpec) -> Supervisor {
        self.children.push(spec);
        self
    }

    /// Spawn the supervisor on `node` (not linked to anything; monitor it to see it fail).
    ///
    /// ```
    /// use pyact::supervisor::{Strategy, Supervisor};
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let sup = Supervisor::new(Strategy::OneForOne).spawn(&node);
    /// sup.stop_server(Duration::from_secs(30)).unwrap();
    /// assert!(node.wait(&sup).is_ok());
    /// ```
    pub fn spawn(self, node: &Node) -> Address {
        node.spawn(move |mb| self.run(mb))
    }

    /// Spawn the supervisor linked to `to`: it stops (children first) when `to` ends
    /// abnormally, and `to` learns of its failure.
    ///
    /// ```
    /// use pyact::supervisor::{ChildSpec, Strategy, Supervisor};
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut probe = pyact::testing::Probe::new(&node); // traps exits
    /// let sup = Supervisor::new(Strategy::OneForOne)
    ///     .intensity(0, Duration::from_secs(5))
    ///     .child(ChildSpec::new("fragile", |_| -> () { panic!("boom") }))
    ///     .spawn_link(&node, &probe.addr())
    ///     .unwrap();
    /// let exit = probe.expect_exit(&sup, Duration::from_secs(30)); // its failure reaches us
    /// assert!(!exit.reason.is_normal());
    /// ```
    pub fn spawn_link(self, node: &Node, to: &Address) -> Result<Address, SpawnError> {
        node.spawn_link(to, move |mb| self.run(mb))
    }

    /// Run the supervisor in the calling actor until it stops; returns its exit reason.
    ///
    /// ```
    /// use pyact::supervisor::{Strategy, Supervisor};
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let sup = node.spawn(|mb| {
    ///     mb.node().register("root", &mb.addr()).unwrap(); // a named supervisor
    ///     Supervisor::new(Strategy::OneForOne).run(mb)
    /// });
    /// sup.stop_server(Duration::from_secs(30)).unwrap();
    /// assert!(node.wait(&sup).is_ok());
    /// ```
    pub fn run(self, mailbox: Mailbox) -> ExitReason {
        serve(SupervisorServer::new(self), mailbox)
    }
}

/// One entry of [`which_children`].
///
/// ```
/// use pyact::supervisor::{ChildInfo, ChildSpec, Strategy, Supervisor, which_children};
/// use std::time::Duration;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let sup = Supervisor::new(Strategy::OneForOne).child(ChildSpec::new("w", |mut mb| { mb.receive(); })).spawn(&node);
/// let info: ChildInfo = which_children(&sup, Duration::from_secs(30)).unwrap().remove(0);
/// assert_eq!((info.id.as_str(), info.args.is_null()), ("w", true));
/// assert!(info.address.is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildInfo {
    /// The child spec's id.
    pub id: String,
    /// Its current address; `None` if it is not running (a transient child that ended
    /// normally, or one stopped with [`terminate_child`]).
    pub address: Option<Address>,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// Its arguments.
    pub args: Value,
}

/// The children of the supervisor at `sup`, in start order.
///
/// ```
/// use pyact::supervisor::{ChildSpec, Strategy, Supervisor, which_children};
/// use std::time::Duration;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let sup = Supervisor::new(Strategy::OneForOne).child(ChildSpec::new("w", |mut mb| { mb.receive(); })).spawn(&node);
/// let kids = which_children(&sup, Duration::from_secs(30)).unwrap();
/// assert_eq!(kids.len(), 1);
/// assert!(which_children(&node.inbox().addr(), Duration::from_millis(5)).is_err()); // not a supervisor
/// ```
pub fn which_children(sup: &Address, timeout: Duration) -> Result<Vec<ChildInfo>, CallError> {
    let v = sup.call("which_children", (), timeout)?;
    serde_json::from_value(v).map_err(|e| CallError::Server(format!("bad which_children: {e}")))
}

/// Start a child with `args` under the [`Strategy::SimpleOneForOne`] supervisor at `sup`;
/// returns its address once it is started (see [`ChildSpec::sync_start`]). Errors with
/// [`CallError::Server`] if the supervisor has another strategy or the child could not start.
///
/// ```
/// use pyact::{Mesh, Node, json};
/// use pyact::supervisor::{ChildSpec, Strategy, Supervisor, start_child, which_children};
/// use std::time::Duration;
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let sup = Supervisor::new(Strategy::SimpleOneForOne)
///     .child(ChildSpec::with_args("conn", |mut mb, args| { mb.receive(); args }))
///     .spawn(&node);
/// let t = Duration::from_secs(30);
/// let c1 = start_child(&sup, json!({"port": 1}), t).unwrap();
/// let c2 = start_child(&sup, json!({"port": 2}), t).unwrap();
/// let kids = which_children(&sup, t).unwrap();
/// assert_eq!(kids[1].address.as_ref(), Some(&c2));
/// assert_eq!(kids[1].args["port"], 2);
/// # let _ = c1;
/// ```
pub fn start_child(
    sup: &Address,
    args: impl Serialize,
    timeout: Duration,
) -> Result<Address, CallError> {
    let v = sup.call("start_child", args, timeout)?;
    serde_json::from_value(v).map_err(|e| CallError::Server(format!("bad start_child: {e}")))
}

/// Stop the child at `child` (as the supervisor stops children) and do not restart it: a
/// dynamic or temporary child is forgotten, another keeps its spec with no address.
///
/// ```
/// use pyact::supervisor::{ChildSpec, Strategy, Supervisor, terminate_child, which_children};
/// use std::time::Duration;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let sup = Supervisor::new(Strategy::OneForOne).child(ChildSpec::new("w", |mut mb| { mb.receive(); })).spawn(&node);
/// let t = Duration::from_secs(30);
/// let w = which_children(&sup, t).unwrap()[0].address.clone().unwrap();
/// terminate_child(&sup, &w, t).unwrap();
/// assert!(node.wait(&w).is_err()); // stopped with `shutdown`
/// assert_eq!(which_children(&sup, t).unwrap()[0].address, None); // kept, not running
/// ```
pub fn terminate_child(sup: &Address, child: &Address, timeout: Duration) -> Result<(), CallError> {
    sup.call("terminate_child", child, timeout).map(|_| ())
}

may::coroutine_local!(static START_ACK: RefCell<Option<(Address, Ref)>> = RefCell::new(None));

/// Tell the supervisor that started the calling actor that it is initialized (Erlang's
/// `proc_lib:init_ack`). Only children started with [`ChildSpec::sync_start`] need it, and
/// [`serve`] calls it after [`Server::init`]; elsewhere it does nothing. Idempotent.
///
/// Outside a supervised `sync_start` child it does nothing:
/// ```
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let a = node.spawn(|_| { pyact::supervisor::init_ack(); "fine" });
/// assert_eq!(node.wait(&a).unwrap(), "fine");
/// ```
pub fn init_ack() {
    let pending = START_ACK.with(|c| c.borrow_mut().take());
    if let Some((sup, reference)) = pending {
        let _ = sup.send(json!({"$started": reference}));
    }
}

/// How long a [`ChildSpec::sync_start`] child may take to [`init_ack`] before the supervisor
/// kills it and fails its start.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a supervisor waits for a killed child to end before it gives up on it (a child
/// that never makes a pyact call cannot be killed, see [`Address::kill`]).
pub const KILL_TIMEOUT: Duration = Duration::from_secs(5);
