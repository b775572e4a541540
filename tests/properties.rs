//! Property tests (proptest) for patterns, addresses and binaries: laws that must hold for
//! every value, not only for the hand-picked rows of core_pattern.rs, core_address.rs and
//! core_binary.rs. (Wire frames are internal and tested with the network code.)

use proptest::prelude::*;
use pyact::binary::Binary;
use pyact::binary::{base64_decode, base64_encode};
use pyact::{Address, Pattern, Value, json, pattern};

/// Any JSON value: scalars (integers of both signs, floats, unicode strings) nested in
/// arrays and objects a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        ".{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z$]{0,4}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The type patterns of the pattern table.
fn type_patterns() -> Vec<(&'static str, Pattern)> {
    vec![
        ("int", pattern!(int)),
        ("float", pattern!(float)),
        ("number", pattern!(number)),
        ("str", pattern!(str)),
        ("bool", pattern!(bool)),
        ("list", pattern!(list)),
        ("dict", pattern!(dict)),
        ("null", pattern!(null)),
    ]
}

proptest! {
    #[test]
    fn wildcards_and_exact_values_match_themselves(v in any_json()) {
        prop_assert!(pattern!(_).matches(&v));
        prop_assert!(pattern!(object).matches(&v));
        prop_assert!(Pattern::Exact(v.clone()).matches(&v));
        prop_assert!(Pattern::exact(&v).matches(&v));
        // Off the wire (JSON text and back) the value still matches its exact pattern.
        let back: Value = serde_json::from_str(&v.to_string()).unwrap();
        prop_assert!(Pattern::Exact(v.clone()).matches(&back), "{v} vs {back}");
    }

    #[test]
    fn every_value_has_exactly_one_json_type(v in any_json()) {
        let kinds: Vec<&str> = type_patterns()
            .into_iter()
            .filter(|(name, p)| !["int", "float"].contains(name) && p.matches(&v))
            .map(|(name, _)| name)
            .collect();
        prop_assert_eq!(kinds.len(), 1, "{} matched {:?}", v, kinds);
        // A number is an int or a float, never both.
        if v.is_number() {
            prop_assert!(pattern!(int).matches(&v) != pattern!(float).matches(&v), "{v}");
        } else {
            prop_assert!(!pattern!(int).matches(&v) && !pattern!(float).matches(&v));
        }
    }

    #[test]
    fn tuples_match_by_exact_length(items in prop::collection::vec(any_json(), 0..6), n in 0usize..6) {
        let tuple = Pattern::Tuple(vec![Pattern::Any; n]);
        prop_assert_eq!(tuple.matches(&Value::Array(items.clone())), items.len() == n);
        // Element-wise: exact patterns of the items themselves match.
        let exact = Pattern::Tuple(items.iter().cloned().map(Pattern::Exact).collect());
        prop_assert!(exact.matches(&Value::Array(items)));
    }

    #[test]
    fn list_patterns_match_when_every_element_does(items in prop::collection::vec(any_json(), 0..8)) {
        for (name, p) in type_patterns() {
            let want = items.iter().all(|i| p.matches(i));
            let list = Pattern::ListOf(Box::new(p));
            prop_assert_eq!(list.matches(&Value::Array(items.clone())), want, "[{}]", name);
        }
    }

    #[test]
    fn dict_patterns_ignore_extra_keys_and_need_every_named_one(
        fields in prop::collection::btree_map("[a-z]{1,4}", any_json(), 1..6),
        keep in any::<prop::sample::Index>(),
    ) {
        let obj = Value::Object(fields.clone().into_iter().collect());
        let keys: Vec<&String> = fields.keys().collect();
        let kept = keys[keep.index(keys.len())].clone();
        // A pattern naming one key (wildcard value) matches the whole object...
        let one = Pattern::Dict(vec![(kept.clone(), Pattern::Any)]);
        prop_assert!(one.matches(&obj));
        // ...and every key with its exact value too...
        let all = Pattern::Dict(fields.iter().map(|(k, v)| (k.clone(), Pattern::Exact(v.clone()))).collect());
        prop_assert!(all.matches(&obj));
        // ...but not once that key is gone.
        let mut fewer = fields.clone();
        fewer.remove(&kept);
        prop_assert!(!one.matches(&Value::Object(fewer.into_iter().collect())));
    }
}

/// A host part: IPv4, a DNS-like name, or a bracketed IPv6 literal.
fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3])),
        "[a-z][a-z0-9-]{0,10}(\\.[a-z]{1,5}){0,2}",
        any::<[u16; 8]>().prop_map(|s| format!("[{}]", std::net::Ipv6Addr::from(s))),
    ]
}

