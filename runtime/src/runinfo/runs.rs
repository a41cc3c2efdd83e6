//! The `runinfo/` root and its runs: allocation, locking, listing, task logs and summaries.
//!
//! Architecture Invariant: the root is the only directory opened by an ambient path; every other
//! access is relative to a `Dir`, by a name the engine built from a [`RunId`] or a digest.

use std::fs::{File as StdFile, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::atomic_file::{replace_file, write_atomically};
use super::blobs::BLOBS_DIR;
use super::error::StoreError;
use super::loader::{LoadedCheckpoint, load_checkpoint};
use super::run_id::RunId;
use super::summary_json;
use super::writer::CheckpointWriter;
use crate::key::TaskKey;

/// Serializes run allocation between processes (exclusive) against liveness checks (shared).
const ROOT_LOCK: &str = ".lock";
/// Held exclusively by the process that owns a run, for as long as it runs.
const RUN_LOCK: &str = "run.lock";
pub(super) const CHECKPOINT_DIR: &str = "checkpoint";
pub(super) const TASKS_DIR: &str = "tasks";
pub(super) const SUMMARY_FILE: &str = "summary.json";

/// The `runinfo/` directory: every run of a workflow, numbered.
#[derive(Debug)]
pub struct RunInfo {
    root: Dir,
    path: PathBuf,
}

impl RunInfo {
    /// Opens the runinfo directory at `path`, creating it if missing. This is an edge of the
    /// program: the only path resolved with ambient authority.
    pub fn open(path: impl AsRef<Path>) -> Result<RunInfo, StoreError> {
        let path = path.as_ref();
        Dir::create_ambient_dir_all(path, ambient_authority())
            .map_err(StoreError::io("create directory", path))?;
        let root = Dir::open_ambient_dir(path, ambient_authority())
            .map_err(StoreError::io("open directory", path))?;
        Ok(RunInfo {
            root,
            path: path.to_owned(),
        })
    }

    /// The runinfo directory, as the user named it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Allocates the next run directory with `checkpoint/` (an empty log) and `tasks/` inside,
    /// and locks it for the life of the handle (and of its checkpoint writer).
    ///
    /// Concurrent processes never get the same run: allocation holds an exclusive lock on the
    /// root's lock file, and the directory is created with `mkdir`, which fails if it exists.
    pub fn create_run(&self) -> Result<RunHandle, StoreError> {
        let _allocating = self.lock_root(true)?;
        let mut id = match self.runs()?.last() {
            None => Some(RunId::FIRST),
            Some(last) => last.next(),
        };
        let id = loop {
            let Some(candidate) = id else {
                return Err(StoreError::RunIdsExhausted {
                    path: self.path.clone(),
                });
            };
            match self.root.create_dir(candidate.to_string()) {
                Ok(()) => break candidate,
                // Only a process that ignores the root lock can get here; step past it.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => id = candidate.next(),
                Err(e) => {
                    return Err(StoreError::io("create directory", self.run_path(candidate))(e));
                }
            }
        };
        let path = self.run_path(id);
        let dir = self
            .root
            .open_dir(id.to_string())
            .map_err(StoreError::io("open", &path))?;
        let lock_path = path.join(RUN_LOCK);
        let lock = dir
            .open_with(RUN_LOCK, OpenOptions::new().write(true).create(true))
            .map_err(StoreError::io("create", &lock_path))?
            .into_std();
        lock.try_lock()
            .map_err(|e| StoreError::io("lock", &lock_path)(e.into()))?;
        let lock = Arc::new(lock);

        let (checkpoint, checkpoint_path) = lay_out_run(&dir, &path)?;
        // The log, the run and its entry in the root become durable with the log's first sync
        // (the executor's commit thread does it as it starts, off the workflow's path); a
        // machine crash before then leaves at most a run without records (a later `--resume`
        // warns about a missing or empty log and goes on).
        let clone = |d: &Dir, p: &Path| d.try_clone().map_err(StoreError::io("open", p));
        let durable_with_first_sync = vec![
            (
                clone(&checkpoint, &checkpoint_path)?,
                checkpoint_path.clone(),
            ),
            (clone(&dir, &path)?, path.clone()),
            (clone(&self.root, &self.path)?, self.path.clone()),
        ];
        let writer = CheckpointWriter::create_deferred(
            &checkpoint,
            &checkpoint_path,
            Some(lock.clone()),
            durable_with_first_sync,
        )?;
        let tasks = dir
            .open_dir(TASKS_DIR)
            .map_err(StoreError::io("open", path.join(TASKS_DIR)))?;
        Ok(RunHandle {
            id,
            dir,
            tasks,
            path,
            writer: Some(writer),
            _lock: lock,
        })
    }

    /// The runs, in numeric order (`999` before `1000`). Entries that are not run directories
    /// are ignored.
    pub fn runs(&self) -> Result<Vec<RunId>, StoreError> {
        let mut runs = Vec::new();
        let entries = self
            .root
            .entries()
            .map_err(StoreError::io("list", &self.path))?;
        for entry in entries {
            let entry = entry.map_err(StoreError::io("list", &self.path))?;
            let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<RunId>().ok())
            else {
                continue;
            };
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                runs.push(id);
            }
        }
        runs.sort_unstable();
        Ok(runs)
    }

    /// Whether a process still holds run `id` (so it must not be collected).
    pub fn is_live(&self, id: RunId) -> Result<bool, StoreError> {
        // Shared against allocation, so a run being set up is never seen half-made.
        let _root = self.lock_root(false)?;
        self.is_live_locked(id)
    }

    /// [`is_live`](Self::is_live) for a caller that already holds the root lock (a second
    /// `flock` of it from the same process would wait for itself).
    pub(super) fn is_live_locked(&self, id: RunId) -> Result<bool, StoreError> {
        let lock_path = self.run_path(id).join(RUN_LOCK);
        let file = match self.root.open_with(
            Path::new(&id.to_string()).join(RUN_LOCK),
            OpenOptions::new().write(true),
        ) {
            Ok(file) => file.into_std(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(StoreError::io("open", &lock_path)(e)),
        };
        match file.try_lock() {
            Ok(()) => Ok(false),
            Err(TryLockError::WouldBlock) => Ok(true),
            Err(TryLockError::Error(e)) => Err(StoreError::io("lock", &lock_path)(e)),
        }
    }

    /// Loads the checkpoint of run `id`.
    pub fn load_checkpoint(&self, id: RunId) -> Result<LoadedCheckpoint, StoreError> {
        let path = self.run_path(id).join(CHECKPOINT_DIR);
        let dir = self
            .root
            .open_dir(Path::new(&id.to_string()).join(CHECKPOINT_DIR))
            .map_err(StoreError::io("open", &path))?;
        load_checkpoint(&dir, path)
    }

    /// The last `max` bytes of a task's log in run `id` (lossy UTF-8), and the log's path; `None`
    /// when the task wrote nothing to that stream.
    pub fn task_log_tail(
        &self,
        id: RunId,
        key: &TaskKey,
        stream: LogStream,
        max: u64,
    ) -> Result<Option<(String, PathBuf)>, StoreError> {
        use std::io::{Read as _, Seek as _};
        let name = format!("{}.{}", key.to_hex(), stream.extension());
        let rel = Path::new(&id.to_string()).join(TASKS_DIR).join(&name);
        let path = self.path.join(&rel);
        let mut file = match self.root.open(&rel) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io("open", &path)(e)),
        };
        let len = file
            .metadata()
            .map_err(StoreError::io("read", &path))?
            .len();
        file.seek(io::SeekFrom::Start(len.saturating_sub(max)))
            .map_err(StoreError::io("read", &path))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(StoreError::io("read", &path))?;
        Ok(Some((String::from_utf8_lossy(&bytes).into_owned(), path)))
    }

    /// Reads the summary of run `id`, if it wrote one.
    pub fn read_summary<T: DeserializeOwned>(&self, id: RunId) -> Result<Option<T>, StoreError> {
        let path = self.run_path(id).join(SUMMARY_FILE);
        let bytes = match self
            .root
            .read(Path::new(&id.to_string()).join(SUMMARY_FILE))
        {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io("read", &path)(e)),
        };
        // What a machine crash can leave of a summary that was never fsynced.
        if bytes.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| StoreError::BadSummary { path, source })
    }

    /// Writes `name` (a file name chosen by the engine, such as `report.html`) into the
    /// directory of run `id`, atomically; answers its path.
    pub fn write_run_file(
        &self,
        id: RunId,
        name: &'static str,
        bytes: &[u8],
    ) -> Result<PathBuf, StoreError> {
        let path = self.run_path(id);
        let dir = self
            .root
            .open_dir(id.to_string())
            .map_err(StoreError::io("open", &path))?;
        write_atomically(&dir, &path, name, bytes)?;
        Ok(path.join(name))
    }

    /// The directory of run `id`, as the user would name it.
    pub fn run_path(&self, id: RunId) -> PathBuf {
        self.path.join(id.to_string())
    }

    /// Opens (creating it if missing) one of the engine's own directories in the root, such as
    /// the compiled-module cache. `name` is a constant of the engine, never user input.
    pub(crate) fn engine_dir(&self, name: &'static str) -> Result<(Dir, PathBuf), StoreError> {
        let path = self.path.join(name);
        self.root
            .create_dir_all(name)
            .map_err(StoreError::io("create", &path))?;
        let dir = self
            .root
            .open_dir(name)
            .map_err(StoreError::io("open", &path))?;
        Ok((dir, path))
    }

    /// The root directory itself, for the modules of `runinfo` that list or move runs.
    pub(super) fn root(&self) -> &Dir {
        &self.root
    }

    /// Locks the root's lock file: exclusively to allocate (or collect) runs, shared to check a
    /// run's liveness. Released when the returned file is dropped.
    pub(super) fn lock_root(&self, exclusive: bool) -> Result<StdFile, StoreError> {
        let path = self.path.join(ROOT_LOCK);
        let file = self
            .root
            .open_with(ROOT_LOCK, OpenOptions::new().write(true).create(true))
            .map_err(StoreError::io("open", &path))?
            .into_std();
        let locked = if exclusive {
            file.lock()
        } else {
            file.lock_shared()
        };
        locked.map_err(StoreError::io("lock", &path))?;
        Ok(file)
    }
}

