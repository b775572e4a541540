//! `Binary`: bytes inside JSON messages as `{"$bin": "<base64>"}`.

use pyact::binary::Binary;
use pyact::binary::{base64_decode, base64_encode};
use pyact::{Mesh, Node, json};

#[test]
fn rfc4648_vectors() {
    let vectors: [(&[u8], &str); 7] = [
        (b"", ""),
        (b"f", "Zg=="),
        (b"fo", "Zm8="),
        (b"foo", "Zm9v"),
        (b"foob", "Zm9vYg=="),
        (b"fooba", "Zm9vYmE="),
        (b"foobar", "Zm9vYmFy"),
    ];
    for (raw, enc) in vectors {
        assert_eq!(base64_encode(raw), enc, "{raw:?}");
        assert_eq!(base64_decode(enc).as_deref(), Some(raw), "{enc:?}");
    }
    assert_eq!(base64_encode(&[0, 1, 2, 255]), "AAEC/w==");
    assert_eq!(base64_encode(&[0xfb, 0xff]), "+/8=");
}

#[test]
fn round_trip_every_tail_length_and_every_byte() {
    let all: Vec<u8> = (0..=255).collect();
    for len in 0..=64 {
        let bytes: Vec<u8> = all
            .iter()
            .cycle()
            .skip(len * 7)
            .take(len)
            .copied()
            .collect();
        let enc = base64_encode(&bytes);
        assert_eq!(enc.len(), len.div_ceil(3) * 4);
        let pad = enc.bytes().rev().take_while(|&c| c == b'=').count();
        assert_eq!(pad, (3 - len % 3) % 3, "len {len}: {enc}");
        assert_eq!(base64_decode(&enc), Some(bytes.clone()), "len {len}");
        let v = serde_json::to_value(Binary(bytes.clone())).unwrap();
        assert_eq!(v, json!({"$bin": enc}));
        assert_eq!(serde_json::from_value::<Binary>(v).unwrap(), Binary(bytes));
    }
    assert_eq!(base64_decode(&base64_encode(&all)), Some(all));
}

#[test]
fn malformed_base64_is_rejected() {
    for bad in [
        "Z",        // not a multiple of 4
        "Zg=",      // not a multiple of 4
        "Zm9vY",    // not a multiple of 4
        "Zg==Zg==", // padding before the end
        "Z===",     // three padding characters
        "====",     // only padding
        "Zm9v!!!!", // not in the alphabet
        "Zm9v\n",   // whitespace
        "Zm 9",     // whitespace
        "Zm-_",     // the URL-safe alphabet
        "Z=g=",     // padding inside a quantum
        "=Zg=",     // padding first
    ] {
        assert_eq!(base64_decode(bad), None, "{bad:?}");
        assert!(
            serde_json::from_value::<Binary>(json!({"$bin": bad})).is_err(),
            "{bad:?}"
        );
    }
    for bad in [
        json!("Zm9v"),
        json!({"bin": "Zm9v"}),
        json!({"$bin": 5}),
        json!({"$bin": null}),
    ] {
        assert!(
            serde_json::from_value::<Binary>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn binary_in_a_message_to_an_actor() {
    let node = Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap();
    let a = node.spawn(|mut mb| {
        let m = mb.receive();
        let b: Binary = serde_json::from_value(m["data"].clone()).unwrap();
        let mut rev = b.0.clone();
        rev.reverse();
        json!({"len": b.0.len(), "rev": Binary(rev)})
    });
    a.send(json!({"data": Binary(vec![1, 2, 3, 0, 255])}))
        .unwrap();
    let got = node.wait(&a).unwrap();
    assert_eq!(got["len"], 5);
    let rev: Binary = serde_json::from_value(got["rev"].clone()).unwrap();
    assert_eq!(rev, Binary(vec![255, 0, 3, 2, 1]));
    let empty = node.spawn(|mut mb| {
        let b: Binary = serde_json::from_value(mb.receive()).unwrap();
        json!(b.0.len())
    });
    empty.send(Binary::default()).unwrap();
    assert_eq!(node.wait(&empty).unwrap(), 0);
}
