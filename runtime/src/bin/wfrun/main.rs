//! `wfrun`: build, inspect and run wf workflows. `main` parses, runs, and maps the outcome to an
//! exit code; each subcommand lives in its own file.
//!
//! Settings come from `./wf.toml` or `--config FILE` (see [`RunInfoArg`]); flags given override
//! them.
//!
//! Exit codes: 0 success; 1 a task or the workflow failed; 2 bad usage or an infrastructure error
//! (unreadable module, damaged store, failed build).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wf_runtime::{CONFIG_FILE, Config};

/// `println!` for wfrun's own output on stdout (see [`write_stdout`]).
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod build;
mod call;
mod executor;
mod explain;
mod gc;
mod inspect;
mod limits;
mod report;
mod run;
mod runs;
mod verify;
mod worker;

/// Many small short-lived allocations per task (requests, keys, records): mimalloc serves them
/// faster than the system allocator (see BENCHMARKS.md).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Writes wfrun's own output to stdout. When the reader went away (`wfrun gc | head -3`), the
/// rest of the output is dropped but the command carries on and ends with its own status: a
/// collection still happens, a verification still fails on a mismatch (where `println!` would
/// panic half-way). Any other write error is reported and exits with [`EXIT_USAGE`].
fn write_stdout(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    static READER_GONE: AtomicBool = AtomicBool::new(false);
    if READER_GONE.load(Ordering::Relaxed) {
        return;
    }
    let Err(e) = std::io::stdout().lock().write_fmt(text) else {
        return;
    };
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        READER_GONE.store(true, Ordering::Relaxed);
        return;
    }
    eprintln!("wfrun: error: writing to stdout: {e}");
    std::process::exit(i32::from(EXIT_USAGE));
}

/// Exit code: a task or the workflow failed.
pub const EXIT_TASK_FAILED: u8 = 1;
/// Exit code: bad usage or an infrastructure error.
pub const EXIT_USAGE: u8 = 2;

/// wf runs scientific workflows whose tasks are WebAssembly modules: each task sandboxed,
/// memoized by a content hash of its code and inputs, and checkpointed so reruns reuse results.
///
/// Settings come from ./wf.toml, or the file `--config FILE` names (see wf.example.toml); a flag
/// given on the command line overrides the file.
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
    Run(Box<run::Args>),
    /// List the runs recorded in the runinfo directory.
    Runs(runs::RunsArgs),
    /// Show one run and its tasks.
    Show(runs::ShowArgs),
    /// Say why a task executed rather than being a cache hit: which part of its key changed.
    Explain(explain::Args),
    /// Re-execute a run's recorded tasks in fresh sandboxes and check the results are identical.
    Verify(verify::Args),
    /// Merge the checkpoints of finished runs into one, dropping superseded records; what
    /// `--resume` sees stays the same. Live runs are left alone.
    Compact(gc::CompactArgs),
    /// Remove old runs: all but the N most recent, or those older than an age. Results a
    /// remaining run reused (its lineage) are kept in a compacted run; live runs are left alone.
    Gc(gc::GcArgs),
    /// Write one run's report as a self-contained HTML page (summary, timeline, apps); prints
    /// its path.
    Report(report::Args),
    /// Run one chunk of a Slurm run's tasks (what each array element runs).
    #[command(hide = true)]
    Worker(worker::Args),
}

/// Where a subcommand's settings come from: `./wf.toml` unless `--config` names another file
/// or `--no-config` turns it off, then `--runinfo` over the file's `runinfo`. Every subcommand
/// that reads or writes runs takes these.
#[derive(Debug, Clone, clap::Args)]
pub struct RunInfoArg {
    /// The directory holding runs, checkpoints and the compiled-module cache [default: the
    /// config file's `runinfo`, else ./runinfo].
    #[arg(long, value_name = "DIR")]
    pub runinfo: Option<PathBuf>,
    /// Read settings from this file instead of ./wf.toml (see wf.example.toml); flags given
    /// on the command line override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Ignore ./wf.toml: only flags and defaults.
    #[arg(long, conflicts_with = "config")]
    pub no_config: bool,
}

impl RunInfoArg {
    /// The settings of the config file in force (or the defaults), with `--runinfo` applied.
    pub fn settings(&self) -> anyhow::Result<Config> {
        let mut config = if self.no_config {
            Config::default()
        } else if let Some(path) = &self.config {
            Config::load(path)?
        } else {
            Config::load_if_present(Path::new(CONFIG_FILE))?.unwrap_or_default()
        };
        if let Some(dir) = &self.runinfo {
            config.runinfo = dir.clone();
        }
        Ok(config)
    }

    /// The runinfo directory in force.
    pub fn dir(&self) -> anyhow::Result<PathBuf> {
        Ok(self.settings()?.runinfo)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Build(args) => build::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Call(args) => call::run(args),
        Command::Run(args) => run::run(*args),
        Command::Runs(args) => runs::runs(args),
        Command::Show(args) => runs::show(args),
        Command::Explain(args) => explain::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Compact(args) => gc::compact(args),
        Command::Gc(args) => gc::gc(args),
        Command::Report(args) => report::run(args),
        Command::Worker(args) => worker::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("wfrun: error: {error:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}
