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
//! | mailboxes and receiving | [`mailbox`] |
//! | patterns | [`pattern`] |
//! | actors | [`actor`] |
//! | nodes, registry, wait | [`node`] |
//! | the mesh | [`mesh`] |
//! | exit reasons | [`exit`] |
//! | links and monitors | [`link`] |
//! | remote nodes, heartbeats, node events | [`remote`] |
//! | wire frames, cookie handshake | `frame.rs`, `handshake.rs`, `connection.rs` |
//! | call/cast servers (gen_server) | [`server`] |
//! | supervisors | [`supervisor`] |
//! | routers | [`router`] |
//! | runtime configuration | [`config`] |
//! | sleeping, yielding, parking | [`park`] |
//! | blocking std calls off the workers | [`blocking`] |
//! | the watchdog | [`watchdog`] |
//!
//! ## Rules for actor code
//! See the README's "Rules for actor code": block only in pyact calls ([`sleep`],
//! [`blocking`], receive, wait, call), call [`yield_now`] in long loops, never hold a
//! `thread_local!` reference across a pyact call. A panic ends only the actor that panicked
//! ([`ExitReason::Panicked`], reported through `log`); a stack overflow aborts the process
//! naming the actor (see [`actor`]); the [`watchdog`] names an actor that holds its worker.

#![warn(missing_docs)]

pub mod actor;
pub mod address;
mod binary;
pub mod blocking;
pub mod config;
mod connection;
mod digest;
mod error;
pub mod exit;
mod frame;
mod handshake;
pub mod link;
pub mod mailbox;
pub mod mesh;
pub mod node;
mod panic;
pub mod park;
pub mod pattern;
mod reference;
pub mod remote;
pub mod router;
pub mod server;
pub mod supervisor;
pub mod watchdog;

pub use actor::{Actor, curaddr, current_node, live_actors, spawn};
pub use address::Address;
pub use binary::{Binary, base64_decode, base64_encode};
pub use blocking::blocking;
pub use config::{Config, ConfigError};
pub use error::{NodeError, RegistryError, SendError, SpawnError};
pub use exit::{ExitReason, IntoExit};
pub use mailbox::{Mailbox, Mark, Timeout};
pub use mesh::Mesh;
pub use node::{ActorInfo, Node, NodeName};
pub use park::{sleep, yield_now};
pub use pattern::Pattern;
pub use reference::Ref;
pub use remote::{Factory, NodeOptions};
pub use router::{Router, Routing};
pub use serde_json::{Value, json};
pub use server::{CallError, Server, ServerError, serve};
pub use supervisor::{ChildSpec, Restart, Strategy, Supervisor};

/// A random `u64` from the standard library's per-process random hasher keys (not for
/// cryptography: the wire handshake reads the OS generator).
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    h.finish()
}
