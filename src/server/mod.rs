//! Servers: the seed's call/response convention and a gen_server-like [`Server`] trait.
//!
//! # The protocol (plain JSON messages, so any actor on any node can speak it)
//!
//! - request: `{"call": <Ref>, "method": "<name>", "address": <reply address>, "message": <value>}`
//! - success: `{"response": <Ref>, "message": <value>}`
//! - failure: `{"response": <Ref>, "exception": {"kind": "unknown_method" | "error", "message": "<text>"}}`
//!
//! The `<Ref>` of a response is the one of its request. Method names starting with `$` are
//! reserved for pyact: `"$stop"` asks a [`serve`] loop to stop (see [`Address::stop_server`]).
//!
//! # Calling: [`Address::call`]
//!
//! Each call gets a fresh, throwaway mailbox on the caller's node (the current actor's node;
//! from a plain thread, the server's node if it lives in this process, else this process's
//! oldest node). From it the caller monitors the
//! server, then sends the request with that mailbox as reply address, then waits for the
//! response or the monitor's DOWN, whichever comes first:
//!
//! | what happens | result |
//! |---|---|
//! | the server answers with `"message"` | `Ok(value)` |
//! | the server answers `unknown_method` | [`CallError::UnknownMethod`] |
//! | the handler returned an error (the server keeps running) | [`CallError::Server`] |
//! | the server is dead or unknown when called, or dies during the call (panic, exit signal, stop) | [`CallError::DeadActor`] with its [`ExitReason`], as soon as the DOWN arrives, not at the timeout |
//! | the server's node is unreachable or lost | [`CallError::NoConnection`] |
//! | nothing before `timeout` | [`CallError::Timeout`] |
//! | the request could not be sent for another reason | [`CallError::Send`] |
//!
//! When the call returns, its mailbox is closed and the monitor removed: a reply that comes
//! after a timeout hits a dead mailbox and is dropped (the server's send reports
//! [`SendError::DeadActor`], which [`serve`] ignores). Nothing is ever left in the caller's own
//! mailbox, so a call works the same from an actor (which may have other messages queued)
//! and from a plain thread (which needs no [`Node::inbox`](crate::Node::inbox)).
//! `timeout` [`Duration::MAX`] waits forever. A server that calls itself waits until its
//! timeout, as in Erlang.
//!
//! # Serving: [`Server`] and [`serve`]
//!
//! [`serve`] runs a server in an actor: `init`, then one message at a time, in arrival order:
//! a well-formed request goes to [`Server::handle_call`] and its result is sent back as the
//! response; every other message (including trapped exit and DOWN messages) goes to
//! [`Server::handle_cast`]. The loop ends when a handler calls [`Context::stop`] (after the
//! current reply is sent), on a `"$stop"` request (reason normal), or abnormally (a panic in a
//! handler or an exit signal that kills the actor). Then [`Server::terminate`] runs with the
//! reason, once, unless `init` did not return or the actor was killed
//! ([`ExitReason::Killed`] is brutal, as in Erlang). A panic in a handler ends the server with
//! [`ExitReason::Panicked`]; the caller of the call in progress gets
//! [`CallError::DeadActor`] at once through its monitor.
//!
//! Between two messages a server can hibernate ([`Context::hibernate`] once,
//! [`Context::hibernate_after`] whenever it idles; OTP's `hibernate` and `hibernate_after`):
//! its coroutine goes back to the pool and the loop goes on, state and mailbox kept, when the
//! next message comes ([`Mailbox::hibernate`]). A hibernation is not an end: `terminate`
//! does not run for it.

use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

mod context;
pub use context::Context;

use crate::actor::ExitUnwind;
use crate::link::Ref;
use crate::mailbox::Timeout;
use crate::{Address, ExitReason, Mailbox, Node, Pattern, SendError};

/// The reserved method that makes a [`serve`] loop stop normally.
pub const STOP_METHOD: &str = "$stop";

