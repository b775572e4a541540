//! Selective receive, timeouts, polling and typed receive on mailboxes.
//!
//! Most tests use a thread's inbox and send to it from the test thread: sends to a local
//! address are delivered before `send` returns, so the mailbox contents are known exactly.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pyact::mailbox::Timeout;
use pyact::{Mailbox, Mesh, Node, Value, json, pattern, receive};
use serde::{Deserialize, Serialize};

fn node() -> Node {
    Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap()
}

fn fill(inbox: &Mailbox, msgs: &[Value]) {
    for m in msgs {
        inbox.addr().send(m.clone()).unwrap();
    }
}

/// Everything left in the mailbox, in the order `receive` gives it.
fn drain(inbox: &mut Mailbox) -> Vec<Value> {
    std::iter::from_fn(|| inbox.try_receive()).collect()
}

const SHORT: Duration = Duration::from_millis(20);

#[test]
fn plain_receive_is_fifo() {
    let node = node();
    let mut inbox = node.inbox();
    let msgs: Vec<Value> = (0..100).map(|i| json!({"seq": i})).collect();
    fill(&inbox, &msgs);
    assert_eq!(drain(&mut inbox), msgs);
}

#[test]
fn selective_receive_keeps_non_matching_messages_in_arrival_order() {
    let node = node();
    let mut inbox = node.inbox();
    fill(
        &inbox,
        &[
            json!("a"),
            json!(1),
            json!("b"),
            json!({"x": 2}),
            json!(3),
            json!(["data", "p"]),
            json!("c"),
        ],
    );

    // The first message in arrival order that matches any pattern wins, whatever the order of
    // the patterns; the index says which pattern matched.
    let int = pattern!(int);
    let dict = pattern!(dict);
    assert_eq!(inbox.receive_match(&[&dict, &int]), (1, json!(1)));
    assert_eq!(inbox.saved_len(), 1, "only \"a\" was looked at and kept");
    assert_eq!(inbox.receive_match(&[&int, &dict]), (1, json!({"x": 2})));
    assert_eq!(inbox.receive_match(&[&dict, &int]), (1, json!(3)));
    let data = pattern!(("data", str));
    let event = pattern!({"event": str, "data": object});
    assert_eq!(
        inbox.receive_match(&[&event, &data]),
        (1, json!(["data", "p"]))
    );

    // What no pattern took is still there, in arrival order.
    assert_eq!(drain(&mut inbox), vec![json!("a"), json!("b"), json!("c")]);
    assert_eq!(inbox.saved_len(), 0);
}

#[test]
fn when_several_patterns_match_the_first_pattern_index_is_reported() {
    let node = node();
    let mut inbox = node.inbox();
    fill(&inbox, &[json!({"n": 5})]);
    let any = pattern!(object);
    let n = pattern!({"n": int});
    assert_eq!(inbox.receive_match(&[&n, &any]), (0, json!({"n": 5})));
    fill(&inbox, &[json!({"n": 6})]);
    assert_eq!(inbox.receive_match(&[&any, &n]), (0, json!({"n": 6})));
}

#[test]
fn saved_messages_are_scanned_before_new_arrivals() {
    let node = node();
    let mut inbox = node.inbox();
    let msgs = [json!("x1"), json!(10), json!("x2"), json!(20)];
    fill(&inbox, &msgs[..2]);
    // Pulls "x1" and 10 into the save queue.
    let none = pattern!({"never": true});
    assert_eq!(inbox.try_receive_match(&[&none]), None);
    assert_eq!(inbox.saved_len(), 2);
    fill(&inbox, &msgs[2..]);
    let int = pattern!(int);
    assert_eq!(inbox.receive_match(&[&int]), (0, json!(10)));
    assert_eq!(inbox.receive_match(&[&int]), (0, json!(20)));
    assert_eq!(drain(&mut inbox), vec![json!("x1"), json!("x2")]);
}

