//! Remote nodes (placeholder until the wire protocol lands).

use std::sync::Arc;

use crate::actor::ActorCell;
use crate::mailbox::Envelope;
use crate::node::NodeName;
use crate::{Address, ExitReason, Node, NodeError, Ref, SendError};

pub(crate) struct Remote;

pub(crate) fn bind(name: &NodeName) -> Result<std::net::TcpListener, NodeError> {
    std::net::TcpListener::bind((name.host.as_str(), name.port)).map_err(|e| NodeError::Bind {
        addr: name.id(),
        why: e.to_string(),
    })
}
pub(crate) fn start(_node: &Node, _l: std::net::TcpListener) {}
pub(crate) fn send(_from: &Node, addr: &Address, _env: Envelope) -> Result<(), SendError> {
    Err(SendError::NoConnection {
        node: addr.node_id().into(),
        why: "remote nodes not implemented".into(),
    })
}
pub(crate) fn wait(_from: &Node, _addr: &Address) -> ExitReason {
    ExitReason::NoConnection
}
pub(crate) fn whereis(_from: &Node, node: &str, _name: &str) -> Result<Option<Address>, SendError> {
    Err(SendError::NoConnection {
        node: node.into(),
        why: "remote nodes not implemented".into(),
    })
}
pub(crate) fn local_cell_of(addr: &Address) -> Option<Arc<ActorCell>> {
    crate::node::home_node(addr).and_then(|n| n.cell(addr.id()))
}
pub(crate) fn is_local_node(addr: &Address) -> bool {
    crate::node::home_node(addr).is_some()
}
pub(crate) fn link(_from: &Address, _target: &Address) {}
pub(crate) fn unlink(_node: &Node, _target: &Address, _from: &Address) {}
pub(crate) fn monitor(_watcher: &Address, _target: &Address, _r: Ref) {}
pub(crate) fn demonitor(_node: &Node, _target: &Address, _r: Ref) {}
