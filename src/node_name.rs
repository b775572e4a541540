//! Node names: `cookie@host:port`, parsed once, with the cookie kept out of every log and
//! error. Separate from `node.rs` because names are read by the network (the handshake's
//! identity) and by users before there is any node.

use crate::NodeError;

/// A parsed node name: `cookie@host:port`.
///
/// ```
/// let n = pyact::node::NodeName::parse("secret@127.0.0.1:0").unwrap();
/// assert_eq!((n.host.as_str(), n.port), ("127.0.0.1", 0));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct NodeName {
    /// The shared secret; never sent over the network, never printed.
    pub(crate) cookie: String,
    /// Host name or IP.
    pub host: String,
    /// TCP port (0: pick a free one).
    pub port: u16,
}

impl NodeName {
    /// Parse and validate `cookie@host:port`.
    ///
    /// ```
    /// let n = pyact::node::NodeName::parse("secret@127.0.0.1:4000").unwrap();
    /// assert_eq!((n.host.as_str(), n.port), ("127.0.0.1", 4000));
    /// assert!(pyact::node::NodeName::parse("no-cookie-here:1").is_err());
    /// assert!(pyact::node::NodeName::parse("c@host:99999").is_err());
    /// ```
    pub fn parse(name: &str) -> Result<NodeName, NodeError> {
        let bad = |why| NodeError::BadName {
            name: redact(name),
            why,
        };
        let (cookie, rest) = name.rsplit_once('@').ok_or_else(|| bad("missing '@'"))?;
        if cookie.is_empty() {
            return Err(bad("empty cookie"));
        }
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| bad("missing ':port'"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains(['/', '@', ' ']) {
            return Err(bad("bad host"));
        }
        let port = port
            .parse::<u16>()
            .map_err(|_| bad("port is not 0..65535"))?;
        Ok(NodeName {
            cookie: cookie.to_string(),
            host: host.to_string(),
            port,
        })
    }

    /// `host:port` (what addresses carry).
    ///
    /// ```
    /// let n = pyact::node::NodeName::parse("secret@127.0.0.1:4000").unwrap();
    /// assert_eq!(n.id(), "127.0.0.1:4000"); // no cookie
    /// ```
    pub fn id(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl std::fmt::Debug for NodeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeName(***@{})", self.id())
    }
}

/// A node name with the cookie hidden, for errors and logs.
fn redact(name: &str) -> String {
    match name.rsplit_once('@') {
        Some((_, rest)) => format!("***@{rest}"),
        None => name.to_string(),
    }
}
