//! The plumbing shared by the cluster services [`crate::global`] and [`crate::pg`]: one
//! system actor per node and service, started on first use, registered under a reserved
//! local name, that finds its counterparts on the other nodes.
//!
//! **Start.** [`Services::ensure`] spawns the actor the first time a node uses the service
//! (and again if it ended), registers it under the service's reserved name, then lets it
//! run. The actor registers *before* it looks for counterparts: of two nodes starting at
//! once, whichever looks second finds the other, so no pair misses each other.
//!
//! **Discovery** (Erlang's `pg` scope discovery): the actor subscribes to node events, and
//! for every connected node (now, and on each `nodeup`) a short-lived helper asks that node
//! for the service's registered name and sends the counterpart found there
//! `{<service>: "discover", "peer": <our actor>}`. A counterpart that does not run yet is
//! not found; it discovers us when it starts. The service's own protocol goes on from there.
//!
//! **State.** Each service keeps the view that readers need (names, groups) behind a mutex
//! shared with its actor, so `whereis_name` and `get_members` read it without a message
//! round trip (Erlang's ETS tables); only the actor writes it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use serde_json::{Value, json};

use crate::link::Ref;
use crate::mailbox::Envelope;
use crate::{Address, Mailbox, Node, SpawnError, pattern};

/// A service's per-node instance: the actor's address and the view readers share with it.
pub(crate) struct Service<V> {
    pub(crate) addr: Address,
    pub(crate) view: Mutex<V>,
}

impl<V> Service<V> {
    pub(crate) fn view(&self) -> MutexGuard<'_, V> {
        self.view.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Every node's instance of one service, by node name and creation.
pub(crate) struct Services<V> {
    /// The reserved local name the actor registers under.
    pub(crate) name: &'static str,
    map: OnceLock<Mutex<ServiceMap<V>>>,
}

type ServiceMap<V> = HashMap<(String, u32), Arc<Service<V>>>;

/// What a service's actor runs: its mailbox and its shared instance.
pub(crate) type Run<V> = fn(Mailbox, Arc<Service<V>>);

impl<V: Default + Send + 'static> Services<V> {
    pub(crate) const fn new(name: &'static str) -> Self {
        Services {
            name,
            map: OnceLock::new(),
        }
    }

    fn map(&self) -> MutexGuard<'_, ServiceMap<V>> {
        self.map
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The node's instance, started now if it is not running.
    pub(crate) fn ensure(
        &'static self,
        node: &Node,
        run: Run<V>,
    ) -> Result<Arc<Service<V>>, String> {
        let key = (node.name().to_string(), node.creation());
        let mut map = self.map();
        if let Some(s) = map.get(&key)
            && node.whereis(self.name).as_ref() == Some(&s.addr)
        {
            return Ok(s.clone());
        }
        if node.is_shut_down() {
            return Err(format!("node {} is shut down", node.name()));
        }
        // The actor waits for "go" so that it looks for counterparts only once registered.
        let slot: Arc<OnceLock<Arc<Service<V>>>> = Arc::new(OnceLock::new());
        let started = slot.clone();
        let name = self.name;
        let addr = node
            .try_spawn(move |mut mb: Mailbox| {
                let go = pattern!({"pyact.go": bool});
                let (_, m) = mb.receive_match(&[&go]);
                if m["pyact.go"] != true {
                    return;
                }
                let Some(s) = started.get().cloned() else {
                    return;
                };
                let _forget = Forget {
                    services: self,
                    key: (mb.node().name().to_string(), mb.node().creation()),
                    addr: mb.addr(),
                };
                log::debug!("{}: {name} started", mb.node().name());
                run(mb, s)
            })
            .map_err(|e: SpawnError| e.to_string())?;
        if let Err(e) = node.register(self.name, &addr) {
            let _ = node.deliver_local(&addr, Envelope::Msg(json!({"pyact.go": false})));
            return Err(format!("cannot register {}: {e}", self.name));
        }
        let s = Arc::new(Service {
            addr: addr.clone(),
            view: Mutex::new(V::default()),
        });
        let _ = slot.set(s.clone());
        map.insert(key, s.clone());
        // Straight into its mailbox (a plain send from a thread whose inbox is on another
        // node of this process would go over the network).
        node.deliver_local(&addr, Envelope::Msg(json!({"pyact.go": true})))
            .map_err(|e| e.to_string())?;
        Ok(s)
    }
}

/// Drops a node's entry when its service actor ends (however it ends).
struct Forget<V: Default + Send + 'static> {
    services: &'static Services<V>,
    key: (String, u32),
    addr: Address,
}

impl<V: Default + Send + 'static> Drop for Forget<V> {
    fn drop(&mut self) {
        let mut map = self.services.map();
        if map.get(&self.key).is_some_and(|s| s.addr == self.addr) {
            map.remove(&self.key);
        }
    }
}

/// A service actor's counterparts on other nodes: each one's address and this actor's
/// monitor on it (its DOWN means that node's part of the service's table goes). What both
/// services do with a `discover`, a DOWN and a broadcast, in one place.
#[derive(Default)]
pub(crate) struct Peers(HashMap<String, (Address, Ref)>);

/// What a `discover` changed, for the service to act on its own table.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Met {
    /// The counterpart was known already.
    Known,
    /// A counterpart of a node not known before: monitored, and told about us.
    New,
    /// Another start of a known node's counterpart (its node or service restarted): the old
    /// one is forgotten (its monitor dropped), the new one monitored and told about us. The
    /// service drops what it kept of the old one.
    Replaced,
}

