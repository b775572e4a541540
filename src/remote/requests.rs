//! Requests that wait for a reply from a peer: remote `wait`, `whereis`, stats and spawn.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::park::OneShot;

/// An outstanding request: the peer it went to, and where its reply goes (`Some(frame)`;
/// `None` when the connection is lost, see `peers::conn_failed`).
pub(crate) type Pending = (Arc<str>, Arc<OneShot<Option<Frame>>>);

/// A request's entry in the pending table, removed however the request ends: answered,
/// timed out, or its caller killed while it waited (a kill unwinds through here). A remote
/// wait whose caller ended before the answer is taken back from the peer (`unwait`), so
/// its entry there does not outlive its waiter.
struct Outstanding<'a> {
    r: &'a Remote,
    req: u64,
    conn: &'a Conn,
    is_wait: bool,
}

impl Drop for Outstanding<'_> {
    fn drop(&mut self) {
        let unanswered = lock(&self.r.pending).remove(&self.req).is_some();
        if unanswered && self.is_wait {
            let _ = self.conn.push_frame(&Frame::Unwait { req: self.req });
        }
    }
}

/// Send a request to `peer` and wait for its reply frame. The caller parks like any pyact
/// call ([`crate::park`]): in an actor a kill or a deadly exit signal ends it during the
/// wait.
fn request(
    node: &Node,
    peer: &str,
    make: impl FnOnce(u64) -> Frame,
    timeout: Option<Duration>,
) -> Result<Frame, SendError> {
    let r = node.remote();
    let conn = conn_to(node, peer)?;
    let req = Ref::new().id();
    let reply = OneShot::new();
    lock(&r.pending).insert(req, (conn.peer.clone(), reply.clone()));
    let frame = make(req);
    let mut entry = Outstanding {
        r,
        req,
        conn: &conn,
        is_wait: false,
    };
    let lost = |why: &str| SendError::NoConnection {
        node: peer.into(),
        why: why.into(),
    };
    if conn.push_frame(&frame).is_err() {
        return Err(lost("connection closed"));
    }
    entry.is_wait = matches!(frame, Frame::Wait { .. });
    let deadline = timeout.and_then(|t| std::time::Instant::now().checked_add(t));
    match reply.wait(deadline, crate::observe::Status::Waiting) {
        Some(Some(f)) => Ok(f),
        Some(None) => Err(lost("connection lost")),
        None => Err(lost("no reply in time")),
    }
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
