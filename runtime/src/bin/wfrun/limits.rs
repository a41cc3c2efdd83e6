//! The flags `wfrun call` and `wfrun run` share: per-task limits and memoization. Each is
//! optional: a flag given overrides the config file, one left out keeps the file's value.

use std::time::Duration;

use wf_runtime::{Config, MAX_MEMORY_MIB, parse_duration};

/// Per-task limits.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Fuel per task (deterministic instruction budget; part of the task key).
    #[arg(long, value_name = "N")]
    pub fuel: Option<u64>,
    /// Wall-clock timeout per task: `500ms`, `30s`, `5m`, `1h` or HH:MM:SS. Never memoized.
    #[arg(long, value_name = "DUR", value_parser = parse_duration_arg)]
    pub timeout: Option<Duration>,
    /// Memory ceiling per task, in MiB [default: 1024].
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..=MAX_MEMORY_MIB))]
    pub memory: Option<u64>,
}

pub fn parse_duration_arg(text: &str) -> Result<Duration, String> {
    parse_duration(text).map_err(|e| e.to_string())
}

impl LimitArgs {
    /// Overrides the limits of `config` with the flags given.
    pub fn apply(&self, config: &mut Config) {
        if self.fuel.is_some() {
            config.limits.fuel = self.fuel;
        }
        if self.timeout.is_some() {
            config.limits.timeout = self.timeout;
        }
        if let Some(mib) = self.memory {
            config.limits.memory_bytes = mib << 20;
        }
    }
}

/// Memoization.
#[derive(Debug, Clone, clap::Args)]
pub struct MemoArgs {
    /// Turn memoization off: nothing is looked up or recorded.
    #[arg(long, overrides_with = "memo")]
    pub no_memo: bool,
    /// Turn memoization on, whatever the config file says (the default).
    #[arg(long, overrides_with = "no_memo")]
    pub memo: bool,
    /// A salt mixed into every task key, to force fresh results [default: none].
    #[arg(long, value_name = "TEXT")]
    pub salt: Option<String>,
}

impl MemoArgs {
    /// Overrides the memoization settings of `config` with the flags given.
    pub fn apply(&self, config: &mut Config) {
        if let Some(memoize) = switch(self.memo, self.no_memo) {
            config.memoize = memoize;
        }
        if let Some(salt) = &self.salt {
            config.salt.clone_from(salt);
        }
    }
}

/// A pair of flags `--X`/`--no-X` (the last given wins): `None` when neither was given, so the
/// config file's value stands.
pub fn switch(on: bool, off: bool) -> Option<bool> {
    match (on, off) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    }
}
