//! `wfrun run MODULE [--entry NAME] [-j N] ...`

use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use wf_runtime::{
    Config, Counts, LoadedCheckpoint, LogStream, MAX_WORKERS, MemoTable, OutputDir, RunId, RunInfo,
    RunReport, Runner, Session, StoreError, TaskKey, TaskStatusReport, load_with_lineage,
};

use crate::executor::ExecutorArgs;
use crate::limits::{LimitArgs, MemoArgs, switch};
use crate::{EXIT_TASK_FAILED, RunInfoArg};

/// Run a workflow. Every option may also come from the config file (`./wf.toml` or
/// `--config`); an option given here overrides it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The module (.wasm).
    module: PathBuf,
    /// The workflow to run [default: main].
    #[arg(long, value_name = "NAME")]
    entry: Option<String>,
    /// Worker threads [default: one per core].
    #[arg(short = 'j', long = "jobs", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_WORKERS)))]
    jobs: Option<u32>,
    #[command(flatten)]
    runinfo: RunInfoArg,
    /// Retries of a failed task [default: 0].
    #[arg(long, value_name = "N")]
    retries: Option<u32>,
    /// Retries for one app, overriding --retries: `APP=N` (repeatable).
    #[arg(long = "app-retries", value_name = "APP=N", value_parser = parse_app_retries)]
    app_retries: Vec<(String, u32)>,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    memo: MemoArgs,
    /// A directory whose files the workflow may name as inputs, read-only (repeatable).
    #[arg(long = "input-dir", value_name = "DIR")]
    input_dirs: Vec<PathBuf>,
    /// Copy the output files of the run's tasks here at the end.
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Reuse the results recorded by every earlier run in the runinfo directory.
    #[arg(long, overrides_with = "no_resume")]
    resume: bool,
    /// Do not reuse earlier runs' results, whatever the config file says.
    #[arg(long, overrides_with = "resume")]
    no_resume: bool,
    /// When finished tasks are recorded: task_exit (each, durably, before its future resolves),
    /// periodic, dfk_exit (at the end, also on SIGINT/SIGTERM), manual (when the workflow calls
    /// checkpoint()), every_n_finished, instantiated_group [default: task_exit].
    #[arg(long, value_name = "MODE")]
    checkpoint_mode: Option<String>,
    /// The period of `periodic`: 30s, 5m, 1h or HH:MM:SS.
    #[arg(long, value_name = "DUR")]
    checkpoint_period: Option<String>,
    /// The N of every_n_finished and instantiated_group.
    #[arg(long = "checkpoint-n", value_name = "N")]
    checkpoint_n: Option<u64>,
    /// An app whose results are never checkpointed (still memoized within the run; repeatable).
    #[arg(long = "avoid-checkpoint", value_name = "APP")]
    avoid_checkpoint: Vec<String>,
    /// Record deterministic task failures (app errors, panics, traps, fuel) and reuse them.
    #[arg(long, overrides_with = "no_cache_failures")]
    cache_failures: bool,
    /// Do not record task failures, whatever the config file says.
    #[arg(long, overrides_with = "cache_failures")]
    no_cache_failures: bool,
    /// Reuse the results recorded in these checkpoint directories (e.g. runinfo/003/checkpoint,
    /// or a copy of one from another machine).
    #[arg(long = "checkpoint-files", value_name = "DIR", num_args = 1..)]
    checkpoint_files: Vec<PathBuf>,
    #[command(flatten)]
    executor: ExecutorArgs,
}

fn parse_app_retries(text: &str) -> Result<(String, u32), String> {
    let (app, n) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not APP=N"))?;
    let n = n
        .parse()
        .map_err(|_| format!("`{n}` in `{text}` is not a number of retries"))?;
    Ok((app.to_owned(), n))
}

