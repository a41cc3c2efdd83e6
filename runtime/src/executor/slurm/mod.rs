//! The Slurm backend: tasks run as elements of `sbatch --array` jobs, over the run's exchange
//! store in the shared `runinfo/` ([`Exchange`]).
//!
//! Ready jobs are gathered into chunks of [`SlurmConfig::chunk`] tasks; the chunks are sent when
//! there are enough for a full array or when the oldest has waited [`SlurmConfig::flush_delay`].
//! Each `sbatch` is a wave: element `i` runs `wfrun worker ... --wave W` on chunk `W.i` and writes
//! each task's result and then the chunk's completion record. One thread of the head polls the
//! exchange for results (and `squeue` for elements that ended without their completion record)
//! and hands each result to the session's completion; the unfinished tasks of a lost element are
//! submitted again, at most [`SlurmConfig::resubmits`] times, then fail as an infrastructure
//! failure (never memoized).

mod wire;
mod worker;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wire::{WireResult, WireTask, WorkerSettings, decode, encode};
pub use worker::run_worker;

use super::backend::{Backend, Completion, Job, JobDone};
use super::files::FileTable;
use crate::key::ModuleDigest;
use crate::runinfo::{BlobDir, ChunkId, Exchange, OutputFile, StoreError};
use crate::sandbox::{Limits, LoadedModule, TaskRun};
use crate::slurm::{self, SlurmConfig, Submission};

/// How much of a lost element's log goes into its tasks' failure.
const LOG_TAIL: u64 = 2000;

/// How long a cancellation waits for the run's elements to leave the queue.
const CANCEL_WAIT: Duration = Duration::from_secs(10);

/// The Slurm backend of one session.
pub(crate) struct SlurmBackend {
    shared: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SlurmBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlurmBackend")
            .field("name", &self.shared.name)
            .finish_non_exhaustive()
    }
}

struct Inner {
    config: SlurmConfig,
    exchange: Exchange,
    blobs: BlobDir,
    /// The name of every job of this run (how `squeue` and `scancel` find them).
    name: String,
    /// What an element runs, but for `--wave W`.
    command: Vec<OsString>,
    files: Arc<FileTable>,
    completion: Completion,
    state: Mutex<State>,
    wake: Condvar,
}

/// A job waiting for, or in, a chunk.
struct Queued {
    job: Job,
    /// How many times it was submitted to Slurm before.
    resubmits: u32,
}

struct LiveChunk {
    /// `None` once its result was delivered.
    tasks: Vec<Option<Queued>>,
    slurm_job: String,
}

#[derive(Default)]
struct State {
    ready: Vec<Queued>,
    ready_since: Option<Instant>,
    chunks: BTreeMap<ChunkId, LiveChunk>,
    next_wave: u64,
    modules: HashMap<ModuleDigest, Result<(), String>>,
    jobs: Vec<String>,
    stop: bool,
    cancelled: bool,
}

impl SlurmBackend {
    /// Starts the backend of a run whose exchange store is `exchange` (inside `runinfo`).
    pub(crate) fn new(
        config: SlurmConfig,
        runinfo: PathBuf,
        exchange: Exchange,
        run_name: &str,
        limits: &Limits,
        files: Arc<FileTable>,
        completion: Completion,
    ) -> Result<SlurmBackend, String> {
        config.validate()?;
        exchange
            .put_settings(&encode(&WorkerSettings::of(limits)))
            .map_err(|e| e.to_string())?;
        let blobs = exchange.blobs().map_err(|e| e.to_string())?;
        let program = match &config.worker_program {
            Some(program) => program.clone(),
            None => std::env::current_exe()
                .map_err(|e| format!("finding the wfrun binary for the Slurm workers: {e}"))?,
        };
        let runinfo = std::path::absolute(&runinfo).unwrap_or(runinfo);
        let command = vec![
            program.into_os_string(),
            "worker".into(),
            "--runinfo".into(),
            runinfo.into_os_string(),
            "--exchange".into(),
            exchange.path().as_os_str().to_owned(),
        ];
        let shared = Arc::new(Inner {
            name: format!("wf-{run_name}-{}", std::process::id()),
            config,
            exchange,
            blobs,
            command,
            files,
            completion,
            state: Mutex::default(),
            wake: Condvar::new(),
        });
        let polling = shared.clone();
        let thread = std::thread::Builder::new()
            .name("wf-slurm".into())
            .spawn(move || polling.poll_loop())
            .map_err(|e| format!("starting the Slurm poller thread: {e}"))?;
        Ok(SlurmBackend {
            shared,
            thread: Some(thread),
        })
    }
}

