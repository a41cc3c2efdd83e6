//! `wfrun build [CRATE_DIR]`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use wf_runtime::{BuildOptions, build_guest};

/// Build a guest crate.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The guest crate's directory (the one with its Cargo.toml).
    #[arg(default_value = ".")]
    crate_dir: PathBuf,
    /// Cargo's target directory (default: the workspace's).
    #[arg(long, value_name = "DIR")]
    target_dir: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = BuildOptions {
        target_dir: args.target_dir,
        quiet: false,
    };
    let modules = build_guest(&args.crate_dir, &options)
        .with_context(|| format!("building {}", args.crate_dir.display()))?;
    for module in modules {
        outln!("{}", module.display());
    }
    Ok(ExitCode::SUCCESS)
}
