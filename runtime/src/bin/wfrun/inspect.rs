//! `wfrun inspect MODULE [--json]`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use wf_runtime::{EngineSettings, Limits, Sandbox, signature};

/// List a module's apps and workflows.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The module (.wasm).
    module: PathBuf,
    /// Print JSON for scripts.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.module)
        .with_context(|| format!("reading {}", args.module.display()))?;
    // Loading instantiates the module once: one slot (plus the spares) is plenty.
    let sandbox = Sandbox::new(EngineSettings::for_workers(Limits::default(), 1), None)?;
    let module = sandbox
        .load(&bytes)
        .with_context(|| format!("loading {}", args.module.display()))?;
    if args.json {
        let apps: Vec<_> = module
            .apps()
            .values()
            .map(|app| {
                serde_json::json!({
                    "name": app.name,
                    "params": app.params.iter().map(|p| serde_json::json!({"name": p.name, "type": p.ty.rust})).collect::<Vec<_>>(),
                    "output": app.output.rust,
                    "fallible": app.fallible,
                    "cache": app.cache,
                    "signature": signature(app),
                })
            })
            .collect();
        let doc = serde_json::json!({
            "module": args.module.display().to_string(),
            "digest": module.digest().to_hex(),
            "apps": apps,
            "workflows": module.workflows(),
        });
        outln!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!("module {}", args.module.display());
    outln!("digest {}", module.digest());
    outln!("apps:");
    if module.apps().is_empty() {
        outln!("  (none)");
    }
    for app in module.apps().values() {
        let note = if app.cache { "" } else { "    [cache = false]" };
        outln!("  {}{note}", signature(app));
    }
    outln!("workflows:");
    if module.workflows().is_empty() {
        outln!("  (none)");
    }
    for workflow in module.workflows() {
        outln!("  {workflow}");
    }
    Ok(ExitCode::SUCCESS)
}
