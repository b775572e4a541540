//! Addresses: the only handle one actor has on another, and the first stop of a message.
//!
//! An address names a node (`host:port`, never the cookie) and an actor id on that node. It is
//! cheap to clone (one `Arc`), `Send + Sync`, `Eq + Hash + Display`, and it travels inside JSON
//! messages as
//!
//! ```json
//! {"$addr": "host:port/42"}
//! ```
//!
//! so an actor that receives it can deserialize it and send to it, on any node.
//!
//! Sending ([`Address::send`], or `addr | msg` as in the seed) turns the message into JSON,
//! then delivers it: straight into the target's [`MailQueue`](crate::mailbox) when the target
//! lives on the sender's node, over the node's connection otherwise. Sending never blocks.

use std::any::Any;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Weak};

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::actor::ActorCell;
use crate::mailbox::{Envelope, Signal};
use crate::{ExitReason, SendError};

/// The address of an actor, local or remote. See the [module docs](self).
#[derive(Clone)]
pub struct Address(pub(crate) Arc<AddrInner>);

pub(crate) struct AddrInner {
    /// `host:port` of the node the actor lives on.
    pub(crate) node: Arc<str>,
    /// Actor id, unique on its node.
    pub(crate) id: u64,
    /// The actor itself when it lives in this process and was resolved (fast path).
    pub(crate) cell: Weak<ActorCell>,
}

impl Address {
    pub(crate) fn new(node: Arc<str>, id: u64, cell: Weak<ActorCell>) -> Self {
        Address(Arc::new(AddrInner { node, id, cell }))
    }

    /// The `host:port` of the node this actor lives on.
    pub fn node_id(&self) -> &str {
        &self.0.node
    }

    /// The actor's id on its node.
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// Send a message: any serializable value. A [`Value`] is moved, not copied.
    ///
    /// Errors: [`SendError::DeadActor`] if the target is a local actor that has ended,
    /// [`SendError::NotJson`] if the value does not serialize, and the routing errors of
    /// [`SendError`] for remote targets. Delivery to a live actor never blocks.
    ///
    /// ```
    /// # use pyact::{Mesh, Node};
    /// # let node = Node::new(&Mesh::new(), "c@localhost:0").unwrap();
    /// let mut inbox = node.inbox();
    /// inbox.addr().send(serde_json::json!({"n": 1})).unwrap();
    /// (inbox.addr() | "seed style").unwrap();
    /// assert_eq!(inbox.receive()["n"], 1);
    /// assert_eq!(inbox.receive(), "seed style");
    /// ```
    pub fn send<M: Serialize + 'static>(&self, msg: M) -> Result<(), SendError> {
        self.deliver(Envelope::Msg(into_value(msg)?))
    }

    /// Send a borrowed message (serialized, so the caller keeps it).
    pub fn send_ref<M: Serialize + ?Sized>(&self, msg: &M) -> Result<(), SendError> {
        let v = serde_json::to_value(msg).map_err(|e| SendError::NotJson(e.to_string()))?;
        self.deliver(Envelope::Msg(v))
    }

    /// Kill the actor: it ends with [`ExitReason::Killed`] at its next receive, whether or not
    /// it traps exits (Erlang's `exit(Pid, kill)`). Killing a thread's inbox delivers the kill
    /// as an exit message instead (a thread cannot be unwound).
    pub fn kill(&self) -> Result<(), SendError> {
        self.deliver(Envelope::Signal(Box::new(Signal::Kill)))
    }

    /// Send an exit signal with `reason` (Erlang's `exit(Pid, Reason)`): the target dies with
    /// that reason unless it traps exits (then it receives an exit message); a normal reason
    /// is ignored by a target that does not trap exits.
    pub fn exit(&self, from: &Address, reason: ExitReason) -> Result<(), SendError> {
        self.deliver(Envelope::Signal(Box::new(Signal::Exit {
            from: from.clone(),
            reason,
            linked: false,
        })))
    }

    /// Deliver an envelope: locally when possible, else through the current node's routes.
    pub(crate) fn deliver(&self, env: Envelope) -> Result<(), SendError> {
        if let Some(cell) = self.local_cell() {
            return cell.queue.push(env).map_err(|_| cell.queue.refusal(self));
        }
        crate::node::route(self, env)
    }

    /// The live actor behind this address if it is one of the node that is "here" (see
    /// [`may_deliver_locally`](crate::actor::may_deliver_locally)).
    pub(crate) fn local_cell(&self) -> Option<Arc<ActorCell>> {
        self.0
            .cell
            .upgrade()
            .filter(|c| crate::actor::may_deliver_locally(&c.node_id))
    }
}

/// Move a `Value` in without copying; serialize anything else.
fn into_value<M: Serialize + 'static>(msg: M) -> Result<Value, SendError> {
    let mut slot = Some(msg);
    if let Some(v) = (&mut slot as &mut dyn Any).downcast_mut::<Option<Value>>() {
        return Ok(v.take().expect("slot filled above"));
    }
    serde_json::to_value(slot.take().expect("slot filled above"))
        .map_err(|e| SendError::NotJson(e.to_string()))
}

impl<M: Serialize + 'static> std::ops::BitOr<M> for &Address {
    type Output = Result<(), SendError>;
    /// The seed's `address | message`.
    fn bitor(self, msg: M) -> Self::Output {
        self.send(msg)
    }
}

impl<M: Serialize + 'static> std::ops::BitOr<M> for Address {
    type Output = Result<(), SendError>;
    /// The seed's `address | message`.
    fn bitor(self, msg: M) -> Self::Output {
        self.send(msg)
    }
}

impl PartialEq for Address {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id && self.0.node == other.0.node
    }
}

impl Eq for Address {}

impl Hash for Address {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.node.hash(state);
        self.0.id.hash(state);
    }
}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Address {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (&*self.0.node, self.0.id).cmp(&(&*other.0.node, other.0.id))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.0.node, self.0.id)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

/// The JSON key of an encoded address.
pub(crate) const ADDR_KEY: &str = "$addr";

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(ADDR_KEY, &self.to_string())?;
        m.end()
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Enc {
            #[serde(rename = "$addr")]
            addr: String,
        }
        let enc = Enc::deserialize(d)?;
        parse_address(&enc.addr).ok_or_else(|| D::Error::custom("malformed pyact address"))
    }
}

impl std::str::FromStr for Address {
    type Err = SendError;
    /// Parse `host:port/id`.
    fn from_str(s: &str) -> Result<Self, SendError> {
        parse_address(s).ok_or_else(|| SendError::BadAddress(s.to_string()))
    }
}

fn parse_address(s: &str) -> Option<Address> {
    let (node, id) = s.rsplit_once('/')?;
    let id: u64 = id.parse().ok()?;
    let (host, port) = node.rsplit_once(':')?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return None;
    }
    Some(crate::node::resolve(node, id))
}

/// Is `v` an encoded address? (for the `address` pattern)
pub(crate) fn is_encoded_address(v: &Value) -> bool {
    v.as_object().is_some_and(|o| {
        o.len() == 1
            && o.get(ADDR_KEY)
                .and_then(Value::as_str)
                .is_some_and(parse_address_parts)
    })
}

fn parse_address_parts(s: &str) -> bool {
    s.rsplit_once('/').is_some_and(|(node, id)| {
        id.parse::<u64>().is_ok()
            && node
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
    })
}
