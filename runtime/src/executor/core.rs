//! The state of a run in progress, behind one mutex: the scheduler, what is known about each
//! task, the memo table and the checkpoint writer. Every event — a submission from the workflow,
//! a finished job from a worker — takes the lock, feeds the scheduler, and carries out the
//! actions it returns before letting go.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::backend::{Backend, Job, JobDone};
use super::committer::{Committer, Pending};
use super::files::FileTable;
use super::report::{TaskReport, TaskStatusReport};
use crate::key::{KeyInputs, ModuleDigest, TaskKey, ValueDigest};
use crate::runinfo::{
    BlobDir, CheckpointRecord, MemoTable, Outcome, OutputFile, Payload, Resolved, StoreError,
};
use crate::sandbox::{FailureKind, TaskFailure};
use crate::scheduler::{
    Action, ArgSource, Counts, FailureCause, LookupAnswer, Resolution, Scheduler, SubmitError,
    TaskId, TaskSpec, TaskStatus,
};

/// A result known to this process, with the files its task wrote.
#[derive(Debug, Clone)]
pub(crate) struct MemoValue {
    pub bytes: Arc<[u8]>,
    pub outputs: Arc<[OutputFile]>,
    /// Where the output files' blobs are.
    pub blobs: Option<BlobDir>,
}

/// Results known to this process, by key: what earlier runs of the same [`Runner`] computed.
///
/// [`Runner`]: super::Runner
pub(crate) type ProcessMemo = HashMap<TaskKey, MemoValue>;

/// What the run knows about one task, besides the scheduler's state.
#[derive(Debug, Clone)]
pub(crate) struct TaskInfo {
    pub app: Arc<str>,
    pub module: ModuleDigest,
    pub key: Option<TaskKey>,
    /// Whether the app allows memoization.
    pub cache: bool,
    /// Whether the app takes or makes files.
    pub uses_files: bool,
    /// The files the task may read: those its arguments name, then (once it runs) those of its
    /// dependencies too.
    pub files: Arc<[ValueDigest]>,
    /// The tasks whose results are its arguments.
    pub deps: Vec<TaskId>,
    /// The files it wrote (or that its reused record lists).
    pub outputs: Arc<[OutputFile]>,
    pub attempts: u32,
    pub seconds: f64,
    pub failure: Option<TaskFailure>,
}

/// Settings the core needs for every task.
#[derive(Debug, Clone)]
pub(crate) struct CoreSettings {
    pub memoize: bool,
    pub fuel: Option<u64>,
    pub salt: String,
}

pub(crate) struct Core {
    pub sched: Scheduler,
    pub tasks: Vec<TaskInfo>,
    pub memo: ProcessMemo,
    pub checkpoints: Arc<MemoTable>,
    /// Commits records (group commit) before their tasks resolve; `None` without a runinfo.
    pub committer: Option<Committer>,
    /// Where this run's checkpoint keeps blobs (output files, large results).
    pub blobs: Option<BlobDir>,
    /// Records durable so far, and how many of them a `checkpoint()` call has reported.
    durable: u64,
    reported: u64,
    /// The first error of the checkpoint store: the run goes on, and reports it at the end.
    pub store_error: Option<StoreError>,
    pub settings: CoreSettings,
    pub backend: Arc<dyn Backend>,
    pub files: Arc<FileTable>,
    /// Threads blocked in `wait_for`; a change wakes them only when there are some.
    pub waiters: usize,
    actions: Vec<Action>,
    spare: Vec<Action>,
}

/// The core and the condition its waiters wait on.
pub(crate) struct Shared {
    pub core: Mutex<Core>,
    pub changed: Condvar,
}

