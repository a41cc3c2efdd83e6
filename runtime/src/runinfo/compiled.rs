//! The compiled-module cache under `runinfo/compiled/`: wasmtime artifacts named by module digest
//! and engine fingerprint, so the second start of a module does not compile it again.

use std::path::{Path, PathBuf};

use cap_std::fs::Dir;

use super::atomic_file::write_atomically;
use super::error::StoreError;
use super::runs::RunInfo;
use crate::sandbox::ArtifactStore;

/// The cache directory's name inside the runinfo root.
const COMPILED_DIR: &str = "compiled";

/// The compiled-module cache of a runinfo directory.
#[derive(Debug)]
pub struct CompiledCache {
    dir: Dir,
    path: PathBuf,
}

impl CompiledCache {
    /// Opens (creating it if missing) the cache of `runinfo`.
    pub fn open(runinfo: &RunInfo) -> Result<CompiledCache, StoreError> {
        let (dir, path) = runinfo.engine_dir(COMPILED_DIR)?;
        Ok(CompiledCache { dir, path })
    }

    /// Where the cache lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Artifact names are made by the sandbox from hex digests: anything else is refused, so no name
/// can leave the directory.
fn is_artifact_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

impl ArtifactStore for CompiledCache {
    fn open(&self, name: &str) -> Option<std::fs::File> {
        if !is_artifact_name(name) {
            return None;
        }
        self.dir.open(name).ok().map(cap_std::fs::File::into_std)
    }

    fn save(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        if !is_artifact_name(name) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not an artifact name",
            ));
        }
        write_atomically(&self.dir, &self.path, name, bytes).map_err(std::io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let runinfo = RunInfo::open(tmp.path()).expect("runinfo");
        let cache = CompiledCache::open(&runinfo).expect("cache");
        for bad in ["../x", "a/b", ".hidden", "", ".."] {
            assert!(cache.save(bad, b"x").is_err(), "{bad}");
            assert!(cache.open(bad).is_none(), "{bad}");
        }
        cache.save("abc-123.cwasm", b"bytes").expect("save");
        assert!(cache.open("abc-123.cwasm").is_some());
        // The cache is not a run.
        assert!(runinfo.runs().expect("runs").is_empty());
    }
}
