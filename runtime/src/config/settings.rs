//! [`Config`]: a run's settings, checked, with their defaults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::{ConfigError, Source};
use super::raw::RawConfig;
use crate::{Limits, RawPolicy, RunnerConfig};

/// The config file `wfrun` reads from the current directory when `--config` does not name one.
pub const CONFIG_FILE: &str = "wf.toml";

/// The most worker threads a run may ask for (`workers`, `-j`).
pub const MAX_WORKERS: u32 = 1024;

/// The highest per-task memory ceiling, in MiB (`limits.memory`, `--memory`): a wasm32 memory
/// holds at most 4 GiB.
pub const MAX_MEMORY_MIB: u64 = 4096;

/// A run's settings, checked: what `wf.toml` says, with a default for everything it leaves out.
/// Paths are already resolved against the file's directory. The CLI overrides fields with the
/// flags given, then builds a [`RunnerConfig`] with [`Config::runner_config`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The file these settings came from; `None` for the defaults.
    pub source: Option<PathBuf>,
    /// The workflow `wfrun run` starts (default `main`).
    pub entry: String,
    /// Worker threads; `None`: one per core.
    pub workers: Option<u32>,
    /// The directory holding runs, checkpoints and the compiled-module cache (default
    /// `runinfo`).
    pub runinfo: PathBuf,
    /// Whether results are memoized at all.
    pub memoize: bool,
    /// Mixed into every task key, to force fresh results.
    pub salt: String,
    /// Record deterministic guest failures and reuse them.
    pub cache_failures: bool,
    /// Reuse the results of every earlier run in `runinfo`.
    pub resume: bool,
    /// Reuse the results of these checkpoint directories.
    pub checkpoint_files: Vec<PathBuf>,
    /// Directories whose files workflows may name as inputs (read-only).
    pub input_dirs: Vec<PathBuf>,
    /// Where the output files of a run's tasks are copied at the end.
    pub output_dir: Option<PathBuf>,
    /// When finished tasks are recorded, and the apps never recorded. Checked when it came
    /// from a file; kept in its raw form because flags may still replace parts of it.
    pub checkpoint: RawPolicy,
    /// Retries of a failed task, for every app...
    pub retries: u32,
    /// ...unless given for the app here.
    pub app_retries: BTreeMap<String, u32>,
    /// Per-task limits.
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            source: None,
            entry: "main".into(),
            workers: None,
            runinfo: PathBuf::from("runinfo"),
            memoize: true,
            salt: String::new(),
            cache_failures: false,
            resume: false,
            checkpoint_files: Vec::new(),
            input_dirs: Vec::new(),
            output_dir: None,
            checkpoint: RawPolicy {
                mode: "task_exit".into(),
                ..RawPolicy::default()
            },
            retries: 0,
            app_retries: BTreeMap::new(),
            limits: Limits::default(),
        }
    }
}

impl Config {
    /// Parses and checks the text of a config file. `path` names the file in errors, and
    /// relative paths in it are resolved against its directory.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let source = Source { text, path };
        let raw: RawConfig = toml::from_str(text).map_err(|e| source.toml_error(&e))?;
        let base = path.parent().unwrap_or(Path::new(""));
        let mut config = raw.validate(&source, base)?;
        config.source = Some(path.to_path_buf());
        Ok(config)
    }

    /// Reads and checks the config file at `path`; a missing file is an error.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Like [`Config::load`], but `Ok(None)` when there is no file at `path`.
    pub fn load_if_present(path: &Path) -> Result<Option<Config>, ConfigError> {
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            _ => Config::load(path).map(Some),
        }
    }

    /// The engine's configuration for these settings.
    pub fn runner_config(&self) -> RunnerConfig {
        let defaults = RunnerConfig::default();
        RunnerConfig {
            workers: self.workers.map_or(defaults.workers, |n| n as usize),
            limits: self.limits,
            retries: self.retries,
            app_retries: self.app_retries.clone(),
            memoize: self.memoize,
            salt: self.salt.clone(),
            input_dirs: self.input_dirs.clone(),
            checkpoint: self.checkpoint.clone(),
            cache_failures: self.cache_failures,
        }
    }
}