impl Peers {
    /// A `discover` from `peer` (already checked with [`peer_of`]): keep, monitor and answer
    /// it with our own `{<service>: "discover"}` unless it is known.
    pub(crate) fn meet(&mut self, mb: &mut Mailbox, service: &'static str, peer: &Address) -> Met {
        let n = peer.node_id().to_string();
        let met = match self.0.get(&n) {
            // Address equality leaves the creation out: a restarted node reuses ids.
            Some((a, _)) if a == peer && a.creation() == peer.creation() => return Met::Known,
            Some(_) => {
                self.forget(mb, &n);
                Met::Replaced
            }
            None => Met::New,
        };
        let r = mb.monitor(peer);
        self.0.insert(n, (peer.clone(), r));
        let _ = peer.send(json!({service: "discover", "peer": mb.addr()}));
        met
    }

    /// Is `peer` the known counterpart of its node? (Messages from anyone else are dropped.)
    pub(crate) fn is_known(&self, peer: &Address) -> bool {
        self.0.get(peer.node_id()).is_some_and(|(a, _)| a == peer)
    }

    /// The counterpart on node `n`.
    pub(crate) fn get(&self, n: &str) -> Option<&Address> {
        self.0.get(n).map(|(a, _)| a)
    }

    /// Is node `n`'s counterpart known?
    pub(crate) fn has(&self, n: &str) -> bool {
        self.0.contains_key(n)
    }

    /// The nodes whose counterparts are known.
    pub(crate) fn nodes(&self) -> impl Iterator<Item = &String> {
        self.0.keys()
    }

    /// A DOWN with `reference`: if it is our monitor on a counterpart, that counterpart is
    /// forgotten and its node returned.
    pub(crate) fn lost(&mut self, reference: Ref) -> Option<String> {
        let n = self
            .0
            .iter()
            .find(|(_, (_, r))| *r == reference)
            .map(|(n, _)| n.clone())?;
        self.0.remove(&n);
        Some(n)
    }

    /// Forget node `n`'s counterpart and drop our monitor on it.
    pub(crate) fn forget(&mut self, mb: &mut Mailbox, n: &str) {
        if let Some((_, r)) = self.0.remove(n) {
            mb.demonitor(r);
        }
    }

    /// Send `msg` to every counterpart (a failed send is the DOWN's business).
    pub(crate) fn broadcast(&self, msg: &Value) {
        for (peer, _) in self.0.values() {
            let _ = peer.send_ref(msg);
        }
    }
}

/// Subscribe the service actor to node events and discover the counterparts on every node
/// connected now. Call once, first thing in the actor.
pub(crate) fn start_discovery(mb: &Mailbox, service: &'static str) {
    let node = mb.node().clone();
    node.monitor_nodes(&mb.addr());
    for peer in node.connected_nodes() {
        discover(&node, &mb.addr(), service, peer);
    }
}

/// Find `service`'s actor on `peer` and send it our `discover`, from a helper actor (the
/// lookup is a network request; the service actor never waits on the network).
pub(crate) fn discover(node: &Node, me: &Address, service: &'static str, peer: String) {
    let me = me.clone();
    let n = node.clone();
    let spawned = node.try_spawn(move |_| {
        // A node lost since (the helper may run late) is left alone: looking it up would
        // dial it again, undoing a disconnect.
        if !n.connected_nodes().contains(&peer) {
            return;
        }
        if let Ok(Some(there)) = n.whereis_remote(&peer, service) {
            let _ = there.send(json!({service: "discover", "peer": me}));
        }
    });
    if let Err(e) = spawned {
        log::warn!("{}: {service}: cannot look for peers: {e}", node.name());
    }
}

/// The node a `nodeup` event names, if `msg` is one.
pub(crate) fn nodeup(msg: &Value) -> Option<String> {
    let obj = msg.as_object()?;
    if obj.len() != 1 {
        return None;
    }
    obj.get("nodeup")?.as_str().map(str::to_string)
}

/// The peer service address in `msg["peer"]`, if it is one of a node we are connected to
/// (and not ours): a message naming any other node is ignored, so a peer cannot make this
/// node dial or monitor arbitrary hosts.
pub(crate) fn peer_of(node: &Node, msg: &Value) -> Option<Address> {
    let a = Address::try_from(&msg["peer"]).ok()?;
    if a.node_id() == node.name() {
        return None;
    }
    node.connected_nodes()
        .iter()
        .any(|n| n == a.node_id())
        .then_some(a)
}

/// Ask `node`'s own service actor `to`: `req` gets a `"from"` reply address of a
/// throwaway mailbox *of `node`* (unlike [`crate::ask`], which asks from the caller's node:
/// a thread's inbox may be on another node, and the request would cross the network, even
/// dial a node cut off on purpose).
pub(crate) fn call(
    node: &Node,
    to: &Address,
    mut req: Value,
    timeout: std::time::Duration,
) -> Result<Value, String> {
    let mut mb = node.ephemeral();
    req["from"] = json!(mb.addr());
    let mref = mb.monitor(to);
    // Straight into the service's mailbox: it is an actor of `node`.
    node.deliver_local(to, Envelope::Msg(req))
        .map_err(|e| e.to_string())?;
    let down = pattern!({"down": = mref});
    let answer = pattern!(_);
    let got = match mb.receive_match_timeout(&[&down, &answer], timeout) {
        Ok((0, msg)) => Err(format!("the service ended: {}", msg["exit"])),
        Ok((_, msg)) => Ok(msg),
        Err(_) => Err(format!("no answer within {timeout:?}")),
    };
    mb.demonitor(mref);
    got
}

/// A total order on addresses (node, id, creation), for deterministic tie-breaks.
pub(crate) fn order_key(a: &Address) -> (&str, u64, u32) {
    (a.node_id(), a.id(), a.creation())
}
