//! Builds the example apps for `wasm32-wasip1` and checks that each module has the exports and
//! imports `wf-abi` promises, with the right signatures. In particular `wf_abi_version` and
//! `wf_alloc`, which live in `wf-guest`, must survive linking into an app's cdylib.
//!
//! Needs the `wasm32-wasip1` target (`rustup target add wasm32-wasip1`). The build goes to its
//! own target directory, so it never waits on the lock of the one running this test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use wasmparser::{ExternalKind, Parser, Payload, TypeRef, ValType};

/// The apps built and checked, with the apps and workflows each must export.
const MODULES: &[(&str, &[&str], &[&str])] = &[
    (
        "basics",
        &[
            "add",
            "greet",
            "centroid",
            "total",
            "slow_double",
            "divide",
            "boom",
            "fresh",
        ],
        &["main", "failing"],
    ),
    (
        "montecarlo",
        &["sample", "estimate", "spread"],
        &["main", "sweep"],
    ),
    (
        "wordfreq",
        &[
            "generate",
            "count_words",
            "merge",
            "write_chunk",
            "count_file",
            "write_report",
        ],
        &["main", "files", "from_input"],
    ),
    (
        "probes",
        &[
            "forever",
            "hog",
            "clock",
            "random",
            "ambient",
            "nan",
            "nan_payload",
            "noop",
            "spin",
            "chatty",
            "counter",
            "complain",
            "fold",
            "recurse",
            "float_edges",
            "noisy_mean",
            "pool_edges",
            "relaxed_lanes",
        ],
        &[
            "noops",
            "spins",
            "runaway",
            "chain",
            "pyramid",
            "slow_fan",
            "complaint",
            "floats",
        ],
    ),
];

/// A module's imports and exports, each function with its signature as `(i32, i32) -> i32`.
#[derive(Default)]
struct Interface {
    imports: BTreeMap<(String, String), String>,
    exports: BTreeMap<String, String>,
}

fn signature(params: &[ValType], results: &[ValType]) -> String {
    let list = |types: &[ValType]| {
        types
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if results.is_empty() {
        format!("({})", list(params))
    } else {
        format!("({}) -> {}", list(params), list(results))
    }
}

fn interface(wasm: &[u8]) -> Interface {
    let mut types = Vec::new();
    let mut functions = Vec::new(); // the type of each function, imports first
    let mut interface = Interface::default();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.expect("the module parses") {
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    let ty = ty.expect("a function type");
                    types.push(signature(ty.params(), ty.results()));
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.expect("an import");
                    if let TypeRef::Func(index) = import.ty {
                        let sig = types[index as usize].clone();
                        functions.push(sig.clone());
                        interface
                            .imports
                            .insert((import.module.to_owned(), import.name.to_owned()), sig);
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for index in reader {
                    functions.push(types[index.expect("a function") as usize].clone());
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.expect("an export");
                    let sig = match export.kind {
                        ExternalKind::Func => functions[export.index as usize].clone(),
                        ExternalKind::Memory => "memory".to_owned(),
                        other => format!("{other:?}"),
                    };
                    interface.exports.insert(export.name.to_owned(), sig);
                }
            }
            _ => {}
        }
    }
    interface
}

fn build_modules() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("guest-sdk sits in the workspace root");
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wasm-apps");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--release", "--target", "wasm32-wasip1"])
        .arg("--target-dir")
        .arg(&target_dir);
    for (name, _, _) in MODULES {
        command.args(["-p", name]);
    }
    let status = command.status().expect("cargo runs");
    assert!(
        status.success(),
        "building the apps for wasm32-wasip1 failed (is the target installed? \
         `rustup target add wasm32-wasip1`)"
    );
    target_dir.join("wasm32-wasip1").join("release")
}

#[test]
fn every_app_module_has_the_abi_exports_and_imports() {
    let dir = build_modules();
    let wf_imports = BTreeMap::from([
        ("output", "(i32, i32)"),
        ("panic", "(i32, i32)"),
        ("submit", "(i32, i32) -> i64"),
        ("wait", "(i64) -> i32"),
        ("take_len", "() -> i32"),
        ("take", "(i32)"),
        ("checkpoint", "() -> i64"),
        ("input_file", "(i32, i32) -> i64"),
    ]);
    for (name, apps, workflows) in MODULES {
        let path = dir.join(format!("{name}.wasm"));
        let wasm = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let interface = interface(&wasm);
        let export = |export: &str| interface.exports.get(export).map(String::as_str);

        assert_eq!(export("memory"), Some("memory"), "{name}");
        assert_eq!(
            export(wf_abi::EXPORT_ABI_VERSION),
            Some("() -> i32"),
            "{name}"
        );
        assert_eq!(export(wf_abi::EXPORT_ALLOC), Some("(i32) -> i32"), "{name}");
        for app in *apps {
            let run = format!("{}{app}", wf_abi::APP_EXPORT_PREFIX);
            let describe = format!("{}{app}", wf_abi::DESCRIBE_EXPORT_PREFIX);
            assert_eq!(export(&run), Some("(i32, i32) -> i32"), "{name}: {run}");
            assert_eq!(export(&describe), Some("()"), "{name}: {describe}");
        }
        for workflow in *workflows {
            let run = format!("{}{workflow}", wf_abi::WORKFLOW_EXPORT_PREFIX);
            assert_eq!(export(&run), Some("() -> i32"), "{name}: {run}");
        }
        let wf_exports = interface
            .exports
            .keys()
            .filter(|e| e.starts_with("wf_"))
            .count();
        assert_eq!(
            wf_exports,
            2 + 2 * apps.len() + workflows.len(),
            "{name} exports no more wf_ functions than its apps and workflows: {:?}",
            interface.exports.keys().collect::<Vec<_>>()
        );

        for ((module, field), sig) in &interface.imports {
            if module == wf_abi::IMPORT_MODULE {
                assert_eq!(
                    wf_imports.get(field.as_str()).copied(),
                    Some(sig.as_str()),
                    "{name} imports wf::{field} with signature {sig}"
                );
            } else {
                assert_eq!(
                    module, "wasi_snapshot_preview1",
                    "{name} imports {module}::{field}, from neither wf nor WASI"
                );
            }
        }
        // Every module answers through `output`; a module with workflows also waits on futures.
        let imports_wf = |field: &str| {
            interface
                .imports
                .contains_key(&(wf_abi::IMPORT_MODULE.to_owned(), field.to_owned()))
        };
        assert!(imports_wf(wf_abi::IMPORT_OUTPUT), "{name}");
        assert!(imports_wf(wf_abi::IMPORT_PANIC), "{name}");
        assert!(imports_wf(wf_abi::IMPORT_SUBMIT), "{name}");
        assert!(imports_wf(wf_abi::IMPORT_WAIT), "{name}");
    }
}
