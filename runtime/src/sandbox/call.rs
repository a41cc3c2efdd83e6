//! Running one task: a fresh instance per call, limits armed, output captured.

use wasmtime::{Extern, ModuleExport, Store};
use wf_abi::{
    APP_EXPORT_PREFIX, CallInput, EXPORT_ALLOC, STATUS_APP_ERROR, STATUS_BAD_INPUT, STATUS_OK,
    WORKFLOW_EXPORT_PREFIX,
};

use super::engine::EPOCH_TICK;
use super::failure::{FailureKind, TaskFailure, classify, instantiation_message};
use super::host::{TaskState, WorkflowHost};
use super::loader::{LoadedModule, Sandbox, initialize};
use super::wasi::{LazyWasi, Preopen, Stdio};
use crate::key::TaskKey;

/// What one execution of a task produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRun {
    /// The result's postcard bytes, or why the task failed.
    pub outcome: Result<Vec<u8>, TaskFailure>,
    /// What the guest printed on stdout.
    pub stdout: Vec<u8>,
    /// What the guest printed on stderr.
    pub stderr: Vec<u8>,
    /// Fuel consumed, when fuel is metered.
    pub fuel_used: Option<u64>,
}

impl Sandbox {
    /// Runs `app` of `module` with the postcard-encoded `args` in a fresh instance. `key` seeds the
    /// guest's randomness. Never panics on anything the guest does.
    pub fn call(&self, module: &LoadedModule, app: &str, args: &[&[u8]], key: &TaskKey) -> TaskRun {
        self.call_with(module, app, args, key, &[])
    }

    /// Like [`call`](Self::call), with host directories the task sees (its input and output
    /// files).
    pub fn call_with(
        &self,
        module: &LoadedModule,
        app: &str,
        args: &[&[u8]],
        key: &TaskKey,
        preopens: &[Preopen],
    ) -> TaskRun {
        if module.app(app).is_none() {
            return TaskRun {
                outcome: Err(TaskFailure::new(
                    FailureKind::BadInput,
                    format!("the module has no app `{app}`"),
                )),
                stdout: Vec::new(),
                stderr: Vec::new(),
                fuel_used: None,
            };
        }
        let limits = self.limits();
        let wasi = if preopens.is_empty() {
            LazyWasi::new(*key, Stdio::Capture)
        } else {
            match LazyWasi::with_preopens(*key, Stdio::Capture, preopens) {
                Ok(wasi) => wasi,
                Err(message) => return TaskRun::infrastructure(message),
            }
        };
        let mut store = Store::new(
            &self.handle.engine,
            TaskState::new(wasi, limits.memory_bytes),
        );
        store.limiter(|state| &mut state.ceiling);
        if let Some(fuel) = limits.fuel
            && let Err(e) = store.set_fuel(fuel)
        {
            return TaskRun::infrastructure(format!("could not set fuel: {e:#}"));
        }
        if let Some(timeout) = limits.timeout {
            let ticks = timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos()) as u64 + 1;
            store.set_epoch_deadline(ticks);
        }

        let outcome = run_app(module, app, args, &mut store);
        let fuel_used = limits
            .fuel
            .and_then(|fuel| store.get_fuel().ok().map(|left| fuel - left));
        let state = store.into_data();
        let outcome = match outcome {
            Ok(status) => interpret_status(status, state.output, app),
            Err(Instantiation(e)) => {
                if let Some(requested) = state.ceiling.denied {
                    Err(TaskFailure::new(
                        FailureKind::MemoryLimit,
                        format!(
                            "the module needs {} MiB of memory at start, past the ceiling of {} MiB",
                            requested >> 20,
                            limits.memory_bytes >> 20
                        ),
                    ))
                } else {
                    Err(TaskFailure::new(
                        FailureKind::Infrastructure,
                        format!(
                            "could not instantiate: {}",
                            instantiation_message(&e, self.handle.settings.max_instances)
                        ),
                    ))
                }
            }
            Err(Execution(e)) => {
                let mut evidence = state.evidence;
                evidence.memory_denied = state.ceiling.denied;
                Err(classify(&e, &evidence, limits.in_force()))
            }
        };
        let (stdout, stderr) = state.wasi.into_output();
        TaskRun {
            outcome,
            stdout,
            stderr,
            fuel_used,
        }
    }
}

