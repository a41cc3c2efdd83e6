//! Slurm, the batch system: its settings ([`SlurmConfig`]) and the only code that runs its
//! commands (`sbatch`, `squeue`, `scancel`). The executor's Slurm backend decides what to submit;
//! this module only talks to Slurm.
//!
//! Written against Slurm 22.05 (Debian 12's): no `sbatch --wait` (it polls slowly), no `sacct`
//! (clusters without accounting have none), no dependencies between jobs (`afterok` waits
//! forever after a failed element), and `squeue -h -o` rather than `--json`, whose schema changes
//! between versions.

mod commands;

use std::path::PathBuf;
use std::time::Duration;

pub(crate) use commands::{ArrayElement, Submission, cancel, queued_elements, submit_array};

/// How runs use Slurm: `wfrun run --executor slurm` and its `--slurm-*` flags, and meant to be
/// what a `[slurm]` table of a configuration file maps onto.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlurmConfig {
    /// `--partition`, when not the cluster's default.
    pub partition: Option<String>,
    /// `--account`, when one must be charged.
    pub account: Option<String>,
    /// `--time` of each array element (Slurm's syntax: `MM`, `HH:MM:SS`, `D-HH`...).
    pub time: Option<String>,
    /// Tasks per array element (at least 1).
    pub chunk: usize,
    /// Array elements per `sbatch` (at most the cluster's `MaxArraySize`).
    pub max_array: usize,
    /// More arguments for every `sbatch`, as given (`--mem=2G`, `--qos=short`...).
    pub sbatch_args: Vec<String>,
    /// How long ready tasks wait for more to fill a chunk before they are submitted anyway.
    pub flush_delay: Duration,
    /// How often the head looks for results.
    pub poll_interval: Duration,
    /// How often the head asks `squeue` which elements are still queued or running.
    pub queue_interval: Duration,
    /// How many times a chunk whose element ended without its completion record is submitted
    /// again before its tasks fail (an infrastructure failure, never memoized).
    pub resubmits: u32,
    /// The `wfrun` binary the elements run (`wfrun worker ...`); default: this process's own
    /// executable, which must be reachable from the compute nodes.
    pub worker_program: Option<PathBuf>,
}

impl Default for SlurmConfig {
    fn default() -> Self {
        SlurmConfig {
            partition: None,
            account: None,
            time: None,
            chunk: 16,
            max_array: 1000,
            sbatch_args: Vec::new(),
            flush_delay: Duration::from_millis(200),
            poll_interval: Duration::from_millis(100),
            queue_interval: Duration::from_secs(1),
            resubmits: 2,
            worker_program: None,
        }
    }
}

impl SlurmConfig {
    /// Checks the settings a user gave: a chunk and an array of at least one, and no argument
    /// that the executor sets itself.
    pub fn validate(&self) -> Result<(), String> {
        if self.chunk == 0 {
            return Err("the Slurm chunk size must be at least 1 task".to_owned());
        }
        if self.max_array == 0 {
            return Err("the Slurm array size must be at least 1 element".to_owned());
        }
        for arg in &self.sbatch_args {
            let name = arg.split('=').next().unwrap_or(arg);
            if RESERVED_SBATCH_ARGS.contains(&name) {
                return Err(format!(
                    "the sbatch argument `{arg}` is set by wf itself and cannot be given"
                ));
            }
        }
        Ok(())
    }
}

/// `sbatch` options the backend sets and a user must not override.
const RESERVED_SBATCH_ARGS: &[&str] = &[
    "--array",
    "-a",
    "--output",
    "-o",
    "--error",
    "-e",
    "--job-name",
    "-J",
    "--parsable",
    "--wrap",
    "--wait",
    "-W",
    "--chdir",
    "-D",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_that_cannot_work_are_refused() {
        assert!(SlurmConfig::default().validate().is_ok());
        let zero = SlurmConfig {
            chunk: 0,
            ..SlurmConfig::default()
        };
        assert!(zero.validate().expect_err("refused").contains("chunk"));
        let array = SlurmConfig {
            sbatch_args: vec!["--mem=1G".into(), "--array=0-3".into()],
            ..SlurmConfig::default()
        };
        assert!(
            array
                .validate()
                .expect_err("refused")
                .contains("`--array=0-3`")
        );
    }
}
