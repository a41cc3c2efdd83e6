//! The engine's embedding API: a [`Runner`] loads modules and starts runs ([`Session`]s) in which
//! tasks are submitted — by a guest workflow or by the host program — and awaited.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;

use serde::Serialize;
use serde::de::DeserializeOwned;
use wf_abi::SubmitRequest;

use super::backend::{Backend, Completion, LocalBackend};
use super::committer::Committer;
use super::core::{Core, CoreSettings, ProcessMemo, Shared, arg_sources};
use super::files::FileTable;
use super::report::{RunReport, TaskStatusReport};
use super::slurm::SlurmBackend;
use crate::checkpoint_policy::{
    CheckpointPolicy, GroupPolicy, Mode, PolicyConfig, PolicyError, RawPolicy,
};
use crate::key::{ModuleDigest, TaskKey, ValueDigest};
use crate::runinfo::{
    CompiledCache, Exchange, InputDirs, MemoTable, OutputDir, OutputFile, RunHandle, RunInfo,
    StoreError,
};
use crate::sandbox::{
    EngineSettings, Limits, LoadedModule, ModuleError, Sandbox, TaskFailure, WorkflowHost,
};
use crate::scheduler::{ArgSource, Counts, TaskId, TaskSpec};
use crate::slurm::SlurmConfig;

/// How runs are carried out.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Worker threads (default: one per core).
    pub workers: usize,
    /// Per-task limits.
    pub limits: Limits,
    /// Retries of a failed task, for every app...
    pub retries: u32,
    /// ...unless overridden for an app.
    pub app_retries: BTreeMap<String, u32>,
    /// Whether results are memoized at all (`--no-memo` turns it off).
    pub memoize: bool,
    /// Mixed into every key, to force fresh results.
    pub salt: String,
    /// Directories whose files workflows may name as inputs (read-only).
    pub input_dirs: Vec<std::path::PathBuf>,
    /// When finished tasks are written to the run's checkpoint (default `task_exit`), and the
    /// apps never checkpointed.
    pub checkpoint: RawPolicy,
    /// Record deterministic guest failures (app errors, panics, traps, fuel) and reuse them.
    pub cache_failures: bool,
    /// Where tasks execute.
    pub executor: Executor,
}

/// Where a run's tasks execute.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Executor {
    /// On [`RunnerConfig::workers`] threads of this process.
    #[default]
    Local,
    /// As Slurm job arrays over the shared runinfo directory (which a Slurm run requires).
    Slurm(SlurmConfig),
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            limits: Limits::default(),
            retries: 0,
            app_retries: BTreeMap::new(),
            memoize: true,
            salt: String::new(),
            input_dirs: Vec::new(),
            checkpoint: RawPolicy {
                mode: "task_exit".into(),
                ..RawPolicy::default()
            },
            cache_failures: false,
            executor: Executor::Local,
        }
    }
}

/// Why a run could not be carried out (as opposed to a task failing in it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// A module could not be loaded.
    #[error(transparent)]
    Module(#[from] ModuleError),
    /// The runinfo store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A submission was refused: unknown app, wrong arguments, unknown future.
    #[error("{0}")]
    BadSubmission(String),
    /// The checkpoint policy is not valid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The executor could not be started or could not carry out its work.
    #[error("{0}")]
    Executor(String),
}

/// Makes the custom checkpoint policy of each session (COMPSs's custom policy).
pub type GroupPolicyFactory = Arc<dyn Fn() -> Box<dyn GroupPolicy> + Send + Sync>;

/// The engine: one sandbox (one wasmtime engine) and the results this process has computed.
///
/// ```no_run
/// use wf_runtime::{Input, Runner, RunnerConfig};
///
/// let runner = Runner::new(RunnerConfig::default(), Some("runinfo".as_ref()))?;
/// let module = runner.load(&std::fs::read("basics.wasm")?)?;
/// // A guest workflow:
/// let report = runner.run_workflow(&module, "main")?;
/// assert!(report.ok);
/// // Or tasks submitted by the host, with futures as inputs:
/// let session = runner.start("host tasks")?;
/// let two = session.submit(&module, "add", vec![Input::value(&1i64), Input::value(&1i64)])?;
/// let four = session.submit(&module, "slow_double", vec![Input::Future(two)])?;
/// assert_eq!(session.get::<i64>(four)?, 4);
/// session.checkpoint();
/// session.finish()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Runner {
    sandbox: Arc<Sandbox>,
    config: RunnerConfig,
    runinfo: Option<RunInfo>,
    memo: Mutex<ProcessMemo>,
    checkpoints: Mutex<Arc<MemoTable>>,
    group_policy: Mutex<Option<GroupPolicyFactory>>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// One argument of a task submitted by the host.
