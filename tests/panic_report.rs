//! Actor panics are reported through `log`, not through the panic hook (issue 8, row 11).
//! Own test binary: it installs a panic hook and a logger for the whole process.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use pyact::{ExitReason, Mesh, Node};

static HOOK_CALLS: AtomicUsize = AtomicUsize::new(0);
static ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Error
    }
    fn log(&self, r: &log::Record) {
        if r.level() == log::Level::Error {
            ERRORS.lock().unwrap().push(r.args().to_string());
        }
    }
    fn flush(&self) {}
}

#[test]
fn actor_panics_go_to_the_log_and_the_users_hook_still_sees_other_panics() {
    // The user's hook, installed before the runtime starts: pyact must chain it.
    std::panic::set_hook(Box::new(|_| {
        HOOK_CALLS.fetch_add(1, Ordering::SeqCst);
    }));
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Error);

    let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
    let named = node.spawn(|mut mb| -> () {
        mb.receive();
        panic!("named actor gave up");
    });
    node.register("quitter", &named).unwrap();
    named.send("go").unwrap();
    assert_eq!(
        node.wait(&named),
        Err(ExitReason::Panicked("named actor gave up".into()))
    );
    let many: Vec<_> = (0..50)
        .map(|i| node.spawn(move |_| -> () { panic!("crash {i}") }))
        .collect();
    for a in &many {
        assert!(matches!(node.wait(a), Err(ExitReason::Panicked(_))));
    }
    assert_eq!(
        HOOK_CALLS.load(Ordering::SeqCst),
        0,
        "the panic hook ran for actor panics"
    );

    let errors = ERRORS.lock().unwrap().clone();
    assert!(
        errors.iter().any(|e| e.contains(&named.to_string())
            && e.contains("quitter")
            && e.contains("named actor gave up")),
        "no error! naming the actor, its name and reason: {errors:?}"
    );
    for (i, a) in many.iter().enumerate() {
        let want = format!("crash {i}");
        assert!(
            errors
                .iter()
                .any(|e| e.contains(&a.to_string()) && e.ends_with(&want)),
            "no error! for {a}"
        );
    }

    // A panic outside any actor still reaches the user's hook (chained, not replaced).
    let r = std::thread::spawn(|| panic!("a plain thread panics")).join();
    assert!(r.is_err());
    assert_eq!(HOOK_CALLS.load(Ordering::SeqCst), 1);
}
