//! `explain`: why did a task execute when the user expected a cache hit? Its key is compared,
//! component by component, with the nearest recorded entry of the same app in the earlier runs
//! of the runinfo — the module changed, an argument changed (with old and new digests and, where
//! small, values), an input file's content changed, the fuel limit or the salt changed — or, when
//! an earlier run recorded this very key, the run simply did not load that checkpoint.

use std::path::PathBuf;

use serde_json::Value;

use super::report::{RunReport, TaskReport, TaskStatusReport};
use super::runner::{Runner, RunnerConfig};
use crate::json_codec::decode_value;
use crate::key::{ModuleDigest, TaskKey, ValueDigest};
use crate::runinfo::{RecordRef, RunId, RunInfo, StoreError, TaskInputsRef};
use crate::sandbox::LoadedModule;

/// Values whose JSON is longer than this are shown by digest only.
const SMALL_VALUE: usize = 120;

/// Why a task cannot be explained.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExplainError {
    /// The run has no summary: it does not exist, is running, or was killed.
    #[error(
        "run {run} has no summary (it does not exist, is still running, or was interrupted): see `wfrun runs`"
    )]
    NoSummary {
        /// The run.
        run: RunId,
    },
    /// No task of the run has a key starting with the prefix.
    #[error("run {run} has no task whose key starts with `{prefix}` (see `wfrun show {run}`)")]
    NoTask {
        /// The run.
        run: RunId,
        /// What the user typed.
        prefix: String,
    },
    /// Several tasks match the prefix.
    #[error("`{prefix}` matches {} tasks of run {run}; give more of the key: {}", candidates.len(), candidates.join(", "))]
    Ambiguous {
        /// The run.
        run: RunId,
        /// What the user typed.
        prefix: String,
        /// The keys it matches (at most a few).
        candidates: Vec<String>,
    },
    /// The task has no record in its run's checkpoint, so its inputs are not known.
    #[error(
        "task {key} (`{app}`) is not in run {run}'s checkpoint (a policy that did not record it, an avoided app, or a failure not cached): its inputs were not kept, so there is nothing to compare"
    )]
    NotRecorded {
        /// The run.
        run: RunId,
        /// The task's key.
        key: TaskKey,
        /// Its app.
        app: String,
    },
    /// The task's record is readable but the inputs kept with it do not decode.
    #[error(
        "task {key} of run {run}: the inputs kept with its record do not decode ({detail}); the record is damaged, so there is nothing to compare (`wfrun verify {run}` checks the whole log)"
    )]
    DamagedInputs {
        /// The run.
        run: RunId,
        /// The task's key.
        key: TaskKey,
        /// What the decoder said.
        detail: String,
    },
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One component of a key that differs from the nearest recorded entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Difference {
    /// The module's code changed.
    Module {
        /// The recorded entry's module.
        recorded: ModuleDigest,
        /// This task's module.
        now: ModuleDigest,
    },
    /// The app takes another number of arguments.
    ArgumentCount {
        /// Recorded.
        recorded: usize,
        /// Now.
        now: usize,
    },
    /// An argument's value changed.
    Argument {
        /// Its position, from 1.
        position: usize,
        /// The parameter's name and type, when the module says.
        param: Option<String>,
        /// The recorded value's digest.
        recorded: ValueDigest,
        /// This task's.
        now: ValueDigest,
        /// The recorded value as JSON, when small.
        recorded_value: Option<String>,
        /// This task's value as JSON, when small.
        now_value: Option<String>,
    },
    /// An input file's content changed (the argument is a file).
    InputFile {
        /// The argument's position, from 1.
        position: usize,
        /// The parameter's name and type, when the module says.
        param: Option<String>,
        /// The recorded file content's digest.
        recorded: ValueDigest,
        /// This task's.
        now: ValueDigest,
    },
    /// The fuel limit changed (it is part of the key).
    Fuel {
        /// Recorded.
        recorded: Option<u64>,
        /// Now.
        now: Option<u64>,
    },
    /// The cache salt changed.
    Salt {
        /// Recorded.
        recorded: String,
        /// Now.
        now: String,
    },
}

