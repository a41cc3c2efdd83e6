//! [`RawConfig`] → [`Config`]: every value checked, with the key and place of the first bad one.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::error::{ConfigError, Source};
use super::parse_duration;
use super::raw::{RawCheckpoint, RawConfig, RawLimits, RawRetries};
use super::settings::{Config, MAX_MEMORY_MIB, MAX_WORKERS};
use crate::{PolicyConfig, PolicyError, RawPolicy};

impl RawConfig {
    /// Checks every value; relative paths are resolved against `base`, the file's directory.
    pub(super) fn validate(self, source: &Source<'_>, base: &Path) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        if let Some(entry) = self.entry {
            if entry.get_ref().trim().is_empty() {
                return Err(source.error(entry.span(), "entry", "must name a workflow"));
            }
            config.entry = entry.into_inner();
        }
        if let Some(workers) = self.workers {
            config.workers = Some(in_range(
                source,
                &workers,
                "workers",
                1,
                MAX_WORKERS.into(),
            )?);
        }
        if let Some(runinfo) = self.runinfo {
            config.runinfo = path(source, base, runinfo, "runinfo")?;
        }
        config.memoize = self.memoize.unwrap_or(config.memoize);
        config.salt = self.salt.unwrap_or(config.salt);
        config.cache_failures = self.cache_failures.unwrap_or(config.cache_failures);
        config.resume = self.resume.unwrap_or(config.resume);
        for dir in self.checkpoint_files.unwrap_or_default() {
            let dir = path(source, base, dir, "checkpoint_files")?;
            config.checkpoint_files.push(dir);
        }
        for dir in self.input_dirs.unwrap_or_default() {
            config
                .input_dirs
                .push(path(source, base, dir, "input_dirs")?);
        }
        if let Some(dir) = self.output_dir {
            config.output_dir = Some(path(source, base, dir, "output_dir")?);
        }
        if let Some(checkpoint) = self.checkpoint {
            config.checkpoint = policy(source, checkpoint)?;
        }
        if let Some(limits) = self.limits {
            limits.apply(source, &mut config)?;
        }
        if let Some(retries) = self.retries {
            retries.apply(source, &mut config)?;
        }
        Ok(config)
    }
}

impl RawLimits {
    fn apply(self, source: &Source<'_>, config: &mut Config) -> Result<(), ConfigError> {
        if self.fuel.is_some() {
            config.limits.fuel = self.fuel;
        }
        if let Some(timeout) = self.timeout {
            let parsed = parse_duration(timeout.get_ref())
                .map_err(|e| source.error(timeout.span(), "limits.timeout", e.to_string()))?;
            config.limits.timeout = Some(parsed);
        }
        if let Some(memory) = self.memory {
            let mib = in_range(source, &memory, "limits.memory", 1, MAX_MEMORY_MIB)?;
            config.limits.memory_bytes = u64::from(mib) << 20;
        }
        Ok(())
    }
}

impl RawRetries {
    fn apply(self, source: &Source<'_>, config: &mut Config) -> Result<(), ConfigError> {
        config.retries = self.default.unwrap_or(config.retries);
        for (app, n) in self.apps.unwrap_or_default() {
            if app.get_ref().trim().is_empty() {
                return Err(source.error(app.span(), "retries.apps", "an app name is empty"));
            }
            config.app_retries.insert(app.into_inner(), n);
        }
        Ok(())
    }
}

/// Checks `[checkpoint]` as the runner will, and places each possible error at the key it is
/// about.
fn policy(source: &Source<'_>, table: Spanned<RawCheckpoint>) -> Result<RawPolicy, ConfigError> {
    let table_span = table.span();
    let RawCheckpoint {
        mode,
        period,
        n,
        avoid,
    } = table.into_inner();
    let mut avoided = Vec::new();
    for app in avoid.unwrap_or_default() {
        if app.get_ref().trim().is_empty() {
            return Err(source.error(app.span(), "checkpoint.avoid", "an app name is empty"));
        }
        avoided.push(app.into_inner());
    }
    let raw = RawPolicy {
        mode: mode
            .as_ref()
            .map_or_else(|| "task_exit".to_owned(), |m| m.get_ref().clone()),
        period: period.as_ref().map(|p| p.get_ref().clone()),
        n: n.as_ref().map(|n| *n.get_ref()),
        avoid: avoided,
    };
    let Err(error) = PolicyConfig::try_from(raw.clone()) else {
        return Ok(raw);
    };
    let span_of = |span: Option<Range<usize>>| span.unwrap_or_else(|| table_span.clone());
    let mode_span = span_of(mode.as_ref().map(Spanned::span));
    let period_span = span_of(period.as_ref().map(Spanned::span));
    let n_span = span_of(n.as_ref().map(Spanned::span));
    let (span, key) = match &error {
        PolicyError::UnknownMode { .. }
        | PolicyError::MissingPeriod
        | PolicyError::MissingCount { .. } => (mode_span, "checkpoint.mode"),
        PolicyError::BadPeriod(_)
        | PolicyError::ZeroPeriod { .. }
        | PolicyError::UnusedPeriod { .. } => (period_span, "checkpoint.period"),
        PolicyError::ZeroCount { .. } | PolicyError::UnusedCount { .. } => (n_span, "checkpoint.n"),
    };
    Err(source.error(span, key, error.to_string()))
}

/// A path from the file: not empty, relative to the file's directory.
fn path(
    source: &Source<'_>,
    base: &Path,
    value: Spanned<String>,
    key: &str,
) -> Result<PathBuf, ConfigError> {
    if value.get_ref().is_empty() {
        return Err(source.error(value.span(), key, "an empty path"));
    }
    Ok(base.join(value.get_ref()))
}

/// A whole number in `low..=high`.
fn in_range(
    source: &Source<'_>,
    value: &Spanned<u64>,
    key: &str,
    low: u64,
    high: u64,
) -> Result<u32, ConfigError> {
    let n = *value.get_ref();
    if n < low || n > high {
        return Err(source.error(
            value.span(),
            key,
            format!("{n} is out of range: use {low} to {high}"),
        ));
    }
    u32::try_from(n).map_err(|_| source.error(value.span(), key, format!("{n} is too large")))
}