#[derive(Debug, Clone)]
pub enum Input {
    /// A value: its postcard bytes.
    Value(Vec<u8>),
    /// The result of another task of the session.
    Future(TaskHandle),
    /// A `Vec<T>` made of the results of several tasks.
    Futures(Vec<TaskHandle>),
    /// A file of one of the granted input directories, by its name there (the task gets its
    /// content; the key holds its digest, not the name).
    InputFile(String),
}

impl Input {
    /// A value, encoded with postcard.
    pub fn value<T: Serialize + ?Sized>(value: &T) -> Input {
        Input::Value(postcard::to_allocvec(value).unwrap_or_default())
    }
}

/// A task submitted in a session: a future of its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskHandle(TaskId);

impl Runner {
    /// Creates the engine. With a runinfo directory, compiled modules are cached there and each
    /// session is recorded as a numbered run.
    pub fn new(
        config: RunnerConfig,
        runinfo: Option<&std::path::Path>,
    ) -> Result<Runner, RunError> {
        // Refuse a bad policy before anything runs.
        PolicyConfig::try_from(config.checkpoint.clone())?;
        let runinfo = runinfo.map(RunInfo::open).transpose()?;
        let artifacts = match &runinfo {
            Some(runinfo) => {
                Some(Arc::new(CompiledCache::open(runinfo)?) as Arc<dyn crate::ArtifactStore>)
            }
            None => None,
        };
        let settings = EngineSettings::for_workers(config.limits, config.workers);
        let sandbox = Arc::new(Sandbox::new(settings, artifacts)?);
        Ok(Runner {
            sandbox,
            config,
            runinfo,
            memo: Mutex::default(),
            checkpoints: Mutex::default(),
            group_policy: Mutex::default(),
        })
    }

    /// Loads a module.
    pub fn load(&self, bytes: &[u8]) -> Result<LoadedModule, ModuleError> {
        self.sandbox.load(bytes)
    }

    /// The runinfo directory, when there is one.
    pub fn runinfo(&self) -> Option<&RunInfo> {
        self.runinfo.as_ref()
    }

    /// Adds checkpoints whose results later sessions may reuse (`--resume`, `--checkpoint-files`).
    pub fn use_checkpoints(&self, table: MemoTable) {
        if let Ok(mut slot) = self.checkpoints.lock() {
            *slot = Arc::new(table);
        }
    }

    /// Uses a custom checkpoint policy (a [`GroupPolicy`] per session) instead of the configured
    /// mode; the configured avoid list still applies.
    pub fn set_group_policy(&self, factory: GroupPolicyFactory) {
        if let Ok(mut slot) = self.group_policy.lock() {
            *slot = Some(factory);
        }
    }

    fn policy(&self) -> Result<PolicyConfig, RunError> {
        let factory = self.group_policy.lock().ok().and_then(|f| f.clone());
        Ok(match factory {
            Some(factory) => PolicyConfig::new(Mode::Custom(factory()))?
                .avoiding(self.config.checkpoint.avoid.iter().cloned()),
            None => PolicyConfig::try_from(self.config.checkpoint.clone())?,
        })
    }

