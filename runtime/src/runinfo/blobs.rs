//! Content-addressed blobs beside a checkpoint log: `blobs/<digest hex>`.
//!
//! Architecture Invariant: a blob's file name is always the hex of a [`ValueDigest`], never a
//! name read from a record or a guest, so no blob access can leave the checkpoint directory.

use std::borrow::Cow;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cap_std::fs::Dir;

use super::atomic_file::write_atomically;
use super::error::StoreError;
use super::record::{Payload, PayloadRef};
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
