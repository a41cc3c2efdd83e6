//! The run's tallies.

/// How many tasks are where. `submitted = done() + pending()` and
/// `resolved = executed + cached + shared` always hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Tasks submitted so far.
    pub submitted: u64,
    /// Tasks that ended with a result.
    pub resolved: u64,
    /// Resolved by running them.
    pub executed: u64,
    /// Resolved from the memo table.
    pub cached: u64,
    /// Resolved by an identical task in flight.
    pub shared: u64,
    /// Tasks that ended without a result.
    pub failed: u64,
    /// Tasks a worker runs now.
    pub running: u64,
    /// Runs started, retries included.
    pub attempts: u64,
}

impl Counts {
    /// Tasks that ended, resolved or failed.
    pub fn done(&self) -> u64 {
        self.resolved + self.failed
    }

    /// Tasks that have not ended yet.
    pub fn pending(&self) -> u64 {
        self.submitted - self.done()
    }
}
