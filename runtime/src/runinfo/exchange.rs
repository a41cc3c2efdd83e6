//! The exchange store of a run whose tasks execute in other processes (Slurm array elements):
//! `runinfo/exchange/<run id>/`, on the file system the head and the workers share.
//!
//! ```text
//! settings                     the engine settings the workers must use
//! modules/<digest>.wasm        modules, by digest
//! blobs/<digest>               input and output files of tasks, by content
//! waves/<wave>/<element>.in    a chunk of tasks (one array element's work)
//! waves/<wave>/<element>.out/<position>   the result of the chunk's task at <position>
//! waves/<wave>/<element>.done  the completion record: every task of the chunk has a result
//! work/<key>.files/{in,out}    file directories of tasks that take or make files
//! logs/<job>_<element>.log     what an array element printed (Slurm writes it)
//! ```
//!
//! Every file is written atomically (temp file, fsync, rename), so a reader sees a whole result
//! or none. The bytes are opaque here: the executor encodes them. Names are built from digests
//! and numbers only.

use std::io::{self, Read as _, Seek as _};
use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::Dir;

use super::atomic_file::write_atomically;
use super::blobs::BlobDir;
use super::error::StoreError;
use super::files::{TaskFileDirs, open_task_file_dirs};
use super::runs::RunInfo;
use crate::key::{ModuleDigest, TaskKey};

/// The name of the exchange directory in the runinfo root.
const EXCHANGE_DIR: &str = "exchange";
const SETTINGS_FILE: &str = "settings";
const MODULES_DIR: &str = "modules";
const WAVES_DIR: &str = "waves";
const WORK_DIR: &str = "work";
const LOGS_DIR: &str = "logs";

/// One chunk of tasks: element `element` of the array job of wave `wave`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkId {
    /// The wave (one `sbatch --array` submission or more) it was sent in.
    pub wave: u64,
    /// Its index in the wave (the array task id).
    pub element: u32,
}

impl std::fmt::Display for ChunkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.wave, self.element)
    }
}

/// A run's exchange directory.
#[derive(Debug)]
pub struct Exchange {
    root: Dir,
    path: PathBuf,
    /// `exchange/` and the name in it, when this process created it (and may remove it).
    parent: Option<(Dir, String)>,
}

impl Exchange {
    /// Creates the exchange of run `name` in `runinfo` (an earlier one of that name is removed).
    pub fn create(runinfo: &RunInfo, name: &str) -> Result<Exchange, StoreError> {
        let (parent, parent_path) = runinfo.engine_dir(EXCHANGE_DIR)?;
        let path =
            std::path::absolute(parent_path.join(name)).unwrap_or_else(|_| parent_path.join(name));
        if parent.exists(name) {
            parent
                .remove_dir_all(name)
                .map_err(StoreError::io("clear", &path))?;
        }
        parent
            .create_dir(name)
            .map_err(StoreError::io("create", &path))?;
        let root = parent
            .open_dir(name)
            .map_err(StoreError::io("open", &path))?;
        for sub in [MODULES_DIR, WAVES_DIR, WORK_DIR, LOGS_DIR] {
            root.create_dir(sub)
                .map_err(StoreError::io("create", path.join(sub)))?;
        }
        Ok(Exchange {
            root,
            path,
            parent: Some((parent, name.to_owned())),
        })
    }

    /// Opens an existing exchange directory (a worker's edge: the path comes from its command
    /// line).
    pub fn open(path: &Path) -> Result<Exchange, StoreError> {
        let root = Dir::open_ambient_dir(path, ambient_authority())
            .map_err(StoreError::io("open directory", path))?;
        Ok(Exchange {
            root,
            path: path.to_owned(),
            parent: None,
        })
    }

