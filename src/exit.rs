//! Exit reasons: why an actor ended.
//!
//! Erlang's rule is kept: an actor ends either *normally* (its function returned a value) or
//! *abnormally* (anything else). Abnormal exits propagate along links; normal ones do not.
//! Every reason is plain data and travels between nodes as JSON:
//!
//! | reason | JSON |
//! |---|---|
//! | `Normal(v)` | `{"normal": v}` |
//! | `Failed(msg)` | `{"error": "msg"}` |
//! | `Panicked(msg)` | `{"panic": "msg"}` |
//! | `Killed` | `"killed"` |
//! | `NoSuchActor` | `"noproc"` |
//! | `NoConnection` | `"noconnection"` |
//! | `Shutdown` | `"shutdown"` |
//! | `Linked { from, reason }` | `{"linked": {"from": <address>, "reason": <reason>}}` |

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

use crate::Address;

/// Why an actor ended. See the [module docs](self) for the JSON encoding.
///
/// ```
/// use pyact::ExitReason;
/// let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let failed = node.spawn(|_| "x".parse::<i32>());
/// match node.wait(&failed) {
///     Err(ExitReason::Failed(why)) => assert!(why.contains("invalid digit")),
///     other => panic!("{other:?}"),
/// }
/// assert_eq!(ExitReason::Killed.to_json(), "killed");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ExitReason {
    /// The actor function returned this value.
    #[serde(rename = "normal")]
    Normal(Value),
    /// The actor function returned an error (its `Display` text).
    #[serde(rename = "error")]
    Failed(String),
    /// The actor panicked with this message.
    #[serde(rename = "panic")]
    Panicked(String),
    /// Someone called [`Address::kill`]: untrappable.
    #[serde(rename = "killed")]
    Killed,
    /// There is no such actor (never existed, or its exit record was forgotten).
    #[serde(rename = "noproc")]
    NoSuchActor,
    /// The node the actor lives on cannot be reached.
    #[serde(rename = "noconnection")]
    NoConnection,
    /// Stopped on purpose by its supervisor or by [`Address::exit`].
    #[serde(rename = "shutdown")]
    Shutdown,
    /// A linked actor ended abnormally and this actor did not trap exits.
    #[serde(rename = "linked")]
    Linked {
        /// The linked actor whose exit signal ended this one.
        from: Address,
        /// The root cause: the reason of the first actor in the chain (never itself
        /// `Linked`, so a crash spreading along a long chain keeps a small reason).
        reason: Box<ExitReason>,
    },
}

impl ExitReason {
    /// Is this a normal exit (which does not propagate along links)?
    ///
    /// ```
    /// use pyact::ExitReason;
    /// assert!(ExitReason::Normal(1.into()).is_normal());
    /// assert!(!ExitReason::Shutdown.is_normal()); // a shutdown propagates along links
    /// ```
    pub fn is_normal(&self) -> bool {
        matches!(self, ExitReason::Normal(_))
    }

    /// The reason as a JSON value (the encoding in the [module docs](self)).
    ///
    /// ```
    /// use pyact::{ExitReason, json};
    /// assert_eq!(ExitReason::Failed("bad".into()).to_json(), json!({"error": "bad"}));
    /// assert_eq!(ExitReason::NoSuchActor.to_json(), "noproc");
    /// ```
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// `Ok(value)` for a normal exit, `Err(self)` otherwise: what [`Node::wait`](crate::Node::wait) returns.
    ///
    /// ```
    /// use pyact::ExitReason;
    /// assert_eq!(ExitReason::Normal(3.into()).into_result(), Ok(3.into()));
    /// assert_eq!(ExitReason::Killed.into_result(), Err(ExitReason::Killed));
    /// ```
    pub fn into_result(self) -> Result<Value, ExitReason> {
        match self {
            ExitReason::Normal(v) => Ok(v),
            other => Err(other),
        }
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal(v) => write!(f, "normal exit with {v}"),
            ExitReason::Failed(e) => write!(f, "actor failed: {e}"),
            ExitReason::Panicked(m) => write!(f, "actor panicked: {m}"),
            ExitReason::Killed => write!(f, "actor was killed"),
            ExitReason::NoSuchActor => write!(f, "no such actor"),
            ExitReason::NoConnection => write!(f, "no connection to the actor's node"),
            ExitReason::Shutdown => write!(f, "actor was shut down"),
            ExitReason::Linked { from, reason } => {
                write!(f, "linked actor {from} exited: {reason}")
            }
        }
    }
}

impl std::error::Error for ExitReason {}

