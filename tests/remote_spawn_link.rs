//! A remote `spawn_link` that fails undoes the link it made (issue 8, "also from review").
//! Its own test binary: it runs the process into its live-actor limit.

use pyact::{Address, Mesh, Node, SpawnError, json};

const LIMIT: usize = 20;

#[test]
fn a_failed_spawn_link_to_a_remote_actor_leaves_no_link_behind() {
    pyact::config::Config::default()
        .max_actors(LIMIT)
        .apply()
        .unwrap();
    let a = Node::new(&Mesh::new(), "k@127.0.0.1:0").unwrap();
    let b = Node::new(&Mesh::new(), "k@127.0.0.1:0").unwrap();
    let target = b.spawn(|mut mb| mb.receive());
    let _ctx = a.inbox();
    assert_eq!(a.whereis_remote(b.name(), "nobody"), Ok(None));
    let mut fillers: Vec<Address> = Vec::new();
    loop {
        match a.try_spawn(|mut mb| mb.receive()) {
            Ok(f) => fillers.push(f),
            Err(SpawnError::TooManyActors { .. }) => break,
            Err(e) => panic!("{e}"),
        }
    }
    let err = a.spawn_link(&target, |_| ()).unwrap_err();
    assert_eq!(err, SpawnError::TooManyActors { limit: LIMIT });
    // The link and unlink frames travel before this request on the one connection.
    assert_eq!(a.whereis_remote(b.name(), "nobody"), Ok(None));
    assert_eq!(
        b.net_stats().remote_links,
        0,
        "the peer still holds the link"
    );
    assert_eq!(a.net_stats().watches, 0, "this node still watches the peer");
    // A spawn_link that works keeps its link on both sides.
    fillers.pop().unwrap().send("free a slot").unwrap();
    let child = loop {
        match a.spawn_link(&target, |mut mb| mb.receive()) {
            Ok(c) => break c,
            Err(SpawnError::TooManyActors { .. }) => std::thread::yield_now(),
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(a.whereis_remote(b.name(), "nobody"), Ok(None));
    assert_eq!(b.net_stats().remote_links, 1);
    child.send("bye").unwrap();
    assert_eq!(a.wait(&child), Ok(json!("bye")));
    for f in fillers {
        f.send("bye").unwrap();
    }
    target.send("bye").unwrap();
    assert_eq!(a.wait(&target), Ok(json!("bye")));
}
