//! `wf.toml` as written: the serde form, every table closed to unknown keys and every value
//! that still needs checking kept with its span in the file.
//!
//! A new table (such as `[slurm]` for a cluster executor) is a new optional field here, a
//! `#[serde(deny_unknown_fields)]` struct of its own, and a check in `validate`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// The whole file. Top-level keys are named after the `wfrun run` flags they stand for.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub entry: Option<Spanned<String>>,
    pub workers: Option<Spanned<u64>>,
    pub runinfo: Option<Spanned<String>>,
    pub memoize: Option<bool>,
    pub salt: Option<String>,
    pub cache_failures: Option<bool>,
    pub resume: Option<bool>,
    pub checkpoint_files: Option<Vec<Spanned<String>>>,
    pub input_dirs: Option<Vec<Spanned<String>>>,
    pub output_dir: Option<Spanned<String>>,
    pub checkpoint: Option<Spanned<RawCheckpoint>>,
    pub limits: Option<RawLimits>,
    pub retries: Option<RawRetries>,
}

/// `[checkpoint]`: when finished tasks are recorded.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCheckpoint {
    pub mode: Option<Spanned<String>>,
    pub period: Option<Spanned<String>>,
    pub n: Option<Spanned<u64>>,
    pub avoid: Option<Vec<Spanned<String>>>,
}

/// `[limits]`: per task.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    pub fuel: Option<u64>,
    pub timeout: Option<Spanned<String>>,
    pub memory: Option<Spanned<u64>>,
}

/// `[retries]`: `default` for every app, `[retries.apps]` per app.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetries {
    pub default: Option<u32>,
    pub apps: Option<BTreeMap<Spanned<String>, u32>>,
}
