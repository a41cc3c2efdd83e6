//! The executor: the only module that wires the sandbox, the scheduler and the runinfo store
//! together into runs.
//!
//! Architecture Invariant: tasks reach a [`Backend`] only as [`Job`]s — a module digest, an app,
//! a key and argument bytes — so a backend in another process (a batch system) needs no shared
//! memory.
//! Architecture Invariant: a task's record is appended to the checkpoint before its future
//! resolves for anyone waiting on it.

mod backend;
mod committer;
mod core;
mod explain;
mod files;
mod report;
mod runner;
mod verify;

pub use backend::{Backend, Completion, Job, JobDone, LocalBackend};
pub use explain::{Difference, ExplainError, Explanation, Nearest, explain_task};
pub use report::{RunReport, TaskError, TaskReport, TaskStatusReport};
pub use runner::{GroupPolicyFactory, Input, RunError, Runner, RunnerConfig, Session, TaskHandle};
pub use verify::{Mismatch, Skipped, VerifyOptions, VerifyReport, in_sample, verify_checkpoint};
