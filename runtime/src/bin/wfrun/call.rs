//! `wfrun call MODULE APP [ARG ...]`

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use wf_runtime::{
    CheckpointRecord, CompiledCache, EngineSettings, KeyInputs, LogStream, MemoTable, Outcome,
    Resolved, RunInfo, RunReport, Sandbox, TaskError, TaskInputs, TaskKey, TaskReport,
    TaskStatusReport, ValueDigest, decode_output, encode_args, signature,
};

use crate::limits::{LimitArgs, MemoArgs};
use crate::{EXIT_TASK_FAILED, RunInfoArg};

/// Call one app.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The module (.wasm).
    module: PathBuf,
    /// The app to call.
    app: String,
    /// One JSON value per parameter (a bare word is accepted for a string parameter).
    #[arg(allow_negative_numbers = true)]
    args: Vec<String>,
    #[command(flatten)]
    runinfo: RunInfoArg,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    memo: MemoArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // The limits, the salt, memoization and the runinfo directory come from the config file
    // too; the rest of it is about runs.
    let mut config = args.runinfo.settings()?;
    args.limits.apply(&mut config);
    args.memo.apply(&mut config);
    let bytes = std::fs::read(&args.module)
        .with_context(|| format!("reading {}", args.module.display()))?;
    // One task: one slot (plus the spares).
    let settings = EngineSettings::for_workers(config.limits, 1);
    let runinfo = RunInfo::open(&config.runinfo)?;
    let compiled = CompiledCache::open(&runinfo)?;
    let sandbox = Sandbox::new(settings, Some(Arc::new(compiled)))?;
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
    if module.app_uses_files(&app.name) {
        bail!(
            "app `{}` takes or makes files, which `wfrun call` cannot give it (its inputs come \
             from a workflow's File::input and --input-dir, its outputs are kept with the run): \
             call it from a workflow with `wfrun run`",
            app.name
        );
    }
    let encoded = encode_args(app, &args.args)?;
    let digests: Vec<ValueDigest> = encoded.iter().map(|a| ValueDigest::of(a)).collect();
    let key = TaskKey::derive(&KeyInputs {
        module: module.digest(),
        app: &app.name,
        args: &digests,
        files: &[],
        fuel: config.limits.fuel,
        salt: &config.salt,
    });
    let memoize = config.memoize && app.cache;
    if memoize && let Some(bytes) = recorded_result(&runinfo, &key)? {
        eprintln!(
            "wfrun: cache hit: `{}` (task {key}) was recorded by an earlier run",
            app.name
        );
        outln!("{}", decode_output(app, &bytes)?);
        return Ok(ExitCode::SUCCESS);
    }

    let mut run = runinfo.create_run()?;
    let started_unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let clock = Instant::now();
    let arg_refs: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
    let task = sandbox.call(&module, &app.name, &arg_refs, &key);
    let duration_us = clock.elapsed().as_micros() as u64;
    for (stream, bytes) in [
        (LogStream::Stdout, &task.stdout),
        (LogStream::Stderr, &task.stderr),
    ] {
        if !bytes.is_empty() {
            let mut log = run.task_log(&key, stream)?;
            log.write_all(bytes).context("writing the task log")?;
        }
    }
    let failed = task.outcome.is_err();
    let summary = RunReport {
        id: Some(run.id().to_string()),
        what: format!("call {} of {}", app.name, args.module.display()),
        module: module.digest().to_hex(),
        tasks: 1,
        executed: u64::from(!failed),
        cached: 0,
        failed: u64::from(failed),
        attempts: 1,
        seconds: duration_us as f64 / 1e6,
        started_unix_ms: Some(started_unix_ms),
        workers: Some(1),
        ok: !failed,
        error: None,
        task_list: vec![TaskReport {
            id: 0,
            app: app.name.clone(),
            key: key.to_hex(),
            status: if failed {
                TaskStatusReport::Failed
            } else {
                TaskStatusReport::Executed
            },
            attempts: 1,
            seconds: duration_us as f64 / 1e6,
            error: task.outcome.as_ref().err().map(|f| TaskError {
                kind: Some(f.kind.as_str().to_owned()),
                message: f.message.clone(),
            }),
            worker: Some(0),
            start: Some(0.0),
            end: Some(duration_us as f64 / 1e6),
        }],
    };
    run.write_summary(&summary)?;
    match task.outcome {
        Ok(bytes) => {
            if memoize {
                let mut writer = run
                    .take_checkpoint_writer()
                    .context("the run's checkpoint log")?;
                let record = CheckpointRecord {
                    key,
                    app: app.name.clone(),
                    module: module.digest(),
                    outcome: Outcome::Ok(writer.payload(&bytes)?),
                    outputs: Vec::new(),
                    started_unix_ms,
                    duration_us,
                    attempts: 1,
                    inputs: TaskInputs {
                        args: encoded
                            .iter()
                            .map(|arg| writer.payload(arg))
                            .collect::<Result<_, _>>()?,
                        files: Vec::new(),
                        fuel: config.limits.fuel,
                        salt: config.salt.clone(),
                    },
                };
                writer
                    .blobs()
                    .put_module(&module.digest(), module.bytes())?;
                writer.commit([&record])?;
            }
            outln!("{}", decode_output(app, &bytes)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            eprintln!(
                "wfrun: task `{}` failed ({}): {}",
                app.name, failure.kind, failure.message
            );
            if !task.stdout.is_empty() || !task.stderr.is_empty() {
                eprintln!(
                    "wfrun: its output is in {}/tasks/{key}.stdout and .stderr",
                    run.path().display()
                );
            }
            Ok(ExitCode::from(EXIT_TASK_FAILED))
        }
    }
}

/// The recorded result of `key` in any run of `runinfo`, the most recent run winning. Damaged
/// checkpoints are reported and skipped; a damaged blob is a miss.
fn recorded_result(runinfo: &RunInfo, key: &TaskKey) -> anyhow::Result<Option<Vec<u8>>> {
    let mut memo = MemoTable::new();
    for id in runinfo.runs()? {
        match runinfo.load_checkpoint(id) {
            Ok(checkpoint) => {
                for warning in checkpoint.warnings() {
                    eprintln!("wfrun: warning: {warning}");
                }
                memo.add_checkpoint(checkpoint);
            }
            Err(e) => eprintln!("wfrun: warning: skipping the checkpoint of run {id}: {e}"),
        }
    }
    let Some(entry) = memo.get(key) else {
        return Ok(None);
    };
    match entry.resolve() {
        Ok(Resolved::Ok(bytes)) => Ok(Some(bytes.into_owned())),
        Ok(Resolved::Failed { .. }) => Ok(None),
        Err(e) => {
            eprintln!("wfrun: warning: recomputing task {key}: {e}");
            Ok(None)
        }
    }
}