    /// Starts a session: a run to which tasks are submitted. `what` describes it in reports.
    pub fn start(&self, what: &str) -> Result<Session<'_>, RunError> {
        let mut run = match &self.runinfo {
            Some(runinfo) => Some(runinfo.create_run()?),
            None => None,
        };
        let writer = run.as_mut().and_then(RunHandle::take_checkpoint_writer);
        let memo = std::mem::take(
            &mut *self
                .memo
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let checkpoints = self
            .checkpoints
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default();
        let policy = self.policy()?;
        let settings = CoreSettings {
            memoize: self.config.memoize,
            cache_failures: self.config.cache_failures,
            fuel: self.config.limits.fuel,
            salt: self.config.salt.clone(),
        };
        if let Some(run) = &run {
            let sources: Vec<std::path::PathBuf> = checkpoints
                .checkpoints()
                .iter()
                .map(|c| c.path().to_path_buf())
                .collect();
            run.write_lineage(&sources)?;
        }
        let run = run.map(Arc::new);
        // The backend delivers to the core, which submits to the backend: tie the knot through
        // a slot filled once the core exists. It holds the core weakly, so no cycle keeps a
        // finished session (and its workers) alive, whatever path `finish` takes.
        let slot: Arc<OnceLock<Weak<Shared>>> = Arc::default();
        let completion_slot = slot.clone();
        let logs = run.clone();
        let completion: Completion = Arc::new(move |done: super::backend::JobDone| {
            if let Some(run) = &logs {
                write_task_logs(run, &done);
            }
            if let Some(shared) = completion_slot.get().and_then(Weak::upgrade) {
                shared.on_job_done(done);
            }
        });
        let blobs = writer.as_ref().map(|w| w.blobs().clone());
        let inputs = InputDirs::open(&self.config.input_dirs)?;
        let files = Arc::new(FileTable::new(inputs, run.clone(), blobs.clone()));
        let backend: Arc<dyn Backend> = match &self.config.executor {
            Executor::Local => Arc::new(LocalBackend::new(
                self.sandbox.clone(),
                self.config.workers,
                files.clone(),
                completion,
            )),
            Executor::Slurm(slurm) => {
                let (Some(runinfo), Some(run)) = (&self.runinfo, &run) else {
                    return Err(RunError::Executor(
                        "the Slurm executor needs a runinfo directory on a file system the \
                         compute nodes share"
                            .to_owned(),
                    ));
                };
                let name = run.id().to_string();
                let exchange = Exchange::create(runinfo, &name)?;
                Arc::new(
                    SlurmBackend::new(
                        slurm.clone(),
                        runinfo.path().to_path_buf(),
                        exchange,
                        &name,
                        &self.config.limits,
                        files.clone(),
                        completion,
                    )
                    .map_err(RunError::Executor)?,
                )
            }
        };
        let core = Core::new(
            settings,
            memo,
            checkpoints,
            blobs,
            backend.clone(),
            files.clone(),
        );
        // The run's seconds and its tasks' times in the summary share one origin.
        let started = core.origin;
        let shared = Shared::new(core);
        let mut ticker = None;
        if let Some(writer) = writer {
            let mut core = shared.lock();
            core.committer = Some(Committer::start(writer, Arc::downgrade(&shared)));
            if self.config.memoize {
                let policy = CheckpointPolicy::new(policy, core.origin.elapsed());
                if policy.next_deadline().is_some() {
                    ticker = Some(Ticker::start(Arc::downgrade(&shared)));
                }
                core.policy = Some(policy);
            }
        }
        let _ = slot.set(Arc::downgrade(&shared));
        Ok(Session {
            runner: self,
            shared,
            backend,
            run,
            what: what.to_owned(),
            started,
            modules: Mutex::default(),
            ticker,
        })
    }

    /// Runs workflow `entry` of `module` to the end, with its tasks on the worker pool.
    pub fn run_workflow(&self, module: &LoadedModule, entry: &str) -> Result<RunReport, RunError> {
        let session = self.start(&format!("workflow {entry}"))?;
        let outcome = session.run_workflow(module, entry);
        session.finish_with(outcome.err().map(|f| f.to_string()))
    }
}

fn write_task_logs(run: &RunHandle, done: &super::backend::JobDone) {
    use std::io::Write as _;
    for (stream, bytes) in [
        (crate::runinfo::LogStream::Stdout, &done.run.stdout),
        (crate::runinfo::LogStream::Stderr, &done.run.stderr),
    ] {
        if !bytes.is_empty() {
            // A log that cannot be written is lost; the task's result is not.
            if let Ok(mut file) = run.task_log(&done.job.key, stream) {
                let _ = file.write_all(bytes);
            }
        }
    }
}

/// A run in progress.
pub struct Session<'r> {
    runner: &'r Runner,
    shared: Arc<Shared>,
    backend: Arc<dyn Backend>,
    run: Option<Arc<RunHandle>>,
    what: String,
    started: Instant,
    /// The first module used (the run's), and every module whose bytes are kept with the
    /// checkpoint.
    modules: Mutex<(Option<String>, HashSet<ModuleDigest>)>,
    ticker: Option<Ticker>,
}

