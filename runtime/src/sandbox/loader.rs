//! Loading modules: digest, compile (or load the cached artifact), check the SDK's ABI, read the
//! apps' descriptors, and keep one `InstancePre` per module.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use wasmtime::{InstancePre, Module, ModuleExport, Store};
use wf_abi::{
    ABI_VERSION, APP_EXPORT_PREFIX, AppDescriptor, DESCRIBE_EXPORT_PREFIX, EXPORT_ABI_VERSION,
    EXPORT_ALLOC, WORKFLOW_EXPORT_PREFIX,
};

use super::engine::{EngineHandle, EngineSettings, Limits};
use super::failure::{no_free_slot_message, pool_exhausted};
use super::host::TaskState;
use super::wasi::{LazyWasi, Stdio};
use crate::key::{ModuleDigest, NotWasm, TaskKey};

/// Where compiled modules are kept between processes. Implemented by the runinfo store; the
/// sandbox never opens a path itself.
pub trait ArtifactStore: Send + Sync {
    /// Opens the artifact called `name`, if there is one.
    fn open(&self, name: &str) -> Option<std::fs::File>;
    /// Stores an artifact atomically (a reader never sees half of one).
    fn save(&self, name: &str, bytes: &[u8]) -> std::io::Result<()>;
}

/// Why a module cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModuleError {
    /// The bytes are not a WebAssembly module.
    #[error("not a WebAssembly module: {0}")]
    NotWasm(#[from] NotWasm),
    /// wasmtime rejected the module.
    #[error("invalid WebAssembly module: {0}")]
    Invalid(String),
    /// The module was not built with the wf guest SDK.
    #[error(
        "this module was not built with the wf guest SDK (it does not export `{missing}`); build \
         app crates that depend on `wf-guest` with `wfrun build`"
    )]
    NoSdkAbi {
        /// The export the SDK always provides.
        missing: &'static str,
    },
    /// The module speaks another version of the ABI.
    #[error(
        "the module was built for wf ABI version {module}, but this wfrun speaks version {host}; \
         rebuild it against the matching wf-guest"
    )]
    AbiMismatch {
        /// The module's version.
        module: u32,
        /// This host's version.
        host: u32,
    },
    /// The module imports functions the sandbox does not provide.
    #[error(
        "the module imports what the wf sandbox does not provide ({detail}); this host speaks wf \
         ABI version {ABI_VERSION} and WASI preview 1"
    )]
    UnsupportedImports {
        /// wasmtime's explanation.
        detail: String,
    },
    /// An app's descriptor could not be read.
    #[error("the module's description of app `{app}` is unreadable: {message}")]
    BadDescriptor {
        /// The app.
        app: String,
        /// What went wrong.
        message: String,
    },
    /// The engine could not be set up.
    #[error("could not create the wasm engine: {0}")]
    Engine(String),
    /// Every instance slot of the engine was in use, so the module could not be instantiated to
    /// read its apps (not the module's fault; see [`EngineSettings::max_instances`]).
    #[error("could not load the module now: {}", no_free_slot_message(*.slots))]
    NoFreeSlot {
        /// The engine's slots.
        slots: u32,
    },
}

/// The sandbox: one engine for the process and the modules loaded into it.
pub struct Sandbox {
    pub(crate) handle: EngineHandle,
    artifacts: Option<Arc<dyn ArtifactStore>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("settings", &self.handle.settings)
            .finish_non_exhaustive()
    }
}

/// A module ready to run: cheap to clone and to share between threads.
#[derive(Clone)]
pub struct LoadedModule(pub(crate) Arc<ModuleInner>);

pub(crate) struct ModuleInner {
    pub digest: ModuleDigest,
    pub pre: InstancePre<TaskState>,
    pub apps: BTreeMap<String, AppDescriptor>,
    pub workflows: Vec<String>,
    /// Apps that take or return files (their schemas mention `wf_guest::File`).
    pub file_apps: std::collections::BTreeSet<String>,
    /// The exports every task calls, found by name once here rather than in every instance.
    pub exports: TaskExports,
    pub from_cache: bool,
    /// The module's bytes, so that a run can keep them with its checkpoint.
    pub bytes: Arc<[u8]>,
}

impl std::fmt::Debug for LoadedModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModule")
            .field("digest", &self.0.digest)
            .field("apps", &self.0.apps.keys().collect::<Vec<_>>())
            .field("workflows", &self.0.workflows)
            .finish_non_exhaustive()
    }
}

impl LoadedModule {
    /// The module's digest (DESIGN §2).
    pub fn digest(&self) -> ModuleDigest {
        self.0.digest
    }

    /// The module's bytes, as loaded.
    pub fn bytes(&self) -> &[u8] {
        &self.0.bytes
    }

    /// The module's apps, by name.
    pub fn apps(&self) -> &BTreeMap<String, AppDescriptor> {
        &self.0.apps
    }