impl Args {
    /// The config file's settings (or the defaults) with every flag given applied over them.
    /// A list given replaces the file's; `--app-retries` sets its apps and keeps the others;
    /// `--checkpoint-mode` drops the file's period and n, which belong to its mode.
    fn settings(&self) -> anyhow::Result<Config> {
        let mut config = self.runinfo.settings()?;
        if let Some(entry) = &self.entry {
            config.entry.clone_from(entry);
        }
        if self.jobs.is_some() {
            config.workers = self.jobs;
        }
        if let Some(retries) = self.retries {
            config.retries = retries;
        }
        config.app_retries.extend(self.app_retries.iter().cloned());
        self.limits.apply(&mut config);
        self.memo.apply(&mut config);
        if !self.input_dirs.is_empty() {
            config.input_dirs.clone_from(&self.input_dirs);
        }
        if self.output_dir.is_some() {
            config.output_dir.clone_from(&self.output_dir);
        }
        if let Some(resume) = switch(self.resume, self.no_resume) {
            config.resume = resume;
        }
        if let Some(cache) = switch(self.cache_failures, self.no_cache_failures) {
            config.cache_failures = cache;
        }
        if !self.checkpoint_files.is_empty() {
            config.checkpoint_files.clone_from(&self.checkpoint_files);
        }
        let checkpoint = &mut config.checkpoint;
        if let Some(mode) = &self.checkpoint_mode {
            checkpoint.mode.clone_from(mode);
            checkpoint.period = None;
            checkpoint.n = None;
        }
        if self.checkpoint_period.is_some() {
            checkpoint.period.clone_from(&self.checkpoint_period);
        }
        if self.checkpoint_n.is_some() {
            checkpoint.n = self.checkpoint_n;
        }
        if !self.avoid_checkpoint.is_empty() {
            checkpoint.avoid.clone_from(&self.avoid_checkpoint);
        }
        Ok(config)
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let settings = args.settings()?;
    if let Some(file) = &settings.source {
        eprintln!("wf: settings from {}", file.display());
    }
    let entry = settings.entry.as_str();
    let bytes = std::fs::read(&args.module)
        .with_context(|| format!("reading {}", args.module.display()))?;
    let mut config = settings.runner_config();
    config.executor = args.executor.executor()?;
    let workers = config.workers;
    let runner = Runner::new(config, Some(&settings.runinfo))?;
    if settings.resume || !settings.checkpoint_files.is_empty() {
        runner.use_checkpoints(load_checkpoints(
            &runner,
            settings.resume,
            &settings.checkpoint_files,
        )?);
    }
    let module = runner
        .load(&bytes)
        .with_context(|| format!("loading {}", args.module.display()))?;
    if !module.workflows().iter().any(|w| w == entry) {
        anyhow::bail!(
            "{} has no workflow `{entry}`; its workflows: {}",
            args.module.display(),
            if module.workflows().is_empty() {
                "(none)".to_owned()
            } else {
                module.workflows().join(", ")
            }
        );
    }
    let session = runner.start(&format!("workflow {entry} of {}", args.module.display()))?;
    let interrupted = watch_signals()?;
    let done = Done::default();
    let outcome = std::thread::scope(|scope| {
        scope.spawn(|| show_progress(&session, &done));
        scope.spawn(|| flush_on_signal(&session, &interrupted, &done));
        let outcome = session.run_workflow(&module, entry);
        done.set();
        outcome
    });
    if let Some(dir) = &settings.output_dir {
        let written = OutputDir::create(dir)
            .map_err(anyhow::Error::from)
            .and_then(|out| Ok(session.export_outputs(&out)?))
            .with_context(|| format!("copying output files to {}", dir.display()))?;
        eprintln!(
            "wf: copied {} output file(s) to {}",
            written.len(),
            dir.display()
        );
    }
    if let Err(failure) = &outcome {
        eprintln!(
            "wfrun: the workflow `{entry}` failed ({}): {}",
            failure.kind, failure.message
        );
    }
    let report = session.finish_with(outcome.err().map(|f| f.to_string()))?;
    if let Some(runinfo) = runner.runinfo() {
        show_failed_logs(runinfo, &report);
    }
    eprintln!("{}", summary(&report, workers, &settings.runinfo));
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_TASK_FAILED)
    })
}

/// The memo table of earlier checkpoints: every run's (in numeric order) with `--resume`, then
/// the directories named. The most recent entry for a key wins. A damaged record is reported and
/// skipped; a torn tail is dropped with a warning.
fn load_checkpoints(runner: &Runner, resume: bool, dirs: &[PathBuf]) -> anyhow::Result<MemoTable> {
    let mut table = MemoTable::new();
    let mut add = |loaded: Result<LoadedCheckpoint, StoreError>, what: &str| match loaded {
        Ok(checkpoint) => {
            for warning in checkpoint.warnings() {
                eprintln!("wfrun: warning: {warning}");
            }
            table.add_checkpoint(checkpoint);
        }
        Err(e) => eprintln!("wfrun: warning: skipping the checkpoint of {what}: {e}"),
    };
    if resume && let Some(runinfo) = runner.runinfo() {
        for id in runinfo.runs()? {
            add(runinfo.load_checkpoint(id), &format!("run {id}"));
        }
    }
    for dir in dirs {
        anyhow::ensure!(
            dir.is_dir(),
            "--checkpoint-files: {} is not a directory",
            dir.display()
        );
        match load_with_lineage(dir) {
            Ok((checkpoints, warnings)) => {
                for warning in warnings {
                    eprintln!("wfrun: warning: {warning}");
                }
                for checkpoint in checkpoints {
                    add(Ok(checkpoint), &dir.display().to_string());
                }
            }
            Err(e) => add(Err(e), &dir.display().to_string()),
        }
    }
    eprintln!("wf: loaded {} recorded results", table.len());
    Ok(table)
}

/// The end of the workflow, which the progress and signal threads wait on: setting it wakes them
/// at once, so a short run does not wait out their sleep before the process can end.
#[derive(Default)]
struct Done {
    flag: Mutex<bool>,
    changed: Condvar,
}

