//! The `pyact.global` system actor of one node: its table of local names, the locks peers
//! hold here, registrations in progress, and the messages it exchanges with its
//! counterparts (the protocol of the module docs, one function per message kind).
//! Separate from `mod.rs`, which holds the public calls, because those only send this
//! actor requests and read the shared view.

use crate::link::Ref;
use crate::service::{self, Service, order_key};
use crate::{Address, Mailbox, Node, link::Down};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;

/// One name this node owns.
struct Reg {
    addr: Address,
    resolver: Resolver,
    mref: Ref,
}

/// A lock on a name, held for one node's registration attempt.
struct Lock {
    holder: String,
    tid: u64,
    expires: Instant,
}

/// A registration in progress on this node.
struct Pending {
    name: String,
    addr: Address,
    resolver: Resolver,
    reply_to: Address,
    /// Peers whose answer we wait for; peers that granted.
    waiting: HashSet<String>,
    granted: Vec<String>,
    deadline: Instant,
    /// Backing off: the next attempt's time.
    retry_at: Option<Instant>,
    attempt: u32,
}

struct State {
    node: Node,
    me: Address,
    s: Arc<Service<View>>,
    peers: service::Peers,
    regs: HashMap<String, Reg>,
    reg_refs: HashMap<Ref, String>,
    locks: HashMap<String, Lock>,
    pending: HashMap<u64, Pending>,
    next_tid: u64,
    /// [`sync`] callers: the nodes each waits for, its reply address, its deadline.
    awaiting: Vec<(HashSet<String>, Address, Instant)>,
}

pub(super) fn run(mut mb: Mailbox, s: Arc<Service<View>>) {
    service::start_discovery(&mb, SERVICE);
    let mut st = State {
        node: mb.node().clone(),
        me: mb.addr(),
        s,
        peers: service::Peers::default(),
        regs: HashMap::new(),
        reg_refs: HashMap::new(),
        locks: HashMap::new(),
        pending: HashMap::new(),
        next_tid: 1,
        awaiting: Vec::new(),
    };
    loop {
        let msg = match st.next_deadline() {
            Some(t) => mb
                .receive_timeout(t.saturating_duration_since(Instant::now()))
                .ok(),
            None => Some(mb.receive()),
        };
        if let Some(m) = msg {
            st.handle(&mut mb, m);
        }
        st.tick(&mut mb);
        st.check_awaiting();
    }
}

fn reply(to: &Address, v: Value) {
    let _ = to.send(v);
}

impl State {
    fn next_deadline(&self) -> Option<Instant> {
        self.pending
            .values()
            .map(|p| p.retry_at.unwrap_or(p.deadline).min(p.deadline))
            .chain(self.awaiting.iter().map(|a| a.2))
            .min()
    }

    /// Answer the [`sync`] callers whose nodes are all known now (or gone), or whose
    /// deadline passed.
    fn check_awaiting(&mut self) {
        if self.awaiting.is_empty() {
            return;
        }
        let connected: HashSet<String> = self.node.connected_nodes().into_iter().collect();
        let now = Instant::now();
        let peers = &self.peers;
        self.awaiting.retain_mut(|(nodes, to, deadline)| {
            nodes.retain(|n| !peers.has(n) && connected.contains(n));
            if nodes.is_empty() {
                reply(to, json!({"ok": true}));
                false
            } else if *deadline <= now {
                reply(
                    to,
                    json!({"error": format!("no answer from the service of {nodes:?}")}),
                );
                false
            } else {
                true
            }
        });
    }

