//! `wfrun call MODULE APP [ARG ...]`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use wf_runtime::{
    EngineSettings, KeyInputs, Sandbox, TaskKey, ValueDigest, decode_output, encode_args, signature,
};

use crate::limits::LimitArgs;
use crate::{EXIT_TASK_FAILED, RunInfoArg};

/// Call one app.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The module (.wasm).
    module: PathBuf,
    /// The app to call.
    app: String,
    /// One JSON value per parameter (a bare word is accepted for a string parameter).
    #[arg(allow_hyphen_values = true)]
    args: Vec<String>,
    #[command(flatten)]
    runinfo: RunInfoArg,
    #[command(flatten)]
    limits: LimitArgs,
    /// Do not look up or record the result in the memo table.
    #[arg(long)]
    no_memo: bool,
    /// A salt mixed into the task key, to force fresh results.
    #[arg(long, value_name = "TEXT", default_value = "")]
    salt: String,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.module)
        .with_context(|| format!("reading {}", args.module.display()))?;
    let settings = EngineSettings {
        limits: args.limits.limits(),
        ..EngineSettings::default()
    };
    let sandbox = Sandbox::new(settings, None)?;
    let module = sandbox
        .load(&bytes)
        .with_context(|| format!("loading {}", args.module.display()))?;
    let Some(app) = module.app(&args.app) else {
        let available: Vec<String> = module.apps().values().map(signature).collect();
        bail!(
            "the module has no app `{}`; its apps are:\n  {}",
            args.app,
            if available.is_empty() {
                "(none)".to_owned()
            } else {
                available.join("\n  ")
            }
        );
    };
    let encoded = encode_args(app, &args.args)?;
    let digests: Vec<ValueDigest> = encoded.iter().map(|a| ValueDigest::of(a)).collect();
    let key = TaskKey::derive(&KeyInputs {
        module: module.digest(),
        app: &app.name,
        args: &digests,
        files: &[],
        fuel: args.limits.fuel,
        salt: &args.salt,
    });
    let arg_refs: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
    let run = sandbox.call(&module, &app.name, &arg_refs, &key);
    match run.outcome {
        Ok(bytes) => {
            let value = decode_output(app, &bytes)?;
            println!("{value}");
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            eprintln!(
                "wfrun: task `{}` failed ({}): {}",
                app.name, failure.kind, failure.message
            );
            Ok(ExitCode::from(EXIT_TASK_FAILED))
        }
    }
}
