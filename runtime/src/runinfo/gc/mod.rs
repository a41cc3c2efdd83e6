//! `wfrun compact` and `wfrun gc`: merging the checkpoints of finished runs into one compacted
//! run, and removing runs, without ever touching a live run or losing a result that `--resume`
//! or a remaining run's lineage sees. The contract is in `FORMAT.md` ("Compaction and
//! collection").

mod carry;
mod plan;

#[cfg(test)]
mod tests;

pub use carry::Collected;
pub use plan::{CollectionPlan, Fate, RunFate, Selection};
