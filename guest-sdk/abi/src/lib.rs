//! The wire contract between the wf host (`wf-runtime`) and guest modules built with `wf-guest`.
//!
//! Both sides depend on this crate, so the export names, import names, status codes and the
//! postcard-encoded messages below are defined exactly once. Anything that changes how a host and
//! a guest talk bumps [`ABI_VERSION`]; a host meeting a module of another version refuses it with a
//! message naming both versions.
//!
//! # The protocol
//!
//! A module built with the SDK exports:
//! - `memory`, its linear memory;
//! - [`EXPORT_ABI_VERSION`]`() -> i32`, the ABI version the module was built against;
//! - [`EXPORT_ALLOC`]`(len: i32) -> i32`, a buffer of `len` bytes the host may write into;
//! - for every app `NAME`: [`APP_EXPORT_PREFIX`]`NAME(ptr: i32, len: i32) -> i32` and
//!   [`DESCRIBE_EXPORT_PREFIX`]`NAME()`;
//! - for every workflow `NAME`: [`WORKFLOW_EXPORT_PREFIX`]`NAME() -> i32`.
//!
//! To call an app the host allocates a buffer with `wf_alloc`, writes a postcard-encoded
//! [`CallInput`] into it and calls the app's export. The guest decodes every argument, runs the
//! function, and hands its answer back through the import [`IMPORT_OUTPUT`] (module
//! [`IMPORT_MODULE`]) before it returns a status: [`STATUS_OK`] (the output is the postcard
//! encoding of the result), [`STATUS_APP_ERROR`] (the output is the UTF-8 error message) or
//! [`STATUS_BAD_INPUT`] (the output says which argument could not be decoded). A panic reports
//! its message through [`IMPORT_PANIC`] and then traps.
//!
//! A describe export answers through [`IMPORT_OUTPUT`] with a postcard-encoded
//! [`AppDescriptor`]. Workflows need no descriptor: the export name says it all.
//!
//! A workflow talks to the host through the workflow imports ([`IMPORT_SUBMIT`],
//! [`IMPORT_WAIT`], [`IMPORT_CHECKPOINT`]); see their docs.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use postcard_schema::schema::owned::OwnedNamedType;
use serde::{Deserialize, Serialize};

/// The version of this contract. A host runs only modules built against the same version.
pub const ABI_VERSION: u32 = 2;

/// Export: `() -> i32`, the module's [`ABI_VERSION`].
pub const EXPORT_ABI_VERSION: &str = "wf_abi_version";
/// Export: `(len: i32) -> i32`, a pointer to `len` writable bytes owned by the guest.
pub const EXPORT_ALLOC: &str = "wf_alloc";
/// Prefix of an app's export: `(ptr: i32, len: i32) -> i32` (a status code).
pub const APP_EXPORT_PREFIX: &str = "wf_app_";
/// Prefix of an app's describe export: `()`, answers an [`AppDescriptor`] through the output import.
pub const DESCRIBE_EXPORT_PREFIX: &str = "wf_describe_";
/// Prefix of a workflow's export: `() -> i32` (a status code; on [`STATUS_APP_ERROR`] the
/// output is the workflow's error message).
pub const WORKFLOW_EXPORT_PREFIX: &str = "wf_workflow_";

