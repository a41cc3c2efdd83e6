//! Where a submitted task goes: to the host in a wasm module, straight into the app natively.

use crate::app::App;
use crate::arg::Arg;
use crate::{Error, Future};

/// Submits a task of app `A` with its arguments, in parameter order.
///
/// An argument that could not be made (a failed dependency, a value that cannot be encoded) fails
/// the new future at once, without bothering the host.
pub fn submit<A: App>(args: Vec<Arg>) -> Future<A::Output> {
    let mut specs = Vec::with_capacity(args.len());
    for arg in args {
        match arg.spec {
            Ok(spec) => specs.push(spec),
            Err(error) => return Future::failed(A::NAME, error),
        }
    }
    submit_specs::<A>(specs)
}

/// In a module: a `SubmitRequest` to the host, which answers the future's id.
#[cfg(target_arch = "wasm32")]
fn submit_specs<A: App>(args: Vec<wf_abi::ArgSpec>) -> Future<A::Output> {
    let request = wf_abi::SubmitRequest {
        app: A::NAME.to_owned(),
        args,
        files: crate::file::take_named(),
    };
    let bytes = match postcard::to_allocvec(&request) {
        Ok(bytes) => bytes,
        Err(e) => {
            return Future::failed(
                A::NAME,
                Error::msg(format!("the submission could not be encoded: {e}")),
            );
        }
    };
    match crate::host::submit(&bytes) {
        Ok(id) => Future::submitted(A::NAME, id),
        Err(reason) => Future::failed(
            A::NAME,
            Error::msg(format!("the host refused the submission: {reason}")),
        ),
    }
}

/// Natively: run the app now, through the same encode/decode path as in a module, and hand back
/// a settled future. A panic becomes the task's failure, as it would in a module.
#[cfg(not(target_arch = "wasm32"))]
fn submit_specs<A: App>(args: Vec<wf_abi::ArgSpec>) -> Future<A::Output> {
    use wf_abi::{ArgSpec, STATUS_OK};

    let mut values = Vec::with_capacity(args.len());
    for arg in &args {
        match arg {
            ArgSpec::Value(bytes) => values.push(bytes.as_slice()),
            // Natively futures are always settled, so they arrive as values.
            ArgSpec::Future(_) | ArgSpec::Futures(_) => {
                return Future::failed(
                    A::NAME,
                    Error::msg("a future id outside a wasm module (this is a wf-guest bug)"),
                );
            }
        }
    }
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::app::run_call::<A>(&values)
    }));
    match outcome {
        Ok(answer) if answer.status == STATUS_OK => Future::done(A::NAME, answer.output),
        Ok(answer) => Future::failed(A::NAME, Error::msg(answer.message_text())),
        Err(payload) => Future::failed(
            A::NAME,
            Error::msg(format!("panicked: {}", panic_text(payload.as_ref()))),
        ),
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text
    } else {
        "a non-string panic payload"
    }
}

/// Asks the host to checkpoint now (Parsl's `dfk.checkpoint()`, a COMPSs snapshot) and returns
/// how many records it wrote.
///
/// Natively there is nothing to checkpoint: it returns 0.
pub fn checkpoint() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        crate::host::checkpoint()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}