impl Shared {
    pub fn new(core: Core) -> Arc<Shared> {
        Arc::new(Shared {
            core: Mutex::new(core),
            changed: Condvar::new(),
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, Core> {
        // A panic while holding the lock is a bug in the engine; the state is still the
        // scheduler's consistent state between events, so carry on with it.
        self.core
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Blocks until `task` has ended: its result bytes or the failure message.
    pub fn wait_for(&self, task: TaskId) -> Result<Vec<u8>, String> {
        let mut core = self.lock();
        loop {
            match core.sched.status(task) {
                None => return Err(format!("there is no task {task}")),
                Some(TaskStatus::Resolved(_)) => {
                    return Ok(core
                        .sched
                        .result(task)
                        .map(<[u8]>::to_vec)
                        .unwrap_or_default());
                }
                Some(TaskStatus::Failed(_)) => {
                    return Err(core.failure_message(task));
                }
                Some(_) => {
                    core.waiters += 1;
                    core = self
                        .changed
                        .wait(core)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    core.waiters -= 1;
                }
            }
        }
    }

    /// Blocks until every submitted task has ended.
    pub fn wait_all(&self) {
        let mut core = self.lock();
        while !core.sched.is_finished() {
            core.waiters += 1;
            core = self
                .changed
                .wait(core)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            core.waiters -= 1;
        }
    }

    /// The committer made a batch of records durable.
    pub fn on_committed(&self, batch: Vec<Pending>, durable: u64, error: Option<StoreError>) {
        let mut core = self.lock();
        core.on_committed(batch, durable, error);
        if core.waiters > 0 {
            self.changed.notify_all();
        }
    }

    /// A worker finished a job.
    pub fn on_job_done(&self, done: JobDone) {
        let mut core = self.lock();
        core.on_job_done(done);
        if core.waiters > 0 {
            self.changed.notify_all();
        }
    }
}

impl Core {
    pub fn new(
        settings: CoreSettings,
        memo: ProcessMemo,
        checkpoints: Arc<MemoTable>,
        blobs: Option<BlobDir>,
        backend: Arc<dyn Backend>,
        files: Arc<FileTable>,
    ) -> Core {
        Core {
            sched: Scheduler::new(),
            tasks: Vec::new(),
            memo,
            checkpoints,
            committer: None,
            blobs,
            durable: 0,
            reported: 0,
            store_error: None,
            settings,
            backend,
            files,
            waiters: 0,
            actions: Vec::new(),
            spare: Vec::new(),
        }
    }

    pub fn counts(&self) -> Counts {
        self.sched.counts()
    }

    /// Submits a task whose arguments and app were checked by the caller.
    pub fn submit(
        &mut self,
        module: ModuleDigest,
        spec: TaskSpec,
        uses_files: bool,
        files: Vec<ValueDigest>,
    ) -> Result<TaskId, SubmitError> {
        let app = spec.app.clone();
        let cache = spec.cache;
        let deps: Vec<TaskId> = spec
            .args
            .iter()
            .flat_map(|arg| match arg {
                ArgSource::Value(_) => Vec::new(),
                ArgSource::Future(id) => vec![*id],
                ArgSource::Futures(ids) => ids.clone(),
            })
            .collect();
        let mut actions = std::mem::take(&mut self.actions);
        let submitted = self.sched.on_submit(spec, &mut actions);
        if let Ok(id) = submitted {
            debug_assert_eq!(id.0 as usize, self.tasks.len());
            self.tasks.push(TaskInfo {
                app,
                module,
                key: None,
                cache,
                uses_files,
                files: files.into(),
                deps,
                outputs: Arc::from([]),
                attempts: 0,
                seconds: 0.0,
                failure: None,
            });
        }
        self.actions = actions;
        self.process();
        submitted
    }

    fn on_job_done(&mut self, done: JobDone) {
        let JobDone {
            job,
            run,
            started_unix_ms,
            elapsed,
            outputs,
        } = done;
        let index = job.task.0 as usize;
        let outputs: Arc<[OutputFile]> = outputs.into();
        if let Some(info) = self.tasks.get_mut(index) {
            info.attempts = job.attempt;
            info.seconds += elapsed.as_secs_f64();
            info.outputs = outputs.clone();
        }
        let mut actions = std::mem::take(&mut self.actions);
        match run.outcome {
            Ok(bytes) => {
                let cache = self.settings.memoize && self.cacheable(job.task);
                if cache {
                    let value = MemoValue {
                        bytes: Arc::from(bytes.as_slice()),
                        outputs: outputs.clone(),
                        blobs: self.blobs.clone(),
                    };
                    self.memo.insert(job.key, value);
                }
                match (&self.committer, cache) {
                    (Some(committer), true) => {
                        // Resolved by the committer once the record is durable.
                        let record = CheckpointRecord {
                            key: job.key,
                            app: job.app.to_string(),
                            module: job.module,
                            outcome: Outcome::Ok(Payload::Inline(Vec::new())),
                            outputs: outputs.to_vec(),
                            started_unix_ms,
                            duration_us: elapsed.as_micros() as u64,
                            attempts: job.attempt,
                        };
                        committer.send(Pending {
                            task: job.task,
                            result: bytes,
                            record,
                        });
                    }
                    _ => self.sched.on_finished(job.task, bytes, &mut actions),
                }
            }
            Err(failure) => {
                let reason = format!("{}: {}", failure.kind, failure.message);
                if let Some(info) = self.tasks.get_mut(index) {
                    info.failure = Some(failure);
                }
                self.sched.on_failed(job.task, &reason, &mut actions);
            }
        }
        self.actions = actions;
        self.process();
    }

    fn cacheable(&self, task: TaskId) -> bool {
        self.tasks
            .get(task.0 as usize)
            .is_some_and(|info| info.cache)
    }

    /// Records made durable since the last call. Every executed task's record is durable before
    /// its future resolves, so there is nothing left to write when a workflow asks.
    pub fn checkpoint(&mut self) -> u64 {
        let newly = self.durable - self.reported;
        self.reported = self.durable;
        newly
    }

    /// The committer made a batch durable (or failed to): resolve its tasks.
    fn on_committed(&mut self, batch: Vec<Pending>, durable: u64, error: Option<StoreError>) {
        if let Some(e) = error {
            self.store_error.get_or_insert(e);
        }
        self.durable = durable;
        let mut actions = std::mem::take(&mut self.actions);
        for pending in batch {
            self.sched
                .on_finished(pending.task, pending.result, &mut actions);
        }
        self.actions = actions;
        self.process();
    }

    /// Carries out the scheduler's actions until it has none left.
    fn process(&mut self) {
        let mut batch = std::mem::take(&mut self.actions);
        let mut out = std::mem::take(&mut self.spare);
        while !batch.is_empty() {
            for action in batch.drain(..) {
                self.carry_out(action, &mut out);
            }
            std::mem::swap(&mut batch, &mut out);
        }
        self.actions = batch;
        self.spare = out;
    }

    fn carry_out(&mut self, action: Action, out: &mut Vec<Action>) {
        match action {
            Action::Lookup { task, args, cache } => {
                let key = self.key_of(task, &args);
                let answer = if cache && self.settings.memoize {
                    self.look_up(task, &key)
                } else {
                    LookupAnswer::Miss
                };
                self.sched.on_lookup_done(task, key, answer, out);
            }
            Action::Run {
                task,
                key,
                args,
                attempt,
            } => {
                let files = self.files_for(task);
                let Some(info) = self.tasks.get(task.0 as usize) else {
                    return;
                };
                self.backend.submit(Job {
                    task,
                    module: info.module,
                    app: info.app.clone(),
                    key,
                    args,
                    attempt,
                    uses_files: info.uses_files,
                    files,
                });
            }
            Action::Resolved { .. } | Action::Failed { .. } | Action::Abort { .. } => {}
        }
    }

    fn key_of(&mut self, task: TaskId, args: &[Vec<u8>]) -> TaskKey {
        let digests: Vec<ValueDigest> = args.iter().map(|a| ValueDigest::of(a)).collect();
        let Some(info) = self.tasks.get_mut(task.0 as usize) else {
            return TaskKey([0; 32]);
        };
        let key = TaskKey::derive(&KeyInputs {
            module: info.module,
            app: &info.app,
            args: &digests,
            files: &[],
            fuel: self.settings.fuel,
            salt: &self.settings.salt,
        });
        info.key = Some(key);
        key
    }

    /// The files a task may read: those its arguments name and everything its dependencies
    /// could read or wrote (a file can travel inside a result).
    fn files_for(&mut self, task: TaskId) -> Arc<[ValueDigest]> {
        let Some(info) = self.tasks.get(task.0 as usize) else {
            return Arc::from([]);
        };
        if info.deps.is_empty() && info.files.is_empty() {
            return Arc::from([]);
        }
        let mut files: Vec<ValueDigest> = info.files.to_vec();
        for dep in &info.deps {
            if let Some(d) = self.tasks.get(dep.0 as usize) {
                files.extend(d.files.iter().copied());
                files.extend(d.outputs.iter().map(|o| o.digest));
            }
        }
        files.sort_unstable();
        files.dedup();
        files.retain(|digest| self.files.knows(digest));
        let files: Arc<[ValueDigest]> = files.into();
        if let Some(info) = self.tasks.get_mut(task.0 as usize) {
            info.files = files.clone();
        }
        files
    }

    fn look_up(&mut self, task: TaskId, key: &TaskKey) -> LookupAnswer {
        if let Some(value) = self.memo.get(key) {
            if let Some(blobs) = &value.blobs {
                self.files.register_outputs(&value.outputs, blobs);
            }
            let (bytes, outputs) = (value.bytes.to_vec(), value.outputs.clone());
            if let Some(info) = self.tasks.get_mut(task.0 as usize) {
                info.outputs = outputs;
            }
            return LookupAnswer::Hit(bytes);
        }
        let entry = self.checkpoints.get(key);
        if let Some(entry) = &entry {
            let outputs: Vec<OutputFile> = entry.record().to_record().outputs;
            self.files.register_outputs(&outputs, entry.blobs());
            if let Some(info) = self.tasks.get_mut(task.0 as usize) {
                info.outputs = outputs.into();
            }
        }
        match entry.map(|entry| entry.resolve()) {
            Some(Ok(Resolved::Ok(bytes))) => LookupAnswer::Hit(bytes.into_owned()),
            Some(Ok(Resolved::Failed { kind, message })) => {
                LookupAnswer::HitFailure(format!("{kind:?} (recorded): {message}"))
            }
            // A damaged or missing blob is a miss: the task runs again.
            Some(Err(_)) | None => LookupAnswer::Miss,
        }
    }

    /// Why `task` failed, for a waiting workflow.
    pub fn failure_message(&self, task: TaskId) -> String {
        let app = self
            .sched
            .app(task)
            .map(|a| a.to_string())
            .unwrap_or_default();
        let reason = self
            .sched
            .failure(task)
            .map(|r| r.to_string())
            .unwrap_or_default();
        format!("task {task} (`{app}`) failed: {reason}")
    }

    /// One line per task for the run's report.
    pub fn task_reports(&self) -> Vec<TaskReport> {
        self.tasks
            .iter()
            .enumerate()
            .map(|(i, info)| {
                let task = TaskId(i as u64);
                let (status, error) = match self.sched.status(task) {
                    Some(TaskStatus::Resolved(Resolution::Executed { .. })) => {
                        (TaskStatusReport::Executed, None)
                    }
                    Some(TaskStatus::Resolved(_)) => (TaskStatusReport::Cached, None),
                    Some(TaskStatus::Failed(cause)) => {
                        let kind = match cause {
                            FailureCause::Dependency { .. } => Some(FailureKind::Dependency),
                            FailureCause::Cancelled => Some(FailureKind::Cancelled),
                            _ => info.failure.as_ref().map(|f| f.kind),
                        };
                        (
                            TaskStatusReport::Failed,
                            Some(super::report::TaskError {
                                kind: kind.map(|k| k.as_str().to_owned()),
                                message: self.failure_message(task),
                            }),
                        )
                    }
                    _ => (TaskStatusReport::Pending, None),
                };
                TaskReport {
                    id: i as u64,
                    app: info.app.to_string(),
                    key: info.key.map(|k| k.to_hex()).unwrap_or_default(),
                    status,
                    attempts: info.attempts,
                    seconds: info.seconds,
                    error,
                }
            })
            .collect()
    }
}

/// Converts a workflow's argument specs into the scheduler's, checking future ids exist.
pub(crate) fn arg_sources(args: Vec<wf_abi::ArgSpec>) -> Vec<ArgSource> {
    args.into_iter()
        .map(|arg| match arg {
            wf_abi::ArgSpec::Value(bytes) => ArgSource::Value(bytes),
            wf_abi::ArgSpec::Future(id) => ArgSource::Future(TaskId(id)),
            wf_abi::ArgSpec::Futures(ids) => {
                ArgSource::Futures(ids.into_iter().map(TaskId).collect())
            }
        })
        .collect()
}
