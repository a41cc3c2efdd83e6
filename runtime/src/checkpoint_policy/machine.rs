//! The policy's state and its queries.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use super::group::{Consecutive, Groups};
use super::{Mode, PolicyConfig};
use crate::scheduler::TaskId;

/// When to write which finished tasks' records to the checkpoint: a pure state machine over
/// one run, driven by the executor (DESIGN §4).
///
/// The executor keeps each finished task's record pending and feeds events; every answer is a
/// [`Decision`](super::Decision) naming the records to append now (then sync) and those to free.
/// Time is an argument: `now` is the time since an origin the executor picks (say the run's
/// start), the same for every call. Events about a task that already ended are ignored.
///
/// Over a run, every task reported by [`on_finished`](Self::on_finished) is written exactly
/// once, by the time [`on_exit`](Self::on_exit) returns, unless its app is avoided; then it is
/// dropped instead. [`on_manual`](Self::on_manual) writes everything pending in every mode.
///
/// ```
/// use std::time::Duration;
/// use wf_runtime::{CheckpointPolicy, PolicyConfig, TaskId};
///
/// let config = PolicyConfig::parse("every_n_finished", None, Some(2))?.avoiding(["plot"]);
/// let mut policy = CheckpointPolicy::new(config, Duration::ZERO);
/// let now = Duration::from_secs(1);
/// for (id, app) in [(0, "sim"), (1, "plot"), (2, "sim")] {
///     policy.on_submit(TaskId(id), app);
/// }
/// assert!(policy.on_finished(TaskId(0), "sim", now).is_empty());
/// assert_eq!(policy.on_finished(TaskId(1), "plot", now).drop, [TaskId(1)]);
/// assert_eq!(policy.on_finished(TaskId(2), "sim", now).write, [TaskId(0), TaskId(2)]);
/// assert!(policy.on_exit().is_empty());
/// # Ok::<(), wf_runtime::PolicyError>(())
/// ```
#[derive(Debug)]
pub struct CheckpointPolicy {
    pub(super) name: &'static str,
    pub(super) trigger: Trigger,
    pub(super) avoid: BTreeSet<String>,
    /// Finished tasks whose records are pending, by finish sequence number.
    pub(super) pending: BTreeMap<u64, TaskId>,
    pub(super) next_seq: u64,
    /// Tasks reported as ended, so that a repeated report changes nothing.
    pub(super) ended: TaskSet,
    /// Whether the run ended: from then on each finished task is written at once.
    pub(super) exited: bool,
}

/// What, besides the end of the run and explicit requests, makes records be written.
#[derive(Debug)]
pub(super) enum Trigger {
    EachTask,
    Period {
        period: Duration,
        deadline: Duration,
    },
    Nothing,
    EveryN(u64),
    Groups(Groups),
}

impl CheckpointPolicy {
    /// A policy for a run starting at `now`; a period runs from there.
    pub fn new(config: PolicyConfig, now: Duration) -> Self {
        let (mode, avoid) = config.into_parts();
        let name = mode.name();
        let trigger = match mode {
            Mode::TaskExit => Trigger::EachTask,
            Mode::Periodic(period) => Trigger::Period {
                period,
                deadline: now.saturating_add(period),
            },
            Mode::DfkExit | Mode::Manual => Trigger::Nothing,
            Mode::EveryNFinished(n) => Trigger::EveryN(n),
            Mode::InstantiatedGroup(n) => {
                Trigger::Groups(Groups::new(Box::new(Consecutive { n, submitted: 0 })))
            }
            Mode::Custom(policy) => Trigger::Groups(Groups::new(policy)),
        };
        Self {
            name,
            trigger,
            avoid,
            pending: BTreeMap::new(),
            next_seq: 0,
            ended: TaskSet::default(),
            exited: false,
        }
    }

    /// Whether a finished task's future may resolve only once its record is durable, i.e.
    /// written and synced (`task_exit`, DESIGN §3.3). The decision that writes it is the one
    /// [`on_finished`](Self::on_finished) returns for it, unless its app is avoided.
    pub fn durable_before_resolve(&self) -> bool {
        matches!(self.trigger, Trigger::EachTask)
    }

    /// When the executor should call [`on_tick`](Self::on_tick) next: `Some` only in
    /// `periodic` mode before the run ended.
    pub fn next_deadline(&self) -> Option<Duration> {
        match self.trigger {
            Trigger::Period { deadline, .. } if !self.exited => Some(deadline),
            _ => None,
        }
    }

    /// How many finished tasks' records are pending, not yet written.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Whether `app`'s records are never checkpointed.
    pub fn is_avoided(&self, app: &str) -> bool {
        self.avoid.contains(app)
    }

    /// The mode's name, as in [`Mode::name`].
    pub fn mode_name(&self) -> &'static str {
        self.name
    }
}

/// A set of task ids. The scheduler issues ids densely from 0, so the set is a bit per id up to
/// the largest one; ids far beyond that (not the scheduler's) go into a hash set, so a stray id
/// cannot make the bitmap huge.
#[derive(Debug, Default)]
pub(super) struct TaskSet {
    bits: Vec<u64>,
    sparse: HashSet<TaskId>,
}

impl TaskSet {
    /// Ids below this many plus the bitmap's present size are kept in the bitmap.
    const DENSE_SLACK: u64 = 1 << 16;

    /// Adds `task`; answers whether it was new.
    pub(super) fn insert(&mut self, task: TaskId) -> bool {
        let Some((word, bit)) = self.slot(task) else {
            return self.sparse.insert(task);
        };
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        let new = self.bits[word] & bit == 0;
        self.bits[word] |= bit;
        new
    }

    pub(super) fn contains(&self, task: TaskId) -> bool {
        match self.slot(task) {
            Some((word, bit)) => self.bits.get(word).is_some_and(|w| w & bit != 0),
            None => self.sparse.contains(&task),
        }
    }

    /// How many 64-bit words the bitmap holds.
    #[cfg(test)]
    pub(super) fn bitmap_words(&self) -> usize {
        self.bits.len()
    }

    /// The word and bit of `task` in the bitmap, if it belongs there.
    fn slot(&self, task: TaskId) -> Option<(usize, u64)> {
        let limit = (self.bits.len() as u64 * 64).saturating_add(Self::DENSE_SLACK);
        (task.0 < limit).then(|| ((task.0 / 64) as usize, 1 << (task.0 % 64)))
    }
}
