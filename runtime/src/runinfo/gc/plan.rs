//! Deciding what `wfrun compact` and `wfrun gc` do, under the runinfo's exclusive lock: which runs
//! are folded into one compacted checkpoint, which are removed with their results, which stay,
//! and which records the compacted checkpoint holds. Nothing here writes.
//!
//! The rules (FORMAT.md, "Compaction and collection", is the contract):
//! - a live run (its lock held) is never folded nor removed;
//! - `compact` folds every other run; `gc` removes the runs no retention rule keeps, and folds,
//!   rather than drops, those that a remaining run names through its lineage (transitively), so
//!   a remaining checkpoint loaded with its lineage loses nothing;
//! - the compacted checkpoint holds, for every key of a folded run, the record that `--resume`
//!   sees for it (the last one in numeric run order among the runs that remain or are folded),
//!   so that, being the newest run, it changes nothing `--resume` sees.

use std::collections::{BTreeSet, HashMap};
use std::fs::File as StdFile;
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

use cap_std::fs::Dir;

use crate::key::TaskKey;
use crate::runinfo::blobs::Referenced;
use crate::runinfo::error::StoreError;
use crate::runinfo::format::{self, HEADER_LEN};
use crate::runinfo::lineage::{LINEAGE_FILE, MERGED_FILE, listed_runs};
use crate::runinfo::loader::LoadedCheckpoint;
use crate::runinfo::run_id::RunId;
use crate::runinfo::runs::{CHECKPOINT_DIR, RunInfo, SUMMARY_FILE};

/// Names of temp directories in the runinfo root: a compacted run being built, a run being
/// removed. Both start with `.tmp-`, so no listing of runs sees them, and any found while the
/// root lock is held exclusively were left by a process that died: they are removed.
pub(super) const COMPACT_TEMP_PREFIX: &str = ".tmp-compact-";
pub(super) const REMOVE_TEMP_PREFIX: &str = ".tmp-gc-";

/// What to collect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// `wfrun compact`: fold every run that is not live into one compacted checkpoint.
    Compact,
    /// `wfrun gc`: remove the runs no rule keeps. A run is kept when any given rule keeps it.
    Gc {
        /// Keep the newest `n` runs (by number; live ones count).
        keep: Option<usize>,
        /// Keep the runs modified less than this long ago.
        older_than: Option<Duration>,
    },
}

/// What happens to a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// It stays as it is.
    Kept,
    /// It stays: a process holds it.
    Live,
    /// Its records go into the compacted checkpoint (superseded ones are dropped), then it is
    /// removed.
    Folded,
    /// It is removed with its records: no rule keeps it and no remaining run names it.
    Pruned,
    /// It stays although it was to be folded: its checkpoint cannot be read (the reason).
    Unreadable(String),
}

/// One run and what happens to it.
#[derive(Debug, Clone)]
pub struct RunFate {
    /// The run.
    pub id: RunId,
    /// What happens to it.
    pub fate: Fate,
    /// Its valid checkpoint records (0 when not read).
    pub records: usize,
    /// The bytes of every file in its directory.
    pub bytes: u64,
    /// When it was last modified (its summary, else its log, else its directory). A compacted
    /// run's summary carries the time of the newest run it folded.
    pub modified: Option<SystemTime>,
    /// Whether it is a compacted run (its checkpoint names the runs it took in).
    pub compacted: bool,
}

/// Everything a collection will do, decided under the runinfo's exclusive lock, which it holds
/// until it is carried out or dropped (so no run is allocated meanwhile). Dropping it is a dry
/// run: nothing has been written.
pub struct CollectionPlan<'r> {
    pub(super) runinfo: &'r RunInfo,
    pub(super) _lock: StdFile,
    pub(super) runs: Vec<RunFate>,
    /// The checkpoints of the runs that are folded or remain, in run order.
    pub(super) view: Vec<(RunId, LoadedCheckpoint)>,
    /// The records of the compacted checkpoint: (index in `view`, record index), in view order.
    pub(super) survivors: Vec<(usize, usize)>,
    /// What was wrong in the folded checkpoints (damaged records, missing blobs).
    pub(super) warnings: Vec<String>,
    /// The runs the compacted checkpoint stands for, transitively.
    pub(super) merged: BTreeSet<RunId>,
    /// Remaining runs that folded runs name in their lineage: the compacted checkpoint's lineage.
    pub(super) lineage: BTreeSet<RunId>,
    /// Temp directories left by a process that died.
    pub(super) stale: Vec<String>,
    /// The compacted checkpoint's log and the distinct files its records refer to, in bytes.
    pub(super) retained_bytes: u64,
    /// Records of folded runs left out as superseded (a later record has their key).
    pub(super) superseded: usize,
}