/// The recorded entry a task is compared with.
#[derive(Debug, Clone, PartialEq)]
pub struct Nearest {
    /// The run that recorded it.
    pub run: RunId,
    /// Its key.
    pub key: TaskKey,
    /// Where its key differs from the task's.
    pub differences: Vec<Difference>,
}

/// Why a task's key missed.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The run.
    pub run: RunId,
    /// The task, as the run's summary has it.
    pub task: TaskReport,
    /// An earlier run that recorded this very key, if any: the task would have been a hit had
    /// the run loaded that checkpoint.
    pub same_key_in: Option<RunId>,
    /// The nearest recorded entry of the same app with another key, if any.
    pub nearest: Option<Nearest>,
}

/// Explains task `prefix` (a unique prefix of its key's hex) of `run`.
pub fn explain_task(
    runinfo_path: &std::path::Path,
    run: RunId,
    prefix: &str,
) -> Result<Explanation, ExplainError> {
    let runinfo = RunInfo::open(runinfo_path)?;
    let summary: RunReport = runinfo
        .read_summary(run)?
        .ok_or(ExplainError::NoSummary { run })?;
    let prefix = prefix.trim().to_ascii_lowercase();
    let matching: Vec<&TaskReport> = summary
        .task_list
        .iter()
        .filter(|t| !t.key.is_empty() && t.key.starts_with(&prefix))
        .collect();
    let mut distinct: Vec<&str> = matching.iter().map(|t| t.key.as_str()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let task = match (matching.first(), distinct.len()) {
        (None, _) => return Err(ExplainError::NoTask { run, prefix }),
        (Some(task), 1) => (*task).clone(),
        _ => {
            return Err(ExplainError::Ambiguous {
                run,
                prefix,
                candidates: distinct.iter().take(5).map(|k| (*k).to_owned()).collect(),
            });
        }
    };
    let key: TaskKey = task.key.parse().map_err(|_| ExplainError::NoTask {
        run,
        prefix: prefix.clone(),
    })?;

    let own = runinfo.load_checkpoint(run)?;
    let Some(record) = own.records().filter(|r| r.key == key).last() else {
        return Err(ExplainError::NotRecorded {
            run,
            key,
            app: task.app.clone(),
        });
    };
    let inputs = record.inputs().map_err(|e| ExplainError::DamagedInputs {
        run,
        key,
        detail: e.to_string(),
    })?;
    let modules = ModuleCache::new(runinfo_path);
    let now_module = modules.load(&own, &record.module);

    let mut same_key_in = None;
    let mut best: Option<(usize, Nearest)> = None;
    // Earlier runs only, oldest first, so that among equally near entries the latest wins.
    for earlier in runinfo.runs()?.into_iter().filter(|id| *id < run) {
        let Ok(checkpoint) = runinfo.load_checkpoint(earlier) else {
            continue;
        };
        for candidate in checkpoint.records().filter(|r| r.app == record.app) {
            if candidate.key == key {
                same_key_in = Some(earlier);
                continue;
            }
            let Ok(candidate_inputs) = candidate.inputs() else {
                continue;
            };
            let distance = distance(&record, &inputs, &candidate, &candidate_inputs);
            if best.as_ref().is_none_or(|(d, _)| distance <= *d) {
                let recorded_module = modules.load(&checkpoint, &candidate.module);
                let differences = differences(
                    (&candidate, &candidate_inputs, recorded_module.as_ref()),
                    (&record, &inputs, now_module.as_ref()),
                    (&checkpoint, &own),
                );
                best = Some((
                    distance,
                    Nearest {
                        run: earlier,
                        key: candidate.key,
                        differences,
                    },
                ));
            }
        }
    }
    Ok(Explanation {
        run,
        task,
        same_key_in,
        nearest: best.map(|(_, nearest)| nearest),
    })
}

/// Loads modules kept in checkpoints, to name parameters and decode values.
struct ModuleCache {
    runner: Option<Runner>,
}

impl ModuleCache {
    fn new(runinfo: &std::path::Path) -> ModuleCache {
        let config = RunnerConfig {
            workers: 1,
            ..RunnerConfig::default()
        };
        ModuleCache {
            runner: Runner::new(config, Some(runinfo)).ok(),
        }
    }

    fn load(
        &self,
        checkpoint: &crate::runinfo::LoadedCheckpoint,
        digest: &ModuleDigest,
    ) -> Option<LoadedModule> {
        let bytes = checkpoint.blobs().module(digest).ok()?;
        self.runner.as_ref()?.load(&bytes).ok()
    }
}

fn distance(
    a: &RecordRef<'_>,
    a_inputs: &TaskInputsRef<'_>,
    b: &RecordRef<'_>,
    b_inputs: &TaskInputsRef<'_>,
) -> usize {
    let args = if a_inputs.args.len() == b_inputs.args.len() {
        a_inputs
            .args
            .iter()
            .zip(&b_inputs.args)
            .filter(|(x, y)| x.digest() != y.digest())
            .count()
    } else {
        a_inputs.args.len().max(b_inputs.args.len())
    };
    usize::from(a.module != b.module)
        + args
        + usize::from(a_inputs.fuel != b_inputs.fuel)
        + usize::from(a_inputs.salt != b_inputs.salt)
}

type Side<'r, 'a> = (
    &'r RecordRef<'a>,
    &'r TaskInputsRef<'a>,
    Option<&'r LoadedModule>,
);

fn differences(
    recorded: Side<'_, '_>,
    now: Side<'_, '_>,
    checkpoints: (
        &crate::runinfo::LoadedCheckpoint,
        &crate::runinfo::LoadedCheckpoint,
    ),
) -> Vec<Difference> {
    let (old, old_inputs, old_module) = recorded;
    let (new, new_inputs, new_module) = now;
    let mut out = Vec::new();
    if old.module != new.module {
        out.push(Difference::Module {
            recorded: old.module,
            now: new.module,
        });
    }
    if old_inputs.args.len() != new_inputs.args.len() {
        out.push(Difference::ArgumentCount {
            recorded: old_inputs.args.len(),
            now: new_inputs.args.len(),
        });
    } else {
        let descriptor = new_module.and_then(|m| m.app(new.app));
        let old_descriptor = old_module.and_then(|m| m.app(old.app));
        for (i, (a, b)) in old_inputs.args.iter().zip(&new_inputs.args).enumerate() {
            if a.digest() == b.digest() {
                continue;
            }
            let param = descriptor.and_then(|d| d.params.get(i));
            let name = param.map(|p| format!("{}: {}", p.name, p.ty.rust));
            let old_bytes = checkpoints.0.blobs().resolve(a).ok();
            let new_bytes = checkpoints.1.blobs().resolve(b).ok();
            let is_file = param.is_some_and(|p| p.ty.schema.name == wf_abi::FILE_SCHEMA_NAME);
            let file_digest = |bytes: &Option<std::borrow::Cow<'_, [u8]>>| {
                bytes
                    .as_ref()
                    .and_then(|b| postcard::from_bytes::<wf_abi::FileRef>(b).ok())
                    .map(|f| ValueDigest(f.digest))
            };
            if is_file
                && let (Some(recorded), Some(now)) =
                    (file_digest(&old_bytes), file_digest(&new_bytes))
            {
                out.push(Difference::InputFile {
                    position: i + 1,
                    param: name,
                    recorded,
                    now,
                });
                continue;
            }
            let show = |bytes: &Option<std::borrow::Cow<'_, [u8]>>,
                        app: Option<&wf_abi::AppDescriptor>| {
                let ty = &app?.params.get(i)?.ty;
                let value: Value = decode_value(ty, bytes.as_ref()?)?;
                let text = value.to_string();
                (text.len() <= SMALL_VALUE).then_some(text)
            };
            out.push(Difference::Argument {
                position: i + 1,
                param: name,
                recorded: a.digest(),
                now: b.digest(),
                recorded_value: show(&old_bytes, old_descriptor.or(descriptor)),
                now_value: show(&new_bytes, descriptor),
            });
        }
    }
    if old_inputs.fuel != new_inputs.fuel {
        out.push(Difference::Fuel {
            recorded: old_inputs.fuel,
            now: new_inputs.fuel,
        });
    }
    if old_inputs.salt != new_inputs.salt {
        out.push(Difference::Salt {
            recorded: old_inputs.salt.to_owned(),
            now: new_inputs.salt.to_owned(),
        });
    }
    out
}

