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
mod files;
mod report;
mod runner;
mod slurm;

pub use backend::{Backend, Completion, Job, JobDone, LocalBackend};
pub use report::{RunReport, TaskError, TaskReport, TaskStatusReport};
pub use runner::{
    Executor, GroupPolicyFactory, Input, RunError, Runner, RunnerConfig, Session, TaskHandle,
};
pub use slurm::run_worker;
