//! The README's "Using Tenure in an axum app" is the crate `examples/hello`, which
//! depends on the `tenure` facade alone and is built by `scripts/test`: its main.rs
//! and its dependency lines must be the README's, line for line.

use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("the workspace root")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The code block that follows `marker` in the README.
fn block_after(readme: &str, marker: &str) -> String {
    let start = readme
        .find(marker)
        .unwrap_or_else(|| panic!("README has {marker:?}"));
    let rest = &readme[start + marker.len()..];
    let open = rest.find("```").expect("a code block follows");
    let body = &rest[open..];
    let body = &body[body.find('\n').expect("fence line") + 1..];
    body[..body.find("```").expect("closing fence")].to_string()
}

#[test]
fn the_readme_main_rs_is_the_example_crate_verbatim() {
    let readme = read("README.md");
    assert_eq!(
        block_after(&readme, "`src/main.rs`:"),
        read("examples/hello/src/main.rs"),
        "README's main.rs and examples/hello/src/main.rs differ"
    );
}

#[test]
fn the_readme_dependencies_are_the_example_crates() {
    let readme = read("README.md");
    let readme_deps = block_after(&readme, "`Cargo.toml`:");
    let manifest = read("examples/hello/Cargo.toml");
    let example_deps = &manifest[manifest.find("[dependencies]").expect("dependencies")..];
    let normalize = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
            .filter(|l| !l.is_empty())
            // The example uses the workspace's copy of `tenure`.
            .map(|l| {
                if l.starts_with("tenure ") {
                    "tenure".to_string()
                } else {
                    l
                }
            })
            .collect()
    };
    assert_eq!(normalize(&readme_deps), normalize(example_deps));
    assert!(
        !example_deps.contains("tenure-"),
        "the example depends on the facade only"
    );
}
