//! The FFI shims: the `wf` imports behind safe wrappers, and the module-wide exports
//! `wf_abi_version` and `wf_alloc`. This is the only module of the crate with `unsafe` code, and it
//! exists only on wasm32.
//!
//! Architecture Invariant: every other module talks to the host through the safe functions here.
#![allow(unsafe_code)]

use wf_abi::{ABI_VERSION, STATUS_OK};

#[link(wasm_import_module = "wf")]
unsafe extern "C" {
    #[link_name = "output"]
    fn wf_output(ptr: *const u8, len: usize);
    #[link_name = "panic"]
    fn wf_panic(ptr: *const u8, len: usize);
    #[link_name = "submit"]
    fn wf_submit(ptr: *const u8, len: usize) -> i64;
    #[link_name = "wait"]
    fn wf_wait(future: i64) -> i32;
    #[link_name = "take_len"]
    fn wf_take_len() -> i32;
    #[link_name = "take"]
    fn wf_take(ptr: *mut u8);
    #[link_name = "checkpoint"]
    fn wf_checkpoint() -> i64;
    #[link_name = "input_file"]
    fn wf_input_file(ptr: *const u8, len: usize) -> i64;
}

/// Export `wf_abi_version`: the contract this module was built against.
#[unsafe(export_name = "wf_abi_version")]
pub extern "C" fn wf_abi_version() -> i32 {
    const { assert!(ABI_VERSION <= i32::MAX as u32) };
    ABI_VERSION as i32
}

/// Export `wf_alloc`: `len` bytes for the host to write a call's input into.
///
/// The buffer is never freed: every task runs in a fresh instance, so it lives exactly as long
/// as the call it carries. A negative length answers a null pointer.
#[unsafe(export_name = "wf_alloc")]
pub extern "C" fn wf_alloc(len: i32) -> *mut u8 {
    match usize::try_from(len) {
        Ok(len) => Box::leak(vec![0u8; len].into_boxed_slice()).as_mut_ptr(),
        Err(_) => std::ptr::null_mut(),
    }
}

/// The `len` bytes at `ptr` that the host wrote for this call.
///
/// # Safety
/// `ptr` must point to `len` initialized bytes that stay untouched for `'a`: the ABI has the host
/// write the call input into a buffer from [`wf_alloc`], which is never freed nor reused.
pub(crate) unsafe fn input<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if len == 0 || ptr.is_null() {
        return &[];
    }
    // SAFETY: the caller guarantees `ptr..ptr+len` is initialized and left alone for 'a.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}

/// Hands the answer of the current call to the host.
pub(crate) fn output(bytes: &[u8]) {
    // SAFETY: the host only reads `len` bytes at `ptr`, which is a live borrowed slice.
    unsafe { wf_output(bytes.as_ptr(), bytes.len()) }
}

/// Tells the host why the guest is about to trap.
pub(crate) fn panic(message: &str) {
    // SAFETY: as for `output`: a live slice the host only reads.
    unsafe { wf_panic(message.as_ptr(), message.len()) }
}

/// Submits a postcard `SubmitRequest`; the future's id, or the host's reason for refusing.
pub(crate) fn submit(request: &[u8]) -> Result<u64, String> {
    // SAFETY: as for `output`: a live slice the host only reads.
    let id = unsafe { wf_submit(request.as_ptr(), request.len()) };
    u64::try_from(id).map_err(|_| String::from_utf8_lossy(&take()).into_owned())
}

/// Blocks until the future resolves: its result bytes, or the host's message saying why it failed.
pub(crate) fn wait(future: u64) -> Result<Vec<u8>, String> {
    let Ok(id) = i64::try_from(future) else {
        return Err(format!("future id {future} is out of range"));
    };
    // SAFETY: a plain value call; the host keeps the answer for `take`.
    let status = unsafe { wf_wait(id) };
    let message = take();
    if status == STATUS_OK {
        Ok(message)
    } else {
        Err(String::from_utf8_lossy(&message).into_owned())
    }
}

/// Asks for a checkpoint now; the number of records written.
pub(crate) fn checkpoint() -> u64 {
    // SAFETY: a plain value call.
    let written = unsafe { wf_checkpoint() };
    u64::try_from(written).unwrap_or(0)
}

/// Asks the host for the input file `name`: the postcard `FileRef`, or why there is none.
pub(crate) fn input_file(name: &str) -> Result<Vec<u8>, String> {
    // SAFETY: as for `output`: a live slice the host only reads.
    let status = unsafe { wf_input_file(name.as_ptr(), name.len()) };
    let message = take();
    if status == 0 {
        Ok(message)
    } else {
        Err(String::from_utf8_lossy(&message).into_owned())
    }
}

/// The message the last host call left for the guest.
fn take() -> Vec<u8> {
    // SAFETY: a plain value call.
    let len = unsafe { wf_take_len() };
    let mut buffer = vec![0u8; usize::try_from(len).unwrap_or(0)];
    if !buffer.is_empty() {
        // SAFETY: the host writes exactly `take_len()` bytes, the length of `buffer`.
        unsafe { wf_take(buffer.as_mut_ptr()) }
    }
    buffer
}
