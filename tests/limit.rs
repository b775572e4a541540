//! The live-actor limit. Its own test binary (so its own process): the limit is process-wide
//! and must be configured before the runtime starts.

use std::panic::{AssertUnwindSafe, catch_unwind};

use pyact::actor::{current_node, live_actors};
use pyact::{Address, Mesh, Node, SpawnError, Value, json};

const LIMIT: usize = 50;

#[test]
fn spawning_beyond_the_limit_is_a_typed_error() {
    pyact::config::Config::default()
        .max_actors(LIMIT)
        .apply()
        .unwrap();
    let node = Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap();
    let _inbox = node.inbox(); // a thread's inbox is not an actor: it does not count

    let mut blocked: Vec<Address> = Vec::new();
    let err = loop {
        let spawned = node.try_spawn(|mut mb| {
            let m = mb.receive();
            if m == "try" {
                // From inside an actor, at the limit.
                let here = current_node().unwrap();
                return json!(here.try_spawn(|_| ()).err().map(|e| format!("{e:?}")));
            }
            m
        });
        match spawned {
            Ok(a) => blocked.push(a),
            Err(e) => break e,
        }
        assert!(
            blocked.len() <= LIMIT,
            "the limit of {LIMIT} is not enforced"
        );
    };
    assert_eq!(blocked.len(), LIMIT);
    assert_eq!(live_actors(), LIMIT);
    assert_eq!(err, SpawnError::TooManyActors { limit: LIMIT });
    let text = err.to_string();
    assert!(text.contains("vm.max_map_count"), "{text}");
    assert!(text.contains("50"), "{text}");

    // Every way of spawning refuses, and nothing is left behind.
    assert_eq!(
        node.try_spawn(|_| ()),
        Err(SpawnError::TooManyActors { limit: LIMIT })
    );
    assert_eq!(
        node.spawn_link(&blocked[1], |_| ()),
        Err(SpawnError::TooManyActors { limit: LIMIT })
    );
    let panicked = catch_unwind(AssertUnwindSafe(|| node.spawn(|_| ()))).unwrap_err();
    let msg = panicked
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(msg.contains("vm.max_map_count"), "{msg:?}");
    assert_eq!(node.actor_count(), LIMIT + 1);
    assert_eq!(live_actors(), LIMIT);

    blocked[0].send("try").unwrap();
    let inside = node.wait(&blocked[0]).unwrap();
    assert_eq!(
        inside,
        json!(format!("{:?}", SpawnError::TooManyActors { limit: LIMIT }))
    );

    // Release them all; they end normally.
    for a in &blocked[1..] {
        a.send("release").unwrap();
    }
    let results = node.wait_all(&blocked[1..]);
    assert!(
        results.iter().all(|r| r == &Ok(json!("release"))),
        "{results:?}"
    );
    assert_eq!(node.actor_count(), 1);

    // Spawning works again.
    let again = node.try_spawn(|_| json!("spawned again")).unwrap();
    assert_eq!(node.wait(&again), Ok(Value::from("spawned again")));
}