#[test]
fn selective_receive_in_an_actor_waits_for_the_matching_message() {
    let node = node();
    let mut inbox = node.inbox();
    let me = inbox.addr();
    let actor = node.spawn(move |mut mb| {
        me.send("ready").unwrap();
        let (i, m) = mb.receive_match(&[&pattern!({"go": int})]);
        // Wait for the last message before draining: ending earlier would make the test's
        // last send fail with DeadActor (a race, seen on one core).
        let (_, after) = mb.receive_match(&[&pattern!("after")]);
        let rest: Vec<Value> = std::iter::from_fn(|| mb.try_receive()).collect();
        json!({"i": i, "m": m, "after": after, "rest": rest})
    });
    assert_eq!(inbox.receive(), "ready");
    for m in [json!("noise1"), json!({"go": "no"}), json!("noise2")] {
        actor.send(m).unwrap();
    }
    actor.send(json!({"go": 1})).unwrap();
    actor.send("after").unwrap();
    assert_eq!(
        node.wait(&actor).unwrap(),
        json!({"i": 0, "m": {"go": 1}, "after": "after", "rest": ["noise1", {"go": "no"}, "noise2"]})
    );
}

#[test]
fn receive_macro_arms() {
    let node = node();
    let mut inbox = node.inbox();
    let data = pattern!(("data", str));
    fill(
        &inbox,
        &[
            json!("noise"),
            json!({"event": "boot", "data": 1}),
            json!(["data", "payload"]),
            json!(7),
        ],
    );
    let got = receive! { inbox;
        m @ data => format!("data {}", m[1]),
        m @ {"event": str} => format!("event {}", m["event"]),
    };
    assert_eq!(got, "event \"boot\"");
    let got = receive! { inbox;
        m @ int => format!("int {m}"),
        m @ data => format!("data {}", m[1]),
        after SHORT => "timeout".to_string(),
    };
    assert_eq!(got, "data \"payload\"");
    let got = receive! { inbox;
        m @ int => format!("int {m}"),
        after SHORT => "timeout".to_string(),
    };
    assert_eq!(got, "int 7");
    let got = receive! { inbox;
        _m @ int => "int",
        _m @ {"event": str} => "event",
        after SHORT => "timeout",
    };
    assert_eq!(got, "timeout");
    let got = receive! { inbox;
        _m @ int => "int",
        after Duration::ZERO => "empty",
    };
    assert_eq!(got, "empty");
    // The `after` arms left the unmatched message alone.
    assert_eq!(drain(&mut inbox), vec![json!("noise")]);
}

#[test]
fn receive_match_since_only_sees_messages_after_the_mark_in_the_save_queue() {
    let node = node();
    let mut inbox = node.inbox();
    let reply = pattern!({"reply": int});
    fill(&inbox, &[json!({"reply": 1}), json!("x")]);
    // Pull both into the save queue.
    assert_eq!(inbox.try_receive_match(&[&pattern!(null)]), None);
    assert_eq!(inbox.saved_len(), 2);
    let mark = inbox.mark();
    fill(&inbox, &[json!({"reply": 2})]);
    assert_eq!(
        inbox.receive_match_since(mark, &[&reply], None),
        Ok((0, json!({"reply": 2})))
    );
    assert_eq!(
        inbox.receive_match_since(mark, &[&reply], Some(SHORT)),
        Err(Timeout)
    );
    // The message before the mark is still there for an ordinary receive.
    assert_eq!(inbox.receive_match(&[&reply]), (0, json!({"reply": 1})));
    assert_eq!(drain(&mut inbox), vec![json!("x")]);
}

#[test]
fn receive_match_since_ignores_unread_messages_that_arrived_before_the_mark() {
    // The documented contract of `Mailbox::mark`: "a receive since it ignores every message
    // that arrived before". Here the earlier message is still in the queue (not yet pulled
    // into the save queue) when the mark is taken.
    let node = node();
    let mut inbox = node.inbox();
    let reply = pattern!({"reply": int});
    fill(&inbox, &[json!({"reply": 1})]);
    let mark = inbox.mark();
    fill(&inbox, &[json!({"reply": 2})]);
    assert_eq!(
        inbox.receive_match_since(mark, &[&reply], Some(SHORT)),
        Ok((0, json!({"reply": 2}))),
        "a message sent before the mark was taken by a receive since the mark"
    );
    assert_eq!(drain(&mut inbox), vec![json!({"reply": 1})]);
}

