//! What a task is made of, as the scheduler sees it.

use std::fmt;
use std::sync::Arc;

use super::{FailureCause, Resolution};

/// A task of this run. Ids are dense, assigned in submission order from 0, so a dependency
/// always has a smaller id than its dependants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub u64);

impl TaskId {
    /// The id as an index into per-task tables.
    pub(super) fn index(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where one argument of a task comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgSource {
    /// A concrete value: its postcard encoding.
    Value(Vec<u8>),
    /// The result of another task.
    Future(TaskId),
    /// A `Vec<T>` of the results of several tasks, in order (fan-in); see
    /// [`encode_fan_in`](super::encode_fan_in).
    Futures(Vec<TaskId>),
}

impl ArgSource {
    /// The tasks this argument waits for, with repetitions.
    pub(super) fn dependencies(&self) -> &[TaskId] {
        match self {
            ArgSource::Value(_) => &[],
            ArgSource::Future(id) => std::slice::from_ref(id),
            ArgSource::Futures(ids) => ids,
        }
    }
}

/// A task as the workflow submits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSpec {
    /// The app's name; shared, since many tasks call the same app.
    pub app: Arc<str>,
    /// One entry per parameter.
    pub args: Vec<ArgSource>,
    /// Whether the app allows memoization: only then are memo hits used and identical tasks
    /// in flight deduplicated.
    pub cache: bool,
    /// How many times a failed run is retried before the failure is final.
    pub max_retries: u32,
}

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// Some dependency has not resolved yet.
    Waiting,
    /// Its arguments are known; the executor is computing its key and consulting the memo.
    LookingUp,
    /// Handed to a worker; `attempt` counts from 1.
    Running {
        /// Which run this is: 1 for the first, more after retries.
        attempt: u32,
    },
    /// An identical task is running; this one takes its outcome.
    Sharing {
        /// The identical task that runs in its place.
        with: TaskId,
    },
    /// Done with a result.
    Resolved(Resolution),
    /// Done without one.
    Failed(FailureCause),
}
