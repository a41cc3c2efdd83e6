//! Settings a user gives, parsed and checked: durations, and the run configuration file
//! `wf.toml` (the analogue of Parsl's `Config`).
//!
//! A file is read into a [`RawConfig`](raw::RawConfig) by serde (unknown keys refused, every
//! value keeping its place in the file), then checked into a [`Config`]; every error names the
//! file, the line and column, and the key. The CLI then lets each flag the user gave override
//! the file. `wf.example.toml` at the repository root documents every key.

mod duration;
mod error;
mod raw;
mod settings;
mod validate;

#[cfg(test)]
mod tests;

pub use duration::{DurationError, parse_duration};
pub use error::ConfigError;
pub use settings::{CONFIG_FILE, Config, MAX_MEMORY_MIB, MAX_WORKERS};