/// Which output stream of a task a log holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogStream {
    /// The guest's stdout.
    Stdout,
    /// The guest's stderr.
    Stderr,
}

impl LogStream {
    fn extension(self) -> &'static str {
        match self {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
        }
    }
}

/// A run this process owns. Its lock is released when the handle and its checkpoint writer are
/// both dropped (or the process dies).
#[derive(Debug)]
pub struct RunHandle {
    id: RunId,
    dir: Dir,
    tasks: Dir,
    path: PathBuf,
    writer: Option<CheckpointWriter>,
    _lock: Arc<StdFile>,
}

impl RunHandle {
    /// The run's id.
    pub fn id(&self) -> RunId {
        self.id
    }

    /// The run's directory, as the user would name it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run's checkpoint directory, as the user would name it.
    pub fn checkpoint_path(&self) -> PathBuf {
        self.path.join(CHECKPOINT_DIR)
    }

    /// The writer of the run's checkpoint log; `None` after the first call (a log has one
    /// writer).
    pub fn take_checkpoint_writer(&mut self) -> Option<CheckpointWriter> {
        self.writer.take()
    }

    /// Opens `tasks/<key hex>.<stdout|stderr>` for appending (created if missing), for the
    /// sandbox to send a guest's output to.
    pub fn task_log(&self, key: &TaskKey, stream: LogStream) -> Result<StdFile, StoreError> {
        let name = format!("{}.{}", key.to_hex(), stream.extension());
        let file = self
            .tasks
            .open_with(&name, OpenOptions::new().append(true).create(true))
            .map_err(StoreError::io(
                "open",
                self.path.join(TASKS_DIR).join(&name),
            ))?;
        Ok(file.into_std())
    }

