//! Typed messages end to end: serde structs and enums as messages, `receive_as` on the actor
//! side, and `pattern!`s written over the same JSON shapes for selective receive.
//!
//! `cargo run --example typed`. A bank account actor takes typed requests; a client sends them
//! as Rust values; an auditor selects, with a pattern, only the large withdrawals from the
//! account's event stream. Every step is checked: the program fails if a message goes astray.

use std::time::Duration;

use pyact::{Address, Mailbox, Mesh, Node, pattern};
use serde::{Deserialize, Serialize};

/// What the account accepts. Internally tagged: `{"op": "deposit", "amount": 5, "from": ...}`,
/// so patterns can select on `"op"`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Request {
    Deposit { amount: u64, from: Address },
    Withdraw { amount: u64, from: Address },
    Stop,
}

/// What the account answers: `{"reply": "ok", "balance": 10}` or
/// `{"reply": "insufficient", "balance": 10, "wanted": 99}`.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
enum Reply {
    Ok { balance: u64 },
    Insufficient { balance: u64, wanted: u64 },
}

/// An event the account publishes to its auditor (a plain struct).
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Event {
    kind: String,
    amount: u64,
    balance: u64,
}

/// The account: typed receive, typed replies. Anything that is not a `Request` stays in the
/// mailbox untouched (and is counted at the end).
fn account(mut mb: Mailbox, auditor: Address) -> u64 {
    let mut balance = 0u64;
    loop {
        let (kind, amount, from, reply) = match mb.receive_as::<Request>() {
            Request::Deposit { amount, from } => {
                balance += amount;
                ("deposit", amount, from, Reply::Ok { balance })
            }
            Request::Withdraw { amount, from } if amount <= balance => {
                balance -= amount;
                ("withdraw", amount, from, Reply::Ok { balance })
            }
            Request::Withdraw { amount, from } => {
                let r = Reply::Insufficient {
                    balance,
                    wanted: amount,
                };
                ("refused", amount, from, r)
            }
            Request::Stop => return balance,
        };
        let event = Event {
            kind: kind.into(),
            amount,
            balance,
        };
        let _ = auditor.send(event);
        let _ = from.send(reply);
    }
}

/// The auditor: selective receive with a pattern over the `Event` shape, then back to the
/// struct. Small deposits stay queued; it reports the large withdrawals only.
fn auditor(mut mb: Mailbox, report_to: Address) {
    let big_withdrawal = pattern!({"kind": "withdraw", "amount": int, "balance": int});
    let stop = pattern!("stop");
    loop {
        let (which, msg) = mb.receive_match(&[&big_withdrawal, &stop]);
        if which == 1 {
            return;
        }
        let event: Event = serde_json::from_value(msg).expect("the pattern matched an Event");
        if event.amount >= 100 {
            let _ = report_to.send(event);
        }
    }
}

fn main() {
    let mesh = Mesh::new();
    let node = Node::new(&mesh, "typed@127.0.0.1:0").expect("node");
    let mut client = node.inbox();
    let me = client.addr();
    let audit = {
        let me = me.clone();
        node.spawn(move |mb| auditor(mb, me))
    };
    let acct = {
        let audit = audit.clone();
        node.spawn(move |mb| account(mb, audit))
    };
    let t = Duration::from_secs(30);

    // Send Rust values; receive Rust values.
    let requests = [
        Request::Deposit {
            amount: 500,
            from: me.clone(),
        },
        Request::Withdraw {
            amount: 120,
            from: me.clone(),
        },
        Request::Withdraw {
            amount: 1000,
            from: me.clone(),
        },
        Request::Withdraw {
            amount: 30,
            from: me.clone(),
        },
    ];
    let want = [
        Reply::Ok { balance: 500 },
        Reply::Ok { balance: 380 },
        Reply::Insufficient {
            balance: 380,
            wanted: 1000,
        },
        Reply::Ok { balance: 350 },
    ];
    acct.send("noise the account ignores").expect("send");
    for (req, want) in requests.into_iter().zip(want) {
        println!("-> {}", serde_json::to_string(&req).expect("json"));
        acct.send(req).expect("send");
        let got: Reply = client.receive_as_timeout(t).expect("a reply");
        println!("<- {got:?}");
        assert_eq!(got, want);
    }

    // The auditor saw one large withdrawal (the refused one is not a withdrawal event).
    let flagged: Event = client.receive_as_timeout(t).expect("an audit report");
    println!("audit: {flagged:?}");
    assert_eq!(
        flagged,
        Event {
            kind: "withdraw".into(),
            amount: 120,
            balance: 380
        }
    );
    assert!(
        client
            .receive_as_timeout::<Event>(Duration::from_millis(50))
            .is_err()
    );

    acct.send(Request::Stop).expect("send");
    assert_eq!(node.wait(&acct).expect("account result"), 350);
    audit.send("stop").expect("send");
    node.wait(&audit).expect("auditor ends");
    println!("final balance 350; all typed messages checked");
}
