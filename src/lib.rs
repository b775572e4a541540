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
//! | wire frames, cookie handshake, one connection | `remote/frame.rs`, `remote/handshake.rs`, `remote/connection.rs` |
//! | listener, dialer, peer table, frame dispatch, requests, remote links | `remote/{listener,dialer,peers,dispatch,requests,watch}.rs` |
//! | call/cast servers (gen_server) | [`server`] |
//! | supervisors | [`supervisor`] |
//! | routers | [`router`] |
//! | runtime configuration | [`config`] |
//!
//! ## Rules for actor code
//! - Block only in pyact calls (receive, wait) or `may` primitives; a blocking
//!   `std` call (e.g. `std::thread::sleep`, `std::sync::mpsc::Receiver::recv`) stalls a
//!   whole worker thread.
//! - Do not hold a reference to a `thread_local!` across a receive: the coroutine may
//!   resume on another worker thread.
//! - A panic ends the actor that panicked, with [`ExitReason::Panicked`]; nothing else.

#![warn(missing_docs)]

pub mod actor;
pub mod address;
mod binary;
pub mod config;

mod error;
pub mod exit;

pub mod link;
pub mod mailbox;
pub mod mesh;
pub mod node;
pub mod pattern;
mod reference;
pub mod remote;
pub mod router;
pub mod server;
mod spawn_options;
pub mod supervisor;

pub use actor::{Actor, curaddr, current_node, live_actors, spawn};
pub use address::Address;
pub use binary::{Binary, base64_decode, base64_encode};
pub use config::{Config, ConfigError};
pub use error::{NodeError, RegistryError, SendError, SpawnError};
pub use exit::{ExitReason, IntoExit};
pub use mailbox::{Mailbox, Mark, Timeout};
pub use mesh::Mesh;
pub use node::{Node, NodeName};
pub use pattern::Pattern;
pub use reference::Ref;
pub use remote::{Factory, NetStats, NodeOptions};
pub use router::{Router, Routing};
pub use serde_json::{Value, json};
pub use server::{CallError, Server, ServerError, serve};
pub use spawn_options::SpawnOptions;
pub use supervisor::{ChildSpec, Restart, Strategy, Supervisor};

/// A random `u64` from the standard library's per-process random hasher keys (not for
/// cryptography: the wire handshake reads the OS generator).
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    h.finish()
}
