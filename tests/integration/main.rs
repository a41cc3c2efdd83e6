//! wf's integration tests: the example apps under `apps/`, built to wasm by `wfrun build`'s
//! library function, run through the engine. One binary, one module per concern.

mod build;
mod checkpointing;
mod determinism;
mod explain;
mod files;
mod limits;
mod modules;
mod sandbox;
mod verify;
mod workflows;

use wf_runtime::{EngineSettings, KeyInputs, LoadedModule, Sandbox, TaskKey, TaskRun, ValueDigest};

/// A sandbox with default settings and `apps/<name>` loaded into it.
fn load(name: &str) -> (Sandbox, LoadedModule) {
    load_with(name, EngineSettings::default())
}

fn load_with(name: &str, settings: EngineSettings) -> (Sandbox, LoadedModule) {
    let sandbox = Sandbox::new(settings, None).expect("engine");
    let module = sandbox
        .load(&wf_tests::module_bytes(name))
        .expect("example apps load");
    (sandbox, module)
}

/// Calls `app` with already-encoded arguments, keyed as the engine would key it.
fn call_raw(sandbox: &Sandbox, module: &LoadedModule, app: &str, args: &[Vec<u8>]) -> TaskRun {
    let digests: Vec<ValueDigest> = args.iter().map(|a| ValueDigest::of(a)).collect();
    let key = TaskKey::derive(&KeyInputs {
        module: module.digest(),
        app,
        args: &digests,
        files: &[],
        fuel: sandbox.limits().fuel,
        salt: "",
    });
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    sandbox.call(module, app, &refs, &key)
}

/// postcard bytes of a value.
fn enc<T: serde::Serialize + ?Sized>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("encodable")
}

/// Decodes a successful result.
fn dec<T: serde::de::DeserializeOwned>(run: &TaskRun) -> T {
    let bytes = run
        .outcome
        .as_ref()
        .unwrap_or_else(|f| panic!("task failed: {f}"));
    postcard::from_bytes(bytes).expect("decodable result")
}
