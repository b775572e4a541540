//! Pattern matching, rule by rule, as in the table of the `pyact::pattern` module docs.
//!
//! Every rule gets the values it must match and the values it must not; one test walks the
//! whole table and reports every wrong answer at once.

use pyact::link::Ref;
use pyact::{Pattern, Value, json, pattern};

/// A JSON number parsed from text, so `1.0` stays a float (as it would off the wire).
fn num(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

struct Case {
    rule: &'static str,
    pattern: Pattern,
    yes: Vec<Value>,
    no: Vec<Value>,
}

fn case(rule: &'static str, pattern: Pattern, yes: Vec<Value>, no: Vec<Value>) -> Case {
    Case {
        rule,
        pattern,
        yes,
        no,
    }
}

fn table() -> Vec<Case> {
    let r = Ref::new();
    let other_ref = Ref::new();
    let point = pattern!((int, int));
    let shape = pattern!({"kind": str, "points": [point]});
    vec![
        case(
            "object",
            pattern!(object),
            vec![
                json!(null),
                json!(1),
                json!("x"),
                json!([]),
                json!({}),
                json!(true),
            ],
            vec![],
        ),
        case(
            "_",
            pattern!(_),
            vec![json!(null), json!(1.5), json!([1, [2]]), json!({"a": 1})],
            vec![],
        ),
        case(
            "int",
            pattern!(int),
            vec![
                json!(1),
                json!(-3),
                json!(0),
                json!(u64::MAX),
                json!(i64::MIN),
                num("12"),
            ],
            vec![
                json!(1.5),
                num("1.0"),
                json!(1.0),
                num("1e3"),
                json!("1"),
                json!(true),
                json!(null),
                json!([1]),
            ],
        ),
        case(
            "float",
            pattern!(float),
            vec![json!(1.5), num("1.0"), json!(1.0), num("1e3"), json!(-0.25)],
            vec![json!(1), json!(-3), json!("1.5"), json!(null), json!([1.5])],
        ),
        case(
            "number",
            pattern!(number),
            vec![json!(1), json!(-3), json!(1.5), num("1.0"), json!(u64::MAX)],
            vec![json!("1"), json!(null), json!(true), json!([1]), json!({})],
        ),
        case(
            "str",
            pattern!(str),
            vec![json!(""), json!("x"), json!("1")],
            vec![json!(1), json!(null), json!(["x"]), json!({"x": "x"})],
        ),
        case(
            "bool",
            pattern!(bool),
            vec![json!(true), json!(false)],
            vec![json!(0), json!(1), json!("true"), json!(null)],
        ),
        case(
            "list",
            pattern!(list),
            vec![json!([]), json!([1, "a", null])],
            vec![json!({}), json!("[]"), json!(null), json!(1)],
        ),
        case(
            "dict",
            pattern!(dict),
            vec![json!({}), json!({"a": 1})],
            vec![json!([]), json!("{}"), json!(null), json!([["a", 1]])],
        ),
        case(
            "address",
            pattern!(address),
            vec![
                json!({"$addr": "127.0.0.1:4000/7"}),
                json!({"$addr": "localhost:1/0"}),
            ],
            vec![
                json!("x"),
                json!("127.0.0.1:4000/7"),
                json!({"$addr": "x"}),
                json!({"$addr": 7}),
                json!({"$addr": "127.0.0.1:4000"}),
                json!({"$addr": "127.0.0.1:99999/7"}),
                json!({"$addr": ":4000/7"}),
                json!({"$addr": "127.0.0.1:4000/7", "extra": 1}),
                json!({}),
            ],
        ),
        case(
            "exact string",
            pattern!("text"),
            vec![json!("text")],
            vec![json!("Text"), json!("text "), json!(""), json!(["text"])],
        ),
        case(
            "exact int (1 == 1.0 by value)",
            pattern!(42),
            vec![json!(42), num("42.0"), json!(42.0)],
            vec![json!(43), json!(42.5), json!("42"), json!([42])],
        ),
        case(
            "exact 1 matches 1.0",
            pattern!(1),
            vec![json!(1), num("1.0"), num("1e0")],
            vec![json!(true), json!("1"), json!(2)],
        ),
        case(
            "exact 1.0 matches 1",
            pattern!(1.0),
            vec![json!(1), num("1.0")],
            vec![json!(1.5), json!(true)],
        ),
        case(
            "exact negative",
            pattern!(-3),
            vec![json!(-3), num("-3.0")],
            vec![json!(3), json!(u64::MAX)],
        ),
        case(
            "negative and float literals inside tuples and dicts",
            pattern!({"x": -1, "p": (-2, 2.5)}),
            vec![
                json!({"x": -1, "p": [-2, 2.5]}),
                json!({"x": -1.0, "p": [-2.0, 2.5], "y": 0}),
            ],
            vec![
                json!({"x": 1, "p": [-2, 2.5]}),
                json!({"x": -1, "p": [2, 2.5]}),
            ],
        ),
        case(
            "exact true",
            pattern!(true),
            vec![json!(true)],
            vec![json!(false), json!(1), json!("true")],
        ),
        case(
            "exact false",
            pattern!(false),
            vec![json!(false)],
            vec![json!(true), json!(0), json!(null)],
        ),
        case(
            "exact null",
            pattern!(null),
            vec![json!(null)],
            vec![json!(false), json!(0), json!("null"), json!([])],
        ),
        case(
            "= expr (a Ref)",
            pattern!(= r),
            vec![json!(r), json!({"$ref": r.id()})],
            vec![
                json!(other_ref),
                json!(r.id()),
                json!({"$ref": r.id(), "x": 1}),
            ],
        ),
        case(
            "= expr (a structured value, numbers by value, objects exact)",
            pattern!(= json!({"a": [1, 2]})),
            vec![json!({"a": [1, 2]}), json!({"a": [1, 2.0]})],
            vec![
                json!({"a": [2, 1]}),
                json!({"a": [1, 2], "b": 0}),
                json!({"a": [1, 2, 3]}),
                json!({}),
            ],
        ),
        case(
            "= expr (a Vec)",
            pattern!(= vec![1, 2, 3]),
            vec![json!([1, 2, 3])],
            vec![json!([1, 2]), json!([1, 2, 3, 4])],
        ),
        case(
            "dict: keys present and matching, extra keys ignored",
            pattern!({"k": int, "s": str}),
            vec![
                json!({"k": 1, "s": "x"}),
                json!({"k": 1, "s": "x", "extra": [1, 2]}),
            ],
            vec![
                json!({"k": 1}),
                json!({"s": "x"}),
                json!({"k": "1", "s": "x"}),
                json!({"k": 1, "s": 2}),
                json!([1, "x"]),
                json!(null),
            ],
        ),
        case(
            "dict: a missing key fails even for object",
            pattern!({"k": object}),
            vec![json!({"k": null}), json!({"k": 0})],
            vec![json!({}), json!({"K": 1})],
        ),
        case(
            "empty dict pattern: any object",
            pattern!({}),
            vec![json!({}), json!({"a": 1})],
            vec![json!([]), json!(null)],
        ),
        case(
            "dict with = expr value",
            pattern!({"ref": = r, "ok": bool}),
            vec![json!({"ref": r, "ok": true})],
            vec![
                json!({"ref": other_ref, "ok": true}),
                json!({"ref": r, "ok": 1}),
            ],
        ),
        case(
            "tuple: exact length, element by element",
            pattern!((int, str)),
            vec![json!([1, "a"])],
            vec![
                json!([1]),
                json!([1, "a", 2]),
                json!(["a", 1]),
                json!([]),
                json!({"0": 1, "1": "a"}),
            ],
        ),
        case(
            "tuple with a literal (the seed's ('data', str))",
            pattern!(("data", str)),
            vec![json!(["data", "payload"])],
            vec![
                json!(["event", "payload"]),
                json!(["data"]),
                json!(["data", 1]),
            ],
        ),
        case(
            "one-element tuple",
            pattern!((int,)),
            vec![json!([7])],
            vec![json!([7, 8]), json!([]), json!(7)],
        ),
        case(
            "empty tuple",
            pattern!(()),
            vec![json!([])],
            vec![json!([1]), json!({})],
        ),
        case(
            "[T]: every element, the empty array too",
            pattern!([int]),
            vec![json!([]), json!([1]), json!([1, 2, 3])],
            vec![
                json!([1, "a"]),
                json!([1.5]),
                json!(["a", 1]),
                json!("x"),
                json!({}),
                json!(null),
            ],
        ),
        case(
            "[str] (the seed's example)",
            pattern!([str]),
            vec![json!(["a", "b"])],
            vec![json!([1, "b"])],
        ),
        case(
            "[]: only the empty array",
            pattern!([]),
            vec![json!([])],
            vec![json!([1]), json!({}), json!(null), json!("")],
        ),
        case(
            "nested",
            pattern!({"user": {"name": str, "tags": [str]}, "pos": (number, number)}),
            vec![
                json!({"user": {"name": "ann", "tags": []}, "pos": [1, 2.5]}),
                json!({"user": {"name": "ann", "tags": ["a"], "age": 3}, "pos": [0, 0], "x": 1}),
            ],
            vec![
                json!({"user": {"name": "ann", "tags": ["a", 1]}, "pos": [1, 2]}),
                json!({"user": {"name": "ann", "tags": []}, "pos": [1, 2, 3]}),
                json!({"user": {"tags": []}, "pos": [1, 2]}),
                json!({"user": "ann", "pos": [1, 2]}),
            ],
        ),
        case(
            "list of tuples",
            pattern!([(str, int)]),
            vec![json!([]), json!([["a", 1], ["b", 2]])],
            vec![json!([["a", 1], ["b"]]), json!([["a", 1], [2, "b"]])],
        ),
        case(
            "named pattern variable",
            pattern!(point),
            vec![json!([1, 2])],
            vec![json!([1, 2.5]), json!([1])],
        ),
        case(
            "named pattern variables, nested",
            pattern!(shape),
            vec![
                json!({"kind": "poly", "points": []}),
                json!({"kind": "poly", "points": [[1, 2], [3, 4]]}),
            ],
            vec![
                json!({"kind": "poly", "points": [[1, 2], [3, 4.5]]}),
                json!({"kind": 1, "points": []}),
                json!({"points": []}),
            ],
        ),
        case(
            "named pattern inside a tuple",
            pattern!(("move", point)),
            vec![json!(["move", [3, 4]])],
            vec![json!(["move", [3]]), json!(["stop", [3, 4]])],
        ),
        case(
            "From<Value>: an exact pattern",
            Pattern::from(json!({"a": 1})),
            vec![json!({"a": 1}), json!({"a": 1.0})],
            vec![json!({"a": 1, "b": 2}), json!({"a": 2})],
        ),
    ]
}

#[test]
fn pattern_table() {
    let mut wrong = Vec::new();
    let mut checked = 0;
    for c in table() {
        for v in &c.yes {
            checked += 1;
            if !c.pattern.matches(v) {
                wrong.push(format!("{}: {:?} should match {v}", c.rule, c.pattern));
            }
        }
        for v in &c.no {
            checked += 1;
            if c.pattern.matches(v) {
                wrong.push(format!("{}: {:?} should NOT match {v}", c.rule, c.pattern));
            }
        }
    }
    assert!(checked > 150, "table shrank: {checked} checks");
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn macro_builds_the_documented_variants() {
    assert_eq!(pattern!(object), Pattern::Any);
    assert_eq!(pattern!(_), Pattern::Any);
    assert_eq!(pattern!(int), Pattern::Int);
    assert_eq!(pattern!(float), Pattern::Float);
    assert_eq!(pattern!(number), Pattern::Number);
    assert_eq!(pattern!(str), Pattern::Str);
    assert_eq!(pattern!(bool), Pattern::Bool);
    assert_eq!(pattern!(list), Pattern::AnyList);
    assert_eq!(pattern!(dict), Pattern::AnyDict);
    assert_eq!(pattern!(address), Pattern::Address);
    assert_eq!(pattern!([]), Pattern::Exact(json!([])));
    assert_eq!(pattern!([int]), Pattern::ListOf(Box::new(Pattern::Int)));
    assert_eq!(
        pattern!(("a", int)),
        Pattern::Tuple(vec![Pattern::Exact(json!("a")), Pattern::Int])
    );
    assert_eq!(
        pattern!({"a": int, "b": [str]}),
        Pattern::Dict(vec![
            ("a".to_string(), Pattern::Int),
            ("b".to_string(), Pattern::ListOf(Box::new(Pattern::Str))),
        ])
    );
}

#[test]
fn real_addresses_match_the_address_pattern() {
    let node = pyact::Node::new(&pyact::Mesh::new(), "cookie@127.0.0.1:0").unwrap();
    let inbox = node.inbox();
    let encoded = serde_json::to_value(inbox.addr()).unwrap();
    assert!(pattern!(address).matches(&encoded), "{encoded}");
    assert!(pattern!({"reply_to": address}).matches(&json!({"reply_to": inbox.addr(), "n": 1})));
    assert!(
        !pattern!({"reply_to": address}).matches(&json!({"reply_to": inbox.addr().to_string()}))
    );
    assert!(pattern!(= inbox.addr()).matches(&encoded));
}