#[test]
fn receive_timeout_reports_timeout_when_nothing_matches() {
    let node = node();
    let mut inbox = node.inbox();
    assert_eq!(inbox.receive_timeout(SHORT), Err(Timeout));
    fill(&inbox, &[json!("a"), json!("b")]);
    let int = pattern!(int);
    assert_eq!(inbox.receive_match_timeout(&[&int], SHORT), Err(Timeout));
    // The messages looked at during the failed receive are kept, in order.
    assert_eq!(inbox.saved_len(), 2);
    assert_eq!(inbox.receive_timeout(SHORT), Ok(json!("a")));
    fill(&inbox, &[json!(3)]);
    assert_eq!(
        inbox.receive_match_timeout(&[&int], SHORT),
        Ok((0, json!(3)))
    );
    assert_eq!(inbox.receive_timeout(SHORT), Ok(json!("b")));
    assert_eq!(inbox.receive_timeout(SHORT), Err(Timeout));
    assert_eq!(Timeout.to_string(), "receive timed out");
}

#[test]
fn try_receive_polls() {
    let node = node();
    let mut inbox = node.inbox();
    assert_eq!(inbox.try_receive(), None);
    let int = pattern!(int);
    assert_eq!(inbox.try_receive_match(&[&int]), None);
    fill(&inbox, &[json!("s")]);
    assert_eq!(inbox.try_receive_match(&[&int]), None);
    fill(&inbox, &[json!(5)]);
    assert_eq!(inbox.try_receive_match(&[&int]), Some((0, json!(5))));
    assert_eq!(inbox.try_receive_match(&[&int]), None);
    assert_eq!(inbox.try_receive(), Some(json!("s")));
    assert_eq!(inbox.try_receive(), None);
}

#[test]
fn try_receive_in_an_actor() {
    let node = node();
    let mut inbox = node.inbox();
    let me = inbox.addr();
    let actor = node.spawn(move |mut mb| {
        let before = mb.try_receive();
        me.send("polled").unwrap();
        let (_, go) = mb.receive_match(&[&pattern!("go")]);
        json!([before, go, mb.try_receive(), mb.try_receive()])
    });
    assert_eq!(inbox.receive(), "polled");
    actor.send("x").unwrap();
    actor.send("go").unwrap();
    assert_eq!(node.wait(&actor).unwrap(), json!([null, "go", "x", null]));
}

#[test]
fn a_message_arriving_after_a_timeout_is_delivered_to_a_later_receive() {
    let node = node();
    let mut inbox = node.inbox();
    let me = inbox.addr();
    let actor = node.spawn(move |mut mb| {
        let first = mb.receive_timeout(SHORT);
        assert_eq!(first, Err(Timeout));
        let int = pattern!(int);
        assert_eq!(mb.receive_match_timeout(&[&int], SHORT), Err(Timeout));
        // Sub-millisecond and fractional-millisecond timeouts end too (`may`'s timer counts
        // whole milliseconds).
        assert_eq!(mb.receive_timeout(Duration::from_micros(100)), Err(Timeout));
        assert_eq!(
            mb.receive_timeout(Duration::from_micros(1500)),
            Err(Timeout)
        );
        assert_eq!(mb.try_receive(), None);
        me.send("timed out").unwrap();
        mb.receive()
    });
    assert_eq!(inbox.receive(), "timed out");
    actor.send("late").unwrap();
    assert_eq!(node.wait(&actor).unwrap(), "late");
}

