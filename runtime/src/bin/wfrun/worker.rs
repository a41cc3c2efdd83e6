//! `wfrun worker`: what each Slurm array element runs (hidden from the help).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// Run one chunk of a Slurm run's tasks (started by `wfrun run --executor slurm`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run's runinfo directory (for the compiled-module cache).
    #[arg(long, value_name = "DIR")]
    runinfo: PathBuf,
    /// The run's exchange directory.
    #[arg(long, value_name = "DIR")]
    exchange: PathBuf,
    /// The wave (one sbatch) the chunk belongs to.
    #[arg(long, value_name = "N")]
    wave: u64,
    /// The chunk's index in its wave (default: $SLURM_ARRAY_TASK_ID).
    #[arg(long, value_name = "N")]
    element: Option<u32>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let element = match args.element {
        Some(element) => element,
        None => {
            let id = std::env::var("SLURM_ARRAY_TASK_ID")
                .context("no --element and no SLURM_ARRAY_TASK_ID: not in a Slurm array job")?;
            id.parse()
                .with_context(|| format!("SLURM_ARRAY_TASK_ID `{id}` is not an index"))?
        }
    };
    let tasks = wf_runtime::run_worker(&args.runinfo, &args.exchange, args.wave, element)
        .with_context(|| format!("running chunk {}.{element}", args.wave))?;
    eprintln!(
        "wf worker: chunk {}.{element}: {tasks} task(s) done",
        args.wave
    );
    Ok(ExitCode::SUCCESS)
}