impl std::fmt::Debug for CollectionPlan<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectionPlan")
            .field("runs", &self.runs)
            .field("records", &self.survivors.len())
            .finish_non_exhaustive()
    }
}

impl RunInfo {
    /// Plans a collection: takes the runinfo's exclusive lock (waiting for a run being allocated)
    /// and decides what `selection` does, given the time `now`. Reads every checkpoint that is
    /// folded or remains; writes nothing. Carry it out with
    /// [`CollectionPlan::carry_out`], or drop it for a dry run.
    pub fn plan_collection(
        &self,
        selection: &Selection,
        now: SystemTime,
    ) -> Result<CollectionPlan<'_>, StoreError> {
        let lock = self.lock_root(true)?;
        let root = self.root();
        let stale = stale_temps(root, self.path())?;
        let mut runs = Vec::new();
        for id in self.runs()? {
            let live = self.is_live_locked(id)?;
            let merged = Path::new(&id.to_string())
                .join(CHECKPOINT_DIR)
                .join(MERGED_FILE);
            runs.push(RunFate {
                id,
                fate: if live { Fate::Live } else { Fate::Kept },
                records: 0,
                bytes: dir_bytes(root, &id.to_string(), &self.run_path(id))?,
                modified: modified(root, id),
                compacted: root.metadata(merged).is_ok(),
            });
        }
        select(&mut runs, selection, now);
        if matches!(selection, Selection::Gc { .. }) {
            spare_what_remaining_runs_name(root, &mut runs);
        }
        // Folding one compacted run alone would only rewrite it.
        let folding: Vec<&mut RunFate> =
            runs.iter_mut().filter(|r| r.fate == Fate::Folded).collect();
        if let [only] = folding.as_slice()
            && only.compacted
        {
            let id = only.id;
            for run in runs.iter_mut().filter(|r| r.id == id) {
                run.fate = Fate::Kept;
            }
        }

        let mut view = Vec::new();
        for run in &mut runs {
            match self.load_checkpoint(run.id) {
                // Pruned runs are read only to count what goes with them.
                Ok(checkpoint) if run.fate == Fate::Pruned => run.records = checkpoint.len(),
                Ok(checkpoint) => {
                    run.records = checkpoint.len();
                    view.push((run.id, checkpoint));
                }
                Err(e) if run.fate == Fate::Folded => run.fate = Fate::Unreadable(e.to_string()),
                // A run whose log cannot be read contributes nothing to `--resume`.
                Err(_) => {}
            }
        }
        let folded: BTreeSet<RunId> = fated(&runs, &Fate::Folded).collect();

        let mut plan = CollectionPlan {
            runinfo: self,
            _lock: lock,
            runs,
            view,
            survivors: Vec::new(),
            warnings: Vec::new(),
            merged: BTreeSet::new(),
            lineage: BTreeSet::new(),
            stale,
            retained_bytes: 0,
            superseded: 0,
        };
        plan.choose_survivors(&folded);
        plan.check_survivors();
        for &id in &folded {
            plan.merged.insert(id);
            plan.merged.extend(listed_runs(root, id, MERGED_FILE));
            plan.lineage.extend(listed_runs(root, id, LINEAGE_FILE));
        }
        let remaining: BTreeSet<RunId> = plan
            .runs
            .iter()
            .filter(|r| !matches!(r.fate, Fate::Folded | Fate::Pruned))
            .map(|r| r.id)
            .collect();
        plan.lineage.retain(|id| remaining.contains(id));
        Ok(plan)
    }
}

