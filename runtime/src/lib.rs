//! The wf engine: runs workflows whose tasks are WebAssembly modules, each task in a fresh
//! sandbox, memoized by a content hash of its code and inputs and checkpointed to `runinfo/`.
#![deny(missing_docs)]

mod key;
mod runinfo;

pub use key::{KEY_VERSION, KeyInputs, ModuleDigest, ParseDigestError, TaskKey, ValueDigest};
