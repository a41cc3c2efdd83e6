//! Loading a checkpoint log: the whole file is read at once, checked record by record, and kept;
//! records are then handed out as views borrowing from it.

use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::Dir;

use super::blobs::BlobDir;
use super::error::{LoadProblem, LoadWarning, StoreError};
use super::format::{self, HEADER_LEN, HeaderProblem, LOG_FILE, Span};
use super::record::RecordRef;
use crate::key::TaskKey;

/// The records of one checkpoint directory, in file order, with what was wrong in the file.
pub struct LoadedCheckpoint {
    /// The whole log file.
    bytes: Vec<u8>,
    /// Where each valid record's payload is in `bytes`.
    spans: Vec<Span>,
    warnings: Vec<LoadWarning>,
    blobs: BlobDir,
}

impl std::fmt::Debug for LoadedCheckpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedCheckpoint")
            .field("path", &self.path())
            .field("records", &self.spans.len())
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// Loads the checkpoint log in `dir`, a checkpoint directory (`runinfo/NNN/checkpoint` or a copy
/// of one). `display_path` is how the user would name `dir`, for warnings and errors; it is never
/// used to reach the filesystem.
///
/// A half-written last record is dropped with a torn-tail warning; any other damaged record is
/// skipped with a warning naming its offset, and loading resumes at the next whole record. A
/// missing, foreign, damaged or newer-version header is an error naming the file.
pub fn load_checkpoint(
    dir: &Dir,
    display_path: impl AsRef<Path>,
) -> Result<LoadedCheckpoint, StoreError> {
    let dir_path = display_path.as_ref().to_owned();
    let file = dir_path.join(LOG_FILE);
    let bytes = dir.read(LOG_FILE).map_err(StoreError::io("read", &file))?;
    let blobs = BlobDir::new(
        dir.try_clone().map_err(StoreError::io("open", &dir_path))?,
        dir_path,
    );
    let warning = |offset: usize, skipped: usize, problem| LoadWarning {
        file: file.clone(),
        offset: offset as u64,
        skipped: skipped as u64,
        problem,
    };
    match format::check_header(&bytes) {
        Ok(()) => {}
        Err(HeaderProblem::Torn) => {
            // A crash while the log was being created: it never held a record.
            let warnings = vec![warning(0, bytes.len(), LoadProblem::TornTail)];
            return Ok(LoadedCheckpoint {
                bytes: Vec::new(),
                spans: Vec::new(),
                warnings,
                blobs,
            });
        }
        Err(HeaderProblem::BadMagic) => return Err(StoreError::BadMagic { path: file }),
        Err(HeaderProblem::Damaged) => return Err(StoreError::DamagedHeader { path: file }),
        Err(HeaderProblem::Unsupported(found)) => {
            return Err(StoreError::UnsupportedVersion {
                path: file,
                found,
                supported: format::FORMAT_VERSION,
            });
        }
    }
    let scan = format::scan_records(&bytes, HEADER_LEN);
    let warnings = scan
        .skipped
        .into_iter()
        .map(|s| warning(s.offset, s.len, s.problem))
        .collect();
    let mut spans = scan.spans;
    spans.shrink_to_fit();
    Ok(LoadedCheckpoint {
        bytes,
        spans,
        warnings,
        blobs,
    })
}

/// Loads the checkpoint directory the user named on the command line (`--checkpoint-files`).
/// This is an edge of the program: the only place a checkpoint is reached by an ambient path.
pub fn load_checkpoint_dir(path: impl AsRef<Path>) -> Result<LoadedCheckpoint, StoreError> {
    let path = path.as_ref();
    let dir = Dir::open_ambient_dir(path, ambient_authority())
        .map_err(StoreError::io("open directory", path))?;
    load_checkpoint(&dir, path)
}

impl LoadedCheckpoint {
    /// The checkpoint directory, as the user named it.
    pub fn path(&self) -> &Path {
        self.blobs.checkpoint_path()
    }

    /// The log file, as the user would name it.
    pub fn log_path(&self) -> PathBuf {
        self.path().join(LOG_FILE)
    }

    /// The number of valid records.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there is no valid record.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The valid records in file order.
    pub fn records(&self) -> impl Iterator<Item = RecordRef<'_>> + '_ {
        (0..self.spans.len()).filter_map(|i| self.record(i))
    }

    /// The `index`th valid record.
    pub fn record(&self, index: usize) -> Option<RecordRef<'_>> {
        // Every span was decoded successfully during the load and the bytes are immutable, so
        // this decodes again without failing; `ok()` only avoids a panic path.
        let span = self.spans.get(index)?;
        format::decode_payload(span.bytes(&self.bytes)?).ok()
    }

    /// The key of the `index`th valid record, without decoding the rest of it: the key is the
    /// payload's first field and postcard writes a `[u8; 32]` as its 32 bytes.
    pub fn key(&self, index: usize) -> Option<TaskKey> {
        let payload = self.spans.get(index)?.bytes(&self.bytes)?;
        Some(TaskKey(payload.get(..32)?.try_into().ok()?))
    }

    /// The byte offset of the `index`th valid record in the log file.
    pub fn record_offset(&self, index: usize) -> Option<u64> {
        self.spans.get(index).map(|s| s.frame_offset() as u64)
    }

    /// What was wrong in the file: torn tail, damaged records.
    pub fn warnings(&self) -> &[LoadWarning] {
        &self.warnings
    }

    /// The blobs that this checkpoint's records point to.
    pub fn blobs(&self) -> &BlobDir {
        &self.blobs
    }
}