impl std::fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("what", &self.what)
            .finish_non_exhaustive()
    }
}

impl<'r> Session<'r> {
    /// The run's id, when it is recorded in a runinfo directory.
    pub fn run_id(&self) -> Option<String> {
        self.run.as_ref().map(|r| r.id().to_string())
    }

    /// The run's checkpoint directory, when it is recorded in a runinfo directory.
    pub fn checkpoint_path(&self) -> Option<std::path::PathBuf> {
        self.run.as_ref().map(|r| r.checkpoint_path())
    }

    /// How many tasks are where, right now.
    pub fn counts(&self) -> Counts {
        self.shared.lock().counts()
    }

    /// Submits a task of `module`.
    pub fn submit(
        &self,
        module: &LoadedModule,
        app: &str,
        inputs: Vec<Input>,
    ) -> Result<TaskHandle, RunError> {
        let mut files = Vec::new();
        let mut args = Vec::with_capacity(inputs.len());
        for input in inputs {
            args.push(match input {
                Input::Value(bytes) => ArgSource::Value(bytes),
                Input::Future(TaskHandle(id)) => ArgSource::Future(id),
                Input::Futures(handles) => {
                    ArgSource::Futures(handles.into_iter().map(|h| h.0).collect())
                }
                Input::InputFile(name) => {
                    let table = self.shared.lock().files.clone();
                    let file = table
                        .register_input(&name)
                        .map_err(RunError::BadSubmission)?;
                    files.push(ValueDigest(file.digest));
                    ArgSource::Value(postcard::to_allocvec(&file).unwrap_or_default())
                }
            });
        }
        self.note_module(module);
        submit_task(&self.shared, &self.runner.config, module, app, args, files)
            .map(TaskHandle)
            .map_err(RunError::BadSubmission)
    }

    /// Waits for every task, then copies every output file the run's tasks made (or reused) into
    /// `dir`, under the names the apps gave them; returns the paths written.
    pub fn export_outputs(&self, dir: &OutputDir) -> Result<Vec<std::path::PathBuf>, RunError> {
        self.shared.wait_all();
        let (outputs, files) = {
            let core = self.shared.lock();
            let outputs: Vec<OutputFile> = core
                .tasks
                .iter()
                .flat_map(|t| t.outputs.iter().cloned())
                .collect();
            (outputs, core.files.clone())
        };
        let mut written = Vec::new();
        for output in outputs {
            let bytes = files
                .bytes(&output.digest)
                .map_err(RunError::BadSubmission)?;
            written.push(dir.write(&output.name, &bytes)?);
        }
        written.sort();
        written.dedup();
        Ok(written)
    }

    /// Blocks until the task has ended: its result's postcard bytes, or why it failed.
    pub fn wait(&self, task: TaskHandle) -> Result<Vec<u8>, String> {
        self.shared.wait_for(task.0)
    }

    /// Submits a task exactly as a record describes it: argument bytes and the files it was
    /// given (which must be registered with [`register_files`](Self::register_files) first).
    pub(crate) fn submit_recorded(
        &self,
        module: &LoadedModule,
        app: &str,
        args: Vec<Vec<u8>>,
        files: Vec<ValueDigest>,
    ) -> Result<TaskHandle, RunError> {
        self.note_module(module);
        let args = args.into_iter().map(ArgSource::Value).collect();
        submit_task(&self.shared, &self.runner.config, module, app, args, files)
            .map(TaskHandle)
            .map_err(RunError::BadSubmission)
    }

    /// Makes files stored as blobs available to tasks of this session.
    pub(crate) fn register_files(&self, outputs: &[OutputFile], blobs: &crate::runinfo::BlobDir) {
        let files = self.shared.lock().files.clone();
        files.register_outputs(outputs, blobs);
    }

    /// Makes input file `name` of the granted directories available; its digest.
    pub(crate) fn register_input(&self, name: &str) -> Result<ValueDigest, String> {
        let files = self.shared.lock().files.clone();
        files.register_input(name).map(|f| ValueDigest(f.digest))
    }