    /// One app's descriptor.
    pub fn app(&self, name: &str) -> Option<&AppDescriptor> {
        self.0.apps.get(name)
    }

    /// The module's workflow entries, sorted.
    pub fn workflows(&self) -> &[String] {
        &self.0.workflows
    }

    /// Whether `app` takes or returns files, so its tasks need file directories.
    pub fn app_uses_files(&self, app: &str) -> bool {
        self.0.file_apps.contains(app)
    }

    /// The module's bytes, as loaded (the same as [`bytes`](Self::bytes); for executors in
    /// other processes).
    pub fn wasm(&self) -> &[u8] {
        &self.0.bytes
    }

    /// Whether the compiled code came from the on-disk cache rather than the compiler.
    pub fn compiled_code_was_cached(&self) -> bool {
        self.0.from_cache
    }
}

impl Sandbox {
    /// Creates the engine. `artifacts`, when given, caches compiled code across processes.
    pub fn new(
        settings: EngineSettings,
        artifacts: Option<Arc<dyn ArtifactStore>>,
    ) -> Result<Sandbox, ModuleError> {
        let handle =
            EngineHandle::new(settings).map_err(|e| ModuleError::Engine(format!("{e:#}")))?;
        Ok(Sandbox { handle, artifacts })
    }

    /// The per-task limits in force.
    pub fn limits(&self) -> Limits {
        self.handle.settings.limits
    }

    /// Loads a module: checks it, compiles it (or loads its cached compiled code) and reads the
    /// description of its apps.
    pub fn load(&self, bytes: &[u8]) -> Result<LoadedModule, ModuleError> {
        let digest = ModuleDigest::of_module(bytes)?;
        let (module, from_cache) = self.compile(digest, bytes)?;
        let exports: Vec<String> = module.exports().map(|e| e.name().to_owned()).collect();
        for required in [EXPORT_ABI_VERSION, EXPORT_ALLOC] {
            if !exports.iter().any(|e| e == required) {
                return Err(ModuleError::NoSdkAbi { missing: required });
            }
        }
        let pre = self.handle.linker.instantiate_pre(&module).map_err(|e| {
            ModuleError::UnsupportedImports {
                detail: format!("{e:#}"),
            }
        })?;

        let mut store = self.describe_store();
        let instance = pre.instantiate(&mut store).map_err(|e| {
            if pool_exhausted(&e) {
                ModuleError::NoFreeSlot {
                    slots: self.handle.settings.max_instances,
                }
            } else {
                ModuleError::Invalid(format!("{e:#}"))
            }
        })?;
        initialize(&instance, &mut store).map_err(|e| ModuleError::Invalid(format!("{e:#}")))?;
        let version = instance
            .get_typed_func::<(), i32>(&mut store, EXPORT_ABI_VERSION)
            .and_then(|f| f.call(&mut store, ()))
            .map_err(|e| ModuleError::Invalid(format!("`{EXPORT_ABI_VERSION}` failed: {e:#}")))?;
        if version as u32 != ABI_VERSION {
            return Err(ModuleError::AbiMismatch {
                module: version as u32,
                host: ABI_VERSION,
            });
        }

        let mut apps = BTreeMap::new();
        let mut workflows = Vec::new();
        for export in &exports {
            if let Some(name) = export.strip_prefix(WORKFLOW_EXPORT_PREFIX) {
                workflows.push(name.to_owned());
            } else if let Some(name) = export.strip_prefix(APP_EXPORT_PREFIX) {
                let describe = format!("{DESCRIBE_EXPORT_PREFIX}{name}");
                let bad = |message: String| ModuleError::BadDescriptor {
                    app: name.to_owned(),
                    message,
                };
                store.data_mut().output = None;
                instance
                    .get_typed_func::<(), ()>(&mut store, &describe)
                    .and_then(|f| f.call(&mut store, ()))
                    .map_err(|e| bad(format!("`{describe}` failed: {e:#}")))?;
                let bytes = store
                    .data_mut()
                    .output
                    .take()
                    .ok_or_else(|| bad("no answer".into()))?;
                let descriptor: AppDescriptor =
                    postcard::from_bytes(&bytes).map_err(|e| bad(e.to_string()))?;
                if descriptor.name != name {
                    return Err(bad(format!("it calls itself `{}`", descriptor.name)));
                }
                apps.insert(name.to_owned(), descriptor);
            }
        }
        workflows.sort();
        let file_apps = apps
            .values()
            .filter(|app| {
                app.params.iter().any(|p| mentions_file(&p.ty.schema))
                    || mentions_file(&app.output.schema)
            })
            .map(|app| app.name.clone())
            .collect();
        let exports = TaskExports::find(pre.module(), apps.keys());
        Ok(LoadedModule(Arc::new(ModuleInner {
            digest,
            pre,
            apps,
            workflows,
            file_apps,
            exports,
            from_cache,
            bytes: Arc::from(bytes),
        })))
    }

