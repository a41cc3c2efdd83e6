//! `wfrun compact [--dry-run]` and `wfrun gc [--keep N] [--older-than DUR] [--dry-run]`

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use wf_runtime::{CollectionPlan, Fate, RunId, RunReport, Selection, parse_duration};

use crate::RunInfoArg;

/// Merge the checkpoints of the finished runs into one compacted run.
#[derive(Debug, clap::Args)]
pub struct CompactArgs {
    #[command(flatten)]
    runinfo: RunInfoArg,
    /// Show what would be merged and removed (runs, records, bytes); change nothing.
    #[arg(long)]
    dry_run: bool,
}

/// Remove old runs.
#[derive(Debug, clap::Args)]
#[command(group(
    clap::ArgGroup::new("rule").required(true).multiple(true).args(["keep", "older_than"])
))]
pub struct GcArgs {
    #[command(flatten)]
    runinfo: RunInfoArg,
    /// Keep the N most recent runs (with --older-than, a run either rule keeps stays).
    #[arg(long, value_name = "N")]
    keep: Option<usize>,
    /// Remove runs last written longer ago than DUR (`12h`, `7d`, `30d`, ...).
    #[arg(long, value_name = "DUR", value_parser = parse_age)]
    older_than: Option<Duration>,
    /// Show what would be removed (runs, records, bytes); change nothing.
    #[arg(long)]
    dry_run: bool,
}

fn parse_age(text: &str) -> Result<Duration, String> {
    parse_duration(text).map_err(|e| e.to_string())
}

pub fn compact(args: CompactArgs) -> anyhow::Result<ExitCode> {
    collect(&args.runinfo, &Selection::Compact, args.dry_run)
}

pub fn gc(args: GcArgs) -> anyhow::Result<ExitCode> {
    let selection = Selection::Gc {
        keep: args.keep,
        older_than: args.older_than,
    };
    collect(&args.runinfo, &selection, args.dry_run)
}

fn collect(arg: &RunInfoArg, selection: &Selection, dry_run: bool) -> anyhow::Result<ExitCode> {
    let runinfo = crate::runs::open(arg)?;
    let plan = runinfo.plan_collection(selection, SystemTime::now())?;
    for warning in plan.warnings() {
        eprintln!("wfrun: warning: {warning}");
    }
    for run in plan.runs() {
        match &run.fate {
            Fate::Live => eprintln!(
                "wf: run {} is live (a running wfrun holds it): skipped",
                run.id
            ),
            Fate::Unreadable(why) => {
                eprintln!(
                    "wfrun: warning: run {} stays: its checkpoint cannot be read: {why}",
                    run.id
                );
            }
            _ => {}
        }
    }
    if plan.is_empty() {
        outln!(
            "nothing to {}",
            if *selection == Selection::Compact {
                "compact"
            } else {
                "remove"
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    print_table(&plan);
    for name in plan.stale_temps() {
        outln!(
            "{} {name}, left by a compaction or collection that died",
            if dry_run { "would remove" } else { "removing" }
        );
    }
    let folded = plan.with_fate(&Fate::Folded);
    let pruned = plan.with_fate(&Fate::Pruned);
    let (kept, superseded, pruned_records) = (
        plan.records_kept(),
        plan.records_superseded(),
        plan.records_pruned(),
    );
    let freed = plan.bytes_removed().saturating_sub(plan.bytes_retained());
    let mut what = Vec::new();
    if !folded.is_empty() {
        what.push(format!(
            "merge {} into one compacted run of {kept} record(s), dropping {superseded} superseded",
            runs_phrase(&folded)
        ));
    }
    if !pruned.is_empty() {
        what.push(format!(
            "remove {} with {pruned_records} record(s)",
            runs_phrase(&pruned)
        ));
    }
    if dry_run {
        if !what.is_empty() {
            outln!(
                "dry run: would {}; frees about {}",
                what.join(", then "),
                bytes(freed)
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let description = format!("compact of {}", runs_phrase(&folded));
    let done = plan.carry_out(|id| RunReport {
        id: Some(id.to_string()),
        what: description,
        module: String::new(),
        tasks: kept as u64,
        executed: 0,
        cached: 0,
        failed: 0,
        attempts: 0,
        seconds: 0.0,
        ok: true,
        error: None,
        started_unix_ms: None,
        workers: None,
        task_list: Vec::new(),
    })?;
    if let Some(id) = done.compacted {
        outln!(
            "merged {} into run {id}: {kept} record(s), {superseded} superseded dropped",
            runs_phrase(&folded)
        );
    }
    if !pruned.is_empty() {
        outln!(
            "removed {} with {pruned_records} record(s)",
            runs_phrase(&pruned)
        );
    }
    outln!("freed about {}", bytes(freed));
    Ok(ExitCode::SUCCESS)
}

fn print_table(plan: &CollectionPlan<'_>) {
    outln!("  run  fate     records       bytes");
    for run in plan.runs() {
        let fate = match run.fate {
            Fate::Kept => "kept",
            Fate::Live => "live",
            Fate::Folded => "merged",
            Fate::Pruned => "removed",
            Fate::Unreadable(_) => "kept (unreadable)",
        };
        outln!(
            "{:>5}  {:<7}  {:>7}  {:>10}{}",
            run.id.to_string(),
            fate,
            run.records,
            bytes(run.bytes),
            if run.compacted { "  (compacted)" } else { "" }
        );
    }
}

fn runs_phrase(ids: &[RunId]) -> String {
    let list: Vec<String> = ids.iter().map(RunId::to_string).collect();
    match list.as_slice() {
        [one] => format!("run {one}"),
        [first, .., last] if list.len() > 6 => format!("{} runs ({first} … {last})", list.len()),
        _ => format!("runs {}", list.join(", ")),
    }
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}