impl Backend for SlurmBackend {
    fn register(&self, module: &LoadedModule) {
        let mut state = self.shared.lock();
        if state.modules.contains_key(&module.digest()) {
            return;
        }
        let stored = self
            .shared
            .exchange
            .put_module(&module.digest(), module.wasm())
            .map_err(|e| format!("storing the module for the Slurm workers: {e}"));
        state.modules.insert(module.digest(), stored);
    }

    fn submit(&self, job: Job) {
        let mut state = self.shared.lock();
        state.ready.push(Queued { job, resubmits: 0 });
        state.ready_since.get_or_insert_with(Instant::now);
        // The poller looks at the ready jobs every poll interval anyway; wake it early only when
        // they fill a whole array.
        let full = self
            .shared
            .config
            .chunk
            .saturating_mul(self.shared.config.max_array);
        if state.ready.len() == full {
            self.shared.wake.notify_all();
        }
    }

    fn cancel(&self) {
        self.shared.cancel();
    }
}

impl Drop for SlurmBackend {
    fn drop(&mut self) {
        {
            let mut state = self.shared.lock();
            state.stop = true;
            self.shared.wake.notify_all();
        }
        // The last reference to a session can be dropped by the poller itself (in the
        // completion): it ends by itself once it sees `stop`, and must not join itself.
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
        let live = !self.shared.lock().chunks.is_empty();
        if live {
            self.shared.cancel();
        }
        // Best effort: the exchange only holds copies of what the run recorded.
        let _ = self.shared.exchange.remove();
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Cancels every job of the run and stops submitting.
    fn cancel(&self) {
        let jobs = {
            let mut state = self.lock();
            state.cancelled = true;
            state.ready.clear();
            state.jobs.clone()
        };
        if let Err(e) = slurm::cancel(&self.name, &jobs) {
            eprintln!("wf: slurm: cancelling the run's jobs: {e}");
            return;
        }
        // Wait (a little) until the elements have left the queue: until then Slurm may still
        // write their logs, and their workers their results, into the exchange.
        let deadline = Instant::now() + CANCEL_WAIT;
        while Instant::now() < deadline {
            match slurm::queued_elements(&self.name) {
                Ok(queued) if queued.is_empty() => break,
                Ok(_) => std::thread::sleep(Duration::from_millis(100)),
                Err(_) => break,
            }
        }
        // Best effort: the exchange only holds copies of what the run recorded.
        for _ in 0..3 {
            if self.exchange.remove().is_ok() {
                break;
            }
        }
    }

    fn poll_loop(&self) {
        let mut last_queue_check = Instant::now();
        loop {
            let batch = {
                let mut state = self.lock();
                if state.stop {
                    return;
                }
                let (guard, _) = self
                    .wake
                    .wait_timeout(state, self.config.poll_interval)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                state = guard;
                if state.stop {
                    return;
                }
                if state.cancelled {
                    continue;
                }
                self.take_batch(&mut state)
            };
            if let Some(batch) = batch {
                self.send_wave(batch);
            }
            self.collect_results();
            if last_queue_check.elapsed() >= self.config.queue_interval {
                last_queue_check = Instant::now();
                self.check_queue();
            }
        }
    }

    /// The ready jobs to send now: all of them (up to one full array) once there are enough to
    /// fill an array or the oldest has waited long enough.
    fn take_batch(&self, state: &mut State) -> Option<Vec<Queued>> {
        let full = self.config.chunk.saturating_mul(self.config.max_array);
        let due = state.ready.len() >= full
            || state
                .ready_since
                .is_some_and(|t| t.elapsed() >= self.config.flush_delay);
        if !due || state.ready.is_empty() {
            return None;
        }
        let take = state.ready.len().min(full);
        let batch: Vec<Queued> = state.ready.drain(..take).collect();
        state.ready_since = (!state.ready.is_empty()).then(Instant::now);
        Some(batch)
    }

    /// Writes the chunks of `batch` and submits them as one array job.
    fn send_wave(&self, batch: Vec<Queued>) {
        let wave = {
            let mut state = self.lock();
            state.next_wave += 1;
            state.next_wave
        };
        let mut groups: Vec<Vec<Queued>> = Vec::new();
        let mut failed: Vec<(Queued, String)> = Vec::new();
        for queued in batch {
            match self.module_ready(&queued.job.module) {
                Err(message) => failed.push((queued, message)),
                Ok(()) => match groups.last_mut() {
                    Some(group) if group.len() < self.config.chunk => group.push(queued),
                    _ => groups.push(vec![queued]),
                },
            }
        }
        // Elements are numbered densely from 0, counting only the chunks written.
        let mut written: Vec<(ChunkId, Vec<Queued>)> = Vec::new();
        for tasks in groups {
            let id = ChunkId {
                wave,
                element: written.len() as u32,
            };
            match self.write_chunk(id, &tasks) {
                Ok(()) => written.push((id, tasks)),
                Err(message) => failed.extend(tasks.into_iter().map(|q| (q, message.clone()))),
            }
        }
        for (queued, message) in failed {
            self.deliver_failure(queued.job, message);
        }
        if written.is_empty() {
            return;
        }
        let tasks: usize = written.iter().map(|(_, t)| t.len()).sum();
        let mut command = self.command.clone();
        command.extend(["--wave".into(), wave.to_string().into()]);
        let log = self.exchange.element_log_pattern();
        let submission = Submission {
            config: &self.config,
            name: &self.name,
            elements: written.len() as u32,
            log: &log,
            chdir: self.exchange.path(),
            command,
        };
        match slurm::submit_array(&submission) {
            Ok(job) => {
                eprintln!(
                    "wf: slurm: submitted job {job} (wave {wave}): {} element(s), {tasks} task(s)",
                    written.len()
                );
                let mut state = self.lock();
                state.jobs.push(job.clone());
                let cancelled = state.cancelled;
                for (id, tasks) in written {
                    let chunk = LiveChunk {
                        tasks: tasks.into_iter().map(Some).collect(),
                        slurm_job: job.clone(),
                    };
                    state.chunks.insert(id, chunk);
                }
                drop(state);
                if cancelled {
                    // A cancellation raced with this submission.
                    self.cancel();
                }
            }
            Err(message) => {
                for (_, tasks) in written {
                    for queued in tasks {
                        self.deliver_failure(queued.job, format!("submitting to Slurm: {message}"));
                    }
                }
            }
        }
    }

    fn module_ready(&self, module: &ModuleDigest) -> Result<(), String> {
        match self.lock().modules.get(module) {
            Some(result) => result.clone(),
            None => Err(format!("module {module} was never registered")),
        }
    }

    fn write_chunk(&self, id: ChunkId, tasks: &[Queued]) -> Result<(), String> {
        let mut wire = Vec::with_capacity(tasks.len());
        for queued in tasks {
            let job = &queued.job;
            let mut files = Vec::with_capacity(job.files.len());
            if job.uses_files {
                for digest in job.files.iter() {
                    let len = self.files.export(digest, &self.blobs)?;
                    files.push((digest.0, len));
                }
            }
            wire.push(WireTask {
                module: job.module.0,
                app: job.app.to_string(),
                key: job.key.0,
                args: job.args.to_vec(),
                uses_files: job.uses_files,
                files,
            });
        }
        self.exchange
            .put_chunk(id, &encode(&wire))
            .map_err(|e| format!("writing chunk {id} to the exchange: {e}"))
    }

    /// Delivers every result that arrived since the last look; forgets completed chunks.
    fn collect_results(&self) {
        let outstanding: Vec<(ChunkId, HashSet<u32>)> = {
            let state = self.lock();
            state
                .chunks
                .iter()
                .map(|(id, chunk)| {
                    let pending = chunk
                        .tasks
                        .iter()
                        .enumerate()
                        .filter(|(_, t)| t.is_some())
                        .map(|(i, _)| i as u32)
                        .collect();
                    (*id, pending)
                })
                .collect()
        };
        for (id, pending) in outstanding {
            self.collect_chunk(id, &pending);
        }
    }

    /// Delivers the new results of one chunk; answers whether it is complete (and forgotten).
    fn collect_chunk(&self, id: ChunkId, pending: &HashSet<u32>) -> bool {
        // The completion record is written after every result: look at it first.
        let done = self.exchange.is_done(id);
        let positions = match self.exchange.result_positions(id) {
            Ok(positions) => positions,
            Err(e) => {
                eprintln!("wf: slurm: reading the results of chunk {id}: {e}");
                return false;
            }
        };
        for position in positions.into_iter().filter(|p| pending.contains(p)) {
            let result = self.exchange.result(id, position);
            let Some(queued) = self.take_task(id, position) else {
                continue;
            };
            self.deliver(queued.job, result);
        }
        if done {
            let leftover = self
                .lock()
                .chunks
                .remove(&id)
                .map(|chunk| chunk.tasks.into_iter().flatten().collect::<Vec<_>>())
                .unwrap_or_default();
            for queued in leftover {
                self.deliver_failure(
                    queued.job,
                    format!("chunk {id} was complete but had no result for the task"),
                );
            }
        }
        done
    }

    fn take_task(&self, id: ChunkId, position: u32) -> Option<Queued> {
        self.lock()
            .chunks
            .get_mut(&id)
            .and_then(|chunk| chunk.tasks.get_mut(position as usize))
            .and_then(Option::take)
    }

    /// Finds the elements that left the queue without completing their chunk and submits their
    /// unfinished tasks again (or fails them).
    fn check_queue(&self) {
        let live: Vec<(ChunkId, String)> = {
            let state = self.lock();
            if state.cancelled {
                return;
            }
            state
                .chunks
                .iter()
                .map(|(id, c)| (*id, c.slurm_job.clone()))
                .collect()
        };
        if live.is_empty() {
            return;
        }
        let queued = match slurm::queued_elements(&self.name) {
            Ok(queued) => queued,
            Err(e) => {
                // A controller that does not answer for a moment is no reason to give up.
                eprintln!("wf: slurm: asking the queue: {e}");
                return;
            }
        };
        for (id, job) in live {
            let element = slurm::ArrayElement {
                job: job.clone(),
                element: id.element,
            };
            if queued.contains(&element) {
                continue;
            }
            // It left the queue: take what it wrote before it ended.
            let pending: HashSet<u32> = {
                let state = self.lock();
                match state.chunks.get(&id) {
                    Some(chunk) => chunk
                        .tasks
                        .iter()
                        .enumerate()
                        .filter(|(_, t)| t.is_some())
                        .map(|(i, _)| i as u32)
                        .collect(),
                    None => continue,
                }
            };
            if self.collect_chunk(id, &pending) {
                continue;
            }
            self.lost(id, &job);
        }
    }

    /// Element `id` of Slurm job `job` ended without its completion record.
    fn lost(&self, id: ChunkId, job: &str) {
        let Some(chunk) = self.lock().chunks.remove(&id) else {
            return;
        };
        let unfinished: Vec<Queued> = chunk.tasks.into_iter().flatten().collect();
        if unfinished.is_empty() {
            return;
        }
        let log = self
            .exchange
            .element_log_tail(job, id.element, LOG_TAIL)
            .map(|tail| format!("; its log ends:\n{tail}"))
            .unwrap_or_else(|| "; it left no log".to_owned());
        let (again, give_up): (Vec<Queued>, Vec<Queued>) = unfinished
            .into_iter()
            .partition(|q| q.resubmits < self.config.resubmits);
        if !again.is_empty() {
            eprintln!(
                "wf: slurm: element {job}_{} ended without finishing its chunk; resubmitting its \
                 {} unfinished task(s)",
                id.element,
                again.len()
            );
            let mut state = self.lock();
            let again = again.into_iter().map(|q| Queued {
                job: q.job,
                resubmits: q.resubmits + 1,
            });
            state.ready.splice(0..0, again);
            state.ready_since.get_or_insert_with(Instant::now);
        }
        for queued in give_up {
            let message = format!(
                "Slurm array element {job}_{} ended without finishing the task, {} time(s) \
                 submitted{log}",
                id.element,
                queued.resubmits + 1
            );
            self.deliver_failure(queued.job, message);
        }
    }

    fn deliver(&self, job: Job, bytes: Result<Vec<u8>, StoreError>) {
        let result = bytes
            .map_err(|e| e.to_string())
            .and_then(|bytes| decode::<WireResult>(&bytes, "a task's result"));
        let result = match result {
            Ok(result) => result,
            Err(message) => return self.deliver_failure(job, message),
        };
        let mut run = TaskRun {
            outcome: result.outcome,
            stdout: result.stdout,
            stderr: result.stderr,
            fuel_used: result.fuel_used,
        };
        let outputs: Vec<OutputFile> = result.outputs.into_iter().map(OutputFile::from).collect();
        let outputs = if outputs.is_empty() {
            outputs
        } else {
            match self.files.import_outputs(&outputs, &self.blobs) {
                Ok(()) => outputs,
                Err(message) => {
                    run.outcome = Err(crate::sandbox::TaskFailure::new(
                        crate::sandbox::FailureKind::Infrastructure,
                        format!("storing the task's output files: {message}"),
                    ));
                    Vec::new()
                }
            }
        };
        (self.completion)(JobDone {
            job,
            run,
            started: std::time::UNIX_EPOCH + Duration::from_millis(result.started_unix_ms),
            // One lane for the whole cluster: results do not say which element ran them.
            worker: 0,
            elapsed: Duration::from_micros(result.elapsed_us),
            outputs,
        });
    }

    fn deliver_failure(&self, job: Job, message: String) {
        (self.completion)(JobDone {
            job,
            run: TaskRun::infrastructure(message),
            started: std::time::SystemTime::now(),
            worker: 0,
            elapsed: Duration::ZERO,
            outputs: Vec::new(),
        });
    }
}
