//! # pyact — Erlang-style actors for Rust
//!
//! The Rust successor of python-actors: actors are stackful `may` coroutines, so
//! [`Mailbox::receive`] is a plain blocking call; messages are JSON values; addresses work
//! across a [`Mesh`] of [`Node`]s; links, monitors and supervisors give Erlang's fault
//! tolerance.
//!
//! The seed's ring, in Rust:
//!
//! ```
//! use pyact::{Mesh, Node, Mailbox, Address, spawn, curaddr};
//!
//! fn forward(mut mb: Mailbox, next: Address) {
//!     let data = mb.receive();
//!     let _ = next | data;
//! }
//!
//! fn build(mut mb: Mailbox, n: usize) -> serde_json::Value {
//!     let mut ring: Vec<Address> = Vec::new();
//!     for _ in 0..n {
//!         let next = ring.last().cloned().unwrap_or_else(|| curaddr().unwrap());
//!         ring.push(spawn(move |mb| forward(mb, next)));
//!     }
//!     let _ = ring.last().unwrap() | serde_json::json!({"text": "hello around the ring"});
//!     mb.receive()
//! }
//!
//! let mesh = Mesh::new();
//! let node = Node::new(&mesh, "cookie@127.0.0.1:0").unwrap();
//! let addr = node.spawn(|mb| build(mb, 100));
//! assert_eq!(node.wait(&addr).unwrap()["text"], "hello around the ring");
//! ```
//!
//! ## Where things are
//! | concept | module |
//! |---|---|
//! | addresses and sending | [`address`] |
//! | request/reply with plain actors | [`ask`](mod@ask) |
//! | mailboxes and receiving | [`mailbox`] |
//! | patterns | [`pattern`](mod@pattern) |
//! | actors | [`actor`] |
//! | nodes, registry, wait | [`node`] |
//! | looking into a node: actors, names, links, monitors | [`observe`] |
//! | the mesh | [`mesh`] |
//! | exit reasons | [`exit`] |
//! | links and monitors | [`link`] |
//! | remote nodes, heartbeats, node events | [`remote`] |
//! | wire frames, cookie handshake, one connection | `remote/frame.rs`, `remote/handshake.rs`, `remote/connection.rs` |
//! | listener, dialer, peer table, frame dispatch, requests, remote links | `remote/{listener,dialer,peers,dispatch,requests,watch}.rs` |
//! | call/cast servers (gen_server) | [`server`] |
//! | supervisors | [`supervisor`] |
//! | routers | [`router`] |
//! | runtime configuration | [`config`] |
//! | bytes inside messages, base64 | [`binary`] |
//! | sleeping, yielding, parking | [`park`] |
//! | blocking std calls off the workers | [`blocking`](mod@blocking) |
//! | TCP sockets for actors (one actor per connection) | [`net`] |
//! | the watchdog | [`watchdog`] |
//! | testing actors: a probe with `expect_msg` / `expect_no_msg` | [`testing`] |
//!
//! ## Rules for actor code
//! See the README's "Rules for actor code": block only in pyact calls ([`sleep`],
//! [`blocking`](fn@blocking), receive, wait, call), call [`yield_now`] in long loops, never hold a
//! `thread_local!` reference across a pyact call. A panic ends only the actor that panicked
//! ([`ExitReason::Panicked`], reported through `log`, or on stderr without a logger); a stack
//! overflow aborts the process naming the actor (see [`actor`]); the [`watchdog`] names an
//! actor that holds its worker.

#![warn(missing_docs)]

pub mod actor;
pub mod address;
pub mod ask;
pub mod binary;
pub mod blocking;
pub mod config;
mod error;
pub mod exit;
mod heap;
pub mod link;
pub mod mailbox;
pub mod mesh;
pub mod net;
pub mod node;
pub mod observe;
mod panic;
pub mod park;
pub mod pattern;
mod pool;
mod reference;
pub mod remote;
pub mod router;
pub mod server;
mod spawn_options;
pub mod supervisor;
pub mod testing;
mod wait;
pub mod watchdog;

