//! `--executor local|slurm` and the `--slurm-*` flags of `wfrun run`.

use wf_runtime::{Executor, SlurmConfig};

/// Where tasks execute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExecutorKind {
    // Worker threads of this process (-j). (Plain comments: doc comments would switch the
    // whole help of `wfrun run` to its long form.)
    Local,
    // Slurm job arrays over the shared runinfo directory.
    Slurm,
}

/// The executor and its settings.
#[derive(Debug, Clone, clap::Args)]
pub struct ExecutorArgs {
    /// Where tasks execute: local (threads of this process) or slurm (job arrays; the runinfo
    /// directory must be on a file system the compute nodes share).
    #[arg(long, value_enum, value_name = "KIND", default_value = "local")]
    executor: ExecutorKind,
    /// Slurm: the partition to submit to.
    #[arg(long, value_name = "NAME")]
    slurm_partition: Option<String>,
    /// Slurm: the account to charge.
    #[arg(long, value_name = "NAME")]
    slurm_account: Option<String>,
    /// Slurm: the time limit of each array element, in Slurm's syntax (e.g. 30, 1:00:00).
    #[arg(long, value_name = "TIME")]
    slurm_time: Option<String>,
    /// Slurm: tasks per array element.
    #[arg(long, value_name = "N", default_value_t = SlurmConfig::default().chunk as u32,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    slurm_chunk: u32,
    /// Slurm: array elements per sbatch (at most the cluster's MaxArraySize).
    #[arg(long, value_name = "N", default_value_t = SlurmConfig::default().max_array as u32,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    slurm_max_array: u32,
    /// Slurm: one more argument for every sbatch, e.g. --slurm-sbatch-arg=--mem=2G (repeatable).
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    slurm_sbatch_arg: Vec<String>,
}

impl ExecutorArgs {
    /// The executor the flags describe; Slurm flags without `--executor slurm` are an error.
    pub fn executor(self) -> anyhow::Result<Executor> {
        let slurm = SlurmConfig {
            partition: self.slurm_partition,
            account: self.slurm_account,
            time: self.slurm_time,
            chunk: self.slurm_chunk as usize,
            max_array: self.slurm_max_array as usize,
            sbatch_args: self.slurm_sbatch_arg,
            ..SlurmConfig::default()
        };
        match self.executor {
            ExecutorKind::Local => {
                let defaults = SlurmConfig::default();
                anyhow::ensure!(
                    slurm.partition.is_none()
                        && slurm.account.is_none()
                        && slurm.time.is_none()
                        && slurm.sbatch_args.is_empty()
                        && slurm.chunk == defaults.chunk
                        && slurm.max_array == defaults.max_array,
                    "the --slurm-* flags need --executor slurm"
                );
                Ok(Executor::Local)
            }
            ExecutorKind::Slurm => {
                slurm.validate().map_err(anyhow::Error::msg)?;
                Ok(Executor::Slurm(slurm))
            }
        }
    }
}
