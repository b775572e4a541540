//! Node names (`cookie@host:port`) and runtime configuration.

use pyact::config::{Config, ConfigError};
use pyact::node::NodeName;
use pyact::{Mesh, Node, NodeError};

const COOKIE: &str = "s3cr3t-c00kie";

#[test]
fn valid_names_parse() {
    let n = NodeName::parse(&format!("{COOKIE}@127.0.0.1:4000")).unwrap();
    assert_eq!((n.host.as_str(), n.port), ("127.0.0.1", 4000));
    assert_eq!(n.id(), "127.0.0.1:4000");
    let n = NodeName::parse("c@localhost:0").unwrap();
    assert_eq!((n.host.as_str(), n.port), ("localhost", 0));
    let n = NodeName::parse("c@[::1]:65535").unwrap();
    assert_eq!((n.host.as_str(), n.port), ("::1", 65535));
    assert_eq!(n.id(), "[::1]:65535");
    // The cookie never shows in Debug.
    let n = NodeName::parse(&format!("{COOKIE}@127.0.0.1:1")).unwrap();
    assert!(!format!("{n:?}").contains(COOKIE), "{n:?}");
}

#[test]
fn bad_names_are_refused_without_leaking_the_cookie() {
    let cases = [
        ("no-at-sign:4000".to_string(), "missing '@'"),
        ("@127.0.0.1:4000".to_string(), "empty cookie"),
        (format!("{COOKIE}@127.0.0.1"), "missing ':port'"),
        (format!("{COOKIE}@127.0.0.1:99999"), "port"),
        (format!("{COOKIE}@127.0.0.1:-1"), "port"),
        (format!("{COOKIE}@127.0.0.1:http"), "port"),
        (format!("{COOKIE}@127.0.0.1:"), "port"),
        (format!("{COOKIE}@:4000"), "host"),
        (format!("{COOKIE}@a/b:4000"), "host"),
    ];
    for (name, why_part) in cases {
        let err = NodeName::parse(&name).unwrap_err();
        match &err {
            NodeError::BadName { why, .. } => {
                assert!(why.contains(why_part), "{name:?}: {why:?}")
            }
            other => panic!("{name:?}: want BadName, got {other:?}"),
        }
        let shown = err.to_string();
        assert!(!shown.contains(COOKIE), "{name:?}: {shown}");
        assert!(!format!("{err:?}").contains(COOKIE), "{name:?}: {err:?}");
        assert!(shown.contains("cookie@host:port"), "{shown}");
        // Node::new refuses the same names the same way.
        let node_err = Node::new(&Mesh::new(), &name).unwrap_err();
        assert_eq!(node_err, err);
    }
}

#[test]
fn a_node_reports_its_real_port() {
    let mesh = Mesh::new();
    let a = Node::new(&mesh, "cookie@127.0.0.1:0").unwrap();
    let b = Node::new(&mesh, "cookie@127.0.0.1:0").unwrap();
    let port = |n: &Node| {
        n.name()
            .strip_prefix("127.0.0.1:")
            .unwrap()
            .parse::<u16>()
            .unwrap()
    };
    assert_ne!(port(&a), 0);
    assert_ne!(port(&a), port(&b));
    assert!(!a.name().contains("cookie"));
    let mut names = mesh.local_nodes();
    names.sort();
    let mut want = vec![a.name().to_string(), b.name().to_string()];
    want.sort();
    assert_eq!(names, want);
    assert_ne!(a, b);
    assert_eq!(a, a.clone());
}

#[test]
fn a_second_different_config_is_refused() {
    // Starts the runtime with the default configuration (if no other test did already).
    let _mesh = Mesh::new();
    let running = Config::default();
    // The configuration in force may be applied again.
    running.clone().apply().unwrap();
    let other = Config::default().workers(running.worker_count() + 1);
    match other.apply() {
        Err(ConfigError::AlreadyStarted { running: r }) => assert_eq!(*r, running),
        res => panic!("want AlreadyStarted, got {res:?}"),
    }
    let err = Config::default()
        .stack_size(2 * running.stack_bytes())
        .apply()
        .unwrap_err();
    assert!(matches!(err, ConfigError::AlreadyStarted { .. }), "{err:?}");
    assert!(err.to_string().contains("already started"), "{err}");
    // Out-of-range values are refused as such.
    assert!(matches!(
        Config::default().workers(0).apply(),
        Err(ConfigError::Invalid(_))
    ));
    assert!(matches!(
        Config::default().stack_size(1024).apply(),
        Err(ConfigError::Invalid(_))
    ));
    // The runtime keeps working.
    let node = Node::new(&Mesh::new(), "cookie@127.0.0.1:0").unwrap();
    let a = node.spawn(|_| pyact::json!("fine"));
    assert_eq!(node.wait(&a).unwrap(), "fine");
}

#[test]
fn a_shut_down_node_spawns_nothing() {
    let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    let survivor = node.spawn(|mut mb| {
        mb.receive();
    });
    assert!(!node.is_shut_down());
    node.shutdown();
    assert!(node.is_shut_down());
    assert_eq!(
        node.try_spawn(|_| ()),
        Err(pyact::SpawnError::NodeDown(node.name().to_string()))
    );
    assert_eq!(
        node.spawn_link(&survivor, |_| ()),
        Err(pyact::SpawnError::NodeDown(node.name().to_string()))
    );
    // Its actors were killed by the shutdown.
    assert_eq!(node.wait(&survivor), Err(pyact::ExitReason::Killed));
}
