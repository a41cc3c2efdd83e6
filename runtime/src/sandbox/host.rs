//! The state a guest's store carries and the `wf` host functions it may import (wf-abi).

use wasmtime::{Caller, Linker, Memory, ResourceLimiter};
use wf_abi::{
    IMPORT_CHECKPOINT, IMPORT_INPUT_FILE, IMPORT_MODULE, IMPORT_OUTPUT, IMPORT_PANIC,
    IMPORT_SUBMIT, IMPORT_TAKE, IMPORT_TAKE_LEN, IMPORT_WAIT, STATUS_APP_ERROR, STATUS_OK,
    SubmitRequest,
};

use super::failure::CallEvidence;
use super::wasi::LazyWasi;

/// The most bytes a guest may hand the host in one message (an output, a panic, a submit).
const MAX_MESSAGE: usize = 1 << 30;

/// What a running workflow asks of the engine. Implemented by the executor; the sandbox only
/// forwards the guest's calls.
pub trait WorkflowHost: Send {
    /// Submits a task; answers its future id, or why the request was refused.
    fn submit(&mut self, request: SubmitRequest) -> Result<u64, String>;
    /// Blocks until the future resolves: its value's postcard bytes or the failure message.
    fn wait(&mut self, future: u64) -> Result<Vec<u8>, String>;
    /// Asks for a checkpoint now; answers how many records were written.
    fn checkpoint(&mut self) -> u64;
    /// Resolves an input file named by the workflow: its content digest and length.
    fn input_file(&mut self, name: &str) -> Result<wf_abi::FileRef, String>;
}

/// Denies memory growth past the ceiling and remembers that it did.
pub(crate) struct MemoryCeiling {
    pub limit: u64,
    pub denied: Option<u64>,
}

impl ResourceLimiter for MemoryCeiling {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.limit {
            self.denied = Some(desired as u64);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 10_000_000)
    }
}

/// Everything one guest instance's store holds.
pub(crate) struct TaskState {
    pub wasi: LazyWasi,
    pub ceiling: MemoryCeiling,
    pub evidence: CallEvidence,
    /// The answer the guest sent through `wf.output`.
    pub output: Option<Vec<u8>>,
    /// The message the last host call left for the guest to `take`.
    pub mailbox: Vec<u8>,
    /// Present only in a workflow's instance.
    pub workflow: Option<Box<dyn WorkflowHost>>,
    /// The instance's exported memory, found on the first host call that needs it (a workflow
    /// makes several host calls per task).
    memory: Option<Memory>,
}

impl TaskState {
    pub fn new(wasi: LazyWasi, memory_limit: u64) -> Self {
        TaskState {
            wasi,
            ceiling: MemoryCeiling {
                limit: memory_limit,
                denied: None,
            },
            evidence: CallEvidence::default(),
            output: None,
            mailbox: Vec::new(),
            workflow: None,
            memory: None,
        }
    }
}

/// The guest's exported memory (looked up by name once per instance).
fn guest_memory(caller: &mut Caller<'_, TaskState>) -> wasmtime::Result<Memory> {
    if let Some(memory) = caller.data().memory {
        return Ok(memory);
    }
    let memory = caller
        .get_export("memory")
        .and_then(|e| e.into_memory())
        .ok_or_else(|| wasmtime::format_err!("the module exports no memory"))?;
    caller.data_mut().memory = Some(memory);
    Ok(memory)
}

/// Hands `f` the `len` bytes the guest points at with `ptr`, in place.
fn with_guest_bytes<T>(
    caller: &mut Caller<'_, TaskState>,
    ptr: i32,
    len: i32,
    f: impl FnOnce(&[u8]) -> T,
) -> wasmtime::Result<T> {
    let memory = guest_memory(caller)?;
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    if len > MAX_MESSAGE {
        wasmtime::bail!("the guest sent a message of {len} bytes, over the limit of {MAX_MESSAGE}");
    }
    memory
        .data(&caller)
        .get(start..start.saturating_add(len))
        .map(f)
        .ok_or_else(|| {
            wasmtime::format_err!("the guest pointed outside its memory ({start}+{len})")
        })
}

fn read_guest(caller: &mut Caller<'_, TaskState>, ptr: i32, len: i32) -> wasmtime::Result<Vec<u8>> {
    with_guest_bytes(caller, ptr, len, <[u8]>::to_vec)
}

fn refuse(caller: &mut Caller<'_, TaskState>, what: &str) -> wasmtime::Error {
    let message = format!("`{what}` is only available to a workflow, not inside an app");
    caller.data_mut().evidence.host_refusal = Some(message.clone());
    wasmtime::format_err!(message)
}