    fn tick(&mut self, mb: &mut Mailbox) {
        let now = Instant::now();
        let due: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now || p.retry_at.is_some_and(|t| t <= now))
            .map(|(t, _)| *t)
            .collect();
        for tid in due {
            let Some(p) = self.pending.remove(&tid) else {
                continue;
            };
            if p.deadline <= now {
                self.release(tid, &p);
                let why = format!(
                    "no agreement on {:?} within {REGISTER_DEADLINE:?} (waiting for {:?})",
                    p.name, p.waiting
                );
                reply(&p.reply_to, json!({"error": why}));
            } else {
                self.attempt(mb, p);
            }
        }
    }

    fn handle(&mut self, mb: &mut Mailbox, msg: Value) {
        if let Some(peer) = service::nodeup(&msg) {
            service::discover(&self.node, &self.me, SERVICE, peer);
            return;
        }
        if let Ok(down) = Down::try_from(&msg) {
            self.down(mb, down);
            return;
        }
        let kind = msg["pyact.global"].as_str().unwrap_or("");
        match kind {
            "local_register" => self.local_register(mb, &msg),
            "local_unregister" => {
                if let Some(name) = msg["name"].as_str() {
                    self.unregister(mb, name);
                }
                let _ = crate::reply(&msg, json!({"ok": true}));
            }
            "discover" => self.discover(mb, &msg),
            "local_unknown" => {
                let known: Vec<&String> = self.peers.nodes().collect();
                let _ = crate::reply(&msg, json!({"known": known}));
            }
            "local_await" => {
                let Ok(to) = Address::try_from(&msg["from"]) else {
                    return;
                };
                let nodes: HashSet<String> =
                    serde_json::from_value(msg["nodes"].clone()).unwrap_or_default();
                if self.awaiting.len() >= MAX_SYNC_CALLERS {
                    return reply(&to, json!({"error": "too many sync calls at once"}));
                }
                self.awaiting
                    .push((nodes, to, Instant::now() + REGISTER_DEADLINE));
            }
            "unregister" => {
                if service::peer_of(&self.node, &msg).is_some()
                    && let Some(name) = msg["name"].as_str()
                {
                    self.drop_local(mb, name);
                }
            }
            "sync" | "lock" | "lock_reply" | "unlock" | "registered" | "unregistered" => {
                self.peer_message(mb, kind, &msg)
            }
            _ => log::debug!("{}: global: dropped an unknown message", self.node.name()),
        }
    }

    fn local_register(&mut self, mb: &mut Mailbox, msg: &Value) {
        let Ok(reply_to) = Address::try_from(&msg["from"]) else {
            return;
        };
        let (Some(name), Ok(addr)) = (msg["name"].as_str(), Address::try_from(&msg["address"]))
        else {
            return reply(&reply_to, json!({"error": "bad request"}));
        };
        if !valid_name(name) {
            return reply(&reply_to, json!({"error": "bad name"}));
        }
        if addr.node_id() != self.node.name() {
            return reply(&reply_to, json!({"error": "not_local"}));
        }
        let resolver = match msg["resolver"].as_str() {
            Some("notify") => Resolver::Notify,
            _ => Resolver::Kill,
        };
        let p = Pending {
            name: name.to_string(),
            addr,
            resolver,
            reply_to,
            waiting: HashSet::new(),
            granted: Vec::new(),
            deadline: Instant::now() + REGISTER_DEADLINE,
            retry_at: None,
            attempt: 0,
        };
        self.attempt(mb, p);
    }

    /// One attempt of a registration: check, lock here, ask every peer for the lock.
    fn attempt(&mut self, mb: &mut Mailbox, mut p: Pending) {
        let now = Instant::now();
        if self.s.view().winner(&p.name).is_some() {
            return reply(&p.reply_to, json!({"error": "taken"}));
        }
        let tid = self.next_tid;
        self.next_tid += 1;
        if self
            .locks
            .get(&p.name)
            .is_some_and(|l| l.expires > now && (l.holder != self.node.name()))
            || self.pending.values().any(|q| q.name == p.name)
        {
            return self.back_off(tid, p);
        }
        self.locks.insert(
            p.name.clone(),
            Lock {
                holder: self.node.name().to_string(),
                tid,
                expires: now + LOCK_LEASE,
            },
        );
        p.retry_at = None;
        p.granted.clear();
        p.waiting = self.peers.nodes().cloned().collect();
        self.broadcast(
            &json!({"pyact.global": "lock", "peer": self.me, "name": p.name, "tid": tid}),
        );
        if p.waiting.is_empty() {
            self.commit(mb, tid, p);
        } else {
            self.pending.insert(tid, p);
        }
    }

    fn back_off(&mut self, tid: u64, mut p: Pending) {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.node.name(), self.node.creation(), tid).hash(&mut h);
        let span = 4u64 << p.attempt.min(6);
        let wait = Duration::from_millis(1 + h.finish() % span);
        p.attempt += 1;
        p.retry_at = Some(Instant::now() + wait);
        p.waiting.clear();
        p.granted.clear();
        self.pending.insert(tid, p);
    }

    /// Give up attempt `tid`: unlock here and on every peer asked.
    fn release(&mut self, tid: u64, p: &Pending) {
        if self
            .locks
            .get(&p.name)
            .is_some_and(|l| l.holder == self.node.name() && l.tid == tid)
        {
            self.locks.remove(&p.name);
        }
        let unlock = json!({"pyact.global": "unlock", "peer": self.me, "name": p.name, "tid": tid});
        for n in p.waiting.iter().chain(&p.granted) {
            if let Some(peer) = self.peers.get(n) {
                let _ = peer.send_ref(&unlock);
            }
        }
    }

    fn commit(&mut self, mb: &mut Mailbox, tid: u64, p: Pending) {
        if self.s.view().winner(&p.name).is_some() {
            self.release(tid, &p);
            return reply(&p.reply_to, json!({"error": "taken"}));
        }
        self.locks.remove(&p.name);
        let mref = mb.monitor(&p.addr);
        self.reg_refs.insert(mref, p.name.clone());
        self.s.view().local.insert(p.name.clone(), p.addr.clone());
        self.regs.insert(
            p.name.clone(),
            Reg {
                addr: p.addr.clone(),
                resolver: p.resolver,
                mref,
            },
        );
        self.broadcast(&json!({"pyact.global": "registered", "peer": self.me,
                               "name": p.name, "address": p.addr}));
        reply(&p.reply_to, json!({"ok": true}));
    }

    /// Unregister a name: ours at once, another node's by asking it.
    fn unregister(&mut self, mb: &mut Mailbox, name: &str) {
        if self.regs.contains_key(name) {
            self.drop_local(mb, name);
            return;
        }
        let owner = self
            .s
            .view()
            .remote
            .iter()
            .find(|(_, m)| m.contains_key(name))
            .map(|(n, _)| n.clone());
        if let Some(peer) = owner.and_then(|n| self.peers.get(&n)) {
            let _ = peer.send(json!({"pyact.global": "unregister", "peer": self.me, "name": name}));
        }
    }

    /// Drop one of our names and tell every peer; returns the registration.
    fn drop_local(&mut self, mb: &mut Mailbox, name: &str) -> Option<Reg> {
        let reg = self.regs.remove(name)?;
        mb.demonitor(reg.mref);
        self.reg_refs.remove(&reg.mref);
        self.s.view().local.remove(name);
        self.broadcast(&json!({"pyact.global": "unregistered", "peer": self.me, "name": name}));
        Some(reg)
    }

    fn down(&mut self, mb: &mut Mailbox, down: Down) {
        if let Some(name) = self.reg_refs.remove(&down.reference) {
            if self
                .regs
                .get(&name)
                .is_some_and(|r| r.mref == down.reference)
            {
                self.drop_local(mb, &name);
            }
            return;
        }
        if let Some(n) = self.peers.lost(down.reference) {
            self.forget_peer(mb, &n);
        }
    }

    /// A counterpart is gone (already out of `peers`): its names, its locks, and our wait for
    /// its answers.
    fn forget_peer(&mut self, mb: &mut Mailbox, n: &str) {
        self.s.view().remote.remove(n);
        self.locks.retain(|_, l| l.holder != n);
        let mut ready = Vec::new();
        for (t, p) in self.pending.iter_mut() {
            if p.retry_at.is_none() && p.waiting.remove(n) && p.waiting.is_empty() {
                ready.push(*t);
            }
        }
        for tid in ready {
            if let Some(p) = self.pending.remove(&tid) {
                self.commit(mb, tid, p);
            }
        }
    }

    fn discover(&mut self, mb: &mut Mailbox, msg: &Value) {
        let Some(peer) = service::peer_of(&self.node, msg) else {
            log::debug!(
                "{}: global: dropped a discover from no connected node",
                self.node.name()
            );
            return;
        };
        if self.peers.meet(mb, SERVICE, &peer) == service::Met::Replaced {
            // A new counterpart on that node (a restart): the old one's names and locks go.
            self.forget_peer(mb, peer.node_id());
        }
        let names: Map<String, Value> = self
            .regs
            .iter()
            .map(|(name, r)| (name.clone(), json!(r.addr)))
            .collect();
        if let Err(e) = peer.send(json!({"pyact.global": "sync", "peer": self.me, "names": names}))
        {
            log::warn!(
                "{}: global: cannot send our names to {}: {e}",
                self.node.name(),
                peer.node_id()
            );
        }
    }

    fn peer_message(&mut self, mb: &mut Mailbox, kind: &str, msg: &Value) {
        let Ok(peer) = Address::try_from(&msg["peer"]) else {
            return;
        };
        let n = peer.node_id().to_string();
        if !self.peers.is_known(&peer) {
            log::debug!(
                "{}: global: dropped a {kind} from an unknown peer",
                self.node.name()
            );
            if kind == "lock" {
                // Not discovered yet: the requester backs off and asks again.
                let tid = msg["tid"].as_u64().unwrap_or(0);
                if service::peer_of(&self.node, msg).is_some() {
                    let _ = peer.send(json!({"pyact.global": "lock_reply", "peer": self.me,
                                             "tid": tid, "answer": "busy"}));
                }
            }
            return;
        }
        let name = msg["name"].as_str().filter(|s| valid_name(s));
        match kind {
            "sync" => self.on_sync(mb, &n, msg),
            "lock" => self.on_lock(&peer, &n, name, msg),
            "lock_reply" => self.on_lock_reply(mb, n, msg),
            "unlock" => self.on_unlock(&n, name, msg),
            "registered" => self.on_registered(mb, &n, name, msg),
            "unregistered" => self.on_unregistered(&n, name),
            _ => {}
        }
    }

    /// A peer's whole table of names (after discovery): replace what we knew of it.
    fn on_sync(&mut self, mb: &mut Mailbox, n: &str, msg: &Value) {
        let Some(names) = msg["names"].as_object() else {
            return;
        };
        let fresh: HashMap<String, Address> = names
            .iter()
            .filter(|(k, _)| valid_name(k))
            .filter_map(|(k, v)| Some((k.clone(), Address::try_from(v).ok()?)))
            .filter(|(_, a)| a.node_id() == n)
            .take(MAX_NAMES_PER_PEER)
            .collect();
        if names.len() > fresh.len() {
            log::warn!(
                "{}: global: kept {} of the {} names peer {n} sent",
                self.node.name(),
                fresh.len(),
                names.len()
            );
        }
        let sorted: BTreeMap<String, Address> =
            fresh.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        self.s.view().remote.insert(n.to_string(), fresh);
        for (name, addr) in sorted {
            self.conflict(mb, &name, &addr);
        }
    }

    /// A peer asks for the lock on `name` before registering it.
    fn on_lock(&mut self, peer: &Address, n: &str, name: Option<&str>, msg: &Value) {
        let (Some(name), Some(tid)) = (name, msg["tid"].as_u64()) else {
            return;
        };
        let now = Instant::now();
        let answer = if self.s.view().winner(name).is_some() {
            "taken"
        } else if self
            .locks
            .get(name)
            .is_some_and(|l| l.expires > now && l.holder != n)
        {
            "busy"
        } else if !self.locks.contains_key(name)
            && self.locks.values().filter(|l| l.holder == n).count() >= MAX_LOCKS_PER_PEER
        {
            log::warn!(
                "{}: global: peer {n} is at the lock bound",
                self.node.name()
            );
            "busy"
        } else {
            self.locks.insert(
                name.to_string(),
                Lock {
                    holder: n.to_string(),
                    tid,
                    expires: now + LOCK_LEASE,
                },
            );
            "granted"
        };
        let _ = peer.send(json!({"pyact.global": "lock_reply", "peer": self.me,
                                 "tid": tid, "answer": answer}));
    }

    /// A peer answers our lock request: granted, busy or taken.
    fn on_lock_reply(&mut self, mb: &mut Mailbox, n: String, msg: &Value) {
        let Some(tid) = msg["tid"].as_u64() else {
            return;
        };
        let Some(mut p) = self.pending.remove(&tid) else {
            return;
        };
        if p.retry_at.is_some() || !p.waiting.remove(&n) {
            self.pending.insert(tid, p);
            return;
        }
        match msg["answer"].as_str() {
            Some("granted") => {
                p.granted.push(n);
                if p.waiting.is_empty() {
                    self.commit(mb, tid, p);
                } else {
                    self.pending.insert(tid, p);
                }
            }
            Some("taken") => {
                self.release(tid, &p);
                reply(&p.reply_to, json!({"error": "taken"}));
            }
            _ => {
                self.release(tid, &p);
                self.back_off(tid, p);
            }
        }
    }

    /// A peer releases a lock it holds here.
    fn on_unlock(&mut self, n: &str, name: Option<&str>, msg: &Value) {
        let (Some(name), Some(tid)) = (name, msg["tid"].as_u64()) else {
            return;
        };
        if self
            .locks
            .get(name)
            .is_some_and(|l| l.holder == n && l.tid == tid)
        {
            self.locks.remove(name);
        }
    }

    /// A peer registered a name of its own.
    fn on_registered(&mut self, mb: &mut Mailbox, n: &str, name: Option<&str>, msg: &Value) {
        let (Some(name), Ok(addr)) = (name, Address::try_from(&msg["address"])) else {
            return;
        };
        if addr.node_id() != n {
            return;
        }
        if self.locks.get(name).is_some_and(|l| l.holder == n) {
            self.locks.remove(name);
        }
        {
            let mut view = self.s.view();
            let theirs = view.remote.entry(n.to_string()).or_default();
            if !theirs.contains_key(name) && theirs.len() >= MAX_NAMES_PER_PEER {
                log::warn!(
                    "{}: global: peer {n} is at the name bound",
                    self.node.name()
                );
                return;
            }
            theirs.insert(name.to_string(), addr.clone());
        }
        self.conflict(mb, name, &addr);
    }

    /// A peer dropped a name of its own.
    fn on_unregistered(&mut self, n: &str, name: Option<&str>) {
        if let Some(name) = name
            && let Some(theirs) = self.s.view().remote.get_mut(n)
        {
            theirs.remove(name);
        }
    }

    /// A peer holds `name` for `theirs`: if we hold it too and theirs sorts first, ours
    /// loses (the deterministic rule of the module docs). If ours sorts first, their node
    /// applies the same rule when it hears of ours.
    fn conflict(&mut self, mb: &mut Mailbox, name: &str, theirs: &Address) {
        let loses = self
            .regs
            .get(name)
            .is_some_and(|r| order_key(theirs) < order_key(&r.addr));
        if !loses {
            return;
        }
        let Some(reg) = self.drop_local(mb, name) else {
            return;
        };
        log::warn!(
            "{}: global: name {name:?} held on both sides of a partition; kept {theirs}, \
             resolving {} ({})",
            self.node.name(),
            reg.addr,
            reg.resolver.as_str()
        );
        match reg.resolver {
            Resolver::Kill => {
                let _ = reg.addr.kill();
            }
            Resolver::Notify => {
                let _ = reg
                    .addr
                    .send(json!({"global": "name_conflict", "name": name, "kept": theirs}));
            }
        }
    }

    fn broadcast(&self, msg: &Value) {
        self.peers.broadcast(msg);
    }
}
