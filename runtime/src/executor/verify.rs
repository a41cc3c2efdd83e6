//! `verify`: re-execute recorded tasks in fresh sandboxes and check that they give the recorded
//! results, bit for bit (DESIGN §3.2: same key ⇒ same output bytes on every platform).
//!
//! A record keeps everything its task needs (format 2): the module (kept in the checkpoint's
//! `modules/`), the argument bytes, the digests of the files it read, the fuel limit and the
//! salt. Verification re-derives the key from those inputs (a record whose inputs were altered no
//! longer matches its key), reads the recorded result and output files through their digests (a
//! tampered blob is caught there), re-executes the task in a new run of the same runinfo — under
//! the same key, so the guest sees the same virtual clock and the same random numbers — and
//! compares the bytes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::runner::{RunError, Runner, RunnerConfig, TaskHandle};
use crate::key::{KeyInputs, ModuleDigest, TaskKey, ValueDigest};
use crate::runinfo::{
    BlobDir, InputDirs, LoadedCheckpoint, OutcomeRef, OutputFile, RecordRef, load_with_lineage,
};
use crate::sandbox::{FailureKind, Limits, LoadedModule};

/// How to verify.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The share of records to re-execute, in percent (0 < p ≤ 100). The sample is chosen by key,
    /// so the same percentage picks the same tasks on every machine.
    pub sample_percent: f64,
    /// Worker threads.
    pub workers: usize,
    /// Where to find the input files (granted to the original run) that recorded tasks read.
    pub input_dirs: Vec<PathBuf>,
    /// Limits for the re-execution besides fuel (which comes from each record): the timeout and
    /// memory ceiling.
    pub limits: Limits,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            sample_percent: 100.0,
            workers: RunnerConfig::default().workers,
            input_dirs: Vec::new(),
            limits: Limits::default(),
        }
    }
}

/// A recorded task that did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The record's key.
    pub key: TaskKey,
    /// Its app.
    pub app: String,
    /// Where the record starts in the log.
    pub offset: u64,
    /// What differs, or why it could not be checked (a damaged blob, a missing module).
    pub what: String,
}

/// A recorded task that was not re-executed, and why (e.g. an input file that is not available).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The record's key.
    pub key: TaskKey,
    /// Its app.
    pub app: String,
    /// Why.
    pub why: String,
}

/// What `verify` found.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Records in the checkpoint.
    pub records: u64,
    /// Records in the sample.
    pub sampled: u64,
    /// Sampled records whose re-execution gave the recorded result.
    pub matched: u64,
    /// Sampled records that did not verify.
    pub mismatches: Vec<Mismatch>,
    /// Sampled records that could not be re-executed here.
    pub skipped: Vec<Skipped>,
    /// Warnings from loading the checkpoint and its lineage.
    pub warnings: Vec<String>,
    /// Damaged stretches of the verified log (not a torn tail): records that could not even be
    /// read, so they count against the checkpoint like mismatches.
    pub damaged: u64,
    /// The runs the re-executions were recorded as.
    pub runs: Vec<String>,
}

/// Whether the record of `key` is in a `percent` sample: the first two bytes of the key, as a
/// fraction of 65,536, below `percent` / 100.
pub fn in_sample(key: &TaskKey, percent: f64) -> bool {
    let position = f64::from(u16::from_le_bytes([key.0[0], key.0[1]])) / 65_536.0;
    position * 100.0 < percent
}

/// One record to re-execute.
struct Planned {
    key: TaskKey,
    app: String,
    module: ModuleDigest,
    offset: u64,
    args: Vec<Vec<u8>>,
    files: Vec<ValueDigest>,
    expected: Expected,
    expected_outputs: Vec<OutputFile>,
}

enum Expected {
    Result(Vec<u8>),
    Failure(FailureKind, String),
}

/// Re-executes the sampled records of the checkpoint at `checkpoint_dir` as new runs of
/// `runinfo`, and compares.
pub fn verify_checkpoint(
    checkpoint_dir: &Path,
    runinfo: &Path,
    options: &VerifyOptions,
) -> Result<VerifyReport, RunError> {
    let (loaded, warnings) = load_with_lineage(checkpoint_dir)?;
    let mut report = VerifyReport {
        warnings,
        ..VerifyReport::default()
    };
    let Some(target) = loaded.last() else {
        return Ok(report);
    };
    for warning in target.warnings() {
        report.warnings.push(warning.to_string());
        if !warning.is_torn_tail() {
            report.damaged += 1;
        }
    }
    report.records = target.len() as u64;

    // Group the sample by what the engine must be configured with: fuel and salt.
    let mut groups: BTreeMap<(Option<u64>, String), Vec<Planned>> = BTreeMap::new();
    for (index, record) in target.records().enumerate() {
        if !in_sample(&record.key, options.sample_percent) {
            continue;
        }
        report.sampled += 1;
        let offset = target.record_offset(index).unwrap_or(0);
        match plan(&record, target.blobs(), offset) {
            Ok((group, planned)) => groups.entry(group).or_default().push(planned),
            Err(what) => report.mismatches.push(Mismatch {
                key: record.key,
                app: record.app.to_owned(),
                offset,
                what,
            }),
        }
    }

    for ((fuel, salt), planned) in groups {
        let config = RunnerConfig {
            workers: options.workers.max(1),
            limits: Limits {
                fuel,
                ..options.limits
            },
            memoize: false,
            salt,
            input_dirs: options.input_dirs.clone(),
            ..RunnerConfig::default()
        };
        let runner = Runner::new(config, Some(runinfo))?;
        re_execute(&runner, &loaded, target, planned, options, &mut report)?;
    }
    Ok(report)
}