    /// The key an ended task ran under, the files it wrote, and how it failed (if it did).
    pub(crate) fn task_outcome(
        &self,
        task: TaskHandle,
    ) -> (Option<TaskKey>, Vec<OutputFile>, Option<TaskFailure>) {
        let core = self.shared.lock();
        core.tasks
            .get(task.0.0 as usize)
            .map(|info| (info.key, info.outputs.to_vec(), info.failure.clone()))
            .unwrap_or_default()
    }

    /// Blocks until the task has ended and decodes its result.
    pub fn get<T: DeserializeOwned>(&self, task: TaskHandle) -> Result<T, RunError> {
        let bytes = self.wait(task).map_err(RunError::BadSubmission)?;
        postcard::from_bytes(&bytes)
            .map_err(|e| RunError::BadSubmission(format!("the result does not decode: {e}")))
    }

    /// Makes the records of every task finished so far durable; answers how many records that
    /// took (Parsl's `checkpoint()`, COMPSs's snapshot).
    pub fn checkpoint(&self) -> u64 {
        self.shared.decide_and_wait(CheckpointPolicy::on_manual)
    }

    /// Cancels the tasks that run outside this process (a batch system's jobs), when the process
    /// is about to end (`wfrun run` on SIGINT/SIGTERM, after [`flush`](Self::flush)).
    pub fn cancel(&self) {
        self.backend.cancel();
    }

    /// Waits until every record the policy has already decided to write is durable (records the
    /// policy still holds stay pending); answers how many records are durable in all.
    pub fn wait_for_writes(&self) -> u64 {
        self.shared.decide_and_wait(|_| Default::default());
        self.shared.lock().sent_and_durable().1
    }

    /// Writes every pending record now and waits until it is durable, whatever the policy: what
    /// `dfk_exit` does on SIGINT/SIGTERM before the process ends. Answers how many records.
    pub fn flush(&self) -> u64 {
        self.shared.decide_and_wait(CheckpointPolicy::on_exit)
    }

    /// Remembers the run's module, registers each module with the backend once, and hands it to
    /// the committer, which writes its bytes into the checkpoint before the first record that
    /// names it (so the checkpoint alone can re-execute what it records; a failure to store them
    /// fails the run at [`finish`](Self::finish), as any store error does).
    fn note_module(&self, module: &LoadedModule) {
        let first = match self.modules.lock() {
            Ok(mut modules) => {
                modules.0.get_or_insert_with(|| module.digest().to_hex());
                modules.1.insert(module.digest())
            }
            Err(_) => true,
        };
        if !first {
            return;
        }
        // The backend runs jobs of the modules registered with it (once per module).
        self.backend.register(module);
        if let Some(committer) = &self.shared.lock().committer {
            committer.keep_module(module);
        }
    }

    /// Runs a guest workflow in this session; returns when the workflow function returns (its
    /// tasks may still be running: [`finish`](Self::finish) waits for them).
    pub fn run_workflow(&self, module: &LoadedModule, entry: &str) -> Result<(), TaskFailure> {
        self.note_module(module);
        let host = GuestHost {
            shared: self.shared.clone(),
            config: self.runner.config.clone(),
            module: module.clone(),
        };
        self.runner
            .sandbox
            .run_workflow(module, entry, Box::new(host))
    }

    /// Waits for every task, makes the checkpoint durable, writes the run's summary.
    pub fn finish(self) -> Result<RunReport, RunError> {
        self.finish_with(None)
    }