pub use actor::{Actor, curaddr, current_node, live_actors, spawn, spawn_link};
pub use address::Address;
pub use ask::{ask, reply};
pub use binary::Binary;
pub use blocking::blocking;
pub use config::{Config, ConfigError};
pub use error::{NodeError, RegistryError, SendError, SpawnError};
pub use exit::{ExitReason, IntoExit};
pub use mailbox::{Mailbox, Mark, Timeout};
pub use mesh::Mesh;
pub use node::{Node, NodeName};
pub use observe::ActorInfo;
pub use park::{sleep, yield_now};
pub use pattern::Pattern;
pub use reference::Ref;
pub use remote::{Factory, NetStats, NodeOptions, WEAK_COOKIE_BELOW, random_cookie};
pub use router::{Router, Routing};
/// The JSON library pyact's messages are made of, re-exported so that a program needs no
/// dependency of its own on it (and cannot get a second, mismatched version):
///
/// ```
/// use pyact::serde_json::{self, Value, json};
/// let msg: Value = serde_json::from_str(r#"{"ping": 1}"#).unwrap();
/// assert_eq!(msg, json!({"ping": 1}));
/// ```
pub use serde_json;
pub use serde_json::{Value, json};
pub use server::{Call, CallError, Server, ServerError, serve};
pub use spawn_options::SpawnOptions;
pub use supervisor::{ChildSpec, Restart, Strategy, Supervisor};

/// Every Rust block of the README, compiled and run as a doctest, so the README cannot drift
/// from the API (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Checks of the API's Rust conventions that only the compiler can make (each block must
/// fail to compile; `cargo test --doc`).
///
/// A configuration built and dropped without `apply` is a warning (here an error):
/// ```compile_fail
/// #![deny(unused_must_use)]
/// pyact::Config::default().workers(2);
/// ```
/// So is a supervisor spec that is never spawned:
/// ```compile_fail
/// #![deny(unused_must_use)]
/// use pyact::supervisor::{Strategy, Supervisor};
/// Supervisor::new(Strategy::OneForOne);
/// ```
/// ... a child spec never given to a supervisor:
/// ```compile_fail
/// #![deny(unused_must_use)]
/// pyact::ChildSpec::new("worker", |_| ());
/// ```
/// ... and a router never spawned:
/// ```compile_fail
/// #![deny(unused_must_use)]
/// pyact::Router::new(pyact::Routing::RoundRobin, 2, |_, _| ());
/// ```
/// ... and a mailbox mark that is never used:
/// ```compile_fail
/// #![deny(unused_must_use)]
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// node.inbox().mark();
/// ```
/// Public enums that will grow are `#[non_exhaustive]`: a match needs a wildcard arm.
/// ```compile_fail
/// fn describe(r: &pyact::ExitReason) -> &'static str {
///     use pyact::ExitReason::*;
///     match r {
///         Normal(_) => "normal", Failed(_) => "failed", Panicked(_) => "panicked",
///         Killed => "killed", NoSuchActor => "noproc", NoConnection => "noconnection",
///         Shutdown => "shutdown", Linked { .. } => "linked",
///     }
/// }
/// ```
/// ```compile_fail
/// fn describe(e: &pyact::CallError) -> &'static str {
///     use pyact::CallError::*;
///     match e {
///         Timeout => "t", DeadActor(_) => "d", NoConnection { .. } => "n",
///         UnknownMethod(_) => "u", Server(_) => "s", Send(_) => "x",
///     }
/// }
/// ```
/// The base64 codec is not at the crate root (it lives in [`binary`]):
/// ```compile_fail
/// let _ = pyact::base64_encode(b"x");
/// ```
#[cfg(doctest)]
pub struct ConventionChecks;

/// A random `u64` from the standard library's per-process random hasher keys (not for
/// cryptography: the wire handshake reads the OS generator).
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    h.finish()
}