impl CollectionPlan<'_> {
    /// Every run and its fate, in run order.
    pub fn runs(&self) -> &[RunFate] {
        &self.runs
    }

    /// The runs with `fate`.
    pub fn with_fate(&self, fate: &Fate) -> Vec<RunId> {
        fated(&self.runs, fate).collect()
    }

    /// Whether carrying it out would change nothing (no run is folded or removed, no temp
    /// directory is left over).
    pub fn is_empty(&self) -> bool {
        self.stale.is_empty()
            && !self
                .runs
                .iter()
                .any(|r| matches!(r.fate, Fate::Folded | Fate::Pruned))
    }

    /// Whether a compacted checkpoint will be written.
    pub fn compacts(&self) -> bool {
        self.runs.iter().any(|r| r.fate == Fate::Folded)
    }

    /// The records the compacted checkpoint will hold.
    pub fn records_kept(&self) -> usize {
        self.survivors.len()
    }

    /// Records of folded runs that go because a later record has their key.
    pub fn records_superseded(&self) -> usize {
        self.superseded
    }

    /// Records that go with pruned runs (those of their checkpoints that read).
    pub fn records_pruned(&self) -> usize {
        self.runs
            .iter()
            .filter(|r| r.fate == Fate::Pruned)
            .map(|r| r.records)
            .sum()
    }

    /// The bytes in the directories of the runs that go.
    pub fn bytes_removed(&self) -> u64 {
        self.runs
            .iter()
            .filter(|r| matches!(r.fate, Fate::Folded | Fate::Pruned))
            .map(|r| r.bytes)
            .sum()
    }

    /// The bytes of the compacted checkpoint (its log and the files its records refer to, which
    /// are hard links to files that exist already when the filesystem allows it).
    pub fn bytes_retained(&self) -> u64 {
        self.retained_bytes
    }

    /// What is wrong in the checkpoints read: damaged records (skipped), records whose blobs are
    /// missing or damaged (left out: they were misses already).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Temp directories a process that died left in the runinfo root; carrying the plan out
    /// removes them.
    pub fn stale_temps(&self) -> &[String] {
        &self.stale
    }

    /// For each key of a folded run, the record `--resume` sees: the last in view order.
    fn choose_survivors(&mut self, folded: &BTreeSet<RunId>) {
        let mut winners: HashMap<TaskKey, (usize, usize)> = HashMap::new();
        let mut folded_records = 0usize;
        for (v, (id, checkpoint)) in self.view.iter().enumerate() {
            if folded.contains(id) {
                folded_records += checkpoint.len();
            }
            for record in 0..checkpoint.len() {
                if let Some(key) = checkpoint.key(record) {
                    winners.insert(key, (v, record));
                }
            }
            for warning in checkpoint.warnings() {
                if folded.contains(id) {
                    self.warnings.push(format!("skipping: {warning}"));
                }
            }
        }
        let mut folded_keys: BTreeSet<TaskKey> = BTreeSet::new();
        for (id, checkpoint) in &self.view {
            if folded.contains(id) {
                folded_keys.extend((0..checkpoint.len()).filter_map(|r| checkpoint.key(r)));
            }
        }
        let mut survivors: Vec<(usize, usize)> = folded_keys
            .iter()
            .filter_map(|key| winners.get(key).copied())
            .collect();
        survivors.sort_unstable();
        // Keys a folded run recorded several times, or a later run recorded again.
        let from_folded = survivors
            .iter()
            .filter(|(v, _)| folded.contains(&self.view[*v].0))
            .count();
        self.superseded = folded_records - from_folded;
        self.survivors = survivors;
    }

    /// Leaves out the survivors whose record's inputs do not decode or whose required blobs are
    /// missing or damaged (a load saw them as misses), and sizes the compacted checkpoint.
    fn check_survivors(&mut self) {
        let mut files: BTreeSet<Referenced> = BTreeSet::new();
        // Many records share a file (their module, a popular input): check each once per source.
        let mut checked: HashMap<(usize, Referenced), Result<Option<u64>, String>> = HashMap::new();
        let mut log_len = HEADER_LEN as u64;
        let mut frame = Vec::new();
        let mut kept = Vec::with_capacity(self.survivors.len());
        for &(v, r) in &self.survivors {
            let checkpoint = &self.view[v].1;
            let Some(record) = checkpoint.record(r) else {
                continue;
            };
            let offset = checkpoint.record_offset(r).unwrap_or(0);
            let what = || format!("{}: offset {offset}", checkpoint.log_path().display());
            let items = match Referenced::of(&record) {
                Ok(items) => items,
                Err(e) => {
                    self.warnings.push(format!(
                        "{}: the inputs of task {} do not decode ({e}); leaving it out",
                        what(),
                        record.key
                    ));
                    continue;
                }
            };
            let mut sizes = Vec::new();
            let mut problem = None;
            for item in &items {
                let found = checked
                    .entry((v, *item))
                    .or_insert_with(|| checkpoint.blobs().check(item).map_err(|e| e.to_string()));
                match found {
                    Ok(Some(len)) => sizes.push((*item, *len)),
                    Ok(None) => {}
                    Err(e) => {
                        problem = Some(e.clone());
                        break;
                    }
                }
            }
            if let Some(e) = problem {
                self.warnings.push(format!(
                    "{}: task {}: {e}; leaving it out (it was a miss already)",
                    what(),
                    record.key
                ));
                continue;
            }
            for (item, len) in sizes {
                if files.insert(item) {
                    self.retained_bytes += len;
                }
            }
            frame.clear();
            log_len += format::encode_frame(&record.to_record(), &mut frame)
                .map_or(0, |len| (len + format::FRAME_OVERHEAD) as u64);
            kept.push((v, r));
        }
        self.retained_bytes += log_len;
        self.survivors = kept;
    }
}

fn fated<'a>(runs: &'a [RunFate], fate: &'a Fate) -> impl Iterator<Item = RunId> + 'a {
    runs.iter().filter(move |r| r.fate == *fate).map(|r| r.id)
}