/// What an actor function may return; turned into its [`ExitReason`].
///
/// Implemented for `()` (exit value `null`), [`Value`], [`ExitReason`], plain values (numbers,
/// `bool`, `char`, `String`, `&str`, and `Vec<T>` / `Option<T>` of serializable `T`: their
/// JSON), `Result<T, E>` where `T` is serializable and `E` displays (an `Err` becomes
/// [`ExitReason::Failed`]), and the never type, so `|_| 2 + 2` and a closure that loops
/// forever need no return type.
///
/// ```
/// use pyact::{Mesh, Node, json};
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let four = node.spawn(|_| 2 + 2);
/// let hello = node.spawn(|_| "hello");
/// let forever = node.spawn(|mut mb| loop {
///     if mb.receive() == "crash" { panic!("asked to") }
/// });
/// assert_eq!(node.wait(&four).unwrap(), 4);
/// assert_eq!(node.wait(&hello).unwrap(), "hello");
/// forever.send("crash").unwrap();
/// assert!(node.wait(&forever).is_err());
/// ```
///
/// Any other return type is a compile error ("an actor function cannot return `Point`")
/// that lists the supported ones; a type of your own travels as its JSON:
/// ```compile_fail,E0277
/// # let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// #[derive(serde::Serialize)]
/// struct Point { x: i32 }
/// node.spawn(|_| Point { x: 1 });
/// ```
/// ```
/// # let node = pyact::Node::new(&pyact::Mesh::new(), "c@127.0.0.1:0").unwrap();
/// #[derive(serde::Serialize)]
/// struct Point { x: i32 }
/// let p = node.spawn(|_| pyact::serde_json::to_value(Point { x: 1 }));
/// assert_eq!(node.wait(&p).unwrap()["x"], 1);
/// ```
#[diagnostic::on_unimplemented(
    message = "an actor function cannot return `{Self}`",
    label = "`{Self}` is not a return type an actor may have",
    note = "an actor may return `()`, `Value`, `ExitReason`, a number, `bool`, `char`, `String`, `&str`, `Vec<T>` or `Option<T>` of a `Serialize` type, `Result<T, E>` (`T: Serialize`, `E: Display`), or never return",
    note = "for a type of your own, derive `Serialize` and return `serde_json::to_value(v)` (a `Result`)"
)]
pub trait IntoExit {
    /// Convert into the exit reason.
    ///
    /// ```
    /// use pyact::{ExitReason, IntoExit};
    /// assert_eq!(().into_exit(), ExitReason::Normal(pyact::Value::Null));
    /// assert_eq!(Err::<(), _>("no disk").into_exit(), ExitReason::Failed("no disk".into()));
    /// assert_eq!(Some(3).into_exit(), ExitReason::Normal(3.into()));
    /// ```
    fn into_exit(self) -> ExitReason;
}

impl IntoExit for () {
    fn into_exit(self) -> ExitReason {
        ExitReason::Normal(Value::Null)
    }
}

impl IntoExit for Value {
    fn into_exit(self) -> ExitReason {
        ExitReason::Normal(self)
    }
}

impl IntoExit for ExitReason {
    fn into_exit(self) -> ExitReason {
        self
    }
}

impl<T: Serialize, E: fmt::Display> IntoExit for Result<T, E> {
    fn into_exit(self) -> ExitReason {
        match self {
            Ok(v) => match serde_json::to_value(v) {
                Ok(v) => ExitReason::Normal(v),
                Err(e) => ExitReason::Failed(format!("result is not serializable: {e}")),
            },
            Err(e) => ExitReason::Failed(e.to_string()),
        }
    }
}

// `!` cannot be named in an impl on stable Rust, but `<fn() -> ! as Returns>::Output` is `!`.
// Edition 2024 infers `!` as the return type of a closure that loops forever
// (`|mut mb| loop { mb.receive(); }`), so this impl lets such an actor compile without an
// explicit return type. Such an actor never returns: it ends by a panic or an exit signal.
trait Returns {
    type Output;
}
impl<T> Returns for fn() -> T {
    type Output = T;
}
type Never = <fn() -> ! as Returns>::Output;

// The private helper trait only names the type; the impl is for `!` itself.
// `do_not_recommend` keeps the helper's name out of the compiler's list of supported return
// types when a function returns something else (the list would read
// `<fn() -> ! as exit::Returns>::Output`).
#[allow(private_interfaces)]
#[diagnostic::do_not_recommend]
impl IntoExit for Never {
    fn into_exit(self) -> ExitReason {
        self
    }
}

impl IntoExit for std::convert::Infallible {
    fn into_exit(self) -> ExitReason {
        match self {}
    }
}

/// Plain values an actor function may return: the actor ends normally with their JSON.
macro_rules! into_exit_as_json {
    ($($t:ty),* $(,)?) => {$(
        impl IntoExit for $t {
            fn into_exit(self) -> ExitReason {
                ExitReason::Normal(serde_json::json!(self))
            }
        }
    )*};
}
into_exit_as_json!(
    bool, i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64, char, String,
    &str,
);

impl<T: Serialize> IntoExit for Vec<T> {
    fn into_exit(self) -> ExitReason {
        Ok::<_, std::convert::Infallible>(self).into_exit()
    }
}

impl<T: Serialize> IntoExit for Option<T> {
    fn into_exit(self) -> ExitReason {
        Ok::<_, std::convert::Infallible>(self).into_exit()
    }
}
