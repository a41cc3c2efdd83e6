//! The flags `wfrun call` and `wfrun run` share: per-task limits and memoization.

use std::time::Duration;

use wf_runtime::{Limits, parse_duration};

/// Per-task limits.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Fuel per task (deterministic instruction budget; part of the task key).
    #[arg(long, value_name = "N")]
    pub fuel: Option<u64>,
    /// Wall-clock timeout per task: `500ms`, `30s`, `5m`, `1h` or HH:MM:SS. Never memoized.
    #[arg(long, value_name = "DUR", value_parser = parse_duration_arg)]
    pub timeout: Option<Duration>,
    /// Memory ceiling per task, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = Limits::DEFAULT_MEMORY_BYTES >> 20,
          value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub memory: u64,
}

pub fn parse_duration_arg(text: &str) -> Result<Duration, String> {
    parse_duration(text).map_err(|e| e.to_string())
}

impl LimitArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            fuel: self.fuel,
            timeout: self.timeout,
            memory_bytes: self.memory << 20,
        }
    }
}

/// Memoization.
#[derive(Debug, Clone, clap::Args)]
pub struct MemoArgs {
    /// Turn memoization off: nothing is looked up or recorded.
    #[arg(long)]
    pub no_memo: bool,
    /// A salt mixed into every task key, to force fresh results.
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub salt: String,
}