/// The import module every host function lives in.
pub const IMPORT_MODULE: &str = "wf";
/// Import: `(ptr: i32, len: i32)`, the answer of the current call (result, error or descriptor).
pub const IMPORT_OUTPUT: &str = "output";
/// Import: `(ptr: i32, len: i32)`, a panic message, sent just before the guest traps.
pub const IMPORT_PANIC: &str = "panic";
/// Workflow import: `(ptr: i32, len: i32) -> i64`. The input is a postcard [`SubmitRequest`];
/// the answer is the new future's id (non-negative), or -1 when the request is refused, with the
/// reason left for [`IMPORT_TAKE`].
pub const IMPORT_SUBMIT: &str = "submit";
/// Workflow import: `(future: i64) -> i32`. Blocks until the future resolves. Returns
/// [`STATUS_OK`] or [`STATUS_APP_ERROR`]; the value (postcard bytes) or the error message is then
/// fetched with [`IMPORT_TAKE`].
pub const IMPORT_WAIT: &str = "wait";
/// Workflow import: `() -> i32`, the length of the message the last host call left for the guest.
pub const IMPORT_TAKE_LEN: &str = "take_len";
/// Workflow import: `(ptr: i32)`, copies the message the last host call left into guest memory
/// (exactly [`IMPORT_TAKE_LEN`] bytes).
pub const IMPORT_TAKE: &str = "take";
/// Workflow import: `() -> i64`, asks for a checkpoint now; answers how many records it wrote.
pub const IMPORT_CHECKPOINT: &str = "checkpoint";
/// Workflow import: `(ptr: i32, len: i32) -> i64`. The input is the UTF-8 name of an input file,
/// relative to one of the directories the user granted. Answers 0 and leaves the postcard
/// [`FileRef`] for [`IMPORT_TAKE`], or -1 and leaves the reason.
pub const IMPORT_INPUT_FILE: &str = "input_file";

/// Where an app finds its input files: `GUEST_INPUT_DIR/<digest hex>`, read-only. Only the files
/// its arguments name are there.
pub const GUEST_INPUT_DIR: &str = "/wf/in";
/// Where an app writes its output files (flat names); the host stores them by content digest.
pub const GUEST_OUTPUT_DIR: &str = "/wf/out";
/// The name of the file type's postcard schema, by which the host recognizes apps that take or
/// produce files.
pub const FILE_SCHEMA_NAME: &str = "wf_guest::File";

/// A file by content: what a `wf_guest::File` is on the wire. Its name is not part of it, so a
/// renamed or moved file is the same argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileRef {
    /// blake3 of the content.
    pub digest: [u8; 32],
    /// Length in bytes.
    pub len: u64,
}

/// The call finished and its output is the postcard encoding of the result.
pub const STATUS_OK: i32 = 0;
/// The app returned `Err`: its output is the error message in UTF-8.
pub const STATUS_APP_ERROR: i32 = 1;
/// An argument could not be decoded as its parameter's type: the output says which one.
pub const STATUS_BAD_INPUT: i32 = 2;

/// What the host writes into guest memory to call an app: one postcard-encoded value per
/// parameter, in order. Arguments are kept apart so each has its own digest in the task key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallInput<'a> {
    /// The postcard encoding of each argument.
    #[serde(borrow)]
    pub args: Vec<&'a [u8]>,
}

/// One argument of a submitted task, as the workflow hands it to the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArgSpec {
    /// A concrete value: its postcard encoding.
    Value(Vec<u8>),
    /// The result of another task: its future id.
    Future(u64),
    /// A `Vec<T>` made of the results of several tasks (fan-in), in order.
    Futures(Vec<u64>),
}

/// A workflow's request to run an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitRequest {
    /// The app's name, as in its [`AppDescriptor`].
    pub app: String,
    /// One entry per parameter.
    pub args: Vec<ArgSpec>,
    /// The digests of the files the argument values name (files that arrive inside a future's
    /// result are known to the host already).
    pub files: Vec<[u8; 32]>,
}

/// The description of one type: how it reads in Rust and its postcard schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeDescriptor {
    /// The type as written in the source, e.g. `Vec<i64>`.
    pub rust: String,
    /// Its postcard schema, used to convert JSON to the wire format and back.
    pub schema: OwnedNamedType,
}

/// One parameter of an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamDescriptor {
    /// The parameter's name in the source.
    pub name: String,
    /// Its type.
    pub ty: TypeDescriptor,
}

/// What a module says about one of its apps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppDescriptor {
    /// The app's name (the Rust function's name).
    pub name: String,
    /// Its parameters, in order.
    pub params: Vec<ParamDescriptor>,
    /// The type of a successful result (`T` of `Result<T, E>` for fallible apps).
    pub output: TypeDescriptor,
    /// Whether the function returns `Result<T, E>`.
    pub fallible: bool,
    /// Whether results of this app may be memoized (`#[app(cache = false)]` turns it off).
    pub cache: bool,
}
