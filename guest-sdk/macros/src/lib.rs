//! The `#[app]` and `#[workflow]` attributes of the wf guest SDK. Use them through `wf-guest`
//! (`use wf_guest::prelude::*;`), whose docs describe what they generate; the generated code
//! refers to `::wf_guest`.
//!
//! Both write only a thin shim: argument decoding, result encoding, descriptors and the export
//! bodies are generic functions in `wf_guest::__private`. Misuse is reported as a compile error
//! spanned on the offending tokens, never as a panic.
#![deny(missing_docs)]

use proc_macro::TokenStream;

mod app;
mod signature;
mod type_name;
mod workflow;

/// Turns a function into an app of the module.
///
/// ```ignore
/// #[app]
/// fn slow_double(x: i64) -> i64 { x * 2 }
///
/// #[app(cache = false)]
/// fn now_ish(x: u64) -> Result<u64, String> { Ok(x) }
/// ```
///
/// The function's name becomes a value with `.call(..)` (run it directly), `.submit(..)` (make it
/// a task, returning a `Future`) and `.descriptor()`. On `wasm32` it also exports
/// `wf_app_NAME` and `wf_describe_NAME`.
#[proc_macro_attribute]
pub fn app(attr: TokenStream, item: TokenStream) -> TokenStream {
    app::expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Marks a function the host can run as a workflow; on `wasm32` it exports
/// `wf_workflow_NAME`. The function is kept as is, so it can be called natively in a test.
///
/// ```ignore
/// #[workflow]
/// fn main() -> Result<()> { Ok(()) }
/// ```
#[proc_macro_attribute]
pub fn workflow(attr: TokenStream, item: TokenStream) -> TokenStream {
    workflow::expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
