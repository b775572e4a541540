//! Addresses: the only handle one actor has on another, and the first stop of a message.
//!
//! An address names a node (`host:port`, never the cookie) and an actor id on that node. It is
//! cheap to clone (one `Arc`), `Send + Sync`, `Eq + Hash + Display`, and it travels inside JSON
//! messages as
//!
//! ```json
//! {"$addr": "host:port/42/3735928559"}
//! ```
//!
//! so an actor that receives it can deserialize it and send to it, on any node. The third
//! part is the *creation number* of the node's start ([`Node::creation`](crate::Node::creation)):
//! a node restarted on the same `host:port` picks another one, and an address of the old
//! start is then treated as the address of a dead actor (sends fail with
//! [`SendError::DeadActor`], `wait` returns [`ExitReason::NoSuchActor`], links and monitors
//! fire with `noproc`) instead of reaching whichever new actor got the same id.
//!
//! The older form without a creation, `{"$addr": "host:port/42"}`, is still read: it names
//! actor 42 of *whatever* start of the node is running (creation unknown, not checked).
//! Two addresses are equal when their node and id are; the creation is a liveness check,
//! not part of the identity.
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
///
/// ```
/// use pyact::Address;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let a = node.spawn(|mut mb| { mb.receive(); });
/// let json = serde_json::to_value(&a).unwrap(); // travels inside messages
/// let back: Address = serde_json::from_value(json).unwrap();
/// assert_eq!(back, a);
/// back.send("stop").unwrap();
/// node.wait(&a).unwrap();
/// ```
#[derive(Clone)]
pub struct Address(pub(crate) Arc<AddrInner>);

pub(crate) struct AddrInner {
    /// `host:port` of the node the actor lives on.
    pub(crate) node: Arc<str>,
    /// Actor id, unique on its node.
    pub(crate) id: u64,
    /// The node start's creation number; 0 when unknown (an old-form address).
    pub(crate) creation: u32,
    /// The actor itself when it lives in this process and was resolved (fast path).
    pub(crate) cell: Weak<ActorCell>,
}

impl Address {
    /// An address of actor `id` of start `creation` (0: unknown) of `node`.
    pub(crate) fn with_creation(
        node: Arc<str>,
        id: u64,
        creation: u32,
        cell: Weak<ActorCell>,
    ) -> Self {
        Address(Arc::new(AddrInner {
            node,
            id,
            creation,
            cell,
        }))
    }

    /// The creation number of the node start this actor belongs to (see the
    /// [module docs](self)); 0 if unknown (an address read in the old form, naming a node
    /// that is not in this process, or whose actor is not alive).
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let a = node.spawn(|_| ());
    /// assert_eq!(a.creation(), node.creation());
    /// ```
    pub fn creation(&self) -> u32 {
        self.0.creation
    }

    /// The `host:port` of the node this actor lives on.
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "secret@127.0.0.1:0").unwrap();
    /// let a = node.spawn(|_| ());
    /// assert_eq!(a.node_id(), node.name());
    /// assert!(!a.to_string().contains("secret"));
    /// ```
    pub fn node_id(&self) -> &str {
        &self.0.node
    }

    /// The actor's id on its node.
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let (a, b) = (node.spawn(|_| ()), node.spawn(|_| ()));
    /// assert_ne!(a.id(), b.id()); // unique on the node
    /// ```
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
        self.deliver_checked(Envelope::Msg(into_value(msg)?))
    }

    /// Send a borrowed message (serialized, so the caller keeps it).
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut inbox = node.inbox();
    /// let report = vec![1, 2, 3];
    /// inbox.addr().send_ref(&report).unwrap();
    /// inbox.addr().send_ref("a str, unsized").unwrap();
    /// assert_eq!(inbox.receive(), serde_json::json!(report)); // and we still have `report`
    /// assert_eq!(inbox.receive(), "a str, unsized");
    /// ```
    pub fn send_ref<M: Serialize + ?Sized>(&self, msg: &M) -> Result<(), SendError> {
        let v = serde_json::to_value(msg).map_err(|e| SendError::NotJson(e.to_string()))?;
        self.deliver_checked(Envelope::Msg(v))
    }

    /// Kill the actor: it ends with [`ExitReason::Killed`] at its next pyact call (or at once
    /// if it is parked in one), whether or not it traps exits (Erlang's `exit(Pid, kill)`).
    /// Killing a thread's inbox delivers the kill as an exit message instead (a thread cannot
    /// be unwound).
    ///
    /// ```
    /// use pyact::ExitReason;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let stuck = node.spawn(|mut mb| loop { mb.receive(); });
    /// stuck.kill().unwrap();
    /// assert_eq!(node.wait(&stuck), Err(ExitReason::Killed));
    /// assert!(stuck.send("late").is_err()); // DeadActor
    /// ```
    pub fn kill(&self) -> Result<(), SendError> {
        crate::context::checkpoint();
        self.deliver(Envelope::Signal(Box::new(Signal::Kill)))
    }

    /// Send an exit signal with `reason` (Erlang's `exit(Pid, Reason)`): the target dies with
    /// that reason unless it traps exits (then it receives an exit message); a normal reason
    /// is ignored by a target that does not trap exits.
    ///
    /// ```
    /// use pyact::ExitReason;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let inbox = node.inbox();
    /// let worker = node.spawn(|mut mb| loop { mb.receive(); });
    /// worker.exit(&inbox.addr(), ExitReason::Shutdown).unwrap();
    /// assert_eq!(node.wait(&worker), Err(ExitReason::Shutdown));
    /// ```
    pub fn exit(&self, from: &Address, reason: ExitReason) -> Result<(), SendError> {
        crate::context::checkpoint();
        self.deliver(Envelope::Signal(Box::new(Signal::Exit {
            from: from.clone(),
            reason,
            linked: false,
        })))
    }

    /// A user's send: first the kill check every pyact call makes (issue 8: a pending kill
    /// ends the sending actor here), sharing its lookup with the "local?" check of
    /// [`deliver`](Address::deliver).
    /// With one node in the process every live cell is that node's, so only the kill check
    /// is left (no node-name compare, see [`single_node`](crate::node::single_node)).
    #[inline]
    fn deliver_checked(&self, env: Envelope) -> Result<(), SendError> {
        let cell = self.0.cell.upgrade();
        let local = if cell.is_some() && crate::node::single_node() {
            crate::context::checkpoint();
            true
        } else {
            crate::context::checkpoint_may_deliver(cell.as_deref().map(|c| &*c.node_id))
        };
        match cell {
            Some(cell) if local => cell.queue.push(env).map_err(|_| cell.queue.refusal(self)),
            _ => crate::node::route(self, env),
        }
    }

    /// Deliver an envelope: locally when possible, else through the current node's routes.
    pub(crate) fn deliver(&self, env: Envelope) -> Result<(), SendError> {
        if let Some(cell) = self.local_cell() {
            return cell.queue.push(env).map_err(|_| cell.queue.refusal(self));
        }
        crate::node::route(self, env)
    }

    /// The live actor behind this address if it is one of the node that is "here" (see
    /// [`may_deliver_locally`](crate::context::may_deliver_locally)).
    pub(crate) fn local_cell(&self) -> Option<Arc<ActorCell>> {
        self.0.cell.upgrade().filter(|c| {
            crate::node::single_node() || crate::context::may_deliver_locally(&c.node_id)
        })
    }
}