impl Done {
    fn set(&self) {
        *self
            .flag
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        self.changed.notify_all();
    }

    /// Waits until the workflow ended or `timeout` passed; true if it ended.
    fn wait(&self, timeout: Duration) -> bool {
        let flag = self
            .flag
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (flag, _) = self
            .changed
            .wait_timeout_while(flag, timeout, |done| !*done)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *flag
    }
}

/// How often the signal thread looks at the flag the signal handlers set.
const SIGNAL_POLL: Duration = Duration::from_millis(20);

/// SIGINT and SIGTERM set a flag instead of killing the process at once.
fn watch_signals() -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, flag.clone()).context("installing a signal handler")?;
    }
    Ok(flag)
}

/// On SIGINT/SIGTERM: write every pending record durably, cancel the tasks queued elsewhere
/// (Slurm jobs), then end the process (exit 130): nothing a finished task computed is lost,
/// whatever the checkpoint mode, and nothing is left in a batch queue.
fn flush_on_signal(session: &Session<'_>, interrupted: &AtomicBool, done: &Done) {
    while !done.wait(SIGNAL_POLL) {
        if interrupted.load(Ordering::Relaxed) {
            let written = session.flush();
            session.cancel();
            eprintln!("\nwfrun: interrupted; recorded {written} pending result(s) before stopping");
            std::process::exit(130);
        }
    }
}

/// How many failed tasks `wfrun run` shows the logs of, and how much of each log.
const FAILED_LOGS_SHOWN: usize = 3;
const FAILED_LOG_TAIL: u64 = 2000;

/// Shows the end of the stderr and stdout of the first tasks that failed on their own (not
/// because a dependency failed), so a failure is reported with its log wherever it ran.
fn show_failed_logs(runinfo: &RunInfo, report: &RunReport) {
    let Some(run) = report.id.as_deref().and_then(|id| id.parse::<RunId>().ok()) else {
        return;
    };
    let own_failures = report.task_list.iter().filter(|t| {
        t.status == TaskStatusReport::Failed
            && t.error
                .as_ref()
                .is_some_and(|e| !matches!(e.kind.as_deref(), Some("dependency" | "cancelled")))
    });
    for task in own_failures.take(FAILED_LOGS_SHOWN) {
        let Ok(key) = task.key.parse::<TaskKey>() else {
            continue;
        };
        for stream in [LogStream::Stderr, LogStream::Stdout] {
            match runinfo.task_log_tail(run, &key, stream, FAILED_LOG_TAIL) {
                Ok(Some((text, path))) => {
                    eprintln!(
                        "wfrun: task {} (`{}`) failed; the end of its log {}:",
                        task.id,
                        task.app,
                        path.display()
                    );
                    for line in text.trim_end().lines() {
                        eprintln!("  | {line}");
                    }
                }
                Ok(None) => {}
                Err(e) => eprintln!("wfrun: warning: {e}"),
            }
        }
    }
}

/// Live progress on a terminal; a plain line every few seconds otherwise.
fn show_progress(session: &Session<'_>, done: &Done) {
    let terminal = std::io::stderr().is_terminal();
    let start = Instant::now();
    let tick = if terminal {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(5)
    };
    let mut printed = false;
    while !done.wait(tick) {
        let line = progress_line(&session.counts(), start.elapsed());
        if terminal {
            eprint!("\r\x1b[2K{line}");
        } else {
            eprintln!("{line}");
        }
        let _ = std::io::stderr().flush();
        printed = true;
    }
    if terminal && printed {
        eprint!("\r\x1b[2K");
    }
}

fn progress_line(c: &Counts, elapsed: Duration) -> String {
    let rate = c.done() as f64 / elapsed.as_secs_f64().max(1e-9);
    format!(
        "wf: {}/{} done · {} executed · {} cached · {} failed · {} running · {:.0} tasks/s",
        c.done(),
        c.submitted,
        c.executed,
        c.cached + c.shared,
        c.failed,
        c.running,
        rate
    )
}

fn summary(report: &RunReport, workers: usize, runinfo: &std::path::Path) -> String {
    let run = report.id.as_deref().unwrap_or("-");
    let verdict = if report.ok { "succeeded" } else { "FAILED" };
    let retries = report
        .attempts
        .saturating_sub(report.executed + report.failed);
    format!(
        "wf: run {run} {verdict}: {} tasks in {:.2} s on {workers} worker{} — {} executed, {} cached, {} failed{}; \
         {:.0} tasks/s. Records and logs: {}/{run}",
        report.tasks,
        report.seconds,
        if workers == 1 { "" } else { "s" },
        report.executed,
        report.cached,
        report.failed,
        if retries > 0 {
            format!(", {retries} retried attempts")
        } else {
            String::new()
        },
        report.tasks as f64 / report.seconds.max(1e-9),
        runinfo.display(),
    )
}
