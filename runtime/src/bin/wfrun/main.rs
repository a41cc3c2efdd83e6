//! `wfrun`: build, inspect and run wf workflows. `main` parses, runs, and maps the outcome to an
//! exit code; each subcommand lives in its own file.
//!
//! Exit codes: 0 success; 1 a task or the workflow failed; 2 bad usage or an infrastructure error
//! (unreadable module, damaged store, failed build).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod build;
mod call;
mod explain;
mod inspect;
mod limits;
mod run;
mod runs;
mod verify;

/// Exit code: a task or the workflow failed.
pub const EXIT_TASK_FAILED: u8 = 1;
/// Exit code: bad usage or an infrastructure error.
pub const EXIT_USAGE: u8 = 2;

/// wf runs scientific workflows whose tasks are WebAssembly modules: each task sandboxed,
/// memoized by a content hash of its code and inputs, and checkpointed so reruns reuse results.
#[derive(Debug, Parser)]
#[command(name = "wfrun", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build a guest crate for wasm32-wasip1 (release, reproducible); prints each module's path.
    Build(build::Args),
    /// List a module's apps with their signatures, and its workflow entries.
    Inspect(inspect::Args),
    /// Call one app with JSON arguments; prints the result as JSON. Results are memoized.
    Call(call::Args),
    /// Run a workflow: its tasks in fresh sandboxes on a thread pool, memoized and recorded.
    Run(run::Args),
    /// List the runs recorded in the runinfo directory.
    Runs(runs::RunsArgs),
    /// Show one run and its tasks.
    Show(runs::ShowArgs),
    /// Say why a task executed rather than being a cache hit: which part of its key changed.
    Explain(explain::Args),
    /// Re-execute a run's recorded tasks in fresh sandboxes and check the results are identical.
    Verify(verify::Args),
}

/// The `--runinfo` option every subcommand that reads or writes runs takes.
#[derive(Debug, Clone, clap::Args)]
pub struct RunInfoArg {
    /// The directory holding runs, checkpoints and the compiled-module cache.
    #[arg(long, value_name = "DIR", default_value = "runinfo")]
    pub runinfo: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Build(args) => build::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Call(args) => call::run(args),
        Command::Run(args) => run::run(args),
        Command::Runs(args) => runs::runs(args),
        Command::Show(args) => runs::show(args),
        Command::Explain(args) => explain::run(args),
        Command::Verify(args) => verify::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("wfrun: error: {error:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}
