//! Content-addressed blobs beside a checkpoint log: `blobs/<digest hex>`.
//!
//! Architecture Invariant: a blob's file name is always the hex of a [`ValueDigest`], never a
//! name read from a record or a guest, so no blob access can leave the checkpoint directory.

use std::borrow::Cow;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cap_std::fs::Dir;

use super::atomic_file::{sync_dir, write_atomically};
use super::error::StoreError;
use super::record::{OutcomeRef, Payload, PayloadRef, RecordRef};
use crate::key::{ModuleDigest, ValueDigest};

/// Results longer than this many bytes are stored as blobs rather than inline in the record.
pub const INLINE_LIMIT: usize = 64 * 1024;

/// The blob directory's name inside a checkpoint directory.
pub(crate) const BLOBS_DIR: &str = "blobs";

/// The directory of the modules whose tasks a checkpoint records, `modules/<digest hex>.wasm`.
pub(crate) const MODULES_DIR: &str = "modules";

/// The blobs of one checkpoint directory. Cheap to clone.
#[derive(Clone)]
pub struct BlobDir {
    inner: Arc<Inner>,
}

struct Inner {
    /// The checkpoint directory (not `blobs/` itself, which may be absent when nothing large was
    /// ever stored).
    checkpoint: Dir,
    /// How the user would name the checkpoint directory.
    path: PathBuf,
}

impl std::fmt::Debug for BlobDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("BlobDir").field(&self.inner.path).finish()
    }
}

impl BlobDir {
    pub(crate) fn new(checkpoint: Dir, path: PathBuf) -> Self {
        BlobDir {
            inner: Arc::new(Inner { checkpoint, path }),
        }
    }

    /// The checkpoint directory these blobs belong to, as the user would name it.
    pub fn checkpoint_path(&self) -> &Path {
        &self.inner.path
    }

    /// Where the blob of `digest` lives, for messages.
    pub fn blob_path(&self, digest: &ValueDigest) -> PathBuf {
        self.inner.path.join(BLOBS_DIR).join(digest.to_hex())
    }

    /// The payload for a result: inline when it is at most [`INLINE_LIMIT`] bytes, otherwise
    /// stored as a blob first (durably) and referenced by digest.
    pub fn payload(&self, bytes: &[u8]) -> Result<Payload, StoreError> {
        if bytes.len() <= INLINE_LIMIT {
            return Ok(Payload::Inline(bytes.to_vec()));
        }
        let digest = self.put(bytes)?;
        Ok(Payload::Blob {
            digest,
            len: bytes.len() as u64,
        })
    }

    /// Stores `bytes` as a blob (temp file, fsync, rename, fsync of the directory) and returns its
    /// digest. A blob already present with the right length is kept as it is.
    pub fn put(&self, bytes: &[u8]) -> Result<ValueDigest, StoreError> {
        let digest = ValueDigest::of(bytes);
        self.put_named(BLOBS_DIR, &digest.to_hex(), bytes)?;
        Ok(digest)
    }

    /// Keeps a module's bytes beside the log, `modules/<digest hex>.wasm`, so that `wfrun verify`
    /// can re-execute recorded tasks from the checkpoint alone (wherever it was copied).
    pub fn put_module(&self, digest: &ModuleDigest, bytes: &[u8]) -> Result<(), StoreError> {
        self.put_named(MODULES_DIR, &format!("{}.wasm", digest.to_hex()), bytes)
    }

    /// Where the module of `digest` is kept, for messages.
    pub fn module_path(&self, digest: &ModuleDigest) -> PathBuf {
        self.inner
            .path
            .join(MODULES_DIR)
            .join(format!("{}.wasm", digest.to_hex()))
    }

