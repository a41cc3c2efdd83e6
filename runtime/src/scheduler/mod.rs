//! The scheduler: the pure dataflow state machine of one workflow run (DESIGN §6).
//!
//! The executor feeds it events — a task was submitted, its memo lookup answered, it finished,
//! failed or was cancelled — and carries out the [`Action`]s it returns: compute a key and
//! consult the memo table, run a task, wake whoever waits on a resolved or failed future.
//!
//! Architecture Invariant: no I/O, threads, clocks or wasmtime here. Everything the machine
//! knows arrives as an event argument, so its tests feed events and assert on actions.
//!
//! Architecture Invariant: a task runs only after every dependency resolved, at most
//! `1 + max_retries` times, and identical memoizable tasks (equal [`TaskKey`](crate::TaskKey))
//! in flight at the same time run once. A failure fails exactly the task and its descendants.

mod action;
mod counts;
mod error;
mod events;
mod fan_in;
mod machine;
mod propagate;
mod task;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use action::{Action, FailureCause, LookupAnswer, Resolution, TaskArgs};
pub use counts::Counts;
pub use error::SubmitError;
pub use fan_in::encode_fan_in;
pub use machine::Scheduler;
pub use task::{ArgSource, TaskId, TaskSpec, TaskStatus};
