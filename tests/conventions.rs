//! Rust conventions of the public API that a running test can check (the compile-time ones
//! are `compile_fail` doctests on `ConventionChecks` in lib.rs).

use pyact::binary::Binary;
use pyact::binary::{base64_decode, base64_encode};
use pyact::config::{Config, ConfigError};
use pyact::server::CallError;
use pyact::server::ServerError;
use pyact::{ExitReason, NodeError, SendError, SpawnError};

fn boxed<E: std::error::Error + Send + Sync + 'static>(e: E) -> Box<dyn std::error::Error> {
    Box::new(e)
}

#[test]
fn every_public_error_is_a_std_error() {
    let errors = [
        boxed(ServerError::Failed("disk full".into())),
        boxed(ServerError::UnknownMethod),
        boxed(CallError::Timeout),
        boxed(SendError::NotJson("x".into())),
        boxed(SpawnError::Io("x".into())),
        boxed(NodeError::Connect {
            node: "h:1".into(),
            why: "refused".into(),
        }),
        boxed(ConfigError::Invalid("x")),
        boxed(ExitReason::Killed),
    ];
    let texts: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(texts[0], "disk full");
    assert_eq!(texts[1], "unknown method");
    assert!(texts.iter().all(|t| !t.is_empty()));
}

#[test]
fn a_server_error_converts_with_question_mark_into_a_boxed_error() {
    fn handler() -> Result<(), Box<dyn std::error::Error>> {
        Err(ServerError::failed("bad input"))?;
        Ok(())
    }
    assert_eq!(handler().unwrap_err().to_string(), "bad input");
}

#[test]
fn config_getters_have_no_get_prefix_and_read_back_what_was_set() {
    let c = Config::default()
        .workers(3)
        .stack_size(256 * 1024)
        .max_actors(77)
        .exit_records(12);
    assert_eq!(c.worker_count(), 3);
    assert_eq!(c.stack_bytes(), 256 * 1024);
    assert_eq!(c.actor_limit(), 77);
    assert_eq!(c.exit_record_count(), 12);
}

#[test]
fn base64_lives_in_the_binary_module_and_on_binary() {
    let b = Binary(vec![0, 1, 2, 255]);
    assert_eq!(b.to_base64(), "AAEC/w==");
    assert_eq!(base64_encode(&b.0), b.to_base64());
    assert_eq!(Binary::from_base64("AAEC/w=="), Some(b.clone()));
    assert_eq!(base64_decode("AAEC/w=="), Some(b.0));
    assert_eq!(Binary::from_base64("AAEC/w="), None);
}