/// Reads what a record says about its task; the engine group it needs and the plan, or why it
/// cannot be verified.
fn plan(
    record: &RecordRef<'_>,
    blobs: &BlobDir,
    offset: u64,
) -> Result<((Option<u64>, String), Planned), String> {
    let inputs = record
        .inputs()
        .map_err(|e| format!("its inputs do not decode ({e}): a record from a broken writer"))?;
    let mut args = Vec::with_capacity(inputs.args.len());
    for (k, arg) in inputs.args.iter().enumerate() {
        let bytes = blobs
            .resolve(arg)
            .map_err(|e| format!("argument {k} cannot be read: {e}"))?;
        args.push(bytes.into_owned());
    }
    let digests: Vec<ValueDigest> = args.iter().map(|a| ValueDigest::of(a)).collect();
    let derived = TaskKey::derive(&KeyInputs {
        module: record.module,
        app: record.app,
        args: &digests,
        files: &[],
        fuel: inputs.fuel,
        salt: inputs.salt,
    });
    if derived != record.key {
        return Err(format!(
            "the record's key does not match its recorded inputs (they derive {derived}): the record was altered"
        ));
    }
    let expected = match record.outcome {
        OutcomeRef::Ok(payload) => Expected::Result(
            blobs
                .resolve(&payload)
                .map_err(|e| format!("the recorded result cannot be read: {e}"))?
                .into_owned(),
        ),
        OutcomeRef::Failed { kind, message } => {
            Expected::Failure(super::core::failure_kind(kind), message.to_owned())
        }
    };
    let expected_outputs = record.output_files();
    for output in &expected_outputs {
        blobs
            .get(&output.digest, output.len)
            .map_err(|e| format!("recorded output file `{}` cannot be read: {e}", output.name))?;
    }
    Ok((
        (inputs.fuel, inputs.salt.to_owned()),
        Planned {
            key: record.key,
            app: record.app.to_owned(),
            module: record.module,
            offset,
            args,
            files: inputs.files.clone(),
            expected,
            expected_outputs,
        },
    ))
}

