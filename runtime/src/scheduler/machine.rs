//! The state machine's tables and its queries.

use std::sync::Arc;

use super::{ArgSource, Counts, FailureCause, Resolution, TaskArgs, TaskId, TaskStatus};
use crate::key::{DigestMap, TaskKey};

/// The dataflow state machine of one workflow run.
///
/// Each `on_<event>` method pushes the resulting [`Action`](super::Action)s onto a buffer the caller owns (and
/// clears), so a busy executor reuses one allocation. Every event costs O(1) amortized plus the
/// size of what it touches: the arguments it assembles, the dependants it wakes or fails.
/// Events about a task that has already ended (cancelled meanwhile) are ignored, as are ids
/// the scheduler never issued.
///
/// ```
/// use std::sync::Arc;
/// use wf_runtime::{Action, ArgSource, LookupAnswer, Scheduler, TaskKey, TaskSpec};
///
/// let mut sched = Scheduler::new();
/// let mut actions = Vec::new();
/// let app: Arc<str> = Arc::from("slow_double");
/// let spec = |args| TaskSpec { app: app.clone(), args, cache: true, max_retries: 0 };
/// let a = sched.on_submit(spec(vec![ArgSource::Value(vec![4])]), &mut actions)?;
/// let b = sched.on_submit(spec(vec![ArgSource::Future(a)]), &mut actions)?;
/// // The executor's loop: carry out each action, feed back what happened.
/// while let Some(action) = actions.pop() {
///     let mut next = Vec::new();
///     match action {
///         Action::Lookup { task, args, .. } => {
///             let key = TaskKey([args[0][0]; 32]); // really: TaskKey::derive(..)
///             sched.on_lookup_done(task, key, LookupAnswer::Miss, &mut next);
///         }
///         Action::Run { task, args, .. } => {
///             let result = vec![args[0][0] * 2]; // really: on a worker thread
///             sched.on_finished(task, result, &mut next);
///         }
///         Action::Resolved { .. } | Action::Failed { .. } | Action::Abort { .. } => {}
///     }
///     actions.extend(next);
/// }
/// assert!(sched.is_finished());
/// assert_eq!(sched.result(b), Some(&[16][..]));
/// # Ok::<(), wf_runtime::SubmitError>(())
/// ```
#[derive(Debug, Default)]
pub struct Scheduler {
    pub(super) tasks: Vec<Task>,
    /// The memoizable tasks running now, by key, with the identical tasks waiting on them.
    pub(super) in_flight: DigestMap<TaskKey, InFlight>,
    pub(super) counts: Counts,
    /// Reused by failure propagation so that it allocates nothing.
    pub(super) scratch: Vec<TaskId>,
}

#[derive(Debug)]
pub(super) struct Task {
    pub(super) app: Arc<str>,
    pub(super) cache: bool,
    pub(super) max_retries: u32,
    /// Tasks waiting on this one, once per argument occurrence; emptied when it ends.
    pub(super) dependants: Vec<TaskId>,
    pub(super) state: State,
}

#[derive(Debug)]
pub(super) enum State {
    Waiting {
        args: Vec<ArgSource>,
        missing: usize,
    },
    LookingUp {
        args: TaskArgs,
    },
    Running {
        key: TaskKey,
        args: TaskArgs,
        attempt: u32,
    },
    Sharing {
        with: TaskId,
    },
    Resolved {
        result: Vec<u8>,
        how: Resolution,
    },
    Failed {
        reason: Arc<str>,
        cause: FailureCause,
    },
}

#[derive(Debug)]
pub(super) struct InFlight {
    pub(super) leader: TaskId,
    /// Tasks that found the key in flight; some may have been cancelled since.
    pub(super) followers: Vec<TaskId>,
}

impl Scheduler {
    /// An empty run.
    pub fn new() -> Self {
        Self::default()
    }

    /// Where `task` stands, or `None` for an id never issued.
    pub fn status(&self, task: TaskId) -> Option<TaskStatus> {
        Some(match &self.tasks.get(task.index())?.state {
            State::Waiting { .. } => TaskStatus::Waiting,
            State::LookingUp { .. } => TaskStatus::LookingUp,
            State::Running { attempt, .. } => TaskStatus::Running { attempt: *attempt },
            State::Sharing { with } => TaskStatus::Sharing { with: *with },
            State::Resolved { how, .. } => TaskStatus::Resolved(*how),
            State::Failed { cause, .. } => TaskStatus::Failed(*cause),
        })
    }

    /// The result bytes of a resolved task (what the workflow's `Future::get` decodes).
    pub fn result(&self, task: TaskId) -> Option<&[u8]> {
        match &self.tasks.get(task.index())?.state {
            State::Resolved { result, .. } => Some(result),
            _ => None,
        }
    }

    /// Why a failed task failed.
    pub fn failure(&self, task: TaskId) -> Option<&Arc<str>> {
        match &self.tasks.get(task.index())?.state {
            State::Failed { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// The app a task calls.
    pub fn app(&self, task: TaskId) -> Option<&Arc<str>> {
        self.tasks.get(task.index()).map(|t| &t.app)
    }

    /// How many tasks are where.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Whether every submitted task has ended, so nothing more will happen without a new
    /// submission.
    pub fn is_finished(&self) -> bool {
        self.counts.pending() == 0
    }
}
