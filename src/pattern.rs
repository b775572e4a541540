//! Patterns for selective receive, written like the seed's Python patterns.
//!
//! Build them with [`pattern!`](macro@crate::pattern) from a literal that reads like the seed:
//!
//! | pattern | matches | does not match |
//! |---|---|---|
//! | `object` or `_` | anything | |
//! | `int` | `1`, `-3` (JSON integers) | `1.5`, `1.0`, `"1"` |
//! | `float` | `1.5`, `1.0` (JSON numbers written with a fraction or exponent) | `1` |
//! | `number` | any number | `"1"` |
//! | `str` | any string | `1` |
//! | `bool` | `true`, `false` | `0` |
//! | `list` | any array | `{}` |
//! | `dict` | any object | `[]` |
//! | `address` | an encoded [`Address`](crate::Address) | `"x"` |
//! | `"text"`, `42`, `true`, `null` | that exact value (`1 == 1.0`) | anything else |
//! | `= expr` | the exact JSON value of a Rust expression (e.g. a [`Ref`](crate::link::Ref)) | |
//! | `{"k": P, ...}` | objects with at least those keys, each matching its pattern (extra keys ignored) | an object missing a key |
//! | `(P1, P2)` | arrays of exactly that length, element by element (the seed's tuples) | a longer or shorter array |
//! | `[P]` | arrays whose every element matches `P` (the empty array too) | an array with one mismatch |
//! | `[]` | the empty array | |
//! | `NAME` | whatever the [`Pattern`] in variable `NAME` matches (nesting named patterns) | |
//!
//! ```
//! use pyact::pattern;
//! use serde_json::json;
//! let event = pattern!({"event": str, "data": object});
//! assert!(event.matches(&json!({"event": "boot", "data": [1, 2], "extra": true})));
//! assert!(!event.matches(&json!({"event": 1, "data": null})));
//! let data = pattern!(("data", [str]));
//! assert!(data.matches(&json!(["data", ["a", "b"]])));
//! assert!(!data.matches(&json!(["data", ["a", 1]])));
//! ```

use serde_json::Value;

/// A compiled pattern. See the [module docs](self) for the rules.
///
/// Usually built with [`pattern!`](macro@crate::pattern), but plain values work too:
/// ```
/// use pyact::{Pattern, json};
/// let p = Pattern::Dict(vec![("n".into(), Pattern::Int)]);
/// assert!(p.matches(&json!({"n": 1, "more": true})));
/// assert!(Pattern::from(json!("stop")).matches(&json!("stop")));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Pattern {
    /// `object` / `_`: anything.
    Any,
    /// `int`: a JSON integer.
    Int,
    /// `float`: a JSON number with a fraction or exponent.
    Float,
    /// `number`: any JSON number.
    Number,
    /// `str`: any string.
    Str,
    /// `bool`: `true` or `false`.
    Bool,
    /// `list`: any array.
    AnyList,
    /// `dict`: any object.
    AnyDict,
    /// `address`: an encoded actor address.
    Address,
    /// `[P]`: an array whose every element matches `P`.
    ListOf(Box<Pattern>),
    /// `(P, ...)`: an array of exactly this length, element-wise.
    Tuple(Vec<Pattern>),
    /// `{"k": P, ...}`: an object with these keys (and possibly more).
    Dict(Vec<(String, Pattern)>),
    /// An exact value.
    Exact(Value),
}

impl Pattern {
    /// An exact-value pattern for any serializable value: what `pattern!(= expr)` builds
    /// (through `pyact`'s own serde_json, so a crate using the macro needs no serde_json of
    /// its own).
    ///
    /// # Panics
    /// If `v` does not serialize to JSON (a map with non-string keys, a failing `Serialize`).
    ///
    /// ```
    /// use pyact::{Pattern, json};
    /// let p = Pattern::exact(&("ok", 1));
    /// assert!(p.matches(&json!(["ok", 1.0]))); // numbers compare by value
    /// assert!(!p.matches(&json!(["ok", 2])));
    /// ```
    pub fn exact<T: serde::Serialize + ?Sized>(v: &T) -> Pattern {
        Pattern::Exact(serde_json::to_value(v).expect("pattern value serializes to JSON"))
    }

    /// Does `v` match this pattern?
    ///
    /// ```
    /// use pyact::{pattern, json};
    /// let job = pattern!({"job": int, "tags": [str]});
    /// assert!(job.matches(&json!({"job": 1, "tags": []})));
    /// assert!(!job.matches(&json!({"job": 1, "tags": [2]})));
    /// ```
    pub fn matches(&self, v: &Value) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Int => v.as_i64().is_some() || v.as_u64().is_some(),
            Pattern::Float => v.as_number().is_some_and(|n| n.is_f64()),
            Pattern::Number => v.is_number(),
            Pattern::Str => v.is_string(),
            Pattern::Bool => v.is_boolean(),
            Pattern::AnyList => v.is_array(),
            Pattern::AnyDict => v.is_object(),
            Pattern::Address => crate::address::is_encoded_address(v),
            Pattern::ListOf(p) => v
                .as_array()
                .is_some_and(|items| items.iter().all(|i| p.matches(i))),
            Pattern::Tuple(ps) => v.as_array().is_some_and(|items| {
                items.len() == ps.len() && ps.iter().zip(items).all(|(p, i)| p.matches(i))
            }),
            Pattern::Dict(fields) => v.as_object().is_some_and(|obj| {
                fields
                    .iter()
                    .all(|(k, p)| obj.get(k).is_some_and(|i| p.matches(i)))
            }),
            Pattern::Exact(want) => json_eq(want, v),
        }
    }
}

