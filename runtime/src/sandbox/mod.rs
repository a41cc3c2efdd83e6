//! The sandbox: the only module that imports wasmtime.
//!
//! Architecture Invariant: nothing outside `sandbox` names a wasmtime or WASI type, and every
//! wasmtime error is classified into a [`TaskFailure`] here, in `failure::classify`.
//! Architecture Invariant: a guest sees no ambient clock, randomness, environment, arguments,
//! network or host filesystem (DESIGN §3.2); each task gets a fresh instance.

mod call;
mod engine;
mod failure;
mod host;
mod loader;
mod wasi;

pub use call::TaskRun;
pub use engine::{EngineFingerprint, EngineSettings, Limits};
pub use failure::{FailureKind, TaskFailure};
pub use host::WorkflowHost;
pub use loader::{ArtifactStore, LoadedModule, ModuleError, Sandbox};
pub use wasi::Preopen;