    /// Like [`finish`](Self::finish), after a workflow that ended with `workflow_error`.
    pub fn finish_with(mut self, workflow_error: Option<String>) -> Result<RunReport, RunError> {
        self.shared.wait_all();
        // Every mode writes what is still pending at the end; then end the commit thread (not
        // under the core's lock: it takes that lock to resolve what it commits).
        drop(self.ticker.take());
        self.shared.decide_and_wait(CheckpointPolicy::on_exit);
        let committer = self.shared.lock().committer.take();
        drop(committer);
        let mut core = self.shared.lock();
        let counts = core.counts();
        let task_list = core.task_reports();
        let started_unix_ms = core
            .origin_wall
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_millis() as u64);
        let store_error = core.store_error.take();
        // Hand this run's results to the next session of the runner.
        let memo = std::mem::take(&mut core.memo);
        drop(core);
        if let Ok(mut slot) = self.runner.memo.lock() {
            *slot = memo;
        }
        let failed = task_list
            .iter()
            .filter(|t| t.status == TaskStatusReport::Failed)
            .count() as u64;
        let mut report = RunReport {
            id: self.run_id(),
            what: self.what.clone(),
            module: self
                .modules
                .lock()
                .ok()
                .and_then(|m| m.0.clone())
                .unwrap_or_default(),
            tasks: counts.submitted,
            executed: counts.executed,
            cached: counts.cached + counts.shared,
            failed,
            attempts: counts.attempts,
            seconds: self.started.elapsed().as_secs_f64(),
            started_unix_ms,
            workers: Some(u32::try_from(self.runner.config.workers.max(1)).unwrap_or(u32::MAX)),
            ok: workflow_error.is_none() && failed == 0,
            error: workflow_error,
            task_list,
        };
        if let Some(run) = &self.run {
            let json = report.summary_json().map_err(|e| run.bad_summary(e))?;
            run.write_summary_json(json)?;
        }
        if let Some(e) = store_error {
            return Err(e.into());
        }
        Ok(report)
    }
}

/// Checks a submission against the app's signature and hands it to the scheduler.
fn submit_task(
    shared: &Shared,
    config: &RunnerConfig,
    module: &LoadedModule,
    app: &str,
    args: Vec<ArgSource>,
    files: Vec<ValueDigest>,
) -> Result<TaskId, String> {
    let Some(descriptor) = module.app(app) else {
        let apps: Vec<&str> = module.apps().keys().map(String::as_str).collect();
        return Err(format!(
            "the module has no app `{app}` (its apps: {})",
            apps.join(", ")
        ));
    };
    if descriptor.params.len() != args.len() {
        return Err(format!(
            "app `{app}` takes {} argument(s), but {} were given",
            descriptor.params.len(),
            args.len()
        ));
    }
    let spec = TaskSpec {
        app: Arc::from(app),
        args,
        cache: descriptor.cache,
        max_retries: config
            .app_retries
            .get(app)
            .copied()
            .unwrap_or(config.retries),
    };
    let key = shared.key_of_values(module.digest(), app, &spec.args);
    let uses_files = module.app_uses_files(app);
    let mut core = shared.lock();
    if let Some(unknown) = files.iter().find(|f| !core.files.knows(f)) {
        return Err(format!(
            "file {unknown} was not named with File::input nor made by a task of this run"
        ));
    }
    core.submit(module.digest(), spec, uses_files, files, key)
        .map_err(|e| e.to_string())
}

/// What a guest workflow's host calls reach: the session's core.
struct GuestHost {
    shared: Arc<Shared>,
    config: RunnerConfig,
    module: LoadedModule,
}

impl WorkflowHost for GuestHost {
    fn submit(&mut self, request: SubmitRequest) -> Result<u64, String> {
        let args = arg_sources(request.args);
        let files = request.files.into_iter().map(ValueDigest).collect();
        submit_task(
            &self.shared,
            &self.config,
            &self.module,
            &request.app,
            args,
            files,
        )
        .map(|id| id.0)
    }

    fn input_file(&mut self, name: &str) -> Result<wf_abi::FileRef, String> {
        let files = self.shared.lock().files.clone();
        files.register_input(name)
    }

    fn wait(&mut self, future: u64) -> Result<Vec<u8>, String> {
        self.shared.wait_for(TaskId(future))
    }

    fn checkpoint(&mut self) -> u64 {
        self.shared.decide_and_wait(CheckpointPolicy::on_manual)
    }
}

/// Ticks a periodic policy: wakes at its deadlines and writes what is pending.
struct Ticker {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ticker {
    fn start(shared: std::sync::Weak<Shared>) -> Ticker {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("wf-checkpoint-tick".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    let Some(shared) = shared.upgrade() else {
                        return;
                    };
                    let mut core = shared.lock();
                    let now = core.origin.elapsed();
                    let due = core
                        .policy
                        .as_ref()
                        .and_then(CheckpointPolicy::next_deadline)
                        .is_some_and(|d| d <= now);
                    if due {
                        core.decide(|p| p.on_tick(now));
                    }
                }
            })
            .expect("spawning the checkpoint ticker: the OS refused a thread");
        Ticker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