/// JSON equality where numbers compare by value (`1 == 1.0`), as Python's `==` does.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                x == y
            } else if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                x == y
            } else {
                x.as_f64() == y.as_f64()
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, xv)| y.get(k).is_some_and(|yv| json_eq(xv, yv)))
        }
        _ => a == b,
    }
}

impl From<Value> for Pattern {
    /// An exact-value pattern.
    fn from(v: Value) -> Self {
        Pattern::Exact(v)
    }
}

/// Build a [`Pattern`] from a literal in the seed's syntax (see the [module docs](mod@crate::pattern)).
///
/// ```
/// use pyact::pattern;
/// use serde_json::json;
/// let r = pyact::link::Ref::new();
/// let reply = pattern!({"ref": = r, "ok": bool});
/// assert!(reply.matches(&json!({"ref": r, "ok": true})));
/// assert!(!reply.matches(&json!({"ref": pyact::link::Ref::new(), "ok": true})));
/// let pair = pattern!((int, float));
/// assert!(pair.matches(&json!([1, 2.5])) && !pair.matches(&json!([1, 2])));
/// let named = pattern!({"point": pair});
/// assert!(named.matches(&json!({"point": [3, 0.5]})));
/// ```
#[macro_export]
macro_rules! pattern {
    (object) => { $crate::Pattern::Any };
    (_) => { $crate::Pattern::Any };
    (int) => { $crate::Pattern::Int };
    (float) => { $crate::Pattern::Float };
    (number) => { $crate::Pattern::Number };
    (str) => { $crate::Pattern::Str };
    (bool) => { $crate::Pattern::Bool };
    (list) => { $crate::Pattern::AnyList };
    (dict) => { $crate::Pattern::AnyDict };
    (address) => { $crate::Pattern::Address };
    (null) => { $crate::Pattern::Exact($crate::Value::Null) };
    (true) => { $crate::Pattern::Exact($crate::Value::Bool(true)) };
    (false) => { $crate::Pattern::Exact($crate::Value::Bool(false)) };
    (= $e:expr) => {
        $crate::Pattern::exact(&$e)
    };
    ([]) => { $crate::Pattern::Exact($crate::Value::Array(::std::vec::Vec::new())) };
    ([ $($inner:tt)+ ]) => { $crate::Pattern::ListOf(::std::boxed::Box::new($crate::pattern!($($inner)+))) };
    (( $($inner:tt)* )) => { $crate::pattern!(@tuple [] [] $($inner)*) };
    ({ $($inner:tt)* }) => { $crate::pattern!(@dict [] $($inner)*) };
    ($lit:literal) => { $crate::Pattern::Exact($crate::json!($lit)) };
    ($name:ident) => { $crate::Pattern::clone(&$name) };

    // Tuples: split the elements at top-level commas.
    (@tuple [$($out:expr,)*] [$($cur:tt)+] , $($rest:tt)*) => {
        $crate::pattern!(@tuple [$($out,)* $crate::pattern!($($cur)+),] [] $($rest)*)
    };
    (@tuple [$($out:expr,)*] [$($cur:tt)*] $next:tt $($rest:tt)*) => {
        $crate::pattern!(@tuple [$($out,)*] [$($cur)* $next] $($rest)*)
    };
    (@tuple [$($out:expr,)*] [$($cur:tt)+]) => {
        $crate::Pattern::Tuple(::std::vec![$($out,)* $crate::pattern!($($cur)+)])
    };
    (@tuple [$($out:expr,)*] []) => {
        $crate::Pattern::Tuple(::std::vec![$($out),*])
    };

    // Dicts: `key: pattern` entries split at top-level commas.
    (@dict [$($out:expr,)*]) => {
        $crate::Pattern::Dict(::std::vec![$($out),*])
    };
    (@dict [$($out:expr,)*] $key:tt : $($rest:tt)*) => {
        $crate::pattern!(@dictval [$($out,)*] $key [] $($rest)*)
    };
    (@dictval [$($out:expr,)*] $key:tt [$($cur:tt)+] , $($rest:tt)*) => {
        $crate::pattern!(@dict [$($out,)* (::std::string::String::from($key), $crate::pattern!($($cur)+)),] $($rest)*)
    };
    (@dictval [$($out:expr,)*] $key:tt [$($cur:tt)*] $next:tt $($rest:tt)*) => {
        $crate::pattern!(@dictval [$($out,)*] $key [$($cur)* $next] $($rest)*)
    };
    (@dictval [$($out:expr,)*] $key:tt [$($cur:tt)+]) => {
        $crate::pattern!(@dict [$($out,)* (::std::string::String::from($key), $crate::pattern!($($cur)+)),])
    };
}
