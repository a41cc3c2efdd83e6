//! The state of a run in progress, behind one mutex: the scheduler, what is known about each
//! task, the memo table and the checkpoint writer. Every event — a submission from the workflow,
//! a finished job from a worker — takes the lock, feeds the scheduler, and carries out the
//! actions it returns before letting go.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Sender};

use super::backend::{Backend, Job, JobDone};
use super::committer::{Committer, Pending};
use super::files::FileTable;
use super::report::{TaskReport, TaskStatusReport};
use crate::checkpoint_policy::{CheckpointPolicy, Decision};
use crate::key::{DigestMap, KeyInputs, ModuleDigest, TaskKey, ValueDigest};
use crate::runinfo::{
    BlobDir, CheckpointRecord, GuestFailure, MemoTable, Outcome, OutputFile, Payload, Resolved,
    StoreError, TaskInputs,
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
pub(crate) type ProcessMemo = DigestMap<TaskKey, MemoValue>;

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
    /// Where and when it ran or resolved, for the run's timeline.
    pub timing: Timing,
}

/// Where and when a task ran (its last attempt) or, if it did not run, when it resolved; offsets
/// from the run's origin.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Timing {
    pub worker: Option<u32>,
    pub start: Option<Duration>,
    pub end: Option<Duration>,
}

/// Settings the core needs for every task.
#[derive(Debug, Clone)]
pub(crate) struct CoreSettings {
    pub memoize: bool,
    /// Record deterministic guest failures too, and reuse them.
    pub cache_failures: bool,
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
    /// When to write records; `None` without a runinfo or with memoization off.
    pub policy: Option<CheckpointPolicy>,
    /// The origin of the policy's clock and of the run's timeline.
    pub origin: Instant,
    /// The wall clock at `origin`: a backend reports when a job started by the wall clock.
    pub origin_wall: SystemTime,
    /// Finished tasks whose records wait for the policy.
    held: HashMap<TaskId, Pending>,
    /// Records handed to the committer, and those it made durable.
    sent: u64,
    durable: u64,
    /// The first error of the checkpoint store: the run goes on, and reports it at the end.
    pub store_error: Option<StoreError>,
    pub settings: CoreSettings,
    pub backend: Arc<dyn Backend>,
    pub files: Arc<FileTable>,
    actions: Vec<Action>,
    spare: Vec<Action>,
}

/// The core behind its lock, and what workers and the committer reported that is not applied
/// to it yet.
///
/// Neither a worker reporting a finished job nor the committer reporting a durable batch waits
/// for the lock: each queues its report and applies the queue itself only if the lock is free
/// ([`report`](Self::report)); whoever holds the lock applies the queue before releasing it
/// ([`CoreGuard`]). So a worker goes on to its next task while the workflow's thread submits,
/// instead of sleeping on the lock and waiting to be scheduled again (at -j 2, measured: about
/// one acquisition in fifteen waited, 20-50 us each, the committer's about 1.5 ms).
///
/// No report is left in the queue with nobody to apply it: a reporter queues, then tries the
/// lock; a holder applies the queue, unlocks, then looks at the queue again and applies what
/// came meanwhile if the lock is free (each side fences between its write and its read, so at
/// least one of them sees the other's). A thread that sleeps on [`changed`](Self::changed)
/// counts itself in `sleeping` and then applies the queue; a reporter that then finds the lock
/// taken and someone sleeping takes the lock (the sleep releases it) and applies the queue.
pub(crate) struct Shared {
    core: Mutex<Core>,
    pub changed: Condvar,
    /// The core's settings, which never change during a run, readable without its lock.
    pub settings: CoreSettings,
    reports: (Sender<Report>, Receiver<Report>),
    /// Threads waiting on `changed`, or about to: a change wakes them only when there are
    /// some.
    sleeping: AtomicUsize,
    /// Whether tasks were running when the lock was last released.
    running: AtomicBool,
}