proptest! {
    #[test]
    fn addresses_round_trip_through_text_json_and_message_fields(
        host in host(),
        port in any::<u16>(),
        id in any::<u64>(),
    ) {
        let text = format!("{host}:{port}/{id}");
        let a: Address = text.parse().unwrap();
        prop_assert_eq!(a.to_string(), text.clone());
        prop_assert_eq!(a.id(), id);
        prop_assert_eq!(a.node_id(), format!("{host}:{port}"));
        let v = serde_json::to_value(&a).unwrap();
        prop_assert_eq!(&v, &json!({"$addr": text}));
        prop_assert!(pattern!(address).matches(&v));
        prop_assert_eq!(serde_json::from_value::<Address>(v.clone()).unwrap(), a.clone());
        prop_assert_eq!(Address::try_from(&v).unwrap(), a.clone());
        prop_assert_eq!(Address::try_from(&json!({"from": a})["from"]).unwrap(), a);
    }

    #[test]
    fn address_order_and_equality_follow_node_then_id(
        a in (host(), any::<u16>(), any::<u64>()),
        b in (host(), any::<u16>(), any::<u64>()),
    ) {
        let x: Address = format!("{}:{}/{}", a.0, a.1, a.2).parse().unwrap();
        let y: Address = format!("{}:{}/{}", b.0, b.1, b.2).parse().unwrap();
        let key = |t: &(String, u16, u64)| (format!("{}:{}", t.0, t.1), t.2);
        prop_assert_eq!(x == y, key(&a) == key(&b));
        prop_assert_eq!(x.cmp(&y), key(&a).cmp(&key(&b)));
    }

    #[test]
    fn the_address_pattern_and_the_address_parser_agree(s in "[a-z0-9.:/\\[\\]+-]{0,24}") {
        // Two code paths read `{"$addr": ...}`: the `address` pattern and the deserializer.
        let v = json!({"$addr": s});
        prop_assert_eq!(
            pattern!(address).matches(&v),
            serde_json::from_value::<Address>(v.clone()).is_ok(),
            "{}", v
        );
        prop_assert_eq!(pattern!(address).matches(&v), Address::try_from(&v).is_ok());
        if let Ok(a) = s.parse::<Address>() {
            // Parsing is idempotent: the printed form parses to the same address.
            prop_assert_eq!(a.to_string().parse::<Address>().unwrap(), a);
        }
    }
}

proptest! {
    #[test]
    fn binaries_round_trip_through_base64_and_json(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let enc = base64_encode(&bytes);
        prop_assert_eq!(enc.len(), bytes.len().div_ceil(3) * 4);
        prop_assert!(enc.bytes().all(|c| c.is_ascii_alphanumeric() || b"+/=".contains(&c)));
        prop_assert_eq!(base64_decode(&enc), Some(bytes.clone()));
        let b = Binary(bytes);
        prop_assert_eq!(Binary::from_base64(&b.to_base64()), Some(b.clone()));
        let text = serde_json::to_string(&json!({"payload": b})).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(serde_json::from_value::<Binary>(back["payload"].clone()).unwrap(), b);
    }

    #[test]
    fn only_canonical_base64_decodes(s in "[A-Za-z0-9+/=]{0,16}") {
        // Whatever decodes, re-encodes to exactly the same text: one encoding per byte string.
        if let Some(bytes) = base64_decode(&s) {
            prop_assert_eq!(base64_encode(&bytes), s);
        } else {
            let encoded = json!({"$bin": s});
            prop_assert!(serde_json::from_value::<Binary>(encoded).is_err());
        }
    }
}

/// Found by `wildcards_and_exact_values_match_themselves`: serde_json's default float parser
/// may be off by one unit in the last place, so a float crossing to another node (as JSON
/// text) could arrive changed. pyact enables serde_json's `float_roundtrip`.
#[test]
fn floats_cross_nodes_bit_for_bit() {
    use pyact::{Mesh, Node};
    let floats = [
        952192432177.3723f64,
        0.1,
        1e-300,
        -2.5e17,
        123456.78901234567,
    ];
    let a = Node::new(&Mesh::new(), "float@127.0.0.1:0").unwrap();
    let b = Node::new(&Mesh::new(), "float@127.0.0.1:0").unwrap();
    let mut rx = b.inbox();
    let to = rx.addr();
    let sender = a.spawn(move |_| {
        for f in floats {
            to.send(json!({"f": f})).unwrap();
        }
    });
    a.wait(&sender).unwrap();
    for f in floats {
        let got = rx
            .receive_timeout(std::time::Duration::from_secs(60))
            .unwrap();
        assert_eq!(got["f"].as_f64().unwrap().to_bits(), f.to_bits(), "{f}");
    }
}
