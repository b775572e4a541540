//! Looking into a running node: `actors`, `registered`, `info`.

use std::time::Duration;

use pyact::observe::MailboxKind;
use pyact::{Actor, Address, IntoExit, Mailbox, Mesh, Node, json};

const LONG: Duration = Duration::from_secs(60);

fn node() -> Node {
    Node::new(&Mesh::new(), "observe@127.0.0.1:0").unwrap()
}

struct Sleeper;
impl Actor for Sleeper {
    fn run(self, mut mb: Mailbox) -> impl IntoExit {
        mb.receive()
    }
}

#[test]
fn actors_and_registered_list_live_actors_with_their_names() {
    let node = node();
    let _inbox = node.inbox(); // a thread's inbox is not an actor
    let a = node.spawn(|mut mb| mb.receive());
    let b = node.spawn(|mut mb| mb.receive());
    let c = node.spawn_actor(Sleeper);
    node.register("bee", &b).unwrap();
    node.register("sea", &c).unwrap();
    assert_eq!(
        node.actors(),
        vec![
            (a.clone(), None),
            (b.clone(), Some("bee".into())),
            (c.clone(), Some("sea".into())),
        ]
    );
    assert_eq!(
        node.registered(),
        vec![("bee".into(), b.clone()), ("sea".into(), c.clone())]
    );
    node.unregister("sea");
    b.send("bye").unwrap();
    b.wait().unwrap();
    assert_eq!(node.actors(), vec![(a.clone(), None), (c.clone(), None)]);
    assert!(node.registered().is_empty());
    for x in [&a, &c] {
        x.send("bye").unwrap();
        x.wait().unwrap();
    }
    assert!(node.actors().is_empty());
}

#[test]
fn info_shows_links_monitors_name_kind_and_what_it_runs() {
    let node = node();
    let mut inbox = node.inbox();
    let me = inbox.addr();
    let partner = node.spawn(|mut mb| mb.receive());
    let p = partner.clone();
    let subject = node.spawn(move |mut mb| {
        mb.link(&p);
        me.send("linked").unwrap();
        mb.receive()
    });
    assert_eq!(inbox.receive_timeout(LONG).unwrap(), "linked");
    node.register("subject", &subject).unwrap();
    inbox.monitor(&subject);
    inbox.monitor(&subject);

    let info = node.info(&subject).expect("live");
    assert_eq!(info.address, subject);
    assert_eq!(info.name.as_deref(), Some("subject"));
    assert_eq!(info.kind, MailboxKind::Actor);
    let runs = info.runs.expect("an actor runs something");
    assert!(runs.starts_with("observe::"), "{runs}");
    assert_eq!(info.links, vec![partner.clone()]);
    assert_eq!(info.monitored_by, vec![inbox.addr(), inbox.addr()]);
    assert!(!info.exiting);
    // The other side of the link sees it too.
    assert_eq!(node.info(&partner).unwrap().links, vec![subject.clone()]);

    // A struct actor shows its type.
    let s = node.spawn_actor(Sleeper);
    let runs = node.info(&s).unwrap().runs.unwrap();
    assert!(runs.contains("Sleeper"), "{runs}");

    // A thread's inbox.
    let info = node.info(&inbox.addr()).unwrap();
    assert_eq!((info.kind, info.runs), (MailboxKind::Inbox, None));

    for x in [&subject, &partner, &s] {
        x.send("bye").unwrap();
    }
    subject.wait().unwrap();
    assert_eq!(node.info(&subject), None);
    partner.wait().unwrap();
    s.wait().unwrap();
}

#[test]
fn info_sees_unread_messages_and_age() {
    let node = node();
    let mut inbox = node.inbox();
    let blocker = node.spawn(|mut mb| mb.receive());
    let b = blocker.clone();
    // Waits on another actor without ever pulling its own mail.
    let busy = node.spawn(move |_| b.wait());
    let first = node.info(&busy).unwrap();
    assert!(!first.has_unread);
    busy.send(json!({"queued": 1})).unwrap();
    let second = node.info(&busy).unwrap();
    assert!(second.has_unread);
    assert!(second.age >= first.age);
    blocker.send("go").unwrap();
    busy.wait().unwrap();
    // An inbox that received is empty again once read.
    inbox.addr().send(1).unwrap();
    assert!(node.info(&inbox.addr()).unwrap().has_unread);
    inbox.receive();
    assert!(!node.info(&inbox.addr()).unwrap().has_unread);
}

#[test]
fn info_is_none_for_other_nodes_and_unknown_ids() {
    let a = node();
    let b = node();
    let on_b = b.spawn(|mut mb| mb.receive());
    assert_eq!(a.info(&on_b), None);
    assert!(b.info(&on_b).is_some());
    let ghost: Address = format!("{}/987654", a.name()).parse().unwrap();
    assert_eq!(a.info(&ghost), None);
    on_b.send("bye").unwrap();
    b.wait(&on_b).unwrap();
}
