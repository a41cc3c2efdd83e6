//! Writing a whole file so that a reader sees either the old content or the new, never a part:
//! temp file, fsync, rename, fsync of the directory.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use cap_std::fs::{Dir, OpenOptions};

use super::error::StoreError;

/// Distinguishes temp files of concurrent writers in one process; the pid does across processes.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `name` in `dir` atomically and durably. `dir_path` is how the user would
/// name `dir`, for errors. `name` must be a single file name chosen by the engine.
pub(crate) fn write_atomically(
    dir: &Dir,
    dir_path: &Path,
    name: &str,
    bytes: &[u8],
) -> Result<(), StoreError> {
    replace(dir, dir_path, name, bytes, true)?;
    sync_dir(dir, dir_path)
}

/// Writes `bytes` to `name` in `dir` so that readers see the old content or the new, never a
/// part, without waiting for the disk: a crash of the machine (not of the process) may leave
/// the file absent or empty. For files derived from durable ones (a run's summary).
pub(crate) fn replace_file(
    dir: &Dir,
    dir_path: &Path,
    name: &str,
    bytes: &[u8],
) -> Result<(), StoreError> {
    replace(dir, dir_path, name, bytes, false)
}

fn replace(
    dir: &Dir,
    dir_path: &Path,
    name: &str,
    bytes: &[u8],
    durable: bool,
) -> Result<(), StoreError> {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    // A leading dot keeps temp files out of every listing that looks for runs or blobs.
    let temp = format!(".tmp-{}-{n}-{name}", std::process::id());
    let temp_path = dir_path.join(&temp);
    let result = (|| {
        let mut file = dir
            .open_with(&temp, OpenOptions::new().write(true).create_new(true))
            .map_err(StoreError::io("create", &temp_path))?;
        file.write_all(bytes)
            .map_err(StoreError::io("write", &temp_path))?;
        if durable {
            file.sync_all()
                .map_err(StoreError::io("sync", &temp_path))?;
        }
        dir.rename(&temp, dir, name)
            .map_err(StoreError::io("rename into place", dir_path.join(name)))
    })();
    if result.is_err() {
        // Best effort: a leftover temp file is harmless (it is never read), just untidy.
        let _ = dir.remove_file(&temp);
    }
    result
}

/// Makes the entries of `dir` (creations, renames) durable.
pub(crate) fn sync_dir(dir: &Dir, dir_path: &Path) -> Result<(), StoreError> {
    // A cap-std `Dir` may be an `O_PATH` handle, which cannot be fsynced: open the directory
    // itself for reading to get one that can.
    let handle = dir
        .open_with(".", OpenOptions::new().read(true))
        .map_err(StoreError::io("open directory", dir_path))?;
    handle
        .sync_all()
        .map_err(StoreError::io("sync directory", dir_path))
}
