//! Appending records to a run's checkpoint log.

use std::fs::File as StdFile;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cap_std::fs::{Dir, File, OpenOptions};

use super::atomic_file::sync_dir;
use super::blobs::BlobDir;
use super::error::StoreError;
use super::format::{self, LOG_FILE, MAX_PAYLOAD_LEN};
use super::record::{CheckpointRecord, Payload, is_valid_output_name};

/// Appended records are handed to the OS once this many bytes are pending, so memory stays
/// bounded between syncs.
const WRITE_THRESHOLD: usize = 1 << 20;

/// Appends records to one checkpoint log.
///
/// [`append`](Self::append) only buffers; [`sync`](Self::sync) makes everything appended so far
/// durable. Group commit is appending the records of many finished tasks and syncing once
/// ([`commit`](Self::commit) does both). Blobs a record points to are written durably by
/// [`payload`](Self::payload) before the record can exist.
pub struct CheckpointWriter {
    file: File,
    /// The log file, as the user would name it.
    path: PathBuf,
    blobs: BlobDir,
    /// Encoded records not yet handed to the OS.
    pending: Vec<u8>,
    /// Length of the file up to the last whole record handed to the OS.
    file_len: u64,
    records_written: u64,
    records_synced: u64,
    /// Set when a failed write could not be cut back; see [`StoreError::WriterPoisoned`].
    poisoned: bool,
    /// Holds the run's lock while the writer lives, even past its `RunHandle`.
    _run_lock: Option<Arc<StdFile>>,
    /// Whether the header and these directories' new entries (the log, its run) still have to
    /// be made durable: done by the first [`sync`](Self::sync), so a run that records nothing
    /// costs no fsync at all.
    first_sync: Option<Vec<(Dir, PathBuf)>>,
}

impl std::fmt::Debug for CheckpointWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointWriter")
            .field("path", &self.path)
            .field("records_written", &self.records_written)
            .field("records_synced", &self.records_synced)
            .finish_non_exhaustive()
    }
}

impl CheckpointWriter {
    /// Creates a new log in `checkpoint` (which must not have one) and writes its header durably.
    /// `checkpoint_path` is how the user would name the directory.
    pub(crate) fn create(
        checkpoint: &Dir,
        checkpoint_path: &Path,
        run_lock: Option<Arc<StdFile>>,
    ) -> Result<Self, StoreError> {
        let mut writer = Self::create_deferred(checkpoint, checkpoint_path, run_lock, Vec::new())?;
        writer.sync()?;
        Ok(writer)
    }

    /// Creates a new log in `checkpoint` whose header, and the entries of `dirs` (each with the
    /// path to name it by), become durable with the first [`sync`](Self::sync). Until then a
    /// crash (of the machine: a process's writes survive it) may leave the log empty or absent,
    /// which loads as a checkpoint without records.
    pub(crate) fn create_deferred(
        checkpoint: &Dir,
        checkpoint_path: &Path,
        run_lock: Option<Arc<StdFile>>,
        dirs: Vec<(Dir, PathBuf)>,
    ) -> Result<Self, StoreError> {
        let path = checkpoint_path.join(LOG_FILE);
        let mut file = checkpoint
            .open_with(LOG_FILE, OpenOptions::new().append(true).create_new(true))
            .map_err(StoreError::io("create", &path))?;
        let header = format::header();
        file.write_all(&header)
            .map_err(StoreError::io("write", &path))?;
        let blobs = BlobDir::new(
            checkpoint
                .try_clone()
                .map_err(StoreError::io("open", checkpoint_path))?,
            checkpoint_path.to_owned(),
        );
        Ok(CheckpointWriter {
            file,
            path,
            blobs,
            pending: Vec::with_capacity(64 * 1024),
            file_len: header.len() as u64,
            records_written: 0,
            records_synced: 0,
            poisoned: false,
            _run_lock: run_lock,
            first_sync: Some(dirs),
        })
    }

    /// The log file, as the user would name it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The blobs beside this log.
    pub fn blobs(&self) -> &BlobDir {
        &self.blobs
    }

    /// The payload for a result's bytes: inline when small, otherwise a blob written durably now,
    /// before any record can point at it.
    pub fn payload(&self, bytes: &[u8]) -> Result<Payload, StoreError> {
        self.blobs.payload(bytes)
    }

    /// Appends records (buffered; not yet durable) and returns how many. Either all of them are
    /// appended or, on error, none.
    pub fn append<'r, I>(&mut self, records: I) -> Result<usize, StoreError>
    where
        I: IntoIterator<Item = &'r CheckpointRecord>,
    {
        self.check_poisoned()?;
        let rollback = self.pending.len();
        let mut count = 0usize;
        for record in records {
            if let Some(bad) = record
                .outputs
                .iter()
                .find(|o| !is_valid_output_name(&o.name))
            {
                self.pending.truncate(rollback);
                return Err(StoreError::InvalidName {
                    name: bad.name.clone(),
                    what: "output file name",
                });
            }
            if let Err(len) = format::encode_frame(record, &mut self.pending) {
                self.pending.truncate(rollback);
                return Err(StoreError::RecordTooLarge {
                    path: self.path.clone(),
                    key: record.key,
                    len,
                    max: MAX_PAYLOAD_LEN,
                });
            }
            count += 1;
        }
        self.records_written += count as u64;
        if self.pending.len() >= WRITE_THRESHOLD {
            self.write_pending()?;
        }
        Ok(count)
    }

    /// Makes every record appended so far durable (write, then `fdatasync`).
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.write_pending()?;
        if let Some(dirs) = &self.first_sync {
            // The file's creation and length too, then the directories that name it.
            self.file
                .sync_all()
                .map_err(StoreError::io("sync", &self.path))?;
            for (dir, path) in dirs {
                sync_dir(dir, path)?;
            }
            self.first_sync = None;
        } else {
            self.file
                .sync_data()
                .map_err(StoreError::io("sync", &self.path))?;
        }
        self.records_synced = self.records_written;
        Ok(())
    }

    /// Appends `records` and syncs once: the group commit of several finished tasks.
    pub fn commit<'r, I>(&mut self, records: I) -> Result<usize, StoreError>
    where
        I: IntoIterator<Item = &'r CheckpointRecord>,
    {
        let count = self.append(records)?;
        self.sync()?;
        Ok(count)
    }

    /// Records appended by this writer, durable or not.
    pub fn records_written(&self) -> u64 {
        self.records_written
    }

    /// Records appended by this writer and made durable by [`sync`](Self::sync).
    pub fn records_synced(&self) -> u64 {
        self.records_synced
    }

    fn check_poisoned(&self) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::WriterPoisoned {
                path: self.path.clone(),
            });
        }
        Ok(())
    }

    /// Hands pending records to the OS. On failure the file is cut back to its last whole record
    /// and the records stay pending, so a later `sync` can retry; if even the cut fails the writer
    /// is poisoned rather than append after a partial record.
    fn write_pending(&mut self) -> Result<(), StoreError> {
        self.check_poisoned()?;
        if self.pending.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.file.write_all(&self.pending) {
            if self.file.set_len(self.file_len).is_err() {
                self.poisoned = true;
            }
            return Err(StoreError::io("write", &self.path)(e));
        }
        self.file_len += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }
}

impl Drop for CheckpointWriter {
    fn drop(&mut self) {
        // Hand what is pending to the OS so that a clean exit without a final `sync` still keeps
        // it (usually); a failure here cannot be reported and costs only unsynced records, which
        // were never promised to be durable.
        let _ = self.write_pending();
    }
}
