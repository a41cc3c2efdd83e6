//! The generic bodies of the exports `#[app]` and `#[workflow]` generate (wasm only), and the
//! panic hook that turns a panic into a task failure carrying its message.
//!
//! Everything here runs once per call in a fresh instance: decode, run, answer through the
//! `output` import, return the status.
#![allow(unsafe_code)]

use std::panic::PanicHookInfo;
use std::sync::Once;

use wf_abi::{CallInput, STATUS_APP_ERROR, STATUS_BAD_INPUT, STATUS_OK};

use crate::app::{Answer, App, run_call};
use crate::host;
use crate::workflow::WorkflowOutcome;

/// The body of `wf_app_NAME(ptr, len)`: decode the `CallInput`, run the app, answer.
///
/// # Safety
/// `ptr` and `len` must be what the host passed to the export: `len` bytes it wrote into a buffer
/// from `wf_alloc`.
pub unsafe fn export_app<A: App>(ptr: *const u8, len: i32) -> i32 {
    install_panic_hook();
    let Ok(len) = usize::try_from(len) else {
        return send(&bad_input(format_args!("negative input length {len}")));
    };
    // SAFETY: forwarded from this function's contract.
    let bytes = unsafe { host::input(ptr, len) };
    let answer = match postcard::from_bytes::<CallInput<'_>>(bytes) {
        Ok(input) => run_call::<A>(&input.args),
        Err(e) => bad_input(format_args!("the call input is not a CallInput: {e}")),
    };
    send(&answer)
}

/// The body of `wf_describe_NAME()`: send the app's descriptor.
pub fn export_describe<A: App>() {
    install_panic_hook();
    let descriptor = crate::app::descriptor::<A>();
    let bytes = postcard::to_allocvec(&descriptor)
        .expect("a descriptor is made of strings, vectors and bools, which always encode");
    host::output(&bytes);
}

/// The body of `wf_workflow_NAME()`: run the workflow, report its error if it fails.
pub fn export_workflow<R: WorkflowOutcome>(workflow: fn() -> R) -> i32 {
    install_panic_hook();
    match workflow().into_outcome() {
        Ok(()) => STATUS_OK,
        Err(message) => {
            host::output(message.as_bytes());
            STATUS_APP_ERROR
        }
    }
}

fn bad_input(message: std::fmt::Arguments<'_>) -> Answer {
    Answer {
        status: STATUS_BAD_INPUT,
        output: message.to_string().into_bytes(),
    }
}

fn send(answer: &Answer) -> i32 {
    host::output(&answer.output);
    answer.status
}

/// Sends every panic's message and location to the host before the default hook prints it and
/// the module traps (wasm32-wasip1 aborts on panic).
fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            host::panic(&panic_message(info));
            previous(info);
        }));
    });
}

fn panic_message(info: &PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let text = if let Some(text) = payload.downcast_ref::<&str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.as_str()
    } else {
        "a non-string panic payload"
    };
    match info.location() {
        Some(at) => format!("{text} (at {}:{}:{})", at.file(), at.line(), at.column()),
        None => text.to_owned(),
    }
}
