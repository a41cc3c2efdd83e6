//! What the scheduler asks the executor to do, and what the executor answers.

use std::sync::Arc;

use super::TaskId;
use crate::key::TaskKey;

/// A task's concrete argument bytes, one entry per parameter. Shared so that a retry or an
/// identical task reuses them without copying.
pub type TaskArgs = Arc<[Vec<u8>]>;

/// One thing for the executor to do, in the order the scheduler emits them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Every dependency resolved: compute the task's key from `args`, then answer with
    /// [`Scheduler::on_lookup_done`](super::Scheduler::on_lookup_done). Consult the memo table
    /// only when `cache` is set; otherwise the key still seeds the guest's randomness.
    Lookup {
        /// The task.
        task: TaskId,
        /// Its arguments, a fan-in already encoded as a `Vec<T>`.
        args: TaskArgs,
        /// Whether the app allows memoization.
        cache: bool,
    },
    /// Run the task on a worker, then report [`on_finished`](super::Scheduler::on_finished) or
    /// [`on_failed`](super::Scheduler::on_failed). An `attempt` above 1 is a retry: the earlier
    /// failure is not final and must not be recorded.
    Run {
        /// The task.
        task: TaskId,
        /// Its key.
        key: TaskKey,
        /// Its arguments.
        args: TaskArgs,
        /// Which run this is, from 1.
        attempt: u32,
    },
    /// The task has a result, readable with [`Scheduler::result`](super::Scheduler::result).
    Resolved {
        /// The task.
        task: TaskId,
        /// How it got its result; only [`Resolution::Executed`] is new to the memo table.
        how: Resolution,
    },
    /// The task failed for good.
    Failed {
        /// The task.
        task: TaskId,
        /// Why, for the user. A dependency failure names the task where it started.
        reason: Arc<str>,
        /// Why, for the executor.
        cause: FailureCause,
    },
    /// The task was cancelled while a worker runs it: interrupt that run. Whatever the worker
    /// reports afterwards is ignored.
    Abort {
        /// The task.
        task: TaskId,
    },
}

/// How a task got its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// A worker ran it.
    Executed {
        /// How many runs it took, the successful one included.
        attempts: u32,
    },
    /// The memo table had its key.
    Memo,
    /// An identical task in flight ran in its place.
    Shared {
        /// That task.
        with: TaskId,
    },
}

impl Resolution {
    /// Whether the result came without running this task.
    pub fn is_cached(self) -> bool {
        !matches!(self, Resolution::Executed { .. })
    }
}

/// Why a task failed, grouped by what the executor does with it: only an [`Own`] failure of a
/// deterministic kind may be recorded (DESIGN §3.6).
///
/// [`Own`]: FailureCause::Own
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureCause {
    /// Its last run failed and no retries were left.
    Own {
        /// How many runs failed.
        attempts: u32,
    },
    /// The memo table holds a failure for its key.
    Memo,
    /// A task it depends on, directly or not, failed; `root` is where the failure started.
    Dependency {
        /// The task whose own failure caused this one.
        root: TaskId,
    },
    /// An identical task ran in its place and failed.
    Identical {
        /// That task.
        with: TaskId,
    },
    /// It was cancelled.
    Cancelled,
}

/// The executor's answer to [`Action::Lookup`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupAnswer {
    /// The memo table does not know the key (or the task is not memoizable).
    Miss,
    /// The memo table holds this result for the key.
    Hit(Vec<u8>),
    /// The memo table holds a failure for the key (only with `cache_failures`).
    HitFailure(String),
}