pub(crate) fn add_host_functions(linker: &mut Linker<TaskState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        IMPORT_MODULE,
        IMPORT_OUTPUT,
        |mut caller: Caller<'_, TaskState>, ptr: i32, len: i32| -> wasmtime::Result<()> {
            let bytes = read_guest(&mut caller, ptr, len)?;
            caller.data_mut().output = Some(bytes);
            Ok(())
        },
    )?;
    linker.func_wrap(
        IMPORT_MODULE,
        IMPORT_PANIC,
        |mut caller: Caller<'_, TaskState>, ptr: i32, len: i32| -> wasmtime::Result<()> {
            let bytes = read_guest(&mut caller, ptr, len)?;
            caller.data_mut().evidence.panic = Some(String::from_utf8_lossy(&bytes).into_owned());
            Ok(())
        },
    )?;
    linker.func_wrap(
        IMPORT_MODULE,
        IMPORT_SUBMIT,
        |mut caller: Caller<'_, TaskState>, ptr: i32, len: i32| -> wasmtime::Result<i64> {
            // Decoded straight from guest memory: no copy of the request.
            let request = with_guest_bytes(&mut caller, ptr, len, |bytes| {
                postcard::from_bytes::<SubmitRequest>(bytes)
            })?;
            let state = caller.data_mut();
            let Some(host) = state.workflow.as_mut() else {
                return Err(refuse(&mut caller, "submit"));
            };
            let answer = match request {
                Ok(request) => host.submit(request),
                Err(e) => Err(format!("malformed submit request: {e}")),
            };
            match answer {
                Ok(id) => Ok(id as i64),
                Err(message) => {
                    state.mailbox = message.into_bytes();
                    Ok(-1)
                }
            }
        },
    )?;
    linker.func_wrap(
        IMPORT_MODULE,
        IMPORT_WAIT,
        |mut caller: Caller<'_, TaskState>, future: i64| -> wasmtime::Result<i32> {
            let state = caller.data_mut();
            let Some(host) = state.workflow.as_mut() else {
                return Err(refuse(&mut caller, "Future::get"));
            };
            let (status, message) = match host.wait(future as u64) {
                Ok(bytes) => (STATUS_OK, bytes),
                Err(message) => (STATUS_APP_ERROR, message.into_bytes()),
            };
            state.mailbox = message;
            Ok(status)
        },
    )?;
    linker.func_wrap(
        IMPORT_MODULE,
        IMPORT_TAKE_LEN,
        |caller: Caller<'_, TaskState>| -> i32 { caller.data().mailbox.len() as i32 },
    )?;
    linker.func_wrap(
        IMPORT_MODULE,
        IMPORT_TAKE,
        |mut caller: Caller<'_, TaskState>, ptr: i32| -> wasmtime::Result<()> {
            let message = std::mem::take(&mut caller.data_mut().mailbox);
            let memory = guest_memory(&mut caller)?;
            memory
                .write(&mut caller, ptr as u32 as usize, &message)
                .map_err(|_| wasmtime::format_err!("the guest pointed outside its memory"))
        },
    )?;
    linker.func_wrap(
        IMPORT_MODULE,
        IMPORT_CHECKPOINT,
        |mut caller: Caller<'_, TaskState>| -> wasmtime::Result<i64> {
            let Some(host) = caller.data_mut().workflow.as_mut() else {
                return Err(refuse(&mut caller, "checkpoint"));
            };
            Ok(host.checkpoint() as i64)
        },
    )?;
    linker.func_wrap(
        IMPORT_MODULE,
        IMPORT_INPUT_FILE,
        |mut caller: Caller<'_, TaskState>, ptr: i32, len: i32| -> wasmtime::Result<i64> {
            let bytes = read_guest(&mut caller, ptr, len)?;
            let state = caller.data_mut();
            let Some(host) = state.workflow.as_mut() else {
                return Err(refuse(&mut caller, "File::input"));
            };
            let answer = match std::str::from_utf8(&bytes) {
                Ok(name) => host.input_file(name),
                Err(_) => Err("an input file name must be UTF-8".to_owned()),
            };
            let (status, message) = match answer.map(|file| postcard::to_allocvec(&file)) {
                Ok(Ok(encoded)) => (0, encoded),
                Ok(Err(e)) => (-1, e.to_string().into_bytes()),
                Err(message) => (-1, message.into_bytes()),
            };
            state.mailbox = message;
            Ok(status)
        },
    )?;
    Ok(())
}