fn re_execute(
    runner: &Runner,
    loaded: &[LoadedCheckpoint],
    target: &LoadedCheckpoint,
    planned: Vec<Planned>,
    options: &VerifyOptions,
    report: &mut VerifyReport,
) -> Result<(), RunError> {
    let session = runner.start(&format!(
        "verify {}",
        target.path().parent().unwrap_or(target.path()).display()
    ))?;
    if let Some(id) = session.run_id() {
        report.runs.push(id);
    }
    // Every file a recorded task may have read: outputs of recorded tasks (blobs), then the
    // granted input directories, found by content.
    for checkpoint in loaded {
        for record in checkpoint.records() {
            if !record.outputs.is_empty() {
                session.register_files(&record.output_files(), checkpoint.blobs());
            }
        }
    }
    let needs_inputs = planned.iter().any(|p| !p.files.is_empty());
    let mut available: HashSet<ValueDigest> = HashSet::new();
    if needs_inputs && !options.input_dirs.is_empty() {
        let dirs = InputDirs::open(&options.input_dirs)?;
        for name in dirs.names() {
            if let Ok(digest) = session.register_input(&name) {
                available.insert(digest);
            }
        }
    }
    let known: HashSet<ValueDigest> = loaded
        .iter()
        .flat_map(|c| {
            c.records()
                .flat_map(|r| r.outputs.iter().map(|o| o.digest).collect::<Vec<_>>())
        })
        .chain(available)
        .collect();

    let mut modules: HashMap<ModuleDigest, LoadedModule> = HashMap::new();
    let mut running: Vec<(Planned, TaskHandle)> = Vec::new();
    for task in planned {
        if let Some(missing) = task.files.iter().find(|f| !known.contains(f)) {
            report.skipped.push(Skipped {
                key: task.key,
                app: task.app,
                why: format!(
                    "it read file {missing}, which is neither a recorded output nor in the input directories given (--input-dir)"
                ),
            });
            continue;
        }
        let module = match modules.get(&task.module) {
            Some(module) => module.clone(),
            None => {
                let loaded_module = target
                    .blobs()
                    .module(&task.module)
                    .map_err(|e| e.to_string())
                    .and_then(|bytes| runner.load(&bytes).map_err(|e| e.to_string()));
                match loaded_module {
                    Ok(module) => {
                        modules.insert(task.module, module.clone());
                        module
                    }
                    Err(why) => {
                        report.mismatches.push(Mismatch {
                            key: task.key,
                            app: task.app,
                            offset: task.offset,
                            what: format!("its module cannot be loaded: {why}"),
                        });
                        continue;
                    }
                }
            }
        };
        match session.submit_recorded(&module, &task.app, task.args.clone(), task.files.clone()) {
            Ok(handle) => running.push((task, handle)),
            Err(e) => report.mismatches.push(Mismatch {
                key: task.key,
                app: task.app,
                offset: task.offset,
                what: format!("it cannot be submitted again: {e}"),
            }),
        }
    }

    for (task, handle) in running {
        let outcome = session.wait(handle);
        let (key, outputs, failure) = session.task_outcome(handle);
        // A failure that says nothing about the task itself (a timeout on a slower machine, the
        // memory ceiling of this run, an infrastructure problem) is no verdict on the record.
        if let Some(failure) = failure.as_ref().filter(|f| !f.kind.is_deterministic()) {
            report.skipped.push(Skipped {
                key: task.key,
                app: task.app,
                why: format!(
                    "its re-execution could not complete here ({}: {}); the record was not checked",
                    failure.kind, failure.message
                ),
            });
            continue;
        }
        let mut problems = Vec::new();
        if key.is_some_and(|k| k != task.key) {
            problems.push(format!(
                "it ran under key {} instead of the recorded one",
                key.map(|k| k.to_string()).unwrap_or_default()
            ));
        }
        match (&task.expected, &outcome) {
            (Expected::Result(expected), Ok(found)) => {
                if expected != found {
                    problems.push(format!(
                        "its result differs: recorded {} bytes with digest {}, re-executed {} bytes with digest {}",
                        expected.len(),
                        ValueDigest::of(expected),
                        found.len(),
                        ValueDigest::of(found)
                    ));
                }
                problems.extend(compare_outputs(&task.expected_outputs, &outputs));
            }
            (Expected::Result(_), Err(failure)) => {
                problems.push(format!(
                    "it succeeded when recorded, but now fails: {failure}"
                ));
            }
            (Expected::Failure(kind, recorded), Ok(_)) => problems.push(format!(
                "it failed when recorded ({kind}: {recorded}), but now succeeds"
            )),
            (Expected::Failure(kind, recorded), Err(message)) => {
                let same = failure
                    .as_ref()
                    .is_some_and(|f| f.kind == *kind && f.message == *recorded);
                if !same {
                    problems.push(format!(
                        "it fails differently: recorded {kind}: `{recorded}`, now {message}"
                    ));
                }
            }
        }
        if problems.is_empty() {
            report.matched += 1;
        } else {
            report.mismatches.push(Mismatch {
                key: task.key,
                app: task.app,
                offset: task.offset,
                what: problems.join("; "),
            });
        }
    }
    session.finish()?;
    Ok(())
}

fn compare_outputs(expected: &[OutputFile], found: &[OutputFile]) -> Vec<String> {
    let by_name = |files: &[OutputFile]| -> BTreeMap<String, (ValueDigest, u64)> {
        files
            .iter()
            .map(|f| (f.name.clone(), (f.digest, f.len)))
            .collect()
    };
    let (expected, found) = (by_name(expected), by_name(found));
    let mut problems = Vec::new();
    for (name, (digest, len)) in &expected {
        match found.get(name) {
            None => problems.push(format!("it no longer writes output file `{name}`")),
            Some((d, l)) if d != digest => problems.push(format!(
                "output file `{name}` differs: recorded {len} bytes with digest {digest}, re-executed {l} bytes with digest {d}"
            )),
            Some(_) => {}
        }
    }
    for name in found.keys().filter(|n| !expected.contains_key(*n)) {
        problems.push(format!("it now also writes output file `{name}`"));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_is_a_share_of_keys() {
        let keys: Vec<TaskKey> = (0..4096u32)
            .map(|i| TaskKey(*blake3::hash(&i.to_le_bytes()).as_bytes()))
            .collect();
        let count = |p: f64| keys.iter().filter(|k| in_sample(k, p)).count();
        assert_eq!(count(100.0), keys.len());
        assert_eq!(count(0.0), 0);
        let ten = count(10.0);
        assert!((300..520).contains(&ten), "10% of 4096 keys gave {ten}");
        // Nested: a 10% sample is inside a 50% one.
        assert!(
            keys.iter()
                .filter(|k| in_sample(k, 10.0))
                .all(|k| in_sample(k, 50.0))
        );
    }
}