    /// The bytes of a module kept by [`put_module`](Self::put_module), checked against its
    /// digest.
    pub fn module(&self, digest: &ModuleDigest) -> Result<Vec<u8>, StoreError> {
        let path = self.module_path(digest);
        let rel = format!("{MODULES_DIR}/{}.wasm", digest.to_hex());
        let bytes = self.inner.checkpoint.read(&rel).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                StoreError::ModuleMissing {
                    path: path.clone(),
                    digest: *digest,
                }
            } else {
                StoreError::io("read", &path)(e)
            }
        })?;
        match ModuleDigest::of_module(&bytes) {
            Ok(found) if found == *digest => Ok(bytes),
            _ => Err(StoreError::ModuleDamaged {
                path,
                expected: *digest,
            }),
        }
    }

    /// Writes `bytes` atomically as `dir/name` inside the checkpoint directory, creating `dir`
    /// when needed; a file already there with the same length is kept (names are digests).
    fn put_named(&self, dir: &str, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let dir_path = self.inner.path.join(dir);
        let opened = match self.inner.checkpoint.open_dir(dir) {
            Ok(opened) => opened,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match self.inner.checkpoint.create_dir(dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(StoreError::io("create directory", &dir_path)(e)),
                }
                self.inner
                    .checkpoint
                    .open_dir(dir)
                    .map_err(StoreError::io("open", &dir_path))?
            }
            Err(e) => return Err(StoreError::io("open", &dir_path)(e)),
        };
        if opened
            .metadata(name)
            .is_ok_and(|m| m.is_file() && m.len() == bytes.len() as u64)
        {
            return Ok(());
        }
        write_atomically(&opened, &dir_path, name, bytes)
    }

    /// Checks that the file `item` names is here: `Ok(Some(len))` when it is (with the length a
    /// blob's record names), `Ok(None)` when an optional one is absent, an error when a required
    /// one is missing or has the wrong length.
    pub(crate) fn check(&self, item: &Referenced) -> Result<Option<u64>, StoreError> {
        let rel = item.rel_path();
        let path = self.inner.path.join(&rel);
        let len = match self.inner.checkpoint.metadata(&rel) {
            Ok(meta) if meta.is_file() => meta.len(),
            Ok(_) => return Err(item.missing(path)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return match item {
                    Referenced::Blob { .. } => Err(item.missing(path)),
                    Referenced::File(_) | Referenced::Module(_) => Ok(None),
                };
            }
            Err(e) => return Err(StoreError::io("stat", path)(e)),
        };
        if let Referenced::Blob {
            digest,
            len: expected,
        } = *item
            && len != expected
        {
            return Err(StoreError::BlobDamaged {
                path,
                expected: digest,
                expected_len: expected,
                found: None,
                found_len: len,
            });
        }
        Ok(Some(len))
    }

    /// Puts the file `item` names into the checkpoint of `target` under the same name: a hard
    /// link when the filesystem allows it (content-addressed files never change), a durable copy
    /// otherwise. Returns whether there was one to link (an optional file may be absent). The
    /// caller syncs `target`'s directories ([`sync_dirs`](Self::sync_dirs)) before anything that
    /// names the file is made durable.
    pub(crate) fn link_into(
        &self,
        target: &BlobDir,
        item: &Referenced,
    ) -> Result<bool, StoreError> {
        let Some(len) = self.check(item)? else {
            return Ok(false);
        };
        let rel = item.rel_path();
        let (sub, name) = item.location();
        let dest = target.open_sub(sub)?;
        if dest
            .metadata(&name)
            .is_ok_and(|m| m.is_file() && m.len() == len)
        {
            return Ok(true);
        }
        let dest_path = target.inner.path.join(sub);
        match self.inner.checkpoint.hard_link(&rel, &dest, &name) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                // A file of the wrong length under a digest's name: replace it with the right one.
                self.copy_into(&rel, &dest, &dest_path, &name)
            }
            Err(_) => self.copy_into(&rel, &dest, &dest_path, &name),
        }
    }

    fn copy_into(
        &self,
        rel: &Path,
        dest: &Dir,
        dest_path: &Path,
        name: &str,
    ) -> Result<bool, StoreError> {
        let bytes = self
            .inner
            .checkpoint
            .read(rel)
            .map_err(StoreError::io("read", self.inner.path.join(rel)))?;
        write_atomically(dest, dest_path, name, &bytes)?;
        Ok(true)
    }

    /// Makes the entries of `blobs/` and `modules/` durable (after [`link_into`](Self::link_into)).
    pub(crate) fn sync_dirs(&self) -> Result<(), StoreError> {
        for sub in [BLOBS_DIR, MODULES_DIR] {
            match self.inner.checkpoint.open_dir(sub) {
                Ok(dir) => sync_dir(&dir, &self.inner.path.join(sub))?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io("open", self.inner.path.join(sub))(e)),
            }
        }
        sync_dir(&self.inner.checkpoint, &self.inner.path)
    }

    /// Opens `sub` of the checkpoint directory, creating it when missing.
    fn open_sub(&self, sub: &str) -> Result<Dir, StoreError> {
        let path = self.inner.path.join(sub);
        match self.inner.checkpoint.create_dir(sub) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(StoreError::io("create directory", &path)(e)),
        }
        self.inner
            .checkpoint
            .open_dir(sub)
            .map_err(StoreError::io("open", &path))
    }

    /// Reads the blob of `digest` and checks that it is `len` bytes with that digest.
    pub fn get(&self, digest: &ValueDigest, len: u64) -> Result<Vec<u8>, StoreError> {
        let rel = format!("{BLOBS_DIR}/{}", digest.to_hex());
        let path = self.blob_path(digest);
        let missing = |e: io::Error, op| {
            if e.kind() == io::ErrorKind::NotFound {
                StoreError::BlobMissing {
                    path: path.clone(),
                    digest: *digest,
                }
            } else {
                StoreError::io(op, &path)(e)
            }
        };
        // Check the length first so that a damaged blob cannot make us read gigabytes.
        let found_len = self
            .inner
            .checkpoint
            .metadata(&rel)
            .map_err(|e| missing(e, "stat"))?
            .len();
        if found_len != len {
            return Err(StoreError::BlobDamaged {
                path,
                expected: *digest,
                expected_len: len,
                found: None,
                found_len,
            });
        }
        let bytes = self
            .inner
            .checkpoint
            .read(&rel)
            .map_err(|e| missing(e, "read"))?;
        let found = ValueDigest::of(&bytes);
        if found != *digest || bytes.len() as u64 != len {
            return Err(StoreError::BlobDamaged {
                path,
                expected: *digest,
                expected_len: len,
                found: Some(found),
                found_len: bytes.len() as u64,
            });
        }
        Ok(bytes)
    }

    /// The bytes of a payload: borrowed when inline, read and checked when a blob.
    pub fn resolve<'a>(&self, payload: &PayloadRef<'a>) -> Result<Cow<'a, [u8]>, StoreError> {
        match *payload {
            PayloadRef::Inline(bytes) => Ok(Cow::Borrowed(bytes)),
            PayloadRef::Blob { digest, len } => self.get(&digest, len).map(Cow::Owned),
        }
    }
}