    /// The run's `tasks/` directory and how the user would name it.
    pub(super) fn tasks_dir(&self) -> (&Dir, PathBuf) {
        (&self.tasks, self.path.join(TASKS_DIR))
    }

    /// Writes `summary.json` atomically (a reader sees the old summary or the new): JSON with
    /// the top two levels one member per line and the rest compact, so a large run's task list
    /// is one line per task.
    pub fn write_summary<T: Serialize + ?Sized>(&self, summary: &T) -> Result<(), StoreError> {
        let json = summary_json::to_vec(summary).map_err(|source| self.bad_summary(source))?;
        self.write_summary_json(json)
    }

    /// Writes a summary already laid out as [`write_summary`](Self::write_summary) would.
    ///
    /// Not fsynced: the summary is derived from the checkpoint and the run's end, and waiting for
    /// the disk would cost a short run more than its tasks. A crash of the machine may lose it
    /// (the run then reads as one without a summary, like a killed run).
    pub(crate) fn write_summary_json(&self, mut json: Vec<u8>) -> Result<(), StoreError> {
        json.push(b'\n');
        replace_file(&self.dir, &self.path, SUMMARY_FILE, &json)
    }

    /// The error for a summary that does not serialize.
    pub(crate) fn bad_summary(&self, source: serde_json::Error) -> StoreError {
        StoreError::BadSummary {
            path: self.path.join(SUMMARY_FILE),
            source,
        }
    }
}

/// Creates the inside of a new run directory `dir` (named `path`): `checkpoint/` with its
/// `blobs/`, and `tasks/`; answers the checkpoint directory and its path.
pub(super) fn lay_out_run(dir: &Dir, path: &Path) -> Result<(Dir, PathBuf), StoreError> {
    for sub in [CHECKPOINT_DIR, TASKS_DIR] {
        dir.create_dir(sub)
            .map_err(StoreError::io("create directory", path.join(sub)))?;
    }
    let checkpoint_path = path.join(CHECKPOINT_DIR);
    let checkpoint = dir
        .open_dir(CHECKPOINT_DIR)
        .map_err(StoreError::io("open", &checkpoint_path))?;
    checkpoint.create_dir(BLOBS_DIR).map_err(StoreError::io(
        "create directory",
        checkpoint_path.join(BLOBS_DIR),
    ))?;
    Ok((checkpoint, checkpoint_path))
}