/// What a worker or the committer tells the core.
enum Report {
    Finished(JobDone),
    Committed {
        batch: Vec<Pending>,
        durable: u64,
        error: Option<StoreError>,
    },
}

/// The locked core. Dropping it applies the reports queued meanwhile, then unlocks.
pub(crate) struct CoreGuard<'a> {
    shared: &'a Shared,
    /// `None` only while [`Shared::wait_for_change`] sleeps with it.
    guard: Option<MutexGuard<'a, Core>>,
}

impl std::ops::Deref for CoreGuard<'_> {
    type Target = Core;

    fn deref(&self) -> &Core {
        self.guard
            .as_deref()
            .expect("a CoreGuard holds its lock until dropped")
    }
}

impl std::ops::DerefMut for CoreGuard<'_> {
    fn deref_mut(&mut self) -> &mut Core {
        self.guard
            .as_deref_mut()
            .expect("a CoreGuard holds its lock until dropped")
    }
}

impl Drop for CoreGuard<'_> {
    fn drop(&mut self) {
        if let Some(guard) = self.guard.take() {
            self.shared.release(guard);
        }
    }
}

impl Shared {
    pub fn new(core: Core) -> Arc<Shared> {
        let settings = core.settings.clone();
        Arc::new(Shared {
            core: Mutex::new(core),
            changed: Condvar::new(),
            settings,
            reports: crossbeam_channel::unbounded(),
            sleeping: AtomicUsize::new(0),
            running: AtomicBool::new(false),
        })
    }

    /// The lock, if nobody holds it.
    fn try_lock(&self) -> Option<MutexGuard<'_, Core>> {
        match self.core.try_lock() {
            Ok(core) => Some(core),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// Applies the queued reports, unlocks, and again while reports were queued meanwhile and
    /// the lock is free. The records of committed batches are dropped after unlocking.
    fn release<'a>(&'a self, mut core: MutexGuard<'a, Core>) {
        let mut committed = Vec::new();
        loop {
            self.apply_reports(&mut core, &mut committed);
            self.running
                .store(core.counts().running > 0, Ordering::Relaxed);
            drop(core);
            committed.clear();
            fence(Ordering::SeqCst);
            if self.reports.1.is_empty() {
                return;
            }
            match self.try_lock() {
                Some(again) => core = again,
                // Its holder applies them.
                None => return,
            }
        }
    }

    /// Applies the queued reports to `core`; answers how many. The records of committed batches
    /// go to `committed`, to be dropped outside the lock. Waiters are woken when a task ended or
    /// records became durable: with `task_exit` a job's task ends later, when its record is
    /// durable, and waking the workflow's thread for every job would cost it a futile lock and
    /// sleep per task.
    fn apply_reports(&self, core: &mut Core, committed: &mut Vec<Vec<Pending>>) -> usize {
        let ended = core.counts().done();
        let mut applied = 0;
        let mut wake = false;
        while let Ok(report) = self.reports.1.try_recv() {
            match report {
                Report::Finished(done) => core.on_job_done(done),
                Report::Committed {
                    mut batch,
                    durable,
                    error,
                } => {
                    core.on_committed(&mut batch, durable, error);
                    committed.push(batch);
                    wake = true;
                }
            }
            applied += 1;
        }
        if (wake || core.counts().done() != ended) && self.sleeping.load(Ordering::SeqCst) > 0 {
            self.changed.notify_all();
        }
        applied
    }

    /// Queues `report` and applies the queue now if the lock is free, else leaves it to the
    /// lock's holder (see [`Shared`]).
    fn report(&self, report: Report) {
        // The receiver lives as long as `self`.
        let _ = self.reports.0.send(report);
        fence(Ordering::SeqCst);
        if let Some(core) = self.try_lock() {
            self.release(core);
        } else if self.sleeping.load(Ordering::SeqCst) > 0 {
            // The holder may be going to sleep having applied the queue just before this
            // report came: take the lock from its sleep and apply the report here.
            drop(self.lock());
        }
    }

