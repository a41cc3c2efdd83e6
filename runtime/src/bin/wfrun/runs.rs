//! `wfrun runs [--json]` and `wfrun show RUN [--json]`

use std::process::ExitCode;

use anyhow::Context;
use wf_runtime::{RunId, RunInfo, RunReport};

use crate::RunInfoArg;

/// List the runs.
#[derive(Debug, clap::Args)]
pub struct RunsArgs {
    #[command(flatten)]
    runinfo: RunInfoArg,
    /// Print JSON for scripts.
    #[arg(long)]
    json: bool,
}

/// Show one run and its tasks.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The run's id (`3` or `003`).
    run: String,
    #[command(flatten)]
    runinfo: RunInfoArg,
    /// Print JSON for scripts.
    #[arg(long)]
    json: bool,
}

/// A run id as the user typed it: `3` or `003`.
pub fn parse_run_id(text: &str) -> anyhow::Result<RunId> {
    text.parse::<u32>().map(RunId::new).map_err(|_| {
        anyhow::anyhow!("`{text}` is not a run id (runs are numbered: 0, 1, ... or 000, 001, ...)")
    })
}

/// Opens the runinfo directory the user named (or the config file names), which must exist.
pub fn open(arg: &RunInfoArg) -> anyhow::Result<RunInfo> {
    let dir = arg.dir()?;
    anyhow::ensure!(
        dir.is_dir(),
        "there is no runinfo directory at {}",
        dir.display()
    );
    Ok(RunInfo::open(&dir)?)
}

pub fn runs(args: RunsArgs) -> anyhow::Result<ExitCode> {
    let runinfo = open(&args.runinfo)?;
    let mut reports = Vec::new();
    for id in runinfo.runs()? {
        match runinfo.read_summary::<RunReport>(id) {
            Ok(Some(mut report)) => {
                report.task_list.clear();
                report.id = Some(id.to_string());
                reports.push(report);
            }
            // A run still going, or killed before it wrote its summary.
            Ok(None) => reports.push(RunReport {
                id: Some(id.to_string()),
                what: if runinfo.is_live(id).unwrap_or(false) {
                    "(running)".into()
                } else {
                    "(no summary: interrupted)".into()
                },
                module: String::new(),
                tasks: 0,
                executed: 0,
                cached: 0,
                failed: 0,
                attempts: 0,
                seconds: 0.0,
                started_unix_ms: None,
                workers: None,
                ok: false,
                error: None,
                task_list: Vec::new(),
            }),
            Err(e) => eprintln!("wfrun: warning: run {id}: {e}"),
        }
    }
    if args.json {
        let list: Vec<serde_json::Value> = reports
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                if let Some(map) = v.as_object_mut() {
                    map.remove("task_list");
                }
                v
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!("  run    tasks  executed  cached  failed    seconds  what");
    for r in &reports {
        outln!(
            "{:>5}  {:>7}  {:>8}  {:>6}  {:>6}  {:>9.2}  {}{}",
            r.id.as_deref().unwrap_or("-"),
            r.tasks,
            r.executed,
            r.cached,
            r.failed,
            r.seconds,
            r.what,
            if r.ok || r.tasks == 0 {
                ""
            } else {
                "  [failed]"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let runinfo = open(&args.runinfo)?;
    let id = parse_run_id(&args.run)?;
    let report: RunReport = runinfo
        .read_summary(id)
        .with_context(|| format!("reading run {id}"))?
        .with_context(|| {
            format!(
                "run {id} has no summary (it is running, or was interrupted), or does not exist"
            )
        })?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "run {id}: {} — {} tasks, {} executed, {} cached, {} failed, {:.2} s{}",
        report.what,
        report.tasks,
        report.executed,
        report.cached,
        report.failed,
        report.seconds,
        if report.ok { "" } else { " [failed]" }
    );
    if let Some(error) = &report.error {
        outln!("error: {error}");
    }
    outln!("  task  app               status     attempts    seconds  key");
    for t in &report.task_list {
        outln!(
            "{:>6}  {:<16}  {:<9}  {:>8}  {:>9.4}  {}",
            t.id,
            t.app,
            serde_json::to_value(t.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            t.attempts,
            t.seconds,
            t.key
        );
        if let Some(error) = &t.error {
            outln!("        {}", error.message);
        }
    }
    Ok(ExitCode::SUCCESS)
}