#[test]
fn no_message_is_lost_across_many_short_timeouts() {
    // The actor keeps timing out while messages arrive; it must still see every one, once,
    // in order, whatever the interleaving.
    const N: i64 = 500;
    let node = node();
    let actor = node.spawn(|mut mb| {
        let mut got = Vec::new();
        let mut timeouts = 0u64;
        while got.len() < N as usize {
            match mb.receive_timeout(Duration::from_micros(50)) {
                Ok(v) => got.push(v),
                Err(Timeout) => timeouts += 1,
            }
        }
        let _ = timeouts;
        Value::from(got)
    });
    for i in 0..N {
        actor.send(i).unwrap();
        if i % 16 == 0 {
            std::thread::yield_now();
        }
    }
    let want: Vec<Value> = (0..N).map(Value::from).collect();
    assert_eq!(node.wait(&actor).unwrap(), Value::from(want));
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Ping {
    seq: u32,
    from: String,
}

#[test]
fn receive_as_skips_messages_that_do_not_deserialize() {
    let node = node();
    let mut inbox = node.inbox();
    fill(
        &inbox,
        &[
            json!("not a ping"),
            json!({"seq": "one", "from": "a"}),
            json!({"seq": 1}),
            json!({"seq": 2, "from": "b"}),
            json!(3),
        ],
    );
    assert_eq!(
        inbox.receive_as::<Ping>(),
        Ping {
            seq: 2,
            from: "b".into()
        }
    );
    assert_eq!(inbox.receive_as_timeout::<Ping>(SHORT), Err(Timeout));
    inbox
        .addr()
        .send(Ping {
            seq: 9,
            from: "c".into(),
        })
        .unwrap();
    assert_eq!(inbox.receive_as::<u32>(), 3);
    assert_eq!(
        inbox.receive_as_timeout::<Ping>(SHORT),
        Ok(Ping {
            seq: 9,
            from: "c".into()
        })
    );
    assert_eq!(
        drain(&mut inbox),
        vec![
            json!("not a ping"),
            json!({"seq": "one", "from": "a"}),
            json!({"seq": 1})
        ]
    );
}

#[test]
fn receive_as_in_an_actor() {
    let node = node();
    let actor = node.spawn(|mut mb| {
        let p: Ping = mb.receive_as();
        let rest = mb.receive();
        json!({"seq": p.seq, "rest": rest})
    });
    actor.send("skip me").unwrap();
    actor
        .send(Ping {
            seq: 4,
            from: "t".into(),
        })
        .unwrap();
    assert_eq!(
        node.wait(&actor).unwrap(),
        json!({"seq": 4, "rest": "skip me"})
    );
}

/// Generous: only a lost wake-up (a receiver parked for good with a message queued) reaches it.
const HUNG: Duration = Duration::from_secs(60);

/// The value an actor sends on `rx` (through a std channel, so that the test thread does not
/// itself wait in pyact): a receive that was never woken fails the test instead of hanging it.
fn within_hung(rx: std::sync::mpsc::Receiver<Value>) -> Value {
    rx.recv_timeout(HUNG)
        .expect("a blocking receive was never woken although mail was sent")
}

#[test]
fn many_concurrent_senders_never_leave_a_receiver_parked_with_mail_waiting() {
    // Threads and actors send at once to one actor that parks between messages (a plain
    // blocking receive: no timeout to rescue it); each sender's messages must all arrive,
    // in its order.
    const SENDERS: i64 = 4;
    const EACH: i64 = 2000;
    let node = node();
    let (done, result) = std::sync::mpsc::channel();
    let receiver = node.spawn(move |mut mb| {
        let mut next = vec![0i64; 2 * SENDERS as usize];
        for _ in 0..2 * SENDERS * EACH {
            let m = mb.receive();
            let (who, seq) = (m[0].as_u64().unwrap() as usize, m[1].as_i64().unwrap());
            assert_eq!(seq, next[who], "sender {who} out of order");
            next[who] += 1;
        }
        done.send(json!(next)).unwrap();
    });
    let mut threads = Vec::new();
    for s in 0..SENDERS {
        let to = receiver.clone();
        threads.push(std::thread::spawn(move || {
            for i in 0..EACH {
                to.send(json!([s, i])).unwrap();
            }
        }));
        let to = receiver.clone();
        node.spawn(move |_| {
            for i in 0..EACH {
                to.send(json!([SENDERS + s, i])).unwrap();
                if i % 64 == 0 {
                    pyact::actor::yield_now();
                }
            }
        });
    }
    for t in threads {
        t.join().unwrap();
    }
    let want = vec![EACH; 2 * SENDERS as usize];
    assert_eq!(within_hung(result), json!(want));
}

#[test]
fn an_inbox_is_woken_in_a_thread_and_after_moving_into_an_actor() {
    // A mailbox parks on a thread blocker in a thread and on a coroutine blocker in an
    // actor: a send must wake it in both. Each send follows a "about to receive" signal,
    // so the receiver is usually parked when it arrives.
    let node = node();
    let mut inbox = node.inbox();
    let to = inbox.addr();
    let (done, result) = std::sync::mpsc::channel();
    let (ready, about_to_receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        ready.send(()).unwrap();
        let first = inbox.receive();
        let node = inbox.node().clone();
        node.spawn(move |_| {
            ready.send(()).unwrap();
            let second = inbox.receive();
            done.send(json!([first, second])).unwrap();
        });
    });
    about_to_receive.recv().unwrap();
    to.send("to the thread").unwrap();
    about_to_receive.recv_timeout(HUNG).unwrap();
    to.send("to the actor").unwrap();
    assert_eq!(
        within_hung(result),
        json!(["to the thread", "to the actor"])
    );
}