impl Sandbox {
    /// Runs workflow `entry` of `module` in its own instance; its requests go to `host`, its
    /// stdout and stderr to the user's terminal. Returns when the workflow function returns.
    pub fn run_workflow(
        &self,
        module: &LoadedModule,
        entry: &str,
        host: Box<dyn WorkflowHost>,
    ) -> Result<(), TaskFailure> {
        if !module.workflows().iter().any(|w| w == entry) {
            return Err(TaskFailure::new(
                FailureKind::BadInput,
                format!("the module has no workflow `{entry}`"),
            ));
        }
        let limits = self.limits();
        // A workflow's randomness is seeded by what it is: its module and entry.
        let seed = TaskKey(
            *blake3::Hasher::new_derive_key("wf 2026 workflow seed")
                .update(&module.digest().0)
                .update(entry.as_bytes())
                .finalize()
                .as_bytes(),
        );
        let mut state = TaskState::new(LazyWasi::new(seed, Stdio::Inherit), limits.memory_bytes);
        state.workflow = Some(host);
        let mut store = Store::new(&self.handle.engine, state);
        store.limiter(|state| &mut state.ceiling);
        // Limits are per task; the workflow itself mostly waits on its tasks.
        if limits.fuel.is_some() {
            let _ = store.set_fuel(u64::MAX);
        }
        if limits.timeout.is_some() {
            store.set_epoch_deadline(u64::MAX / 4);
        }
        let outcome = (|| {
            let instance = module
                .0
                .pre
                .instantiate(&mut store)
                .map_err(Instantiation)?;
            initialize(&instance, &mut store).map_err(Execution)?;
            let export = format!("{WORKFLOW_EXPORT_PREFIX}{entry}");
            let func = instance
                .get_typed_func::<(), i32>(&mut store, &export)
                .map_err(Instantiation)?;
            func.call(&mut store, ()).map_err(Execution)
        })();
        let state = store.into_data();
        match outcome {
            Ok(STATUS_OK) => Ok(()),
            Ok(_) => Err(TaskFailure::new(
                FailureKind::AppError,
                String::from_utf8_lossy(&state.output.unwrap_or_default()).into_owned(),
            )),
            Err(Instantiation(e)) => Err(TaskFailure::new(
                FailureKind::Infrastructure,
                format!(
                    "could not start the workflow: {}",
                    instantiation_message(&e, self.handle.settings.max_instances)
                ),
            )),
            Err(Execution(e)) => {
                let mut evidence = state.evidence;
                evidence.memory_denied = state.ceiling.denied;
                Err(classify(&e, &evidence, limits.in_force()))
            }
        }
    }
}

enum CallError {
    Instantiation(wasmtime::Error),
    Execution(wasmtime::Error),
}
use CallError::{Execution, Instantiation};

fn run_app(
    module: &LoadedModule,
    app: &str,
    args: &[&[u8]],
    store: &mut Store<TaskState>,
) -> Result<i32, CallError> {
    let exports = &module.0.exports;
    let instance = module
        .0
        .pre
        .instantiate(&mut *store)
        .map_err(Instantiation)?;
    let export = |store: &mut Store<TaskState>, handle: Option<&ModuleExport>| {
        handle.and_then(|handle| instance.get_module_export(&mut *store, handle))
    };
    if let Some(init) = export(store, exports.initialize.as_ref()).and_then(Extern::into_func) {
        init.typed::<(), ()>(&*store)
            .and_then(|init| init.call(&mut *store, ()))
            .map_err(Execution)?;
    }
    let input = postcard::to_allocvec(&CallInput {
        args: args.to_vec(),
    })
    .map_err(|e| Instantiation(wasmtime::format_err!("encoding the call: {e}")))?;
    let alloc = export(store, exports.alloc.as_ref())
        .and_then(Extern::into_func)
        .ok_or_else(|| {
            Instantiation(wasmtime::format_err!(
                "the module exports no function `{EXPORT_ALLOC}`"
            ))
        })?
        .typed::<i32, i32>(&*store)
        .map_err(Instantiation)?;
    let len = i32::try_from(input.len()).map_err(|_| {
        Instantiation(wasmtime::format_err!(
            "arguments of {} bytes exceed 2 GiB",
            input.len()
        ))
    })?;
    let ptr = alloc.call(&mut *store, len).map_err(Execution)?;
    let memory = export(store, exports.memory.as_ref())
        .and_then(Extern::into_memory)
        .ok_or_else(|| Instantiation(wasmtime::format_err!("the module exports no memory")))?;
    memory
        .write(&mut *store, ptr as u32 as usize, &input)
        .map_err(|_| {
            Execution(wasmtime::format_err!(
                "`{EXPORT_ALLOC}` returned a buffer outside memory"
            ))
        })?;
    let func = export(store, exports.apps.get(app))
        .and_then(Extern::into_func)
        .ok_or_else(|| {
            Instantiation(wasmtime::format_err!(
                "the module exports no function `{APP_EXPORT_PREFIX}{app}`"
            ))
        })?
        .typed::<(i32, i32), i32>(&*store)
        .map_err(Instantiation)?;
    func.call(&mut *store, (ptr, len)).map_err(Execution)
}

fn interpret_status(
    status: i32,
    output: Option<Vec<u8>>,
    app: &str,
) -> Result<Vec<u8>, TaskFailure> {
    let text =
        |bytes: Option<Vec<u8>>| String::from_utf8_lossy(&bytes.unwrap_or_default()).into_owned();
    match status {
        STATUS_OK => output.ok_or_else(|| {
            TaskFailure::new(
                FailureKind::Trap,
                format!("app `{app}` returned without a result"),
            )
        }),
        STATUS_APP_ERROR => Err(TaskFailure::new(FailureKind::AppError, text(output))),
        STATUS_BAD_INPUT => Err(TaskFailure::new(FailureKind::BadInput, text(output))),
        other => Err(TaskFailure::new(
            FailureKind::Trap,
            format!("app `{app}` returned the unknown status {other}"),
        )),
    }
}

impl TaskRun {
    /// A run that failed before the guest could start, for a reason outside it.
    pub(crate) fn infrastructure(message: String) -> TaskRun {
        TaskRun {
            outcome: Err(TaskFailure::new(FailureKind::Infrastructure, message)),
            stdout: Vec::new(),
            stderr: Vec::new(),
            fuel_used: None,
        }
    }
}
