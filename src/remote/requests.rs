//! Requests that wait for a reply from a peer: remote `wait`, `whereis`, stats and spawn.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::*;

/// An outstanding request: the peer it went to, and where its reply goes.
pub(crate) type Pending = (Arc<str>, may::sync::mpsc::Sender<Frame>);

/// Send a request to `peer` and wait for its reply frame.
fn request(
    node: &Node,
    peer: &str,
    make: impl FnOnce(u64) -> Frame,
    timeout: Option<Duration>,
) -> Result<Frame, SendError> {
    let r = node.remote();
    let conn = conn_to(node, peer)?;
    let req = Ref::new().id();
    let (tx, rx) = may::sync::mpsc::channel();
    lock(&r.pending).insert(req, (conn.peer.clone(), tx));
    let lost = |why: &str| SendError::NoConnection {
        node: peer.into(),
        why: why.into(),
    };
    if conn.push_frame(&make(req)).is_err() {
        lock(&r.pending).remove(&req);
        return Err(lost("connection closed"));
    }
    let got = match timeout {
        Some(t) => rx.recv_timeout(t).map_err(|e| match e {
            std::sync::mpsc::RecvTimeoutError::Timeout => lost("no reply in time"),
            std::sync::mpsc::RecvTimeoutError::Disconnected => lost("connection lost"),
        }),
        None => rx.recv().map_err(|_| lost("connection lost")),
    };
    lock(&r.pending).remove(&req);
    got
}

/// Remote `wait`.
pub(crate) fn wait(node: &Node, addr: &Address) -> ExitReason {
    if let Err(SendError::DeadActor(_)) = super::conn_for(node, addr) {
        return ExitReason::NoSuchActor; // another creation of that node
    }
    let to = addr.id();
    match request(node, addr.node_id(), |req| Frame::Wait { req, to }, None) {
        Ok(Frame::WaitReply { reason, .. }) => reason,
        Ok(_) | Err(_) => ExitReason::NoConnection,
    }
}

/// Remote `whereis`.
pub(crate) fn whereis(node: &Node, peer: &str, name: &str) -> Result<Option<Address>, SendError> {
    let name = name.to_string();
    let t = node.remote().opts.request_timeout;
    match request(node, peer, |req| Frame::Whereis { req, name }, Some(t))? {
        Frame::WhereisReply { addr, .. } => Ok(addr),
        _ => Ok(None),
    }
}

/// Remote [`Node::stats`].
pub(crate) fn stats(node: &Node, peer: &str) -> Result<crate::observe::NodeStats, SendError> {
    let t = node.remote().opts.request_timeout;
    match request(node, peer, |req| Frame::Stats { req }, Some(t))? {
        Frame::StatsReply { stats, .. } => Ok(stats),
        _ => Err(SendError::NoConnection {
            node: peer.into(),
            why: "malformed stats reply".into(),
        }),
    }
}

/// Remote spawn.
pub(crate) fn spawn(
    node: &Node,
    peer: &str,
    factory: &str,
    args: Value,
) -> Result<Address, SpawnError> {
    let factory = factory.to_string();
    let t = node.remote().opts.request_timeout;
    match request(
        node,
        peer,
        |req| Frame::Spawn { req, factory, args },
        Some(t),
    ) {
        Ok(Frame::SpawnReply { addr: Some(a), .. }) => Ok(a),
        Ok(Frame::SpawnReply { error: Some(e), .. }) => Err(SpawnError::Remote(e)),
        Ok(_) => Err(SpawnError::Remote("malformed reply".into())),
        Err(e) => Err(SpawnError::Remote(e.to_string())),
    }
}
