//! The only place that touches the filesystem: runs, the checkpoint log and blobs.
//!
//! Architecture Invariant: every access goes through a cap-std [`Dir`](cap_std::fs::Dir); only
//! [`RunInfo::open`], [`load_checkpoint_dir`] and [`Exchange::open`] resolve a path with ambient
//! authority (they are the edge, called with what the user or the head process named). Names below a `Dir` are built by the engine from a
//! [`RunId`] or a digest, never taken from a record or a guest, so nothing escapes its directory.
//!
//! Architecture Invariant: no bytes read from disk can cause a panic; damage becomes a
//! [`LoadWarning`] or a [`StoreError`] that names the file (and offset).
//!
//! The checkpoint log's format is documented in `FORMAT.md` beside this file.

mod atomic_file;
mod blobs;
mod compiled;
mod error;
mod exchange;
mod files;
mod format;
mod gc;
mod lineage;
mod loader;
mod memo;
mod record;
mod run_id;
mod runs;
mod summary_json;
mod writer;

#[cfg(test)]
mod tests;

pub use blobs::{BlobDir, INLINE_LIMIT};
pub use compiled::CompiledCache;
pub use error::{LoadProblem, LoadWarning, StoreError};
pub use exchange::{ChunkId, Exchange};
pub use files::{InputDirs, OutputDir, TaskFileDirs};
pub use format::FORMAT_VERSION;
pub use gc::{Collected, CollectionPlan, Fate, RunFate, Selection};
pub use lineage::load_with_lineage;
pub use loader::{LoadedCheckpoint, load_checkpoint, load_checkpoint_dir};
pub use memo::{MemoEntry, MemoTable, Resolved};
pub use record::{
    CheckpointRecord, GuestFailure, Outcome, OutcomeRef, OutputFile, OutputFileRef, Payload,
    PayloadRef, RecordRef, TaskInputs, TaskInputsRef,
};
pub use run_id::{ParseRunIdError, RunId};
pub use runs::{LogStream, RunHandle, RunInfo};
pub(crate) use summary_json::to_vec as summary_to_vec;
pub use writer::CheckpointWriter;
