//! The worker side: what `wfrun worker` runs inside one Slurm array element. It executes its
//! chunk's tasks one after another, each in a fresh sandbox instance, and writes each result to
//! the exchange as soon as it has it, then the chunk's completion record.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::wire::{WireDone, WireOutput, WireResult, WireTask, WorkerSettings, decode, encode};
use crate::executor::RunError;
use crate::key::{ModuleDigest, TaskKey, ValueDigest};
use crate::runinfo::{BlobDir, ChunkId, CompiledCache, Exchange, RunInfo};
use crate::sandbox::{
    ArtifactStore, EngineSettings, FailureKind, LoadedModule, Preopen, Sandbox, TaskFailure,
    TaskRun,
};

/// Runs chunk `element` of `wave` from the exchange directory `exchange` of a run in `runinfo`
/// (whose compiled-module cache it shares); answers how many tasks it ran. A task that fails is
/// a result like any other; an error here means the chunk could not be carried out at all (the
/// head then submits its unfinished tasks again).
pub fn run_worker(
    runinfo: &Path,
    exchange: &Path,
    wave: u64,
    element: u32,
) -> Result<usize, RunError> {
    let chunk = ChunkId { wave, element };
    let exchange = Exchange::open(exchange)?;
    let settings: WorkerSettings =
        decode(&exchange.settings()?, "the exchange's settings").map_err(RunError::Executor)?;
    let runinfo = RunInfo::open(runinfo)?;
    let artifacts = Arc::new(CompiledCache::open(&runinfo)?) as Arc<dyn ArtifactStore>;
    let sandbox = Sandbox::new(
        EngineSettings {
            limits: settings.limits(),
            ..EngineSettings::default()
        },
        Some(artifacts),
    )?;
    let tasks: Vec<WireTask> =
        decode(&exchange.chunk(chunk)?, &format!("chunk {chunk}")).map_err(RunError::Executor)?;
    let blobs = exchange.blobs()?;
    let mut modules: HashMap<[u8; 32], Result<LoadedModule, String>> = HashMap::new();
    for (position, task) in tasks.iter().enumerate() {
        let module = modules.entry(task.module).or_insert_with(|| {
            let digest = ModuleDigest(task.module);
            exchange
                .module(&digest)
                .map_err(|e| e.to_string())
                .and_then(|bytes| sandbox.load(&bytes).map_err(|e| e.to_string()))
                .map_err(|e| format!("loading module {digest}: {e}"))
        });
        let result = run_task(&sandbox, module, &exchange, &blobs, task);
        exchange.put_result(chunk, position as u32, &encode(&result))?;
    }
    exchange.put_done(
        chunk,
        &encode(&WireDone {
            tasks: tasks.len() as u32,
        }),
    )?;
    Ok(tasks.len())
}

fn run_task(
    sandbox: &Sandbox,
    module: &Result<LoadedModule, String>,
    exchange: &Exchange,
    blobs: &BlobDir,
    task: &WireTask,
) -> WireResult {
    let started_unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let clock = Instant::now();
    let key = TaskKey(task.key);
    let mut outputs = Vec::new();
    let run = match module {
        Err(message) => TaskRun::infrastructure(message.clone()),
        Ok(module) => {
            let args: Vec<&[u8]> = task.args.iter().map(Vec::as_slice).collect();
            if task.uses_files {
                match prepare_files(exchange, blobs, &key, &task.files) {
                    Err(message) => TaskRun::infrastructure(message),
                    Ok((dirs, preopens)) => {
                        let mut run = sandbox.call_with(module, &task.app, &args, &key, &preopens);
                        if run.outcome.is_ok() {
                            match dirs.collect_outputs(blobs) {
                                Ok(files) => outputs = files.iter().map(WireOutput::from).collect(),
                                Err(e) => {
                                    run.outcome = Err(TaskFailure::new(
                                        FailureKind::Infrastructure,
                                        format!("storing the task's output files: {e}"),
                                    ));
                                }
                            }
                        }
                        run
                    }
                }
            } else {
                sandbox.call(module, &task.app, &args, &key)
            }
        }
    };
    WireResult {
        outcome: run.outcome,
        stdout: run.stdout,
        stderr: run.stderr,
        fuel_used: run.fuel_used,
        started_unix_ms,
        elapsed_us: clock.elapsed().as_micros() as u64,
        outputs,
    }
}

/// The task's file directories in the exchange, with its input files placed.
fn prepare_files(
    exchange: &Exchange,
    blobs: &BlobDir,
    key: &TaskKey,
    files: &[([u8; 32], u64)],
) -> Result<(crate::runinfo::TaskFileDirs, Vec<Preopen>), String> {
    let dirs = exchange.task_file_dirs(key).map_err(|e| e.to_string())?;
    for (digest, len) in files {
        let digest = ValueDigest(*digest);
        let bytes = blobs.get(&digest, *len).map_err(|e| e.to_string())?;
        dirs.place(&digest, &bytes).map_err(|e| e.to_string())?;
    }
    let preopens = vec![
        Preopen {
            host: dirs.input.clone(),
            guest: wf_abi::GUEST_INPUT_DIR,
            writable: false,
        },
        Preopen {
            host: dirs.output.clone(),
            guest: wf_abi::GUEST_OUTPUT_DIR,
            writable: true,
        },
    ];
    Ok((dirs, preopens))
}