    /// The key of a task of `app` whose arguments are all values, derived before taking the
    /// core's lock (the workflow's thread submits while workers wait for that lock); `None`
    /// when an argument is a future, whose key waits for the results.
    pub fn key_of_values(
        &self,
        module: ModuleDigest,
        app: &str,
        args: &[ArgSource],
    ) -> Option<TaskKey> {
        let digests = args
            .iter()
            .map(|arg| match arg {
                ArgSource::Value(bytes) => Some(ValueDigest::of(bytes)),
                ArgSource::Future(_) | ArgSource::Futures(_) => None,
            })
            .collect::<Option<Vec<_>>>()?;
        Some(derive_key(module, app, &digests, &self.settings))
    }

    pub fn lock(&self) -> CoreGuard<'_> {
        // A panic while holding the lock is a bug in the engine; the state is still the
        // scheduler's consistent state between events, so carry on with it.
        let core = self
            .core
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        CoreGuard {
            shared: self,
            guard: Some(core),
        }
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
                Some(_) => core = self.wait_for_change(core),
            }
        }
    }

    /// Releases the lock until the core changes (a task resolved, records became durable).
    /// (Returns at once, without sleeping, when it applied queued reports: they may be the
    /// change.)
    fn wait_for_change<'a>(&'a self, mut core: CoreGuard<'a>) -> CoreGuard<'a> {
        let mut guard = core
            .guard
            .take()
            .expect("a CoreGuard holds its lock until dropped");
        self.sleeping.fetch_add(1, Ordering::SeqCst);
        let mut committed = Vec::new();
        let applied = self.apply_reports(&mut guard, &mut committed);
        #[cfg(test)]
        tests::pause_before_sleeping();
        if applied == 0 {
            guard = self
                .changed
                .wait(guard)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        self.sleeping.fetch_sub(1, Ordering::SeqCst);
        core.guard = Some(guard);
        core
    }

    /// Blocks until every submitted task has ended.
    pub fn wait_all(&self) {
        let mut core = self.lock();
        while !core.sched.is_finished() {
            core = self.wait_for_change(core);
        }
    }

    /// Writes what a policy event decides and waits until the committer made it durable; answers
    /// how many records that was (a manual checkpoint; the end of a run).
    pub fn decide_and_wait(&self, event: impl FnOnce(&mut CheckpointPolicy) -> Decision) -> u64 {
        let mut core = self.lock();
        let written = core.decide(event) as u64;
        let (target, _) = core.sent_and_durable();
        while core.committer.is_some()
            && core.sent_and_durable().1 < target
            && core.store_error.is_none()
        {
            core = self.wait_for_change(core);
        }
        written
    }

    /// Whether tasks were running when the core's lock was last released (their records may
    /// come soon); read without the lock.
    pub fn tasks_running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    /// The committer made `batch`'s records durable (or failed to, with `error`).
    pub fn on_committed(&self, batch: Vec<Pending>, durable: u64, error: Option<StoreError>) {
        self.report(Report::Committed {
            batch,
            durable,
            error,
        });
    }

    /// A worker finished a job.
    pub fn on_job_done(&self, done: JobDone) {
        self.report(Report::Finished(done));
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
            policy: None,
            origin: Instant::now(),
            origin_wall: SystemTime::now(),
            held: HashMap::new(),
            sent: 0,
            durable: 0,
            store_error: None,
            settings,
            backend,
            files,
            actions: Vec::new(),
            spare: Vec::new(),
        }
    }

    pub fn counts(&self) -> Counts {
        self.sched.counts()
    }

    /// Submits a task whose arguments and app were checked by the caller.
    /// `key`, when given, is the task's key derived from its arguments, which are all values
    /// ([`Shared::key_of_values`]).
    pub fn submit(
        &mut self,
        module: ModuleDigest,
        spec: TaskSpec,
        uses_files: bool,
        files: Vec<ValueDigest>,
        key: Option<TaskKey>,
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
        if let (Ok(id), Some(policy)) = (&submitted, self.policy.as_mut()) {
            policy.on_submit(*id, &app);
        }
        if let Ok(id) = submitted {
            debug_assert_eq!(id.0 as usize, self.tasks.len());
            self.tasks.push(TaskInfo {
                app,
                module,
                key,
                cache,
                uses_files,
                files: if files.is_empty() {
                    no_files()
                } else {
                    files.into()
                },
                deps,
                outputs: no_outputs(),
                attempts: 0,
                seconds: 0.0,
                failure: None,
                timing: Timing::default(),
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
            started,
            elapsed,
            worker,
            outputs,
        } = done;
        let index = job.task.0 as usize;
        let outputs: Arc<[OutputFile]> = if outputs.is_empty() {
            no_outputs()
        } else {
            outputs.into()
        };
        // A clock set back during the run puts the start at the origin rather than fail.
        let start = started
            .duration_since(self.origin_wall)
            .unwrap_or(Duration::ZERO);
        if let Some(info) = self.tasks.get_mut(index) {
            info.attempts = job.attempt;
            info.seconds += elapsed.as_secs_f64();
            info.outputs = outputs.clone();
            info.timing = Timing {
                worker: Some(worker),
                start: Some(start),
                end: Some(start + elapsed),
            };
        }
        let started_unix_ms = started
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let mut actions = std::mem::take(&mut self.actions);
        let cache = self.settings.memoize && self.cacheable(job.task);
        let recording = cache && self.committer.is_some() && self.policy.is_some();
        let now = self.origin.elapsed();
        let record = |outcome| CheckpointRecord {
            key: job.key,
            app: job.app.to_string(),
            module: job.module,
            outcome,
            outputs: outputs.to_vec(),
            started_unix_ms,
            duration_us: elapsed.as_micros() as u64,
            attempts: job.attempt,
            // The arguments become payloads (inline or blobs) in the committer.
            inputs: TaskInputs {
                args: Vec::new(),
                files: job.files.to_vec(),
                fuel: self.settings.fuel,
                salt: self.settings.salt.clone(),
            },
        };
        let decision = match run.outcome {
            Ok(bytes) => {
                if cache {
                    let value = MemoValue {
                        bytes: Arc::from(bytes.as_slice()),
                        outputs: outputs.clone(),
                        blobs: self.blobs.clone(),
                    };
                    self.memo.insert(job.key, value);
                }
                if recording {
                    // With `task_exit` the committer resolves the task once its record is
                    // durable; otherwise it resolves now and its record waits for the policy.
                    let resolve = self.durable_before_resolve();
                    if !resolve {
                        self.sched
                            .on_finished(job.task, bytes.clone(), &mut actions);
                    }
                    let pending = Pending {
                        task: job.task,
                        result: bytes,
                        args: job.args.clone(),
                        record: record(Outcome::Ok(Payload::Inline(Vec::new()))),
                        resolve,
                    };
                    self.held.insert(job.task, pending);
                    self.policy_event(|p| p.on_finished(job.task, &job.app, now))
                } else {
                    self.sched.on_finished(job.task, bytes, &mut actions);
                    self.policy_event(|p| p.on_unrecorded(job.task))
                }
            }
            Err(failure) => {
                let reason = format!("{}: {}", failure.kind, failure.message);
                let memoizable_failure =
                    self.settings.cache_failures && failure.kind.is_deterministic();
                let recorded = guest_failure(failure.kind).map(|kind| Outcome::Failed {
                    kind,
                    message: failure.message.clone(),
                });
                if let Some(info) = self.tasks.get_mut(index) {
                    info.failure = Some(failure);
                }
                self.sched.on_failed(job.task, &reason, &mut actions);
                let final_failure =
                    matches!(self.sched.status(job.task), Some(TaskStatus::Failed(_)));
                match recorded {
                    Some(outcome) if final_failure && memoizable_failure && recording => {
                        let pending = Pending {
                            task: job.task,
                            result: Vec::new(),
                            args: job.args.clone(),
                            record: record(outcome),
                            resolve: false,
                        };
                        self.held.insert(job.task, pending);
                        self.policy_event(|p| p.on_finished(job.task, &job.app, now))
                    }
                    _ if final_failure => self.policy_event(|p| p.on_unrecorded(job.task)),
                    _ => Decision::default(),
                }
            }
        };
        self.apply(decision, &mut actions);
        self.actions = actions;
        self.process();
    }

    fn cacheable(&self, task: TaskId) -> bool {
        self.tasks
            .get(task.0 as usize)
            .is_some_and(|info| info.cache)
    }

    fn durable_before_resolve(&self) -> bool {
        self.policy
            .as_ref()
            .is_some_and(CheckpointPolicy::durable_before_resolve)
    }

    fn policy_event(&mut self, event: impl FnOnce(&mut CheckpointPolicy) -> Decision) -> Decision {
        self.policy.as_mut().map(event).unwrap_or_default()
    }

    /// Hands the records a policy decision names to the committer; forgets those it drops
    /// (avoided apps), resolving them if they were waiting for durability.
    fn apply(&mut self, decision: Decision, actions: &mut Vec<Action>) {
        for task in decision.write {
            if let (Some(pending), Some(committer)) = (self.held.remove(&task), &self.committer) {
                committer.send(pending);
                self.sent += 1;
            }
        }
        for task in decision.drop {
            if let Some(pending) = self.held.remove(&task)
                && pending.resolve
            {
                self.sched
                    .on_finished(pending.task, pending.result, actions);
            }
        }
    }

    /// Applies a decision taken outside a task event (a tick, a manual checkpoint, the end).
    pub fn decide(&mut self, event: impl FnOnce(&mut CheckpointPolicy) -> Decision) -> usize {
        let decision = self.policy_event(event);
        let written = decision.write.len();
        let mut actions = std::mem::take(&mut self.actions);
        self.apply(decision, &mut actions);
        self.actions = actions;
        self.process();
        written
    }

    /// How many records were handed to the committer, and how many it made durable.
    pub fn sent_and_durable(&self) -> (u64, u64) {
        (self.sent, self.durable)
    }

    /// The committer made a batch durable (or failed to): resolve its tasks that waited,
    /// taking their results.
    fn on_committed(&mut self, batch: &mut [Pending], durable: u64, error: Option<StoreError>) {
        if let Some(e) = error {
            self.store_error.get_or_insert(e);
        }
        self.durable += durable;
        let mut actions = std::mem::take(&mut self.actions);
        for pending in batch.iter_mut().filter(|p| p.resolve) {
            let result = std::mem::take(&mut pending.result);
            self.sched.on_finished(pending.task, result, &mut actions);
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
            Action::Resolved { task, how } if how.is_cached() => {
                self.stamp_end(task);
                let decision = self.policy_event(|p| p.on_reused(task));
                self.apply(decision, out);
            }
            Action::Failed { task, cause, .. } if !matches!(cause, FailureCause::Own { .. }) => {
                self.stamp_end(task);
                let decision = self.policy_event(|p| {
                    if cause == FailureCause::Memo {
                        p.on_reused(task)
                    } else {
                        p.on_unrecorded(task)
                    }
                });
                self.apply(decision, out);
            }
            Action::Resolved { .. } | Action::Failed { .. } | Action::Abort { .. } => {}
        }
    }

    /// Notes when a task that did not run resolved (a memo hit, a failed dependency).
    fn stamp_end(&mut self, task: TaskId) {
        let now = self.origin.elapsed();
        if let Some(info) = self.tasks.get_mut(task.0 as usize) {
            info.timing.end.get_or_insert(now);
        }
    }

    /// The key of a task whose arguments are `args`: derived at submission when they were all
    /// values ([`Shared::key_of_values`]), from them now otherwise.
    fn key_of(&mut self, task: TaskId, args: &[Vec<u8>]) -> TaskKey {
        let Some(info) = self.tasks.get_mut(task.0 as usize) else {
            return TaskKey([0; 32]);
        };
        if let Some(key) = info.key {
            return key;
        }
        let digests: Vec<ValueDigest> = args.iter().map(|a| ValueDigest::of(a)).collect();
        let key = derive_key(info.module, &info.app, &digests, &self.settings);
        info.key = Some(key);
        key
    }

    /// The files a task may read: those its arguments name and everything its dependencies
    /// could read or wrote (a file can travel inside a result).
    fn files_for(&mut self, task: TaskId) -> Arc<[ValueDigest]> {
        let Some(info) = self.tasks.get(task.0 as usize) else {
            return no_files();
        };
        if info.deps.is_empty() && info.files.is_empty() {
            return no_files();
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
            let outputs: Vec<OutputFile> = entry.record().output_files();
            self.files.register_outputs(&outputs, entry.blobs());
            if let Some(info) = self.tasks.get_mut(task.0 as usize)
                && !outputs.is_empty()
            {
                info.outputs = outputs.into();
            }
        }
        match entry.map(|entry| entry.resolve()) {
            Some(Ok(Resolved::Ok(bytes))) => LookupAnswer::Hit(bytes.into_owned()),
            Some(Ok(Resolved::Failed { kind, message })) => {
                let failure = TaskFailure {
                    kind: failure_kind(kind),
                    message: message.to_owned(),
                };
                let reason = format!("{} (recorded): {}", failure.kind, failure.message);
                if let Some(info) = self.tasks.get_mut(task.0 as usize) {
                    info.failure = Some(failure);
                }
                LookupAnswer::HitFailure(reason)
            }
            // A damaged or missing blob is a miss: the task runs again.
            Some(Err(_)) | None => LookupAnswer::Miss,
        }
    }

    /// Why `task` failed, for a waiting workflow.
    pub fn failure_message(&self, task: TaskId) -> String {
        failure_message(&self.sched, task)
    }

    /// One line per task for the run's report. A large run's lines are made on two threads: the
    /// run is over, and this is the wait between its last task and the end of `wfrun run`.
    pub fn task_reports(&self) -> Vec<TaskReport> {
        let n = self.tasks.len();
        if n < super::report::PARALLEL_FROM {
            return self.task_reports_in(0..n);
        }
        let (sched, tasks) = (&self.sched, &self.tasks[..]);
        std::thread::scope(|scope| {
            let second = scope.spawn(|| task_reports_in(sched, tasks, n / 2..n));
            let mut reports = task_reports_in(sched, tasks, 0..n / 2);
            match second.join() {
                Ok(rest) => reports.extend(rest),
                Err(panic) => std::panic::resume_unwind(panic),
            }
            reports
        })
    }

    fn task_reports_in(&self, range: std::ops::Range<usize>) -> Vec<TaskReport> {
        task_reports_in(&self.sched, &self.tasks, range)
    }
}

/// The report lines of the tasks in `range`.
fn task_reports_in(
    sched: &Scheduler,
    tasks: &[TaskInfo],
    range: std::ops::Range<usize>,
) -> Vec<TaskReport> {
    tasks[range.clone()]
        .iter()
        .zip(range)
        .map(|(info, i)| {
            let task = TaskId(i as u64);
            let (status, error) = match sched.status(task) {
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
                            message: failure_message(sched, task),
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
                seconds: (info.seconds * 1e6).round() / 1e6,
                error,
                worker: info.timing.worker,
                start: info.timing.start.map(micros_as_seconds),
                end: info.timing.end.map(micros_as_seconds),
            }
        })
        .collect()
}

/// How a failed task is described to those waiting on it.
fn failure_message(sched: &Scheduler, task: TaskId) -> String {
    let app = sched.app(task).map(|a| a.to_string()).unwrap_or_default();
    let reason = sched
        .failure(task)
        .map(|r| r.to_string())
        .unwrap_or_default();
    format!("task {task} (`{app}`) failed: {reason}")
}

/// The empty file list every task without files shares (an `Arc` of nothing still allocates).
fn no_files() -> Arc<[ValueDigest]> {
    static EMPTY: std::sync::LazyLock<Arc<[ValueDigest]>> =
        std::sync::LazyLock::new(|| Arc::from([]));
    EMPTY.clone()
}

/// The empty output list every task without output files shares.
fn no_outputs() -> Arc<[OutputFile]> {
    static EMPTY: std::sync::LazyLock<Arc<[OutputFile]>> =
        std::sync::LazyLock::new(|| Arc::from([]));
    EMPTY.clone()
}

/// Seconds rounded to the microsecond (as are a task's `seconds`): the timeline needs no more,
/// and the shortest decimal of such a number is short, which keeps a large run's summary small.
fn micros_as_seconds(d: Duration) -> f64 {
    d.as_micros() as f64 / 1e6
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

/// The kind of a recorded failure.
pub(crate) fn failure_kind(kind: GuestFailure) -> FailureKind {
    match kind {
        GuestFailure::AppError => FailureKind::AppError,
        GuestFailure::Panic => FailureKind::Panic,
        GuestFailure::Trap => FailureKind::Trap,
        GuestFailure::FuelExhausted => FailureKind::FuelExhausted,
        GuestFailure::MemoryLimit => FailureKind::MemoryLimit,
        GuestFailure::BadInput => FailureKind::BadInput,
    }
}

/// How a deterministic guest failure is recorded; `None` for failures that are never recorded.
fn guest_failure(kind: FailureKind) -> Option<GuestFailure> {
    Some(match kind {
        FailureKind::AppError => GuestFailure::AppError,
        FailureKind::Panic => GuestFailure::Panic,
        FailureKind::Trap => GuestFailure::Trap,
        FailureKind::FuelExhausted => GuestFailure::FuelExhausted,
        FailureKind::MemoryLimit => GuestFailure::MemoryLimit,
        FailureKind::BadInput => GuestFailure::BadInput,
        _ => return None,
    })
}

/// A task's key (DESIGN §3.1) from its arguments' digests.
fn derive_key(
    module: ModuleDigest,
    app: &str,
    args: &[ValueDigest],
    settings: &CoreSettings,
) -> TaskKey {
    TaskKey::derive(&KeyInputs {
        module,
        app,
        args,
        files: &[],
        fuel: settings.fuel,
        salt: &settings.salt,
    })
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::sync::Weak;
    use std::time::Duration;

    use super::*;
    use crate::runinfo::InputDirs;
    use crate::sandbox::TaskRun;

    thread_local! {
        /// Whether this thread, about to sleep on `changed`, first pauses with the lock held
        /// after applying the queue: the window in which a worker's finished job finds the lock
        /// taken.
        static PAUSE: Cell<bool> = const { Cell::new(false) };
    }

    pub(super) fn pause_before_sleeping() {
        if PAUSE.get() {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// A backend whose one worker thread answers each job with its first argument.
    struct Echo {
        jobs: Mutex<Option<Sender<Job>>>,
    }

    impl Backend for Echo {
        fn register(&self, _: &crate::sandbox::LoadedModule) {}

        fn submit(&self, job: Job) {
            if let Some(jobs) = &*self.jobs.lock().expect("echo") {
                let _ = jobs.send(job);
            }
        }
    }

    /// A run on the [`Echo`] backend: the shared core, and what ends it.
    struct EchoRun {
        shared: Arc<Shared>,
        backend: Arc<Echo>,
        worker: std::thread::JoinHandle<()>,
    }

    impl EchoRun {
        fn start() -> EchoRun {
            let (tx, rx) = crossbeam_channel::unbounded::<Job>();
            let backend = Arc::new(Echo {
                jobs: Mutex::new(Some(tx)),
            });
            let settings = CoreSettings {
                memoize: false,
                cache_failures: false,
                fuel: None,
                salt: String::new(),
            };
            let files = FileTable::new(InputDirs::open(&[]).expect("no dirs"), None, None);
            let core = Core::new(
                settings,
                ProcessMemo::default(),
                Arc::new(crate::runinfo::MemoTable::new()),
                None,
                backend.clone(),
                Arc::new(files),
            );
            let shared = Shared::new(core);
            let target: Weak<Shared> = Arc::downgrade(&shared);
            let worker = std::thread::spawn(move || {
                while let Ok(job) = rx.recv() {
                    let result = job.args[0].clone();
                    let Some(shared) = target.upgrade() else {
                        return;
                    };
                    shared.on_job_done(JobDone {
                        job,
                        run: TaskRun {
                            outcome: Ok(result),
                            stdout: Vec::new(),
                            stderr: Vec::new(),
                            fuel_used: None,
                        },
                        started: SystemTime::now(),
                        elapsed: Duration::ZERO,
                        worker: 0,
                        outputs: Vec::new(),
                    });
                }
            });
            EchoRun {
                shared,
                backend,
                worker,
            }
        }

        /// Submits an `echo` task of `bytes`.
        fn submit(shared: &Shared, bytes: Vec<u8>) -> TaskId {
            let spec = TaskSpec {
                app: Arc::from("echo"),
                args: vec![ArgSource::Value(bytes)],
                cache: false,
                max_retries: 0,
            };
            let key = shared.key_of_values(ModuleDigest([0; 32]), "echo", &spec.args);
            shared
                .lock()
                .submit(ModuleDigest([0; 32]), spec, false, Vec::new(), key)
                .expect("submit")
        }

        fn stop(self) {
            self.backend.jobs.lock().expect("echo").take();
            drop(self.shared);
            self.worker.join().expect("worker");
        }
    }

    #[test]
    fn a_job_finished_while_the_waiter_goes_to_sleep_still_reaches_it() {
        let run = EchoRun::start();
        // Each task is waited for at once, so its job finishes while the waiter pauses before
        // sleeping (the lock held): only the worker can apply it. If it left it in the queue,
        // the wait would never end; the watchdog makes that a failure.
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let waiter = {
            let shared = run.shared.clone();
            std::thread::spawn(move || {
                PAUSE.set(true);
                for i in 0..50u8 {
                    let task = EchoRun::submit(&shared, vec![i]);
                    assert_eq!(shared.wait_for(task), Ok(vec![i]));
                }
                let _ = done_tx.send(());
            })
        };
        done_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("every wait ended (a hang means a finished job was never applied)");
        waiter.join().expect("waiter");
        run.stop();
    }

    #[test]
    fn a_large_run_reports_every_task_once_in_order() {
        // Large enough for the report lines to be made on two threads.
        let run = EchoRun::start();
        let n = super::super::report::PARALLEL_FROM + 5;
        let tasks: Vec<TaskId> = (0..n)
            .map(|i| EchoRun::submit(&run.shared, (i as u32).to_le_bytes().to_vec()))
            .collect();
        run.shared.wait_all();
        let reports = run.shared.lock().task_reports();
        assert_eq!(reports.len(), n);
        for (i, (report, task)) in reports.iter().zip(&tasks).enumerate() {
            assert_eq!((report.id, task.0), (i as u64, i as u64));
            assert_eq!(report.status, TaskStatusReport::Executed);
            assert_eq!(report.app, "echo");
            let key = derive_key(
                ModuleDigest([0; 32]),
                "echo",
                &[ValueDigest::of(&(i as u32).to_le_bytes())],
                &run.shared.settings,
            );
            assert_eq!(report.key, key.to_hex(), "task {i}");
        }
        run.stop();
    }
}
