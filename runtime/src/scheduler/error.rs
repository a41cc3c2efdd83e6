//! What can be wrong with a submission.

use super::TaskId;

/// Why [`Scheduler::on_submit`](super::Scheduler::on_submit) refused a task. The workflow is a
/// guest, so the future ids it names are checked rather than trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// An argument names a future that was never submitted in this run.
    #[error("argument refers to task {dependency}, which was never submitted")]
    UnknownTask {
        /// The id the argument named.
        dependency: TaskId,
    },
}