impl Explanation {
    /// The explanation in sentences, one per line, for the terminal.
    pub fn to_text(&self, runinfo: &std::path::Path) -> String {
        let task = &self.task;
        let status = match task.status {
            TaskStatusReport::Executed => "executed",
            TaskStatusReport::Cached => "was a cache hit",
            TaskStatusReport::Failed => "failed",
            TaskStatusReport::Pending => "never finished",
        };
        let mut lines = vec![format!(
            "task {} (`{}`) of run {}: {status}",
            task.key, task.app, self.run
        )];
        if task.status == TaskStatusReport::Cached {
            lines.push("its result was reused: nothing to explain".to_owned());
        }
        if let Some(earlier) = self.same_key_in {
            let checkpoint: PathBuf = runinfo.join(earlier.to_string()).join("checkpoint");
            lines.push(format!(
                "run {earlier} recorded this very key: run {} did not load that checkpoint (rerun with --resume, or --checkpoint-files {})",
                self.run,
                checkpoint.display()
            ));
        }
        match &self.nearest {
            None if self.same_key_in.is_none() => lines.push(format!(
                "no other run recorded app `{}`: there is nothing to compare with",
                task.app
            )),
            None => {}
            Some(nearest) => {
                lines.push(format!(
                    "nearest recorded entry: task {} of run {}; its key differs in:",
                    nearest.key, nearest.run
                ));
                for difference in &nearest.differences {
                    lines.push(format!("  {}", describe(difference)));
                }
            }
        }
        lines.join("\n")
    }
}