/// A file beside a log that a record refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Referenced {
    /// A blob the record cannot do without: a large result, a large argument, an output file.
    Blob {
        /// Its digest.
        digest: ValueDigest,
        /// Its length as the record names it.
        len: u64,
    },
    /// An input file the task read, kept by digest when it was another task's output in the same
    /// checkpoint (files from input directories are not kept): optional.
    File(ValueDigest),
    /// The module the record's app lives in, kept for `wfrun verify`: optional.
    Module(ModuleDigest),
}

impl Referenced {
    /// Every file `record` refers to: its result, arguments and output files (required), the
    /// files it read and its module (kept when present). Errs when the record's inputs do not
    /// decode.
    pub(crate) fn of(record: &RecordRef<'_>) -> Result<Vec<Referenced>, postcard::Error> {
        let mut items = Vec::new();
        let blob = |payload: &PayloadRef<'_>| match *payload {
            PayloadRef::Blob { digest, len } => Some(Referenced::Blob { digest, len }),
            PayloadRef::Inline(_) => None,
        };
        if let OutcomeRef::Ok(payload) = &record.outcome {
            items.extend(blob(payload));
        }
        items.extend(record.outputs.iter().map(|o| Referenced::Blob {
            digest: o.digest,
            len: o.len,
        }));
        let inputs = record.inputs()?;
        items.extend(inputs.args.iter().filter_map(blob));
        items.extend(inputs.files.iter().copied().map(Referenced::File));
        items.push(Referenced::Module(record.module));
        Ok(items)
    }

    /// Its directory inside a checkpoint and its file name there.
    fn location(&self) -> (&'static str, String) {
        match self {
            Referenced::Blob { digest, .. } | Referenced::File(digest) => {
                (BLOBS_DIR, digest.to_hex())
            }
            Referenced::Module(digest) => (MODULES_DIR, format!("{}.wasm", digest.to_hex())),
        }
    }

    fn rel_path(&self) -> PathBuf {
        let (sub, name) = self.location();
        Path::new(sub).join(name)
    }

    fn missing(&self, path: PathBuf) -> StoreError {
        match *self {
            Referenced::Blob { digest, .. } | Referenced::File(digest) => {
                StoreError::BlobMissing { path, digest }
            }
            Referenced::Module(digest) => StoreError::ModuleMissing { path, digest },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cap_std::ambient_authority;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn blob_dir(path: &Path) -> Result<BlobDir, Box<dyn std::error::Error>> {
        let dir = Dir::open_ambient_dir(path, ambient_authority())?;
        Ok(BlobDir::new(dir, path.to_owned()))
    }

    #[test]
    fn small_results_stay_inline_large_ones_become_blobs() -> TestResult {
        let tmp = tempfile::tempdir()?;
        let blobs = blob_dir(tmp.path())?;
        assert_eq!(blobs.payload(b"abc")?, Payload::Inline(b"abc".to_vec()));
        let big = vec![7u8; INLINE_LIMIT + 1];
        let Payload::Blob { digest, len } = blobs.payload(&big)? else {
            panic!("expected a blob");
        };
        assert_eq!(digest, ValueDigest::of(&big));
        assert_eq!(len, big.len() as u64);
        assert_eq!(blobs.get(&digest, len)?, big);
        // Storing again is a no-op, and no temp file is left behind.
        blobs.put(&big)?;
        let names: Vec<_> = std::fs::read_dir(tmp.path().join(BLOBS_DIR))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        assert_eq!(names, vec![std::ffi::OsString::from(digest.to_hex())]);
        Ok(())
    }

    #[test]
    fn missing_and_tampered_blobs_are_reported() -> TestResult {
        let tmp = tempfile::tempdir()?;
        let blobs = blob_dir(tmp.path())?;
        let digest = blobs.put(b"hello world")?;
        let file = tmp.path().join(BLOBS_DIR).join(digest.to_hex());
        std::fs::write(&file, b"hello wOrld")?;
        assert!(matches!(
            blobs.get(&digest, 11),
            Err(StoreError::BlobDamaged { found: Some(_), .. })
        ));
        std::fs::write(&file, b"short")?;
        assert!(matches!(
            blobs.get(&digest, 11),
            Err(StoreError::BlobDamaged { found: None, .. })
        ));
        std::fs::remove_file(&file)?;
        assert!(matches!(
            blobs.get(&digest, 11),
            Err(StoreError::BlobMissing { .. })
        ));
        Ok(())
    }
}
