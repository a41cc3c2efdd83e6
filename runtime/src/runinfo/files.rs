//! Files of tasks: the input directories the user granted, each task's own `in/` and `out/`
//! directories, and output files stored as blobs by content.
//!
//! Architecture Invariant: a guest sees only `tasks/<key>.files/in/<digest hex>` for the files
//! its arguments name (read-only) and its own `out/`; an input name from a workflow is resolved
//! below a granted directory through cap-std, so it cannot leave it.

use std::io::Read as _;
use std::path::{Component, Path, PathBuf};

use cap_std::fs::{Dir, OpenOptions};

use super::blobs::BlobDir;
use super::error::StoreError;
use super::record::OutputFile;
use super::runs::RunHandle;
use crate::key::{TaskKey, ValueDigest};

/// The directories whose files a workflow may name, read-only.
#[derive(Debug, Default)]
pub struct InputDirs {
    dirs: Vec<(Dir, PathBuf)>,
}

/// Whether `name` is a relative path of normal components (no `..`, no root, not empty).
fn is_relative_name(name: &str) -> bool {
    let path = Path::new(name);
    !name.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)))
}

impl InputDirs {
    /// Opens the granted directories (the edge: the paths the user named).
    pub fn open(paths: &[PathBuf]) -> Result<InputDirs, StoreError> {
        let dirs = paths
            .iter()
            .map(|path| {
                Dir::open_ambient_dir(path, cap_std::ambient_authority())
                    .map(|dir| (dir, path.clone()))
                    .map_err(StoreError::io("open input directory", path))
            })
            .collect::<Result<_, _>>()?;
        Ok(InputDirs { dirs })
    }

    /// Whether any directory was granted.
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
    }

    /// The names of every regular file below the granted directories (symlinks are not
    /// followed), for finding a file by content. Unreadable directories are skipped.
    pub fn names(&self) -> Vec<String> {
        fn walk(dir: &Dir, prefix: &str, names: &mut Vec<String>) {
            let Ok(entries) = dir.entries() else {
                return;
            };
            for entry in entries.flatten() {
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                let full = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}/{name}")
                };
                match entry.file_type() {
                    Ok(kind) if kind.is_dir() => {
                        if let Ok(sub) = dir.open_dir(&name) {
                            walk(&sub, &full, names);
                        }
                    }
                    Ok(kind) if kind.is_file() => names.push(full),
                    _ => {}
                }
            }
        }
        let mut names = Vec::new();
        for (dir, _) in &self.dirs {
            walk(dir, "", &mut names);
        }
        names.sort();
        names.dedup();
        names
    }

    /// The content of input file `name`, from the first granted directory that has it.
    pub fn read(&self, name: &str) -> Result<Vec<u8>, String> {
        if !is_relative_name(name) {
            return Err(format!(
                "`{name}` is not a relative file name below an input directory (no `..`, no leading `/`)"
            ));
        }
        if self.dirs.is_empty() {
            return Err(format!(
                "the workflow asked for input file `{name}`, but no input directory was granted (use --input-dir DIR)"
            ));
        }
        for (dir, _) in &self.dirs {
            if let Ok(mut file) = dir.open(name) {
                let mut bytes = Vec::new();
                return file
                    .read_to_end(&mut bytes)
                    .map(|_| bytes)
                    .map_err(|e| format!("reading input file `{name}`: {e}"));
            }
        }
        let searched: Vec<String> = self
            .dirs
            .iter()
            .map(|(_, p)| p.display().to_string())
            .collect();
        Err(format!("no input file `{name}` in {}", searched.join(", ")))
    }
}

/// A task's file directories: `in/` (its input files, by digest) and `out/` (what it writes).
#[derive(Debug)]
pub struct TaskFileDirs {
    /// The host path of `in/`, preopened read-only in the guest.
    pub input: PathBuf,
    /// The host path of `out/`, preopened writable in the guest.
    pub output: PathBuf,
    input_dir: Dir,
    output_dir: Dir,
}

impl RunHandle {
    /// Creates fresh `tasks/<key>.files/{in,out}` for an attempt of a task that takes or makes
    /// files (an earlier attempt's leftovers are removed first).
    pub fn task_file_dirs(&self, key: &TaskKey) -> Result<TaskFileDirs, StoreError> {
        self.open_task_file_dirs(key, true)
    }

    /// Opens the file directories an attempt of the task made, to collect its outputs.
    pub fn existing_task_file_dirs(&self, key: &TaskKey) -> Result<TaskFileDirs, StoreError> {
        self.open_task_file_dirs(key, false)
    }