    fn describe_store(&self) -> Store<TaskState> {
        let mut store = Store::new(
            &self.handle.engine,
            TaskState::new(
                LazyWasi::new(TaskKey([0; 32]), Stdio::Capture),
                self.limits().memory_bytes,
            ),
        );
        store.limiter(|state| &mut state.ceiling);
        if self.limits().fuel.is_some() {
            // Describing is the SDK's own code: give it plenty.
            let _ = store.set_fuel(u64::MAX);
        }
        if self.limits().timeout.is_some() {
            store.set_epoch_deadline(u64::MAX / 2);
        }
        store
    }

    /// Compiles the module, or loads the compiled code an earlier process cached for this exact
    /// module and engine configuration.
    fn compile(&self, digest: ModuleDigest, bytes: &[u8]) -> Result<(Module, bool), ModuleError> {
        let engine = &self.handle.engine;
        let name = format!("{digest}-{}.cwasm", self.handle.fingerprint.short_hex());
        if let Some(file) = self.artifacts.as_ref().and_then(|store| store.open(&name)) {
            // SAFETY: wasmtime requires that the file holds an artifact that wasmtime itself
            // produced and that nobody modifies it while it is mapped. The cache directory is
            // written only by `ArtifactStore::save` with bytes from `Module::serialize`, atomically
            // (write to a temporary, then rename), under a name that includes the digest of the
            // module and the fingerprint of every engine setting; wasmtime additionally checks its
            // own version and compilation flags in the artifact's header. A user who can write the
            // runinfo cache can run native code, like one who can write `~/.cargo/bin`.
            #[allow(unsafe_code)]
            let loaded = unsafe { Module::deserialize_open_file(engine, file) };
            if let Ok(module) = loaded {
                return Ok((module, true));
            }
        }
        let module = Module::from_binary(engine, bytes)
            .map_err(|e| ModuleError::Invalid(format!("{e:#}")))?;
        if let Some(store) = &self.artifacts {
            // A cache that cannot be written only costs time on the next start.
            if let Ok(serialized) = module.serialize() {
                let _ = store.save(&name, &serialized);
            }
        }
        Ok((module, false))
    }
}

/// Handles to the exports a task's instance is called through: looking one up by handle skips
/// hashing its name in every instance.
pub(crate) struct TaskExports {
    pub initialize: Option<ModuleExport>,
    pub alloc: Option<ModuleExport>,
    pub memory: Option<ModuleExport>,
    /// Each app's entry point, by app name.
    pub apps: HashMap<String, ModuleExport>,
}

impl TaskExports {
    fn find<'a>(module: &Module, apps: impl Iterator<Item = &'a String>) -> TaskExports {
        TaskExports {
            initialize: module.get_export_index("_initialize"),
            alloc: module.get_export_index(EXPORT_ALLOC),
            memory: module.get_export_index("memory"),
            apps: apps
                .filter_map(|app| {
                    let export = module.get_export_index(&format!("{APP_EXPORT_PREFIX}{app}"))?;
                    Some((app.clone(), export))
                })
                .collect(),
        }
    }
}

/// Runs a reactor module's `_initialize` (static constructors), which WASI requires before any
/// other export is called.
pub(crate) fn initialize(
    instance: &wasmtime::Instance,
    store: &mut Store<TaskState>,
) -> wasmtime::Result<()> {
    // `get_func` first: modules built with the SDK have no `_initialize`, and a failed typed
    // lookup builds an error (with a backtrace when RUST_BACKTRACE is set) on every task.
    if let Some(init) = instance.get_func(&mut *store, "_initialize") {
        init.typed::<(), ()>(&*store)?.call(&mut *store, ())?;
    }
    Ok(())
}

/// Whether a schema mentions the SDK's file type anywhere.
fn mentions_file(schema: &postcard_schema::schema::owned::OwnedNamedType) -> bool {
    use postcard_schema::schema::owned::{OwnedDataModelType as T, OwnedDataModelVariant as V};
    if schema.name == wf_abi::FILE_SCHEMA_NAME {
        return true;
    }
    match &schema.ty {
        T::Option(inner) | T::NewtypeStruct(inner) | T::Seq(inner) => mentions_file(inner),
        T::Tuple(items) | T::TupleStruct(items) => items.iter().any(mentions_file),
        T::Map { key, val } => mentions_file(key) || mentions_file(val),
        T::Struct(fields) => fields.iter().any(|f| mentions_file(&f.ty)),
        T::Enum(variants) => variants.iter().any(|v| match &v.ty {
            V::UnitVariant => false,
            V::NewtypeVariant(inner) => mentions_file(inner),
            V::TupleVariant(items) => items.iter().any(mentions_file),
            V::StructVariant(fields) => fields.iter().any(|f| mentions_file(&f.ty)),
        }),
        _ => false,
    }
}
