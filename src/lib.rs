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
//! | cluster-wide names, process groups | [`global`], [`pg`] |
//! | remote nodes, heartbeats, node events | [`remote`] |
//! | wire frames, cookie handshake, one connection | `remote/frame.rs`, `remote/handshake.rs`, `remote/connection.rs` |
//! | listener, dialer, peer table, frame dispatch, requests, remote links | `remote/{listener,dialer,peers,dispatch,requests,watch}.rs` |
//! | call/cast servers (gen_server) | [`server`] |
//! | supervisors | [`supervisor`] |
//! | routers | [`router`] |
//! | runtime configuration | [`config`] |
//! | bytes inside messages, base64 | [`binary`] |
//! | sleeping and yielding | [`actor::sleep`], [`actor::yield_now`] |
//! | blocking std calls off the workers | [`blocking`](mod@blocking) |
//! | TCP sockets for actors (one actor per connection) | [`net`] |
//! | the watchdog | [`actor`](actor#the-watchdog) |
//! | testing actors: a probe with `expect_msg` / `expect_no_msg` | [`testing`] |
//! | timers: `send_after`, `send_interval`, `exit_after`, `kill_after`, `cancel` | [`timer`] |
//!
//! ## Rules for actor code
//! Block only in pyact calls ([`sleep`](actor::sleep), [`blocking`](blocking::blocking()), receive, wait, call), call
//! [`yield_now`](actor::yield_now) in long loops, use [`net`] for sockets, never hold a `thread_local!` reference
//! across a pyact call. A panic ends only the actor that panicked ([`ExitReason::Panicked`],
//! reported through `log`, or on stderr without a logger); a stack overflow aborts the process
//! naming the actor; the [watchdog](actor#the-watchdog) names an actor that holds its worker. The whole list, with
//! what to use instead of each blocking call: [the rules for actor code](actor#rules-for-actor-code).
//!
//! ## What pyact keeps of python-actors
//!
//! python-actors (Donovan Preston's library, ported to gevent; MIT) brought Erlang's
//! shared-nothing model to Python: an actor is a lightweight process that alone changes its own
//! state, creates other actors and gets their addresses, sends messages to any address it
//! knows, and waits for a *specific kind* of message in its mailbox. Messages were serialized to
//! JSON and copied, which isolated actors and made every message network-safe. pyact keeps that
//! model and its vocabulary, and does what that project's roadmap listed next:
//!
//! | python-actors | pyact |
//! |---|---|
//! | `Mesh()`, `Node(mesh, 'cookie@host:port')` | `Mesh::new()`, `Node::new(&mesh, "cookie@host:port")`; two nodes talk only if they share the cookie |
//! | `node.spawn(fn, args...)`, subclassing `Actor` | `node.spawn(closure)` (arguments by capture), `impl Actor` |
//! | the actor function gets `receive` first | it gets its `Mailbox` first |
//! | `actor.spawn(...)`, `curaddr()`, `node.wait(addr)` | `spawn(..)`, `spawn_link(..)`, `curaddr()`, `node.wait(&addr)` / `addr.wait()` |
//! | `{'from': curaddr(), ...}` and replying to `msg['from']` | `ask(&addr, json!({...}), timeout)` adds `"from"`; the actor answers with `reply(&msg, v)` or `Address::try_from(&msg["from"])?` |
//! | `address \| message` | `address \| message` (returns a `Result`) |
//! | `pat, msg = receive(DATA, EVENT)` with patterns like `('data', str)`, `{'name': int}`, `[str]`, `object` | `mb.receive_match(&[&data, &event])` with the same patterns written in `pattern!` |
//! | messages copied as JSON | messages are `serde_json::Value`s, moved locally, JSON on the wire |
//! | roadmap: remote nodes, linking and monitoring, supervisors and routers | all there, with Erlang/OTP's semantics |
//!
//! The one thing python-actors could not give is real isolation (Python has no private state);
//! in Rust an actor's state lives on its own coroutine stack, reachable only through messages.
//!
//! ## Typed messages
//!
//! Any `serde` type is a message: `send` serializes it (a `Value` is moved as is), and
//! `receive_as::<T>()` takes the first message that deserializes into `T`, leaving the others
//! queued, in order. Enums with `#[serde(tag = "...")]` give flat JSON objects, so a
//! `pattern!` over the same shape selects them without deserializing; an `Address` field
//! travels as `{"$addr": ...}`. `examples/typed.rs` (`cargo run --example typed`) is a bank
//! account written this way.
//!
//! ```rust
//! use pyact::{Address, Mesh, Node, pattern};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! #[serde(tag = "op", rename_all = "snake_case")]
//! enum Request {
//!     Add { n: i64, from: Address },
//!     Stop,
//! }
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! struct Total {
//!     total: i64,
//! }
//!
//! let node = Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap();
//! let adder = node.spawn(|mut mb| {
//!     let mut total = 0;
//!     loop {
//!         match mb.receive_as::<Request>() {
//!             Request::Add { n, from } => {
//!                 total += n;
//!                 let _ = from.send(Total { total });
//!             }
//!             Request::Stop => return total,
//!         }
//!     }
//! });
//! let mut inbox = node.inbox();
//! adder.send("not a request: stays queued, ignored").unwrap();
//! adder.send(Request::Add { n: 2, from: inbox.addr() }).unwrap();
//! assert_eq!(inbox.receive_as::<Total>(), Total { total: 2 });
//! // A pattern over the same shape, on the raw JSON:
//! adder.send(Request::Add { n: 3, from: inbox.addr() }).unwrap();
//! let (_, raw) = inbox.receive_match(&[&pattern!({"total": int})]);
//! assert_eq!(raw["total"], 5);
//! adder.send(Request::Stop).unwrap();
//! assert_eq!(node.wait(&adder).unwrap(), 5);
//! ```
//!
//! ## The API at a glance
//!
//! | | |
//! |---|---|
//! | `node.spawn(f)` / `spawn(f)` in an actor | start an actor; `f(mailbox)`'s return value is its result: a `Value`, a number, a string, `()`, a `Result`... (`\|_\| 2 + 2` works, and so does a closure that loops forever) |
//! | `spawn_link(f)` in an actor / `node.spawn_link(&to, f)` | start an actor linked to the current one / to `to` |
//! | `node.spawn_actor(s)` | struct actors: `impl Actor for S { fn run(self, mb: Mailbox) -> impl IntoExit }` |
//! | `node.wait(&addr)` | block until it ends: `Ok(value)` or `Err(ExitReason::{Failed, Panicked, Killed, NoSuchActor, NoConnection, ...})`; works after the end too |
//! | `addr.wait()`, `addr.wait_timeout(d)` | the same from the address, in an actor or a thread; the timed one gives `Err(Timeout)` while the actor runs |
//! | `node.wait_all(&[..])` | the seed's `wait_all` |
//! | `addr.kill()` | untrappable kill, effective at the actor's next receive |
//! | `curaddr()` | the running actor's address |
//! | `node.register(name, &addr)`, `whereis`, `whereis_remote`, `send_named` | the registry |
//! | `node.inbox()` | a mailbox for a plain thread, to receive replies |
//! | `Binary(bytes)` | bytes inside JSON, as `{"$bin": "<base64>"}` |
//! | `ask(&addr, msg, timeout)` / `addr.ask(msg, timeout)` | request/reply with a plain actor: adds `"from": <reply address>` to the object `msg` and returns the first message sent there (`CallError` on timeout or death); the actor answers with `reply(&msg, answer)` |
//! | `Address::try_from(&msg["from"])` | read an address out of a message |
//!
//! An `Address` is one `Arc`: `Clone + Send + Sync + Eq + Hash + Display`, and inside JSON it is
//! `{"$addr": "host:port/id/creation"}` (its `Display` too, which parses back), so it can be sent
//! to another actor (on any node) and used there; the creation number keeps an address of a
//! restarted node's earlier start from reaching the new start's actors.
//!
//! A panic ends only the actor that panicked; its panic message is its exit reason.
//!
//! ## pyact beside crates.io `may`
//!
//! pyact runs on its own forks of `may` and `generator`,
//! published as the crates `pyact-may` and `pyact-generator` (vendor/README.md says what they
//! fix, as a patch series against the upstream releases); `pyact = "0.1"` brings them in. A
//! program may depend on crates.io `may` too, directly or through another crate: the forks have
//! assembly symbols of their own, so both link into one binary (`.ci/downstream` runs a `may`
//! coroutine and a pyact ring in one process). They are two runtimes with their own worker
//! threads: inside an actor, block only through pyact's calls, never through crates.io `may`'s.
//!
//! ## Source layout
//!
//! One concept per file. A message goes `address.rs` (sending) → `node.rs` (routing) →
//! `mailbox/` (the queue, then selective receive with `pattern.rs`); across nodes it leaves
//! through the door, `distribution.rs`, into `remote/mod.rs` (`send`) and arrives through
//! `remote/dispatch.rs`.
//!
//! **The core and the network.** Everything above `remote/` is the core: it runs a node on its
//! own (build with `default-features = false` for a node without networking), and it reaches
//! other nodes only through the `Distribution` trait in `distribution.rs` (send, link,
//! monitor, wait, node shutdown, ...), which `remote/` implements. `.ci/rooms.py` fails if any
//! other core file names the network.
//!
//! | concept | files |
//! |---|---|
//! | actors, their start and end | `actor.rs` (spawn, run, end), `cell.rs` (what others reach of an actor: links, monitors, waiters, exit), `context.rs` (which actor or thread is running), `exit.rs` (reasons), `pool.rs` (coroutine reuse, the queue of actors waiting for a coroutine), `heap.rs` (heap growth before fresh coroutines), `spawn_options.rs` |
//! | mailboxes | `mailbox/`: `mod.rs` (the receive API), `queue.rs`, `wait.rs` (parking a receiver), `bounded.rs` (mailbox limits), `doom.rs` (signals that skip the queue), `dormant.rs` (actors that start on their first message) |
//! | nodes and names | `node.rs` (the actor table, routing, wait), `node_name.rs` (`cookie@host:port`), `registry.rs` (local names), `mesh.rs` |
//! | links and monitors | `link.rs` (local), `remote/watch.rs` (across nodes) |
//! | waiting and asking | `wait.rs` (`addr.wait()`), `ask.rs` (request/reply with plain actors) |
//! | actor code that must not hold a worker | `park.rs` (`sleep`, `yield_now`), `blocking.rs`, `net/` (sockets), `watchdog.rs`, `panic.rs` (panic reports) |
//! | OTP toolkit | `server.rs` (gen_server), `supervisor/` (specs and client in `mod.rs`, the running supervisor in `running.rs`), `router.rs` |
//! | cluster services | `global/` (names: the calls in `mod.rs`, the system actor in `server.rs`), `pg.rs` (groups), `service.rs` (the system actor per node they share), `timer.rs` (one timer service per node) |
//! | runtime and introspection | `config.rs`, `observe.rs` (`node.info`, `node.stats`), `binary.rs`, `testing.rs` |
//! | the door to other nodes | `distribution.rs` |
//! | the network | `remote/`: `options.rs` (every limit), `listener.rs`, `dialer.rs`, `handshake.rs` + `digest.rs` (cookie proof), `door.rs` (handshake slots, guess budget), `sources.rs` (per-source rate limit), `frame.rs` (wire format), `connection.rs` (one connection: reader, writer, outbox), `peers.rs` (one connection per pair), `dispatch.rs` (one function per frame kind), `placed.rs` (what peers placed here: caps, release), `requests.rs`, `stats.rs`, `cluster.rs` (connect-all: peer lists after admission), `transport.rs` + `tls.rs` (plain or TLS streams, feature `tls`); `protocol.md` states the wire protocol |
//! | patched dependencies | `vendor/`: the forks `pyact-may` and `pyact-generator`, workspace crates; `vendor/patches/` holds their patch series against the upstream releases, `vendor/check-forks.sh` checks it, `vendor/README.md` says why each |
//!
//! ## Performance
//!
//! Side by side with Erlang/OTP 25 on this project's 2-core, 24 GiB machine, interleaved
//! (`RING_1M=1 benches/compare.sh 5`, medians; the table, the commands and the machine are
//! in BENCHMARKS.md, the history of each row in BENCHMARKS-HISTORY.md):
//!
//! | workload | pyact | Erlang | pyact / Erlang |
//! |---|---|---|---|
//! | spawn + exit + wait, per actor | 0.59–0.67 µs | 1.40–1.58 µs | 0.39–0.48x |
//! | ring 10k: build + pass | 10.3–10.9 ms | 28.6–31.6 ms | 0.33–0.36x |
//! | ring 1M, whole process | 2.2 s, 0.82 GiB peak | 3.1–4.5 s, 2.5 GiB | 0.66–0.71x time, 0.32x memory |
//! | idle actor, resident (100k) | 5.45 KiB | 2.86 KiB | 1.90x |
//! | idle actor spawned to start on its first message | 0.86 KiB | 2.86 KiB | 0.30x |
//! | idle actor, hibernated (`Mailbox::hibernate`) | 1.02 KiB | 1.21 KiB (`erlang:hibernate/3`) | 0.84x |
//! | ping-pong, round trip | 0.30 µs | 0.45–0.48 µs | 0.65x |
//! | remote round trip, two processes | 19.6–28.5 µs | 47–50 µs | 0.41–0.60x |
//! | remote one-way, two processes | 2.1–2.3 M msg/s | 0.39–0.61 M msg/s | 3.7–5x Erlang's rate |
//!
//! Where pyact still trails: a *fresh* actor costs kernel work (the first-touch page fault of
//! the page its stack runs on, and a share of a page table; stacks are carved out of shared
//! slabs, so a million actors need no sysctl) and a 4 KiB stack page that an Erlang process
//! does not have. Actors that end park their coroutine (a *runner*) in a pool, grown lazily
//! and shrunk when idle; the next spawn hands its function to one of them, and an actor
//! spawned by an actor while none is free waits for one without a stack of its own
//! (`Status::Starting`), so a burst of short actors runs on a few stacks. Of those waiting,
//! one whose mail has arrived starts first, and they are started one at a time, so the
//! seed's ring passes its message on a few warm coroutines and a million forwarders fit
//! in 0.82 GB. An actor that starts by waiting for a message can also be spawned with
//! `SpawnOptions::start_on_message`: no coroutine at all until its first message
//! (`Status::Dormant`), wherever it is spawned from (0.86 KiB an idle actor). One that has
//! run can give its coroutine back until its next message with `Mailbox::hibernate`
//! (Erlang's `erlang:hibernate/3`): 1.02 KiB a hibernated actor, Erlang's 1.21. Against bare `may`
//! coroutines moving the same JSON (`cargo bench --bench pingpong`), ping-pong costs 0.95x.
//! A worker that just had I/O polls its sockets for up to 100 µs before it sleeps (as
//! Erlang's schedulers spin), so a remote round trip does not wait for a sleeping CPU to wake.
//!
//! A node under attack (200 trickling handshakes, 5,000 remote waits and a flood to a slow bounded
//! actor at once, `cargo run --release --example remote_under_attack 10`) answers a legitimate
//! peer's ping with p99 0.16–2.5 ms.

#![warn(missing_docs)]
// Without the network, what the core offers it (remote waiters, the network's coroutine
// spawner, payloads from the wire) has no caller; with it (the default), unused code is
// still an error in CI.
#![cfg_attr(not(feature = "net"), allow(dead_code))]

pub mod actor;
pub mod address;
pub mod ask;
pub mod binary;
pub mod blocking;
mod cell;
pub mod config;
mod context;
mod distribution;
pub mod error;
pub mod exit;
#[cfg(feature = "net")]
pub mod global;
mod heap;
pub mod link;
pub mod mailbox;
pub mod mesh;
#[cfg(feature = "net")]
pub mod net;
pub mod node;
mod node_name;
pub mod observe;
mod padded;
mod panic;
mod park;
pub mod pattern;
#[cfg(feature = "net")]
pub mod pg;
mod pool;
mod reference;
mod registry;
#[cfg(feature = "net")]
pub mod remote;
pub mod router;
pub mod server;
#[cfg(feature = "net")]
mod service;
mod spawn_options;
pub mod supervisor;
pub mod testing;
pub mod timer;
mod wait;
mod watchdog;

// The crate root: what nearly every program names (at most 30 names, issue 18). Everything
// else is one module down, in the module of its concept (CHANGELOG.md lists the moves).
pub use actor::{Actor, curaddr, spawn, spawn_link};
pub use address::Address;
pub use ask::{ask, reply};
pub use error::{NodeError, SendError, SpawnError};
pub use exit::{ExitReason, IntoExit};
pub use mailbox::Mailbox;
pub use mesh::Mesh;
pub use node::Node;
pub use pattern::Pattern;
#[cfg(feature = "net")]
pub use remote::NodeOptions;
pub use router::Router;
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
pub use server::{Server, serve};
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
/// pyact::config::Config::default().workers(2);
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
/// pyact::Router::new(pyact::router::Routing::RoundRobin, 2, |_, _| ());
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
/// fn describe(e: &pyact::server::CallError) -> &'static str {
///     use pyact::server::CallError::*;
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