    fn open_task_file_dirs(&self, key: &TaskKey, fresh: bool) -> Result<TaskFileDirs, StoreError> {
        let (tasks, tasks_path) = self.tasks_dir();
        let name = format!("{}.files", key.to_hex());
        let root_path = tasks_path.join(&name);
        if fresh && tasks.exists(&name) {
            tasks
                .remove_dir_all(&name)
                .map_err(StoreError::io("clear", &root_path))?;
        }
        for sub in ["in", "out"] {
            tasks
                .create_dir_all(Path::new(&name).join(sub))
                .map_err(StoreError::io("create", root_path.join(sub)))?;
        }
        let open = |sub: &str| {
            tasks
                .open_dir(Path::new(&name).join(sub))
                .map_err(StoreError::io("open", root_path.join(sub)))
        };
        let input = std::path::absolute(root_path.join("in")).unwrap_or(root_path.join("in"));
        let output = std::path::absolute(root_path.join("out")).unwrap_or(root_path.join("out"));
        Ok(TaskFileDirs {
            input,
            output,
            input_dir: open("in")?,
            output_dir: open("out")?,
        })
    }
}

impl TaskFileDirs {
    /// Places an input file (by digest) where the guest will look for it.
    pub fn place(&self, digest: &ValueDigest, bytes: &[u8]) -> Result<(), StoreError> {
        let name = digest.to_hex();
        let path = self.input.join(&name);
        let mut file = self
            .input_dir
            .open_with(
                &name,
                OpenOptions::new().write(true).create(true).truncate(true),
            )
            .map_err(StoreError::io("create", &path))?;
        std::io::Write::write_all(&mut file, bytes).map_err(StoreError::io("write", &path))
    }

    /// Stores every file the task wrote in `out/` as a blob of `blobs`; their names and digests.
    /// Only plain files directly in `out/` count.
    pub fn collect_outputs(&self, blobs: &BlobDir) -> Result<Vec<OutputFile>, StoreError> {
        let mut outputs = Vec::new();
        let entries = self
            .output_dir
            .entries()
            .map_err(StoreError::io("list", &self.output))?;
        for entry in entries {
            let entry = entry.map_err(StoreError::io("list", &self.output))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if !entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let path = self.output.join(&name);
            let bytes = self
                .output_dir
                .read(&name)
                .map_err(StoreError::io("read", &path))?;
            let digest = blobs.put(&bytes)?;
            outputs.push(OutputFile {
                name,
                digest,
                len: bytes.len() as u64,
            });
        }
        outputs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(outputs)
    }
}

/// Where `--output-dir` copies the run's output files.
#[derive(Debug)]
pub struct OutputDir {
    dir: Dir,
    path: PathBuf,
}

impl OutputDir {
    /// Creates (if missing) and opens the directory the user named.
    pub fn create(path: &Path) -> Result<OutputDir, StoreError> {
        Dir::create_ambient_dir_all(path, cap_std::ambient_authority())
            .map_err(StoreError::io("create", path))?;
        let dir = Dir::open_ambient_dir(path, cap_std::ambient_authority())
            .map_err(StoreError::io("open", path))?;
        Ok(OutputDir {
            dir,
            path: path.to_path_buf(),
        })
    }

    /// Writes `name` (a plain file name, as recorded) with `bytes`.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, StoreError> {
        if !is_relative_name(name) || name.contains('/') {
            return Err(StoreError::InvalidName {
                name: name.to_owned(),
                what: "output file name",
            });
        }
        let path = self.path.join(name);
        self.dir
            .write(name, bytes)
            .map_err(StoreError::io("write", &path))?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_names_cannot_escape_their_directory() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(tmp.path().join("data")).expect("mkdir");
        std::fs::write(tmp.path().join("data/a.txt"), "A").expect("write");
        std::fs::write(tmp.path().join("secret.txt"), "S").expect("write");
        let dirs = InputDirs::open(&[tmp.path().join("data")]).expect("open");
        assert_eq!(dirs.read("a.txt").expect("a"), b"A");
        for bad in [
            "../secret.txt",
            "/etc/passwd",
            "",
            ".",
            "a/../../secret.txt",
        ] {
            assert!(dirs.read(bad).is_err(), "{bad}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(tmp.path().join("secret.txt"), tmp.path().join("data/link"))
                .expect("symlink");
            assert!(
                dirs.read("link").is_err(),
                "a symlink out of the directory is refused"
            );
        }
        let none = InputDirs::default();
        assert!(
            none.read("a.txt")
                .expect_err("nothing granted")
                .contains("--input-dir")
        );
    }
}
