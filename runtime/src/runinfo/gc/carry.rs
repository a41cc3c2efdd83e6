//! Carrying out a collection plan so that a crash at any point loses nothing:
//!
//! 1. the compacted run is built in a temp directory of the root (`.tmp-compact-<pid>`, which no
//!    listing of runs sees), every file synced;
//! 2. it is renamed into place as the next run: from then on `--resume` sees it, and, since it
//!    holds for each of its keys the record `--resume` saw already, sees the same as before;
//! 3. each run that goes is renamed aside (`.tmp-gc-NNN`), at once invisible, then deleted.
//!
//! A crash before 2 leaves a temp directory; after it, runs that are both in place and in the
//! compacted run, or half-deleted runs under a temp name. The next collection removes the temp
//! directories (it holds the root lock exclusively, so none of them belongs to a live process).

use std::collections::HashSet;
use std::io;

use cap_std::fs::OpenOptions;
use serde::Serialize;

use super::plan::{COMPACT_TEMP_PREFIX, CollectionPlan, Fate, REMOVE_TEMP_PREFIX};
use crate::runinfo::atomic_file::{sync_dir, write_atomically};
use crate::runinfo::blobs::Referenced;
use crate::runinfo::error::StoreError;
use crate::runinfo::lineage::{LINEAGE_FILE, MERGED_FILE, lineage_line};
use crate::runinfo::run_id::RunId;
use crate::runinfo::runs::{SUMMARY_FILE, lay_out_run};
use crate::runinfo::writer::CheckpointWriter;

/// What a collection did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collected {
    /// The compacted run it wrote, if it folded any run.
    pub compacted: Option<RunId>,
    /// The runs it removed (folded and pruned), in run order.
    pub removed: Vec<RunId>,
}

/// The points between the steps of a collection, where a test stops it as a crash would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    StaleRemoved,
    RecordAppended,
    RecordsSynced,
    CompactedBuilt,
    CompactedInPlace,
    RunMovedAside,
    RunDeleted,
}