fn describe(difference: &Difference) -> String {
    let param = |position: &usize, param: &Option<String>| match param {
        Some(p) => format!("argument {position} (`{p}`)"),
        None => format!("argument {position}"),
    };
    match difference {
        Difference::Module { recorded, now } => {
            format!("the module: its code changed (recorded module {recorded}, now {now})")
        }
        Difference::ArgumentCount { recorded, now } => {
            format!("the number of arguments: {recorded} recorded, {now} now")
        }
        Difference::Argument {
            position,
            param: p,
            recorded,
            now,
            recorded_value,
            now_value,
        } => {
            let value = |v: &Option<String>, d: &ValueDigest| match v {
                Some(v) => format!("{v} (digest {d})"),
                None => format!("digest {d}"),
            };
            format!(
                "{}: was {}, now {}",
                param(position, p),
                value(recorded_value, recorded),
                value(now_value, now)
            )
        }
        Difference::InputFile {
            position,
            param: p,
            recorded,
            now,
        } => format!(
            "{}: the input file's content changed (recorded content {recorded}, now {now})",
            param(position, p)
        ),
        Difference::Fuel { recorded, now } => {
            let show = |f: &Option<u64>| f.map_or("no limit".to_owned(), |f| f.to_string());
            format!(
                "the fuel limit: {} recorded, {} now",
                show(recorded),
                show(now)
            )
        }
        Difference::Salt { recorded, now } => {
            let show = |s: &str| {
                if s.is_empty() {
                    "no salt".to_owned()
                } else {
                    format!("`{s}`")
                }
            };
            format!(
                "the cache salt: {} recorded, {} now",
                show(recorded),
                show(now)
            )
        }
    }
}