/// Why a call failed. See the [module docs](self) for when each happens.
///
/// ```
/// use pyact::ExitReason;
/// use pyact::server::CallError;
/// use std::time::Duration;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let gone = node.spawn(|_| ());
/// node.wait(&gone).unwrap();
/// let r = gone.call("ping", (), Duration::from_secs(30));
/// assert_eq!(r, Err(CallError::DeadActor(ExitReason::NoSuchActor)));
/// let silent = node.spawn(|mut mb| loop { mb.receive(); }); // reads calls, never answers
/// assert_eq!(silent.call("ping", (), Duration::from_millis(5)), Err(CallError::Timeout));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CallError {
    /// No response and no DOWN before the timeout.
    Timeout,
    /// The server was not alive when called, or died during the call; carries its reason
    /// ([`ExitReason::NoSuchActor`] for an unknown or long-gone actor).
    DeadActor(ExitReason),
    /// The server's node could not be reached (refused, wrong cookie, backing off after a
    /// failed dial) or the connection was lost during the call.
    NoConnection {
        /// The node (`host:port`).
        node: String,
        /// What went wrong, as the network layer tells it (e.g. `refused by 127.0.0.1:4000:
        /// bad cookie proof (the two nodes' cookies differ?)`), or `connection lost`.
        why: String,
    },
    /// The server has no such method (named here).
    UnknownMethod(String),
    /// The server's handler returned this error; the server keeps running.
    Server(String),
    /// The request could not be sent (not JSON, no route, too large...).
    Send(SendError),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Timeout => f.write_str("call timed out"),
            CallError::DeadActor(r) => write!(f, "server is dead: {r}"),
            CallError::NoConnection { node, why } => {
                write!(f, "no connection to node {node}: {why}")
            }
            CallError::UnknownMethod(m) => write!(f, "server has no method {m:?}"),
            CallError::Server(e) => write!(f, "server error: {e}"),
            CallError::Send(e) => write!(f, "call not sent: {e}"),
        }
    }
}

impl std::error::Error for CallError {}

impl From<Timeout> for CallError {
    fn from(_: Timeout) -> Self {
        CallError::Timeout
    }
}

/// The node a call from here to `target` runs on: the current actor's (or inbox's) node,
/// else the process's node `target` lives on, else (as for a send) the process's oldest node.
fn caller_node(target: &Address) -> Result<Node, CallError> {
    crate::actor::current_node()
        .or_else(|| crate::node::home_node(target))
        .or_else(crate::node::any_local_node)
        .ok_or_else(|| {
            CallError::Send(SendError::NoRoute(format!(
                "cannot call {target}: this process has no node to call from"
            )))
        })
}

/// Selective receive until an optional deadline (`None`: forever).
fn receive_until(
    mb: &mut Mailbox,
    patterns: &[&Pattern],
    deadline: Option<Instant>,
) -> Result<(usize, Value), Timeout> {
    match deadline {
        Some(d) => mb.receive_match_timeout(patterns, d.saturating_duration_since(Instant::now())),
        None => Ok(mb.receive_match(patterns)),
    }
}

/// Why a call fails when the connection goes while it waits.
pub(crate) const LOST: &str = "connection lost";

/// The error a DOWN message stands for.
fn down_error(down: &Value) -> CallError {
    let reason = serde_json::from_value::<ExitReason>(down["exit"].clone())
        .unwrap_or(ExitReason::NoSuchActor);
    match reason {
        ExitReason::NoConnection => CallError::NoConnection {
            node: serde_json::from_value::<Address>(down["address"].clone())
                .map(|a| a.node_id().to_string())
                .unwrap_or_default(),
            why: LOST.into(),
        },
        r => CallError::DeadActor(r),
    }
}

