//! The memo table: every result this run knows, from loaded checkpoints and its own finished
//! tasks, by task key. The most recent entry for a key wins.

use std::borrow::Cow;
use std::path::Path;

use super::blobs::BlobDir;
use super::error::StoreError;
use super::loader::LoadedCheckpoint;
use super::record::{CheckpointRecord, GuestFailure, OutcomeRef, RecordRef};
use crate::key::{DigestMap, TaskKey};

/// Where a key's entry lives. Entries of loaded checkpoints point into the checkpoint's bytes
/// rather than copying them, so a table of a million records costs little beyond the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Loaded { checkpoint: u32, record: u32 },
    Finished(u32),
}

/// Results known to this run, by task key.
#[derive(Debug, Default)]
pub struct MemoTable {
    checkpoints: Vec<LoadedCheckpoint>,
    finished: Vec<(CheckpointRecord, BlobDir)>,
    slots: DigestMap<TaskKey, Slot>,
}

impl MemoTable {
    /// An empty table.
    pub fn new() -> Self {
        MemoTable::default()
    }

    /// A table of `checkpoints`, given oldest first: for a key in several, the last one wins.
    pub fn from_checkpoints(checkpoints: impl IntoIterator<Item = LoadedCheckpoint>) -> Self {
        let mut table = MemoTable::new();
        for checkpoint in checkpoints {
            table.add_checkpoint(checkpoint);
        }
        table
    }

    /// Adds the records of a checkpoint more recent than every one added before: its entries
    /// replace theirs, and within it a later record replaces an earlier one.
    pub fn add_checkpoint(&mut self, checkpoint: LoadedCheckpoint) {
        let index = u32::try_from(self.checkpoints.len()).unwrap_or(u32::MAX);
        self.slots.reserve(checkpoint.len());
        for record in 0..checkpoint.len() {
            // A u32 record index is plenty: a log of 2^32 records would be hundreds of gigabytes.
            let (Ok(slot), Some(key)) = (u32::try_from(record), checkpoint.key(record)) else {
                break;
            };
            let slot = Slot::Loaded {
                checkpoint: index,
                record: slot,
            };
            self.slots.insert(key, slot);
        }
        self.checkpoints.push(checkpoint);
    }

    /// Adds a task finished in this run, replacing any earlier entry for its key. `blobs` is where
    /// its blob payloads were stored (the run's own checkpoint).
    pub fn insert(&mut self, record: CheckpointRecord, blobs: &BlobDir) {
        let index = u32::try_from(self.finished.len()).unwrap_or(u32::MAX);
        self.slots.insert(record.key, Slot::Finished(index));
        self.finished.push((record, blobs.clone()));
    }

    /// The entry for `key`, if any.
    pub fn get(&self, key: &TaskKey) -> Option<MemoEntry<'_>> {
        match *self.slots.get(key)? {
            Slot::Loaded { checkpoint, record } => {
                let checkpoint = self.checkpoints.get(checkpoint as usize)?;
                Some(MemoEntry {
                    record: checkpoint.record(record as usize)?,
                    blobs: checkpoint.blobs(),
                })
            }
            Slot::Finished(index) => {
                let (record, blobs) = self.finished.get(index as usize)?;
                Some(MemoEntry {
                    record: record.as_record_ref(),
                    blobs,
                })
            }
        }
    }

    /// Whether there is an entry for `key`.
    pub fn contains_key(&self, key: &TaskKey) -> bool {
        self.slots.contains_key(key)
    }

    /// The number of distinct keys.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the table has no entry.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The checkpoints loaded into the table, oldest first (for their warnings).
    pub fn checkpoints(&self) -> &[LoadedCheckpoint] {
        &self.checkpoints
    }
}

/// A memo table entry: the record and where its blobs are.
#[derive(Debug, Clone)]
pub struct MemoEntry<'a> {
    record: RecordRef<'a>,
    blobs: &'a BlobDir,
}

/// A recorded outcome with its bytes at hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved<'a> {
    /// The task's result bytes.
    Ok(Cow<'a, [u8]>),
    /// A recorded deterministic failure.
    Failed {
        /// How it failed.
        kind: GuestFailure,
        /// The message kept with the failure.
        message: &'a str,
    },
}

impl<'a> MemoEntry<'a> {
    /// The record.
    pub fn record(&self) -> &RecordRef<'a> {
        &self.record
    }

    /// The checkpoint directory the entry came from.
    pub fn source(&self) -> &'a Path {
        self.blobs.checkpoint_path()
    }

    /// The blobs of the checkpoint the entry came from (for output files).
    pub fn blobs(&self) -> &'a BlobDir {
        self.blobs
    }

    /// The outcome with its bytes, reading and checking the blob for a large result. An error
    /// (missing or damaged blob, I/O) is a miss to report: recompute the task.
    pub fn resolve(&self) -> Result<Resolved<'a>, StoreError> {
        match self.record.outcome {
            OutcomeRef::Ok(payload) => self.blobs.resolve(&payload).map(Resolved::Ok),
            OutcomeRef::Failed { kind, message } => Ok(Resolved::Failed { kind, message }),
        }
    }
}
