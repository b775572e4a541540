//! Running the crate's examples from integration tests.

// Not every test binary that includes `common` runs an example.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The built binary of example `name`: `cargo test` builds the examples next to the test
/// binaries; only a partial build (`cargo test --test ...`) lacks it, and then it is built.
pub fn binary(name: &str) -> PathBuf {
    let bin = path(name);
    if !bin.exists() {
        let ok = Command::new(env!("CARGO"))
            .args(["build", "--example", name])
            .status()
            .unwrap();
        assert!(ok.success(), "cargo build --example {name} failed");
    }
    bin
}

/// The binary of example `name` built with `features` (`cargo build --example NAME
/// --features FEATURES`, run every time: the suite's own build of the examples may have
/// other features, and cargo finds it up to date when it has these).
pub fn binary_with(name: &str, features: &str) -> PathBuf {
    let ok = Command::new(env!("CARGO"))
        .args(["build", "--example", name, "--features", features])
        .status()
        .unwrap();
    assert!(
        ok.success(),
        "cargo build --example {name} --features {features} failed"
    );
    path(name)
}

/// Where cargo puts example `name`'s binary: beside the test binaries' directory.
fn path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    dir.join("examples").join(name)
}