    /// Where it is (absolute when it was created by this process).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the whole exchange directory, if this process created it (and it is still there).
    pub fn remove(&self) -> Result<(), StoreError> {
        match &self.parent {
            Some((parent, name)) => match parent.remove_dir_all(name) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    Err(StoreError::io("remove", &self.path)(e))
                }
                _ => Ok(()),
            },
            None => Ok(()),
        }
    }

    fn read(&self, rel: &Path) -> Result<Vec<u8>, StoreError> {
        self.root
            .read(rel)
            .map_err(StoreError::io("read", self.path.join(rel)))
    }

    fn dir(&self, rel: &Path) -> Result<Dir, StoreError> {
        self.root
            .open_dir(rel)
            .map_err(StoreError::io("open", self.path.join(rel)))
    }

    /// Writes the settings the workers use.
    pub fn put_settings(&self, bytes: &[u8]) -> Result<(), StoreError> {
        write_atomically(&self.root, &self.path, SETTINGS_FILE, bytes)
    }

    /// Reads the settings.
    pub fn settings(&self) -> Result<Vec<u8>, StoreError> {
        self.read(Path::new(SETTINGS_FILE))
    }

    /// Stores a module's bytes under its digest (once).
    pub fn put_module(&self, digest: &ModuleDigest, bytes: &[u8]) -> Result<(), StoreError> {
        let name = format!("{}.wasm", digest.to_hex());
        let dir = self.dir(Path::new(MODULES_DIR))?;
        if dir.exists(&name) {
            return Ok(());
        }
        write_atomically(&dir, &self.path.join(MODULES_DIR), &name, bytes)
    }

    /// Reads a module's bytes.
    pub fn module(&self, digest: &ModuleDigest) -> Result<Vec<u8>, StoreError> {
        self.read(&Path::new(MODULES_DIR).join(format!("{}.wasm", digest.to_hex())))
    }

    /// The content-addressed blobs of task files.
    pub fn blobs(&self) -> Result<BlobDir, StoreError> {
        let dir = self
            .root
            .try_clone()
            .map_err(StoreError::io("open", &self.path))?;
        Ok(BlobDir::new(dir, self.path.clone()))
    }

    fn wave_path(wave: u64) -> PathBuf {
        Path::new(WAVES_DIR).join(wave.to_string())
    }

    fn out_name(chunk: ChunkId) -> String {
        format!("{}.out", chunk.element)
    }

    /// Writes a chunk's tasks (and makes its empty result directory).
    pub fn put_chunk(&self, chunk: ChunkId, bytes: &[u8]) -> Result<(), StoreError> {
        let wave = Self::wave_path(chunk.wave);
        self.root
            .create_dir_all(wave.join(Self::out_name(chunk)))
            .map_err(StoreError::io("create", self.path.join(&wave)))?;
        let dir = self.dir(&wave)?;
        write_atomically(
            &dir,
            &self.path.join(&wave),
            &format!("{}.in", chunk.element),
            bytes,
        )
    }

    /// Reads a chunk's tasks.
    pub fn chunk(&self, chunk: ChunkId) -> Result<Vec<u8>, StoreError> {
        self.read(&Self::wave_path(chunk.wave).join(format!("{}.in", chunk.element)))
    }

    /// Writes the result of the chunk's task at `position`.
    pub fn put_result(
        &self,
        chunk: ChunkId,
        position: u32,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let rel = Self::wave_path(chunk.wave).join(Self::out_name(chunk));
        let dir = self.dir(&rel)?;
        write_atomically(&dir, &self.path.join(&rel), &position.to_string(), bytes)
    }

    /// The positions of the chunk's tasks that have a result so far.
    pub fn result_positions(&self, chunk: ChunkId) -> Result<Vec<u32>, StoreError> {
        let rel = Self::wave_path(chunk.wave).join(Self::out_name(chunk));
        let path = self.path.join(&rel);
        let entries = match self.root.read_dir(&rel) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io("list", &path)(e)),
        };
        let mut positions = Vec::new();
        for entry in entries {
            let entry = entry.map_err(StoreError::io("list", &path))?;
            // Temp files start with a dot and never parse.
            if let Some(position) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                positions.push(position);
            }
        }
        positions.sort_unstable();
        Ok(positions)
    }

    /// The result of the chunk's task at `position`.
    pub fn result(&self, chunk: ChunkId, position: u32) -> Result<Vec<u8>, StoreError> {
        self.read(
            &Self::wave_path(chunk.wave)
                .join(Self::out_name(chunk))
                .join(position.to_string()),
        )
    }

    /// Writes the chunk's completion record (after all its results).
    pub fn put_done(&self, chunk: ChunkId, bytes: &[u8]) -> Result<(), StoreError> {
        let wave = Self::wave_path(chunk.wave);
        let dir = self.dir(&wave)?;
        write_atomically(
            &dir,
            &self.path.join(&wave),
            &format!("{}.done", chunk.element),
            bytes,
        )
    }

    /// Whether the chunk's completion record is there.
    pub fn is_done(&self, chunk: ChunkId) -> bool {
        self.root
            .exists(Self::wave_path(chunk.wave).join(format!("{}.done", chunk.element)))
    }

    /// Fresh file directories for a task that takes or makes files.
    pub fn task_file_dirs(&self, key: &TaskKey) -> Result<TaskFileDirs, StoreError> {
        let dir = self.dir(Path::new(WORK_DIR))?;
        open_task_file_dirs(&dir, &self.path.join(WORK_DIR), key, true)
    }

    /// The pattern Slurm expands into each array element's log (`%A` job, `%a` element).
    pub fn element_log_pattern(&self) -> PathBuf {
        self.path.join(LOGS_DIR).join("%A_%a.log")
    }

    /// The last `max` bytes of what element `element` of job `job` printed, if anything.
    /// `job` must be a Slurm job id (digits only).
    pub fn element_log_tail(&self, job: &str, element: u32, max: u64) -> Option<String> {
        if job.is_empty() || !job.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let rel = Path::new(LOGS_DIR).join(format!("{job}_{element}.log"));
        let mut file = self.root.open(&rel).ok()?;
        let len = file.metadata().ok()?.len();
        file.seek(io::SeekFrom::Start(len.saturating_sub(max)))
            .ok()?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).ok()?;
        let text = String::from_utf8_lossy(&bytes).trim().to_owned();
        (!text.is_empty()).then_some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_and_completion_records_round_trip() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let runinfo = RunInfo::open(tmp.path()).expect("runinfo");
        let exchange = Exchange::create(&runinfo, "001").expect("exchange");
        let chunk = ChunkId {
            wave: 3,
            element: 7,
        };
        exchange.put_chunk(chunk, b"tasks").expect("chunk");
        assert_eq!(exchange.chunk(chunk).expect("read"), b"tasks");
        assert!(exchange.result_positions(chunk).expect("list").is_empty());
        exchange.put_result(chunk, 1, b"one").expect("result");
        exchange.put_result(chunk, 0, b"zero").expect("result");
        assert_eq!(exchange.result_positions(chunk).expect("list"), [0, 1]);
        assert_eq!(exchange.result(chunk, 1).expect("read"), b"one");
        assert!(!exchange.is_done(chunk));
        exchange.put_done(chunk, b"").expect("done");
        assert!(exchange.is_done(chunk));

        let digest = ModuleDigest([9; 32]);
        exchange.put_module(&digest, b"\0asm").expect("module");
        let reopened = Exchange::open(exchange.path()).expect("open");
        assert_eq!(reopened.module(&digest).expect("module"), b"\0asm");
        let blob = reopened.blobs().expect("blobs").put(b"file").expect("put");
        assert_eq!(
            exchange.blobs().expect("blobs").get(&blob, 4).expect("get"),
            b"file"
        );

        // A second exchange of the same name starts empty.
        let again = Exchange::create(&runinfo, "001").expect("exchange");
        assert!(!again.is_done(chunk));
        again.remove().expect("remove");
        assert!(!tmp.path().join("exchange/001").exists());
        again.remove().expect("removing it again is no error");
        assert_eq!(runinfo.runs().expect("runs"), []);
    }

    #[test]
    fn an_element_log_is_read_by_job_id_only() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let runinfo = RunInfo::open(tmp.path()).expect("runinfo");
        let exchange = Exchange::create(&runinfo, "001").expect("exchange");
        let log = exchange.path().join("logs/42_3.log");
        std::fs::write(&log, "start\nkilled by the test\n").expect("write");
        assert_eq!(
            exchange.element_log_tail("42", 3, 19).as_deref(),
            Some("killed by the test")
        );
        assert_eq!(exchange.element_log_tail("../42", 3, 100), None);
        assert_eq!(exchange.element_log_tail("42", 4, 100), None);
    }
}