/// Marks the runs that `selection` takes (Folded for `compact`, Pruned for `gc`); live runs stay.
/// The newest runs are the most recently modified (a run whose time cannot be read counts as new),
/// so that a compacted run, numbered after the runs it outlived, ranks by what it holds.
fn select(runs: &mut [RunFate], selection: &Selection, now: SystemTime) {
    // Newest first. File times are coarse (a clock tick), so a compacted run often has the very
    // time of a run it did not fold; on a tie it ranks older, as what it holds is.
    let mut by_time: Vec<(SystemTime, bool, RunId)> = runs
        .iter()
        .map(|r| (r.modified.unwrap_or(now), !r.compacted, r.id))
        .collect();
    by_time.sort_unstable_by(|a, b| b.cmp(a));
    let rank = |id: RunId| by_time.iter().position(|t| t.2 == id).unwrap_or(0);
    for run in runs.iter_mut() {
        if run.fate == Fate::Live {
            continue;
        }
        let goes = match *selection {
            Selection::Compact => true,
            Selection::Gc { keep, older_than } => {
                let kept_by_count = keep.is_some_and(|n| rank(run.id) < n);
                let kept_by_age = older_than.is_some_and(|age| {
                    // A run whose time cannot be read, or is in the future, counts as new.
                    run.modified
                        .is_none_or(|t| now.duration_since(t).map_or(true, |d| d < age))
                });
                !(kept_by_count || kept_by_age)
            }
        };
        if goes {
            run.fate = match selection {
                Selection::Compact => Fate::Folded,
                Selection::Gc { .. } => Fate::Pruned,
            };
        }
    }
}

/// Turns Pruned into Folded for every run that a remaining run's lineage names, directly or
/// through other runs' lineage or through a compacted run that took it in.
fn spare_what_remaining_runs_name(root: &Dir, runs: &mut [RunFate]) {
    let exists: BTreeSet<RunId> = runs.iter().map(|r| r.id).collect();
    // Where a run that is gone went: the newest compacted run whose `merged` names it.
    let mut merged_into: HashMap<RunId, RunId> = HashMap::new();
    for &id in &exists {
        for gone in listed_runs(root, id, MERGED_FILE) {
            merged_into.insert(gone, id);
        }
    }
    let resolve = |id: RunId| {
        if exists.contains(&id) {
            Some(id)
        } else {
            merged_into.get(&id).copied()
        }
    };
    let mut reached: BTreeSet<RunId> = BTreeSet::new();
    let mut stack: Vec<RunId> = runs
        .iter()
        .filter(|r| r.fate != Fate::Pruned)
        .map(|r| r.id)
        .collect();
    while let Some(id) = stack.pop() {
        if !reached.insert(id) {
            continue;
        }
        let named = listed_runs(root, id, LINEAGE_FILE)
            .into_iter()
            .chain(listed_runs(root, id, MERGED_FILE));
        stack.extend(named.filter_map(resolve));
    }
    for run in runs {
        if run.fate == Fate::Pruned && reached.contains(&run.id) {
            run.fate = Fate::Folded;
        }
    }
}

/// When run `id` was last modified: its summary (written at its end), else its log, else its
/// directory.
fn modified(root: &Dir, id: RunId) -> Option<SystemTime> {
    let run = Path::new(&id.to_string()).to_path_buf();
    [
        run.join(SUMMARY_FILE),
        run.join(CHECKPOINT_DIR).join(format::LOG_FILE),
        run,
    ]
    .iter()
    .find_map(|p| root.metadata(p).ok()?.modified().ok())
    .map(|t| t.into_std())
}

/// Temp directories of a collection that died, in the root.
fn stale_temps(root: &Dir, root_path: &Path) -> Result<Vec<String>, StoreError> {
    let mut stale = Vec::new();
    for entry in root.entries().map_err(StoreError::io("list", root_path))? {
        let entry = entry.map_err(StoreError::io("list", root_path))?;
        if let Some(name) = entry.file_name().to_str()
            && (name.starts_with(COMPACT_TEMP_PREFIX) || name.starts_with(REMOVE_TEMP_PREFIX))
        {
            stale.push(name.to_owned());
        }
    }
    stale.sort();
    Ok(stale)
}

/// The bytes of every file below `name` in `dir` (`path` is how the user would name it).
pub(super) fn dir_bytes(dir: &Dir, name: &str, path: &Path) -> Result<u64, StoreError> {
    fn walk(dir: &Dir, path: &Path) -> io::Result<u64> {
        let mut total = 0;
        for entry in dir.entries()? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                total += walk(&entry.open_dir()?, &path.join(entry.file_name()))?;
            } else {
                total += entry.metadata()?.len();
            }
        }
        Ok(total)
    }
    let sub = dir.open_dir(name).map_err(StoreError::io("open", path))?;
    walk(&sub, path).map_err(StoreError::io("measure", path))
}
