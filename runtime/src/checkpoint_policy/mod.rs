//! The checkpoint policy: WHEN finished tasks' records are written to the checkpoint
//! (DESIGN §4), a pure state machine like the [scheduler](crate::scheduler).
//!
//! The executor keeps each finished task's record pending and feeds the policy events — a task
//! was submitted, finished, was reused, time passed, a checkpoint was asked for, the run ended —
//! and carries out the [`Decision`]s it returns: append these records and sync, free those.
//! Where the records go and how they are framed is `runinfo`'s business.
//!
//! Architecture Invariant: no I/O, threads or clocks here; `now` is an argument.
//!
//! Architecture Invariant: every task reported finished is written exactly once, never before
//! it finished, and by the time [`CheckpointPolicy::on_exit`] returns at the latest; a task of
//! an avoided app is never written, only dropped. Reused and unrecorded tasks are never written.

mod config;
mod decision;
mod events;
mod group;
mod machine;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use config::{MODE_NAMES, Mode, PolicyConfig, PolicyError, RawPolicy};
pub use decision::Decision;
pub use group::GroupPolicy;
pub use machine::CheckpointPolicy;
