//! `wfrun verify RUN [--sample PERCENT]`: re-execute recorded tasks and compare.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use wf_runtime::{Limits, VerifyOptions, verify_checkpoint};

use crate::runs::{open, parse_run_id};
use crate::{EXIT_TASK_FAILED, RunInfoArg};

/// Re-execute a run's recorded tasks in fresh sandboxes and check their results are identical.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run whose checkpoint to verify (`3` or `003`).
    run: String,
    #[command(flatten)]
    runinfo: RunInfoArg,
    /// Re-execute only this percentage of the records, chosen by key (the same ones everywhere).
    #[arg(long, value_name = "PERCENT", default_value_t = 100.0, value_parser = parse_percent)]
    sample: f64,
    /// Worker threads (default: one per core).
    #[arg(short = 'j', long = "jobs", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    jobs: Option<u32>,
    /// A directory holding input files the run's tasks read (repeatable); found by content.
    #[arg(long = "input-dir", value_name = "DIR")]
    input_dirs: Vec<PathBuf>,
    /// Wall-clock timeout per re-executed task: `30s`, `5m`, `1h` or HH:MM:SS.
    #[arg(long, value_name = "DUR", value_parser = crate::limits::parse_duration_arg)]
    timeout: Option<std::time::Duration>,
}

fn parse_percent(text: &str) -> Result<f64, String> {
    match text.trim_end_matches('%').parse::<f64>() {
        Ok(p) if p > 0.0 && p <= 100.0 => Ok(p),
        _ => Err(format!(
            "`{text}` is not a percentage above 0 and at most 100"
        )),
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runinfo = open(&args.runinfo)?;
    // The config file's input directories, workers and timeout apply unless a flag says otherwise.
    let settings = args.runinfo.settings()?;
    let id = parse_run_id(&args.run)?;
    let checkpoint = runinfo.run_path(id).join("checkpoint");
    anyhow::ensure!(
        checkpoint.is_dir(),
        "run {id} has no checkpoint at {} (is it a run of this runinfo? see `wfrun runs`)",
        checkpoint.display()
    );
    let mut options = VerifyOptions {
        sample_percent: args.sample,
        input_dirs: if args.input_dirs.is_empty() {
            settings.input_dirs
        } else {
            args.input_dirs
        },
        limits: Limits {
            timeout: args.timeout.or(settings.limits.timeout),
            memory_bytes: settings.limits.memory_bytes,
            ..Limits::default()
        },
        ..VerifyOptions::default()
    };
    if let Some(jobs) = args.jobs.or(settings.workers) {
        options.workers = jobs as usize;
    }
    let report = verify_checkpoint(&checkpoint, runinfo.path(), &options)
        .with_context(|| format!("verifying run {id}"))?;
    for warning in &report.warnings {
        eprintln!("wfrun: warning: {warning}");
    }
    for skipped in &report.skipped {
        outln!(
            "skipped: task {} (`{}`): {}",
            skipped.key,
            skipped.app,
            skipped.why
        );
    }
    for mismatch in &report.mismatches {
        outln!(
            "MISMATCH: task {} (`{}`, record at offset {} of {}): {}",
            mismatch.key,
            mismatch.app,
            mismatch.offset,
            checkpoint.join("log.wfck").display(),
            mismatch.what
        );
    }
    let runs = if report.runs.is_empty() {
        String::new()
    } else {
        format!("; re-executed as run {}", report.runs.join(", "))
    };
    let damaged = if report.damaged > 0 {
        format!(
            "; {} damaged stretch(es) of the log (see the warnings)",
            report.damaged
        )
    } else {
        String::new()
    };
    outln!(
        "run {id}: {} recorded task(s), {} in the sample ({}%): {} identical, {} mismatch(es), {} skipped{damaged}{runs}",
        report.records,
        report.sampled,
        args.sample,
        report.matched,
        report.mismatches.len(),
        report.skipped.len()
    );
    Ok(if report.mismatches.is_empty() && report.damaged == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_TASK_FAILED)
    })
}