#[test]
fn a_bounded_mailbox_counts_only_user_messages_and_each_receive_frees_room() {
    // The bound counts queued user messages; signals are never refused and take no room
    // (they still show in `mailbox_len`, which counts everything queued).
    use pyact::{ExitReason, SendError, SpawnOptions};
    let node = node();
    let (ready, trapping) = std::sync::mpsc::channel();
    let (took_tx, took) = std::sync::mpsc::channel();
    let gate1 = node.spawn(|mut mb| {
        mb.receive();
    });
    let gate2 = node.spawn(|mut mb| {
        mb.receive();
    });
    let (g1, g2) = (gate1.clone(), gate2.clone());
    let bounded = node
        .spawn_opts(SpawnOptions::new().mailbox_limit(2), move |mut mb| {
            mb.trap_exit(true);
            ready.send(()).unwrap();
            let here = pyact::actor::current_node().unwrap();
            let _ = here.wait(&g1);
            let first = mb.receive();
            took_tx.send(()).unwrap();
            let _ = here.wait(&g2);
            let rest: Vec<Value> = (0..3).map(|_| mb.receive()).collect();
            json!({"first": first, "rest": rest})
        })
        .unwrap();
    trapping.recv().unwrap();
    let inbox = node.inbox();
    bounded.send(1).unwrap();
    bounded.send(2).unwrap();
    assert!(matches!(bounded.send(3), Err(SendError::MailboxFull(_))));
    bounded
        .exit(&inbox.addr(), ExitReason::Shutdown)
        .expect("a signal is never refused");
    assert_eq!(node.info(&bounded).unwrap().mailbox_len, 3);
    gate1.send("open").unwrap();
    took.recv_timeout(HUNG).unwrap();
    bounded.send(4).expect("the receive freed one place");
    assert!(matches!(bounded.send(5), Err(SendError::MailboxFull(_))));
    gate2.send("open").unwrap();
    let got = node.wait(&bounded).unwrap();
    assert_eq!(got["first"], 1);
    assert_eq!(got["rest"][0], 2);
    assert_eq!(got["rest"][1]["address"], json!(inbox.addr()));
    assert_eq!(got["rest"][2], 4);
}

#[test]
fn actors_that_end_right_after_a_receive_woken_in_a_race_all_end() {
    // A send that lands while its receiver is parking resumes the receiver straight from
    // `may`'s park (nested in the scheduler's call); an actor that then ends at once must
    // still end cleanly, however its mailbox's blocker is released. Each actor says when it
    // is about to receive and the send follows at once, so some of the 3000 land in the
    // middle of a park; a worker stuck in an actor's end would leave some never ended.
    const N: usize = 3000;
    let node = node();
    let (done, ended) = std::sync::mpsc::channel();
    for i in 0..N {
        let done = done.clone();
        let ready = Arc::new(AtomicBool::new(false));
        let flag = ready.clone();
        let a = node.spawn(move |mut mb| {
            flag.store(true, Ordering::Release);
            done.send(mb.receive()).unwrap();
        });
        // Spin (not a channel: its wake-up is far slower than a park) until the actor is
        // about to receive, then send at once.
        let t0 = std::time::Instant::now();
        let mut spins = 0u32;
        while !ready.load(Ordering::Acquire) {
            assert!(
                t0.elapsed() < HUNG,
                "a worker is stuck: the actor never started"
            );
            spins += 1;
            if spins.is_multiple_of(1024) {
                std::thread::yield_now(); // on one core the actor needs it to run
            } else {
                std::hint::spin_loop();
            }
        }
        a.send(i).unwrap();
    }
    let mut got: Vec<u64> = (0..N)
        .map(|_| {
            let v = ended
                .recv_timeout(HUNG)
                .expect("an actor never ended after its receive");
            v.as_u64().unwrap()
        })
        .collect();
    got.sort_unstable();
    assert_eq!(got, (0..N as u64).collect::<Vec<_>>());
}
