//! Lineage: which earlier checkpoints a run reused results from.
//!
//! A run does not copy the results it reuses into its own checkpoint (that would grow the store
//! with every rerun, as Parsl's does). Instead its checkpoint holds a `lineage` file naming, one
//! per line and relative to itself (`../../003/checkpoint`), the checkpoint directories it loaded.
//! Loading a checkpoint with its lineage therefore sees everything the run could reuse, so
//! `--checkpoint-files runinfo/NNN/checkpoint` of the newest run alone is enough. A copied
//! checkpoint directory stays self-contained for its own records; lineage entries that do not
//! resolve at the new place are reported and skipped.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::error::StoreError;
use super::loader::{LoadedCheckpoint, load_checkpoint_dir};
use super::runs::RunHandle;

/// The lineage file's name inside a checkpoint directory.
const LINEAGE_FILE: &str = "lineage";

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
            let ancestor = path.join(line);
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
