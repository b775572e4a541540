//! The mesh: the set of nodes that know each other (the seed's `Mesh`).
//!
//! A process creates one `Mesh` and any number of local [`Node`]s on it. The mesh keeps the
//! list of local nodes and of the remote nodes they are connected to, and fans out node
//! up/down events.

use std::sync::{Arc, Mutex, Weak};

use crate::Node;
use crate::node::NodeInner;

/// A mesh of connected nodes. Cheap to clone; clones are the same mesh.
///
/// ```
/// let mesh = pyact::Mesh::new();
/// let node = pyact::Node::new(&mesh, "cookie@127.0.0.1:0").unwrap();
/// assert_eq!(mesh.local_nodes(), vec![node.name().to_string()]);
/// ```
#[derive(Clone, Default)]
pub struct Mesh(pub(crate) Arc<MeshInner>);

#[derive(Default)]
pub(crate) struct MeshInner {
    locals: Mutex<Vec<Weak<NodeInner>>>,
}

impl Mesh {
    /// A new, empty mesh. Applies the default runtime [`Config`](crate::config::Config) if none was
    /// applied yet.
    ///
    /// ```
    /// let mesh = pyact::Mesh::new();
    /// assert!(mesh.local_nodes().is_empty());
    /// let _node = pyact::Node::new(&mesh, "c@127.0.0.1:0").unwrap();
    /// assert_eq!(mesh.local_nodes().len(), 1);
    /// ```
    pub fn new() -> Mesh {
        crate::config::current();
        Mesh::default()
    }

    pub(crate) fn add_local(&self, node: &Node) {
        let mut l = self.0.locals.lock().unwrap_or_else(|p| p.into_inner());
        l.retain(|w| w.strong_count() > 0);
        l.push(Arc::downgrade(&node.0));
    }

    /// Remote nodes (`host:port`) that some node of this mesh is connected to.
    ///
    /// ```
    /// let mesh = pyact::Mesh::new();
    /// let a = pyact::Node::new(&mesh, "k@127.0.0.1:0").unwrap();
    /// let b = pyact::Node::new(&pyact::Mesh::new(), "k@127.0.0.1:0").unwrap();
    /// assert!(mesh.nodes().is_empty());
    /// a.connect(&format!("k@{}", b.name())).unwrap();
    /// assert_eq!(mesh.nodes(), vec![b.name().to_string()]);
    /// ```
    pub fn nodes(&self) -> Vec<String> {
        let locals: Vec<Node> = {
            let l = self.0.locals.lock().unwrap_or_else(|p| p.into_inner());
            l.iter().filter_map(Weak::upgrade).map(Node).collect()
        };
        let mine: Vec<String> = locals.iter().map(|n| n.name().to_string()).collect();
        let mut all: Vec<String> = locals
            .iter()
            .flat_map(|n| crate::distribution::Distribution::connected_nodes(&n.0.dist, n))
            .filter(|p| !mine.contains(p))
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// Names (`host:port`) of this process's nodes on this mesh.
    ///
    /// ```
    /// let mesh = pyact::Mesh::new();
    /// let a = pyact::Node::new(&mesh, "c@127.0.0.1:0").unwrap();
    /// let b = pyact::Node::new(&mesh, "c@127.0.0.1:0").unwrap();
    /// let names = mesh.local_nodes();
    /// assert!(names.contains(&a.name().to_string()) && names.contains(&b.name().to_string()));
    /// ```
    pub fn local_nodes(&self) -> Vec<String> {
        let l = self.0.locals.lock().unwrap_or_else(|p| p.into_inner());
        l.iter()
            .filter_map(Weak::upgrade)
            .map(|n| n.id.to_string())
            .collect()
    }
}

impl std::fmt::Debug for Mesh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mesh")
            .field("local_nodes", &self.local_nodes())
            .finish()
    }
}
