//! The wf engine: runs workflows whose tasks are WebAssembly modules, each task in a fresh
//! sandbox, memoized by a content hash of its code and inputs and checkpointed to `runinfo/`.
//!
//! The entry point is [`Runner`]: it loads modules built with the guest SDK (`wf-guest`) and
//! starts [`Session`]s in which a guest workflow, or the host program, submits tasks and awaits
//! them. `cargo run -p wf-runtime --example embed` is a complete program; see ARCHITECTURE.md for
//! the codemap.
//!
//! A task's memo key depends on what decides its result and nothing else:
//!
//! ```
//! use wf_runtime::{KeyInputs, ModuleDigest, TaskKey, ValueDigest};
//!
//! let arg = postcard::to_allocvec(&21i64).unwrap();
//! let args = [ValueDigest::of(&arg)];
//! let inputs = |salt| KeyInputs {
//!     module: ModuleDigest([1; 32]),
//!     app: "slow_double",
//!     args: &args,
//!     files: &[],
//!     fuel: None,
//!     salt,
//! };
//! assert_eq!(TaskKey::derive(&inputs("")), TaskKey::derive(&inputs("")));
//! assert_ne!(TaskKey::derive(&inputs("")), TaskKey::derive(&inputs("fresh")));
//! ```
#![deny(missing_docs)]

mod checkpoint_policy;
mod config;
mod executor;
mod guest_build;
mod json_codec;
mod key;
mod runinfo;
mod sandbox;
mod scheduler;

pub use checkpoint_policy::{
    CheckpointPolicy, Decision, GroupPolicy, MODE_NAMES, Mode, PolicyConfig, PolicyError, RawPolicy,
};
pub use config::{
    CONFIG_FILE, Config, ConfigError, DurationError, MAX_MEMORY_MIB, MAX_WORKERS, parse_duration,
};
pub use executor::{
    Backend, Completion, Difference, ExplainError, Explanation, GroupPolicyFactory, Input, Job,
    JobDone, LocalBackend, Mismatch, Nearest, RunError, RunReport, Runner, RunnerConfig, Session,
    Skipped, TaskError, TaskHandle, TaskReport, TaskStatusReport, VerifyOptions, VerifyReport,
    explain_task, in_sample, verify_checkpoint,
};
pub use guest_build::{BuildError, BuildOptions, GUEST_TARGET, build_guest};
pub use json_codec::{
    CodecError, decode_output, decode_value, encode_args, encode_value, signature,
};
pub use key::{
    KEY_VERSION, KeyInputs, ModuleDigest, NotWasm, ParseDigestError, TaskKey, ValueDigest,
};
pub use runinfo::{
    BlobDir, CheckpointRecord, CheckpointWriter, CompiledCache, FORMAT_VERSION, GuestFailure,
    INLINE_LIMIT, InputDirs, LoadProblem, LoadWarning, LoadedCheckpoint, LogStream, MemoEntry,
    MemoTable, Outcome, OutcomeRef, OutputDir, OutputFile, OutputFileRef, ParseRunIdError, Payload,
    PayloadRef, RecordRef, Resolved, RunHandle, RunId, RunInfo, StoreError, TaskFileDirs,
    TaskInputs, TaskInputsRef, load_checkpoint, load_checkpoint_dir, load_with_lineage,
};
pub use sandbox::{
    ArtifactStore, EngineFingerprint, EngineSettings, FailureKind, Limits, LoadedModule,
    ModuleError, Sandbox, TaskFailure, TaskRun, WorkflowHost,
};
pub use scheduler::{
    Action, ArgSource, Counts, FailureCause, LookupAnswer, Resolution, Scheduler, SubmitError,
    TaskArgs, TaskId, TaskSpec, TaskStatus, encode_fan_in,
};