/// Decode a response message.
fn decode_response(method: &str, mut msg: Value) -> Result<Value, CallError> {
    if let Some(v) = msg.get_mut("message") {
        return Ok(v.take());
    }
    if let Some(exc) = msg.get("exception") {
        let text = match &exc["message"] {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        return Err(match exc["kind"].as_str() {
            Some("unknown_method") => CallError::UnknownMethod(method.to_string()),
            _ => CallError::Server(text),
        });
    }
    // The seed's shape for an unknown method.
    if msg.get("invalid_method").is_some() {
        return Err(CallError::UnknownMethod(method.to_string()));
    }
    Ok(Value::Null)
}

impl Address {
    /// Call `method` on the server at this address with `message` and wait up to `timeout`
    /// for its response (the seed's `address.call`). Works from an actor and from a plain
    /// thread; see the [module docs](crate::server) for the protocol and every error.
    ///
    /// ```
    /// use pyact::{Mesh, Node, json};
    /// use pyact::server::{CallError, Context, Server, ServerError};
    /// use std::time::Duration;
    ///
    /// struct Adder;
    /// impl Server for Adder {
    ///     fn handle_call(&mut self, method: &str, msg: pyact::Value, _: &mut Context)
    ///         -> Result<pyact::Value, ServerError> {
    ///         match method {
    ///             "add" => Ok(json!(msg[0].as_i64().unwrap_or(0) + msg[1].as_i64().unwrap_or(0))),
    ///             _ => Err(ServerError::UnknownMethod),
    ///         }
    ///     }
    /// }
    /// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let adder = node.spawn_server(Adder);
    /// let t = Duration::from_secs(30);
    /// assert_eq!(adder.call("add", (2, 3), t).unwrap(), 5);
    /// assert_eq!(adder.call("mul", (2, 3), t), Err(CallError::UnknownMethod("mul".into())));
    /// ```
    pub fn call<M: Serialize>(
        &self,
        method: &str,
        message: M,
        timeout: Duration,
    ) -> Result<Value, CallError> {
        let message = serde_json::to_value(&message)
            .map_err(|e| CallError::Send(SendError::NotJson(e.to_string())))?;
        let deadline = Instant::now().checked_add(timeout);
        let (mut mb, mref, reference) = self.request(method, message)?;
        let response = crate::pattern!({"response": = reference});
        let down = crate::pattern!({"down": = mref});
        let result = match receive_until(&mut mb, &[&response, &down], deadline) {
            Ok((0, msg)) => decode_response(method, msg),
            Ok((_, msg)) => Err(down_error(&msg)),
            Err(Timeout) => Err(CallError::Timeout),
        };
        mb.demonitor(mref);
        result
    }

    /// Stop the server at this address (a `"$stop"` request, see [`serve`]) and wait up to
    /// `timeout` until it has ended: its [`Server::terminate`] has run and it exited.
    ///
    /// `Ok(())` if it ended normally; [`CallError::DeadActor`] if it was already dead or
    /// ended with another reason (e.g. `terminate` panicked); [`CallError::Timeout`] if it
    /// did not end in time (it may still be working through earlier messages).
    ///
    /// ```
    /// use pyact::server::Server;
    /// struct Idle;
    /// impl Server for Idle {}
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let s = node.spawn_server(Idle);
    /// s.stop_server(std::time::Duration::from_secs(30)).unwrap();
    /// assert!(node.wait(&s).is_ok()); // ended normally
    /// ```
    pub fn stop_server(&self, timeout: Duration) -> Result<(), CallError> {
        let deadline = Instant::now().checked_add(timeout);
        let (mut mb, mref, _) = self.request(STOP_METHOD, Value::Null)?;
        // The response (if any) stays in the throwaway mailbox: the DOWN is what counts.
        let down = crate::pattern!({"down": = mref});
        match receive_until(&mut mb, &[&down], deadline) {
            Ok((_, msg)) => match down_error(&msg) {
                CallError::DeadActor(ExitReason::Normal(_)) => Ok(()),
                e => Err(e),
            },
            Err(Timeout) => {
                mb.demonitor(mref);
                Err(CallError::Timeout)
            }
        }
    }
}

impl Address {
    /// Send a call request from a fresh throwaway mailbox that monitors this server.
    /// Returns that mailbox, the monitor's reference and the request's reference. A dead
    /// target is not an error here: the monitor's DOWN (already queued) says why.
    fn request(&self, method: &str, message: Value) -> Result<(Mailbox, Ref, Ref), CallError> {
        let mut mb = caller_node(self)?.ephemeral();
        let mref = mb.monitor(self);
        let reference = Ref::new();
        let request = json!({
            "call": reference,
            "method": method,
            "address": mb.addr(),
            "message": message,
        });
        let failed = match self.send(request) {
            Ok(()) | Err(SendError::DeadActor(_)) => return Ok((mb, mref, reference)),
            Err(SendError::NoConnection { node, why }) => CallError::NoConnection { node, why },
            Err(e) => CallError::Send(e),
        };
        mb.demonitor(mref);
        Err(failed)
    }
}

/// A request received by a server: what [`serve`] hands to [`Server::handle_call`], public
/// so that hand-written actors can answer calls too (e.g. to reply later).
///
/// ```
/// use pyact::{Mesh, Node, json};
/// use pyact::server::Call;
/// use std::time::Duration;
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let echo = node.spawn(|mut mb| {
///     let call = Call::parse(mb.receive()).expect("a call");
///     call.reply(json!({"echo": call.message})).unwrap();
/// });
/// let got = echo.call("echo", "hi", Duration::from_secs(30)).unwrap();
/// assert_eq!(got, json!({"echo": "hi"}));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The request's reference; the response carries it back.
    pub reference: Ref,
    /// The method name.
    pub method: String,
    /// Where the response goes.
    pub from: Address,
    /// The argument (`null` if the request had none).
    pub message: Value,
}

impl Call {
    /// Read a request; gives the message back if it is not one (no `call` reference, no
    /// string `method` or no reply `address`).
    ///
    /// ```
    /// use pyact::{json, server::Call};
    /// assert_eq!(Call::parse(json!("just a cast")), Err(json!("just a cast")));
    /// ```
    pub fn parse(mut msg: Value) -> Result<Call, Value> {
        let parts = (|| {
            let reference = serde_json::from_value::<Ref>(msg.get("call")?.clone()).ok()?;
            let method = msg.get("method")?.as_str()?.to_string();
            let from = serde_json::from_value::<Address>(msg.get("address")?.clone()).ok()?;
            Some((reference, method, from))
        })();
        match parts {
            Some((reference, method, from)) => Ok(Call {
                reference,
                method,
                from,
                message: msg
                    .get_mut("message")
                    .map(Value::take)
                    .unwrap_or(Value::Null),
            }),
            None => Err(msg),
        }
    }

    /// Send the success response `{"response": <ref>, "message": value}`.
    ///
    /// A call answered by a plain actor, later than it arrived:
    /// ```
    /// use pyact::{json, server::Call};
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let deferred = node.spawn(|mut mb| {
    ///     let call = Call::parse(mb.receive()).unwrap();
    ///     let n = call.message.as_i64().unwrap_or(0);
    ///     call.reply(json!(n + 1)).unwrap();
    /// });
    /// assert_eq!(deferred.call("inc", 41, std::time::Duration::from_secs(30)).unwrap(), 42);
    /// ```
    pub fn reply(&self, value: Value) -> Result<(), SendError> {
        self.from
            .send(json!({"response": self.reference, "message": value}))
    }

    /// Send the failure response for `error`.
    ///
    /// ```
    /// use pyact::server::{Call, CallError, ServerError};
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let grumpy = node.spawn(|mut mb| {
    ///     let call = Call::parse(mb.receive()).unwrap();
    ///     call.reply_error(&ServerError::Failed("not today".into())).unwrap();
    /// });
    /// let r = grumpy.call("work", (), std::time::Duration::from_secs(30));
    /// assert_eq!(r, Err(CallError::Server("not today".into())));
    /// ```
    pub fn reply_error(&self, error: &ServerError) -> Result<(), SendError> {
        let (kind, message) = match error {
            ServerError::UnknownMethod => ("unknown_method", self.method.clone()),
            ServerError::Failed(m) => ("error", m.clone()),
        };
        self.from.send(json!({
            "response": self.reference,
            "exception": {"kind": kind, "message": message},
        }))
    }
}

/// What a [`Server::handle_call`] returns instead of a value. The server keeps running.
///
/// ```
/// use pyact::server::{CallError, Context, Server, ServerError};
/// use pyact::Value;
/// struct Strict;
/// impl Server for Strict {
///     fn handle_call(&mut self, m: &str, _: Value, _: &mut Context) -> Result<Value, ServerError> {
///         if m == "ok" { Ok(Value::Null) } else { Err(ServerError::UnknownMethod) }
///     }
/// }
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let s = node.spawn_server(Strict);
/// let t = std::time::Duration::from_secs(30);
/// assert_eq!(s.call("nope", (), t), Err(CallError::UnknownMethod("nope".into())));
/// assert_eq!(s.call("ok", (), t), Ok(Value::Null)); // still serving
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerError {
    /// The server has no such method: the caller gets [`CallError::UnknownMethod`].
    UnknownMethod,
    /// The handler failed with this message: the caller gets [`CallError::Server`].
    Failed(String),
}

impl ServerError {
    /// A [`ServerError::Failed`] from anything that displays, for `map_err`.
    ///
    /// ```
    /// use pyact::server::ServerError;
    /// let e = "x".parse::<u8>().map_err(ServerError::failed).unwrap_err();
    /// assert!(matches!(e, ServerError::Failed(m) if m.contains("invalid digit")));
    /// ```
    pub fn failed(e: impl fmt::Display) -> ServerError {
        ServerError::Failed(e.to_string())
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::UnknownMethod => f.write_str("unknown method"),
            ServerError::Failed(e) => f.write_str(e),
        }
    }
}

impl From<String> for ServerError {
    fn from(s: String) -> Self {
        ServerError::Failed(s)
    }
}

impl From<&str> for ServerError {
    fn from(s: &str) -> Self {
        ServerError::Failed(s.to_string())
    }
}

impl From<serde_json::Error> for ServerError {
    fn from(e: serde_json::Error) -> Self {
        ServerError::failed(e)
    }
}

impl From<SendError> for ServerError {
    fn from(e: SendError) -> Self {
        ServerError::failed(e)
    }
}

impl From<CallError> for ServerError {
    fn from(e: CallError) -> Self {
        ServerError::failed(e)
    }
}

/// A gen_server: state plus handlers, run by [`serve`] / [`Node::spawn_server`]. Every
/// method has a default, so a server implements only what it uses; one handler per method
/// is a `match` in [`handle_call`](Server::handle_call).
///
/// ```
/// use pyact::{Mesh, Node, Value, json};
/// use pyact::server::{Context, Server, ServerError};
/// use std::time::Duration;
///
/// #[derive(Default)]
/// struct Counter { n: i64 }
/// impl Server for Counter {
///     fn handle_call(&mut self, method: &str, msg: Value, _: &mut Context)
///         -> Result<Value, ServerError> {
///         match method {
///             "add" => { self.n += msg.as_i64().ok_or("add wants an integer")?; Ok(json!(self.n)) }
///             "get" => Ok(json!(self.n)),
///             _ => Err(ServerError::UnknownMethod),
///         }
///     }
///     fn handle_cast(&mut self, msg: Value, _: &mut Context) {
///         if msg == "reset" { self.n = 0 }
///     }
/// }
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let counter = node.spawn_server(Counter::default());
/// let t = Duration::from_secs(30);
/// counter.call("add", 5, t).unwrap();
/// assert_eq!(counter.call("add", 2, t).unwrap(), 7);
/// assert!(counter.call("add", "x", t).is_err()); // the handler's error; still running
/// counter.send("reset").unwrap();
/// assert_eq!(counter.call("get", (), t).unwrap(), 0);
/// counter.stop_server(t).unwrap();
/// assert_eq!(node.wait(&counter).unwrap(), Value::Null);
/// ```
pub trait Server: Send + 'static {
    /// Runs first, before any message is handled (Erlang's `init/1`); a supervisor that
    /// starts this server waits until it returns (see [`crate::supervisor`]).
    ///
    /// ```
    /// use pyact::server::{Context, Server, ServerError};
    /// use pyact::Value;
    /// struct Cache(Vec<i64>);
    /// impl Server for Cache {
    ///     fn init(&mut self, _: &mut Context) { self.0 = vec![1, 2, 3]; } // before any call
    ///     fn handle_call(&mut self, _: &str, _: Value, _: &mut Context) -> Result<Value, ServerError> {
    ///         Ok(self.0.len().into())
    ///     }
    /// }
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let s = node.spawn_server(Cache(vec![]));
    /// assert_eq!(s.call("len", (), std::time::Duration::from_secs(30)).unwrap(), 3);
    /// ```
    fn init(&mut self, ctx: &mut Context) {
        let _ = ctx;
    }

    /// Handle a call; `Ok(value)` is sent back as the response, `Err` as a failure response.
    /// The default knows no method.
    ///
    /// ```
    /// use pyact::server::{Context, Server, ServerError};
    /// use pyact::{Value, json};
    /// struct Kv(std::collections::HashMap<String, Value>);
    /// impl Server for Kv {
    ///     fn handle_call(&mut self, method: &str, msg: Value, _: &mut Context) -> Result<Value, ServerError> {
    ///         match method {
    ///             "put" => Ok(self.0.insert(msg[0].as_str().ok_or("key")?.into(), msg[1].clone()).into()),
    ///             "get" => Ok(self.0.get(msg.as_str().ok_or("key")?).cloned().into()),
    ///             _ => Err(ServerError::UnknownMethod),
    ///         }
    ///     }
    /// }
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let kv = node.spawn_server(Kv(Default::default()));
    /// let t = std::time::Duration::from_secs(30);
    /// kv.call("put", ("a", 1), t).unwrap();
    /// assert_eq!(kv.call("get", "a", t).unwrap(), json!(1));
    /// ```
    fn handle_call(
        &mut self,
        method: &str,
        message: Value,
        ctx: &mut Context,
    ) -> Result<Value, ServerError> {
        let _ = (method, message, ctx);
        Err(ServerError::UnknownMethod)
    }

    /// Handle any message that is not a call (casts, trapped exits, DOWNs). Default: ignore
    /// it (logged at debug level).
    ///
    /// ```
    /// use pyact::server::{Context, Server, ServerError};
    /// use pyact::Value;
    /// #[derive(Default)]
    /// struct Hits(u64);
    /// impl Server for Hits {
    ///     fn handle_cast(&mut self, _: Value, _: &mut Context) { self.0 += 1; } // fire and forget
    ///     fn handle_call(&mut self, _: &str, _: Value, _: &mut Context) -> Result<Value, ServerError> {
    ///         Ok(self.0.into())
    ///     }
    /// }
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let s = node.spawn_server(Hits::default());
    /// for _ in 0..3 { s.send("hit").unwrap(); }
    /// assert_eq!(s.call("count", (), std::time::Duration::from_secs(30)).unwrap(), 3);
    /// ```
    fn handle_cast(&mut self, message: Value, ctx: &mut Context) {
        log::debug!("server {} ignored message {message}", ctx.addr());
    }

    /// Runs once when the server ends, with the reason it ends with (see the
    /// [module docs](self) for when it does not run). The mailbox is still usable.
    ///
    /// ```
    /// use pyact::server::{Context, Server};
    /// use pyact::{Address, ExitReason};
    /// struct Tells(Address);
    /// impl Server for Tells {
    ///     fn terminate(&mut self, reason: &ExitReason, _: &mut Context) {
    ///         self.0.send(reason.to_json()).unwrap(); // last words
    ///     }
    /// }
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut inbox = node.inbox();
    /// let s = node.spawn_server(Tells(inbox.addr()));
    /// s.stop_server(std::time::Duration::from_secs(30)).unwrap();
    /// assert_eq!(inbox.receive_timeout(std::time::Duration::from_secs(10)).unwrap(), pyact::json!({"normal": null}));
    /// ```
    fn terminate(&mut self, reason: &ExitReason, ctx: &mut Context) {
        let _ = (reason, ctx);
    }
}

/// The exit reason an unwinding payload stands for (as the actor runner computes it).
fn reason_of(payload: &(dyn Any + Send)) -> ExitReason {
    if let Some(exit) = payload.downcast_ref::<ExitUnwind>() {
        exit.0.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        ExitReason::Panicked((*s).to_string())
    } else if let Some(s) = payload.downcast_ref::<String>() {
        ExitReason::Panicked(s.clone())
    } else {
        ExitReason::Panicked("non-string panic payload".to_string())
    }
}

/// Run `server` on `mailbox` until it stops; returns the exit reason, so it fits an actor
/// body or a supervisor's child factory: `node.spawn(|mb| serve(MyServer::new(), mb))`.
/// See the [module docs](self) for the loop's rules.
///
/// If [`Server::init`] calls [`Context::stop`], the server is not started: it does not
/// [`init_ack`](crate::supervisor::init_ack), so under a supervisor the child's start fails
/// (and with it the supervisor's start, or `start_child`).
///
/// ```
/// use pyact::server::{Server, serve};
/// struct Idle;
/// impl Server for Idle {}
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// // Any actor can become a server, e.g. after some work of its own.
/// let s = node.spawn(|mut mb| { mb.receive(); serve(Idle, mb) });
/// s.send("start serving").unwrap();
/// s.stop_server(std::time::Duration::from_secs(30)).unwrap();
/// assert!(node.wait(&s).is_ok());
/// ```
pub fn serve<S: Server>(server: S, mailbox: Mailbox) -> ExitReason {
    serve_from(server, Context::new(mailbox, None), false)
}

/// Why the loop of [`serve_from`] left.
enum Left {
    /// Stopped: the exit reason.
    Stop(ExitReason),
    /// To hibernate ([`Context::hibernate`], [`Context::hibernate_after`]).
    Hibernate,
}

/// [`serve`]'s loop, entered at the start (`initialized` false: `init` runs first) or again
/// after a hibernation. It hibernates outside its `catch_unwind`, whose handler would take
/// the hibernation's unwind for a crash.
fn serve_from<S: Server>(mut server: S, mut ctx: Context, mut initialized: bool) -> ExitReason {
    let mut stop_calls: Vec<Call> = Vec::new();
    // A thread's inbox has no coroutine to give back: it goes on receiving.
    let can_hibernate = !ctx.mailbox.is_inbox();
    let run = catch_unwind(AssertUnwindSafe(|| {
        if !initialized {
            server.init(&mut ctx);
            initialized = true;
            // An init that asked to stop did not start: no ack, so a supervisor starting
            // this child sees it exit instead and fails its own start, as documented there.
            if ctx.stop.is_none() {
                crate::supervisor::init_ack();
            }
        }
        loop {
            if let Some(reason) = ctx.stop.take() {
                return Left::Stop(reason);
            }
            if std::mem::take(&mut ctx.hibernate_now) && can_hibernate {
                return Left::Hibernate;
            }
            let msg = match ctx.idle_limit {
                Some(idle) if can_hibernate => match ctx.mailbox.receive_timeout(idle) {
                    Ok(msg) => msg,
                    Err(_) => return Left::Hibernate,
                },
                _ => ctx.mailbox.receive(),
            };
            match Call::parse(msg) {
                Ok(call) if call.method == STOP_METHOD => {
                    ctx.stop = Some(ExitReason::Normal(Value::Null));
                    stop_calls.push(call);
                }
                Ok(mut call) => {
                    let message = call.message.take();
                    let sent = match server.handle_call(&call.method, message, &mut ctx) {
                        Ok(v) => call.reply(v),
                        Err(e) => call.reply_error(&e),
                    };
                    if let Err(e) = sent {
                        log::debug!("server {}: response not delivered: {e}", ctx.addr());
                    }
                }
                Err(msg) => server.handle_cast(msg, &mut ctx),
            }
        }
    }));
    match run {
        Ok(Left::Hibernate) => {
            let Context {
                mailbox,
                idle_limit,
                ..
            } = ctx;
            mailbox.hibernate(move |mailbox| {
                serve_from(server, Context::new(mailbox, idle_limit), true)
            })
        }
        Ok(Left::Stop(reason)) => {
            server.terminate(&reason, &mut ctx);
            for call in stop_calls {
                let _ = call.reply(Value::Null);
            }
            reason
        }
        Err(payload) => {
            let reason = reason_of(&*payload);
            if initialized && reason != ExitReason::Killed {
                server.terminate(&reason, &mut ctx);
            }
            resume_unwind(payload)
        }
    }
}

impl Node {
    /// Spawn an actor running [`serve`] on `server`.
    ///
    /// ```
    /// use pyact::server::{CallError, Server};
    /// struct Nothing; // every handler defaulted: no methods
    /// impl Server for Nothing {}
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let s = node.spawn_server(Nothing);
    /// let r = s.call("hello", (), std::time::Duration::from_secs(30));
    /// assert_eq!(r, Err(CallError::UnknownMethod("hello".into())));
    /// ```
    pub fn spawn_server<S: Server>(&self, server: S) -> Address {
        self.spawn(move |mb| serve(server, mb))
    }
}

impl std::error::Error for ServerError {}
