//! References: unique tokens that tag a request, a monitor or a call (Erlang's `make_ref()`).

use serde::{Deserialize, Serialize};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// A unique reference. Within a process references never repeat; across processes each
/// process starts its counter at a random 32-bit offset in the high bits, so references from
/// different nodes are distinct with overwhelming probability.
///
/// JSON encoding: `{"$ref": <u64>}`.
///
/// ```
/// let a = pyact::link::Ref::new();
/// let b = pyact::link::Ref::new();
/// assert_ne!(a, b);
/// assert_eq!(serde_json::to_value(a).unwrap()["$ref"], a.id());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Ref {
    #[serde(rename = "$ref")]
    id: u64,
}

static NEXT: AtomicU64 = AtomicU64::new(0);

impl Ref {
    /// A fresh reference.
    ///
    /// ```
    /// let (a, b) = (pyact::link::Ref::new(), pyact::link::Ref::new());
    /// assert_ne!(a, b); // never repeats in a process
    /// ```
    pub fn new() -> Ref {
        static BASE: OnceLock<u64> = OnceLock::new();
        let base = *BASE.get_or_init(|| crate::random_u64() << 32);
        Ref {
            id: base.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed)),
        }
    }

    /// Its numeric value.
    ///
    /// ```
    /// let r = pyact::link::Ref::new();
    /// assert_eq!(pyact::json!(r), pyact::json!({"$ref": r.id()}));
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Default for Ref {
    fn default() -> Self {
        Ref::new()
    }
}

impl std::fmt::Display for Ref {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#Ref<{:x}>", self.id)
    }
}
