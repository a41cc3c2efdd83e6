//! Loading modules: digests, the ABI check, the compiled-code cache.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wf_runtime::{ArtifactStore, Limits, ModuleDigest, ModuleError};

use super::*;

/// An artifact store over a temporary directory that counts what it saves.
struct DirStore {
    dir: PathBuf,
    saves: AtomicUsize,
}

impl ArtifactStore for DirStore {
    fn open(&self, name: &str) -> Option<std::fs::File> {
        std::fs::File::open(self.dir.join(name)).ok()
    }

    fn save(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        std::fs::write(self.dir.join(name), bytes)
    }
}

#[test]
fn compiled_code_is_cached_per_module_and_engine_configuration() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(DirStore {
        dir: tmp.path().to_path_buf(),
        saves: AtomicUsize::new(0),
    });
    let bytes = wf_tests::module_bytes("basics");

    let first = Sandbox::new(EngineSettings::default(), Some(store.clone())).expect("engine");
    assert!(
        !first
            .load(&bytes)
            .expect("loads")
            .compiled_code_was_cached()
    );
    assert_eq!(store.saves.load(Ordering::SeqCst), 1);

    // A second engine of the same configuration (as in a second process) compiles nothing.
    let second = Sandbox::new(EngineSettings::default(), Some(store.clone())).expect("engine");
    let module = second.load(&bytes).expect("loads");
    assert!(module.compiled_code_was_cached());
    assert_eq!(store.saves.load(Ordering::SeqCst), 1);
    assert_eq!(
        dec::<i64>(&call_raw(
            &second,
            &module,
            "add",
            &[enc(&1i64), enc(&2i64)]
        )),
        3
    );

    // Fuel metering changes the compiled code: another artifact, never the stale one.
    let fueled = EngineSettings {
        limits: Limits {
            fuel: Some(1_000_000),
            ..Limits::default()
        },
        ..EngineSettings::default()
    };
    let third = Sandbox::new(fueled, Some(store.clone())).expect("engine");
    assert!(
        !third
            .load(&bytes)
            .expect("loads")
            .compiled_code_was_cached()
    );
    assert_eq!(store.saves.load(Ordering::SeqCst), 2);
}

#[test]
fn a_damaged_cached_artifact_is_recompiled_not_trusted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(DirStore {
        dir: tmp.path().to_path_buf(),
        saves: AtomicUsize::new(0),
    });
    let bytes = wf_tests::module_bytes("basics");
    Sandbox::new(EngineSettings::default(), Some(store.clone()))
        .expect("engine")
        .load(&bytes)
        .expect("loads");
    for entry in std::fs::read_dir(tmp.path()).expect("listing") {
        std::fs::write(entry.expect("entry").path(), b"garbage").expect("overwrite");
    }
    let sandbox = Sandbox::new(EngineSettings::default(), Some(store.clone())).expect("engine");
    let module = sandbox.load(&bytes).expect("recompiles");
    assert!(!module.compiled_code_was_cached());
    assert_eq!(
        dec::<i64>(&call_raw(
            &sandbox,
            &module,
            "add",
            &[enc(&1i64), enc(&2i64)]
        )),
        3
    );
}

#[test]
fn the_digest_ignores_custom_sections() {
    let bytes = wf_tests::module_bytes("basics");
    let mut with_debug = bytes.clone();
    // Append a custom section `.debug_extra` holding 3 bytes.
    let name = b".debug_extra";
    with_debug.push(0);
    with_debug.push((1 + name.len() + 3) as u8);
    with_debug.push(name.len() as u8);
    with_debug.extend_from_slice(name);
    with_debug.extend_from_slice(&[1, 2, 3]);
    assert_eq!(
        ModuleDigest::of_module(&bytes),
        ModuleDigest::of_module(&with_debug)
    );

    let sandbox = Sandbox::new(EngineSettings::default(), None).expect("engine");
    assert_eq!(
        sandbox.load(&bytes).expect("loads").digest(),
        sandbox
            .load(&with_debug)
            .expect("still a valid module")
            .digest()
    );
}

#[test]
fn modules_without_the_sdk_or_not_wasm_are_refused_with_a_reason() {
    let sandbox = Sandbox::new(EngineSettings::default(), None).expect("engine");
    let err = sandbox.load(b"#!/bin/sh\necho hi\n").expect_err("not wasm");
    assert!(matches!(err, ModuleError::NotWasm(_)), "{err}");

    // A valid module that exports nothing: `(module)`.
    let err = sandbox.load(b"\0asm\x01\0\0\0").expect_err("no SDK");
    assert!(matches!(err, ModuleError::NoSdkAbi { .. }), "{err}");
    assert!(err.to_string().contains("wf guest SDK"), "{err}");

    // A module cut in half.
    let bytes = wf_tests::module_bytes("basics");
    let err = sandbox
        .load(&bytes[..bytes.len() / 2])
        .expect_err("truncated");
    assert!(
        matches!(err, ModuleError::NotWasm(_) | ModuleError::Invalid(_)),
        "{err}"
    );
}

#[test]
fn a_module_of_another_abi_version_is_refused_naming_both_versions() {
    // `(module (memory (export "memory") 1)
    //   (func (export "wf_abi_version") (result i32) i32.const 99)
    //   (func (export "wf_alloc") (param i32) (result i32) i32.const 0))`
    let module: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // header
        0x01, 0x0a, 0x02, 0x60, 0x00, 0x01, 0x7f, 0x60, 0x01, 0x7f, 0x01, 0x7f, // types
        0x03, 0x03, 0x02, 0x00, 0x01, // functions
        0x05, 0x03, 0x01, 0x00, 0x01, // memory
        0x07, 0x26, 0x03, // exports
        0x06, b'm', b'e', b'm', b'o', b'r', b'y', 0x02, 0x00, //
        0x0e, b'w', b'f', b'_', b'a', b'b', b'i', b'_', b'v', b'e', b'r', b's', b'i', b'o', b'n',
        0x00, 0x00, 0x08, b'w', b'f', b'_', b'a', b'l', b'l', b'o', b'c', 0x00, 0x01, //
        0x0a, 0x0c, 0x02, // code
        0x05, 0x00, 0x41, 0xe3, 0x00, 0x0b, //
        0x04, 0x00, 0x41, 0x00, 0x0b,
    ];
    let sandbox = Sandbox::new(EngineSettings::default(), None).expect("engine");
    let err = sandbox.load(module).expect_err("ABI 99");
    assert!(
        matches!(err, ModuleError::AbiMismatch { module: 99, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("version 99"), "{err}");
}
