//! Lineage: which earlier checkpoints a run reused results from.
//!
//! A run does not copy the results it reuses into its own checkpoint (that would grow the store
//! with every rerun, as Parsl's does). Instead its checkpoint holds a `lineage` file naming, one
//! per line and relative to itself (`../../003/checkpoint`), the checkpoint directories it loaded.
//! Loading a checkpoint with its lineage therefore sees everything the run could reuse, so
//! `--checkpoint-files runinfo/NNN/checkpoint` of the newest run alone is enough. A copied
//! checkpoint directory stays self-contained for its own records; lineage entries that do not
//! resolve at the new place are reported and skipped.
//!
//! `wfrun compact` and `wfrun gc` remove runs that later runs' lineage may name. The compacted
//! checkpoint that takes their records in lists them in its `merged` file, and a lineage entry
//! `../../NNN/checkpoint` that is gone is read from the newest checkpoint of the same runinfo
//! whose `merged` names run `NNN` (see `gc/`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cap_std::fs::Dir;

use super::error::StoreError;
use super::loader::{LoadedCheckpoint, load_checkpoint_dir};
use super::run_id::RunId;
use super::runs::{CHECKPOINT_DIR, RunHandle};

/// The lineage file's name inside a checkpoint directory.
pub(super) const LINEAGE_FILE: &str = "lineage";

/// The file of a compacted checkpoint that names, one per line and in the form of a lineage line
/// (`../../003/checkpoint`), the runs whose records it took in (and, transitively, those the
/// compacted checkpoints it took in had taken in).
pub(super) const MERGED_FILE: &str = "merged";

/// The run of the same runinfo that a lineage line names (`../../003/checkpoint`), if it names one.
pub(super) fn lineage_run(line: &str) -> Option<RunId> {
    line.trim()
        .strip_prefix("../../")?
        .strip_suffix("/checkpoint")?
        .parse()
        .ok()
}

/// The lineage line naming run `id`'s checkpoint, relative to another run's checkpoint.
pub(super) fn lineage_line(id: RunId) -> String {
    format!("../../{id}/{CHECKPOINT_DIR}")
}

/// The runs named by a list file of run `id`'s checkpoint (`lineage` or `merged`), reached
/// through the runinfo root. A missing file is an empty list; lines that name no run of this
/// runinfo (a checkpoint elsewhere) are left out.
pub(super) fn listed_runs(root: &Dir, id: RunId, file: &str) -> Vec<RunId> {
    let rel = Path::new(&id.to_string()).join(CHECKPOINT_DIR).join(file);
    match root.read_to_string(rel) {
        Ok(text) => text.lines().filter_map(lineage_run).collect(),
        Err(_) => Vec::new(),
    }
}

/// The newest checkpoint of the runinfo at `runinfo` whose `merged` file names run `id`: where
/// the records of a collected run went.
fn merged_into(runinfo: &Path, id: RunId) -> Option<PathBuf> {
    let line = lineage_line(id);
    let mut best: Option<RunId> = None;
    for entry in std::fs::read_dir(runinfo).ok()?.flatten() {
        let Some(run) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<RunId>().ok())
        else {
            continue;
        };
        let merged = entry.path().join(CHECKPOINT_DIR).join(MERGED_FILE);
        let Ok(text) = std::fs::read_to_string(merged) else {
            continue;
        };
        if text.lines().any(|l| l.trim() == line) && best.is_none_or(|b| run > b) {
            best = Some(run);
        }
    }
    best.map(|run| runinfo.join(run.to_string()).join(CHECKPOINT_DIR))
}

impl RunHandle {
    /// Records which checkpoint directories this run reuses results from. Directories inside
    /// the same runinfo are written relative to this run's checkpoint; others are left out (the
    /// user names them explicitly, and an absolute path would not survive relocation).
    pub fn write_lineage(&self, sources: &[PathBuf]) -> Result<(), StoreError> {
        let runinfo = self
            .path()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let canonical_root = std::fs::canonicalize(&runinfo).unwrap_or(runinfo);
        let mut lines = String::new();
        for source in sources {
            let Ok(canonical) = std::fs::canonicalize(source) else {
                continue;
            };
            let Ok(inside) = canonical.strip_prefix(&canonical_root) else {
                continue;
            };
            lines.push_str(&format!("../../{}\n", inside.display()));
        }
        if lines.is_empty() {
            return Ok(());
        }
        let path = self.checkpoint_path().join(LINEAGE_FILE);
        std::fs::write(&path, lines).map_err(StoreError::io("write", &path))
    }
}

/// Loads the checkpoint directory at `path` and, recursively, the checkpoints its lineage names,
/// oldest first (so that adding them in order to a memo table lets the most recent entry win).
/// Lineage entries that cannot be loaded are returned as warnings.
pub fn load_with_lineage(path: &Path) -> Result<(Vec<LoadedCheckpoint>, Vec<String>), StoreError> {
    let mut seen = BTreeSet::new();
    let mut loaded = Vec::new();
    let mut warnings = Vec::new();
    visit(path, &mut seen, &mut loaded, &mut warnings, true)?;
    Ok((loaded, warnings))
}

fn visit(
    path: &Path,
    seen: &mut BTreeSet<PathBuf>,
    loaded: &mut Vec<LoadedCheckpoint>,
    warnings: &mut Vec<String>,
    root: bool,
) -> Result<(), StoreError> {
    let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if !seen.insert(key) {
        return Ok(());
    }
    if let Ok(text) = std::fs::read_to_string(path.join(LINEAGE_FILE)) {
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let mut ancestor = path.join(line);
            // A run removed by `wfrun gc` or `compact`: its records are in a compacted
            // checkpoint of the same runinfo, which names it.
            if !ancestor.exists()
                && let Some(run) = lineage_run(line)
                && let Some(compacted) = merged_into(&path.join("../.."), run)
            {
                ancestor = compacted;
            }
            if let Err(e) = visit(&ancestor, seen, loaded, warnings, false) {
                warnings.push(format!("lineage of {}: {e}", path.display()));
            }
        }
    }
    match load_checkpoint_dir(path) {
        Ok(checkpoint) => {
            loaded.push(checkpoint);
            Ok(())
        }
        Err(e) if root => Err(e),
        Err(e) => {
            warnings.push(format!("skipping {}: {e}", path.display()));
            Ok(())
        }
    }
}
