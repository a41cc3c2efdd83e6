//! Groups of tasks recorded together: the trait a user implements, the built-in grouping of
//! `instantiated_group`, and the table of live groups.

use std::collections::HashMap;
use std::fmt;

use crate::scheduler::TaskId;

/// A user's grouping of tasks for checkpointing (COMPSs custom policy): each submitted task
/// joins a named group, and a group is recorded once it is closed and all its tasks are done.
///
/// A group is also closed when the run ends. Once closed, a name starts a fresh group the next
/// time a task is assigned to it, so a name can be used for batch after batch.
pub trait GroupPolicy: fmt::Debug + Send {
    /// The group a newly submitted `task` of `app` joins.
    fn group_of(&mut self, task: TaskId, app: &str) -> String;

    /// Whether `group` takes no more tasks, asked each time a task joins it; `members` counts
    /// its tasks so far, that one included.
    fn is_closed(&mut self, group: &str, members: u64) -> bool;
}

/// `instantiated_group(n)`: tasks `0..n` of the submission order form group `0`, the next n
/// group `1`, and so on; a group closes when its n-th task joins it.
#[derive(Debug)]
pub(super) struct Consecutive {
    pub(super) n: u64,
    pub(super) submitted: u64,
}

impl GroupPolicy for Consecutive {
    fn group_of(&mut self, _task: TaskId, _app: &str) -> String {
        let group = self.submitted / self.n;
        self.submitted += 1;
        group.to_string()
    }

    fn is_closed(&mut self, _group: &str, members: u64) -> bool {
        members >= self.n
    }
}

/// The live groups: those with a task still running, or open to more tasks.
#[derive(Debug)]
pub(super) struct Groups {
    policy: Box<dyn GroupPolicy>,
    /// The open group of each name.
    open: HashMap<String, u64>,
    live: HashMap<u64, Group>,
    /// The group of each task that has been submitted and has not ended.
    member_of: HashMap<TaskId, u64>,
    next_id: u64,
}

#[derive(Debug, Default)]
struct Group {
    name: String,
    closed: bool,
    members: u64,
    done: u64,
    /// Its finished tasks whose records are pending, as finish sequence numbers.
    pending: Vec<u64>,
}

impl Groups {
    pub(super) fn new(policy: Box<dyn GroupPolicy>) -> Self {
        Self {
            policy,
            open: HashMap::new(),
            live: HashMap::new(),
            member_of: HashMap::new(),
            next_id: 0,
        }
    }

    /// `task` joins the group the policy names, which may close it.
    pub(super) fn join(&mut self, task: TaskId, app: &str) {
        let name = self.policy.group_of(task, app);
        let id = match self.open.get(&name) {
            Some(&id) => id,
            None => {
                let id = self.next_id;
                self.next_id += 1;
                self.open.insert(name.clone(), id);
                self.live.insert(
                    id,
                    Group {
                        name,
                        ..Group::default()
                    },
                );
                id
            }
        };
        let group = self.live.get_mut(&id).expect("an open group is live");
        group.members += 1;
        if self.policy.is_closed(&group.name, group.members) {
            group.closed = true;
            self.open.remove(&group.name);
        }
        self.member_of.insert(task, id);
    }

    /// Whether `task` was submitted and has not ended.
    pub(super) fn is_member(&self, task: TaskId) -> bool {
        self.member_of.contains_key(&task)
    }

    /// `task` ended, with its record pending under `seq` if there is one. Returns the pending
    /// records of its group when that completes it; `None` when `task` is in no group.
    pub(super) fn on_done(&mut self, task: TaskId, seq: Option<u64>) -> Option<Vec<u64>> {
        let id = self.member_of.remove(&task)?;
        let group = self.live.get_mut(&id).expect("a member's group is live");
        group.done += 1;
        group.pending.extend(seq);
        if group.closed && group.done == group.members {
            self.live.remove(&id).map(|g| g.pending)
        } else {
            Some(Vec::new())
        }
    }

    /// Every pending record was written: the groups carry on with none.
    pub(super) fn forget_pending(&mut self) {
        for group in self.live.values_mut() {
            group.pending.clear();
        }
    }

    /// The run ended: every group is closed.
    pub(super) fn close_all(&mut self) {
        self.open.clear();
        self.live.clear();
        self.member_of.clear();
    }
}
