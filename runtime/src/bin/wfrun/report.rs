//! `wfrun report RUN [-o FILE]`: the run's summary as one self-contained HTML page.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use wf_runtime::{RunReport, render_report};

use crate::RunInfoArg;
use crate::runs::{open, parse_run_id};

/// Write an HTML report of one run: summary, timeline of tasks per worker, per-app table.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run's id (`3` or `003`).
    run: String,
    #[command(flatten)]
    runinfo: RunInfoArg,
    /// Where to write the page (default: `report.html` in the run's directory).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
}

const REPORT_FILE: &str = "report.html";

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runinfo = open(&args.runinfo)?;
    let id = parse_run_id(&args.run)?;
    let mut report: RunReport = runinfo
        .read_summary(id)
        .with_context(|| format!("reading run {id}"))?
        .with_context(|| {
            format!(
                "run {id} has no summary in {} (it is running, was interrupted, or does not exist)",
                runinfo.path().display()
            )
        })?;
    report.id.get_or_insert_with(|| id.to_string());
    let page = render_report(&report);
    let path = match args.output {
        Some(path) => {
            std::fs::write(&path, page.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            path
        }
        None => runinfo.write_run_file(id, REPORT_FILE, page.as_bytes())?,
    };
    outln!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}