impl CollectionPlan<'_> {
    /// Carries the plan out: writes the compacted run (whose `summary.json` is
    /// `summary(its id)`), then removes the folded and pruned runs, then releases the lock.
    pub fn carry_out<S: Serialize>(
        self,
        summary: impl FnOnce(RunId) -> S,
    ) -> Result<Collected, StoreError> {
        self.carry_out_with(summary, &mut |_| {})
    }

    /// [`carry_out`](Self::carry_out), calling `at` after each step (a test panics there to
    /// stop as a crash would: no cleanup runs).
    pub(crate) fn carry_out_with<S: Serialize>(
        self,
        summary: impl FnOnce(RunId) -> S,
        at: &mut dyn FnMut(Step),
    ) -> Result<Collected, StoreError> {
        let root = self.runinfo.root();
        let root_path = self.runinfo.path();
        for name in &self.stale {
            let removed = root
                .remove_dir_all(name)
                .or_else(|_| root.remove_file(name));
            match removed {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io("remove", root_path.join(name))(e)),
            }
        }
        at(Step::StaleRemoved);
        let compacted = if self.compacts() {
            Some(self.write_compacted(summary, at)?)
        } else {
            None
        };
        let removed: Vec<RunId> = self
            .runs
            .iter()
            .filter(|r| matches!(r.fate, Fate::Folded | Fate::Pruned))
            .map(|r| r.id)
            .collect();
        for id in &removed {
            let aside = format!("{REMOVE_TEMP_PREFIX}{id}");
            root.rename(id.to_string(), root, &aside)
                .map_err(StoreError::io("move aside", self.runinfo.run_path(*id)))?;
            at(Step::RunMovedAside);
        }
        sync_dir(root, root_path)?;
        for id in &removed {
            let aside = format!("{REMOVE_TEMP_PREFIX}{id}");
            root.remove_dir_all(&aside)
                .map_err(StoreError::io("remove", root_path.join(&aside)))?;
            at(Step::RunDeleted);
        }
        Ok(Collected { compacted, removed })
    }

    /// Builds the compacted run in a temp directory and renames it into place as the next run.
    fn write_compacted<S: Serialize>(
        &self,
        summary: impl FnOnce(RunId) -> S,
        at: &mut dyn FnMut(Step),
    ) -> Result<RunId, StoreError> {
        let runinfo = self.runinfo;
        let root = runinfo.root();
        // Nothing allocates runs while the plan holds the root lock, so this id stays free.
        let mut id = match runinfo.runs()?.last() {
            None => Some(RunId::FIRST),
            Some(last) => last.next(),
        };
        let id = loop {
            let Some(candidate) = id else {
                return Err(StoreError::RunIdsExhausted {
                    path: runinfo.path().to_owned(),
                });
            };
            match root.symlink_metadata(candidate.to_string()) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => break candidate,
                _ => id = candidate.next(),
            }
        };

        let temp = format!("{COMPACT_TEMP_PREFIX}{}", std::process::id());
        let temp_path = runinfo.path().join(&temp);
        root.create_dir(&temp)
            .map_err(StoreError::io("create directory", &temp_path))?;
        let dir = root
            .open_dir(&temp)
            .map_err(StoreError::io("open", &temp_path))?;
        let (checkpoint, checkpoint_path) = lay_out_run(&dir, &temp_path)?;

        let mut writer = CheckpointWriter::create(&checkpoint, &checkpoint_path, None)?;
        let target = writer.blobs().clone();
        let mut linked: HashSet<Referenced> = HashSet::new();
        for &(v, r) in &self.survivors {
            let source = &self.view[v].1;
            // The plan decoded and checked every survivor; a record cannot change in memory.
            let Some(record) = source.record(r) else {
                continue;
            };
            let Ok(items) = Referenced::of(&record) else {
                continue;
            };
            // Names are digests: a file linked once (from any source) is the same file. An
            // optional one absent here may still come from another source.
            for item in &items {
                if !linked.contains(item) && source.blobs().link_into(&target, item)? {
                    linked.insert(*item);
                }
            }
            writer.append([&record.to_record()])?;
            at(Step::RecordAppended);
        }
        // Every file a record names is durable before the records are, and all of it before the
        // run is renamed into place.
        target.sync_dirs()?;
        writer.sync()?;
        drop(writer);
        at(Step::RecordsSynced);

        let merged: String = self
            .merged
            .iter()
            .map(|r| lineage_line(*r) + "\n")
            .collect();
        write_atomically(
            &checkpoint,
            &checkpoint_path,
            MERGED_FILE,
            merged.as_bytes(),
        )?;
        if !self.lineage.is_empty() {
            let lineage: String = self
                .lineage
                .iter()
                .map(|r| lineage_line(*r) + "\n")
                .collect();
            write_atomically(
                &checkpoint,
                &checkpoint_path,
                LINEAGE_FILE,
                lineage.as_bytes(),
            )?;
        }
        let mut json =
            serde_json::to_vec(&summary(id)).map_err(|source| StoreError::BadSummary {
                path: runinfo.run_path(id).join(SUMMARY_FILE),
                source,
            })?;
        json.push(b'\n');
        write_atomically(&dir, &temp_path, SUMMARY_FILE, &json)?;
        // Its age is that of the newest run it folded, so `gc --older-than` ages the results it
        // holds rather than the compaction.
        if let Some(newest) = self
            .runs
            .iter()
            .filter(|r| r.fate == Fate::Folded)
            .filter_map(|r| r.modified)
            .max()
        {
            let file = dir
                .open_with(SUMMARY_FILE, OpenOptions::new().write(true))
                .map_err(StoreError::io("open", temp_path.join(SUMMARY_FILE)))?;
            file.into_std()
                .set_modified(newest)
                .map_err(StoreError::io(
                    "set the time of",
                    temp_path.join(SUMMARY_FILE),
                ))?;
        }
        sync_dir(&dir, &temp_path)?;
        at(Step::CompactedBuilt);

        root.rename(&temp, root, id.to_string())
            .map_err(StoreError::io("rename into place", runinfo.run_path(id)))?;
        sync_dir(root, runinfo.path())?;
        at(Step::CompactedInPlace);
        Ok(id)
    }
}
