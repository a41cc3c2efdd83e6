//! Test fixtures shared by wf's integration tests: the example apps, built to wasm once per
//! test process.
#![allow(missing_docs)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use wf_runtime::{BuildOptions, build_guest};

/// The example crates under `apps/`.
pub const APPS: &[&str] = &["basics", "montecarlo", "wordfreq", "probes"];

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf()
}

/// Where the tests build guests: apart from the outer `cargo test`'s own target directory, whose
/// lock it may hold while tests run.
pub fn test_target_dir() -> PathBuf {
    workspace_root().join("target").join("wf-test-wasm")
}

/// The path of the built module of `apps/<name>`, building every example once per process.
pub fn module_path(name: &str) -> PathBuf {
    static BUILT: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let options = BuildOptions {
            target_dir: Some(test_target_dir()),
            quiet: true,
        };
        APPS.iter()
            .map(|app| {
                let dir = workspace_root().join("apps").join(app);
                let modules = build_guest(&dir, &options)
                    .unwrap_or_else(|e| panic!("building apps/{app} for the tests: {e}"));
                assert_eq!(
                    modules.len(),
                    1,
                    "apps/{app} builds one module: {modules:?}"
                );
                (app.to_string(), modules[0].clone())
            })
            .collect()
    });
    built
        .get(name)
        .unwrap_or_else(|| panic!("no example app `{name}`"))
        .clone()
}

/// The bytes of the built module of `apps/<name>`.
pub fn module_bytes(name: &str) -> Vec<u8> {
    let path = module_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}
