//! [`Context`]: what a server's handlers get, its mailbox and the means to stop or
//! hibernate; [`serve`](super::serve) reads what they asked for between two messages.

use std::ops::{Deref, DerefMut};
use std::time::Duration;

#[cfg(doc)]
use super::{Server, serve};
#[cfg(doc)]
use crate::Node;
use crate::{ExitReason, IntoExit, Mailbox};

/// What a server's handlers get: its [`Mailbox`] (through `Deref`, so `ctx.addr()`,
/// `ctx.receive_match(..)`, `ctx.trap_exit(true)` work) plus the means to stop.
///
/// ```
/// use pyact::server::{Context, Server, ServerError};
/// use pyact::Value;
/// struct WhoAmI;
/// impl Server for WhoAmI {
///     fn handle_call(&mut self, _: &str, _: Value, ctx: &mut Context) -> Result<Value, ServerError> {
///         Ok(pyact::serde_json::to_value(ctx.addr())?) // Mailbox methods through Deref
///     }
/// }
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let s = node.spawn_server(WhoAmI);
/// let me = s.call("who", (), std::time::Duration::from_secs(30)).unwrap();
/// assert_eq!(me, pyact::serde_json::to_value(&s).unwrap());
/// ```
#[derive(Debug)]
pub struct Context {
    pub(super) mailbox: Mailbox,
    pub(super) stop: Option<ExitReason>,
    /// Hibernate before the next receive ([`Context::hibernate`]).
    pub(super) hibernate_now: bool,
    /// Hibernate after this long without a message ([`Context::hibernate_after`]).
    pub(super) idle_limit: Option<Duration>,
}

impl Context {
    /// A context on `mailbox`, hibernating after `idle_limit` without a message (see
    /// [`Context::hibernate_after`]), nothing asked for yet.
    pub(super) fn new(mailbox: Mailbox, idle_limit: Option<Duration>) -> Self {
        Context {
            mailbox,
            stop: None,
            hibernate_now: false,
            idle_limit,
        }
    }

    /// Stop the server with `reason` once the current handler returns (and, in
    /// `handle_call`, after its response is sent); [`Server::terminate`] then runs.
    ///
    /// ```
    /// use pyact::server::{Context, Server, ServerError};
    /// use pyact::Value;
    /// struct OneShot;
    /// impl Server for OneShot {
    ///     fn handle_call(&mut self, _: &str, _: Value, ctx: &mut Context) -> Result<Value, ServerError> {
    ///         ctx.stop("served once"); // after this reply
    ///         Ok("bye".into())
    ///     }
    /// }
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let s = node.spawn_server(OneShot);
    /// assert_eq!(s.call("x", (), std::time::Duration::from_secs(30)).unwrap(), "bye");
    /// assert_eq!(node.wait(&s).unwrap(), "served once");
    /// ```
    pub fn stop(&mut self, reason: impl IntoExit) {
        self.stop = Some(reason.into_exit());
    }

    /// The reason a stop was requested with, if one was.
    ///
    /// ```
    /// use pyact::server::{Context, Server};
    /// use pyact::{ExitReason, Value};
    /// struct Quitter;
    /// impl Server for Quitter {
    ///     fn handle_cast(&mut self, _: Value, ctx: &mut Context) {
    ///         assert!(ctx.stopping().is_none());
    ///         ctx.stop(ExitReason::Shutdown);
    ///         assert_eq!(ctx.stopping(), Some(&ExitReason::Shutdown));
    ///     }
    /// }
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let s = node.spawn_server(Quitter);
    /// s.send("quit").unwrap();
    /// assert_eq!(node.wait(&s), Err(ExitReason::Shutdown));
    /// ```
    pub fn stopping(&self) -> Option<&ExitReason> {
        self.stop.as_ref()
    }

    /// Hibernate once the current handler returns, until the next message arrives
    /// (Erlang's `{noreply, State, hibernate}`): see [`Mailbox::hibernate`]. The server's
    /// state waits without a coroutine (about 1 KiB beside the state itself, instead of a
    /// stack page and more) and the next message is handled as usual.
    ///
    /// A server that hibernates goes on in [`serve`], from the bottom of a fresh stack:
    /// code of the actor's own function after its call to `serve` does not run then; its
    /// result is what `serve` returns (as for [`Node::spawn_server`], a supervisor's
    /// `|mb| serve(..)` child, or any body that ends with `serve(..)`). A server run by a
    /// plain thread on its inbox does not hibernate.
    ///
    /// ```
    /// use pyact::server::{Context, Server, ServerError};
    /// use pyact::{Value, json};
    /// use std::time::Duration;
    /// struct Rare(i64); // called once in a long while
    /// impl Server for Rare {
    ///     fn handle_call(&mut self, _: &str, _: Value, ctx: &mut Context) -> Result<Value, ServerError> {
    ///         self.0 += 1;
    ///         ctx.hibernate(); // after this reply
    ///         Ok(json!(self.0))
    ///     }
    /// }
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let s = node.spawn_server(Rare(0));
    /// let t = Duration::from_secs(30);
    /// assert_eq!(s.call("tick", (), t).unwrap(), 1);
    /// assert_eq!(s.call("tick", (), t).unwrap(), 2); // woken by the call, state kept
    /// s.stop_server(t).unwrap();
    /// ```
    pub fn hibernate(&mut self) {
        self.hibernate_now = true;
    }

    /// Hibernate whenever no message has come for `after` (OTP's `hibernate_after` start
    /// option); `None` (the default): never by itself. Usually set in [`Server::init`].
    /// See [`Context::hibernate`].
    ///
    /// ```
    /// use pyact::server::{Context, Server};
    /// use pyact::observe::Status;
    /// use std::time::{Duration, Instant};
    /// struct Session;
    /// impl Server for Session {
    ///     fn init(&mut self, ctx: &mut Context) {
    ///         ctx.hibernate_after(Some(Duration::from_millis(10)));
    ///     }
    /// }
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let s = node.spawn_server(Session);
    /// let deadline = Instant::now() + Duration::from_secs(30);
    /// while node.info(&s).unwrap().status != Status::Hibernating {
    ///     assert!(Instant::now() < deadline);
    ///     std::thread::yield_now();
    /// }
    /// s.stop_server(Duration::from_secs(30)).unwrap(); // still serves
    /// ```
    pub fn hibernate_after(&mut self, after: Option<Duration>) {
        self.idle_limit = after;
    }

    /// The server's mailbox.
    ///
    /// ```
    /// use pyact::server::{Context, Server};
    /// struct Trapper;
    /// impl Server for Trapper {
    ///     fn init(&mut self, ctx: &mut Context) {
    ///         ctx.mailbox().trap_exit(true); // linked crashes become casts
    ///     }
    /// }
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let s = node.spawn_server(Trapper);
    /// let t = std::time::Duration::from_secs(30);
    /// let _ = s.call("sync", (), t); // answered after `init`
    /// s.exit(&node.inbox().addr(), pyact::ExitReason::Failed("x".into())).unwrap();
    /// s.stop_server(t).unwrap(); // it survived the signal
    /// ```
    pub fn mailbox(&mut self) -> &mut Mailbox {
        &mut self.mailbox
    }
}

impl Deref for Context {
    type Target = Mailbox;
    fn deref(&self) -> &Mailbox {
        &self.mailbox
    }
}

impl DerefMut for Context {
    fn deref_mut(&mut self) -> &mut Mailbox {
        &mut self.mailbox
    }
}
