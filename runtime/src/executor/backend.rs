//! Where tasks execute. The local backend is a pool of worker threads, each running one task at
//! a time in a fresh sandbox instance; the Slurm backend (`slurm/`: job arrays over a shared
//! runinfo) is the other implementation of [`Backend`]: a [`Job`] names its module by digest and
//! carries its argument bytes, so it crosses a process boundary without shared memory.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender};

use super::files::FileTable;
use crate::key::{ModuleDigest, TaskKey, ValueDigest};
use crate::runinfo::OutputFile;
use crate::sandbox::{LoadedModule, Sandbox, TaskRun};
use crate::scheduler::TaskId;

/// One execution of a task.
#[derive(Debug, Clone)]
pub struct Job {
    /// The task in the run's scheduler.
    pub task: TaskId,
    /// The module, by digest.
    pub module: ModuleDigest,
    /// The app.
    pub app: Arc<str>,
    /// The task's key (it seeds the guest's randomness).
    pub key: TaskKey,
    /// The postcard bytes of each argument.
    pub args: Arc<[Vec<u8>]>,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Whether the app takes or makes files (its task then gets file directories).
    pub uses_files: bool,
    /// The files the task may read, by digest.
    pub files: Arc<[ValueDigest]>,
}

/// What came of a job.
#[derive(Debug)]
pub struct JobDone {
    /// The job.
    pub job: Job,
    /// What the sandbox reported.
    pub run: TaskRun,
    /// When it started (the wall clock, which a backend in another process can report too).
    pub started: SystemTime,
    /// How long it ran.
    pub elapsed: Duration,
    /// The worker that ran it, numbered from 0 within the backend (a thread of the local
    /// backend), for the run's timeline.
    pub worker: u32,
    /// The files it wrote, stored by content.
    pub outputs: Vec<OutputFile>,
}

/// Receives finished jobs.
pub type Completion = Arc<dyn Fn(JobDone) + Send + Sync>;

/// Somewhere to execute jobs.
pub trait Backend: Send + Sync {
    /// Makes `module` available to jobs that name its digest.
    fn register(&self, module: &LoadedModule);
    /// Queues a job; its outcome arrives through the completion given at construction.
    fn submit(&self, job: Job);
    /// Stops every job that runs elsewhere (a batch system's queue) because the process is about
    /// to end; jobs in this process end with it. No job completes after this.
    fn cancel(&self) {}
}

/// The local backend: `workers` threads sharing one engine.
pub struct LocalBackend {
    jobs: Option<Sender<Job>>,
    modules: Arc<RwLock<HashMap<ModuleDigest, LoadedModule>>>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for LocalBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBackend")
            .field("workers", &self.threads.len())
            .finish_non_exhaustive()
    }
}

impl LocalBackend {
    /// Starts `workers` threads (at least one).
    pub(crate) fn new(
        sandbox: Arc<Sandbox>,
        workers: usize,
        files: Arc<FileTable>,
        completion: Completion,
    ) -> LocalBackend {
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let modules: Arc<RwLock<HashMap<ModuleDigest, LoadedModule>>> = Arc::default();
        let threads = (0..workers.max(1))
            .map(|i| {
                let rx: Receiver<Job> = rx.clone();
                let sandbox = sandbox.clone();
                let modules = modules.clone();
                let completion = completion.clone();
                let files = files.clone();
                std::thread::Builder::new()
                    .name(format!("wf-worker-{i}"))
                    .spawn(move || {
                        let index = u32::try_from(i).unwrap_or(u32::MAX);
                        worker(index, &rx, &sandbox, &modules, &files, &completion);
                    })
                    .expect("spawning a worker thread: the OS refused a thread")
            })
            .collect();
        LocalBackend {
            jobs: Some(tx),
            modules,
            threads,
        }
    }
}

fn worker(
    index: u32,
    jobs: &Receiver<Job>,
    sandbox: &Sandbox,
    modules: &RwLock<HashMap<ModuleDigest, LoadedModule>>,
    files: &FileTable,
    completion: &Completion,
) {
    while let Ok(job) = jobs.recv() {
        let module = modules
            .read()
            .ok()
            .and_then(|m| m.get(&job.module).cloned());
        let started = SystemTime::now();
        let clock = Instant::now();
        let preopens = if job.uses_files {
            files.prepare(&job)
        } else {
            Ok(Vec::new())
        };
        let mut run = match (module, preopens) {
            (Some(module), Ok(preopens)) => {
                let args: Vec<&[u8]> = job.args.iter().map(Vec::as_slice).collect();
                sandbox.call_with(&module, &job.app, &args, &job.key, &preopens)
            }
            (None, _) => TaskRun::infrastructure(format!("module {} is not loaded", job.module)),
            (_, Err(message)) => TaskRun::infrastructure(message),
        };
        let mut outputs = Vec::new();
        if job.uses_files && run.outcome.is_ok() {
            match files.collect(&job) {
                Ok(collected) => outputs = collected,
                Err(message) => {
                    run.outcome = Err(crate::sandbox::TaskFailure {
                        kind: crate::sandbox::FailureKind::Infrastructure,
                        message: format!("storing the task's output files: {message}"),
                    });
                }
            }
        }
        completion(JobDone {
            job,
            run,
            started,
            elapsed: clock.elapsed(),
            worker: index,
            outputs,
        });
    }
}

impl Backend for LocalBackend {
    fn register(&self, module: &LoadedModule) {
        if let Ok(mut modules) = self.modules.write() {
            modules
                .entry(module.digest())
                .or_insert_with(|| module.clone());
        }
    }

    fn submit(&self, job: Job) {
        if let Some(jobs) = &self.jobs {
            // The workers outlive every sender, so this cannot fail while the backend exists.
            let _ = jobs.send(job);
        }
    }
}

impl Drop for LocalBackend {
    fn drop(&mut self) {
        self.jobs = None;
        // The last reference to a session can be dropped by its own worker (in the completion
        // callback): that worker ends by itself once the channel is closed, and must not join
        // itself.
        let me = std::thread::current().id();
        for thread in self.threads.drain(..) {
            if thread.thread().id() != me {
                let _ = thread.join();
            }
        }
    }
}
