//! What the policy asks the executor to do with pending records.

use crate::scheduler::TaskId;

/// The records to write now and those to free, as answered by each `on_<event>` of
/// [`CheckpointPolicy`](super::CheckpointPolicy).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// Append these tasks' records to the checkpoint, in this order (the order they finished),
    /// then sync. Each finished task appears here at most once over the whole run.
    pub write: Vec<TaskId>,
    /// Free these tasks' records without writing them: their apps are avoided. Their results
    /// stay memoized in-run.
    pub drop: Vec<TaskId>,
}

impl Decision {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.write.is_empty() && self.drop.is_empty()
    }
}