/// Move a `Value` in without copying; serialize anything else.
pub(crate) fn into_value<M: Serialize + 'static>(msg: M) -> Result<Value, SendError> {
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

/// `host:port/id/creation`, the form [`FromStr`](std::str::FromStr) parses back to the same
/// address of the same node start (`host:port/id` when the creation is unknown, 0): a
/// string kept across a restart of the node never reaches the new start's actors.
///
/// ```
/// use pyact::{Address, Mesh, Node};
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let a = node.spawn(|mut mb| mb.receive());
/// let s = a.to_string();
/// assert!(s.ends_with(&format!("/{}", node.creation())));
/// let back: Address = s.parse().unwrap();
/// assert_eq!((back.clone(), back.creation()), (a.clone(), a.creation()));
/// a.send("bye").unwrap();
/// ```
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.creation() {
            0 => write!(f, "{}/{}", self.0.node, self.0.id),
            c => write!(f, "{}/{}/{c}", self.0.node, self.0.id),
        }
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
    /// Parse `host:port/id/creation`, or the old form `host:port/id` (creation unknown).
    fn from_str(s: &str) -> Result<Self, SendError> {
        parse_address(s).ok_or_else(|| SendError::BadAddress(s.to_string()))
    }
}

/// Split `host:port/id[/creation]` into its parts (creation 0 when absent).
fn split_address(s: &str) -> Option<(&str, u64, u32)> {
    let (node, id, creation) = match s.split('/').collect::<Vec<_>>()[..] {
        [node, id] => (node, id, None),
        [node, id, c] => (node, id, Some(c)),
        _ => return None,
    };
    let id: u64 = id.parse().ok()?;
    let creation = match creation {
        None => 0,
        Some(c) => c.parse::<u32>().ok().filter(|&c| c != 0)?,
    };
    let (host, port) = node.rsplit_once(':')?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return None;
    }
    Some((node, id, creation))
}

fn parse_address(s: &str) -> Option<Address> {
    let (node, id, creation) = split_address(s)?;
    Some(crate::node::resolve(node, id, creation))
}

/// Is `v` an encoded address? (for the `address` pattern)
pub(crate) fn is_encoded_address(v: &Value) -> bool {
    v.as_object().is_some_and(|o| {
        o.len() == 1
            && o.get(ADDR_KEY)
                .and_then(Value::as_str)
                .is_some_and(|s| split_address(s).is_some())
    })
}

impl TryFrom<&Value> for Address {
    type Error = SendError;
    /// Read an address out of a message field, e.g. a reply address:
    /// `Address::try_from(&msg["from"])?`. Accepts the JSON encoding `{"$addr": "host:port/id"}`
    /// (what sending an [`Address`] produces) and the plain string `"host:port/id"`; anything
    /// else (including a missing field, `null`) is [`SendError::BadAddress`].
    ///
    /// ```
    /// use pyact::{Address, Mesh, Node, json};
    /// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut inbox = node.inbox();
    /// let echo = node.spawn(|mut mb| {
    ///     let msg = mb.receive();
    ///     Address::try_from(&msg["from"])?.send(msg["text"].clone())
    /// });
    /// echo.send(json!({"from": inbox.addr(), "text": "hi"})).unwrap();
    /// assert_eq!(inbox.receive(), "hi");
    /// assert!(Address::try_from(&json!(null)).is_err());
    /// ```
    fn try_from(v: &Value) -> Result<Address, SendError> {
        let text = match v {
            Value::String(s) => Some(s.as_str()),
            Value::Object(o) if o.len() == 1 => o.get(ADDR_KEY).and_then(Value::as_str),
            _ => None,
        };
        text.and_then(parse_address)
            .ok_or_else(|| SendError::BadAddress(v.to_string()))
    }
}

impl TryFrom<Value> for Address {
    type Error = SendError;
    /// As `Address::try_from(&value)`.
    fn try_from(v: Value) -> Result<Address, SendError> {
        Address::try_from(&v)
    }
}
