//! `wfrun explain RUN TASK`: why a task executed instead of being a cache hit.

use std::process::ExitCode;

use wf_runtime::explain_task;

use crate::RunInfoArg;
use crate::runs::{open, parse_run_id};

/// Say why a task executed: which component of its key differs from the nearest recorded entry.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run (`3` or `003`).
    run: String,
    /// The task's key as `wfrun show` prints it; a unique prefix is enough.
    task: String,
    #[command(flatten)]
    runinfo: RunInfoArg,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    open(&args.runinfo)?;
    let id = parse_run_id(&args.run)?;
    anyhow::ensure!(
        !args.task.is_empty() && args.task.chars().all(|c| c.is_ascii_hexdigit()),
        "`{}` is not a task key or a prefix of one (hex digits, as `wfrun show {id}` prints them)",
        args.task
    );
    let dir = args.runinfo.dir()?;
    let explanation = explain_task(&dir, id, &args.task)?;
    outln!("{}", explanation.to_text(&dir));
    Ok(ExitCode::SUCCESS)
}
