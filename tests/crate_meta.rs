//! The crate's public face outside the code: metadata a registry shows, the license it ships
//! under, a changelog that knows the current version.

use std::path::Path;

fn read(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn cargo_metadata_is_filled_in() {
    assert!(env!("CARGO_PKG_DESCRIPTION").len() > 40);
    assert_eq!(env!("CARGO_PKG_LICENSE"), "MIT");
    assert!(!env!("CARGO_PKG_README").is_empty());
    assert!(!env!("CARGO_PKG_RUST_VERSION").is_empty());
    let manifest = read("Cargo.toml");
    for key in ["keywords", "categories"] {
        assert!(
            manifest
                .lines()
                .any(|l| l.starts_with(&format!("{key} = ["))),
            "Cargo.toml lacks {key}"
        );
    }
}

#[test]
fn license_file_is_mit() {
    let license = read("LICENSE");
    assert!(license.starts_with("MIT License"));
    assert!(license.contains("Permission is hereby granted, free of charge"));
}

#[test]
fn changelog_knows_the_current_version() {
    let changelog = read("CHANGELOG.md");
    assert!(changelog.contains("## [Unreleased]"));
    let heading = format!("## [{}]", env!("CARGO_PKG_VERSION"));
    assert!(changelog.contains(&heading), "CHANGELOG.md lacks {heading}");
}

#[test]
fn readme_stands_on_its_own() {
    let readme = read("README.md");
    assert!(
        !readme.contains("../"),
        "README links outside the repository"
    );
    assert!(readme.contains("## What pyact keeps of python-actors"));
    // The two commands CI and users rely on.
    assert!(readme.contains("cargo run --release --example ring"));
    assert!(readme.contains("\ncargo test "));
}

#[test]
fn every_readme_code_block_says_what_it_is() {
    // rustdoc compiles untagged blocks as Rust; shell commands must say `sh`/`text`, and Rust
    // blocks are compiled (and run) by the `ReadmeDoctests` item in lib.rs.
    let readme = read("README.md");
    let mut open = false;
    let mut rust = 0;
    for (n, line) in readme.lines().enumerate() {
        let Some(tag) = line.trim_start().strip_prefix("```") else {
            continue;
        };
        if open {
            open = false;
            continue;
        }
        open = true;
        let lang = tag.split(',').next().unwrap_or("");
        assert!(
            ["rust", "sh", "text", "json", "toml"].contains(&lang),
            "README line {}: code block tagged {tag:?}",
            n + 1
        );
        rust += usize::from(lang == "rust");
        assert!(
            !tag.contains("ignore"),
            "README line {}: ignored block",
            n + 1
        );
    }
    assert!(!open, "unclosed code block");
    assert!(rust >= 4, "README lost its Rust examples");
}
