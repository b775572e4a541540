//! `ask`: one request and its reply with a *plain* actor, one that answers to a reply
//! address found in the message, without implementing [`Server`](crate::Server).
//!
//! # The convention
//! The request is a JSON object; [`ask`] adds (or overwrites) its `"from"` field with the
//! address of a throwaway mailbox and sends it. The actor answers by sending any message to
//! that address ([`reply`] does it, or `Address::try_from(&msg["from"])?.send(v)`); the first
//! message that arrives there is the answer. This is the python-actors habit of putting
//! `"from": curaddr()` in a message, without needing a mailbox of one's own.
//!
//! | what happens | result |
//! |---|---|
//! | the actor sends anything to `"from"` | `Ok(that message)` |
//! | the actor is dead or unknown, or dies before answering | [`CallError::DeadActor`] with its reason |
//! | its node is unreachable or lost | [`CallError::NoConnection`] |
//! | nothing before `timeout` | [`CallError::Timeout`] (a late answer is dropped) |
//! | the request is not a JSON object, or cannot be sent | [`CallError::Send`] |
//!
//! Like [`Address::call`], `ask` monitors the target from its throwaway mailbox, so a target
//! that dies ends the ask at once, and nothing is left in the caller's own mailbox.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::mailbox::Timeout;
use crate::server::CallError;
use crate::{Address, ExitReason, SendError, pattern};

/// Send `request` to `to` with a reply address in its `"from"` field and wait up to `timeout`
/// for the answer. See the [module docs](self) for the convention and every error.
///
/// ```
/// use pyact::{Address, Mesh, Node, ask, json};
/// use std::time::Duration;
///
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let doubler = node.spawn(|mut mb| loop {
///     let msg = mb.receive();
///     let n = msg["n"].as_i64().unwrap_or(0);
///     let _ = pyact::reply(&msg, n * 2);
/// });
/// let t = Duration::from_secs(30);
/// assert_eq!(ask(&doubler, json!({"n": 21}), t).unwrap(), 42);
/// assert_eq!(doubler.ask(json!({"n": 5}), t).unwrap(), 10);
/// ```
pub fn ask<M: Serialize>(to: &Address, request: M, timeout: Duration) -> Result<Value, CallError> {
    let mut request = serde_json::to_value(&request)
        .map_err(|e| CallError::Send(SendError::NotJson(e.to_string())))?;
    let Some(fields) = request.as_object_mut() else {
        return Err(CallError::Send(SendError::NotJson(format!(
            "ask needs a JSON object to put its \"from\" reply address in, got {request}"
        ))));
    };
    let node = crate::wait::caller_node(to).ok_or_else(|| {
        CallError::Send(SendError::NoRoute(format!(
            "cannot ask {to}: this process has no node to ask from"
        )))
    })?;
    let mut mb = node.ephemeral();
    let mref = mb.monitor(to);
    fields.insert("from".into(), serde_json::json!(mb.addr()));
    match to.send(request) {
        // A dead target: its DOWN is already on the way and says why.
        Ok(()) | Err(SendError::DeadActor(_)) => {}
        Err(e) => {
            mb.demonitor(mref);
            return Err(match e {
                SendError::NoConnection { node, why } => CallError::NoConnection { node, why },
                e => CallError::Send(e),
            });
        }
    }
    let down = pattern!({"down": = mref});
    let answer = pattern!(_);
    let result = match mb.receive_match_timeout(&[&down, &answer], timeout) {
        Ok((0, msg)) => Err(
            match serde_json::from_value::<ExitReason>(msg["exit"].clone())
                .unwrap_or(ExitReason::NoSuchActor)
            {
                ExitReason::NoConnection => CallError::NoConnection {
                    node: to.node_id().to_string(),
                    why: crate::server::LOST.into(),
                },
                r => CallError::DeadActor(r),
            },
        ),
        Ok((_, msg)) => Ok(msg),
        Err(Timeout) => Err(CallError::Timeout),
    };
    mb.demonitor(mref);
    result
}

/// Answer a request that carries a reply address in its `"from"` field (what [`ask`] sends,
/// and the python-actors habit): sends `answer` there.
///
/// Errors: [`SendError::BadAddress`] if `"from"` is missing or not an address, else the
/// errors of [`Address::send`].
///
/// ```
/// use pyact::{SendError, json, reply};
/// use std::time::Duration;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let upper = node.spawn(|mut mb| {
///     let req = mb.receive();
///     reply(&req, req["text"].as_str().unwrap_or("").to_uppercase()).unwrap();
/// });
/// assert_eq!(upper.ask(json!({"text": "hi"}), Duration::from_secs(30)).unwrap(), "HI");
/// assert!(matches!(reply(&json!({"no": "from"}), 1), Err(SendError::BadAddress(_))));
/// ```
pub fn reply<M: Serialize + 'static>(request: &Value, answer: M) -> Result<(), SendError> {
    Address::try_from(&request["from"])?.send(answer)
}

impl Address {
    /// [`ask`] this actor: `addr.ask(request, timeout)`.
    ///
    /// ```
    /// use pyact::json;
    /// use pyact::server::CallError;
    /// use std::time::Duration;
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mute = node.spawn(|mut mb| loop { mb.receive(); }); // never answers
    /// assert_eq!(mute.ask(json!({"q": 1}), Duration::from_millis(5)), Err(CallError::Timeout));
    /// ```
    pub fn ask<M: Serialize>(&self, request: M, timeout: Duration) -> Result<Value, CallError> {
        ask(self, request, timeout)
    }
}
