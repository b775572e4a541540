//! Local names: a node's registry of actors by name (the seed's renaming, Erlang's
//! `register/2`). A name belongs to one live actor of this node and is freed when the actor
//! ends; cluster-wide names are another concept, built on top of these.

use crate::error::RegistryError;
use crate::node::lock;
use crate::{Address, Node, SendError};

impl Node {
    /// Register a local live actor under `name` (the seed's renaming); the name is freed
    /// when the actor ends.
    ///
    /// ```
    /// # use pyact::{Mesh, Node};
    /// let node = Node::new(&Mesh::new(), "c@localhost:0").unwrap();
    /// let a = node.spawn(|mut mb| { mb.receive(); });
    /// node.register("logger", &a).unwrap();
    /// assert_eq!(node.whereis("logger"), Some(a.clone()));
    /// assert!(node.register("logger", &a).is_err());
    /// a.send("stop").unwrap();
    /// node.wait(&a).unwrap();
    /// assert_eq!(node.whereis("logger"), None);
    /// ```
    pub fn register(&self, name: &str, addr: &Address) -> Result<(), RegistryError> {
        let cell = (addr.node_id() == self.name())
            .then(|| self.cell_of(addr))
            .flatten()
            .ok_or_else(|| RegistryError::NotLocal(addr.clone()))?;
        let mut reg = lock(&self.0.registry);
        if let Some(holder) = reg.get(name)
            && self.cell(holder.id()).is_some()
        {
            return Err(RegistryError::Taken(name.to_string()));
        }
        let mut st = cell.lock();
        if st.exit.is_some() {
            return Err(RegistryError::NotLocal(addr.clone()));
        }
        if let Some(old) = st.name.replace(name.to_string()) {
            reg.remove(&old);
        }
        reg.insert(name.to_string(), cell.address());
        Ok(())
    }

    /// Remove a registered name; returns the address it named.
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let inbox = node.inbox();
    /// node.register("me", &inbox.addr()).unwrap();
    /// assert_eq!(node.unregister("me"), Some(inbox.addr()));
    /// assert_eq!(node.whereis("me"), None);
    /// assert_eq!(node.unregister("me"), None);
    /// ```
    pub fn unregister(&self, name: &str) -> Option<Address> {
        let addr = lock(&self.0.registry).remove(name)?;
        if let Some(cell) = self.cell(addr.id()) {
            cell.lock().name.take();
        }
        Some(addr)
    }

    /// The actor registered under `name` on this node.
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// assert_eq!(node.whereis("nobody"), None);
    /// let inbox = node.inbox();
    /// node.register("desk", &inbox.addr()).unwrap();
    /// assert_eq!(node.whereis("desk"), Some(inbox.addr()));
    /// ```
    pub fn whereis(&self, name: &str) -> Option<Address> {
        lock(&self.0.registry).get(name).cloned()
    }

    /// Send to the actor registered as `name` on this node.
    ///
    /// ```
    /// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
    /// let mut inbox = node.inbox();
    /// node.register("log", &inbox.addr()).unwrap();
    /// node.send_named("log", "line 1").unwrap();
    /// assert_eq!(inbox.receive(), "line 1");
    /// assert!(matches!(node.send_named("nope", 1), Err(pyact::SendError::NoRoute(_))));
    /// ```
    pub fn send_named<M: serde::Serialize + 'static>(
        &self,
        name: &str,
        msg: M,
    ) -> Result<(), SendError> {
        let addr = self
            .whereis(name)
            .ok_or_else(|| SendError::NoRoute(format!("no actor registered as {name:?}")))?;
        addr.send(msg)
    }
}
